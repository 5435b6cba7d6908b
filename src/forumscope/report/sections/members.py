"""Commitment and member roles (steps ``commitment``, ``roles``, ``trajectories``)."""

from __future__ import annotations

from forumscope.report import charts
from forumscope.report.format import fmt_count, fmt_num, fmt_pct, hidden, listing
from forumscope.report.model import Cell, Fact, Figure, Partition, Section
from forumscope.report.sections.common import TOP_PEOPLE, C, Ctx, make_table, not_run_section, step_status

TITLE = "Commitment and member roles"
INTRO = ("How long members stay, who stays longer, and what members do. Retention and survival (Kaplan–Meier) "
         "by rank and registration cohort, a Cox model of leaving, the roles members play (staff, producers, "
         "requesters, social members, repliers, regulars, lurkers) and the typical activity pathways of "
         "members over their first year. Lurkers are in every denominator that says so.")
RATE_NAMES = {
    "lurker_share": "registered members who never posted (lurkers)",
    "poster_share": "registered members who posted",
    "staff_share": "staff among all members",
    "unregistered_poster_share": "posters without an account",
    "single_post_share": "posters with exactly one post",
    "active_at_end_share": "posters still active at the end of the data",
    "active_at_end_share_of_registered": "registered members still active at the end",
}


def build(ctx: Ctx) -> Section:
    runs = [ctx.run(s) for s in ("commitment", "roles", "trajectories")]
    status = step_status(runs)
    if status == "not_run":
        return not_run_section("commitment", TITLE, runs, INTRO)
    sec = Section("commitment", TITLE, status=status, steps=runs, intro=INTRO)
    if status == "partial":
        sec.note = "Not run: " + ", ".join(r.step for r in runs if r.status not in ("ok", "stale")) + "."
    if ctx.ran("commitment"):
        _commitment(ctx, sec)
    if ctx.ran("roles"):
        _roles(ctx, sec)
    if ctx.ran("trajectories"):
        _trajectories(ctx, sec)
    return sec


