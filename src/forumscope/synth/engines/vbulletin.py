"""Write a synthetic forum as a vBulletin 4 database dump (mysqldump output), ``synth --as vbulletin``.

The tables follow vBulletin 4.1's install schema (``install/mysql-schema.php``) for the tables used,
plus the popular "Post Thank You" add-on table ``post_thanks``. What goes where (and back, see
:mod:`forumscope.engines.vbulletin` and docs/engines/vbulletin.md):

- boards -> ``forum`` (categories without the "can contain threads" option), declared gates ->
  ``forumpermission`` rows (registered users may view but not post) and, for a post-count gate, a
  user group reached by ``userpromotion`` (strategy 17: posts) that may post there;
- ranks with post thresholds -> ``usertitle`` (the title ladder); special ranks -> the ``usertitle``
  of the staff user group whose members hold them;
- groups -> ``usergroup`` (administrators 6, moderators 7, registered 2, banned 8 as in a fresh
  install; other groups 9, 10, ...), memberships -> ``user.usergroupid`` / ``membergroupids``;
- threads, posts -> ``thread``, ``post`` (``pagetext`` BBCode with ``[QUOTE=name;postid]`` for quotes
  and ``[ATTACH=CONFIG]id[/ATTACH]`` for attachments), thanks -> ``post_thanks``;
- attachments -> ``attachment`` + ``filedata`` (records only: ``filedata`` and ``thumbnail`` are NULL);
- private messages (if the forum has them) -> ``pmtext`` + one ``pm`` row per copy.

Passwords (an MD5 of a random string with a salt), e-mail addresses (``@example.invalid``), IPs
(documentation ranges) and a ``session`` table are written like a real dump has them, so that tests
can check none of them reaches a case.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from forumscope.sqldump.writer import MySQLDumpWriter, open_dump
from forumscope.synth.engines.common import Numbering, SynthForum, epoch, num, rows
from forumscope.synth.engines.tabledef import TableDef, php_serialize

# forumpermissions bits (includes/xml/bitfield_vbulletin.xml)
CANVIEW, CANVIEWOTHERS, CANSEARCH, CANEMAIL = 1, 2, 4, 8
CANPOSTNEW, CANREPLYOWN, CANREPLYOTHERS, CANEDITPOST = 16, 32, 64, 128
CANGETATTACHMENT, CANPOSTATTACHMENT, CANVIEWTHREADS = 4096, 8192, 524288
VIEW = CANVIEW | CANVIEWOTHERS | CANVIEWTHREADS | CANSEARCH | CANGETATTACHMENT
POST = CANPOSTNEW | CANREPLYOWN | CANREPLYOTHERS | CANEDITPOST | CANPOSTATTACHMENT
MEMBER_PERMS = VIEW | CANEMAIL | POST
STAFF_PERMS = 0xFFFFFF
# forum options bits (active, allowposting, cancontainthreads, ..., countposts)
OPT_ACTIVE, OPT_ALLOWPOSTING, OPT_CANCONTAINTHREADS, OPT_BBCODE, OPT_IMAGES, OPT_SMILIES = 1, 2, 4, 64, 128, 512
OPT_ICONS, OPT_RATINGS, OPT_COUNTPOSTS, OPT_INDEXPOSTS, OPT_FORUMJUMP = 1024, 2048, 4096, 16384, 65536
FORUM_OPTIONS = (OPT_ACTIVE | OPT_ALLOWPOSTING | OPT_CANCONTAINTHREADS | OPT_BBCODE | OPT_IMAGES | OPT_SMILIES
                 | OPT_ICONS | OPT_RATINGS | OPT_COUNTPOSTS | OPT_INDEXPOSTS | OPT_FORUMJUMP)
CATEGORY_OPTIONS = FORUM_OPTIONS & ~OPT_CANCONTAINTHREADS

# usergroups of a fresh install: (id, title, usertitle, forumpermissions)
DEFAULT_GROUPS = (
    (1, "Unregistered / Not Logged In", "Guest", VIEW),
    (2, "Registered Users", "", MEMBER_PERMS),
    (3, "Users Awaiting Email Confirmation", "", VIEW),
    (4, "(COPPA) Users Awaiting Moderation", "", VIEW),
    (5, "Super Moderators", "Super Moderator", STAFF_PERMS),
    (6, "Administrators", "Administrator", STAFF_PERMS),
    (7, "Moderators", "Moderator", STAFF_PERMS),
    (8, "Banned Users", "Banned", 0),
)
KIND_GROUP = {"member": 2, "moderator": 7, "admin": 6, "banned": 8}
STAFF_GROUPS = (5, 6, 7)
CONTENT_TYPES = ("Post", "Thread", "Forum", "Announcement", "SocialGroupMessage", "SocialGroupDiscussion",
                 "SocialGroup", "Album", "Picture", "PictureComment", "VisitorMessage", "User", "Event",
                 "Calendar", "PrivateMessage", "Infraction", "Signature", "UserNote")

U = "int(10) unsigned NOT NULL DEFAULT 0"
S = "smallint(5) unsigned NOT NULL DEFAULT 0"
SS = "smallint(6) NOT NULL DEFAULT 0"


def _v(n: int) -> str:
    return f"varchar({n}) NOT NULL DEFAULT ''"


def _c(n: int) -> str:
    return f"char({n}) NOT NULL DEFAULT ''"


MT = "mediumtext DEFAULT NULL"

T_USERGROUP = TableDef("usergroup", [
    ("usergroupid", "smallint(5) unsigned NOT NULL AUTO_INCREMENT", None), ("title", _c(100), ""),
    ("description", _v(250), ""), ("usertitle", _c(100), ""), ("passwordexpires", S, 0),
    ("passwordhistory", S, 0), ("pmquota", S, 0), ("pmsendmax", "smallint(5) unsigned NOT NULL DEFAULT 5", 5),
    ("opentag", _c(100), ""), ("closetag", _c(100), ""), ("canoverride", S, 0), ("ispublicgroup", S, 0),
    ("forumpermissions", U, 0), ("pmpermissions", U, 0), ("calendarpermissions", U, 0),
    ("wolpermissions", U, 0), ("adminpermissions", U, 0), ("genericpermissions", U, 0),
    ("genericpermissions2", U, 0), ("genericoptions", U, 0), ("signaturepermissions", U, 0),
    ("visitormessagepermissions", U, 0), ("attachlimit", U, 0), ("avatarmaxwidth", S, 0),
    ("avatarmaxheight", S, 0), ("avatarmaxsize", U, 0), ("profilepicmaxwidth", S, 0),
    ("profilepicmaxheight", S, 0), ("profilepicmaxsize", U, 0), ("sigpicmaxwidth", S, 0),
    ("sigpicmaxheight", S, 0), ("sigpicmaxsize", U, 0), ("sigmaximages", S, 0), ("sigmaxsizebbcode", S, 0),
    ("sigmaxchars", S, 0), ("sigmaxrawchars", S, 0), ("sigmaxlines", S, 0), ("usercsspermissions", U, 0),
    ("albumpermissions", U, 0), ("albumpicmaxwidth", S, 0), ("albumpicmaxheight", S, 0),
    ("albummaxpics", U, 0), ("albummaxsize", U, 0), ("socialgrouppermissions", U, 0),
    ("pmthrottlequantity", U, 0), ("groupiconmaxsize", U, 0), ("maximumsocialgroups", U, 0),
], ["PRIMARY KEY (`usergroupid`)"])

T_USERTITLE = TableDef("usertitle", [
    ("usertitleid", "smallint(5) unsigned NOT NULL AUTO_INCREMENT", None), ("minposts", U, 0),
    ("title", _c(250), ""),
], ["PRIMARY KEY (`usertitleid`)"])

T_USERPROMOTION = TableDef("userpromotion", [
    ("userpromotionid", "int(10) unsigned NOT NULL AUTO_INCREMENT", None), ("usergroupid", U, 0),
    ("joinusergroupid", U, 0), ("reputation", "int(11) NOT NULL DEFAULT 0", 0), ("date", U, 0),
    ("posts", U, 0), ("strategy", SS, 0), ("type", "smallint(6) NOT NULL DEFAULT 2", 2),
], ["PRIMARY KEY (`userpromotionid`)", "KEY `usergroupid` (`usergroupid`)"])

T_USER = TableDef("user", [
    ("userid", "int(10) unsigned NOT NULL AUTO_INCREMENT", None), ("usergroupid", S, 0),
    ("membergroupids", _c(250), ""), ("displaygroupid", S, 0), ("username", _v(100), ""),
    ("password", _c(32), ""), ("passworddate", "date NOT NULL DEFAULT '0000-00-00'", "0000-00-00"),
    ("email", _c(100), ""), ("styleid", S, 0), ("parentemail", _c(50), ""), ("homepage", _c(100), ""),
    ("icq", _c(20), ""), ("aim", _c(20), ""), ("yahoo", _c(32), ""), ("msn", _c(100), ""), ("skype", _c(32), ""),
    ("showvbcode", S, 1), ("showbirthday", "smallint(5) unsigned NOT NULL DEFAULT 2", 2),
    ("usertitle", _c(250), ""), ("customtitle", SS, 0), ("joindate", U, 0), ("daysprune", SS, 0),
    ("lastvisit", U, 0), ("lastactivity", U, 0), ("lastpost", U, 0), ("lastpostid", U, 0), ("posts", U, 0),
    ("reputation", "int(11) NOT NULL DEFAULT 10", 10), ("reputationlevelid", "int(10) unsigned NOT NULL DEFAULT 1", 5),
    ("timezoneoffset", _c(4), ""), ("pmpopup", SS, 0), ("avatarid", SS, 0), ("avatarrevision", U, 0),
    ("profilepicrevision", U, 0), ("sigpicrevision", U, 0),
    ("options", "int(10) unsigned NOT NULL DEFAULT 33570831", 45108311), ("birthday", _c(10), ""),
    ("birthday_search", "date NOT NULL DEFAULT '0000-00-00'", "0000-00-00"),
    ("maxposts", "smallint(6) NOT NULL DEFAULT -1", -1), ("startofweek", "smallint(6) NOT NULL DEFAULT 1", 1),
    ("ipaddress", _c(15), ""), ("referrerid", U, 0), ("languageid", S, 0), ("emailstamp", U, 0),
    ("threadedmode", S, 0), ("autosubscribe", "smallint(6) NOT NULL DEFAULT -1", -1), ("pmtotal", S, 0),
    ("pmunread", S, 0), ("salt", _c(30), ""), ("ipoints", U, 0), ("infractions", U, 0), ("warnings", U, 0),
    ("infractiongroupids", _v(255), ""), ("infractiongroupid", S, 0), ("adminoptions", U, 0),
    ("profilevisits", U, 0), ("friendcount", U, 0), ("friendreqcount", U, 0), ("vmunreadcount", U, 0),
    ("vmmoderatedcount", U, 0), ("socgroupinvitecount", U, 0), ("socgroupreqcount", U, 0),
    ("pcunreadcount", U, 0), ("pcmoderatedcount", U, 0), ("gmmoderatedcount", U, 0),
    ("assetposthash", _v(32), ""), ("fbuserid", _v(255), ""), ("fbjoindate", U, 0), ("fbname", _v(255), ""),
    ("logintype", "enum('vb','fb') NOT NULL DEFAULT 'vb'", "vb"), ("fbaccesstoken", _v(255), ""),
], ["PRIMARY KEY (`userid`)", "KEY `usergroupid` (`usergroupid`)", "KEY `username` (`username`)",
    "KEY `birthday` (`birthday`,`showbirthday`)", "KEY `birthday_search` (`birthday_search`)",
    "KEY `referrerid` (`referrerid`)", "KEY `fbuserid` (`fbuserid`)", "KEY `email` (`email`)"])

T_FORUM = TableDef("forum", [
    ("forumid", "smallint(5) unsigned NOT NULL AUTO_INCREMENT", None), ("styleid", S, 0),
    ("title", _v(100), ""), ("title_clean", _v(100), ""), ("description", "text DEFAULT NULL", None),
    ("description_clean", "text DEFAULT NULL", None), ("options", U, 0), ("showprivate", "tinyint(3) unsigned NOT NULL DEFAULT 0", 0),
    ("displayorder", SS, 0), ("replycount", U, 0), ("lastpost", "int(11) NOT NULL DEFAULT 0", 0),
    ("lastposter", _v(100), ""), ("lastposterid", U, 0), ("lastpostid", U, 0), ("lastthread", _v(250), ""),
    ("lastthreadid", U, 0), ("lasticonid", SS, 0), ("lastprefixid", _v(25), ""),
    ("threadcount", "mediumint(8) unsigned NOT NULL DEFAULT 0", 0), ("daysprune", SS, -1),
    ("newpostemail", "text DEFAULT NULL", ""), ("newthreademail", "text DEFAULT NULL", ""),
    ("parentid", SS, -1), ("parentlist", _v(250), ""), ("password", _v(50), ""), ("link", _v(200), ""),
    ("childlist", "text DEFAULT NULL", ""), ("defaultsortfield", "varchar(50) NOT NULL DEFAULT 'lastpost'", "lastpost"),
    ("defaultsortorder", "enum('asc','desc') NOT NULL DEFAULT 'desc'", "desc"), ("imageprefix", _v(100), ""),
], ["PRIMARY KEY (`forumid`)"])

T_FORUMPERMISSION = TableDef("forumpermission", [
    ("forumpermissionid", "int(10) unsigned NOT NULL AUTO_INCREMENT", None), ("forumid", S, 0),
    ("usergroupid", S, 0), ("forumpermissions", U, 0),
], ["PRIMARY KEY (`forumpermissionid`)", "UNIQUE KEY `ugid_fid` (`usergroupid`,`forumid`)"])

T_THREAD = TableDef("thread", [
    ("threadid", "int(10) unsigned NOT NULL AUTO_INCREMENT", None), ("title", _v(250), ""),
    ("prefixid", _v(25), ""), ("firstpostid", U, 0), ("lastpostid", U, 0), ("lastpost", U, 0),
    ("forumid", S, 0), ("pollid", U, 0), ("open", SS, 1), ("replycount", U, 0), ("hiddencount", U, 0),
    ("deletedcount", U, 0), ("postusername", _v(100), ""), ("postuserid", U, 0), ("lastposter", _v(100), ""),
    ("lastposterid", U, 0), ("dateline", U, 0), ("views", U, 0), ("iconid", S, 0), ("notes", _v(250), ""),
    ("visible", SS, 1), ("sticky", SS, 0), ("votenum", S, 0), ("votetotal", S, 0), ("attach", S, 0),
    ("similar", _v(55), ""), ("taglist", MT, None), ("keywords", MT, None),
], ["PRIMARY KEY (`threadid`)", "KEY `postuserid` (`postuserid`)", "KEY `pollid` (`pollid`)",
    "KEY `forumid` (`forumid`,`visible`,`sticky`,`lastpost`)", "KEY `forumid_lastpost` (`forumid`,`lastpost`)",
    "KEY `lastpost` (`lastpost`)", "KEY `dateline` (`dateline`)", "KEY `prefixid` (`prefixid`,`forumid`)"])

T_POST = TableDef("post", [
    ("postid", "int(10) unsigned NOT NULL AUTO_INCREMENT", None), ("threadid", U, 0), ("parentid", U, 0),
    ("username", _v(100), ""), ("userid", U, 0), ("title", _v(250), ""), ("dateline", U, 0),
    ("pagetext", MT, None), ("allowsmilie", SS, 1), ("showsignature", SS, 0), ("ipaddress", _c(15), ""),
    ("iconid", S, 0), ("visible", SS, 1), ("attach", S, 0), ("infraction", S, 0), ("reportthreadid", U, 0),
    ("htmlstate", "enum('off','on','on_nl2br') NOT NULL DEFAULT 'on_nl2br'", "on_nl2br"),
], ["PRIMARY KEY (`postid`)", "KEY `userid` (`userid`)", "KEY `threadid` (`threadid`,`userid`)",
    "KEY `threadid_visible_dateline` (`threadid`,`visible`,`dateline`,`userid`,`postid`)",
    "KEY `dateline` (`dateline`)", "KEY `ipaddress` (`ipaddress`)"])

T_POST_THANKS = TableDef("post_thanks", [
    ("id", "int(10) NOT NULL AUTO_INCREMENT", None), ("userid", "int(10) NOT NULL", 0),
    ("username", "varchar(50) NOT NULL", ""), ("date", "int(10) NOT NULL", 0), ("postid", "int(10) NOT NULL", 0),
], ["PRIMARY KEY (`id`)", "KEY `postid` (`postid`)"])

T_REPUTATION = TableDef("reputation", [
    ("reputationid", "int(10) unsigned NOT NULL AUTO_INCREMENT", None),
    ("postid", "int(10) unsigned NOT NULL DEFAULT 1", 1), ("userid", "int(10) unsigned NOT NULL DEFAULT 1", 1),
    ("reputation", "int(11) NOT NULL DEFAULT 0", 0), ("whoadded", U, 0), ("reason", "varchar(250) DEFAULT ''", ""),
    ("dateline", U, 0),
], ["PRIMARY KEY (`reputationid`)", "UNIQUE KEY `whoadded_postid` (`whoadded`,`postid`)", "KEY `userid` (`userid`)",
    "KEY `multi` (`postid`,`userid`)", "KEY `dateline` (`dateline`)"])

T_CONTENTTYPE = TableDef("contenttype", [
    ("contenttypeid", "int(10) unsigned NOT NULL AUTO_INCREMENT", None), ("class", "varbinary(50) NOT NULL", ""),
    ("packageid", "int(10) unsigned NOT NULL", 1), ("canplace", "enum('0','1') NOT NULL DEFAULT '0'", "0"),
    ("cansearch", "enum('0','1') NOT NULL DEFAULT '0'", "0"), ("cantag", "enum('0','1') DEFAULT '0'", "0"),
    ("canattach", "enum('0','1') DEFAULT '0'", "0"), ("isaggregator", "enum('0','1') NOT NULL DEFAULT '0'", "0"),
], ["PRIMARY KEY (`contenttypeid`)", "UNIQUE KEY `packageclass` (`packageid`,`class`)"])

T_ATTACHMENT = TableDef("attachment", [
    ("attachmentid", "int(10) unsigned NOT NULL AUTO_INCREMENT", None), ("contenttypeid", U, 0),
    ("contentid", U, 0), ("userid", U, 0), ("dateline", U, 0), ("filedataid", U, 0),
    ("state", "enum('visible','moderation') NOT NULL DEFAULT 'visible'", "visible"), ("counter", U, 0),
    ("posthash", _v(32), ""), ("filename", _v(255), ""), ("caption", "text DEFAULT NULL", None),
    ("reportthreadid", U, 0), ("settings", MT, None), ("displayorder", U, 0),
], ["PRIMARY KEY (`attachmentid`)", "KEY `contenttypeid` (`contenttypeid`,`contentid`,`attachmentid`)",
    "KEY `contentid` (`contentid`)", "KEY `userid` (`userid`,`contenttypeid`)", "KEY `posthash` (`posthash`,`userid`)",
    "KEY `filedataid` (`filedataid`,`userid`)"])

T_FILEDATA = TableDef("filedata", [
    ("filedataid", "int(10) unsigned NOT NULL AUTO_INCREMENT", None), ("userid", U, 0), ("dateline", U, 0),
    ("thumbnail_dateline", U, 0), ("filedata", "mediumblob DEFAULT NULL", None), ("filesize", U, 0),
    ("filehash", _c(32), ""), ("thumbnail", "mediumblob DEFAULT NULL", None), ("thumbnail_filesize", U, 0),
    ("extension", "varbinary(20) NOT NULL DEFAULT ''", ""), ("refcount", U, 0), ("width", S, 0), ("height", S, 0),
    ("thumbnail_width", S, 0), ("thumbnail_height", S, 0),
], ["PRIMARY KEY (`filedataid`)", "KEY `filesize` (`filesize`)", "KEY `filehash` (`filehash`)",
    "KEY `userid` (`userid`)", "KEY `refcount` (`refcount`,`dateline`)"])

T_PMTEXT = TableDef("pmtext", [
    ("pmtextid", "int(10) unsigned NOT NULL AUTO_INCREMENT", None), ("fromuserid", U, 0),
    ("fromusername", _v(100), ""), ("title", _v(250), ""), ("message", MT, None), ("touserarray", MT, None),
    ("iconid", S, 0), ("dateline", U, 0), ("showsignature", S, 0),
    ("allowsmilie", "smallint(5) unsigned NOT NULL DEFAULT 1", 1), ("reportthreadid", U, 0),
], ["PRIMARY KEY (`pmtextid`)", "KEY `fromuserid` (`fromuserid`,`dateline`)"])

T_PM = TableDef("pm", [
    ("pmid", "int(10) unsigned NOT NULL AUTO_INCREMENT", None), ("pmtextid", U, 0), ("userid", U, 0),
    ("folderid", SS, 0), ("messageread", S, 0), ("parentpmid", U, 0),
], ["PRIMARY KEY (`pmid`)", "KEY `pmtextid` (`pmtextid`)", "KEY `userid` (`userid`,`folderid`)"])

T_SESSION = TableDef("session", [
    ("sessionhash", _c(32), ""), ("userid", U, 0), ("host", _c(15), ""), ("idhash", _c(32), ""),
    ("lastactivity", U, 0), ("location", _c(255), ""), ("useragent", _c(100), ""), ("styleid", S, 0),
    ("languageid", S, 0), ("loggedin", S, 0), ("inforum", S, 0), ("inthread", U, 0), ("incalendar", S, 0),
    ("badlocation", S, 0), ("bypass", "tinyint(4) NOT NULL DEFAULT 0", 0), ("profileupdate", S, 0),
    ("apiclientid", U, 0), ("apiaccesstoken", _v(32), ""), ("isbot", "tinyint(4) NOT NULL DEFAULT 0", 0),
], ["PRIMARY KEY (`sessionhash`)", "KEY `user_activity` (`userid`,`lastactivity`)",
    "KEY `guest_lookup` (`idhash`,`host`,`userid`)", "KEY `apiaccesstoken` (`apiaccesstoken`)"],
    options="ENGINE=MEMORY DEFAULT CHARSET=utf8mb4")

TABLES = (T_ATTACHMENT, T_CONTENTTYPE, T_FILEDATA, T_FORUM, T_FORUMPERMISSION, T_PM, T_PMTEXT, T_POST,
          T_POST_THANKS, T_REPUTATION, T_SESSION, T_THREAD, T_USER, T_USERGROUP, T_USERPROMOTION, T_USERTITLE)


def fake_ip(user: int) -> str:
    """An IPv4 address from the documentation ranges (RFC 5737), fixed per user."""
    block = ("192.0.2", "198.51.100", "203.0.113")[user % 3]
    return f"{block}.{user % 254 + 1}"


def fake_email(user: int) -> str:
    return f"member{user}@example.invalid"


def _md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


def tz_offset(zone: str | None, at: int) -> str:
    """vBulletin's ``timezoneoffset`` (hours as text, e.g. '-5', '5.5') for an IANA zone at a time."""
    if not zone:
        return ""
    import datetime as dt

    try:
        off = dt.datetime.fromtimestamp(at or 0, ZoneInfo(zone)).utcoffset()
    except Exception:  # noqa: BLE001 - an unknown zone name: leave the offset empty
        return ""
    hours = off.total_seconds() / 3600 if off is not None else 0.0
    return str(int(hours)) if hours == int(hours) else str(hours)


