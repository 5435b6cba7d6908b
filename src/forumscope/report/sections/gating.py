"""Participation gating (step ``gating``)."""

from __future__ import annotations

from forumscope.report import charts
from forumscope.report.format import fmt_count, fmt_days, fmt_num, fmt_pct, hidden
from forumscope.report.model import Cell, Fact, Figure, Partition, Section
from forumscope.report.sections.common import C, Ctx, make_table, not_run_section

TITLE = "Participation gating"
INTRO = ("Are some boards open only to members who have contributed enough, or who belong to a group? For each "
         "board the step compares the prior posts of members' first posts there with the rest of the forum, "
         "reports declared gates and estimated ones with their confidence, and follows members who reached a "
         "gate: how many went on to post behind it, and how soon.")


def build(ctx: Ctx) -> Section:
    run = ctx.run("gating")
    if not ctx.ran("gating"):
        return not_run_section("gating", TITLE, [run], INTRO)
    sec = Section("gating", TITLE, steps=[run], intro=INTRO)
    rid, f = run.run_id, ctx.forum_id
    groups = {r["id"]: ctx.text(r["name"] or r["id"])
              for r in ctx.rows("SELECT id, name FROM groups WHERE forum_id = ?", [f])}

    def group_names(ids):
        return ", ".join(groups.get(g, g) for g in str(ids).split("|") if g) if ids else None

    boards = ctx.rows("""SELECT * FROM gating_boards WHERE run_id = ? AND forum_id = ?
                         ORDER BY gated DESC, first_posts DESC, name""", [rid, f])
    gated = [b for b in boards if b.get("gated")]
    candidates = [b for b in boards if b.get("gated") or (b.get("estimated_gate_type") or "none") != "none"]
    sec.facts += [
        Fact("gating.boards_tested", "boards with first posts", sum(1 for b in boards if b.get("first_posts")),
             "value"),
        Fact("gating.boards_gated", "boards with a gate in use", len(gated), "value"),
        Fact("gating.boards_declared", "gates declared by the source",
             sum(1 for b in gated if str(b.get("gate_source") or "").startswith("declared")), "value"),
        Fact("gating.boards_estimated", "gates estimated from behaviour",
             sum(1 for b in gated if b.get("gate_source") == "estimated"), "value"),
    ]
    for b in candidates:
        b["name"] = ctx.text(b.get("name") or b["board_id"])
        b["gate_groups"] = group_names(b.get("gate_group_ids"))
        b["gate"] = _gate_text(b)
    t = make_table("gating.boards", "Gated boards", [
        C("name", "board", "label"), C("gate", "gate", "label"), C("gate_source", "source", "value"),
        C("confidence", "confidence of the estimate", "value"),
        C("first_posts", "members' first posts there", "count"),
        C("n_tested", "first posts tested (outside special groups)", "count"),
        C("share_at_or_above", "tested first posts at or above the threshold", "share", denominator="n_tested"),
        C("n_below", "exceptions below the threshold", "count"),
        C("exempt_first_posts", "special-group first posts below it", "count"),
        C("baseline_share_below", "first posts elsewhere below the threshold", "share"),
        C("median_prior_posts", "median prior posts at first post", "stat", n="n_tested"),
        C("p_value", "p-value", "stat", n="n_tested")], candidates, "gating_boards",
        note="Boards with a gate in use, or an estimated gate below the confidence required.")
    sec.tables.append(t)
    if not boards:
        sec.status, sec.note = "empty", "The gating step ran but found no boards for this forum."
        return sec

    passage = ctx.rows("""SELECT p.*, coalesce(b.name, p.board_id) AS name FROM gating_passage p
                          LEFT JOIN boards b ON b.forum_id = p.forum_id AND b.id = p.board_id
                          WHERE p.run_id = ? AND p.forum_id = ? ORDER BY name, criterion""", [rid, f])
    for p in passage:
        p["name"] = ctx.text(p["name"])
        p["gate"] = (f"{fmt_num(p['gate_posts'])} posts" if p["criterion"] == "posts"
                     else f"group: {group_names(p.get('gate_group_ids'))}")
    t2 = make_table("gating.passage", "Who passes a gate, and how soon", [
        C("name", "board", "label"), C("gate", "criterion", "label"),
        C("reached", "members who reached it", "count"), C("entered", "then posted there", "count"),
        C("share_entered", "share who entered", "share", numerator="entered", denominator="reached"),
        C("entered_before", "first posts before reaching it", "count"),
        C("timed", "entries with a time", "count"),
        C("days_q1", "days to enter: lower quartile", "stat", n="timed", fmt="days"),
        C("days_median", "median", "stat", n="timed", fmt="days"),
        C("days_q3", "upper quartile", "stat", n="timed", fmt="days")], passage, "gating_passage")
    sec.tables.append(t2)
    if passage:
        spec = charts.bar("label", "share_entered", cat_title="gate", val_title="members who reached the gate and "
                          "then posted behind it", count=False, share=True, n_bars=len(passage), sort=None)
        spec["transform"] = [{"calculate": "datum.name + ' (' + datum.gate + ')'", "as": "label"}]
        sec.figures.append(Figure("gating.passage", "Share of members who passed a gate and used it", t2.id,
                                  spec, caption_fn=lambda r, t=t2: _passage_sentence(t)))

    # prior posts at members' first post: all boards pooled against each gated board
    keep = [b["board_id"] for b in gated]
    dist = ctx.rows("""SELECT d.board_id, coalesce(b.name, d.board_id, 'all boards') AS name, d.bin, d.low,
                              d.first_posts, d.share
                       FROM gating_distribution d LEFT JOIN boards b ON b.forum_id = d.forum_id AND b.id = d.board_id
                       WHERE d.run_id = ? AND d.forum_id = ? AND d.measure = 'prior_posts'
                         AND (d.board_id IS NULL OR list_contains(?, d.board_id))
                       ORDER BY d.board_id NULLS FIRST, d.low""", [rid, f, keep])
    for d in dist:
        d["name"] = ctx.text(d["name"])
    pooled_total = sum(d["first_posts"] or 0 for d in dist if d["board_id"] is None)
    sec.facts.append(Fact("gating.first_posts_all", "members' first posts in a board (all boards)", pooled_total))
    t3 = make_table("gating.prior_posts", "Prior posts at members' first post in a board", [
        C("name", "board", "label"), C("bin", "prior posts", "label"), C("first_posts", "first posts", "count"),
        C("share", "share of the board's first posts", "share", numerator="first_posts")], dist,
        "gating_distribution")
    by_board: dict = {}
    for i, d in enumerate(dist):
        by_board.setdefault(d["board_id"], []).append(i)
    gated_rows = {b["board_id"]: i for i, b in enumerate(candidates)}
    for bid, idx in by_board.items():
        total = Cell(fact="gating.first_posts_all") if bid is None else (
            Cell(t.id, gated_rows[bid], "first_posts") if bid in gated_rows else None)
        if total is not None:
            t3.partitions.append(Partition(total, [Cell(t3.id, i, "first_posts") for i in idx]))
    sec.tables.append(t3)
    if dist and keep:
        bins = list(dict.fromkeys(d["bin"] for d in dist))
        spec = charts._base(height=240)
        spec["mark"] = {"type": "bar"}
        spec["encoding"] = {
            "x": {"field": "bin", "type": "ordinal", "sort": bins, "title": "posts written before the first post there",
                  "axis": {"labelAngle": 0}},
            "xOffset": {"field": "name", "type": "nominal"},
            "y": {"field": "share", "type": "quantitative", "title": "share of first posts", "axis": {"format": "%"}},
            "color": {"field": "name", "type": "nominal", "title": "board"},
            "tooltip": [{"field": "name", "type": "nominal", "title": "board"},
                        {"field": "bin", "type": "nominal", "title": "prior posts"},
                        {"field": "first_posts_shown", "type": "nominal", "title": "first posts"},
                        {"field": "share", "type": "quantitative", "title": "share", "format": ".1%"}]}
        sec.figures.append(Figure("gating.prior-posts", "Prior posts at first post: gated boards against all boards",
                                  t3.id, spec, caption_fn=lambda r, t=t, t3=t3: _gate_sentence(t, t3)))
    return sec


