"""The canonical format and the loader, checked by hand on a tiny forum."""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import hashlib
import json

import pytest

import forumscope
from forumscope.errors import InputError, UsageError
from forumscope.store.case import open_case
from conftest import tiny_tables, write_forum


def rows(case, sql):
    return case.con.execute(sql).fetchall()


def test_tiny_forum_is_stored_and_derived(tiny_forum, tmp_path):
    r = forumscope.ingest_sources([tiny_forum], tmp_path / "case")
    assert r.formats == ["canonical"]
    assert r.balanced
    rec = r.reconciliation
    assert rec["posts"]["read"] == 5 and rec["posts"]["stored"] == 5 and rec["posts"]["rejected"] == 0
    assert rec["users"]["stored"] == 4
    assert rec["interactions"] == {"read": 1, "stored": 1, "merged": 0, "unchanged": 0, "rejected": 0, "derived": 3}
    with open_case(tmp_path / "case") as c:
        # thread and board derived from the parent chain p3 -> p2 -> p1 (t1, b1)
        assert rows(c, "SELECT id, thread_id, board_id, position FROM posts ORDER BY id") == [
            ("p1", "t1", "b1", 0), ("p2", "t1", "b1", 1), ("p3", "t1", "b1", 2),
            ("p4", "t2", "b2", 0), ("p5", "t2", "b2", 1)]
        # reply interactions from parent_id, with the parent's author as target
        assert rows(c, "SELECT id, source_user_id, target_user_id, target_post_id FROM interactions "
                       "WHERE kind='reply' ORDER BY id") == [
            ("reply:p2", "u2", "u1", "p1"), ("reply:p3", "u3", "u2", "p2"), ("reply:p5", "u2", "u1", "p4")]
        # the thanks: target user from the target post, time from the carrying post, id derived
        (tid, tgt, when), = rows(c, "SELECT id, target_user_id, created_at FROM interactions WHERE kind='thanks'")
        assert tid.startswith("auto:") and tgt == "u1" and when == dt.datetime(2020, 2, 2, 9, 30)
        # threads: first post, author and start from the posts
        assert rows(c, "SELECT id, first_post_id, author_id, created_at FROM threads ORDER BY id") == [
            ("t1", "p1", "u1", dt.datetime(2020, 2, 1, 10)), ("t2", "p4", "u1", dt.datetime(2020, 2, 2, 9))]
        # times: offset converted to UTC, epoch seconds accepted
        assert dict(rows(c, "SELECT id, registered_at FROM users")) == {
            "u1": dt.datetime(2020, 1, 1), "u2": dt.datetime(2020, 1, 1, 23), "u3": dt.datetime(2020, 1, 1),
            "u4": dt.datetime(2020, 1, 3)}
        assert rows(c, "SELECT min_posts FROM boards WHERE id='b2'") == [(2,)]
        assert c.count("rejects") == 0 and c.count("flags") == 0
        ev = rows(c, "SELECT path, sha256, size_bytes, status FROM evidence ORDER BY path")
        assert len(ev) == 6
        posts_file = tiny_forum / "posts.ndjson"
        assert (str(posts_file.resolve()) if False else None) is None
        digest = hashlib.sha256(posts_file.read_bytes()).hexdigest()
        assert any(sha == digest and size == posts_file.stat().st_size for _, sha, size, _ in ev)
    manifest = list(csv.DictReader(open(tmp_path / "case" / "evidence.csv")))
    assert len(manifest) == 6 and all(m["status"] == "ingested" for m in manifest)


def test_csv_and_gzip_give_the_same_case(tiny_forum, tmp_path):
    tables = tiny_tables()
    folder = tmp_path / "csvforum"
    folder.mkdir()
    for name, rs in tables.items():
        fields = sorted({k for r in rs for k in r})
        if name == "posts":  # gzipped NDJSON for one table
            with gzip.open(folder / "posts.ndjson.gz", "wt") as fh:
                fh.writelines(json.dumps(r) + "\n" for r in rs)
            continue
        with open(folder / f"{name}.csv", "w", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=fields)
            w.writeheader()
            w.writerows(rs)
    a = forumscope.ingest_sources([tiny_forum], tmp_path / "a")
    b = forumscope.ingest_sources([folder], tmp_path / "b")
    assert a.reconciliation == b.reconciliation
    with open_case(tmp_path / "a") as ca, open_case(tmp_path / "b") as cb:
        for t in ("users", "posts", "threads", "interactions", "boards"):
            q = f"SELECT * FROM {t} ORDER BY ALL"
            assert rows(ca, q) == rows(cb, q), t


def test_reingest_changes_nothing(tiny_forum, tmp_path):
    forumscope.ingest_sources([tiny_forum], tmp_path / "case")
    with open_case(tmp_path / "case") as c:
        before = {t: rows(c, f"SELECT * FROM {t} ORDER BY ALL") for t in ("posts", "users", "interactions", "threads")}
    r = forumscope.ingest_sources([tiny_forum], tmp_path / "case")
    assert all(v["stored"] == 0 and v["rejected"] == 0 and v["unchanged"] == v["read"]
               for v in r.reconciliation.values())
    assert {e["status"] for e in r.evidence} == {"already_ingested"}
    with open_case(tmp_path / "case") as c:
        after = {t: rows(c, f"SELECT * FROM {t} ORDER BY ALL") for t in before}
        assert after == before
        assert rows(c, "SELECT count(*) FROM evidence WHERE status='already_ingested'") == [(6,)]


