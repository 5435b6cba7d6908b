"""Rhythm (step ``rhythm``) and alias leads (step ``aliases``, investigator only)."""

from __future__ import annotations

from forumscope.report import charts
from forumscope.report.format import fmt_num, fmt_pct, language_name
from forumscope.report.model import Cell, Fact, Figure, Partition, Section
from forumscope.report.sections.common import TOP_PEOPLE, C, Ctx, make_table, not_run_section

DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
RHYTHM_TITLE = "Rhythm: when members post, and the crowd's time zones"
RHYTHM_INTRO = ("Posting by hour of the week (UTC) and a mixture estimate of the time-zone offsets of the crowd "
                "that fits it. These are leads with their uncertainty, not locations: shift work, travel, "
                "scheduled posting and zones that share an offset all mislead them.")
ALIAS_TITLE = "Alias leads"
ALIAS_INTRO = ("Ranked candidate links between accounts that may share an author, from writing style and posting "
               "rhythm, with calibrated scores and the evidence behind each. Leads to check, never identifications.")


def offset_label(h) -> str:
    return "UTC" if h == 0 else f"UTC{'+' if h > 0 else '−'}{abs(int(h))}"


def build_rhythm(ctx: Ctx) -> Section:
    run = ctx.run("rhythm")
    if not ctx.ran("rhythm"):
        return not_run_section("rhythm", RHYTHM_TITLE, [run], RHYTHM_INTRO)
    sec = Section("rhythm", RHYTHM_TITLE, steps=[run], intro=RHYTHM_INTRO)
    rid, f = run.run_id, ctx.forum_id
    prof = {r["how"]: r["posts"] for r in ctx.rows(
        "SELECT how, posts FROM rhythm_profiles WHERE run_id = ? AND forum_id = ? AND unit = 'forum' AND key = ?",
        [rid, f, f])}
    rows = [{"day": DAYS[h // 24], "hour": h % 24, "posts": prof.get(h, 0)} for h in range(168)]
    sec.facts.append(Fact("rhythm.posts", "posts with a time (rhythm step)", sum(prof.values())))
    t = make_table("rhythm.profile", "Posts by hour of the week (UTC)", [
        C("day", "day (UTC)", "label"), C("hour", "hour (UTC)", "value"), C("posts", "posts", "count")], rows,
        "rhythm_profiles")
    t.column_partition("posts", Cell(fact="rhythm.posts"))
    sec.tables.append(t)
    if prof:
        spec = charts.heatmap("hour", "day", "posts", x_title="hour of the day (UTC)", y_title="day (UTC)",
                              val_title="posts", y_sort=list(DAYS))
        sec.figures.append(Figure("rhythm.profile", "When members post (UTC)", t.id, spec,
                                  caption_fn=lambda r, t=t: _profile_sentence(t)))
    fit = ctx.one("SELECT * FROM rhythm_crowd_fit WHERE run_id = ? AND forum_id = ? AND unit = 'forum'", [rid, f])
    crowd = ctx.rows("""SELECT offset_hours, share, ci_low, ci_high, members, expected_members FROM rhythm_crowd
                        WHERE run_id = ? AND forum_id = ? AND unit = 'forum' ORDER BY offset_hours""", [rid, f])
    if fit:
        sec.facts += [Fact("rhythm.crowd_members", "members in the crowd fit", fit["members"]),
                      Fact("rhythm.profile_tvd", "misfit of the fitted profile (0 = perfect)", fit["profile_tvd"],
                           "value"),
                      Fact("rhythm.curve", "reference curve", fit["curve"], "value")]
    for c in crowd:
        c["offset"] = offset_label(c["offset_hours"])
        c["expected_members"] = int(round(c["expected_members"] or 0))
    tc = make_table("rhythm.crowd", "Estimated share of the crowd by UTC offset", [
        C("offset", "UTC offset", "label"), C("share", "estimated share of members", "share",
                                              numerator="expected_members"),
        C("ci_low", "2.5%", "share", numerator="expected_members"),
        C("ci_high", "97.5%", "share", numerator="expected_members"),
        C("expected_members", "expected members", "count")], crowd, "rhythm_crowd",
        note=(fit.get("note") or "") + " Bootstrap percentiles.")
    sec.tables.append(tc)
    if crowd:
        spec = charts.columns_with_intervals("offset", "share", "ci_low", "ci_high", cat_title="UTC offset",
                                             est_title="estimated share of members",
                                             sort=[c["offset"] for c in crowd])
        sec.figures.append(Figure("rhythm.crowd", "Time-zone offsets of the crowd (estimate)", tc.id, spec,
                                  caption_fn=lambda r, t=tc: _crowd_sentence(t)))
    langs = ctx.rows("""SELECT f.key AS language, f.members, f.profile_tvd,
                               arg_max(c.offset_hours, c.share) AS top_offset, max(c.share) AS top_share
                        FROM rhythm_crowd_fit f JOIN rhythm_crowd c ON c.run_id = f.run_id AND c.forum_id = f.forum_id
                             AND c.unit = f.unit AND c.key = f.key
                        WHERE f.run_id = ? AND f.forum_id = ? AND f.unit = 'language'
                        GROUP BY ALL ORDER BY f.members DESC""", [rid, f])
    for lrow in langs:
        lrow["language_name"] = language_name(lrow["language"])
        lrow["offset"] = offset_label(lrow["top_offset"])
    sec.tables.append(make_table("rhythm.languages", "Crowd fits by members' main language", [
        C("language_name", "language", "label"), C("members", "members in the fit", "count"),
        C("offset", "most likely offset", "label"), C("top_share", "its estimated share", "stat", n="members"),
        C("profile_tvd", "misfit", "stat", n="members")], langs, "rhythm_crowd_fit, rhythm_crowd"))
    counts = ctx.rows("SELECT status, count(*) AS n FROM rhythm_members WHERE run_id = ? AND forum_id = ? GROUP BY 1",
                      [rid, f])
    by = {c["status"]: c["n"] for c in counts}
    sec.facts += [Fact("rhythm.members_all", "members (rhythm step)", sum(by.values())),
                  Fact("rhythm.members_estimated", "members with an individual estimate", by.get("estimated", 0)),
                  Fact("rhythm.members_thin", "members with too few posts for one", by.get("insufficient data", 0))]
    sec.partitions.append(Partition(Cell(fact="rhythm.members_all"), [Cell(fact="rhythm.members_estimated"),
                                                                       Cell(fact="rhythm.members_thin")]))
    if ctx.policy.audience == "investigator" and by.get("estimated"):
        people = ctx.rows("""SELECT user_id, n_events, offset_1, p_offset_1, offset_mean, offset_sd, cred90_low,
                                    cred90_high, dst_pattern, zone_1, zone_1_score, timezone_declared
                             FROM rhythm_members WHERE run_id = ? AND forum_id = ? AND status = 'estimated'
                             ORDER BY n_events DESC, user_id LIMIT ?""", [rid, f, TOP_PEOPLE])
        for p in people:
            p["member"] = ctx.person(p["user_id"])
            p["offset"] = offset_label(p["offset_1"])
            p["interval"] = f"{offset_label(p['cred90_low'])} to {offset_label(p['cred90_high'])}"
        sec.tables.append(make_table("rhythm.members", "Individual time-zone leads (members with the most posts)", [
            C("member", ctx.person_title, "person"), C("n_events", "posts with a time", "value"),
            C("offset", "most probable offset", "label"), C("p_offset_1", "its probability", "value", fmt="pct"),
            C("interval", "90% credible range", "label"), C("offset_sd", "sd (hours)", "value"),
            C("dst_pattern", "daylight-saving pattern", "label"), C("zone_1", "best candidate zone", "label"),
            C("zone_1_score", "zone score", "value"), C("timezone_declared", "declared zone", "label")], people,
            "rhythm_members", note="Leads, not locations: each rests on the posts shown and is a probability."))
    return sec


def build_aliases(ctx: Ctx) -> Section:
    run = ctx.run("aliases")
    if not ctx.ran("aliases"):
        return not_run_section("aliases", ALIAS_TITLE, [run], ALIAS_INTRO)
    if ctx.policy.audience != "investigator":
        return Section("aliases", ALIAS_TITLE, status="omitted", steps=[run], intro=ALIAS_INTRO,
                       note="Alias leads are shown to the investigator audience only.")
    sec = Section("aliases", ALIAS_TITLE, steps=[run], intro=ALIAS_INTRO)
    rid, f = run.run_id, ctx.forum_id
    by = {r["status"]: r["n"] for r in ctx.rows(
        "SELECT status, count(*) AS n FROM aliases_accounts WHERE run_id = ? AND forum_id = ? GROUP BY 1", [rid, f])}
    sec.facts += [Fact("aliases.linked", "accounts with enough text to link", by.get("linked", 0)),
                  Fact("aliases.thin", "accounts too thin to link", by.get("too_thin", 0))]
    case_name = ctx.case.settings["case"].get("name")
    cands = ctx.rows("""SELECT user_id, candidate_case, candidate_forum_id, candidate_user_id, score, families_agreeing,
                               mutual_rank, n_posts, candidate_n_posts FROM aliases_candidates
                        WHERE run_id = ? AND forum_id = ? AND rank = 1 ORDER BY score DESC, user_id LIMIT ?""",
                     [rid, f, TOP_PEOPLE])
    for c in cands:
        c["member"] = ctx.person(c["user_id"])
        same = c["candidate_forum_id"] == f and (c["candidate_case"] in (None, case_name, "case", str(ctx.case.path)))
        c["candidate"] = (ctx.person(c["candidate_user_id"]) if same else
                          f"{c['candidate_case']}: {c['candidate_forum_id']}/{c['candidate_user_id']}")
        c["posts"] = f"{c['n_posts']}/{c['candidate_n_posts']}"
    t = make_table("aliases.candidates", "Strongest alias leads (each account's best candidate)", [
        C("member", ctx.person_title, "person"), C("candidate", "candidate", "person"), C("score", "calibrated score",
                                                                                        "value"),
        C("families_agreeing", "evidence agreeing", "label"), C("mutual_rank", "rank in the candidate's list", "value"),
        C("posts", "posts (account/candidate)", "label")], cands, "aliases_candidates",
        note="Scores are calibrated likelihoods that two accounts share an author, under the prior recorded in the "
             "run's parameters: leads to check, never identifications.")
    sec.tables.append(t)
    if cands:
        sec.paragraphs.append(f"The strongest lead scores {fmt_num(cands[0]['score'], 2)}; "
                              f"{sum(1 for c in cands if (c['score'] or 0) >= 0.5)} of the {len(cands)} shown score "
                              "0.5 or more.")
    return sec


def _profile_sentence(t) -> str:
    rows = [r for r in t.rows if isinstance(r.get("posts"), (int, float))]
    if not rows:
        return "Hourly counts are too small to show."
    by_hour: dict[int, float] = {}
    for r in rows:
        by_hour[r["hour"]] = by_hour.get(r["hour"], 0) + r["posts"]
    total = sum(by_hour.values()) or 1
    peak = max(by_hour, key=by_hour.get)
    low = min(by_hour, key=by_hour.get)
    return (f"Posting is busiest at {peak:02d}:00–{peak:02d}:59 UTC ({fmt_pct(by_hour[peak] / total)} of posts) and "
            f"quietest at {low:02d}:00–{low:02d}:59 UTC ({fmt_pct(by_hour[low] / total)}).")


def _crowd_sentence(t) -> str:
    rows = [r for r in t.rows if isinstance(r.get("share"), float)]
    if not rows:
        return "The crowd estimate is not shown."
    rows.sort(key=lambda r: -r["share"])
    top = rows[0]
    ci = (f" (95% interval {fmt_pct(top['ci_low'])}–{fmt_pct(top['ci_high'])})"
          if isinstance(top.get("ci_low"), float) else "")
    others = [f"{r['offset']} {fmt_pct(r['share'])}" for r in rows[1:3] if r["share"] >= 0.05]
    s = (f"The posting rhythm fits a crowd mostly at {top['offset']}: an estimated {fmt_pct(top['share'])} of "
         f"members{ci}")
    if others:
        s += "; then " + ", ".join(others)
    return s + ". A lead from timing alone, not a location."

