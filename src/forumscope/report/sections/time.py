"""Change over time: newcomers, registrations and activity by month, events (takedowns, announcements,
rule changes) and a simple interrupted-time-series reading of posting around each event."""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np

from forumscope.report import charts
from forumscope.report.format import fmt_count, fmt_num, fmt_pct
from forumscope.report.model import Cell, Fact, Figure, Section
from forumscope.report.sections.common import C, Ctx, make_table

TITLE = "Change over time"
INTRO = ("How the community grew and shrank: posts, newcomers (members' first posts) and registrations per month, "
         "with the events the source records (takedowns, announcements, rule changes). Around each such event, "
         "a segmented regression of monthly posts (interrupted time series) estimates the change in level and "
         "trend; it describes, it does not prove that the event caused the change.")
EVENT_KINDS = ("takedown", "announcement", "migrate", "merge", "rename", "protect", "other")
WINDOW = 12  # months either side of an event for the segmented regression


def build(ctx: Ctx) -> Section:
    f = ctx.forum_id
    sec = Section("time", TITLE, intro=INTRO)
    newcomers = {r["month"]: r["n"] for r in ctx.rows("""
        WITH first AS (SELECT author_id, min(created_at) AS t FROM posts
                       WHERE forum_id = ? AND author_id IS NOT NULL AND created_at IS NOT NULL GROUP BY 1),
             m AS (SELECT date_trunc('month', t) AS m, count(*) AS n FROM first GROUP BY 1)
        SELECT strftime(m, '%Y-%m') AS month, n FROM m""", [f])}
    regs = {r["month"]: r["n"] for r in ctx.rows("""
        WITH m AS (SELECT date_trunc('month', registered_at) AS m, count(*) AS n FROM users
                   WHERE forum_id = ? AND registered_at IS NOT NULL GROUP BY 1)
        SELECT strftime(m, '%Y-%m') AS month, n FROM m""", [f])}
    months = sorted(set(newcomers) | set(regs))
    rows = [{"month": m, "newcomers": newcomers.get(m, 0), "registrations": regs.get(m, 0)} for m in months]
    sec.facts += [
        Fact("time.newcomers", "members with a timed first post", sum(newcomers.values())),
        Fact("time.registrations", "members with a registration time", sum(regs.values())),
    ]
    t = make_table("time.months", "Newcomers and registrations per month", [
        C("month", "month", "label"), C("newcomers", "members posting for the first time", "count"),
        C("registrations", "registrations", "count")], rows, "posts, users",
        note="Newcomers: posting members (with or without an account) by the month of their first post.")
    t.column_partition("newcomers", Cell(fact="time.newcomers"))
    t.column_partition("registrations", Cell(fact="time.registrations"))
    sec.tables.append(t)

    events = ctx.rows("""
        SELECT e.created_at, e.kind, coalesce(b.name, e.board_id) AS board, e.detail FROM events e
        LEFT JOIN boards b ON b.forum_id = e.forum_id AND b.id = e.board_id
        WHERE e.forum_id = ? AND e.created_at IS NOT NULL
          AND (list_contains(?, e.kind) OR (e.board_id IS NOT NULL AND e.thread_id IS NULL AND e.post_id IS NULL))
        ORDER BY e.created_at LIMIT 30""", [f, list(EVENT_KINDS)])
    for e in events:
        e["date"] = str(e["created_at"])[:10]
        e["board"], e["detail"] = ctx.text(e["board"]), ctx.text(e["detail"])
    ev_cols = [C("date", "date", "time", fmt="date"), C("kind", "event", "label"), C("board", "board", "label")]
    if ctx.policy.per_person:
        ev_cols.append(C("detail", "detail (as recorded)", "label"))
    sec.tables.append(make_table("time.events", "Events recorded by the source", ev_cols, events, "events",
                                 note="Forum-level and board-level events only (not edits or closes of single posts)."))

    # posting per month around each event (uses the overview's month table; never repeats its counts)
    posts = {r["month"]: r["posts"] for r in ctx.months()}
    its_rows = []
    seen_months: set[str] = set()
    for e in [e for e in events if e["kind"] in ("takedown", "announcement", "migrate", "merge", "protect")]:
        if e["date"][:7] in seen_months or len(its_rows) == 5:
            continue  # one reading per month: events in the same month cannot be told apart
        seen_months.add(e["date"][:7])
        r = _its(posts, e["created_at"])
        if r:
            its_rows.append({"date": e["date"], "kind": e["kind"], "board": e["board"], **r})
    t_its = make_table("time.its", "Posting before and after events (segmented regression of monthly posts)", [
        C("date", "event date", "time", fmt="date"), C("kind", "event", "label"), C("board", "board", "label"),
        C("months_before", "months before", "value"), C("months_after", "months after", "value"),
        C("mean_before", "posts per month before", "value"), C("mean_after", "posts per month after", "value"),
        C("level_change", "change in level (posts per month)", "value"),
        C("level_ci_low", "95% CI low", "value"), C("level_ci_high", "95% CI high", "value"),
        C("trend_change", "change in trend (posts per month, per month)", "value")], its_rows, "posts, events",
        note=f"Up to {WINDOW} months either side; ordinary least squares, no correction for autocorrelation or "
             "seasonality: read as description.")
    sec.tables.append(t_its)
    if posts:
        by_date: dict[str, list[str]] = {}
        for e in events:
            by_date.setdefault(e["date"], []).append(e["kind"] + (f": {e['board']}" if e["board"] else ""))
        marks = [{"date": d, "label": "; ".join(labels)} for d, labels in list(by_date.items())[:12]]
        spec = charts.line("month", "posts", x_title="month", y_title="posts", rules=charts.event_rules(marks))
        sec.figures.append(Figure("time.posts-events", "Posts per month and recorded events", "overview.months", spec,
                                  caption_fn=lambda r, t=t_its: _its_sentence(r, t)))
    if rows:
        spec = charts.line("month", "members", x_title="month", y_title="members", color="series",
                           color_title="members", count=False)
        spec["transform"] = [{"fold": ["newcomers", "registrations"], "as": ["series", "members"]}]
        sec.figures.append(Figure("time.newcomers", "Newcomers and registrations per month", t.id, spec,
                                  caption_fn=lambda r, t=t: _newcomers_sentence(t)))
    return sec


