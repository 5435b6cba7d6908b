"""Tests of the IRC log reader: the real #ubuntu disentanglement logs in ../shared/data
(every raw line accounted for, every gold link kept, gold reply degrees, date anchoring,
no host masks), tiny hand-written logs (midnight wrap, 12-hour clocks, /me actions,
system lines, malformed lines, bad links), and an end-to-end ingest into a case."""

from __future__ import annotations

import collections
import datetime as dt
import re
from pathlib import Path
from typing import Any

import pytest

from forumscope.ingest import irc
from forumscope.ingest.base import ReadOptions
from forumscope.ingest.irc import IrcReader, scrub
from conftest import RecordingSink as _RecordingSink

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "irc-ubuntu-disentangle"
SPLITS = ["dev", "test"]
needs_data = pytest.mark.skipif(not DATA.is_dir(), reason="../shared/data/irc-ubuntu-disentangle not present")


RecordingSink = _RecordingSink


def read(path: Path, **opts: Any) -> RecordingSink:
    sink = RecordingSink()
    IrcReader().read(path, sink, ReadOptions(**opts))
    return sink


@pytest.fixture(scope="module")
def real() -> dict[str, RecordingSink]:
    if not DATA.is_dir():
        pytest.skip("../shared/data/irc-ubuntu-disentangle not present")
    return {split: read(DATA / split) for split in SPLITS}


# ------------------------------------------------------------ independent parsing of the data

def raw_lines(f: Path) -> list[bytes]:
    data = f.read_bytes()
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    return lines


def gold_links(ann: Path) -> list[tuple[int, int]]:
    """(earlier line, later line) for every link with i != j, straight from the file."""
    out = []
    for line in ann.read_text().splitlines():
        a, b = line.split()[:2]
        if a != b:
            out.append((min(int(a), int(b)), max(int(a), int(b))))
    return out


def speaker(line: str) -> str | None:
    """Who wrote a raw line, by a parser independent of the reader's."""
    if line.startswith("["):
        rest = line.split("] ", 1)[1]
        if rest.startswith("<"):
            return rest[1:rest.index(">")].strip()
        if rest.lstrip().startswith("* "):
            return rest.lstrip()[2:].split(" ")[0]
        return None
    if line.startswith("=== "):
        return line[4:].split(" ")[0]
    return None


# ------------------------------------------------------------------------ real data

@needs_data
@pytest.mark.parametrize("split", SPLITS)
def test_every_raw_line_is_a_post_an_event_or_a_reject(real, split):
    sink = real[split]
    files = sorted((DATA / split).glob("*.raw.txt"))
    assert len(files) == 10
    by_source: collections.Counter = collections.Counter()
    for table in ("posts", "events"):
        for r in sink.rows[table]:
            by_source[r["_source"]] += 1
    for r in sink.rejects:
        by_source[r["source"]] += 1
    for f in files:
        assert by_source[str(f)] == len(raw_lines(f)), f.name
    # each line exactly once: ids are '<stem>:<line>' and unique across posts and events
    ids = [r["id"] for t in ("posts", "events") for r in sink.rows[t]]
    assert len(ids) == len(set(ids))
    assert sum(len(raw_lines(f)) for f in files) == {"dev": 12500, "test": 15000}[split]
    assert not [r for r in sink.rejects if r["table"] != "interactions"]  # the real logs parse fully
    assert len(sink.rows["threads"]) == 10
    assert sink.rows["boards"] == [{"forum_id": "irc-ubuntu", "id": "#ubuntu", "name": "#ubuntu",
                                    "_source": str(files[0]), "_line": None, "_offset": None}]
    assert sink.rows["forums"][0]["id"] == "irc-ubuntu" and sink.rows["forums"][0]["platform"] == "irc"
    assert {p.name for p in sink.evidences} == {f.name for f in files} | {
        f.name.replace(".raw.", ".annotation.") for f in files}


