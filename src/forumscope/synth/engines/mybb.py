"""A synthetic forum as a MyBB 1.8 MySQL dump (``forumscope synth --as mybb``).

Tables and columns follow MyBB 1.8's install schema (``install/resources/mysql_db_tables.php``) for the
tables the mapping reads, plus ``sessions``. Posts keep their parent in ``replyto``; quotes are
``[quote='NAME' pid='N' dateline='T']``. Ranks are user titles (``usertitles``); staff ranks are the
staff groups' user titles. The post-count gate is a group reached by an enabled post-count promotion
that alone (with staff) may post in the board (``forumpermissions``); the staff-only board denies
posting to Registered. Thanks are written as +1 post reputation (``reputation``). IPs are ``VARBINARY(16)``.

Ids: ``u<n>`` -> uid ``n``, ``p<n>`` -> pid ``n``, ``t<n>`` -> tid ``n``; forums, user titles and groups:
``result["ids"]``.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Any, Iterator

from forumscope.sqldump.writer import MySQLDumpWriter, open_dump
from forumscope.synth.engines.common import Numbering, SynthForum, epoch, num, rows

FAKE_PASSWORD = "synthetic0fake0password0hash00000"
D = " NOT NULL default "
DDL: dict[str, str] = {
    "attachments": """(
  aid int unsigned NOT NULL auto_increment,
  pid int unsigned{D}'0',
  posthash varchar(50){D}'',
  uid int unsigned{D}'0',
  filename varchar(255){D}'',
  filetype varchar(120){D}'',
  filesize int(10){D}'0',
  attachname varchar(255){D}'',
  downloads int unsigned{D}'0',
  dateuploaded int unsigned{D}'0',
  visible tinyint(1){D}'0',
  thumbnail varchar(120){D}'',
  KEY pid (pid, visible),
  KEY uid (uid),
  PRIMARY KEY (aid)
)""",
    "forumpermissions": """(
  pid int unsigned NOT NULL auto_increment,
  fid int unsigned{D}'0',
  gid int unsigned{D}'0',
  canview tinyint(1){D}'0',
  canviewthreads tinyint(1){D}'0',
  canonlyviewownthreads tinyint(1){D}'0',
  candlattachments tinyint(1){D}'0',
  canpostthreads tinyint(1){D}'0',
  canpostreplys tinyint(1){D}'0',
  canonlyreplyownthreads tinyint(1){D}'0',
  canpostattachments tinyint(1){D}'0',
  canratethreads tinyint(1){D}'0',
  caneditposts tinyint(1){D}'0',
  candeleteposts tinyint(1){D}'0',
  candeletethreads tinyint(1){D}'0',
  caneditattachments tinyint(1){D}'0',
  canviewdeletionnotice tinyint(1){D}'0',
  modposts tinyint(1){D}'0',
  modthreads tinyint(1){D}'0',
  mod_edit_posts tinyint(1){D}'0',
  modattachments tinyint(1){D}'0',
  canpostpolls tinyint(1){D}'0',
  canvotepolls tinyint(1){D}'0',
  cansearch tinyint(1){D}'0',
  KEY fid (fid, gid),
  PRIMARY KEY (pid)
)""",
    "forums": """(
  fid smallint unsigned NOT NULL auto_increment,
  name varchar(120){D}'',
  description text NOT NULL,
  linkto varchar(180){D}'',
  type char(1){D}'',
  pid smallint unsigned{D}'0',
  parentlist text NOT NULL,
  disporder smallint unsigned{D}'0',
  active tinyint(1){D}'0',
  open tinyint(1){D}'0',
  threads int unsigned{D}'0',
  posts int unsigned{D}'0',
  lastpost int unsigned{D}'0',
  lastposter varchar(120){D}'',
  lastposteruid int unsigned{D}'0',
  lastposttid int unsigned{D}'0',
  lastpostsubject varchar(120){D}'',
  allowhtml tinyint(1){D}'0',
  allowmycode tinyint(1){D}'0',
  allowsmilies tinyint(1){D}'0',
  allowimgcode tinyint(1){D}'0',
  allowvideocode tinyint(1){D}'0',
  allowpicons tinyint(1){D}'0',
  allowtratings tinyint(1){D}'0',
  usepostcounts tinyint(1){D}'0',
  usethreadcounts tinyint(1){D}'0',
  requireprefix tinyint(1){D}'0',
  password varchar(50){D}'',
  showinjump tinyint(1){D}'0',
  style smallint unsigned{D}'0',
  overridestyle tinyint(1){D}'0',
  rulestype tinyint(1){D}'0',
  rulestitle varchar(200){D}'',
  rules text NOT NULL,
  unapprovedthreads int(10) unsigned{D}'0',
  unapprovedposts int(10) unsigned{D}'0',
  deletedthreads int(10) unsigned{D}'0',
  deletedposts int(10) unsigned{D}'0',
  defaultdatecut smallint(4) unsigned{D}'0',
  defaultsortby varchar(10){D}'',
  defaultsortorder varchar(4){D}'',
  PRIMARY KEY (fid)
)""",
    "posts": """(
  pid int unsigned NOT NULL auto_increment,
  tid int unsigned{D}'0',
  replyto int unsigned{D}'0',
  fid smallint unsigned{D}'0',
  subject varchar(120){D}'',
  icon smallint unsigned{D}'0',
  uid int unsigned{D}'0',
  username varchar(120){D}'',
  dateline int unsigned{D}'0',
  message text NOT NULL,
  ipaddress varbinary(16){D}'',
  includesig tinyint(1){D}'0',
  smilieoff tinyint(1){D}'0',
  edituid int unsigned{D}'0',
  edittime int unsigned{D}'0',
  editreason varchar(150){D}'',
  visible tinyint(1){D}'0',
  KEY tid (tid, uid),
  KEY uid (uid),
  KEY visible (visible),
  KEY dateline (dateline),
  KEY ipaddress (ipaddress),
  KEY tiddate (tid, dateline),
  PRIMARY KEY (pid)
)""",
    "privatemessages": """(
  pmid int unsigned NOT NULL auto_increment,
  uid int unsigned{D}'0',
  toid int unsigned{D}'0',
  fromid int unsigned{D}'0',
  recipients text NOT NULL,
  folder smallint unsigned{D}'1',
  subject varchar(120){D}'',
  icon smallint unsigned{D}'0',
  message text NOT NULL,
  dateline int unsigned{D}'0',
  deletetime int unsigned{D}'0',
  status tinyint(1){D}'0',
  statustime int unsigned{D}'0',
  includesig tinyint(1){D}'0',
  smilieoff tinyint(1){D}'0',
  receipt tinyint(1){D}'0',
  readtime int unsigned{D}'0',
  ipaddress varbinary(16){D}'',
  KEY uid (uid, folder),
  KEY toid (toid),
  PRIMARY KEY (pmid)
)""",
    "promotions": """(
  pid int unsigned NOT NULL auto_increment,
  title varchar(120){D}'',
  description text NOT NULL,
  enabled tinyint(1){D}'1',
  logging tinyint(1){D}'0',
  posts int NOT NULL default '0',
  posttype char(2){D}'',
  threads int NOT NULL default '0',
  threadtype char(2){D}'',
  registered int NOT NULL default '0',
  registeredtype varchar(20){D}'',
  online int NOT NULL default '0',
  onlinetype varchar(20){D}'',
  reputations int NOT NULL default '0',
  reputationtype char(2){D}'',
  referrals int NOT NULL default '0',
  referralstype char(2){D}'',
  warnings int NOT NULL default '0',
  warningstype char(2){D}'',
  requirements varchar(200){D}'',
  originalusergroup varchar(120){D}'0',
  newusergroup smallint unsigned{D}'0',
  usergrouptype varchar(120){D}'0',
  lastrun int unsigned{D}'0',
  PRIMARY KEY (pid)
)""",
    "reputation": """(
  rid int unsigned NOT NULL auto_increment,
  uid int unsigned{D}'0',
  adduid int unsigned{D}'0',
  pid int unsigned{D}'0',
  reputation smallint{D}'0',
  dateline int unsigned{D}'0',
  comments text NOT NULL,
  KEY uid (uid),
  PRIMARY KEY (rid)
)""",
    "sessions": """(
  sid varchar(32){D}'',
  uid int unsigned{D}'0',
  ip varbinary(16){D}'',
  time int unsigned{D}'0',
  location varchar(150){D}'',
  useragent varchar(200){D}'',
  anonymous tinyint(1){D}'0',
  nopermission tinyint(1){D}'0',
  location1 int(10) unsigned{D}'0',
  location2 int(10) unsigned{D}'0',
  PRIMARY KEY (sid),
  KEY location (location1, location2),
  KEY time (time),
  KEY uid (uid),
  KEY ip (ip)
)""",
    "settings": """(
  sid smallint unsigned NOT NULL auto_increment,
  name varchar(120){D}'',
  title varchar(120){D}'',
  description text NOT NULL,
  optionscode text NOT NULL,
  value text NOT NULL,
  disporder smallint unsigned{D}'0',
  gid smallint unsigned{D}'0',
  isdefault tinyint(1){D}'0',
  KEY gid (gid),
  PRIMARY KEY (sid)
)""",
    "threads": """(
  tid int unsigned NOT NULL auto_increment,
  fid smallint unsigned{D}'0',
  subject varchar(120){D}'',
  prefix smallint unsigned{D}'0',
  icon smallint unsigned{D}'0',
  poll int unsigned{D}'0',
  uid int unsigned{D}'0',
  username varchar(80){D}'',
  dateline int unsigned{D}'0',
  firstpost int unsigned{D}'0',
  lastpost int unsigned{D}'0',
  lastposter varchar(120){D}'',
  lastposteruid int unsigned{D}'0',
  views int(100) unsigned{D}'0',
  replies int(100) unsigned{D}'0',
  closed varchar(30){D}'',
  sticky tinyint(1){D}'0',
  numratings smallint unsigned{D}'0',
  totalratings smallint unsigned{D}'0',
  notes text NOT NULL,
  visible tinyint(1){D}'0',
  unapprovedposts int(10) unsigned{D}'0',
  deletedposts int(10) unsigned{D}'0',
  attachmentcount int(10) unsigned{D}'0',
  deletetime int(10) unsigned{D}'0',
  KEY fid (fid, visible, sticky),
  KEY dateline (dateline),
  KEY lastpost (lastpost, fid),
  KEY firstpost (firstpost),
  KEY uid (uid),
  PRIMARY KEY (tid)
)""",
    "usergroups": """(
  gid smallint unsigned NOT NULL auto_increment,
  type tinyint(1) unsigned{D}'2',
  title varchar(120){D}'',
  description text NOT NULL,
  namestyle varchar(200){D}'{username}',
  usertitle varchar(120){D}'',
  stars smallint(4) unsigned{D}'0',
  starimage varchar(120){D}'',
  image varchar(120){D}'',
  disporder smallint(6) unsigned{D}'0',
  isbannedgroup tinyint(1){D}'0',
  canview tinyint(1){D}'0',
  canviewthreads tinyint(1){D}'0',
  canviewprofiles tinyint(1){D}'0',
  candlattachments tinyint(1){D}'0',
  canviewboardclosed tinyint(1){D}'0',
  canpostthreads tinyint(1){D}'0',
  canpostreplys tinyint(1){D}'0',
  canpostattachments tinyint(1){D}'0',
  canratethreads tinyint(1){D}'0',
  modposts tinyint(1){D}'0',
  modthreads tinyint(1){D}'0',
  caneditposts tinyint(1){D}'0',
  candeleteposts tinyint(1){D}'0',
  candeletethreads tinyint(1){D}'0',
  canusepms tinyint(1){D}'0',
  cansendpms tinyint(1){D}'0',
  cangivereputations tinyint(1){D}'0',
  cansearch tinyint(1){D}'0',
  canmodcp tinyint(1){D}'0',
  cancp tinyint(1){D}'0',
  issupermod tinyint(1){D}'0',
  PRIMARY KEY (gid)
)""",
    "users": """(
  uid int unsigned NOT NULL auto_increment,
  username varchar(120){D}'',
  password varchar(500){D}'',
  salt varchar(10){D}'',
  loginkey varchar(50){D}'',
  email varchar(220){D}'',
  postnum int(10) unsigned{D}'0',
  threadnum int(10) unsigned{D}'0',
  avatar varchar(200){D}'',
  usergroup smallint unsigned{D}'0',
  additionalgroups varchar(200){D}'',
  displaygroup smallint unsigned{D}'0',
  usertitle varchar(250){D}'',
  regdate int unsigned{D}'0',
  lastactive int unsigned{D}'0',
  lastvisit int unsigned{D}'0',
  lastpost int unsigned{D}'0',
  website varchar(200){D}'',
  birthday varchar(15){D}'',
  signature text NOT NULL,
  timezone varchar(5){D}'',
  language varchar(50){D}'',
  reputation int{D}'0',
  regip varbinary(16){D}'',
  lastip varbinary(16){D}'',
  timeonline int unsigned{D}'0',
  totalpms int(10) unsigned{D}'0',
  unreadpms int(10) unsigned{D}'0',
  warningpoints int(3) unsigned{D}'0',
  loginattempts smallint(2) unsigned{D}'1',
  usernotes text NOT NULL,
  UNIQUE KEY username (username),
  KEY usergroup (usergroup),
  KEY regip (regip),
  KEY lastip (lastip),
  PRIMARY KEY (uid)
)""",
    "usertitles": """(
  utid smallint unsigned NOT NULL auto_increment,
  posts int unsigned{D}'0',
  title varchar(250){D}'',
  stars smallint(4) unsigned{D}'0',
  starimage varchar(120){D}'',
  PRIMARY KEY (utid)
)""",
}
# MyBB's default groups: gid, type, title, usertitle, stars, canview, canviewthreads, canpostthreads, canpostreplys,
# canmodcp, cancp, issupermod, isbannedgroup
DEFAULT_GROUPS = [
    (1, "Guests", "Unregistered", 0, 1, 1, 0, 0, 0, 0, 0, 0),
    (2, "Registered", "", 0, 1, 1, 1, 1, 0, 0, 0, 0),
    (3, "Super Moderators", "Super Moderator", 6, 1, 1, 1, 1, 1, 0, 1, 0),
    (4, "Administrators", "Administrator", 7, 1, 1, 1, 1, 1, 1, 1, 0),
    (5, "Awaiting Activation", "", 0, 1, 1, 0, 0, 0, 0, 0, 0),
    (6, "Moderators", "Moderator", 5, 1, 1, 1, 1, 1, 0, 0, 0),
    (7, "Banned", "Banned", 0, 0, 0, 0, 0, 0, 0, 0, 1),
]


def create_statement(table: str, prefix: str = "mybb_") -> str:
    return f"CREATE TABLE `{prefix}{table}` " + DDL[table].replace("{D}", D) + " ENGINE=InnoDB DEFAULT CHARSET=utf8mb4"


def _columns(table: str) -> list[str]:
    import re

    return [m.group(1) for m in re.finditer(r"^\s*(\w+) \w", DDL[table], re.M)
            if m.group(1) not in ("PRIMARY", "UNIQUE", "KEY", "INDEX")]


def _ip(n: int) -> bytes:
    return ipaddress.IPv4Address(f"10.{(n >> 16) & 255}.{(n >> 8) & 255}.{n & 255}").packed


def _group_row(gid: int, gtype: int, title: str, desc: str, usertitle: str, stars: int, view: int, viewthreads: int,
               threads: int, replies: int, modcp: int, cp: int, supermod: int, banned: int) -> tuple:
    return (gid, gtype, title, desc, "{username}", usertitle, stars, "images/star.png" if stars else "", "", gid,
            banned, view, viewthreads, view, view, 0, threads, replies, replies, replies, 0, 0, replies, replies,
            replies, 1, 1, replies, view, modcp, cp, supermod)


def write_dump(forum_dir: Path, out_path: Path, *, prefix: str = "mybb_") -> dict[str, Any]:
    f = SynthForum(forum_dir)
    forums = Numbering()
    for b in f.boards:
        forums(b["id"])
    titles = Numbering()
    for r in sorted((r for r in f.ranks if not r.get("is_special")), key=lambda r: r.get("min_posts") or 0):
        titles(r["id"])
    group_ids: dict[str, int] = {}
    next_gid = 8
    for g in f.groups:
        kind = g.get("kind")
        gid = {"admin": 4, "moderator": 3, "member": 2}.get(kind)
        if gid is None:
            gid, next_gid = next_gid, next_gid + 1
        group_ids[g["id"]] = gid
    gate_groups: dict[str, tuple[int, int]] = {}
    for b in f.boards:
        if b.get("min_posts") is not None:
            gate_groups[b["id"]] = (next_gid, int(b["min_posts"]))
            next_gid += 1
    rank_ids: dict[str, Any] = {r: titles(r) for r in titles.ids}
    for r in f.ranks:
        if r.get("is_special"):
            rank_ids[r["id"]] = "g4" if "admin" in r["id"] else "g3"
    primary = {m["user_id"]: m["group_id"] for m in f.memberships if m.get("is_primary")}
    extra: dict[str, list[int]] = {}
    for m in f.memberships:
        g = group_ids.get(m["group_id"], 2)
        if not m.get("is_primary") and g != 2:
            extra.setdefault(m["user_id"], []).append(g)
    for bid, (gid, mn) in gate_groups.items():
        for u in f.users:
            if int(u.get("post_count_reported") or 0) >= mn:
                extra.setdefault(u["id"], []).append(gid)
    topics = {num(t["id"]): t for t in rows(forum_dir, "threads")}
    rep_total: dict[int, int] = {}
    for i in f.thanks:
        t = num(i["target_user_id"]) if i.get("target_user_id") else 0
        rep_total[t] = rep_total.get(t, 0) + 1
    counts: dict[str, int] = {}

    with open_dump(out_path, "wt") as fh:
        w = MySQLDumpWriter(fh, database="mybb")
        w.header()

        def table(name: str, data) -> None:  # noqa: ANN001
            w.create_table(prefix + name, create_statement(name, prefix))
            counts[name] = w.insert(prefix + name, _columns(name), data)

        table("attachments", [
            (num(a["id"]), num(a["post_id"]) if a.get("post_id") else 0, "", num(a["user_id"]) if a.get("user_id") else 0,
             a.get("file_name") or "", a.get("declared_type") or "", int(a.get("size_bytes") or 0),
             f"{epoch(a.get('created_at'))}/post_{a['id']}.attach", num(a["id"]) % 40, epoch(a.get("created_at")), 1, "")
            for a in rows(forum_dir, "attachments")])
        fperm = []
        n = 0
        ordinary = [2] + sorted({g for g in group_ids.values() if g > 7} | {g for g, _ in gate_groups.values()})
        for b in f.boards:
            fid = forums(b["id"])
            if b["id"] in gate_groups or b.get("required_group_ids"):
                allowed = gate_groups[b["id"]][0] if b["id"] in gate_groups else None
                for gid in ordinary:  # every non-staff group must be denied: MyBB takes the most permissive group
                    n += 1
                    can = 1 if gid == allowed else 0
                    fperm.append((n, fid, gid, 1, 1, 0, 1, can, can, 0, can, 1, can, can, 0, can, 1, 0, 0, 0, 0, can,
                                  1, 1))
        table("forumpermissions", fperm)

        def forum_rows() -> Iterator[tuple]:
            for i, b in enumerate(f.boards):
                parent = b.get("parent_id")
                is_cat = b.get("description") == "category" or not parent
                fid = forums(b["id"])
                plist = f"{forums(parent)},{fid}" if parent else str(fid)
                yield (fid, b.get("name") or "", b.get("description") or "", "", "c" if is_cat else "f",
                       forums(parent) if parent else 0, plist, i + 1, 1, 0 if b.get("closed_at") else 1, 0, 0, 0, "", 0,
                       0, "", 0, 1, 1, 1, 1, 1, 1, 1, 1, 0, "", 1, 0, 0, 0, "", "", 0, 0, 0, 0, 0, "", "")

        table("forums", forum_rows())
        last: dict[int, tuple[int, int, int, str]] = {}
        nposts: dict[int, int] = {}

        def posts() -> Iterator[tuple]:
            for p in f.posts():
                pid = num(p["id"])
                t = num(p["thread_id"]) if p.get("thread_id") else 0
                a = num(p["author_id"]) if p.get("author_id") else 0
                name = f.user_name.get(a, "Guest")
                text = p.get("text") or ""
                q = f.quoted.get(pid)
                if q:
                    qa = int(f.post_author[q])
                    text = (f"[quote='{f.user_name.get(qa, 'Guest')}' pid='{q}' dateline='{int(f.post_time[q])}']"
                            f"{f.excerpt(q)}[/quote]\n{text}")
                title = topics.get(t, {}).get("title") or ""
                parent = num(p["parent_id"]) if p.get("parent_id") else 0
                nposts[t] = nposts.get(t, 0) + 1
                pt = epoch(p.get("created_at"))
                last[t] = (pid, a, pt, name)
                yield (pid, t, parent, forums(p.get("board_id")), p.get("title") or ("RE: " + title)[:120], 0, a, name, pt,
                       text, _ip(a), 1, 0, 0, epoch(p.get("edited_at")), "", -1 if p.get("is_deleted") else 1)

        table("posts", posts())
        pm_rows, pm_ids = [], {}
        for m in rows(forum_dir, "private_messages"):
            sender = num(m["sender_id"]) if m.get("sender_id") else 0
            rcpts = [num(r) for r in (m.get("recipient_ids") or "").split("|") if r]
            serial = "a:1:{s:2:\"to\";a:%d:{%s}}" % (len(rcpts), "".join(f"i:{i};s:{len(str(r))}:\"{r}\";"
                                                                         for i, r in enumerate(rcpts)))
            # one copy in the sender's sent items (folder 2), one in each recipient's inbox (folder 1)
            for owner, to, folder in [(sender, rcpts[0] if rcpts else 0, 2)] + [(r, r, 1) for r in rcpts]:
                pm_rows.append((len(pm_rows) + 1, owner, to, sender, serial, folder, m.get("subject") or "", 0,
                                m.get("text") or "", epoch(m.get("sent_at")), 0, 1, 0, 0, 0, 0, 0, _ip(sender)))
                if folder == 1:
                    pm_ids.setdefault(m["id"], []).append(len(pm_rows))
        table("privatemessages", pm_rows)
        table("promotions", [(i + 1, f"{f.boards_by_id[b].get('name')} members", "", 1, 0, mn, ">=", 0, ">", 0, "hours",
                              0, "hours", 0, ">", 0, ">", 0, ">", "postcount", "2", gid, "secondary", 0)
                             for i, (b, (gid, mn)) in enumerate(gate_groups.items())])
        table("reputation", [
            (i + 1, num(r["target_user_id"]) if r.get("target_user_id") else 0, num(r["source_user_id"]),
             num(r["target_post_id"]) if r.get("target_post_id") else 0, 1, epoch(r.get("created_at")), "")
            for i, r in enumerate(f.thanks)])
        table("sessions", [(f"{i:032x}", 0, _ip(900_000 + i), 0, "/index.php", "Mozilla/5.0 (synthetic)", 0, 0, 0, 0)
                           for i in range(3)])
        table("settings", [(1, "bbname", "Board Name", "", "text", f.forum.get("name") or "", 1, 1, 1),
                           (2, "bburl", "Board URL", "", "text", "http://synthetic.invalid", 2, 1, 1)])
        table("threads", [
            (t, forums(th.get("board_id")), (th.get("title") or "")[:120], 0, 0, 0,
             num(th["author_id"]) if th.get("author_id") else 0, f.user_name.get(num(th["author_id"]), "") if th.get("author_id") else "",
             epoch(th.get("created_at")), num(th["first_post_id"]) if th.get("first_post_id") else 0,
             last.get(t, (0, 0, 0, ""))[2], last.get(t, (0, 0, 0, ""))[3], last.get(t, (0, 0, 0, ""))[1],
             (t * 37) % 500 + nposts.get(t, 0), max(0, nposts.get(t, 0) - 1), "1" if th.get("is_locked") else "",
             1 if th.get("is_sticky") else 0, 0, 0, "", 1, 0, 0, 0, 0) for t, th in topics.items()])
        groups = [_group_row(gid, 1, title, "", ut, st, v, vt, pt, pr, mcp, cp, sm, ban)
                  for gid, title, ut, st, v, vt, pt, pr, mcp, cp, sm, ban in DEFAULT_GROUPS]
        for g in f.groups:
            gid = group_ids[g["id"]]
            if gid > 7:
                groups.append(_group_row(gid, 2, g.get("name") or "", g.get("description") or "", "", 0, 1, 1, 1, 1,
                                         0, 0, 0, 0))
        for b, (gid, mn) in gate_groups.items():
            groups.append(_group_row(gid, 2, f"{f.boards_by_id[b].get('name')} members",
                                     f"promoted at {mn} posts", "", 0, 1, 1, 1, 1, 0, 0, 0, 0))
        table("usergroups", groups)

        def users() -> Iterator[tuple]:
            for u in f.users:
                n = num(u["id"])
                g = group_ids.get(primary.get(u["id"], ""), 2)
                tz = u.get("timezone_declared")
                yield (n, u.get("name") or f"user{n}", FAKE_PASSWORD, "salt0", "loginkey-fake", f"user{n}@example.invalid",
                       int(u.get("post_count_reported") or 0), 0, "", g, ",".join(str(x) for x in extra.get(u["id"], [])),
                       0, "", epoch(u.get("registered_at")), epoch(u.get("last_seen_at")), epoch(u.get("last_seen_at")),
                       0, "", "", "", "0" if tz else "", u.get("language") or "", rep_total.get(n, 0), _ip(n), _ip(n), 0,
                       0, 0, 0, 1, "")

        table("users", users())
        table("usertitles", [(titles(r["id"]), int(r.get("min_posts") or 0), r.get("name") or "", 1, "star.png")
                             for r in sorted((r for r in f.ranks if r["id"] in titles.ids),
                                             key=lambda r: r.get("min_posts") or 0)])
        w.footer()
    ids = {"user_offset": 0, "boards": dict(forums.ids), "ranks": rank_ids, "groups": group_ids,
           "gate_groups": {b: g for b, (g, _) in gate_groups.items()}, "private_messages": pm_ids}
    return {"engine": "mybb", "path": str(out_path), "tables": counts, "ids": ids, "prefix": prefix}
