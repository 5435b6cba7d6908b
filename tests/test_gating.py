"""Gating: gates found on synthetic forums with planted gates, and every number of a hand-built forum."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import write_forum

import forumscope
from forumscope.analyze.gating import GatingStep, binom_cdf, confidence, estimate_threshold, parse_access_rule
from forumscope.errors import ConfigError
from forumscope.pipeline.runner import run_steps


def q(case, sql, run_id):
    return case.sql(sql.replace("$RUN", f"'{run_id}'")).to_pylist()


def hide_thresholds(src: Path, dst: Path) -> Path:
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

    base = tmp_path_factory.mktemp("gating")
    generate(base / "forum", posts=25_000, seed=4)
    truth = json.loads((base / "forum" / "truth.json").read_text())
    members = [json.loads(line) for line in (base / "forum" / "truth" / "member_truth.ndjson").read_text().splitlines()]
    case = forumscope.create_case(base / "case")
    forumscope.ingest_sources([base / "forum"], case)
    (rec,) = run_steps(case, ["gating"])
    hidden = forumscope.create_case(base / "hidden")
    forumscope.ingest_sources([hide_thresholds(base / "forum", base / "forum-hidden")], hidden)
    (rh,) = run_steps(hidden, ["gating"])
    yield {"truth": truth, "members": members, "case": case, "run": rec.run_id, "hidden": hidden, "hrun": rh.run_id}
    case.close()
    hidden.close()


def boards(case, run):
    return {r["board_id"]: r for r in q(case, "SELECT * FROM gating_boards WHERE run_id = $RUN", run)}


def test_every_planted_gate_is_found(synth):
    b = boards(synth["case"], synth["run"])
    planted = {g["board_id"]: g for g in synth["truth"]["gated_boards"]}
    assert set(planted) == {"en-inner", "en-veterans", "en-announce"}
    # post-count gate, declared: used as declared, and found from the data alone
    inner = b["en-inner"]
    assert (inner["gated"], inner["gate_source"], inner["gate_type"], inner["gate_posts"]) == (
        True, "declared", "post_count", planted["en-inner"]["threshold"])
    assert inner["declared_min_posts"] == 50 and inner["declared_access_rule"] == "posts>=50"
    assert abs(inner["estimated_threshold_posts"] - planted["en-inner"]["threshold"]) <= 1
    assert inner["estimated_gate_type"] == "post_count" and inner["confidence"] == "high"
    assert inner["declared_consistent_share"] == 1.0 and inner["n_below"] == 0 and inner["share_at_or_above"] == 1.0
    assert inner["baseline_share_below"] > 0.5 and inner["p_value"] < 1e-6
    # rank-or-VIP gate, not declared: estimated, with the rank and the exempt VIP group
    vet = b["en-veterans"]
    assert vet["declared_min_posts"] is None and vet["declared_group_ids"] is None
    assert (vet["gated"], vet["gate_source"], vet["estimated_gate_type"]) == (True, "estimated", "post_count_or_group")
    assert abs(vet["estimated_threshold_posts"] - planted["en-veterans"]["equivalent_min_posts"]) <= 1
    assert vet["estimated_threshold_rank_id"] == planted["en-veterans"]["min_rank_id"] and vet["rank_threshold_match"]
    assert vet["gate_rank_id"] == "r3" and vet["confidence"] == "high"
    assert "g-vip" in vet["exempt_group_ids"].split("|") and vet["exempt_first_posts"] > 0
    assert set(vet["exempt_group_ids"].split("|")) <= set(planted["en-veterans"]["groups"])
    # staff-only board: recognised as group-gated from the data, used as declared
    ann = b["en-announce"]
    assert ann["estimated_gate_type"] == "group" and ann["group_confidence"] == "high"
    assert set(ann["group_ids"].split("|")) <= set(planted["en-announce"]["groups"]) and ann["group_coverage"] == 1.0
    assert (ann["gate_source"], ann["gate_type"], ann["gate_group_ids"]) == ("declared", "group", "g-admins|g-mods")
    assert ann["declared_consistent_share"] == 1.0


def test_no_ungated_board_is_reported_gated(synth):
    b = boards(synth["case"], synth["run"])
    planted = {g["board_id"] for g in synth["truth"]["gated_boards"]}
    others = [r for k, r in b.items() if k not in planted]
    assert len(others) >= 15
    for r in others:
        assert not r["gated"] and r["estimated_gate_type"] == "none", r["board_id"]
        assert r["confidence"] != "high" and r["group_confidence"] in (None, "none", "low"), r["board_id"]
        if r["first_posts"]:
            assert r["estimated_threshold_posts"] == 0  # newcomers post there from their first post


def test_gates_with_hidden_rank_thresholds(synth):
    # without min_posts in the ranks file the ladder is inferred and the rank gate is still named
    b = boards(synth["hidden"], synth["hrun"])
    assert b["en-veterans"]["estimated_threshold_rank_id"] == "r3" and b["en-veterans"]["gated"]
    assert b["en-inner"]["estimated_threshold_rank_id"] == "r2"
    assert sum(r["gated"] for r in b.values()) == 3


def test_who_passes_and_how_fast(synth):
    case, run = synth["case"], synth["run"]
    p = {(r["board_id"], r["criterion"]): r for r in q(case, "SELECT * FROM gating_passage WHERE run_id = $RUN", run)}
    assert set(p) == {("en-inner", "posts"), ("en-veterans", "posts"), ("en-announce", "group")}
    inner = p[("en-inner", "posts")]
    b = boards(case, run)
    assert inner["reached"] == sum(1 for m in synth["members"] if m["posts"] >= 50)
    assert inner["entered"] == b["en-inner"]["first_posts"] and inner["entered_before"] == 0
    assert inner["share_entered"] == inner["entered"] / inner["reached"]
    assert 0 <= inner["days_q1"] <= inner["days_median"] <= inner["days_q3"]
    vet = p[("en-veterans", "posts")]
    assert vet["entered_before"] == b["en-veterans"]["exempt_first_posts"]  # VIPs and staff before 150 posts
    ann = p[("en-announce", "group")]
    staff = synth["truth"]["groups"]["g-admins"]["members"] + synth["truth"]["groups"]["g-mods"]["members"]
    assert ann["reached"] == len(staff) and ann["entered"] == b["en-announce"]["first_posts"]
    dist = q(case, "SELECT measure, sum(first_posts) AS n FROM gating_distribution WHERE run_id = $RUN "
                   "AND board_id IS NULL GROUP BY 1 ORDER BY 1", run)
    total = sum(r["first_posts"] for r in b.values())
    assert dist == [{"measure": "prior_posts", "n": total}, {"measure": "rank_at_entry", "n": total}]


# ----------------------------------------------------------------------------- a forum computed by hand
def hand_tables(f: str = "g") -> dict:
    # one post an hour from 2020-01-01 00:00; "prior" = the author's posts before this one (any board)
    plan = [("u1", "gen"), ("u2", "gen"), ("u1", "gen"), ("u1", "gen"), ("u1", "club"), ("s1", "staff"),
            ("u2", "gen"), ("u2", "gen"), ("u3", "gen"), ("u2", "club"), ("s1", "club"), ("u3", "gen"),
            ("u4", "gen"), ("u3", "talk")]
    posts = [{"forum_id": f, "id": f"p{h}", "thread_id": f"t-{b}", "author_id": a,
              "created_at": f"2020-01-01T{h:02d}:00:00Z"} for h, (a, b) in enumerate(plan)]
    users = [{"forum_id": f, "id": u, "registered_at": "2019-12-31T00:00:00Z"}
             for u in ("u1", "u2", "u3", "u4", "u5", "u6", "s1")]
    return {
        "forums": [{"id": f}],
        "boards": [{"forum_id": f, "id": "gen", "name": "General"},
                   {"forum_id": f, "id": "club", "name": "Club", "min_posts": 3},
                   {"forum_id": f, "id": "staff", "name": "Staff", "required_group_ids": "g-staff"},
                   {"forum_id": f, "id": "talk", "name": "Talk", "access_rule": "posts>=2"}],
        "threads": [{"forum_id": f, "id": f"t-{b}", "board_id": b} for b in ("gen", "club", "staff", "talk")],
        "users": users,
        "groups": [{"forum_id": f, "id": "g-staff", "kind": "staff"}, {"forum_id": f, "id": "g-all", "kind": "member"}],
        "memberships": [{"forum_id": f, "user_id": "s1", "group_id": "g-staff", "since": "2019-12-31T00:00:00Z"}]
        + [{"forum_id": f, "user_id": u["id"], "group_id": "g-all"} for u in users],
        "posts": posts,
    }


@pytest.fixture
def hand_case(tmp_path):
    case = forumscope.create_case(tmp_path / "case")
    forumscope.ingest_sources([write_forum(tmp_path / "hand", hand_tables())], case)
    yield case
    case.close()


def test_hand_forum_every_number(hand_case):
    (rec,) = run_steps(hand_case, ["gating"])
    b = boards(hand_case, rec.run_id)
    # gen: u1, u2, u3, u4 enter with 0 earlier posts -> no gate
    gen = b["gen"]
    assert (gen["first_posts"], gen["estimated_threshold_posts"], gen["gated"]) == (4, 0, False)
    assert gen["confidence"] == "none" and gen["baseline_first_posts"] == 3  # club u1, u2; talk u3 (s1 is staff)
    # club (declared min_posts 3): u1 at 3 earlier posts, u2 at 3, s1 (staff) at 1
    club = b["club"]
    assert (club["first_posts"], club["special_first_posts"], club["n_tested"]) == (3, 1, 2)
    assert (club["estimated_threshold_posts"], club["min_prior_posts"], club["n_below"]) == (3, 3, 0)
    assert club["declared_consistent_share"] == pytest.approx(2 / 3)
    assert (club["exempt_first_posts"], club["exempt_group_ids"]) == (1, "g-staff")
    assert club["baseline_first_posts"] == 5 and club["baseline_share_below"] == 1.0  # gen 0, 0, 0, 0; talk 2
    assert club["baseline_median_prior"] == 0.0 and club["p_value"] == 0.0
    assert club["confidence"] == "none"  # 2 first posts: fewer than min_first_posts
    assert (club["gated"], club["gate_source"], club["gate_type"], club["gate_posts"]) == (
        True, "declared", "post_count", 3)
    # staff (declared group): only s1; the group cover is found, too few first posts for confidence
    staff = b["staff"]
    assert (staff["first_posts"], staff["group_ids"], staff["group_coverage"]) == (1, "g-staff", 1.0)
    assert staff["group_baseline_share"] == pytest.approx(1 / 8)  # s1's club entry among 8 entries elsewhere
    assert staff["group_p_value"] == pytest.approx(1 / 8) and staff["group_confidence"] == "none"
    assert (staff["gate_source"], staff["gate_type"], staff["gate_group_ids"]) == ("declared", "group", "g-staff")
    assert staff["declared_consistent_share"] == 1.0
    # talk: rule only as text
    talk = b["talk"]
    assert (talk["gate_source"], talk["gate_posts"], talk["declared_min_posts"]) == ("declared_rule_text", 2, 2)
    assert talk["estimated_threshold_posts"] == 2 and talk["declared_consistent_share"] == 1.0
    # passage
    p = {(r["board_id"], r["criterion"]): r for r in q(hand_case, "SELECT * FROM gating_passage WHERE run_id = $RUN",
                                                      rec.run_id)}
    c = p[("club", "posts")]  # 3rd posts: u1 at 03:00, u2 at 07:00; enter club at 04:00 and 09:00
    assert (c["reached"], c["entered"], c["entered_before"], c["timed"]) == (3, 2, 1, 2)  # u3 reaches 3 at 13:00
    assert c["days_median"] == pytest.approx(1.5 / 24) and c["days_q1"] == pytest.approx(1.25 / 24)
    t = p[("talk", "posts")]  # 2nd posts: u1 02:00, u2 06:00, s1 10:00, u3 11:00; u3 enters talk 13:00
    assert (t["reached"], t["entered"], t["share_entered"]) == (4, 1, 0.25)
    assert t["days_median"] == pytest.approx(2 / 24)
    s = p[("staff", "group")]  # s1 in g-staff since 2019-12-31 00:00, first staff post 2020-01-01 05:00
    assert (s["reached"], s["entered"], s["entered_before"]) == (1, 1, 0)
    assert s["days_median"] == pytest.approx(1 + 5 / 24)
    # pooled distribution of earlier posts at first posts: 0 x5 (gen 4, staff 1), 1-4 x4 (club 3, 3, 1; talk 2)
    d = q(hand_case, "SELECT bin, first_posts FROM gating_distribution WHERE run_id = $RUN AND board_id IS NULL "
                     "AND first_posts > 0 ORDER BY low", rec.run_id)
    assert d == [{"bin": "0", "first_posts": 5}, {"bin": "1-4", "first_posts": 4}]


def test_estimators_by_hand():
    assert estimate_threshold([50, 50, 51, 60], 0.02) == (50, 0)
    assert estimate_threshold([3] + [50] * 99, 0.02) == (50, 1)  # an isolated exception is dropped
    assert estimate_threshold([40] + [50] * 99, 0.02) == (40, 0)  # a near one is not
    assert estimate_threshold([0, 0, 0, 5, 6], 0.4) == (0, 0)
    assert estimate_threshold([], 0.02) == (None, 0)
    assert binom_cdf(0, 3, 0.5) == pytest.approx(0.125) and binom_cdf(3, 3, 0.5) == 1.0
    kw = {"min_first_posts": 5, "min_effect": 0.2}
    assert confidence(1e-7, 30, 0.5, **kw) == "high"
    assert confidence(1e-4, 30, 0.15, **kw) == "medium"
    assert confidence(1e-7, 30, 0.05, **kw) == "low"  # strong evidence, tiny effect
    assert confidence(0.2, 30, 0.5, **kw) == "none" and confidence(1e-9, 4, 0.9, **kw) == "none"
    assert parse_access_rule("posts>=50") == {"min_posts": 50}
    assert parse_access_rule("group:g-admins|g-mods") == {"groups": ["g-admins", "g-mods"]}
    assert parse_access_rule("rank >= r3") == {"min_rank_id": "r3"} and parse_access_rule(None) == {}


def test_several_forums_and_forum_filter(tmp_path):
    case = forumscope.create_case(tmp_path / "case")
    forumscope.ingest_sources([write_forum(tmp_path / "x", hand_tables("x")),
                               write_forum(tmp_path / "y", hand_tables("y"))], case)
    (rec,) = run_steps(case, ["gating"])
    rows = q(case, "SELECT forum_id, board_id, first_posts, gate_posts FROM gating_boards WHERE run_id = $RUN",
             rec.run_id)
    by = {f: sorted((r["board_id"], r["first_posts"], r["gate_posts"]) for r in rows if r["forum_id"] == f)
          for f in ("x", "y")}
    assert by["x"] == by["y"] and len(by["x"]) == 4
    (rec,) = run_steps(case, ["gating"], forum_id="x")
    for table in ("gating_boards", "gating_passage", "gating_distribution"):
        got = q(case, f"SELECT DISTINCT forum_id FROM {table} WHERE run_id = $RUN", rec.run_id)
        assert got == [{"forum_id": "x"}]
    case.close()


def test_parameters_are_checked():
    with pytest.raises(ConfigError, match="tolerance"):
        GatingStep(tolerance=0.7)
    with pytest.raises(ConfigError, match="min_confidence"):
        GatingStep(min_confidence="certain")
