"""vBulletin: a synthetic forum written as a vBulletin 4 dump (``synth --as vbulletin``) and read back
(``ingest --format vbulletin``) keeps its planted truth: counts, ranks and thresholds, declared gates,
lurkers, quotes, thanks, private-message metadata; no password, e-mail or IP reaches the case."""

from __future__ import annotations

import collections
import hashlib

import pytest
from conftest import REPO
from engine_roundtrip import PRIVATE_MESSAGES, build, clear_values_in_case, hex_tokens_in_case, n, undocumented

import forumscope
from forumscope.engines.vbulletin import ENGINE
from forumscope.ingest.base import ReadOptions
from forumscope.synth.engines.vbulletin import php_serialize


@pytest.fixture(scope="module")
def rt(tmp_path_factory):
    # a table prefix and gzip, as many real vBulletin dumps have them: both must be recognised
    r = build("vbulletin", tmp_path_factory.mktemp("vb"), posts=4000, seed=21, dump_name="forum.sql.gz",
              write_kwargs={"prefix": "vb_"})
    yield r
    r.case.close()


def test_every_record_arrives(rt):
    c = rt.truth["counts"]
    got = {t: v.stored for t, v in rt.ingest.counts.items()}
    assert got["posts"] == c["posts"] and got["threads"] == c["threads"] and got["users"] == c["users"]
    assert got["boards"] == c["boards"] and got["attachments"] == c["attachments"]
    assert all(v.rejected == 0 for v in rt.ingest.counts.values())
    assert rt.q("SELECT count(*) AS n FROM rejects") == [{"n": 0}]
    assert rt.written["tables"]["post"] == c["posts"]  # what the writer says it wrote
    assert any("session" in s for s in rt.ingest.skipped)  # the sessions table is listed, not read


def test_posts_keep_author_thread_parent_time_and_text(rt):
    truth = {n(p["id"]): p for p in rt.canonical("posts")}
    with_attachment = {n(a["post_id"]) for a in rt.canonical("attachments")}
    boards = rt.written["ids"]["boards"]
    got = rt.q("SELECT id, thread_id, board_id, author_id, parent_id, created_at, text, raw, format FROM posts")
    assert len(got) == len(truth)
    for p in got:
        t = truth[p["id"]]
        assert p["thread_id"] == n(t["thread_id"]) and p["author_id"] == n(t["author_id"])
        assert p["board_id"] == str(boards[t["board_id"]])
        assert p["parent_id"] == n(t.get("parent_id"))
        assert p["created_at"].strftime("%Y-%m-%dT%H:%M:%SZ") == t["created_at"]
        assert p["format"] == "bbcode"
        if p["id"] not in with_attachment:
            assert p["text"] == t["text"]  # quotes are kept out of the text, the words survive exactly
    quoting = {n(i["post_id"]) for i in rt.canonical("interactions") if i["kind"] == "quote"}
    sample = next(p for p in got if p["id"] in quoting)
    assert sample["raw"].startswith("[QUOTE=") and "[/QUOTE]" in sample["raw"]


def test_rank_ladder_and_thresholds(rt):
    lad = rt.truth["rank_ladder"]
    ranks = {r["rank_id"]: r for r in rt.result("hierarchy_ranks", "hierarchy")}
    ids = rt.written["ids"]["ranks"]
    for planted in lad["ranks"]:
        r = ranks[ids[planted["rank_id"]]]
        assert r["threshold_source"] == "declared"
        assert abs(r["threshold"] - planted["min_posts"]) <= 1 and r["threshold"] == planted["min_posts"]
        assert r["holders"] == lad["members_per_rank"][planted["rank_id"]]
    specials = {r["rank_id"]: r for r in ranks.values() if r["is_special"]}
    assert sorted(r["holders"] for r in specials.values()) == sorted(len(s["holders"]) for s in lad["special_ranks"])
    # admins hold the title of usergroup 6, moderators that of usergroup 7
    users = {u["id"]: u["rank_id"] for u in rt.q("SELECT id, rank_id FROM users")}
    for s in lad["special_ranks"]:
        assert {users[n(u)] for u in s["holders"]} == {"ug6" if s["rank_id"] == "r-admin" else "ug7"}


