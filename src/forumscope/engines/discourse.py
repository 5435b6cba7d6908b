"""Discourse databases (PostgreSQL) mapped to the canonical model (docs/engines/discourse.md).

Tables and what they give:

- ``categories`` -> boards; ``category_groups`` -> declared gates: a category where ``everyone``
  (group 0) may not post (``permission_type`` 1 = create, reply, see; 2 = reply, see; 3 = see) is
  gated. Groups that may post there are the required groups, unless one of them is an automatic
  trust-level group ``trust_level_N`` (ids 10-14), which makes it a rank gate (``min_rank_id`` =
  ``tlN``, the lowest such level; other groups are named in ``access_rule`` as exempt). A category
  ``everyone`` cannot see is hidden. Discourse administrators may post everywhere;
- trust levels -> the rank ladder ``tl0``..``tl4`` (promotion by reading and activity, not by post
  count: no ``min_posts``; the hierarchy analysis infers thresholds from the data);
  ``users.trust_level`` -> each member's rank;
- ``groups`` / ``group_users`` -> groups and memberships (``created_at`` = since;
  ``users.primary_group_id`` = primary); automatic groups: admins, moderators, staff, trust levels;
- ``topics`` (``archetype = 'regular'``) and ``posts`` (Markdown ``raw``; ``reply_to_post_number`` =
  explicit parent within the topic) -> threads, posts; small-action posts (``post_type`` 3, e.g.
  "closed the topic") -> events; quotes from ``quoted_posts`` (else the ``[quote="name,
  post:N, topic:T"]`` markup) and ``@mentions`` -> interactions; ``topic_tags`` -> thread tags;
- likes (``post_actions`` with ``post_action_type_id`` 2, not deleted) -> ``thanks``;
- ``uploads`` referenced by posts (``post_uploads`` or ``upload_references``) -> attachment records;
- private-message topics (``archetype = 'private_message'``) and ``topic_allowed_users`` ->
  private-message metadata (the text only when the case keeps it);
- ``user_badges`` + ``badges`` -> badges.

Password hashes, salts, auth tokens, e-mail tokens, API keys and login records are never read;
``users.email`` / ``user_emails.email`` and the users' IPs become keyed pseudonyms only when the case
asks for them.
"""

from __future__ import annotations

from typing import Any

import duckdb
import pyarrow as pa

from forumscope.engines.base import (EngineSpec, MapContext, access_rule, add_pm_links, contacts_sql,
                                     convert_markup, group_kind, install_macros, query_dicts, to_int)

ENGINE = EngineSpec(
    name="discourse",
    title="Discourse",
    dialect="postgres",
    prefixes=("",),
    markup="markdown",
    known_tables={
        "categories": ["id", "name", "description", "position", "parent_category_id", "read_restricted", "created_at"],
        "category_groups": ["category_id", "group_id", "permission_type"],
        "groups": ["id", "name", "full_name", "title"],
        "group_users": ["group_id", "user_id", "created_at"],
        "users": ["id", "username", "created_at", "last_seen_at", "trust_level", "title", "locale", "primary_group_id",
                  "email", "ip_address", "registration_ip_address"],
        "user_emails": ["user_id", "email"],
        "user_stats": ["user_id", "post_count"],
        "user_profiles": ["user_id", "location", "bio_raw"],
        "topics": ["id", "title", "created_at", "user_id", "category_id", "archetype", "closed", "pinned_at", "views",
                   "posts_count"],
        "posts": ["id", "user_id", "topic_id", "post_number", "raw", "created_at", "updated_at",
                  "reply_to_post_number", "deleted_at", "post_type", "action_code", "hidden"],
        "post_actions": ["id", "post_id", "user_id", "post_action_type_id", "created_at", "deleted_at"],
        "quoted_posts": ["post_id", "quoted_post_id"],
        "topic_allowed_users": ["topic_id", "user_id"],
        "uploads": ["id", "user_id", "original_filename", "filesize", "sha1", "extension", "created_at"],
        "post_uploads": ["post_id", "upload_id"],
        "upload_references": ["upload_id", "target_type", "target_id"],
        "tags": ["id", "name"],
        "topic_tags": ["topic_id", "tag_id"],
        "badges": ["id", "name", "badge_type_id"],
        "user_badges": ["id", "badge_id", "user_id", "granted_at"],
        "site_settings": ["name", "value"],
    },
    signature_tables=["topics", "posts", "categories", "post_actions", "group_users", "category_groups"],
    required_tables=["posts"],
    never_stored={
        "user_auth_tokens": "login tokens", "user_auth_token_logs": "login records with IPs",
        "email_tokens": "e-mail confirmation tokens", "api_keys": "API keys", "user_api_keys": "API keys",
        "user_second_factors": "two-factor secrets", "user_security_keys": "security keys",
        "single_sign_on_records": "single-sign-on payloads", "email_logs": "e-mail addresses",
        "incoming_emails": "raw e-mail with addresses", "screened_emails": "e-mail addresses",
        "screened_ip_addresses": "IP addresses", "user_ip_address_histories": "IP addresses",
        "email_change_requests": "e-mail addresses", "incoming_links": "IPs of visitors",
        "user_profile_views": "IPs of visitors", "user_histories": "staff log with e-mail addresses and IPs",
    },
    contact_columns={"users": {"email": "email", "ip_address": "ip", "registration_ip_address": "ip"},
                     "user_emails": {"email": "email"}},
    description="Discourse (PostgreSQL pg_dump plain format).",
)

