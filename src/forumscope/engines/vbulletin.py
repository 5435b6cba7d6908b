"""vBulletin 3.x / 4.x databases (MySQL) mapped to the canonical model (docs/engines/vbulletin.md).

Tables and what they give:

- ``forum`` -> boards (``parentid``, ``displayorder``); ``forumpermission`` + ``usergroup`` (default
  permissions) + ``userpromotion`` -> declared gates: a board where the Registered Users group
  (usergroup 2) may view but not post is gated; the user groups that may post there are the
  required groups, unless one of them is reached by a post-count promotion (strategy 17), which
  makes the gate a post-count gate (``min_posts``; the other groups, staff mostly, are named in
  ``access_rule`` as exempt);
- ``usertitle`` -> the rank ladder (``minposts`` thresholds); a user group's ``usertitle`` (staff) ->
  a special rank; a user's rank is their display group's title when it has one, else the highest
  ladder step their ``posts`` reach;
- ``usergroup`` -> groups; ``user.usergroupid`` (primary) and ``membergroupids`` -> memberships;
- ``thread``, ``post`` (BBCode ``pagetext``; ``parentid`` = explicit parent) -> threads, posts;
  quotes (``[QUOTE=name;postid]``) and mentions in posts -> ``quote``/``mention`` interactions;
- ``post_thanks`` (the "Post Thank You" add-on) -> ``thanks``; ``reputation`` -> ``reputation``;
- ``attachment`` + ``filedata`` (vBulletin 4) or ``attachment`` alone (vBulletin 3) -> attachment
  records (name, size, extension, MD5; never ``filedata``/``thumbnail`` bytes);
- ``pmtext`` + ``pm`` -> private-message metadata (recipients from the copies and ``touserarray``);
  the text only when the case keeps private-message text.

Passwords, salts, sessions and logs with IPs are never read; ``user.email``, ``user.ipaddress`` and
``post.ipaddress`` become keyed pseudonyms only when the case asks for them.
"""

from __future__ import annotations

import re
from typing import Any

import duckdb
import pyarrow as pa

from forumscope.engines.base import (EngineSpec, MapContext, access_rule, add_pm_links, contacts_sql,
                                     convert_markup, group_kind, install_macros, qi, query_dicts, to_int)

ENGINE = EngineSpec(
    name="vbulletin",
    title="vBulletin 3.x/4.x",
    dialect="mysql",
    prefixes=("", "vb_", "vb3_", "vb4_", "vbb_"),
    markup="bbcode",
    known_tables={
        "forum": ["forumid", "title", "description", "options", "displayorder", "parentid", "parentlist"],
        "forumpermission": ["forumid", "usergroupid", "forumpermissions"],
        "usergroup": ["usergroupid", "title", "description", "usertitle", "forumpermissions", "adminpermissions",
                      "genericoptions"],
        "usertitle": ["usertitleid", "minposts", "title"],
        "userpromotion": ["usergroupid", "joinusergroupid", "posts", "strategy", "type"],
        "user": ["userid", "usergroupid", "membergroupids", "displaygroupid", "username", "email", "usertitle",
                 "customtitle", "joindate", "lastvisit", "lastactivity", "posts", "reputation", "timezoneoffset",
                 "ipaddress"],
        "usertextfield": ["userid", "signature"],
        "thread": ["threadid", "title", "firstpostid", "forumid", "open", "replycount", "postuserid", "dateline",
                   "views", "sticky", "taglist"],
        "post": ["postid", "threadid", "parentid", "username", "userid", "title", "dateline", "pagetext", "visible",
                 "ipaddress"],
        "post_thanks": ["id", "userid", "date", "postid"],
        "reputation": ["reputationid", "postid", "userid", "reputation", "whoadded", "dateline"],
        "attachment": ["attachmentid", "contenttypeid", "contentid", "postid", "userid", "dateline", "filedataid",
                       "counter", "filename", "filesize", "filehash", "extension"],
        "filedata": ["filedataid", "filesize", "filehash", "extension"],
        "contenttype": ["contenttypeid", "class"],
        "pmtext": ["pmtextid", "fromuserid", "title", "message", "touserarray", "dateline"],
        "pm": ["pmid", "pmtextid", "userid", "folderid", "parentpmid"],
        "setting": ["varname", "value"],
    },
    signature_tables=["usergroup", "usertitle", "forumpermission", "pmtext", "thread", "post"],
    required_tables=["post"],
    never_stored={
        "session": "sessions (login state)", "cpsession": "control-panel sessions",
        "passwordhistory": "password hashes", "useractivation": "activation keys", "strikes": "login failures (IPs)",
        "humanverify": "captcha answers", "postlog": "IP and user agent per post", "apiclient": "API secrets",
        "apilog": "API calls with IPs", "searchlog": "searches with IPs", "adminlog": "admin actions with IPs",
        "userchangelog": "old and new e-mail addresses and IPs", "mailqueue": "outgoing e-mail",
        "customavatar": "image bytes (SAFETY.md)", "customprofilepic": "image bytes (SAFETY.md)",
        "sigpic": "image bytes (SAFETY.md)", "socialgroupicon": "image bytes (SAFETY.md)",
    },
    contact_columns={"user": {"email": "email", "ipaddress": "ip"}, "post": {"ipaddress": "ip"}},
    description="vBulletin 3.x and 4.x (MySQL); vBulletin 5's node tables are not read.",
)

