"""Checks shared by tests/test_engine_{phpbb,smf,mybb}.py and tests/test_real_servers.py: after
synth -> engine dump -> ingest -> analyses, the planted truth is recovered.

Each engine's test module builds one round trip with ``engine_roundtrip.build`` and calls these with the
writer's id maps (``rt.written["ids"]``) and ``n``, the map from a synthetic id to the dump's id."""

from __future__ import annotations

import collections
from typing import Any

from engine_roundtrip import PRIVATE_MESSAGES, clear_values_in_case
from engine_roundtrip import n as plain_n

# what the phpBB/SMF/MyBB writers put into dumps besides engine_roundtrip.CLEAR_PATTERNS
EXTRA_CLEAR = {"ip10": "(?:^|[^0-9])10\\.[0-9]{1,3}\\.[0-9]{1,3}\\.[0-9]{1,3}(?:$|[^0-9])",
               "fake password": "(?i)fake.?password|SYNTHETIC\\.FAKE", "salt": "synthsalt|loginkey-fake"}


def phpbb_id(cid: str | None) -> str | None:
    """phpBB user ids are offset (1 is Anonymous, then bots); other ids are the synthetic numbers."""
    from forumscope.synth.engines.phpbb import USER_OFFSET

    if cid is None:
        return None
    return str(int(cid[1:]) + USER_OFFSET) if cid.startswith("u") else plain_n(cid)


def check_counts(rt: Any, tables: tuple[str, ...] = ("posts", "threads", "users", "attachments")) -> None:
    c = rt.truth["counts"]
    got = {t: v.stored for t, v in rt.ingest.counts.items()}
    for t in tables:
        assert got.get(t) == c[t], (t, got.get(t), c[t])
    assert all(v.rejected == 0 for v in rt.ingest.counts.values())
    assert rt.ingest.balanced


def check_posts(rt: Any, *, parent: str, n=plain_n) -> None:  # noqa: ANN001
    """Text, author, thread, time, position of every post; ``parent``: 'quote' (flat engines: the
    quoted post is the parent) or 'explicit' (the synthetic parent is kept)."""
    truth = {n(p["id"]): p for p in rt.canonical("posts")}
    quoted = {n(i["post_id"]): n(i["target_post_id"]) for i in rt.canonical("interactions") if i["kind"] == "quote"}
    got = rt.q("SELECT id, thread_id, author_id, parent_id, position, created_at, text, raw, format FROM posts")
    assert len(got) == len(truth)
    for p in got:
        t = truth[p["id"]]
        assert (p["thread_id"], p["author_id"], p["position"]) == (n(t["thread_id"]), n(t["author_id"]), t["position"])
        assert p["created_at"].strftime("%Y-%m-%dT%H:%M:%SZ") == t["created_at"]
        assert p["text"] == t["text"], p["id"]
        assert p["format"] == "bbcode" and p["raw"]
        want = quoted.get(p["id"]) if parent == "quote" else n(t.get("parent_id"))
        assert p["parent_id"] == want, p["id"]


def check_ladder(rt: Any, rank_of: dict[str, Any], user_id=plain_n) -> None:  # noqa: ANN001
    """Rank thresholds declared, members per rank, special ranks of the staff."""
    lad = rt.truth["rank_ladder"]
    ranks = {r["rank_id"]: r for r in rt.result("hierarchy_ranks", "hierarchy")}
    for planted in lad["ranks"]:
        r = ranks[str(rank_of[planted["rank_id"]])]
        assert (r["threshold_source"], r["threshold"]) == ("declared", planted["min_posts"]), planted
        assert r["holders"] == lad["members_per_rank"][planted["rank_id"]], planted
    ladder_rows = rt.q("SELECT * FROM ranks WHERE NOT is_special ORDER BY position")
    assert [r["min_posts"] for r in ladder_rows] == [p["min_posts"] for p in lad["ranks"]]
    users = {u["id"]: u["rank_id"] for u in rt.q("SELECT id, rank_id FROM users")}
    for s in lad["special_ranks"]:
        assert {users[user_id(u)] for u in s["holders"]} == {str(rank_of[s["rank_id"]])}


