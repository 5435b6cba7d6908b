"""Disruption simulation: remove the top-k actors by a strategy and measure the damage (step ``disruption``).

For each forum, the interaction graph (``graph``, undirected: two members are linked when
either interacted with the other) loses its top-k members by each strategy, for k = 0..K:

* ``degree``: most distinct interaction partners first (hubs);
* ``betweenness``: highest betweenness first (bridges; from the latest ``network`` run when it
  has the graph with the same kinds, else computed);
* ``key_actor``: highest composite key-actor score first (latest ``key_actors`` run, else computed
  with the default weights);
* ``random``: a random order; ``n_random`` seeded runs, averaged (mean and sd per k).

Rankings are computed once on the intact graph (*initial* attack, Holme et al. 2002); with
``adaptive=true`` degree and betweenness are recomputed on the remaining graph after every
removal (*recalculated* attack; betweenness is then re-estimated each step, which costs K
betweenness computations).

Per k: the largest connected component's share of the original members (``lcc_share``), the
number of components, density, transitivity (global clustering, updated exactly as members are
removed) and average shortest-path length between connected members, exact when at most
``path_samples`` members remain and otherwise estimated from breadth-first searches from
``path_samples`` random sources: the first ``path_samples`` members of one random order of the
forum's members that no run removes (adaptive runs: that are still there), so every k and every
strategy use the same sources and the curves are not jagged by resampling.

Documented in docs/analyses/disruption.md.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import pyarrow as pa

from forumscope.analyze.graph import (DEFAULT_KINDS, SHARED, InteractionGraph, check_kinds, fork_map, load_graphs,
                                      make_igraph, stable_seed, undirected_simple, workers_for)
from forumscope.analyze.network import betweenness, clustering_sampled, latest_nodes, validate_graph_param
from forumscope.errors import ConfigError
from forumscope.pipeline.step import Param, Step, StepContext

STRATEGIES = ("degree", "betweenness", "key_actor", "random")
CURVE_METRICS = ("lcc_share", "components", "density", "transitivity", "avg_path_length")


class DisruptionStep(Step):
    name = "disruption"
    description = "Remove the top-k actors by strategy (degree, betweenness, key-actor score, random) and measure."
    inputs = ("interactions", "posts", "users", "groups", "memberships", "ranks", "attachments")
    outputs = {
        "disruption_curves": "One row per forum, strategy and k: what is left of the network after removing k.",
        "disruption_removed": "Who each targeted strategy removes, in order, with the value that ranked them.",
        "disruption_summary": "One row per forum and strategy: the damage at K, robustness and where the "
                              "ranking came from.",
    }
    params = (
        Param("graph", str, "combined", "Interaction graph: combined or one of kinds."),
        Param("kinds", tuple, DEFAULT_KINDS, "Interaction kinds of that graph.", lambda v: len(v) > 0,
              "a non-empty list of kinds"),
        Param("strategies", tuple, STRATEGIES, "Strategies to simulate.",
              lambda v: len(v) > 0 and all(s in STRATEGIES for s in v), f"a non-empty list of {', '.join(STRATEGIES)}"),
        Param("max_k", int, 20, "K: remove up to this many members (k = 0..K).", lambda v: v >= 0, "must be >= 0"),
        Param("n_random", int, 5, "Seeded runs of the random strategy, averaged.", lambda v: v > 0, "must be > 0"),
        Param("path_samples", int, 64, "Sources for the average path length (exact when no more members remain).",
              lambda v: v > 0, "must be > 0"),
        Param("adaptive", bool, False, "Recompute degree and betweenness after every removal."),
        Param("jobs", int, 0, "Worker processes for the runs; 0 = automatic (CPU cores, at most 4, for large "
              "graphs), 1 = none.", lambda v: v >= 0, "must be >= 0"),
        Param("seed", int, 1, "Seed for random orders, path sources and betweenness sampling."),
        Param("use_latest", bool, True, "Use the latest network and key_actors runs for the rankings when they "
              "match; otherwise compute them here."),
        Param("betweenness_samples", int, 256, "Sampled sources for betweenness computed here (large graphs).",
              lambda v: v > 0, "must be > 0"),
        Param("betweenness_exact_max", int, 2000, "Exact betweenness up to this many members when computed here.",
              lambda v: v >= 0, "must be >= 0"),
        Param("large_graph_edges", int, 2_000_000, "Graphs with more undirected links than this are large: the "
              "triangles of the intact graph are estimated from sampled wedges.", lambda v: v >= 0, "must be >= 0"),
        Param("clustering_samples", int, 1_000_000, "Wedges sampled for the triangles of a large graph.",
              lambda v: v > 0, "must be > 0"),
    )

    def __init__(self, **kwargs: Any):
        super().__init__(**kwargs)
        self.kinds = check_kinds(self.kinds, f"step {self.name}: parameter kinds")
        validate_graph_param(self.name, self.graph, self.kinds)
        if len(set(self.strategies)) != len(self.strategies):
            raise ConfigError(f"step {self.name}: parameter strategies repeats a strategy")

    def compute(self, ctx: StepContext) -> dict[str, pa.Table]:
        from forumscope.pipeline.runner import latest_run_id

        mode = "combined" if self.graph == "combined" else "separate"
        graphs = load_graphs(ctx.con, kinds=self.kinds, mode=mode, forum_id=ctx.forum_id, names=[self.graph])
        forums = [g.forum_id for g in graphs]
        net_run = latest_run_id(ctx.case, "network") if self.use_latest else None
        net_nodes = latest_nodes(ctx.con, net_run, self.graph, self.kinds, forums)
        ka_scores = self._key_actor_scores(ctx, forums) if "key_actor" in self.strategies else {}
        curves, removed, summary = [], [], []
        for i, g in enumerate(graphs):
            ctx.progress(f"disruption: {g.forum_id}", i / max(len(graphs), 1))
            c, r, s = self._forum(g, net_nodes.get(g.forum_id), net_run, ka_scores.get(g.forum_id))
            curves.extend(c)
            removed.extend(r)
            summary.extend(s)
        return {"disruption_curves": _table(curves, CURVES_SCHEMA),
                "disruption_removed": _table(removed, REMOVED_SCHEMA),
                "disruption_summary": _table(summary, SUMMARY_SCHEMA)}

    # ------------------------------------------------------------------
    def _key_actor_scores(self, ctx: StepContext, forums: list[str]) -> dict[str, tuple[dict[str, float], str]]:
        """forum -> ({user_id: score}, source)."""
        from forumscope.analyze.key_actors import KeyActorsStep, score_actors
        from forumscope.pipeline.runner import latest_run_id

        out: dict[str, tuple[dict[str, float], str]] = {}
        run = latest_run_id(ctx.case, "key_actors") if self.use_latest else None
        if run is not None:
            for fid in forums:
                rows = ctx.con.execute("SELECT user_id, score FROM key_actors_scores WHERE run_id = ? AND forum_id = ?",
                                       [run, fid]).fetchall()
                if rows:
                    out[fid] = ({u: s for u, s in rows}, f"key_actors run {run}")
        missing = [f for f in forums if f not in out]
        if missing:
            step = KeyActorsStep(graph=self.graph, kinds=self.kinds, seed=self.seed,
                                 betweenness_samples=self.betweenness_samples,
                                 betweenness_exact_max=self.betweenness_exact_max)
            for fid in missing:
                sub = StepContext(ctx.case, forum_id=fid)
                t = score_actors(sub, step)
                out[fid] = (dict(zip(t["user_id"].to_pylist(), t["score"].to_pylist())),
                            "computed (key_actors defaults)")
        return out

    def _forum(self, g: InteractionGraph, net_nodes: pa.Table | None, net_run: str | None,
               ka: tuple[dict[str, float], str] | None) -> tuple[list, list, list]:
        n0 = g.n_nodes
        seed = stable_seed(self.seed, g.forum_id, g.name, "disruption")
        ua, ub, uw = undirected_simple(g.source, g.target, n0, g.weight)
        u = make_igraph(n0, ua, ub, directed=False)
        K = min(self.max_k, n0)
        deg = np.bincount(ua, minlength=n0) + np.bincount(ub, minlength=n0)
        strength = np.bincount(ua, weights=uw, minlength=n0) + np.bincount(ub, weights=uw, minlength=n0)
        large = len(ua) > self.large_graph_edges
        net = _Net.of(u, ua, ub, n0, clustering_samples=self.clustering_samples if large else None,
                      seed=stable_seed(seed, "clustering"))
        source_order = np.random.default_rng(stable_seed(seed, "path-sources")).permutation(n0)
        curves, removed, summary = [], [], []

        # 1. plan: every strategy's removal order(s), computed on the intact graph
        plans: list[tuple[str, list[np.ndarray], Callable | None, np.ndarray | None, str]] = []
        for strategy in self.strategies:
            if strategy == "random":
                orders = [np.random.default_rng(stable_seed(seed, "random", str(r))).permutation(n0)[:K]
                          for r in range(self.n_random)]
                plans.append((strategy, orders, None, None, f"random ({self.n_random} seeded runs)"))
                continue
            if strategy == "degree":
                value = deg.astype(np.float64)
                source = "degree in this graph"
            elif strategy == "betweenness":
                if net_nodes is not None and net_nodes.num_rows == n0:
                    value = _align(g, net_nodes, "betweenness")
                    source = f"network run {net_run}"
                else:
                    value, method, _ = betweenness(u, n0, self.betweenness_exact_max, self.betweenness_samples,
                                                   stable_seed(seed, "betweenness"))
                    source = f"computed ({method})"
            else:  # key_actor
                scores, source = ka if ka is not None else ({}, "none")
                value = np.array([scores.get(x, 0.0) for x in g.user_ids], dtype=np.float64)
            chooser = None
            if self.adaptive and strategy in ("degree", "betweenness"):
                chooser = self._chooser(strategy, np.random.default_rng(stable_seed(seed, strategy)))
                source += "; recomputed after each removal"
            # static order: value desc, then degree desc, strength desc, user id (node index) asc
            order = np.lexsort((np.arange(n0), -strength, -deg, -value))[:K]
            plans.append((strategy, [order], chooser, value, source))

        # 2. path-length sources shared by all static runs (common random numbers): the first
        # path_samples members of one random order of the members that no static run removes
        static = [o for _, orders, ch, _, _ in plans if ch is None for o in orders]
        shared = None
        if static:
            keep = source_order[~np.isin(source_order, np.concatenate(static))]
            if len(keep) >= self.path_samples:
                shared = np.sort(keep[:self.path_samples])

        # 3. simulate: static runs (in worker processes when the graph is large), adaptive runs here
        static_tasks = [(order, value) for _, orders, ch, value, _ in plans if ch is None for order in orders]
        workers = workers_for(self.jobs, len(static_tasks), len(ua) * len(static_tasks) * (K + 1) / 10)
        shared_state = {"net": net, "K": K, "path_samples": self.path_samples, "source_order": source_order,
                        "sources": shared}
        static_results = iter(fork_map(static_run, static_tasks, workers, shared_state)[0])
        for strategy, orders, chooser, value, source in plans:
            runs: list[list[dict[str, float]]] = []
            for order in orders:
                if chooser is None:
                    curve, trace = next(static_results)
                else:
                    trace = []
                    curve = simulate(net, order, chooser, K, self.path_samples, source_order, trace=trace,
                                     value=value)
                runs.append(curve)
                if strategy != "random":
                    for step_k, (node, v) in enumerate(trace, start=1):
                        removed.append({"forum_id": g.forum_id, "graph": g.name, "strategy": strategy,
                                        "k": step_k, "user_id": g.user_ids[node], "value": v,
                                        "adaptive": chooser is not None})
            rows = _average(runs)
            for row in rows:
                curves.append({"forum_id": g.forum_id, "graph": g.name, "strategy": strategy, **row})
            summary.append(_summary(g, strategy, rows, n0, K, source))
        return curves, removed, summary

    def _chooser(self, strategy: str, rng: np.random.Generator) -> Callable[..., tuple[int, float]]:
        """Picks the next member (node index, value) on the remaining graph: highest current degree, or
        highest betweenness of the remaining graph (recomputed; sampled when large)."""
        samples, exact_max = self.betweenness_samples, self.betweenness_exact_max

        def pick(net: _Net, alive: np.ndarray, deg: np.ndarray) -> tuple[int, float]:
            there = np.flatnonzero(alive)
            d = deg[there].astype(np.float64)
            if strategy == "degree":
                v = d
            else:
                sub = net.u.induced_subgraph(there.tolist())
                v, _, _ = betweenness(sub, len(there), exact_max, samples, int(rng.integers(2**31)))
            i = int(np.lexsort((there, -d, -v))[0])
            return int(there[i]), float(v[i])

        return pick


# ------------------------------------------------------------------ simulation

def static_run(task: tuple) -> tuple[list[dict[str, float]], list[tuple[int, float]]]:
    """One run with a fixed removal order on the shared graph (module level: runs in worker processes)."""
    order, value = task
    sh = SHARED
    trace: list[tuple[int, float]] = []
    curve = simulate(sh["net"], order, None, sh["K"], sh["path_samples"], sh["source_order"], trace=trace,
                     value=value, sources=sh["sources"])
    return curve, trace


@dataclass
class _Net:
    """The intact undirected graph: igraph object, symmetric CSR adjacency, degrees, triangle and
    wedge sums (so that transitivity can be updated exactly as members are removed)."""

    u: Any
    csr: Any  # scipy.sparse.csr_matrix
    indptr: np.ndarray
    indices: np.ndarray
    rows: np.ndarray  # the row (member) of every adjacency entry
    degree: np.ndarray
    edges: int
    triangles3: int  # sum over members of the triangles through them (3 x triangles)
    wedges: int  # sum over members of d(d-1)/2 (connected triples)
    triangles3_se: float | None = None  # standard error of triangles3 when estimated (large graphs), else None

    @property
    def n(self) -> int:
        return len(self.degree)

    @staticmethod
    def of(u: Any, ua: np.ndarray, ub: np.ndarray, n: int, *, clustering_samples: int | None = None,
           seed: int = 0) -> "_Net":
        """``clustering_samples``: estimate the triangles of the intact graph from that many sampled
        wedges (large graphs) instead of counting them; the updates per removal stay exact."""
        import scipy.sparse as sp

        a = np.concatenate([ua, ub])
        b = np.concatenate([ub, ua])
        csr = sp.csr_matrix((np.ones(len(a), np.int8), (a, b)), shape=(n, n))
        deg = np.diff(csr.indptr).astype(np.int64)
        se = None
        w = deg * (deg - 1) // 2
        wedges = int(w.sum())
        if not (n and len(ua)):
            tri3 = wedges = 0
        elif clustering_samples:
            est = clustering_sampled(n, ua, ub, clustering_samples, np.random.default_rng(seed))
            t = est["transitivity"] if not math.isnan(est["transitivity"]) else 0.0
            tri3, se = int(round(t * wedges)), est["transitivity_se"] * wedges
        else:
            local = np.asarray(u.transitivity_local_undirected(mode="zero"), dtype=np.float64)
            tri3 = int(round(float((local * w).sum())))
        rows = np.repeat(np.arange(n, dtype=np.int64), deg)
        return _Net(u, csr, csr.indptr.astype(np.int64), csr.indices.astype(np.int64), rows, deg, len(ua), tri3,
                    wedges, se)


def simulate(net: _Net, order: np.ndarray, chooser: Callable | None, K: int, path_samples: int,
             source_order: np.ndarray, *, trace: list | None = None, value: np.ndarray | None = None,
             sources: np.ndarray | None = None) -> list[dict[str, float]]:
    """Remove members one by one (``order``, or ``chooser`` on the remaining graph) and measure at each k.

    The graph is never rebuilt: removed members are masked out, and edges, degrees, triangles and
    wedges are updated per removal."""
    n0 = net.n
    alive = np.ones(n0, dtype=bool)
    deg = net.degree.copy()
    m, tri3, wedges = net.edges, net.triangles3, net.wedges
    # path sources: given (shared by all static runs), else the first path_samples members of the
    # forum-wide random order that this run never removes (static) or that are still there (adaptive)
    fixed = sources
    if fixed is None and chooser is None:
        keep = source_order[~np.isin(source_order, order)]
        fixed = np.sort(keep[:path_samples]) if len(keep) >= path_samples else None
    inset = np.zeros(n0, dtype=bool)
    scratch = np.empty(len(net.indices), dtype=np.uint64)  # reused by every path-length search of the run
    removed: list[int] = []
    out = []
    for k in range(K + 1):
        if k > 0:
            if chooser is None:
                v = int(order[k - 1])
                val = float(value[v]) if value is not None else math.nan
            else:
                v, val = chooser(net, alive, deg)
            if trace is not None:
                trace.append((v, val))
            nb = net.indices[net.indptr[v]:net.indptr[v + 1]]
            nb = nb[alive[nb]]
            d = len(nb)
            if d >= 2:  # triangles through v = edges among its remaining neighbours
                inset[nb] = True
                starts, lens = net.indptr[nb], net.indptr[nb + 1] - net.indptr[nb]
                idx = np.repeat(starts - np.cumsum(np.r_[0, lens[:-1]]), lens) + np.arange(lens.sum())
                tri3 -= 3 * (int(inset[net.indices[idx]].sum()) // 2)
                inset[nb] = False
            if d:
                wedges -= d * (d - 1) // 2 + int((deg[nb] - 1).sum())
                deg[nb] -= 1
            m -= d
            alive[v] = False
            deg[v] = 0
            removed.append(v)
        out.append(_measure(net, alive, m, n0, k, tri3, wedges, fixed, path_samples, source_order, scratch))
    for row, (ncomp, largest) in zip(out, components_by_k(net, np.asarray(removed, dtype=np.int64))):
        row["components"] = ncomp
        row["lcc_nodes"] = largest
        row["lcc_share"] = largest / n0 if n0 else 0.0
    return out


def components_by_k(net: _Net, order: np.ndarray) -> list[tuple[int, int]]:
    """(components, largest component size) of the remaining members after removing order[:k], for
    k = 0..len(order): SciPy's components once for all removed, then the members are added back in
    reverse order with a union-find (Newman & Ziff 2000), so no step recomputes components."""
    import scipy.sparse as sp
    from scipy.sparse.csgraph import connected_components

    n0, K = net.n, len(order)
    if n0 == 0:
        return [(0, 0)] * (K + 1)
    alive = np.ones(n0, dtype=bool)
    alive[order] = False
    keep = alive[net.indices] & alive[net.rows]
    counts = np.bincount(net.rows[keep], minlength=n0)
    masked = sp.csr_matrix((np.ones(int(keep.sum()), np.int8), net.indices[keep], np.r_[0, np.cumsum(counts)]),
                           shape=(n0, n0))
    # the matrix is symmetric: its strong components are the connected components (no transpose needed)
    ncomp, labels = connected_components(masked, directed=True, connection="strong")
    size = np.bincount(labels[alive], minlength=ncomp).astype(np.int64)  # removed members: own label, size 0
    parent = np.arange(ncomp)

    def find(x: int) -> int:
        root = x
        while parent[root] != root:
            root = parent[root]
        while parent[x] != root:
            parent[x], x = root, parent[x]
        return root

    comps = int((size > 0).sum())
    largest = int(size.max()) if comps else 0
    out = [(comps, largest)]
    for v in order[::-1]:
        rv = find(labels[v])
        size[rv] = 1
        comps += 1
        alive[v] = True
        nb = net.indices[net.indptr[v]:net.indptr[v + 1]]
        for lab in np.unique(labels[nb[alive[nb]]]).tolist():
            r = find(lab)
            if r != rv:
                if size[r] > size[rv]:
                    r, rv = rv, r
                parent[r] = rv
                size[rv] += size[r]
                comps -= 1
        largest = max(largest, int(size[rv]))
        out.append((comps, largest))
    return out[::-1]


def _measure(net: _Net, alive: np.ndarray, m: int, n0: int, k: int, tri3: int, wedges: int,
             fixed: np.ndarray | None, path_samples: int, source_order: np.ndarray,
             scratch: np.ndarray | None = None) -> dict[str, float]:
    n = int(alive.sum())
    row: dict[str, float] = {"k": k, "removed_share": k / n0 if n0 else math.nan, "nodes": n, "edges": m}
    if n == 0:  # components and the largest one are filled in by simulate
        row.update(density=math.nan, transitivity=math.nan, avg_path_length=math.nan, path_sources=0,
                   path_exact=True)
        return row
    row["density"] = 2 * m / (n * (n - 1)) if n > 1 else math.nan
    row["transitivity"] = max(tri3, 0) / wedges if wedges > 0 else math.nan
    row["transitivity_se"] = net.triangles3_se / wedges if net.triangles3_se is not None and wedges > 0 else None
    if n <= path_samples:
        srcs, exact = np.flatnonzero(alive), True
    else:
        srcs = fixed if fixed is not None else np.sort(source_order[alive[source_order]][:path_samples])
        exact = False
    total, pairs = path_length_sum(net.indptr, net.indices, alive, srcs, scratch)
    row["avg_path_length"] = total / pairs if pairs else math.nan
    row["path_sources"] = len(srcs)
    row["path_exact"] = exact
    return row


def path_length_sum(indptr: np.ndarray, indices: np.ndarray, alive: np.ndarray,
                    sources: np.ndarray, scratch: np.ndarray | None = None) -> tuple[int, int]:
    """Breadth-first search from up to 64 sources at once (one bit per source) over the members still
    there: (sum of shortest-path lengths, reachable (source, member) pairs; the source itself excluded).

    Direction-optimising (Beamer, Asanović & Patterson 2012): each level either pushes the frontier's
    bits along the frontier's edges, or lets every member not yet reached from all sources pull the bits
    of its neighbours (over the whole adjacency when most members pull), whichever costs less.

    ``scratch``: a uint64 array as long as ``indices`` for the whole-adjacency pulls, reused between
    calls (a fresh array of that size per level costs the kernel as much as the pull: new pages are
    zeroed)."""
    n = len(alive)
    deg = np.diff(indptr)
    nonempty = deg > 0
    starts = indptr[:-1][nonempty]
    if scratch is None or len(scratch) != len(indices) or scratch.dtype != np.uint64:
        scratch = np.empty(len(indices), dtype=np.uint64)
    total = pairs = 0
    for c in range(0, len(sources), 64):
        chunk = np.asarray(sources[c:c + 64], dtype=np.int64)
        full = ~np.uint64(0) if len(chunk) == 64 else np.uint64((1 << len(chunk)) - 1)
        visited = np.where(alive, np.uint64(0), ~np.uint64(0))
        frontier = np.zeros(n, dtype=np.uint64)
        frontier[chunk] = np.left_shift(np.uint64(1), np.arange(len(chunk), dtype=np.uint64))
        visited |= frontier
        d = 0
        while True:
            d += 1
            front = np.flatnonzero(frontier)
            push_work = int(deg[front].sum())
            todo = np.flatnonzero((~visited & full) != 0)  # alive, not yet reached from every source
            todo = todo[deg[todo] > 0]
            pull_work = int(deg[todo].sum())
            if pull_work == 0:  # nobody left to reach
                break
            # measured costs per adjacency entry: push ~2.5, pull of some members ~1.5, pull of all 1
            if push_work * 5 <= min(pull_work * 3, len(indices) * 2):  # push the frontier's bits along its edges
                lens = deg[front]
                idx = _ranges(indptr[front], lens)
                reached = np.zeros(n, dtype=np.uint64)
                np.bitwise_or.at(reached, indices[idx], np.repeat(frontier[front], lens))
                new = reached & ~visited
            elif pull_work * 3 > len(indices) * 2:  # most members pull: over the whole adjacency
                new = np.zeros(n, dtype=np.uint64)
                new[nonempty] = np.bitwise_or.reduceat(np.take(frontier, indices, mode="clip", out=scratch), starts)
                new &= ~visited
            else:  # the members still to reach pull the bits of their neighbours
                lens = deg[todo]
                vals = frontier.take(indices[_ranges(indptr[todo], lens)], mode="clip")
                new = np.zeros(n, dtype=np.uint64)
                new[todo] = np.bitwise_or.reduceat(vals, np.r_[0, np.cumsum(lens[:-1])]) & ~visited[todo]
            count = int(np.bitwise_count(new).sum())
            if count == 0:
                break
            visited |= new
            frontier = new
            total += d * count
            pairs += count
    return total, pairs


def _ranges(starts: np.ndarray, lens: np.ndarray) -> np.ndarray:
    """The positions starts[i] .. starts[i] + lens[i] - 1 of every i, concatenated."""
    work = int(lens.sum())
    if work == 0:
        return np.zeros(0, np.int64)
    return np.repeat(starts - np.cumsum(np.r_[0, lens[:-1]]), lens) + np.arange(work)


def _average(runs: list[list[dict[str, float]]]) -> list[dict[str, Any]]:
    """One row per k: the run's values (one run) or their mean and sd (several runs)."""
    out = []
    for k in range(len(runs[0])):
        rows = [r[k] for r in runs]
        row: dict[str, Any] = {"k": k, "runs": len(rows), "removed_share": rows[0]["removed_share"]}
        for f in ("nodes", "edges", "components", "lcc_nodes", "lcc_share", "density", "transitivity",
                  "avg_path_length", "path_sources", "transitivity_se"):
            vals = np.array([r.get(f) for r in rows], dtype=np.float64)
            ok = vals[~np.isnan(vals)]
            row[f] = float(ok.mean()) if len(ok) else None
        for f in ("lcc_share", "density", "transitivity", "avg_path_length"):
            vals = np.array([r[f] for r in rows], dtype=np.float64)
            ok = vals[~np.isnan(vals)]
            row[f"{f}_sd"] = float(ok.std(ddof=1)) if len(rows) > 1 and len(ok) > 1 else None
        row["path_exact"] = all(bool(r["path_exact"]) for r in rows)
        out.append(row)
    return out