def quote_markup(name: str, post: int, text: str) -> str:
    return f"[QUOTE={name};{post}]{text}[/QUOTE]\n"


class _Plan:
    """Everything decided before the first table is written: ids, groups, permissions, statistics."""

    def __init__(self, f: SynthForum):
        self.f = f
        # ---------------------------------------------------------------- groups
        self.group_id: dict[str, int] = {}
        self.group_rows: list[dict[str, Any]] = [
            {"usergroupid": g, "title": t, "usertitle": ut, "forumpermissions": p,
             "genericoptions": 0 if g == 8 else 32} for g, t, ut, p in DEFAULT_GROUPS]
        used_defaults: set[int] = set()
        next_custom = 9
        for g in f.groups:
            kind = g.get("kind") or "other"
            target = KIND_GROUP.get(kind)
            if target is not None and target not in used_defaults:
                used_defaults.add(target)
                self.group_id[g["id"]] = target
                row = next(r for r in self.group_rows if r["usergroupid"] == target)
                if g.get("name"):
                    row["title"] = g["name"]
                row["description"] = g.get("description") or ""
            else:
                self.group_id[g["id"]] = next_custom
                self.group_rows.append({"usergroupid": next_custom, "title": g.get("name") or g["id"],
                                        "description": g.get("description") or "", "forumpermissions": MEMBER_PERMS,
                                        "genericoptions": 32, "ispublicgroup": 0})
                next_custom += 1
        # special ranks -> usertitle of the group most of their holders are in
        primary: dict[int, int] = {}
        secondary: dict[int, list[int]] = defaultdict(list)
        for m in f.memberships:
            u, gid = num(m["user_id"]), self.group_id.get(m["group_id"])
            if gid is None:
                continue
            if m.get("is_primary") and u not in primary:
                primary[u] = gid
            else:
                secondary[u].append(gid)
        self.primary, self.secondary = primary, secondary
        self.rank_by_id = {r["id"]: r for r in f.ranks}
        for r in f.ranks:
            if not r.get("is_special"):
                continue
            votes: dict[int, int] = defaultdict(int)
            for u in f.users:
                if u.get("rank_id") == r["id"]:
                    votes[primary.get(num(u["id"]), 2)] += 1
            if votes:
                gid = max(votes, key=lambda k: (votes[k], -k))
                next(row for row in self.group_rows if row["usergroupid"] == gid)["usertitle"] = r.get("name") or r["id"]
        # the title ladder
        ladder = sorted((r for r in f.ranks if not r.get("is_special") and r.get("min_posts") is not None),
                        key=lambda r: (r["min_posts"], r.get("position") or 0))
        self.usertitles = [{"usertitleid": i + 1, "minposts": int(r["min_posts"]), "title": r.get("name") or r["id"]}
                           for i, r in enumerate(ladder)]
        self.ladder_ids = {r["id"]: i + 1 for i, r in enumerate(ladder)}
        # ---------------------------------------------------------------- boards
        self.forum_id = Numbering()
        for b in f.boards:
            self.forum_id(b["id"])
        self.children: dict[str, list[str]] = defaultdict(list)
        for b in f.boards:
            if b.get("parent_id"):
                self.children[b["parent_id"]].append(b["id"])
        # post-count gates -> promotion groups; group gates -> allowed groups
        self.promotions: dict[int, int] = {}  # min posts -> joinusergroupid
        self.board_gate: dict[str, tuple[list[int], bool]] = {}  # board -> (groups that may post, hidden)
        for b in f.boards:
            need = b.get("min_posts")
            if need is None and b.get("min_rank_id") in self.rank_by_id:
                need = self.rank_by_id[b["min_rank_id"]].get("min_posts")
            groups = [self.group_id[g] for g in (b.get("required_group_ids") or "").split("|") if g in self.group_id]
            allowed: list[int] = []
            if need is not None and int(need) > 0:
                need = int(need)
                if need not in self.promotions:
                    self.promotions[need] = next_custom
                    self.group_rows.append({"usergroupid": next_custom, "title": f"Members with {need}+ posts",
                                            "description": f"joined automatically at {need} posts",
                                            "forumpermissions": MEMBER_PERMS, "genericoptions": 32})
                    next_custom += 1
                allowed.append(self.promotions[need])
            allowed += [g for g in groups if g not in allowed]
            if allowed or b.get("is_hidden"):
                self.board_gate[b["id"]] = (allowed, bool(b.get("is_hidden")))
        # ---------------------------------------------------------------- statistics (one pass over posts)
        self.thread: dict[int, dict[str, Any]] = {}
        self.user_last: dict[int, tuple[int, int]] = {}
        self.user_posts: dict[int, int] = defaultdict(int)
        self.forum_stats: dict[int, dict[str, Any]] = defaultdict(lambda: {"threads": 0, "posts": 0, "last": None})
        self.board_of_thread: dict[int, int] = {}
        for t in rows(f.dir, "threads"):
            self.board_of_thread[num(t["id"])] = self.forum_id(t.get("board_id")) if t.get("board_id") else 0
        for p in rows(f.dir, "posts"):
            pid, tid = num(p["id"]), num(p["thread_id"])
            uid = num(p["author_id"]) if p.get("author_id") else 0
            at = epoch(p.get("created_at"))
            st = self.thread.get(tid)
            if st is None:
                st = self.thread[tid] = {"first": pid, "first_user": uid, "first_at": at, "n": 0}
            st["n"] += 1
            st.update(last=pid, last_user=uid, last_at=at)
            if uid:
                self.user_posts[uid] += 1
                self.user_last[uid] = (at, pid)
            fid = self.board_of_thread.get(tid) or (self.forum_id(p["board_id"]) if p.get("board_id") else 0)
            fs = self.forum_stats[fid]
            fs["posts"] += 1
            fs["last"] = (at, pid, uid, tid)
        for tid, fid in self.board_of_thread.items():
            if tid in self.thread:
                self.forum_stats[fid]["threads"] += 1

    def user_groups(self, u: int, posts: int) -> tuple[int, list[int]]:
        prim = self.primary.get(u, 2)
        extra = [g for g in self.secondary.get(u, []) if g != prim]
        if prim not in STAFF_GROUPS:
            extra += [g for need, g in sorted(self.promotions.items()) if posts >= need and g not in extra]
        return prim, extra


