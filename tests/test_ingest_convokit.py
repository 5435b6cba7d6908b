"""Tests of the ConvoKit corpus reader and exporter: exact mapping on tiny hand-written
corpora (current and older layouts), bad lines and bad files, the exported folder's
structure (what ConvoKit's loader relies on), bounded streaming, and the round trip
forum -> case -> ConvoKit corpus -> another case (same posts, users and threads)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from forumscope.errors import InputError, UsageError
from forumscope.ingest.base import ReadOptions
from forumscope.ingest.convokit import ConvoKitReader, IdSet
from conftest import RecordingSink as _RecordingSink

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


class RecordingSink(_RecordingSink):
    """The shared recording sink, also checking that values are plain (the ConvoKit reader converts)."""

    def __init__(self) -> None:
        super().__init__(plain_values=True)


def read(path: Path, **opts: Any) -> RecordingSink:
    sink = RecordingSink()
    ConvoKitReader().read(path, sink, ReadOptions(**opts))
    return sink


def jdump(p: Path, obj: Any) -> None:
    p.write_text(json.dumps(obj), encoding="utf-8")


def by_id(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {r["id"]: r for r in rows}


# ---------------------------------------------------------------- a hand-written corpus

def make_corpus(d: Path) -> list[bytes]:
    """A small corpus in the current layout, with a few bad lines. Returns the utterance lines."""
    d.mkdir(parents=True, exist_ok=True)
    lines = [
        json.dumps({"id": "c1", "speaker": "ann", "conversation_id": "c1", "reply-to": None,
                    "timestamp": 1600000000, "text": "Is fare dodging on night buses common?",
                    "meta": {"score": 3, "subreddit": "transit", "permalink": "/r/x"}, "vectors": []}).encode(),
        json.dumps({"id": "c2", "speaker": "bo", "conversation_id": "c1", "reply-to": "c1",
                    "timestamp": 1600000060.5, "text": "Everyone does it, nobody gets hurt.",
                    "meta": {"score": -1, "gilded": 0}, "vectors": []}).encode(),
        b"{not json",
        "{\"id\": \"c3\", \"text\": \"caf\xe9\"}".encode("latin-1"),
        b"[1, 2, 3]",
        b"",
        json.dumps({"id": 7, "speaker": "cy", "conversation_id": "c1", "reply_to": "c2",
                    "timestamp": "2020-09-13T12:30:00", "text": "<b>\"quoted\"</b> \\ \n \u2603 \U0001F600",
                    "meta": {}}).encode(),
        json.dumps({"id": "d1", "speaker": "ann", "conversation_id": "d-conv", "reply-to": None,
                    "timestamp": "1600000100", "text": "Another thread", "meta": {"title": "Game cracks"}}).encode(),
        json.dumps({"id": "bad", "speaker": {"nested": 1}, "conversation_id": "c1", "text": "x"}).encode(),
    ]
    (d / "utterances.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    jdump(d / "speakers.json", {"ann": {"meta": {"name": "Ann A."}, "vectors": []},
                                "bo": {"meta": {}, "vectors": []},
                                "lurker": {"meta": {"name": "Quiet"}, "vectors": []}})
    jdump(d / "conversations.json", {"c1": {"meta": {"title": "Night buses", "num_comments": 2, "stickied": False,
                                                      "domain": "self.transit"}, "vectors": []}})
    jdump(d / "corpus.json", {"name": "Transit talk", "num_posts": 2})
    jdump(d / "index.json", {"utterances-index": {"score": ["<class 'int'>"]}, "speakers-index": {},
                             "conversations-index": {}, "overall-index": {}, "version": 1, "vectors": []})
    (d / "score-bin.p").write_bytes(b"\x80\x04pickle never read")
    return lines


def test_reader_maps_a_corpus(tmp_path):
    d = tmp_path / "transit-corpus"
    lines = make_corpus(d)
    sink = read(d)
    assert sink.rows["forums"] == [{"id": "transit-corpus", "platform": "convokit", "name": "Transit talk",
                                    "_source": str(d / "corpus.json"), "_line": None, "_offset": None}]
    posts = by_id(sink.rows["posts"])
    assert set(posts) == {"c1", "c2", "7", "d1"}
    assert posts["c1"]["author_id"] == "ann" and posts["c1"]["thread_id"] == "c1"
    assert posts["c1"]["parent_id"] is None and posts["c1"]["created_at"] == 1600000000
    assert posts["c1"]["score"] == 3
    assert posts["c2"]["parent_id"] == "c1" and posts["c2"]["created_at"] == 1600000060.5
    assert posts["c2"]["score"] == -1
    assert posts["7"]["parent_id"] == "c2" and posts["7"]["created_at"] == "2020-09-13T12:30:00"
    assert posts["7"]["text"] == "<b>\"quoted\"</b> \\ \n \u2603 \U0001F600"
    assert posts["d1"]["title"] == "Game cracks" and posts["d1"]["created_at"] == "1600000100"
    assert all(p["forum_id"] == "transit-corpus" for p in posts.values())
    assert "board_id" not in posts["c1"]  # the loader takes it from the thread
    # provenance: line numbers and byte offsets
    offsets = [sum(len(x) + 1 for x in lines[:i]) for i in range(len(lines))]
    assert posts["7"]["_line"] == 7 and posts["7"]["_offset"] == offsets[6]
    rej = [(r["table"], r["line"], r["offset"], r["reason"].split(":")[0]) for r in sink.rejects]
    assert rej == [("posts", 3, offsets[2], "bad_json"), ("posts", 4, offsets[3], "bad_utf8"),
                   ("posts", 5, offsets[4], "not_an_object"), ("posts", 9, offsets[8], "bad_id")]
    # users: speakers.json (name from meta, else the id), plus speakers it does not list, once
    users = by_id(sink.rows["users"])
    assert {k: u["name"] for k, u in users.items()} == {"ann": "Ann A.", "bo": "bo", "lurker": "Quiet", "cy": "cy"}
    assert len(sink.rows["users"]) == 4
    # threads: conversations.json, plus conversations it does not list; boards from subreddit
    threads = by_id(sink.rows["threads"])
    assert threads["c1"]["title"] == "Night buses" and threads["c1"]["board_id"] == "transit"
    assert threads["c1"]["reply_count_reported"] == 2 and threads["c1"]["is_sticky"] is False
    assert threads["c1"]["first_post_id"] == "c1"
    # no utterance has the conversation's id: the loader picks the first post (by time)
    assert threads["d-conv"]["board_id"] == "main" and threads["d-conv"]["first_post_id"] is None
    assert "domain" not in threads["c1"]
    assert sorted(b["id"] for b in sink.rows["boards"]) == ["main", "transit"]
    # evidence for every file read; the pickle is counted, never read
    assert {p.name for p in sink.evidences} == {"utterances.jsonl", "speakers.json", "conversations.json",
                                                "corpus.json", "index.json"}
    assert sink.skips == [(str(d / "score-bin.p"), "convokit binary metadata (pickle), never read")]


def test_detect(tmp_path):
    d = tmp_path / "c"
    make_corpus(d)
    r = ConvoKitReader()
    assert r.detect(d) and r.detect(d / "utterances.jsonl")
    assert not r.detect(tmp_path)
    lone = tmp_path / "lone"
    lone.mkdir()
    (lone / "utterances.jsonl").write_text("{}\n")
    assert not r.detect(lone)  # a bare utterances.jsonl is too weak a signal
    irc = DATA / "irc-ubuntu-disentangle"
    if irc.is_dir():
        assert not r.detect(irc / "dev")


def test_older_layout_users_root_and_utterances_json(tmp_path):
    d = tmp_path / "old"
    d.mkdir()
    jdump(d / "utterances.json", [
        {"id": "u1", "user": "x", "root": "u1", "reply_to": None, "timestamp": 1500000000, "text": "a", "meta": {}},
        {"id": "u2", "user": "y", "root": "u1", "reply_to": "u1", "timestamp": 1500000001, "text": "b",
         "meta": {"score": 2}},
        "not an object",
    ])
    jdump(d / "users.json", {"x": {"name": "Ex"}, "y": {}})  # old layout: id -> meta
    jdump(d / "conversations.json", {"u1": {"title": "Old", "board": "b1"}})
    jdump(d / "corpus.json", {})
    sink = read(d, forum_id="f", forum_name="Old corpus")
    assert {p["id"]: (p["author_id"], p["thread_id"], p["parent_id"]) for p in sink.rows["posts"]} == {
        "u1": ("x", "u1", None), "u2": ("y", "u1", "u1")}
    assert {u["id"]: u["name"] for u in sink.rows["users"]} == {"x": "Ex", "y": "y"}
    assert sink.rows["threads"][0]["board_id"] == "b1" and sink.rows["threads"][0]["title"] == "Old"
    assert sink.rows["forums"][0]["id"] == "f" and sink.rows["forums"][0]["name"] == "Old corpus"
    assert [(r["record"], r["reason"].split(":")[0]) for r in sink.rejects] == [(3, "not_an_object")]


def test_broken_companion_files_are_rejected_and_reading_goes_on(tmp_path):
    d = tmp_path / "broken"
    d.mkdir()
    (d / "utterances.jsonl").write_text(json.dumps({"id": "a", "speaker": "s1", "conversation_id": "a",
                                                    "reply-to": None, "timestamp": 1600000000, "text": "t"}) + "\n")
    (d / "speakers.json").write_text('{"s0": {"meta": {}, "vectors": []}, "s1": {"meta": {"name": "One"}, "vec')
    (d / "conversations.json").write_text('["not", "an", "object"]')
    (d / "corpus.json").write_text('{"name": "ok"}')
    sink = read(d)
    assert [p["id"] for p in sink.rows["posts"]] == ["a"]
    assert [(r["table"], r["reason"].split(":")[0], r["record"]) for r in sink.rejects] == [
        ("users", "bad_json", 2), ("threads", "not_an_object", 1)]
    # s1 was cut off in speakers.json: it still becomes a user (from the utterance), s0 too
    assert {u["id"]: u["name"] for u in sink.rows["users"]} == {"s0": "s0", "s1": "s1"}
    assert [t["id"] for t in sink.rows["threads"]] == ["a"]


def test_board_from_utterance_or_corpus_meta(tmp_path):
    d = tmp_path / "b"
    d.mkdir()
    utts = [{"id": "x1", "speaker": "s", "conversation_id": "x1", "reply-to": None, "timestamp": 1600000000,
             "text": "t", "meta": {"subreddit": "fromutt"}},
            {"id": "y1", "speaker": "s", "conversation_id": "y1", "reply-to": None, "timestamp": 1600000000,
             "text": "t", "meta": {}}]
    (d / "utterances.jsonl").write_text("\n".join(json.dumps(u) for u in utts) + "\n")
    jdump(d / "conversations.json", {"x1": {"meta": {}, "vectors": []}})
    jdump(d / "corpus.json", {"subreddit": "corpuswide"})
    threads = by_id(read(d).rows["threads"])
    assert threads["x1"]["board_id"] == "fromutt" and threads["y1"]["board_id"] == "corpuswide"
    threads = by_id(read(d, extra={"board": "forced"}).rows["threads"])
    assert threads["y1"]["board_id"] == "forced"


def test_over_long_utterance_is_rejected(tmp_path):
    d = tmp_path / "long"
    d.mkdir()
    big = json.dumps({"id": "big", "speaker": "s", "conversation_id": "big", "text": "x" * 5000})
    small = json.dumps({"id": "small", "speaker": "s", "conversation_id": "small", "text": "y"})
    (d / "utterances.jsonl").write_text(big + "\n" + small + "\n")
    jdump(d / "corpus.json", {})
    sink = read(d, max_record_bytes=1000)
    assert [p["id"] for p in sink.rows["posts"]] == ["small"]
    assert sink.rejects[0]["reason"].startswith("too_large") and sink.rejects[0]["line"] == 1


def test_not_a_corpus(tmp_path):
    with pytest.raises(InputError):
        ConvoKitReader().read(tmp_path, RecordingSink(), ReadOptions())


def test_idset():
    s = IdSet()
    assert s.contains(["a"]) == [False]
    for i in range(1000):
        s.add(f"id{i}")
    s.add("id5")
    assert len(s) == 1000
    assert s.contains(["id0", "id999", "nope", "id5"]) == [True, True, False, True]
    s.add("late")
    assert s.contains(["late", "id1"]) == [True, True]
    assert len(s) == 1001


def test_memory_is_bounded_by_batches_not_utterances(tmp_path, monkeypatch):
    """20,000 utterances in 10 conversations, batches of 1,000: the reader holds one batch and
    per-conversation state, never the utterances (holding them all takes more than 15 MB)."""
    import tracemalloc

    import forumscope.ingest.convokit as ck

    d = tmp_path / "many"
    d.mkdir()
    with open(d / "utterances.jsonl", "w") as fh:
        for i in range(20_000):
            fh.write(json.dumps({"id": f"u{i}", "speaker": f"s{i % 100}", "conversation_id": f"c{i % 10}",
                                 "reply-to": None, "timestamp": 1600000000 + i, "text": "benign text " * 5}) + "\n")
    jdump(d / "corpus.json", {})

    class CountingSink(RecordingSink):
        def emit(self, table, columns):
            self.rows[table].append({"n": len(next(iter(columns.values())))})

    monkeypatch.setattr(ck, "BATCH_ROWS", 1000)
    sink = CountingSink()
    tracemalloc.start()
    ConvoKitReader().read(d, sink, ReadOptions())
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert sum(r["n"] for r in sink.rows["posts"]) == 20_000
    assert max(r["n"] for r in sink.rows["posts"]) == 1000
    assert sum(r["n"] for r in sink.rows["users"]) == 100
    assert sum(r["n"] for r in sink.rows["threads"]) == 10
    assert peak < 6 * 1024 * 1024


# ---------------------------------------------------------------- export and round trip

def _loader_available() -> bool:
    try:
        import forumscope.ingest.run  # noqa: F401
        import forumscope.store.case  # noqa: F401
    except ImportError:
        return False
    return True


needs_loader = pytest.mark.skipif(not _loader_available(), reason="the loader is not there yet")

HOSTILE = "</script><script>alert(1)</script> \"q\" 'a' \\ back\nslash\t\u2603 \U0001F600 \u202e rtl"


def write_tiny_forum(d: Path) -> None:
    """A tiny benign forum in the canonical format (one NDJSON file per table)."""
    d.mkdir(parents=True)

    def nd(name: str, rows: list[dict[str, Any]]) -> None:
        (d / f"{name}.ndjson").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")

    nd("forums", [{"id": "tiny", "name": "Tiny Forum", "platform": "synthetic"}])
    nd("boards", [{"forum_id": "tiny", "id": "b1", "name": "General"},
                  {"forum_id": "tiny", "id": "b2", "name": "Help"}])
    nd("users", [{"forum_id": "tiny", "id": "u1", "name": "Ann"}, {"forum_id": "tiny", "id": "u2", "name": "Bo"},
                 {"forum_id": "tiny", "id": "u3", "name": "Cy"}, {"forum_id": "tiny", "id": "u4", "name": "Lurker"}])
    nd("threads", [
        {"forum_id": "tiny", "id": "t1", "board_id": "b1", "title": "Fare dodging on trams"},
        {"forum_id": "tiny", "id": "t2", "board_id": "b2", "title": "Cracked games", "is_sticky": True,
         "reply_count_reported": 1},
        {"forum_id": "tiny", "id": "t3", "board_id": "b1", "title": "Title with \"quotes\"\nand a newline",
         "is_locked": False},
    ])
    nd("posts", [
        {"forum_id": "tiny", "id": "p1", "thread_id": "t1", "author_id": "u1",
         "created_at": "2021-03-04T05:06:07", "text": "Does anyone pay on the late tram?", "score": 4},
        {"forum_id": "tiny", "id": "p2", "thread_id": "t1", "author_id": "u2", "parent_id": "p1",
         "created_at": "2021-03-04T05:10:00.250", "text": "Nobody checks, it is a victimless thing."},
        {"forum_id": "tiny", "id": "p3", "thread_id": "t1", "author_id": "u3", "parent_id": "p2",
         "created_at": "2021-03-04T06:00:00", "text": "I got fined once. Not worth it.", "score": -2},
        {"forum_id": "tiny", "id": "p4", "thread_id": "t1", "author_id": "u1",
         "created_at": "2021-03-05T00:00:00", "text": "flat reply without a parent"},
        {"forum_id": "tiny", "id": "p5", "thread_id": "t2", "author_id": "u2", "title": "Where to get cracks?",
         "created_at": "2021-04-01T10:00:00", "text": HOSTILE},
        {"forum_id": "tiny", "id": "p6", "thread_id": "t2", "author_id": "u3", "parent_id": "p5",
         "created_at": "2021-04-01T10:05:00", "text": "Buy it on sale instead."},
        {"forum_id": "tiny", "id": "p7", "thread_id": "t3", "author_id": "u1", "parent_id": "p6",
         "created_at": "2021-04-02T00:00:00", "text": "Cross-thread reply."},
        {"forum_id": "tiny", "id": "p8", "thread_id": "t3", "author_id": "u2",
         "created_at": None, "text": ""},
    ])


def check_convokit_layout(d: Path) -> dict[str, Any]:
    """What convokit's Corpus(filename=d) relies on (from its loader and dump code)."""
    assert {p.name for p in d.iterdir()} == {"utterances.jsonl", "speakers.json", "conversations.json",
                                             "corpus.json", "index.json"}
    utts = [json.loads(line) for line in (d / "utterances.jsonl").read_text(encoding="utf-8").splitlines()]
    speakers = json.loads((d / "speakers.json").read_text(encoding="utf-8"))
    convos = json.loads((d / "conversations.json").read_text(encoding="utf-8"))
    corpus = json.loads((d / "corpus.json").read_text(encoding="utf-8"))
    index = json.loads((d / "index.json").read_text(encoding="utf-8"))
    ids = [u["id"] for u in utts]
    assert len(ids) == len(set(ids))
    for u in utts:
        assert set(u) == {"id", "speaker", "conversation_id", "reply-to", "timestamp", "text", "meta", "vectors"}
        assert isinstance(u["id"], str) and isinstance(u["text"], str) and isinstance(u["meta"], dict)
        assert u["speaker"] in speakers and u["conversation_id"] in convos
        assert u["timestamp"] is None or isinstance(u["timestamp"], (int, float))
    for entries in (speakers, convos):
        for v in entries.values():
            assert set(v) == {"meta", "vectors"} and isinstance(v["meta"], dict) and v["vectors"] == []
    assert isinstance(corpus, dict)
    assert set(index) == {"utterances-index", "speakers-index", "conversations-index", "overall-index",
                          "version", "vectors"}
    assert isinstance(index["version"], int)
    for key, metas in (("utterances-index", [u["meta"] for u in utts]),
                       ("speakers-index", [v["meta"] for v in speakers.values()]),
                       ("conversations-index", [v["meta"] for v in convos.values()]),
                       ("overall-index", [corpus])):
        for meta in metas:
            for k, v in meta.items():
                assert str(type(v)) in index[key][k]
        for types in index[key].values():
            assert types and all(t.startswith("<class '") for t in types)
    return {"utterances": utts, "speakers": speakers, "conversations": convos, "corpus": corpus, "index": index}


