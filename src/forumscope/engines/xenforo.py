"""XenForo 2.x databases (MySQL) mapped to the canonical model (docs/engines/xenforo.md).

Tables and what they give:

- ``xf_node`` (``Category``/``Forum``) + ``xf_forum`` -> boards; ``xf_permission_entry`` (global) and
  ``xf_permission_entry_content`` (per node, inherited down the node tree) -> declared gates: a forum
  where the Registered group (2) may not start threads or reply is gated; the groups that may are the
  required groups, unless one of them is added by a user-group promotion whose only criterion is
  ``messages_posted`` (``xf_user_group_promotion``), which makes it a post-count gate (``min_posts``);
- ``xf_user_title_ladder`` -> the rank ladder; thresholds are post counts when the option
  ``userTitleLadderField`` is ``message_count`` (reaction score: ``min_reputation``; trophy points,
  XenForo's default: kept in the rank description only); a user group's ``user_title`` -> a special
  rank, held by members whose display group it is;
- ``xf_user_group``, ``xf_user_group_relation`` (or ``xf_user.user_group_id`` /
  ``secondary_group_ids``) -> groups and memberships; ``xf_user_group_promotion_log`` dates the
  memberships a promotion gave;
- ``xf_thread``, ``xf_post`` (BBCode) -> threads, posts. XenForo threads are flat: a post that quotes
  an earlier post of its thread (``[QUOTE="name, post: N, member: M"]``) is taken as replying to it;
  quotes and ``[USER=M]`` mentions -> ``quote``/``mention`` interactions;
- ``xf_reaction_content`` (XenForo 2.1+) -> ``thanks`` for reactions with a positive score (approval),
  ``reaction`` otherwise; ``xf_liked_content`` (XenForo 1.x/2.0) -> ``thanks``;
- ``xf_attachment`` + ``xf_attachment_data`` -> attachment records (name, size, MD5; no files);
- ``xf_conversation_master`` / ``_message`` / ``_recipient`` -> private-message metadata.

Password data (``xf_user_authenticate``), sessions and login records are never
read; ``xf_user.email`` and the IP log ``xf_ip`` become keyed pseudonyms only when the case asks for them.
"""

from __future__ import annotations

import json
import re
from typing import Any

import duckdb
import pyarrow as pa

from forumscope.engines.base import (EngineSpec, MapContext, access_rule, add_pm_links, contacts_sql,
                                     convert_markup, group_kind, install_macros, query_dicts, to_int)
from forumscope.store.sql import sql_str

ENGINE = EngineSpec(
    name="xenforo",
    title="XenForo 2.x",
    dialect="mysql",
    prefixes=("xf_",),
    markup="bbcode",
    known_tables={
        "node": ["node_id", "title", "description", "node_type_id", "parent_node_id", "display_order",
                 "display_in_list"],
        "forum": ["node_id", "allow_posting"],
        "permission_entry": ["user_group_id", "user_id", "permission_group_id", "permission_id", "permission_value"],
        "permission_entry_content": ["content_type", "content_id", "user_group_id", "user_id", "permission_group_id",
                                     "permission_id", "permission_value"],
        "user": ["user_id", "username", "email", "custom_title", "timezone", "user_group_id", "secondary_group_ids",
                 "display_style_group_id", "message_count", "register_date", "last_activity", "reaction_score",
                 "like_count", "trophy_points"],
        "user_profile": ["user_id", "location", "about"],
        "user_group": ["user_group_id", "title", "user_title"],
        "user_group_relation": ["user_id", "user_group_id", "is_primary"],
        "user_group_promotion": ["promotion_id", "title", "active", "user_criteria", "extra_user_group_ids"],
        "user_group_promotion_log": ["promotion_id", "user_id", "promotion_date", "promotion_state"],
        "user_title_ladder": ["minimum_level", "title"],
        "option": ["option_id", "option_value"],
        "thread": ["thread_id", "node_id", "title", "user_id", "post_date", "first_post_id", "discussion_open",
                   "sticky", "view_count", "reply_count", "discussion_type"],
        "post": ["post_id", "thread_id", "user_id", "username", "post_date", "message", "message_state", "position",
                 "last_edit_date"],
        "reaction": ["reaction_id", "reaction_score"],
        "reaction_content": ["reaction_content_id", "reaction_id", "content_type", "content_id", "reaction_user_id",
                             "reaction_date", "content_user_id"],
        "liked_content": ["like_id", "content_type", "content_id", "like_user_id", "like_date", "content_user_id"],
        "attachment": ["attachment_id", "data_id", "content_type", "content_id", "attach_date", "view_count"],
        "attachment_data": ["data_id", "user_id", "upload_date", "filename", "file_size", "file_hash"],
        "conversation_master": ["conversation_id", "title"],
        "conversation_message": ["message_id", "conversation_id", "message_date", "user_id", "message"],
        "conversation_recipient": ["conversation_id", "user_id"],
        "ip": ["ip_id", "user_id", "content_type", "content_id", "ip", "log_date"],
    },
    signature_tables=["node", "user_group", "thread", "post", "user_title_ladder", "permission_entry_content"],
    required_tables=["post"],
    never_stored={
        "user_authenticate": "password hashes", "session": "sessions", "session_activity": "sessions with IPs",
        "session_admin": "admin sessions", "session_install": "install sessions", "user_remember": "login keys",
        "user_tfa": "two-factor secrets", "user_tfa_trusted": "two-factor devices", "tfa_attempt": "login attempts",
        "login_attempt": "login attempts with IPs", "user_confirmation": "confirmation keys",
        "api_key": "API keys", "api_login_token": "login tokens",
        "admin_log": "admin actions with IPs", "error_log": "errors with IPs", "spam_trigger_log": "spam checks with IPs",
        "user_change_temp": "pending e-mail and password changes", "mail_queue": "outgoing e-mail",
        "email_bounce_log": "e-mail bounces",
    },
    contact_columns={"user": {"email": "email"}, "ip": {"ip": "ip"}},
    description="XenForo 2.x (and 1.x likes) databases (MySQL), table prefix xf_.",
)