def write_dump(forum_dir: Path, out_path: Path, *, prefix: str = "") -> dict[str, Any]:
    """Write the synthetic forum in ``forum_dir`` as a vBulletin 4 dump at ``out_path`` (tables named
    ``prefix + name``). Returns ``{"engine", "path", "tables", "ids"}`` (see the package docstring)."""
    f = SynthForum(forum_dir)
    plan = _Plan(f)
    with open_dump(out_path, "wt") as fh:
        w = MySQLDumpWriter(fh, database="vbulletin")
        w.header()
        for t in TABLES:
            w.create_table(prefix + t.name, t.mysql_ddl(prefix + t.name))
            _write_table(w, prefix, t, plan)
        w.footer()
    ids = {"boards": dict(plan.forum_id.ids), "groups": dict(plan.group_id),
           "promotion_groups": {str(k): v for k, v in plan.promotions.items()},
           "ranks": {**{rid: f"ut{n}" for rid, n in plan.ladder_ids.items()}},
           "users": "u<n> -> <n>", "posts": "p<n> -> <n>", "threads": "t<n> -> <n>", "attachments": "a<n> -> <n>"}
    return {"engine": "vbulletin", "path": str(out_path),
            "tables": {k[len(prefix):]: v for k, v in w.rows_written.items()}, "ids": ids}


