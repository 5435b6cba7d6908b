"""Tests of the Stack Exchange dump reader: exact mapping on tiny hand-written dumps,
hostile inputs (each fails without its protection), and the four real dumps in
../shared/data (every row line accounted for, zero rejects, per-type counts)."""

from __future__ import annotations

import collections
import time
import tracemalloc
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any, Sequence

import pytest

from forumscope.errors import InputError
from forumscope.ingest import stackexchange as se
from forumscope.ingest.base import ReadOptions
from forumscope.ingest.stackexchange import StackExchangeReader, html_to_text, parse_row
from conftest import RecordingSink as _RecordingSink

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
REAL_DUMPS = ["se-bicycles-meta", "se-cardano", "se-conlang-meta", "se-history-meta"]
HEAD = "\ufeff<?xml version=\"1.0\" encoding=\"utf-8\"?>\r\n"


RecordingSink = _RecordingSink


def write_dump(folder: Path, name: str, rows: Sequence[str], *, root: str | None = None,
               head: str = HEAD, tail: str | None = None, newline: str = "\r\n") -> Path:
    root = root or name.removesuffix(".xml").lower()
    text = head + f"<{root}>{newline}" + "".join(f"  {r}{newline}" for r in rows)
    text += f"</{root}>" if tail is None else tail
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(text.encode("utf-8"))
    return path


def read(folder: Path, **options: Any) -> RecordingSink:
    sink = RecordingSink()
    StackExchangeReader().read(folder, sink, ReadOptions(**options))
    return sink


# ------------------------------------------------------------------ detect


def test_detect(tmp_path: Path) -> None:
    reader = StackExchangeReader()
    assert not reader.detect(tmp_path)
    write_dump(tmp_path / "votes-only", "Votes.xml", [])
    assert not reader.detect(tmp_path / "votes-only")
    write_dump(tmp_path / "lower", "posts.xml", [], root="posts")
    assert not reader.detect(tmp_path / "lower")  # names are case-sensitive, as in the dumps
    write_dump(tmp_path / "users", "Users.xml", [])
    assert reader.detect(tmp_path / "users")
    posts = write_dump(tmp_path / "posts", "Posts.xml", [])
    assert reader.detect(tmp_path / "posts")
    assert not reader.detect(posts)  # a single file is not a dump folder
    assert not reader.detect(tmp_path / "missing")


def test_read_refuses_folder_without_dump_files(tmp_path: Path) -> None:
    (tmp_path / "x.txt").write_text("hello")
    with pytest.raises(InputError):
        read(tmp_path)


# ------------------------------------------------------------ exact mapping