@needs_data
@pytest.mark.parametrize("split", SPLITS)
def test_every_gold_link_is_a_parent_or_an_explicit_reply(real, split):
    sink = real[split]
    expected = set()
    for ann in sorted((DATA / split).glob("*.annotation.txt")):
        stem = ann.name[: -len(".annotation.txt")]
        links = gold_links(ann)
        assert len(links) == len(set(links))
        expected |= {(stem, a, b) for a, b in links}
    assert len(expected) == {"dev": 2145, "test": 4265}[split]

    def parts(post_id: str) -> tuple[str, int]:
        stem, line = post_id.rsplit(":", 1)
        return stem, int(line)

    got = []
    for p in sink.rows["posts"]:
        if p["parent_id"]:
            (stem, child), (_, parent) = parts(p["id"]), parts(p["parent_id"])
            got.append((stem, parent, child))
    n_parents = len(got)
    for i in sink.rows["interactions"]:
        assert i["kind"] == "reply" and i["id"].startswith("gold:")
        (stem, child), (_, parent) = parts(i["post_id"]), parts(i["target_post_id"])
        got.append((stem, parent, child))
    assert len(got) == len(set(got)) == len(expected)
    assert set(got) == expected
    assert not sink.rejects
    # the parent is the earliest one; the explicit ones are later parents of the same message
    parent_of = {p["id"]: p["parent_id"] for p in sink.rows["posts"] if p["parent_id"]}
    for i in sink.rows["interactions"]:
        assert parts(parent_of[i["post_id"]])[1] < parts(i["target_post_id"])[1]
    assert n_parents == len({(s, c) for s, _, c in expected})


@needs_data
@pytest.mark.parametrize("split", SPLITS)
def test_gold_reply_degrees_match_the_annotation_files(real, split):
    expected_out: collections.Counter = collections.Counter()
    expected_in: collections.Counter = collections.Counter()
    for ann in sorted((DATA / split).glob("*.annotation.txt")):
        lines = [b.decode("utf-8") for b in raw_lines(ann.with_name(ann.name.replace(".annotation.", ".raw.")))]
        for parent, child in gold_links(ann):
            src, dst = speaker(lines[child]), speaker(lines[parent])
            assert src and dst
            expected_out[src] += 1
            expected_in[dst] += 1

    sink = real[split]
    author = {p["id"]: p["author_id"] for p in sink.rows["posts"]}
    got_out: collections.Counter = collections.Counter()
    got_in: collections.Counter = collections.Counter()
    for p in sink.rows["posts"]:
        if p["parent_id"]:
            got_out[p["author_id"]] += 1
            got_in[author[p["parent_id"]]] += 1
    for i in sink.rows["interactions"]:
        assert i["source_user_id"] == author[i["post_id"]]
        assert i["target_user_id"] == author[i["target_post_id"]]
        got_out[i["source_user_id"]] += 1
        got_in[i["target_user_id"]] += 1
    assert got_out == expected_out
    assert got_in == expected_in


@needs_data
@pytest.mark.parametrize("split", SPLITS)
def test_line_1000_is_at_the_date_and_hour_of_the_file_name(real, split):
    """The annotated part starts at line 1000, at the hour the file is named for; this checks
    the midnight wraps of the context and the 12-hour clocks of the 2004-2007 logs."""
    posts = {p["id"]: p for p in real[split].rows["posts"]}
    for f in sorted((DATA / split).glob("*.raw.txt")):
        stem = f.name[: -len(".raw.txt")]
        p = posts[f"{stem}:1000"]
        assert p["created_at"].strftime("%Y-%m-%d_%H") == stem
        times = [q["created_at"] for q in real[split].rows["posts"] if q["thread_id"] == stem]
        assert times == sorted(times)
        assert times[-1] - times[0] < dt.timedelta(hours=24)


@needs_data
def test_system_lines_keep_no_host_masks_or_addresses(real):
    events = real["dev"].rows["events"] + real["test"].rows["events"]
    kinds = collections.Counter(e["kind"] for e in events)
    assert kinds["join"] > 1000 and kinds["rename"] > 600 and kinds["part"] > 100
    ip = re.compile(r"\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}")
    for e in events:
        assert "@" not in e["detail"], e
        assert not ip.search(e["detail"]), e
        assert "~" not in e["detail"] or e["detail"].startswith("topic/"), e  # topics hold URLs
        assert e["user_id"] is None or "@" not in e["user_id"]
    joins = [e for e in events if e["kind"] == "join"]
    assert all(e["detail"].lower() == "has joined #ubuntu" for e in joins)


