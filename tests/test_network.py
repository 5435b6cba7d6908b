"""The interaction graphs and the `network` step: a hand-built forum computed by hand, the IRC gold
reply links against degrees counted independently from the annotation files, the null model
(degree-preserving, deterministic per seed), several forums, parameters."""

from __future__ import annotations

import collections
import math

import numpy as np
import pytest

import forumscope
from conftest import write_forum
from forumscope.analyze.graph import load_graphs, undirected_simple
from forumscope.analyze.network import NetworkStep, relabel_by_size, rewire_directed
from forumscope.errors import ConfigError
from forumscope.pipeline.runner import run_steps


def hand_tables(f: str = "hand") -> dict[str, list[dict]]:
    """Five members a..e. Replies (from parent_id): b->a twice, a->b, c->a, a->c, d->b and d->d (a
    self-reply); c quotes b; e thanks a; one thanks without a giver (unknown source).

    Combined graph: edges b->a (2), a->b, c->a, a->c, d->b, c->b, e->a (7 edges, 8 interactions);
    undirected: a-b, a-c, b-c, b-d, a-e (one triangle a-b-c)."""
    def post(pid, author, parent=None, thread="t1", hour=0):
        p = {"forum_id": f, "id": pid, "author_id": author, "thread_id": thread,
             "created_at": f"2021-03-01T{hour:02d}:00:00Z", "text": "benign text"}
        if parent:
            p["parent_id"] = parent
        return p

    return {
        "forums": [{"id": f, "name": "Hand"}],
        "users": [{"forum_id": f, "id": u, "name": f"handle-{u}"} for u in "abcde"],
        "threads": [{"forum_id": f, "id": "t1", "title": "hello"}],
        "posts": [post("p1", "a", hour=1), post("p2", "b", "p1", hour=2), post("p3", "a", "p2", hour=3),
                  post("p4", "c", "p3", hour=4), post("p5", "a", "p4", hour=5), post("p6", "b", "p1", hour=6),
                  post("p7", "d", "p6", hour=7), post("p8", "d", "p7", hour=8), post("p9", "e", hour=9)],
        "interactions": [
            {"forum_id": f, "id": "q1", "kind": "quote", "source_user_id": "c", "target_user_id": "b",
             "post_id": "p4", "target_post_id": "p2", "created_at": "2021-03-01T04:00:00Z"},
            {"forum_id": f, "id": "th1", "kind": "thanks", "source_user_id": "e", "target_post_id": "p1",
             "post_id": "p9", "created_at": "2021-03-01T09:30:00Z"},
            {"forum_id": f, "id": "th2", "kind": "thanks", "target_post_id": "p1",
             "created_at": "2021-03-01T10:00:00Z"},
        ],
    }


