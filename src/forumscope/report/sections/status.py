"""Hierarchy and status for contribution (step ``hierarchy``)."""

from __future__ import annotations

from forumscope.report import charts
from forumscope.report.format import fmt_count, fmt_days, fmt_num, fmt_pct, listing
from forumscope.report.model import Cell, Fact, Figure, Partition, Section
from forumscope.report.sections.common import C, Ctx, make_table, not_run_section

TITLE = "Hierarchy: status earned by contributing"
INTRO = ("Does standing in the forum follow contribution? The rank ladder and its thresholds, who holds each "
         "rank (lurkers apart), whether rank and approval (thanks, replies, votes) rise with the posts a member "
         "writes, and how long members took to reach each rank. Correlation, not cause: status and posts both "
         "grow with time on the forum.")
MEASURES = {"rank_position": "rank position", "reputation": "reputation", "thanks_received": "thanks received",
            "votes_received": "net votes received", "score_received": "post score received",
            "replies_received": "replies received"}


def build(ctx: Ctx) -> Section:
    run = ctx.run("hierarchy")
    if not ctx.ran("hierarchy"):
        return not_run_section("status", TITLE, [run], INTRO)
    sec = Section("status", TITLE, steps=[run], intro=INTRO)
    rid, f = run.run_id, ctx.forum_id
    lad = ctx.one("SELECT * FROM hierarchy_ladder WHERE run_id = ? AND forum_id = ?", [rid, f])
    if not lad:
        sec.status, sec.note = "empty", "The hierarchy step ran but found no members for this forum."
        return sec
    sec.facts += [
        Fact("status.ladder_kind", "kind of ladder", str(lad["ladder_kind"] or "").replace("_", " "), "value"),
        Fact("status.threshold_source", "thresholds", lad["threshold_source"], "value"),
        Fact("status.ranks", "ranks on the ladder (special ranks apart)", lad["ranks"], "value"),
        Fact("status.special_ranks", "special ranks (given by hand)", lad["special_ranks"], "value"),
        Fact("status.members", "members (bots left out)", lad["members"]),
        Fact("status.posters", "members who posted", lad["posters"]),
        Fact("status.lurkers", "lurkers", lad["lurkers"]),
        Fact("status.ranked", "members holding a ladder rank", lad["ranked_members"]),
        Fact("status.special", "members holding a special rank", lad["special_members"]),
        Fact("status.unranked", "members without a known rank", lad["unranked_members"]),
        Fact("status.consistent_share", "ranked members whose posts fit their rank's thresholds",
             lad["consistent_share"], "share", denominator="status.ranked"),
        Fact("status.promotion_history", "promotion dates", lad["promotion_history"], "value"),
    ]
    facts = {x.id: x for x in sec.facts}
    sec.partitions += [
        Partition(Cell(fact="status.members"), [Cell(fact=x) for x in ("status.ranked", "status.special",
                                                                         "status.unranked")]),
        Partition(Cell(fact="status.members"), [Cell(fact="status.posters"), Cell(fact="status.lurkers")])]

    ranks = ctx.rows("""SELECT * FROM hierarchy_ranks WHERE run_id = ? AND forum_id = ?
                        ORDER BY is_special NULLS LAST, ladder_order NULLS LAST, position NULLS LAST, name""", [rid, f])
    for r in ranks:
        r["special"] = bool(r.get("is_special"))
        r["name"] = ctx.text(r.get("name") or r.get("rank_id") or "(no rank)")
    t = make_table("status.ranks", "The rank ladder and who holds each rank", [
        C("name", "rank", "label"), C("ladder_order", "place on the ladder", "value"),
        C("special", "special (given by hand)", "value"),
        C("threshold", "threshold", "value"), C("threshold_measure", "threshold on", "value"),
        C("threshold_source", "threshold source", "value"),
        C("holders", "members holding it", "count"), C("posters", "of them posters", "count"),
        C("lurkers", "of them lurkers", "count"),
        C("consistent_share", "holders fitting the thresholds", "share", denominator="holders"),
        C("median_posts", "median posts", "stat", n="holders"),
        C("median_thanks_received", "median thanks received", "stat", n="holders"),
        C("median_replies_received", "median replies received", "stat", n="holders"),
        C("median_reputation", "median reputation", "stat", n="holders")], ranks, "hierarchy_ranks",
        note="Medians are over all holders, lurkers included.")
    t.column_partition("holders", Cell(fact="status.members"))
    t.column_partition("posters", Cell(fact="status.posters"))
    t.column_partition("lurkers", Cell(fact="status.lurkers"))
    for i in range(len(ranks)):
        t.row_partition(i, "holders", ["posters", "lurkers"])
    sec.tables.append(t)
    if ranks:
        spec = charts.bar("name", "members", cat_title="rank", val_title="members", color="group",
                          color_title="members", n_bars=len(ranks), sort=[r["name"] for r in ranks], count=False)
        spec["transform"] = [{"fold": ["posters", "lurkers"], "as": ["group", "members"]}]
        sec.figures.append(Figure("status.holders", "Members by rank", t.id, spec,
                                  caption_fn=lambda r, t=t, facts=facts: _ranks_sentence(t, facts)))

    status = ctx.rows("""SELECT * FROM hierarchy_status WHERE run_id = ? AND forum_id = ?
                         ORDER BY population DESC, status_measure""", [rid, f])
    for s in status:
        s["measure"] = MEASURES.get(s["status_measure"], s["status_measure"])
    t2 = make_table("status.correlation", "Do status and approval rise with posts written?", [
        C("population", "members", "label"), C("measure", "status measure", "label"),
        C("n", "members in the correlation", "count"), C("lurkers", "of them lurkers", "count"),
        C("rho", "Spearman's rho with posts", "stat", n="n"), C("ci_low", "CI low", "stat", n="n"),
        C("ci_high", "CI high", "stat", n="n"), C("ci_level", "CI level", "value"),
        C("p_value", "p-value", "stat", n="n")], status, "hierarchy_status",
        note="posters: members with a post; members: lurkers included. Intervals: percentile bootstrap.")
    sec.tables.append(t2)
    if status:
        spec = charts.intervals("measure", "rho", "ci_low", "ci_high", cat_title="status measure",
                                est_title="Spearman's rho with posts written", ref=0, color="population",
                                color_title="members", n_rows=len({s["measure"] for s in status}) * 2)
        sec.figures.append(Figure("status.correlation", "Status and approval against posts written", t2.id, spec,
                                  caption_fn=lambda r, t=t2: _corr_sentence(t)))

    promo = ctx.rows("""SELECT p.*, coalesce(r.name, p.rank_id) AS name FROM hierarchy_promotion p
                        LEFT JOIN hierarchy_ranks r ON r.run_id = p.run_id AND r.forum_id = p.forum_id
                             AND r.rank_id = p.rank_id
                        WHERE p.run_id = ? AND p.forum_id = ? ORDER BY p.ladder_order""", [rid, f])
    for p in promo:
        p["name"] = ctx.text(p["name"])
    t3 = make_table("status.promotion", "Time to reach each rank", [
        C("name", "rank", "label"), C("threshold_posts", "threshold (posts)", "value"),
        C("holders", "current holders", "count"), C("reached", "members who reached it", "count"),
        C("days_from_registration_q1", "days from registration: lower quartile", "stat", n="reached", fmt="days"),
        C("days_from_registration_median", "median", "stat", n="reached", fmt="days"),
        C("days_from_registration_q3", "upper quartile", "stat", n="reached", fmt="days"),
        C("days_from_first_post_median", "median days from first post", "stat", n="reached", fmt="days"),
        C("note", "how", "text")], promo, "hierarchy_promotion",
        note="The day a member reached a rank is the day of their k-th post (k = the threshold in posts).")
    sec.tables.append(t3)
    if any(p.get("days_from_registration_median") is not None for p in promo):
        spec = charts.intervals("name", "days_from_registration_median", "days_from_registration_q1",
                                "days_from_registration_q3", cat_title="rank",
                                est_title="days from registration (median, quartiles)",
                                n_rows=len(promo), sort=[p["name"] for p in promo])
        sec.figures.append(Figure("status.promotion", "Days from registration to each rank", t3.id, spec,
                                  caption_fn=lambda r, t=t3: _promo_sentence(t)))
    return sec


