"""Status earned by contributing: the rank ladder, status for contribution, time to promotion.

The step ``hierarchy`` measures the first mechanism of the operating model (docs/analyses/hierarchy.md):

* the **rank ladder**: each rank with its threshold (declared, or inferred from contribution when the
  source gives only members' current rank) and how many members hold it, lurkers and posters apart;
* **status for contribution**: Spearman rank correlations of rank position and approval received
  (thanks, net votes, post score, replies) with contribution (posts written), with bootstrap
  confidence intervals, for posters and for all members (lurkers included);
* **time to promotion**: for post-count ladders, the day each member crossed each threshold is
  reconstructed from their post times (the k-th post) and summarised per rank.

Heavy work is done in DuckDB (one aggregate per member, one window over posts); Python sees one row per
member, never one per post.

A small runnable example (a forum of three members; r1 reached at 2 posts)::

    >>> import forumscope, tempfile, json, pathlib
    >>> from forumscope.pipeline.runner import run_steps
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> rows = {"forums": [{"id": "f"}],
    ...   "ranks": [{"forum_id": "f", "id": "r0", "position": 0, "min_posts": 0},
    ...             {"forum_id": "f", "id": "r1", "position": 1, "min_posts": 2}],
    ...   "users": [{"forum_id": "f", "id": u, "rank_id": r} for u, r in
    ...             [("a", "r1"), ("b", "r0"), ("c", "r0")]],
    ...   "posts": [{"forum_id": "f", "id": f"p{i}", "thread_id": "t", "author_id": a,
    ...              "created_at": f"2020-01-0{i + 1}T00:00:00Z"} for i, a in enumerate("aab")]}
    >>> for name, rs in rows.items():
    ...     _ = (d / "src").mkdir(exist_ok=True)
    ...     _ = (d / "src" / f"{name}.ndjson").write_text("".join(json.dumps(r) + "\\n" for r in rs))
    >>> _ = forumscope.ingest_sources([d / "src"], d / "case")
    >>> case = forumscope.open_case(d / "case")
    >>> _ = run_steps(case, ["hierarchy"])
    >>> case.con.execute("SELECT rank_id, holders, posters, lurkers FROM hierarchy_ranks ORDER BY 1").fetchall()
    [('r0', 2, 1, 1), ('r1', 1, 1, 0)]
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
import pandas as pd
import pyarrow as pa

from forumscope.pipeline.step import Param, Step, StepContext

# Candidate contribution measures for inferring thresholds, in order of preference on ties.
CANDIDATE_MEASURES = ("posts", "post_count_reported", "threads_started", "attachments_shared",
                      "thanks_received", "reputation")
# Status and approval measures correlated with contribution (posts).
STATUS_MEASURES = ("rank_position", "reputation", "thanks_received", "votes_received", "score_received",
                   "replies_received")
POPULATIONS = ("posters", "members")  # members = registered, non-bot users, lurkers included
POST_MEASURES = ("posts", "post_count_reported")  # measures whose thresholds can be replayed on post times


# ----------------------------------------------------------------------------------------- helpers
def forum_filter(ctx: StepContext, alias: str = "") -> tuple[str, list[Any]]:
    """SQL fragment ``AND <alias>forum_id = $1`` and its parameters (empty when all forums)."""
    if ctx.forum_id is None:
        return "", []
    return f" AND {alias}forum_id = $1", [ctx.forum_id]


def forum_ids(ctx: StepContext) -> list[str]:
    """The forums to analyse: ``ctx.forum_id``, or every forum with a forums, users or posts row."""
    if ctx.forum_id is not None:
        return [ctx.forum_id]
    rows = ctx.con.execute("SELECT id FROM forums UNION SELECT DISTINCT forum_id FROM users "
                           "UNION SELECT DISTINCT forum_id FROM posts ORDER BY 1").fetchall()
    return [r[0] for r in rows if r[0] is not None]


def arrow_table(rows: Sequence[dict[str, Any]], schema: Sequence[tuple[str, pa.DataType]]) -> pa.Table:
    """Rows to an Arrow table with a fixed schema (types stay stable when a column is all empty)."""
    sch = pa.schema(list(schema))
    clean = [{k: _clean(r.get(k)) for k in sch.names} for r in rows]
    return pa.Table.from_pylist(clean, schema=sch)


def _clean(v: Any) -> Any:
    if v is None:
        return None
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (np.floating, float)):
        f = float(v)
        return None if math.isnan(f) else f
    if isinstance(v, np.bool_):
        return bool(v)
    if v is pd.NA or v is pd.NaT:
        return None
    return v


def quartiles(values: np.ndarray) -> tuple[float | None, float | None, float | None]:
    """(first quartile, median, third quartile) with linear interpolation, or Nones when empty."""
    v = np.asarray(values, dtype=float)
    v = v[~np.isnan(v)]
    if v.size == 0:
        return None, None, None
    q = np.percentile(v, [25, 50, 75])
    return float(q[0]), float(q[1]), float(q[2])


def member_table(ctx: StepContext, full: bool = True) -> pd.DataFrame:
    """One row per registered, non-bot member with contribution and approval received.

    Columns: forum_id, user_id, registered_at, rank_id, reputation, post_count_reported, posts,
    first_post_at, threads_started, attachments_shared, thanks_received, replies_received,
    votes_received, votes_n, score_received, scored_posts. Counts are 0 when a member has none;
    thanks, replies and votes a member gave themselves are not counted.
    """
    f, params = forum_filter(ctx)
    fa, _ = forum_filter(ctx, "a.")
    q = f"""
    WITH u AS (
        SELECT forum_id, id AS user_id, registered_at, rank_id, reputation, post_count_reported
        FROM users WHERE NOT coalesce(is_bot, false) {f}),
    p AS (
        SELECT forum_id, author_id AS user_id, count(*) AS posts, min(created_at) AS first_post_at,
               sum(score) AS score_received, count(score) AS scored_posts
        FROM posts WHERE author_id IS NOT NULL {f} GROUP BY ALL),
    t AS (
        SELECT forum_id, author_id AS user_id, count(*) AS threads_started
        FROM threads WHERE author_id IS NOT NULL {f} GROUP BY ALL),
    a AS (
        SELECT a.forum_id, coalesce(a.user_id, p.author_id) AS user_id, count(*) AS attachments_shared
        FROM attachments a LEFT JOIN posts p
          ON a.user_id IS NULL AND p.forum_id = a.forum_id AND p.id = a.post_id
        WHERE true {fa} GROUP BY ALL),
    i AS (
        SELECT forum_id, target_user_id AS user_id,
               count(*) FILTER (WHERE kind = 'thanks') AS thanks_received,
               count(*) FILTER (WHERE kind = 'reply') AS replies_received,
               sum(value) FILTER (WHERE kind = 'vote') AS votes_received,
               count(value) FILTER (WHERE kind = 'vote') AS votes_n
        FROM interactions
        WHERE target_user_id IS NOT NULL AND kind IN ('thanks', 'reply', 'vote')
          AND (source_user_id IS NULL OR source_user_id <> target_user_id) {f}
        GROUP BY ALL)
    SELECT u.forum_id, u.user_id, u.registered_at, u.rank_id, u.reputation, u.post_count_reported,
           coalesce(p.posts, 0) AS posts, p.first_post_at,
           coalesce(t.threads_started, 0) AS threads_started,
           coalesce(a.attachments_shared, 0) AS attachments_shared,
           coalesce(i.thanks_received, 0) AS thanks_received,
           coalesce(i.replies_received, 0) AS replies_received,
           coalesce(i.votes_received, 0) AS votes_received, coalesce(i.votes_n, 0) AS votes_n,
           coalesce(p.score_received, 0) AS score_received, coalesce(p.scored_posts, 0) AS scored_posts
    FROM u LEFT JOIN p USING (forum_id, user_id) LEFT JOIN t USING (forum_id, user_id)
           LEFT JOIN a USING (forum_id, user_id) LEFT JOIN i USING (forum_id, user_id)
    """
    if not full:
        q = f"""
        WITH u AS (
            SELECT forum_id, id AS user_id, registered_at, rank_id, reputation, post_count_reported
            FROM users WHERE NOT coalesce(is_bot, false) {f}),
        p AS (
            SELECT forum_id, author_id AS user_id, count(*) AS posts, min(created_at) AS first_post_at
            FROM posts WHERE author_id IS NOT NULL {f} GROUP BY ALL)
        SELECT u.*, coalesce(p.posts, 0) AS posts, p.first_post_at FROM u LEFT JOIN p USING (forum_id, user_id)
        """
    df = ctx.df(q, params)
    for c in ("posts", "threads_started", "attachments_shared", "thanks_received", "replies_received",
              "votes_n", "scored_posts"):
        if c in df:
            df[c] = df[c].astype("int64")
    for c in ("votes_received", "score_received", "reputation", "post_count_reported"):
        if c in df:
            df[c] = df[c].astype("float64")
    return df


def kth_post_times(ctx: StepContext, ks: Sequence[int]) -> pd.DataFrame:
    """When each member wrote their k-th post (k in ``ks``, 1-based; posts ordered by time, then id).

    Columns: forum_id, user_id, k, reached_at. Posts without a time cannot be placed and are not counted.
    """
    ks = sorted({int(k) for k in ks if int(k) >= 1})
    if not ks:
        return pd.DataFrame({"forum_id": [], "user_id": [], "k": [], "reached_at": []})
    f, params = forum_filter(ctx)
    q = f"""
    SELECT forum_id, user_id, k, reached_at FROM (
        SELECT forum_id, author_id AS user_id, created_at AS reached_at,
               row_number() OVER (PARTITION BY forum_id, author_id ORDER BY created_at, id) AS k
        FROM posts WHERE author_id IS NOT NULL AND created_at IS NOT NULL {f})
    WHERE k IN ({", ".join(str(k) for k in ks)})
    """
    return ctx.df(q, params)


# ----------------------------------------------------------------------------------------- inference
@dataclass
class Inference:
    """Thresholds inferred for ordered ranks from one measure (see :func:`infer_thresholds`)."""

    thresholds: list[float | None]  # per rank (in ladder order): the point estimate
    low: list[float | None]  # lowest threshold with the best fit (rank 0: min(0, lowest value))
    high: list[float | None]  # highest threshold with the best fit (None: unbounded above)
    consistent: np.ndarray  # per member: inside [own threshold, next threshold)
    consistent_count: int = 0
    n: int = 0

    @property
    def share(self) -> float | None:
        return self.consistent_count / self.n if self.n else None


def _nice_steps(limit: float) -> list[int]:
    steps = []
    k = 0
    while 10 ** k <= max(1.0, limit) * 10:
        for m in (1, 2, 2.5, 5):
            v = m * 10 ** k
            if float(v).is_integer():
                steps.append(int(v))
        k += 1
    return sorted(set(steps), reverse=True)


def roundest(low: float, high: float | None) -> float:
    """The 'roundest' integer in [low, high]: a multiple of the largest of 1, 2, 2.5, 5 x 10^k that fits.

    Ties go to the lowest; with no upper bound the lowest value is returned. Forum software and
    administrators set thresholds at round numbers (10, 50, 100, 250, 1000 posts), so where the data
    leave a range of equally good thresholds the round one is the likely rule.
    """
    if high is None or high <= low:
        return float(low)
    lo = math.ceil(low)
    if lo <= 0 <= high:
        return 0.0
    for step in _nice_steps(high):
        v = math.ceil(lo / step) * step
        if v <= high:
            return float(v)
    return float(lo)


def infer_thresholds(rank_index: np.ndarray, values: np.ndarray, n_ranks: int, point: str = "round") -> Inference:
    """Best monotone thresholds for ``n_ranks`` ordered ranks from members' rank and measure.

    ``rank_index[i]`` is member i's rank (0 = lowest, every rank in 0..n_ranks-1 held by at least
    one member), ``values[i]`` their measure (integer-valued, finite). A member of rank k is
    *consistent* when ``t_k <= value < t_{k+1}``. The thresholds ``t_1 <= ... <= t_{K-1}`` are chosen
    jointly (dynamic programming over the distinct values) to maximise the number of consistent
    members. Where several thresholds fit equally well, ``low`` is the lowest (one more than the
    highest value below it) and ``high`` the highest (the others held at their lowest); the point
    estimate is the lowest (``point='lowest'``) or the roundest number in [low, high]
    (``point='round'``, see :func:`roundest`). The lowest rank's threshold is ``min(0, lowest value)``.
    """
    k_idx = np.asarray(rank_index, dtype=np.int64)
    x = np.asarray(values, dtype=float)
    K, n = int(n_ranks), len(x)
    if n == 0 or K == 0:
        return Inference([None] * K, [None] * K, [None] * K, np.zeros(n, bool), 0, n)
    vals, xi = np.unique(x, return_inverse=True)
    U = len(vals)
    cnt = np.bincount(k_idx * U + xi, minlength=K * U).reshape(K, U)
    P = np.zeros((K, U + 1), dtype=np.int64)  # P[k, j] = holders of rank k with value index < j
    P[:, 1:] = np.cumsum(cnt, axis=1)
    N = P[:, U]
    base = min(0.0, float(vals[0]))
    if K == 1:
        cons = np.ones(n, bool)
        return Inference([base], [base], [base], cons, n, n)
    # t[b] (b = 1..K-1) as candidate index j in 0..U: "value >= threshold" <=> value index >= j
    F = P[0].astype(np.int64)
    backs = []
    ar = np.arange(U + 1)
    for k in range(1, K - 1):
        G = F - P[k]
        M = np.maximum.accumulate(G)
        prev = np.concatenate([[np.iinfo(np.int64).min], M[:-1]])
        A = np.maximum.accumulate(np.where(G > prev, ar, 0))
        backs.append(A)
        F = M + P[k]
    total = F + N[K - 1] - P[K - 1]
    j = int(np.argmax(total))
    t = [0] * (K + 1)  # t[0] = 0, t[K] = U (sentinel)
    t[K] = U
    t[K - 1] = j
    for b in range(K - 2, 0, -1):
        t[b] = int(backs[b - 1][t[b + 1]])
    # lowest threshold per boundary, then the range with the same fit, others held fixed
    highs = [0] * (K + 1)
    for b in range(1, K):
        lo, hi = t[b - 1], t[b + 1]
        seg = P[b - 1][lo:hi + 1] - P[b][lo:hi + 1]
        idx = np.nonzero(seg == seg.max())[0]
        t[b] = lo + int(idx[0])
        highs[b] = lo + int(idx[-1])
    lows: list[float | None] = [base]
    his: list[float | None] = [base]
    points: list[float | None] = [base]
    for b in range(1, K):
        lo_v = float(vals[t[b] - 1] + 1) if t[b] > 0 else base
        hi_v = float(vals[highs[b]]) if highs[b] < U else None
        pt = roundest(lo_v, hi_v) if point == "round" else lo_v
        pt = max(pt, points[-1])  # keep the ladder monotone
        lows.append(lo_v)
        his.append(hi_v)
        points.append(pt)
    cons = consistency_with(k_idx, x, points)
    return Inference(points, lows, his, cons, int(cons.sum()), n)


def consistency_with(rank_index: np.ndarray, values: np.ndarray, thresholds: Sequence[float | None]) -> np.ndarray:
    """Per member: ``thresholds[k] <= value < thresholds[k+1]`` (None thresholds are skipped upwards)."""
    k_idx = np.asarray(rank_index, dtype=np.int64)
    x = np.asarray(values, dtype=float)
    K = len(thresholds)
    lo = np.array([-np.inf if t is None else t for t in thresholds], dtype=float)
    # the next defined threshold above each rank
    hi = np.full(K, np.inf)
    nxt = np.inf
    for k in range(K - 1, -1, -1):
        hi[k] = nxt
        if thresholds[k] is not None:
            nxt = thresholds[k]
    return (x >= lo[k_idx]) & (x < hi[k_idx])


# ----------------------------------------------------------------------------------------- ladder
@dataclass
class Ladder:
    """One forum's rank ladder as analysed: ranks in order, with the thresholds used."""

    forum_id: str
    kind: str  # post_count | reputation | inferred | none
    measure: str | None  # the measure thresholds apply to
    ranks: pd.DataFrame  # rank_id, name, position, is_special, order (ladder order, None for special)
    thresholds: dict[str, float | None] = field(default_factory=dict)  # rank_id -> threshold used
    sources: dict[str, str] = field(default_factory=dict)  # rank_id -> declared | inferred | none | special
    inference: dict[str, Inference] = field(default_factory=dict)  # measure -> inference
    inferred_order: list[str] = field(default_factory=list)  # rank ids the inference ran over (in order)
    chosen_measure: str | None = None
    consistent_share: float | None = None
    consistent_share_posters: float | None = None
    consistent: np.ndarray | None = None  # per ranked member (see ranked_members)
    ranked_members: pd.DataFrame | None = None

    def post_thresholds(self) -> list[tuple[int, str, int]]:
        """(ladder order, rank id, threshold in posts) for ladders on post counts, lowest first."""
        if self.measure not in POST_MEASURES:
            return []
        out = []
        for _, r in self.ranks[self.ranks["order"].notna()].sort_values("order").iterrows():
            t = self.thresholds.get(r["rank_id"])
            if t is not None:
                out.append((int(r["order"]), r["rank_id"], int(t)))
        return out


