"""Write a synthetic forum as a Discourse database dump (``pg_dump`` plain format), ``synth --as discourse``.

The tables follow Discourse's PostgreSQL schema as ``pg_dump`` prints it (columns of Discourse 1.7 for
the tables used, see docs/engines/discourse.md). What goes where (and back, see
:mod:`forumscope.engines.discourse`):

- boards -> ``categories`` (plus Discourse's own "Uncategorized", id 1); declared gates ->
  ``category_groups``: ``everyone`` (group 0) may only see (``permission_type`` 3) and the groups that
  may post get ``permission_type`` 1; a post-count gate becomes a trust-level gate (the automatic
  group ``trust_level_N`` whose level the threshold reaches); a closed board is read-only for everyone;
- the rank ladder -> trust levels: a member's ``users.trust_level`` is the position of their rank on
  the post-count ladder (capped at 4, Discourse's highest level). Real Discourse promotes by reading
  and time, not post counts; the synthetic dump uses the planted post-count rule so that a round
  trip can check the ladder inferred from the data;
- groups -> ``groups`` (automatic: admins 1, moderators 2, staff 3, trust_level_0..4 = 10..14; others
  41, 42, ...) and ``group_users`` (``created_at`` = when the membership started);
- threads, posts -> ``topics``, ``posts`` (Markdown ``raw`` with ``[quote="name, post:N, topic:T"]``
  and ``@name`` mentions, ``cooked`` HTML, ``reply_to_post_number``), quotes also in
  ``quoted_posts``; thanks -> likes (``post_actions`` type 2);
- attachments -> ``uploads`` + ``post_uploads`` (records only);
- private messages (if the forum has them) -> topics with ``archetype = 'private_message'`` and
  ``topic_allowed_users``.

E-mail addresses, IPs, password hashes, salts and auth tokens are written in ``users`` like a real
dump has them, so that tests can check none of them reaches a case.
"""

from __future__ import annotations

import hashlib
import html
from collections import defaultdict
from pathlib import Path
from typing import Any

from forumscope.sqldump.writer import PostgresDumpWriter, open_dump
from forumscope.synth.engines.common import Numbering, SynthForum, datetime_text, epoch, num, rows
from forumscope.synth.engines.tabledef import TableDef
from forumscope.synth.engines.vbulletin import fake_email, fake_ip

TS = "timestamp without time zone"
NN = "NOT NULL"
TRUST_NAMES = ("new user", "basic user", "member", "regular", "leader")
AUTO_GROUPS = ((0, "everyone"), (1, "admins"), (2, "moderators"), (3, "staff"),
               (10, "trust_level_0"), (11, "trust_level_1"), (12, "trust_level_2"), (13, "trust_level_3"),
               (14, "trust_level_4"))
KIND_GROUP = {"admin": 1, "moderator": 2, "staff": 3}
FIRST_CUSTOM_GROUP = 41
PERM_FULL, PERM_CREATE_POST, PERM_READONLY = 1, 2, 3
SYSTEM_USER = -1


def _t(name: str, cols: list[tuple[str, str, Any]], *, serial: bool = True, pk: str = "id",
       checks: tuple[str, ...] = ()) -> TableDef:
    t = TableDef(name, cols, keys=[pk], options="", serial="id" if serial else None)
    t.checks = checks  # type: ignore[attr-defined]
    return t


def _ts(default: Any = None) -> tuple[str, Any]:
    return (f"{TS} {NN}", default)


T_CATEGORIES = _t("categories", [
    ("id", "integer NOT NULL", None), ("name", "character varying(50) NOT NULL", ""),
    ("color", "character varying(6) DEFAULT 'AB9364'::character varying NOT NULL", "AB9364"),
    ("topic_id", "integer", None), ("topic_count", "integer DEFAULT 0 NOT NULL", 0),
    ("created_at", *_ts()), ("updated_at", *_ts()), ("user_id", "integer NOT NULL", SYSTEM_USER),
    ("topics_year", "integer DEFAULT 0", 0), ("topics_month", "integer DEFAULT 0", 0),
    ("topics_week", "integer DEFAULT 0", 0), ("slug", "character varying NOT NULL", ""), ("description", "text", None),
    ("text_color", "character varying(6) DEFAULT 'FFFFFF'::character varying NOT NULL", "FFFFFF"),
    ("read_restricted", "boolean DEFAULT false NOT NULL", False), ("auto_close_hours", "double precision", None),
    ("post_count", "integer DEFAULT 0 NOT NULL", 0), ("latest_post_id", "integer", None),
    ("latest_topic_id", "integer", None), ("position", "integer", None), ("parent_category_id", "integer", None),
    ("posts_year", "integer DEFAULT 0", 0), ("posts_month", "integer DEFAULT 0", 0),
    ("posts_week", "integer DEFAULT 0", 0), ("email_in", "character varying", None),
    ("email_in_allow_strangers", "boolean DEFAULT false", False), ("topics_day", "integer DEFAULT 0", 0),
    ("posts_day", "integer DEFAULT 0", 0), ("logo_url", "character varying", None),
    ("background_url", "character varying", None), ("allow_badges", "boolean DEFAULT true NOT NULL", True),
    ("name_lower", "character varying(50) NOT NULL", ""),
    ("auto_close_based_on_last_post", "boolean DEFAULT false", False), ("topic_template", "text", None),
    ("suppress_from_homepage", "boolean DEFAULT false", False), ("contains_messages", "boolean", None),
])

T_CATEGORY_GROUPS = _t("category_groups", [
    ("id", "integer NOT NULL", None), ("category_id", "integer NOT NULL", 0), ("group_id", "integer NOT NULL", 0),
    ("created_at", *_ts()), ("updated_at", *_ts()), ("permission_type", "integer DEFAULT 1", 1),
])

