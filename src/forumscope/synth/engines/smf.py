"""A synthetic forum as an SMF 2.1 MySQL dump (``forumscope synth --as smf``).

Tables and columns follow SMF 2.1's install schema (``other/install_2-1_mysql.sql``) for the tables the
mapping reads, plus ``sessions``. Text is stored the way SMF stores it: HTML-escaped BBCode with
``<br />`` line breaks; quotes as ``[quote author=NAME link=msg=N date=T]``. Ranks are post-count
membergroups; the post-count gate is a board whose ``member_groups`` lists only the post groups at or
above the threshold (and global moderators); the staff-only board uses the read-only permission profile
(4), where regular members may not post. Thanks are likes (``user_likes``). IPs are ``VARBINARY(16)``.

Ids: ``u<n>`` -> member ``n``, ``p<n>`` -> message ``n``, ``t<n>`` -> topic ``n``; boards, categories,
ranks (post groups) and groups: ``result["ids"]``.
"""

from __future__ import annotations

import hashlib
import html
import ipaddress
from pathlib import Path
from typing import Any, Iterator

from forumscope.sqldump.writer import MySQLDumpWriter, open_dump
from forumscope.synth.engines.common import Numbering, SynthForum, epoch, num, rows

FAKE_PASSWORD = "0000000000synthetic0fake0password0000000"
D = " NOT NULL default "
DDL: dict[str, str] = {
    "attachments": """(
  id_attach int(10) unsigned NOT NULL auto_increment,
  id_thumb int(10) unsigned{D}'0',
  id_msg int(10) unsigned{D}'0',
  id_member mediumint(8) unsigned{D}'0',
  id_folder tinyint(3){D}'1',
  attachment_type tinyint(3) unsigned{D}'0',
  filename varchar(255){D}'',
  file_hash varchar(40){D}'',
  fileext varchar(8){D}'',
  size int(10) unsigned{D}'0',
  downloads mediumint(8) unsigned{D}'0',
  width mediumint(8) unsigned{D}'0',
  height mediumint(8) unsigned{D}'0',
  mime_type varchar(128){D}'',
  approved tinyint(3){D}'1',
  PRIMARY KEY (id_attach),
  UNIQUE KEY idx_id_member (id_member, id_attach),
  KEY idx_id_msg (id_msg),
  KEY idx_attachment_type (attachment_type)
)""",
    "board_permissions": """(
  id_group smallint(5){D}'0',
  id_profile smallint(5) unsigned{D}'0',
  permission varchar(30){D}'',
  add_deny tinyint(4){D}'1',
  PRIMARY KEY (id_group, id_profile, permission)
)""",
    "boards": """(
  id_board smallint(5) unsigned NOT NULL auto_increment,
  id_cat tinyint(4) unsigned{D}'0',
  child_level tinyint(4) unsigned{D}'0',
  id_parent smallint(5) unsigned{D}'0',
  board_order smallint(5){D}'0',
  id_last_msg int(10) unsigned{D}'0',
  id_msg_updated int(10) unsigned{D}'0',
  member_groups varchar(255){D}'-1,0',
  id_profile smallint(5) unsigned{D}'1',
  name varchar(255){D}'',
  description text NOT NULL,
  num_topics mediumint(8) unsigned{D}'0',
  num_posts mediumint(8) unsigned{D}'0',
  count_posts tinyint(4){D}'0',
  id_theme tinyint(4) unsigned{D}'0',
  override_theme tinyint(4) unsigned{D}'0',
  unapproved_posts smallint(5){D}'0',
  unapproved_topics smallint(5){D}'0',
  redirect varchar(255){D}'',
  deny_member_groups varchar(255){D}'',
  PRIMARY KEY (id_board),
  UNIQUE KEY idx_categories (id_cat, id_board),
  KEY idx_id_parent (id_parent),
  KEY idx_id_msg_updated (id_msg_updated),
  KEY idx_member_groups (member_groups(48))
)""",
    "categories": """(
  id_cat tinyint(4) unsigned NOT NULL auto_increment,
  cat_order tinyint(4){D}'0',
  name varchar(255){D}'',
  description text NOT NULL,
  can_collapse tinyint(1){D}'1',
  PRIMARY KEY (id_cat)
)""",
    "membergroups": """(
  id_group smallint(5) unsigned NOT NULL auto_increment,
  group_name varchar(80){D}'',
  description text NOT NULL,
  online_color varchar(20){D}'',
  min_posts mediumint(9){D}'-1',
  max_messages smallint(5) unsigned{D}'0',
  icons varchar(255){D}'',
  group_type tinyint(3){D}'0',
  hidden tinyint(3){D}'0',
  id_parent smallint(5){D}'-2',
  tfa_required tinyint(3){D}'0',
  PRIMARY KEY (id_group),
  KEY idx_min_posts (min_posts)
)""",
    "members": """(
  id_member mediumint(8) unsigned NOT NULL auto_increment,
  member_name varchar(80){D}'',
  date_registered int(10) unsigned{D}'0',
  posts mediumint(8) unsigned{D}'0',
  id_group smallint(5) unsigned{D}'0',
  lngfile varchar(255){D}'',
  last_login int(10) unsigned{D}'0',
  real_name varchar(255){D}'',
  instant_messages smallint(5){D}'0',
  unread_messages smallint(5){D}'0',
  new_pm tinyint(3) unsigned{D}'0',
  alerts int(10) unsigned{D}'0',
  buddy_list text NOT NULL,
  pm_ignore_list text NULL,
  pm_prefs mediumint(8){D}'0',
  mod_prefs varchar(20){D}'',
  passwd varchar(64){D}'',
  email_address varchar(255){D}'',
  personal_text varchar(255){D}'',
  birthdate date{D}'1004-01-01',
  website_title varchar(255){D}'',
  website_url varchar(255){D}'',
  show_online tinyint(4){D}'1',
  time_format varchar(80){D}'',
  signature text NOT NULL,
  time_offset float{D}'0',
  avatar varchar(255){D}'',
  usertitle varchar(255){D}'',
  member_ip varbinary(16) NULL,
  member_ip2 varbinary(16) NULL,
  secret_question varchar(255){D}'',
  secret_answer varchar(64){D}'',
  id_theme tinyint(4) unsigned{D}'0',
  is_activated tinyint(3) unsigned{D}'1',
  validation_code varchar(10){D}'',
  id_msg_last_visit int(10) unsigned{D}'0',
  additional_groups varchar(255){D}'',
  smiley_set varchar(48){D}'',
  id_post_group smallint(5) unsigned{D}'0',
  total_time_logged_in int(10) unsigned{D}'0',
  password_salt varchar(255){D}'',
  ignore_boards text NOT NULL,
  warning tinyint(4){D}'0',
  passwd_flood varchar(12){D}'',
  pm_receive_from tinyint(4) unsigned{D}'1',
  timezone varchar(80){D}'',
  tfa_secret varchar(24){D}'',
  tfa_backup varchar(64){D}'',
  PRIMARY KEY (id_member),
  KEY idx_member_name (member_name),
  KEY idx_real_name (real_name),
  KEY idx_email_address (email_address),
  KEY idx_date_registered (date_registered),
  KEY idx_id_group (id_group),
  KEY idx_posts (posts),
  KEY idx_id_post_group (id_post_group)
)""",
    "messages": """(
  id_msg int(10) unsigned NOT NULL auto_increment,
  id_topic mediumint(8) unsigned{D}'0',
  id_board smallint(5) unsigned{D}'0',
  poster_time int(10) unsigned{D}'0',
  id_member mediumint(8) unsigned{D}'0',
  id_msg_modified int(10) unsigned{D}'0',
  subject varchar(255){D}'',
  poster_name varchar(255){D}'',
  poster_email varchar(255){D}'',
  poster_ip varbinary(16) NULL,
  smileys_enabled tinyint(4){D}'1',
  modified_time int(10) unsigned{D}'0',
  modified_name varchar(255){D}'',
  modified_reason varchar(255){D}'',
  body text NOT NULL,
  icon varchar(16){D}'xx',
  approved tinyint(3){D}'1',
  likes smallint(5) unsigned{D}'0',
  PRIMARY KEY (id_msg),
  UNIQUE KEY idx_id_board (id_board, id_msg),
  UNIQUE KEY idx_id_member (id_member, id_msg),
  KEY idx_approved (approved),
  KEY idx_ip_index (poster_ip, id_topic),
  KEY idx_participation (id_member, id_topic),
  KEY idx_show_posts (id_member, id_board),
  KEY idx_id_member_msg (id_member, approved, id_msg),
  KEY idx_current_topic (id_topic, id_msg, id_member, approved),
  KEY idx_related_ip (id_member, poster_ip, id_msg),
  KEY idx_likes (likes)
)""",
    "personal_messages": """(
  id_pm int(10) unsigned NOT NULL auto_increment,
  id_pm_head int(10) unsigned{D}'0',
  id_member_from mediumint(8) unsigned{D}'0',
  deleted_by_sender tinyint(3) unsigned{D}'0',
  from_name varchar(255){D}'',
  msgtime int(10) unsigned{D}'0',
  subject varchar(255){D}'',
  body text NOT NULL,
  PRIMARY KEY (id_pm),
  KEY idx_id_member (id_member_from, deleted_by_sender),
  KEY idx_msgtime (msgtime),
  KEY idx_id_pm_head (id_pm_head)
)""",
    "pm_recipients": """(
  id_pm int(10) unsigned{D}'0',
  id_member mediumint(8) unsigned{D}'0',
  bcc tinyint(3) unsigned{D}'0',
  is_read tinyint(3) unsigned{D}'0',
  is_new tinyint(3) unsigned{D}'0',
  deleted tinyint(3) unsigned{D}'0',
  in_inbox tinyint(3){D}'1',
  PRIMARY KEY (id_pm, id_member),
  UNIQUE KEY idx_id_member (id_member, deleted, id_pm)
)""",
    "sessions": """(
  session_id varchar(128){D}'',
  last_update int(10) unsigned{D}'0',
  data text NOT NULL,
  PRIMARY KEY (session_id)
)""",
    "settings": """(
  variable varchar(255){D}'',
  value text NOT NULL,
  PRIMARY KEY (variable(30))
)""",
    "topics": """(
  id_topic mediumint(8) unsigned NOT NULL auto_increment,
  is_sticky tinyint(4){D}'0',
  id_board smallint(5) unsigned{D}'0',
  id_first_msg int(10) unsigned{D}'0',
  id_last_msg int(10) unsigned{D}'0',
  id_member_started mediumint(8) unsigned{D}'0',
  id_member_updated mediumint(8) unsigned{D}'0',
  id_poll mediumint(8) unsigned{D}'0',
  id_previous_board smallint(5){D}'0',
  id_previous_topic mediumint(8){D}'0',
  num_replies int(10) unsigned{D}'0',
  num_views int(10) unsigned{D}'0',
  locked tinyint(4){D}'0',
  redirect_expires int(10) unsigned{D}'0',
  id_redirect_topic mediumint(8) unsigned{D}'0',
  unapproved_posts smallint(5){D}'0',
  approved tinyint(3){D}'1',
  PRIMARY KEY (id_topic),
  UNIQUE KEY idx_last_message (id_last_msg, id_board),
  UNIQUE KEY idx_first_message (id_first_msg, id_board),
  UNIQUE KEY idx_poll (id_poll, id_topic),
  KEY idx_is_sticky (is_sticky),
  KEY idx_approved (approved),
  KEY idx_member_started (id_member_started, id_board),
  KEY idx_last_message_sticky (id_board, is_sticky, id_last_msg),
  KEY idx_board_news (id_board, id_first_msg)
)""",
    "user_likes": """(
  id_member mediumint(8) unsigned{D}'0',
  content_type char(6){D}'',
  content_id int(10) unsigned{D}'0',
  like_time int(10) unsigned{D}'0',
  PRIMARY KEY (content_id, content_type, id_member),
  INDEX idx_content (content_id, content_type),
  INDEX idx_liker (id_member)
)""",
}
POST_PERMS = ["post_new", "post_reply_any", "post_reply_own", "post_attachment", "poll_post", "poll_vote"]
READ_PERMS = ["poll_view", "view_attachments", "report_any", "mark_notify"]


