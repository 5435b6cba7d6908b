"""XenForo: a synthetic forum written as a XenForo 2 dump (``synth --as xenforo``) and read back
(``ingest --format xenforo``) keeps its planted truth: counts, the title ladder and its thresholds,
declared gates (node permissions, promotions), lurkers, quotes, mentions, reactions as thanks,
conversation metadata; no password data, e-mail or IP reaches the case."""

from __future__ import annotations

import collections
import hashlib
import json

import pytest
from conftest import REPO
from engine_roundtrip import PRIVATE_MESSAGES, build, clear_values_in_case, hex_tokens_in_case, n, undocumented

import forumscope
from forumscope.engines.xenforo import ENGINE, promotion_threshold
from forumscope.ingest.base import ReadOptions
from forumscope.synth.engines.tabledef import php_serialize


@pytest.fixture(scope="module")
def rt(tmp_path_factory):
    r = build("xenforo", tmp_path_factory.mktemp("xf"), posts=4000, seed=22, dump_name="forum.sql.zst")
    yield r
    r.case.close()


def test_every_record_arrives(rt):
    c = rt.truth["counts"]
    got = {t: v.stored for t, v in rt.ingest.counts.items()}
    for t in ("posts", "threads", "users", "boards", "attachments"):
        assert got[t] == c[t], t
    assert all(v.rejected == 0 for v in rt.ingest.counts.values())
    skipped = " ".join(rt.ingest.skipped)
    assert "xf_user_authenticate" in skipped and "xf_session" in skipped


def test_flat_threads_keep_position_and_quote_replies(rt):
    truth = {n(p["id"]): p for p in rt.canonical("posts")}
    quoted = {n(i["post_id"]): n(i["target_post_id"]) for i in rt.canonical("interactions") if i["kind"] == "quote"}
    with_attachment = {n(a["post_id"]) for a in rt.canonical("attachments")}
    got = rt.q("SELECT id, thread_id, author_id, parent_id, position, created_at, text FROM posts")
    assert len(got) == len(truth)
    for p in got:
        t = truth[p["id"]]
        assert (p["thread_id"], p["author_id"], p["position"]) == (n(t["thread_id"]), n(t["author_id"]), t["position"])
        assert p["created_at"].strftime("%Y-%m-%dT%H:%M:%SZ") == t["created_at"]
        # XenForo has no parent column: a quote of an earlier post of the thread is the reply link
        assert p["parent_id"] == quoted.get(p["id"])
        if p["id"] not in with_attachment:
            assert p["text"] == t["text"]


def test_title_ladder_and_special_titles(rt):
    lad = rt.truth["rank_ladder"]
    ranks = {r["rank_id"]: r for r in rt.result("hierarchy_ranks", "hierarchy")}
    for planted in lad["ranks"]:
        r = ranks[f"utl{planted['min_posts']}"]
        assert (r["threshold_source"], r["threshold"]) == ("declared", planted["min_posts"])
        assert r["holders"] == lad["members_per_rank"][planted["rank_id"]]
    users = {u["id"]: u["rank_id"] for u in rt.q("SELECT id, rank_id FROM users")}
    for s in lad["special_ranks"]:
        assert {users[n(u)] for u in s["holders"]} == {"ug3" if s["rank_id"] == "r-admin" else "ug4"}
    ladder_rows = rt.q("SELECT * FROM ranks WHERE NOT is_special ORDER BY position")
    assert [r["min_posts"] for r in ladder_rows] == [p["min_posts"] for p in lad["ranks"]]