T_GROUPS = _t("groups", [
    ("id", "integer NOT NULL", None), ("name", "character varying NOT NULL", ""), ("created_at", *_ts()),
    ("updated_at", *_ts()), ("automatic", "boolean DEFAULT false NOT NULL", False),
    ("user_count", "integer DEFAULT 0 NOT NULL", 0), ("alias_level", "integer DEFAULT 0", 0),
    ("visible", "boolean DEFAULT true NOT NULL", True), ("automatic_membership_email_domains", "text", None),
    ("automatic_membership_retroactive", "boolean DEFAULT false", False),
    ("primary_group", "boolean DEFAULT false NOT NULL", False), ("title", "character varying", None),
    ("grant_trust_level", "integer", None), ("incoming_email", "character varying", None),
    ("has_messages", "boolean DEFAULT false NOT NULL", False),
])

T_GROUP_USERS = _t("group_users", [
    ("id", "integer NOT NULL", None), ("group_id", "integer NOT NULL", 0), ("user_id", "integer NOT NULL", 0),
    ("created_at", *_ts()), ("updated_at", *_ts()), ("owner", "boolean DEFAULT false NOT NULL", False),
    ("notification_level", "integer DEFAULT 2 NOT NULL", 2),
])

T_POST_ACTIONS = _t("post_actions", [
    ("id", "integer NOT NULL", None), ("post_id", "integer NOT NULL", 0), ("user_id", "integer NOT NULL", 0),
    ("post_action_type_id", "integer NOT NULL", 2), ("deleted_at", TS, None), ("created_at", *_ts()),
    ("updated_at", *_ts()), ("deleted_by_id", "integer", None), ("related_post_id", "integer", None),
    ("staff_took_action", "boolean DEFAULT false NOT NULL", False), ("deferred_by_id", "integer", None),
    ("targets_topic", "boolean DEFAULT false NOT NULL", False), ("agreed_at", TS, None),
    ("agreed_by_id", "integer", None), ("deferred_at", TS, None), ("disagreed_at", TS, None),
    ("disagreed_by_id", "integer", None),
])

T_POST_UPLOADS = _t("post_uploads", [
    ("id", "integer NOT NULL", None), ("post_id", "integer NOT NULL", 0), ("upload_id", "integer NOT NULL", 0),
])

_POST_COLS: list[tuple[str, str, Any]] = [
    ("id", "integer NOT NULL", None), ("user_id", "integer", None), ("topic_id", "integer NOT NULL", 0),
    ("post_number", "integer NOT NULL", 1), ("raw", "text NOT NULL", ""), ("cooked", "text NOT NULL", ""),
    ("created_at", *_ts()), ("updated_at", *_ts()), ("reply_to_post_number", "integer", None),
    ("reply_count", "integer DEFAULT 0 NOT NULL", 0), ("quote_count", "integer DEFAULT 0 NOT NULL", 0),
    ("deleted_at", TS, None), ("off_topic_count", "integer DEFAULT 0 NOT NULL", 0),
    ("like_count", "integer DEFAULT 0 NOT NULL", 0), ("incoming_link_count", "integer DEFAULT 0 NOT NULL", 0),
    ("bookmark_count", "integer DEFAULT 0 NOT NULL", 0), ("avg_time", "integer", None),
    ("score", "double precision", None), ("reads", "integer DEFAULT 0 NOT NULL", 0),
    ("post_type", "integer DEFAULT 1 NOT NULL", 1), ("vote_count", "integer DEFAULT 0 NOT NULL", 0),
    ("sort_order", "integer", None), ("last_editor_id", "integer", None),
    ("hidden", "boolean DEFAULT false NOT NULL", False), ("hidden_reason_id", "integer", None),
    ("notify_moderators_count", "integer DEFAULT 0 NOT NULL", 0), ("spam_count", "integer DEFAULT 0 NOT NULL", 0),
    ("illegal_count", "integer DEFAULT 0 NOT NULL", 0), ("inappropriate_count", "integer DEFAULT 0 NOT NULL", 0),
    ("last_version_at", *_ts()), ("user_deleted", "boolean DEFAULT false NOT NULL", False),
    ("reply_to_user_id", "integer", None), ("percent_rank", "double precision DEFAULT 1.0", 1.0),
    ("notify_user_count", "integer DEFAULT 0 NOT NULL", 0), ("like_score", "integer DEFAULT 0 NOT NULL", 0),
    ("deleted_by_id", "integer", None), ("edit_reason", "character varying", None), ("word_count", "integer", None),
    ("version", "integer DEFAULT 1 NOT NULL", 1), ("cook_method", "integer DEFAULT 1 NOT NULL", 1),
    ("wiki", "boolean DEFAULT false NOT NULL", False), ("baked_at", TS, None), ("baked_version", "integer", None),
    ("hidden_at", TS, None), ("self_edits", "integer DEFAULT 0 NOT NULL", 0),
    ("reply_quoted", "boolean DEFAULT false NOT NULL", False), ("via_email", "boolean DEFAULT false NOT NULL", False),
    ("raw_email", "text", None), ("public_version", "integer DEFAULT 1 NOT NULL", 1),
    ("action_code", "character varying", None),
]
T_POSTS = _t("posts", _POST_COLS)

T_QUOTED_POSTS = _t("quoted_posts", [
    ("id", "integer NOT NULL", None), ("post_id", "integer NOT NULL", 0), ("quoted_post_id", "integer NOT NULL", 0),
    ("created_at", *_ts()), ("updated_at", *_ts()),
])