def load_ranks(ctx: StepContext) -> pd.DataFrame:
    f, params = forum_filter(ctx)
    return ctx.df(f"SELECT forum_id, id AS rank_id, name, position, min_posts, min_reputation, "
                  f"coalesce(is_special, false) AS is_special FROM ranks WHERE true {f}", params)


def build_ladder(forum_id: str, ranks: pd.DataFrame, members: pd.DataFrame, infer: str = "auto",
                 point: str = "round") -> Ladder:
    """Order one forum's ranks, take declared thresholds and infer missing ones (``infer``: auto, always, never)."""
    r = ranks[ranks["forum_id"] == forum_id].copy()
    m = members[members["forum_id"] == forum_id]
    regular = r[~r["is_special"].astype(bool)].copy()
    has_posts = regular["min_posts"].notna().sum()
    has_rep = regular["min_reputation"].notna().sum()
    if has_posts == 0 and has_rep == 0:
        kind, declared_col = "none", None
    elif has_posts >= has_rep:
        kind, declared_col = "post_count", "min_posts"
    else:
        kind, declared_col = "reputation", "min_reputation"
    # ladder order: position, then declared threshold, then median posts of holders, then id
    med = m.groupby("rank_id")["posts"].median()
    regular["_pos"] = regular["position"].astype("float64")
    regular["_thr"] = regular[declared_col].astype("float64") if declared_col else np.nan
    regular["_med"] = regular["rank_id"].map(med).astype("float64")
    regular = regular.sort_values(["_pos", "_thr", "_med", "rank_id"], na_position="last")
    regular["order"] = np.arange(len(regular), dtype=float)
    r = r.merge(regular[["rank_id", "order"]], on="rank_id", how="left")
    ladder = Ladder(forum_id, kind, None, r)
    for _, row in r.iterrows():
        if row["is_special"]:
            ladder.sources[row["rank_id"]] = "special"
            ladder.thresholds[row["rank_id"]] = None
        elif declared_col and pd.notna(row[declared_col]):
            ladder.sources[row["rank_id"]] = "declared"
            ladder.thresholds[row["rank_id"]] = float(row[declared_col])
        else:
            ladder.sources[row["rank_id"]] = "none"
            ladder.thresholds[row["rank_id"]] = None
    order_ids = list(regular["rank_id"])
    ranked = m[m["rank_id"].isin(order_ids)].copy()
    ranked["_k"] = ranked["rank_id"].map({rid: i for i, rid in enumerate(order_ids)}).astype("int64")
    ladder.ranked_members = ranked
    if declared_col == "min_posts":
        # thresholds on the forum's own post count: check with the reported count and with posts in the case
        ladder.measure = "posts"
        best = None
        for meas in POST_MEASURES:
            sub = ranked[ranked[meas].notna()]
            if sub.empty:
                continue
            thr = [ladder.thresholds[rid] for rid in order_ids]
            c = consistency_with(sub["_k"].to_numpy(), sub[meas].to_numpy(), thr)
            share = c.mean()
            if best is None or share > best[0]:
                best = (share, meas, c, sub)
        if best is not None:
            ladder.measure = best[1]
            _set_consistency(ladder, best[3], best[2])
    elif declared_col == "min_reputation":
        ladder.measure = "reputation"
        sub = ranked[ranked["reputation"].notna()]
        if not sub.empty:
            thr = [ladder.thresholds[rid] for rid in order_ids]
            _set_consistency(ladder, sub, consistency_with(sub["_k"].to_numpy(), sub["reputation"].to_numpy(), thr))
    held_ids = set(ranked["rank_id"].unique())
    held = [rid for rid in order_ids if rid in held_ids]  # ranks with holders, in ladder order
    missing = any(ladder.sources[rid] == "none" for rid in held)
    if infer == "never" or len(order_ids) < 2 or ranked.empty or (infer == "auto" and not missing):
        return ladder
    ladder.inferred_order = held
    remap = {rid: i for i, rid in enumerate(held)}
    best_measure, best_share = None, -1.0
    for meas in CANDIDATE_MEASURES:
        if meas not in ranked:
            continue
        sub = ranked[ranked[meas].notna()]
        if sub.empty or (sub[meas] == sub[meas].iloc[0]).all():
            continue
        kk = sub["rank_id"].map(remap).to_numpy(dtype=np.int64)
        present = np.unique(kk)
        if len(present) < 2:
            continue
        if len(present) < len(held):  # some ranks have no holder with this measure: compact, then expand
            comp = {int(v): i for i, v in enumerate(present)}
            inf = infer_thresholds(np.array([comp[int(v)] for v in kk]), sub[meas].to_numpy(), len(present),
                                   point)
            full = _expand(inf, present, len(held))
        else:
            full = infer_thresholds(kk, sub[meas].to_numpy(), len(held), point)
        full.n = len(sub)
        ladder.inference[meas] = full
        if full.share is not None and full.share > best_share + 1e-12:
            best_measure, best_share = meas, full.share
    if best_measure is None:
        return ladder
    ladder.chosen_measure = best_measure
    if kind == "none":
        ladder.kind = "inferred"
        ladder.measure = best_measure
    inf = ladder.inference[best_measure]
    if ladder.kind == "inferred":
        for i, rid in enumerate(held):
            ladder.thresholds[rid] = inf.thresholds[i]
            ladder.sources[rid] = "inferred"
        sub = ranked[ranked[best_measure].notna()]
        _set_consistency(ladder, sub, inf.consistent)
    else:  # declared ladder with gaps: fill the gaps from the inference on the same measure when possible
        same = ladder.inference.get(ladder.measure)
        if same is not None:
            for i, rid in enumerate(held):
                if ladder.sources[rid] == "none":
                    ladder.thresholds[rid] = same.thresholds[i]
                    ladder.sources[rid] = "inferred"
            sub = ranked[ranked[ladder.measure].notna()]
            thr = [ladder.thresholds[rid] for rid in order_ids]
            _set_consistency(ladder, sub, consistency_with(sub["_k"].to_numpy(), sub[ladder.measure].to_numpy(), thr))
    return ladder