@needs_data
def test_users_are_every_nick_once(real):
    sink = real["dev"]
    ids = [u["id"] for u in sink.rows["users"]]
    assert len(ids) == len(set(ids))
    posted = {p["author_id"] for p in sink.rows["posts"]}
    acted = {e["user_id"] for e in sink.rows["events"] if e["user_id"]}
    assert posted | acted <= set(ids)
    assert all(u["name"] == u["id"] for u in sink.rows["users"])


def test_detect(tmp_path):
    if DATA.is_dir():
        assert IrcReader().detect(DATA)
        assert IrcReader().detect(DATA / "dev")
        assert IrcReader().detect(DATA / "dev" / "2004-11-15_03.raw.txt")
        assert not IrcReader().detect(DATA / "dev" / "2004-11-15_03.annotation.txt")
    (tmp_path / "2020-01-01_10.raw.txt").write_text("hello world\nnot irc\n")
    assert not IrcReader().detect(tmp_path)
    (tmp_path / "utterances.jsonl").write_text("{}\n")
    assert not IrcReader().detect(tmp_path / "utterances.jsonl")


# ------------------------------------------------------------------------ tiny logs

def write(folder: Path, name: str, text: str | bytes) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    p = folder / name
    p.write_bytes(text.encode() if isinstance(text, str) else text)
    return p


def test_midnight_wrap_advances_the_date(tmp_path):
    write(tmp_path, "2020-01-01_23.raw.txt",
          "[23:58] <alice> almost midnight\n[23:59] <bob> yes\n[00:01] <alice> new day\n[01:15] <bob> later\n")
    posts = read(tmp_path).rows["posts"]
    assert [p["created_at"] for p in posts] == [
        dt.datetime(2020, 1, 1, 23, 58), dt.datetime(2020, 1, 1, 23, 59),
        dt.datetime(2020, 1, 2, 0, 1), dt.datetime(2020, 1, 2, 1, 15)]
    assert [p["position"] for p in posts] == [0, 1, 2, 3]


def test_context_before_midnight_is_on_the_day_before(tmp_path):
    """A log named for 02:00 whose first lines are from the evening before."""
    write(tmp_path, "2011-11-13_02.raw.txt",
          "[21:29] <a> evening\n[23:59] <b> late\n[00:00] <a> midnight\n[02:00] <b> the hour of the name\n")
    times = [p["created_at"] for p in read(tmp_path).rows["posts"]]
    assert times == [dt.datetime(2011, 11, 12, 21, 29), dt.datetime(2011, 11, 12, 23, 59),
                     dt.datetime(2011, 11, 13, 0, 0), dt.datetime(2011, 11, 13, 2, 0)]


def test_twelve_hour_clock_without_am_pm(tmp_path):
    """The oldest logs print 12:59 then 01:00 for one o'clock in the afternoon."""
    write(tmp_path, "2005-07-06_14.raw.txt",
          "[11:11] <a> morning\n[12:30] <b> noon\n[01:00] <a> one pm\n[02:05] <b> the hour of the name\n")
    times = [p["created_at"] for p in read(tmp_path).rows["posts"]]
    assert times == [dt.datetime(2005, 7, 6, 11, 11), dt.datetime(2005, 7, 6, 12, 30),
                     dt.datetime(2005, 7, 6, 13, 0), dt.datetime(2005, 7, 6, 14, 5)]
    # the same clock, named for 01 (after midnight): the context is the evening before
    write(tmp_path / "b", "2005-08-08_01.raw.txt", "[11:29] <a> x\n[12:59] <b> y\n[01:00] <a> z\n")
    times = [p["created_at"] for p in read(tmp_path / "b").rows["posts"]]
    assert times == [dt.datetime(2005, 8, 7, 23, 29), dt.datetime(2005, 8, 8, 0, 59), dt.datetime(2005, 8, 8, 1, 0)]


