"""phpBB 3.x (3.0 to 3.3) mapped to the canonical model. Tables, columns and where they land:
docs/engines/phpbb.md.

Declared gates come from the permission system: for each forum, the groups whose ``f_reply`` /
``f_post`` permission is YES (directly in ``acl_groups`` or through a role in ``acl_roles_data``, and no
NEVER). A forum where the registered-users group cannot post is gated: by a post count when every
non-staff group allowed to post is an Auto Groups (``autogroups_rules``) post-count group
(``boards.min_posts``), else by group (``boards.required_group_ids``). Individually granted users
(``acl_users``) are noted in ``boards.access_rule``.

phpBB has no reply structure (topics are flat): ``posts.parent_id`` is the post a reply quotes
(``[quote ... post_id=N]`` in the same topic), otherwise empty; ``posts.position`` orders the topic.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import duckdb
import pyarrow as pa

from forumscope.engines.base import (EngineSpec, MapContext, access_rule, add_interactions, add_pm_links,
                                     arrow_to_table, contacts_sql, convert_markup, group_kind)

ENGINE = EngineSpec(
    name="phpbb",
    title="phpBB 3.x",
    dialect="mysql",
    prefixes=("phpbb_", "phpbb3_", "forum_", ""),
    markup="phpbb",
    known_tables={
        "config": ["config_name", "config_value"],
        "forums": ["forum_id", "parent_id", "left_id", "forum_name", "forum_desc", "forum_type", "forum_status"],
        "topics": ["topic_id", "forum_id", "topic_title", "topic_poster", "topic_time", "topic_views", "topic_status",
                   "topic_type", "topic_first_post_id", "topic_moved_id", "topic_replies", "topic_posts_approved",
                   "topic_visibility"],
        "posts": ["post_id", "topic_id", "forum_id", "poster_id", "poster_ip", "post_time", "post_username",
                  "post_subject", "post_text", "post_edit_time", "post_visibility", "post_approved"],
        "users": ["user_id", "user_type", "group_id", "user_ip", "user_regdate", "username", "user_email",
                  "user_lastvisit", "user_last_active", "user_posts", "user_lang", "user_timezone", "user_rank",
                  "user_sig", "user_from"],
        "ranks": ["rank_id", "rank_title", "rank_min", "rank_special"],
        "groups": ["group_id", "group_type", "group_name", "group_desc"],
        "user_group": ["group_id", "user_id", "group_leader", "user_pending"],
        "acl_options": ["auth_option_id", "auth_option"],
        "acl_roles_data": ["role_id", "auth_option_id", "auth_setting"],
        "acl_groups": ["group_id", "forum_id", "auth_option_id", "auth_role_id", "auth_setting"],
        "acl_users": ["user_id", "forum_id", "auth_option_id", "auth_role_id", "auth_setting"],
        "privmsgs": ["msg_id", "root_level", "author_id", "author_ip", "message_time", "message_subject",
                     "message_text", "to_address", "bcc_address"],
        "privmsgs_to": ["msg_id", "user_id", "author_id"],
        "attachments": ["attach_id", "post_msg_id", "topic_id", "in_message", "poster_id", "real_filename",
                        "download_count", "extension", "mimetype", "filesize", "filetime", "is_orphan"],
        "thanks": ["post_id", "poster_id", "user_id", "thanks_time"],
        "autogroups_rules": ["autogroups_id", "autogroups_type_id", "autogroups_min_value", "autogroups_max_value",
                             "autogroups_group_id"],
        "autogroups_types": ["autogroups_type_id", "autogroups_type_name"],
        "profile_fields_data": ["user_id", "pf_phpbb_location"],
    },
    signature_tables=["acl_options", "acl_groups", "forums", "topics", "posts", "users", "ranks", "user_group"],
    required_tables=["posts"],
    never_stored={
        "sessions": "sessions: never read",
        "sessions_keys": "login keys: never read",
        "login_attempts": "login attempts (IPs, user agents): never read",
        "oauth_tokens": "OAuth tokens: never read",
        "oauth_states": "OAuth states: never read",
        "captcha_answers": "captcha data: never read",
        "confirm": "captcha confirmations: never read",
    },
    contact_columns={
        "users": {"user_email": "email", "user_ip": "ip"},
        "posts": {"poster_ip": "ip"},
        "privmsgs": {"author_ip": "ip"},
    },
    optional_columns={  # 3.0 vs 3.1+ columns, Auto Groups and profile fields by version
        "posts": ["post_approved", "post_visibility"], "topics": ["topic_replies", "topic_posts_approved",
                                                                  "topic_visibility"],
        "users": ["user_from", "user_last_active", "user_timezone"],
    },
    targets={"topics": "threads", "forums": "boards", "user_group": "memberships", "privmsgs": "private_messages",
             "thanks": "interactions"},
    description="phpBB 3.0-3.3 (MySQL/MariaDB or PostgreSQL dumps); thanks (gfksx ThanksForPosts) and "
                "Auto Groups extensions when present.",
)

ORDINARY = {"GUESTS", "REGISTERED", "REGISTERED_COPPA", "NEWLY_REGISTERED"}
STAFF_HINTS = {"ADMINISTRATORS": "admin", "GLOBAL_MODERATORS": "moderator", "BOTS": "bot", "GUESTS": "other",
               "REGISTERED": "member", "REGISTERED_COPPA": "member", "NEWLY_REGISTERED": "member"}
ANONYMOUS = "1"
YES, NEVER = 1, 0


def _config(con: duckdb.DuckDBPyConnection, ctx: MapContext) -> dict[str, str]:
    if not ctx.has("config", "config_name", "config_value"):
        return {}
    return {k: v for k, v in con.execute("SELECT config_name, config_value FROM config").fetchall() if k}


def _groups(con: duckdb.DuckDBPyConnection, ctx: MapContext) -> dict[str, dict[str, Any]]:
    if not ctx.has("groups", "group_id"):
        return {}
    rows = con.execute(f"SELECT group_id, fs_html({ctx.col('groups', 'group_name', 'NULL')}), "
                       f"{ctx.col('groups', 'group_type', 'NULL')} FROM groups").fetchall()
    out = {}
    for gid, name, gtype in rows:
        hint = STAFF_HINTS.get(name or "")
        out[str(gid)] = {"name": name, "kind": hint or group_kind(name), "builtin": gtype == "3" or hint is not None}
    return out


def _gates(con: duckdb.DuckDBPyConnection, ctx: MapContext, groups: dict[str, dict[str, Any]]) -> dict[str, dict]:
    """forum id -> {min_posts, groups, rule, hidden} for forums where registered users cannot post."""
    if not (ctx.has("acl_groups") and ctx.has("acl_options", "auth_option_id", "auth_option")):
        if ctx.has("forums"):
            ctx.notice("phpbb: no permission tables (acl_groups/acl_options): declared gates unknown")
        return {}
    roles = ("UNION ALL SELECT g.group_id AS who, g.forum_id, o.auth_option AS opt, d.auth_setting AS s "
             "FROM acl_groups g JOIN acl_roles_data d ON d.role_id = g.auth_role_id "
             "JOIN acl_options o ON o.auth_option_id = d.auth_option_id WHERE fs_int(g.auth_role_id) > 0"
             if ctx.has("acl_roles_data") else "")
    perms = con.execute(
        "SELECT who, forum_id, opt, min(fs_int(s)) FROM ("
        "SELECT g.group_id AS who, g.forum_id, o.auth_option AS opt, g.auth_setting AS s FROM acl_groups g "
        "JOIN acl_options o ON o.auth_option_id = g.auth_option_id WHERE fs_int(g.auth_option_id) > 0 "
        f"{roles}) WHERE opt IN ('f_read', 'f_post', 'f_reply') AND fs_int(forum_id) > 0 GROUP BY ALL").fetchall()
    can: dict[tuple[str, str], dict[str, int]] = defaultdict(dict)
    for who, fid, opt, s in perms:
        can[(str(fid), str(who))][opt] = s
    users_ok: dict[str, set[str]] = defaultdict(set)
    if ctx.has("acl_users", "user_id", "forum_id", "auth_option_id"):
        uroles = ("UNION ALL SELECT a.user_id, a.forum_id, o.auth_option, d.auth_setting FROM acl_users a "
                  "JOIN acl_roles_data d ON d.role_id = a.auth_role_id JOIN acl_options o ON "
                  "o.auth_option_id = d.auth_option_id WHERE fs_int(a.auth_role_id) > 0"
                  if ctx.has("acl_roles_data") and ctx.has("acl_users", "auth_role_id") else "")
        for uid, fid, opt, s in con.execute(
                "SELECT user_id, forum_id, opt, min(fs_int(s)) FROM (SELECT a.user_id, a.forum_id, o.auth_option AS opt, "
                "a.auth_setting AS s FROM acl_users a JOIN acl_options o ON o.auth_option_id = a.auth_option_id "
                f"{uroles}) WHERE opt IN ('f_post', 'f_reply') AND fs_int(forum_id) > 0 GROUP BY ALL "
                "HAVING min(fs_int(s)) = 1").fetchall():
            users_ok[str(fid)].add(str(uid))
    auto: dict[str, int] = {}
    if ctx.has("autogroups_rules", "autogroups_group_id", "autogroups_min_value"):
        join = ("JOIN autogroups_types t ON t.autogroups_type_id = r.autogroups_type_id "
                "WHERE lower(t.autogroups_type_name) LIKE '%post%'" if ctx.has("autogroups_types") else "")
        for gid, mn in con.execute(f"SELECT r.autogroups_group_id, min(fs_int(r.autogroups_min_value)) "
                                   f"FROM autogroups_rules r {join} GROUP BY 1").fetchall():
            if mn is not None:
                auto[str(gid)] = int(mn)
    by_forum: dict[str, dict[str, dict[str, int]]] = defaultdict(dict)
    for (fid, who), opts in can.items():
        by_forum[fid][who] = opts
    ordinary = {g for g, v in groups.items() if v["name"] in ORDINARY}
    out: dict[str, dict] = {}
    for fid, who_opts in by_forum.items():
        posters = sorted((g for g, o in who_opts.items()
                          if max(o.get("f_reply", -1), o.get("f_post", -1)) == YES
                          and NEVER not in (o.get("f_reply"), o.get("f_post"))), key=_num)
        readers = {g for g, o in who_opts.items() if o.get("f_read") == YES}
        hidden = bool(ordinary) and not (readers & ordinary)
        if set(posters) & ordinary:
            if hidden:
                out[fid] = {"hidden": True}
            continue
        staff = [g for g in posters if groups.get(g, {}).get("kind") in ("admin", "moderator", "bot")]
        others = [g for g in posters if g not in staff]
        gate: dict[str, Any] = {"hidden": hidden}
        note = f"+{len(users_ok[fid])} users individually" if users_ok.get(fid) else None
        if others and all(g in auto for g in others):
            gate["min_posts"] = min(auto[g] for g in others)
            gate["rule"] = access_rule(min_posts=gate["min_posts"], note=(
                f"Auto Groups {', '.join(others)}" + (f"; {note}" if note else "")))
        elif posters:
            gate["groups"] = posters
            gate["rule"] = access_rule(group_ids=posters, note=note)
        else:
            gate["rule"] = "nobody may post" + (f" ({note})" if note else "")
        out[fid] = gate
    return out


def _num(v: str) -> tuple[int, str]:
    return (int(v), v) if v.isdigit() else (1 << 62, v)


def map_tables(con: duckdb.DuckDBPyConnection, ctx: MapContext) -> dict[str, Any]:
    out: dict[str, Any] = {}
    cfg = _config(con, ctx)
    name = ctx.forum_name or cfg.get("sitename") or ctx.forum_id
    out["forums"] = pa.table({
        "id": [ctx.forum_id], "name": [name], "platform": ["phpbb"],
        "description": [cfg.get("site_desc") or None],
        "created_at": [int(cfg["board_startdate"]) if cfg.get("board_startdate", "").isdigit() else None],
        "language": [(cfg.get("default_lang") or "")[:2] or None],
    })
    groups = _groups(con, ctx)
    c = ctx.col

    # ------------------------------------------------------------ boards
    if ctx.has("forums", "forum_id"):
        gates = _gates(con, ctx, groups)
        rows = con.execute(
            f"SELECT forum_id, fs_id({c('forums', 'parent_id')}), fs_html({c('forums', 'forum_name')}), "
            f"fs_text({c('forums', 'forum_desc')}, 'phpbb'), fs_int({c('forums', 'left_id')}), "
            f"{c('forums', 'forum_type')}, {c('forums', 'forum_status')}, _offset FROM forums").fetchall()
        cols: dict[str, list] = defaultdict(list)
        for fid, parent, fname, desc, left, ftype, status, off in rows:
            g = gates.get(str(fid), {})
            if status == "1":  # locked forum: nobody may post any more (a takedown, an archive)
                g = dict(g, rule="; ".join(x for x in (g.get("rule"), "closed for posting") if x))
            cols["id"].append(fid)
            cols["parent_id"].append(parent)
            cols["name"].append(fname)
            cols["description"].append(desc)
            cols["position"].append(left)
            cols["is_hidden"].append(g.get("hidden", False))
            cols["min_posts"].append(g.get("min_posts"))
            cols["required_group_ids"].append("|".join(g["groups"]) if g.get("groups") else None)
            cols["access_rule"].append(g.get("rule"))
            cols["_offset"].append(off)
        out["boards"] = pa.table(dict(cols)) if cols else None
        ctx.facts["gated_boards"] = {k: v for k, v in gates.items() if v.get("rule")}

    # ------------------------------------------------------------ ranks
    if ctx.has("ranks", "rank_id"):
        out["ranks"] = (
            f"SELECT rank_id AS id, fs_html({c('ranks', 'rank_title')}) AS name, "
            f"CASE WHEN fs_bool({c('ranks', 'rank_special')}) THEN NULL ELSE "
            f"dense_rank() OVER (PARTITION BY fs_bool({c('ranks', 'rank_special')}) ORDER BY fs_int({c('ranks', 'rank_min')})) - 1 "
            f"END AS position, "
            f"CASE WHEN fs_bool({c('ranks', 'rank_special')}) THEN NULL ELSE fs_int({c('ranks', 'rank_min')}) END AS min_posts, "
            f"coalesce(fs_bool({c('ranks', 'rank_special')}), false) AS is_special, _offset FROM ranks")

    # ------------------------------------------------------------ users
    if ctx.has("users", "user_id"):
        auto_rank = ""
        if ctx.has("ranks", "rank_min") and ctx.has("users", "user_posts"):
            auto_rank = ("LEFT JOIN (SELECT u.user_id AS uid, arg_max(r.rank_id, fs_int(r.rank_min)) AS auto_rank FROM users u "
                         "JOIN ranks r ON NOT coalesce(fs_bool(r.rank_special), false) AND fs_int(r.rank_min) <= "
                         "fs_int(u.user_posts) GROUP BY 1) ar ON ar.uid = users.user_id")
        bot_group = [g for g, v in groups.items() if v["name"] == "BOTS"]
        loc = ("LEFT JOIN profile_fields_data pf ON pf.user_id = users.user_id"
               if ctx.has("profile_fields_data", "pf_phpbb_location") else "")
        location = ("fs_nz(fs_html(pf.pf_phpbb_location))" if loc else
                    f"fs_nz(fs_html({c('users', 'user_from', 'NULL', 'users')}))")
        last_seen = (f"greatest(fs_epoch({c('users', 'user_lastvisit', 'NULL', 'users')}), "
                     f"fs_epoch({c('users', 'user_last_active', 'NULL', 'users')}))")
        rank = (f"CASE WHEN fs_id({c('users', 'user_rank', 'NULL', 'users')}) IS NOT NULL THEN "
                f"fs_id({c('users', 'user_rank', 'NULL', 'users')}) "
                f"WHEN {c('users', 'user_type', 'NULL', 'users')} = '2' THEN NULL "
                f"ELSE {'ar.auto_rank' if auto_rank else 'NULL'} END")
        is_bot = (f"({c('users', 'user_type', 'NULL', 'users')} = '2'"
                  + (f" OR {c('users', 'group_id', 'NULL', 'users')} IN ({', '.join(repr(g) for g in bot_group)})"
                     if bot_group else "") + ")")
        out["users"] = (
            f"SELECT users.user_id AS id, fs_html({c('users', 'username', 'NULL', 'users')}) AS name, "
            f"fs_epoch({c('users', 'user_regdate', 'NULL', 'users')}) AS registered_at, {last_seen} AS last_seen_at, "
            f"fs_int({c('users', 'user_posts', 'NULL', 'users')}) AS post_count_reported, {rank} AS rank_id, "
            f"{location} AS location, fs_nz({c('users', 'user_timezone', 'NULL', 'users')}) AS timezone_declared, "
            f"fs_nz({c('users', 'user_lang', 'NULL', 'users')}) AS language, "
            f"fs_text(fs_nz({c('users', 'user_sig', 'NULL', 'users')}), 'phpbb') AS profile_text, "
            f"coalesce({is_bot}, false) AS is_bot, users._offset FROM users {auto_rank} {loc}")

    # ------------------------------------------------------------ groups, memberships
    if groups:
        out["groups"] = (f"SELECT group_id AS id, fs_html({c('groups', 'group_name')}) AS name, "
                         f"fs_text({c('groups', 'group_desc')}, 'phpbb') AS description, _offset FROM groups")
        kinds = pa.table({"gid": list(groups), "kind": [v["kind"] for v in groups.values()]})
        arrow_to_table(con, "_phpbb_group_kinds", kinds)
        out["groups"] = ("SELECT g.*, k.kind FROM (" + out["groups"] + ") g LEFT JOIN _phpbb_group_kinds k ON "
                         "k.gid = g.id")
    if ctx.has("user_group", "user_id", "group_id"):
        primary = ("LEFT JOIN users u ON u.user_id = m.user_id" if ctx.has("users", "group_id") else "")
        out["memberships"] = (
            "SELECT m.user_id, m.group_id, " + ("(u.group_id = m.group_id)" if primary else "NULL") + " AS is_primary, "
            f"m._offset FROM user_group m {primary} WHERE NOT coalesce(fs_bool({c('user_group', 'user_pending', 'NULL', 'm')}), false)")

    # ------------------------------------------------------------ threads
    if ctx.has("topics", "topic_id"):
        replies = (f"fs_int({c('topics', 'topic_posts_approved')}) - 1" if ctx.has("topics", "topic_posts_approved")
                   else f"fs_int({c('topics', 'topic_replies')})")
        moved = f"WHERE fs_id({c('topics', 'topic_moved_id')}) IS NULL" if ctx.has("topics", "topic_moved_id") else ""
        out["threads"] = (
            f"SELECT topic_id AS id, fs_id({c('topics', 'forum_id')}) AS board_id, "
            f"fs_html({c('topics', 'topic_title')}) AS title, fs_id({c('topics', 'topic_poster')}) AS author_id, "
            f"fs_epoch({c('topics', 'topic_time')}) AS created_at, "
            f"fs_id({c('topics', 'topic_first_post_id')}) AS first_post_id, "
            f"{c('topics', 'topic_status')} = '1' AS is_locked, {c('topics', 'topic_type')} IN ('1', '2', '3') AS is_sticky, "
            f"fs_int({c('topics', 'topic_views')}) AS view_count, {replies} AS reply_count_reported, _offset "
            f"FROM topics {moved}")

    # ------------------------------------------------------------ posts, quotes, mentions
    if ctx.has("posts", "post_id"):
        # keyed by rowid: two rows with the same post_id (duplicate keys) keep their own text
        convert_markup(con, ctx, f"SELECT rowid AS id, {c('posts', 'post_text')} AS raw FROM posts", "phpbb")
        con.execute("CREATE OR REPLACE TABLE _names AS SELECT min(user_id) AS user_id, lower(fs_html(username)) AS name "
                    "FROM users GROUP BY 2" if ctx.has("users", "username") else
                    "CREATE OR REPLACE TABLE _names (user_id VARCHAR, name VARCHAR)")
        # the first quote of a post that names a post of the same topic is its explicit parent
        con.execute(
            "CREATE OR REPLACE TABLE _quote_parent AS SELECT r.id, arg_min(r.target_post_id, r.rn) AS parent_id FROM "
            "(SELECT *, row_number() OVER (PARTITION BY id) AS rn FROM _markup_refs WHERE kind = 'quote' "
            "AND target_post_id IS NOT NULL) r JOIN posts p ON CAST(p.rowid AS VARCHAR) = r.id JOIN posts q ON "
            "q.post_id = r.target_post_id AND q.topic_id = p.topic_id AND r.target_post_id <> p.post_id GROUP BY r.id")
        anonymous = f"CASE WHEN fs_id({c('posts', 'poster_id', 'NULL', 'p')}) = '{ANONYMOUS}' THEN NULL ELSE fs_id({c('posts', 'poster_id', 'NULL', 'p')}) END"
        deleted = (f"{c('posts', 'post_visibility', 'NULL', 'p')} IN ('2')" if ctx.has("posts", "post_visibility")
                   else f"{c('posts', 'post_approved', 'NULL', 'p')} = '0'" if ctx.has("posts", "post_approved") else "NULL")
        out["posts"] = (
            f"SELECT p.post_id AS id, fs_id(p.topic_id) AS thread_id, fs_id({c('posts', 'forum_id', 'NULL', 'p')}) AS board_id, "
            f"{anonymous} AS author_id, fs_nz(fs_html({c('posts', 'post_username', 'NULL', 'p')})) AS author_name, "
            f"fs_epoch({c('posts', 'post_time', 'NULL', 'p')}) AS created_at, "
            f"fs_epoch({c('posts', 'post_edit_time', 'NULL', 'p')}) AS edited_at, qp.parent_id, "
            f"fs_nz(fs_html({c('posts', 'post_subject', 'NULL', 'p')})) AS title, m.text, "
            f"{c('posts', 'post_text', 'NULL', 'p')} AS raw, 'bbcode' AS format, 'post' AS kind, "
            f"coalesce({deleted}, false) AS is_deleted, p._offset "
            f"FROM posts p LEFT JOIN _markup m ON m.id = CAST(p.rowid AS VARCHAR) "
            f"LEFT JOIN _quote_parent qp ON qp.id = CAST(p.rowid AS VARCHAR)")
        out["interactions"] = _refs_sql(ctx)
    if ctx.has("thanks", "post_id", "user_id"):
        thanks = (f"SELECT 'thanks:' || post_id || ':' || user_id AS id, 'thanks' AS kind, fs_id(user_id) AS source_user_id, "
                  f"fs_id({c('thanks', 'poster_id')}) AS target_user_id, fs_id(post_id) AS target_post_id, "
                  f"fs_epoch({c('thanks', 'thanks_time')}) AS created_at, 1.0 AS value, _offset FROM thanks")
        add_interactions(out, thanks)

    # ------------------------------------------------------------ private messages
    if ctx.has("privmsgs", "msg_id"):
        recip = ("(SELECT msg_id AS mid, string_agg(DISTINCT user_id, '|' ORDER BY user_id) AS rcpt FROM privmsgs_to t "
                 "WHERE t.user_id <> t.author_id GROUP BY 1)" if ctx.has("privmsgs_to", "msg_id", "user_id", "author_id")
                 else None)
        to_addr = (f"fs_idlist(regexp_replace({c('privmsgs', 'to_address', 'NULL', 'pm')}, 'u_([0-9]+)|g_[0-9]+', '\\1', 'g'))")
        text = (f"fs_text({c('privmsgs', 'message_text', 'NULL', 'pm')}, 'phpbb')" if ctx.store_pm_text else "NULL")
        subject = f"fs_html({c('privmsgs', 'message_subject', 'NULL', 'pm')})"
        out["private_messages"] = (
            f"SELECT pm.msg_id AS id, fs_id({c('privmsgs', 'author_id', 'NULL', 'pm')}) AS sender_id, "
            f"{'coalesce(r.rcpt, ' + to_addr + ')' if recip else to_addr} AS recipient_ids, "
            f"fs_epoch({c('privmsgs', 'message_time', 'NULL', 'pm')}) AS sent_at, {subject} AS subject, {text} AS text, "
            f"coalesce(fs_id({c('privmsgs', 'root_level', 'NULL', 'pm')}), pm.msg_id) AS conversation_id, pm._offset "
            f"FROM privmsgs pm {'LEFT JOIN ' + recip + ' r ON r.mid = pm.msg_id' if recip else ''}")
        add_pm_links(ctx, out)

    # ------------------------------------------------------------ attachments (records only)
    if ctx.has("attachments", "attach_id"):
        in_msg = c("attachments", "in_message")
        out["attachments"] = (
            f"SELECT attach_id AS id, CASE WHEN coalesce({in_msg}, '0') = '0' THEN fs_id({c('attachments', 'post_msg_id')}) END "
            f"AS post_id, fs_id({c('attachments', 'poster_id')}) AS user_id, fs_html({c('attachments', 'real_filename')}) AS file_name, "
            f"fs_int({c('attachments', 'filesize')}) AS size_bytes, coalesce(fs_nz({c('attachments', 'mimetype')}), "
            f"fs_nz({c('attachments', 'extension')})) AS declared_type, fs_int({c('attachments', 'download_count')}) AS download_count, "
            f"fs_epoch({c('attachments', 'filetime')}) AS created_at, _offset FROM attachments")

    # ------------------------------------------------------------ contact pseudonyms
    if ctx.store_contacts:
        out["contacts"] = _contacts_sql(ctx)
    return {k: v for k, v in out.items() if v is not None}


def _refs_sql(ctx: MapContext) -> str:
    """Quote and mention interactions from the converted post text."""
    c = ctx.col
    author = f"CASE WHEN fs_id({c('posts', 'poster_id', 'NULL', 'p')}) = '{ANONYMOUS}' THEN NULL ELSE fs_id({c('posts', 'poster_id', 'NULL', 'p')}) END"
    return (
        "SELECT r.kind || ':' || p.post_id || CASE WHEN r.n > 1 THEN ':' || r.n ELSE '' END AS id, r.kind, "
        f"{author} AS source_user_id, coalesce(r.target_user_id, nm.user_id) AS target_user_id, p.post_id AS post_id, "
        "CASE WHEN r.kind = 'quote' THEN r.target_post_id END AS target_post_id, "
        f"fs_epoch({c('posts', 'post_time', 'NULL', 'p')}) AS created_at, "
        "CASE WHEN r.target_name IS NOT NULL AND r.target_user_id IS NULL AND nm.user_id IS NULL THEN 'unresolved name' END AS detail, "
        "p._offset FROM (SELECT *, row_number() OVER (PARTITION BY id, kind) AS n FROM _markup_refs "
        "WHERE kind IN ('quote', 'mention')) r JOIN posts p ON CAST(p.rowid AS VARCHAR) = r.id "
        "LEFT JOIN _names nm ON nm.name = lower(r.target_name)")


def _contacts_sql(ctx: MapContext) -> str | None:
    """Per member, kind and pseudonym: first/last seen and how many records carry it."""
    parts = []
    c = ctx.col
    if ctx.has("users", "user_email"):
        parts.append(f"SELECT user_id AS uid, 'email' AS kind, user_email AS p, fs_epoch({c('users', 'user_regdate')}) AS t FROM users")
    if ctx.has("users", "user_ip"):
        parts.append(f"SELECT user_id, 'ip', user_ip, fs_epoch({c('users', 'user_regdate')}) FROM users")
    if ctx.has("posts", "poster_ip"):
        parts.append(f"SELECT poster_id, 'ip', poster_ip, fs_epoch({c('posts', 'post_time')}) FROM posts")
    if ctx.has("privmsgs", "author_ip"):
        parts.append(f"SELECT author_id, 'ip', author_ip, fs_epoch({c('privmsgs', 'message_time')}) FROM privmsgs")
    return contacts_sql(parts)
