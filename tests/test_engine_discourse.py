"""Discourse: a synthetic forum written as a Discourse ``pg_dump`` (``synth --as discourse``) and read
back (``ingest --format discourse``) keeps its planted truth: counts, trust levels as ranks (thresholds
inferred from the data), category permissions as declared gates, lurkers, quotes, mentions, likes as
thanks, private-message topics as metadata; no password hash, token, e-mail or IP reaches the case."""

from __future__ import annotations

import collections
import gzip
import hashlib
import re

import pytest
from conftest import REPO
from engine_roundtrip import PRIVATE_MESSAGES, build, clear_values_in_case, hex_tokens_in_case, n, undocumented

import forumscope
from forumscope.engines.discourse import ENGINE
from forumscope.ingest.base import ReadOptions


@pytest.fixture(scope="module")
def rt(tmp_path_factory):
    r = build("discourse", tmp_path_factory.mktemp("dc"), posts=4000, seed=24, dump_name="forum.sql.gz")
    yield r
    r.case.close()


def expected_trust_levels(rt) -> dict[str, int]:
    """Each member's trust level as the writer sets it: the rank's position on the post-count ladder
    (capped at 4); staff by their post count."""
    tl_of_rank = rt.written["ids"]["trust_levels"]
    mins = rt.written["ids"]["trust_level_min_posts"]
    out = {}
    for u in rt.canonical("users"):
        if u.get("rank_id") in tl_of_rank:
            out[n(u["id"])] = tl_of_rank[u["rank_id"]]
        else:
            posts = u.get("post_count_reported") or 0
            out[n(u["id"])] = max(i for i, t in enumerate(mins) if posts >= t)
    return out


def test_every_record_arrives(rt):
    c = rt.truth["counts"]
    got = {t: v.stored for t, v in rt.ingest.counts.items()}
    for t in ("posts", "threads", "attachments"):
        assert got[t] == c[t], t
    assert got["users"] == c["users"] + 1  # + Discourse's own 'system' user
    assert got["boards"] == c["boards"] + 1  # + Discourse's 'Uncategorized'
    assert rt.q("SELECT is_bot FROM users WHERE name = 'system'") == [{"is_bot": True}]
    assert all(v.rejected == 0 for v in rt.ingest.counts.values())


def test_posts_keep_author_topic_reply_to_and_text(rt):
    truth = {n(p["id"]): p for p in rt.canonical("posts")}
    with_attachment = {n(a["post_id"]) for a in rt.canonical("attachments")}
    got = rt.q("SELECT id, thread_id, author_id, parent_id, position, created_at, text, format FROM posts")
    assert len(got) == len(truth)
    differ = []
    for p in got:
        t = truth[p["id"]]
        assert (p["thread_id"], p["author_id"], p["position"]) == (n(t["thread_id"]), n(t["author_id"]), t["position"])
        assert p["parent_id"] == n(t.get("parent_id"))  # reply_to_post_number within the topic
        assert p["created_at"].strftime("%Y-%m-%dT%H:%M:%SZ") == t["created_at"] and p["format"] == "markdown"
        if p["id"] not in with_attachment and p["text"] != t["text"]:
            differ.append(t["text"])
    assert differ == []


def test_intraword_underscores_survive():
    """Markdown emphasis never starts inside a word (CommonMark): names and emoticons keep their '_'."""
    from forumscope.markup import to_text

    c = to_text("@old_coder said o_O", "markdown")
    assert c.text == "@old_coder said o_O" and [r.target_name for r in c.refs if r.kind == "mention"] == ["old_coder"]


def test_trust_levels_as_ranks_with_inferred_thresholds(rt):
    want = expected_trust_levels(rt)
    users = {u["id"]: u["rank_id"] for u in rt.q("SELECT id, rank_id FROM users WHERE NOT is_bot")}
    assert users == {u: f"tl{tl}" for u, tl in want.items()}
    ranks = {r["rank_id"]: r for r in rt.result("hierarchy_ranks", "hierarchy")}
    holders = collections.Counter(want.values())
    mins = rt.written["ids"]["trust_level_min_posts"]
    for tl, planted in enumerate(mins):
        r = ranks[f"tl{tl}"]
        assert r["holders"] == holders.get(tl, 0)
        if not holders.get(tl):
            continue
        assert r["threshold_source"] == "inferred"  # Discourse does not promote by post count
        assert r["inferred_threshold_low"] <= planted <= r["inferred_threshold_high"]
    lad = rt.result("hierarchy_ladder", "hierarchy")[0]
    assert lad["consistent_share"] == 1.0