def test_actions_messages_and_system_lines(tmp_path):
    f = write(tmp_path, "2020-05-01_10.raw.txt", "\n".join([
        "=== carol [~carol@10.1.2.3]  has joined #chat",                      # 0 join (before any time)
        "[10:00] <alice> hi all",                                               # 1
        "[10:01]  * bob waves",                                                 # 2 /me
        "=== bob dances too",                                                   # 3 old-style /me
        "[10:02] <@op> ops message",                                            # 4 mode prefix
        "[10:02] <pad[] > padded nick",                                         # 5
        "[10:03] <dave>",                                                       # 6 empty message
        "=== bob is now known as bobby",                                        # 7 rename
        "=== carol [~carol@host-1-2-3-4.example.net]  has left #chat [bye]",  # 8 part
        "=== erin [n=erin@2001:db8::1]  has quit [Ping timeout: 10.0.0.9 left]",  # 9 quit
        "=== mode/#chat [+b *!*@bad.example.org]  by op",                       # 10 mode
        "=== ..[topic/#chat:op] : Welcome | ask away",                          # 11 topic
        "=== Something odd happened here!",                                     # 12 reads as a /me of "Something"
        "=== ???",                                                              # 13 other
        "[10:04]  * frank",                                                     # 14 /me with nothing
    ]) + "\n")
    sink = read(tmp_path)
    posts = {p["id"]: p for p in sink.rows["posts"]}
    stem = "2020-05-01_10"
    assert posts[f"{stem}:1"]["text"] == "hi all" and posts[f"{stem}:1"]["author_id"] == "alice"
    assert posts[f"{stem}:2"]["text"] == "/me waves" and posts[f"{stem}:2"]["author_id"] == "bob"
    assert posts[f"{stem}:3"]["text"] == "/me dances too"
    assert posts[f"{stem}:3"]["created_at"] == dt.datetime(2020, 5, 1, 10, 1)  # timed like the line before
    assert posts[f"{stem}:4"]["author_id"] == "op"
    assert posts[f"{stem}:5"]["author_id"] == "pad[]"
    assert posts[f"{stem}:6"]["text"] == ""
    assert posts[f"{stem}:14"]["text"] == "/me"
    # "=== Something odd happened here!" reads like an old /me action of a nick "Something"
    assert posts[f"{stem}:12"]["author_id"] == "Something"
    assert all(p["kind"] == "message" and p["thread_id"] == stem and p["board_id"] == "#chat"
               for p in posts.values())
    events = {int(e["id"].rsplit(":", 1)[1]): e for e in sink.rows["events"]}
    assert {k: e["kind"] for k, e in events.items()} == {
        0: "join", 7: "rename", 8: "part", 9: "quit", 10: "other", 11: "other", 13: "other"}
    assert events[0]["user_id"] == "carol" and events[0]["detail"] == "has joined #chat"
    assert events[0]["created_at"] == dt.datetime(2020, 5, 1, 10, 0)  # before any time: the first time
    assert events[7]["user_id"] == "bob" and events[7]["detail"] == "is now known as bobby"
    assert events[8]["detail"] == "has left #chat [bye]"
    assert events[9]["detail"] == "has quit [Ping timeout: <ip> left]"
    assert events[10]["user_id"] == "op" and events[10]["detail"] == "mode/#chat [+b <mask>]"
    assert events[11]["detail"] == "topic/#chat: Welcome | ask away"
    assert events[13]["user_id"] is None
    for e in events.values():
        assert "10.1.2.3" not in e["detail"] and "example" not in e["detail"] and "db8" not in e["detail"]
    assert len(posts) + len(events) == 15 and not sink.rejects
    users = {u["id"] for u in sink.rows["users"]}
    assert {"alice", "bob", "bobby", "carol", "dave", "erin", "frank", "op", "pad[]"} <= users
    assert sink.rows["threads"] == [{"forum_id": "irc-chat", "id": stem, "board_id": "#chat", "title": stem,
                                     "first_post_id": f"{stem}:1",
                                     "created_at": dt.datetime(2020, 5, 1, 10, 0),
                                     "_source": str(f), "_line": None, "_offset": None}]