REGISTERED = 2
NOT_MEMBERS = (1,)  # guests
DEFAULT_KINDS = {1: "other", 2: "member", 3: "admin", 4: "moderator"}
LADDER_UNITS = {"message_count": "messages", "reaction_score": "reaction score", "like_count": "likes",
                "trophy_points": "trophy points"}
LADDER_FIELDS = tuple(LADDER_UNITS)


def _options(con: duckdb.DuckDBPyConnection, ctx: MapContext) -> dict[str, str]:
    if not ctx.has("option", "option_id", "option_value"):
        return {}
    want = ("boardTitle", "guestTimeZone", "userTitleLadderField")
    got = query_dicts(con, "SELECT option_id, option_value FROM \"option\" WHERE option_id IN "
                     f"({', '.join(repr(w) for w in want)})")
    return {r["option_id"]: (r["option_value"] or "").strip() for r in got}


def promotion_threshold(criteria: str | None) -> int | None:
    """The post count of a promotion whose only criterion is ``messages_posted`` (JSON, as XenForo 2
    stores it, or PHP-serialized as XenForo 1 did), else None."""
    if not criteria:
        return None
    rules: list[tuple[str, Any]] = []
    try:
        data = json.loads(criteria)
        if isinstance(data, dict):
            data = list(data.values())
        for r in data if isinstance(data, list) else []:
            if isinstance(r, dict) and "rule" in r:
                rules.append((r["rule"], r.get("data") or {}))
    except (ValueError, TypeError):
        names = re.findall(r's:4:"rule";s:\d+:"(\w+)"', criteria)
        m = re.search(r's:8:"messages";(?:i:(\d+)|s:\d+:"(\d+)")', criteria)
        rules = [(n, {"messages": (m.group(1) or m.group(2)) if m else None}) for n in names]
    if len(rules) == 1 and rules[0][0] == "messages_posted":
        try:
            return int(rules[0][1].get("messages"))
        except (TypeError, ValueError, AttributeError):
            return None
    return None