T_SITE_SETTINGS = _t("site_settings", [
    ("id", "integer NOT NULL", None), ("name", "character varying NOT NULL", ""),
    ("data_type", "integer NOT NULL", 1), ("value", "text", None), ("created_at", *_ts()), ("updated_at", *_ts()),
])

T_TOPIC_ALLOWED_USERS = _t("topic_allowed_users", [
    ("id", "integer NOT NULL", None), ("user_id", "integer NOT NULL", 0), ("topic_id", "integer NOT NULL", 0),
    ("created_at", *_ts()), ("updated_at", *_ts()),
])

T_TOPICS = _t("topics", [
    ("id", "integer NOT NULL", None), ("title", "character varying NOT NULL", ""), ("last_posted_at", TS, None),
    ("created_at", *_ts()), ("updated_at", *_ts()), ("views", "integer DEFAULT 0 NOT NULL", 0),
    ("posts_count", "integer DEFAULT 0 NOT NULL", 0), ("user_id", "integer", None),
    ("last_post_user_id", "integer NOT NULL", 0), ("reply_count", "integer DEFAULT 0 NOT NULL", 0),
    ("featured_user1_id", "integer", None), ("featured_user2_id", "integer", None),
    ("featured_user3_id", "integer", None), ("avg_time", "integer", None), ("deleted_at", TS, None),
    ("highest_post_number", "integer DEFAULT 0 NOT NULL", 0), ("image_url", "character varying", None),
    ("off_topic_count", "integer DEFAULT 0 NOT NULL", 0), ("like_count", "integer DEFAULT 0 NOT NULL", 0),
    ("incoming_link_count", "integer DEFAULT 0 NOT NULL", 0), ("bookmark_count", "integer DEFAULT 0 NOT NULL", 0),
    ("category_id", "integer", None), ("visible", "boolean DEFAULT true NOT NULL", True),
    ("moderator_posts_count", "integer DEFAULT 0 NOT NULL", 0), ("closed", "boolean DEFAULT false NOT NULL", False),
    ("archived", "boolean DEFAULT false NOT NULL", False), ("bumped_at", *_ts()),
    ("has_summary", "boolean DEFAULT false NOT NULL", False), ("vote_count", "integer DEFAULT 0 NOT NULL", 0),
    ("archetype", "character varying DEFAULT 'regular'::character varying NOT NULL", "regular"),
    ("featured_user4_id", "integer", None), ("notify_moderators_count", "integer DEFAULT 0 NOT NULL", 0),
    ("spam_count", "integer DEFAULT 0 NOT NULL", 0), ("illegal_count", "integer DEFAULT 0 NOT NULL", 0),
    ("inappropriate_count", "integer DEFAULT 0 NOT NULL", 0), ("pinned_at", TS, None),
    ("score", "double precision", None), ("percent_rank", "double precision DEFAULT 1.0 NOT NULL", 1.0),
    ("notify_user_count", "integer DEFAULT 0 NOT NULL", 0), ("subtype", "character varying", None),
    ("slug", "character varying", None), ("auto_close_at", TS, None), ("auto_close_user_id", "integer", None),
    ("auto_close_started_at", TS, None), ("deleted_by_id", "integer", None),
    ("participant_count", "integer DEFAULT 1", 1), ("word_count", "integer", None),
    ("excerpt", "character varying(1000)", None), ("pinned_globally", "boolean DEFAULT false NOT NULL", False),
    ("auto_close_based_on_last_post", "boolean DEFAULT false", False), ("auto_close_hours", "double precision", None),
    ("pinned_until", TS, None), ("fancy_title", "character varying(400)", None),
], checks=("CONSTRAINT has_category_id CHECK (((category_id IS NOT NULL) OR ((archetype)::text <> 'regular'::text)))",
           "CONSTRAINT pm_has_no_category CHECK (((category_id IS NULL) OR ((archetype)::text <> 'private_message'::text)))"))

T_UPLOADS = _t("uploads", [
    ("id", "integer NOT NULL", None), ("user_id", "integer NOT NULL", 0),
    ("original_filename", "character varying NOT NULL", ""), ("filesize", "integer NOT NULL", 0),
    ("width", "integer", None), ("height", "integer", None), ("url", "character varying NOT NULL", ""),
    ("created_at", *_ts()), ("updated_at", *_ts()), ("sha1", "character varying(40)", None),
    ("origin", "character varying(1000)", None), ("retain_hours", "integer", None),
])

T_USER_PROFILES = _t("user_profiles", [
    ("user_id", "integer NOT NULL", 0), ("location", "character varying", None), ("website", "character varying", None),
    ("bio_raw", "text", None), ("bio_cooked", "text", None), ("profile_background", "character varying(255)", None),
    ("dismissed_banner_key", "integer", None), ("bio_cooked_version", "integer", None),
    ("badge_granted_title", "boolean DEFAULT false", False), ("card_background", "character varying(255)", None),
    ("card_image_badge_id", "integer", None), ("views", "integer DEFAULT 0 NOT NULL", 0),
], serial=False, pk="user_id")

T_USER_STATS = _t("user_stats", [
    ("user_id", "integer NOT NULL", 0), ("topics_entered", "integer DEFAULT 0 NOT NULL", 0),
    ("time_read", "integer DEFAULT 0 NOT NULL", 0), ("days_visited", "integer DEFAULT 0 NOT NULL", 0),
    ("posts_read_count", "integer DEFAULT 0 NOT NULL", 0), ("likes_given", "integer DEFAULT 0 NOT NULL", 0),
    ("likes_received", "integer DEFAULT 0 NOT NULL", 0), ("topic_reply_count", "integer DEFAULT 0 NOT NULL", 0),
    ("new_since", *_ts()), ("read_faq", TS, None), ("first_post_created_at", TS, None),
    ("post_count", "integer DEFAULT 0 NOT NULL", 0), ("topic_count", "integer DEFAULT 0 NOT NULL", 0),
    ("bounce_score", "integer DEFAULT 0 NOT NULL", 0), ("reset_bounce_score_after", TS, None),
], serial=False, pk="user_id")