def test_declared_gates(rt):
    b = {r["board_id"]: r for r in rt.result("gating_boards", "gating")}
    ids = {k: str(v) for k, v in rt.written["ids"]["boards"].items()}
    inner, announce = b[ids["en-inner"]], b[ids["en-announce"]]
    planted = {g["board_id"]: g for g in rt.truth["gated_boards"]}
    # the post-count gate, declared through a usergroup joined by promotion at 50 posts
    assert (inner["gated"], inner["gate_source"], inner["gate_type"]) == (True, "declared", "post_count")
    assert inner["gate_posts"] == planted["en-inner"]["threshold"] and inner["declared_consistent_share"] == 1.0
    assert inner["estimated_threshold_posts"] >= planted["en-inner"]["threshold"]  # nobody entered below it
    # staff only: usergroups 6 (administrators) and 7 (moderators)
    assert (announce["gated"], announce["gate_source"], announce["gate_type"]) == (True, "declared", "group")
    assert set(announce["gate_group_ids"].split("|")) == {"6", "7"} and announce["declared_consistent_share"] == 1.0
    declared = {k for k, r in b.items() if r["gate_source"] in ("declared", "declared_rule_text")}
    assert declared == {ids["en-inner"], ids["en-announce"]}
    promo = rt.written["ids"]["promotion_groups"]["50"]
    kinds = {g["id"]: g["kind"] for g in rt.q("SELECT id, kind FROM groups")}
    assert kinds[str(promo)] == "member" and kinds["6"] == "admin" and kinds["7"] == "moderator"


def test_lurkers_and_members(rt):
    m = rt.truth["members"]
    rates = {r["measure"]: r for r in rt.result("commitment_rates", "commitment")}
    lurk = rates["lurker_share"]
    assert (lurk["numerator"], lurk["denominator"]) == (m["lurkers"], m["registered"])
    assert lurk["value"] == m["lurkers"] / m["registered"]
    counts = {u["id"]: u["post_count_reported"] for u in rt.q("SELECT id, post_count_reported FROM users")}
    assert {n(u["id"]): u["post_count_reported"] for u in rt.canonical("users")} == counts


def test_groups_and_memberships(rt):
    truth = collections.defaultdict(set)
    for mem in rt.canonical("memberships"):
        truth[mem["group_id"]].add(n(mem["user_id"]))
    got = collections.defaultdict(set)
    for mem in rt.q("SELECT user_id, group_id FROM memberships"):
        got[mem["group_id"]].add(mem["user_id"])
    for gid, num in rt.written["ids"]["groups"].items():
        assert got[str(num)] == truth[gid], gid
    # the promotion group holds the non-staff members with >= 50 posts
    promo = str(rt.written["ids"]["promotion_groups"]["50"])
    staff = truth["g-admins"] | truth["g-mods"]
    expect = {n(u["id"]) for u in rt.canonical("users") if (u.get("post_count_reported") or 0) >= 50} - staff
    assert got[promo] == expect


def test_quotes_mentions_thanks(rt):
    planted = collections.Counter(i["kind"] for i in rt.canonical("interactions"))
    got = collections.Counter(r["kind"] for r in rt.q("SELECT kind FROM interactions"))
    for kind in ("quote", "thanks", "mention"):
        assert got[kind] == planted[kind], kind
    want = {(n(i["post_id"]), n(i["target_post_id"]), n(i["target_user_id"])) for i in rt.canonical("interactions")
            if i["kind"] == "quote"}
    have = {(r["post_id"], r["target_post_id"], r["target_user_id"])
            for r in rt.q("SELECT post_id, target_post_id, target_user_id FROM interactions WHERE kind = 'quote'")}
    assert have == want
    want_thanks = collections.Counter((n(i["source_user_id"]), n(i["target_post_id"]), n(i["target_user_id"]))
                                      for i in rt.canonical("interactions") if i["kind"] == "thanks")
    have_thanks = collections.Counter((r["source_user_id"], r["target_post_id"], r["target_user_id"])
                                      for r in rt.q("SELECT * FROM interactions WHERE kind = 'thanks'"))
    assert have_thanks == want_thanks


def test_attachment_records_only(rt):
    truth = {n(a["id"]): a for a in rt.canonical("attachments")}
    got = {a["id"]: a for a in rt.q("SELECT * FROM attachments")}
    assert set(got) == set(truth)
    for k, a in got.items():
        t = truth[k]
        assert (a["post_id"], a["user_id"], a["file_name"], a["size_bytes"]) == (
            n(t["post_id"]), n(t["user_id"]), t["file_name"], t["size_bytes"])
        assert a["declared_type"] == t["file_name"].rsplit(".", 1)[-1] and len(a["md5"]) == 32