def map_tables(con: duckdb.DuckDBPyConnection, ctx: MapContext) -> dict[str, str | pa.Table]:
    install_macros(con)
    out: dict[str, str | pa.Table] = {}
    opts = _options(con, ctx)
    out["forums"] = pa.table({"id": [ctx.forum_id], "name": [ctx.forum_name or opts.get("boardTitle")],
                              "platform": ["xenforo"]})
    groups = query_dicts(con, "SELECT * FROM user_group") if ctx.has("user_group", "user_group_id") else []
    promos = _promotions(con, ctx)
    by_posts: dict[str, int] = {}
    for p in promos:
        if p["threshold"] is not None:
            for g in p["groups"]:
                by_posts[g] = min(by_posts.get(g, 1 << 30), p["threshold"])
    if groups:
        out["groups"] = _groups(groups, by_posts)
    if ctx.has("node", "node_id"):
        out["boards"] = _boards(con, ctx, groups, by_posts)
    _users(con, ctx, out, groups, promos, opts)
    _threads_posts(con, ctx, out)
    _interactions(con, ctx, out)
    _attachments(ctx, out)
    _conversations(con, ctx, out)
    add_pm_links(ctx, out, "conversation text")
    if ctx.store_contacts:
        _contacts(ctx, out)
    return out


def _contacts(ctx: MapContext, out: dict[str, Any]) -> None:
    """Keyed pseudonyms (staged in place of the clear values) per member, kind and pseudonym."""
    parts = []
    if ctx.has("user", "user_id", "email"):
        parts.append(f"SELECT user_id AS uid, 'email' AS kind, email AS p, fs_epoch({ctx.col('user', 'register_date')}) "
                     "AS t FROM \"user\"")
    if ctx.has("ip", "user_id", "ip"):
        parts.append(f"SELECT user_id, 'ip', ip, fs_epoch({ctx.col('ip', 'log_date')}) FROM ip")
    if parts:
        out["contacts"] = contacts_sql(parts)


# ------------------------------------------------------------------------------------------ groups, boards
def _promotions(con: duckdb.DuckDBPyConnection, ctx: MapContext) -> list[dict[str, Any]]:
    if not ctx.has("user_group_promotion", "promotion_id", "user_criteria", "extra_user_group_ids"):
        return []
    out = []
    active = ctx.col("user_group_promotion", "active", "'1'")
    for r in query_dicts(con, f"SELECT promotion_id, user_criteria, extra_user_group_ids, {active} AS active "
                        "FROM user_group_promotion"):
        if to_int(r["active"], 1) == 0:
            continue
        groups = [g.strip() for g in str(r["extra_user_group_ids"] or "").split(",") if g.strip() not in ("", "0")]
        out.append({"id": str(to_int(r["promotion_id"])), "groups": groups,
                    "threshold": promotion_threshold(r["user_criteria"])})
    return out


def _group_kind(g: dict[str, Any], by_posts: dict[str, int]) -> str:
    gid = to_int(g["user_group_id"])
    if gid in DEFAULT_KINDS:
        return DEFAULT_KINDS[gid]
    if str(gid) in by_posts:
        return "member"  # reached by post count: a step of the ladder, not a hand-picked group
    return group_kind(g.get("title"))


def _groups(groups: list[dict[str, Any]], by_posts: dict[str, int]) -> pa.Table:
    rows: dict[str, list[Any]] = {"id": [], "name": [], "kind": [], "description": []}
    for g in groups:
        gid = str(to_int(g["user_group_id"]))
        rows["id"].append(gid)
        rows["name"].append(g.get("title"))
        rows["kind"].append(_group_kind(g, by_posts))
        rows["description"].append(f"added by promotion at {by_posts[gid]} messages" if gid in by_posts else None)
    return pa.table(rows)