def check_gates(rt: Any, announce_groups: set[str]) -> None:
    """The declared gates appear: the post-count gate with its threshold, the staff-only board by group;
    no other board has a declared gate."""
    b = {r["board_id"]: r for r in rt.result("gating_boards", "gating")}
    ids = {k: str(v) for k, v in rt.written["ids"]["boards"].items()}
    planted = {g["board_id"]: g for g in rt.truth["gated_boards"]}
    inner, announce = b[ids["en-inner"]], b[ids["en-announce"]]
    assert (inner["gate_source"], inner["gate_type"], inner["gate_posts"]) == (
        "declared", "post_count", planted["en-inner"]["threshold"])
    assert inner["declared_consistent_share"] == 1.0
    assert (announce["gate_source"], announce["gate_type"]) == ("declared", "group")
    assert set(announce["gate_group_ids"].split("|")) == announce_groups
    assert announce["declared_consistent_share"] == 1.0
    assert {k for k, r in b.items() if r["gate_source"] == "declared"} == {ids["en-inner"], ids["en-announce"]}


def check_lurkers(rt: Any) -> None:
    m = rt.truth["members"]
    lurk = {r["measure"]: r for r in rt.result("commitment_rates", "commitment")}["lurker_share"]
    assert (lurk["numerator"], lurk["denominator"]) == (m["lurkers"], m["registered"])


def check_interactions(rt: Any, approval: str = "thanks", n=plain_n) -> None:  # noqa: ANN001
    """Quotes and mentions from the markup, thanks (or reputation) from the engine's table."""
    planted = collections.Counter(i["kind"] for i in rt.canonical("interactions"))
    got = collections.Counter(r["kind"] for r in rt.q("SELECT kind FROM interactions"))
    assert got["quote"] == planted["quote"] and got["mention"] == planted["mention"]
    assert got[approval] == planted["thanks"]
    mentions = {(r["post_id"], r["target_user_id"]) for r in rt.q("SELECT * FROM interactions WHERE kind = 'mention'")}
    assert mentions == {(n(i["post_id"]), n(i["target_user_id"])) for i in rt.canonical("interactions")
                        if i["kind"] == "mention"}
    quotes = {(r["post_id"], r["target_post_id"], r["target_user_id"])
              for r in rt.q("SELECT * FROM interactions WHERE kind = 'quote'")}
    assert quotes == {(n(i["post_id"]), n(i["target_post_id"]), n(i["target_user_id"]))
                      for i in rt.canonical("interactions") if i["kind"] == "quote"}
    thanks = rt.q(f"SELECT * FROM interactions WHERE kind = '{approval}'")
    assert collections.Counter((t["source_user_id"], t["target_post_id"], t["target_user_id"]) for t in thanks) == \
        collections.Counter((n(i["source_user_id"]), n(i["target_post_id"]), n(i["target_user_id"]))
                            for i in rt.canonical("interactions") if i["kind"] == "thanks")


def check_private_messages(rt: Any, *, per_recipient: bool = False, n=plain_n) -> None:  # noqa: ANN001
    pms = rt.q("SELECT * FROM private_messages ORDER BY sent_at, id")
    want = ([dict(m, recipient_ids=r) for m in PRIVATE_MESSAGES for r in m["recipient_ids"].split("|")]
            if per_recipient else PRIVATE_MESSAGES)
    assert len(pms) == len(want)
    got = collections.Counter((p["sender_id"], p["recipient_ids"], p["subject"], p["text"]) for p in pms)
    assert got == collections.Counter((n(m["sender_id"]), "|".join(sorted(n(r) for r in m["recipient_ids"].split("|"))),
                                       m["subject"], None) for m in want)
    links = rt.q("SELECT * FROM interactions WHERE kind = 'private_message'")
    assert len(links) == sum(len(m["recipient_ids"].split("|")) for m in PRIVATE_MESSAGES)


def check_nothing_secret(rt: Any, case: Any = None) -> None:
    assert clear_values_in_case(case or rt.case, EXTRA_CLEAR) == {}
    skipped = " ".join(rt.ingest.skipped)
    assert "sessions" in skipped or "session" in skipped
