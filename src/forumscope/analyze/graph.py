"""Interaction graphs: who replied to, quoted or thanked whom, as integer-indexed arrays.

Shared by the ``network``, ``key_actors`` and ``disruption`` steps and by the graph exports.
Graphs are built from the ``interactions`` table by DuckDB aggregation (one row per directed
pair: ``GROUP BY forum_id, [kind,] source, target`` with the count as weight and the first and
last interaction time); Python only ever sees the aggregated edge list as NumPy arrays, never
one object per post.

* One graph per forum and per *graph name*: each interaction kind on its own (``reply``,
  ``quote``, ``thanks``, ...: ``mode="separate"``), all selected kinds together
  (``"combined"``: ``mode="combined"``), or both (``mode="both"``).
* Directed: an edge ``a -> b`` means *a* replied to / quoted / thanked *b*.
* Weighted: ``weight`` = number of interactions on the edge (the ``value`` column is ignored).
* Time-stamped: ``first_at`` / ``last_at`` = earliest and latest ``created_at`` on the edge
  (NaT when no interaction on it has a time).
* Dropped and counted: interactions without a source or target user (NULL or empty id:
  anonymous votes, guests, a target post whose author is unknown) and self-loops (a member
  replying to or thanking themself).
* Nodes are the members with at least one kept edge in that graph (isolated members and
  lurkers are not nodes); node ``i`` is ``user_ids[i]``, in order of first appearance in the
  sorted order of user ids; edges are sorted by (source, target): deterministic.

Example (a tiny forum)::

    >>> from forumscope.analyze.graph import load_graphs
    >>> graphs = load_graphs(case.con, kinds=("reply", "thanks"), mode="both")   # doctest: +SKIP
    >>> [(g.forum_id, g.name, g.n_nodes, g.n_edges) for g in graphs]             # doctest: +SKIP
    [('tiny', 'combined', 3, 2), ('tiny', 'reply', 3, 2), ('tiny', 'thanks', 2, 1)]
"""

from __future__ import annotations

import random
import zlib
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Iterator, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from forumscope.errors import ConfigError
from forumscope.store.sql import sql_str

DEFAULT_KINDS: tuple[str, ...] = ("reply", "quote", "thanks")
COMBINED = "combined"
MODES = ("combined", "separate", "both")
KNOWN_KINDS = ("reply", "quote", "mention", "thanks", "vote", "accept", "favorite", "bounty", "link",
               "duplicate", "reaction", "reputation", "private_message", "other")


