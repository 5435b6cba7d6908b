"""MyBB 1.8 mapped to the canonical model. Tables, columns and where they land: docs/engines/mybb.md.

Ranks are MyBB's user titles (``usertitles``: post thresholds) plus the user titles of groups that have
one (staff: special ranks ``g<gid>``). Declared gates come from ``forumpermissions`` (per forum and
group, falling back to the group's own ``canpostreplys``/``canpostthreads``): a forum where Registered
(group 2) may not post is gated, by a post count when every non-staff group allowed is the target of an
enabled post-count promotion (``promotions``), else by group. Posts carry an explicit parent
(``posts.replyto``). Reputation (``reputation``) becomes ``reputation`` interactions with their points.
Private messages are read from the recipients' inbox copies (folder 1).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import duckdb
import pyarrow as pa

from forumscope.engines.base import (EngineSpec, MapContext, access_rule, add_pm_links, arrow_to_table, contacts_sql,
                                    convert_markup, group_kind)

ENGINE = EngineSpec(
    name="mybb",
    title="MyBB 1.8",
    dialect="mysql",
    prefixes=("mybb_", ""),
    markup="bbcode",
    known_tables={
        "settings": ["name", "value"],
        "forums": ["fid", "name", "description", "type", "pid", "disporder", "active", "open", "linkto"],
        "forumpermissions": ["fid", "gid", "canview", "canviewthreads", "canpostthreads", "canpostreplys"],
        "usergroups": ["gid", "type", "title", "description", "usertitle", "canview", "canpostthreads",
                       "canpostreplys", "cancp", "issupermod", "canmodcp", "isbannedgroup"],
        "usertitles": ["utid", "posts", "title"],
        "promotions": ["pid", "title", "enabled", "posts", "posttype", "requirements", "newusergroup", "usergrouptype"],
        "users": ["uid", "username", "email", "postnum", "usergroup", "additionalgroups", "displaygroup", "usertitle",
                  "regdate", "lastactive", "lastvisit", "timezone", "language", "signature", "reputation", "regip",
                  "lastip"],
        "threads": ["tid", "fid", "subject", "uid", "dateline", "firstpost", "views", "replies", "closed", "sticky",
                    "visible"],
        "posts": ["pid", "tid", "replyto", "fid", "subject", "uid", "username", "dateline", "message", "ipaddress",
                  "edittime", "visible"],
        "reputation": ["rid", "uid", "adduid", "pid", "reputation", "dateline"],
        "privatemessages": ["pmid", "uid", "toid", "fromid", "folder", "subject", "message", "dateline", "ipaddress"],
        "attachments": ["aid", "pid", "uid", "filename", "filetype", "filesize", "downloads", "dateuploaded", "visible"],
        "thankyoulike_thankyoulike": ["tlid", "pid", "uid", "puid", "dateline"],
    },
    signature_tables=["forums", "forumpermissions", "usergroups", "usertitles", "threads", "posts", "users"],
    required_tables=["posts"],
    never_stored={
        "sessions": "sessions: never read",
        "adminsessions": "admin sessions: never read",
        "captcha": "captcha data: never read",
        "awaitingactivation": "activation codes: never read",
        "mailqueue": "mail queue (addresses): never read",
        "maillogs": "mail logs (addresses): never read",
        "searchlog": "search log (IPs): never read",
    },
    contact_columns={
        "users": {"email": "email", "regip": "ip", "lastip": "ip"},
        "posts": {"ipaddress": "ip"},
        "privatemessages": {"ipaddress": "ip"},
    },
    optional_columns={"forums": ["linkto"], "usergroups": ["issupermod", "canmodcp", "isbannedgroup"]},
    targets={"forums": "boards", "threads": "threads", "privatemessages": "private_messages",
             "reputation": "interactions", "thankyoulike_thankyoulike": "interactions"},
    description="MyBB 1.8 (MySQL/MariaDB or PostgreSQL dumps), with the Thank You/Like plugin table when present.",
)

STAFF_GIDS = {"3": "moderator", "4": "admin", "6": "moderator"}
REGISTERED = "2"


def _groups(con: duckdb.DuckDBPyConnection, ctx: MapContext) -> dict[str, dict[str, Any]]:
    if not ctx.has("usergroups", "gid"):
        return {}
    c = ctx.col
    out = {}
    for gid, title, cp, smod, mcp, banned, reply, thread in con.execute(
            f"SELECT gid, {c('usergroups', 'title')}, {c('usergroups', 'cancp')}, {c('usergroups', 'issupermod')}, "
            f"{c('usergroups', 'canmodcp')}, {c('usergroups', 'isbannedgroup')}, {c('usergroups', 'canpostreplys')}, "
            f"{c('usergroups', 'canpostthreads')} FROM usergroups").fetchall():
        gid = str(gid)
        kind = ("admin" if cp == "1" else "moderator" if smod == "1" or mcp == "1" else "banned" if banned == "1"
                else STAFF_GIDS.get(gid) or group_kind(title))
        if gid == "1":
            kind = "other"  # guests
        out[gid] = {"name": title, "kind": kind, "reply": reply == "1", "thread": thread == "1"}
    return out


def _gates(con: duckdb.DuckDBPyConnection, ctx: MapContext, groups: dict[str, dict]) -> dict[str, dict]:
    perms: dict[str, dict[str, bool]] = defaultdict(dict)
    if ctx.has("forumpermissions", "fid", "gid", "canpostreplys"):
        for fid, gid, reply in con.execute("SELECT fid, gid, canpostreplys FROM forumpermissions").fetchall():
            perms[str(fid)][str(gid)] = reply == "1"
    promo: dict[str, int] = {}
    if ctx.has("promotions", "newusergroup", "posts"):
        c = ctx.col
        for gid, posts, ptype, req, enabled in con.execute(
                f"SELECT newusergroup, fs_int(posts), {c('promotions', 'posttype')}, {c('promotions', 'requirements')}, "
                f"{c('promotions', 'enabled')} FROM promotions").fetchall():
            if enabled == "0" or posts is None or (req and "postcount" not in req):
                continue
            mn = posts + 1 if ptype == ">" else posts
            promo[str(gid)] = min(mn, promo.get(str(gid), mn))
    out: dict[str, dict] = {}
    for fid, over in perms.items():
        may = {g for g, v in groups.items() if over.get(g, v["reply"])}
        if REGISTERED in may or REGISTERED not in groups:
            continue
        posters = sorted(may - {"1"}, key=_num)
        others = [g for g in posters if groups[g]["kind"] not in ("admin", "moderator")]
        if others and all(g in promo for g in others):
            mn = min(promo[g] for g in others)
            out[fid] = {"min_posts": mn, "rule": access_rule(min_posts=mn, note="promotion to group " + ",".join(others))}
        else:
            out[fid] = {"groups": posters, "rule": access_rule(group_ids=posters)}
    if ctx.has("forumpermissions", "canview"):
        for fid, gid, view in con.execute("SELECT fid, gid, canview FROM forumpermissions").fetchall():
            if str(gid) == REGISTERED and view == "0":
                out.setdefault(str(fid), {})["hidden"] = True
    return out


def _num(v: str) -> tuple[int, str]:
    try:
        return int(v), v
    except ValueError:
        return 1 << 62, v


def map_tables(con: duckdb.DuckDBPyConnection, ctx: MapContext) -> dict[str, Any]:
    out: dict[str, Any] = {}
    c = ctx.col
    settings = dict(con.execute("SELECT name, value FROM settings").fetchall()) if ctx.has("settings", "name", "value") else {}
    out["forums"] = pa.table({"id": [ctx.forum_id], "name": [ctx.forum_name or settings.get("bbname") or ctx.forum_id],
                              "platform": ["mybb"], "url": [settings.get("bburl") or None]})
    groups = _groups(con, ctx)

    if ctx.has("forums", "fid"):
        gates = _gates(con, ctx, groups)
        cols: dict[str, list] = defaultdict(list)
        for fid, pid, name, desc, order, is_open, off in con.execute(
                f"SELECT fid, fs_id({c('forums', 'pid')}), {c('forums', 'name')}, "
                f"fs_text({c('forums', 'description')}, 'bbcode'), fs_int({c('forums', 'disporder')}), "
                f"{c('forums', 'open')}, _offset FROM forums "
                f"WHERE coalesce(fs_nz({c('forums', 'linkto')}), '') = ''").fetchall():
            g = gates.get(str(fid), {})
            if is_open == "0":  # closed forum: nobody may post any more
                g = dict(g, rule="; ".join(x for x in (g.get("rule"), "closed for posting") if x))
            for k, v in (("id", fid), ("parent_id", pid), ("name", name), ("description", desc), ("position", order),
                         ("is_hidden", g.get("hidden", False)), ("min_posts", g.get("min_posts")),
                         ("required_group_ids", "|".join(g["groups"]) if g.get("groups") else None),
                         ("access_rule", g.get("rule")), ("_offset", off)):
                cols[k].append(v)
        out["boards"] = pa.table(dict(cols))
        ctx.facts["gated_boards"] = {k: v for k, v in gates.items() if v.get("rule")}

    # ------------------------------------------------------------ ranks: user titles + group titles
    title_groups = []
    if groups:
        arrow_to_table(con, "_mybb_groups", pa.table({"gid": list(groups), "kind": [v["kind"] for v in groups.values()]}))
        out["groups"] = (f"SELECT g.gid AS id, g.{c('usergroups', 'title')} AS name, k.kind, "
                         f"fs_nz({c('usergroups', 'description', 'NULL', 'g')}) AS description, g._offset "
                         f"FROM usergroups g JOIN _mybb_groups k ON k.gid = g.gid")
        if ctx.has("usergroups", "usertitle"):
            title_groups = [r[0] for r in con.execute("SELECT gid FROM usergroups WHERE fs_nz(usertitle) IS NOT NULL").fetchall()]
    rank_parts = []
    if ctx.has("usertitles", "utid", "posts"):
        rank_parts.append(f"SELECT utid AS id, {c('usertitles', 'title')} AS name, dense_rank() OVER (ORDER BY fs_int(posts)) - 1 "
                          f"AS position, fs_int(posts) AS min_posts, false AS is_special, _offset FROM usertitles")
    if title_groups:
        rank_parts.append("SELECT 'g' || gid, usertitle, NULL, NULL, true, _offset FROM usergroups "
                          "WHERE fs_nz(usertitle) IS NOT NULL")
    if rank_parts:
        out["ranks"] = " UNION ALL ".join(rank_parts)

    if ctx.has("users", "uid"):
        grp = f"coalesce(fs_id({c('users', 'displaygroup', 'NULL', 'u')}), fs_id({c('users', 'usergroup', 'NULL', 'u')}))"
        auto = ("(SELECT arg_max(t.utid, fs_int(t.posts)) FROM usertitles t WHERE fs_int(t.posts) <= fs_int(u.postnum))"
                if ctx.has("usertitles", "utid", "posts") and ctx.has("users", "postnum") else "NULL")
        special = (f"CASE WHEN {grp} IN ({', '.join(repr(g) for g in title_groups)}) THEN 'g' || {grp} END"
                   if title_groups else "NULL")
        tz = c("users", "timezone", "NULL", "u")
        out["users"] = (
            f"SELECT u.uid AS id, {c('users', 'username', 'NULL', 'u')} AS name, "
            f"fs_epoch({c('users', 'regdate', 'NULL', 'u')}) AS registered_at, "
            f"greatest(fs_epoch({c('users', 'lastactive', 'NULL', 'u')}), fs_epoch({c('users', 'lastvisit', 'NULL', 'u')})) AS last_seen_at, "
            f"fs_int({c('users', 'postnum', 'NULL', 'u')}) AS post_count_reported, "
            f"fs_int({c('users', 'reputation', 'NULL', 'u')}) AS reputation, coalesce({special}, {auto}) AS rank_id, "
            f"fs_nz({c('users', 'usertitle', 'NULL', 'u')}) AS title, "
            f"CASE WHEN fs_nz({tz}) IS NULL THEN NULL WHEN {tz} = '0' THEN 'UTC' WHEN TRY_CAST({tz} AS DOUBLE) > 0 "
            f"THEN 'UTC+' || {tz} ELSE 'UTC' || {tz} END AS timezone_declared, "
            f"fs_nz({c('users', 'language', 'NULL', 'u')}) AS language, "
            f"fs_text(fs_nz({c('users', 'signature', 'NULL', 'u')}), 'bbcode') AS profile_text, "
            f"coalesce(fs_id({c('users', 'usergroup', 'NULL', 'u')}) IN (SELECT gid FROM _mybb_groups WHERE kind = 'bot'), false) AS is_bot, "
            f"u._offset FROM users u" if groups else
            f"SELECT u.uid AS id, {c('users', 'username', 'NULL', 'u')} AS name, fs_epoch({c('users', 'regdate', 'NULL', 'u')}) "
            f"AS registered_at, fs_int({c('users', 'postnum', 'NULL', 'u')}) AS post_count_reported, u._offset FROM users u")
        parts = []
        if ctx.has("users", "usergroup"):
            parts.append("SELECT uid AS user_id, fs_id(usergroup) AS group_id, true AS is_primary, _offset FROM users")
        if ctx.has("users", "additionalgroups"):
            parts.append("SELECT uid, trim(g), false, _offset FROM users, unnest(string_split(coalesce(additionalgroups, ''), ','))"
                         " AS t(g) WHERE trim(g) <> ''")
        if parts:
            out["memberships"] = f"SELECT * FROM ({' UNION ALL '.join(parts)}) WHERE group_id IS NOT NULL"

    if ctx.has("threads", "tid"):
        closed = c("threads", "closed")
        out["threads"] = (
            f"SELECT tid AS id, fs_id({c('threads', 'fid')}) AS board_id, {c('threads', 'subject')} AS title, "
            f"fs_id({c('threads', 'uid')}) AS author_id, fs_epoch({c('threads', 'dateline')}) AS created_at, "
            f"fs_id({c('threads', 'firstpost')}) AS first_post_id, {closed} = '1' AS is_locked, "
            f"fs_bool({c('threads', 'sticky')}) AS is_sticky, fs_int({c('threads', 'views')}) AS view_count, "
            f"fs_int({c('threads', 'replies')}) AS reply_count_reported, _offset FROM threads "
            f"WHERE NOT starts_with(coalesce({closed}, ''), 'moved|')")

    if ctx.has("posts", "pid"):
        convert_markup(con, ctx, f"SELECT rowid AS id, {c('posts', 'message')} AS raw FROM posts", "bbcode")
        con.execute("CREATE OR REPLACE TABLE _names AS SELECT min(uid) AS user_id, lower(username) AS name FROM users GROUP BY 2"
                    if ctx.has("users", "username") else "CREATE OR REPLACE TABLE _names (user_id VARCHAR, name VARCHAR)")
        parent = (f"CASE WHEN fs_id({c('posts', 'replyto', 'NULL', 'p')}) IS NOT NULL AND {c('posts', 'replyto', 'NULL', 'p')} "
                  f"<> p.pid THEN {c('posts', 'replyto', 'NULL', 'p')} END")
        out["posts"] = (
            f"SELECT p.pid AS id, fs_id(p.tid) AS thread_id, fs_id({c('posts', 'fid', 'NULL', 'p')}) AS board_id, "
            f"fs_id({c('posts', 'uid', 'NULL', 'p')}) AS author_id, fs_nz({c('posts', 'username', 'NULL', 'p')}) AS author_name, "
            f"fs_epoch({c('posts', 'dateline', 'NULL', 'p')}) AS created_at, fs_epoch({c('posts', 'edittime', 'NULL', 'p')}) AS edited_at, "
            f"{parent} AS parent_id, fs_nz({c('posts', 'subject', 'NULL', 'p')}) AS title, m.text, "
            f"{c('posts', 'message', 'NULL', 'p')} AS raw, 'bbcode' AS format, 'post' AS kind, "
            f"coalesce({c('posts', 'visible', 'NULL', 'p')} = '-1', false) AS is_deleted, p._offset "
            f"FROM posts p LEFT JOIN _markup m ON m.id = CAST(p.rowid AS VARCHAR)")
        inter = [
            "SELECT r.kind || ':' || p.pid || CASE WHEN r.n > 1 THEN ':' || r.n ELSE '' END AS id, r.kind, "
            "fs_id(p.uid) AS source_user_id, coalesce(r.target_user_id, nm.user_id) AS target_user_id, p.pid AS post_id, "
            "CASE WHEN r.kind = 'quote' THEN r.target_post_id END AS target_post_id, fs_epoch(p.dateline) AS created_at, "
            "NULL::DOUBLE AS value, p._offset FROM (SELECT *, row_number() OVER (PARTITION BY id, kind) AS n FROM _markup_refs "
            "WHERE kind IN ('quote', 'mention')) r JOIN posts p ON CAST(p.rowid AS VARCHAR) = r.id LEFT JOIN _names nm ON nm.name = lower(r.target_name)"]
        if ctx.has("reputation", "rid", "uid", "adduid"):
            inter.append(
                f"SELECT 'reputation:' || rid, 'reputation', fs_id(adduid), fs_id(uid), NULL, fs_id({c('reputation', 'pid')}), "
                f"fs_epoch({c('reputation', 'dateline')}), TRY_CAST({c('reputation', 'reputation')} AS DOUBLE), _offset FROM reputation")
        if ctx.has("thankyoulike_thankyoulike", "pid", "uid"):
            inter.append(
                f"SELECT 'thanks:' || pid || ':' || uid, 'thanks', fs_id(uid), fs_id({c('thankyoulike_thankyoulike', 'puid')}), NULL, "
                f"fs_id(pid), fs_epoch({c('thankyoulike_thankyoulike', 'dateline')}), 1.0, _offset FROM thankyoulike_thankyoulike")
        out["interactions"] = " UNION ALL ".join(inter)

    if ctx.has("privatemessages", "pmid"):
        text = f"fs_text({c('privatemessages', 'message')}, 'bbcode')" if ctx.store_pm_text else "NULL"
        subject = c("privatemessages", "subject")
        inbox = (f"WHERE coalesce({c('privatemessages', 'folder')}, '1') = '1' AND "
                 f"fs_id({c('privatemessages', 'uid')}) = fs_id({c('privatemessages', 'toid')})")
        out["private_messages"] = (
            f"SELECT pmid AS id, fs_id({c('privatemessages', 'fromid')}) AS sender_id, fs_id({c('privatemessages', 'toid')}) "
            f"AS recipient_ids, fs_epoch({c('privatemessages', 'dateline')}) AS sent_at, {subject} AS subject, {text} AS text, "
            f"_offset FROM privatemessages {inbox}")
        add_pm_links(ctx, out)  # one recipient per message here

    if ctx.has("attachments", "aid"):
        out["attachments"] = (
            f"SELECT aid AS id, fs_id({c('attachments', 'pid')}) AS post_id, fs_id({c('attachments', 'uid')}) AS user_id, "
            f"{c('attachments', 'filename')} AS file_name, fs_int({c('attachments', 'filesize')}) AS size_bytes, "
            f"fs_nz({c('attachments', 'filetype')}) AS declared_type, fs_int({c('attachments', 'downloads')}) AS download_count, "
            f"fs_epoch({c('attachments', 'dateuploaded')}) AS created_at, _offset FROM attachments")

    if ctx.store_contacts:
        parts = []
        if ctx.has("users", "email"):
            parts.append("SELECT uid AS uid, 'email' AS kind, email AS p, fs_epoch(regdate) AS t FROM users")
        for col, when in (("regip", "regdate"), ("lastip", "lastactive")):
            if ctx.has("users", col):
                parts.append(f"SELECT uid, 'ip', {col}, fs_epoch({ctx.col('users', when)}) FROM users")
        if ctx.has("posts", "ipaddress"):
            parts.append("SELECT uid, 'ip', ipaddress, fs_epoch(dateline) FROM posts")
        if parts:
            out["contacts"] = contacts_sql(parts)
    return out