def _write_table(w: MySQLDumpWriter, prefix: str, t: TableDef, plan: _Plan) -> None:
    gen = {
        "attachment": _attachments, "contenttype": _contenttypes, "filedata": _filedata, "forum": _forums,
        "forumpermission": _forumpermissions, "pm": _pms, "pmtext": _pmtexts, "post": _posts,
        "post_thanks": _thanks, "reputation": lambda p: iter(()), "session": _sessions, "thread": _threads,
        "user": _users, "usergroup": lambda p: iter(p.group_rows), "userpromotion": _promotions,
        "usertitle": lambda p: iter(p.usertitles),
    }[t.name]
    w.insert(prefix + t.name, t.column_names, t.rows(gen(plan)))


def _contenttypes(plan: _Plan):
    for i, cls in enumerate(CONTENT_TYPES, start=1):
        yield {"contenttypeid": i, "class": cls, "packageid": 1, "cansearch": "1" if cls in ("Post", "Forum") else "0",
               "canattach": "1" if cls in ("Post", "SocialGroup", "Album") else "0"}


def _promotions(plan: _Plan):
    n = 0
    sources = sorted({2} | {g for g in plan.primary.values() if g not in STAFF_GROUPS})
    for need, gid in sorted(plan.promotions.items()):
        for src in sources:
            if src == gid:
                continue
            n += 1
            yield {"userpromotionid": n, "usergroupid": src, "joinusergroupid": gid, "posts": need, "strategy": 17,
                   "type": 2}


