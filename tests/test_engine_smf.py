"""SMF: a synthetic forum written as an SMF 2.1 dump (``synth --as smf``) and read back
(``ingest --format smf``) keeps its planted truth: posts and text (HTML-escaped BBCode with <br />),
post-count membergroups as the rank ladder, the declared gates (board member_groups with post groups; the
read-only permission profile for the staff board), lurkers, quotes, mentions, likes as thanks, private
message metadata; no password, session, e-mail or IP reaches the case."""

from __future__ import annotations

import pytest
from engine_checks import (EXTRA_CLEAR, check_counts, check_gates, check_interactions, check_ladder, check_lurkers,
                           check_nothing_secret, check_posts, check_private_messages)
from engine_roundtrip import PRIVATE_MESSAGES, build, clear_values_in_case

import forumscope
from forumscope.engines.smf import ENGINE
from forumscope.ingest.base import ReadOptions


@pytest.fixture(scope="module")
def rt(tmp_path_factory):
    r = build("smf", tmp_path_factory.mktemp("smf"), posts=4000, seed=23, dump_name="forum.sql.zst")
    yield r
    r.case.close()


def test_every_record_arrives(rt):
    check_counts(rt, ("posts", "threads", "users", "attachments"))
    # categories become parent boards
    assert rt.ingest.counts["boards"].stored == rt.truth["counts"]["boards"]


def test_posts_text_and_quote_parents(rt):
    check_posts(rt, parent="quote")


def test_post_groups_are_the_rank_ladder(rt):
    check_ladder(rt, rt.written["ids"]["ranks"])


def test_declared_gates_from_member_groups_and_profiles(rt):
    check_gates(rt, {"1", "2", "3"})  # Administrator, Global Moderator, Moderator may post on profile 4
    inner = str(rt.written["ids"]["boards"]["en-inner"])
    assert rt.q("SELECT is_hidden FROM boards WHERE id = ?", inner)[0]["is_hidden"] is True


def test_lurkers(rt):
    check_lurkers(rt)


def test_quotes_mentions_likes(rt):
    check_interactions(rt, "thanks")


def test_private_message_metadata(rt):
    check_private_messages(rt)


def test_memberships(rt):
    got = {(m["user_id"], m["group_id"]) for m in rt.q("SELECT user_id, group_id FROM memberships")}
    ids = rt.written["ids"]["groups"]
    for m in rt.canonical("memberships"):
        gid = ids[m["group_id"]]
        if gid:  # regular members (group 0) are implicit in SMF
            assert (m["user_id"][1:], str(gid)) in got


def test_nothing_secret(rt):
    check_nothing_secret(rt)


def test_pm_text_and_contacts_when_asked(rt, tmp_path):
    case = forumscope.create_case(tmp_path / "case", settings={
        "privacy": {"store_private_message_text": True, "store_contact_pseudonyms": True}})
    forumscope.ingest_sources([rt.dump], case, "smf", options=ReadOptions(forum_id="synth"))
    assert sorted(r["text"] for r in case.sql("SELECT text FROM private_messages").to_pylist()) == sorted(
        m["text"] for m in PRIVATE_MESSAGES)
    kinds = {r["kind"] for r in case.sql("SELECT DISTINCT kind FROM contacts").to_pylist()}
    assert kinds == {"email", "ip"}
    assert clear_values_in_case(case, EXTRA_CLEAR) == {}
    case.close()


def test_spec_never_reads_secrets():
    cols = {c for cols in ENGINE.known_tables.values() for c in cols}
    assert not {"passwd", "password_salt", "secret_answer", "validation_code", "tfa_secret"} & cols
    assert {"sessions", "log_online"} <= set(ENGINE.never_stored)