def _commitment(ctx: Ctx, sec: Section) -> None:
    rid, f = ctx.run("commitment").run_id, ctx.forum_id
    rates = ctx.rows("SELECT * FROM commitment_rates WHERE run_id = ? AND forum_id = ?", [rid, f])
    for r in rates:
        m = r["measure"]
        r["label"] = RATE_NAMES.get(m) or (f"posters retained {m[9:-1]} days after their first post"
                                           if m.startswith("retained_") else m)
    t = make_table("commitment.rates", "Commitment: rates with their denominators", [
        C("label", "measure", "label"), C("numerator", "members counted", "count"),
        C("denominator", "out of", "count"), C("value", "rate", "share", numerator="numerator",
                                                 denominator="denominator"),
        C("denominator_definition", "denominator", "text"), C("includes_lurkers", "lurkers in the denominator",
                                                              "value")], rates, "commitment_rates")
    idx = {r["measure"]: i for i, r in enumerate(rates)}
    if "lurker_share" in idx and "poster_share" in idx:
        t.partitions.append(Partition(Cell(t.id, idx["lurker_share"], "denominator"),
                                      [Cell(t.id, idx["lurker_share"], "numerator"),
                                       Cell(t.id, idx["poster_share"], "numerator")]))
    sec.tables.append(t)

    groups = ctx.rows("""SELECT * FROM commitment_groups WHERE run_id = ? AND forum_id = ?
                         ORDER BY CASE grouping WHEN 'all' THEN 0 WHEN 'rank' THEN 1 ELSE 2 END, group_order,
                                  "group" """,
                      [rid, f])
    t2 = make_table("commitment.groups", "Active span by rank and cohort (Kaplan–Meier)", [
        C("grouping", "grouping", "label"), C("group", "group", "label"), C("members", "posters", "count"),
        C("events", "left", "count"), C("censored", "still active (censored)", "count"),
        C("median_days", "median active span", "stat", n="members", fmt="days"),
        C("median_ci_lower", "CI low", "stat", n="members", fmt="days"),
        C("median_ci_upper", "CI high", "stat", n="members", fmt="days"),
        C("status", "status", "value")], groups, "commitment_groups",
        note="Active span: days from a member's first to last post. Empty median: the curve never reaches one half.")
    all_row = next((i for i, g in enumerate(groups) if g["grouping"] == "all"), None)
    for i in range(len(groups)):
        t2.row_partition(i, "members", ["events", "censored"])
    if all_row is not None:
        for grouping in ("rank", "cohort"):
            rows = [i for i, g in enumerate(groups) if g["grouping"] == grouping]
            if rows:
                for col in ("members", "events", "censored"):
                    t2.column_partition(col, Cell(t2.id, all_row, col), rows)
    sec.tables.append(t2)

    surv = ctx.rows("""SELECT s.grouping, s."group", s.group_order, s.time_days, s.at_risk, s.survival, s.ci_lower,
                              s.ci_upper, g.members
                       FROM commitment_survival s LEFT JOIN commitment_groups g ON g.run_id = s.run_id
                            AND g.forum_id = s.forum_id AND g.grouping = s.grouping AND g."group" = s."group"
                       WHERE s.run_id = ? AND s.forum_id = ? AND s.grouping IN ('all', 'rank')
                       ORDER BY s.grouping, s.group_order, s.time_days""", [rid, f])
    t3 = make_table("commitment.survival", "Share of posters still active after t days, by rank", [
        C("grouping", "grouping", "label"), C("group", "group", "label"), C("members", "posters in the group", "count"),
        C("time_days", "days since first post", "value"), C("at_risk", "still active at t", "count"),
        C("survival", "estimated share still active", "stat", n="members"),
        C("ci_lower", "CI low", "stat", n="members"), C("ci_upper", "CI high", "stat", n="members")], surv,
        "commitment_survival")
    sec.tables.append(t3)
    if surv:
        order = list(dict.fromkeys(r["group"] for r in surv))
        spec = charts.line("time_days", "survival", x_title="days since first post",
                           y_title="share of posters still active", temporal=False, color="group",
                           color_title="rank", share=True, count=False, points=True, band=("ci_lower", "ci_upper"),
                           color_sort=order)
        sec.figures.append(Figure("commitment.survival", "Staying active: Kaplan–Meier survival by rank", t3.id, spec,
                                  caption_fn=lambda r, t=t3: _survival_sentence(t)))

    cox = ctx.rows("SELECT * FROM commitment_cox WHERE run_id = ? AND forum_id = ?", [rid, f])
    t4 = make_table("commitment.cox", "Who leaves sooner? Cox model of leaving", [
        C("covariate", "covariate", "label"), C("covariate_status", "status", "value"),
        C("hazard_ratio", "hazard ratio", "stat", n="n"), C("hr_ci_lower", "CI low", "stat", n="n"),
        C("hr_ci_upper", "CI high", "stat", n="n"), C("p_value", "p-value", "stat", n="n"),
        C("n", "members in the fit", "count"), C("events", "who left", "count"),
        C("concordance", "concordance", "stat", n="n"), C("note", "note", "text")], cox, "commitment_cox",
        note="A hazard ratio below 1: the covariate goes with staying longer.")
    sec.tables.append(t4)
    if any(isinstance(c.get("hazard_ratio"), float) for c in cox):
        spec = charts.intervals("covariate", "hazard_ratio", "hr_ci_lower", "hr_ci_upper", cat_title="covariate",
                                est_title="hazard ratio of leaving (log scale)", ref=1, log_x=True, n_rows=len(cox))
        sec.figures.append(Figure("commitment.cox", "Hazard ratios of leaving", t4.id, spec,
                                  caption_fn=lambda r, t=t4: _cox_sentence(t)))