def _forums(plan: _Plan):
    f = plan.f
    parent_of = {b["id"]: b.get("parent_id") for b in f.boards}

    def chain(bid: str) -> list[int]:
        out, seen = [], set()
        while bid and bid not in seen:
            seen.add(bid)
            out.append(plan.forum_id(bid))
            bid = parent_of.get(bid)
        return out

    def descendants(bid: str) -> list[int]:
        out = [plan.forum_id(bid)]
        for c in plan.children.get(bid, []):
            out += descendants(c)
        return out

    for b in f.boards:
        fid = plan.forum_id(b["id"])
        st = plan.forum_stats.get(fid, {"threads": 0, "posts": 0, "last": None})
        is_category = bool(plan.children.get(b["id"])) and st["posts"] == 0
        opts = CATEGORY_OPTIONS if is_category else FORUM_OPTIONS
        if b.get("closed_at"):
            opts &= ~OPT_ALLOWPOSTING
        last = st["last"]
        row = {"forumid": fid, "title": b.get("name") or b["id"], "title_clean": b.get("name") or b["id"],
               "description": b.get("description") or "", "description_clean": b.get("description") or "",
               "options": opts, "displayorder": int(b.get("position") or 0) + 1,
               "replycount": max(0, st["posts"] - st["threads"]), "threadcount": st["threads"],
               "parentid": plan.forum_id(b["parent_id"]) if b.get("parent_id") else -1,
               "parentlist": ",".join(str(x) for x in chain(b["id"])) + ",-1",
               "childlist": ",".join(str(x) for x in descendants(b["id"])) + ",-1"}
        if last:
            at, pid, uid, tid = last
            row.update(lastpost=at, lastpostid=pid, lastposterid=uid, lastposter=plan.f.user_name.get(uid, ""),
                       lastthreadid=tid)
        yield row