def test_overlapping_dump_merges_by_id_and_records_conflicts(tiny_forum, tmp_path):
    forumscope.ingest_sources([tiny_forum], tmp_path / "case")
    second = write_forum(tmp_path / "second", {"posts": [
        {"forum_id": "tiny", "id": "p1", "thread_id": "t1", "author_id": "u1", "created_at": "2020-02-01T10:00:00Z",
         "text": "hi all", "score": 7},                                   # adds a value: merged
        {"forum_id": "tiny", "id": "p2", "text": "EDITED"},                # differs: conflict, stored kept
        {"forum_id": "tiny", "id": "p6", "thread_id": "t1", "author_id": "u4", "parent_id": "p1",
         "created_at": "2020-03-01T00:00:00Z", "text": "new"},             # new
    ]})
    r = forumscope.ingest_sources([second], tmp_path / "case")
    assert r.reconciliation["posts"] == {"read": 3, "stored": 1, "merged": 1, "unchanged": 0, "rejected": 1,
                                         "derived": 0}
    with open_case(tmp_path / "case") as c:
        assert rows(c, "SELECT score, text FROM posts WHERE id='p1'") == [(7, "hi all")]
        assert rows(c, "SELECT text FROM posts WHERE id='p2'") == [("hello ann",)]
        (reason, line), = rows(c, "SELECT reason, line FROM rejects")
        assert reason.startswith("id_conflict") and "text" in reason and line == 2
        assert rows(c, "SELECT target_user_id FROM interactions WHERE id='reply:p6'") == [("u1",)]


def test_dry_run_writes_nothing(tiny_forum, tmp_path):
    r = forumscope.ingest_sources([tiny_forum], tmp_path / "new", dry_run=True)
    assert r.dry_run and r.reconciliation["posts"]["stored"] == 5
    assert not (tmp_path / "new").exists()
    forumscope.ingest_sources([tiny_forum], tmp_path / "case")
    snapshot = {p.name: p.read_bytes() for p in (tmp_path / "case").iterdir() if p.is_file()}
    r = forumscope.ingest_sources([tiny_forum], tmp_path / "case", dry_run=True)
    assert r.reconciliation["posts"]["unchanged"] == 5  # it saw the stored rows
    after = {p.name: p.read_bytes() for p in (tmp_path / "case").iterdir() if p.is_file()}
    assert after == snapshot


def test_unknown_format_and_missing_source(tmp_path, tiny_forum):
    with pytest.raises(UsageError, match="unknown format"):
        forumscope.ingest_sources([tiny_forum], tmp_path / "c", fmt="nope")
    with pytest.raises(InputError, match="no such file"):
        forumscope.ingest_sources([tmp_path / "missing"], tmp_path / "c")
    (tmp_path / "odd").mkdir()
    (tmp_path / "odd" / "readme.txt").write_text("hello")
    with pytest.raises(InputError, match="could not recognise"):
        forumscope.ingest_sources([tmp_path / "odd"], tmp_path / "c")


def test_unknown_fields_are_reported_not_silently_dropped(tmp_path):
    f = write_forum(tmp_path / "f", {"users": [{"forum_id": "x", "id": "u1", "shoe_size": 44}]})
    r = forumscope.ingest_sources([f], tmp_path / "c")
    assert any("shoe_size" in n for n in r.notices)
    with open_case(tmp_path / "c") as c:
        assert rows(c, "SELECT flag, detail FROM flags") == [("unknown_field", "shoe_size")]


def test_table_access_api(tiny_forum, tmp_path):
    case = forumscope.create_case(tmp_path / "c")
    case.ingest([tiny_forum])
    assert case.table("posts").num_rows == 5
    df = case.df("users")
    assert sorted(df["name"]) == ["ann", "bob", "cyd", "lurker"]
    assert case.sql("SELECT count(*) AS n FROM posts WHERE author_id = ?", ["u1"]).to_pylist() == [{"n": 2}]
    case.close()


def test_duplicates_in_one_run_merge_when_they_only_add_values(tmp_path):
    f = write_forum(tmp_path / "f", {"interactions": [
        {"forum_id": "x", "id": "acc:1", "kind": "accept", "source_user_id": "u1", "target_post_id": "p2"},
        {"forum_id": "x", "id": "acc:1", "kind": "accept", "target_post_id": "p2", "created_at": "2020-05-05T00:00:00Z"},
        {"forum_id": "x", "id": "acc:1", "kind": "accept", "value": 3},
    ]})
    r = forumscope.ingest_sources([f], tmp_path / "c")
    assert r.reconciliation["interactions"] == {"read": 3, "stored": 1, "merged": 2, "unchanged": 0, "rejected": 0,
                                                "derived": 0}
    with open_case(tmp_path / "c") as c:
        assert rows(c, "SELECT source_user_id, target_post_id, created_at, value FROM interactions") == [
            ("u1", "p2", dt.datetime(2020, 5, 5), 3.0)]
    again = forumscope.ingest_sources([f], tmp_path / "c")  # nothing new the second time
    assert again.reconciliation["interactions"]["unchanged"] == 3