def _roles(ctx: Ctx, sec: Section) -> None:
    rid, f = ctx.run("roles").run_id, ctx.forum_id
    counts = ctx.rows("""SELECT * FROM roles_counts WHERE run_id = ? AND forum_id = ?
                         ORDER BY list_position(['staff','producer','requester','social','replier','regular','lurker'],
                                                role), role""", [rid, f])
    if not counts:
        return
    sec.facts += [Fact("roles.all_members", "members (roles step; lurkers included)", counts[0]["all_members"]),
                  Fact("roles.posters", "members with a post (roles step)", counts[0]["posters"])]
    t = make_table("roles.counts", "Member roles", [
        C("role", "role", "label"), C("members", "members", "count"),
        C("share_of_all_members", "share of all members", "share", numerator="members"),
        C("share_of_posters", "share of posters", "share", numerator="members")], counts, "roles_counts",
        note="Each member has one primary role; the rule behind each is in docs/analyses/roles.md.")
    t.column_partition("members", Cell(fact="roles.all_members"))
    t.column_partition("members", Cell(fact="roles.posters"),
                       [i for i, c in enumerate(counts) if c["role"] != "lurker"])
    sec.tables.append(t)
    sec.figures.append(Figure("roles.counts", "Members by role", t.id,
                              charts.bar("role", "members", cat_title="role", val_title="members",
                                         n_bars=len(counts), sort=[c["role"] for c in counts]),
                              caption_fn=lambda r, t=t: _roles_sentence(t)))
    if ctx.policy.per_person:
        people = ctx.rows("""SELECT user_id, role, posts, threads_started, replies_received, approvals_received,
                                    attachments, rule FROM roles_members
                             WHERE run_id = ? AND forum_id = ? AND role IN ('staff','producer','requester','social')
                             ORDER BY list_position(['staff','producer','requester','social'], role), posts DESC,
                                      user_id
                             LIMIT ?""", [rid, f, TOP_PEOPLE * 4])
        for p in people:
            p["member"] = ctx.person(p["user_id"])
        sec.tables.append(make_table("roles.members", "Members with a distinctive role (most active first)", [
            C("member", ctx.person_title, "person"), C("role", "role", "label"), C("posts", "posts", "value"),
            C("threads_started", "threads started", "value"), C("replies_received", "replies received", "value"),
            C("approvals_received", "approvals received", "value"), C("attachments", "attachment records", "value"),
            C("rule", "why", "text")], people, "roles_members",
            note="Role labels are leads for reading the forum, not findings about a person."))


def _trajectories(ctx: Ctx, sec: Section) -> None:
    rid, f = ctx.run("trajectories").run_id, ctx.forum_id
    s = ctx.one("SELECT * FROM trajectories_summary WHERE run_id = ? AND forum_id = ?", [rid, f])
    if not s:
        return
    sec.facts += [
        Fact("trajectories.included", "members with a first-year trajectory", s["included"]),
        Fact("trajectories.months", "months per trajectory", s["months"], "value"),
        Fact("trajectories.k", "activity pathways found", s["k"], "value"),
        Fact("trajectories.status", "pathway clustering", s["status"], "value"),
    ]
    paths = ctx.rows("SELECT * FROM trajectories_pathways WHERE run_id = ? AND forum_id = ? ORDER BY pathway",
                     [rid, f])
    for p in paths:
        p["name"] = f"{p['pathway']}: {p['shape']}"
    t = make_table("trajectories.pathways", "Activity pathways over the first year", [
        C("name", "pathway", "label"), C("members", "members", "count"),
        C("share", "share", "share", numerator="members"),
        C("mean_posts_in_window", "mean posts in the window", "stat", n="members"),
        C("median_posts_in_window", "median posts", "stat", n="members"),
        C("mean_active_months", "mean active months", "stat", n="members"),
        C("peak_month", "peak month", "stat", n="members")], paths, "trajectories_pathways",
        note=f"Members with at least the minimum posts and a fully observed window ({s['months']} months).")
    t.column_partition("members", Cell(fact="trajectories.included"))
    sec.tables.append(t)
    means = ctx.rows("""SELECT m.pathway, m.month, m.mean_posts, m.share_active, p.members,
                               m.pathway || ': ' || p.shape AS name
                        FROM trajectories_means m JOIN trajectories_pathways p ON p.run_id = m.run_id
                             AND p.forum_id = m.forum_id AND p.pathway = m.pathway
                        WHERE m.run_id = ? AND m.forum_id = ? ORDER BY m.pathway, m.month""", [rid, f])
    t2 = make_table("trajectories.means", "Mean posts per month since the first post, by pathway", [
        C("name", "pathway", "label"), C("members", "members", "count"), C("month", "month since first post", "value"),
        C("mean_posts", "mean posts", "stat", n="members"),
        C("share_active", "share active", "stat", n="members")], means, "trajectories_means")
    sec.tables.append(t2)
    if means:
        spec = charts.line("month", "mean_posts", x_title="month since the first post", y_title="mean posts",
                           temporal=False, color="name", color_title="pathway", count=False, points=True)
        sec.figures.append(Figure("trajectories.means", "Activity pathways", t2.id, spec,
                                  caption_fn=lambda r, t=t: _paths_sentence(t)))


