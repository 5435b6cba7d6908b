"""Tests of forumscope.synth: the planted truth must hold in the files it writes.

One 20k-post forum is generated per module and checked against truth.json; the
determinism, memory and parameter tests make their own small forums.
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
import re
import subprocess
import sys
import textwrap
from collections import Counter, defaultdict
from dataclasses import fields
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from forumscope.errors import ConfigError
from forumscope.model.schema import TABLES
from forumscope.synth import SynthParams, generate
from forumscope.synth import text as T

ROOT = Path(__file__).resolve().parents[1]
TABLE_NAMES = ("forums", "boards", "users", "ranks", "groups", "memberships", "threads", "posts",
               "interactions", "attachments", "events")
ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
N_POSTS = 20_000


def _read(path: Path) -> list[dict]:
    with open(path, "rb") as f:
        return [json.loads(line) for line in f]


def _epoch(s: str) -> int:
    return int(datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp())


def _pnum(pid: str) -> int:
    return int(pid[1:])


@pytest.fixture(scope="module")
def forum(tmp_path_factory):
    out = tmp_path_factory.mktemp("synth")
    steps: list[int] = []
    # chunks of 5k posts: thread pools, counts and gates must carry across chunk borders
    summary = generate(out, posts=N_POSTS, seed=7, params=SynthParams(chunk_posts=5000), progress=steps.append)
    data = {t: _read(out / f"{t}.ndjson") for t in TABLE_NAMES}
    data["truth"] = json.loads((out / "truth.json").read_text())
    data["members"] = {m["user_id"]: m for m in _read(out / "truth" / "member_truth.ndjson")}
    data["labels"] = _read(out / "truth" / "post_labels.ndjson")
    data["summary"] = summary
    data["steps"] = steps
    data["dir"] = out
    posts = data["posts"]
    data["post_by_id"] = {p["id"]: p for p in posts}
    by_author = defaultdict(list)
    for p in posts:  # posts.ndjson is in time order
        by_author[p["author_id"]].append(p)
    data["by_author"] = by_author
    return data


# ------------------------------------------------------------------------------- format
def test_summary_counts_and_progress(forum):
    s = forum["summary"]
    assert s["counts"]["posts"] == N_POSTS
    for t in TABLE_NAMES:
        assert s["counts"][t] == len(forum[t]), t
        assert Path(s["files"][t]).name == f"{t}.ndjson"
    assert sum(forum["steps"]) == N_POSTS and len(forum["steps"]) >= 4  # progress gets increments
    assert forum["truth"]["counts"] == s["counts"]


def test_every_line_is_schema_json(forum):
    for t in TABLE_NAMES:
        names = set(TABLES[t].field_names)
        required = {f.name for f in TABLES[t].fields if f.required}
        assert forum[t], f"{t} is empty"
        for row in forum[t]:
            assert set(row) <= names, (t, set(row) - names)
            assert required <= set(row), (t, required - set(row))
            if "forum_id" in names:
                assert row["forum_id"] == "synth"
            for f in TABLES[t].fields:
                if f.type == "TIMESTAMP" and row.get(f.name) is not None:
                    assert ISO.match(row[f.name]), (t, f.name, row[f.name])


def test_keys_are_unique(forum):
    for t in TABLE_NAMES:
        key = TABLES[t].key
        seen = Counter(tuple(r.get(k) for k in key) for r in forum[t])
        assert max(seen.values()) == 1, t


def test_truth_files_are_not_read_as_tables(forum):
    canonical = pytest.importorskip("forumscope.ingest.canonical")
    for p in (forum["dir"] / "truth").iterdir():
        assert canonical.table_of(p) is None, p.name
    assert canonical.table_of(forum["dir"] / "posts.ndjson") == ("posts", "ndjson")


# ------------------------------------------------------------------------------- determinism
def _digest(d: Path) -> dict[str, str]:
    return {str(p.relative_to(d)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(d.rglob("*"))
            if p.is_file()}


def test_same_seed_same_bytes_other_seed_differs(tmp_path):
    p = SynthParams(chunk_posts=1000)  # several chunks even for a small forum
    generate(tmp_path / "a", posts=3000, seed=3, params=p)
    generate(tmp_path / "b", posts=3000, seed=3, params=p)
    generate(tmp_path / "c", posts=3000, seed=4, params=p)
    # a fresh interpreter with another hash seed writes the same bytes too
    script = ("import sys; from forumscope.synth import generate, SynthParams; "
              "generate(sys.argv[1], posts=3000, seed=3, params=SynthParams(chunk_posts=1000))")
    subprocess.run([sys.executable, "-c", script, str(tmp_path / "d")], check=True,
                   env={**os.environ, "PYTHONHASHSEED": "12345"})
    a, b, c = _digest(tmp_path / "a"), _digest(tmp_path / "b"), _digest(tmp_path / "c")
    assert len(a) == len(TABLE_NAMES) + 3
    assert a == b == _digest(tmp_path / "d")
    assert a["posts.ndjson"] != c["posts.ndjson"] and a["truth.json"] != c["truth.json"]


# ------------------------------------------------------------------------------- members, ranks, lurkers
def test_post_counts_lurkers_and_ranks(forum):
    truth, users = forum["truth"], forum["users"]
    actual = Counter(p["author_id"] for p in forum["posts"])
    lurkers = [u for u in users if actual[u["id"]] == 0]
    assert len(lurkers) == truth["members"]["lurkers"]
    assert truth["members"]["registered"] == len(users)
    assert truth["members"]["lurker_share"] == pytest.approx(len(lurkers) / len(users), abs=1e-6)
    assert 0.55 <= len(lurkers) / len(users) <= 0.65  # default ~60 %
    for u in users:
        assert u["post_count_reported"] == actual[u["id"]]
        assert forum["members"][u["id"]]["lurker"] == (actual[u["id"]] == 0)
    ladder = [(r["min_posts"], r["rank_id"]) for r in truth["rank_ladder"]["ranks"]]
    staff = set(truth["groups"]["g-admins"]["members"]) | set(truth["groups"]["g-mods"]["members"])
    special = {r["id"] for r in forum["ranks"] if r.get("is_special")}
    assert special == {"r-admin", "r-mod"}
    seen_ranks = set()
    for u in users:
        if u["id"] in staff:
            assert u["rank_id"] in special
            continue
        expected = [rid for mp, rid in ladder if mp <= actual[u["id"]]][-1]
        assert u["rank_id"] == expected, u
        seen_ranks.add(expected)
    assert len(seen_ranks) >= 4  # the ladder is populated, not just rank 0
    # heavy tail: a few members write most posts
    assert truth["members"]["activity_concentration"]["top_10pct_share"] > 0.5


def test_registration_before_first_post_and_last_seen_after_last(forum):
    for u in forum["users"]:
        ps = forum["by_author"].get(u["id"], [])
        assert u["registered_at"] < u["last_seen_at"]
        if ps:
            assert u["registered_at"] < ps[0]["created_at"]
            assert u["last_seen_at"] > ps[-1]["created_at"]
    times = [_epoch(p["created_at"]) for p in forum["posts"]]
    assert all(b > a for a, b in zip(times, times[1:]))  # strictly increasing, ids in time order
    assert [_pnum(p["id"]) for p in forum["posts"]] == list(range(1, N_POSTS + 1))


def test_groups_and_memberships(forum):
    kinds = {g["id"]: g["kind"] for g in forum["groups"]}
    assert sorted(kinds.values()) == ["admin", "member", "moderator", "vip"]
    members = defaultdict(set)
    for m in forum["memberships"]:
        members[m["group_id"]].add(m["user_id"])
    truth = forum["truth"]["groups"]
    for gid in ("g-admins", "g-mods", "g-vip"):
        assert members[gid] == set(truth[gid]["members"]) and members[gid]
    assert len(members["g-members"]) == len(forum["users"])


# ------------------------------------------------------------------------------- gates
def _prior_counts(forum):
    prior, seen = {}, Counter()
    for p in forum["posts"]:
        prior[p["id"]] = seen[p["author_id"]]
        seen[p["author_id"]] += 1
    return prior


def test_gated_boards_are_entered_only_after_the_gate(forum):
    truth = {g["board_id"]: g for g in forum["truth"]["gated_boards"]}
    assert len(truth) >= 3 and {g["gate_type"] for g in truth.values()} >= {"post_count", "rank_or_group"}
    boards = {b["id"]: b for b in forum["boards"]}
    prior = _prior_counts(forum)
    vip_since = {m["user_id"]: _epoch(m["since"]) for m in forum["memberships"] if m["group_id"] == "g-vip"}
    staff = {m["user_id"] for m in forum["memberships"] if m["group_id"] in ("g-admins", "g-mods")}
    by_board = defaultdict(list)
    for p in forum["posts"]:
        by_board[p["board_id"]].append(p)
    for bid, g in truth.items():
        posts = by_board[bid]
        assert len(posts) >= 20, bid  # the gate is exercised, not vacuous
        if g["gate_type"] == "post_count":
            assert boards[bid]["min_posts"] == g["threshold"] and g["declared"]
            assert all(prior[p["id"]] >= g["threshold"] for p in posts)
            # the gate is tight: some member entered right after passing it
            assert min(prior[p["id"]] for p in posts) < g["threshold"] * 2
        elif g["gate_type"] == "rank_or_group":
            assert not g["declared"]
            assert not any(boards[bid].get(k) for k in ("min_posts", "min_rank_id", "access_rule",
                                                        "required_group_ids"))
            need = g["equivalent_min_posts"]
            for p in posts:
                a = p["author_id"]
                ok = (prior[p["id"]] >= need or a in staff
                      or (a in vip_since and vip_since[a] <= _epoch(p["created_at"])))
                assert ok, p
            assert any(prior[p["id"]] < need for p in posts)  # VIP / staff really use their pass
        else:
            assert all(p["author_id"] in staff for p in posts)
    # members below the post-count gate do post elsewhere: the gate, not inactivity, keeps them out
    assert sum(1 for p in forum["posts"] if prior[p["id"]] < 50) > 1000


# ------------------------------------------------------------------------------- threads and interactions
def test_threads_parents_and_positions(forum):
    pb = forum["post_by_id"]
    threads = {t["id"]: t for t in forum["threads"]}
    assert len(threads) > 500
    pos = Counter()
    for p in forum["posts"]:
        t = threads[p["thread_id"]]
        assert p["board_id"] == t["board_id"]
        assert p["position"] == pos[p["thread_id"]]
        pos[p["thread_id"]] += 1
        if p.get("parent_id") is None:
            assert t["first_post_id"] == p["id"] and p["position"] == 0 and p.get("title")
        else:
            parent = pb[p["parent_id"]]
            assert parent["thread_id"] == p["thread_id"]
            assert _pnum(parent["id"]) < _pnum(p["id"]) and parent["created_at"] < p["created_at"]
    replies = sum(1 for p in forum["posts"] if p.get("parent_id"))
    assert 0.75 < replies / N_POSTS < 0.95
    self_replies = sum(1 for p in forum["posts"]
                       if p.get("parent_id") and pb[p["parent_id"]]["author_id"] == p["author_id"])
    assert self_replies / replies < 0.05


def test_explicit_interactions(forum):
    pb = forum["post_by_id"]
    kinds = Counter(i["kind"] for i in forum["interactions"])
    assert "reply" not in kinds  # the loader derives replies from parent_id
    assert kinds["quote"] > 100 and kinds["thanks"] > 500 and kinds["mention"] > 50
    names = {u["id"]: u["name"] for u in forum["users"]}
    for i in forum["interactions"]:
        if i["kind"] == "quote":
            p = pb[i["post_id"]]
            assert p["parent_id"] == i["target_post_id"]
            assert i["target_user_id"] == pb[i["target_post_id"]]["author_id"] == pb[p["parent_id"]]["author_id"]
            assert i["source_user_id"] == p["author_id"]
        elif i["kind"] == "thanks":
            t = pb[i["target_post_id"]]
            assert i["target_user_id"] == t["author_id"] != i["source_user_id"]
            assert i["created_at"] > t["created_at"]
        elif i["kind"] == "mention":
            p = pb[i["post_id"]]
            assert p["text"].startswith("@" + names[i["target_user_id"]])
    # thanks go disproportionately to producers
    role = {u: m["role"] for u, m in forum["members"].items()}
    thanks = Counter(role[i["target_user_id"]] for i in forum["interactions"] if i["kind"] == "thanks")
    posts = Counter(role[p["author_id"]] for p in forum["posts"])
    assert thanks["producer"] / posts["producer"] > 2 * thanks["regular"] / posts["regular"]


def test_attachments_are_records_only(forum):
    allowed = set(TABLES["attachments"].field_names)
    role = {u: m["role"] for u, m in forum["members"].items()}
    atts = forum["attachments"]
    assert atts
    for a in atts:
        assert set(a) <= allowed
        assert re.match(r"^[a-z_]+(_v)?\d+\.[a-z0-9]+$", a["file_name"])
        assert isinstance(a["size_bytes"], int) and a["size_bytes"] > 0
        assert a["post_id"] in forum["post_by_id"]
    assert sum(role[a["user_id"]] == "producer" for a in atts) / len(atts) > 0.5


# ------------------------------------------------------------------------------- key actors
def test_hubs_hold_the_reply_network(forum):
    pb = forum["post_by_id"]
    partners = defaultdict(set)
    for p in forum["posts"]:
        if p.get("parent_id"):
            a, b = p["author_id"], pb[p["parent_id"]]["author_id"]
            if a != b:
                partners[a].add(b)
                partners[b].add(a)
    hubs = forum["truth"]["key_actors"]["hubs"]
    assert len(hubs) >= 3
    degrees = np.array(sorted(len(v) for v in partners.values()))
    p90 = np.quantile(degrees, 0.9)
    assert all(len(partners[h]) >= p90 for h in hubs)


def test_bridges_and_languages(forum):
    boards = {b["id"]: b for b in forum["boards"]}
    assert all(b.get("language") for b in boards.values())
    langs = Counter(p["language"] for p in forum["posts"])
    assert set(langs) >= {"en", "de", "es"} and min(langs.values()) > 0.1 * N_POSTS
    for p in forum["posts"]:
        assert p["language"] == boards[p["board_id"]]["language"]
    # German and Spanish posts are written in German and Spanish
    de = [p["text"].lower() for p in forum["posts"] if p["language"] == "de"]
    german = (" ich ", " ist ", " die ", " das ", " nicht", " nich ")
    assert sum(any(w in t for w in german) for t in de) > 0.3 * len(de)
    bridges = {b["user_id"]: b["communities"] for b in forum["truth"]["key_actors"]["bridges"]}
    assert len(bridges) >= 3
    for uid, ps in forum["by_author"].items():
        m = forum["members"][uid]
        own = sum(p["language"] == m["community"] for p in ps) / len(ps)
        if uid in bridges:
            if len(ps) >= 30:
                second = sum(p["language"] == bridges[uid][1] for p in ps) / len(ps)
                assert second > 0.2, uid
        elif len(ps) >= 30:
            assert own > 0.9, uid


# ------------------------------------------------------------------------------- rhythm
def test_members_follow_their_local_rhythm(forum):
    night_true, night_wrong, total, low = 0, 0, 0, 0
    heavy = 0
    for uid, ps in forum["by_author"].items():
        if len(ps) < 40:
            continue
        heavy += 1
        tz = ZoneInfo(forum["members"][uid]["zone"])
        hours = [datetime.fromtimestamp(_epoch(p["created_at"]), tz).hour for p in ps]
        n = sum(2 <= h < 5 for h in hours)
        night_true += n
        total += len(hours)
        # the same posts read with a zone 12 hours away look nocturnal: the test can fail
        night_wrong += sum(2 <= (h + 12) % 24 < 5 for h in hours)
        low += n / len(hours) < 0.10
    assert heavy >= 20
    assert night_true / total < 0.06  # 02:00-05:00 is 12.5 % of the day
    assert night_wrong / total > 2 * night_true / total
    assert low / heavy > 0.9


def test_alias_pairs_share_zone_rhythm_and_style(forum):
    pairs = forum["truth"]["aliases"]["pairs"]
    assert len(pairs) >= 2
    for a, b in pairs:
        ma, mb = forum["members"][a], forum["members"][b]
        assert a != b and ma["alias_of"] == b and mb["alias_of"] == a
        for k in ("zone", "chronotype_shift_hours", "community", "style"):
            assert ma[k] == mb[k], k
        assert forum["by_author"].get(a) and forum["by_author"].get(b)
        filler = ma["style"]["filler"]
        assert filler
        for u in (a, b):
            texts = [p["text"].lower() for p in forum["by_author"][u]]
            if len(texts) >= 20:
                assert any(filler in t for t in texts)


# ------------------------------------------------------------------------------- discourse
def test_discourse_labels(forum):
    pb = forum["post_by_id"]
    vocab = set(T.LABELS)
    counts = Counter()
    labelled = {}
    for row in forum["labels"]:
        assert row["post_id"] in pb and row["labels"] and set(row["labels"]) <= vocab
        labelled[row["post_id"]] = row["labels"]
        counts.update(row["labels"])
    assert counts == Counter(forum["truth"]["discourse"]["counts"]) - Counter()
    share = len(labelled) / N_POSTS
    assert 0.2 < share < 0.6  # most posts are ordinary
    assert len([k for k in vocab if counts[k]]) >= 13
    for pid, labs in labelled.items():
        if "help_response" in labs:
            parent = pb[pb[pid]["parent_id"]]
            assert "help_seeking" in labelled.get(parent["id"], [])
    # template text really carries the mechanism (English samples)
    markers = {"normalisation": ("everyone", "everybody", "half the", "so common", "normal"),
               "help_seeking": ("stop", "quit", "help", "get out")}
    for lab, words in markers.items():
        texts = [pb[p]["text"].lower() for p, ls in labelled.items() if ls[0] == lab and pb[p]["language"] == "en"]
        assert texts and all(any(w in t for w in words) for t in texts), lab
    # text is varied, not one template copied
    assert len({p["text"] for p in forum["posts"]}) > 0.3 * N_POSTS


BLOCKED = re.compile(r"\b(sex\w*|nude\w*|porn\w*|child\w*|kids?|minors?|teen\w*|underage|naked|erotic\w*)\b", re.I)


def test_content_is_benign(forum):
    for p in forum["posts"]:
        assert not BLOCKED.search(p["text"]), p["text"]
        assert not BLOCKED.search(p.get("title") or "")
    for t in forum["threads"]:
        assert not BLOCKED.search(t["title"])
    src = (ROOT / "src" / "forumscope" / "synth" / "text.py").read_text(encoding="utf-8")
    assert not BLOCKED.search(src)


# ------------------------------------------------------------------------------- event
def test_takedown_event(forum):
    ev = [e for e in forum["events"] if e["kind"] == "takedown"]
    assert len(ev) == 1
    truth = forum["truth"]["event"]
    bid, at = ev[0]["board_id"], ev[0]["created_at"]
    assert truth["board_id"] == bid and truth["at"] == at
    board = next(b for b in forum["boards"] if b["id"] == bid)
    assert board["closed_at"] == at
    in_board = [p for p in forum["posts"] if p["board_id"] == bid]
    assert len(in_board) > 20
    assert all(p["created_at"] < at for p in in_board)
    t = _epoch(at)
    ts = np.array([_epoch(p["created_at"]) for p in forum["posts"]])
    before = ((ts >= t - 28 * 86400) & (ts < t)).sum() / 28
    after = ((ts >= t) & (ts < t + 14 * 86400)).sum() / 14
    assert after < 0.85 * before  # activity drops (planted: -40 %, then partial recovery)


# ------------------------------------------------------------------------------- parameters and scale
def test_every_parameter_is_documented():
    doc = (ROOT / "docs" / "synth.md").read_text(encoding="utf-8")
    src = (ROOT / "src" / "forumscope" / "synth" / "params.py").read_text(encoding="utf-8")
    cls = next(n for n in ast.parse(src).body if isinstance(n, ast.ClassDef) and n.name == "SynthParams")
    documented = set()
    body = cls.body
    for a, b in zip(body, body[1:]):
        if isinstance(a, ast.AnnAssign) and isinstance(b, ast.Expr) and isinstance(b.value, ast.Constant):
            documented.add(a.target.id)
    for f in fields(SynthParams):
        assert f.name in documented, f"{f.name} has no docstring"
        assert f"`{f.name}`" in doc, f"{f.name} missing from docs/synth.md"


@pytest.mark.parametrize("kwargs", [
    {"lurker_share": 1.5}, {"lurker_share": 1.0}, {"rank_min_posts": (0, 50, 10, 150, 500, 1500)},
    {"languages": {"fr": 1.0}}, {"label_board_multipliers": {"chat": {"gossip": 2.0}}},
    {"board_weights": {"chat": 1.0}}, {"vip_after_days": (10.0, 5.0)},
    {"zone_mix": {"en": {"Mars/Olympus": 1.0}, "de": {"UTC": 1.0}, "es": {"UTC": 1.0}}},
    {"weekday_curve": (1.0,) * 23}, {"gate_rank_position": 9}, {"start": "2019-01-01T10:30:00Z"},
])
def test_bad_parameters_are_refused(tmp_path, kwargs):
    with pytest.raises(ConfigError):
        generate(tmp_path, posts=1000, params=SynthParams(**kwargs))


def test_bad_arguments_are_refused(tmp_path):
    with pytest.raises(ConfigError):
        generate(tmp_path, posts=10)
    with pytest.raises(ConfigError):
        generate(tmp_path, posts=1000, seed=-1)


def test_smallest_forum(tmp_path):
    s = generate(tmp_path, posts=100, seed=1)
    assert s["counts"]["posts"] == 100
    truth = json.loads((tmp_path / "truth.json").read_text())
    assert len(truth["key_actors"]["hubs"]) >= 3 and len(truth["aliases"]["pairs"]) >= 2


_MEM_SCRIPT = textwrap.dedent("""
    import sys, threading, time, psutil
    from forumscope.synth import generate, SynthParams
    proc = psutil.Process()
    base = proc.memory_info().rss
    peak = [base]
    done = threading.Event()
    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], proc.memory_info().rss)
            time.sleep(0.002)
    th = threading.Thread(target=sample, daemon=True)
    th.start()
    generate(sys.argv[1], posts=int(sys.argv[2]), seed=0, params=SynthParams(chunk_posts=20000))
    done.set(); th.join()
    peak[0] = max(peak[0], proc.memory_info().rss)
    print((peak[0] - base) / 2**20)
""")


def test_memory_stays_bounded(tmp_path):
    """RSS growth hardly depends on the number of posts (chunks of 20k): not a timing test."""

    def growth(n: int) -> float:
        r = subprocess.run([sys.executable, "-c", _MEM_SCRIPT, str(tmp_path / str(n)), str(n)],
                           capture_output=True, text=True, check=True)
        return float(r.stdout.strip().splitlines()[-1])

    small, big = growth(20_000), growth(200_000)
    # 10x the posts: holding posts in memory would add several hundred MB
    assert big < small + 80, (small, big)
    assert big < 300, big