# forumpermissions bits (includes/xml/bitfield_vbulletin.xml)
CANVIEW, CANPOSTNEW, CANREPLYOTHERS = 1, 16, 64
OPT_ALLOWPOSTING, OPT_CANCONTAINTHREADS = 2, 4
REGISTERED, BANNED = 2, 8
NOT_MEMBERS = (1, 3, 4, 8)  # guests, awaiting e-mail confirmation, awaiting moderation, banned
DEFAULT_KINDS = {1: "other", 2: "member", 3: "member", 4: "member", 5: "moderator", 6: "admin", 7: "moderator",
                 8: "banned"}


def map_tables(con: duckdb.DuckDBPyConnection, ctx: MapContext) -> dict[str, str | pa.Table]:
    install_macros(con)
    out: dict[str, str | pa.Table] = {}
    title = None
    if ctx.has("setting", "varname", "value"):
        hit = con.execute("SELECT value FROM setting WHERE varname = 'bbtitle' LIMIT 1").fetchall()
        title = hit[0][0] if hit else None
    out["forums"] = pa.table({"id": [ctx.forum_id], "name": [ctx.forum_name or title], "platform": ["vbulletin"]})

    groups = query_dicts(con, "SELECT * FROM usergroup") if ctx.has("usergroup", "usergroupid") else []
    promotions = _promotions(con, ctx)
    if groups:
        out["groups"] = _groups(groups, promotions)
    if ctx.has("forum", "forumid"):
        out["boards"] = _boards(con, ctx, groups, promotions)
    _users(con, ctx, out, groups)
    _threads_posts(con, ctx, out)
    _interactions(con, ctx, out)
    _attachments(con, ctx, out)
    _private_messages(con, ctx, out)
    add_pm_links(ctx, out)
    if ctx.store_contacts:
        _contacts(ctx, out)
    return out


def _contacts(ctx: MapContext, out: dict[str, Any]) -> None:
    """Keyed pseudonyms (staged in place of the clear values) per member, kind and pseudonym."""
    parts = []
    if ctx.has("user", "userid", "email"):
        parts.append(f"SELECT userid AS uid, 'email' AS kind, email AS p, fs_epoch({ctx.col('user', 'joindate')}) AS t "
                     "FROM \"user\"")
    if ctx.has("user", "userid", "ipaddress"):
        parts.append(f"SELECT userid, 'ip', ipaddress, fs_epoch({ctx.col('user', 'joindate')}) FROM \"user\"")
    if ctx.has("post", "userid", "ipaddress"):
        parts.append(f"SELECT userid, 'ip', ipaddress, fs_epoch({ctx.col('post', 'dateline')}) FROM post")
    if parts:
        out["contacts"] = contacts_sql(parts)


# ------------------------------------------------------------------------------------------ groups, boards
def _promotions(con: duckdb.DuckDBPyConnection, ctx: MapContext) -> dict[str, int]:
    """User groups joined automatically at a post count (strategy 17 = posts only) -> lowest count."""
    if not ctx.has("userpromotion", "joinusergroupid", "posts", "strategy"):
        return {}
    out: dict[str, int] = {}
    for r in query_dicts(con, "SELECT joinusergroupid, posts, strategy FROM userpromotion"):
        if to_int(r["strategy"], -1) == 17:
            g = str(to_int(r["joinusergroupid"]))
            out[g] = min(out.get(g, 1 << 30), to_int(r["posts"]))
    return out