def _ranks_sentence(t, facts) -> str:
    ladder = [r for r in t.rows if not r.get("special") and r.get("ladder_order") is not None]
    if not ladder:
        return "The forum has no rank ladder that members hold."
    counted = [r for r in ladder if isinstance(r.get("holders"), (int, float))]
    top = ladder[-1]
    s = ""
    if counted:
        big = max(counted, key=lambda r: r["holders"])
        s = (f"The most common rank is “{big['name']}”, held by {fmt_count(big['holders'])} of "
             f"{fmt_count(facts['status.members'].value)} members ({fmt_count(big.get('lurkers'))} of them lurkers)")
    s += (("; " if s else "") + f"the top of the ladder, “{top['name']}”"
          + (f" at {fmt_num(top['threshold'])} {top.get('threshold_measure') or ''}".rstrip()
             if top.get("threshold") is not None else "")
          + f", is held by {fmt_count(top.get('holders'))}")
    cs = facts["status.consistent_share"].value
    if isinstance(cs, float):
        s += f". {fmt_pct(cs)} of ranked members fit the thresholds in use"
    return s + "."


def _corr_sentence(t) -> str:
    rows = [r for r in t.rows if r["population"] == "posters" and isinstance(r.get("rho"), float)]
    if not rows:
        return "No correlation could be shown."
    parts = []
    for r in rows:
        ci = (f", {fmt_pct(r['ci_level'], 0)} CI {fmt_num(r['ci_low'], 2)} to {fmt_num(r['ci_high'], 2)}"
              if isinstance(r.get("ci_low"), float) else "")
        parts.append(f"{r['measure']} ρ = {fmt_num(r['rho'], 2)}{ci}")
    rising = all(r["rho"] > 0 and (not isinstance(r.get("ci_low"), float) or r["ci_low"] > 0) for r in rows)
    head = ("Among posters, status and approval rise with posts written" if rising
            else "Among posters, status and approval do not all rise with posts written")
    return f"{head}: {listing(parts)} (Spearman rank correlations)."


def _promo_sentence(t) -> str:
    rows = [r for r in t.rows if isinstance(r.get("days_from_registration_median"), float)]
    if not rows:
        return "Promotion times are not shown."
    first, last = rows[0], rows[-1]
    s = (f"Members who reached “{first['name']}” ({fmt_num(first['threshold_posts'])} posts) took a median of "
         f"{fmt_days(first['days_from_registration_median'])} from registration")
    if last is not first:
        s += (f"; “{last['name']}” ({fmt_num(last['threshold_posts'])} posts) took "
              f"{fmt_days(last['days_from_registration_median'])}")
    return s + "."