def test_declared_gates_from_node_permissions(rt):
    b = {r["board_id"]: r for r in rt.result("gating_boards", "gating")}
    ids = {k: str(v) for k, v in rt.written["ids"]["boards"].items()}
    planted = {g["board_id"]: g for g in rt.truth["gated_boards"]}
    inner, announce = b[ids["en-inner"]], b[ids["en-announce"]]
    assert (inner["gate_source"], inner["gate_type"], inner["gate_posts"]) == (
        "declared", "post_count", planted["en-inner"]["threshold"])
    assert inner["declared_consistent_share"] == 1.0
    assert (announce["gate_source"], announce["gate_type"]) == ("declared", "group")
    assert set(announce["gate_group_ids"].split("|")) == {"3", "4"} and announce["declared_consistent_share"] == 1.0
    assert {k for k, r in b.items() if r["gate_source"] == "declared"} == {ids["en-inner"], ids["en-announce"]}
    closed = rt.q("SELECT access_rule FROM boards WHERE id = ?", ids["en-releases"])[0]["access_rule"]
    assert "closed for posting" in closed  # the taken-down board


def test_lurkers(rt):
    m = rt.truth["members"]
    lurk = {r["measure"]: r for r in rt.result("commitment_rates", "commitment")}["lurker_share"]
    assert (lurk["numerator"], lurk["denominator"]) == (m["lurkers"], m["registered"])


def test_memberships_and_promotion_dates(rt):
    truth = collections.defaultdict(set)
    for mem in rt.canonical("memberships"):
        truth[mem["group_id"]].add(n(mem["user_id"]))
    got = collections.defaultdict(set)
    for mem in rt.q("SELECT user_id, group_id FROM memberships"):
        got[mem["group_id"]].add(mem["user_id"])
    for gid, num in rt.written["ids"]["groups"].items():
        assert got[str(num)] == truth[gid], gid
    # promotion group: members since the time of their 50th post (xf_user_group_promotion_log)
    promo = str(rt.written["ids"]["promotion_groups"]["50"])
    counts: dict[str, int] = collections.Counter()
    fiftieth = {}
    for p in rt.canonical("posts"):
        counts[p["author_id"]] += 1
        if counts[p["author_id"]] == 50:
            fiftieth[n(p["author_id"])] = p["created_at"]
    staff = truth["g-admins"] | truth["g-mods"]
    since = {m["user_id"]: m["since"] for m in rt.q("SELECT * FROM memberships WHERE group_id = ?", promo)}
    assert set(since) == set(fiftieth) - staff and since
    for u, at in since.items():
        assert at.strftime("%Y-%m-%dT%H:%M:%SZ") == fiftieth[u]


def test_quotes_mentions_and_reactions_as_thanks(rt):
    planted = collections.Counter(i["kind"] for i in rt.canonical("interactions"))
    got = collections.Counter(r["kind"] for r in rt.q("SELECT kind FROM interactions"))
    for kind in ("quote", "thanks", "mention"):
        assert got[kind] == planted[kind], kind
    mentions = {(r["post_id"], r["target_user_id"]) for r in rt.q("SELECT * FROM interactions WHERE kind = 'mention'")}
    assert mentions == {(n(i["post_id"]), n(i["target_user_id"])) for i in rt.canonical("interactions")
                        if i["kind"] == "mention"}
    thanks = rt.q("SELECT * FROM interactions WHERE kind = 'thanks'")
    assert {t["detail"] for t in thanks} == {"reaction 1"} and {t["value"] for t in thanks} == {1.0}
    assert collections.Counter((t["source_user_id"], t["target_post_id"]) for t in thanks) == collections.Counter(
        (n(i["source_user_id"]), n(i["target_post_id"])) for i in rt.canonical("interactions") if i["kind"] == "thanks")


def test_time_zones_declared_but_not_the_board_default(rt):
    zones = {u["id"]: u["timezone_declared"] for u in rt.q("SELECT id, timezone_declared FROM users")}
    for u in rt.canonical("users"):
        z = u.get("timezone_declared")
        assert zones[n(u["id"])] == (z if z and z != "Europe/London" else None)


def test_conversations(rt):
    pms = sorted(rt.q("SELECT * FROM private_messages"), key=lambda r: r["sent_at"])
    assert len(pms) == len(PRIVATE_MESSAGES)
    convs = collections.defaultdict(set)
    for got, want in zip(pms, PRIVATE_MESSAGES):
        assert got["sender_id"] == n(want["sender_id"]) and got["text"] is None
        assert set(got["recipient_ids"].split("|")) == {n(u) for u in want["recipient_ids"].split("|")}
        assert got["subject"] == want["subject"]
        convs[got["conversation_id"]].add(want["conversation_id"])
    assert len(convs) == 3 and all(len(v) == 1 for v in convs.values())