def test_malformed_lines_are_rejected_with_line_and_offset(tmp_path):
    lines = [b"[10:00] <alice> fine", b"garbage without a pattern", b"[10:01] <bob> caf\xe9 latin-1",
             b"[99:99] <carol> not a time", b"", b"[10:02] <dave> still read"]
    data = b"\n".join(lines) + b"\n"
    f = write(tmp_path, "2020-01-01_10.raw.txt", data)
    sink = read(tmp_path)
    assert [p["author_id"] for p in sink.rows["posts"]] == ["alice", "dave"]
    rej = [(r["line"], r["offset"], r["reason"].split(":")[0]) for r in sink.rejects]
    offsets = [sum(len(x) + 1 for x in lines[:i]) for i in range(len(lines))]
    assert rej == [(2, offsets[1], "unrecognised_line"), (3, offsets[2], "bad_utf8"),
                   (4, offsets[3], "bad_time"), (5, offsets[4], "unrecognised_line")]
    assert all(r["source"] == str(f) and r["table"] is None for r in sink.rejects)
    assert sink.rejects[1]["excerpt"].startswith("[10:01] <bob> caf")
    # ids keep the raw line numbers even after rejects
    assert sink.rows["posts"][1]["id"] == "2020-01-01_10:5" and sink.rows["posts"][1]["_line"] == 6


def test_over_long_line_is_rejected_and_reading_goes_on(tmp_path):
    write(tmp_path, "2020-01-01_10.raw.txt", "[10:00] <a> " + "x" * 5000 + "\n[10:01] <b> short\n")
    sink = read(tmp_path, max_record_bytes=1000)
    assert [p["author_id"] for p in sink.rows["posts"]] == ["b"]
    assert sink.rejects[0]["reason"].startswith("too_large") and sink.rejects[0]["line"] == 1


def test_gold_links_parents_extra_parents_and_bad_links(tmp_path):
    stem = "2020-03-01_12"
    write(tmp_path, f"{stem}.raw.txt", "\n".join([
        "[12:00] <a> question",          # 0
        "=== b [~b@h]  has joined #x",    # 1
        "[12:01] <b> answer",            # 2
        "[12:02] <c> also",              # 3
        "[12:03] <a> thanks both",       # 4 replies to 2 and 3
        "junk",                          # 5 rejected
        "[12:04] <d> hm",                # 6
    ]) + "\n")
    ann = write(tmp_path, f"{stem}.annotation.txt", "\n".join([
        "0 0 -",        # 1 conversation start: not a link
        "0 2 -",        # 2
        "0 3 -",        # 3
        "3 4 -",        # 4 later parent -> explicit interaction
        "2 4 -",        # 5 earliest parent -> parent_id
        "1 6 -",        # 6 link to a system line
        "5 6 -",        # 7 link to a rejected line
        "4 5 -",        # 8 link from a rejected line
        "1 0 -",        # 9 link from a system line (written backwards: the later line is the child)
        "6 99 -",       # 10 past the end
        "2 4 -",        # 11 duplicate
        "x y z",        # 12 malformed
        "",             # 13 blank: nothing
    ]) + "\n")
    sink = read(tmp_path, extra={"channel": "#support"})
    posts = {p["id"]: p for p in sink.rows["posts"]}
    assert posts[f"{stem}:2"]["parent_id"] == f"{stem}:0"
    assert posts[f"{stem}:3"]["parent_id"] == f"{stem}:0"
    assert posts[f"{stem}:4"]["parent_id"] == f"{stem}:2"
    assert posts[f"{stem}:6"]["parent_id"] is None
    assert sink.rows["interactions"] == [{
        "forum_id": "irc-support", "id": f"gold:{stem}:3:4", "kind": "reply", "source_user_id": "a",
        "target_user_id": "c", "post_id": f"{stem}:4", "target_post_id": f"{stem}:3",
        "created_at": dt.datetime(2020, 3, 1, 12, 3), "detail": "gold",
        "_source": str(ann), "_line": 4, "_offset": 18}]
    link_rejects = {r["line"]: r["reason"].split(":")[0] for r in sink.rejects if r["table"] == "interactions"}
    assert link_rejects == {6: "link_to_system_line", 7: "link_to_rejected_line", 8: "link_from_rejected_line",
                            9: "link_from_system_line", 10: "link_outside_file", 11: "duplicate_link",
                            12: "bad_annotation"}
    assert all(r["source"] == str(ann) for r in sink.rejects if r["table"] == "interactions")
    assert sink.rows["boards"][0]["id"] == "#support"  # the channel option wins over join lines
    assert {p["board_id"] for p in posts.values()} == {"#support"}


