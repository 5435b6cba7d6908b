"""Activity trajectories: a planted difference separated, exclusions counted, determinism per seed."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pytest
from conftest import write_forum

import forumscope
from forumscope.analyze.trajectories import MONTH_DAYS, TrajectoriesStep, shape_of
from forumscope.errors import ConfigError
from forumscope.pipeline.runner import run_steps

T0 = dt.datetime(2020, 1, 1)


def iso(days: float) -> str:
    return (T0 + dt.timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%SZ")


def rows(case, table, run_id):
    return case.con.execute(f"SELECT * FROM {table} WHERE run_id = ?", [run_id]).df()


def planted_forum(tmp_path, f="traj"):
    """40 members active one month (5 to 8 posts), 20 active 12 months (1 + 5 posts a month), 5 with 2 posts,
    3 who start 2 months before the end (window not observed), 4 lurkers."""
    rng = np.random.default_rng(3)
    posts, users = [], []

    def add(u, day):
        posts.append({"forum_id": f, "id": f"p{len(posts) + 1}", "thread_id": f"t{len(posts) + 1}",
                      "author_id": u, "created_at": iso(day), "text": "x"})

    for i in range(40):
        u, s = f"short{i}", float(rng.uniform(0, 60))
        users.append(u)
        for d in np.sort(rng.uniform(0, 20, 5 + i % 4)):  # 5 to 8 posts
            add(u, s + d)
    for i in range(20):
        u, s = f"long{i}", float(rng.uniform(0, 60))
        users.append(u)
        add(u, s)
        for m in range(12):
            for d in np.sort(rng.uniform(1, MONTH_DAYS - 1, 5)):
                add(u, s + m * MONTH_DAYS + d)
    for i in range(5):
        users.append(f"few{i}")
        add(f"few{i}", 10 + i)
        add(f"few{i}", 40 + i)
    for i in range(3):
        users.append(f"late{i}")
        for d in range(5):
            add(f"late{i}", 500 + d)
    add("long0", 560)  # the end of the data
    users += [f"lurker{i}" for i in range(4)]
    return write_forum(tmp_path / f, {"forums": [{"id": f}], "users": [{"forum_id": f, "id": u} for u in users],
                                      "posts": posts})


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    base = tmp_path_factory.mktemp("planted")
    case = forumscope.create_case(base / "c")
    forumscope.ingest_sources([planted_forum(base)], case)
    yield case
    case.close()


def test_planted_pathways_separated(planted):
    case = planted
    (rec,) = run_steps(case, ["trajectories"], {"trajectories": {"k_min": 2, "k_max": 4, "min_posts": 3}})
    s = rows(case, "trajectories_summary", rec.run_id).iloc[0]
    assert (s["posters"], s["included"], s["excluded_few_posts"], s["excluded_incomplete_window"],
            s["lurkers_not_counted"]) == (68, 60, 5, 3, 4)
    assert s["k"] == 2 and s["criterion"] == "silhouette" and s["status"] == "ok"
    a = rows(case, "trajectories_members", rec.run_id).set_index("user_id")
    short = a.loc[[f"short{i}" for i in range(40)], "pathway"]
    long = a.loc[[f"long{i}" for i in range(20)], "pathway"]
    assert set(short) == {1} and set(long) == {2}  # pathway 1 is the largest
    assert (a.loc["long3", "posts_in_window"], a.loc["long3", "active_months"]) == (61, 12)
    p = rows(case, "trajectories_pathways", rec.run_id).set_index("pathway")
    assert list(p["members"]) == [40, 20]
    assert p.loc[1, "shape"] == "short-lived" and p.loc[2, "shape"] == "sustained"
    assert p.loc[1, "mean_posts_in_window"] == pytest.approx(6.5)
    m = rows(case, "trajectories_means", rec.run_id)
    m2 = m[m["pathway"] == 2].sort_values("month")
    assert len(m2) == 12 and m2["share_active"].min() == 1.0
    m1 = m[m["pathway"] == 1].sort_values("month")
    assert m1["mean_posts"].iloc[0] == 6.5 and m1["mean_posts"].iloc[1:].sum() == 0
    sel = rows(case, "trajectories_selection", rec.run_id)
    assert sorted(sel["k"]) == [2, 3, 4] and sel["chosen"].sum() == 1
    # the mixture separates them too, and every member gets a probability
    (rec2,) = run_steps(case, ["trajectories"], {"trajectories": {"method": "gmm", "k_min": 2, "k_max": 2}})
    a2 = rows(case, "trajectories_members", rec2.run_id).set_index("user_id")
    assert set(a2.loc[short.index, "pathway"]) == {1} and set(a2.loc[long.index, "pathway"]) == {2}
    assert a2["probability"].between(0, 1).all()


def test_window_not_required(planted):
    (rec,) = run_steps(planted, ["trajectories"], {"trajectories": {"require_full_window": False, "k_max": 3}})
    s = rows(planted, "trajectories_summary", rec.run_id).iloc[0]
    assert s["included"] == 63 and s["excluded_incomplete_window"] == 0


@pytest.fixture(scope="module")
def synth(tmp_path_factory):
    from forumscope.synth import generate

    base = tmp_path_factory.mktemp("traj")
    generate(base / "forum", posts=15_000, seed=2)
    case = forumscope.create_case(base / "case")
    forumscope.ingest_sources([base / "forum"], case)
    yield case
    case.close()


def test_deterministic_per_seed_and_ordered_by_size(synth):
    recs = run_steps(synth, ["trajectories"], {"trajectories": {"seed": 4, "max_fit_members": 200}})
    recs += run_steps(synth, ["trajectories"], {"trajectories": {"seed": 4, "max_fit_members": 200}})
    a, b = (rows(synth, "trajectories_members", r.run_id).drop(columns="run_id") for r in recs)
    assert len(a) > 100 and a.equals(b)
    p = rows(synth, "trajectories_pathways", recs[0].run_id).sort_values("pathway")
    assert list(p["pathway"]) == list(range(1, len(p) + 1))
    assert (np.diff(p["members"]) <= 0).all()
    assert p["members"].sum() == len(a)
    assert p["share"].sum() == pytest.approx(1.0)


def test_too_few_members_and_parameters(tmp_path):
    from conftest import tiny_tables

    t2 = json.loads(json.dumps(tiny_tables()).replace('"tiny"', '"tiny2"'))
    case = forumscope.create_case(tmp_path / "c")
    forumscope.ingest_sources([write_forum(tmp_path / "t", tiny_tables()), write_forum(tmp_path / "t2", t2)], case)
    (rec,) = run_steps(case, ["trajectories"], {"trajectories": {"min_posts": 1, "require_full_window": False}})
    s = rows(case, "trajectories_summary", rec.run_id).set_index("forum_id")
    assert list(s.index) == ["tiny", "tiny2"]
    assert (s["status"] == "too_few_members").all() and (s["included"] == 3).all()
    assert (s["lurkers_not_counted"] == 1).all()
    assert rows(case, "trajectories_members", rec.run_id).empty
    (rec2,) = run_steps(case, ["trajectories"], forum_id="tiny2")
    assert list(rows(case, "trajectories_summary", rec2.run_id)["forum_id"]) == ["tiny2"]
    case.close()
    with pytest.raises(ConfigError, match="k_max"):
        TrajectoriesStep(k_min=4, k_max=2)
    with pytest.raises(ConfigError, match="method"):
        TrajectoriesStep(method="dbscan")
    assert shape_of(np.array([6.0, 0, 0, 0]))[0] == "short-lived"
    assert shape_of(np.zeros(4))[0] == "inactive"