def _boards(con: duckdb.DuckDBPyConnection, ctx: MapContext, groups: list[dict[str, Any]],
            by_posts: dict[str, int]) -> pa.Table:
    n = lambda col, d="NULL": ctx.col("node", col, d, alias="n")
    allow = "f.allow_posting" if ctx.has("forum", "node_id", "allow_posting") else "NULL"
    fjoin = ("LEFT JOIN forum f ON fs_id(f.node_id) = fs_id(n.node_id)" if ctx.has("forum", "node_id")
             else "LEFT JOIN (SELECT NULL AS node_id, NULL AS allow_posting) f ON false")
    nodes = query_dicts(con, f"SELECT fs_id(n.node_id) AS id, n.title, {n('description')} AS description, "
                       f"{n('node_type_id', repr('Forum'))} AS node_type_id, fs_id({n('parent_node_id')}) AS parent, "
                       f"{n('display_order')} AS display_order, {n('display_in_list', repr('1'))} AS display_in_list, "
                       f"{allow} AS allow_posting, n._offset FROM node n {fjoin}")
    skipped = [r for r in nodes if r["node_type_id"] not in ("Category", "Forum")]
    if skipped:
        ctx.notice(f"xf_node: {len(skipped)} nodes of other types (pages, link forums, search forums) not read as boards")
    nodes = [r for r in nodes if r["node_type_id"] in ("Category", "Forum")]
    parent = {r["id"]: r["parent"] for r in nodes}
    glob: dict[tuple[int, str], str] = {}
    content: dict[tuple[str, int, str], str] = {}
    want = ("postThread", "postReply", "viewNode", "viewContent")
    if ctx.has("permission_entry", "user_group_id", "permission_id", "permission_value"):
        for r in query_dicts(con, "SELECT user_group_id, user_id, permission_id, permission_value FROM permission_entry "
                            f"WHERE permission_id IN {want}"):
            if to_int(r["user_id"]) == 0:
                glob[(to_int(r["user_group_id"]), r["permission_id"])] = r["permission_value"]
    if ctx.has("permission_entry_content", "content_id", "user_group_id", "permission_id", "permission_value"):
        for r in query_dicts(con, "SELECT content_type, content_id, user_group_id, user_id, permission_id, permission_value "
                            f"FROM permission_entry_content WHERE permission_id IN {want}"):
            if to_int(r["user_id"]) == 0 and (r.get("content_type") or "node") == "node":
                content[(str(to_int(r["content_id"])), to_int(r["user_group_id"]), r["permission_id"])] = r["permission_value"]

    def effective(node: str, gid: int, perm: str) -> str:
        """'allow', 'deny' (never) or 'no', walking the node tree up, then the global entry."""
        cur, seen = node, set()
        while cur and cur not in seen:
            seen.add(cur)
            v = content.get((cur, gid, perm))
            if v == "content_allow":
                return "allow"
            if v == "deny":
                return "deny"
            if v == "reset":
                return "no"
            cur = parent.get(cur)
        v = glob.get((gid, perm))
        return "allow" if v == "allow" else "deny" if v == "deny" else "no"

    def can(node: str, gid: int, *perms: str) -> bool:
        return any(effective(node, gid, p) == "allow" for p in perms)

    gids = sorted(to_int(g["user_group_id"]) for g in groups)
    kinds = {to_int(g["user_group_id"]): _group_kind(g, by_posts) for g in groups}
    cols = {k: [] for k in ("id", "parent_id", "name", "description", "position", "is_hidden", "access_rule",
                            "min_posts", "required_group_ids", "_offset")}
    gated = 0
    have_perms = bool(glob or content)
    for r in nodes:
        node = r["id"]
        min_posts, required, rule, hidden = None, None, None, None
        if have_perms and REGISTERED in gids:
            hidden = not can(node, REGISTERED, "viewNode")
            if r["node_type_id"] == "Forum" and not can(node, REGISTERED, "postThread", "postReply"):
                allowed = [g for g in gids if g not in NOT_MEMBERS and g != REGISTERED
                           and can(node, g, "postThread", "postReply")]
                posts = {str(g): by_posts[str(g)] for g in allowed if str(g) in by_posts}
                if posts:
                    min_posts = min(posts.values())
                    others = [str(g) for g in allowed if str(g) not in posts]
                    rule = access_rule(min_posts=min_posts, note=(
                        f"user group {'|'.join(posts)} added by promotion at that message count"
                        + (f"; user groups {'|'.join(others)} may also post" if others else "")))
                elif allowed:
                    required = "|".join(str(g) for g in allowed)
                    staff = all(kinds.get(g) in ("admin", "moderator", "staff") for g in allowed)
                    rule = access_rule(group_ids=[str(g) for g in allowed], note="staff only" if staff else None)
                else:
                    rule = "no user group may post"
                gated += 1
        if r["node_type_id"] == "Forum" and r.get("allow_posting") is not None and to_int(r["allow_posting"], 1) == 0:
            rule = (rule + "; " if rule else "") + "closed for posting"
        if to_int(r.get("display_in_list"), 1) == 0:
            hidden = True
        cols["id"].append(node)
        cols["parent_id"].append(r["parent"] if r["parent"] in parent else None)
        cols["name"].append(r["title"])
        cols["description"].append((r.get("description") or "").strip() or None)
        cols["position"].append(to_int(r.get("display_order")))
        cols["is_hidden"].append(hidden)
        cols["access_rule"].append(rule)
        cols["min_posts"].append(min_posts)
        cols["required_group_ids"].append(required)
        cols["_offset"].append(r.get("_offset"))
    ctx.facts["gated_boards"] = gated
    return pa.table(cols, schema=pa.schema([("id", pa.string()), ("parent_id", pa.string()), ("name", pa.string()),
                                            ("description", pa.string()), ("position", pa.int64()),
                                            ("is_hidden", pa.bool_()), ("access_rule", pa.string()),
                                            ("min_posts", pa.int64()), ("required_group_ids", pa.string()),
                                            ("_offset", pa.int64())]))


