"""Real public data and synthetic forums ingest end to end with reconciled counts."""

from __future__ import annotations

import json
import re

import pytest

import forumscope
from forumscope.store.case import open_case

SE_FOLDERS = ["se-bicycles-meta", "se-cardano", "se-conlang-meta", "se-history-meta"]


def count_rows(path, pattern=None):
    if not path.exists():
        return 0
    n = 0
    rx = re.compile(pattern) if pattern else None
    with open(path, encoding="utf-8-sig") as fh:
        for line in fh:
            if line.lstrip().startswith("<row") and (rx is None or rx.search(line)):
                n += 1
    return n


def test_all_four_stack_exchange_dumps_into_one_case(shared_data, tmp_path):
    sources = [shared_data / f for f in SE_FOLDERS]
    r = forumscope.ingest_sources(sources, tmp_path / "se")
    assert r.formats == ["stackexchange"] * 4
    assert r.balanced and r.rejected == 0, r.reconciliation
    with open_case(tmp_path / "se") as c:
        assert sorted(x for (x,) in c.con.execute("SELECT id FROM forums").fetchall()) == SE_FOLDERS
        for folder in SE_FOLDERS:
            d = shared_data / folder
            answers = count_rows(d / "Posts.xml", r'PostTypeId="2"')
            comments = count_rows(d / "Comments.xml")
            (replies,) = c.con.execute("SELECT count(*) FROM interactions WHERE forum_id = ? AND kind = 'reply'",
                                       [folder]).fetchall()[0]
            assert replies == answers + comments, folder  # every answer and comment is a derived reply
            (questions,) = c.con.execute("SELECT count(*) FROM posts WHERE forum_id = ? AND kind = 'question'",
                                         [folder]).fetchall()[0]
            assert questions == count_rows(d / "Posts.xml", r'PostTypeId="1"')
            (users,) = c.con.execute("SELECT count(*) FROM users WHERE forum_id = ?", [folder]).fetchall()[0]
            assert users == count_rows(d / "Users.xml")
            # the reputation ladder is loaded with thresholds and every user holds a rank
            assert c.con.execute("SELECT count(*) FROM ranks WHERE forum_id = ? AND min_reputation IS NULL",
                                 [folder]).fetchall()[0][0] == 0
            assert c.con.execute("SELECT count(*) FROM users WHERE forum_id = ? AND rank_id IS NULL AND "
                                 "reputation >= 1", [folder]).fetchall()[0][0] == 0
        # anonymous voters stay anonymous
        assert c.con.execute("SELECT count(*) FROM interactions WHERE kind = 'vote' AND value = 1 "
                             "AND source_user_id IS NOT NULL").fetchall()[0][0] == 0


@pytest.mark.parametrize("posts", [1000, 5000])
def test_synthetic_forum_ingests_and_matches_its_truth(tmp_path, posts):
    from forumscope.synth import generate

    forum = tmp_path / "forum"
    generate(forum, posts=posts, seed=3)
    truth = json.loads((forum / "truth.json").read_text())
    r = forumscope.ingest_sources([forum], tmp_path / "case")
    assert r.balanced and r.rejected == 0, r.reconciliation
    assert r.reconciliation["posts"]["stored"] == posts
    with open_case(tmp_path / "case") as c:
        from forumscope.store.summary import case_summary

        s = case_summary(c)
        assert s["members"]["registered"] == truth["members"]["registered"]
        assert s["members"]["lurkers"] == truth["members"]["lurkers"]
        assert c.count("flags") == 0


@pytest.mark.slow
@pytest.mark.parametrize("posts", [100_000, 1_000_000])
def test_large_synthetic_forums_ingest(tmp_path, posts):
    from forumscope.synth import generate

    forum = tmp_path / "forum"
    generate(forum, posts=posts, seed=1)
    r = forumscope.ingest_sources([forum], tmp_path / "case")
    assert r.balanced and r.rejected == 0
    assert r.reconciliation["posts"]["stored"] == posts