def _month_index(m: str) -> int:
    y, mo = m.split("-")
    return int(y) * 12 + int(mo) - 1


def _its(posts: dict[str, int], when: dt.datetime) -> dict[str, Any] | None:
    if not posts:
        return None
    t0 = when.year * 12 + when.month - 1
    lo, hi = min(map(_month_index, posts)), max(map(_month_index, posts))
    idx = [i for i in range(max(lo, t0 - WINDOW), min(hi, t0 + WINDOW) + 1)]
    before = [i for i in idx if i < t0]
    after = [i for i in idx if i > t0]  # the event's own month is left out (partly before, partly after)
    if len(before) < 3 or len(after) < 3:
        return None
    by_index = {_month_index(m): n for m, n in posts.items()}
    xs = np.array(before + after, dtype=float)
    y = np.array([by_index.get(int(i), 0) for i in xs], dtype=float)
    post = (xs > t0).astype(float)
    X = np.column_stack([np.ones_like(xs), xs - t0, post, (xs - t0) * post])
    beta, *_ = np.linalg.lstsq(X, y, rcond=None)
    resid = y - X @ beta
    dof = max(len(y) - X.shape[1], 1)
    sigma2 = float(resid @ resid) / dof
    try:
        cov = sigma2 * np.linalg.inv(X.T @ X)
        se = float(np.sqrt(cov[2, 2]))
    except np.linalg.LinAlgError:
        se = float("nan")
    from scipy.special import stdtrit

    q = float(stdtrit(dof, 0.975))
    return {"months_before": len(before), "months_after": len(after),
            "mean_before": float(y[post == 0].mean()), "mean_after": float(y[post == 1].mean()),
            "level_change": float(beta[2]), "level_ci_low": float(beta[2] - q * se),
            "level_ci_high": float(beta[2] + q * se), "trend_change": float(beta[3])}


def _its_sentence(report, t) -> str:
    months = report.table("overview.months").rows
    counted = [r for r in months if isinstance(r.get("posts"), (int, float))]
    head = ""
    if counted:
        peak = max(counted, key=lambda r: r["posts"])
        head = f"Posting peaked in {peak['month']} ({fmt_count(peak['posts'])} posts). "
    if not t.rows:
        return head + "No forum-level event with enough months around it was recorded."
    r = t.rows[0]
    change = r["level_change"]
    rel = change / r["mean_before"] if r["mean_before"] else None
    sig = r["level_ci_low"] > 0 or r["level_ci_high"] < 0
    return (head + f"After the {r['kind']} of {r['date']}" + (f" ({r['board']})" if r.get("board") else "")
            + f", monthly posts changed in level by {fmt_num(change)} ({fmt_pct(rel) if rel is not None else '–'} "
              f"of the mean before; 95% CI {fmt_num(r['level_ci_low'])} to {fmt_num(r['level_ci_high'])}"
            + ("" if sig else ", which includes no change") + ").")


def _newcomers_sentence(t) -> str:
    rows = [r for r in t.rows if isinstance(r.get("newcomers"), (int, float))]
    if not rows:
        return "Newcomer counts are too small to show."
    peak = max(rows, key=lambda r: r["newcomers"])
    half = len(t.rows) // 2
    first = sum(r["newcomers"] for r in t.rows[:half] if isinstance(r.get("newcomers"), (int, float)))
    second = sum(r["newcomers"] for r in t.rows[half:] if isinstance(r.get("newcomers"), (int, float)))
    trend = ("more" if second > first * 1.1 else "fewer" if second < first / 1.1 else "about as many")
    return (f"Most newcomers arrived in {peak['month']} ({fmt_count(peak['newcomers'])}); the second half of the "
            f"period brought {trend} newcomers than the first.")
