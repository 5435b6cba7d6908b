"""SAFETY.md guards: no network at run time; forum text with URLs is never fetched."""

from __future__ import annotations

import socket

import pytest

import forumscope
from forumscope.cli.main import main
from conftest import write_forum


@pytest.fixture
def no_network(monkeypatch):
    attempts = []

    def refuse(self, address, *args, **kwargs):
        attempts.append(address)
        raise OSError("network access attempted during a test (SAFETY.md: no network at run time)")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", lambda *a, **k: refuse(None, a))
    monkeypatch.setattr(socket, "getaddrinfo", lambda *a, **k: refuse(None, a))
    return attempts


def test_ingest_info_and_export_never_touch_the_network(tmp_path, no_network, shared_data):
    forum = write_forum(tmp_path / "f", {"posts": [
        {"forum_id": "s", "id": "p1", "thread_id": "t1", "text": "see http://example.onion/x and https://example.org"},
    ], "attachments": [{"forum_id": "s", "id": "a1", "post_id": "p1", "file_name": "pic.jpg",
                        "declared_type": "image/jpeg", "size_bytes": 1234}]})
    assert main(["ingest", str(forum), "--case", str(tmp_path / "c")]) == 0
    assert main(["ingest", str(shared_data / "se-conlang-meta"), "--case", str(tmp_path / "c")]) == 0
    assert main(["info", "--case", str(tmp_path / "c"), "--json"]) == 0
    assert main(["export", "--case", str(tmp_path / "c"), "--format", "convokit", "--out", str(tmp_path / "ck"),
                 "--forum-id", "s"]) == 0
    assert no_network == []


def test_attachments_are_records_only(tmp_path):
    forum = write_forum(tmp_path / "f", {"attachments": [
        {"forum_id": "s", "id": "a1", "file_name": "patch.zip", "size_bytes": 10, "sha256": "ab" * 32}]})
    forumscope.ingest_sources([forum], tmp_path / "c")
    with forumscope.open_case(tmp_path / "c") as c:
        cols = [f.name for f in c.table("attachments").schema]
    assert not any(x in cols for x in ("data", "bytes", "content", "blob"))


def test_no_fetchone_in_library_code():
    """DuckDB 2 leaves a result open after fetchone(), and the next statement on the connection fails
    ('unfinished result'); library code uses fetchall() (a real bug this guards against)."""
    from conftest import REPO

    offenders = [str(p.relative_to(REPO)) for p in (REPO / "src").rglob("*.py") if ".fetchone(" in p.read_text()]
    assert offenders == []