EVERYONE, ADMINS, MODERATORS, STAFF = 0, 1, 2, 3
TRUST_GROUPS = {10: 0, 11: 1, 12: 2, 13: 3, 14: 4}
TRUST_NAMES = ("new user", "basic user", "member", "regular", "leader")
CAN_POST = (1, 2)
LIKE = 2
SMALL_ACTION, MODERATOR_ACTION = 3, 2
ACTION_KINDS = {"closed.enabled": "close", "autoclosed.enabled": "close", "closed.disabled": "reopen",
                "autoclosed.disabled": "reopen", "archived.enabled": "lock", "archived.disabled": "unlock",
                "split_topic": "migrate", "merged": "merge"}


def map_tables(con: duckdb.DuckDBPyConnection, ctx: MapContext) -> dict[str, str | pa.Table]:
    install_macros(con)
    out: dict[str, str | pa.Table] = {}
    title = None
    if ctx.has("site_settings", "name", "value"):
        hit = con.execute("SELECT value FROM site_settings WHERE name = 'title' LIMIT 1").fetchall()
        title = hit[0][0] if hit else None
    out["forums"] = pa.table({"id": [ctx.forum_id], "name": [ctx.forum_name or title], "platform": ["discourse"]})
    groups = query_dicts(con, f"SELECT fs_nz(id) AS id, name, {ctx.col('groups', 'full_name')} AS full_name, "
                        f"{ctx.col('groups', 'title')} AS title FROM \"groups\"") if ctx.has("groups", "id") else []
    if groups:
        out["groups"] = _groups(groups)
    if ctx.has("categories", "id"):
        out["boards"] = _boards(con, ctx, groups)
    _users(con, ctx, out)
    _topics_posts(con, ctx, out)
    _interactions(con, ctx, out)
    _attachments(ctx, out)
    _badges(ctx, out)
    add_pm_links(ctx, out)
    if ctx.store_contacts:
        _contacts(ctx, out)
    return out


def _contacts(ctx: MapContext, out: dict[str, Any]) -> None:
    """Keyed pseudonyms (staged in place of the clear values) per member, kind and pseudonym."""
    parts = []
    reg = f"fs_datetime({ctx.col('users', 'created_at')})"
    for col in ("email", "ip_address", "registration_ip_address"):
        if ctx.has("users", "id", col):
            kind = "email" if col == "email" else "ip"
            parts.append(f"SELECT id AS uid, '{kind}' AS kind, {col} AS p, {reg} AS t FROM users")
    if ctx.has("user_emails", "user_id", "email"):
        parts.append("SELECT user_id, 'email', email, NULL::TIMESTAMP FROM user_emails")
    if parts:
        out["contacts"] = contacts_sql(parts, id_macro="fs_nz")


