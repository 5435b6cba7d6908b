"""MyBB: a synthetic forum written as a MyBB 1.8 dump (``synth --as mybb``) and read back
(``ingest --format mybb``) keeps its planted truth: posts with their explicit parents (``replyto``),
user titles as the rank ladder and staff titles as special ranks, the declared gates (forum permissions
+ a post-count promotion), lurkers, quotes, mentions, reputation, private message metadata (inbox
copies); no password, session, e-mail or IP reaches the case."""

from __future__ import annotations

import pytest
from engine_checks import (EXTRA_CLEAR, check_counts, check_gates, check_interactions, check_ladder, check_lurkers,
                           check_nothing_secret, check_posts, check_private_messages)
from engine_roundtrip import build, clear_values_in_case

import forumscope
from forumscope.engines.mybb import ENGINE
from forumscope.ingest.base import ReadOptions


@pytest.fixture(scope="module")
def rt(tmp_path_factory):
    r = build("mybb", tmp_path_factory.mktemp("mybb"), posts=4000, seed=24, dump_name="forum.sql")
    yield r
    r.case.close()


def test_every_record_arrives(rt):
    check_counts(rt, ("posts", "threads", "users", "attachments", "boards"))


def test_posts_keep_their_explicit_parent(rt):
    check_posts(rt, parent="explicit")
    derived = rt.ingest.counts["interactions"].derived
    assert derived == sum(1 for p in rt.canonical("posts") if p.get("parent_id"))


def test_user_titles_are_the_rank_ladder(rt):
    check_ladder(rt, rt.written["ids"]["ranks"])


def test_declared_gates_from_forum_permissions_and_promotions(rt):
    check_gates(rt, {"3", "4", "6"})  # super moderators, administrators, moderators


def test_lurkers(rt):
    check_lurkers(rt)


def test_quotes_mentions_reputation(rt):
    check_interactions(rt, "reputation")
    rep = {u["id"]: u["reputation"] for u in rt.q("SELECT id, reputation FROM users")}
    received = {}
    for i in rt.canonical("interactions"):
        if i["kind"] == "thanks":
            received[i["target_user_id"][1:]] = received.get(i["target_user_id"][1:], 0) + 1
    assert {k: v for k, v in rep.items() if v} == received


def test_private_messages_from_inbox_copies(rt):
    check_private_messages(rt, per_recipient=True)


def test_nothing_secret(rt):
    check_nothing_secret(rt)


def test_contacts_when_asked(rt, tmp_path):
    case = forumscope.create_case(tmp_path / "case", settings={"privacy": {"store_contact_pseudonyms": True}})
    forumscope.ingest_sources([rt.dump], case, "mybb", options=ReadOptions(forum_id="synth"))
    rows = case.sql("SELECT kind, count(*) AS n FROM contacts GROUP BY 1").to_pylist()
    assert {r["kind"] for r in rows} == {"email", "ip"}
    assert clear_values_in_case(case, EXTRA_CLEAR) == {}
    case.close()


def test_spec_never_reads_secrets():
    cols = {c for cols in ENGINE.known_tables.values() for c in cols}
    assert not {"password", "salt", "loginkey"} & cols
    assert {"sessions", "adminsessions", "awaitingactivation"} <= set(ENGINE.never_stored)