def test_no_password_session_email_or_ip_in_the_case(rt):
    assert clear_values_in_case(rt.case) == {}
    secrets = {hashlib.md5(f"session{int(n(u['id']))}".encode()).hexdigest() for u in rt.canonical("users")}
    secrets |= {hashlib.sha256(f"synthetic-password-{int(n(u['id']))}".encode()).hexdigest()[:53]
                for u in rt.canonical("users")}
    tokens = hex_tokens_in_case(rt.case)
    assert not any(s in t or t in s for s in secrets for t in tokens if len(t) >= 32)


def test_contact_pseudonyms_and_text_when_the_case_asks(rt, tmp_path):
    case = forumscope.create_case(tmp_path / "case", settings={
        "privacy": {"store_private_message_text": True, "store_contact_pseudonyms": True}})
    forumscope.ingest_sources([rt.dump], case, "xenforo", options=ReadOptions(forum_id="synth"))
    assert sorted(r["text"] for r in case.sql("SELECT text FROM private_messages").to_pylist()) == sorted(
        m["text"] for m in PRIVATE_MESSAGES)
    contacts = case.sql("SELECT * FROM contacts").to_pylist()
    assert sum(c["kind"] == "email" for c in contacts) == rt.truth["counts"]["users"]
    posters = {r["author_id"] for r in case.sql("SELECT DISTINCT author_id FROM posts").to_pylist()}
    assert {c["user_id"] for c in contacts if c["kind"] == "ip"} == posters  # from the IP log (xf_ip)
    assert clear_values_in_case(case) == {}
    case.close()


def test_promotion_criteria_as_stored_by_xenforo_2_and_1():
    assert promotion_threshold(json.dumps([{"rule": "messages_posted", "data": {"messages": 50}}])) == 50
    assert promotion_threshold(json.dumps([{"rule": "messages_posted", "data": {"messages": "25"}}])) == 25
    php = php_serialize([{"rule": "messages_posted", "data": {"messages": 75}}])
    assert promotion_threshold(php) == 75
    # more than one criterion (or another one): not a plain post-count promotion
    assert promotion_threshold(json.dumps([{"rule": "messages_posted", "data": {"messages": 50}},
                                           {"rule": "registered_days", "data": {"days": 30}}])) is None
    assert promotion_threshold(json.dumps([{"rule": "trophy_points", "data": {"points": 5}}])) is None
    assert promotion_threshold("") is None and promotion_threshold("not criteria") is None


def test_engine_spec_reads_no_secret_tables():
    assert {"user_authenticate", "session", "user_remember", "user_tfa"} <= set(ENGINE.never_stored)
    assert ENGINE.prefixes == ("xf_",)


@pytest.mark.slow
def test_larger_forum_also_recovers_the_undeclared_gate(tmp_path):
    rt = build("xenforo", tmp_path, posts=25_000, seed=4, dump_name="big.sql")
    b = {r["board_id"]: r for r in rt.result("gating_boards", "gating")}
    ids = {k: str(v) for k, v in rt.written["ids"]["boards"].items()}
    planted = next(g for g in rt.truth["gated_boards"] if g["board_id"] == "en-veterans")
    vet = b[ids["en-veterans"]]
    assert vet["gated"] and vet["gate_source"] == "estimated"
    assert abs(vet["estimated_threshold_posts"] - planted["equivalent_min_posts"]) <= 1
    assert sum(r["gated"] for r in b.values()) == 3
    assert rt.q("SELECT count(*) AS n FROM posts")[0]["n"] == rt.truth["counts"]["posts"]
    rt.case.close()


def test_docs_page_names_every_table_and_column_read():
    assert undocumented(ENGINE, REPO / "docs" / "engines" / "xenforo.md", "xf_") == []


