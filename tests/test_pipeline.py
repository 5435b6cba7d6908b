"""The step protocol and runner, with a tiny step computed by hand."""

from __future__ import annotations

import json

import pytest

import forumscope
from forumscope.cli.main import main
from forumscope.errors import ConfigError, UsageError
from forumscope.pipeline import registry
from forumscope.pipeline.runner import latest_run_id, run_steps
from forumscope.pipeline.step import Param, Step


class BoardPosts(Step):
    name = "board_posts"
    description = "Posts per board."
    inputs = ("posts",)
    outputs = {"board_posts_counts": "posts per board"}
    params = (Param("min_posts", int, 0, "leave out smaller boards", lambda v: v >= 0, "must be >= 0"),)

    def compute(self, ctx):
        return {"board_posts_counts": ctx.sql(
            "SELECT board_id, count(*) AS posts FROM posts GROUP BY ALL HAVING count(*) >= ? ORDER BY 1",
            [self.min_posts])}


class Broken(Step):
    name = "broken"
    outputs = {"broken_x": ""}

    def compute(self, ctx):
        raise RuntimeError("boom")


@pytest.fixture
def steps(monkeypatch):
    monkeypatch.setitem(registry.STEPS, "board_posts", f"{__name__}:BoardPosts")
    monkeypatch.setitem(registry.STEPS, "broken", f"{__name__}:Broken")


def test_parameters_are_validated_in_one_place():
    assert BoardPosts().min_posts == 0
    with pytest.raises(ConfigError, match="unknown parameter 'min_post'"):
        BoardPosts(min_post=3)
    with pytest.raises(ConfigError, match="must be int"):
        BoardPosts(min_posts="3")
    with pytest.raises(ConfigError, match="must be >= 0"):
        BoardPosts(min_posts=-1)


def test_runner_writes_results_and_runs(tiny_forum, tmp_path, steps):
    case = forumscope.create_case(tmp_path / "c")
    case.ingest([tiny_forum])
    (rec,) = run_steps(case, ["board_posts"], {"board_posts": {"min_posts": 3}})
    assert rec.rows == {"board_posts_counts": 1}
    assert case.con.execute("SELECT board_id, posts FROM board_posts_counts WHERE run_id = ?",
                            [rec.run_id]).fetchall() == [("b1", 3)]
    (status, params, versions, fp), = case.con.execute(
        "SELECT status, parameters, versions, input_fingerprint FROM runs").fetchall()
    assert status == "ok" and json.loads(params)["min_posts"] == 3 and "duckdb" in json.loads(versions)
    (rec2,) = run_steps(case, ["board_posts"])
    assert latest_run_id(case, "board_posts") == rec2.run_id
    assert case.con.execute("SELECT count(DISTINCT run_id) FROM board_posts_counts").fetchall() == [(2,)]
    assert case.con.execute("SELECT input_fingerprint FROM runs WHERE id = ?", [rec2.run_id]).fetchall() == [(fp,)]
    with pytest.raises(RuntimeError, match="boom"):
        run_steps(case, ["broken"])
    assert case.con.execute("SELECT status, message FROM runs WHERE step = 'broken'").fetchall() == [
        ("failed", "RuntimeError: boom")]
    with pytest.raises(UsageError, match="unknown step"):
        run_steps(case, ["nope"])
    case.close()


def test_cli_analyze(tiny_forum, tmp_path, steps, capsys):
    case = tmp_path / "c"
    assert main(["ingest", str(tiny_forum), "--case", str(case)]) == 0
    assert main(["analyze", "--case", str(case), "--steps", "board_posts", "--param", "board_posts.min_posts=1"]) == 0
    assert "board_posts" in capsys.readouterr().out
    assert main(["analyze", "--case", str(case), "--steps", "board_posts", "--param", "board_posts.min_posts=x"]) == 2
    assert main(["analyze", "--case", str(case), "--steps", "board_posts", "--param", "oops"]) == 2


class BoardPostsV2(BoardPosts):
    outputs = {"board_posts_counts": "posts per board, with authors"}

    def compute(self, ctx):
        return {"board_posts_counts": ctx.sql(
            "SELECT board_id, count(*) AS posts, count(DISTINCT author_id) AS authors FROM posts GROUP BY ALL")}


def test_a_newer_step_version_may_add_columns(tiny_forum, tmp_path, steps, monkeypatch):
    case = forumscope.create_case(tmp_path / "c")
    case.ingest([tiny_forum])
    (old,) = run_steps(case, ["board_posts"])
    monkeypatch.setitem(registry.STEPS, "board_posts", f"{__name__}:BoardPostsV2")
    (new,) = run_steps(case, ["board_posts"])
    got = case.con.execute("SELECT run_id = ?, board_id, authors FROM board_posts_counts ORDER BY ALL",
                           [new.run_id]).fetchall()
    assert got == [(False, "b1", None), (False, "b2", None), (True, "b1", 3), (True, "b2", 2)]
    case.close()