def _group_kind(g: dict[str, Any], promotions: dict[str, int]) -> str:
    gid = to_int(g.get("usergroupid"))
    if gid in DEFAULT_KINDS:
        return DEFAULT_KINDS[gid]
    if str(gid) in promotions:
        return "member"  # reached by post count: a step of the ladder, not a hand-picked group
    admin = to_int(g.get("adminpermissions"))
    if admin & 2:
        return "admin"
    if admin & 1:
        return "moderator"
    if g.get("genericoptions") is not None and not to_int(g.get("genericoptions")) & 32:
        return "banned"  # 'isnotbannedgroup' not set
    return group_kind(g.get("title"))


def _groups(groups: list[dict[str, Any]], promotions: dict[str, int]) -> pa.Table:
    rows = {"id": [], "name": [], "kind": [], "description": []}
    for g in groups:
        gid = str(to_int(g["usergroupid"]))
        rows["id"].append(gid)
        rows["name"].append(g.get("title"))
        rows["kind"].append(_group_kind(g, promotions))
        desc = (g.get("description") or "").strip() or None
        if gid in promotions:
            desc = ((desc + "; ") if desc else "") + f"joined automatically at {promotions[gid]} posts"
        rows["description"].append(desc)
    return pa.table(rows)


def _boards(con: duckdb.DuckDBPyConnection, ctx: MapContext, groups: list[dict[str, Any]],
            promotions: dict[str, int]) -> pa.Table:
    forums = query_dicts(con, f"SELECT forumid, title, description, {ctx.col('forum', 'options')} AS options, "
                        f"{ctx.col('forum', 'displayorder')} AS displayorder, {ctx.col('forum', 'parentid')} AS parentid, "
                        f"{ctx.col('forum', 'parentlist')} AS parentlist, _offset FROM forum")
    perms: dict[tuple[int, int], int] = {}
    if ctx.has("forumpermission", "forumid", "usergroupid", "forumpermissions"):
        for r in query_dicts(con, "SELECT forumid, usergroupid, forumpermissions FROM forumpermission"):
            perms[(to_int(r["forumid"]), to_int(r["usergroupid"]))] = to_int(r["forumpermissions"])
    defaults = {to_int(g["usergroupid"]): to_int(g.get("forumpermissions")) for g in groups}
    parent = {to_int(f["forumid"]): to_int(f["parentid"], -1) for f in forums}

    def ancestors(f: dict[str, Any]) -> list[int]:
        chain = [to_int(x) for x in str(f.get("parentlist") or "").split(",") if x.strip() not in ("", "-1")]
        if chain:
            return chain
        out, cur, seen = [], to_int(f["forumid"]), set()
        while cur > 0 and cur not in seen:
            seen.add(cur)
            out.append(cur)
            cur = parent.get(cur, -1)
        return out

    def effective(f: dict[str, Any], gid: int) -> int:
        for anc in ancestors(f):
            if (anc, gid) in perms:
                return perms[(anc, gid)]
        return defaults.get(gid, 0)

    def can_post(bits: int) -> bool:
        return bool(bits & CANVIEW) and bool(bits & (CANPOSTNEW | CANREPLYOTHERS))

    out = {k: [] for k in ("id", "parent_id", "name", "description", "position", "is_hidden", "access_rule",
                           "min_posts", "required_group_ids", "_offset")}
    kinds = {to_int(g["usergroupid"]): _group_kind(g, promotions) for g in groups}
    gated = 0
    for f in forums:
        fid = to_int(f["forumid"])
        opts = to_int(f.get("options"), OPT_CANCONTAINTHREADS | OPT_ALLOWPOSTING)
        min_posts, required, rule = None, None, None
        hidden = None
        if REGISTERED in defaults:
            reg = effective(f, REGISTERED)
            hidden = not bool(reg & CANVIEW)
            if opts & OPT_CANCONTAINTHREADS and not can_post(reg):
                allowed = [g for g in sorted(defaults) if g not in NOT_MEMBERS and g != REGISTERED
                           and can_post(effective(f, g))]
                by_posts = {str(g): promotions[str(g)] for g in allowed if str(g) in promotions}
                if by_posts:
                    min_posts = min(by_posts.values())
                    others = [str(g) for g in allowed if str(g) not in by_posts]
                    rule = access_rule(min_posts=min_posts, note=(
                        f"usergroup {'|'.join(by_posts)} joined by post count"
                        + (f"; usergroups {'|'.join(others)} may also post" if others else "")))
                elif allowed:
                    required = "|".join(str(g) for g in allowed)
                    staff = [g for g in allowed if kinds.get(g) in ("admin", "moderator")]
                    rule = access_rule(group_ids=[str(g) for g in allowed],
                                       note="staff only" if staff and len(staff) == len(allowed) else None)
                else:
                    rule = "no user group may post"
                gated += 1
        if not opts & OPT_ALLOWPOSTING and opts & OPT_CANCONTAINTHREADS:
            rule = (rule + "; " if rule else "") + "closed for posting"
        out["id"].append(str(fid))
        out["parent_id"].append(str(parent[fid]) if parent.get(fid, -1) > 0 else None)
        out["name"].append(f.get("title"))
        out["description"].append((f.get("description") or "").strip() or None)
        out["position"].append(to_int(f.get("displayorder")))
        out["is_hidden"].append(hidden)
        out["access_rule"].append(rule)
        out["min_posts"].append(min_posts)
        out["required_group_ids"].append(required)
        out["_offset"].append(f.get("_offset"))
    ctx.facts["gated_boards"] = gated
    return pa.table(out, schema=pa.schema([("id", pa.string()), ("parent_id", pa.string()), ("name", pa.string()),
                                           ("description", pa.string()), ("position", pa.int64()),
                                           ("is_hidden", pa.bool_()), ("access_rule", pa.string()),
                                           ("min_posts", pa.int64()), ("required_group_ids", pa.string()),
                                           ("_offset", pa.int64())]))


