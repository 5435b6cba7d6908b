"""Broken and hostile input: each test fails without the protection it names."""

from __future__ import annotations

import io
import json
import tarfile
import zipfile

import pytest

import forumscope
from forumscope.errors import InputError
from forumscope.ingest import archive
from forumscope.store.case import open_case
from conftest import write_forum

F = "h"


def post(i, **kw):
    return {"forum_id": F, "id": f"p{i}", "thread_id": "t1", "author_id": "u1", "text": f"post {i}", **kw}


def rows(case, sql):
    return case.con.execute(sql).fetchall()


def test_truncated_ndjson_keeps_every_complete_record(tmp_path):
    d = tmp_path / "f"
    d.mkdir()
    lines = [json.dumps(post(i)) for i in range(5)]
    (d / "posts.ndjson").write_text("\n".join(lines[:4]) + "\n" + lines[4][:17])  # cut mid-record
    r = forumscope.ingest_sources([d], tmp_path / "c")
    assert r.reconciliation["posts"] == {"read": 5, "stored": 4, "merged": 0, "unchanged": 0, "rejected": 1,
                                         "derived": 0}
    with open_case(tmp_path / "c") as c:
        (reason, line, offset, excerpt), = rows(c, "SELECT reason, line, byte_offset, excerpt FROM rejects")
        assert reason.startswith("truncated") and line == 5
        assert offset == sum(len(x) + 1 for x in lines[:4]) and excerpt == lines[4][:17]


def test_invalid_utf8_line_is_rejected_with_position(tmp_path):
    d = tmp_path / "f"
    d.mkdir()
    good = (json.dumps(post(1)) + "\n").encode()
    bad = b'{"forum_id":"h","id":"p2","thread_id":"t1","text":"caf\xe9 \xff"}\n'
    (d / "posts.ndjson").write_bytes(good + bad + good.replace(b"p1", b"p3"))
    r = forumscope.ingest_sources([d], tmp_path / "c")
    assert r.reconciliation["posts"]["stored"] == 2 and r.reconciliation["posts"]["rejected"] == 1
    with open_case(tmp_path / "c") as c:
        (reason, line, offset), = rows(c, "SELECT reason, line, byte_offset FROM rejects")
        assert reason.startswith("invalid_utf8") and line == 2 and offset == len(good)
        assert f"at byte {len(good) + bad.index(bytes([0xe9]))}" in reason


def test_duplicate_ids_with_different_content(tmp_path):
    d = write_forum(tmp_path / "f", {"posts": [post(1), post(1), post(1, text="changed"), post(2)]})
    r = forumscope.ingest_sources([d], tmp_path / "c")
    assert r.reconciliation["posts"] == {"read": 4, "stored": 2, "merged": 0, "unchanged": 1, "rejected": 1,
                                         "derived": 0}
    with open_case(tmp_path / "c") as c:
        assert rows(c, "SELECT text FROM posts WHERE id='p1'") == [("post 1",)]  # the first is kept
        (reason, line), = rows(c, "SELECT reason, line FROM rejects")
        assert reason.startswith("duplicate_conflict") and "text" in reason and line == 3


def test_replies_to_missing_posts_are_kept_and_flagged(tmp_path):
    d = write_forum(tmp_path / "f", {"posts": [post(1), post(2, parent_id="p404")]})
    r = forumscope.ingest_sources([d], tmp_path / "c")
    assert r.reconciliation["posts"]["stored"] == 2
    with open_case(tmp_path / "c") as c:
        assert rows(c, "SELECT record_id, detail, line FROM flags WHERE flag='missing_parent'") == [
            ("p2", "parent_id=p404", 2)]
        # the reply interaction is kept, with no target user yet
        assert rows(c, "SELECT target_post_id, target_user_id FROM interactions") == [("p404", None)]


def test_unparseable_and_far_future_timestamps(tmp_path):
    d = write_forum(tmp_path / "f", {"posts": [
        post(1, created_at="2021-05-05T05:05:05Z"), post(2, created_at="yesterday-ish"),
        post(3, created_at="3021-01-01T00:00:00Z"), post(4, created_at="1970-01-01T00:00:00Z")]})
    r = forumscope.ingest_sources([d], tmp_path / "c")
    assert r.reconciliation["posts"]["stored"] == 4  # kept, time emptied, flagged
    with open_case(tmp_path / "c") as c:
        assert rows(c, "SELECT id FROM posts WHERE created_at IS NOT NULL") == [("p1",)]
        assert rows(c, "SELECT record_id, flag FROM flags WHERE flag LIKE '%time' ORDER BY record_id") == [
            ("p2", "bad_time"), ("p3", "future_time"), ("p4", "implausible_time")]


def test_fifty_megabyte_post_is_stored_intact(tmp_path):
    d = tmp_path / "f"
    d.mkdir()
    big = "word " * (10 * 1024 * 1024)  # 50 MiB of text in one record
    with open(d / "posts.ndjson", "w") as fh:
        fh.write(json.dumps(post(1)) + "\n")
        fh.write(json.dumps(post(2, text=big)) + "\n")
    r = forumscope.ingest_sources([d], tmp_path / "c")
    assert r.reconciliation["posts"]["stored"] == 2
    with open_case(tmp_path / "c") as c:
        assert rows(c, "SELECT length(text) FROM posts WHERE id='p2'") == [(len(big),)]
    # with a lower limit in the case settings it is rejected, with its size, not truncated
    forumscope.create_case(tmp_path / "small", settings={"ingest": {"max_record_bytes": 1024 * 1024}}).close()
    r = forumscope.ingest_sources([d], tmp_path / "small")
    assert r.reconciliation["posts"]["stored"] == 1 and r.reconciliation["posts"]["rejected"] == 1
    with open_case(tmp_path / "small") as c:
        (reason, line), = rows(c, "SELECT reason, line FROM rejects")
        assert reason.startswith("too_large") and line == 2