def test_private_message_metadata_without_text(rt):
    pms = sorted(rt.q("SELECT * FROM private_messages"), key=lambda r: r["sent_at"])
    assert len(pms) == len(PRIVATE_MESSAGES)
    for got, want in zip(pms, PRIVATE_MESSAGES):
        assert got["sender_id"] == n(want["sender_id"])
        assert set(got["recipient_ids"].split("|")) == {n(u) for u in want["recipient_ids"].split("|")}
        assert got["subject"] == want["subject"] and got["text"] is None
    # replies keep their parent, and the chains make the three conversations
    by_time = {w["id"]: g["id"] for g, w in zip(pms, PRIVATE_MESSAGES)}
    for g, w in zip(pms, PRIVATE_MESSAGES):
        assert g["parent_id"] == (by_time[w["parent_id"]] if w.get("parent_id") else None)
    convs = collections.defaultdict(set)
    for g, w in zip(pms, PRIVATE_MESSAGES):
        convs[g["conversation_id"] or g["id"]].add(w["conversation_id"])
    assert sorted(len(v) for v in convs.values()) == [1, 1, 1] and len(convs) == 3
    links = rt.q("SELECT count(*) AS n FROM interactions WHERE kind = 'private_message'")[0]["n"]
    assert links == sum(len(m["recipient_ids"].split("|")) for m in PRIVATE_MESSAGES)


def test_no_password_session_email_or_ip_in_the_case(rt):
    assert clear_values_in_case(rt.case) == {}
    secrets = set()
    for u in rt.canonical("users"):
        uid = int(n(u["id"]))
        salt = hashlib.md5(f"salt{uid}".encode()).hexdigest()[:3]
        md5 = lambda s: hashlib.md5(s.encode()).hexdigest()
        secrets |= {md5(md5(f"synthetic-password-{uid}") + salt), md5(f"session{uid}"), md5(f"id{uid}")}
    assert not secrets & hex_tokens_in_case(rt.case)
    assert rt.q("SELECT count(*) AS n FROM contacts") == [{"n": 0}]  # the case did not ask for pseudonyms


def test_text_and_contact_pseudonyms_when_the_case_asks(rt, tmp_path):
    case = forumscope.create_case(tmp_path / "case", settings={
        "privacy": {"store_private_message_text": True, "store_contact_pseudonyms": True}})
    forumscope.ingest_sources([rt.dump], case, "vbulletin", options=ReadOptions(forum_id="synth"))
    texts = sorted((r["sent_at"], r["text"]) for r in case.sql("SELECT * FROM private_messages").to_pylist())
    assert [t for _, t in texts] == [m["text"] for m in PRIVATE_MESSAGES]
    contacts = case.sql("SELECT * FROM contacts").to_pylist()
    emails = [c for c in contacts if c["kind"] == "email"]
    assert len(emails) == rt.truth["counts"]["users"]
    assert all(c["pseudonym"].startswith(("E-", "I-")) and "@" not in c["pseudonym"] for c in contacts)
    ip_users = {c["user_id"] for c in contacts if c["kind"] == "ip"}
    assert ip_users == {u["id"] for u in case.sql("SELECT id FROM users").to_pylist()}
    assert clear_values_in_case(case) == {}
    case.close()


def test_touserarray_recipients_are_read(tmp_path):
    """vBulletin 3 kept recipients in ``pmtext.touserarray`` (PHP-serialised); without ``pm`` copies
    they are still found there."""
    ser = php_serialize({"cc": {7: "ann", 12: "bøb"}})
    assert ser == 'a:1:{s:2:"cc";a:2:{i:7;s:3:"ann";i:12;s:4:"bøb";}}'
    dump = tmp_path / "pm.sql"
    dump.write_text(
        "CREATE TABLE `post` (`postid` int, `threadid` int, `userid` int, `pagetext` mediumtext, `dateline` int);\n"
        "INSERT INTO `post` VALUES (1,1,5,'hi',1600000000);\n"
        "CREATE TABLE `pmtext` (`pmtextid` int, `fromuserid` int, `title` varchar(250), `message` mediumtext, "
        "`touserarray` mediumtext, `dateline` int);\n"
        f"INSERT INTO `pmtext` VALUES (3,5,'t','secret words','{ser}',1600000100);\n"
        "CREATE TABLE `usergroup` (`usergroupid` int, `title` char(100));\nINSERT INTO `usergroup` VALUES (2,'Registered');\n"
        "CREATE TABLE `usertitle` (`usertitleid` int, `minposts` int, `title` char(250));\n"
        "INSERT INTO `usertitle` VALUES (1,0,'New');\n", encoding="utf-8")
    case = forumscope.create_case(tmp_path / "case")
    forumscope.ingest_sources([dump], case, "vbulletin", options=ReadOptions(forum_id="f"))
    (pm,) = case.sql("SELECT * FROM private_messages").to_pylist()
    assert (pm["id"], pm["sender_id"], pm["recipient_ids"], pm["text"]) == ("3", "5", "12|7", None)
    case.close()