# ------------------------------------------------------------------------------------------ users, ranks
def _users(con: duckdb.DuckDBPyConnection, ctx: MapContext, out: dict[str, Any], groups: list[dict[str, Any]]) -> None:
    has_ladder = ctx.has("usertitle", "usertitleid", "minposts")
    titled = {str(to_int(g["usergroupid"])): g.get("usertitle") for g in groups if (g.get("usertitle") or "").strip()}
    if has_ladder:
        con.execute("CREATE OR REPLACE TABLE _ladder AS SELECT 'ut' || fs_id(usertitleid) AS rank_id, "
                    "fs_int(minposts) AS minposts, title FROM usertitle WHERE fs_int(minposts) IS NOT NULL")
    con.execute("CREATE OR REPLACE TABLE _titled (gid VARCHAR, title VARCHAR)")
    if titled:
        con.executemany("INSERT INTO _titled VALUES (?, ?)", list(titled.items()))
    if not ctx.has("user", "userid"):
        return
    c = lambda col, d="NULL": ctx.col("user", col, d, alias="u")
    display = (f"CASE WHEN fs_id({c('displaygroupid')}) IS NOT NULL THEN fs_id({c('displaygroupid')}) "
               f"ELSE fs_id({c('usergroupid')}) END")
    ladder_join = ("ASOF LEFT JOIN _ladder l ON coalesce(fs_int(u.posts), 0) >= l.minposts" if has_ladder
                   else "LEFT JOIN (SELECT NULL::VARCHAR AS rank_id, NULL::BIGINT AS minposts) l ON false")
    con.execute(f"""
        CREATE OR REPLACE TABLE _users AS
        SELECT fs_id(u.userid) AS id, u.username AS name, fs_epoch({c('joindate')}) AS registered_at,
               fs_epoch(greatest(fs_int({c('lastactivity')}), fs_int({c('lastvisit')}))) AS last_seen_at,
               fs_int({c('posts')}) AS post_count_reported, fs_int({c('reputation')}) AS reputation,
               CASE WHEN t.gid IS NOT NULL AND coalesce(fs_int({c('customtitle')}), 0) = 0 THEN 'ug' || t.gid
                    ELSE l.rank_id END AS rank_id,
               CASE WHEN coalesce(fs_int({c('customtitle')}), 0) <> 0 THEN fs_nz({c('usertitle')}) END AS title,
               CASE WHEN TRY_CAST({c('timezoneoffset')} AS DOUBLE) IS NOT NULL
                    THEN 'UTC' || CASE WHEN TRY_CAST({c('timezoneoffset')} AS DOUBLE) >= 0 THEN '+' ELSE '' END
                         || trim({c('timezoneoffset')}) END AS timezone_declared,
               u._offset
        FROM "user" u {ladder_join}
        LEFT JOIN _titled t ON t.gid = {display}
    """)
    sig = ("LEFT JOIN (SELECT fs_id(userid) AS uid, fs_nz(signature) AS sig FROM usertextfield) s ON s.uid = u.id"
           if ctx.has("usertextfield", "userid", "signature") else "LEFT JOIN (SELECT NULL AS uid, NULL AS sig) s ON false")
    out["users"] = f"SELECT u.*, s.sig AS profile_text FROM _users u {sig}"
    rank_rows = []
    if has_ladder:
        rank_rows.append("SELECT rank_id AS id, title AS name, row_number() OVER (ORDER BY minposts, rank_id) - 1 "
                         "AS position, minposts AS min_posts, false AS is_special, NULL AS description FROM _ladder")
    rank_rows.append("SELECT 'ug' || t.gid AS id, t.title AS name, NULL::BIGINT AS position, NULL::BIGINT AS min_posts, "
                     "true AS is_special, 'title of user group ' || t.gid AS description FROM _titled t "
                     "WHERE 'ug' || t.gid IN (SELECT rank_id FROM _users)")
    out["ranks"] = " UNION ALL ".join(rank_rows)
    member = (f"SELECT fs_id(u.userid) AS user_id, fs_id({c('usergroupid')}) AS group_id, true AS is_primary, "
              f"u._offset FROM \"user\" u WHERE fs_id({c('usergroupid')}) IS NOT NULL")
    if ctx.has("user", "membergroupids"):
        member += (" UNION ALL SELECT DISTINCT fs_id(u.userid), trim(g), false, u._offset FROM \"user\" u, "
                   "unnest(string_split(coalesce(u.membergroupids, ''), ',')) AS x(g) "
                   "WHERE trim(g) NOT IN ('', '0') AND trim(g) <> coalesce(fs_id(u.usergroupid), '')")
    out["memberships"] = member