T_USERS = _t("users", [
    ("id", "integer NOT NULL", None), ("username", "character varying(60) NOT NULL", ""),
    ("created_at", *_ts()), ("updated_at", *_ts()), ("name", "character varying", None),
    ("seen_notification_id", "integer DEFAULT 0 NOT NULL", 0), ("last_posted_at", TS, None),
    ("email", "character varying(513) NOT NULL", ""), ("password_hash", "character varying(64)", None),
    ("salt", "character varying(32)", None), ("active", "boolean DEFAULT false NOT NULL", True),
    ("username_lower", "character varying(60) NOT NULL", ""), ("auth_token", "character varying(32)", None),
    ("last_seen_at", TS, None), ("admin", "boolean DEFAULT false NOT NULL", False), ("last_emailed_at", TS, None),
    ("trust_level", "integer NOT NULL", 0), ("approved", "boolean DEFAULT false NOT NULL", False),
    ("approved_by_id", "integer", None), ("approved_at", TS, None), ("previous_visit_at", TS, None),
    ("suspended_at", TS, None), ("suspended_till", TS, None), ("date_of_birth", "date", None),
    ("views", "integer DEFAULT 0 NOT NULL", 0), ("flag_level", "integer DEFAULT 0 NOT NULL", 0),
    ("ip_address", "inet", None), ("moderator", "boolean DEFAULT false", False),
    ("blocked", "boolean DEFAULT false", False), ("title", "character varying", None),
    ("uploaded_avatar_id", "integer", None), ("locale", "character varying(10)", None),
    ("primary_group_id", "integer", None), ("registration_ip_address", "inet", None),
    ("trust_level_locked", "boolean DEFAULT false NOT NULL", False), ("staged", "boolean DEFAULT false NOT NULL", False),
    ("first_seen_at", TS, None),
])

TABLES = (T_CATEGORIES, T_CATEGORY_GROUPS, T_GROUP_USERS, T_GROUPS, T_POST_ACTIONS, T_POST_UPLOADS, T_POSTS,
          T_QUOTED_POSTS, T_SITE_SETTINGS, T_TOPIC_ALLOWED_USERS, T_TOPICS, T_UPLOADS, T_USER_PROFILES, T_USER_STATS,
          T_USERS)