# ------------------------------------------------------------------------------------------ groups, boards
def _kind(gid: int, name: str | None, full: str | None) -> str:
    if gid == ADMINS:
        return "admin"
    if gid == MODERATORS:
        return "moderator"
    if gid == STAFF:
        return "staff"
    if gid in TRUST_GROUPS or gid == EVERYONE:
        return "member"
    return group_kind(full or name, hint=name)


def _groups(groups: list[dict[str, Any]]) -> pa.Table:
    rows: dict[str, list[Any]] = {"id": [], "name": [], "kind": [], "description": []}
    for g in groups:
        gid = to_int(g["id"], -1)
        if gid == EVERYONE:
            continue  # everyone: every member, not a group anyone joins
        rows["id"].append(str(gid))
        rows["name"].append(g.get("full_name") or g.get("name"))
        rows["kind"].append(_kind(gid, g.get("name"), g.get("full_name")))
        rows["description"].append(f"automatic: members of trust level {TRUST_GROUPS[gid]} and above"
                                   if gid in TRUST_GROUPS else (g.get("title") or None))
    return pa.table(rows)


def _boards(con: duckdb.DuckDBPyConnection, ctx: MapContext, groups: list[dict[str, Any]]) -> pa.Table:
    c = lambda col, d="NULL": ctx.col("categories", col, d)
    cats = query_dicts(con, f"SELECT fs_nz(id) AS id, name, {c('description')} AS description, {c('position')} AS position, "
                      f"fs_nz({c('parent_category_id')}) AS parent, {c('read_restricted')} AS read_restricted, "
                      f"fs_datetime({c('created_at')}) AS created_at, _offset FROM categories")
    perms: dict[str, list[tuple[int, int]]] = {}
    if ctx.has("category_groups", "category_id", "group_id"):
        ptype = ctx.col("category_groups", "permission_type", "'1'")
        for r in query_dicts(con, f"SELECT fs_nz(category_id) AS cid, group_id, {ptype} AS ptype FROM category_groups"):
            perms.setdefault(r["cid"], []).append((to_int(r["group_id"], -1), to_int(r["ptype"], 1)))
    kinds = {to_int(g["id"], -1): _kind(to_int(g["id"], -1), g.get("name"), g.get("full_name")) for g in groups}
    cols = {k: [] for k in ("id", "parent_id", "name", "description", "position", "is_hidden", "access_rule",
                            "min_rank_id", "required_group_ids", "created_at", "_offset")}
    gated = 0
    for r in cats:
        entries = perms.get(r["id"], [])
        rank, required, rule, hidden = None, None, None, False
        if entries:
            everyone = [p for g, p in entries if g == EVERYONE]
            hidden = not everyone
            if not any(p in CAN_POST for p in everyone):
                posting = sorted({g for g, p in entries if p in CAN_POST and g != EVERYONE})
                levels = sorted(TRUST_GROUPS[g] for g in posting if g in TRUST_GROUPS)
                others = [str(g) for g in posting if g not in TRUST_GROUPS]
                if levels:
                    rank = f"tl{levels[0]}"
                    rule = access_rule(min_rank_id=rank, note="trust level or above (group trust_level_"
                                       f"{levels[0]})" + (f"; groups {'|'.join(others)} may also post" if others else "")
                                       + "; administrators may post everywhere")
                elif others:
                    required = "|".join(others)
                    staff = all(kinds.get(int(g)) in ("admin", "moderator", "staff") for g in others)
                    rule = access_rule(group_ids=others, note=("staff only; " if staff else "")
                                       + "administrators may post everywhere")
                else:
                    rule = "read-only for everyone (administrators may post)"
                if rank or required:
                    gated += 1
        elif str(r.get("read_restricted")).lower() in ("t", "true", "1"):
            hidden = True
        cols["id"].append(r["id"])
        cols["parent_id"].append(r["parent"])
        cols["name"].append(r["name"])
        cols["description"].append((r.get("description") or "").strip() or None)
        cols["position"].append(to_int(r.get("position")) if r.get("position") is not None else None)
        cols["is_hidden"].append(hidden)
        cols["access_rule"].append(rule)
        cols["min_rank_id"].append(rank)
        cols["required_group_ids"].append(required)
        cols["created_at"].append(r.get("created_at"))
        cols["_offset"].append(r.get("_offset"))
    ctx.facts["gated_boards"] = gated
    return pa.table(cols, schema=pa.schema([("id", pa.string()), ("parent_id", pa.string()), ("name", pa.string()),
                                            ("description", pa.string()), ("position", pa.int64()),
                                            ("is_hidden", pa.bool_()), ("access_rule", pa.string()),
                                            ("min_rank_id", pa.string()), ("required_group_ids", pa.string()),
                                            ("created_at", pa.timestamp("us")), ("_offset", pa.int64())]))


