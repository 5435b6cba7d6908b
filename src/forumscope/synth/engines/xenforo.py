"""Write a synthetic forum as a XenForo 2 database dump (mysqldump output), ``synth --as xenforo``.

The tables follow XenForo 2.2's install schema (``src/XF/Install/Data/MySql.php``) for the tables
used. What goes where (and back, see :mod:`forumscope.engines.xenforo` and docs/engines/xenforo.md):

- boards -> ``xf_node`` (``Category`` / ``Forum``, nested set ``lft``/``rgt``) + ``xf_forum``;
  declared gates -> ``xf_permission_entry_content`` (the Registered group's ``forum.postThread`` and
  ``forum.postReply`` set to ``reset``, the groups that may post set to ``content_allow``); a
  post-count gate -> a user group reached by ``xf_user_group_promotion`` (criterion
  ``messages_posted``) with its ``xf_user_group_promotion_log`` dates;
- ranks with post thresholds -> ``xf_user_title_ladder`` with the option ``userTitleLadderField =
  message_count``; special ranks -> ``xf_user_group.user_title`` of the staff groups;
- groups -> ``xf_user_group`` (Registered 2, Administrative 3, Moderating 4 as in a fresh install;
  others 5, 6, ...); every member's primary group is Registered (XenForo's convention), other groups
  are secondary (``secondary_group_ids`` and ``xf_user_group_relation``);
- threads, posts -> ``xf_thread``, ``xf_post`` (flat threads: ``position``; BBCode ``message`` with
  ``[QUOTE="name, post: N, member: M"]``, ``[USER=M]@name[/USER]`` mentions, ``[ATTACH]N[/ATTACH]``);
  thanks -> ``xf_reaction_content`` (reaction 1, "Like");
- attachments -> ``xf_attachment`` + ``xf_attachment_data`` (records only; no files);
- private messages (if the forum has them) -> ``xf_conversation_master`` / ``_message`` / ``_recipient``.

E-mail addresses, IPs (``xf_ip``, packed binary as XenForo stores them), password hashes
(``xf_user_authenticate``) and sessions (``xf_session``) are written like a real dump has them.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
from collections import defaultdict
from pathlib import Path
from typing import Any

from forumscope.sqldump.writer import MySQLDumpWriter, open_dump
from forumscope.synth.engines.common import Numbering, SynthForum, epoch, num, rows
from forumscope.synth.engines.tabledef import TableDef, php_serialize
from forumscope.synth.engines.vbulletin import fake_email, fake_ip

OPTIONS = "ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci"
DEFAULT_ZONE = "Europe/London"
DEFAULT_GROUPS = (  # id, title, user_title, display_style_priority
    (1, "Unregistered / Unconfirmed", "", 0),
    (2, "Registered", "", 0),
    (3, "Administrative", "Administrator", 1000),
    (4, "Moderating", "Moderator", 900),
)
KIND_GROUP = {"member": 2, "admin": 3, "moderator": 4}
STAFF_GROUPS = (3, 4)
REACTIONS = ((1, 1), (2, 1), (3, 1), (4, 1), (5, 0), (6, 0))  # id, reaction_score (Like, Love, Haha, Wow, Sad, Angry)

I = "int(10) unsigned NOT NULL"


def _i(default: int = 0) -> str:
    return f"int(10) unsigned NOT NULL DEFAULT {default}"


def _si(default: int = 0) -> str:
    return f"int(11) NOT NULL DEFAULT {default}"


def _vc(n: int, default: str | None = "") -> str:
    return f"varchar({n}) NOT NULL" + ("" if default is None else f" DEFAULT '{default}'")


def _vb(n: int, default: str | None = "") -> str:
    return f"varbinary({n}) NOT NULL" + ("" if default is None else f" DEFAULT '{default}'")


def _ti(default: int | None = 0) -> str:
    return "tinyint(3) unsigned NOT NULL" + ("" if default is None else f" DEFAULT {default}")


AI = "int(10) unsigned NOT NULL AUTO_INCREMENT"
MB = "mediumblob NOT NULL"
MT = "mediumtext NOT NULL"

T_USER = TableDef("xf_user", [
    ("user_id", AI, None), ("username", _vc(50, None), ""), ("username_date", _i(), 0),
    ("username_date_visible", _i(), 0), ("email", _vc(120, None), ""), ("custom_title", _vc(50), ""),
    ("language_id", I, 1), ("style_id", I + " COMMENT '0 = use system default'", 0),
    ("timezone", _vc(50, None) + " COMMENT 'Example: ''Europe/London'''", DEFAULT_ZONE),
    ("visible", _ti(1) + " COMMENT 'Show browsing activity to others'", 1), ("activity_visible", _ti(1), 1),
    ("user_group_id", I, 2), ("secondary_group_ids", _vb(255, None), ""),
    ("display_style_group_id", _i() + " COMMENT 'User group ID that provides user styling'", 2),
    ("permission_combination_id", I, 1), ("message_count", _i(), 0), ("question_solution_count", _i(), 0),
    ("conversations_unread", "smallint(5) unsigned NOT NULL DEFAULT 0", 0), ("register_date", _i(), 0),
    ("last_activity", _i(), 0), ("last_summary_email_date", "int(10) unsigned DEFAULT NULL", None),
    ("trophy_points", _i(), 0), ("alerts_unviewed", "smallint(5) unsigned NOT NULL DEFAULT 0", 0),
    ("alerts_unread", "smallint(5) unsigned NOT NULL DEFAULT 0", 0), ("avatar_date", _i(), 0),
    ("avatar_width", "smallint(5) unsigned NOT NULL DEFAULT 0", 0),
    ("avatar_height", "smallint(5) unsigned NOT NULL DEFAULT 0", 0), ("avatar_highdpi", _ti(), 0),
    ("gravatar", _vc(120) + " COMMENT 'If specified, this is an email address corresponding to the user''s ''Gravatar'''", ""),
    ("user_state", ("enum('valid','email_confirm','email_confirm_edit','moderated','email_bounce','rejected','disabled') "
                   "NOT NULL DEFAULT 'valid'"), "valid"),
    ("security_lock", "enum('','change','reset') NOT NULL DEFAULT ''", ""), ("is_moderator", _ti(), 0),
    ("is_admin", _ti(), 0), ("is_banned", _ti(), 0), ("reaction_score", _si(), 0), ("vote_score", _si(), 0),
    ("warning_points", _i(), 0), ("is_staff", _ti(), 0), ("secret_key", _vb(32, None), b""),
    ("privacy_policy_accepted", _i(), 0), ("terms_accepted", _i(), 0),
], ["PRIMARY KEY (`user_id`)", "UNIQUE KEY `username` (`username`)", "KEY `email` (`email`)",
    "KEY `permission_combination_id` (`permission_combination_id`)", "KEY `user_state` (`user_state`)",
    "KEY `last_activity` (`last_activity`)", "KEY `message_count` (`message_count`)",
    "KEY `trophy_points` (`trophy_points`)", "KEY `reaction_score` (`reaction_score`)",
    "KEY `register_date` (`register_date`)", "KEY `staff_username` (`is_staff`,`username`)"], OPTIONS)

T_USER_AUTH = TableDef("xf_user_authenticate", [
    ("user_id", I, 0), ("scheme_class", _vc(100, None), "XF:Core12"), ("data", MB, b""),
], ["PRIMARY KEY (`user_id`)"], OPTIONS)

T_USER_PROFILE = TableDef("xf_user_profile", [
    ("user_id", I, 0), ("dob_day", _ti(), 0), ("dob_month", _ti(), 0),
    ("dob_year", "smallint(5) unsigned NOT NULL DEFAULT 0", 0), ("signature", "text NOT NULL", ""),
    ("website", "text NOT NULL", ""), ("location", _vc(50), ""),
    ("following", "text NOT NULL COMMENT 'Comma-separated integers from xf_user_follow'", ""),
    ("ignored", "text NOT NULL COMMENT 'Comma-separated integers from xf_user_ignored'", ""),
    ("avatar_crop_x", _i(), 0), ("avatar_crop_y", _i(), 0), ("banner_date", _i(), 0),
    ("banner_position_y", "tinyint(3) unsigned DEFAULT NULL", None), ("about", "text NOT NULL", ""),
    ("custom_fields", MB, "[]"), ("connected_accounts", MB, "[]"), ("password_date", _i(1), 1),
], ["PRIMARY KEY (`user_id`)", "KEY `dob` (`dob_month`,`dob_day`,`dob_year`)"], OPTIONS)

T_USER_GROUP = TableDef("xf_user_group", [
    ("user_group_id", AI, None), ("title", _vc(50, None), ""), ("display_style_priority", _i(), 0),
    ("username_css", "text NOT NULL", ""), ("user_title", _vc(100), ""), ("banner_css_class", _vc(75), ""),
    ("banner_text", _vc(100), ""),
], ["PRIMARY KEY (`user_group_id`)", "KEY `title` (`title`)"], OPTIONS)

T_GROUP_REL = TableDef("xf_user_group_relation", [
    ("user_id", I, 0), ("user_group_id", I, 0), ("is_primary", _ti(None), 0),
], ["PRIMARY KEY (`user_id`,`user_group_id`)", "KEY `user_group_id_is_primary` (`user_group_id`,`is_primary`)"], OPTIONS)

T_PROMOTION = TableDef("xf_user_group_promotion", [
    ("promotion_id", AI, None), ("title", _vc(100, None), ""), ("active", "tinyint(4) NOT NULL DEFAULT 1", 1),
    ("user_criteria", MB, "[]"), ("extra_user_group_ids", _vb(255, None), ""),
], ["PRIMARY KEY (`promotion_id`)", "KEY `title` (`title`)"], OPTIONS)

T_PROMOTION_LOG = TableDef("xf_user_group_promotion_log", [
    ("promotion_id", I, 0), ("user_id", I, 0), ("promotion_date", I, 0),
    ("promotion_state", "enum('automatic','manual','disabled') NOT NULL DEFAULT 'automatic'", "automatic"),
], ["PRIMARY KEY (`promotion_id`,`user_id`)", "KEY `promotion_date` (`promotion_date`)",
    "KEY `user_id_date` (`user_id`,`promotion_date`)"], OPTIONS)

T_LADDER = TableDef("xf_user_title_ladder", [
    ("minimum_level", I, 0), ("title", _vc(250, None), ""),
], ["PRIMARY KEY (`minimum_level`)"], OPTIONS)

T_OPTION = TableDef("xf_option", [
    ("option_id", _vb(50, None), ""), ("option_value", MB, ""), ("default_value", MB, ""),
    ("edit_format", ("enum('textbox','spinbox','onoff','radio','select','checkbox','template','callback',"
                    "'onofftextbox','username') NOT NULL"), "textbox"),
    ("edit_format_params", MT, ""),
    ("data_type", ("enum('string','integer','numeric','array','boolean','positive_integer','unsigned_integer',"
                  "'unsigned_numeric') NOT NULL"), "string"),
    ("sub_options", MT, ""), ("validation_class", _vc(100, None), ""), ("validation_method", _vc(75, None), ""),
    ("advanced", _ti(), 0), ("addon_id", _vb(50), "XF"),
], ["PRIMARY KEY (`option_id`)"], OPTIONS)

T_NODE = TableDef("xf_node", [
    ("node_id", AI, None), ("title", _vc(50, None), ""), ("description", "text NOT NULL", ""),
    ("node_name", "varchar(50) DEFAULT NULL COMMENT 'Unique column used as string ID by some node types'", None),
    ("node_type_id", _vb(25, None), "Forum"), ("parent_node_id", _i(), 0), ("display_order", _i(1), 1),
    ("display_in_list", _ti(1) + " COMMENT 'If 0, hidden from node list. Still counts for lft/rgt.'", 1),
    ("lft", _i() + " COMMENT 'Nested set info ''left'' value'", 0),
    ("rgt", _i() + " COMMENT 'Nested set info ''right'' value'", 0),
    ("depth", _i() + " COMMENT 'Depth = 0: no parent'", 0),
    ("style_id", _i() + " COMMENT 'Style override for specific node'", 0),
    ("effective_style_id", _i() + " COMMENT 'Style override; pushed down tree'", 0),
    ("breadcrumb_data", "blob DEFAULT NULL", None), ("navigation_id", _vb(50), ""),
    ("effective_navigation_id", _vb(50), ""),
], ["PRIMARY KEY (`node_id`)", "UNIQUE KEY `node_name_unique` (`node_name`,`node_type_id`)",
    "KEY `parent_node_id` (`parent_node_id`)", "KEY `display_order` (`display_order`)",
    "KEY `display_in_list` (`display_in_list`,`lft`)", "KEY `lft` (`lft`)"], OPTIONS)

T_FORUM = TableDef("xf_forum", [
    ("node_id", I, 0), ("discussion_count", _i(), 0), ("message_count", _i(), 0),
    ("last_post_id", _i() + " COMMENT 'Most recent post_id'", 0),
    ("last_post_date", _i() + " COMMENT 'Date of most recent post'", 0),
    ("last_post_user_id", _i() + " COMMENT 'User_id of user posting most recently'", 0),
    ("last_post_username", _vc(50) + " COMMENT 'Username of most recently-posting user'", ""),
    ("last_thread_id", _i() + " COMMENT 'Most recent thread_id'", 0),
    ("last_thread_title", _vc(150) + " COMMENT 'Title of thread most recent post is in'", ""),
    ("last_thread_prefix_id", _i(), 0), ("forum_type_id", _vb(50, "discussion"), "discussion"),
    ("type_config", MB, "[]"), ("moderate_threads", _ti(), 0), ("moderate_replies", _ti(), 0),
    ("allow_posting", _ti(1), 1), ("count_messages", _ti(1), 1), ("find_new", _ti(1), 1),
    ("allow_index", "enum('allow','deny','criteria') NOT NULL DEFAULT 'allow'", "allow"),
    ("index_criteria", "blob NOT NULL", "[]"), ("field_cache", MB, "[]"), ("prefix_cache", MB, "[]"),
    ("prompt_cache", MB, "[]"), ("default_prefix_id", _i(), 0),
    ("default_sort_order", "varchar(25) NOT NULL DEFAULT 'last_post_date'", "last_post_date"),
    ("default_sort_direction", "varchar(5) NOT NULL DEFAULT 'desc'", "desc"),
    ("list_date_limit_days", "smallint(5) unsigned NOT NULL DEFAULT 0", 0), ("require_prefix", _ti(), 0),
    ("allowed_watch_notifications", "varchar(10) NOT NULL DEFAULT 'all'", "all"),
    ("min_tags", "smallint(5) unsigned NOT NULL DEFAULT 0", 0),
], ["PRIMARY KEY (`node_id`)"], OPTIONS)

_PERM_VALUE = "enum('unset','allow','deny','use_int') NOT NULL"
T_PERM = TableDef("xf_permission_entry", [
    ("permission_entry_id", AI, None), ("user_group_id", I, 0), ("user_id", I, 0),
    ("permission_group_id", _vb(25, None), ""), ("permission_id", _vb(25, None), ""),
    ("permission_value", _PERM_VALUE, "allow"), ("permission_value_int", "int(11) NOT NULL", 0),
], ["PRIMARY KEY (`permission_entry_id`)",
    "UNIQUE KEY `unique_permission` (`user_group_id`,`user_id`,`permission_group_id`,`permission_id`)"], OPTIONS)

T_PERM_CONTENT = TableDef("xf_permission_entry_content", [
    ("permission_entry_id", AI, None), ("content_type", _vb(25, None), "node"), ("content_id", I, 0),
    ("user_group_id", I, 0), ("user_id", I, 0), ("permission_group_id", _vb(25, None), ""),
    ("permission_id", _vb(25, None), ""),
    ("permission_value", "enum('unset','reset','content_allow','deny','use_int') NOT NULL", "unset"),
    ("permission_value_int", "int(11) NOT NULL", 0),
], ["PRIMARY KEY (`permission_entry_id`)",
    ("UNIQUE KEY `user_group_id_unique` (`user_group_id`,`user_id`,`content_type`,`content_id`,`permission_group_id`,"
    "`permission_id`)"), "KEY `content_type_content_id` (`content_type`,`content_id`)"], OPTIONS)

T_THREAD = TableDef("xf_thread", [
    ("thread_id", AI, None), ("node_id", I, 0), ("title", _vc(150, None), ""), ("reply_count", _i(), 0),
    ("view_count", _i(), 0), ("user_id", I, 0), ("username", _vc(50, None), ""), ("post_date", I, 0),
    ("sticky", _ti(), 0),
    ("discussion_state", "enum('visible','moderated','deleted') NOT NULL DEFAULT 'visible'", "visible"),
    ("discussion_open", _ti(1), 1), ("discussion_type", _vc(50), "discussion"), ("type_data", MB, "[]"),
    ("first_post_id", I, 0), ("first_post_reaction_score", _si(), 0), ("first_post_reactions", "blob DEFAULT NULL", None),
    ("last_post_date", I, 0), ("last_post_id", I, 0), ("last_post_user_id", I, 0),
    ("last_post_username", _vc(50, None), ""), ("prefix_id", _i(), 0), ("tags", MB, "[]"),
    ("custom_fields", MB, "[]"), ("vote_score", "int(11) NOT NULL", 0), ("vote_count", _i(), 0),
], ["PRIMARY KEY (`thread_id`)", "KEY `node_id_last_post_date` (`node_id`,`last_post_date`)",
    "KEY `node_id_sticky_state_last_post` (`node_id`,`sticky`,`discussion_state`,`last_post_date`)",
    "KEY `last_post_date` (`last_post_date`)", "KEY `post_date` (`post_date`)", "KEY `user_id` (`user_id`)"], OPTIONS)

T_POST = TableDef("xf_post", [
    ("post_id", AI, None), ("thread_id", I, 0), ("user_id", I, 0), ("username", _vc(50, None), ""),
    ("post_date", I, 0), ("message", MT, ""), ("ip_id", _i(), 0),
    ("message_state", "enum('visible','moderated','deleted') NOT NULL DEFAULT 'visible'", "visible"),
    ("attach_count", "smallint(5) unsigned NOT NULL DEFAULT 0", 0), ("position", I, 0), ("type_data", MB, "[]"),
    ("reaction_score", _si(), 0), ("reactions", "blob DEFAULT NULL", None), ("reaction_users", "blob NOT NULL", "[]"),
    ("vote_score", "int(11) NOT NULL", 0), ("vote_count", _i(), 0), ("warning_id", _i(), 0),
    ("warning_message", _vc(255), ""), ("last_edit_date", _i(), 0), ("last_edit_user_id", _i(), 0),
    ("edit_count", _i(), 0), ("embed_metadata", "blob DEFAULT NULL", None),
], ["PRIMARY KEY (`post_id`)", "KEY `thread_id_post_date` (`thread_id`,`post_date`)",
    "KEY `thread_id_position` (`thread_id`,`position`)", "KEY `user_id` (`user_id`)",
    "KEY `post_date` (`post_date`)"], OPTIONS)

T_REACTION = TableDef("xf_reaction", [
    ("reaction_id", AI, None), ("text_color", _vc(100, None), "@xf-textColorFeature"), ("image_url", _vc(200, None), ""),
    ("image_url_2x", _vc(200), ""), ("sprite_mode", _ti(), 1), ("sprite_params", "blob NOT NULL", "[]"),
    ("reaction_score", "int(11) NOT NULL DEFAULT 1", 1), ("display_order", _i(1), 1), ("active", _ti(1), 1),
], ["PRIMARY KEY (`reaction_id`)", "KEY `display_order` (`display_order`)"], OPTIONS)

T_REACTION_CONTENT = TableDef("xf_reaction_content", [
    ("reaction_content_id", AI, None), ("reaction_id", _i(1), 1), ("content_type", _vb(25, None), "post"),
    ("content_id", I, 0), ("reaction_user_id", I, 0), ("reaction_date", I, 0), ("content_user_id", I, 0),
    ("is_counted", _ti(1), 1),
], ["PRIMARY KEY (`reaction_content_id`)",
    "UNIQUE KEY `content_type_id_user_id` (`content_type`,`content_id`,`reaction_user_id`)",
    "KEY `content_type_id_reaction_date` (`content_type`,`content_id`,`reaction_date`)",
    "KEY `content_user_id_reaction_date` (`content_user_id`,`reaction_date`)", "KEY `reaction_date` (`reaction_date`)",
    "KEY `reaction_user_id` (`reaction_user_id`)"], OPTIONS)

T_ATTACHMENT = TableDef("xf_attachment", [
    ("attachment_id", AI, None), ("data_id", I, 0), ("content_type", _vb(25, None), "post"), ("content_id", I, 0),
    ("attach_date", I, 0), ("temp_hash", _vc(32), ""), ("unassociated", _ti(None), 0), ("view_count", _i(), 0),
], ["PRIMARY KEY (`attachment_id`)", "KEY `content_type_id_date` (`content_type`,`content_id`,`attach_date`)",
    "KEY `temp_hash_attach_date` (`temp_hash`,`attach_date`)", "KEY `data_id` (`data_id`)",
    "KEY `attach_date` (`attach_date`)"], OPTIONS)

T_ATTACHMENT_DATA = TableDef("xf_attachment_data", [
    ("data_id", AI, None), ("user_id", I, 0), ("upload_date", I, 0), ("filename", _vc(100, None), ""),
    ("file_size", "bigint(20) unsigned NOT NULL", 0), ("file_hash", _vc(32, None), ""), ("file_path", _vc(250), ""),
    ("width", _i(), 0), ("height", _i(), 0), ("thumbnail_width", _i(), 0), ("thumbnail_height", _i(), 0),
    ("attach_count", _i(), 1),
], ["PRIMARY KEY (`data_id`)", "KEY `user_id_upload_date` (`user_id`,`upload_date`)",
    "KEY `attach_count` (`attach_count`)", "KEY `upload_date` (`upload_date`)", "KEY `file_size` (`file_size`)"], OPTIONS)

T_CONV_MASTER = TableDef("xf_conversation_master", [
    ("conversation_id", AI, None), ("title", _vc(150, None), ""), ("user_id", I, 0), ("username", _vc(50, None), ""),
    ("start_date", I, 0), ("open_invite", _ti(), 0), ("conversation_open", _ti(1), 1), ("reply_count", _i(), 0),
    ("recipient_count", _i(), 0), ("first_message_id", I, 0), ("last_message_date", I, 0),
    ("last_message_id", I, 0), ("last_message_user_id", I, 0), ("last_message_username", _vc(50, None), ""),
    ("recipients", MB, "[]"),
], ["PRIMARY KEY (`conversation_id`)", "KEY `user_id` (`user_id`)", "KEY `start_date` (`start_date`)",
    "KEY `last_message_user_id` (`last_message_user_id`)"], OPTIONS)

T_CONV_MESSAGE = TableDef("xf_conversation_message", [
    ("message_id", AI, None), ("conversation_id", I, 0), ("message_date", I, 0), ("user_id", I, 0),
    ("username", _vc(50, None), ""), ("message", MT, ""), ("attach_count", "smallint(5) unsigned NOT NULL DEFAULT 0", 0),
    ("ip_id", _i(), 0), ("embed_metadata", "blob DEFAULT NULL", None), ("reaction_score", _si(), 0),
    ("reactions", "blob DEFAULT NULL", None), ("reaction_users", "blob NOT NULL", "[]"),
], ["PRIMARY KEY (`message_id`)", "KEY `conversation_id_message_date` (`conversation_id`,`message_date`)",
    "KEY `message_date` (`message_date`)", "KEY `user_id` (`user_id`)"], OPTIONS)

T_CONV_RECIPIENT = TableDef("xf_conversation_recipient", [
    ("conversation_id", I, 0), ("user_id", I, 0),
    ("recipient_state", "enum('active','deleted','deleted_ignored') NOT NULL", "active"), ("last_read_date", I, 0),
], ["PRIMARY KEY (`conversation_id`,`user_id`)", "KEY `user_id` (`user_id`)"], OPTIONS)

T_IP = TableDef("xf_ip", [
    ("ip_id", AI, None), ("user_id", I, 0), ("content_type", _vb(25, None), "post"), ("content_id", I, 0),
    ("action", _vb(25), "insert"), ("ip", "varbinary(16) NOT NULL", b""), ("log_date", I, 0),
], ["PRIMARY KEY (`ip_id`)", "KEY `user_id_log_date` (`user_id`,`log_date`)", "KEY `ip_log_date` (`ip`,`log_date`)",
    "KEY `content_type_content_id` (`content_type`,`content_id`)", "KEY `log_date` (`log_date`)"], OPTIONS)

T_SESSION = TableDef("xf_session", [
    ("session_id", _vb(32, None), b""), ("session_data", MB, b""), ("expiry_date", I, 0),
], ["PRIMARY KEY (`session_id`)", "KEY `expiry_date` (`expiry_date`)"],
    "ENGINE=MyISAM DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci")

TABLES = (T_ATTACHMENT, T_ATTACHMENT_DATA, T_CONV_MASTER, T_CONV_MESSAGE, T_CONV_RECIPIENT, T_FORUM, T_IP, T_NODE,
          T_OPTION, T_PERM, T_PERM_CONTENT, T_POST, T_REACTION, T_REACTION_CONTENT, T_SESSION, T_THREAD, T_USER,
          T_USER_AUTH, T_USER_GROUP, T_PROMOTION, T_PROMOTION_LOG, T_GROUP_REL, T_USER_PROFILE, T_LADDER)


def packed_ip(text: str) -> bytes:
    """An IP as XenForo stores it: the packed binary address (4 or 16 bytes)."""
    return ipaddress.ip_address(text).packed


def quote_markup(name: str, post: int, member: int, text: str) -> str:
    return f'[QUOTE="{name}, post: {post}, member: {member}"]{text}[/QUOTE]\n'


class _Plan:
    def __init__(self, f: SynthForum):
        self.f = f
        self.group_id: dict[str, int] = {}
        self.group_rows: list[dict[str, Any]] = [
            {"user_group_id": g, "title": t, "user_title": ut, "display_style_priority": p}
            for g, t, ut, p in DEFAULT_GROUPS]
        used: set[int] = set()
        nxt = 5
        for g in f.groups:
            target = KIND_GROUP.get(g.get("kind") or "")
            if target is not None and target not in used:
                used.add(target)
                self.group_id[g["id"]] = target
            else:
                self.group_id[g["id"]] = nxt
                self.group_rows.append({"user_group_id": nxt, "title": (g.get("name") or g["id"])[:50],
                                        "display_style_priority": 100 if g.get("kind") == "vip" else 10})
                nxt += 1
        self.groups_of: dict[int, list[int]] = defaultdict(list)
        for m in f.memberships:
            gid = self.group_id.get(m["group_id"])
            if gid is not None and gid != 2:
                self.groups_of[num(m["user_id"])].append(gid)
        # special ranks -> user_title of the group most of their holders are in
        self.rank_by_id = {r["id"]: r for r in f.ranks}
        for r in f.ranks:
            if not r.get("is_special"):
                continue
            votes: dict[int, int] = defaultdict(int)
            for u in f.users:
                if u.get("rank_id") == r["id"]:
                    for g in self.groups_of.get(num(u["id"]), []):
                        votes[g] += 1
            if votes:
                gid = max(votes, key=lambda k: (votes[k], -k))
                row = next(x for x in self.group_rows if x["user_group_id"] == gid)
                row["user_title"] = r.get("name") or r["id"]
                row["display_style_priority"] = max(int(row.get("display_style_priority") or 0), 500)
        ladder = sorted((r for r in f.ranks if not r.get("is_special") and r.get("min_posts") is not None),
                        key=lambda r: r["min_posts"])
        self.ladder = [{"minimum_level": int(r["min_posts"]), "title": r.get("name") or r["id"]} for r in ladder]
        # boards
        self.node_id = Numbering()
        for b in f.boards:
            self.node_id(b["id"])
        self.children: dict[str | None, list[dict[str, Any]]] = defaultdict(list)
        for b in f.boards:
            self.children[b.get("parent_id")].append(b)
        self.promotions: dict[int, int] = {}  # min posts -> user group
        self.board_gate: dict[str, tuple[list[int], bool]] = {}
        for b in f.boards:
            need = b.get("min_posts")
            if need is None and b.get("min_rank_id") in self.rank_by_id:
                need = self.rank_by_id[b["min_rank_id"]].get("min_posts")
            allowed: list[int] = []
            if need is not None and int(need) > 0:
                need = int(need)
                if need not in self.promotions:
                    self.promotions[need] = nxt
                    self.group_rows.append({"user_group_id": nxt, "title": f"{need}+ messages"})
                    nxt += 1
                allowed.append(self.promotions[need])
            allowed += [self.group_id[g] for g in (b.get("required_group_ids") or "").split("|")
                        if g in self.group_id and self.group_id[g] not in allowed]
            if allowed or b.get("is_hidden"):
                self.board_gate[b["id"]] = (allowed, bool(b.get("is_hidden")))
        # statistics, and the time each member reached each promotion threshold
        self.thread: dict[int, dict[str, Any]] = {}
        self.user_posts: dict[int, int] = defaultdict(int)
        self.reached: dict[tuple[int, int], int] = {}  # (user, threshold) -> time
        self.board_of_thread = {num(t["id"]): self.node_id(t["board_id"]) if t.get("board_id") else 0
                                for t in rows(f.dir, "threads")}
        self.forum_stats: dict[int, dict[str, Any]] = defaultdict(lambda: {"threads": 0, "posts": 0, "last": None})
        self.reactions_received: dict[int, int] = defaultdict(int)
        self.post_reactions: dict[int, list[int]] = defaultdict(list)
        for t in f.thanks:
            self.post_reactions[num(t["target_post_id"])].append(num(t["source_user_id"]))
        thresholds = sorted(self.promotions)
        for p in rows(f.dir, "posts"):
            pid, tid = num(p["id"]), num(p["thread_id"])
            uid = num(p["author_id"]) if p.get("author_id") else 0
            at = epoch(p.get("created_at"))
            st = self.thread.setdefault(tid, {"first": pid, "first_user": uid, "first_at": at, "n": 0})
            st["n"] += 1
            st.update(last=pid, last_user=uid, last_at=at)
            if uid:
                self.user_posts[uid] += 1
                for k in thresholds:
                    if self.user_posts[uid] == k:
                        self.reached[(uid, k)] = at
                self.reactions_received[uid] += len(self.post_reactions.get(pid, ()))
            fid = self.board_of_thread.get(tid, 0)
            fs = self.forum_stats[fid]
            fs["posts"] += 1
            fs["last"] = (at, pid, uid, tid)
        for tid, fid in self.board_of_thread.items():
            if tid in self.thread:
                self.forum_stats[fid]["threads"] += 1

    def secondary(self, u: int) -> list[int]:
        out = list(dict.fromkeys(self.groups_of.get(u, [])))
        staff = any(g in STAFF_GROUPS for g in out)
        for need, g in sorted(self.promotions.items()):
            if not staff and (u, need) in self.reached and g not in out:
                out.append(g)
        return out


def write_dump(forum_dir: Path, out_path: Path, *, prefix: str = "xf_") -> dict[str, Any]:
    """Write the synthetic forum in ``forum_dir`` as a XenForo 2 dump at ``out_path``; table names get
    ``prefix`` instead of ``xf_``. Returns ``{"engine", "path", "tables", "ids"}``."""
    f = SynthForum(forum_dir)
    plan = _Plan(f)
    gens = {
        "xf_attachment": _attachments, "xf_attachment_data": _attachment_data, "xf_conversation_master": _conv_master,
        "xf_conversation_message": _conv_messages, "xf_conversation_recipient": _conv_recipients,
        "xf_forum": _forums, "xf_ip": _ips, "xf_node": _nodes, "xf_option": _options,
        "xf_permission_entry": _perms, "xf_permission_entry_content": _perm_content, "xf_post": _posts,
        "xf_reaction": lambda p: ({"reaction_id": i, "reaction_score": s, "display_order": i * 10,
                                   "image_url": "styles/default/xenforo/reactions/emojione/sprite_sheet_emojione.png",
                                   "sprite_params": json.dumps({"w": 32, "h": 32, "x": 0, "y": -32 * (i - 1), "bs": "100%"})}
                                  for i, s in REACTIONS),
        "xf_reaction_content": _reactions, "xf_session": _sessions, "xf_thread": _threads, "xf_user": _users,
        "xf_user_authenticate": _auth, "xf_user_group": lambda p: iter(p.group_rows),
        "xf_user_group_promotion": _promotions, "xf_user_group_promotion_log": _promotion_log,
        "xf_user_group_relation": _relations, "xf_user_profile": _profiles,
        "xf_user_title_ladder": lambda p: iter(p.ladder),
    }
    with open_dump(out_path, "wt") as fh:
        w = MySQLDumpWriter(fh, database="xenforo")
        w.header()
        for t in sorted(TABLES, key=lambda t: t.name):
            name = prefix + t.name[3:]
            w.create_table(name, t.mysql_ddl(name))
            w.insert(name, t.column_names, t.rows(gens[t.name](plan)))
        w.footer()
    ids = {"boards": dict(plan.node_id.ids), "groups": dict(plan.group_id),
           "promotion_groups": {str(k): v for k, v in plan.promotions.items()},
           "users": "u<n> -> <n>", "posts": "p<n> -> <n>", "threads": "t<n> -> <n>", "attachments": "a<n> -> <n>"}
    return {"engine": "xenforo", "path": str(out_path),
            "tables": {"xf_" + k[len(prefix):]: v for k, v in w.rows_written.items()}, "ids": ids}


def _options(plan: _Plan):
    yield {"option_id": "boardTitle", "option_value": plan.f.forum.get("name") or "Forum",
           "default_value": "XenForo", "edit_format": "textbox", "data_type": "string"}
    yield {"option_id": "guestTimeZone", "option_value": DEFAULT_ZONE, "default_value": DEFAULT_ZONE,
           "edit_format": "callback", "data_type": "string"}
    yield {"option_id": "userTitleLadderField", "option_value": "message_count", "default_value": "trophy_points",
           "edit_format": "radio", "data_type": "string",
           "edit_format_params": "trophy_points={{ phrase('trophy_points') }}\nmessage_count={{ phrase('messages') }}\n"
                                 "reaction_score={{ phrase('reaction_score') }}"}


def _promotions(plan: _Plan):
    for i, (need, gid) in enumerate(sorted(plan.promotions.items()), start=1):
        crit = [{"rule": "messages_posted", "data": {"messages": need}}]
        yield {"promotion_id": i, "title": f"{need} messages", "user_criteria": json.dumps(crit),
               "extra_user_group_ids": str(gid)}


def _promotion_log(plan: _Plan):
    pid = {need: i for i, need in enumerate(sorted(plan.promotions), start=1)}
    for (u, need), at in sorted(plan.reached.items(), key=lambda kv: (kv[1], kv[0])):
        if any(g in STAFF_GROUPS for g in plan.groups_of.get(u, [])):
            continue
        yield {"promotion_id": pid[need], "user_id": u, "promotion_date": at}


def _users(plan: _Plan):
    f = plan.f
    for u in f.users:
        uid = num(u["id"])
        sec = plan.secondary(uid)
        titled = [g for g in plan.group_rows if g["user_group_id"] in sec and g.get("user_title")]
        display = max((g for g in plan.group_rows if g["user_group_id"] in sec),
                      key=lambda g: int(g.get("display_style_priority") or 0), default=None)
        posts = int(u.get("post_count_reported") if u.get("post_count_reported") is not None else plan.user_posts.get(uid, 0))
        yield {"user_id": uid, "username": (u.get("name") or f"user{uid}")[:50], "email": fake_email(uid),
               "custom_title": (u.get("title") or "")[:50], "timezone": u.get("timezone_declared") or DEFAULT_ZONE,
               "user_group_id": 2, "secondary_group_ids": ",".join(str(g) for g in sec),
               "display_style_group_id": display["user_group_id"] if display and titled else 2,
               "message_count": posts, "register_date": epoch(u.get("registered_at")),
               "last_activity": epoch(u.get("last_seen_at")) or epoch(u.get("registered_at")),
               "is_admin": int(3 in sec), "is_moderator": int(4 in sec), "is_staff": int(bool(set(sec) & {3, 4})),
               "reaction_score": plan.reactions_received.get(uid, 0),
               "secret_key": hashlib.sha256(f"secret{uid}".encode()).digest()[:32],
               "privacy_policy_accepted": epoch(u.get("registered_at")), "terms_accepted": epoch(u.get("registered_at"))}


def _relations(plan: _Plan):
    for u in plan.f.users:
        uid = num(u["id"])
        yield {"user_id": uid, "user_group_id": 2, "is_primary": 1}
        for g in plan.secondary(uid):
            yield {"user_id": uid, "user_group_id": g, "is_primary": 0}


def _auth(plan: _Plan):
    for u in plan.f.users:
        uid = num(u["id"])
        fake = "$2y$10$" + hashlib.sha256(f"synthetic-password-{uid}".encode()).hexdigest()[:53]
        yield {"user_id": uid, "scheme_class": "XF:Core12", "data": php_serialize({"hash": fake})}


def _profiles(plan: _Plan):
    for u in plan.f.users:
        yield {"user_id": num(u["id"]), "location": (u.get("location") or "")[:50], "about": u.get("profile_text") or ""}


def _nodes(plan: _Plan):
    """Nodes with the nested set (lft/rgt/depth) XenForo keeps, in display order."""
    out: list[dict[str, Any]] = []
    counter = [1]

    def walk(parent: str | None, depth: int) -> None:
        kids = sorted(plan.children.get(parent, []), key=lambda b: (b.get("position") or 0))
        for order, b in enumerate(kids, start=1):
            row = {"node_id": plan.node_id(b["id"]), "title": (b.get("name") or b["id"])[:50],
                   "description": b.get("description") or "",
                   "node_type_id": "Category" if plan.children.get(b["id"]) else "Forum",
                   "parent_node_id": plan.node_id(parent) if parent else 0, "display_order": order * 10,
                   "display_in_list": 0 if b.get("is_hidden") else 1, "lft": counter[0], "depth": depth}
            counter[0] += 1
            out.append(row)
            walk(b["id"], depth + 1)
            row["rgt"] = counter[0]
            counter[0] += 1

    walk(None, 0)
    return iter(sorted(out, key=lambda r: r["node_id"]))


def _forums(plan: _Plan):
    names = plan.f.user_name
    for b in plan.f.boards:
        if plan.children.get(b["id"]):
            continue  # categories have no xf_forum row
        nid = plan.node_id(b["id"])
        st = plan.forum_stats.get(nid, {"threads": 0, "posts": 0, "last": None})
        row = {"node_id": nid, "discussion_count": st["threads"], "message_count": st["posts"],
               "allow_posting": 0 if b.get("closed_at") else 1,
               "type_config": json.dumps({"allowed_thread_types": []})}
        if st["last"]:
            at, pid, uid, tid = st["last"]
            row.update(last_post_id=pid, last_post_date=at, last_post_user_id=uid, last_post_username=names.get(uid, ""),
                       last_thread_id=tid)
        yield row


def _perms(plan: _Plan):
    """Global permissions of a fresh install (the part used here): everyone may view nodes,
    registered members may start threads and reply, staff may do everything."""
    grants = [(1, "general", "viewNode"), (1, "forum", "viewContent")]
    for g in (2, 3, 4):
        grants += [(g, "general", "viewNode"), (g, "forum", "viewContent"), (g, "forum", "postThread"),
                   (g, "forum", "postReply")]
    for n, (g, grp, perm) in enumerate(grants, start=1):
        yield {"permission_entry_id": n, "user_group_id": g, "permission_group_id": grp, "permission_id": perm,
               "permission_value": "allow"}


def _perm_content(plan: _Plan):
    n = 0
    for b in plan.f.boards:
        gate = plan.board_gate.get(b["id"])
        if not gate:
            continue
        allowed, hidden = gate
        nid = plan.node_id(b["id"])
        entries: list[tuple[int, str, str, str]] = []
        for perm in ("postThread", "postReply"):
            entries.append((2, "forum", perm, "reset"))
            for g in allowed:
                if g != 2:
                    entries.append((g, "forum", perm, "content_allow"))
            staff_allowed = [g for g in allowed if g in STAFF_GROUPS]
            for g in STAFF_GROUPS:  # staff keep their global permission unless the gate names some staff only
                if staff_allowed and g not in staff_allowed:
                    entries.append((g, "forum", perm, "reset"))
        if hidden:
            entries += [(1, "general", "viewNode", "reset"), (2, "general", "viewNode", "reset")]
        for g, grp, perm, val in entries:
            n += 1
            yield {"permission_entry_id": n, "content_type": "node", "content_id": nid, "user_group_id": g,
                   "permission_group_id": grp, "permission_id": perm, "permission_value": val}


def _threads(plan: _Plan):
    names = plan.f.user_name
    reactions = plan.post_reactions
    for t in rows(plan.f.dir, "threads"):
        tid = num(t["id"])
        st = plan.thread.get(tid)
        if st is None:
            continue
        first_r = len(reactions.get(st["first"], ()))
        yield {"thread_id": tid, "node_id": plan.board_of_thread.get(tid, 0), "title": (t.get("title") or "")[:150],
               "reply_count": st["n"] - 1, "view_count": int(t.get("view_count") or 0), "user_id": st["first_user"],
               "username": names.get(st["first_user"], ""), "post_date": epoch(t.get("created_at")) or st["first_at"],
               "sticky": 1 if t.get("is_sticky") else 0, "discussion_open": 0 if t.get("is_locked") else 1,
               "first_post_id": st["first"], "first_post_reaction_score": first_r,
               "first_post_reactions": json.dumps({"1": first_r}) if first_r else "[]",
               "last_post_date": st["last_at"], "last_post_id": st["last"], "last_post_user_id": st["last_user"],
               "last_post_username": names.get(st["last_user"], "")}


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
        m = f.mentions.get(pid)
        if m and text.startswith("@" + f.user_name.get(m, "\0")):
            name = f.user_name[m]
            text = f"[USER={m}]@{name}[/USER]" + text[len(name) + 1:]
        q = f.quoted.get(pid)
        if q:
            qa = int(f.post_author[q])
            text = quote_markup(f.user_name.get(qa, ""), q, qa, f.excerpt(q)) + text
        for a in attach.get(pid, []):
            text += f"\n\n[ATTACH]{a}[/ATTACH]"
        givers = plan.post_reactions.get(pid, [])
        yield {"post_id": pid, "thread_id": num(p["thread_id"]), "user_id": uid,
               "username": f.user_name.get(uid, p.get("author_name") or "Guest")[:50],
               "post_date": epoch(p.get("created_at")), "message": text, "ip_id": pid,
               "message_state": "deleted" if p.get("is_deleted") else "visible", "attach_count": len(attach.get(pid, [])),
               "position": int(p.get("position") or 0), "reaction_score": len(givers),
               "reactions": json.dumps({"1": len(givers)}) if givers else "[]",
               "reaction_users": json.dumps([{"user_id": g, "username": f.user_name.get(g, "")} for g in givers[-3:]])}


def _ips(plan: _Plan):
    for p in rows(plan.f.dir, "posts"):
        uid = num(p["author_id"]) if p.get("author_id") else 0
        pid = num(p["id"])
        yield {"ip_id": pid, "user_id": uid, "content_type": "post", "content_id": pid, "action": "insert",
               "ip": packed_ip(fake_ip(uid)), "log_date": epoch(p.get("created_at"))}


def _reactions(plan: _Plan):
    f = plan.f
    seen: set[tuple[int, int]] = set()
    n = 0
    for t in sorted(f.thanks, key=lambda r: (r.get("created_at") or "", r.get("id") or "")):
        key = (num(t["target_post_id"]), num(t["source_user_id"]))
        if key in seen:  # XenForo allows one reaction per member and post
            continue
        seen.add(key)
        n += 1
        target_user = num(t["target_user_id"]) if t.get("target_user_id") else 0
        yield {"reaction_content_id": n, "reaction_id": 1, "content_type": "post", "content_id": key[0],
               "reaction_user_id": key[1], "reaction_date": epoch(t.get("created_at")), "content_user_id": target_user}


def _attachments(plan: _Plan):
    for a in rows(plan.f.dir, "attachments"):
        n = num(a["id"])
        yield {"attachment_id": n, "data_id": n, "content_type": "post",
               "content_id": num(a["post_id"]) if a.get("post_id") else 0, "attach_date": epoch(a.get("created_at")),
               "unassociated": 0, "view_count": int(a.get("download_count") or 0)}


def _attachment_data(plan: _Plan):
    for a in rows(plan.f.dir, "attachments"):
        stand_in = hashlib.md5((a.get("sha256") or a.get("file_name") or "").encode()).hexdigest()
        yield {"data_id": num(a["id"]), "user_id": num(a["user_id"]) if a.get("user_id") else 0,
               "upload_date": epoch(a.get("created_at")), "filename": (a.get("file_name") or "")[:100],
               "file_size": int(a.get("size_bytes") or 0), "file_hash": a.get("md5") or stand_in, "attach_count": 1}


# ---------------------------------------------------------------------------- conversations
def _conversations(plan: _Plan) -> list[tuple[int, list[dict[str, Any]], list[int]]]:
    """Private messages grouped into conversations: (conversation id, messages, participants)."""
    msgs = list(rows(plan.f.dir, "private_messages"))
    conv = Numbering()
    groups: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for m in msgs:
        groups[conv(m.get("conversation_id") or m["id"])].append(m)
    out = []
    for cid, ms in sorted(groups.items()):
        people: list[int] = []
        for m in ms:
            for u in [m.get("sender_id")] + (m.get("recipient_ids") or "").split("|"):
                if u and num(u) not in people:
                    people.append(num(u))
        out.append((cid, ms, people))
    return out


def _message_ids(plan: _Plan) -> Numbering:
    ids = Numbering()
    for _, ms, _ in _conversations(plan):
        for m in ms:
            ids(m["id"])
    return ids


def _conv_master(plan: _Plan):
    names = plan.f.user_name
    mid = _message_ids(plan)
    for cid, ms, people in _conversations(plan):
        first, last = ms[0], ms[-1]
        starter = num(first["sender_id"]) if first.get("sender_id") else 0
        lu = num(last["sender_id"]) if last.get("sender_id") else 0
        yield {"conversation_id": cid, "title": (first.get("subject") or "")[:150], "user_id": starter,
               "username": names.get(starter, ""), "start_date": epoch(first.get("sent_at")), "reply_count": len(ms) - 1,
               "recipient_count": len(people), "first_message_id": mid(first["id"]),
               "last_message_date": epoch(last.get("sent_at")), "last_message_id": mid(last["id"]),
               "last_message_user_id": lu, "last_message_username": names.get(lu, ""),
               "recipients": json.dumps({str(u): {"user_id": u, "username": names.get(u, "")} for u in people})}


def _conv_messages(plan: _Plan):
    names = plan.f.user_name
    mid = _message_ids(plan)
    for cid, ms, _ in _conversations(plan):
        for m in ms:
            u = num(m["sender_id"]) if m.get("sender_id") else 0
            yield {"message_id": mid(m["id"]), "conversation_id": cid, "message_date": epoch(m.get("sent_at")),
                   "user_id": u, "username": names.get(u, ""), "message": m.get("text") or ""}


def _conv_recipients(plan: _Plan):
    for cid, ms, people in _conversations(plan):
        last = epoch(ms[-1].get("sent_at"))
        for u in people:
            yield {"conversation_id": cid, "user_id": u, "recipient_state": "active", "last_read_date": last}


def _sessions(plan: _Plan):
    recent = sorted(plan.f.users, key=lambda u: u.get("last_seen_at") or "")[-5:]
    for u in recent:
        uid = num(u["id"])
        yield {"session_id": hashlib.md5(f"session{uid}".encode()).hexdigest().encode(),
               "session_data": php_serialize({"userId": uid, "csrf": hashlib.md5(f"c{uid}".encode()).hexdigest()}),
               "expiry_date": epoch(u.get("last_seen_at")) + 3600}
