"""phpBB: a synthetic forum written as a phpBB 3.3 dump (``synth --as phpbb``) and read back
(``ingest --format phpbb``) keeps its planted truth: every post with its text, the rank ladder and
thresholds, the declared gates (permissions + Auto Groups), lurkers, quotes, mentions, thanks, private
message metadata; passwords, sessions, e-mails and IPs never reach the case."""

from __future__ import annotations

import pytest
from engine_checks import (phpbb_id, check_counts, check_gates, check_interactions, check_ladder, check_lurkers,
                           check_nothing_secret, check_posts, check_private_messages)
from engine_checks import EXTRA_CLEAR
from engine_roundtrip import PRIVATE_MESSAGES, build, clear_values_in_case

import forumscope
from forumscope.engines.phpbb import ENGINE
from forumscope.ingest.base import ReadOptions
from forumscope.synth.engines.phpbb import USER_OFFSET


def uid(cid: str) -> str:
    return str(int(cid[1:]) + USER_OFFSET)


@pytest.fixture(scope="module")
def rt(tmp_path_factory):
    r = build("phpbb", tmp_path_factory.mktemp("phpbb"), posts=4000, seed=22, dump_name="forum.sql.gz")
    yield r
    r.case.close()


def test_every_record_arrives(rt):
    check_counts(rt, ("posts", "threads", "attachments"))
    bots_and_anonymous = 1 + 5
    assert rt.ingest.counts["users"].stored == rt.truth["counts"]["users"] + bots_and_anonymous
    assert rt.q("SELECT count(*) AS n FROM users WHERE is_bot")[0]["n"] == bots_and_anonymous


def test_posts_text_and_quote_parents(rt):
    check_posts(rt, parent="quote", n=phpbb_id)


def test_rank_ladder_and_special_ranks(rt):
    check_ladder(rt, rt.written["ids"]["ranks"], user_id=uid)


def test_declared_gates_from_permissions_and_auto_groups(rt):
    check_gates(rt, {"4", "5"})  # GLOBAL_MODERATORS, ADMINISTRATORS
    rules = {r["id"]: r["access_rule"] for r in rt.q("SELECT id, access_rule FROM boards")}
    assert "closed for posting" in rules[str(rt.written["ids"]["boards"]["en-releases"])]


def test_lurkers(rt):
    check_lurkers(rt)


def test_quotes_mentions_thanks(rt):
    check_interactions(rt, "thanks", n=phpbb_id)


def test_private_message_metadata(rt):
    check_private_messages(rt, n=phpbb_id)


def test_memberships(rt):
    got = {(m["user_id"], m["group_id"]) for m in rt.q("SELECT user_id, group_id FROM memberships")}
    for m in rt.canonical("memberships"):
        assert (uid(m["user_id"]), str(rt.written["ids"]["groups"][m["group_id"]])) in got
    gate = str(rt.written["ids"]["gate_groups"]["en-inner"])
    members = {u for u, g in got if g == gate}
    assert members == {uid(u["id"]) for u in rt.canonical("users") if u["post_count_reported"] >= 50}


def test_nothing_secret(rt):
    check_nothing_secret(rt)
    assert "phpbb_sessions" in " ".join(rt.ingest.skipped)


def test_contacts_and_pm_text_only_when_the_case_asks(rt, tmp_path):
    case = forumscope.create_case(tmp_path / "case", settings={
        "privacy": {"store_private_message_text": True, "store_contact_pseudonyms": True}})
    forumscope.ingest_sources([rt.dump], case, "phpbb", options=ReadOptions(forum_id="synth"))
    assert sorted(r["text"] for r in case.sql("SELECT text FROM private_messages").to_pylist()) == sorted(
        m["text"] for m in PRIVATE_MESSAGES)
    contacts = case.sql("SELECT * FROM contacts").to_pylist()
    assert sum(c["kind"] == "email" for c in contacts) == rt.truth["counts"]["users"]  # bots have none
    assert all(c["pseudonym"].startswith(("E-", "I-")) for c in contacts)
    posters = {r["author_id"] for r in case.sql("SELECT DISTINCT author_id FROM posts").to_pylist()}
    assert posters <= {c["user_id"] for c in contacts if c["kind"] == "ip"}
    assert clear_values_in_case(case, EXTRA_CLEAR) == {}
    # keyed: another case (another key) gives other pseudonyms for the same addresses
    other = forumscope.create_case(tmp_path / "other", settings={"privacy": {"store_contact_pseudonyms": True}})
    forumscope.ingest_sources([rt.dump], other, "phpbb", options=ReadOptions(forum_id="synth"))
    a = {c["pseudonym"] for c in contacts}
    b = {c["pseudonym"] for c in other.sql("SELECT pseudonym FROM contacts").to_pylist()}
    assert a and b and not a & b
    case.close()
    other.close()


def test_spec_never_reads_secrets():
    assert {"sessions", "sessions_keys", "login_attempts", "oauth_tokens"} <= set(ENGINE.never_stored)
    cols = {c for cols in ENGINE.known_tables.values() for c in cols}
    assert not {"user_password", "user_form_salt", "user_actkey", "reset_token", "user_newpasswd"} & cols
