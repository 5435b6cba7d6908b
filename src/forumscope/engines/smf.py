"""Simple Machines Forum (SMF) 2.0 / 2.1 mapped to the canonical model. Tables, columns and where they
land: docs/engines/smf.md.

Ranks are SMF's post-count membergroups (``min_posts`` >= 0; a member's ``id_post_group``); other
membergroups are groups, and a member's primary group (``id_group``) is shown as their rank when set
(special ranks). Declared gates: a board's ``member_groups`` (who may see it; without group 0, regular
members, the board is hidden and gated: by a post count when every non-staff group allowed is a
post-count group, else by group) and the board's permission profile (``board_permissions``: who may
post; a profile where regular members may not reply gates posting to the groups that may).
SMF has no reply structure: ``posts.parent_id`` is the message a post quotes (``link=msg=N``).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import duckdb
import pyarrow as pa

from forumscope.engines.base import (EngineSpec, MapContext, access_rule, add_pm_links, arrow_to_table, contacts_sql,
                                    convert_markup, group_kind)

ENGINE = EngineSpec(
    name="smf",
    title="SMF 2.x",
    dialect="mysql",
    prefixes=("smf_", "smf2_", ""),
    markup="bbcode-escaped",
    known_tables={
        "settings": ["variable", "value"],
        "categories": ["id_cat", "cat_order", "name", "description"],
        "boards": ["id_board", "id_cat", "id_parent", "board_order", "member_groups", "id_profile", "name",
                   "description", "deny_member_groups", "redirect"],
        "board_permissions": ["id_group", "id_profile", "permission", "add_deny"],
        "topics": ["id_topic", "is_sticky", "id_board", "id_first_msg", "id_member_started", "num_replies",
                   "num_views", "locked", "approved", "id_redirect_topic"],
        "messages": ["id_msg", "id_topic", "id_board", "poster_time", "id_member", "subject", "poster_name",
                     "poster_email", "poster_ip", "modified_time", "body", "approved"],
        "members": ["id_member", "member_name", "real_name", "date_registered", "posts", "id_group", "id_post_group",
                    "additional_groups", "lngfile", "last_login", "email_address", "personal_text", "usertitle",
                    "member_ip", "member_ip2", "location", "timezone", "time_offset", "signature", "is_activated"],
        "membergroups": ["id_group", "group_name", "description", "min_posts", "group_type", "hidden"],
        "personal_messages": ["id_pm", "id_pm_head", "id_member_from", "from_name", "msgtime", "subject", "body"],
        "pm_recipients": ["id_pm", "id_member", "bcc"],
        "attachments": ["id_attach", "id_msg", "id_member", "attachment_type", "filename", "file_hash", "fileext",
                        "size", "downloads", "mime_type", "approved"],
        "user_likes": ["id_member", "content_type", "content_id", "like_time"],
        "log_karma": ["id_target", "id_executor", "log_time", "action"],
    },
    signature_tables=["boards", "board_permissions", "categories", "messages", "members", "membergroups", "topics"],
    required_tables=["messages"],
    never_stored={
        "sessions": "sessions: never read",
        "log_online": "who is online (IPs): never read",
        "log_floodcontrol": "flood control (IPs): never read",
        "log_errors": "error log (IPs, URLs): never read",
        "member_logins": "login log (IPs): never read",
    },
    contact_columns={
        "members": {"email_address": "email", "member_ip": "ip", "member_ip2": "ip"},
        "messages": {"poster_email": "email", "poster_ip": "ip"},
    },
    optional_columns={
        "boards": ["deny_member_groups", "redirect"], "categories": ["description"],
        "members": ["location", "timezone", "time_offset", "is_activated"], "topics": ["approved", "id_redirect_topic"],
        "messages": ["approved"],
    },
    targets={"topics": "threads", "boards": "boards", "messages": "posts", "members": "users",
             "personal_messages": "private_messages", "user_likes": "interactions", "log_karma": "interactions"},
    description="SMF 2.0 and 2.1 (MySQL/MariaDB or PostgreSQL dumps).",
)

STAFF = {"1": "admin", "2": "moderator", "3": "moderator"}
REGULAR, GUESTS, ADMIN = "0", "-1", "1"
POST_PERMS = ("post_reply_any", "post_new")


def _groups(con: duckdb.DuckDBPyConnection, ctx: MapContext) -> dict[str, dict[str, Any]]:
    if not ctx.has("membergroups", "id_group"):
        return {}
    out = {}
    for gid, name, mn in con.execute(
            f"SELECT id_group, fs_html({ctx.col('membergroups', 'group_name')}), "
            f"fs_int({ctx.col('membergroups', 'min_posts')}) FROM membergroups").fetchall():
        gid = str(gid)
        post = mn is not None and mn >= 0
        out[gid] = {"name": name, "min_posts": mn if post else None,
                    "kind": STAFF.get(gid) or ("other" if post else group_kind(name))}
    return out


def _ids(text: str | None) -> list[str]:
    return [t.strip() for t in (text or "").split(",") if t.strip()]


def _gates(con: duckdb.DuckDBPyConnection, ctx: MapContext, groups: dict[str, dict]) -> dict[str, dict]:
    posting: dict[str, set[str]] = defaultdict(set)  # profile -> groups that may post
    denied: dict[str, set[str]] = defaultdict(set)
    if ctx.has("board_permissions", "id_group", "id_profile", "permission"):
        for gid, prof, perm, add in con.execute(
                f"SELECT id_group, id_profile, permission, coalesce({ctx.col('board_permissions', 'add_deny')}, '1') "
                "FROM board_permissions").fetchall():
            if perm in POST_PERMS:
                (posting if add != "0" else denied)[str(prof)].add(str(gid))
    post_groups = {g: v["min_posts"] for g, v in groups.items() if v["min_posts"] is not None}
    out: dict[str, dict] = {}
    c = ctx.col
    for bid, mg, prof, deny in con.execute(
            f"SELECT id_board, {c('boards', 'member_groups')}, {c('boards', 'id_profile')}, "
            f"{c('boards', 'deny_member_groups')} FROM boards").fetchall():
        seen = set(_ids(mg)) - set(_ids(deny))
        gate: dict[str, Any] = {}
        if mg is not None and REGULAR not in seen:
            gate["hidden"] = True
            allowed = sorted(seen - {GUESTS}, key=_num)
            others = [g for g in allowed if groups.get(g, {}).get("kind") not in ("admin", "moderator")]
            if others and all(g in post_groups for g in others):
                mn = min(post_groups[g] for g in others)
                band = [g for g, m in post_groups.items() if m >= mn and g not in others]
                gate["min_posts"] = mn
                gate["rule"] = access_rule(min_posts=mn, note="post groups " + ",".join(others)
                                           + (f"; not all higher post groups listed ({','.join(band)})" if band else ""))
            else:
                allowed = sorted(set(allowed) | {ADMIN}, key=_num)
                gate["groups"] = allowed
                gate["rule"] = access_rule(group_ids=allowed)
        elif posting and prof is not None:
            may = posting.get(str(prof), set()) - denied.get(str(prof), set())
            if REGULAR not in may:
                allowed = sorted(may | {ADMIN}, key=_num)
                gate["groups"] = allowed
                gate["rule"] = access_rule(group_ids=allowed, note=f"permission profile {prof}")
        if gate:
            out[str(bid)] = gate
    return out


def _num(v: str) -> tuple[int, str]:
    try:
        return int(v), v
    except ValueError:
        return 1 << 62, v


def map_tables(con: duckdb.DuckDBPyConnection, ctx: MapContext) -> dict[str, Any]:
    out: dict[str, Any] = {}
    c = ctx.col
    _install_br(con)
    settings = dict(con.execute("SELECT variable, value FROM settings").fetchall()) if ctx.has(
        "settings", "variable", "value") else {}
    out["forums"] = pa.table({"id": [ctx.forum_id], "name": [ctx.forum_name or settings.get("mbname") or ctx.forum_id],
                              "platform": ["smf"]})
    groups = _groups(con, ctx)

    # ------------------------------------------------------------ boards (categories become parent boards)
    if ctx.has("boards", "id_board"):
        gates = _gates(con, ctx, groups)
        cols: dict[str, list] = defaultdict(list)
        if ctx.has("categories", "id_cat"):
            for cid, order, name, desc, off in con.execute(
                    f"SELECT id_cat, fs_int({c('categories', 'cat_order')}), fs_html({c('categories', 'name')}), "
                    f"fs_text({c('categories', 'description')}, 'bbcode'), _offset FROM categories").fetchall():
                for k, v in (("id", f"c{cid}"), ("parent_id", None), ("name", name), ("description", desc),
                             ("position", order), ("is_hidden", False), ("min_posts", None),
                             ("required_group_ids", None), ("access_rule", None), ("_offset", off)):
                    cols[k].append(v)
        for bid, cat, parent, order, name, desc, off in con.execute(
                f"SELECT id_board, {c('boards', 'id_cat')}, fs_id({c('boards', 'id_parent')}), "
                f"fs_int({c('boards', 'board_order')}), fs_html({c('boards', 'name')}), "
                f"fs_text({c('boards', 'description')}, 'bbcode-escaped'), _offset FROM boards").fetchall():
            g = gates.get(str(bid), {})
            for k, v in (("id", bid), ("parent_id", parent or (f"c{cat}" if cat not in (None, "0") else None)),
                         ("name", name), ("description", desc), ("position", order),
                         ("is_hidden", g.get("hidden", False)), ("min_posts", g.get("min_posts")),
                         ("required_group_ids", "|".join(g["groups"]) if g.get("groups") else None),
                         ("access_rule", g.get("rule")), ("_offset", off)):
                cols[k].append(v)
        out["boards"] = pa.table(dict(cols))
        ctx.facts["gated_boards"] = gates

    # ------------------------------------------------------------ ranks (post groups + special primary groups)
    if groups:
        kinds = pa.table({"gid": list(groups), "kind": [v["kind"] for v in groups.values()],
                          "is_post": [v["min_posts"] is not None for v in groups.values()]})
        arrow_to_table(con, "_smf_groups", kinds)
        # a member's primary group is shown as their rank only for staff groups; others show the post rank
        arrow_to_table(con, "_smf_staff", pa.table({"gid": [g for g, v in groups.items()
                                                             if v["kind"] in ("admin", "moderator")] or [None]},
                                                   schema=pa.schema([("gid", pa.string())])))
        primary_used = ("OR g.id_group IN (SELECT gid FROM _smf_staff WHERE gid IN (SELECT DISTINCT id_group FROM members))"
                        if ctx.has("members", "id_group") else "")
        out["ranks"] = (
            f"SELECT g.id_group AS id, fs_html(g.{c('membergroups', 'group_name')}) AS name, "
            f"CASE WHEN k.is_post THEN dense_rank() OVER (PARTITION BY k.is_post ORDER BY fs_int(g.min_posts)) - 1 END "
            f"AS position, CASE WHEN k.is_post THEN fs_int(g.min_posts) END AS min_posts, NOT k.is_post AS is_special, "
            f"g._offset FROM membergroups g JOIN _smf_groups k ON k.gid = g.id_group "
            f"WHERE k.is_post {primary_used}")
        out["groups"] = (
            f"SELECT g.id_group AS id, fs_html({c('membergroups', 'group_name', 'NULL', 'g')}) AS name, k.kind, "
            f"fs_nz(fs_html({c('membergroups', 'description', 'NULL', 'g')})) AS description, g._offset "
            f"FROM membergroups g JOIN _smf_groups k ON k.gid = g.id_group WHERE NOT k.is_post")

    # ------------------------------------------------------------ users, memberships
    if ctx.has("members", "id_member"):
        tz = (f"coalesce(fs_nz({c('members', 'timezone', 'NULL', 'm')}), CASE WHEN fs_nz({c('members', 'time_offset', 'NULL', 'm')}) "
              f"IS NOT NULL AND {c('members', 'time_offset', 'NULL', 'm')} NOT IN ('0', '0.0') THEN 'UTC' || "
              f"CASE WHEN TRY_CAST({c('members', 'time_offset', 'NULL', 'm')} AS DOUBLE) >= 0 THEN '+' ELSE '' END || "
              f"{c('members', 'time_offset', 'NULL', 'm')} END)")
        out["users"] = (
            f"SELECT m.id_member AS id, fs_html(coalesce(fs_nz({c('members', 'real_name', 'NULL', 'm')}), "
            f"{c('members', 'member_name', 'NULL', 'm')})) AS name, "
            f"fs_epoch({c('members', 'date_registered', 'NULL', 'm')}) AS registered_at, "
            f"fs_epoch({c('members', 'last_login', 'NULL', 'm')}) AS last_seen_at, "
            f"fs_int({c('members', 'posts', 'NULL', 'm')}) AS post_count_reported, "
            f"CASE WHEN {c('members', 'id_group', 'NULL', 'm')} IN (SELECT gid FROM _smf_staff) THEN "
            f"fs_id({c('members', 'id_group', 'NULL', 'm')}) ELSE fs_id({c('members', 'id_post_group', 'NULL', 'm')}) END AS rank_id, "
            f"fs_nz(fs_html({c('members', 'usertitle', 'NULL', 'm')})) AS title, "
            f"fs_nz(fs_html({c('members', 'location', 'NULL', 'm')})) AS location, {tz} AS timezone_declared, "
            f"fs_nz({c('members', 'lngfile', 'NULL', 'm')}) AS language, "
            f"fs_text(fs_html_br(fs_nz({c('members', 'signature', 'NULL', 'm')})), 'bbcode-escaped') AS profile_text, false AS is_bot, m._offset "
            f"FROM members m")
        parts = []
        if ctx.has("members", "id_group"):
            parts.append("SELECT id_member AS user_id, fs_id(id_group) AS group_id, true AS is_primary, _offset FROM members")
        if ctx.has("members", "additional_groups"):
            parts.append("SELECT id_member, trim(g), false, _offset FROM members, "
                         "unnest(string_split(coalesce(additional_groups, ''), ',')) AS t(g) WHERE trim(g) <> ''")
        if parts:
            keep = "WHERE group_id IS NOT NULL" + (" AND group_id IN (SELECT gid FROM _smf_groups WHERE NOT is_post)"
                                                   if groups else "")
            out["memberships"] = f"SELECT * FROM ({' UNION ALL '.join(parts)}) {keep}"

    # ------------------------------------------------------------ threads
    if ctx.has("topics", "id_topic"):
        redirect = (f"WHERE fs_id({c('topics', 'id_redirect_topic')}) IS NULL" if ctx.has("topics", "id_redirect_topic")
                    else "")
        out["threads"] = (
            f"SELECT t.id_topic AS id, fs_id({c('topics', 'id_board', 'NULL', 't')}) AS board_id, "
            f"fs_nz(fs_html(fm.subject)) AS title, fs_id({c('topics', 'id_member_started', 'NULL', 't')}) AS author_id, "
            f"fs_epoch(fm.poster_time) AS created_at, fs_id({c('topics', 'id_first_msg', 'NULL', 't')}) AS first_post_id, "
            f"fs_bool({c('topics', 'locked', 'NULL', 't')}) AS is_locked, fs_bool({c('topics', 'is_sticky', 'NULL', 't')}) AS is_sticky, "
            f"fs_int({c('topics', 'num_views', 'NULL', 't')}) AS view_count, "
            f"fs_int({c('topics', 'num_replies', 'NULL', 't')}) AS reply_count_reported, t._offset "
            f"FROM topics t LEFT JOIN messages fm ON fm.id_msg = t.id_first_msg {redirect}")

    # ------------------------------------------------------------ posts, quotes, mentions
    if ctx.has("messages", "id_msg"):
        convert_markup(con, ctx, f"SELECT rowid AS id, fs_html_br({c('messages', 'body')}) AS raw FROM messages",
                       "bbcode-escaped")
        con.execute("CREATE OR REPLACE TABLE _names AS SELECT min(id_member) AS user_id, lower(fs_html(coalesce("
                    "fs_nz(real_name), member_name))) AS name FROM members GROUP BY 2 UNION ALL SELECT min(id_member), "
                    "lower(fs_html(member_name)) FROM members GROUP BY 2"
                    if ctx.has("members", "member_name", "real_name") else
                    "CREATE OR REPLACE TABLE _names (user_id VARCHAR, name VARCHAR)")
        con.execute(
            "CREATE OR REPLACE TABLE _quote_parent AS SELECT r.id, arg_min(r.target_post_id, r.rn) AS parent_id FROM "
            "(SELECT *, row_number() OVER (PARTITION BY id) AS rn FROM _markup_refs WHERE kind = 'quote' "
            "AND target_post_id IS NOT NULL) r JOIN messages p ON CAST(p.rowid AS VARCHAR) = r.id JOIN messages q ON "
            "q.id_msg = r.target_post_id AND q.id_topic = p.id_topic AND r.target_post_id <> p.id_msg GROUP BY r.id")
        out["posts"] = (
            f"SELECT p.id_msg AS id, fs_id(p.id_topic) AS thread_id, fs_id({c('messages', 'id_board', 'NULL', 'p')}) AS board_id, "
            f"fs_id({c('messages', 'id_member', 'NULL', 'p')}) AS author_id, "
            f"fs_nz(fs_html({c('messages', 'poster_name', 'NULL', 'p')})) AS author_name, "
            f"fs_epoch({c('messages', 'poster_time', 'NULL', 'p')}) AS created_at, "
            f"fs_epoch({c('messages', 'modified_time', 'NULL', 'p')}) AS edited_at, qp.parent_id, "
            f"fs_nz(fs_html({c('messages', 'subject', 'NULL', 'p')})) AS title, m.text, "
            f"{c('messages', 'body', 'NULL', 'p')} AS raw, 'bbcode' AS format, 'post' AS kind, "
            f"coalesce({c('messages', 'approved', 'NULL', 'p')} = '0', false) AS is_deleted, p._offset "
            f"FROM messages p LEFT JOIN _markup m ON m.id = CAST(p.rowid AS VARCHAR) "
            f"LEFT JOIN _quote_parent qp ON qp.id = CAST(p.rowid AS VARCHAR)")
        inter = [
            "SELECT r.kind || ':' || p.id_msg || CASE WHEN r.n > 1 THEN ':' || r.n ELSE '' END AS id, r.kind, "
            "fs_id(p.id_member) AS source_user_id, coalesce(r.target_user_id, nm.user_id) AS target_user_id, "
            "p.id_msg AS post_id, CASE WHEN r.kind = 'quote' THEN r.target_post_id END AS target_post_id, "
            "fs_epoch(p.poster_time) AS created_at, p._offset FROM (SELECT *, row_number() OVER (PARTITION BY id, kind) AS n "
            "FROM _markup_refs WHERE kind IN ('quote', 'mention')) r JOIN messages p ON CAST(p.rowid AS VARCHAR) = r.id "
            "LEFT JOIN (SELECT name, min(user_id) AS user_id FROM _names GROUP BY 1) nm ON nm.name = lower(r.target_name)"]
        if ctx.has("user_likes", "content_id", "id_member"):
            inter.append(
                "SELECT 'thanks:' || l.content_id || ':' || l.id_member AS id, 'thanks' AS kind, fs_id(l.id_member) AS "
                "source_user_id, fs_id(p.id_member) AS target_user_id, NULL AS post_id, l.content_id AS target_post_id, "
                f"fs_epoch({c('user_likes', 'like_time', 'NULL', 'l')}) AS created_at, l._offset FROM user_likes l "
                "LEFT JOIN messages p ON p.id_msg = l.content_id "
                f"WHERE coalesce({c('user_likes', 'content_type', 'NULL', 'l')}, 'msg') = 'msg'")
        if ctx.has("log_karma", "id_target", "id_executor"):
            inter.append(
                "SELECT 'karma:' || id_target || ':' || id_executor AS id, 'reputation' AS kind, fs_id(id_executor) AS "
                "source_user_id, fs_id(id_target) AS target_user_id, NULL, NULL, fs_epoch(log_time), "
                "_offset FROM log_karma")
        out["interactions"] = " UNION ALL ".join(inter)
        if ctx.has("log_karma", "action"):
            out["interactions"] = (f"SELECT i.*, CASE WHEN i.kind = 'reputation' THEN TRY_CAST(k.action AS DOUBLE) "
                                   f"WHEN i.kind = 'thanks' THEN 1.0 END AS value FROM ({out['interactions']}) i "
                                   "LEFT JOIN log_karma k ON i.kind = 'reputation' AND i.id = 'karma:' || k.id_target "
                                   "|| ':' || k.id_executor")

    # ------------------------------------------------------------ private messages
    if ctx.has("personal_messages", "id_pm"):
        recip = ("LEFT JOIN (SELECT id_pm AS pid, string_agg(DISTINCT id_member, '|' ORDER BY id_member) AS rcpt "
                 "FROM pm_recipients GROUP BY 1) r ON r.pid = pm.id_pm" if ctx.has("pm_recipients", "id_pm", "id_member")
                 else "")
        text = f"fs_text(fs_html_br({c('personal_messages', 'body', 'NULL', 'pm')}), 'bbcode-escaped')" if ctx.store_pm_text else "NULL"
        subject = f"fs_html({c('personal_messages', 'subject', 'NULL', 'pm')})"
        out["private_messages"] = (
            f"SELECT pm.id_pm AS id, fs_id({c('personal_messages', 'id_member_from', 'NULL', 'pm')}) AS sender_id, "
            f"{'r.rcpt' if recip else 'NULL'} AS recipient_ids, "
            f"fs_epoch({c('personal_messages', 'msgtime', 'NULL', 'pm')}) AS sent_at, {subject} AS subject, {text} AS text, "
            f"coalesce(fs_id({c('personal_messages', 'id_pm_head', 'NULL', 'pm')}), pm.id_pm) AS conversation_id, pm._offset "
            f"FROM personal_messages pm {recip}")
        add_pm_links(ctx, out)

    # ------------------------------------------------------------ attachments (records only; not avatars/thumbnails)
    if ctx.has("attachments", "id_attach"):
        out["attachments"] = (
            f"SELECT id_attach AS id, fs_id({c('attachments', 'id_msg')}) AS post_id, "
            f"fs_id({c('attachments', 'id_member')}) AS user_id, fs_html({c('attachments', 'filename')}) AS file_name, "
            f"fs_int({c('attachments', 'size')}) AS size_bytes, coalesce(fs_nz({c('attachments', 'mime_type')}), "
            f"fs_nz({c('attachments', 'fileext')})) AS declared_type, fs_int({c('attachments', 'downloads')}) AS download_count, "
            f"CASE WHEN length({c('attachments', 'file_hash')}) = 40 THEN lower({c('attachments', 'file_hash')}) END AS sha1, "
            f"_offset FROM attachments WHERE coalesce({c('attachments', 'attachment_type')}, '0') = '0' "
            f"AND fs_id({c('attachments', 'id_msg')}) IS NOT NULL")

    if ctx.store_contacts:
        parts = []
        if ctx.has("members", "email_address"):
            parts.append("SELECT id_member AS uid, 'email' AS kind, email_address AS p, fs_epoch(date_registered) AS t FROM members")
        for col in ("member_ip", "member_ip2"):
            if ctx.has("members", col):
                parts.append(f"SELECT id_member, 'ip', {col}, fs_epoch(last_login) FROM members")
        if ctx.has("messages", "poster_ip"):
            parts.append("SELECT id_member, 'ip', poster_ip, fs_epoch(poster_time) FROM messages")
        if parts:
            out["contacts"] = contacts_sql(parts)
    return out


def _install_br(con: duckdb.DuckDBPyConnection) -> bool:
    """``fs_html_br(x)``: SMF stores line breaks as ``<br />`` in HTML-escaped BBCode; turn them into newlines."""
    con.execute("CREATE OR REPLACE MACRO fs_html_br(x) AS regexp_replace(x, '<br\\s*/?>', chr(10), 'gi')")
    return True