def _rows(case: Any, sql: str) -> list[dict[str, Any]]:
    return case.sql(sql).to_pylist()


@needs_loader
def test_round_trip_forum_case_convokit_case(tmp_path):
    from forumscope.export.convokit import export_convokit
    from forumscope.ingest.run import ingest
    from forumscope.store.case import open_case

    write_tiny_forum(tmp_path / "tiny")
    r1 = ingest([tmp_path / "tiny"], tmp_path / "case1", fmt="canonical")
    assert r1.rejected == 0
    with open_case(tmp_path / "case1") as case:
        res = export_convokit(case, tmp_path / "corpus")
    assert (res.forum_id, res.utterances, res.speakers, res.conversations) == ("tiny", 8, 4, 3)
    ck = check_convokit_layout(tmp_path / "corpus")
    utt = {u["id"]: u for u in ck["utterances"]}
    assert utt["p2"]["reply-to"] == "p1" and utt["p2"]["conversation_id"] == "t1"
    assert utt["p2"]["timestamp"] == 1614834600.25 and utt["p1"]["timestamp"] == 1614834367
    assert utt["p1"]["meta"] == {"score": 4} and utt["p5"]["meta"] == {"title": "Where to get cracks?"}
    assert utt["p5"]["text"] == HOSTILE
    assert utt["p8"]["timestamp"] is None
    assert ck["conversations"]["t2"]["meta"]["stickied"] is True
    assert ck["conversations"]["t1"]["meta"]["board"] == "b1"
    assert ck["speakers"]["u4"] == {"meta": {"name": "Lurker"}, "vectors": []}
    assert ck["corpus"] == {"name": "Tiny Forum"}

    r2 = ingest([tmp_path / "corpus"], tmp_path / "case2", fmt="auto", options=ReadOptions(forum_id="tiny"))
    assert r2.formats == ["convokit"] and r2.rejected == 0
    for table, c in r2.reconciliation.items():
        assert c["read"] == c["stored"] + c["merged"] + c["unchanged"] + c["rejected"], table

    post_sql = ("SELECT id, author_id, thread_id, parent_id, created_at, text, score, title, board_id, position "
                "FROM posts ORDER BY id")
    user_sql = "SELECT id, name FROM users ORDER BY id"
    thread_sql = ("SELECT id, board_id, title, author_id, created_at, first_post_id, is_sticky, is_locked, "
                  "reply_count_reported FROM threads ORDER BY id")
    inter_sql = "SELECT id, kind, source_user_id, target_user_id, post_id, target_post_id FROM interactions ORDER BY id"
    with open_case(tmp_path / "case1") as a, open_case(tmp_path / "case2") as b:
        for sql in (post_sql, user_sql, thread_sql, inter_sql):
            assert _rows(a, sql) == _rows(b, sql), sql
        assert _rows(b, "SELECT name FROM forums") == [{"name": "Tiny Forum"}]
        assert sorted(r["id"] for r in _rows(b, "SELECT id FROM boards")) == ["b1", "b2"]
        assert _rows(b, "SELECT count(*) AS n FROM flags") == [{"n": 0}]