# ------------------------------------------------------------------------------------------ users, ranks
def _users(con: duckdb.DuckDBPyConnection, ctx: MapContext, out: dict[str, Any], groups: list[dict[str, Any]],
           promos: list[dict[str, Any]], opts: dict[str, str]) -> None:
    field = opts.get("userTitleLadderField") or "trophy_points"
    if field not in LADDER_FIELDS:
        field = "trophy_points"
    has_ladder = ctx.has("user_title_ladder", "minimum_level", "title")
    if has_ladder:
        con.execute("CREATE OR REPLACE TABLE _ladder AS SELECT 'utl' || fs_int(minimum_level) AS rank_id, "
                    "fs_int(minimum_level) AS level, title FROM user_title_ladder WHERE fs_int(minimum_level) IS NOT NULL")
    titled = {str(to_int(g["user_group_id"])): g.get("user_title") for g in groups if (g.get("user_title") or "").strip()}
    con.execute("CREATE OR REPLACE TABLE _titled (gid VARCHAR, title VARCHAR)")
    if titled:
        con.executemany("INSERT INTO _titled VALUES (?, ?)", list(titled.items()))
    if not ctx.has("user", "user_id"):
        return
    c = lambda col, d="NULL": ctx.col("user", col, d, alias="u")
    measure = f"coalesce(fs_int({c(field)}), 0)"
    ladder_join = (f"ASOF LEFT JOIN _ladder l ON {measure} >= l.level" if has_ladder
                   else "LEFT JOIN (SELECT NULL::VARCHAR AS rank_id, NULL::BIGINT AS level) l ON false")
    zone = opts.get("guestTimeZone")
    tz = f"fs_nz({c('timezone')})"
    tz_expr = f"CASE WHEN {tz} <> {sql_str(zone)} THEN {tz} END" if zone else tz
    prof = ("LEFT JOIN user_profile p ON fs_id(p.user_id) = fs_id(u.user_id)" if ctx.has("user_profile", "user_id")
            else "LEFT JOIN (SELECT NULL AS user_id, NULL AS location, NULL AS about) p ON false")
    loc = "fs_nz(p.location)" if ctx.has("user_profile", "location") else "NULL"
    about = "fs_nz(p.about)" if ctx.has("user_profile", "about") else "NULL"
    out["users"] = f"""
        SELECT fs_id(u.user_id) AS id, u.username AS name, fs_epoch({c('register_date')}) AS registered_at,
               fs_epoch({c('last_activity')}) AS last_seen_at, fs_int({c('message_count')}) AS post_count_reported,
               fs_int(coalesce({c('reaction_score')}, {c('like_count')})) AS reputation,
               CASE WHEN t.gid IS NOT NULL THEN 'ug' || t.gid ELSE l.rank_id END AS rank_id,
               fs_nz({c('custom_title')}) AS title, {tz_expr} AS timezone_declared, {loc} AS location,
               {about} AS profile_text, u._offset
        FROM "user" u {ladder_join}
        LEFT JOIN _titled t ON t.gid = fs_id({c('display_style_group_id')})
        {prof}
    """
    if zone:
        n = con.execute(f"SELECT count(*) FROM \"user\" u WHERE {tz} = {sql_str(zone)}").fetchall()[0][0]
        if n:
            ctx.notice(f"xf_user: {n} members with the board's default time zone {zone} (not counted as a declared zone)")
    ranks = []
    if has_ladder:
        unit = {"message_count": "min_posts", "reaction_score": "min_reputation", "like_count": "min_reputation"}.get(field)
        ranks.append(
            "SELECT rank_id AS id, title AS name, row_number() OVER (ORDER BY level) - 1 AS position, "
            f"{'level' if unit == 'min_posts' else 'NULL::BIGINT'} AS min_posts, "
            f"{'level' if unit == 'min_reputation' else 'NULL::BIGINT'} AS min_reputation, false AS is_special, "
            f"'title ladder: reached at ' || level || ' {LADDER_UNITS[field]}' AS description FROM _ladder")
    ranks.append("SELECT 'ug' || gid, title, NULL::BIGINT, NULL::BIGINT, NULL::BIGINT, true, "
                 "'user title of user group ' || gid FROM _titled")
    out["ranks"] = " UNION ALL ".join(ranks)
    # memberships (with the dates promotions give)
    since = "NULL::TIMESTAMP"
    if promos and ctx.has("user_group_promotion_log", "promotion_id", "user_id", "promotion_date"):
        pairs = [(p["id"], g) for p in promos for g in p["groups"]]
        con.execute("CREATE OR REPLACE TABLE _promo_groups (pid VARCHAR, gid VARCHAR)")
        con.executemany("INSERT INTO _promo_groups VALUES (?, ?)", pairs)
        con.execute("CREATE OR REPLACE TABLE _promo_since AS SELECT fs_id(l.user_id) AS uid, g.gid, "
                    "min(fs_epoch(l.promotion_date)) AS since FROM user_group_promotion_log l "
                    "JOIN _promo_groups g ON g.pid = fs_id(l.promotion_id) GROUP BY ALL")
        since = "(SELECT s.since FROM _promo_since s WHERE s.uid = m.user_id AND s.gid = m.group_id)"
    if ctx.has("user_group_relation", "user_id", "user_group_id"):
        prim = ctx.col("user_group_relation", "is_primary", "'0'", alias="r")
        base = (f"SELECT fs_id(r.user_id) AS user_id, fs_id(r.user_group_id) AS group_id, fs_bool({prim}) AS is_primary, "
                "r._offset FROM user_group_relation r")
    else:
        base = (f"SELECT fs_id(u.user_id) AS user_id, fs_id({c('user_group_id')}) AS group_id, true AS is_primary, "
                "u._offset FROM \"user\" u")
        if ctx.has("user", "secondary_group_ids"):
            base += (" UNION ALL SELECT fs_id(u.user_id), trim(g), false, u._offset FROM \"user\" u, "
                     "unnest(string_split(coalesce(u.secondary_group_ids, ''), ',')) AS x(g) WHERE trim(g) NOT IN ('', '0')")
    out["memberships"] = f"SELECT m.*, {since} AS since FROM ({base}) m WHERE m.group_id IS NOT NULL"