def test_category_permissions_are_declared_gates(rt):
    b = {r["board_id"]: r for r in rt.result("gating_boards", "gating")}
    ids = {k: str(v) for k, v in rt.written["ids"]["boards"].items()}
    inner, announce = b[ids["en-inner"]], b[ids["en-announce"]]
    # trust_level_2 may post, everyone else only read: a rank gate at the level 50 posts give
    assert (inner["gate_source"], inner["declared_min_rank_id"], inner["gate_rank_id"]) == ("declared", "tl2", "tl2")
    tl2 = {r["rank_id"]: r for r in rt.result("hierarchy_ranks", "hierarchy")}["tl2"]
    assert tl2["holders"] > 0  # the fixture's seed has level-2 members, so the level's threshold is inferred
    assert inner["gate_posts"] == tl2["threshold"] and tl2["inferred_threshold_low"] <= 50 <= tl2["inferred_threshold_high"]
    assert inner["declared_consistent_share"] == 1.0
    # admins and moderators only
    assert (announce["gate_source"], announce["gate_type"]) == ("declared", "group")
    assert set(announce["gate_group_ids"].split("|")) == {"1", "2"} and announce["declared_consistent_share"] == 1.0
    assert {k for k, r in b.items() if r["gate_source"] == "declared"} == {ids["en-inner"], ids["en-announce"]}
    rule = rt.q("SELECT access_rule FROM boards WHERE id = ?", ids["en-releases"])[0]["access_rule"]
    assert rule.startswith("read-only for everyone")  # the taken-down category


def test_lurkers(rt):
    m = rt.truth["members"]
    lurk = {r["measure"]: r for r in rt.result("commitment_rates", "commitment")}["lurker_share"]
    assert (lurk["numerator"], lurk["denominator"]) == (m["lurkers"], m["registered"])


def test_groups_and_memberships(rt):
    got = collections.defaultdict(dict)
    for m in rt.q("SELECT user_id, group_id, since FROM memberships"):
        got[m["group_id"]][m["user_id"]] = m["since"]
    truth = collections.defaultdict(dict)
    for m in rt.canonical("memberships"):
        truth[m["group_id"]][n(m["user_id"])] = m["since"]
    for gid in ("g-admins", "g-mods", "g-vip"):
        num = str(rt.written["ids"]["groups"][gid])
        assert {u: s.strftime("%Y-%m-%dT%H:%M:%SZ") for u, s in got[num].items()} == truth[gid], gid
    assert set(got["3"]) == set(truth["g-admins"]) | set(truth["g-mods"])  # staff = admins + moderators
    levels = expected_trust_levels(rt)
    for tl in range(5):  # trust_level_N holds every member of level N and above
        assert set(got[str(10 + tl)]) == {u for u, lv in levels.items() if lv >= tl}
    kinds = {g["id"]: g["kind"] for g in rt.q("SELECT id, kind FROM groups")}
    assert (kinds["1"], kinds["2"], kinds["3"], kinds["12"]) == ("admin", "moderator", "staff", "member")
    assert kinds[str(rt.written["ids"]["groups"]["g-vip"])] == "vip"


