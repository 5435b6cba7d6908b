"""The DuckDB fast path for ConvoKit's utterances.jsonl (ingest/convokit_fast.py) against the
line-by-line reader: the same corpus ingested both ways gives the same tables, reconciliation,
rejects and flags; files DuckDB cannot read as a whole fall back to the line-by-line reader."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import forumscope.ingest.convokit_fast as fast
from forumscope.ingest.base import ReadOptions
from forumscope.model.schema import TABLES

TABLES_COMPARED = ("forums", "boards", "users", "threads", "posts", "interactions")


def ingest_both(corpus: Path, tmp: Path, monkeypatch: pytest.MonkeyPatch,
                **opts: Any) -> tuple[dict[str, Any], dict[str, Any], list[bool]]:
    """Ingest ``corpus`` with the fast path and with the line-by-line reader. Returns both
    snapshots and what the fast path answered (True: it read the file)."""
    from forumscope.ingest.run import ingest

    answers: list[bool] = []
    real = fast.read_utterances

    def spy(run: Any, f: Path) -> bool:
        answers.append(real(run, f))
        return answers[-1]

    snaps = []
    for name, on in (("fast", True), ("slow", False)):
        monkeypatch.setattr(fast, "FAST", on)
        monkeypatch.setattr(fast, "read_utterances", spy)
        ingest([corpus], tmp / f"case-{name}", fmt="convokit", options=ReadOptions(**opts))
        snaps.append(snapshot(tmp / f"case-{name}"))
    return snaps[0], snaps[1], answers[:1]


def snapshot(case_dir: Path) -> dict[str, Any]:
    from forumscope.store.case import open_case

    out: dict[str, Any] = {}
    with open_case(case_dir, read_only=True) as case:
        con = case.con
        for t in TABLES_COMPARED:
            cols = ", ".join(f'"{f}"' for f in TABLES[t].field_names)
            out[t] = sorted(con.execute(f"SELECT {cols} FROM {t}").fetchall(), key=repr)
        out["reconciliation"] = sorted(con.execute(
            "SELECT table_name, read, stored, unchanged, rejected, derived, merged FROM reconciliation").fetchall())
        # byte offsets: the line-by-line reader knows them for every record, the fast path only for the
        # records it rejects itself (like the canonical NDJSON fast path)
        # (and a duplicate's reason names the first record by record number, not line: the same
        # number here, as these files have no blank lines)
        out["rejects"] = sorted(con.execute(
            "SELECT table_name, source, line, CASE WHEN reason LIKE 'bad_id%' THEN byte_offset END, "
            "replace(reason, ' record ', ' line '), excerpt FROM rejects").fetchall(), key=repr)
        out["flags"] = sorted(con.execute(
            "SELECT table_name, forum_id, record_id, flag, detail, source, line FROM flags").fetchall(), key=repr)
    return out


def assert_same(a: dict[str, Any], b: dict[str, Any]) -> None:
    for key, value in a.items():
        assert value == b[key], key


def write_corpus(d: Path, lines: list[Any], speakers: dict[str, Any] | None = None,
                 conversations: dict[str, Any] | None = None) -> None:
    d.mkdir(parents=True)
    raw = [x if isinstance(x, bytes) else json.dumps(x).encode() for x in lines]
    (d / "utterances.jsonl").write_bytes(b"\n".join(raw) + b"\n")
    (d / "speakers.json").write_text(json.dumps(speakers or {}), encoding="utf-8")
    (d / "conversations.json").write_text(json.dumps(conversations or {}), encoding="utf-8")
    (d / "corpus.json").write_text(json.dumps({"name": "Hand-made"}), encoding="utf-8")


BIN = "<##bin{score}&&@**>"


def hand_made() -> list[Any]:
    """Utterances covering the mapping: numeric and float ids, bad id types, speakers missing from
    speakers.json, boards in meta, roots, pickled placeholders, odd values, old-layout keys."""
    return [
        {"id": "r1", "speaker": "ann", "conversation_id": "r1", "reply-to": None, "timestamp": 1600000000,
         "text": "Fare dodging on night buses?", "meta": {"subreddit": "  ", "board": "transit", "score": 4}},
        {"id": 2, "speaker": 17, "conversation_id": "r1", "reply-to": "r1", "timestamp": 1600000060.5,
         "text": "Line one\nline \"two\" \\ \u00e9 \U0001F600", "meta": {"score": 2.0, "title": BIN}},
        {"id": 3.0, "speaker": "bo", "conversation_id": "r1", "reply-to": 2, "timestamp": "2020-09-13T12:30:00",
         "text": BIN, "meta": {"score": True}},
        {"id": 4.5, "speaker": "cy", "conversation_id": 9, "reply-to": 3.0, "timestamp": 1.5e16,
         "text": ["a", {"b": 1}], "meta": {"score": "7", "subreddit": "gaming", "channel": "x"}},
        {"id": "bad1", "speaker": {"nested": 1}, "conversation_id": "r1", "text": "dropped"},
        {"id": True, "speaker": "ann", "conversation_id": "r1", "text": "dropped too"},
        {"id": "p9", "user": "dee", "root": 9, "reply_to": 4.5, "timestamp": 1600000300,
         "text": "old layout keys", "meta": {"forum": 12}},
        {"id": "p10", "speaker": None, "user": "eve", "conversation_id": None, "root": "r1", "reply-to": "r1",
         "timestamp": None, "text": "", "meta": None},
        {"meta": {}},
        {"id": "p11", "speaker": "", "conversation_id": "", "reply-to": "nowhere", "timestamp": "soon",
         "text": "reply to a missing post", "meta": {"title": 5, "board": ""}},
        {"id": -12, "speaker": "ann", "conversation_id": "c-99", "timestamp": 1600000400, "text": "own root",
         "meta": {"subreddit": 3.5, "board": "sport"}},
        {"id": "c-99", "speaker": "ann", "conversation_id": "c-99", "timestamp": 1600000500, "text": "root late",
         "meta": {"board": "ignored, the first board wins"}},
        {"id": "r1", "speaker": "bo", "conversation_id": "r1", "timestamp": 1600000000, "text": "duplicate id"},
        {"id": 1e-7, "speaker": 2.5, "conversation_id": "c-99", "timestamp": -1, "text": "tiny id",
         "vectors": [1, 2]},
    ]


@pytest.fixture
def hand_corpus(tmp_path: Path) -> Path:
    d = tmp_path / "hand"
    write_corpus(d, hand_made(), speakers={"ann": {"meta": {"name": "Ann"}, "vectors": []}, "bo": {"meta": {}}},
                 conversations={"r1": {"meta": {"title": "Night buses", "stickied": False}, "vectors": []}})
    return d


def test_hand_made_corpus_same_both_ways(hand_corpus, tmp_path, monkeypatch):
    a, b, answers = ingest_both(hand_corpus, tmp_path, monkeypatch)
    assert answers == [True]  # the fast path read it
    assert_same(a, b)
    posts = {p[TABLES["posts"].field_names.index("id")]: p for p in a["posts"]}
    assert {"r1", "2", "3", "4.5", "p9", "p10", "p11", "-12", "c-99", "1e-07"} == set(posts)
    # bad ids: rejected by the reader with line and byte offset
    bad = [(r[2], r[4]) for r in a["rejects"] if r[4].startswith("bad_id")]
    assert bad == [(5, "bad_id: speaker is not a string or a number"), (6, "bad_id: id is not a string or a number")]
    # speakers missing from speakers.json become users (17, cy, dee, eve, 2.5), once each
    assert {u[1] for u in a["users"]} == {"ann", "bo", "17", "cy", "dee", "eve", "2.5"}
    # loader-side problems after the skipped records still get the right line numbers
    rej = {r[4].split(":")[0]: r[2] for r in a["rejects"]}
    assert rej["missing_required"] == 9 and rej["duplicate_conflict"] == 13
    assert [(f[2], f[6]) for f in a["flags"] if f[3] == "bad_time" and f[4] == "created_at=soon"] == [("p11", 10)]


def test_synthetic_export_same_both_ways(tmp_path, monkeypatch):
    from forumscope.export.convokit import export_convokit
    from forumscope.ingest.run import ingest
    from forumscope.synth import generate

    generate(tmp_path / "synth", posts=400, seed=5)
    ingest([tmp_path / "synth"], tmp_path / "case0", fmt="canonical")
    export_convokit(tmp_path / "case0", tmp_path / "corpus")
    a, b, answers = ingest_both(tmp_path / "corpus", tmp_path, monkeypatch)
    assert answers == [True]
    assert_same(a, b)
    recon = {r[0]: r[1:] for r in a["reconciliation"]}
    assert recon["posts"][0] == 400 and recon["posts"][1] == 400  # read, stored
    assert recon["interactions"][4] > 0  # reply interactions derived


@pytest.mark.parametrize("bad_line, reason", [
    (b'{"id": "x1", "text": "unterminated', "bad_json"),
    (b'{"id": "x2", "text": "caf\xe9"}', "bad_utf8"),
    (b'[1, 2, 3]', "not_an_object"),
    (b'null', "not_an_object"),
    (b'{"id": "x3", "timestamp": NaN}', "bad_json"),
])
def test_fallback_keeps_every_good_record(tmp_path, monkeypatch, bad_line, reason):
    good = [{"id": f"u{i}", "speaker": "ann", "conversation_id": "u0", "reply-to": f"u{i - 1}" if i else None,
             "timestamp": 1600000000 + i, "text": f"post {i}"} for i in range(5)]
    d = tmp_path / "c"
    write_corpus(d, [*good[:3], bad_line, *good[3:]], speakers={"ann": {"meta": {}}})
    a, b, answers = ingest_both(d, tmp_path, monkeypatch)
    assert answers == [False]  # DuckDB could not read it as a whole (or would read it differently)
    assert_same(a, b)
    assert sorted(p[1] for p in a["posts"]) == [f"u{i}" for i in range(5)]
    assert [(r[2], r[4].split(":")[0]) for r in a["rejects"]] == [(4, reason)]


def test_many_bad_ids_fall_back(tmp_path, monkeypatch):
    lines = [{"id": f"u{i}", "speaker": ["not", "an", "id"] if i % 2 else "ann", "conversation_id": "u0",
              "text": "x"} for i in range(2 * fast.MAX_BAD + 4)]
    d = tmp_path / "c"
    write_corpus(d, lines)
    a, b, answers = ingest_both(d, tmp_path, monkeypatch)
    assert answers == [False]
    assert_same(a, b)
    assert sum(r[4].startswith("bad_id") for r in a["rejects"]) == fast.MAX_BAD + 2


def test_sink_without_emit_query_gets_batches(hand_corpus):
    """A sink that cannot take a relation (the default) gets the line-by-line reader's batches."""
    from conftest import RecordingSink

    from forumscope.ingest.convokit import ConvoKitReader

    sink = RecordingSink()
    ConvoKitReader().read(hand_corpus, sink, ReadOptions())
    assert len(sink.rows["posts"]) == len(hand_made()) - 2