def _dt(sec: int) -> str | None:
    import datetime as dt

    if not sec:
        return None
    return dt.datetime.fromtimestamp(sec, dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


def quote_markup(name: str, post_number: int, topic: int, text: str) -> str:
    return f'[quote="{name}, post:{post_number}, topic:{topic}"]\n{text}\n[/quote]\n\n'


def _slug(text: str) -> str:
    import re
    import unicodedata

    s = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    return re.sub(r"[^a-z0-9]+", "-", s).strip("-") or "topic"


def _size_text(n: int) -> str:
    for unit in ("Bytes", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n} {unit}" if unit == "Bytes" else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return str(n)


class _Plan:
    def __init__(self, f: SynthForum):
        self.f = f
        # the trust-level ladder: the first five post-count ranks
        ladder = sorted((r for r in f.ranks if not r.get("is_special") and r.get("min_posts") is not None),
                        key=lambda r: r["min_posts"])
        self.tl_min = [int(r["min_posts"]) for r in ladder[:5]] or [0]
        self.rank_tl = {r["id"]: min(i, 4) for i, r in enumerate(ladder)}
        # groups
        self.group_id: dict[str, int] = {}
        self.custom_groups: list[dict[str, Any]] = []
        nxt = FIRST_CUSTOM_GROUP
        for g in f.groups:
            kind = g.get("kind") or "other"
            if kind == "member":
                continue  # every member: Discourse's trust_level_0 / everyone
            if kind in KIND_GROUP and KIND_GROUP[kind] not in self.group_id.values():
                self.group_id[g["id"]] = KIND_GROUP[kind]
            else:
                self.group_id[g["id"]] = nxt
                self.custom_groups.append({"id": nxt, "name": _slug(g.get("name") or g["id"]).replace("-", "_")[:20],
                                           "title": g.get("name")})
                nxt += 1
        self.member_since: dict[tuple[int, int], str | None] = {}
        for m in f.memberships:
            gid = self.group_id.get(m["group_id"])
            if gid is not None:
                self.member_since[(num(m["user_id"]), gid)] = m.get("since")
        # categories: Uncategorized is 1
        self.cat_id = Numbering(start=2)
        for b in f.boards:
            self.cat_id(b["id"])
        self.rank_by_id = {r["id"]: r for r in f.ranks}
        self.gates: dict[str, list[tuple[int, int]]] = {}  # board -> (group, permission_type)
        for b in f.boards:
            need = b.get("min_posts")
            tl = None
            if b.get("min_rank_id") in self.rank_tl:
                tl = self.rank_tl[b["min_rank_id"]]
            elif need is not None and int(need) > 0:
                fits = [i for i, t in enumerate(self.tl_min) if t >= int(need)]
                tl = fits[0] if fits else len(self.tl_min) - 1
            groups = [self.group_id[g] for g in (b.get("required_group_ids") or "").split("|") if g in self.group_id]
            entries: list[tuple[int, int]] = []
            if tl is not None:
                entries.append((10 + tl, PERM_FULL))
            entries += [(g, PERM_FULL) for g in groups]
            if entries or b.get("is_hidden") or b.get("closed_at"):
                if not b.get("is_hidden"):  # a closed (taken-down) category: everyone may only read it
                    entries.insert(0, (0, PERM_READONLY))
                self.gates[b["id"]] = entries
        # statistics
        self.thread: dict[int, dict[str, Any]] = {}
        self.user_posts: dict[int, int] = defaultdict(int)
        self.user_topics: dict[int, int] = defaultdict(int)
        self.user_first: dict[int, int] = {}
        self.user_last: dict[int, int] = {}
        self.reached: dict[tuple[int, int], int] = {}  # (user, trust level) -> time
        self.post_number: dict[int, int] = {}
        self.cat_of_thread = {num(t["id"]): self.cat_id(t["board_id"]) if t.get("board_id") else 1
                              for t in rows(f.dir, "threads")}
        self.cat_stats: dict[int, dict[str, Any]] = defaultdict(lambda: {"topics": 0, "posts": 0, "last": None})
        self.likes: dict[int, list[int]] = defaultdict(list)
        self.likes_given: dict[int, int] = defaultdict(int)
        self.likes_received: dict[int, int] = defaultdict(int)
        for t in f.thanks:
            self.likes[num(t["target_post_id"])].append(num(t["source_user_id"]))
            self.likes_given[num(t["source_user_id"])] += 1
        self.replies_to: dict[int, int] = defaultdict(int)
        self.max_post = 0
        for p in rows(f.dir, "posts"):
            pid, tid = num(p["id"]), num(p["thread_id"])
            self.max_post = max(self.max_post, pid)
            uid = num(p["author_id"]) if p.get("author_id") else 0
            at = epoch(p.get("created_at"))
            st = self.thread.setdefault(tid, {"first": pid, "first_user": uid, "first_at": at, "n": 0, "users": []})
            st["n"] += 1
            self.post_number[pid] = st["n"]
            st.update(last=pid, last_user=uid, last_at=at)
            if uid not in st["users"]:
                st["users"].append(uid)
            if p.get("parent_id"):
                self.replies_to[num(p["parent_id"])] += 1
            if uid:
                self.user_posts[uid] += 1
                if st["n"] == 1:
                    self.user_topics[uid] += 1
                self.user_first.setdefault(uid, at)
                self.user_last[uid] = at
                for level, need in enumerate(self.tl_min):
                    if self.user_posts[uid] == max(need, 1) and level:
                        self.reached[(uid, level)] = at
                self.likes_received[uid] += len(self.likes.get(pid, ()))
            cs = self.cat_stats[self.cat_of_thread.get(tid, 1)]
            cs["posts"] += 1
            cs["last"] = (pid, tid)
        for tid, cid in self.cat_of_thread.items():
            if tid in self.thread:
                self.cat_stats[cid]["topics"] += 1
        self.max_topic = max(self.thread, default=0)
        # private messages: one topic per conversation, posts numbered after the forum's posts
        self.pm_topics: list[dict[str, Any]] = []
        conv = Numbering(start=self.max_topic + 1)
        by_conv: dict[int, list[dict[str, Any]]] = defaultdict(list)
        for m in rows(f.dir, "private_messages"):
            by_conv[conv(m.get("conversation_id") or m["id"])].append(m)
        self.pm_post_id = Numbering(start=self.max_post + 1)
        for tid, ms in sorted(by_conv.items()):
            people: list[int] = []
            for m in ms:
                for u in [m.get("sender_id")] + (m.get("recipient_ids") or "").split("|"):
                    if u and num(u) not in people:
                        people.append(num(u))
            for m in ms:
                self.pm_post_id(m["id"])
            self.pm_topics.append({"id": tid, "messages": ms, "people": people})

    def trust_level(self, posts: int) -> int:
        return max([i for i, t in enumerate(self.tl_min) if posts >= t] or [0])


def write_dump(forum_dir: Path, out_path: Path) -> dict[str, Any]:
    """Write the synthetic forum in ``forum_dir`` as a Discourse ``pg_dump`` at ``out_path``.
    Returns ``{"engine", "path", "tables", "ids"}``."""
    f = SynthForum(forum_dir)
    plan = _Plan(f)
    gens = {"categories": _categories, "category_groups": _category_groups, "group_users": _group_users,
            "groups": _groups, "post_actions": _post_actions, "post_uploads": _post_uploads, "posts": _posts,
            "quoted_posts": _quoted_posts, "site_settings": _site_settings,
            "topic_allowed_users": _topic_allowed_users, "topics": _topics, "uploads": _uploads,
            "user_profiles": _user_profiles, "user_stats": _user_stats, "users": _users}
    max_ids: dict[str, int] = {}
    with open_dump(out_path, "wt") as fh:
        w = PostgresDumpWriter(fh, server="13.13")
        w.header()
        for t in TABLES:
            name = f"public.{t.name}"
            ddl = t.pg_ddl(name)
            checks = getattr(t, "checks", ())
            if checks:
                ddl = ddl[:-2] + ",\n" + ",\n".join(f"    {c}" for c in checks) + "\n)"
            w.create_table(name, ddl)
            if t.serial:
                w.raw(f"--\n-- Name: {t.name}_id_seq; Type: SEQUENCE; Schema: public; Owner: -\n--\n\n"
                      f"CREATE SEQUENCE public.{t.name}_id_seq\n    AS integer\n    START WITH 1\n    INCREMENT BY 1\n"
                      f"    NO MINVALUE\n    NO MAXVALUE\n    CACHE 1;\n\n\n"
                      f"--\n-- Name: {t.name}_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -\n--\n\n"
                      f"ALTER SEQUENCE public.{t.name}_id_seq OWNED BY public.{t.name}.id;\n")
        for t in TABLES:
            if t.serial:
                w.raw(f"--\n-- Name: {t.name} id; Type: DEFAULT; Schema: public; Owner: -\n--\n\n"
                      f"ALTER TABLE ONLY public.{t.name} ALTER COLUMN id SET DEFAULT "
                      f"nextval('public.{t.name}_id_seq'::regclass);\n")
        for t in TABLES:
            top = [0]

            def track(recs, top=top):
                for r in recs:
                    if isinstance(r.get("id"), int):
                        top[0] = max(top[0], r["id"])
                    yield r

            w.copy(f"public.{t.name}", t.column_names, t.rows(track(gens[t.name](plan))))
            max_ids[t.name] = top[0]
        for t in TABLES:
            if t.serial:
                w.raw(f"--\n-- Name: {t.name}_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -\n--\n\n"
                      f"SELECT pg_catalog.setval('public.{t.name}_id_seq', {max(max_ids[t.name], 1)}, true);\n")
        for t in TABLES:
            pk = t.keys[0]
            w.raw(f"--\n-- Name: {t.name} {t.name}_pkey; Type: CONSTRAINT; Schema: public; Owner: -\n--\n\n"
                  f"ALTER TABLE ONLY public.{t.name}\n    ADD CONSTRAINT {t.name}_pkey PRIMARY KEY ({pk});\n")
        w.raw("--\n-- Name: index_posts_on_topic_id_and_post_number; Type: INDEX; Schema: public; Owner: -\n--\n\n"
              "CREATE UNIQUE INDEX index_posts_on_topic_id_and_post_number ON public.posts USING btree "
              "(topic_id, post_number);\n")
        w.footer()
    ids = {"boards": dict(plan.cat_id.ids), "groups": dict(plan.group_id),
           "trust_levels": {rid: tl for rid, tl in plan.rank_tl.items()}, "trust_level_min_posts": plan.tl_min,
           "private_message_posts": dict(plan.pm_post_id.ids),
           "users": "u<n> -> <n>", "posts": "p<n> -> <n>", "threads": "t<n> -> <n>", "attachments": "a<n> -> <n>"}
    return {"engine": "discourse", "path": str(out_path),
            "tables": {k.split(".")[-1]: v for k, v in w.rows_written.items()}, "ids": ids}


def _site_settings(plan: _Plan):
    yield {"id": 1, "name": "title", "data_type": 1, "value": plan.f.forum.get("name") or "Discourse",
           "created_at": datetime_text(plan.f.forum.get("created_at")) or "2019-01-01 00:00:00",
           "updated_at": datetime_text(plan.f.forum.get("created_at")) or "2019-01-01 00:00:00"}


def _created(plan: _Plan) -> str:
    return datetime_text(plan.f.forum.get("created_at")) or "2019-01-01 00:00:00"


def _categories(plan: _Plan):
    t0 = _created(plan)
    yield {"id": 1, "name": "Uncategorized", "slug": "uncategorized", "name_lower": "uncategorized",
           "created_at": t0, "updated_at": t0, "position": 0,
           "description": "Topics that don't need a category, or don't fit into any other existing category."}
    for b in plan.f.boards:
        cid = plan.cat_id(b["id"])
        st = plan.cat_stats.get(cid, {"topics": 0, "posts": 0, "last": None})
        name = (b.get("name") or b["id"])[:50]
        made = datetime_text(b.get("created_at")) or t0
        gate = plan.gates.get(b["id"])
        row = {"id": cid, "name": name, "name_lower": name.lower(), "slug": b["id"],
               "description": b.get("description"), "created_at": made, "updated_at": made,
               "position": int(b.get("position") or 0) + 1, "topic_count": st["topics"], "post_count": st["posts"],
               "parent_category_id": plan.cat_id(b["parent_id"]) if b.get("parent_id") else None,
               "read_restricted": bool(gate) and not any(g == 0 for g, _ in gate)}
        if st["last"]:
            row.update(latest_post_id=st["last"][0], latest_topic_id=st["last"][1])
        yield row


def _category_groups(plan: _Plan):
    n = 0
    t0 = _created(plan)
    for b in plan.f.boards:
        for gid, perm in plan.gates.get(b["id"], []):
            n += 1
            yield {"id": n, "category_id": plan.cat_id(b["id"]), "group_id": gid, "permission_type": perm,
                   "created_at": t0, "updated_at": t0}


def _user_tl(plan: _Plan, u: dict[str, Any]) -> int:
    if u.get("rank_id") in plan.rank_tl:
        return plan.rank_tl[u["rank_id"]]
    uid = num(u["id"])
    posts = int(u.get("post_count_reported") if u.get("post_count_reported") is not None else plan.user_posts.get(uid, 0))
    return plan.trust_level(posts)


def _groups(plan: _Plan):
    t0 = _created(plan)
    counts: dict[int, int] = defaultdict(int)
    for row in _group_users(plan):
        counts[row["group_id"]] += 1
    for gid, name in AUTO_GROUPS:
        yield {"id": gid, "name": name, "automatic": True, "created_at": t0, "updated_at": t0,
               "user_count": counts.get(gid, 0), "visible": gid not in (0,)}
    for g in plan.custom_groups:
        yield {"id": g["id"], "name": g["name"], "title": g["title"], "created_at": t0, "updated_at": t0,
               "user_count": counts.get(g["id"], 0)}


def _group_users(plan: _Plan):
    """Memberships: the automatic trust-level groups (a member of level N is in trust_level_0..N, since
    reaching each level), staff groups (admins and moderators are also in ``staff``) and other groups."""
    n = 0
    for u in plan.f.users:
        uid = num(u["id"])
        reg = datetime_text(u.get("registered_at"))
        tl = _user_tl(plan, u)
        mine: list[tuple[int, str | None]] = []
        for level in range(tl + 1):
            at = plan.reached.get((uid, level))
            mine.append((10 + level, _dt(at) if at else reg))
        staff_since = None
        for (user, gid), since in plan.member_since.items():
            if user != uid:
                continue
            mine.append((gid, datetime_text(since) or reg))
            if gid in (1, 2):
                staff_since = min(filter(None, [staff_since, datetime_text(since) or reg]))
        if staff_since:
            mine.append((3, staff_since))
        for gid, since in mine:
            n += 1
            yield {"id": n, "group_id": gid, "user_id": uid, "created_at": since or reg, "updated_at": since or reg}


def _users(plan: _Plan):
    t0 = _created(plan)
    yield {"id": SYSTEM_USER, "username": "system", "username_lower": "system", "name": "system",
           "created_at": t0, "updated_at": t0, "email": "no_email", "active": True, "admin": True, "moderator": True,
           "trust_level": 4, "approved": True, "last_seen_at": None}
    for u in plan.f.users:
        uid = num(u["id"])
        name = u.get("name") or f"user{uid}"
        reg = datetime_text(u.get("registered_at")) or t0
        seen = datetime_text(u.get("last_seen_at")) or reg
        staff = {g for (user, g) in plan.member_since if user == uid}
        last = plan.user_last.get(uid)
        yield {"id": uid, "username": name, "username_lower": name.lower(), "name": None, "created_at": reg,
               "updated_at": seen, "last_posted_at": _dt(last) if last else None, "email": fake_email(uid),
               "password_hash": hashlib.sha256(f"synthetic-password-{uid}".encode()).hexdigest(),
               "salt": hashlib.md5(f"salt{uid}".encode()).hexdigest(), "active": True,
               "auth_token": hashlib.md5(f"token{uid}".encode()).hexdigest(), "last_seen_at": seen,
               "admin": 1 in staff, "moderator": 2 in staff, "trust_level": _user_tl(plan, u), "approved": True,
               "ip_address": fake_ip(uid), "registration_ip_address": fake_ip(uid + 1), "title": u.get("title"),
               "locale": u.get("language"), "first_seen_at": reg, "previous_visit_at": seen}


def _user_stats(plan: _Plan):
    t0 = _created(plan)
    yield {"user_id": SYSTEM_USER, "new_since": t0}
    for u in plan.f.users:
        uid = num(u["id"])
        first = plan.user_first.get(uid)
        yield {"user_id": uid, "new_since": datetime_text(u.get("registered_at")) or t0,
               "first_post_created_at": _dt(first) if first else None,
               "post_count": int(u.get("post_count_reported") if u.get("post_count_reported") is not None
                                 else plan.user_posts.get(uid, 0)),
               "topic_count": plan.user_topics.get(uid, 0), "likes_given": plan.likes_given.get(uid, 0),
               "likes_received": plan.likes_received.get(uid, 0)}


def _user_profiles(plan: _Plan):
    yield {"user_id": SYSTEM_USER}
    for u in plan.f.users:
        bio = u.get("profile_text")
        yield {"user_id": num(u["id"]), "location": u.get("location"), "bio_raw": bio,
               "bio_cooked": f"<p>{html.escape(bio)}</p>" if bio else None}


def _topics(plan: _Plan):
    f = plan.f
    for t in rows(f.dir, "threads"):
        tid = num(t["id"])
        st = plan.thread.get(tid)
        if st is None:
            continue
        made = datetime_text(t.get("created_at")) or _dt(st["first_at"])
        last = _dt(st["last_at"])
        likes = sum(len(plan.likes.get(p, ())) for p in (st["first"],))
        title = t.get("title") or ""
        yield {"id": tid, "title": title, "fancy_title": html.escape(title), "slug": _slug(title),
               "last_posted_at": last, "created_at": made, "updated_at": last, "bumped_at": last,
               "views": int(t.get("view_count") or 0), "posts_count": st["n"], "user_id": st["first_user"],
               "last_post_user_id": st["last_user"], "reply_count": st["n"] - 1, "highest_post_number": st["n"],
               "category_id": plan.cat_of_thread.get(tid, 1), "closed": bool(t.get("is_locked")),
               "pinned_at": made if t.get("is_sticky") else None, "participant_count": len(st["users"]),
               "like_count": likes, "archetype": "regular"}
    for pt in plan.pm_topics:
        ms = pt["messages"]
        first, last = ms[0], ms[-1]
        made, lat = datetime_text(first.get("sent_at")), datetime_text(last.get("sent_at"))
        title = first.get("subject") or "(no subject)"
        yield {"id": pt["id"], "title": title, "fancy_title": html.escape(title), "slug": _slug(title),
               "last_posted_at": lat, "created_at": made, "updated_at": lat, "bumped_at": lat, "posts_count": len(ms),
               "user_id": num(first["sender_id"]) if first.get("sender_id") else None,
               "last_post_user_id": num(last["sender_id"]) if last.get("sender_id") else SYSTEM_USER,
               "reply_count": len(ms) - 1, "highest_post_number": len(ms), "category_id": None,
               "archetype": "private_message", "subtype": "user_to_user", "participant_count": len(pt["people"])}


def _cooked(text: str, names: dict[int, str], mention: int | None, quote: tuple[str, int, int, str] | None,
            uploads: list[dict[str, Any]]) -> str:
    out = ""
    if quote:
        name, pn, tid, ex = quote
        out += (f'<aside class="quote" data-post="{pn}" data-topic="{tid}">\n<div class="title">\n'
                f"{html.escape(name)}:</div>\n<blockquote>\n<p>{html.escape(ex)}</p>\n</blockquote>\n</aside>\n")
    body = html.escape(text)
    if mention is not None and text.startswith("@" + names.get(mention, "\0")):
        n = names[mention]
        body = f'<a class="mention" href="/u/{html.escape(n.lower())}">@{html.escape(n)}</a>' + html.escape(text[len(n) + 1:])
    out += f"<p>{body}</p>"
    for up in uploads:
        out += (f'\n<p><a class="attachment" href="{up["url"]}">{html.escape(up["original_filename"])}</a> '
                f'({_size_text(up["filesize"])})</p>')
    return out


def _upload_rows(plan: _Plan) -> dict[int, list[dict[str, Any]]]:
    by_post: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for a in rows(plan.f.dir, "attachments"):
        name = a.get("file_name") or f"upload{num(a['id'])}"
        ext = name.rsplit(".", 1)[-1].lower() if "." in name else "bin"
        sha1 = a.get("sha1") or hashlib.sha1((a.get("sha256") or name).encode()).hexdigest()  # stand-in: no bytes
        at = datetime_text(a.get("created_at"))
        up = {"id": num(a["id"]), "user_id": num(a["user_id"]) if a.get("user_id") else SYSTEM_USER,
              "original_filename": name, "filesize": int(a.get("size_bytes") or 0),
              "url": f"/uploads/default/original/1X/{sha1}.{ext}", "created_at": at, "updated_at": at, "sha1": sha1}
        by_post[num(a["post_id"]) if a.get("post_id") else 0].append(up)
    return by_post


def _uploads(plan: _Plan):
    for ups in _upload_rows(plan).values():
        yield from ups


def _post_uploads(plan: _Plan):
    n = 0
    for pid, ups in sorted(_upload_rows(plan).items()):
        for up in ups:
            if pid:
                n += 1
                yield {"id": n, "post_id": pid, "upload_id": up["id"]}


def _posts(plan: _Plan):
    f = plan.f
    uploads = _upload_rows(plan)
    for p in f.posts():
        pid, tid = num(p["id"]), num(p["thread_id"])
        uid = num(p["author_id"]) if p.get("author_id") else None
        text = p.get("text") or ""
        raw = text
        q = f.quoted.get(pid)
        quote = None
        if q:
            qa = int(f.post_author[q])
            quote = (f.user_name.get(qa, ""), plan.post_number.get(q, 1), int(f.post_thread[q]), f.excerpt(q))
            raw = quote_markup(*quote) + raw
        ups = uploads.get(pid, [])
        for up in ups:
            raw += f"\n\n[{up['original_filename']}|attachment]({up['url']}) ({_size_text(up['filesize'])})"
        parent = num(p["parent_id"]) if p.get("parent_id") else None
        at = datetime_text(p.get("created_at"))
        yield {"id": pid, "user_id": uid, "topic_id": tid, "post_number": plan.post_number[pid], "raw": raw,
               "cooked": _cooked(text, f.user_name, f.mentions.get(pid), quote, ups), "created_at": at,
               "updated_at": at, "last_version_at": at, "baked_at": at, "baked_version": 1,
               "reply_to_post_number": plan.post_number.get(parent) if parent else None,
               "reply_to_user_id": int(f.post_author[parent]) if parent and parent < len(f.post_author) else None,
               "reply_count": plan.replies_to.get(pid, 0), "quote_count": 1 if q else 0,
               "like_count": len(plan.likes.get(pid, ())), "like_score": len(plan.likes.get(pid, ())),
               "word_count": len(text.split()), "reply_quoted": bool(q and parent == q),
               "deleted_at": at if p.get("is_deleted") else None}
    for pt in plan.pm_topics:
        numbers: dict[str, int] = {}
        for i, m in enumerate(pt["messages"], start=1):
            numbers[m["id"]] = i
            at = datetime_text(m.get("sent_at"))
            body = m.get("text") or ""
            parent = numbers.get(m.get("parent_id")) if m.get("parent_id") else None
            yield {"id": plan.pm_post_id(m["id"]), "user_id": num(m["sender_id"]) if m.get("sender_id") else None,
                   "topic_id": pt["id"], "post_number": i, "raw": body, "cooked": f"<p>{html.escape(body)}</p>",
                   "created_at": at, "updated_at": at, "last_version_at": at, "reply_to_post_number": parent,
                   "word_count": len(body.split())}


def _quoted_posts(plan: _Plan):
    for n, (pid, q) in enumerate(sorted(plan.f.quoted.items()), start=1):
        at = _dt(int(plan.f.post_time[pid])) if pid < len(plan.f.post_time) and plan.f.post_time[pid] else None
        yield {"id": n, "post_id": pid, "quoted_post_id": q, "created_at": at or _created(plan),
               "updated_at": at or _created(plan)}


def _post_actions(plan: _Plan):
    seen: set[tuple[int, int]] = set()
    n = 0
    for t in sorted(plan.f.thanks, key=lambda r: (r.get("created_at") or "", r.get("id") or "")):
        key = (num(t["target_post_id"]), num(t["source_user_id"]))
        if key in seen:  # one like per member and post
            continue
        seen.add(key)
        n += 1
        at = datetime_text(t.get("created_at"))
        yield {"id": n, "post_id": key[0], "user_id": key[1], "post_action_type_id": 2, "created_at": at,
               "updated_at": at}


def _topic_allowed_users(plan: _Plan):
    n = 0
    for pt in plan.pm_topics:
        at = datetime_text(pt["messages"][0].get("sent_at"))
        for u in pt["people"]:
            n += 1
            yield {"id": n, "user_id": u, "topic_id": pt["id"], "created_at": at, "updated_at": at}