POSTS = [
    '<row Id="1" PostTypeId="1" AcceptedAnswerId="3" CreationDate="2020-01-02T03:04:05.678" Score="7" '
    'ViewCount="120" Body="&lt;p&gt;How do I fix a &amp;quot;flat&amp;quot; tyre?&lt;/p&gt;&#xA;&lt;p&gt;'
    'Line one&lt;br&gt;line two&lt;/p&gt;&#xA;&lt;ul&gt;&lt;li&gt;a&lt;/li&gt;&lt;li&gt;b &lt;a '
    'href=&quot;https://example.org/x&quot;&gt;link&lt;/a&gt;&lt;/li&gt;&lt;/ul&gt;" OwnerUserId="5" '
    'LastEditorUserId="6" LastEditDate="2020-01-03T00:00:00.000" LastActivityDate="2020-01-04T00:00:00.000" '
    'Title="Flat &amp; fast" Tags="&lt;repair&gt;&lt;tyres&gt;" AnswerCount="2" CommentCount="1" '
    'ClosedDate="2020-02-01T00:00:00.000" ContentLicense="CC BY-SA 4.0" />',
    '<row Id="2" PostTypeId="2" ParentId="1" CreationDate="2020-01-02T04:00:00.000" Score="-1" '
    'Body="&lt;p&gt;Use a patch.&lt;/p&gt;" OwnerDisplayName="guest42" CommentCount="0" />',
    '<row Id="3" PostTypeId="2" ParentId="1" CreationDate="2020-01-02T05:00:00.000" Score="3" '
    'Body="&lt;pre&gt;&lt;code&gt;step 1&#xA;  step 2&lt;/code&gt;&lt;/pre&gt;" OwnerUserId="6" />',
    '<row Id="4" PostTypeId="1" CreationDate="2021-01-01T00:00:00.000" Score="0" ViewCount="3" Body="" '
    'OwnerUserId="5" Title="New style tags" Tags="|a-b|c|" AnswerCount="0" />',
    '<row Id="5" PostTypeId="4" CreationDate="2021-02-01T00:00:00.000" Score="0" Body="&lt;p&gt;Tyres.&lt;/p&gt;" '
    'OwnerUserId="-1" />',
    '<row Id="6" PostTypeId="6" CreationDate="2021-03-01T00:00:00.000" Score="2" Body="&lt;p&gt;Nominee&lt;/p&gt;" '
    'OwnerUserId="6" Title="Moderator nomination" />',
]
USERS = [
    '<row Id="-1" Reputation="1" CreationDate="2010-01-01T00:00:00.000" DisplayName="Community" '
    'LastAccessDate="2010-01-01T00:00:00.000" WebsiteUrl="https://example.org/" Location="on the server farm" '
    'AboutMe="&lt;p&gt;Hi, I&#39;m a bot.&lt;/p&gt;" Views="0" UpVotes="10" DownVotes="20" AccountId="-1" />',
    '<row Id="5" Reputation="2500" CreationDate="2015-05-05T05:05:05.050" DisplayName="R&#xE9;ka" '
    'LastAccessDate="2020-06-06T06:06:06.060" EmailHash="0123456789abcdef" ProfileImageUrl="https://example.org/p.png" '
    'Views="3" UpVotes="4" DownVotes="0" AccountId="777" />',
    '<row Id="6" Reputation="14" CreationDate="2016-01-01T00:00:00.000" DisplayName="Ana" '
    'LastAccessDate="2016-01-02T00:00:00.000" AccountId="778" />',
]
COMMENTS = [
    '<row Id="10" PostId="1" Score="2" Text="Try [this guide](https://example.org/g) &amp; `tools`." '
    'CreationDate="2020-01-02T03:10:00.000" UserId="6" ContentLicense="CC BY-SA 4.0" />',
    '<row Id="11" PostId="2" Score="0" Text="Thanks!" CreationDate="2020-01-02T04:10:00.000" '
    'UserDisplayName="old-user" />',
]
VOTES = [
    '<row Id="1" PostId="1" VoteTypeId="2" CreationDate="2020-01-02T00:00:00.000" />',
    '<row Id="2" PostId="2" VoteTypeId="3" CreationDate="2020-01-03T00:00:00.000" />',
    '<row Id="3" PostId="3" VoteTypeId="1" CreationDate="2020-01-03T00:00:00.000" />',
    '<row Id="4" PostId="1" VoteTypeId="5" UserId="6" CreationDate="2020-01-04T00:00:00.000" />',
    '<row Id="5" PostId="1" VoteTypeId="8" UserId="5" BountyAmount="50" CreationDate="2020-01-05T00:00:00.000" />',
    '<row Id="6" PostId="3" VoteTypeId="9" BountyAmount="50" CreationDate="2020-01-12T00:00:00.000" />',
    '<row Id="7" PostId="2" VoteTypeId="10" CreationDate="2020-01-13T00:00:00.000" />',
    '<row Id="8" PostId="2" VoteTypeId="99" CreationDate="2020-01-14T00:00:00.000" />',
]
BADGES = [
    '<row Id="1" UserId="5" Name="Autobiographer" Date="2015-05-06T00:00:00.000" Class="3" TagBased="False" />',
    '<row Id="2" UserId="5" Name="repair" Date="2019-05-06T00:00:00.000" Class="1" TagBased="True" />',
    '<row Id="3" UserId="6" Name="Yearling" Date="2017-01-01T00:00:00.000" Class="2" TagBased="False" />',
]
HISTORY = [
    '<row Id="1" PostHistoryTypeId="2" PostId="1" RevisionGUID="g1" CreationDate="2020-01-02T03:04:05.678" '
    'UserId="5" Text="SECRET REVISION TEXT" ContentLicense="CC BY-SA 4.0" />',
    '<row Id="2" PostHistoryTypeId="5" PostId="1" RevisionGUID="g2" CreationDate="2020-01-03T00:00:00.000" '
    'UserId="6" Comment="fixed spelling" Text="SECRET REVISION TEXT 2" />',
    '<row Id="3" PostHistoryTypeId="10" PostId="1" RevisionGUID="g3" CreationDate="2020-02-01T00:00:00.000" '
    'UserId="-1" Comment="101" Text="{&quot;Voters&quot;:[]}" />',
    '<row Id="4" PostHistoryTypeId="11" PostId="1" RevisionGUID="g4" CreationDate="2020-02-02T00:00:00.000" UserId="7" />',
    '<row Id="5" PostHistoryTypeId="14" PostId="1" RevisionGUID="g5" CreationDate="2020-02-03T00:00:00.000" UserId="7" />',
    '<row Id="6" PostHistoryTypeId="20" PostId="1" RevisionGUID="g6" CreationDate="2020-02-04T00:00:00.000" UserId="7" />',
    '<row Id="7" PostHistoryTypeId="38" PostId="1" RevisionGUID="g7" CreationDate="2020-02-05T00:00:00.000" UserId="7" />',
    '<row Id="8" PostHistoryTypeId="36" PostId="1" RevisionGUID="g8" CreationDate="2020-02-06T00:00:00.000" '
    'Comment="from example.stackexchange.com" />',
    '<row Id="9" PostHistoryTypeId="52" PostId="1" RevisionGUID="g9" CreationDate="2020-02-07T00:00:00.000" UserId="-1" />',
    '<row Id="10" PostHistoryTypeId="77" PostId="1" RevisionGUID="g10" CreationDate="2020-02-08T00:00:00.000" />',
]
LINKS = [
    '<row Id="1" CreationDate="2020-01-05T00:00:00.000" PostId="4" RelatedPostId="1" LinkTypeId="1" />',
    '<row Id="2" CreationDate="2020-01-06T00:00:00.000" PostId="4" RelatedPostId="1" LinkTypeId="3" />',
]
TAGS = [
    '<row Id="1" TagName="repair" Count="12" ExcerptPostId="5" WikiPostId="7" IsModeratorOnly="True" />',
    '<row Id="2" TagName="tyres" Count="3" />',
]