@needs_loader
def test_irc_round_trip_through_convokit(tmp_path):
    """The 10 dev logs: posts, parents and users survive; reply links beyond the first parent
    are not part of ConvoKit's model and are left out."""
    from forumscope.export.convokit import export_convokit
    from forumscope.ingest.run import ingest
    from forumscope.store.case import open_case

    irc = DATA / "irc-ubuntu-disentangle" / "dev"
    if not irc.is_dir():
        pytest.skip("IRC data not present")
    ingest([irc], tmp_path / "a", fmt="irc")
    res = export_convokit(tmp_path / "a", tmp_path / "corpus", batch_rows=1000)
    assert res.utterances == 11684
    check_convokit_layout(tmp_path / "corpus")
    ingest([tmp_path / "corpus"], tmp_path / "b", fmt="convokit", options=ReadOptions(forum_id=res.forum_id))
    sql = "SELECT id, author_id, thread_id, parent_id, created_at, text FROM posts ORDER BY id"
    with open_case(tmp_path / "a") as a, open_case(tmp_path / "b") as b:
        assert _rows(a, sql) == _rows(b, sql)
        assert _rows(a, "SELECT id, name FROM users ORDER BY id") == _rows(b, "SELECT id, name FROM users ORDER BY id")
        assert (_rows(a, "SELECT id, board_id, title FROM threads ORDER BY id")
                == _rows(b, "SELECT id, board_id, title FROM threads ORDER BY id"))