def _survival_sentence(t) -> str:
    rows = {(r["group"], r["time_days"]): r for r in t.rows}
    alls = [r for r in t.rows if r["grouping"] == "all" and isinstance(r.get("survival"), float)]
    if not alls:
        return "Survival estimates are not shown."
    times = sorted({r["time_days"] for r in alls})
    t_mid = 180.0 if 180.0 in times else times[len(times) // 2]
    a = rows.get(("all", t_mid))
    s = (f"Of posters, an estimated {fmt_pct(a['survival'])} were still active {fmt_num(t_mid)} days after their "
         "first post")
    ranks = [r for r in t.rows if r["grouping"] == "rank" and r["time_days"] == t_mid
             and isinstance(r.get("survival"), float)]
    if len(ranks) >= 2:
        lo = min(ranks, key=lambda r: r["survival"])
        hi = max(ranks, key=lambda r: r["survival"])
        s += (f"; by rank this ranges from {fmt_pct(lo['survival'])} (“{lo['group']}”) to "
              f"{fmt_pct(hi['survival'])} (“{hi['group']}”)")
    return s + ". Rank is the rank at the end of the data, which itself follows from staying."


def _cox_sentence(t) -> str:
    rows = [r for r in t.rows if isinstance(r.get("hazard_ratio"), float)]
    if not rows:
        return "The Cox model was not fitted."
    parts = []
    for r in rows:
        sig = isinstance(r.get("p_value"), float) and r["p_value"] < 0.05
        way = "lower" if r["hazard_ratio"] < 1 else "higher"
        parts.append(f"{r['covariate']} HR {fmt_num(r['hazard_ratio'], 2)} ({way} hazard of leaving"
                     f"{', p < 0.05' if sig else ', not significant'})")
    return "Cox model of leaving: " + listing(parts) + "."


def _roles_sentence(t) -> str:
    by = {r["role"]: r for r in t.rows}
    lur = by.get("lurker")
    posters = [r for r in t.rows if r["role"] != "lurker" and isinstance(r.get("members"), (int, float))]
    s = ""
    if posters:
        big = max(posters, key=lambda r: r["members"])
        s = f"Among posters the most common role is {big['role']} ({fmt_pct(big.get('share_of_posters'))} of posters)"
    special = [f"{fmt_count(by[x]['members'])} {name}" for x, name in (("staff", "staff"), ("producer", "producers"),
                                                                       ("requester", "requesters")) if x in by]
    if special:
        s += ("; " if s else "") + listing(special)
    if lur:
        s += f"; lurkers are {fmt_pct(lur.get('share_of_all_members'))} of all members"
    return (s or "Roles are not shown") + "."


def _paths_sentence(t) -> str:
    rows = [r for r in t.rows if not hidden(r.get("share")) and r.get("share") is not None]
    if not rows:
        return "The pathways are too small to show."
    parts = [f"{fmt_pct(r['share'])} “{r['name'].split(': ', 1)[-1]}” (mean {fmt_num(r['mean_posts_in_window'])} "
             f"posts in the year)" for r in rows]
    return "Members' first-year activity falls into " + listing(parts) + "."

