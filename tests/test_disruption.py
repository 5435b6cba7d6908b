"""The `disruption` step: a hand-built forum whose curve is computed by hand; transitivity updated
per removal equals igraph's on the remaining graph; targeted removal hurts more than random."""

from __future__ import annotations

import math

import numpy as np
import pytest

import forumscope
from conftest import write_forum
from forumscope.analyze.disruption import DisruptionStep, _Net, simulate
from forumscope.analyze.graph import load_graphs
from forumscope.errors import ConfigError
from forumscope.pipeline.runner import run_steps
from test_network import hand_tables, rows


@pytest.fixture(scope="module")
def hand(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("dis")
    forumscope.ingest_sources([write_forum(tmp / "hand", hand_tables())], tmp / "case")
    case = forumscope.open_case(tmp / "case")
    yield case
    case.close()


@pytest.fixture(scope="module")
def synth(tmp_path_factory):
    from forumscope.synth import generate

    tmp = tmp_path_factory.mktemp("dis-synth")
    generate(tmp / "forum", posts=8000, seed=4)
    forumscope.ingest_sources([tmp / "forum"], tmp / "case")
    case = forumscope.open_case(tmp / "case")
    yield case
    case.close()


def curve(case, run_id, strategy):
    return rows(case, "SELECT * FROM disruption_curves WHERE run_id = ? AND strategy = ? ORDER BY k",
                [run_id, strategy])


@pytest.mark.parametrize("adaptive", [False, True])
def test_hand_curve(hand, adaptive):
    """Undirected graph a-b, a-c, b-c, b-d, a-e. Degree: a 3, b 3 (tie broken by strength: a 6, b 5),
    so a goes first, then b."""
    (rec,) = run_steps(hand, ["disruption"], {"disruption": {
        "max_k": 2, "strategies": ("degree", "betweenness", "random"), "n_random": 3, "adaptive": adaptive}})
    for strategy in ("degree", "betweenness"):
        c = curve(hand, rec.run_id, strategy)
        assert [r["k"] for r in c] == [0, 1, 2]
        k0, k1, k2 = c
        assert (k0["lcc_share"], k0["components"], k0["density"]) == (1.0, 1, 0.5)
        assert k0["transitivity"] == pytest.approx(3 / 7)
        assert k0["avg_path_length"] == pytest.approx(16 / 10) and k0["path_exact"]  # 10 pairs, distances sum 16
        # without a: b-c, b-d, and e alone
        assert (k1["lcc_share"], k1["components"], k1["nodes"], k1["edges"]) == (3 / 5, 2, 4, 2)
        assert k1["density"] == pytest.approx(2 / 6)
        assert k1["transitivity"] == 0.0
        assert k1["avg_path_length"] == pytest.approx(4 / 3)  # b-c 1, b-d 1, c-d 2
        # without a and b: c, d, e alone
        assert (k2["lcc_share"], k2["components"], k2["edges"], k2["density"]) == (1 / 5, 3, 0, 0.0)
        assert k2["transitivity"] is None and k2["avg_path_length"] is None
        removed = rows(hand, "SELECT k, user_id, adaptive FROM disruption_removed WHERE run_id = ? AND strategy = ? "
                             "ORDER BY k", [rec.run_id, strategy])
        assert [(r["k"], r["user_id"], r["adaptive"]) for r in removed] == [(1, "a", adaptive), (2, "b", adaptive)]
    (s,) = rows(hand, "SELECT * FROM disruption_summary WHERE run_id = ? AND strategy = 'degree'", [rec.run_id])
    assert s["robustness"] == pytest.approx((0.6 + 0.2) / 2) and s["k_half"] == 2 and s["lcc_share_at_max_k"] == 0.2
    r = curve(hand, rec.run_id, "random")
    assert all(x["runs"] == 3 for x in r) and r[0]["lcc_share_sd"] == 0.0
    assert rows(hand, "SELECT count(*) AS n FROM disruption_removed WHERE run_id = ? AND strategy = 'random'",
                [rec.run_id])[0]["n"] == 0


def test_incremental_transitivity_matches_igraph(synth):
    g = load_graphs(synth.con)[0]
    u = g.to_igraph(directed=False, weights=False)
    n = g.n_nodes
    order = np.argsort(-np.asarray(u.degree()), kind="stable")[:8]
    a, b, _ = g.undirected()
    got = simulate(_Net.of(u, a, b, n), order, None, 8, 10**9, np.arange(n))
    for k in (0, 1, 4, 8):
        rest = u.copy()
        rest.delete_vertices(sorted(order[:k].tolist()))
        assert got[k]["transitivity"] == pytest.approx(rest.transitivity_undirected())
        assert got[k]["avg_path_length"] == pytest.approx(rest.average_path_length(directed=False))
        assert got[k]["lcc_share"] == max(rest.connected_components().sizes()) / n


def test_targeted_removal_hurts_more_than_random(synth):
    run_steps(synth, ["network", "key_actors"], {"network": {"n_null": 0}})
    params = {"disruption": {"max_k": 10, "n_random": 3}}
    (a,) = run_steps(synth, ["disruption"], params)
    (b,) = run_steps(synth, ["disruption"], params)
    q = "SELECT * EXCLUDE (run_id) FROM disruption_curves WHERE run_id = ? ORDER BY strategy, k"
    assert rows(synth, q, [a.run_id]) == rows(synth, q, [b.run_id])  # deterministic
    summary = {r["strategy"]: r for r in rows(synth, "SELECT * FROM disruption_summary WHERE run_id = ?", [a.run_id])}
    assert set(summary) == {"degree", "betweenness", "key_actor", "random"}
    for s in ("degree", "betweenness", "key_actor"):
        assert summary[s]["lcc_share_at_max_k"] <= summary["random"]["lcc_share_at_max_k"]
        assert summary[s]["avg_path_length_ratio"] > summary["random"]["avg_path_length_ratio"]
        assert summary[s]["density_ratio"] < summary["random"]["density_ratio"]
    assert summary["betweenness"]["ranking_from"].startswith("network run")
    assert summary["key_actor"]["ranking_from"].startswith("key_actors run")
    # every strategy measures the intact graph alike (shared path sources)
    k0 = rows(synth, "SELECT DISTINCT avg_path_length FROM disruption_curves WHERE run_id = ? AND k = 0", [a.run_id])
    assert len(k0) == 1 and not math.isnan(k0[0]["avg_path_length"])


def test_parameters_are_checked():
    with pytest.raises(ConfigError, match="strategies"):
        DisruptionStep(strategies=("degree", "closeness"))
    with pytest.raises(ConfigError, match="repeats"):
        DisruptionStep(strategies=("degree", "degree"))
    with pytest.raises(ConfigError, match="max_k"):
        DisruptionStep(max_k=-1)


def test_path_length_search_matches_igraph():
    """The bit-parallel, direction-optimising search against igraph's distances: a random graph with a
    hub and a tail (so that every kind of level occurs), some members removed, 100 sources (two batches)."""
    import igraph as ig

    from forumscope.analyze.disruption import path_length_sum
    from forumscope.analyze.network import adjacency

    rng = np.random.default_rng(7)
    n = 600
    a, b = rng.integers(0, n - 50, 1500), rng.integers(0, n - 50, 1500)
    hub = np.zeros(300, np.int64), rng.integers(1, n - 50, 300)
    tail = np.arange(n - 51, n - 1), np.arange(n - 50, n)  # a path hanging off the graph
    a, b = np.concatenate([a, hub[0], tail[0]]), np.concatenate([b, hub[1], tail[1]])
    keep = a != b
    key = np.unique(np.minimum(a[keep], b[keep]) * n + np.maximum(a[keep], b[keep]))
    ua, ub = key // n, key % n
    indptr, indices = adjacency(n, ua, ub)
    alive = np.ones(n, bool)
    alive[rng.choice(np.arange(1, n), 40, replace=False)] = False
    sources = np.sort(rng.choice(np.flatnonzero(alive), 100, replace=False))
    g = ig.Graph(n=n, edges=list(zip(ua.tolist(), ub.tolist())))
    g.delete_vertices(np.flatnonzero(~alive).tolist())
    new_id = np.cumsum(alive) - 1
    dist = np.array(g.distances(source=new_id[sources].tolist()), dtype=np.float64)
    finite = np.isfinite(dist) & (dist > 0)
    expected = (int(dist[finite].sum()), int(finite.sum()))
    assert path_length_sum(indptr, indices, alive, sources) == expected
    # a reused scratch array holding another search's leftovers changes nothing
    scratch = np.full(len(indices), 0xDEADBEEF, dtype=np.uint64)
    assert path_length_sum(indptr, indices, alive, sources, scratch) == expected
    assert path_length_sum(indptr, indices, alive, sources, scratch) == expected


def test_large_graph_transitivity_is_estimated_close_to_exact(synth):
    params = {"strategies": ("degree",), "max_k": 5}
    (exact,) = run_steps(synth, ["disruption"], {"disruption": params})
    (large,) = run_steps(synth, ["disruption"], {"disruption": {**params, "large_graph_edges": 0,
                                                                "clustering_samples": 200_000}})
    ce, cl = curve(synth, exact.run_id, "degree"), curve(synth, large.run_id, "degree")
    for e, l_ in zip(ce, cl):
        assert e["transitivity_se"] is None
        assert 0 < l_["transitivity_se"] < 0.01
        assert abs(l_["transitivity"] - e["transitivity"]) <= 4 * l_["transitivity_se"]
        assert (l_["lcc_share"], l_["edges"], l_["avg_path_length"]) == (e["lcc_share"], e["edges"],
                                                                          e["avg_path_length"])