# ------------------------------------------------------------------------------------------ users, ranks
def _users(con: duckdb.DuckDBPyConnection, ctx: MapContext, out: dict[str, Any]) -> None:
    out["ranks"] = pa.table({
        "id": [f"tl{i}" for i in range(5)], "name": list(TRUST_NAMES), "position": list(range(5)),
        "is_special": [False] * 5,
        "description": [f"Discourse trust level {i} (promotion by reading, visits and likes, not by post count)"
                        for i in range(5)]})
    if not ctx.has("users", "id"):
        return
    u = lambda col, d="NULL": ctx.col("users", col, d, alias="u")
    stats = ("LEFT JOIN user_stats s ON fs_nz(s.user_id) = fs_nz(u.id)" if ctx.has("user_stats", "user_id", "post_count")
             else "LEFT JOIN (SELECT NULL AS user_id, NULL AS post_count) s ON false")
    prof = ("LEFT JOIN user_profiles p ON fs_nz(p.user_id) = fs_nz(u.id)" if ctx.has("user_profiles", "user_id")
            else "LEFT JOIN (SELECT NULL AS user_id) p ON false")
    loc = "fs_nz(p.location)" if ctx.has("user_profiles", "location") else "NULL"
    bio = "fs_nz(p.bio_raw)" if ctx.has("user_profiles", "bio_raw") else "NULL"
    out["users"] = f"""
        SELECT fs_nz(u.id) AS id, u.username AS name, fs_datetime({u('created_at')}) AS registered_at,
               fs_datetime({u('last_seen_at')}) AS last_seen_at, fs_int(s.post_count) AS post_count_reported,
               CASE WHEN fs_int({u('trust_level')}) BETWEEN 0 AND 4 THEN 'tl' || fs_int({u('trust_level')}) END AS rank_id,
               fs_nz({u('title')}) AS title, fs_nz({u('locale')}) AS language, {loc} AS location, {bio} AS profile_text,
               TRY_CAST(u.id AS BIGINT) <= 0 AS is_bot, u._offset
        FROM users u {stats} {prof}
    """
    if ctx.has("group_users", "group_id", "user_id"):
        prim = ("LEFT JOIN (SELECT fs_nz(id) AS uid, fs_nz(primary_group_id) AS pg FROM users) pu ON pu.uid = fs_nz(g.user_id)"
                if ctx.has("users", "primary_group_id") else "LEFT JOIN (SELECT NULL AS uid, NULL AS pg) pu ON false")
        out["memberships"] = f"""
            SELECT fs_nz(g.user_id) AS user_id, fs_nz(g.group_id) AS group_id,
                   fs_datetime({ctx.col('group_users', 'created_at', alias='g')}) AS since,
                   coalesce(pu.pg = fs_nz(g.group_id), false) AS is_primary, g._offset
            FROM group_users g {prim}
            WHERE coalesce(TRY_CAST(g.group_id AS BIGINT), -1) <> {EVERYONE}
        """


