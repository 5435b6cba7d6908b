"""The `key_actors` step: planted hubs of a synthetic forum rank at the top; a hand-built forum whose
component values, percentiles and score are computed by hand; the breakdown explains the score."""

from __future__ import annotations

import json

import pytest

import forumscope
from conftest import write_forum
from forumscope.analyze.key_actors import COMPONENTS, KeyActorsStep
from forumscope.errors import ConfigError
from forumscope.pipeline.runner import run_steps
from test_network import hand_tables, rows


@pytest.fixture(scope="module")
def synth(tmp_path_factory):
    from forumscope.synth import generate

    tmp = tmp_path_factory.mktemp("ka")
    generate(tmp / "forum", posts=30000, seed=1)
    forumscope.ingest_sources([tmp / "forum"], tmp / "case")
    truth = json.loads((tmp / "forum" / "truth.json").read_text())
    case = forumscope.open_case(tmp / "case")
    run_steps(case, ["network"], {"network": {"n_null": 0}})
    yield case, truth
    case.close()


def test_planted_hubs_are_top_key_actors(synth):
    case, truth = synth
    hubs = set(truth["key_actors"]["hubs"])
    (rec,) = run_steps(case, ["key_actors"])
    ranked = [r["user_id"] for r in rows(case, "SELECT user_id FROM key_actors_scores WHERE run_id = ? ORDER BY rank",
                                         [rec.run_id])]
    top = set(ranked[:2 * len(hubs)])
    assert len(hubs & top) >= 0.8 * len(hubs), (sorted(hubs), ranked[:2 * len(hubs)])
    # centralities came from the network run
    (src,) = rows(case, "SELECT DISTINCT centrality_from FROM key_actors_scores WHERE run_id = ? AND degree > 0",
                  [rec.run_id])
    assert src["centrality_from"].startswith("network-")


def test_breakdown_explains_the_score(synth):
    case, _ = synth
    weights = {f"w_{c}": w for c, w in zip(COMPONENTS, (3, 0, 1, 2, 0, 1, 1, 2))}
    (rec,) = run_steps(case, ["key_actors"], {"key_actors": {**weights, "top_k": 7}})
    total = sum(weights.values())
    scores = rows(case, "SELECT * FROM key_actors_scores WHERE run_id = ? ORDER BY rank", [rec.run_id])
    for r in scores[:200]:
        contributions = [r[f"{c}_contribution"] for c in COMPONENTS]
        assert sum(contributions) == pytest.approx(r["score"])
        for c in COMPONENTS:
            assert 0 <= r[f"{c}_pct"] <= 1
            assert r[f"{c}_contribution"] == pytest.approx(weights[f"w_{c}"] / total * r[f"{c}_pct"])
    assert [r["rank"] for r in scores] == list(range(1, len(scores) + 1))
    assert all(a["score"] >= b["score"] for a, b in zip(scores, scores[1:]))
    assert sum(r["top_k"] for r in scores) == 7
    top = rows(case, "SELECT * FROM key_actors_top WHERE run_id = ? ORDER BY rank", [rec.run_id])
    assert [t["user_id"] for t in top] == [r["user_id"] for r in scores[:7]]
    for t in top:
        assert t["explanation"].startswith(t["main_component"])
        assert "betweenness" not in t["explanation"]  # weight 0: not part of the explanation
    comps = rows(case, "SELECT * FROM key_actors_components WHERE run_id = ?", [rec.run_id])
    assert sum(c["weight_share"] for c in comps) == pytest.approx(1.0)


def test_hand_forum_by_hand(tmp_path):
    t = hand_tables()
    t["groups"] = [{"forum_id": "hand", "id": "g-mods", "kind": "moderator"}]
    t["memberships"] = [{"forum_id": "hand", "user_id": "d", "group_id": "g-mods"}]
    t["ranks"] = [{"forum_id": "hand", "id": "r-admin", "name": "Admin", "is_special": True}]
    t["users"][4]["rank_id"] = "r-admin"  # e
    t["attachments"] = [{"forum_id": "hand", "id": "f1", "post_id": "p4"},  # uploader: the author, c
                        {"forum_id": "hand", "id": "f2", "user_id": "b", "post_id": "p2"}]
    forumscope.ingest_sources([write_forum(tmp_path / "hand", t)], tmp_path / "case")
    with forumscope.open_case(tmp_path / "case") as case:
        # no network run: centralities are computed here
        (rec,) = run_steps(case, ["key_actors"])
        got = {r["user_id"]: r for r in rows(case, "SELECT * FROM key_actors_scores WHERE run_id = ?", [rec.run_id])}
        text = str(rows(case, "SELECT * FROM key_actors_top WHERE run_id = ?", [rec.run_id]))
    assert set(got) == set("abcde")
    assert {u: r["posts"] for u, r in got.items()} == {"a": 3, "b": 2, "c": 1, "d": 2, "e": 1}
    # percent_rank: (actors with a smaller value) / (actors - 1); ties share the lower rank
    assert {u: r["posts_pct"] for u, r in got.items()} == {"a": 1.0, "b": 0.5, "c": 0.0, "d": 0.5, "e": 0.0}
    # thanks received count anonymous thanks too (not in the graph: no giver)
    assert {u: r["thanks"] for u, r in got.items()} == {"a": 2, "b": 0, "c": 0, "d": 0, "e": 0}
    assert {u: r["attachments"] for u, r in got.items()} == {"a": 0, "b": 1, "c": 1, "d": 0, "e": 0}
    assert {u: r["staff"] for u, r in got.items()} == {"a": 0, "b": 0, "c": 0, "d": 1, "e": 1}
    assert got["a"]["tenure"] == pytest.approx(4 / 24) and got["d"]["tenure"] == pytest.approx(1 / 24)
    assert {u: r["tenure_pct"] for u, r in got.items()} == {"a": 0.75, "b": 0.75, "c": 0.0, "d": 0.5, "e": 0.0}
    assert {u: r["degree"] for u, r in got.items()} == {"a": 3, "b": 3, "c": 2, "d": 1, "e": 1}
    assert {u: r["betweenness"] for u, r in got.items()} == {"a": 3.0, "b": 3.0, "c": 0.0, "d": 0.0, "e": 0.0}
    assert got["a"]["pagerank_pct"] == 1.0
    assert got["a"]["centrality_from"] == "computed"
    # a: .2*1 + .15*.75 (betweenness) + .15*.75 (degree) + .15*1 (posts) + .1*0 + .1*1 (thanks) + .05*0 + .1*.75
    assert got["a"]["score"] == pytest.approx(0.75)
    assert got["a"]["rank"] == 1
    assert "handle-" not in text and "handle-" not in str(got)


def test_parameters_are_checked():
    with pytest.raises(ConfigError, match="must not all be 0"):
        KeyActorsStep(**{f"w_{c}": 0.0 for c in COMPONENTS})
    with pytest.raises(ConfigError, match="w_posts"):
        KeyActorsStep(w_posts=-1.0)
    with pytest.raises(ConfigError, match="graph"):
        KeyActorsStep(graph="mention")