def _summary(g: InteractionGraph, strategy: str, rows: list[dict[str, Any]], n0: int, K: int,
             source: str) -> dict[str, Any]:
    lcc = [r["lcc_share"] for r in rows]
    k_half = next((r["k"] for r in rows if r["lcc_share"] is not None and r["lcc_share"] <= 0.5), None)
    first, last = rows[0], rows[-1]

    def ratio(f: str) -> float | None:
        a, b = first.get(f), last.get(f)
        return b / a if a and b is not None else None

    return {"forum_id": g.forum_id, "graph": g.name, "strategy": strategy, "nodes": n0, "max_k": K,
            "runs": rows[0]["runs"], "lcc_share_at_max_k": lcc[-1],
            "robustness": float(np.mean(lcc[1:])) if K > 0 else None, "k_half": k_half,
            "density_ratio": ratio("density"), "transitivity_ratio": ratio("transitivity"),
            "avg_path_length_ratio": ratio("avg_path_length"), "ranking_from": source}


def _align(g: InteractionGraph, t: pa.Table, column: str) -> np.ndarray:
    """A `network_nodes` column in the node order of ``g``."""
    lookup = dict(zip(t["user_id"].to_pylist(), t[column].to_pylist()))
    return np.array([lookup.get(x, 0.0) or 0.0 for x in g.user_ids], dtype=np.float64)


