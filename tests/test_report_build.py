"""Report model on tiny forums: which forum a report covers, stale runs, forum text as labels, figures without data."""

from __future__ import annotations

import json

import pytest
from conftest import tiny_tables, write_forum

from forumscope.errors import UsageError
from forumscope.ingest.run import ingest
from forumscope.pipeline.runner import run_steps
from forumscope.report import build_report
from forumscope.store.case import open_case


def test_report_covers_one_forum_and_names_the_others(tmp_path):
    small = tiny_tables()
    big = json.loads(json.dumps(tiny_tables()).replace('"tiny"', '"big"'))
    big["posts"] += [dict(big["posts"][0], id=f"x{i}") for i in range(4)]
    write_forum(tmp_path / "a", small)
    write_forum(tmp_path / "b", big)
    ingest([tmp_path / "a", tmp_path / "b"], tmp_path / "case", "canonical")
    with open_case(tmp_path / "case") as c:
        r = build_report(c, "researcher")
        assert r.meta["forum"]["id"] == "big" and r.meta["other_forums"] == ["tiny"]
        assert r.section("overview").facts[0].value == 9
        assert any("holds 2 forums" in p for p in r.section("limitations").paragraphs)
        r = build_report(c, "researcher", "tiny")
        assert r.meta["forum"]["id"] == "tiny" and r.section("overview").facts[0].value == 5
        with pytest.raises(UsageError, match="no forum 'nope'"):
            build_report(c, "public", "nope")


def test_runs_made_before_new_data_are_marked_stale(tiny_forum, tmp_path):
    ingest([tiny_forum], tmp_path / "case", "canonical")
    with open_case(tmp_path / "case") as c:
        run_steps(c, ["hierarchy"])
        assert build_report(c, "investigator").section("status").steps[0].status == "ok"
    posts = tiny_forum / "posts.ndjson"
    posts.write_text(posts.read_text() + json.dumps({"forum_id": "tiny", "id": "p9", "thread_id": "t1",
                                                     "author_id": "u3", "text": "late"}) + "\n")
    ingest([tiny_forum], tmp_path / "case", "canonical")
    with open_case(tmp_path / "case") as c:
        r = build_report(c, "investigator")
        run = r.section("status").steps[0]
        assert run.status == "stale" and "changed after this run" in run.note
        assert any("stale" in p and "hierarchy" in p for p in r.section("limitations").paragraphs)
        assert r.section("status").status == "ok"  # still shown, marked


def test_forum_text_labels_are_redacted_outside_the_investigator_report(tmp_path):
    t = tiny_tables()
    t["boards"][0]["name"] = "Mail admin@example.org or see http://mirror.example.net"
    t["threads"][0]["title"] = "ask 10.0.0.7 about it"
    write_forum(tmp_path / "f", t)
    ingest([tmp_path / "f"], tmp_path / "case", "canonical")
    with open_case(tmp_path / "case") as c:
        inv, res, pub = (build_report(c, a) for a in ("investigator", "researcher", "public"))
    names = lambda r: [row["name"] for row in r.table("overview.boards").rows]  # noqa: E731
    assert "Mail admin@example.org or see http://mirror.example.net" in names(inv)
    assert "Mail [e-mail] or see [url]" in names(res) and "Mail [e-mail] or see [url]" in names(pub)
    assert [x["title"] for x in res.table("overview.threads").rows if "ask" in x["title"]] == ["ask [ip] about it"]
    assert "overview.threads" not in pub.tables()
    spec = json.dumps([f.spec for s in pub.sections for f in s.figures])
    assert "example" not in spec and "example" not in json.dumps(pub.to_json())


def test_a_chart_whose_values_are_all_hidden_is_left_out(tiny_forum, tmp_path):
    ingest([tiny_forum], tmp_path / "case", "canonical")
    with open_case(tmp_path / "case") as c:
        pub, inv = build_report(c, "public"), build_report(c, "investigator")
    # 5 posts in 1 month: the public monthly chart would be empty, so it is not drawn; the table says why
    assert [f.id for f in pub.section("overview").figures if f.id == "overview.posts-per-month"] == []
    assert pub.table("overview.months").rows[0]["posts"] == "<10"
    assert any(f.id == "overview.posts-per-month" for f in inv.section("overview").figures)
