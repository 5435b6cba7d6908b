"""Participation gating: boards reachable only after contributing, where the gate is, who passes it.

The step ``gating`` (docs/analyses/gating.md) looks, for every board, at members' **first post there**
and at how much they had contributed before it (posts already written anywhere in the forum, and the
rank those posts gave them on a post-count ladder), against the same measure at first posts in the
forum's other boards. A board whose first posts all sit at or above a post count that ordinary board
entries often fall below is reported as gated, with the estimated threshold, the evidence and a
confidence. Boards whose first posters all belong to a small group (staff, VIP) are recognised as
group-gated. Declared access rules (``boards.min_posts``, ``min_rank_id``, ``required_group_ids``,
``access_rule``) are reported beside the estimate and used as the gate where present. Then: how many
members ever reach each gate, how many of them go on to post behind it, and how fast.

DuckDB numbers every member's posts once (a window over posts); Python sees one row per
(member, board) first post.
"""

from __future__ import annotations

import math
import re
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from forumscope.analyze.hierarchy import (arrow_table, build_ladder, forum_filter, forum_ids, kth_post_times,
                                          load_ranks, member_table, quartiles)
from forumscope.pipeline.step import Param, Step, StepContext

CONFIDENCE = ("none", "low", "medium", "high")
P_HIGH, P_MEDIUM, P_LOW = 1e-6, 1e-3, 0.05
ORDINARY_GROUP_KINDS = ("member", "banned", "bot")
MAX_GATE_GROUPS = 3
PRIOR_BINS = ((0, 0), (1, 4), (5, 9), (10, 24), (25, 49), (50, 99), (100, 249), (250, 499), (500, 999),
              (1000, None))


# ----------------------------------------------------------------------------------------- estimators
def estimate_threshold(priors: np.ndarray, tolerance: float) -> tuple[int | None, int]:
    """Post-count gate from the prior-post counts at a board's first posts.

    Up to ``floor(tolerance * n)`` of the lowest first posts may be exceptions. Among dropping
    j = 0..k of the lowest values, the one with the largest jump on the log scale,
    ``log1p(a[j]) - log1p(a[j-1])`` (``log1p(a[-1]) = 0``), is kept, lowest j on ties; the threshold is
    ``a[j]``. With no exceptions it is the minimum; an isolated low value below a dense block is
    dropped. Returns (threshold, number of exceptions), or (None, 0) for no first posts.
    """
    a = np.sort(np.asarray(priors, dtype=float))
    n = len(a)
    if n == 0:
        return None, 0
    k = min(n - 1, int(math.floor(tolerance * n + 1e-9)))
    la = np.log1p(a[:k + 1])
    gaps = la - np.concatenate([[0.0], la[:-1]])
    j = int(np.argmax(gaps))
    return int(a[j]), j


def binom_cdf(k: int, n: int, p: float) -> float:
    """P(X <= k) for X ~ Binomial(n, p)."""
    if n <= 0 or k >= n or p <= 0.0:
        return 1.0
    if k < 0:
        return 0.0
    if p >= 1.0:
        return 0.0
    from scipy.special import bdtr

    return float(bdtr(k, n, p))


def confidence(p_value: float | None, n: int, effect: float | None, *, min_first_posts: int,
               min_effect: float) -> str:
    """none, low, medium or high (see docs/analyses/gating.md, 'Confidence')."""
    if p_value is None or effect is None or n < min_first_posts:
        return "none"
    if p_value <= P_HIGH and effect >= min_effect:
        return "high"
    if p_value <= P_MEDIUM and effect >= min_effect / 2:
        return "medium"
    if p_value <= P_LOW:
        return "low"
    return "none"


_RULE_POSTS = re.compile(r"posts?\s*>=\s*(\d+)", re.I)
_RULE_RANK = re.compile(r"rank\s*>=\s*([\w.\-]+)", re.I)
_RULE_GROUP = re.compile(r"groups?\s*:\s*([\w.\-|,]+)", re.I)