# ------------------------------------------------------------------------------------------ threads, posts
def _threads_posts(con: duckdb.DuckDBPyConnection, ctx: MapContext, out: dict[str, Any]) -> None:
    if ctx.has("thread", "thread_id"):
        t = lambda col, d="NULL": ctx.col("thread", col, d)
        out["threads"] = f"""
            SELECT fs_id(thread_id) AS id, fs_id({t('node_id')}) AS board_id, title, fs_id({t('user_id')}) AS author_id,
                   fs_epoch({t('post_date')}) AS created_at, fs_id({t('first_post_id')}) AS first_post_id,
                   fs_int({t('discussion_open')}) = 0 AS is_locked, fs_int({t('sticky')}) <> 0 AS is_sticky,
                   fs_int({t('view_count')}) AS view_count, fs_int({t('reply_count')}) AS reply_count_reported, _offset
            FROM thread WHERE coalesce({t('discussion_type')}, '') <> 'redirect'
        """
    if not ctx.has("post", "post_id", "message"):
        return
    convert_markup(con, ctx, "SELECT fs_id(post_id) AS id, message AS raw FROM post", "bbcode")
    p = lambda col, d="NULL": ctx.col("post", col, d, alias="p")
    con.execute(f"CREATE OR REPLACE TABLE _post_pos AS SELECT fs_id(p.post_id) AS id, fs_id({p('thread_id')}) AS tid, "
                f"fs_int({p('position')}) AS pos, fs_int({p('post_date')}) AS at FROM post p")
    # a post quoting an earlier post of its own thread replies to it (the first such quote)
    con.execute("""
        CREATE OR REPLACE TABLE _xf_parent AS
        WITH q AS (SELECT r.id, fs_id(r.target_post_id) AS target, row_number() OVER () AS seq
                   FROM _markup_refs r WHERE r.kind = 'quote' AND fs_id(r.target_post_id) IS NOT NULL)
        SELECT q.id, arg_min(q.target, q.seq) AS parent
        FROM q JOIN _post_pos a ON a.id = q.id JOIN _post_pos b ON b.id = q.target
        WHERE a.tid = b.tid AND (b.pos < a.pos OR (b.pos = a.pos AND b.at < a.at) OR (a.pos IS NULL AND b.at < a.at))
        GROUP BY q.id
    """)
    board = ("LEFT JOIN (SELECT fs_id(thread_id) AS tid, fs_id(node_id) AS fid FROM thread) th ON th.tid = fs_id(p.thread_id)"
             if ctx.has("thread", "thread_id", "node_id") else "LEFT JOIN (SELECT NULL AS tid, NULL AS fid) th ON false")
    out["posts"] = f"""
        SELECT fs_id(p.post_id) AS id, fs_id({p('thread_id')}) AS thread_id, th.fid AS board_id,
               fs_id({p('user_id')}) AS author_id, fs_nz({p('username')}) AS author_name,
               fs_epoch({p('post_date')}) AS created_at, fs_epoch({p('last_edit_date')}) AS edited_at,
               x.parent AS parent_id, fs_int({p('position')}) AS position, m.text, p.message AS raw,
               'bbcode' AS format, 'post' AS kind, {p('message_state', "'visible'")} = 'deleted' AS is_deleted, p._offset
        FROM post p LEFT JOIN _markup m ON m.id = fs_id(p.post_id) LEFT JOIN _xf_parent x ON x.id = fs_id(p.post_id)
        {board}
    """