@pytest.fixture()
def tiny(tmp_path: Path) -> Path:
    folder = tmp_path / "bikes-site"
    write_dump(folder, "Posts.xml", POSTS)
    write_dump(folder, "Users.xml", USERS)
    write_dump(folder, "Comments.xml", COMMENTS)
    write_dump(folder, "Votes.xml", VOTES)
    write_dump(folder, "Badges.xml", BADGES)
    write_dump(folder, "PostHistory.xml", HISTORY)
    write_dump(folder, "PostLinks.xml", LINKS)
    write_dump(folder, "Tags.xml", TAGS)
    (folder / "SOURCE.md").write_text("not a dump file")
    return folder


def test_forum_boards_ranks_and_evidence(tiny: Path) -> None:
    sink = read(tiny)
    assert sink.rejects == []
    assert [sink.strip(r) for r in sink.rows["forums"]] == [
        {"id": "bikes-site", "name": "bikes-site", "platform": "stackexchange"}]
    boards = sink.by_id("boards")
    assert set(boards) == {"questions", "tag-wiki", "other"}
    assert all(b["forum_id"] == "bikes-site" for b in boards.values())
    assert sorted(p.name for p, _ in sink.evidence_meta) == sorted(
        ["Posts.xml", "Users.xml", "Comments.xml", "Votes.xml", "Badges.xml", "PostHistory.xml",
         "PostLinks.xml", "Tags.xml"])
    assert all(meta["status"] == "ingested" for _, meta in sink.evidence_meta)
    assert sink.progressed == sum((tiny / n).stat().st_size for n in se.DUMP_FILES)
    ranks = sink.rows["ranks"]
    assert [r["min_reputation"] for r in ranks] == [
        1, 5, 10, 15, 20, 50, 75, 100, 125, 200, 250, 500, 1000, 1500, 2000, 2500, 3000, 5000,
        10000, 15000, 20000, 25000]
    assert [r["position"] for r in ranks] == list(range(22))
    merged = {r["min_reputation"]: r for r in ranks}
    assert merged[10]["name"] == "remove new user restrictions, create wiki posts"
    assert merged[15]["name"] == "vote up, flag posts"
    assert "vote down" in merged[125]["description"]


def test_forum_id_option(tiny: Path) -> None:
    sink = read(tiny, forum_id="bikes", forum_name="Bicycles")
    assert sink.rows["forums"][0]["id"] == "bikes"
    assert sink.rows["forums"][0]["name"] == "Bicycles"
    for table, rows in sink.rows.items():
        if table != "forums":
            assert {r["forum_id"] for r in rows} == {"bikes"}, table


def test_questions_answers_and_threads(tiny: Path) -> None:
    sink = read(tiny)
    threads = sink.by_id("threads")
    posts = sink.by_id("posts")
    assert sink.strip(threads["1"]) == {
        "forum_id": "bikes-site", "id": "1", "board_id": "questions", "title": "Flat & fast",
        "author_id": "5", "created_at": "2020-01-02T03:04:05.678", "first_post_id": "1",
        "view_count": 120, "reply_count_reported": 2, "tags": "repair|tyres",
        "closed_at": "2020-02-01T00:00:00.000", "is_locked": True}
    assert threads["4"]["tags"] == "a-b|c"
    assert threads["4"]["is_locked"] is False and threads["4"]["closed_at"] is None
    q = sink.strip(posts["1"])
    assert q.pop("raw").startswith('<p>How do I fix a &quot;flat&quot; tyre?</p>\n<p>Line one<br>')
    assert q == {
        "forum_id": "bikes-site", "id": "1", "thread_id": "1", "board_id": "questions", "author_id": "5",
        "created_at": "2020-01-02T03:04:05.678", "edited_at": "2020-01-03T00:00:00.000", "position": 0,
        "title": "Flat & fast", "text": 'How do I fix a "flat" tyre?\n\nLine one\nline two\n\na\n\nb link',
        "format": "html", "score": 7, "kind": "question"}
    assert sink.strip(posts["2"]) == {
        "forum_id": "bikes-site", "id": "2", "thread_id": "1", "parent_id": "1", "board_id": "questions",
        "author_name": "guest42", "created_at": "2020-01-02T04:00:00.000", "text": "Use a patch.",
        "raw": "<p>Use a patch.</p>", "format": "html", "score": -1, "kind": "answer"}
    assert posts["3"]["text"] == "step 1\n  step 2"  # <pre> keeps its whitespace
    assert posts["2"]["position"] is None  # the loader orders answers by time
    # other post types get their own thread and board
    assert (threads["5"]["board_id"], posts["5"]["kind"], posts["5"]["position"]) == ("tag-wiki", "wiki", 0)
    assert (threads["6"]["board_id"], posts["6"]["kind"], threads["6"]["title"]) == (
        "other", "other", "Moderator nomination")
    assert posts["4"]["text"] == ""
    assert len(sink.rows["posts"]) == 6 + 2 and len(sink.rows["threads"]) == 4
    # provenance points at the line and its byte offset
    raw = (tiny / "Posts.xml").read_bytes()
    line2 = posts["2"]
    assert line2["_line"] == 4 and line2["_source"] == str(tiny / "Posts.xml")
    assert raw[line2["_offset"]:].startswith(b'  <row Id="2" ')