def test_quotes_mentions_and_likes(rt):
    inter = rt.canonical("interactions")
    planted = collections.Counter(i["kind"] for i in inter)
    got = collections.Counter(r["kind"] for r in rt.q("SELECT kind FROM interactions"))
    assert got["quote"] == planted["quote"] and got["thanks"] == planted["thanks"]
    quotes = {(r["post_id"], r["target_post_id"]) for r in rt.q("SELECT * FROM interactions WHERE kind = 'quote'")}
    assert quotes == {(n(i["post_id"]), n(i["target_post_id"])) for i in inter if i["kind"] == "quote"}
    mentions = {(r["post_id"], r["target_user_id"]) for r in rt.q("SELECT * FROM interactions WHERE kind = 'mention'")}
    assert mentions == {(n(i["post_id"]), n(i["target_user_id"])) for i in inter if i["kind"] == "mention"}
    assert got["mention"] == planted["mention"]
    likes = rt.q("SELECT * FROM interactions WHERE kind = 'thanks'")
    assert {x["detail"] for x in likes} == {"like"}
    assert collections.Counter((x["source_user_id"], x["target_post_id"]) for x in likes) == collections.Counter(
        (n(i["source_user_id"]), n(i["target_post_id"])) for i in inter if i["kind"] == "thanks")


def test_quotes_from_the_markup_when_quoted_posts_is_missing(rt, tmp_path):
    """Older or partial dumps may lack ``quoted_posts``: the ``[quote="name, post:N, topic:T"]``
    markup gives the same quotes (post number N of topic T)."""
    text = gzip.decompress(rt.dump.read_bytes()).decode("utf-8")
    cut = re.sub(r"COPY public\.quoted_posts .*?\n\\\.\n", "", text, flags=re.DOTALL)
    cut = re.sub(r"CREATE TABLE public\.quoted_posts \(.*?\);\n", "", cut, flags=re.DOTALL)
    assert "quoted_posts (" not in cut.split("ALTER SEQUENCE")[0] and len(cut) < len(text)
    dump = tmp_path / "no_quoted_posts.sql"
    dump.write_text(cut, encoding="utf-8")
    case = forumscope.create_case(tmp_path / "case")
    forumscope.ingest_sources([dump], case, "discourse", options=ReadOptions(forum_id="synth"))
    got = {(r["post_id"], r["target_post_id"]) for r in
           case.sql("SELECT * FROM interactions WHERE kind = 'quote'").to_pylist()}
    assert got == {(n(i["post_id"]), n(i["target_post_id"])) for i in rt.canonical("interactions") if i["kind"] == "quote"}
    case.close()


def test_upload_records(rt):
    truth = {n(a["id"]): a for a in rt.canonical("attachments")}
    got = {a["id"]: a for a in rt.q("SELECT * FROM attachments")}
    assert set(got) == set(truth)
    for k, a in got.items():
        t = truth[k]
        assert (a["post_id"], a["user_id"], a["file_name"], a["size_bytes"]) == (
            n(t["post_id"]), n(t["user_id"]), t["file_name"], t["size_bytes"])
        assert len(a["sha1"]) == 40


def test_private_message_topics(rt):
    pms = sorted(rt.q("SELECT * FROM private_messages"), key=lambda r: r["sent_at"])
    assert len(pms) == len(PRIVATE_MESSAGES)
    ids = {w["id"]: g["id"] for g, w in zip(pms, PRIVATE_MESSAGES)}
    convs = collections.defaultdict(set)
    for got, want in zip(pms, PRIVATE_MESSAGES):
        assert got["sender_id"] == n(want["sender_id"]) and got["text"] is None
        assert set(got["recipient_ids"].split("|")) == {n(u) for u in want["recipient_ids"].split("|")}
        assert got["parent_id"] == (ids[want["parent_id"]] if want.get("parent_id") else None)
        convs[got["conversation_id"]].add(want["conversation_id"])
    assert len(convs) == 3 and all(len(v) == 1 for v in convs.values())
    # private-message topics are neither threads nor posts
    assert rt.q("SELECT count(*) AS n FROM threads")[0]["n"] == rt.truth["counts"]["threads"]


def test_no_password_token_email_or_ip_in_the_case(rt):
    assert clear_values_in_case(rt.case) == {}
    secrets = set()
    for u in rt.canonical("users"):
        uid = int(n(u["id"]))
        secrets |= {hashlib.sha256(f"synthetic-password-{uid}".encode()).hexdigest(),
                    hashlib.md5(f"salt{uid}".encode()).hexdigest(), hashlib.md5(f"token{uid}".encode()).hexdigest()}
    assert not secrets & hex_tokens_in_case(rt.case)