def _forumpermissions(plan: _Plan):
    n = 0
    member_groups = [r["usergroupid"] for r in plan.group_rows if r["usergroupid"] not in STAFF_GROUPS + (1, 8)]
    for b in plan.f.boards:
        gate = plan.board_gate.get(b["id"])
        if not gate:
            continue
        allowed, hidden = gate
        fid = plan.forum_id(b["id"])
        for g in sorted(set(member_groups) | set(allowed)):
            if g in STAFF_GROUPS:
                continue
            n += 1
            perms = MEMBER_PERMS if g in allowed else (0 if hidden else VIEW)
            yield {"forumpermissionid": n, "forumid": fid, "usergroupid": g, "forumpermissions": perms}
        if hidden:
            n += 1
            yield {"forumpermissionid": n, "forumid": fid, "usergroupid": 1, "forumpermissions": 0}
        # staff groups keep their default (post everywhere) unless the gate names some staff groups only
        staff_allowed = [a for a in allowed if a in STAFF_GROUPS]
        for g in STAFF_GROUPS:
            if staff_allowed and g not in staff_allowed:
                n += 1
                yield {"forumpermissionid": n, "forumid": fid, "usergroupid": g, "forumpermissions": VIEW}


def _users(plan: _Plan):
    f = plan.f
    title_of_group = {r["usergroupid"]: r.get("usertitle") or "" for r in plan.group_rows}
    ladder = sorted(plan.usertitles, key=lambda r: r["minposts"])
    for u in f.users:
        uid = num(u["id"])
        posts = int(u.get("post_count_reported") if u.get("post_count_reported") is not None else plan.user_posts.get(uid, 0))
        prim, extra = plan.user_groups(uid, posts)
        joined = epoch(u.get("registered_at"))
        seen = epoch(u.get("last_seen_at")) or joined
        if u.get("title"):
            utitle, custom = u["title"], 1
        elif title_of_group.get(prim):
            utitle, custom = title_of_group[prim], 0
        else:
            rung = [r for r in ladder if r["minposts"] <= posts]
            utitle, custom = (rung[-1]["title"] if rung else ""), 0
        last_at, last_pid = plan.user_last.get(uid, (0, 0))
        salt = _md5(f"salt{uid}")[:3]
        yield {"userid": uid, "usergroupid": prim, "membergroupids": ",".join(str(g) for g in extra),
               "displaygroupid": prim if prim != 2 else 0, "username": u.get("name") or f"user{uid}",
               "password": _md5(_md5(f"synthetic-password-{uid}") + salt), "passworddate": "2019-01-01",
               "email": fake_email(uid), "usertitle": utitle, "customtitle": custom, "joindate": joined,
               "lastvisit": seen, "lastactivity": seen, "lastpost": last_at, "lastpostid": last_pid, "posts": posts,
               "timezoneoffset": tz_offset(u.get("timezone_declared"), joined), "ipaddress": fake_ip(uid),
               "salt": salt}