# ------------------------------------------------------------------------------------------ topics, posts
def _topics_posts(con: duckdb.DuckDBPyConnection, ctx: MapContext, out: dict[str, Any]) -> None:
    t = lambda col, d="NULL": ctx.col("topics", col, d, alias="t")
    has_topics = ctx.has("topics", "id")
    if has_topics:
        con.execute(f"CREATE OR REPLACE TABLE _topic AS SELECT fs_nz(t.id) AS id, fs_nz({t('category_id')}) AS cid, "
                    f"coalesce({t('archetype')}, 'regular') AS archetype, fs_nz(t.title) AS title, t._offset FROM topics t")
    else:
        con.execute("CREATE OR REPLACE TABLE _topic (id VARCHAR, cid VARCHAR, archetype VARCHAR, title VARCHAR, "
                    "_offset BIGINT)")
    if has_topics:
        tags = ""
        if ctx.has("topic_tags", "topic_id", "tag_id") and ctx.has("tags", "id", "name"):
            tags = ("LEFT JOIN (SELECT fs_nz(tt.topic_id) AS tid, string_agg(DISTINCT tg.name, '|' ORDER BY tg.name) "
                    "AS tags FROM topic_tags tt JOIN tags tg ON fs_nz(tg.id) = fs_nz(tt.tag_id) GROUP BY 1) tg "
                    "ON tg.tid = fs_nz(t.id)")
        out["threads"] = f"""
            SELECT fs_nz(t.id) AS id, fs_nz({t('category_id')}) AS board_id, t.title,
                   fs_nz({t('user_id')}) AS author_id, fs_datetime({t('created_at')}) AS created_at,
                   fs_bool({t('closed')}) AS is_locked, fs_datetime({t('pinned_at')}) IS NOT NULL AS is_sticky,
                   fs_int({t('views')}) AS view_count, fs_int({t('posts_count')}) - 1 AS reply_count_reported,
                   {'tg.tags' if tags else 'NULL'} AS tags, t._offset
            FROM topics t {tags}
            WHERE coalesce({t('archetype')}, 'regular') = 'regular'
        """
    if not ctx.has("posts", "id", "raw"):
        return
    p = lambda col, d="NULL": ctx.col("posts", col, d, alias="p")
    con.execute(f"""
        CREATE OR REPLACE TABLE _post AS
        SELECT fs_nz(p.id) AS id, fs_nz({p('topic_id')}) AS tid, fs_int({p('post_number')}) AS num,
               fs_nz({p('user_id')}) AS uid, coalesce(fs_int({p('post_type')}), 1) AS post_type,
               fs_nz({p('action_code')}) AS action_code,
               coalesce(tp.archetype, 'regular') AS archetype, tp.cid, tp.title AS topic_title,
               fs_int({p('reply_to_post_number')}) AS reply_to, fs_datetime({p('created_at')}) AS created_at,
               fs_datetime({p('updated_at')}) AS updated_at,
               fs_datetime({p('deleted_at')}) IS NOT NULL OR coalesce(fs_bool({p('hidden')}), false) AS is_deleted,
               p._offset
        FROM posts p LEFT JOIN _topic tp ON tp.id = fs_nz(p.{'topic_id'})
    """)
    regular = ("SELECT fs_nz(p.id) AS id, p.raw FROM posts p JOIN _post x ON x.id = fs_nz(p.id) "
               f"WHERE x.archetype <> 'private_message' AND x.post_type NOT IN ({SMALL_ACTION}, {MODERATOR_ACTION})")
    convert_markup(con, ctx, regular + " AND p.raw IS NOT NULL", "markdown")
    out["posts"] = f"""
        SELECT x.id, x.tid AS thread_id, x.cid AS board_id, x.uid AS author_id, x.created_at,
               CASE WHEN x.updated_at > x.created_at THEN x.updated_at END AS edited_at,
               par.id AS parent_id, x.num - 1 AS position, m.text, p.raw, 'markdown' AS format,
               CASE WHEN x.post_type = 4 THEN 'comment' ELSE 'post' END AS kind, x.is_deleted, x._offset
        FROM _post x JOIN posts p ON fs_nz(p.id) = x.id
        LEFT JOIN _markup m ON m.id = x.id
        LEFT JOIN _post par ON par.tid = x.tid AND par.num = x.reply_to AND x.reply_to IS NOT NULL
        WHERE x.archetype <> 'private_message' AND x.post_type NOT IN ({SMALL_ACTION}, {MODERATOR_ACTION})
    """
    kinds = " ".join(f"WHEN '{k}' THEN '{v}'" for k, v in ACTION_KINDS.items())
    out["events"] = f"""
        SELECT 'post:' || x.id AS id, CASE x.action_code {kinds} ELSE 'other' END AS kind, x.created_at,
               x.uid AS user_id, x.tid AS thread_id, x.cid AS board_id, coalesce(x.action_code, 'moderator post') AS detail,
               x._offset
        FROM _post x WHERE x.archetype <> 'private_message' AND x.post_type IN ({SMALL_ACTION}, {MODERATOR_ACTION})
    """
    # private messages
    text = "NULL"
    if ctx.store_pm_text:
        convert_markup(con, ctx, "SELECT fs_nz(p.id) AS id, p.raw FROM posts p JOIN _post x ON x.id = fs_nz(p.id) "
                                 "WHERE x.archetype = 'private_message' AND p.raw IS NOT NULL", "markdown",
                       name="_pm_markup")
        text = "(SELECT pm.text FROM _pm_markup pm WHERE pm.id = x.id)"
    people = ("SELECT fs_nz(topic_id) AS tid, fs_nz(user_id) AS uid FROM topic_allowed_users"
              if ctx.has("topic_allowed_users", "topic_id", "user_id")
              else "SELECT tid, uid FROM _post WHERE archetype = 'private_message'")
    out["private_messages"] = f"""
        WITH people AS ({people})
        SELECT x.id, x.uid AS sender_id,
               (SELECT string_agg(DISTINCT pp.uid, '|' ORDER BY pp.uid) FROM people pp
                WHERE pp.tid = x.tid AND pp.uid <> coalesce(x.uid, '')) AS recipient_ids,
               x.created_at AS sent_at, x.topic_title AS subject, {text} AS text, x.tid AS conversation_id,
               par.id AS parent_id, x._offset
        FROM _post x LEFT JOIN _post par ON par.tid = x.tid AND par.num = x.reply_to AND x.reply_to IS NOT NULL
        WHERE x.archetype = 'private_message' AND x.post_type NOT IN ({SMALL_ACTION}, {MODERATOR_ACTION})
    """