def test_engine_spec_reads_no_secret_columns():
    cols = [c for cs in ENGINE.known_tables.values() for c in cs]
    assert not {"password", "salt", "passworddate", "sessionhash"} & set(cols)
    assert "session" in ENGINE.never_stored and "customavatar" in ENGINE.never_stored


@pytest.mark.slow
def test_larger_forum_also_recovers_the_undeclared_gate(tmp_path):
    rt = build("vbulletin", tmp_path, posts=25_000, seed=4, dump_name="big.sql")
    b = {r["board_id"]: r for r in rt.result("gating_boards", "gating")}
    ids = {k: str(v) for k, v in rt.written["ids"]["boards"].items()}
    vet = b[ids["en-veterans"]]
    planted = next(g for g in rt.truth["gated_boards"] if g["board_id"] == "en-veterans")
    assert vet["gated"] and vet["gate_source"] == "estimated"
    assert abs(vet["estimated_threshold_posts"] - planted["equivalent_min_posts"]) <= 1
    assert vet["estimated_threshold_rank_id"] == rt.written["ids"]["ranks"][planted["min_rank_id"]]
    assert sum(r["gated"] for r in b.values()) == 3
    m = rt.truth["members"]
    lurk = {r["measure"]: r for r in rt.result("commitment_rates", "commitment")}["lurker_share"]
    assert (lurk["numerator"], lurk["denominator"]) == (m["lurkers"], m["registered"])
    rt.case.close()


def test_docs_page_names_every_table_and_column_read():
    assert undocumented(ENGINE, REPO / "docs" / "engines" / "vbulletin.md", "") == []


def test_vbulletin_3_attachments_and_thread_redirects(tmp_path):
    """vBulletin 3 kept attachment records (and bytes) in one table with ``postid``; a moved thread
    leaves a redirect (``open = 10``) that is not a thread. The bytes are never read."""
    dump = tmp_path / "vb3.sql"
    dump.write_text(
        "CREATE TABLE `thread` (`threadid` int, `title` varchar(250), `forumid` int, `open` smallint, "
        "`postuserid` int, `dateline` int);\n"
        "INSERT INTO `thread` VALUES (1,'moved here',2,1,5,1600000000),(2,'moved here',3,10,5,1600000000);\n"
        "CREATE TABLE `post` (`postid` int, `threadid` int, `userid` int, `pagetext` mediumtext, `dateline` int);\n"
        "INSERT INTO `post` VALUES (1,1,5,'see the file',1600000000);\n"
        "CREATE TABLE `attachment` (`attachmentid` int, `userid` int, `dateline` int, `filename` varchar(100), "
        "`filedata` mediumblob, `visible` smallint, `counter` int, `filesize` int, `postid` int, `filehash` char(32), "
        "`extension` varchar(20));\n"
        "INSERT INTO `attachment` VALUES (4,5,1600000000,'notes.txt',0x68656C6C6F,1,3,5,1,"
        "'5d41402abc4b2a76b9719d911017c592','txt');\n"
        "CREATE TABLE `usergroup` (`usergroupid` int, `title` char(100));\n"
        "CREATE TABLE `usertitle` (`usertitleid` int, `minposts` int, `title` char(250));\n", encoding="utf-8")
    case = forumscope.create_case(tmp_path / "case")
    forumscope.ingest_sources([dump], case, "vbulletin", options=ReadOptions(forum_id="f"))
    (a,) = case.sql("SELECT * FROM attachments").to_pylist()
    assert (a["id"], a["post_id"], a["file_name"], a["size_bytes"], a["declared_type"], a["download_count"]) == (
        "4", "1", "notes.txt", 5, "txt", 3)
    assert a["md5"] == "5d41402abc4b2a76b9719d911017c592"
    assert [t["id"] for t in case.sql("SELECT id FROM threads").to_pylist()] == ["1"]
    assert clear_values_in_case(case, {"bytes": "hello"}) == {}
    case.close()