# ------------------------------------------------------------------------------------------ interactions
def _interactions(con: duckdb.DuckDBPyConnection, ctx: MapContext, out: dict[str, Any]) -> None:
    parts = []
    if ctx.has("post", "post_id", "message"):
        names = ("LEFT JOIN (SELECT lower(username) AS lname, min(fs_id(user_id)) AS uid FROM \"user\" GROUP BY 1) un "
                 "ON un.lname = lower(r.target_name)" if ctx.has("user", "user_id", "username")
                 else "LEFT JOIN (SELECT NULL AS lname, NULL AS uid) un ON false")
        con.execute(f"""
            CREATE OR REPLACE TABLE _refs AS
            SELECT r.*, row_number() OVER (PARTITION BY r.id, r.kind) AS n,
                   coalesce(fs_id(r.target_user_id), CASE WHEN fs_id(r.target_post_id) IS NULL THEN un.uid END) AS tuid
            FROM _markup_refs r {names} WHERE r.kind IN ('quote', 'mention')
        """)
        parts.append("""
            SELECT r.kind || ':' || r.id || CASE WHEN r.n > 1 THEN ':' || r.n ELSE '' END AS id, r.kind,
                   fs_id(p.user_id) AS source_user_id, r.tuid AS target_user_id, r.id AS post_id,
                   CASE WHEN r.kind = 'quote' THEN fs_id(r.target_post_id) END AS target_post_id,
                   fs_epoch(p.post_date) AS created_at, NULL::DOUBLE AS value, NULL AS detail, p._offset
            FROM _refs r JOIN post p ON fs_id(p.post_id) = r.id
            WHERE r.kind = 'quote' OR r.tuid IS NOT NULL
        """)
    if ctx.has("reaction_content", "reaction_content_id", "content_id", "reaction_user_id"):
        score = ("LEFT JOIN (SELECT fs_id(reaction_id) AS rid, fs_int(reaction_score) AS score FROM reaction) rx "
                 "ON rx.rid = fs_id(c.reaction_id)" if ctx.has("reaction", "reaction_id", "reaction_score")
                 else "LEFT JOIN (SELECT NULL AS rid, NULL::BIGINT AS score) rx ON false")
        ctype = ctx.col("reaction_content", "content_type", "'post'", alias="c")
        parts.append(f"""
            SELECT 'reaction:' || fs_id(c.reaction_content_id),
                   CASE WHEN coalesce(rx.score, 1) > 0 THEN 'thanks' ELSE 'reaction' END,
                   fs_id(c.reaction_user_id), fs_id({ctx.col('reaction_content', 'content_user_id', alias='c')}), NULL,
                   fs_id(c.content_id), fs_epoch({ctx.col('reaction_content', 'reaction_date', alias='c')}),
                   coalesce(rx.score, 1)::DOUBLE, 'reaction ' || coalesce(fs_id(c.reaction_id), '1'), c._offset
            FROM reaction_content c {score} WHERE {ctype} = 'post'
        """)
    if ctx.has("liked_content", "like_id", "content_id", "like_user_id"):
        ctype = ctx.col("liked_content", "content_type", "'post'")
        parts.append(f"""
            SELECT 'like:' || fs_id(like_id), 'thanks', fs_id(like_user_id), fs_id({ctx.col('liked_content', 'content_user_id')}),
                   NULL, fs_id(content_id), fs_epoch({ctx.col('liked_content', 'like_date')}), 1.0, 'like', _offset
            FROM liked_content WHERE {ctype} = 'post'
        """)
    if parts:
        out["interactions"] = " UNION ALL ".join(parts)


