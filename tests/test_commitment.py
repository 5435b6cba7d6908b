"""Commitment: lurkers and denominators, Kaplan–Meier by hand, Cox sign of a planted effect."""

from __future__ import annotations

import datetime as dt
import json
import math

import numpy as np
import pytest
from conftest import tiny_tables, write_forum

import forumscope
from forumscope.analyze.commitment import CommitmentStep
from forumscope.errors import ConfigError
from forumscope.pipeline.runner import run_steps

T0 = dt.datetime(2021, 1, 1, 12, 0, 0)


def iso(days: float) -> str:
    return (T0 + dt.timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%SZ")


def rows(case, table, run_id, cols="*", where="TRUE"):
    return case.con.execute(f"SELECT {cols} FROM {table} WHERE run_id = ? AND {where}", [run_id]).df()


# ----------------------------------------------------------------------------- synthetic forum
@pytest.fixture(scope="module")
def synth(tmp_path_factory):
    from forumscope.synth import generate

    base = tmp_path_factory.mktemp("commit")
    summary = generate(base / "forum", posts=12_000, seed=5)
    case = forumscope.create_case(base / "case")
    forumscope.ingest_sources([base / "forum"], case)
    truth = json.loads((base / "forum" / "truth.json").read_text())
    (rec,) = run_steps(case, ["commitment"])
    yield case, rec, truth, summary
    case.close()


def test_lurker_share_equals_truth(synth):
    case, rec, truth, _ = synth
    r = rows(case, "commitment_rates", rec.run_id).set_index("measure")
    assert r.loc["lurker_share", "numerator"] == truth["members"]["lurkers"]
    assert r.loc["lurker_share", "denominator"] == truth["members"]["registered"]
    assert r.loc["lurker_share", "value"] == truth["members"]["lurkers"] / truth["members"]["registered"]
    assert bool(r.loc["lurker_share", "includes_lurkers"]) is True
    # retention and single-post shares are over posters only, and say so
    assert r.loc["single_post_share", "denominator"] == truth["members"]["posters"]
    assert not r.loc["single_post_share", "includes_lurkers"]
    assert all(not r.loc[m, "includes_lurkers"] for m in r.index if m.startswith("retained_"))
    assert r["denominator_definition"].notna().all()


def test_survival_tables_on_synthetic_forum(synth):
    case, rec, truth, _ = synth
    g = rows(case, "commitment_groups", rec.run_id)
    allrow = g[g["grouping"] == "all"].iloc[0]
    assert allrow["members"] == truth["members"]["posters"]
    assert allrow["events"] + allrow["censored"] == allrow["members"]
    assert allrow["median_ci_lower"] <= allrow["median_days"] <= allrow["median_ci_upper"]
    ranks = g[g["grouping"] == "rank"]
    assert "staff" in set(ranks["group"]) and "Newcomer" in set(ranks["group"])
    assert ranks[ranks["group"] == "staff"]["members"].iloc[0] == sum(
        len(truth["groups"][k]["members"]) for k in ("g-admins", "g-mods"))
    s = rows(case, "commitment_survival", rec.run_id, where="grouping = 'all'").sort_values("time_days")
    assert list(s["time_days"]) == [30.0, 90.0, 180.0, 365.0]
    assert (np.diff(s["survival"]) <= 0).all()
    assert ((s["ci_lower"] <= s["survival"]) & (s["survival"] <= s["ci_upper"])).all()
    cox = rows(case, "commitment_cox", rec.run_id)
    assert set(cox["covariate"]) == {"rank_position", "cohort_years", "log1p_first_post_replies"}
    assert cox["model_status"].iloc[0] in ("ok", "ok_with_warnings")
    # in the synthetic forum rank follows posts, so higher ranks leave later (lower hazard)
    assert cox.set_index("covariate").loc["rank_position", "hazard_ratio"] < 1
    assert 0.5 < cox["concordance"].iloc[0] <= 1


# ----------------------------------------------------------------------------- hand-computed KM
def km_forum(tmp_path, forum_id="km"):
    """Six posters with known spans (days) and one lurker. End of data = day 200.

    a: 0,10 (10, left)   b: 0,20 (20, left)   c: 0,30 (30, left)   d: 5 (0, left)
    e: 50,190 (140, censored: last post within 90 days of the end)   f: 100,200 (100, censored)
    """
    f = forum_id
    plan = {"a": [0, 10], "b": [0, 20], "c": [0, 30], "d": [5], "e": [50, 190], "f": [100, 200]}
    users = [{"forum_id": f, "id": u, "registered_at": iso(min(d) - 1)} for u, d in plan.items()]
    users.append({"forum_id": f, "id": "g", "registered_at": iso(3)})  # the lurker
    posts, k = [], 0
    for u, days in plan.items():
        for d in days:
            k += 1
            posts.append({"forum_id": f, "id": f"p{k}", "thread_id": f"t{k}", "author_id": u,
                          "created_at": iso(d), "text": "x"})
    # replies to a's first post (p1) by b and c, and a self-reply by a (not counted)
    posts += [{"forum_id": f, "id": "r1", "author_id": "b", "parent_id": "p1", "created_at": iso(0.5), "text": "y"},
              {"forum_id": f, "id": "r2", "author_id": "c", "parent_id": "p1", "created_at": iso(0.6), "text": "y"},
              {"forum_id": f, "id": "r3", "author_id": "a", "parent_id": "p1", "created_at": iso(0.7), "text": "y"}]
    return write_forum(tmp_path / f, {"forums": [{"id": f}], "users": users, "posts": posts})


def greenwood_loglog(table, alpha=0.05):
    """Kaplan–Meier with Greenwood's variance and the log(-log) interval, by hand.
    table: list of (time, at_risk, deaths) at event times."""
    z = 1.959963984540054
    s, v, out = 1.0, 0.0, []
    for t, n, d in table:
        s *= (n - d) / n
        v += d / (n * (n - d)) if n > d else float("inf")
        if 0 < s < 1:
            se = math.sqrt(v) / abs(math.log(s))
            lo = math.exp(-math.exp(math.log(-math.log(s)) + z * se))
            hi = math.exp(-math.exp(math.log(-math.log(s)) - z * se))
        else:
            lo = hi = s
        out.append((t, s, lo, hi))
    return out


def test_kaplan_meier_by_hand(tmp_path):
    case = forumscope.create_case(tmp_path / "c")
    forumscope.ingest_sources([km_forum(tmp_path)], case)
    (rec,) = run_steps(case, ["commitment"], {"commitment": {"times": (15, 25, 60), "censor_days": 90.0,
                                                             "min_group_size": 1}})
    m = rows(case, "commitment_members", rec.run_id).set_index("user_id")
    # a also wrote r3 (day 0.7) and b, c replied: spans are first-to-last post
    assert m.loc["a", "duration_days"] == pytest.approx(10.0)
    assert m.loc["a", "first_post_replies"] == 2  # b and c; a's own reply does not count
    assert bool(m.loc["g", "is_lurker"]) and m.loc["g", "duration_days"] != m.loc["g", "duration_days"]  # NaN
    assert [bool(m.loc[u, "event"]) for u in "abcdef"] == [True, True, True, True, False, False]
    # by hand: spans 0 10 20 30 (events) 100 140 (censored)
    # S(0) = 5/6, S(10) = 5/6 * 4/5 = 4/6, S(20) = 4/6 * 3/4 = 3/6, S(30) = 3/6 * 2/3 = 2/6
    s = rows(case, "commitment_survival", rec.run_id, where="grouping = 'all'").set_index("time_days")
    assert s.loc[15.0, "survival"] == pytest.approx(4 / 6)
    assert s.loc[25.0, "survival"] == pytest.approx(3 / 6)
    assert s.loc[60.0, "survival"] == pytest.approx(2 / 6)
    assert s.loc[60.0, "at_risk"] == 2 and s.loc[60.0, "events_by_time"] == 4
    hand = {t: (sv, lo, hi) for t, sv, lo, hi in greenwood_loglog([(0, 6, 1), (10, 5, 1), (20, 4, 1), (30, 3, 1)])}
    assert s.loc[25.0, "ci_lower"] == pytest.approx(hand[20][1], rel=1e-6)
    assert s.loc[25.0, "ci_upper"] == pytest.approx(hand[20][2], rel=1e-6)
    g = rows(case, "commitment_groups", rec.run_id, where="grouping = 'all'").iloc[0]
    assert g["members"] == 6 and g["events"] == 4 and g["censored"] == 2
    assert g["median_days"] == pytest.approx(20.0)  # first time S(t) <= 0.5
    assert bool(g["median_reached"])
    r = rows(case, "commitment_rates", rec.run_id).set_index("measure")
    assert (r.loc["lurker_share", "numerator"], r.loc["lurker_share", "denominator"]) == (1, 7)
    assert (r.loc["active_at_end_share", "numerator"], r.loc["active_at_end_share", "denominator"]) == (2, 6)
    assert (r.loc["active_at_end_share_of_registered", "denominator"]) == 7
    # only the six posters can be seen for 25 days; a, d left before day 25 ... e and f are still there
    assert (r.loc["retained_25d", "numerator"], r.loc["retained_25d", "denominator"]) == (3, 6)
    # with so few members the Cox model is not fitted, and says why
    cox = rows(case, "commitment_cox", rec.run_id)
    assert set(cox["model_status"]) == {"too_few_members"}
    assert cox["coef"].isna().all()
    # the case as of day 60: f (registered on day 99) is not there yet, e has one post and is censored
    (rec2,) = run_steps(case, ["commitment"], {"commitment": {"data_end": iso(60)}})
    m2 = rows(case, "commitment_members", rec2.run_id).set_index("user_id")
    assert sorted(m2.index) == ["a", "b", "c", "d", "e", "g"]
    assert m2.loc["e", "posts"] == 1 and not m2.loc["e", "event"]
    r2 = rows(case, "commitment_rates", rec2.run_id).set_index("measure")
    assert (r2.loc["lurker_share", "numerator"], r2.loc["lurker_share", "denominator"]) == (1, 6)
    case.close()


# ----------------------------------------------------------------------------- Cox: planted effect
def planted_cox_forum(tmp_path, n=240, seed=7):
    """Members whose first post got replies stay longer (mean span 240 vs 60 days)."""
    rng = np.random.default_rng(seed)
    f = "cox"
    users = [{"forum_id": f, "id": "helper", "registered_at": iso(-10)}]
    posts = []
    k = 0
    for i in range(n):
        u = f"m{i}"
        start = float(rng.uniform(0, 300))
        replied = i % 2 == 0
        span = float(rng.exponential(240.0 if replied else 60.0))
        users.append({"forum_id": f, "id": u, "registered_at": iso(start - 0.5)})
        k += 1
        first = f"p{k}"
        posts.append({"forum_id": f, "id": first, "thread_id": f"t{k}", "author_id": u, "created_at": iso(start),
                      "text": "hello"})
        if replied:
            for j in range(int(rng.integers(1, 4))):
                k += 1
                posts.append({"forum_id": f, "id": f"p{k}", "author_id": "helper", "parent_id": first,
                              "created_at": iso(start + 0.1 + j * 0.01), "text": "welcome"})
        k += 1
        posts.append({"forum_id": f, "id": f"p{k}", "thread_id": f"t{k}", "author_id": u,
                      "created_at": iso(start + span + 0.2), "text": "again"})
    k += 1
    posts.append({"forum_id": f, "id": f"p{k}", "thread_id": f"t{k}", "author_id": "helper",
                  "created_at": iso(2000), "text": "end"})
    return write_forum(tmp_path / f, {"forums": [{"id": f}], "users": users, "posts": posts})


def test_cox_recovers_planted_effect(tmp_path):
    case = forumscope.create_case(tmp_path / "c")
    forumscope.ingest_sources([planted_cox_forum(tmp_path)], case)
    (rec,) = run_steps(case, ["commitment"])
    cox = rows(case, "commitment_cox", rec.run_id).set_index("covariate")
    assert cox["model_status"].iloc[0] in ("ok", "ok_with_warnings")
    # no ranks in this forum: the rank covariate is dropped, with a reason, not a crash
    assert cox.loc["rank_position", "covariate_status"] == "dropped_missing"
    rep = cox.loc["log1p_first_post_replies"]
    assert rep["covariate_status"] == "ok"
    assert rep["coef"] < 0 and rep["hazard_ratio"] < 1 and rep["hr_ci_upper"] < 1
    assert rep["p_value"] < 0.001
    assert rep["n"] == 241 and rep["events"] > 200  # 240 members and the helper
    # with the raw count the sign is the same
    (rec2,) = run_steps(case, ["commitment"], {"commitment": {"cox_log_replies": False,
                                                              "cox_cohort": "categorical", "cohort": "quarter"}})
    cox2 = rows(case, "commitment_cox", rec2.run_id).set_index("covariate")
    assert cox2.loc["first_post_replies", "coef"] < 0
    assert any(c.startswith("cohort[") for c in cox2.index)
    case.close()


def test_degenerate_cases_and_forums(tmp_path):
    t1 = tiny_tables()
    t2 = json.loads(json.dumps(t1).replace('"tiny"', '"tiny2"'))
    t2["users"].append({"forum_id": "tiny2", "id": "u5", "registered_at": "2020-01-04T00:00:00Z"})
    case = forumscope.create_case(tmp_path / "c")
    forumscope.ingest_sources([write_forum(tmp_path / "a", t1), write_forum(tmp_path / "b", t2)], case)
    (rec,) = run_steps(case, ["commitment"])
    r = rows(case, "commitment_rates", rec.run_id, where="measure = 'lurker_share'").set_index("forum_id")
    assert (r.loc["tiny", "numerator"], r.loc["tiny", "denominator"]) == (1, 4)
    assert (r.loc["tiny2", "numerator"], r.loc["tiny2", "denominator"]) == (2, 5)
    cox = rows(case, "commitment_cox", rec.run_id)
    assert set(cox["forum_id"]) == {"tiny", "tiny2"} and set(cox["model_status"]) == {"too_few_members"}
    (rec2,) = run_steps(case, ["commitment"], forum_id="tiny2")
    for t in ("commitment_rates", "commitment_members", "commitment_groups", "commitment_cox"):
        assert set(rows(case, t, rec2.run_id)["forum_id"]) == {"tiny2"}
    case.close()


def test_parameters_validated():
    with pytest.raises(ConfigError, match="cohort"):
        CommitmentStep(cohort="month")
    with pytest.raises(ConfigError, match="times"):
        CommitmentStep(times=("x",))
    with pytest.raises(ConfigError, match="data_end"):
        CommitmentStep(data_end="yesterday")
    assert CommitmentStep(times=("30", "60")).times == ("30", "60")