def test_forum_id_and_name_options(tmp_path):
    write(tmp_path, "2020-01-01.txt", "[10:00] <a> no join line, no hour\n")
    sink = read(tmp_path)
    assert sink.rows["forums"][0]["id"] == "irc" and sink.rows["boards"][0]["id"] == "irc"
    assert sink.rows["posts"][0]["created_at"] == dt.datetime(2020, 1, 1, 10, 0)
    assert sink.rows["threads"][0]["id"] == "2020-01-01"
    sink = read(tmp_path, forum_id="f1", forum_name="Chat logs")
    assert sink.rows["forums"][0]["id"] == "f1" and sink.rows["forums"][0]["name"] == "Chat logs"
    assert {p["forum_id"] for p in sink.rows["posts"]} == {"f1"}


def test_scrub():
    assert scrub("nick!user@host.example.com did it") == "<mask> did it"
    assert scrub("from 192.168.0.1 and fe80::1 and 2001:db8:0:0:0:0:2:1") == "from <ip> and <ip> and <ip>"
    assert scrub("at 12:30:45 today") == "at 12:30:45 today"
    assert scrub("[+b *!*@1.2.3.4]") == "[+b <mask>]"


def test_no_printing(tmp_path, capsys):
    write(tmp_path, "2020-01-01_10.raw.txt", "[10:00] <a> hi\nbad\n")
    read(tmp_path)
    out = capsys.readouterr()
    assert out.out == "" and out.err == ""


def test_log_files_ignore_other_files(tmp_path):
    write(tmp_path, "2020-01-01_10.raw.txt", "[10:00] <a> hi\n")
    write(tmp_path, "2020-01-01_10.annotation.txt", "0 0 -\n")
    write(tmp_path, "2020-01-01_10.ascii.txt", "[10:00] <a> hi\n")
    write(tmp_path / "sub", "2020-01-02_10.raw.txt", "[10:00] <a> hi\n")
    write(tmp_path, "SOURCE.md", "x")
    assert [p.name for p in irc.log_files(tmp_path)] == ["2020-01-01_10.raw.txt", "2020-01-02_10.raw.txt"]


# ------------------------------------------------------------------------ end to end

def _loader_available() -> bool:
    try:
        import forumscope.ingest.run  # noqa: F401
        import forumscope.store.case  # noqa: F401
    except ImportError:
        return False
    return True


@needs_data
@pytest.mark.skipif(not _loader_available(), reason="the loader is not there yet")
def test_ingest_dev_folder_into_a_case(tmp_path):
    from forumscope.ingest.run import ingest
    from forumscope.store.case import open_case

    folder = DATA / "dev"
    result = ingest([folder], tmp_path / "case", fmt="irc")
    rec = result.reconciliation
    for table, c in rec.items():
        assert c["read"] == c["stored"] + c.get("merged", 0) + c["unchanged"] + c["rejected"], table
    n_lines = sum(len(raw_lines(f)) for f in folder.glob("*.raw.txt"))
    n_links = sum(len(gold_links(a)) for a in folder.glob("*.annotation.txt"))
    assert rec["posts"]["stored"] + rec["events"]["stored"] == n_lines
    assert rec["posts"]["rejected"] == rec["events"]["rejected"] == 0
    assert rec["threads"]["stored"] == 10
    with open_case(tmp_path / "case") as case:
        n_replies = case.sql("SELECT count(*) AS n FROM interactions WHERE kind = 'reply'").to_pylist()[0]["n"]
        assert n_replies == n_links
        derived = case.sql("SELECT count(*) AS n FROM interactions WHERE id LIKE 'reply:%'").to_pylist()[0]["n"]
        assert derived == case.sql("SELECT count(parent_id) AS n FROM posts").to_pylist()[0]["n"]
        assert case.sql("SELECT count(*) AS n FROM interactions WHERE target_user_id IS NULL").to_pylist()[0]["n"] == 0
        assert case.sql("SELECT count(*) AS n FROM flags").to_pylist()[0]["n"] == 0
        assert case.sql("SELECT count(*) AS n FROM evidence").to_pylist()[0]["n"] == 20
        per_thread = case.sql("SELECT count(DISTINCT board_id) AS n FROM posts").to_pylist()[0]["n"]
        assert per_thread == 1
    # a second ingest of the same folder stores nothing new
    again = ingest([folder], tmp_path / "case", fmt="irc").reconciliation
    assert again["posts"]["stored"] == 0 and again["posts"]["unchanged"] == again["posts"]["read"]