def test_comments(tiny: Path) -> None:
    posts = read(tiny).by_id("posts")
    assert RecordingSink().strip(posts["c10"]) == {
        "forum_id": "bikes-site", "id": "c10", "parent_id": "1", "author_id": "6",
        "created_at": "2020-01-02T03:10:00.000", "score": 2, "text": "Try this guide & `tools`.",
        "raw": "Try [this guide](https://example.org/g) & `tools`.", "format": "markdown", "kind": "comment"}
    c11 = posts["c11"]
    assert c11.get("thread_id") is None and c11["author_id"] is None and c11["author_name"] == "old-user"
    assert c11["text"] == "Thanks!" and c11["raw"] is None


def test_users(tiny: Path) -> None:
    sink = read(tiny)
    users = sink.by_id("users")
    assert sink.strip(users["5"]) == {
        "forum_id": "bikes-site", "id": "5", "name": "Réka", "registered_at": "2015-05-05T05:05:05.050",
        "last_seen_at": "2020-06-06T06:06:06.060", "reputation": 2500, "rank_id": "rep2500",
        "external_account_id": "777", "is_bot": False}
    assert users["-1"]["is_bot"] is True
    assert users["-1"]["profile_text"] == "Hi, I'm a bot."
    assert users["-1"]["location"] == "on the server farm"
    assert users["6"]["rank_id"] == "rep10"
    rank_ids = {r["id"] for r in sink.rows["ranks"]}
    assert {u["rank_id"] for u in users.values()} <= rank_ids
    # never stored: web sites, e-mail hashes, profile images
    user_values = [str(v) for r in sink.rows["users"] for v in r.values()]
    assert not any("example.org" in v or "0123456789abcdef" in v for v in user_values)


def test_votes_accept_and_links(tiny: Path) -> None:
    sink = read(tiny)
    inter = sink.by_id("interactions")
    # the accept from Posts.AcceptedAnswerId and the accept vote share one id; the loader merges them
    accepts = [r for r in sink.rows["interactions"] if r["kind"] == "accept"]
    assert [sink.strip(r) for r in accepts] == [
        {"forum_id": "bikes-site", "id": "accept:3", "kind": "accept", "source_user_id": "5", "post_id": "1",
         "target_post_id": "3", "detail": "accepted answer"},
        {"forum_id": "bikes-site", "id": "accept:3", "kind": "accept", "target_post_id": "3",
         "created_at": "2020-01-03T00:00:00.000", "detail": "accepted answer"}]
    assert sink.strip(inter["v1"]) == {
        "forum_id": "bikes-site", "id": "v1", "kind": "vote", "target_post_id": "1",
        "created_at": "2020-01-02T00:00:00.000", "value": 1, "detail": "UpMod"}
    assert (inter["v2"]["kind"], inter["v2"]["value"], inter["v2"]["detail"]) == ("vote", -1, "DownMod")
    assert inter["v1"]["source_user_id"] is None  # anonymous voters stay anonymous
    assert inter["v1"].get("target_user_id") is None  # the loader derives it
    assert "v3" not in inter  # the accept vote carries the accept's id, not its own
    assert (inter["v4"]["kind"], inter["v4"]["source_user_id"], inter["v4"]["value"]) == ("favorite", "6", None)
    assert (inter["v5"]["kind"], inter["v5"]["value"], inter["v5"]["detail"], inter["v5"]["source_user_id"]) == (
        "bounty", 50, "BountyStart", "5")
    assert (inter["v6"]["kind"], inter["v6"]["detail"]) == ("bounty", "BountyClose")
    assert (inter["v7"]["kind"], inter["v7"]["value"], inter["v7"]["detail"]) == ("vote", None, "Deletion")
    assert (inter["v8"]["kind"], inter["v8"]["detail"]) == ("vote", "VoteType99")
    assert sink.strip(inter["l1"]) == {
        "forum_id": "bikes-site", "id": "l1", "kind": "link", "post_id": "4", "target_post_id": "1",
        "created_at": "2020-01-05T00:00:00.000", "detail": "Linked"}
    assert inter["l2"]["kind"] == "duplicate"
    assert not any(r["kind"] == "reply" for r in inter.values())  # the loader derives replies


def test_accept_votes_used_when_posts_absent(tmp_path: Path) -> None:
    write_dump(tmp_path, "Users.xml", [])
    write_dump(tmp_path, "Votes.xml", VOTES)
    sink = read(tmp_path)
    inter = sink.by_id("interactions")
    assert (inter["accept:3"]["kind"], inter["accept:3"]["target_post_id"], inter["accept:3"]["detail"]) == (
        "accept", "3", "accepted answer")
    assert sink.skips == []


