"""Network structure of a forum against a null model; per-member centralities (step ``network``).

For each forum and each interaction graph (see :mod:`forumscope.analyze.graph`): size and
density; Freeman degree centralisation; reciprocity; transitivity and average clustering;
degree assortativity; k-cores; Leiden communities and their modularity; the largest
component. Every structural metric is compared with a null model of degree-preserving
rewiring (each member keeps their in- and out-degree, partners are shuffled) as mean, standard
deviation and z-score over ``n_null`` seeded rewirings. Per member: in/out degree and
strength, PageRank, betweenness (exact up to ``betweenness_exact_max`` nodes, else estimated
from ``betweenness_samples`` random sources), core number and community.

Documented in docs/analyses/network.md (method, literature, limits, every table field).

Example (a tiny forum)::

    >>> from forumscope.pipeline.runner import run_steps
    >>> (rec,) = run_steps(case, ["network"], {"network": {"n_null": 5}})      # doctest: +SKIP
    >>> case.sql("SELECT metric, observed, null_mean, z FROM network_metrics "
    ...          "WHERE run_id = ?", [rec.run_id])                              # doctest: +SKIP
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, NamedTuple, Sequence

import numpy as np
import pyarrow as pa

from forumscope.analyze.graph import (DEFAULT_KINDS, MODES, SHARED, InteractionGraph, check_kinds, fork_map,
                                      igraph_rng, load_graphs, make_igraph, stable_seed, undirected_simple,
                                      workers_for)
from forumscope.errors import ConfigError
from forumscope.pipeline.step import Param, Step, StepContext

COMMUNITY_METHODS = ("igraph", "leidenalg")

# metric -> (description, invariant under degree-preserving rewiring)
METRICS: dict[str, tuple[str, bool]] = {
    "nodes": ("members with at least one kept interaction", True),
    "edges": ("directed member pairs (a -> b) with at least one interaction", True),
    "density": ("edges / (nodes * (nodes - 1)) (directed)", True),
    "reciprocity": ("share of directed edges a -> b whose reverse b -> a exists", False),
    "in_degree_centralization": ("Freeman in-degree centralisation, directed: sum(max - in_i) / (n - 1)^2", True),
    "out_degree_centralization": ("Freeman out-degree centralisation, directed: sum(max - out_i) / (n - 1)^2", True),
    "degree_centralization": ("Freeman degree centralisation of the undirected graph: "
                              "sum(max - d_i) / ((n - 1)(n - 2))", False),
    "transitivity": ("global clustering: closed triplets / connected triplets (undirected)", False),
    "avg_clustering": ("mean local clustering coefficient, members with degree < 2 counted as 0 (undirected)", False),
    "degree_assortativity": ("Pearson correlation of the degrees at both ends of an edge (undirected)", False),
    "max_core": ("largest k such that the k-core is not empty (undirected)", False),
    "max_core_nodes": ("members in the max-core", False),
    "modularity": ("modularity of the Leiden partition of the unweighted undirected graph", False),
    "communities": ("communities in that partition", False),
    "largest_component_share": ("share of members in the largest (weakly) connected component", False),
    "modularity_weighted": ("modularity of the reported (weighted) Leiden partition; no null model", False),
}
NULL_METRICS = [m for m in METRICS if m != "modularity_weighted"]


def _check_positive(v: Any) -> bool:
    return v > 0


class NetworkStep(Step):
    name = "network"
    description = ("Interaction-network structure against a degree-preserving null model; k-cores, Leiden "
                   "communities and per-member centralities.")
    inputs = ("interactions", "forums")
    outputs = {
        "network_graphs": "One row per forum and graph: size, what was dropped, components, how it was computed.",
        "network_metrics": "One row per forum, graph and structural metric: observed, null mean, sd and z-score.",
        "network_nodes": "One row per member and graph: degrees, strengths, PageRank, betweenness, core, community.",
        "network_cores": "One row per forum, graph and core number k: members with that core number and k-core size.",
        "network_communities": "One row per forum, graph and Leiden community: size and internal/external weight.",
    }
    params = (
        Param("kinds", tuple, DEFAULT_KINDS, "Interaction kinds the graphs are built from.",
              lambda v: len(v) > 0 and all(isinstance(k, str) for k in v), "a non-empty list of kinds"),
        Param("graphs", str, "combined", "combined: one graph of all kinds; separate: one per kind; both.",
              lambda v: v in MODES, f"one of {', '.join(MODES)}"),
        Param("n_null", int, 10, "Degree-preserving rewirings for the null model (0: none).",
              lambda v: v >= 0, "must be >= 0"),
        Param("rewire_rounds", int, 5, "Rounds of edge switching per null graph; in each round every edge is "
              "paired with a random other edge once.", _check_positive, "must be > 0"),
        Param("seed", int, 1, "Seed for the null model, Leiden and betweenness sampling."),
        Param("damping", float, 0.85, "PageRank damping factor.", lambda v: 0 < v < 1, "must be in (0, 1)"),
        Param("resolution", float, 1.0, "Modularity resolution for Leiden (1 = standard modularity).",
              _check_positive, "must be > 0"),
        Param("community_method", str, "igraph", "Leiden implementation: igraph (built in) or leidenalg.",
              lambda v: v in COMMUNITY_METHODS, f"one of {', '.join(COMMUNITY_METHODS)}"),
        Param("jobs", int, 0, "Worker processes for the null model; 0 = automatic (CPU cores, at most 4, "
              "for large graphs), 1 = none.", lambda v: v >= 0, "must be >= 0"),
        Param("betweenness_exact_max", int, 2000, "Graphs with at most this many members get exact betweenness; "
              "larger ones are estimated from sampled sources.", lambda v: v >= 0, "must be >= 0"),
        Param("betweenness_samples", int, 256, "Random source members for estimated betweenness.",
              _check_positive, "must be > 0"),
        Param("large_graph_edges", int, 2_000_000, "Graphs with more undirected links than this are large: "
              "they get at most n_null_large null graphs and betweenness_samples_large sources, and "
              "sampled clustering.", lambda v: v >= 0, "must be >= 0"),
        Param("n_null_large", int, 3, "Null graphs at most, for large graphs.", lambda v: v >= 0, "must be >= 0"),
        Param("betweenness_samples_large", int, 32, "Betweenness sources at most, for large graphs.",
              _check_positive, "must be > 0"),
        Param("clustering_samples", int, 1_000_000, "Wedges sampled for transitivity and average clustering of "
              "large graphs (exact for the others).", _check_positive, "must be > 0"),
    )

    def __init__(self, **kwargs: Any):
        super().__init__(**kwargs)
        self.kinds = check_kinds(self.kinds, f"step {self.name}: parameter kinds")

    def compute(self, ctx: StepContext) -> dict[str, pa.Table]:
        ctx.progress("network: building graphs", 0.0)
        graphs = load_graphs(ctx.con, kinds=self.kinds, mode=self.graphs, forum_id=ctx.forum_id)
        parts: dict[str, list] = {k: [] for k in self.outputs}
        for i, g in enumerate(graphs):
            ctx.progress(f"network: {g.forum_id} / {g.name}", i / max(len(graphs), 1))
            res = analyse_graph(g, self.get_params())
            for k, v in res.items():
                parts[k].append(v)
        ctx.progress("network: done", 1.0)
        return {k: _concat(v, SCHEMAS[k]) for k, v in parts.items()}


# ------------------------------------------------------------------ result schemas

SCHEMAS: dict[str, pa.Schema] = {
    "network_graphs": pa.schema([
        ("forum_id", pa.string()), ("graph", pa.string()), ("kinds", pa.string()),
        ("interactions", pa.int64()), ("self_loops_dropped", pa.int64()), ("unknown_dropped", pa.int64()),
        ("interactions_used", pa.int64()), ("nodes", pa.int64()), ("edges", pa.int64()),
        ("undirected_edges", pa.int64()), ("first_at", pa.timestamp("us")), ("last_at", pa.timestamp("us")),
        ("components", pa.int64()), ("largest_component_nodes", pa.int64()),
        ("largest_component_share", pa.float64()), ("betweenness_method", pa.string()),
        ("betweenness_sources", pa.int64()), ("community_method", pa.string()), ("n_null", pa.int64()),
        ("rewire_rounds", pa.int64()), ("null_swaps_per_edge", pa.float64()), ("large_graph", pa.bool_()),
        ("betweenness_reliability", pa.float64()), ("clustering_method", pa.string()),
        ("clustering_samples", pa.int64()), ("pagerank_method", pa.string()), ("leiden_iterations", pa.int64())]),
    "network_metrics": pa.schema([
        ("forum_id", pa.string()), ("graph", pa.string()), ("metric", pa.string()), ("observed", pa.float64()),
        ("null_mean", pa.float64()), ("null_sd", pa.float64()), ("z", pa.float64()), ("null_runs", pa.int64()),
        ("invariant", pa.bool_()), ("description", pa.string()), ("observed_se", pa.float64())]),
    "network_nodes": pa.schema([
        ("forum_id", pa.string()), ("graph", pa.string()), ("user_id", pa.string()),
        ("in_degree", pa.int64()), ("out_degree", pa.int64()), ("degree", pa.int64()),
        ("in_strength", pa.int64()), ("out_strength", pa.int64()), ("pagerank", pa.float64()),
        ("betweenness", pa.float64()), ("betweenness_norm", pa.float64()), ("core", pa.int64()),
        ("community", pa.int64()), ("first_at", pa.timestamp("us")), ("last_at", pa.timestamp("us"))]),
    "network_cores": pa.schema([
        ("forum_id", pa.string()), ("graph", pa.string()), ("core", pa.int64()), ("nodes", pa.int64()),
        ("k_core_nodes", pa.int64()), ("k_core_share", pa.float64())]),
    "network_communities": pa.schema([
        ("forum_id", pa.string()), ("graph", pa.string()), ("community", pa.int64()), ("nodes", pa.int64()),
        ("share", pa.float64()), ("internal_edges", pa.int64()), ("internal_weight", pa.int64()),
        ("external_weight", pa.int64())]),
}


def _concat(tables: list[pa.Table], schema: pa.Schema) -> pa.Table:
    tables = [t for t in tables if t is not None]
    if not tables:
        return schema.empty_table()
    return pa.concat_tables([t.cast(schema) for t in tables])


# ------------------------------------------------------------------ the analysis of one graph

def analyse_graph(g: InteractionGraph, params: dict[str, Any]) -> dict[str, pa.Table]:
    """All `network` results for one graph (a dict of result tables without run ids)."""
    n, m = g.n_nodes, g.n_edges
    seed = stable_seed(params["seed"], g.forum_id, g.name)
    kinds = ",".join(g.kinds)

    if n == 0:
        graphs_row = _graph_row(g, kinds, 0, 0, 0, 0, "none", 0, params, 0.0, plan=Plan(False, 0, 0, None, "none", 0))
        return {"network_graphs": graphs_row, "network_metrics": None, "network_nodes": None,
                "network_cores": None, "network_communities": None}

    ua, ub, uw = undirected_simple(g.source, g.target, n, g.weight)
    u = make_igraph(n, ua, ub, directed=False)
    plan = size_plan(len(ua), params)

    # the expensive, independent parts (betweenness, observed topology, the null runs) as tasks, in
    # worker processes when the graph is large, while this process does PageRank, cores and the
    # weighted communities
    b_sources_list, b_method, b_scale = betweenness_plan(
        n, params["betweenness_exact_max"], plan.betweenness_samples, stable_seed(seed, "betweenness"))
    halves = split_halves(b_sources_list, stable_seed(seed, "betweenness-halves")) if b_method == "sampled" \
        else [b_sources_list]
    b_tasks = [("betweenness", c) for h in halves for c in _chunks(h)]
    tasks: list[tuple] = [("observed", stable_seed(seed, "obs"), stable_seed(seed, "obs-clustering"))] + b_tasks
    run_null = plan.n_null > 0 and n >= 3 and m >= 2
    if run_null:
        tasks += [("null", stable_seed(seed, "null", str(r)), stable_seed(seed, "null-leiden", str(r)),
                   stable_seed(seed, "null-clustering", str(r)))
                  for r in range(plan.n_null)]
    shared = {"src": g.source, "dst": g.target, "n": n, "ua": ua, "ub": ub, "u": u,
              "rounds": params["rewire_rounds"], "resolution": params["resolution"],
              "method": params["community_method"], "clustering_samples": plan.clustering_samples,
              "leiden_iterations": plan.leiden_iterations}

    def here() -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
        gd = make_igraph(n, g.source, g.target, g.weight, directed=True)
        pagerank = np.asarray(gd.pagerank(directed=True, weights="weight", damping=params["damping"],
                                          implementation=plan.pagerank_method))
        del gd
        core = np.asarray(u.coreness(), dtype=np.int64)
        weighted = u.copy()
        weighted.es["weight"] = uw.tolist()  # same edge order as (ua, ub)
        membership = communities(weighted, "weight", params["resolution"], stable_seed(seed, "leiden-weighted"),
                                 params["community_method"], plan.leiden_iterations)
        q = float(weighted.modularity(membership.tolist(), weights="weight", resolution=params["resolution"]))
        return pagerank, core, membership, q

    # work: the null runs, plus about one run's worth for the observed topology and one per 128
    # betweenness sources
    workers = workers_for(params["jobs"], len(tasks), m * (1 + plan.n_null * run_null + len(b_sources_list) / 128))
    # longest first (the null runs, then the observed topology), the short betweenness chunks last to
    # fill the gaps: a long task that starts last would leave the other workers idle
    order = sorted(range(len(tasks)), key=lambda i: ("null", "observed", "betweenness").index(tasks[i][0]))
    done, (pagerank, core, membership, modularity_weighted) = fork_map(
        network_task, [tasks[i] for i in order], workers, shared, meanwhile=here)
    results: list[Any] = [None] * len(tasks)
    for k, i in enumerate(order):
        results[i] = done[k]
    in_deg = np.bincount(g.target, minlength=n)
    out_deg = np.bincount(g.source, minlength=n)
    deg = np.bincount(ua, minlength=n) + np.bincount(ub, minlength=n)
    in_str = np.bincount(g.target, weights=g.weight, minlength=n).astype(np.int64)
    out_str = np.bincount(g.source, weights=g.weight, minlength=n).astype(np.int64)
    observed = results[0]
    observed["modularity_weighted"] = modularity_weighted
    parts = results[1:1 + len(b_tasks)]
    half_sums, i = [], 0
    for h in halves:
        k = len(_chunks(h))
        half_sums.append(np.sum(parts[i:i + k], axis=0) if k else np.zeros(n))
        i += k
    betw = np.sum(half_sums, axis=0) * b_scale
    plan = plan._replace(betweenness_reliability=split_half_reliability(*half_sums) if len(half_sums) == 2 else None)
    b_sources = len(b_sources_list)
    null_results = results[1 + len(b_tasks):]
    nulls = [r[0] for r in null_results]
    swaps = float(np.mean([r[1] / m for r in null_results])) if null_results else 0.0
    pairs = (n - 1) * (n - 2) / 2
    betw_norm = betw / pairs if pairs > 0 else np.zeros(n)
    first, last = g.node_times()
    comps = np.asarray(u.connected_components().membership)
    sizes = np.bincount(comps)

    graphs_row = _graph_row(g, kinds, n, m, len(ua), len(sizes), b_method, b_sources, params, swaps,
                            int(sizes.max()), plan=plan._replace(n_null=plan.n_null if run_null else 0))
    nodes = pa.table({
        "forum_id": pa.array([g.forum_id] * n, pa.string()), "graph": pa.array([g.name] * n, pa.string()),
        "user_id": pa.array(g.user_ids, pa.string()),
        "in_degree": in_deg, "out_degree": out_deg, "degree": deg, "in_strength": in_str,
        "out_strength": out_str, "pagerank": pagerank, "betweenness": betw, "betweenness_norm": betw_norm,
        "core": core, "community": membership,
        "first_at": ts_array(first), "last_at": ts_array(last)})
    return {"network_graphs": graphs_row, "network_metrics": _metric_rows(g, observed, nulls),
            "network_nodes": nodes, "network_cores": _core_rows(g, core),
            "network_communities": _community_rows(g, membership)}


class Plan(NamedTuple):
    """How a graph of this size is analysed (see `size_plan`)."""

    large: bool
    n_null: int
    betweenness_samples: int
    clustering_samples: int | None  # None: exact clustering
    pagerank_method: str
    leiden_iterations: int = 2
    betweenness_reliability: float | None = None


def size_plan(undirected_edges: int, params: dict[str, Any]) -> Plan:
    """The settings for a graph with this many undirected links: a large graph (more than
    ``large_graph_edges``) gets at most ``n_null_large`` null graphs and ``betweenness_samples_large``
    betweenness sources, clustering estimated from ``clustering_samples`` wedges, PageRank by PRPACK
    (ARPACK, faster on smaller graphs, was 5x slower at 10M posts; both agree to 1e-13) and one Leiden
    iteration instead of two (at 10M posts the second changed the modularity by less than 1e-4 and cost
    60 % more)."""
    large = undirected_edges > params.get("large_graph_edges", 2_000_000)
    if not large:
        return Plan(False, params["n_null"], params["betweenness_samples"], None, "arpack")
    return Plan(True, min(params["n_null"], params.get("n_null_large", 3)),
                min(params["betweenness_samples"], params.get("betweenness_samples_large", 32)),
                params.get("clustering_samples", 1_000_000), "prpack", 1)


def _chunks(sources: list[int]) -> list[list[int]]:
    return [sources[i:i + BETWEENNESS_CHUNK] for i in range(0, len(sources), BETWEENNESS_CHUNK)]


def split_halves(sources: list[int], seed: int) -> list[list[int]]:
    """Sampled betweenness sources split at random into two halves (each sorted), for the split-half
    reliability of the estimate."""
    perm = np.random.default_rng(seed).permutation(len(sources))
    half = len(sources) // 2
    arr = np.asarray(sources, dtype=np.int64)
    return [np.sort(arr[perm[:half]]).tolist(), np.sort(arr[perm[half:]]).tolist()]


def split_half_reliability(a: np.ndarray, b: np.ndarray) -> float | None:
    """Spearman correlation of the betweenness estimates from two disjoint halves of the sampled
    sources, stepped up to the full sample with the Spearman-Brown formula 2r / (1 + r): how
    reproducible the ranking of members by estimated betweenness is (1 = perfectly)."""
    if len(a) < 3 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return None
    r = float(np.corrcoef(average_ranks(a), average_ranks(b))[0, 1])
    if math.isnan(r):
        return None
    return 2 * r / (1 + r) if r > -1 else -1.0


def average_ranks(x: np.ndarray) -> np.ndarray:
    """Ranks 1..n, ties sharing their average rank (as Spearman's correlation uses them)."""
    _, inv, counts = np.unique(x, return_inverse=True, return_counts=True)
    upper = np.cumsum(counts)
    return ((upper - (counts - 1) / 2.0)[inv]).astype(np.float64)


def _graph_row(g: InteractionGraph, kinds: str, n: int, m: int, mu: int, ncomp: int, b_method: str,
               b_sources: int, params: dict[str, Any], swaps: float, largest: int = 0, *, plan: Plan) -> pa.Table:
    first = g.first_at[~np.isnat(g.first_at)]
    last = g.last_at[~np.isnat(g.last_at)]
    return pa.table({
        "forum_id": [g.forum_id], "graph": [g.name], "kinds": [kinds], "interactions": [g.interactions],
        "self_loops_dropped": [g.self_loops], "unknown_dropped": [g.unknown],
        "interactions_used": [int(g.weight.sum())], "nodes": [n], "edges": [m], "undirected_edges": [mu],
        "first_at": pa.array([first.min() if len(first) else None], pa.timestamp("us")),
        "last_at": pa.array([last.max() if len(last) else None], pa.timestamp("us")),
        "components": [ncomp], "largest_component_nodes": [largest],
        "largest_component_share": [largest / n if n else None],
        "betweenness_method": [b_method], "betweenness_sources": [b_sources],
        "community_method": [params["community_method"]], "n_null": [plan.n_null],
        "rewire_rounds": [params["rewire_rounds"]], "null_swaps_per_edge": [swaps], "large_graph": [plan.large],
        "betweenness_reliability": pa.array([plan.betweenness_reliability], pa.float64()),
        "clustering_method": ["sampled" if plan.clustering_samples else "exact"],
        "clustering_samples": [plan.clustering_samples or 0], "pagerank_method": [plan.pagerank_method],
        "leiden_iterations": [plan.leiden_iterations]})


def _metric_rows(g: InteractionGraph, observed: dict[str, float], nulls: list[dict[str, float]]) -> pa.Table:
    rows: dict[str, list] = {k: [] for k in SCHEMAS["network_metrics"].names}
    for metric, (desc, invariant) in METRICS.items():
        obs = observed.get(metric, math.nan)
        vals = np.array([r[metric] for r in nulls if metric in r], dtype=np.float64)
        vals = vals[~np.isnan(vals)]
        mean = float(vals.mean()) if len(vals) else math.nan
        sd = float(vals.std(ddof=1)) if len(vals) >= 2 else math.nan
        z = (obs - mean) / sd if (sd and sd > 1e-12 and not math.isnan(obs)) else math.nan
        rows["forum_id"].append(g.forum_id)
        rows["graph"].append(g.name)
        rows["metric"].append(metric)
        rows["observed"].append(_none(obs))
        rows["null_mean"].append(_none(mean))
        rows["null_sd"].append(_none(sd))
        rows["z"].append(_none(z))
        rows["null_runs"].append(len(vals))
        rows["invariant"].append(invariant)
        rows["description"].append(desc)
        rows["observed_se"].append(_none(observed.get(f"{metric}_se")))
    return pa.table(rows, schema=SCHEMAS["network_metrics"])


def ts_array(values: np.ndarray) -> pa.Array:
    """datetime64 values as an Arrow timestamp array (NaT -> null)."""
    values = np.asarray(values, dtype="datetime64[us]")
    return pa.array(values, type=pa.timestamp("us"), mask=np.isnat(values))


def _none(x: float) -> float | None:
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else float(x)


def _core_rows(g: InteractionGraph, core: np.ndarray) -> pa.Table:
    n = len(core)
    ks, counts = np.unique(core, return_counts=True)
    at_least = np.cumsum(counts[::-1])[::-1]
    return pa.table({"forum_id": [g.forum_id] * len(ks), "graph": [g.name] * len(ks), "core": ks,
                     "nodes": counts, "k_core_nodes": at_least, "k_core_share": at_least / n})


def _community_rows(g: InteractionGraph, membership: np.ndarray) -> pa.Table:
    n = len(membership)
    k = int(membership.max()) + 1
    sizes = np.bincount(membership, minlength=k)
    cs, ct = membership[g.source], membership[g.target]
    inside = cs == ct
    internal_edges = np.bincount(cs[inside], minlength=k)
    internal_w = np.bincount(cs[inside], weights=g.weight[inside], minlength=k).astype(np.int64)
    out = ~inside
    external_w = (np.bincount(cs[out], weights=g.weight[out], minlength=k)
                  + np.bincount(ct[out], weights=g.weight[out], minlength=k)).astype(np.int64)
    return pa.table({"forum_id": [g.forum_id] * k, "graph": [g.name] * k, "community": np.arange(k),
                     "nodes": sizes, "share": sizes / n, "internal_edges": internal_edges,
                     "internal_weight": internal_w, "external_weight": external_w})


# ------------------------------------------------------------------ building blocks (also used by other steps)

def topology(n: int, src: np.ndarray, dst: np.ndarray, ua: np.ndarray, ub: np.ndarray, u: Any, *, seed: int,
             resolution: float = 1.0, method: str = "igraph", clustering_samples: int | None = None,
             clustering_seed: int = 0, leiden_iterations: int = 2) -> dict[str, float]:
    """The topological metrics of a simple directed graph (src, dst) and its undirected collapse (ua, ub, u).

    Unweighted throughout, so that observed and rewired graphs are measured alike. With
    ``clustering_samples``, transitivity and average clustering are estimated from that many sampled
    wedges (`clustering_sampled`) and their standard errors returned as ``transitivity_se`` and
    ``avg_clustering_se``; otherwise they are exact (igraph).
    """
    m = len(src)
    out: dict[str, float] = {"nodes": float(n), "edges": float(m)}
    out["density"] = m / (n * (n - 1)) if n > 1 else math.nan
    if m:
        keys = np.sort(src.astype(np.int64) * n + dst)
        rev = np.sort(dst.astype(np.int64) * n + src)  # sorted queries search much faster
        pos = np.minimum(np.searchsorted(keys, rev), m - 1)
        out["reciprocity"] = float(np.mean(keys[pos] == rev))
    else:
        out["reciprocity"] = math.nan
    in_deg = np.bincount(dst, minlength=n)
    out_deg = np.bincount(src, minlength=n)
    deg = np.bincount(ua, minlength=n) + np.bincount(ub, minlength=n)
    out["in_degree_centralization"] = freeman(in_deg, (n - 1) ** 2)
    out["out_degree_centralization"] = freeman(out_deg, (n - 1) ** 2)
    out["degree_centralization"] = freeman(deg, (n - 1) * (n - 2))
    if clustering_samples:
        out.update(clustering_sampled(n, ua, ub, clustering_samples, np.random.default_rng(clustering_seed)))
    else:
        local = np.asarray(u.transitivity_local_undirected(mode="zero"), dtype=np.float64)
        wedges = deg * (deg - 1) / 2.0
        total = wedges.sum()
        out["transitivity"] = float((local * wedges).sum() / total) if total > 0 else math.nan
        out["avg_clustering"] = float(local.mean()) if n else math.nan
    try:
        a = u.assortativity_degree(directed=False)
        out["degree_assortativity"] = float(a) if a is not None else math.nan
    except Exception:  # noqa: BLE001 - igraph raises on degenerate degree sequences
        out["degree_assortativity"] = math.nan
    core = np.asarray(u.coreness(), dtype=np.int64)
    out["max_core"] = float(core.max()) if n else math.nan
    out["max_core_nodes"] = float((core == core.max()).sum()) if n else math.nan
    membership = communities(u, None, resolution, seed, method, leiden_iterations)
    out["modularity"] = float(u.modularity(membership.tolist(), resolution=resolution)) if len(ua) else math.nan
    out["communities"] = float(membership.max() + 1) if n else math.nan
    comps = u.connected_components()
    out["largest_component_share"] = max(comps.sizes()) / n if n else math.nan
    return out


def adjacency(n: int, ua: np.ndarray, ub: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Symmetric adjacency (CSR ``indptr``, ``indices``) of undirected simple links (ua, ub)."""
    import scipy.sparse as sp

    a = np.concatenate([ua, ub])
    b = np.concatenate([ub, ua])
    csr = sp.csr_matrix((np.ones(len(a), np.int8), (a, b)), shape=(n, n))  # a counting sort, in C
    return csr.indptr.astype(np.int64), csr.indices.astype(np.int64)


def closed_wedges(nodes: np.ndarray, indptr: np.ndarray, indices: np.ndarray, keys: np.ndarray, n: int,
                  rng: np.random.Generator) -> int:
    """For each of ``nodes`` (degree >= 2) one wedge at it, two distinct neighbours drawn uniformly;
    how many of these wedges are closed (the two neighbours are linked; ``keys`` = sorted a * n + b, a < b)."""
    if len(nodes) == 0:
        return 0
    start = indptr[nodes]
    d = indptr[nodes + 1] - start
    i = np.floor(rng.random(len(nodes)) * d).astype(np.int64)
    j = np.floor(rng.random(len(nodes)) * (d - 1)).astype(np.int64)
    j += j >= i  # a second neighbour, distinct from the first
    x, y = indices[start + i], indices[start + j]
    q = np.sort(np.minimum(x, y) * n + np.maximum(x, y))  # sorted queries search much faster
    pos = np.minimum(np.searchsorted(keys, q), len(keys) - 1)
    return int((keys[pos] == q).sum())


def clustering_sampled(n: int, ua: np.ndarray, ub: np.ndarray, samples: int,
                       rng: np.random.Generator) -> dict[str, float]:
    """Transitivity and average clustering (members with degree < 2 count 0) estimated by wedge
    sampling (Schank & Wagner 2005; Seshadhri, Pinar & Kolda 2013), with their standard errors.

    Transitivity = closed wedges / wedges: draw ``samples`` wedges uniformly (the centre with
    probability proportional to its d(d-1)/2 wedges, then two distinct neighbours) and take the
    closed share p; standard error sqrt(p(1-p)/samples). Average clustering: draw ``samples``
    centres uniformly among the members of degree >= 2, one wedge at each; the closed share times
    (members of degree >= 2) / n, with the binomial standard error scaled alike. Both are unbiased."""
    nan = {"transitivity": math.nan, "avg_clustering": math.nan if n == 0 else 0.0,
           "transitivity_se": 0.0, "avg_clustering_se": 0.0}
    if n == 0 or len(ua) == 0:
        return nan
    indptr, indices = adjacency(n, ua, ub)
    deg = np.diff(indptr)
    keys = ua.astype(np.int64) * n + ub
    if len(keys) > 1 and not (keys[1:] > keys[:-1]).all():
        keys = np.sort(keys)
    wedges = deg * (deg - 1) / 2.0
    total = wedges.sum()
    if total <= 0:
        return {**nan, "transitivity": math.nan, "avg_clustering": 0.0}
    out: dict[str, float] = {}
    centres = np.searchsorted(np.cumsum(wedges), rng.random(samples) * total, side="right")
    centres = np.minimum(centres, n - 1)
    p = closed_wedges(centres, indptr, indices, keys, n, rng) / samples
    out["transitivity"], out["transitivity_se"] = p, math.sqrt(p * (1 - p) / samples)
    eligible = np.flatnonzero(deg >= 2)
    share = len(eligible) / n
    p = closed_wedges(eligible[rng.integers(0, len(eligible), samples)], indptr, indices, keys, n, rng) / samples
    out["avg_clustering"], out["avg_clustering_se"] = p * share, share * math.sqrt(p * (1 - p) / samples)
    return out


def freeman(values: np.ndarray, denominator: float) -> float:
    """Freeman centralisation: sum of (max - value) over the maximum possible sum (the star's)."""
    if len(values) == 0 or denominator <= 0:
        return math.nan
    return float((values.max() - values).sum() / denominator)


def communities(u: Any, weights: str | None, resolution: float, seed: int, method: str,
                iterations: int = 2) -> np.ndarray:
    """Leiden partition (modularity objective, ``iterations`` iterations) of an undirected graph;
    communities numbered by size (0 = largest; ties by their smallest member)."""
    n = u.vcount()
    if n == 0:
        return np.zeros(0, np.int64)
    if u.ecount() == 0:
        raw = np.arange(n)
    elif method == "leidenalg":
        import leidenalg

        part = leidenalg.find_partition(u, leidenalg.RBConfigurationVertexPartition, weights=weights,
                                        resolution_parameter=resolution, seed=seed % (2**31))
        raw = np.asarray(part.membership)
    else:
        with igraph_rng(seed):
            part = u.community_leiden(objective_function="modularity", weights=weights, resolution=resolution,
                                      n_iterations=iterations)
        raw = np.asarray(part.membership)
    return relabel_by_size(raw)


def relabel_by_size(raw: np.ndarray) -> np.ndarray:
    k = int(raw.max()) + 1
    sizes = np.bincount(raw, minlength=k)
    first = np.full(k, len(raw))
    np.minimum.at(first, raw, np.arange(len(raw)))
    order = np.lexsort((first, -sizes))  # by size desc, then first member
    new = np.empty(k, np.int64)
    new[order] = np.arange(k)
    return new[raw]


def betweenness_plan(n: int, exact_max: int, samples: int, seed: int) -> tuple[list[int], str, float]:
    """The source members of the betweenness computation: all of them (exact, n <= exact_max) or
    ``samples`` random ones (Brandes & Pich 2007). Returns (sources, method, scale)."""
    if n <= exact_max or samples >= n:
        return list(range(n)), "exact", 1.0
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(n, size=samples, replace=False)).tolist(), "sampled", n / samples


def betweenness(u: Any, n: int, exact_max: int, samples: int, seed: int) -> tuple[np.ndarray, str, int]:
    """Undirected, unweighted betweenness (unordered pairs): exact for n <= exact_max, else estimated
    from ``samples`` random sources and scaled by n / samples. Returns (values, method, sources)."""
    if n == 0:
        return np.zeros(0), "exact", 0
    sources, method, scale = betweenness_plan(n, exact_max, samples, seed)
    if method == "exact":
        return np.asarray(u.betweenness(directed=False), dtype=np.float64), method, n
    b = np.asarray(u.betweenness(directed=False, sources=sources), dtype=np.float64) * scale
    return b, method, len(sources)


BETWEENNESS_CHUNK = 64  # sources per task when betweenness is split across workers


def rewire_directed(src: np.ndarray, dst: np.ndarray, n: int, rounds: int,
                    rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, int]:
    """Degree-preserving rewiring of a simple directed graph by edge switching.

    In each round the edges are paired at random; a pair (a -> b, c -> d) becomes (a -> d, c -> b)
    unless that would create a self-loop or an edge that already exists (or that another switch of
    the round creates). Every member keeps their in- and out-degree; the graph stays simple. The
    switches of one round touch disjoint edges and create distinct new edges, so the round equals
    the same switches made one after another. Returns (src, dst, accepted switches).
    """
    m = len(src)
    half = m // 2
    if half == 0:
        return np.asarray(src, dtype=np.int64).copy(), np.asarray(dst, dtype=np.int64).copy(), 0
    node = np.int32 if n < 2**31 else np.int64  # small node indices: less memory to move
    key = np.int32 if n * n < 2**31 else np.int64  # smaller keys sort faster
    src = np.asarray(src, dtype=node).copy()
    dst = np.asarray(dst, dtype=node).copy()
    nk = key(n)
    keys = np.sort(src.astype(key) * nk + dst)
    # when a key and a position fit in 63 bits, sort (key << bits | position) instead of an argsort (3x faster)
    bits = int(m).bit_length()
    packed = key is np.int64 and (n * n).bit_length() + bits <= 63
    accepted = 0
    for _ in range(rounds):
        perm = np.arange(m, dtype=np.int32 if m < 2**31 else np.int64)
        rng.shuffle(perm)  # the permutation rng.permutation(m) gives, in a smaller type
        i, j = perm[:half], perm[half:2 * half]
        a, b, c, d = src[i], dst[i], src[j], dst[j]
        idx = np.flatnonzero((a != d) & (c != b) & (a != c) & (b != d))
        a, b, c, d = a[idx].astype(key), b[idx].astype(key), c[idx].astype(key), d[idx].astype(key)
        cand = np.concatenate([a * nk + d, c * nk + b])
        if packed:
            sp = np.sort((cand << bits) | np.arange(len(cand), dtype=np.int64))
            sc, order = sp >> bits, sp & ((1 << bits) - 1)
        else:
            order = np.argsort(cand)
            sc = cand[order]
        pos = np.minimum(np.searchsorted(keys, sc), m - 1)
        bad_sorted = keys[pos] == sc  # the new edge exists already
        same = sc[1:] == sc[:-1]  # two switches would create the same edge
        bad_sorted[1:] |= same
        bad_sorted[:-1] |= same
        bad = np.empty_like(bad_sorted)
        bad[order] = bad_sorted
        ok = ~(bad[:len(idx)] | bad[len(idx):])
        sel = idx[ok]
        dst[i[sel]] = d[ok]
        dst[j[sel]] = b[ok]
        accepted += len(sel)
        keys = np.sort(src.astype(key) * nk + dst)
    return src.astype(np.int64), dst.astype(np.int64), accepted


def network_task(task: tuple) -> Any:
    """One independent part of the analysis of a graph (module level: runs in worker processes):
    ``("betweenness", sources)``, ``("observed", seed, seed)`` or ``("null", seed, seed, seed)``."""
    sh = SHARED
    n = sh["n"]
    if task[0] == "betweenness":  # partial betweenness from some sources (the parts add up)
        return np.asarray(sh["u"].betweenness(directed=False, sources=task[1]), dtype=np.float64)
    if task[0] == "observed":
        return topology(n, sh["src"], sh["dst"], sh["ua"], sh["ub"], sh["u"], seed=task[1],
                        resolution=sh["resolution"], method=sh["method"],
                        clustering_samples=sh["clustering_samples"], clustering_seed=task[2],
                        leiden_iterations=sh["leiden_iterations"])
    _, seed_rewire, seed_leiden, seed_clustering = task
    s2, d2, accepted = rewire_directed(sh["src"], sh["dst"], n, sh["rounds"], np.random.default_rng(seed_rewire))
    a2, b2, _ = undirected_simple(s2, d2, n)
    u2 = make_igraph(n, a2, b2, directed=False)
    return topology(n, s2, d2, a2, b2, u2, seed=seed_leiden, resolution=sh["resolution"],
                    method=sh["method"], clustering_samples=sh["clustering_samples"],
                    clustering_seed=seed_clustering, leiden_iterations=sh["leiden_iterations"]), accepted


@dataclass
class NodeCentrality:
    """Per-member centralities of one graph (as `network_nodes` has them)."""

    user_ids: np.ndarray
    degree: np.ndarray
    pagerank: np.ndarray
    betweenness: np.ndarray


def centralities(g: InteractionGraph, *, seed: int = 1, damping: float = 0.85, exact_max: int = 2000,
                 samples: int = 256) -> NodeCentrality:
    """Degree, PageRank and betweenness of one graph, computed as the `network` step does."""
    n = g.n_nodes
    if n == 0:
        z = np.zeros(0)
        return NodeCentrality(g.user_ids, z.astype(np.int64), z, z.copy())
    s = stable_seed(seed, g.forum_id, g.name)
    ua, ub, _ = undirected_simple(g.source, g.target, n, g.weight)
    u = make_igraph(n, ua, ub, directed=False)
    gd = make_igraph(n, g.source, g.target, g.weight, directed=True)
    pr = np.asarray(gd.pagerank(directed=True, weights="weight", damping=damping, implementation="arpack"))
    b, _, _ = betweenness(u, n, exact_max, samples, stable_seed(s, "betweenness"))
    deg = np.bincount(ua, minlength=n) + np.bincount(ub, minlength=n)
    return NodeCentrality(g.user_ids, deg, pr, b)


def latest_nodes(con: Any, run_id: str | None, graph: str, kinds: Sequence[str],
                 forum_ids: Sequence[str]) -> dict[str, pa.Table]:
    """`network_nodes` of run ``run_id`` for ``graph``, per forum, where that run used the same ``kinds``."""
    if run_id is None or not forum_ids:
        return {}
    kinds_s = ",".join(kinds)
    ok = {r[0] for r in con.execute(
        "SELECT forum_id FROM network_graphs WHERE run_id = ? AND graph = ? AND kinds = ?",
        [run_id, graph, kinds_s]).fetchall()}
    out = {}
    for fid in forum_ids:
        if fid in ok:
            rel = con.sql("SELECT user_id, degree, pagerank, betweenness FROM network_nodes "
                          "WHERE run_id = ? AND graph = ? AND forum_id = ?", params=[run_id, graph, fid])
            fetch = getattr(rel, "to_arrow_table", None) or rel.arrow
            out[fid] = fetch()
    return out


def validate_graph_param(step: str, graph: str, kinds: Sequence[str]) -> None:
    if graph != "combined" and graph not in kinds:
        raise ConfigError(f"step {step}: parameter graph must be 'combined' or one of kinds {list(kinds)}, "
                          f"got {graph!r}")