# ------------------------------------------------------------------------------------------ interactions
def _interactions(con: duckdb.DuckDBPyConnection, ctx: MapContext, out: dict[str, Any]) -> None:
    if not ctx.has("posts", "id", "raw"):
        return
    parts = []
    names = ("LEFT JOIN (SELECT lower(username) AS lname, min(fs_nz(id)) AS uid FROM users GROUP BY 1) un "
             "ON un.lname = lower(r.target_name)" if ctx.has("users", "id", "username")
             else "LEFT JOIN (SELECT NULL AS lname, NULL AS uid) un ON false")
    con.execute(f"""
        CREATE OR REPLACE TABLE _refs AS
        SELECT r.id, r.kind, r.target_name, un.uid AS tuid,
               fs_int(r.target_post_id) AS quoted_number,
               fs_nz(regexp_extract(coalesce(r.detail, ''), 'topic:(\\d+)', 1)) AS quoted_topic,
               row_number() OVER (PARTITION BY r.id, r.kind) AS n
        FROM _markup_refs r {names} WHERE r.kind IN ('quote', 'mention')
    """)
    if ctx.has("quoted_posts", "post_id", "quoted_post_id"):
        parts.append("""
            SELECT 'quote:' || x.id || CASE WHEN q.n > 1 THEN ':' || q.n ELSE '' END AS id, 'quote' AS kind,
                   x.uid AS source_user_id, NULL AS target_user_id, x.id AS post_id, q.quoted AS target_post_id,
                   x.created_at, NULL::DOUBLE AS value, NULL AS detail, x._offset
            FROM (SELECT fs_nz(post_id) AS pid, fs_nz(quoted_post_id) AS quoted,
                         row_number() OVER (PARTITION BY fs_nz(post_id) ORDER BY fs_nz(quoted_post_id)) AS n
                  FROM quoted_posts) q
            JOIN _post x ON x.id = q.pid
            WHERE x.archetype <> 'private_message'
        """)
    else:  # from the markup: [quote="name, post:N, topic:T"] -> the post numbered N in topic T
        parts.append("""
            SELECT 'quote:' || r.id || CASE WHEN r.n > 1 THEN ':' || r.n ELSE '' END AS id, 'quote' AS kind,
                   x.uid AS source_user_id, CASE WHEN q.id IS NULL THEN r.tuid END AS target_user_id, r.id AS post_id,
                   q.id AS target_post_id, x.created_at, NULL::DOUBLE AS value,
                   CASE WHEN q.id IS NULL AND r.tuid IS NULL THEN 'unresolved quote' END AS detail, x._offset
            FROM _refs r JOIN _post x ON x.id = r.id
            LEFT JOIN _post q ON q.tid = coalesce(r.quoted_topic, x.tid) AND q.num = r.quoted_number
            WHERE r.kind = 'quote'
        """)
    parts.append("""
        SELECT 'mention:' || r.id || CASE WHEN r.n > 1 THEN ':' || r.n ELSE '' END, 'mention', x.uid, r.tuid, r.id,
               NULL, x.created_at, NULL::DOUBLE, NULL, x._offset
        FROM _refs r JOIN _post x ON x.id = r.id
        WHERE r.kind = 'mention' AND r.tuid IS NOT NULL
    """)
    if ctx.has("post_actions", "id", "post_id", "user_id", "post_action_type_id"):
        a = lambda col: ctx.col("post_actions", col, alias="a")
        parts.append(f"""
            SELECT 'like:' || fs_nz(a.id), 'thanks', fs_nz(a.user_id), NULL, NULL, fs_nz(a.post_id),
                   fs_datetime({a('created_at')}), 1.0, 'like', a._offset
            FROM post_actions a
            WHERE fs_int(a.post_action_type_id) = {LIKE} AND fs_datetime({a('deleted_at')}) IS NULL
              AND fs_nz(a.post_id) IN (SELECT id FROM _post WHERE archetype <> 'private_message')
        """)
    out["interactions"] = " UNION ALL ".join(parts)