def parse_access_rule(text: str | None) -> dict[str, Any]:
    """The simple forms of ``boards.access_rule``: ``posts>=N``, ``rank>=R``, ``group:a|b``."""
    out: dict[str, Any] = {}
    if not text:
        return out
    if m := _RULE_POSTS.search(text):
        out["min_posts"] = int(m.group(1))
    if m := _RULE_RANK.search(text):
        out["min_rank_id"] = m.group(1)
    if m := _RULE_GROUP.search(text):
        out["groups"] = [g for g in re.split(r"[|,]", m.group(1)) if g]
    return out


def _split_groups(v: Any) -> list[str]:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return []
    return [g.strip() for g in str(v).split("|") if g.strip()]


def _nz(v: Any) -> Any:
    """None for every flavour of missing (None, NaN, NA, NaT)."""
    if v is None:
        return None
    try:
        return None if pd.isna(v) else v
    except (TypeError, ValueError):  # not a scalar
        return v


def _bins(values: np.ndarray) -> list[tuple[str, int, int | None, int]]:
    out = []
    for lo, hi in PRIOR_BINS:
        sel = (values >= lo) if hi is None else ((values >= lo) & (values <= hi))
        label = f"{lo}+" if hi is None else (str(lo) if lo == hi else f"{lo}-{hi}")
        out.append((label, lo, hi, int(sel.sum())))
    return out


# ----------------------------------------------------------------------------------------- schemas
_BOARDS_SCHEMA = [
    ("forum_id", pa.string()), ("board_id", pa.string()), ("name", pa.string()), ("posts", pa.int64()),
    ("first_posts", pa.int64()), ("special_first_posts", pa.int64()),
    ("declared_min_posts", pa.int64()), ("declared_min_rank_id", pa.string()),
    ("declared_min_rank_posts", pa.int64()), ("declared_group_ids", pa.string()),
    ("declared_access_rule", pa.string()), ("declared_consistent_share", pa.float64()),
    ("estimated_gate_type", pa.string()), ("estimated_threshold_posts", pa.int64()),
    ("estimated_threshold_rank_id", pa.string()), ("rank_threshold_match", pa.bool_()),
    ("n_tested", pa.int64()), ("min_prior_posts", pa.int64()), ("median_prior_posts", pa.float64()),
    ("share_at_or_above", pa.float64()), ("n_below", pa.int64()), ("below_max_prior", pa.int64()),
    ("below_median_prior", pa.float64()), ("exempt_first_posts", pa.int64()), ("exempt_group_ids", pa.string()),
    ("baseline_first_posts", pa.int64()), ("baseline_median_prior", pa.float64()),
    ("baseline_share_below", pa.float64()), ("p_value", pa.float64()), ("confidence", pa.string()),
    ("group_ids", pa.string()), ("group_coverage", pa.float64()), ("group_baseline_share", pa.float64()),
    ("group_p_value", pa.float64()), ("group_confidence", pa.string()),
    ("gated", pa.bool_()), ("gate_source", pa.string()), ("gate_type", pa.string()), ("gate_posts", pa.int64()),
    ("gate_rank_id", pa.string()), ("gate_group_ids", pa.string()),
]
_PASSAGE_SCHEMA = [
    ("forum_id", pa.string()), ("board_id", pa.string()), ("gate_source", pa.string()), ("gate_type", pa.string()),
    ("criterion", pa.string()), ("gate_posts", pa.int64()), ("gate_group_ids", pa.string()),
    ("reached", pa.int64()), ("entered", pa.int64()), ("share_entered", pa.float64()),
    ("entered_before", pa.int64()), ("timed", pa.int64()), ("days_q1", pa.float64()),
    ("days_median", pa.float64()), ("days_q3", pa.float64()),
]
_DIST_SCHEMA = [
    ("forum_id", pa.string()), ("board_id", pa.string()), ("measure", pa.string()), ("bin", pa.string()),
    ("low", pa.int64()), ("high", pa.int64()), ("first_posts", pa.int64()), ("share", pa.float64()),
]