def _threads(plan: _Plan):
    names = plan.f.user_name
    for t in rows(plan.f.dir, "threads"):
        tid = num(t["id"])
        st = plan.thread.get(tid)
        if st is None:
            continue
        yield {"threadid": tid, "title": t.get("title") or "", "firstpostid": st["first"], "lastpostid": st["last"],
               "lastpost": st["last_at"], "forumid": plan.board_of_thread.get(tid, 0),
               "open": 0 if t.get("is_locked") else 1, "replycount": st["n"] - 1,
               "postusername": names.get(st["first_user"], ""), "postuserid": st["first_user"],
               "lastposter": names.get(st["last_user"], ""), "lastposterid": st["last_user"],
               "dateline": epoch(t.get("created_at")) or st["first_at"], "views": int(t.get("view_count") or 0),
               "sticky": 1 if t.get("is_sticky") else 0}


def _posts(plan: _Plan):
    f = plan.f
    attach: dict[int, list[int]] = defaultdict(list)
    for a in rows(f.dir, "attachments"):
        if a.get("post_id"):
            attach[num(a["post_id"])].append(num(a["id"]))
    for p in f.posts():
        pid = num(p["id"])
        uid = num(p["author_id"]) if p.get("author_id") else 0
        text = p.get("text") or ""
        q = f.quoted.get(pid)
        if q:
            text = quote_markup(f.user_name.get(int(f.post_author[q]), ""), q, f.excerpt(q)) + text
        for a in attach.get(pid, []):
            text += f"\n[ATTACH=CONFIG]{a}[/ATTACH]"
        yield {"postid": pid, "threadid": num(p["thread_id"]), "parentid": num(p["parent_id"]) if p.get("parent_id") else 0,
               "username": f.user_name.get(uid, p.get("author_name") or "Guest"), "userid": uid,
               "title": p.get("title") or "", "dateline": epoch(p.get("created_at")), "pagetext": text,
               "ipaddress": fake_ip(uid), "attach": len(attach.get(pid, [])), "visible": 2 if p.get("is_deleted") else 1}