def _expand(inf: Inference, present: np.ndarray, K: int) -> Inference:
    th: list[float | None] = [None] * K
    lo: list[float | None] = [None] * K
    hi: list[float | None] = [None] * K
    for i, v in enumerate(present):
        th[int(v)], lo[int(v)], hi[int(v)] = inf.thresholds[i], inf.low[i], inf.high[i]
    return Inference(th, lo, hi, inf.consistent, inf.consistent_count, inf.n)


def _set_consistency(ladder: Ladder, sub: pd.DataFrame, cons: np.ndarray) -> None:
    ladder.consistent = cons
    ladder.consistent_share = float(cons.mean()) if len(cons) else None
    posters = (sub["posts"] > 0).to_numpy()
    ladder.consistent_share_posters = float(cons[posters].mean()) if posters.any() else None
    ladder.ranked_members = sub.assign(_consistent=cons)


# ----------------------------------------------------------------------------------------- Spearman
@dataclass
class SpearmanResult:
    n: int
    rho: float | None
    ci_low: float | None
    ci_high: float | None
    p_value: float | None
    n_boot_valid: int


def _batch_ranks(counts: np.ndarray, order: np.ndarray | None, starts: np.ndarray, g: np.ndarray) -> np.ndarray:
    """Mid-ranks per replicate (rows of ``counts``) for items grouped by value (see spearman_bootstrap)."""
    W = np.add.reduceat(counts if order is None else counts[:, order], starts, axis=1)
    start = np.cumsum(W, axis=1) - W
    return (start + (W + 1.0) / 2.0)[:, g]