# ------------------------------------------------------------------ schemas

CURVES_SCHEMA = pa.schema([
    ("forum_id", pa.string()), ("graph", pa.string()), ("strategy", pa.string()), ("k", pa.int64()),
    ("runs", pa.int64()), ("removed_share", pa.float64()), ("nodes", pa.float64()), ("edges", pa.float64()),
    ("components", pa.float64()), ("lcc_nodes", pa.float64()), ("lcc_share", pa.float64()),
    ("lcc_share_sd", pa.float64()), ("density", pa.float64()), ("density_sd", pa.float64()),
    ("transitivity", pa.float64()), ("transitivity_sd", pa.float64()), ("avg_path_length", pa.float64()),
    ("avg_path_length_sd", pa.float64()), ("path_sources", pa.float64()), ("path_exact", pa.bool_()),
    ("transitivity_se", pa.float64())])
REMOVED_SCHEMA = pa.schema([
    ("forum_id", pa.string()), ("graph", pa.string()), ("strategy", pa.string()), ("k", pa.int64()),
    ("user_id", pa.string()), ("value", pa.float64()), ("adaptive", pa.bool_())])
SUMMARY_SCHEMA = pa.schema([
    ("forum_id", pa.string()), ("graph", pa.string()), ("strategy", pa.string()), ("nodes", pa.int64()),
    ("max_k", pa.int64()), ("runs", pa.int64()), ("lcc_share_at_max_k", pa.float64()),
    ("robustness", pa.float64()), ("k_half", pa.int64()), ("density_ratio", pa.float64()),
    ("transitivity_ratio", pa.float64()), ("avg_path_length_ratio", pa.float64()), ("ranking_from", pa.string())])


def _table(rows: list[dict[str, Any]], schema: pa.Schema) -> pa.Table:
    if not rows:
        return schema.empty_table()
    return pa.Table.from_pylist([{f: r.get(f) for f in schema.names} for r in rows], schema=schema)