# ------------------------------------------------------------------------------------------ threads, posts
def _threads_posts(con: duckdb.DuckDBPyConnection, ctx: MapContext, out: dict[str, Any]) -> None:
    if ctx.has("thread", "threadid"):
        t = lambda col: ctx.col("thread", col)
        out["threads"] = f"""
            SELECT fs_id(threadid) AS id, fs_id({t('forumid')}) AS board_id, title,
                   fs_id({t('postuserid')}) AS author_id, fs_epoch({t('dateline')}) AS created_at,
                   fs_id({t('firstpostid')}) AS first_post_id, fs_int({t('open')}) = 0 AS is_locked,
                   fs_int({t('sticky')}) <> 0 AS is_sticky, fs_int({t('views')}) AS view_count,
                   fs_int({t('replycount')}) AS reply_count_reported,
                   NULLIF(array_to_string(list_filter(list_transform(string_split(coalesce({t('taglist')}, ''), ','),
                       lambda s: trim(s)), lambda s: s <> ''), '|'), '') AS tags, _offset
            FROM thread WHERE coalesce(fs_int({t('open')}), 1) <> 10
        """  # open = 10: a "moved" redirect, not a thread
    if not ctx.has("post", "postid", "pagetext"):
        return
    convert_markup(con, ctx, "SELECT fs_id(postid) AS id, pagetext AS raw FROM post", "bbcode")
    p = lambda col: ctx.col("post", col, alias="p")
    board = ("LEFT JOIN (SELECT fs_id(threadid) AS tid, fs_id(forumid) AS fid FROM thread) th ON th.tid = fs_id(p.threadid)"
             if ctx.has("thread", "threadid", "forumid") else "LEFT JOIN (SELECT NULL AS tid, NULL AS fid) th ON false")
    out["posts"] = f"""
        SELECT fs_id(p.postid) AS id, fs_id({p('threadid')}) AS thread_id, th.fid AS board_id,
               fs_id({p('userid')}) AS author_id, fs_nz({p('username')}) AS author_name,
               fs_epoch({p('dateline')}) AS created_at, fs_id({p('parentid')}) AS parent_id,
               fs_nz({p('title')}) AS title, m.text, p.pagetext AS raw, 'bbcode' AS format, 'post' AS kind,
               coalesce(fs_int({p('visible')}), 1) = 2 AS is_deleted, p._offset
        FROM post p LEFT JOIN _markup m ON m.id = fs_id(p.postid) {board}
    """