def _batch_pearson(a: np.ndarray, b: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Weighted Pearson correlation per row (raw moments; ranks are small enough for float64)."""
    S = w.sum(axis=1)
    wa, wb = w * a, w * b
    Sa, Sb = wa.sum(axis=1), wb.sum(axis=1)
    Saa = np.einsum("ij,ij->i", wa, a)
    Sbb = np.einsum("ij,ij->i", wb, b)
    Sab = np.einsum("ij,ij->i", wa, b)
    va = Saa - Sa * Sa / S
    vb = Sbb - Sb * Sb / S
    cov = Sab - Sa * Sb / S
    tiny = 1e-12 * (Saa + Sbb)
    with np.errstate(invalid="ignore", divide="ignore"):
        r = cov / np.sqrt(va * vb)
    r[(va <= tiny) | (vb <= tiny)] = np.nan
    return np.clip(r, -1.0, 1.0)


def spearman_bootstrap(x: np.ndarray, y: np.ndarray, *, n_boot: int, seed: int, level: float) -> SpearmanResult:
    """Spearman's rho of ``x`` and ``y`` with a percentile bootstrap interval.

    Members are resampled with replacement (``n_boot`` resamples, ``numpy.random.default_rng(seed)``)
    and rho is recomputed on each resample with mid-ranks for ties: exactly Spearman's rho of the
    resample. Members with identical (x, y) are pooled, so a resample is one multinomial draw over
    the distinct pairs (fast when many members share values, as lurkers do). Pairs with a missing
    value are left out. The p-value is the usual t approximation (as ``scipy.stats.spearmanr``).
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    keep = ~(np.isnan(x) | np.isnan(y))
    x, y = x[keep], y[keep]
    n = len(x)
    if n < 3:
        return SpearmanResult(n, None, None, None, None, 0)
    pairs, freq = np.unique(np.column_stack([x, y]), axis=0, return_counts=True)
    U = len(pairs)
    ox, sx, gx = _group_index(pairs[:, 0])
    oy, sy, gy = _group_index(pairs[:, 1])
    w0 = freq.astype(float)[None, :]
    rho = float(_batch_pearson(_batch_ranks(w0, ox, sx, gx), _batch_ranks(w0, oy, sy, gy), w0)[0])
    if math.isnan(rho):
        return SpearmanResult(n, None, None, None, None, 0)
    from scipy.special import stdtr

    if abs(rho) >= 1.0:
        p = 0.0
    else:
        tstat = rho * math.sqrt((n - 2) / (1.0 - rho * rho))
        p = float(2 * stdtr(n - 2, -abs(tstat)))
    lo = hi = None
    valid = 0
    if n_boot > 0:
        rng = np.random.default_rng(seed)
        prob = freq / freq.sum()
        reps = np.empty(n_boot)
        batch = max(1, min(n_boot, 2_000_000 // U))
        for done in range(0, n_boot, batch):
            b = min(batch, n_boot - done)
            w = rng.multinomial(n, prob, size=b).astype(float)
            reps[done:done + b] = _batch_pearson(_batch_ranks(w, ox, sx, gx), _batch_ranks(w, oy, sy, gy), w)
        ok = reps[~np.isnan(reps)]
        valid = int(ok.size)
        if valid:
            alpha = (1.0 - level) / 2.0
            lo, hi = (float(v) for v in np.quantile(ok, [alpha, 1.0 - alpha]))
    return SpearmanResult(n, rho, lo, hi, p, valid)


def _group_index(v: np.ndarray) -> tuple[np.ndarray | None, np.ndarray, np.ndarray]:
    """(order, group starts in that order, group of each item) for items grouped by equal value."""
    _, g = np.unique(v, return_inverse=True)
    g = g.ravel()
    order = np.argsort(g, kind="stable")
    starts = np.flatnonzero(np.r_[True, np.diff(g[order]) != 0])
    if np.array_equal(order, np.arange(len(g))):
        return None, starts, g  # already in value order (the first column of np.unique's output)
    return order, starts, g


# ----------------------------------------------------------------------------------------- the step
_LADDER_SCHEMA = [
    ("forum_id", pa.string()), ("ladder_kind", pa.string()), ("measure", pa.string()),
    ("threshold_source", pa.string()), ("ranks", pa.int64()), ("special_ranks", pa.int64()),
    ("members", pa.int64()), ("posters", pa.int64()), ("lurkers", pa.int64()), ("lurker_share", pa.float64()),
    ("ranked_members", pa.int64()), ("special_members", pa.int64()), ("unranked_members", pa.int64()),
    ("consistent_share", pa.float64()), ("consistent_share_posters", pa.float64()),
    ("inferred_measure", pa.string()), ("promotion_history", pa.string()), ("unregistered_posters", pa.int64()),
]
_RANKS_SCHEMA = [
    ("forum_id", pa.string()), ("rank_id", pa.string()), ("name", pa.string()), ("position", pa.int64()),
    ("ladder_order", pa.int64()), ("is_special", pa.bool_()), ("declared_min_posts", pa.int64()),
    ("declared_min_reputation", pa.int64()), ("threshold", pa.float64()), ("threshold_measure", pa.string()),
    ("threshold_source", pa.string()), ("inferred_threshold", pa.float64()),
    ("inferred_threshold_low", pa.float64()), ("inferred_threshold_high", pa.float64()),
    ("inferred_measure", pa.string()),
    ("holders", pa.int64()), ("posters", pa.int64()), ("lurkers", pa.int64()), ("holders_share", pa.float64()),
    ("consistent_share", pa.float64()),
    ("median_posts", pa.float64()), ("median_posts_posters", pa.float64()),
    ("median_threads_started", pa.float64()), ("median_thanks_received", pa.float64()),
    ("median_votes_received", pa.float64()), ("median_score_received", pa.float64()),
    ("median_replies_received", pa.float64()), ("median_reputation", pa.float64()),
]
_INFERENCE_SCHEMA = [
    ("forum_id", pa.string()), ("measure", pa.string()), ("chosen", pa.bool_()), ("rank_id", pa.string()),
    ("ladder_order", pa.int64()), ("threshold", pa.float64()), ("threshold_low", pa.float64()),
    ("threshold_high", pa.float64()),
    ("declared_threshold", pa.float64()), ("members", pa.int64()), ("consistent_share", pa.float64()),
]
_STATUS_SCHEMA = [
    ("forum_id", pa.string()), ("population", pa.string()), ("lurkers_included", pa.bool_()),
    ("contribution", pa.string()), ("status_measure", pa.string()), ("n", pa.int64()),
    ("lurkers", pa.int64()), ("rho", pa.float64()), ("ci_low", pa.float64()), ("ci_high", pa.float64()),
    ("ci_level", pa.float64()), ("n_boot", pa.int64()), ("n_boot_valid", pa.int64()), ("seed", pa.int64()),
    ("p_value", pa.float64()),
]
_PROMO_SCHEMA = [
    ("forum_id", pa.string()), ("rank_id", pa.string()), ("ladder_order", pa.int64()),
    ("threshold_posts", pa.int64()), ("threshold_source", pa.string()), ("reconstructable", pa.bool_()),
    ("note", pa.string()), ("holders", pa.int64()), ("reached", pa.int64()),
    ("with_registration", pa.int64()), ("days_from_registration_q1", pa.float64()),
    ("days_from_registration_median", pa.float64()), ("days_from_registration_q3", pa.float64()),
    ("days_from_first_post_q1", pa.float64()), ("days_from_first_post_median", pa.float64()),
    ("days_from_first_post_q3", pa.float64()),
]


def _int(v: Any) -> int | None:
    return None if v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA else int(v)


def _median(s: pd.Series) -> float | None:
    s = s.dropna()
    return float(s.median()) if len(s) else None


class HierarchyStep(Step):
    """Status earned by contributing: rank ladder, status for contribution, time to promotion."""

    name = "hierarchy"
    description = ("Rank ladder (declared or inferred thresholds, holders per rank), status and approval "
                   "against contribution (Spearman with bootstrap CIs), time to promotion.")
    inputs = ("users", "ranks", "posts", "threads", "interactions", "attachments")
    outputs = {
        "hierarchy_ladder": "One row per forum: ladder kind, members, posters, lurkers, how cleanly thresholds "
                            "separate ranks.",
        "hierarchy_ranks": "One row per forum and rank: threshold (declared or inferred), holders, posters, "
                           "lurkers, medians of contribution and approval.",
        "hierarchy_inference": "One row per forum, candidate measure and rank: inferred threshold and share of "
                               "members consistent with it.",
        "hierarchy_status": "One row per forum, population and status measure: Spearman rho with posts and its "
                            "bootstrap CI.",
        "hierarchy_promotion": "One row per forum and rank: days from registration and from first post to "
                               "reaching the rank (post-count ladders).",
    }
    params = (
        Param("n_boot", int, 1000, "Bootstrap resamples for the confidence intervals (0: none).",
              lambda v: v >= 0, "must be >= 0"),
        Param("seed", int, 0, "Seed of the bootstrap's random generator."),
        Param("ci_level", float, 0.95, "Confidence level of the intervals.", lambda v: 0 < v < 1,
              "must be between 0 and 1"),
        Param("infer", str, "auto", "Infer thresholds: auto (when a held rank has none declared), always, never.",
              lambda v: v in ("auto", "always", "never"), "must be auto, always or never"),
        Param("threshold_point", str, "round", "Point estimate of an inferred threshold within its range of equally "
              "good values: round (the roundest number) or lowest.", lambda v: v in ("round", "lowest"),
              "must be round or lowest"),
    )

    def compute(self, ctx: StepContext) -> dict[str, pa.Table]:
        ctx.progress("hierarchy: members", 0.0)
        members = member_table(ctx)
        ranks = load_ranks(ctx)
        ladders = {fid: build_ladder(fid, ranks, members, self.infer, self.threshold_point)
                   for fid in forum_ids(ctx)}
        ctx.progress("hierarchy: promotion", 0.3)
        f, params = forum_filter(ctx, "p.")
        unregistered = dict(ctx.con.execute(
            f"SELECT p.forum_id, count(DISTINCT p.author_id) FROM posts p ANTI JOIN users u "
            f"ON u.forum_id = p.forum_id AND u.id = p.author_id WHERE p.author_id IS NOT NULL {f} GROUP BY 1",
            params).fetchall())
        ks = {t for lad in ladders.values() for _, _, t in lad.post_thresholds()}
        kth = kth_post_times(ctx, ks) if ks else None
        out: dict[str, list[dict[str, Any]]] = {k: [] for k in self.outputs}
        for i, (fid, lad) in enumerate(ladders.items()):
            ctx.progress(f"hierarchy: forum {fid}", 0.3 + 0.7 * i / max(1, len(ladders)))
            m = members[members["forum_id"] == fid]
            self._ladder_rows(lad, m, out)
            out["hierarchy_ladder"][-1]["unregistered_posters"] = int(unregistered.get(fid, 0))
            self._status_rows(lad, m, out)
            self._promotion_rows(lad, m, kth, out)
        schemas = {"hierarchy_ladder": _LADDER_SCHEMA, "hierarchy_ranks": _RANKS_SCHEMA,
                   "hierarchy_inference": _INFERENCE_SCHEMA, "hierarchy_status": _STATUS_SCHEMA,
                   "hierarchy_promotion": _PROMO_SCHEMA}
        return {name: arrow_table(out[name], schemas[name]) for name in self.outputs}

    # ------------------------------------------------------------------ ladder and ranks
    def _ladder_rows(self, lad: Ladder, m: pd.DataFrame, out: dict[str, list]) -> None:
        r = lad.ranks
        special_ids = set(r.loc[r["is_special"].astype(bool), "rank_id"])
        regular_ids = set(r.loc[~r["is_special"].astype(bool), "rank_id"])
        posters = int((m["posts"] > 0).sum())
        n = len(m)
        sources = {lad.sources[rid] for rid in regular_ids} if regular_ids else set()
        src = ("declared" if sources == {"declared"} else "inferred" if sources == {"inferred"}
               else "none" if sources <= {"none"} else "mixed")
        reconstructable = bool(lad.post_thresholds())
        if reconstructable:
            hist = "reconstructed from post times"
        elif lad.kind == "reputation":
            hist = "not reconstructable: reputation ladder without reputation history"
        elif not regular_ids:
            hist = "no rank ladder"
        else:
            hist = "not reconstructable: thresholds not on post counts"
        out["hierarchy_ladder"].append({
            "forum_id": lad.forum_id, "ladder_kind": lad.kind, "measure": lad.measure, "threshold_source": src,
            "ranks": len(regular_ids), "special_ranks": len(special_ids), "members": n, "posters": posters,
            "lurkers": n - posters, "lurker_share": (n - posters) / n if n else None,
            "ranked_members": int(m["rank_id"].isin(regular_ids).sum()),
            "special_members": int(m["rank_id"].isin(special_ids).sum()),
            "unranked_members": int((~m["rank_id"].isin(regular_ids | special_ids)).sum()),
            "consistent_share": lad.consistent_share, "consistent_share_posters": lad.consistent_share_posters,
            "inferred_measure": lad.chosen_measure, "promotion_history": hist,
        })
        ranked = lad.ranked_members
        cons_by_rank = (ranked.groupby("rank_id")["_consistent"].mean()
                        if ranked is not None and "_consistent" in ranked else pd.Series(dtype=float))
        chosen = lad.inference.get(lad.chosen_measure) if lad.chosen_measure else None
        held_index = {rid: i for i, rid in enumerate(lad.inferred_order)}
        groups = {rid: g for rid, g in m.groupby("rank_id")}
        ranked_total = int(m["rank_id"].isin(regular_ids).sum())
        rows = []
        known = list(r["rank_id"])
        extra = [rid for rid in m["rank_id"].dropna().unique() if rid not in set(known)]
        for rid in known + sorted(extra) + ([None] if m["rank_id"].isna().any() else []):
            rr = r[r["rank_id"] == rid].iloc[0] if rid in set(known) else None
            g = groups.get(rid) if rid is not None else m[m["rank_id"].isna()]
            g = g if g is not None else m.iloc[0:0]
            is_special = bool(rr["is_special"]) if rr is not None else None
            hi = held_index.get(rid)
            rows.append({
                "forum_id": lad.forum_id, "rank_id": rid,
                "name": (rr["name"] if rr is not None and pd.notna(rr["name"]) else
                         ("(no rank)" if rid is None else None)),
                "position": _int(rr["position"]) if rr is not None else None,
                "ladder_order": _int(rr["order"]) if rr is not None else None,
                "is_special": is_special,
                "declared_min_posts": _int(rr["min_posts"]) if rr is not None else None,
                "declared_min_reputation": _int(rr["min_reputation"]) if rr is not None else None,
                "threshold": lad.thresholds.get(rid), "threshold_measure":
                    lad.measure if lad.thresholds.get(rid) is not None else None,
                "threshold_source": lad.sources.get(rid, "unknown rank" if rid is not None else "no rank"),
                "inferred_threshold": chosen.thresholds[hi] if chosen and hi is not None else None,
                "inferred_threshold_low": chosen.low[hi] if chosen and hi is not None else None,
                "inferred_threshold_high": chosen.high[hi] if chosen and hi is not None else None,
                "inferred_measure": lad.chosen_measure if chosen and hi is not None else None,
                "holders": len(g), "posters": int((g["posts"] > 0).sum()),
                "lurkers": int((g["posts"] == 0).sum()),
                "holders_share": (len(g) / ranked_total if rid in regular_ids and ranked_total else None),
                "consistent_share": float(cons_by_rank[rid]) if rid in cons_by_rank.index else None,
                "median_posts": _median(g["posts"]),
                "median_posts_posters": _median(g.loc[g["posts"] > 0, "posts"]),
                "median_threads_started": _median(g["threads_started"]),
                "median_thanks_received": _median(g["thanks_received"]),
                "median_votes_received": _median(g["votes_received"]) if m["votes_n"].sum() else None,
                "median_score_received": _median(g["score_received"]) if m["scored_posts"].sum() else None,
                "median_replies_received": _median(g["replies_received"]),
                "median_reputation": _median(g["reputation"]),
            })
        out["hierarchy_ranks"].extend(rows)
        for meas, inf in lad.inference.items():
            for rid, i in held_index.items():
                out["hierarchy_inference"].append({
                    "forum_id": lad.forum_id, "measure": meas, "chosen": meas == lad.chosen_measure,
                    "rank_id": rid, "ladder_order": _int(r.loc[r["rank_id"] == rid, "order"].iloc[0]),
                    "threshold": inf.thresholds[i], "threshold_low": inf.low[i], "threshold_high": inf.high[i],
                    "declared_threshold": (lad.thresholds.get(rid) if lad.sources.get(rid) == "declared" else None),
                    "members": inf.n, "consistent_share": inf.share,
                })

    # ------------------------------------------------------------------ status for contribution
    def _status_rows(self, lad: Ladder, m: pd.DataFrame, out: dict[str, list]) -> None:
        if m.empty:
            return
        order = lad.ranks.set_index("rank_id")["order"]
        rank_pos = m["rank_id"].map(order).astype("float64")
        available = {
            "rank_position": bool(rank_pos.notna().any() and rank_pos.nunique() > 1),
            "reputation": bool(m["reputation"].notna().any()),
            "thanks_received": bool(m["thanks_received"].sum()),
            "votes_received": bool(m["votes_n"].sum()),
            "score_received": bool(m["scored_posts"].sum()),
            "replies_received": bool(m["replies_received"].sum()),
        }
        measures = [k for k in STATUS_MEASURES if available[k]]
        if not measures:
            return
        for pi, pop in enumerate(POPULATIONS):
            sub = m[m["posts"] > 0] if pop == "posters" else m
            ys = {k: (rank_pos[sub.index] if k == "rank_position" else sub[k]).to_numpy(dtype=float)
                  for k in measures}
            lurker = (sub["posts"] == 0).to_numpy()
            for j, k in enumerate(measures):
                seed = self.seed + 100 * pi + STATUS_MEASURES.index(k)
                r = spearman_bootstrap(sub["posts"].to_numpy(dtype=float), ys[k], n_boot=self.n_boot, seed=seed,
                                       level=self.ci_level)
                out["hierarchy_status"].append({
                    "forum_id": lad.forum_id, "population": pop, "lurkers_included": pop == "members",
                    "contribution": "posts", "status_measure": k, "n": r.n,
                    "lurkers": int((lurker & ~np.isnan(ys[k])).sum()), "rho": r.rho, "ci_low": r.ci_low,
                    "ci_high": r.ci_high, "ci_level": self.ci_level, "n_boot": self.n_boot,
                    "n_boot_valid": r.n_boot_valid, "seed": seed, "p_value": r.p_value,
                })

    # ------------------------------------------------------------------ time to promotion
    def _promotion_rows(self, lad: Ladder, m: pd.DataFrame, kth: pd.DataFrame | None,
                        out: dict[str, list]) -> None:
        r = lad.ranks
        regular = r[r["order"].notna()].sort_values("order")
        if regular.empty:
            return
        thr = {rid: t for _, rid, t in lad.post_thresholds()}
        holders = m["rank_id"].value_counts()
        special_ids = set(r.loc[r["is_special"].astype(bool), "rank_id"])
        m = m[~m["rank_id"].isin(special_ids)]  # special ranks are not reached by contributing
        if thr and kth is not None:
            kf = kth[kth["forum_id"] == lad.forum_id].merge(
                m[["user_id", "registered_at", "first_post_at"]], on="user_id", how="inner")
        else:
            kf = None
        for _, row in regular.iterrows():
            rid = row["rank_id"]
            base = {"forum_id": lad.forum_id, "rank_id": rid, "ladder_order": _int(row["order"]),
                    "threshold_source": lad.sources.get(rid), "holders": int(holders.get(rid, 0))}
            t = thr.get(rid)
            if t is None:
                note = ("reputation ladder: promotion dates need the reputation history, which the data lack"
                        if lad.kind == "reputation" else
                        "no threshold on post counts" if lad.measure not in POST_MEASURES else
                        "no threshold for this rank")
                out["hierarchy_promotion"].append({**base, "threshold_posts": None, "reconstructable": False,
                                                   "note": note})
                continue
            if t <= 0:
                out["hierarchy_promotion"].append({
                    **base, "threshold_posts": t, "reconstructable": True, "reached": len(m),
                    "note": "lowest rank: held from registration"})
                continue
            g = kf[kf["k"] == t] if kf is not None else kf
            reg_days = ((g["reached_at"] - g["registered_at"]).dt.total_seconds() / 86400.0).to_numpy()
            fp_days = ((g["reached_at"] - g["first_post_at"]).dt.total_seconds() / 86400.0).to_numpy()
            rq = quartiles(reg_days)
            fq = quartiles(fp_days)
            note = ("reconstructed: date of the member's k-th post in the case (k = threshold)"
                    + ("; thresholds apply to the reported post count, replayed on posts in the case"
                       if lad.measure == "post_count_reported" else ""))
            out["hierarchy_promotion"].append({
                **base, "threshold_posts": t, "reconstructable": True, "note": note, "reached": len(g),
                "with_registration": int(g["registered_at"].notna().sum()),
                "days_from_registration_q1": rq[0], "days_from_registration_median": rq[1],
                "days_from_registration_q3": rq[2], "days_from_first_post_q1": fq[0],
                "days_from_first_post_median": fq[1], "days_from_first_post_q3": fq[2],
            })
