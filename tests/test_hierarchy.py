"""Hierarchy: rank ladder (declared and inferred thresholds), status for contribution, time to promotion."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from conftest import write_forum

import forumscope
from forumscope.analyze.hierarchy import HierarchyStep, infer_thresholds, roundest, spearman_bootstrap
from forumscope.errors import ConfigError
from forumscope.pipeline.runner import run_steps


def q(case, sql, run_id=None):
    """Rows of a result query as dicts (restricted to one run when given)."""
    return case.sql(sql.replace("$RUN", f"'{run_id}'") if run_id else sql).to_pylist()


def hide_thresholds(src: Path, dst: Path) -> Path:
    """A copy of a synthetic forum whose ranks file lacks min_posts (only members' current rank is known)."""
    dst.mkdir(parents=True)
    for f in src.glob("*.ndjson"):
        if f.name == "ranks.ndjson":
            rows = [json.loads(line) for line in f.read_text().splitlines() if line]
            (dst / f.name).write_text("".join(json.dumps({k: v for k, v in r.items() if k != "min_posts"}) + "\n"
                                              for r in rows))
        else:
            (dst / f.name).symlink_to(f)
    return dst


# ----------------------------------------------------------------------------- synthetic forum
@pytest.fixture(scope="module")
def synth(tmp_path_factory):
    from forumscope.synth import generate

    base = tmp_path_factory.mktemp("hier")
    generate(base / "forum", posts=30_000, seed=2)
    truth = json.loads((base / "forum" / "truth.json").read_text())
    members = [json.loads(line) for line in (base / "forum" / "truth" / "member_truth.ndjson").read_text().splitlines()]
    declared = forumscope.create_case(base / "declared")
    forumscope.ingest_sources([base / "forum"], declared)
    hidden = forumscope.create_case(base / "hidden")
    forumscope.ingest_sources([hide_thresholds(base / "forum", base / "forum-hidden")], hidden)
    params = {"hierarchy": {"n_boot": 200}}
    (rd,) = run_steps(declared, ["hierarchy"], params)
    (rh,) = run_steps(hidden, ["hierarchy"], params)
    yield {"truth": truth, "members": members, "declared": (declared, rd.run_id), "hidden": (hidden, rh.run_id)}
    declared.close()
    hidden.close()


def test_declared_thresholds_reported_as_given(synth):
    case, run = synth["declared"]
    truth = synth["truth"]["rank_ladder"]
    ranks = {r["rank_id"]: r for r in q(case, "SELECT * FROM hierarchy_ranks WHERE run_id = $RUN", run)}
    for planted in truth["ranks"]:
        r = ranks[planted["rank_id"]]
        assert r["threshold"] == planted["min_posts"] and r["declared_min_posts"] == planted["min_posts"]
        assert r["threshold_source"] == "declared" and r["threshold_measure"] in ("posts", "post_count_reported")
        assert r["holders"] == truth["members_per_rank"][planted["rank_id"]]
        assert r["consistent_share"] == 1.0
    for special in truth["special_ranks"]:
        r = ranks[special["rank_id"]]
        assert r["is_special"] and r["threshold_source"] == "special" and r["threshold"] is None
        assert r["holders"] == len(special["holders"]) and r["holders_share"] is None
    (lad,) = q(case, "SELECT * FROM hierarchy_ladder WHERE run_id = $RUN", run)
    m = synth["truth"]["members"]
    assert (lad["ladder_kind"], lad["threshold_source"]) == ("post_count", "declared")
    assert (lad["members"], lad["posters"], lad["lurkers"]) == (m["registered"], m["posters"], m["lurkers"])
    assert lad["consistent_share"] == 1.0 and lad["inferred_measure"] is None
    # lurkers all hold the lowest rank and are counted apart
    assert ranks["r0"]["lurkers"] == m["lurkers"] and ranks["r1"]["lurkers"] == 0
    assert q(case, "SELECT count(*) AS n FROM hierarchy_inference WHERE run_id = $RUN", run) == [{"n": 0}]


def test_hidden_thresholds_are_recovered(synth):
    case, run = synth["hidden"]
    truth = synth["truth"]["rank_ladder"]
    ranks = {r["rank_id"]: r for r in q(case, "SELECT * FROM hierarchy_ranks WHERE run_id = $RUN", run)}
    for planted in truth["ranks"]:
        r = ranks[planted["rank_id"]]
        assert r["declared_min_posts"] is None
        if not truth["members_per_rank"][planted["rank_id"]]:
            assert r["threshold"] is None  # nobody holds it: nothing to infer from
            continue
        assert r["threshold_source"] == "inferred" and r["inferred_measure"] == "posts"
        assert r["inferred_threshold_low"] <= planted["min_posts"] <= r["inferred_threshold_high"]
        assert abs(r["threshold"] - planted["min_posts"]) <= 1
    (lad,) = q(case, "SELECT * FROM hierarchy_ladder WHERE run_id = $RUN", run)
    assert (lad["ladder_kind"], lad["measure"], lad["inferred_measure"]) == ("inferred", "posts", "posts")
    assert lad["consistent_share"] == 1.0 and lad["consistent_share_posters"] == 1.0
    cand = q(case, "SELECT measure, any_value(consistent_share) AS s, bool_or(chosen) AS chosen "
                   "FROM hierarchy_inference WHERE run_id = $RUN GROUP BY 1", run)
    best = {c["measure"]: c for c in cand}
    assert best["posts"]["chosen"] and best["posts"]["s"] == 1.0
    assert {"threads_started", "attachments_shared", "thanks_received"} <= set(best)
    assert all(c["s"] < 1.0 for c in cand if c["measure"] not in ("posts", "post_count_reported"))


def test_status_rises_with_contribution(synth):
    case, run = synth["declared"]
    st = {(r["population"], r["status_measure"]): r for r in q(case, "SELECT * FROM hierarchy_status "
                                                                     "WHERE run_id = $RUN", run)}
    assert {k[1] for k in st} == {"rank_position", "thanks_received", "replies_received"}
    m = synth["truth"]["members"]
    for (pop, meas), r in st.items():
        assert r["rho"] > 0.5 and 0 < r["ci_low"] <= r["rho"] <= r["ci_high"] <= 1
        assert r["n_boot"] == 200 and r["n_boot_valid"] == 200 and r["contribution"] == "posts"
        assert r["lurkers_included"] == (pop == "members")
        assert r["lurkers"] == (m["lurkers"] if pop == "members" else 0)
    staff = sum(len(s["holders"]) for s in synth["truth"]["rank_ladder"]["special_ranks"])
    assert st[("members", "rank_position")]["n"] == m["registered"] - staff  # special ranks have no position
    assert st[("members", "thanks_received")]["n"] == m["registered"]
    assert st[("posters", "thanks_received")]["n"] == m["posters"]


def test_time_to_promotion_is_reconstructed(synth):
    case, run = synth["declared"]
    promo = {r["rank_id"]: r for r in q(case, "SELECT * FROM hierarchy_promotion WHERE run_id = $RUN", run)}
    staff = {u for s in synth["truth"]["rank_ladder"]["special_ranks"] for u in s["holders"]}
    for planted in synth["truth"]["rank_ladder"]["ranks"]:
        r = promo[planted["rank_id"]]
        assert r["reconstructable"] and r["threshold_posts"] == planted["min_posts"]
        if planted["min_posts"] == 0:
            continue
        reached = sum(1 for m in synth["members"] if m["posts"] >= planted["min_posts"] and m["user_id"] not in staff)
        assert r["reached"] == reached
        if reached:
            assert 0 <= r["days_from_first_post_q1"] <= r["days_from_first_post_median"] <= r["days_from_first_post_q3"]
            assert r["days_from_registration_median"] >= r["days_from_first_post_median"]
    (lad,) = q(case, "SELECT promotion_history FROM hierarchy_ladder WHERE run_id = $RUN", run)
    assert lad["promotion_history"] == "reconstructed from post times"


# ----------------------------------------------------------------------------- a forum computed by hand
def hand_tables(f: str = "h") -> dict:
    def t(day: int, hour: int = 0) -> str:
        return f"2020-01-{day:02d}T{hour:02d}:00:00Z"

    post = lambda pid, a, day, hour=0, parent=None: {  # noqa: E731
        "forum_id": f, "id": pid, "thread_id": "t1", "board_id": "b1", "author_id": a,
        "created_at": t(day, hour), **({"parent_id": parent} if parent else {})}
    return {
        "forums": [{"id": f, "name": "Hand"}],
        "boards": [{"forum_id": f, "id": "b1", "name": "General"}],
        "ranks": [{"forum_id": f, "id": "r0", "name": "New", "position": 0, "min_posts": 0},
                  {"forum_id": f, "id": "r1", "name": "Member", "position": 1, "min_posts": 2},
                  {"forum_id": f, "id": "r2", "name": "Senior", "position": 2, "min_posts": 4},
                  {"forum_id": f, "id": "rs", "name": "Staff", "is_special": True}],
        "users": [{"forum_id": f, "id": "a", "rank_id": "r2", "registered_at": t(1)},
                  {"forum_id": f, "id": "b", "rank_id": "r1", "registered_at": t(1)},
                  {"forum_id": f, "id": "c", "rank_id": "r0", "registered_at": t(2)},
                  {"forum_id": f, "id": "d", "rank_id": "r0", "registered_at": t(3)},
                  {"forum_id": f, "id": "s", "rank_id": "rs", "registered_at": t(1)}],
        "threads": [{"forum_id": f, "id": "t1", "board_id": "b1", "title": "hello"}],
        "posts": [post("p1", "a", 2), post("s1", "s", 2, 6), post("s2", "s", 2, 12, parent="s1"),
                  post("p2", "a", 3, parent="p1"), post("p3", "c", 3, 6, parent="p1"), post("s3", "s", 3, 12),
                  post("p4", "b", 4, parent="p1"), post("p5", "a", 5, parent="p4"), post("p6", "b", 6),
                  post("p7", "a", 9)],
        "interactions": [
            {"forum_id": f, "kind": "thanks", "source_user_id": "b", "post_id": "p4", "target_post_id": "p1"},
            {"forum_id": f, "kind": "thanks", "source_user_id": "c", "post_id": "p3", "target_post_id": "p2"},
            {"forum_id": f, "kind": "thanks", "source_user_id": "a", "post_id": "p5", "target_post_id": "p4"},
            {"forum_id": f, "kind": "thanks", "source_user_id": "a", "post_id": "p7", "target_post_id": "p2"}],
    }


@pytest.fixture
def hand_case(tmp_path):
    case = forumscope.create_case(tmp_path / "case")
    forumscope.ingest_sources([write_forum(tmp_path / "hand", hand_tables())], case)
    yield case
    case.close()


def test_hand_forum_every_number(hand_case):
    # posts: a 4 (days 2, 3, 5, 9), b 2 (days 4, 6), c 1, d 0 (lurker), s 3 (staff)
    # thanks received (self-thanks not counted): a 2 (from b, c), b 1 (from a); replies received (self-replies
    # not counted): a 2 (from c, b), b 1 (from a)
    (rec,) = run_steps(hand_case, ["hierarchy"], {"hierarchy": {"n_boot": 50, "seed": 7}})
    ranks = {r["rank_id"]: r for r in q(hand_case, "SELECT * FROM hierarchy_ranks WHERE run_id = $RUN", rec.run_id)}
    assert {k: (r["holders"], r["posters"], r["lurkers"]) for k, r in ranks.items()} == {
        "r0": (2, 1, 1), "r1": (1, 1, 0), "r2": (1, 1, 0), "rs": (1, 1, 0)}
    assert ranks["r0"]["median_posts"] == 0.5 and ranks["r0"]["median_posts_posters"] == 1.0
    assert ranks["r2"]["median_thanks_received"] == 2.0 and ranks["r1"]["median_thanks_received"] == 1.0
    assert ranks["r2"]["median_replies_received"] == 2.0 and ranks["r0"]["median_replies_received"] == 0.0
    assert ranks["r0"]["holders_share"] == 0.5 and ranks["r1"]["holders_share"] == 0.25
    assert [ranks[r]["threshold"] for r in ("r0", "r1", "r2")] == [0.0, 2.0, 4.0]
    (lad,) = q(hand_case, "SELECT * FROM hierarchy_ladder WHERE run_id = $RUN", rec.run_id)
    assert (lad["members"], lad["posters"], lad["lurkers"], lad["lurker_share"]) == (5, 4, 1, 0.2)
    assert (lad["ranked_members"], lad["special_members"], lad["unranked_members"]) == (4, 1, 0)
    assert lad["consistent_share"] == 1.0
    # promotion: r1 at the 2nd post (a: day 3, b: day 6), r2 at the 4th (a: day 9); staff left out
    promo = {r["rank_id"]: r for r in q(hand_case, "SELECT * FROM hierarchy_promotion WHERE run_id = $RUN",
                                        rec.run_id)}
    r1, r2 = promo["r1"], promo["r2"]
    assert r1["reached"] == 2 and r1["holders"] == 1
    assert (r1["days_from_registration_q1"], r1["days_from_registration_median"],
            r1["days_from_registration_q3"]) == (2.75, 3.5, 4.25)  # reg. day 1: 2 and 5 days
    assert (r1["days_from_first_post_median"]) == 1.5  # 1 and 2 days
    assert (r2["reached"], r2["days_from_registration_median"], r2["days_from_first_post_median"]) == (1, 8.0, 7.0)
    assert promo["r0"]["reached"] == 4 and promo["r0"]["note"].startswith("lowest rank")
    # status: posters a, b, c, s with posts 4, 2, 1, 3
    st = {(r["population"], r["status_measure"]): r for r in q(
        hand_case, "SELECT * FROM hierarchy_status WHERE run_id = $RUN", rec.run_id)}
    assert st[("posters", "rank_position")]["rho"] == pytest.approx(1.0)  # a 2, b 1, c 0 (staff: no position)
    assert st[("posters", "rank_position")]["n"] == 3
    # thanks a 2, b 1, c 0, s 0 -> mid-ranks (4, 3, 1.5, 1.5) against (4, 2, 1, 3): 3 / sqrt(5 * 4.5)
    assert st[("posters", "thanks_received")]["rho"] == pytest.approx(3 / math.sqrt(22.5))
    assert st[("members", "thanks_received")]["lurkers"] == 1 and st[("members", "thanks_received")]["n"] == 5
    from scipy import stats

    expect = stats.spearmanr([4, 2, 1, 0, 3], [2, 1, 0, 0, 0])
    assert st[("members", "replies_received")]["rho"] == pytest.approx(expect.statistic)
    assert st[("members", "replies_received")]["p_value"] == pytest.approx(expect.pvalue)


def test_gap_in_a_declared_ladder_is_filled(tmp_path):
    t = hand_tables()
    del t["ranks"][2]["min_posts"]  # r2 (a, 4 posts) lost its threshold; r1 (b, 2 posts) keeps 2
    case = forumscope.create_case(tmp_path / "case")
    forumscope.ingest_sources([write_forum(tmp_path / "f", t)], case)
    (rec,) = run_steps(case, ["hierarchy"], {"hierarchy": {"n_boot": 0}})
    ranks = {r["rank_id"]: r for r in q(case, "SELECT * FROM hierarchy_ranks WHERE run_id = $RUN", rec.run_id)}
    assert (ranks["r1"]["threshold"], ranks["r1"]["threshold_source"]) == (2.0, "declared")
    # any threshold in 3..4 fits; 4 is the roundest
    assert (ranks["r2"]["inferred_threshold_low"], ranks["r2"]["inferred_threshold_high"]) == (3.0, 4.0)
    assert (ranks["r2"]["threshold"], ranks["r2"]["threshold_source"]) == (4.0, "inferred")
    (lad,) = q(case, "SELECT * FROM hierarchy_ladder WHERE run_id = $RUN", rec.run_id)
    assert (lad["ladder_kind"], lad["threshold_source"], lad["consistent_share"]) == ("post_count", "mixed", 1.0)
    case.close()


def test_the_measure_that_separates_ranks_best_is_chosen(tmp_path):
    # no thresholds, no positions: ranks are ordered by their holders' median posts; posts cannot
    # separate them (u1 and u2 both wrote 2), threads started can (u1 started both threads)
    from conftest import tiny_tables

    t = tiny_tables()
    t["ranks"] = [{"forum_id": "tiny", "id": "hi"}, {"forum_id": "tiny", "id": "lo"}]
    for user, rank in zip(t["users"], ["hi", "lo", "lo", "lo"]):
        user["rank_id"] = rank
    case = forumscope.create_case(tmp_path / "case")
    forumscope.ingest_sources([write_forum(tmp_path / "f", t)], case)
    (rec,) = run_steps(case, ["hierarchy"], {"hierarchy": {"n_boot": 0}})
    (lad,) = q(case, "SELECT * FROM hierarchy_ladder WHERE run_id = $RUN", rec.run_id)
    assert (lad["ladder_kind"], lad["inferred_measure"], lad["consistent_share"]) == (
        "inferred", "threads_started", 1.0)
    cand = {r["measure"]: r["consistent_share"] for r in q(
        case, "SELECT DISTINCT measure, consistent_share FROM hierarchy_inference WHERE run_id = $RUN", rec.run_id)}
    assert cand["posts"] == 0.75 and cand["threads_started"] == 1.0
    ranks = {r["rank_id"]: r for r in q(case, "SELECT * FROM hierarchy_ranks WHERE run_id = $RUN", rec.run_id)}
    assert (ranks["lo"]["ladder_order"], ranks["hi"]["ladder_order"]) == (0, 1)
    assert ranks["hi"]["threshold"] == 2.0 and ranks["hi"]["threshold_measure"] == "threads_started"
    promo = q(case, "SELECT reconstructable FROM hierarchy_promotion WHERE run_id = $RUN", rec.run_id)
    assert promo and not any(r["reconstructable"] for r in promo)  # thresholds are not on post counts
    case.close()


def test_infer_thresholds_by_hand():
    # ranks 0, 0, 1, 1, 2 with values 0, 3, 5, 7, 20: boundaries in [4, 5] and [8, 20]
    inf = infer_thresholds(np.array([0, 0, 1, 1, 2]), np.array([0, 3, 5, 7, 20]), 3, point="lowest")
    assert inf.thresholds == [0.0, 4.0, 8.0] and inf.high == [0.0, 5.0, 20.0] and inf.share == 1.0
    inf = infer_thresholds(np.array([0, 0, 1, 1, 2]), np.array([0, 3, 5, 7, 20]), 3)
    assert inf.thresholds == [0.0, 5.0, 20.0] and inf.low == [0.0, 4.0, 8.0]
    # one member out of line: the best threshold keeps 5 of 6 consistent, lowest of (2, 5]
    inf = infer_thresholds(np.array([0, 0, 0, 1, 1, 1]), np.array([1, 2, 9, 5, 6, 7]), 2, point="lowest")
    assert inf.thresholds == [0.0, 3.0] and inf.high == [0.0, 5.0] and inf.consistent_count == 5
    assert inf.consistent.tolist() == [True, True, False, True, True, True]
    assert roundest(146, 151) == 150 and roundest(488, 505) == 500 and roundest(1492, 1803) == 1500
    assert roundest(4, 5) == 5 and roundest(7, 7) == 7 and roundest(12, None) == 12


def test_spearman_bootstrap_matches_a_plain_bootstrap():
    from scipy import stats

    rng = np.random.default_rng(1)
    x = rng.poisson(3, 200).astype(float)
    y = x + rng.poisson(2, 200)
    res = spearman_bootstrap(x, y, n_boot=400, seed=0, level=0.9)
    assert res.rho == pytest.approx(stats.spearmanr(x, y).statistic)
    reps = []
    for _ in range(400):
        i = rng.integers(0, 200, 200)
        reps.append(stats.spearmanr(x[i], y[i]).statistic)
    lo, hi = np.quantile(reps, [0.05, 0.95])
    assert abs(res.ci_low - lo) < 0.03 and abs(res.ci_high - hi) < 0.03
    assert spearman_bootstrap(x, y, n_boot=400, seed=0, level=0.9) == res  # seeded: reproducible


def test_several_forums_and_forum_filter(tmp_path):
    case = forumscope.create_case(tmp_path / "case")
    forumscope.ingest_sources([write_forum(tmp_path / "x", hand_tables("x")),
                               write_forum(tmp_path / "y", hand_tables("y"))], case)
    (rec,) = run_steps(case, ["hierarchy"], {"hierarchy": {"n_boot": 0}})
    rows = q(case, "SELECT forum_id, rank_id, holders FROM hierarchy_ranks WHERE run_id = $RUN ORDER BY 1, 2",
             rec.run_id)
    assert [(r["forum_id"], r["rank_id"], r["holders"]) for r in rows if r["forum_id"] == "x"] == \
        [(r["forum_id"].replace("y", "x"), r["rank_id"], r["holders"]) for r in rows if r["forum_id"] == "y"]
    st = q(case, "SELECT ci_low FROM hierarchy_status WHERE run_id = $RUN", rec.run_id)
    assert st and all(r["ci_low"] is None for r in st)  # n_boot=0: no intervals
    (rec,) = run_steps(case, ["hierarchy"], {"hierarchy": {"n_boot": 0}}, forum_id="y")
    for table in ("hierarchy_ladder", "hierarchy_ranks", "hierarchy_status", "hierarchy_promotion"):
        got = q(case, f"SELECT DISTINCT forum_id FROM {table} WHERE run_id = $RUN", rec.run_id)
        assert got == [{"forum_id": "y"}]
    case.close()


def test_parameters_are_checked():
    with pytest.raises(ConfigError, match="n_boot"):
        HierarchyStep(n_boot=-1)
    with pytest.raises(ConfigError, match="threshold_point"):
        HierarchyStep(threshold_point="middle")
    with pytest.raises(ConfigError, match="ci_level"):
        HierarchyStep(ci_level=1.5)


# ----------------------------------------------------------------------------- Stack Exchange
def test_stack_exchange_reputation_ladder(shared_data, tmp_path):
    site = tmp_path / "se-cardano"  # the files the ladder and the status measures need
    site.mkdir()
    for name in ("Users.xml", "Posts.xml", "Comments.xml", "Votes.xml"):
        (site / name).symlink_to(shared_data / "se-cardano" / name)
    case = forumscope.create_case(tmp_path / "case")
    forumscope.ingest_sources([site], case)
    (rec,) = run_steps(case, ["hierarchy"], {"hierarchy": {"n_boot": 300}})
    (lad,) = q(case, "SELECT * FROM hierarchy_ladder WHERE run_id = $RUN", rec.run_id)
    assert (lad["ladder_kind"], lad["measure"], lad["threshold_source"]) == ("reputation", "reputation", "declared")
    assert lad["ranks"] == 22 and lad["consistent_share"] == 1.0
    assert lad["promotion_history"].startswith("not reconstructable")
    ranks = q(case, "SELECT * FROM hierarchy_ranks WHERE run_id = $RUN ORDER BY ladder_order", rec.run_id)
    assert [r["declared_min_reputation"] for r in ranks][:5] == [1, 5, 10, 15, 20]
    assert sum(r["holders"] for r in ranks) == lad["members"]
    st = {(r["population"], r["status_measure"]): r for r in q(
        case, "SELECT * FROM hierarchy_status WHERE run_id = $RUN", rec.run_id)}
    for key in [("posters", "rank_position"), ("posters", "reputation"), ("members", "rank_position"),
                ("posters", "votes_received"), ("posters", "score_received"), ("posters", "replies_received")]:
        assert st[key]["rho"] > 0 and st[key]["ci_low"] > 0, key
    promo = q(case, "SELECT reconstructable, note FROM hierarchy_promotion WHERE run_id = $RUN", rec.run_id)
    assert promo and all(not r["reconstructable"] and "reputation" in r["note"] for r in promo)
    case.close()