def test_badges_tags_events(tiny: Path) -> None:
    sink = read(tiny)
    badges = sink.by_id("badges")
    assert sink.strip(badges["2"]) == {
        "forum_id": "bikes-site", "id": "2", "user_id": "5", "name": "repair", "class": "gold",
        "awarded_at": "2019-05-06T00:00:00.000", "tag_based": True}
    assert (badges["1"]["class"], badges["1"]["tag_based"], badges["3"]["class"]) == ("bronze", False, "silver")
    tags = sink.by_id("tags")
    assert sink.strip(tags["1"]) == {"forum_id": "bikes-site", "id": "1", "name": "repair", "count": 12,
                                     "excerpt_post_id": "5", "wiki_post_id": "7"}
    events = sink.by_id("events")
    assert sink.strip(events["h1"]) == {
        "forum_id": "bikes-site", "id": "h1", "kind": "edit", "created_at": "2020-01-02T03:04:05.678",
        "user_id": "5", "post_id": "1", "detail": "Initial Body"}
    assert events["h2"]["detail"] == "Edit Body: fixed spelling"
    assert (events["h3"]["kind"], events["h3"]["detail"]) == ("close", "Post Closed: 101 (duplicate)")
    assert [events[f"h{i}"]["kind"] for i in range(4, 11)] == [
        "reopen", "lock", "unprotect", "merge", "migrate", "other", "other"]
    assert events["h8"]["user_id"] is None
    assert events["h10"]["detail"] == "PostHistoryType77"
    assert "SECRET REVISION TEXT" not in repr(sink.rows)  # revision text is never kept


def test_html_to_text() -> None:
    assert html_to_text("<p>a &amp; b&nbsp;c</p><p>d<br/>e</p><ol><li>x</li><li>y</li></ol>") == \
        "a & b c\n\nd\ne\n\nx\n\ny"
    assert html_to_text('<img src="https://example.org/i.png" alt="pic"><a href="http://x.y">t</a>') == "t"
    assert html_to_text("<script>bad()</script>ok") == "ok"
    assert html_to_text("plain") == "plain"


def test_parse_row_entities_and_references() -> None:
    row = parse_row('<row A="&amp;lt;" B="&#38;lt;" C="&#x1F600;&#65;&apos;&quot;" D=\'x\' E="a\tb" />')
    assert row == {"A": "&lt;", "B": "&lt;", "C": "\U0001F600A'\"", "D": "x", "E": "a b"}
    assert parse_row("<row />") == {}
    assert parse_row('<row A="1">') is None
    assert parse_row("</posts>") is None


@pytest.mark.parametrize("value, reason", [
    ("&bogus;", "bad_entity"),
    ("&nbsp;", "bad_entity"),  # an HTML entity is not an XML one
    ("a & b", "bad_reference"),
    ("&amp", "bad_reference"),
    ("&#xZZ;", "bad_reference"),
    ("&#;", "bad_reference"),
    ("&#0;", "bad_reference"),
    ("&#xD800;", "bad_reference"),
    ("&#x110000;", "bad_reference"),
    ("&#" + "9" * 5000 + ";", "bad_reference"),
])
def test_parse_row_bad_references(value: str, reason: str) -> None:
    with pytest.raises(se._Bad, match=reason):
        parse_row(f'<row Id="1" Text="{value}" />')


# ------------------------------------------------------------ hostile input

GOOD1 = '<row Id="1" PostId="1" VoteTypeId="2" CreationDate="2020-01-01T00:00:00.000" />'
GOOD2 = '<row Id="2" PostId="1" VoteTypeId="2" CreationDate="2020-01-01T00:00:00.000" />'
GOOD3 = '<row Id="3" PostId="1" VoteTypeId="3" CreationDate="2020-01-01T00:00:00.000" />'


def vote_ids(sink: RecordingSink) -> list[str]:
    return [r["id"] for r in sink.rows["interactions"]]


def test_truncated_file_keeps_complete_rows(tmp_path: Path) -> None:
    path = write_dump(tmp_path, "Votes.xml", [GOOD1, GOOD2], tail='  <row Id="3" PostId="1" VoteTy')
    write_dump(tmp_path, "Users.xml", [])
    sink = read(tmp_path)
    assert vote_ids(sink) == ["v1", "v2"]
    assert len(sink.rejects) == 1
    rej = sink.rejects[0]
    assert rej["reason"].startswith("truncated") and rej["table"] == "interactions"
    assert rej["line"] == 5 and rej["source"] == str(path)
    assert path.read_bytes()[rej["offset"]:] == b'  <row Id="3" PostId="1" VoteTy'
    assert 'Id="3"' in rej["excerpt"]


def test_truncated_inside_multibyte_character(tmp_path: Path) -> None:
    write_dump(tmp_path, "Users.xml", [])
    path = write_dump(tmp_path, "Comments.xml", [], tail="")
    path.write_bytes(path.read_bytes() + '  <row Id="1" Text="café'.encode()[:-1])
    sink = read(tmp_path)
    assert [r["reason"].split(":")[0] for r in sink.rejects] == ["truncated"]