@dataclass
class InteractionGraph:
    """One directed, weighted, time-stamped interaction graph of one forum."""

    forum_id: str
    name: str  # a kind ("reply", ...) or "combined"
    kinds: tuple[str, ...]  # interaction kinds it is built from
    user_ids: np.ndarray  # object array: node index -> user id
    source: np.ndarray  # int64 node index per edge
    target: np.ndarray  # int64
    weight: np.ndarray  # int64: interactions on the edge
    first_at: np.ndarray  # datetime64[us]
    last_at: np.ndarray  # datetime64[us]
    interactions: int = 0  # interactions of these kinds read for this forum
    self_loops: int = 0  # of them dropped as self-loops
    unknown: int = 0  # of them dropped for an unknown source or target
    kind_weights: dict[str, np.ndarray] = field(default_factory=dict)  # per-kind counts (combined graph)

    @property
    def n_nodes(self) -> int:
        return len(self.user_ids)

    @property
    def n_edges(self) -> int:
        return len(self.source)

    def undirected(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The undirected simple graph: (a, b, weight) with a < b, weights of both directions summed."""
        return undirected_simple(self.source, self.target, self.n_nodes, self.weight)

    def to_igraph(self, *, directed: bool = True, weights: bool = True):
        """An ``igraph.Graph`` (edge attribute ``weight``; undirected = collapsed, weights summed)."""
        if directed:
            return make_igraph(self.n_nodes, self.source, self.target, self.weight if weights else None,
                               directed=True)
        a, b, w = self.undirected()
        return make_igraph(self.n_nodes, a, b, w if weights else None, directed=False)

    def node_times(self) -> tuple[np.ndarray, np.ndarray]:
        """First and last interaction time of each node (over its edges, either direction)."""
        return node_times(self.n_nodes, self.source, self.target, self.first_at, self.last_at)


def check_kinds(kinds: Sequence[str], where: str) -> tuple[str, ...]:
    kinds = tuple(kinds)
    if not kinds:
        raise ConfigError(f"{where}: kinds must name at least one interaction kind")
    bad = [k for k in kinds if k not in KNOWN_KINDS]
    if bad:
        raise ConfigError(f"{where}: unknown interaction kind(s) {bad}; known: {', '.join(KNOWN_KINDS)}")
    if len(set(kinds)) != len(kinds):
        raise ConfigError(f"{where}: kinds are repeated: {list(kinds)}")
    return kinds


def graph_names(kinds: Sequence[str], mode: str) -> list[str]:
    """The graph names that `load_graphs` returns for these kinds and mode."""
    names = []
    if mode in ("combined", "both"):
        names.append(COMBINED)
    if mode in ("separate", "both"):
        names.extend(kinds)
    return names


def load_graphs(con: Any, *, kinds: Sequence[str] = DEFAULT_KINDS, mode: str = "combined",
                forum_id: str | None = None, per_kind_counts: bool = False,
                names: Sequence[str] | None = None) -> list[InteractionGraph]:
    """Build the interaction graphs of every forum (or of ``forum_id``) from ``interactions``.

    ``mode``: ``combined`` (one graph of all ``kinds``), ``separate`` (one graph per kind) or
    ``both``. ``names`` restricts the graphs built to some of those names. Every forum of the
    case (``forums`` table and forums seen in ``interactions``) gets each graph, possibly empty.
    ``per_kind_counts`` adds, for the combined graph, the count of each kind per edge
    (``kind_weights``). Returned in order of (forum_id, graph name).
    """
    kinds = check_kinds(kinds, "graph")
    if mode not in MODES:
        raise ConfigError(f"graph: mode must be one of {', '.join(MODES)}, got {mode!r}")
    wanted = graph_names(kinds, mode)
    if names is not None:
        wanted = [n for n in wanted if n in names]
    if not wanted:
        return []
    kind_list = ", ".join(sql_str(k) for k in kinds)
    forum_filter = "" if forum_id is None else f" AND forum_id = {sql_str(forum_id)}"
    id_filter = "" if forum_id is None else f" AND id = {sql_str(forum_id)}"

    forums = [r[0] for r in con.execute(
        f"SELECT id FROM forums WHERE true{id_filter} "
        f"UNION SELECT DISTINCT forum_id FROM interactions WHERE kind IN ({kind_list}){forum_filter} "
        "ORDER BY 1").fetchall()]

    counts: dict[tuple[str, str], tuple[int, int, int]] = {}
    for fid, kind, total, unknown, loops in con.execute(f"""
            SELECT forum_id, kind, count(*),
                   count(*) FILTER (WHERE coalesce(source_user_id, '') = '' OR coalesce(target_user_id, '') = ''),
                   count(*) FILTER (WHERE source_user_id = target_user_id AND source_user_id <> '')
            FROM interactions WHERE kind IN ({kind_list}){forum_filter} GROUP BY ALL""").fetchall():
        counts[(fid, kind)] = (int(total), int(unknown), int(loops))

    base = (f"SELECT forum_id, kind, source_user_id AS s, target_user_id AS t, created_at AS ts "
            f"FROM interactions WHERE kind IN ({kind_list}){forum_filter} "
            "AND s IS NOT NULL AND t IS NOT NULL AND s <> '' AND t <> '' AND s <> t")
    # 1. every member at either end of a kept interaction, numbered in the sorted order of (forum, user id)
    ids = _arrow(con, f"WITH i AS ({base}) SELECT forum_id, uid FROM (SELECT DISTINCT forum_id, s AS uid FROM i "
                      "UNION SELECT DISTINCT forum_id, t FROM i) ORDER BY forum_id, uid")
    ids = ids.append_column("gid", pa.array(np.arange(ids.num_rows, dtype=np.int64)))
    uids = ids["uid"].combine_chunks() if ids.num_rows else pa.array([], pa.string())
    forum_col = ids["forum_id"].to_pylist()
    forum_range: dict[str, tuple[int, int]] = {}
    for k, fid in enumerate(forum_col):
        lo, _ = forum_range.get(fid, (k, k))
        forum_range[fid] = (lo, k + 1)

    # 2. one row per (graph, source, target) with integer ends, aggregated and sorted by DuckDB
    order = sorted(wanted)
    code = {name: c for c, name in enumerate(order)}
    separate = [n for n in wanted if n != COMBINED]
    parts = []
    extra = ""
    if per_kind_counts:
        extra = "".join(f", count(*) FILTER (WHERE kind = {sql_str(k)})::BIGINT AS {_ident('w_' + k)}" for k in kinds)
    # one integer key per (graph, source, target): a single-column GROUP BY and ORDER BY (faster than three)
    big = max(ids.num_rows, 1)
    if big * big * len(order) >= 2**62:
        raise ConfigError(f"graph: too many members ({ids.num_rows:,}) for one graph key")
    if COMBINED in wanted:
        parts.append(f"SELECT ({code[COMBINED]} * {big} + s) * {big} + t AS key, count(*)::BIGINT AS weight, "
                     f"min(ts) AS first_at, max(ts) AS last_at{extra} FROM j GROUP BY key")
    if separate:
        zero = "".join(f", NULL::BIGINT AS {_ident('w_' + k)}" for k in kinds) if per_kind_counts else ""
        case = " ".join(f"WHEN {sql_str(k)} THEN {code[k]}" for k in separate)
        parts.append(f"SELECT ((CASE kind {case} END) * {big} + s) * {big} + t AS key, count(*)::BIGINT AS weight, "
                     f"min(ts) AS first_at, max(ts) AS last_at{zero} FROM j "
                     f"WHERE kind IN ({', '.join(sql_str(k) for k in separate)}) GROUP BY key")
    name = "_forumscope_graph_ids"
    con.register(name, ids)
    try:
        edges = _arrow(con, f"WITH i AS ({base}), j AS (SELECT i.kind, a.gid AS s, b.gid AS t, i.ts FROM i "
                            f"JOIN {name} a ON a.forum_id = i.forum_id AND a.uid = i.s "
                            f"JOIN {name} b ON b.forum_id = i.forum_id AND b.uid = i.t) "
                            + " UNION ALL ".join(parts) + " ORDER BY key")
    finally:
        con.unregister(name)
    del ids
    key = edges["key"].to_numpy() if edges.num_rows else np.zeros(0, np.int64)
    gcol = key // (big * big)
    scol = (key // big) % big
    tcol = key % big
    del key

    out = []
    for fid in forums:
        lo_id, hi_id = forum_range.get(fid, (0, 0))
        for gname in order:
            gk = kinds if gname == COMBINED else (gname,)
            total = unknown = loops = 0
            for k in gk:
                c = counts.get((fid, k), (0, 0, 0))
                total, unknown, loops = total + c[0], unknown + c[1], loops + c[2]
            # rows of this graph, then of this forum (sources of a forum are a range of ids)
            g0, g1 = np.searchsorted(gcol, [code[gname], code[gname] + 1])
            s0, s1 = g0 + np.searchsorted(scol[g0:g1], [lo_id, hi_id])
            out.append(_make_graph(edges.slice(s0, s1 - s0) if s1 > s0 else None, scol[s0:s1], tcol[s0:s1], uids,
                                   lo_id, hi_id, fid, gname, gk, total, unknown, loops,
                                   per_kind_counts and gname == COMBINED, kinds))
    return out


def _make_graph(t: pa.Table | None, s: np.ndarray, d: np.ndarray, uids: pa.Array, lo_id: int, hi_id: int,
                forum_id: str, name: str, kinds: tuple[str, ...], total: int, unknown: int, loops: int,
                with_kinds: bool, all_kinds: tuple[str, ...]) -> InteractionGraph:
    if t is None or t.num_rows == 0:
        empty_i = np.zeros(0, np.int64)
        empty_t = np.zeros(0, "datetime64[us]")
        return InteractionGraph(forum_id, name, kinds, np.zeros(0, object), empty_i, empty_i.copy(),
                                empty_i.copy(), empty_t, empty_t.copy(), total, loops, unknown,
                                {k: empty_i.copy() for k in all_kinds} if with_kinds else {})
    s = s - lo_id
    d = d - lo_id
    # nodes: the forum's members at an end of an edge of this graph, in the sorted order of user ids;
    # edges come sorted by (source, target), so they stay sorted after renumbering
    present = np.zeros(hi_id - lo_id, dtype=bool)
    present[s] = True
    present[d] = True
    nodes = np.flatnonzero(present)
    index = np.cumsum(present) - 1
    user_ids = uids.take(pa.array(nodes + lo_id)).to_numpy(zero_copy_only=False).astype(object)
    kw = {}
    if with_kinds:
        kw = {k: t[f"w_{k}"].to_numpy(zero_copy_only=False).astype(np.int64) for k in all_kinds}
    return InteractionGraph(
        forum_id, name, kinds, user_ids, index[s], index[d],
        t["weight"].to_numpy(zero_copy_only=False).astype(np.int64),
        _times(t["first_at"]), _times(t["last_at"]), total, loops, unknown, kw)


def _times(col: pa.ChunkedArray) -> np.ndarray:
    ints = pc.fill_null(col.cast(pa.timestamp("us")).cast(pa.int64()), np.iinfo(np.int64).min)
    return ints.to_numpy().view("datetime64[us]")


def _arrow(con: Any, query: str) -> pa.Table:
    rel = con.sql(query)
    fetch = getattr(rel, "to_arrow_table", None) or rel.arrow
    return fetch()


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


# ------------------------------------------------------------------ array helpers

def undirected_simple(src: np.ndarray, dst: np.ndarray, n: int,
                      weight: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Collapse a directed edge list to undirected simple edges (a < b); weights summed."""
    if len(src) == 0:
        z = np.zeros(0, np.int64)
        return z, z.copy(), np.zeros(0, np.float64)
    a = np.minimum(src, dst).astype(np.int64)
    b = np.maximum(src, dst).astype(np.int64)
    key = a * n + b
    uniq, inv = np.unique(key, return_inverse=True)
    w = np.bincount(inv, weights=None if weight is None else weight.astype(np.float64), minlength=len(uniq))
    return uniq // n, uniq % n, w.astype(np.float64)


def make_igraph(n: int, src: np.ndarray, dst: np.ndarray, weight: np.ndarray | None = None, *,
                directed: bool = True):
    """An igraph Graph from integer arrays (the fastest route the Python binding offers)."""
    import igraph as ig

    # a generator of pairs: igraph reads it without a list of tuples (half the transient memory)
    g = ig.Graph(n=int(n), edges=zip(src.tolist(), dst.tolist()), directed=directed)
    if weight is not None:
        g.es["weight"] = np.asarray(weight, dtype=np.float64).tolist()
    return g


def node_times(n: int, src: np.ndarray, dst: np.ndarray, first: np.ndarray,
               last: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per node: earliest first_at and latest last_at of its edges (NaT when none has a time)."""
    big = np.iinfo(np.int64).max
    nat = np.iinfo(np.int64).min  # NaT's integer value
    f = first.astype("datetime64[us]").view(np.int64).copy()
    l_ = last.astype("datetime64[us]").view(np.int64).copy()
    f[f == nat] = big
    lo = np.full(n, big, np.int64)
    hi = np.full(n, nat, np.int64)
    np.minimum.at(lo, src, f)
    np.minimum.at(lo, dst, f)
    np.maximum.at(hi, src, l_)
    np.maximum.at(hi, dst, l_)
    lo[lo == big] = nat
    return lo.view("datetime64[us]"), hi.view("datetime64[us]")


def stable_seed(seed: int, *parts: str) -> int:
    """A seed derived from ``seed`` and names (forum, graph): the same whatever else is analysed."""
    h = zlib.crc32("\x1f".join(parts).encode("utf-8"))
    return int(np.random.SeedSequence([int(seed) & 0xFFFFFFFF, h]).generate_state(1)[0])


@contextmanager
def igraph_rng(seed: int) -> Iterator[random.Random]:
    """Make igraph's random numbers come from ``random.Random(seed)`` for the block (then restore)."""
    import igraph as ig

    rng = random.Random(seed)
    ig.set_random_number_generator(rng)
    try:
        yield rng
    finally:
        ig.set_random_number_generator(random)


# ------------------------------------------------------------------ worker processes

SHARED: dict[str, Any] = {}  # read-only state handed to forked workers (set by fork_map)
PARALLEL_MIN_WORK = 1_000_000  # below this much work (edges x runs) everything runs in-process


def workers_for(jobs: int, tasks: int, work: float) -> int:
    """Worker processes for ``tasks`` independent runs: ``jobs`` when > 0; 0 = automatic (the CPU
    cores, at most 4, when ``work`` is at least PARALLEL_MIN_WORK); 1 where the platform cannot fork."""
    import multiprocessing
    import os

    if tasks < 2:
        return 1
    if jobs == 0:
        if work < PARALLEL_MIN_WORK:
            return 1
        jobs = min(os.cpu_count() or 1, 4)
    if "fork" not in multiprocessing.get_all_start_methods():
        return 1
    return max(1, min(jobs, tasks))


def fork_map(func: Any, tasks: Sequence[Any], workers: int, shared: dict[str, Any] | None = None,
             meanwhile: Any = None) -> tuple[list[Any], Any]:
    """``([func(t) for t in tasks], meanwhile())``, the tasks in ``workers`` forked processes when
    workers > 1 while the parent runs ``meanwhile`` (if given; its result, else None).

    ``func`` must be a module-level function; it may read ``SHARED`` (``shared``), which forked
    workers inherit without copying. Results come back in task order, so they never depend on the
    number of workers. The workers only run NumPy/igraph code on what they are given (never the
    case's database), and multiprocessing ends them with ``os._exit``, so nothing of the parent
    (a DuckDB connection) is finalised in them.
    """
    SHARED.clear()
    SHARED.update(shared or {})
    try:
        if workers <= 1:
            extra = meanwhile() if meanwhile is not None else None
            return [func(t) for t in tasks], extra
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("fork")) as ex:
            pending = ex.map(func, tasks)  # submits every task now
            extra = meanwhile() if meanwhile is not None else None
            return list(pending), extra
    finally:
        SHARED.clear()