class GatingStep(Step):
    """Participation gating: per board, contribution at members' first post there against the forum."""

    name = "gating"
    description = ("Per board: prior posts (and rank) at members' first post there against the forum's other "
                   "boards; estimated or declared gates with evidence and confidence; who passes and how fast.")
    inputs = ("posts", "boards", "users", "ranks", "groups", "memberships")
    outputs = {
        "gating_boards": "One row per forum and board: declared rules, estimated gate, evidence, confidence, "
                         "the gate used.",
        "gating_passage": "One row per gated board and criterion (posts, group): members who reach the gate, "
                          "how many then post there, days to their first post there.",
        "gating_distribution": "Prior-post counts and rank at first posts, binned, per board and for all boards "
                               "pooled.",
    }
    params = (
        Param("tolerance", float, 0.02, "Share of a board's first posts allowed below the gate (exceptions).",
              lambda v: 0 <= v < 0.5, "must be in [0, 0.5)"),
        Param("min_first_posts", int, 5, "Fewest first posts on which a gate is estimated.", lambda v: v >= 1,
              "must be >= 1"),
        Param("min_effect", float, 0.2, "Share of the other boards' first posts the gate must exclude for high "
              "confidence (half of it for medium).", lambda v: 0 <= v <= 1, "must be in [0, 1]"),
        Param("min_confidence", str, "medium", "Lowest confidence at which an estimated gate is reported as gated.",
              lambda v: v in ("low", "medium", "high"), "must be low, medium or high"),
        Param("special_group_max_share", float, 0.2, "A group counts as special (staff, VIP...) when its kind is not "
              "member/banned/bot and it holds at most this share of registered members.",
              lambda v: 0 < v <= 1, "must be in (0, 1]"),
    )

    # ------------------------------------------------------------------ data
    def _entries(self, ctx: StepContext) -> pd.DataFrame:
        f, params = forum_filter(ctx)
        q = f"""
        WITH s AS (
            SELECT forum_id, board_id, author_id, created_at,
                   row_number() OVER (PARTITION BY forum_id, author_id ORDER BY created_at, id) - 1 AS prior
            FROM posts WHERE author_id IS NOT NULL AND created_at IS NOT NULL {f}),
        e AS (
            SELECT forum_id, board_id, author_id AS user_id, min(prior) AS prior, min(created_at) AS first_at
            FROM s WHERE board_id IS NOT NULL GROUP BY ALL)
        SELECT e.* FROM e LEFT JOIN users u ON u.forum_id = e.forum_id AND u.id = e.user_id
        WHERE NOT coalesce(u.is_bot, false)
        """
        df = ctx.df(q, params)
        df["prior"] = df["prior"].astype("int64")
        return df

    def _boards(self, ctx: StepContext) -> pd.DataFrame:
        f, params = forum_filter(ctx)
        fb, _ = forum_filter(ctx, "b.")
        q = f"""
        WITH c AS (SELECT forum_id, board_id, count(*) AS posts FROM posts WHERE board_id IS NOT NULL {f} GROUP BY ALL),
        b AS (SELECT forum_id, id AS board_id, name, min_posts, min_rank_id, required_group_ids, access_rule,
                     created_at FROM boards b WHERE true {fb})
        SELECT coalesce(b.forum_id, c.forum_id) AS forum_id, coalesce(b.board_id, c.board_id) AS board_id,
               b.name, coalesce(c.posts, 0) AS posts, b.min_posts, b.min_rank_id, b.required_group_ids,
               b.access_rule, b.created_at
        FROM b FULL OUTER JOIN c ON b.forum_id = c.forum_id AND b.board_id = c.board_id
        ORDER BY 1, 2
        """
        return ctx.df(q, params)

    def _special_memberships(self, ctx: StepContext) -> pd.DataFrame:
        """Memberships in special groups: forum_id, user_id, group_id, since, until."""
        f, params = forum_filter(ctx)
        fm, _ = forum_filter(ctx, "m.")
        q = f"""
        WITH reg AS (SELECT forum_id, count(*) AS members FROM users
                     WHERE NOT coalesce(is_bot, false) {f} GROUP BY ALL),
        g AS (SELECT m.forum_id, m.group_id, count(DISTINCT m.user_id) AS holders, any_value(gr.kind) AS kind
              FROM memberships m LEFT JOIN groups gr ON gr.forum_id = m.forum_id AND gr.id = m.group_id
              WHERE true {fm} GROUP BY ALL),
        sp AS (SELECT g.forum_id, g.group_id FROM g JOIN reg USING (forum_id)
               WHERE lower(coalesce(g.kind, '')) NOT IN ({", ".join(repr(k) for k in ORDINARY_GROUP_KINDS)})
                 AND g.holders <= {float(self.special_group_max_share)} * reg.members)
        SELECT m.forum_id, m.user_id, m.group_id, m.since, m."until"
        FROM memberships m JOIN sp ON sp.forum_id = m.forum_id AND sp.group_id = m.group_id
        """
        return ctx.df(q, params)

    # ------------------------------------------------------------------ compute
    def compute(self, ctx: StepContext) -> dict[str, pa.Table]:
        ctx.progress("gating: first posts per board", 0.0)
        entries = self._entries(ctx)
        boards = self._boards(ctx)
        special = self._special_memberships(ctx)
        ranks = load_ranks(ctx)
        members = member_table(ctx, full=False)
        fids = forum_ids(ctx)
        ladders = {fid: build_ladder(fid, ranks, members, "auto") for fid in fids}
        if any("inferred" in lad.sources.values() for lad in ladders.values()):
            full = member_table(ctx, full=True)  # same inference as the hierarchy step
            ladders = {fid: build_ladder(fid, ranks, full, "auto") for fid in fids}
        out: dict[str, list[dict[str, Any]]] = {k: [] for k in self.outputs}
        gates: list[dict[str, Any]] = []
        for i, fid in enumerate(fids):
            ctx.progress(f"gating: forum {fid}", 0.2 + 0.5 * i / max(1, len(fids)))
            self._forum(fid, entries[entries["forum_id"] == fid].reset_index(drop=True),
                        boards[boards["forum_id"] == fid], special[special["forum_id"] == fid],
                        ladders[fid], out, gates)
        ctx.progress("gating: passage", 0.8)
        self._passage(ctx, entries, gates, out)
        schemas = {"gating_boards": _BOARDS_SCHEMA, "gating_passage": _PASSAGE_SCHEMA,
                   "gating_distribution": _DIST_SCHEMA}
        return {name: arrow_table(out[name], schemas[name]) for name in self.outputs}

    def _forum(self, fid: str, E: pd.DataFrame, boards: pd.DataFrame, special: pd.DataFrame, ladder,
               out: dict[str, list], gates: list[dict[str, Any]]) -> None:
        n_all = len(E)
        board_of = E["board_id"].to_numpy()
        prior = E["prior"].to_numpy(dtype=np.int64)
        # special groups held at each first post
        held: dict[str, np.ndarray] = {}
        for gid, rows in special.groupby("group_id"):
            mm = E[["user_id", "first_at"]].reset_index().merge(rows[["user_id", "since", "until"]], on="user_id")
            ok = ((mm["since"].isna() | (mm["since"] <= mm["first_at"]))
                  & (mm["until"].isna() | (mm["until"] > mm["first_at"])))
            arr = np.zeros(n_all, bool)
            arr[mm.loc[ok, "index"].to_numpy()] = True
            held[str(gid)] = arr
        special_any = np.zeros(n_all, bool)
        for arr in held.values():
            special_any |= arr
        # rank at entry on a post-count ladder
        pt = ladder.post_thresholds()
        thr_vals = np.array([t for _, _, t in pt], dtype=float)
        thr_ids = [rid for _, rid, _ in pt]
        rank_at = (np.searchsorted(thr_vals, prior, side="right") - 1) if pt else None
        ordinary = ~special_any
        base_sorted = np.sort(prior[ordinary])
        if n_all:  # pooled distribution
            self._dist_rows(fid, None, prior, rank_at, thr_ids, out)
        board_rows = boards.to_dict("records")
        seen = {r["board_id"] for r in board_rows}
        for b in pd.unique(board_of):
            if b not in seen:
                board_rows.append({"forum_id": fid, "board_id": b, "name": None, "posts": 0})
        for br in board_rows:
            bid = br["board_id"]
            sel = board_of == bid
            row = self._board(fid, br, sel, prior, held, special_any, ordinary, base_sorted, ladder, thr_vals,
                              thr_ids)
            out["gating_boards"].append(row)
            if sel.any():
                self._dist_rows(fid, bid, prior[sel], rank_at[sel] if rank_at is not None else None, thr_ids, out)
            if row["gated"]:
                gates.append({"forum_id": fid, "board_id": bid, "row": row,
                              "created_at": _nz(br.get("created_at"))})

    def _board(self, fid, br, sel, prior, held, special_any, ordinary, base_sorted, ladder, thr_vals,
               thr_ids) -> dict[str, Any]:
        n = int(sel.sum())
        row: dict[str, Any] = {"forum_id": fid, "board_id": br["board_id"], "name": _nz(br.get("name")),
                               "posts": int(_nz(br.get("posts")) or 0), "first_posts": n,
                               "special_first_posts": int((sel & special_any).sum())}
        # ---- declared rules
        rule = parse_access_rule(_nz(br.get("access_rule")))
        d_posts = _nz(br.get("min_posts"))
        d_rank = _nz(br.get("min_rank_id"))
        d_groups = _split_groups(_nz(br.get("required_group_ids")))
        from_text = False
        if d_posts is None and d_rank is None and not d_groups and rule:
            d_posts, d_rank, d_groups = rule.get("min_posts"), rule.get("min_rank_id"), rule.get("groups", [])
            from_text = True
        d_rank_posts = None
        if d_rank is not None:
            if d_rank not in thr_ids and str(d_rank).isdigit():  # 'rank>=3': a ladder position
                order = ladder.ranks.dropna(subset=["position"])
                hit = order[order["position"] == int(d_rank)]
                d_rank = hit["rank_id"].iloc[0] if len(hit) else d_rank
            if d_rank in thr_ids:
                d_rank_posts = int(thr_vals[thr_ids.index(d_rank)])
        row.update({"declared_min_posts": _int(d_posts), "declared_min_rank_id": d_rank,
                    "declared_min_rank_posts": d_rank_posts,
                    "declared_group_ids": "|".join(d_groups) if d_groups else None,
                    "declared_access_rule": _nz(br.get("access_rule"))})
        declared = d_posts is not None or d_rank is not None or bool(d_groups)
        if declared and n:
            ok = np.ones(n, bool)
            need = max([v for v in (_int(d_posts), d_rank_posts) if v is not None], default=None)
            if need is not None:
                ok &= prior[sel] >= need
            if d_groups:
                ing = np.zeros(n, bool)
                for g in d_groups:
                    if g in held:
                        ing |= held[g][sel]
                ok &= ing
            row["declared_consistent_share"] = float(ok.mean())
        # ---- group gate: greedy cover of first posts by special groups
        g_ids: list[str] = []
        covered = np.zeros(n, bool)
        other = ~sel
        n_other = int(other.sum())
        for _ in range(MAX_GATE_GROUPS):
            best, best_gain = None, 0
            for gid, arr in held.items():
                if gid in g_ids:
                    continue
                gain = int((arr[sel] & ~covered).sum())
                if gain > best_gain or (gain == best_gain and gain > 0 and best is not None and gid < best):
                    best, best_gain = gid, gain
            if best is None:
                break
            g_ids.append(best)
            covered |= held[best][sel]
            if covered.mean() >= 1 - self.tolerance:
                break
        g_conf, g_p, g_base = "none", None, None
        if g_ids and n:
            cov_n = int(covered.sum())
            in_g = np.zeros(len(prior), bool)
            for gid in g_ids:
                in_g |= held[gid]
            g_base = float(in_g[other].mean()) if n_other else None
            if g_base is not None and cov_n >= n - math.floor(self.tolerance * n + 1e-9):
                g_p = 1.0 - binom_cdf(cov_n - 1, n, g_base)
                g_conf = confidence(g_p, n, 1.0 - g_base, min_first_posts=self.min_first_posts,
                                    min_effect=self.min_effect)
            if g_p is not None:  # only a cover that qualifies is reported
                row.update({"group_ids": "|".join(g_ids), "group_coverage": float(covered.mean()),
                            "group_baseline_share": g_base, "group_p_value": g_p, "group_confidence": g_conf})
        # ---- post-count gate over first posts outside special groups
        test = sel & ordinary
        a = prior[test]
        t, _ = estimate_threshold(a, self.tolerance)
        conf, p = "none", None
        if t is not None:
            below = a < t
            base_other = base_sorted
            # baseline: first posts in the other boards (outside special groups)
            n_base = len(base_other) - len(a)
            below_all = int(np.searchsorted(base_other, t, side="left"))
            share_below = (below_all - int(below.sum())) / n_base if n_base > 0 else None
            other_vals = prior[~sel & ordinary]
            row.update({
                "estimated_threshold_posts": t, "n_tested": len(a), "min_prior_posts": int(a.min()),
                "median_prior_posts": float(np.median(a)), "share_at_or_above": float((~below).mean()),
                "n_below": int(below.sum()),
                "below_max_prior": int(a[below].max()) if below.any() else None,
                "below_median_prior": float(np.median(a[below])) if below.any() else None,
                "baseline_first_posts": n_base,
                "baseline_median_prior": float(np.median(other_vals)) if len(other_vals) else None,
                "baseline_share_below": share_below,
            })
            if t >= 1 and share_below is not None:
                p = binom_cdf(int(below.sum()), len(a), share_below)
                conf = confidence(p, len(a), share_below, min_first_posts=self.min_first_posts,
                                  min_effect=self.min_effect)
            row["p_value"] = p
            if len(thr_vals):
                k = int(np.searchsorted(thr_vals, t, side="right") - 1)
                row["estimated_threshold_rank_id"] = thr_ids[k] if k >= 0 else None
                row["rank_threshold_match"] = bool(np.any((np.abs(thr_vals - t) <= 1) & (thr_vals > 0)))
        row["confidence"] = conf
        # exemptions: special-group first posts below the post-count gate
        exempt_ids = None
        n_exempt = 0
        if t is not None and t >= 1:
            low_special = sel & special_any & (prior < t)
            n_exempt = int(low_special.sum())
            if n_exempt:
                counts = {gid: int((arr & low_special).sum()) for gid, arr in held.items()}
                exempt_ids = "|".join(g for g, c in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])) if c)
        row["exempt_first_posts"] = n_exempt
        row["exempt_group_ids"] = exempt_ids
        # ---- decide
        need = CONFIDENCE.index(self.min_confidence)
        if CONFIDENCE.index(g_conf) >= need:
            est_type = "group"
        elif t is not None and t >= 1 and CONFIDENCE.index(conf) >= need:
            est_type = "post_count_or_group" if n_exempt else "post_count"
        else:
            est_type = "none"
        row["estimated_gate_type"] = est_type
        if declared:
            need_posts = max([v for v in (_int(d_posts), d_rank_posts) if v is not None], default=None)
            typ = ("post_count_and_group" if (need_posts is not None or d_rank is not None) and d_groups
                   else "group" if d_groups else "post_count")
            row.update({"gated": True, "gate_source": "declared_rule_text" if from_text else "declared",
                        "gate_type": typ, "gate_posts": need_posts, "gate_rank_id": d_rank,
                        "gate_group_ids": "|".join(d_groups) if d_groups else None})
        elif est_type != "none":
            row.update({"gated": True, "gate_source": "estimated", "gate_type": est_type})
            if est_type == "group":
                row["gate_group_ids"] = "|".join(g_ids)
            else:
                row["gate_posts"] = t
                if row.get("rank_threshold_match"):
                    row["gate_rank_id"] = row.get("estimated_threshold_rank_id")
                row["gate_group_ids"] = exempt_ids
        else:
            row["gated"] = False
        return row

    def _dist_rows(self, fid, bid, prior, rank_at, thr_ids, out) -> None:
        n = len(prior)
        for label, lo, hi, c in _bins(prior):
            out["gating_distribution"].append({"forum_id": fid, "board_id": bid, "measure": "prior_posts",
                                               "bin": label, "low": lo, "high": hi, "first_posts": c,
                                               "share": c / n if n else None})
        if rank_at is not None:
            for k, rid in enumerate(thr_ids):
                c = int((rank_at == k).sum())
                out["gating_distribution"].append({"forum_id": fid, "board_id": bid, "measure": "rank_at_entry",
                                                   "bin": rid, "low": k, "high": k, "first_posts": c,
                                                   "share": c / n if n else None})

    # ------------------------------------------------------------------ passage
    def _passage(self, ctx: StepContext, entries: pd.DataFrame, gates: list[dict[str, Any]],
                 out: dict[str, list]) -> None:
        ks = {g["row"]["gate_posts"] for g in gates if g["row"].get("gate_posts")}
        kth = kth_post_times(ctx, ks) if ks else None
        f_groups = None
        for g in gates:
            row, fid, bid = g["row"], g["forum_id"], g["board_id"]
            E = entries[(entries["forum_id"] == fid) & (entries["board_id"] == bid)]
            base = {"forum_id": fid, "board_id": bid, "gate_source": row["gate_source"], "gate_type": row["gate_type"]}
            created = pd.Timestamp(g["created_at"]) if g["created_at"] is not None else None
            t = row.get("gate_posts")
            if t:
                r = kth[(kth["forum_id"] == fid) & (kth["k"] == t)][["user_id", "reached_at"]]
                mm = r.merge(E[["user_id", "prior", "first_at"]], on="user_id", how="left")
                after = mm["prior"].notna() & (mm["prior"] >= t)
                start = mm["reached_at"] if created is None else mm["reached_at"].where(
                    mm["reached_at"] >= created, created)
                days = ((mm.loc[after, "first_at"] - start[after]).dt.total_seconds() / 86400.0).to_numpy()
                q = quartiles(days)
                out["gating_passage"].append({
                    **base, "criterion": "posts", "gate_posts": t, "reached": len(mm), "entered": int(after.sum()),
                    "share_entered": float(after.mean()) if len(mm) else None,
                    "entered_before": int((E["prior"] < t).sum()), "timed": len(days),
                    "days_q1": q[0], "days_median": q[1], "days_q3": q[2]})
            # exemptions of a post_count_or_group gate are reported on the board row, not as a gate of their own
            groups = _split_groups(row.get("gate_group_ids")) if row["gate_type"] != "post_count_or_group" else []
            if groups:
                if f_groups is None:
                    f, params = forum_filter(ctx)
                    f_groups = ctx.df(f"SELECT forum_id, user_id, group_id, since, \"until\" FROM memberships "
                                      f"WHERE true {f}", params)
                mg = f_groups[(f_groups["forum_id"] == fid) & f_groups["group_id"].isin(groups)]
                first_since = mg.groupby("user_id")["since"].min()
                holders = mg["user_id"].unique()
                mm = pd.DataFrame({"user_id": holders}).merge(E[["user_id", "first_at"]], on="user_id", how="left")
                mm["since"] = mm["user_id"].map(first_since)
                ent = mm["first_at"].notna() & (mm["since"].isna() | (mm["first_at"] >= mm["since"]))
                timed = ent & mm["since"].notna()
                days = ((mm.loc[timed, "first_at"] - mm.loc[timed, "since"]).dt.total_seconds() / 86400.0).to_numpy()
                q = quartiles(days)
                out["gating_passage"].append({
                    **base, "criterion": "group", "gate_group_ids": "|".join(groups), "reached": len(mm),
                    "entered": int(ent.sum()), "share_entered": float(ent.mean()) if len(mm) else None,
                    "entered_before": len(E) - int(ent.sum()), "timed": int(timed.sum()),
                    "days_q1": q[0], "days_median": q[1], "days_q3": q[2]})


def _int(v: Any) -> int | None:
    v = _nz(v)
    return None if v is None else int(v)