def create_statement(table: str, prefix: str = "smf_") -> str:
    return f"CREATE TABLE `{prefix}{table}` " + DDL[table].replace("{D}", D) + " ENGINE=InnoDB DEFAULT CHARSET=utf8mb4"


def _columns(table: str) -> list[str]:
    import re

    return [m.group(1) for m in re.finditer(r"^\s*(\w+) \w", DDL[table], re.M)
            if m.group(1) not in ("PRIMARY", "UNIQUE", "KEY", "INDEX")]


def _h(text: str) -> str:
    """SMF stores text HTML-escaped (htmlspecialchars with ENT_QUOTES) and line breaks as <br />."""
    return html.escape(text, quote=True).replace("&#x27;", "&#039;").replace("\n", "<br />")


def _ip(n: int) -> bytes:
    return ipaddress.IPv4Address(f"10.{(n >> 16) & 255}.{(n >> 8) & 255}.{n & 255}").packed


def write_dump(forum_dir: Path, out_path: Path, *, prefix: str = "smf_") -> dict[str, Any]:
    f = SynthForum(forum_dir)
    cats = Numbering()
    boards = Numbering()
    for b in f.boards:
        (cats if b.get("description") == "category" or not b.get("parent_id") else boards)(b["id"])
    # post-count groups from the rank ladder; staff ranks are the staff groups' titles
    post_groups: dict[str, int] = {}
    gid = 4
    for r in sorted((r for r in f.ranks if not r.get("is_special")), key=lambda r: r.get("min_posts") or 0):
        post_groups[r["id"]] = gid
        gid += 1
    group_ids: dict[str, int] = {}
    for g in f.groups:
        kind = g.get("kind")
        if kind == "admin":
            group_ids[g["id"]] = 1
        elif kind == "moderator":
            group_ids[g["id"]] = 2
        elif kind == "member":
            group_ids[g["id"]] = 0
        else:
            group_ids[g["id"]] = gid
            gid += 1
    rank_ids = dict(post_groups)
    for r in f.ranks:
        if r.get("is_special"):
            rank_ids[r["id"]] = 1 if "admin" in r["id"] else 2
    ladder = sorted(((int(r.get("min_posts") or 0), post_groups[r["id"]]) for r in f.ranks if r["id"] in post_groups))

    def post_group(posts: int) -> int:
        best = ladder[0][1] if ladder else 0
        for mn, g in ladder:
            if posts >= mn:
                best = g
        return best

    primary = {m["user_id"]: m["group_id"] for m in f.memberships if m.get("is_primary")}
    extra_groups: dict[str, list[int]] = {}
    for m in f.memberships:
        g = group_ids.get(m["group_id"], 0)
        if not m.get("is_primary") and g not in (0,):
            extra_groups.setdefault(m["user_id"], []).append(g)
    topics = {num(t["id"]): t for t in rows(forum_dir, "threads")}
    counts: dict[str, int] = {}
    likes_per_post: dict[int, int] = {}
    for i in f.thanks:
        n = num(i["target_post_id"])
        likes_per_post[n] = likes_per_post.get(n, 0) + 1

    with open_dump(out_path, "wt") as fh:
        w = MySQLDumpWriter(fh, database="smf")
        w.header()

        def table(name: str, data) -> None:  # noqa: ANN001
            w.create_table(prefix + name, create_statement(name, prefix))
            counts[name] = w.insert(prefix + name, _columns(name), data)

        post_topic: dict[int, int] = {}
        atts = list(rows(forum_dir, "attachments"))
        if atts:
            wanted = {num(a["post_id"]) for a in atts if a.get("post_id")}
            for p in rows(forum_dir, "posts"):
                if num(p["id"]) in wanted and p.get("thread_id"):
                    post_topic[num(p["id"])] = num(p["thread_id"])
        table("attachments", [
            (num(a["id"]), 0, num(a["post_id"]) if a.get("post_id") else 0, num(a["user_id"]) if a.get("user_id") else 0,
             1, 0, _h(a.get("file_name") or ""), hashlib.sha1((a.get("file_name") or "").encode()).hexdigest(),
             (a.get("file_name") or "").rsplit(".", 1)[-1][:8], int(a.get("size_bytes") or 0), num(a["id"]) % 40, 0, 0,
             a.get("declared_type") or "", 1) for a in atts])
        perms = []
        for prof in (1, 4):
            perms += [(-1, prof, p, 1) for p in ["poll_view"]]
            perms += [(0, prof, p, 1) for p in (READ_PERMS + (POST_PERMS if prof == 1 else []))]
            perms += [(g, prof, p, 1) for g in (2, 3) for p in READ_PERMS + POST_PERMS + ["moderate_board"]]
        table("board_permissions", sorted(set(perms)))

        def board_rows() -> Iterator[tuple]:
            order = 0
            for b in f.boards:
                if b["id"] in cats.ids:
                    continue
                order += 1
                parent = b.get("parent_id")
                cat = cats(parent) if parent in cats.ids else cats(f.boards_by_id.get(parent, {}).get("parent_id"))
                member_groups, profile = "-1,0,2", 1
                if b.get("min_posts") is not None:
                    member_groups = ",".join(["2"] + [str(g) for mn, g in ladder if mn >= int(b["min_posts"])])
                elif b.get("required_group_ids"):
                    profile = 4
                yield (boards(b["id"]), cat, 0 if parent in cats.ids else 1,
                       0 if parent in cats.ids else boards(parent), order, 0, 0, member_groups, profile,
                       _h(b.get("name") or ""), _h(b.get("description") or ""), 0, 0, 0, 0, 0, 0, 0, "", "")

        table("boards", board_rows())
        table("categories", [(cats(b["id"]), i, _h(b.get("name") or ""), "", 1)
                             for i, b in enumerate(b for b in f.boards if b["id"] in cats.ids)])
        groups = [(1, "Administrator", "", "#FF0000", -1, 0, "5#iconadmin.png", 1, 0, -2, 0),
                  (2, "Global Moderator", "", "#0000FF", -1, 0, "5#icongmod.png", 0, 0, -2, 0),
                  (3, "Moderator", "", "", -1, 0, "5#iconmod.png", 0, 0, -2, 0)]
        for r in f.ranks:
            if r["id"] in post_groups:
                groups.append((post_groups[r["id"]], _h(r.get("name") or ""), "", "", int(r.get("min_posts") or 0), 0,
                               "1#icon.png", 0, 0, -2, 0))
        for g in f.groups:
            if group_ids[g["id"]] > 3:
                groups.append((group_ids[g["id"]], _h(g.get("name") or ""), _h(g.get("description") or ""), "", -1, 0,
                               "", 1, 0, -2, 0))
        table("membergroups", sorted(groups))

        def members() -> Iterator[tuple]:
            for u in f.users:
                n = num(u["id"])
                posts = int(u.get("post_count_reported") or 0)
                g = group_ids.get(primary.get(u["id"], ""), 0)
                yield (n, _h(u.get("name") or f"user{n}"), epoch(u.get("registered_at")), posts, g, "english",
                       epoch(u.get("last_seen_at")), _h(u.get("name") or f"user{n}"), 0, 0, 0, 0, "", "", 0, "",
                       FAKE_PASSWORD, f"user{n}@example.invalid", "", "1004-01-01", "", "", 1, "", "", 0, "", "",
                       _ip(n), _ip(n), "", "", 0, 1, "", 0, ",".join(str(x) for x in extra_groups.get(u["id"], [])),
                       "", post_group(posts), 0, "synthsalt", "", 0, "", 1, u.get("timezone_declared") or "", "", "")

        table("members", members())
        last: dict[int, tuple[int, int]] = {}
        nposts: dict[int, int] = {}
        firsts: dict[int, int] = {}

        def messages() -> Iterator[tuple]:
            for p in f.posts():
                n = num(p["id"])
                t = num(p["thread_id"]) if p.get("thread_id") else 0
                a = num(p["author_id"]) if p.get("author_id") else 0
                name = f.user_name.get(a, "Guest")
                body = _h(p.get("text") or "")
                q = f.quoted.get(n)
                if q:
                    qa = int(f.post_author[q])
                    body = (f"[quote author={_h(f.user_name.get(qa, 'Guest'))} link=msg={q} date={int(f.post_time[q])}]"
                            f"{_h(f.excerpt(q))}[/quote]<br />{body}")
                title = topics.get(t, {}).get("title") or ""
                subject = p.get("title") or ("Re: " + title)
                nposts[t] = nposts.get(t, 0) + 1
                firsts.setdefault(t, n)
                last[t] = (n, a)
                yield (n, t, boards(p.get("board_id")), epoch(p.get("created_at")), a, n, _h(subject), _h(name),
                       f"user{a}@example.invalid", _ip(a), 1, epoch(p.get("edited_at")), "", "", body, "xx",
                       0 if p.get("is_deleted") else 1, likes_per_post.get(n, 0))

        table("messages", messages())
        pms = list(rows(forum_dir, "private_messages"))
        pm_num = Numbering()
        heads: dict[str, int] = {}
        for m in pms:
            heads.setdefault(m.get("conversation_id") or m["id"], pm_num(m["id"]))
        table("personal_messages", [
            (pm_num(m["id"]), heads[m.get("conversation_id") or m["id"]], num(m["sender_id"]) if m.get("sender_id") else 0,
             0, _h(f.user_name.get(num(m["sender_id"]), "") if m.get("sender_id") else ""), epoch(m.get("sent_at")),
             _h(m.get("subject") or ""), _h(m.get("text") or "")) for m in pms])
        table("pm_recipients", [
            (pm_num(m["id"]), num(r), 0, 0, 1, 0, 1) for m in pms for r in (m.get("recipient_ids") or "").split("|") if r])
        table("sessions", [(hashlib.md5(f"s{i}".encode()).hexdigest(), 0, "synthetic|session") for i in range(3)])
        table("settings", [("smfVersion", "2.1.4"), ("defaultMaxMembers", "30"), ("registration_method", "0")])
        table("topics", [
            (t, 1 if th.get("is_sticky") else 0, boards(th.get("board_id")), firsts.get(t, 0), last.get(t, (0, 0))[0],
             num(th["author_id"]) if th.get("author_id") else 0, last.get(t, (0, 0))[1], 0, 0, 0,
             max(0, nposts.get(t, 0) - 1), (t * 37) % 500 + nposts.get(t, 0), 1 if th.get("is_locked") else 0, 0, 0, 0, 1)
            for t, th in topics.items()])
        table("user_likes", [(num(i["source_user_id"]), "msg", num(i["target_post_id"]), epoch(i.get("created_at")))
                             for i in f.thanks])
        w.footer()
    ids = {"user_offset": 0, "boards": dict(boards.ids), "categories": dict(cats.ids), "ranks": rank_ids,
           "groups": group_ids, "private_messages": dict(pm_num.ids)}
    return {"engine": "smf", "path": str(out_path), "tables": counts, "ids": ids, "prefix": prefix}