def test_blank_lines_bom_and_crlf_same_both_ways(tmp_path, monkeypatch):
    """Record numbers (DuckDB) and lines (line-by-line reader) differ where lines are blank; rejects and
    flags must still name the same lines."""
    raw = [json.dumps(x).encode() for x in hand_made()]
    d = tmp_path / "blank"
    write_corpus(d, [])
    body = b"\xef\xbb\xbf" + b"\r\n".join([raw[0], b"", *raw[1:5], b"   ", b"", *raw[5:]]) + b"\r\n"
    (d / "utterances.jsonl").write_bytes(body)
    a, b, answers = ingest_both(d, tmp_path, monkeypatch)
    assert answers == [True]
    assert_same(a, b)
    assert [r[2] for r in a["rejects"] if r[4].startswith("bad_id")] == [6, 9]
    assert [f[6] for f in a["flags"] if f[4] == "created_at=soon"] == [13]


def test_loader_emit_query_maps_records_to_lines(tmp_path):
    """Loader.emit_query with SQL text: rows are the file's records minus ``skip``; flags name the lines."""
    import duckdb

    from forumscope.ingest.loader import Loader
    from forumscope.store.case import ensure_schema
    from forumscope.store.settings import DEFAULTS

    f = tmp_path / "x.jsonl"
    f.write_bytes(b'{"r": 1}\n\n{"r": 2}\n{"r": 3}\n')  # records 1, 2, 3 on lines 1, 3, 4
    con = duckdb.connect()
    ensure_schema(con)
    loader = Loader(con, "run1", DEFAULTS, default_forum_id="f")
    sql = ("SELECT * FROM (VALUES ('p1', 'gone', '1600000000'), ('p3', NULL, 'yesterday')) "
           "v(id, parent_id, created_at)")
    assert loader.emit_query("posts", sql, "x.jsonl", f, skip=[2]) is True
    res = loader.finish()
    assert res.counts["posts"].stored == 2
    flags = sorted(con.execute("SELECT record_id, flag, line FROM flags WHERE flag IN ('missing_parent', 'bad_time')"
                               ).fetchall())
    assert flags == [("p1", "missing_parent", 1), ("p3", "bad_time", 4)]
    with pytest.raises(KeyError):
        loader.emit_query("posts", "SELECT 'p9' AS nope", "x.jsonl", f)


def test_meta_not_an_object_falls_back(tmp_path, monkeypatch):
    d = tmp_path / "m"
    write_corpus(d, [{"id": "a", "speaker": "s", "conversation_id": "a", "meta": "not a dict", "text": "x"},
                     {"id": "b", "speaker": "s", "conversation_id": "a", "meta": {"score": 1}, "text": "y"}])
    a, b, answers = ingest_both(d, tmp_path, monkeypatch)
    assert answers == [False]
    assert_same(a, b)
    assert len(a["posts"]) == 2 and a["rejects"] == []


def test_loader_text_array_equals_value_by_value():
    """Loader.emit converts whole columns with Arrow where it can; the text must be what _to_text gives."""
    import datetime as dt

    from forumscope.ingest.loader import _text_array, _to_text

    columns = [["a", None, ""], [1, None, -5, 2**62], [True, None, False], [None, None], [1, True], [0, False],
               [1, 1.5], [1.0, 2.5e16], ["a", b"x"], [2**63], [{"a": [1, "é"]}], [dt.datetime(2020, 1, 1)], ["x", 3]]
    for values in columns:
        assert _text_array(values).to_pylist() == [_to_text(v) for v in values], values