# ------------------------------------------------------------------------------------------ interactions
def _interactions(con: duckdb.DuckDBPyConnection, ctx: MapContext, out: dict[str, Any]) -> None:
    parts = []
    have_posts = ctx.has("post", "postid", "pagetext")
    if have_posts:
        names = ("LEFT JOIN (SELECT lower(username) AS lname, min(fs_id(userid)) AS uid FROM \"user\" GROUP BY 1) un "
                 "ON un.lname = lower(r.target_name)" if ctx.has("user", "userid", "username")
                 else "LEFT JOIN (SELECT NULL AS lname, NULL AS uid) un ON false")
        con.execute(f"""
            CREATE OR REPLACE TABLE _refs AS
            SELECT r.*, row_number() OVER (PARTITION BY r.id, r.kind ORDER BY r.kind) AS n,
                   coalesce(fs_id(r.target_user_id), CASE WHEN fs_id(r.target_post_id) IS NULL THEN un.uid END) AS tuid
            FROM _markup_refs r {names} WHERE r.kind IN ('quote', 'mention')
        """)
        parts.append("""
            SELECT r.kind || ':' || r.id || CASE WHEN r.n > 1 THEN ':' || r.n ELSE '' END AS id, r.kind,
                   fs_id(p.userid) AS source_user_id, r.tuid AS target_user_id, r.id AS post_id,
                   CASE WHEN r.kind = 'quote' THEN fs_id(r.target_post_id) END AS target_post_id,
                   fs_epoch(p.dateline) AS created_at, NULL::DOUBLE AS value, NULL AS detail, p._offset
            FROM _refs r JOIN post p ON fs_id(p.postid) = r.id
            WHERE r.kind = 'quote' OR r.tuid IS NOT NULL
        """)
    if ctx.has("post_thanks", "userid", "postid"):
        parts.append(f"""
            SELECT 'thanks:' || coalesce(fs_id({ctx.col('post_thanks', 'id')}), fs_id(postid) || ':' || fs_id(userid)),
                   'thanks', fs_id(userid), NULL, NULL, fs_id(postid), fs_epoch({ctx.col('post_thanks', 'date')}),
                   1.0, 'post_thanks', _offset
            FROM post_thanks
        """)
    if ctx.has("reputation", "reputationid", "whoadded", "userid"):
        parts.append("""
            SELECT 'reputation:' || fs_id(reputationid), 'reputation', fs_id(whoadded), fs_id(userid), NULL,
                   fs_id(postid), fs_epoch(dateline), TRY_CAST(reputation AS DOUBLE), 'reputation', _offset
            FROM reputation
        """)
    if parts:
        out["interactions"] = " UNION ALL ".join(parts)


# ------------------------------------------------------------------------------------------ attachments
def _attachments(con: duckdb.DuckDBPyConnection, ctx: MapContext, out: dict[str, Any]) -> None:
    if not ctx.has("attachment", "attachmentid"):
        return
    a = lambda col: ctx.col("attachment", col, alias="a")
    if ctx.has("attachment", "postid"):  # vBulletin 3: one table
        out["attachments"] = f"""
            SELECT fs_id(a.attachmentid) AS id, fs_id(a.postid) AS post_id, fs_id({a('userid')}) AS user_id,
                   fs_nz({a('filename')}) AS file_name, fs_int({a('filesize')}) AS size_bytes,
                   fs_nz({a('extension')}) AS declared_type, lower(fs_nz({a('filehash')})) AS md5,
                   fs_int({a('counter')}) AS download_count, fs_epoch({a('dateline')}) AS created_at, a._offset
            FROM attachment a
        """
        return
    post_type = "'1'"
    if ctx.has("contenttype", "contenttypeid", "class"):
        post_type = "coalesce((SELECT min(fs_id(contenttypeid)) FROM contenttype WHERE class = 'Post'), '1')"
    fd = ("LEFT JOIN filedata f ON fs_id(f.filedataid) = fs_id(a.filedataid)" if ctx.has("filedata", "filedataid")
          else "LEFT JOIN (SELECT NULL AS filedataid, NULL AS filesize, NULL AS extension, NULL AS filehash) f ON false")
    out["attachments"] = f"""
        SELECT fs_id(a.attachmentid) AS id, fs_id({a('contentid')}) AS post_id, fs_id({a('userid')}) AS user_id,
               fs_nz({a('filename')}) AS file_name, fs_int(f.filesize) AS size_bytes,
               fs_nz(f.extension) AS declared_type, lower(fs_nz(f.filehash)) AS md5,
               fs_int({a('counter')}) AS download_count, fs_epoch({a('dateline')}) AS created_at, a._offset
        FROM attachment a {fd}
        WHERE coalesce(fs_id({a('contenttypeid')}), '1') = {post_type}
    """