@needs_loader
def test_export_streams_in_batches_with_the_same_result(tmp_path):
    from forumscope.export.convokit import export_convokit
    from forumscope.ingest.run import ingest

    write_tiny_forum(tmp_path / "tiny")
    ingest([tmp_path / "tiny"], tmp_path / "case", fmt="canonical")
    export_convokit(tmp_path / "case", tmp_path / "big")
    export_convokit(tmp_path / "case", tmp_path / "small", batch_rows=2)
    for name in ("utterances.jsonl", "speakers.json", "conversations.json", "corpus.json", "index.json"):
        assert (tmp_path / "big" / name).read_bytes() == (tmp_path / "small" / name).read_bytes(), name


@needs_loader
def test_export_edge_cases(tmp_path):
    """Authors without a user row, guests, posts without a thread, reply_to_root, refusals."""
    from forumscope.export.convokit import export_convokit
    from forumscope.ingest.run import ingest
    from forumscope.store.case import open_case

    d = tmp_path / "edge"
    write_tiny_forum(d)
    with open(d / "posts.ndjson", "a", encoding="utf-8") as fh:
        fh.write(json.dumps({"forum_id": "tiny", "id": "g1", "thread_id": "t1", "author_name": "visitor",
                             "created_at": "2021-03-06T00:00:00", "text": "guest post"}) + "\n")
        fh.write(json.dumps({"forum_id": "tiny", "id": "g2", "thread_id": "t1", "author_id": "ghost",
                             "created_at": "2021-03-06T00:01:00", "text": "author without a user row"}) + "\n")
        fh.write(json.dumps({"forum_id": "tiny", "id": "lonely", "author_id": "u1",
                             "created_at": "2021-03-06T00:02:00", "text": "no thread"}) + "\n")
    ingest([d], tmp_path / "case", fmt="canonical")
    with open_case(tmp_path / "case") as case:
        export_convokit(case, tmp_path / "out", reply_to_root=True)
        with pytest.raises(UsageError):
            export_convokit(case, tmp_path / "out")  # not empty
        with pytest.raises(UsageError):
            export_convokit(case, tmp_path / "x", forum_id="nope")
    ck = check_convokit_layout(tmp_path / "out")
    utt = {u["id"]: u for u in ck["utterances"]}
    assert utt["g1"]["speaker"] == "guest:visitor" and ck["speakers"]["guest:visitor"]["meta"] == {"name": "visitor"}
    assert utt["g2"]["speaker"] == "ghost" and ck["speakers"]["ghost"]["meta"] == {}
    assert utt["lonely"]["conversation_id"] == "lonely" and "lonely" in ck["conversations"]
    # reply_to_root: posts without a parent reply to the first post of their thread
    assert utt["p1"]["reply-to"] is None and utt["p4"]["reply-to"] == "p1" and utt["g1"]["reply-to"] == "p1"
    assert utt["p2"]["reply-to"] == "p1" and utt["p3"]["reply-to"] == "p2"
    assert utt["lonely"]["reply-to"] is None

    # two forums: the forum must be named
    other = tmp_path / "other"
    other.mkdir()
    (other / "forums.ndjson").write_text(json.dumps({"id": "second", "name": "Second"}) + "\n")
    (other / "posts.ndjson").write_text(json.dumps({"forum_id": "second", "id": "z", "text": "x"}) + "\n")
    ingest([other], tmp_path / "case", fmt="canonical")
    with pytest.raises(UsageError):
        export_convokit(tmp_path / "case", tmp_path / "y")
    res = export_convokit(tmp_path / "case", tmp_path / "y", forum_id="second")
    assert res.utterances == 1 and res.forum_id == "second"


def test_export_module_prints_nothing_on_import(capsys):
    import importlib

    import forumscope.export.convokit as m

    importlib.reload(m)
    assert capsys.readouterr().out == ""