def test_missing_closing_tag_is_reported(tmp_path: Path) -> None:
    write_dump(tmp_path, "Users.xml", [])
    path = write_dump(tmp_path, "Votes.xml", [GOOD1, GOOD2], tail="")
    sink = read(tmp_path)
    assert vote_ids(sink) == ["v1", "v2"]
    assert [(r["table"], r["reason"]) for r in sink.rejects] == [
        (None, "truncated: missing closing </votes>")]
    assert sink.rejects[0]["offset"] == path.stat().st_size


def test_invalid_utf8_line_is_rejected(tmp_path: Path) -> None:
    write_dump(tmp_path, "Users.xml", [])
    path = write_dump(tmp_path, "Votes.xml", [GOOD1, "@@BAD@@", GOOD3])
    path.write_bytes(path.read_bytes().replace(b"@@BAD@@", b'<row Id="2" PostId="\xff\xfe1" VoteTypeId="2" />'))
    sink = read(tmp_path)
    assert vote_ids(sink) == ["v1", "v3"]
    assert len(sink.rejects) == 1 and sink.rejects[0]["reason"].startswith("bad_utf8")
    assert sink.rejects[0]["line"] == 4 and sink.rejects[0]["table"] == "interactions"
    assert path.read_bytes()[sink.rejects[0]["offset"]:].startswith(b'  <row Id="2" PostId="\xff')


def test_undeclared_entity_is_rejected_not_expanded(tmp_path: Path) -> None:
    write_dump(tmp_path, "Users.xml", [])
    write_dump(tmp_path, "Comments.xml", [
        '<row Id="1" PostId="1" Text="ok &amp; fine" />',
        '<row Id="2" PostId="1" Text="boom &bogus; here" />',
        '<row Id="3" PostId="1" Text="broken &#xZZ; ref" />',
        '<row Id="4" PostId="1" Text="after" />',
    ])
    sink = read(tmp_path)
    assert [r["id"] for r in sink.rows["posts"]] == ["c1", "c4"]
    assert [r["reason"] for r in sink.rejects] == [
        "bad_entity: undeclared entity &bogus;", "bad_reference: malformed reference '&#xZZ; ref'"]
    assert [r["line"] for r in sink.rejects] == [4, 5]
    assert all(r["table"] == "posts" for r in sink.rejects)


BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE posts [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<posts>
  <row Id="1" PostTypeId="1" Body="&lol9;" Title="&lol9;" />
</posts>
"""


def test_billion_laughs_is_refused_fast(tmp_path: Path) -> None:
    write_dump(tmp_path, "Users.xml", [])  # a harmless file next to the bomb
    (tmp_path / "Posts.xml").write_text(BILLION_LAUGHS)
    tracemalloc.start()
    t0 = time.perf_counter()
    sink = RecordingSink()
    with pytest.raises(InputError) as err:
        StackExchangeReader().read(tmp_path, sink, ReadOptions())
    elapsed = time.perf_counter() - t0
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert elapsed < 1.0 and peak < 5_000_000
    assert err.value.path == str(tmp_path / "Posts.xml") and err.value.line == 2
    assert "Posts.xml" in str(err.value) and "line 2" in str(err.value)
    assert sink.rows == {}  # refused before anything was emitted, from any file
    assert sink.evidence_meta == [(tmp_path / "Posts.xml", {"status": "refused"})]


def test_entity_declaration_anywhere_is_refused(tmp_path: Path) -> None:
    path = write_dump(tmp_path, "Users.xml", [])
    path.write_text('<!ENTITY x "y">\n<users>\n</users>\n')
    with pytest.raises(InputError, match="ENTITY"):
        read(tmp_path)
    write_dump(tmp_path, "Users.xml", ['<row Id="1" />', '<!ENTITY x "y">', '<row Id="2" />'])
    with pytest.raises(InputError) as err:
        read(tmp_path)
    assert err.value.line == 4


def test_external_doctype_is_ignored_never_fetched(tmp_path: Path) -> None:
    write_dump(tmp_path, "Users.xml", ['<row Id="1" DisplayName="a" />'],
               head=HEAD + "<!DOCTYPE users SYSTEM 'http://127.0.0.1:9/users.dtd'>\r\n")
    sink = read(tmp_path)
    assert [r["id"] for r in sink.rows["users"]] == ["1"] and sink.rejects == []
    assert len(sink.skips) == 1 and "DOCTYPE" in sink.skips[0][1]


@pytest.mark.parametrize("line, reason", [
    ('<row Id="2" DisplayName="unterminated', "not_a_row"),
    ('<row Id="2" DisplayName="x"></row>', "not_a_row"),
    ('<row Id="2" DisplayName="a<b" />', "not_a_row"),
    ("<row Id=2 />", "not_a_row"),
    ('<row Id="2" /><row Id="3" />', "not_a_row"),
    ('<row Id="2" Id="3" />', "duplicate_attribute"),
    ('<row Id="2" DisplayName="bell\x07" />', "bad_char"),
])
def test_line_that_is_not_a_row_is_rejected(tmp_path: Path, line: str, reason: str) -> None:
    write_dump(tmp_path, "Users.xml", ['<row Id="1" />', line, '<row Id="4" />'])
    sink = read(tmp_path)
    assert [r["id"] for r in sink.rows["users"]] == ["1", "4"]
    assert len(sink.rejects) == 1
    assert sink.rejects[0]["reason"].startswith(reason) and sink.rejects[0]["line"] == 4
    assert sink.rejects[0]["table"] == "users"


def test_stray_lines_and_misplaced_rows(tmp_path: Path) -> None:
    write_dump(tmp_path, "Users.xml", ['<row Id="1" />', "<p>junk</p>"],
               tail='</users>\r\n<row Id="9" />\r\n')
    sink = read(tmp_path)
    assert [r["id"] for r in sink.rows["users"]] == ["1"]
    assert [(r["table"], r["reason"].split(":")[0]) for r in sink.rejects] == [
        (None, "not_a_row"), ("users", "misplaced")]


def test_wrong_root_element_is_refused(tmp_path: Path) -> None:
    write_dump(tmp_path, "Posts.xml", ['<row Id="1" />'], root="users")
    with pytest.raises(InputError, match="root element"):
        read(tmp_path)


def test_bad_type_id_is_rejected(tmp_path: Path) -> None:
    write_dump(tmp_path, "Posts.xml", ['<row Id="1" Body="" />', '<row Id="2" PostTypeId="x" />',
                                       '<row Id="3" PostTypeId="1" />'])
    sink = read(tmp_path)
    assert [r["id"] for r in sink.rows["posts"]] == ["3"]
    assert [r["reason"].split(":")[0] for r in sink.rejects] == ["bad_value", "bad_value"]


def test_over_long_line_is_rejected(tmp_path: Path) -> None:
    write_dump(tmp_path, "Users.xml", ['<row Id="1" />', '<row Id="2" AboutMe="' + "x" * 5000 + '" />',
                                       '<row Id="3" />'])
    sink = read(tmp_path, max_record_bytes=2000)
    assert [r["id"] for r in sink.rows["users"]] == ["1", "3"]
    assert [r["reason"].split(":")[0] for r in sink.rejects] == ["too_large"]
    assert sink.rejects[0]["line"] == 4


def test_streams_in_bounded_batches(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(se, "BATCH_ROWS", 100)
    write_dump(tmp_path, "Users.xml", [])
    write_dump(tmp_path, "Votes.xml", [
        f'<row Id="{i}" PostId="1" VoteTypeId="2" CreationDate="2020-01-01T00:00:00.000" />' for i in range(1050)])
    sink = read(tmp_path)
    assert sum(sink.batches["interactions"]) == 1050
    assert max(sink.batches["interactions"]) <= 100 and len(sink.batches["interactions"]) == 11


# ------------------------------------------------------------ real dumps


def count_row_lines(path: Path) -> int:
    """Independent count: lines whose first non-blank characters are ``<row``."""
    with path.open("rb") as fh:
        return sum(1 for line in fh if line.lstrip(b"\xef\xbb\xbf \t").startswith(b"<row"))


def et_rows(path: Path) -> list[dict[str, str]]:
    """Independent parse with ElementTree (trusted real files only)."""
    return [dict(e.attrib) for e in ET.parse(path).getroot()]


@pytest.fixture(scope="module")
def real() -> dict[str, tuple[Path, RecordingSink, float]]:
    out = {}
    for name in REAL_DUMPS:
        folder = DATA / name
        if not folder.is_dir():
            pytest.skip(f"{folder} not available")
        t0 = time.perf_counter()
        sink = read(folder)
        out[name] = (folder, sink, time.perf_counter() - t0)
    return out


PRIMARY = {"Posts.xml": "posts", "Comments.xml": "posts", "Users.xml": "users", "Badges.xml": "badges",
           "Votes.xml": "interactions", "PostHistory.xml": "events", "PostLinks.xml": "interactions",
           "Tags.xml": "tags"}


@pytest.mark.parametrize("name", REAL_DUMPS)
def test_real_dump_every_row_accounted_for(real, name: str) -> None:
    folder, sink, _ = real[name]
    assert sink.rejects == []
    files = sorted(p for p in folder.glob("*.xml"))
    assert files and sorted(p.name for p, _ in sink.evidence_meta) == [p.name for p in files]
    emitted = collections.Counter(r["_source"] for t in set(PRIMARY.values()) for r in sink.rows[t]
                                  if Path(r["_source"]).name in PRIMARY
                                  and PRIMARY[Path(r["_source"]).name] == t)
    skipped_rows = collections.Counter(src for src, reason in sink.skips if "VoteTypeId" in reason)
    rejected = collections.Counter(r["source"] for r in sink.rejects)
    for path in files:
        src = str(path)
        assert emitted[src] + rejected[src] + skipped_rows[src] == count_row_lines(path), path.name
    assert sink.progressed == sum(p.stat().st_size for p in files)


@pytest.mark.parametrize("name", REAL_DUMPS)
def test_real_dump_counts_per_type(real, name: str) -> None:
    folder, sink, _ = real[name]

    def from_file(table: str, file: str) -> list[dict[str, Any]]:
        return [r for r in sink.rows[table] if r["_source"] == str(folder / file)]

    posts = et_rows(folder / "Posts.xml")
    types = collections.Counter(p["PostTypeId"] for p in posts)
    kinds = collections.Counter(r["kind"] for r in from_file("posts", "Posts.xml"))
    assert kinds["question"] == types["1"] and kinds["answer"] == types["2"]
    assert kinds["wiki"] == types["3"] + types["4"] + types["5"]
    assert kinds["other"] == sum(n for t, n in types.items() if t not in "12345")
    assert len(sink.rows["threads"]) == len(posts) - types["2"]
    accepts = [r for r in from_file("interactions", "Posts.xml") if r["kind"] == "accept"]
    assert len(accepts) == sum(1 for p in posts if p.get("AcceptedAnswerId"))
    et_by_id = {p["Id"]: p for p in posts}
    for r in from_file("posts", "Posts.xml"):
        p = et_by_id[r["id"]]
        assert r["score"] == int(p["Score"]) and r["raw"] == p["Body"] and r["created_at"] == p["CreationDate"]
        assert r["author_id"] == p.get("OwnerUserId")

    users = et_rows(folder / "Users.xml")
    assert len(sink.rows["users"]) == len(users)
    by_id = sink.by_id("users")
    for u in users:
        rep = int(u["Reputation"])
        assert by_id[u["Id"]]["reputation"] == rep
        assert by_id[u["Id"]]["rank_id"] == f"rep{max(m for m, _ in se.REPUTATION_LADDER if m <= rep)}"
        assert by_id[u["Id"]]["external_account_id"] == u["AccountId"]
    assert [u for u, r in by_id.items() if r["is_bot"]] == ["-1"]

    comments = et_rows(folder / "Comments.xml")
    assert len(from_file("posts", "Comments.xml")) == len(comments)
    badges = et_rows(folder / "Badges.xml")
    assert collections.Counter(b["class"] for b in sink.rows["badges"]) == collections.Counter(
        {"1": "gold", "2": "silver", "3": "bronze"}[b["Class"]] for b in badges)

    if (folder / "Votes.xml").exists():
        votes = collections.Counter(v["VoteTypeId"] for v in et_rows(folder / "Votes.xml"))
        got = collections.Counter(r["detail"] for r in from_file("interactions", "Votes.xml"))
        for type_id, n in votes.items():
            detail = "accepted answer" if type_id == "1" else se.VOTE_TYPES[int(type_id)]
            assert got[detail] == n, type_id
        values = collections.Counter(r["value"] for r in from_file("interactions", "Votes.xml"))
        assert values[1] == votes["2"] and values[-1] == votes["3"]
    if (folder / "PostHistory.xml").exists():
        hist = collections.Counter(h["PostHistoryTypeId"] for h in et_rows(folder / "PostHistory.xml"))
        got = collections.Counter(r["kind"] for r in sink.rows["events"])
        assert got["edit"] == sum(hist[str(i)] for i in range(1, 10))
        assert got["close"] == hist["10"] and got["delete"] == hist["12"]
        assert sum(got.values()) == sum(hist.values())
    if (folder / "PostLinks.xml").exists():
        links = collections.Counter(x["LinkTypeId"] for x in et_rows(folder / "PostLinks.xml"))
        got = collections.Counter(r["kind"] for r in from_file("interactions", "PostLinks.xml"))
        assert got["link"] == links["1"] and got["duplicate"] == links["3"]
    if (folder / "Tags.xml").exists():
        assert len(sink.rows["tags"]) == len(et_rows(folder / "Tags.xml"))


@pytest.mark.parametrize("name", REAL_DUMPS)
def test_real_dump_attribute_decoding_matches_an_xml_parser(name: str) -> None:
    for path in sorted((DATA / name).glob("*.xml")):
        mine = []
        with path.open("rb") as fh:
            for raw in fh:
                row = parse_row(raw.decode("utf-8").lstrip("\ufeff").rstrip("\r\n"))
                if row is not None:
                    mine.append(row)
        assert mine == et_rows(path), path.name


def test_real_dumps_read_quickly(real) -> None:
    for name, (_, _, seconds) in real.items():
        assert seconds < 10, (name, seconds)


# ------------------------------------------------------------ end to end


def test_end_to_end_ingest_reconciles(tmp_path: Path) -> None:
    run = pytest.importorskip("forumscope.ingest.run")
    folder = DATA / "se-conlang-meta"
    if not folder.is_dir():
        pytest.skip(f"{folder} not available")
    expected = read(folder)
    result = run.ingest([folder], tmp_path / "case")
    assert result.formats == ["stackexchange"]
    recon = result.reconciliation
    assert set(recon) == set(expected.rows)
    for table, c in recon.items():
        assert c["read"] == c["stored"] + c["unchanged"] + c["rejected"] + c.get("merged", 0), table
        assert c["read"] == len(expected.rows[table]), table
        assert c["rejected"] == 0, table
        # accepts arrive twice (AcceptedAnswerId and the accept vote) and are merged into one record
        assert c["stored"] + c["merged"] + c["unchanged"] == c["read"], table
    # a second ingest of the same files stores nothing new
    again = run.ingest([folder], tmp_path / "case")
    for table, c in again.reconciliation.items():
        assert c["read"] == c["unchanged"] + c["stored"] + c["rejected"] + c.get("merged", 0), table
        assert c["unchanged"] == c["read"] and c["stored"] == 0, table