def _gate_text(b: dict) -> str:
    kind = b.get("gate_type") or b.get("estimated_gate_type") or "none"
    posts = b.get("gate_posts") if b.get("gated") else b.get("estimated_threshold_posts")
    parts = []
    if "post_count" in kind and posts is not None:
        parts.append(f"{fmt_num(posts)} posts")
    if "group" in kind and b.get("gate_groups"):
        parts.append(f"group: {b['gate_groups']}")
    joiner = " or " if kind == "post_count_or_group" else " and "
    text = joiner.join(parts) or kind
    return text if b.get("gated") else f"{text} (estimate below the confidence required)"


def _passage_sentence(t) -> str:
    rows = [r for r in t.rows if r.get("reached") is not None]
    if not rows:
        return "No member reached a gate."
    r = max(rows, key=lambda r: r["reached"] if isinstance(r["reached"], (int, float)) else -1)
    s = (f"Of the {fmt_count(r['reached'])} members who reached the gate of “{r['name']}” ({r['gate']}), "
         f"{fmt_count(r['entered'])} went on to post there ({fmt_pct(r.get('share_entered'))})")
    if isinstance(r.get("days_median"), float):
        s += f", after a median of {fmt_days(r['days_median'])}"
    return s + "."


def _gate_sentence(t, t3) -> str:
    gated = [b for b in t.rows if b.get("gated") and "post_count" in str(b.get("gate_type") or "")]
    if not gated:
        gated = [b for b in t.rows if b.get("gated")]
        if not gated:
            return "No board is gated."
        b = gated[0]
        return f"“{b['name']}” is gated by {b['gate']} ({b['gate_source']})."
    b = gated[0]
    share = b.get("share_at_or_above")
    base = b.get("baseline_share_below")
    s = f"“{b['name']}” is gated at {b['gate']} ({b['gate_source']})"
    if share is not None and not hidden(share):
        s += f": {fmt_pct(share)} of members' first posts there came at or above the threshold"
        if base is not None and not hidden(base):
            s += f", while {fmt_pct(base)} of first posts in the other boards came below it"
    return s + "."