def _thanks(plan: _Plan):
    f = plan.f
    for i, t in enumerate(sorted(f.thanks, key=lambda r: (r.get("created_at") or "", r.get("id") or "")), start=1):
        uid = num(t["source_user_id"])
        yield {"id": i, "userid": uid, "username": f.user_name.get(uid, ""), "date": epoch(t.get("created_at")),
               "postid": num(t["target_post_id"])}


def _attachments(plan: _Plan):
    for a in rows(plan.f.dir, "attachments"):
        n = num(a["id"])
        yield {"attachmentid": n, "contenttypeid": 1, "contentid": num(a["post_id"]) if a.get("post_id") else 0,
               "userid": num(a["user_id"]) if a.get("user_id") else 0, "dateline": epoch(a.get("created_at")),
               "filedataid": n, "counter": int(a.get("download_count") or 0), "filename": a.get("file_name") or "",
               "settings": ""}


def _filedata(plan: _Plan):
    for a in rows(plan.f.dir, "attachments"):
        n = num(a["id"])
        name = a.get("file_name") or ""
        ext = name.rsplit(".", 1)[-1].lower() if "." in name else ""
        stand_in = _md5(a.get("sha256") or a.get("md5") or name)  # no bytes exist: a stand-in for MD5(file)
        yield {"filedataid": n, "userid": num(a["user_id"]) if a.get("user_id") else 0,
               "dateline": epoch(a.get("created_at")), "filesize": int(a.get("size_bytes") or 0),
               "filehash": a.get("md5") or stand_in, "extension": ext, "refcount": 1}


def _pm_records(plan: _Plan):
    msgs = list(rows(plan.f.dir, "private_messages"))
    text_ids = Numbering()
    for m in msgs:
        text_ids(m["id"])
    return msgs, text_ids


def _pmtexts(plan: _Plan):
    msgs, text_ids = _pm_records(plan)
    names = plan.f.user_name
    for m in msgs:
        sender = num(m["sender_id"]) if m.get("sender_id") else 0
        rec = [num(r) for r in (m.get("recipient_ids") or "").split("|") if r]
        yield {"pmtextid": text_ids(m["id"]), "fromuserid": sender, "fromusername": names.get(sender, ""),
               "title": m.get("subject") or "", "message": m.get("text") or "",
               "touserarray": php_serialize({"cc": {r: names.get(r, "") for r in rec}}),
               "dateline": epoch(m.get("sent_at"))}


def _pms(plan: _Plan):
    """One ``pm`` row per copy: the sender's (folder -1, sent items) and each recipient's (folder 0);
    a reply's ``parentpmid`` is the replier's received copy of the message answered."""
    msgs, text_ids = _pm_records(plan)
    pmid = 0
    received: dict[tuple[int, int], int] = {}  # (pmtextid, user) -> pmid of that user's copy
    for m in msgs:
        tid = text_ids(m["id"])
        sender = num(m["sender_id"]) if m.get("sender_id") else 0
        parent_text = text_ids.ids.get(m.get("parent_id")) if m.get("parent_id") else None
        parent = received.get((parent_text, sender), 0) if parent_text else 0
        pmid += 1
        yield {"pmid": pmid, "pmtextid": tid, "userid": sender, "folderid": -1, "messageread": 1, "parentpmid": parent}
        for r in (m.get("recipient_ids") or "").split("|"):
            if not r:
                continue
            pmid += 1
            received[(tid, num(r))] = pmid
            yield {"pmid": pmid, "pmtextid": tid, "userid": num(r), "folderid": 0, "messageread": 1, "parentpmid": 0}


def _sessions(plan: _Plan):
    recent = sorted(plan.f.users, key=lambda u: u.get("last_seen_at") or "")[-5:]
    for u in recent:
        uid = num(u["id"])
        yield {"sessionhash": _md5(f"session{uid}"), "userid": uid, "host": fake_ip(uid), "idhash": _md5(f"id{uid}"),
               "lastactivity": epoch(u.get("last_seen_at")), "location": "/forum.php", "useragent": "Mozilla/5.0",
               "loggedin": 1}