def test_likes_of_xenforo_1_and_the_default_trophy_ladder(tmp_path):
    """XenForo 1.x/2.0 kept likes in ``xf_liked_content``; a title ladder on trophy points (the
    default ``userTitleLadderField``) has no post thresholds."""
    dump = tmp_path / "xf1.sql"
    dump.write_text(
        "CREATE TABLE `xf_post` (`post_id` int, `thread_id` int, `user_id` int, `post_date` int, `message` mediumtext, "
        "`position` int);\nINSERT INTO `xf_post` VALUES (1,1,5,1600000000,'hello',0),(2,1,6,1600000100,'hi',1);\n"
        "CREATE TABLE `xf_liked_content` (`like_id` int, `content_type` varbinary(25), `content_id` int, "
        "`like_user_id` int, `like_date` int, `content_user_id` int);\n"
        "INSERT INTO `xf_liked_content` VALUES (9,'post',1,6,1600000200,5),(10,'profile_post',3,6,1600000300,5);\n"
        "CREATE TABLE `xf_user` (`user_id` int, `username` varchar(50), `trophy_points` int, `message_count` int);\n"
        "INSERT INTO `xf_user` VALUES (5,'ann',12,1),(6,'bob',3,1);\n"
        "CREATE TABLE `xf_user_title_ladder` (`minimum_level` int, `title` varchar(250));\n"
        "INSERT INTO `xf_user_title_ladder` VALUES (0,'New'),(10,'Known');\n"
        "CREATE TABLE `xf_node` (`node_id` int, `title` varchar(50));\n", encoding="utf-8")
    case = forumscope.create_case(tmp_path / "case")
    forumscope.ingest_sources([dump], case, "xenforo", options=ReadOptions(forum_id="f"))
    (like,) = case.sql("SELECT * FROM interactions WHERE kind = 'thanks'").to_pylist()
    assert (like["source_user_id"], like["target_post_id"], like["target_user_id"], like["detail"]) == ("6", "1", "5", "like")
    ranks = {r["id"]: r for r in case.sql("SELECT * FROM ranks").to_pylist()}
    assert ranks["utl10"]["min_posts"] is None and "trophy points" in ranks["utl10"]["description"]
    assert {u["id"]: u["rank_id"] for u in case.sql("SELECT id, rank_id FROM users").to_pylist()} == {
        "5": "utl10", "6": "utl0"}
    case.close()


def test_packed_and_text_ips_get_the_same_pseudonym():
    """XenForo stores IPs packed (4 or 16 bytes); phpBB and others as text: one address, one pseudonym."""
    from forumscope.engines.base import MapContext, ip_text

    ctx = MapContext(spec=ENGINE, forum_id="f", source="s", key=b"k" * 32,
                     settings={"privacy": {"store_contact_pseudonyms": True}})
    assert ip_text(bytes([192, 0, 2, 7])) == "192.0.2.7"
    assert ip_text(b"\x20\x01\x0d\xb8" + b"\0" * 11 + b"\x01") == "2001:db8::1"
    assert ip_text(b"\0" * 10 + b"\xff\xff" + bytes([192, 0, 2, 7])) == "192.0.2.7"   # IPv4-mapped
    assert ip_text("not an ip") == "not an ip" and ip_text(b"abc") == b"abc"
    p = ctx.pseudonym("ip", bytes([192, 0, 2, 7]))
    assert p is not None and p == ctx.pseudonym("ip", " 192.0.2.7 ") == ctx.pseudonym("ip", "::ffff:192.0.2.7")
    assert ctx.pseudonym("ip", "2001:DB8:0::1") == ctx.pseudonym("ip", b"\x20\x01\x0d\xb8" + b"\0" * 11 + b"\x01")
    assert ctx.pseudonym("ip", "192.0.2.8") != p
    assert ctx.pseudonym("ip", b"\0\0\0\0") is None and ctx.pseudonym("ip", "0.0.0.0") is None