# ------------------------------------------------------------------------------------------ attachments, badges
def _attachments(ctx: MapContext, out: dict[str, Any]) -> None:
    if not ctx.has("uploads", "id"):
        return
    if ctx.has("post_uploads", "post_id", "upload_id"):
        refs = "SELECT fs_nz(upload_id) AS uid, min(fs_nz(post_id)) AS pid FROM post_uploads GROUP BY 1"
    elif ctx.has("upload_references", "upload_id", "target_type", "target_id"):
        refs = ("SELECT fs_nz(upload_id) AS uid, min(fs_nz(target_id)) AS pid FROM upload_references "
                "WHERE target_type = 'Post' GROUP BY 1")
    else:
        return
    u = lambda col: ctx.col("uploads", col, alias="u")
    ext = (f"fs_nz({u('extension')})" if ctx.has("uploads", "extension")
           else f"lower(NULLIF(regexp_extract(coalesce({u('original_filename')}, ''), '\\.([A-Za-z0-9]{{1,10}})$', 1), ''))")
    out["attachments"] = f"""
        SELECT fs_nz(u.id) AS id, r.pid AS post_id, fs_nz({u('user_id')}) AS user_id,
               fs_nz({u('original_filename')}) AS file_name, fs_int({u('filesize')}) AS size_bytes,
               {ext} AS declared_type, lower(fs_nz({u('sha1')})) AS sha1,
               fs_datetime({u('created_at')}) AS created_at, u._offset
        FROM uploads u JOIN ({refs}) r ON r.uid = fs_nz(u.id)
        WHERE r.pid IN (SELECT id FROM _post WHERE archetype <> 'private_message')
    """


def _badges(ctx: MapContext, out: dict[str, Any]) -> None:
    if not (ctx.has("user_badges", "id", "badge_id", "user_id") and ctx.has("badges", "id", "name")):
        return
    btype = ctx.col("badges", "badge_type_id", alias="b")
    out["badges"] = f"""
        SELECT fs_nz(ub.id) AS id, fs_nz(ub.user_id) AS user_id, b.name,
               CASE fs_int({btype}) WHEN 1 THEN 'gold' WHEN 2 THEN 'silver' WHEN 3 THEN 'bronze' END AS class,
               fs_datetime({ctx.col('user_badges', 'granted_at', alias='ub')}) AS awarded_at, ub._offset
        FROM user_badges ub JOIN badges b ON fs_nz(b.id) = fs_nz(ub.badge_id)
    """


__all__ = ["ENGINE", "map_tables"]