# ------------------------------------------------------------------------------------------ attachments, PMs
def _attachments(ctx: MapContext, out: dict[str, Any]) -> None:
    if not ctx.has("attachment", "attachment_id", "content_id"):
        return
    a = lambda col, d="NULL": ctx.col("attachment", col, d, alias="a")
    d = lambda col: ctx.col("attachment_data", col, alias="d")
    dj = ("LEFT JOIN attachment_data d ON fs_id(d.data_id) = fs_id(a.data_id)" if ctx.has("attachment_data", "data_id")
          else "LEFT JOIN (SELECT NULL AS data_id) d ON false")
    out["attachments"] = f"""
        SELECT fs_id(a.attachment_id) AS id, fs_id(a.content_id) AS post_id, fs_id({d('user_id')}) AS user_id,
               fs_nz({d('filename')}) AS file_name, fs_int({d('file_size')}) AS size_bytes,
               lower(regexp_extract(coalesce({d('filename')}, ''), '\\.([A-Za-z0-9]{{1,10}})$', 1)) AS declared_type,
               lower(fs_nz({d('file_hash')})) AS md5, fs_int({a('view_count')}) AS download_count,
               fs_epoch(coalesce({a('attach_date')}, {d('upload_date')})) AS created_at, a._offset
        FROM attachment a {dj} WHERE {a('content_type', "'post'")} = 'post'
    """


def _conversations(con: duckdb.DuckDBPyConnection, ctx: MapContext, out: dict[str, Any]) -> None:
    if not ctx.has("conversation_message", "message_id", "conversation_id"):
        return
    text = "NULL"
    if ctx.store_pm_text and ctx.has("conversation_message", "message"):
        convert_markup(con, ctx, "SELECT fs_id(message_id) AS id, message AS raw FROM conversation_message", "bbcode",
                       name="_pm_markup")
        text = "(SELECT t.text FROM _pm_markup t WHERE t.id = fs_id(m.message_id))"
    rec = ("SELECT fs_id(conversation_id) AS cid, fs_id(user_id) AS uid FROM conversation_recipient"
           if ctx.has("conversation_recipient", "conversation_id", "user_id")
           else "SELECT fs_id(conversation_id) AS cid, fs_id(user_id) AS uid FROM conversation_message")
    title = ("LEFT JOIN (SELECT fs_id(conversation_id) AS cid, fs_nz(title) AS title FROM conversation_master) cm "
             "ON cm.cid = fs_id(m.conversation_id)" if ctx.has("conversation_master", "conversation_id", "title")
             else "LEFT JOIN (SELECT NULL AS cid, NULL AS title) cm ON false")
    out["private_messages"] = f"""
        WITH people AS ({rec})
        SELECT fs_id(m.message_id) AS id, fs_id(m.user_id) AS sender_id,
               (SELECT string_agg(DISTINCT p.uid, '|' ORDER BY p.uid) FROM people p
                WHERE p.cid = fs_id(m.conversation_id) AND p.uid <> coalesce(fs_id(m.user_id), '')) AS recipient_ids,
               fs_epoch(m.message_date) AS sent_at, cm.title AS subject, {text} AS text,
               fs_id(m.conversation_id) AS conversation_id, m._offset
        FROM conversation_message m {title}
    """


__all__ = ["ENGINE", "map_tables", "promotion_threshold"]