def test_not_an_object_and_garbage_lines(tmp_path):
    d = tmp_path / "f"
    d.mkdir()
    (d / "users.ndjson").write_text('{"forum_id":"h","id":"u1"}\n[1,2,3]\nnot json at all\n\n{"forum_id":"h"}\n')
    r = forumscope.ingest_sources([d], tmp_path / "c")
    assert r.reconciliation["users"] == {"read": 4, "stored": 1, "merged": 0, "unchanged": 0, "rejected": 3,
                                         "derived": 0}
    with open_case(tmp_path / "c") as c:
        got = rows(c, "SELECT line, split_part(reason, ':', 1) FROM rejects ORDER BY line")
        assert got == [(2, "not_an_object"), (3, "invalid_json"), (5, "missing_required")]


def _zip(path, members):
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return path


def test_archive_members_with_dotdot_or_absolute_paths_are_refused(tmp_path):
    users = b'{"forum_id":"h","id":"u1"}\n'
    z = _zip(tmp_path / "evil.zip", {"users.ndjson": users, "../escape.ndjson": b"x", "/abs/evil.ndjson": b"y",
                                     "a/../../up.ndjson": b"z"})
    r = forumscope.ingest_sources([z], tmp_path / "case")
    assert r.reconciliation["users"]["stored"] == 1
    assert sorted(why for _, why in r.refused) == ["'..' in path", "'..' in path", "absolute path"]
    for p in (tmp_path / "escape.ndjson", tmp_path / "up.ndjson", tmp_path / "case" / "escape.ndjson"):
        assert not p.exists()
    assert not any(p.name in ("escape.ndjson", "up.ndjson", "evil.ndjson") for p in tmp_path.rglob("*"))


def test_tar_links_and_traversal_are_refused(tmp_path):
    t = tmp_path / "evil.tar.gz"
    with tarfile.open(t, "w:gz") as tf:
        data = b'{"forum_id":"h","id":"u1"}\n'
        info = tarfile.TarInfo("users.ndjson")
        info.size = len(data)
        tf.addfile(info, io.BytesIO(data))
        link = tarfile.TarInfo("posts.ndjson")
        link.type = tarfile.SYMTYPE
        link.linkname = "/etc/passwd"
        tf.addfile(link)
        up = tarfile.TarInfo("../../outside.ndjson")
        up.size = 1
        tf.addfile(up, io.BytesIO(b"x"))
    dest = tmp_path / "out"
    ex = archive.extract(t, dest, max_bytes=10**6, max_members=10)
    assert [n for n, *_ in ex.members] == ["users.ndjson"]
    assert {n for n, _ in ex.refused} == {"posts.ndjson", "../../outside.ndjson"}
    assert not (tmp_path / "outside.ndjson").exists() and not (dest / "posts.ndjson").exists()


def test_archive_expanding_past_the_limit_is_refused(tmp_path):
    bomb = _zip(tmp_path / "bomb.zip", {"posts.ndjson": b"\n" * (30 * 1024 * 1024)})  # 30 MiB of newlines
    assert bomb.stat().st_size < 200_000
    forumscope.create_case(tmp_path / "c", settings={"ingest": {"max_archive_bytes": 10 * 1024 * 1024}}).close()
    with pytest.raises(InputError, match="expands past the limit"):
        forumscope.ingest_sources([bomb], tmp_path / "c")
    assert not list((tmp_path / "c" / ".tmp").rglob("*.ndjson"))  # nothing left behind


def test_archive_lying_about_sizes_is_still_stopped(tmp_path):
    # a zip whose header declares a tiny size: the running count stops it all the same
    dest = tmp_path / "out"
    z = _zip(tmp_path / "z.zip", {"posts.ndjson": b"a" * 5000})
    with pytest.raises(InputError, match="expands past the limit"):
        archive.extract(z, dest, max_bytes=1000, max_members=10)
    assert not dest.exists()


def test_media_inside_an_archive_is_skipped_counted_never_written(tmp_path):
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 100
    jpeg_disguised = b"\xff\xd8\xff\xe0" + b"\x00" * 100
    z = _zip(tmp_path / "m.zip", {"users.ndjson": b'{"forum_id":"h","id":"u1"}\n', "pics/a.png": png,
                                  "notes/readme.txt": jpeg_disguised, "clip.mp4": b"\x00\x00\x00\x18ftypmp42"})
    dest = tmp_path / "out"
    ex = archive.extract(z, dest, max_bytes=10**6, max_members=10)
    assert ex.media_skipped == 3
    assert [p.name for p in dest.rglob("*") if p.is_file()] == ["users.ndjson"]
    r = forumscope.ingest_sources([z], tmp_path / "case")
    assert r.skipped.get("media member (never written)") == 3
    assert r.reconciliation["users"]["stored"] == 1
    with open_case(tmp_path / "case") as c:
        members = {m for (m,) in rows(c, "SELECT member FROM evidence WHERE member IS NOT NULL")}
        assert members == {"users.ndjson"}
    assert not any(p.suffix in (".png", ".mp4") for p in (tmp_path / "case").rglob("*"))


def test_archive_member_records_name_their_member(tmp_path):
    z = _zip(tmp_path / "f.zip", {"data/posts.ndjson": json.dumps(post(1)) + "\n{broken\n"})
    r = forumscope.ingest_sources([z], tmp_path / "case")
    assert r.reconciliation["posts"]["rejected"] == 1
    with open_case(tmp_path / "case") as c:
        (source, line), = rows(c, "SELECT source, line FROM rejects")
        assert source.endswith("f.zip!data/posts.ndjson") and line == 2