def test_contact_pseudonyms_and_text_when_the_case_asks(rt, tmp_path):
    case = forumscope.create_case(tmp_path / "case", settings={
        "privacy": {"store_private_message_text": True, "store_contact_pseudonyms": True}})
    forumscope.ingest_sources([rt.dump], case, "discourse", options=ReadOptions(forum_id="synth"))
    assert sorted(r["text"] for r in case.sql("SELECT text FROM private_messages").to_pylist()) == sorted(
        m["text"] for m in PRIVATE_MESSAGES)
    contacts = case.sql("SELECT * FROM contacts").to_pylist()
    assert sum(c["kind"] == "email" for c in contacts) == rt.truth["counts"]["users"] + 1
    assert all(c["pseudonym"][:2] in ("E-", "I-") for c in contacts)
    assert clear_values_in_case(case) == {}
    case.close()


def test_engine_spec_never_reads_tokens():
    cols = {c for cs in ENGINE.known_tables.values() for c in cs}
    assert not {"password_hash", "salt", "auth_token"} & cols
    assert {"user_auth_tokens", "email_tokens", "api_keys", "incoming_emails"} <= set(ENGINE.never_stored)


@pytest.mark.slow
def test_larger_forum_also_recovers_the_undeclared_gate(tmp_path):
    rt = build("discourse", tmp_path, posts=25_000, seed=4, dump_name="big.sql")
    b = {r["board_id"]: r for r in rt.result("gating_boards", "gating")}
    ids = {k: str(v) for k, v in rt.written["ids"]["boards"].items()}
    planted = next(g for g in rt.truth["gated_boards"] if g["board_id"] == "en-veterans")
    vet = b[ids["en-veterans"]]
    assert vet["gated"] and vet["gate_source"] == "estimated"
    assert abs(vet["estimated_threshold_posts"] - planted["equivalent_min_posts"]) <= 1
    ranks = {r["rank_id"]: r for r in rt.result("hierarchy_ranks", "hierarchy")}
    for tl, planted_min in enumerate(rt.written["ids"]["trust_level_min_posts"]):
        if ranks[f"tl{tl}"]["holders"]:
            assert ranks[f"tl{tl}"]["inferred_threshold_low"] <= planted_min <= ranks[f"tl{tl}"]["inferred_threshold_high"]
    rt.case.close()


def test_docs_page_names_every_table_and_column_read():
    assert undocumented(ENGINE, REPO / "docs" / "engines" / "discourse.md", "") == []


def test_small_action_posts_are_events_not_posts(tmp_path):
    """Discourse records moderation as posts of type 3 ("small action", e.g. closing a topic): they
    become events of the topic, not posts."""
    dump = tmp_path / "dc.sql"
    dump.write_text(
        "--\n-- PostgreSQL database dump\n--\n\nSET standard_conforming_strings = on;\n\n"
        "CREATE TABLE public.topics (id integer, title character varying, category_id integer, archetype character "
        "varying, user_id integer, created_at timestamp without time zone);\n"
        "CREATE TABLE public.posts (id integer, user_id integer, topic_id integer, post_number integer, raw text, "
        "created_at timestamp without time zone, post_type integer, action_code character varying);\n"
        "COPY public.topics (id, title, category_id, archetype, user_id, created_at) FROM stdin;\n"
        "7\tBike race\t2\tregular\t3\t2020-01-01 10:00:00\n\\.\n\n"
        "COPY public.posts (id, user_id, topic_id, post_number, raw, created_at, post_type, action_code) FROM stdin;\n"
        "70\t3\t7\t1\tWho rides on Sunday?\t2020-01-01 10:00:00\t1\t\\N\n"
        "71\t4\t7\t2\t\t2020-01-02 09:00:00\t3\tclosed.enabled\n\\.\n\n", encoding="utf-8")
    case = forumscope.create_case(tmp_path / "case")
    forumscope.ingest_sources([dump], case, "discourse", options=ReadOptions(forum_id="f"))
    assert [p["id"] for p in case.sql("SELECT id FROM posts").to_pylist()] == ["70"]
    (e,) = case.sql("SELECT * FROM events").to_pylist()
    assert (e["kind"], e["thread_id"], e["user_id"], e["detail"]) == ("close", "7", "4", "closed.enabled")
    case.close()