# ------------------------------------------------------------------------------------------ private messages
_TOUSER = re.compile(r"i:(\d+);s:")


def _private_messages(con: duckdb.DuckDBPyConnection, ctx: MapContext, out: dict[str, Any]) -> None:
    if not ctx.has("pmtext", "pmtextid"):
        return
    has_pm = ctx.has("pm", "pmid", "pmtextid", "userid")
    if ctx.store_pm_text and ctx.has("pmtext", "message"):
        convert_markup(con, ctx, "SELECT fs_id(pmtextid) AS id, message AS raw FROM pmtext", "bbcode", name="_pm_markup")
        text = "(SELECT text FROM _pm_markup m WHERE m.id = fs_id(t.pmtextid))"
    else:
        text = "NULL"
    copies = ("SELECT fs_id(pmtextid) AS tid, fs_id(userid) AS uid FROM pm "
              "WHERE NOT (coalesce(fs_int(folderid), 0) = -1) " if has_pm else "SELECT NULL AS tid, NULL AS uid WHERE false")
    arr = ("SELECT fs_id(pmtextid) AS tid, unnest(regexp_extract_all(coalesce(touserarray, ''), 'i:(\\d+);s:', 1)) AS uid "
           "FROM pmtext" if ctx.has("pmtext", "touserarray") else "SELECT NULL AS tid, NULL AS uid WHERE false")
    parent = ("SELECT DISTINCT fs_id(c.pmtextid) AS tid, fs_id(p.pmtextid) AS parent FROM pm c JOIN pm p "
              "ON fs_id(p.pmid) = fs_id(c.parentpmid) WHERE fs_id(c.parentpmid) IS NOT NULL"
              if ctx.has("pm", "pmid", "pmtextid", "parentpmid") else "SELECT NULL AS tid, NULL AS parent WHERE false")
    con.execute(f"""
        CREATE OR REPLACE TABLE _pm_parent AS
        SELECT tid, min(parent) AS parent FROM ({parent}) GROUP BY tid
    """)
    con.execute("""
        CREATE OR REPLACE TABLE _pm_root AS
        WITH RECURSIVE chain(tid, root, depth) AS (
            SELECT fs_id(pmtextid), fs_id(pmtextid), 0 FROM pmtext
            UNION ALL
            SELECT c.tid, p.parent, c.depth + 1 FROM chain c JOIN _pm_parent p ON p.tid = c.root
            WHERE c.depth < 1000)
        SELECT tid, arg_max(root, depth) AS root FROM chain GROUP BY tid
    """)
    out["private_messages"] = f"""
        WITH rec AS (
            SELECT r.tid, string_agg(DISTINCT r.uid, '|' ORDER BY r.uid) AS ids
            FROM (({copies}) UNION ({arr})) r
            JOIN pmtext t2 ON fs_id(t2.pmtextid) = r.tid
            WHERE r.uid IS NOT NULL AND r.uid <> coalesce(fs_id(t2.fromuserid), '')
            GROUP BY r.tid)
        SELECT fs_id(t.pmtextid) AS id, fs_id(t.fromuserid) AS sender_id, rec.ids AS recipient_ids,
               fs_epoch(t.dateline) AS sent_at, fs_nz(t.title) AS subject, {text} AS text,
               CASE WHEN root.root <> fs_id(t.pmtextid) OR par.parent IS NOT NULL THEN root.root END AS conversation_id,
               par.parent AS parent_id, t._offset
        FROM pmtext t LEFT JOIN rec ON rec.tid = fs_id(t.pmtextid)
        LEFT JOIN _pm_parent par ON par.tid = fs_id(t.pmtextid)
        LEFT JOIN _pm_root root ON root.tid = fs_id(t.pmtextid)
    """


__all__ = ["ENGINE", "map_tables", "qi"]