@pytest.fixture(scope="module")
def hand_case(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("hand")
    other = {"forums": [{"id": "other"}],
             "posts": [{"forum_id": "other", "id": "x1", "author_id": "x"},
                       {"forum_id": "other", "id": "y1", "author_id": "y", "parent_id": "x1"}]}
    forumscope.ingest_sources([write_forum(tmp / "hand", hand_tables()), write_forum(tmp / "other", other)],
                              tmp / "case")
    case = forumscope.open_case(tmp / "case")
    yield case
    case.close()


@pytest.fixture(scope="module")
def synth_case(tmp_path_factory):
    from forumscope.synth import generate

    tmp = tmp_path_factory.mktemp("synth")
    generate(tmp / "forum", posts=5000, seed=2)
    forumscope.ingest_sources([tmp / "forum"], tmp / "case")
    case = forumscope.open_case(tmp / "case")
    yield case
    case.close()


def rows(case, query, params=None):
    rel = case.con.execute(query, params or [])
    names = [d[0] for d in rel.description]
    return [dict(zip(names, r)) for r in rel.fetchall()]


def test_graphs_are_built_with_weights_times_and_drops(hand_case):
    graphs = {(g.forum_id, g.name): g for g in load_graphs(hand_case.con, mode="both")}
    assert set(graphs) == {(f, n) for f in ("hand", "other") for n in ("combined", "reply", "quote", "thanks")}
    g = graphs[("hand", "combined")]
    edges = {(g.user_ids[s], g.user_ids[t]): w for s, t, w in zip(g.source, g.target, g.weight)}
    assert edges == {("b", "a"): 2, ("a", "b"): 1, ("c", "a"): 1, ("a", "c"): 1, ("d", "b"): 1, ("c", "b"): 1,
                     ("e", "a"): 1}
    assert (g.interactions, g.self_loops, g.unknown) == (10, 1, 1)
    assert list(g.user_ids) == ["a", "b", "c", "d", "e"]  # sorted ids: deterministic indices
    i = {(g.user_ids[s], g.user_ids[t]): k for k, (s, t) in enumerate(zip(g.source, g.target))}[("b", "a")]
    assert str(g.first_at[i])[:13] == "2021-03-01T02" and str(g.last_at[i])[:13] == "2021-03-01T06"
    reply = graphs[("hand", "reply")]
    assert (reply.n_edges, reply.interactions, reply.self_loops, reply.unknown) == (5, 7, 1, 0)
    thanks = graphs[("hand", "thanks")]
    assert (thanks.n_nodes, thanks.n_edges, thanks.unknown) == (2, 1, 1)
    assert graphs[("other", "quote")].n_nodes == 0  # every forum gets every graph, possibly empty


def test_network_by_hand(hand_case):
    (rec,) = run_steps(hand_case, ["network"], {"network": {"n_null": 4}}, forum_id="hand")
    run = rec.run_id
    (gr,) = rows(hand_case, "SELECT * FROM network_graphs WHERE run_id = ?", [run])
    assert (gr["forum_id"], gr["graph"], gr["kinds"]) == ("hand", "combined", "reply,quote,thanks")
    assert (gr["nodes"], gr["edges"], gr["undirected_edges"]) == (5, 7, 5)
    assert (gr["interactions"], gr["self_loops_dropped"], gr["unknown_dropped"],
            gr["interactions_used"]) == (10, 1, 1, 8)
    assert (gr["components"], gr["largest_component_share"]) == (1, 1.0)
    assert gr["betweenness_method"] == "exact"

    m = {r["metric"]: r for r in rows(hand_case, "SELECT * FROM network_metrics WHERE run_id = ?", [run])}
    expected = {"nodes": 5, "edges": 7, "density": 7 / 20, "reciprocity": 4 / 7,
                "in_degree_centralization": 8 / 16, "out_degree_centralization": (0 + 1 + 0 + 1 + 1) / 16,
                "degree_centralization": 5 / 12, "transitivity": 3 / 7, "avg_clustering": 1 / 3,
                "max_core": 2, "max_core_nodes": 3, "largest_component_share": 1.0}
    for metric, value in expected.items():
        assert m[metric]["observed"] == pytest.approx(value), metric
    for metric in ("nodes", "edges", "density", "in_degree_centralization", "out_degree_centralization"):
        assert m[metric]["invariant"] and m[metric]["null_mean"] == pytest.approx(m[metric]["observed"])
        assert m[metric]["z"] is None  # sd 0: no z-score
    assert m["reciprocity"]["null_runs"] == 4

    nodes = {r["user_id"]: r for r in rows(hand_case, "SELECT * FROM network_nodes WHERE run_id = ?", [run])}
    assert set(nodes) == set("abcde")
    deg = {u: (r["in_degree"], r["out_degree"], r["degree"], r["in_strength"], r["out_strength"])
           for u, r in nodes.items()}
    assert deg == {"a": (3, 2, 3, 4, 2), "b": (3, 1, 3, 3, 2), "c": (1, 2, 2, 1, 2), "d": (0, 1, 1, 0, 1),
                   "e": (0, 1, 1, 0, 1)}
    assert {u: r["core"] for u, r in nodes.items()} == {"a": 2, "b": 2, "c": 2, "d": 1, "e": 1}
    # undirected betweenness by hand: a lies on e-b, e-c, e-d (3); b on d-a, d-c, d-e (3)
    assert {u: r["betweenness"] for u, r in nodes.items()} == pytest.approx({"a": 3, "b": 3, "c": 0, "d": 0, "e": 0})
    assert sum(r["pagerank"] for r in nodes.values()) == pytest.approx(1.0)
    assert max(nodes, key=lambda u: nodes[u]["pagerank"]) == "a"
    assert str(nodes["d"]["first_at"])[:13] == "2021-03-01 07"

    cores = rows(hand_case, "SELECT core, nodes, k_core_nodes FROM network_cores WHERE run_id = ? ORDER BY core", [run])
    assert [(c["core"], c["nodes"], c["k_core_nodes"]) for c in cores] == [(1, 2, 5), (2, 3, 3)]
    comms = rows(hand_case, "SELECT * FROM network_communities WHERE run_id = ?", [run])
    assert sum(c["nodes"] for c in comms) == 5
    assert sum(c["internal_weight"] for c in comms) + sum(c["external_weight"] for c in comms) // 2 == 8
    # handles are never output
    for table in ("network_nodes", "network_graphs", "network_metrics"):
        text = str(rows(hand_case, f"SELECT * FROM {table} WHERE run_id = ?", [run]))
        assert "handle-" not in text


def test_separate_graphs_and_forum_restriction(hand_case):
    (rec,) = run_steps(hand_case, ["network"], {"network": {"graphs": "separate", "kinds": ("reply", "thanks"),
                                                            "n_null": 0}})
    got = rows(hand_case, "SELECT forum_id, graph, nodes, edges FROM network_graphs WHERE run_id = ? ORDER BY 1, 2",
               [rec.run_id])
    assert [(r["forum_id"], r["graph"], r["nodes"], r["edges"]) for r in got] == [
        ("hand", "reply", 4, 5), ("hand", "thanks", 2, 1), ("other", "reply", 2, 1), ("other", "thanks", 0, 0)]
    m = rows(hand_case, "SELECT null_runs, null_mean FROM network_metrics WHERE run_id = ?", [rec.run_id])
    assert all(r["null_runs"] == 0 and r["null_mean"] is None for r in m)


def test_parameters_are_checked():
    with pytest.raises(ConfigError, match="unknown interaction kind"):
        NetworkStep(kinds=("reply", "likes"))
    with pytest.raises(ConfigError, match="graphs"):
        NetworkStep(graphs="all")
    with pytest.raises(ConfigError, match="n_null"):
        NetworkStep(n_null=-1)
    with pytest.raises(ConfigError, match="community_method"):
        NetworkStep(community_method="louvain")


# ------------------------------------------------------------------ null model

def test_rewiring_preserves_degrees_and_simplicity():
    rng = np.random.default_rng(5)
    n = 300
    src = rng.integers(0, n, 3000)
    dst = rng.integers(0, n, 3000)
    keep = src != dst
    key = np.unique(src[keep] * n + dst[keep])
    src, dst = key // n, key % n
    s2, d2, accepted = rewire_directed(src, dst, n, 5, np.random.default_rng(1))
    assert accepted > len(src)  # most of the edges moved
    assert (np.bincount(s2, minlength=n) == np.bincount(src, minlength=n)).all()
    assert (np.bincount(d2, minlength=n) == np.bincount(dst, minlength=n)).all()
    assert len(np.unique(s2 * n + d2)) == len(s2) and (s2 != d2).all()
    assert not np.array_equal(d2, dst)
    s3, d3, _ = rewire_directed(src, dst, n, 5, np.random.default_rng(1))
    assert np.array_equal(d2, d3)  # same seed, same graph


def test_null_model_is_deterministic_per_seed(synth_case):
    params = {"n_null": 4, "seed": 7}
    a, b = (run_steps(synth_case, ["network"], {"network": params})[0].run_id for _ in range(2))
    (c,) = run_steps(synth_case, ["network"], {"network": {**params, "seed": 8}})
    q = ("SELECT metric, observed, null_mean, null_sd, z FROM network_metrics WHERE run_id = ? ORDER BY metric")
    ra, rb, rc = (rows(synth_case, q, [r]) for r in (a, b, c.run_id))
    assert ra == rb
    assert ra != rc
    by = {r["metric"]: r for r in ra}
    # a forum's members reply to each other far more than degree-preserving chance predicts
    assert by["reciprocity"]["z"] > 3 and by["modularity"]["z"] > 3
    # parallel workers give the same numbers as one process
    (d,) = run_steps(synth_case, ["network"], {"network": {**params, "jobs": 2}})
    assert rows(synth_case, q, [d.run_id]) == ra


def test_relabel_by_size():
    assert relabel_by_size(np.array([5, 5, 2, 7, 7, 7])).tolist() == [1, 1, 2, 0, 0, 0]


# ------------------------------------------------------------------ IRC gold reply links

def _speaker(line: str) -> str | None:
    """The nick that wrote a raw log line (message, /me action, or old-style '=== nick' action)."""
    if line.startswith("["):
        body = line[line.index("]") + 1:]
        if body.startswith(" <"):
            return body[2:body.index(">")].lstrip("@+").strip()
        if body.startswith("  * "):
            return body[4:].split(" ", 1)[0]
        return None
    if line.startswith("=== "):
        return line[4:].split(" ", 1)[0]
    return None


def test_irc_gold_reply_graph_degrees(shared_data, tmp_path):
    folder = shared_data / "irc-ubuntu-disentangle" / "dev"
    if not folder.is_dir():
        pytest.skip("IRC data not present")
    # independently: every gold link (i != j) is a reply from the speaker of the later line to the
    # speaker of the earlier line
    weight: collections.Counter = collections.Counter()
    self_links = 0
    for ann in sorted(folder.glob("*.annotation.txt")):
        raw = (folder / ann.name.replace(".annotation.txt", ".raw.txt")).read_text(encoding="utf-8").split("\n")
        for line in ann.read_text().splitlines():
            i, j = (int(x) for x in line.split()[:2])
            if i == j:
                continue
            parent, child = min(i, j), max(i, j)
            a, b = _speaker(raw[child]), _speaker(raw[parent])
            assert a and b
            if a == b:
                self_links += 1
            else:
                weight[(a, b)] += 1
    exp = collections.defaultdict(lambda: [0, 0, 0, 0])  # in_degree, out_degree, in_strength, out_strength
    for (a, b), w in weight.items():
        exp[a][1] += 1
        exp[a][3] += w
        exp[b][0] += 1
        exp[b][2] += w

    forumscope.ingest_sources([folder], tmp_path / "case", fmt="irc")
    with forumscope.open_case(tmp_path / "case") as case:
        (rec,) = run_steps(case, ["network"], {"network": {"kinds": ("reply",), "n_null": 2}})
        got = {r["user_id"]: [r["in_degree"], r["out_degree"], r["in_strength"], r["out_strength"]]
               for r in rows(case, "SELECT * FROM network_nodes WHERE run_id = ?", [rec.run_id])}
        (gr,) = rows(case, "SELECT * FROM network_graphs WHERE run_id = ?", [rec.run_id])
    assert got == dict(exp)
    assert gr["edges"] == len(weight) and gr["interactions_used"] == sum(weight.values())
    assert gr["self_loops_dropped"] == self_links and gr["unknown_dropped"] == 0


def test_undirected_collapse():
    a, b, w = undirected_simple(np.array([0, 1, 2]), np.array([1, 0, 0]), 3, np.array([2, 3, 1]))
    assert list(zip(a.tolist(), b.tolist(), w.tolist())) == [(0, 1, 5.0), (0, 2, 1.0)]
    assert math.isclose(w.sum(), 6)


# ------------------------------------------------------------------ large graphs: sampling, checked against exact values

def test_sampled_clustering_is_close_to_exact(synth_case):
    from forumscope.analyze.network import clustering_sampled

    g = load_graphs(synth_case.con)[0]
    a, b, _ = g.undirected()
    u = g.to_igraph(directed=False, weights=False)
    exact_t, exact_c = u.transitivity_undirected(), u.transitivity_avglocal_undirected(mode="zero")
    est = clustering_sampled(g.n_nodes, a, b, 200_000, np.random.default_rng(3))
    assert 0 < est["transitivity_se"] < 0.005 and 0 < est["avg_clustering_se"] < 0.005
    assert abs(est["transitivity"] - exact_t) <= 4 * est["transitivity_se"]
    assert abs(est["avg_clustering"] - exact_c) <= 4 * est["avg_clustering_se"]
    # on the hand graph (one triangle a-b-c, plus b-d, a-e) every wedge is enumerated many times
    est = clustering_sampled(5, np.array([0, 0, 0, 1, 1]), np.array([1, 2, 4, 2, 3]), 100_000,
                             np.random.default_rng(1))
    assert est["transitivity"] == pytest.approx(3 / 7, abs=0.01)
    assert est["avg_clustering"] == pytest.approx(1 / 3, abs=0.01)


def test_large_graph_settings_and_sampled_betweenness(synth_case):
    """With large_graph_edges=0 the synthetic forum counts as large: fewer null graphs, sampled
    betweenness (with its split-half reliability), sampled clustering (with standard errors), PRPACK;
    each estimate is checked against the exact run."""
    from scipy.stats import spearmanr

    (exact,) = run_steps(synth_case, ["network"], {"network": {"n_null": 4, "betweenness_exact_max": 10**6}})
    (large,) = run_steps(synth_case, ["network"], {"network": {
        "n_null": 4, "large_graph_edges": 0, "n_null_large": 3, "betweenness_exact_max": 0,
        "betweenness_samples": 1000, "betweenness_samples_large": 60, "clustering_samples": 200_000}})
    (ge,) = rows(synth_case, "SELECT * FROM network_graphs WHERE run_id = ?", [exact.run_id])
    (gl,) = rows(synth_case, "SELECT * FROM network_graphs WHERE run_id = ?", [large.run_id])
    assert (ge["large_graph"], ge["n_null"], ge["clustering_method"], ge["betweenness_method"]) == (
        False, 4, "exact", "exact")
    assert ge["betweenness_reliability"] is None and (ge["pagerank_method"], ge["leiden_iterations"]) == ("arpack", 2)
    assert (gl["large_graph"], gl["n_null"], gl["clustering_method"], gl["clustering_samples"]) == (
        True, 3, "sampled", 200_000)
    assert (gl["betweenness_method"], gl["betweenness_sources"], gl["pagerank_method"], gl["leiden_iterations"]) == (
        "sampled", 60, "prpack", 1)
    assert 0.8 < gl["betweenness_reliability"] <= 1.0

    me = {r["metric"]: r for r in rows(synth_case, "SELECT * FROM network_metrics WHERE run_id = ?", [exact.run_id])}
    ml = {r["metric"]: r for r in rows(synth_case, "SELECT * FROM network_metrics WHERE run_id = ?", [large.run_id])}
    assert ml["reciprocity"]["null_runs"] == 3
    for metric in ("transitivity", "avg_clustering"):
        assert me[metric]["observed_se"] is None
        se = ml[metric]["observed_se"]
        assert 0 < se < 0.005 and abs(ml[metric]["observed"] - me[metric]["observed"]) <= 4 * se
    for metric in ("reciprocity", "max_core", "degree_assortativity", "largest_component_share"):
        assert ml[metric]["observed"] == pytest.approx(me[metric]["observed"])

    q = "SELECT user_id, pagerank, betweenness FROM network_nodes WHERE run_id = ? ORDER BY user_id"
    ne, nl = rows(synth_case, q, [exact.run_id]), rows(synth_case, q, [large.run_id])
    assert [r["user_id"] for r in ne] == [r["user_id"] for r in nl]
    assert [r["pagerank"] for r in nl] == pytest.approx([r["pagerank"] for r in ne], abs=1e-9)
    be, bl = np.array([r["betweenness"] for r in ne]), np.array([r["betweenness"] for r in nl])
    assert spearmanr(be, bl).statistic > 0.9
    top = set(np.argsort(-be)[:20])
    assert len(top & set(np.argsort(-bl)[:20])) >= 15
    assert bl.sum() == pytest.approx(be.sum(), rel=0.15)  # the scaled estimate is unbiased for the total


def test_split_half_reliability_uses_spearman_with_ties():
    from scipy.stats import rankdata, spearmanr

    from forumscope.analyze.network import average_ranks, split_half_reliability

    rng = np.random.default_rng(1)
    a = rng.integers(0, 20, 500).astype(float)  # many ties, as betweenness has (zeros)
    b = a + rng.normal(0, 5, 500)
    assert np.allclose(average_ranks(a), rankdata(a))
    r = spearmanr(a, b).statistic
    assert split_half_reliability(a, b) == pytest.approx(2 * r / (1 + r))
    assert split_half_reliability(a, np.zeros(500)) is None  # no variation: undefined
