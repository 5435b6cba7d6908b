"""A synthetic forum as a phpBB 3.3 MySQL dump (``forumscope synth --as phpbb``).

Tables and columns follow phpBB 3.3's install schema (the tables the mapping reads, plus ``sessions`` so
that never-read tables are exercised); post text is stored the way phpBB 3.2+ stores it (s9e XML: ``<t>``
for plain posts, ``<r>`` with ``<QUOTE author=... post_id=... time=... user_id=...>`` for quotes).
Gates are declared through permissions: the post-count gate as an Auto Groups post-count group that alone
(with staff) may post in the board; the staff-only board through the staff groups; the undeclared rank
gate has ordinary permissions. Thanks go to the ThanksForPosts table. Passwords are a fixed fake string
(``FAKE_PASSWORD``): tests check that it never reaches a case.

Ids: ``u<n>`` -> user ``n + USER_OFFSET`` (user 1 is Anonymous, 2.. are bots), ``p<n>`` -> post ``n``,
``t<n>`` -> topic ``n``, ``a<n>`` -> attachment ``n``; boards, ranks and groups: ``result["ids"]``.
"""

from __future__ import annotations

import hashlib
import html
from pathlib import Path
from typing import Any, Iterator

from forumscope.sqldump.writer import MySQLDumpWriter, open_dump
from forumscope.synth.engines.common import Numbering, SynthForum, epoch, num, rows

USER_OFFSET = 10
FAKE_PASSWORD = "$2y$10$SYNTHETIC.FAKE.PASSWORD.HASH.forumscope.never.stored.0000"
BOTS = ["AdsBot [Google]", "Bing [Bot]", "DuckDuckGo [Bot]", "Google [Bot]", "YandexBot [Bot]"]
BUILTIN_GROUPS = [(1, "GUESTS"), (2, "REGISTERED"), (3, "REGISTERED_COPPA"), (4, "GLOBAL_MODERATORS"),
                  (5, "ADMINISTRATORS"), (6, "BOTS"), (7, "NEWLY_REGISTERED")]
SYNTH_GROUP = {"admin": 5, "moderator": 4, "member": 2, "bot": 6}
F_OPTIONS = ["f_", "f_announce", "f_announce_global", "f_attach", "f_bbcode", "f_bump", "f_delete", "f_download",
             "f_edit", "f_email", "f_flash", "f_icons", "f_ignoreflood", "f_img", "f_list", "f_list_topics",
             "f_noapprove", "f_poll", "f_post", "f_postcount", "f_print", "f_read", "f_reply", "f_report",
             "f_search", "f_sigs", "f_smilies", "f_softdelete", "f_sticky", "f_subscribe", "f_user_lock", "f_vote",
             "f_votechg"]
READONLY = ["f_", "f_download", "f_list", "f_list_topics", "f_print", "f_read", "f_search", "f_subscribe"]
STANDARD = READONLY + ["f_attach", "f_bbcode", "f_delete", "f_edit", "f_icons", "f_img", "f_noapprove", "f_post",
                       "f_postcount", "f_reply", "f_report", "f_sigs", "f_smilies", "f_softdelete", "f_vote",
                       "f_votechg"]
BOT = ["f_", "f_download", "f_list", "f_list_topics", "f_print", "f_read"]
ROLES = [(14, "ROLE_FORUM_FULL", F_OPTIONS), (15, "ROLE_FORUM_STANDARD", STANDARD),
         (16, "ROLE_FORUM_NOACCESS", []), (17, "ROLE_FORUM_READONLY", READONLY), (19, "ROLE_FORUM_BOT", BOT)]
R_FULL, R_STANDARD, R_READONLY, R_BOT = 14, 15, 17, 19

_T = " NOT NULL DEFAULT "
DDL: dict[str, str] = {
    "acl_groups": """(
  `group_id` mediumint(8) unsigned{T}'0',
  `forum_id` mediumint(8) unsigned{T}'0',
  `auth_option_id` mediumint(8) unsigned{T}'0',
  `auth_role_id` mediumint(8) unsigned{T}'0',
  `auth_setting` tinyint(2){T}'0',
  KEY `group_id` (`group_id`),
  KEY `auth_opt_id` (`auth_option_id`),
  KEY `auth_role_id` (`auth_role_id`)
)""",
    "acl_options": """(
  `auth_option_id` mediumint(8) unsigned NOT NULL AUTO_INCREMENT,
  `auth_option` varchar(50){T}'',
  `is_global` tinyint(1) unsigned{T}'0',
  `is_local` tinyint(1) unsigned{T}'0',
  `founder_only` tinyint(1) unsigned{T}'0',
  PRIMARY KEY (`auth_option_id`),
  UNIQUE KEY `auth_option` (`auth_option`)
)""",
    "acl_roles": """(
  `role_id` mediumint(8) unsigned NOT NULL AUTO_INCREMENT,
  `role_name` varchar(255){T}'',
  `role_description` text NOT NULL,
  `role_type` varchar(10){T}'',
  `role_order` smallint(4) unsigned{T}'0',
  PRIMARY KEY (`role_id`),
  KEY `role_type` (`role_type`),
  KEY `role_order` (`role_order`)
)""",
    "acl_roles_data": """(
  `role_id` mediumint(8) unsigned{T}'0',
  `auth_option_id` mediumint(8) unsigned{T}'0',
  `auth_setting` tinyint(2){T}'0',
  PRIMARY KEY (`role_id`,`auth_option_id`),
  KEY `ath_op_id` (`auth_option_id`)
)""",
    "acl_users": """(
  `user_id` int(10) unsigned{T}'0',
  `forum_id` mediumint(8) unsigned{T}'0',
  `auth_option_id` mediumint(8) unsigned{T}'0',
  `auth_role_id` mediumint(8) unsigned{T}'0',
  `auth_setting` tinyint(2){T}'0',
  KEY `user_id` (`user_id`),
  KEY `auth_option_id` (`auth_option_id`),
  KEY `auth_role_id` (`auth_role_id`)
)""",
    "attachments": """(
  `attach_id` int(10) unsigned NOT NULL AUTO_INCREMENT,
  `post_msg_id` int(10) unsigned{T}'0',
  `topic_id` int(10) unsigned{T}'0',
  `in_message` tinyint(1) unsigned{T}'0',
  `poster_id` int(10) unsigned{T}'0',
  `is_orphan` tinyint(1) unsigned{T}'1',
  `physical_filename` varchar(255){T}'',
  `real_filename` varchar(255){T}'',
  `download_count` mediumint(8) unsigned{T}'0',
  `attach_comment` text NOT NULL,
  `extension` varchar(100){T}'',
  `mimetype` varchar(100){T}'',
  `filesize` int(20) unsigned{T}'0',
  `filetime` int(11) unsigned{T}'0',
  `thumbnail` tinyint(1) unsigned{T}'0',
  PRIMARY KEY (`attach_id`),
  KEY `filetime` (`filetime`),
  KEY `post_msg_id` (`post_msg_id`),
  KEY `topic_id` (`topic_id`),
  KEY `poster_id` (`poster_id`),
  KEY `is_orphan` (`is_orphan`)
)""",
    "autogroups_rules": """(
  `autogroups_id` int(10) unsigned NOT NULL AUTO_INCREMENT,
  `autogroups_type_id` smallint(4) unsigned{T}'0',
  `autogroups_min_value` int(11){T}'0',
  `autogroups_max_value` int(11){T}'0',
  `autogroups_group_id` int(10) unsigned{T}'0',
  `autogroups_default` tinyint(1) unsigned{T}'0',
  `autogroups_notify` tinyint(1) unsigned{T}'0',
  `autogroups_excluded_groups` varchar(255){T}'',
  PRIMARY KEY (`autogroups_id`)
)""",
    "autogroups_types": """(
  `autogroups_type_id` smallint(4) unsigned NOT NULL AUTO_INCREMENT,
  `autogroups_type_name` varchar(255){T}'',
  PRIMARY KEY (`autogroups_type_id`),
  UNIQUE KEY `type` (`autogroups_type_name`)
)""",
    "config": """(
  `config_name` varchar(255){T}'',
  `config_value` varchar(255){T}'',
  `is_dynamic` tinyint(1) unsigned{T}'0',
  PRIMARY KEY (`config_name`),
  KEY `is_dynamic` (`is_dynamic`)
)""",
    "forums": """(
  `forum_id` mediumint(8) unsigned NOT NULL AUTO_INCREMENT,
  `parent_id` mediumint(8) unsigned{T}'0',
  `left_id` mediumint(8) unsigned{T}'0',
  `right_id` mediumint(8) unsigned{T}'0',
  `forum_parents` mediumtext NOT NULL,
  `forum_name` varchar(255){T}'',
  `forum_desc` text NOT NULL,
  `forum_desc_bitfield` varchar(255){T}'',
  `forum_desc_options` int(11) unsigned{T}'7',
  `forum_desc_uid` varchar(8){T}'',
  `forum_link` varchar(255){T}'',
  `forum_password` varchar(255){T}'',
  `forum_style` mediumint(8) unsigned{T}'0',
  `forum_image` varchar(255){T}'',
  `forum_rules` text NOT NULL,
  `forum_rules_link` varchar(255){T}'',
  `forum_rules_bitfield` varchar(255){T}'',
  `forum_rules_options` int(11) unsigned{T}'7',
  `forum_rules_uid` varchar(8){T}'',
  `forum_topics_per_page` smallint(4) unsigned{T}'0',
  `forum_type` tinyint(4){T}'0',
  `forum_status` tinyint(4){T}'0',
  `forum_last_post_id` int(10) unsigned{T}'0',
  `forum_last_poster_id` int(10) unsigned{T}'0',
  `forum_last_post_subject` varchar(255){T}'',
  `forum_last_post_time` int(11) unsigned{T}'0',
  `forum_last_poster_name` varchar(255){T}'',
  `forum_last_poster_colour` varchar(6){T}'',
  `forum_flags` tinyint(4){T}'32',
  `display_on_index` tinyint(1) unsigned{T}'1',
  `enable_indexing` tinyint(1) unsigned{T}'1',
  `enable_icons` tinyint(1) unsigned{T}'1',
  `enable_prune` tinyint(1) unsigned{T}'0',
  `prune_next` int(11) unsigned{T}'0',
  `prune_days` mediumint(8) unsigned{T}'0',
  `prune_viewed` mediumint(8) unsigned{T}'0',
  `prune_freq` mediumint(8) unsigned{T}'0',
  `display_subforum_list` tinyint(1) unsigned{T}'1',
  `display_subforum_limit` tinyint(1) unsigned{T}'0',
  `forum_options` int(20) unsigned{T}'0',
  `forum_posts_approved` mediumint(8) unsigned{T}'0',
  `forum_posts_unapproved` mediumint(8) unsigned{T}'0',
  `forum_posts_softdeleted` mediumint(8) unsigned{T}'0',
  `forum_topics_approved` mediumint(8) unsigned{T}'0',
  `forum_topics_unapproved` mediumint(8) unsigned{T}'0',
  `forum_topics_softdeleted` mediumint(8) unsigned{T}'0',
  `enable_shadow_prune` tinyint(1) unsigned{T}'0',
  `prune_shadow_days` mediumint(8) unsigned{T}'7',
  `prune_shadow_freq` mediumint(8) unsigned{T}'1',
  `prune_shadow_next` int(11){T}'0',
  PRIMARY KEY (`forum_id`),
  KEY `left_right_id` (`left_id`,`right_id`),
  KEY `forum_lastpost_id` (`forum_last_post_id`)
)""",
    "groups": """(
  `group_id` mediumint(8) unsigned NOT NULL AUTO_INCREMENT,
  `group_type` tinyint(4){T}'1',
  `group_founder_manage` tinyint(1) unsigned{T}'0',
  `group_skip_auth` tinyint(1) unsigned{T}'0',
  `group_name` varchar(255){T}'',
  `group_desc` text NOT NULL,
  `group_desc_bitfield` varchar(255){T}'',
  `group_desc_options` int(11) unsigned{T}'7',
  `group_desc_uid` varchar(8){T}'',
  `group_display` tinyint(1) unsigned{T}'0',
  `group_avatar` varchar(255){T}'',
  `group_avatar_type` varchar(255){T}'',
  `group_avatar_width` smallint(4) unsigned{T}'0',
  `group_avatar_height` smallint(4) unsigned{T}'0',
  `group_rank` mediumint(8) unsigned{T}'0',
  `group_colour` varchar(6){T}'',
  `group_sig_chars` mediumint(8) unsigned{T}'0',
  `group_receive_pm` tinyint(1) unsigned{T}'0',
  `group_message_limit` mediumint(8) unsigned{T}'0',
  `group_legend` mediumint(8) unsigned{T}'0',
  `group_max_recipients` mediumint(8) unsigned{T}'0',
  PRIMARY KEY (`group_id`),
  KEY `group_legend_name` (`group_legend`,`group_name`)
)""",
    "posts": """(
  `post_id` int(10) unsigned NOT NULL AUTO_INCREMENT,
  `topic_id` int(10) unsigned{T}'0',
  `forum_id` mediumint(8) unsigned{T}'0',
  `poster_id` int(10) unsigned{T}'0',
  `icon_id` mediumint(8) unsigned{T}'0',
  `poster_ip` varchar(40){T}'',
  `post_time` int(11) unsigned{T}'0',
  `post_reported` tinyint(1) unsigned{T}'0',
  `enable_bbcode` tinyint(1) unsigned{T}'1',
  `enable_smilies` tinyint(1) unsigned{T}'1',
  `enable_magic_url` tinyint(1) unsigned{T}'1',
  `enable_sig` tinyint(1) unsigned{T}'1',
  `post_username` varchar(255){T}'',
  `post_subject` varchar(255){T}'',
  `post_text` mediumtext NOT NULL,
  `post_checksum` varchar(32){T}'',
  `post_attachment` tinyint(1) unsigned{T}'0',
  `bbcode_bitfield` varchar(255){T}'',
  `bbcode_uid` varchar(8){T}'',
  `post_postcount` tinyint(1) unsigned{T}'1',
  `post_edit_time` int(11) unsigned{T}'0',
  `post_edit_reason` varchar(255){T}'',
  `post_edit_user` int(10) unsigned{T}'0',
  `post_edit_count` smallint(4) unsigned{T}'0',
  `post_edit_locked` tinyint(1) unsigned{T}'0',
  `post_visibility` tinyint(3){T}'0',
  `post_delete_time` int(11) unsigned{T}'0',
  `post_delete_reason` varchar(255){T}'',
  `post_delete_user` int(10) unsigned{T}'0',
  PRIMARY KEY (`post_id`),
  KEY `forum_id` (`forum_id`),
  KEY `topic_id` (`topic_id`),
  KEY `poster_ip` (`poster_ip`),
  KEY `poster_id` (`poster_id`),
  KEY `tid_post_time` (`topic_id`,`post_time`),
  KEY `post_username` (`post_username`),
  KEY `post_visibility` (`post_visibility`)
)""",
    "privmsgs": """(
  `msg_id` int(10) unsigned NOT NULL AUTO_INCREMENT,
  `root_level` int(10) unsigned{T}'0',
  `author_id` int(10) unsigned{T}'0',
  `icon_id` mediumint(8) unsigned{T}'0',
  `author_ip` varchar(40){T}'',
  `message_time` int(11) unsigned{T}'0',
  `enable_bbcode` tinyint(1) unsigned{T}'1',
  `enable_smilies` tinyint(1) unsigned{T}'1',
  `enable_magic_url` tinyint(1) unsigned{T}'1',
  `enable_sig` tinyint(1) unsigned{T}'1',
  `message_subject` varchar(255){T}'',
  `message_text` mediumtext NOT NULL,
  `message_edit_reason` varchar(255){T}'',
  `message_edit_user` int(10) unsigned{T}'0',
  `message_attachment` tinyint(1) unsigned{T}'0',
  `bbcode_bitfield` varchar(255){T}'',
  `bbcode_uid` varchar(8){T}'',
  `message_edit_time` int(11) unsigned{T}'0',
  `message_edit_count` smallint(4) unsigned{T}'0',
  `to_address` text NOT NULL,
  `bcc_address` text NOT NULL,
  `message_reported` tinyint(1) unsigned{T}'0',
  PRIMARY KEY (`msg_id`),
  KEY `author_ip` (`author_ip`),
  KEY `message_time` (`message_time`),
  KEY `author_id` (`author_id`),
  KEY `root_level` (`root_level`)
)""",
    "privmsgs_to": """(
  `msg_id` int(10) unsigned{T}'0',
  `user_id` int(10) unsigned{T}'0',
  `author_id` int(10) unsigned{T}'0',
  `pm_deleted` tinyint(1) unsigned{T}'0',
  `pm_new` tinyint(1) unsigned{T}'1',
  `pm_unread` tinyint(1) unsigned{T}'1',
  `pm_replied` tinyint(1) unsigned{T}'0',
  `pm_marked` tinyint(1) unsigned{T}'0',
  `pm_forwarded` tinyint(1) unsigned{T}'0',
  `folder_id` int(11){T}'0',
  KEY `msg_id` (`msg_id`),
  KEY `author_id` (`author_id`),
  KEY `usr_flder_id` (`user_id`,`folder_id`)
)""",
    "ranks": """(
  `rank_id` mediumint(8) unsigned NOT NULL AUTO_INCREMENT,
  `rank_title` varchar(255){T}'',
  `rank_min` mediumint(8) unsigned{T}'0',
  `rank_special` tinyint(1) unsigned{T}'0',
  `rank_image` varchar(255){T}'',
  PRIMARY KEY (`rank_id`)
)""",
    "sessions": """(
  `session_id` char(32){T}'',
  `session_user_id` int(10) unsigned{T}'0',
  `session_last_visit` int(11) unsigned{T}'0',
  `session_start` int(11) unsigned{T}'0',
  `session_time` int(11) unsigned{T}'0',
  `session_ip` varchar(40){T}'',
  `session_browser` varchar(150){T}'',
  `session_forwarded_for` varchar(255){T}'',
  `session_page` varchar(255){T}'',
  `session_viewonline` tinyint(1) unsigned{T}'1',
  `session_autologin` tinyint(1) unsigned{T}'0',
  `session_admin` tinyint(1) unsigned{T}'0',
  `session_forum_id` mediumint(8) unsigned{T}'0',
  PRIMARY KEY (`session_id`),
  KEY `session_time` (`session_time`),
  KEY `session_user_id` (`session_user_id`),
  KEY `session_fid` (`session_forum_id`)
)""",
    "thanks": """(
  `post_id` int(10) unsigned{T}'0',
  `poster_id` int(10) unsigned{T}'0',
  `user_id` int(10) unsigned{T}'0',
  `topic_id` int(10) unsigned{T}'0',
  `forum_id` int(10) unsigned{T}'0',
  `thanks_time` int(11) unsigned{T}'0',
  PRIMARY KEY (`post_id`,`user_id`),
  KEY `topic_id` (`topic_id`),
  KEY `forum_id` (`forum_id`),
  KEY `user_id` (`user_id`),
  KEY `poster_id` (`poster_id`)
)""",
    "topics": """(
  `topic_id` int(10) unsigned NOT NULL AUTO_INCREMENT,
  `forum_id` mediumint(8) unsigned{T}'0',
  `icon_id` mediumint(8) unsigned{T}'0',
  `topic_attachment` tinyint(1) unsigned{T}'0',
  `topic_reported` tinyint(1) unsigned{T}'0',
  `topic_title` varchar(255){T}'',
  `topic_poster` int(10) unsigned{T}'0',
  `topic_time` int(11) unsigned{T}'0',
  `topic_time_limit` int(11) unsigned{T}'0',
  `topic_views` int(10) unsigned{T}'0',
  `topic_status` tinyint(3){T}'0',
  `topic_type` tinyint(3){T}'0',
  `topic_first_post_id` int(10) unsigned{T}'0',
  `topic_first_poster_name` varchar(255){T}'',
  `topic_first_poster_colour` varchar(6){T}'',
  `topic_last_post_id` int(10) unsigned{T}'0',
  `topic_last_poster_id` int(10) unsigned{T}'0',
  `topic_last_poster_name` varchar(255){T}'',
  `topic_last_poster_colour` varchar(6){T}'',
  `topic_last_post_subject` varchar(255){T}'',
  `topic_last_post_time` int(11) unsigned{T}'0',
  `topic_last_view_time` int(11) unsigned{T}'0',
  `topic_moved_id` int(10) unsigned{T}'0',
  `topic_bumped` tinyint(1) unsigned{T}'0',
  `topic_bumper` mediumint(8) unsigned{T}'0',
  `poll_title` varchar(255){T}'',
  `poll_start` int(11) unsigned{T}'0',
  `poll_length` int(11) unsigned{T}'0',
  `poll_max_options` tinyint(4){T}'1',
  `poll_last_vote` int(11) unsigned{T}'0',
  `poll_vote_change` tinyint(1) unsigned{T}'0',
  `topic_visibility` tinyint(3){T}'0',
  `topic_delete_time` int(11) unsigned{T}'0',
  `topic_delete_reason` varchar(255){T}'',
  `topic_delete_user` int(10) unsigned{T}'0',
  `topic_posts_approved` mediumint(8) unsigned{T}'0',
  `topic_posts_unapproved` mediumint(8) unsigned{T}'0',
  `topic_posts_softdeleted` mediumint(8) unsigned{T}'0',
  PRIMARY KEY (`topic_id`),
  KEY `forum_id` (`forum_id`),
  KEY `forum_id_type` (`forum_id`,`topic_type`),
  KEY `last_post_time` (`topic_last_post_time`),
  KEY `fid_time_moved` (`forum_id`,`topic_last_post_time`,`topic_moved_id`),
  KEY `topic_visibility` (`topic_visibility`),
  KEY `forum_vis_last` (`forum_id`,`topic_visibility`,`topic_last_post_id`),
  KEY `latest_topics` (`forum_id`,`topic_last_post_time`,`topic_last_post_id`,`topic_moved_id`)
)""",
    "user_group": """(
  `group_id` mediumint(8) unsigned{T}'0',
  `user_id` int(10) unsigned{T}'0',
  `group_leader` tinyint(1) unsigned{T}'0',
  `user_pending` tinyint(1) unsigned{T}'1',
  KEY `group_id` (`group_id`),
  KEY `user_id` (`user_id`),
  KEY `group_leader` (`group_leader`)
)""",
    "users": """(
  `user_id` int(10) unsigned NOT NULL AUTO_INCREMENT,
  `user_type` tinyint(2){T}'0',
  `group_id` mediumint(8) unsigned{T}'3',
  `user_permissions` mediumtext NOT NULL,
  `user_perm_from` mediumint(8) unsigned{T}'0',
  `user_ip` varchar(40){T}'',
  `user_regdate` int(11) unsigned{T}'0',
  `username` varchar(255){T}'',
  `username_clean` varchar(255){T}'',
  `user_password` varchar(255){T}'',
  `user_passchg` int(11) unsigned{T}'0',
  `user_email` varchar(100){T}'',
  `user_birthday` varchar(10){T}'',
  `user_lastvisit` int(11) unsigned{T}'0',
  `user_last_active` int(11) unsigned{T}'0',
  `user_lastmark` int(11) unsigned{T}'0',
  `user_lastpost_time` int(11) unsigned{T}'0',
  `user_lastpage` varchar(200){T}'',
  `user_last_confirm_key` varchar(10){T}'',
  `user_last_search` int(11) unsigned{T}'0',
  `user_warnings` tinyint(4){T}'0',
  `user_last_warning` int(11) unsigned{T}'0',
  `user_login_attempts` tinyint(4){T}'0',
  `user_inactive_reason` tinyint(2){T}'0',
  `user_inactive_time` int(11) unsigned{T}'0',
  `user_posts` mediumint(8) unsigned{T}'0',
  `user_lang` varchar(30){T}'',
  `user_timezone` varchar(100){T}'',
  `user_dateformat` varchar(64){T}'d M Y H:i',
  `user_style` mediumint(8) unsigned{T}'0',
  `user_rank` mediumint(8) unsigned{T}'0',
  `user_colour` varchar(6){T}'',
  `user_new_privmsg` int(4){T}'0',
  `user_unread_privmsg` int(4){T}'0',
  `user_last_privmsg` int(11) unsigned{T}'0',
  `user_message_rules` tinyint(1) unsigned{T}'0',
  `user_full_folder` int(11){T}'-3',
  `user_emailtime` int(11) unsigned{T}'0',
  `user_topic_show_days` smallint(4) unsigned{T}'0',
  `user_topic_sortby_type` varchar(1){T}'t',
  `user_topic_sortby_dir` varchar(1){T}'d',
  `user_post_show_days` smallint(4) unsigned{T}'0',
  `user_post_sortby_type` varchar(1){T}'t',
  `user_post_sortby_dir` varchar(1){T}'a',
  `user_notify` tinyint(1) unsigned{T}'0',
  `user_notify_pm` tinyint(1) unsigned{T}'1',
  `user_notify_type` tinyint(4){T}'0',
  `user_allow_pm` tinyint(1) unsigned{T}'1',
  `user_allow_viewonline` tinyint(1) unsigned{T}'1',
  `user_allow_viewemail` tinyint(1) unsigned{T}'1',
  `user_allow_massemail` tinyint(1) unsigned{T}'1',
  `user_options` int(11) unsigned{T}'230271',
  `user_avatar` varchar(255){T}'',
  `user_avatar_type` varchar(255){T}'',
  `user_avatar_width` smallint(4) unsigned{T}'0',
  `user_avatar_height` smallint(4) unsigned{T}'0',
  `user_sig` mediumtext NOT NULL,
  `user_sig_bbcode_uid` varchar(8){T}'',
  `user_sig_bbcode_bitfield` varchar(255){T}'',
  `user_jabber` varchar(255){T}'',
  `user_actkey` varchar(32){T}'',
  `user_actkey_expiration` int(11) unsigned{T}'0',
  `reset_token` varchar(64){T}'',
  `reset_token_expiration` int(11) unsigned{T}'0',
  `user_newpasswd` varchar(255){T}'',
  `user_form_salt` varchar(32){T}'',
  `user_new` tinyint(1) unsigned{T}'1',
  `user_reminded` tinyint(4){T}'0',
  `user_reminded_time` int(11) unsigned{T}'0',
  PRIMARY KEY (`user_id`),
  UNIQUE KEY `username_clean` (`username_clean`),
  KEY `user_birthday` (`user_birthday`),
  KEY `user_email` (`user_email`),
  KEY `user_type` (`user_type`)
)""",
}
TAIL = " ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin"


def create_statement(table: str, prefix: str = "phpbb_") -> str:
    return f"CREATE TABLE `{prefix}{table}` " + DDL[table].replace("{T}", _T) + TAIL


def _ip(n: int) -> str:
    return f"10.{(n >> 16) & 255}.{(n >> 8) & 255}.{n & 255}"


def _h(text: str) -> str:
    """phpBB stores names and titles HTML-escaped."""
    return html.escape(text, quote=True)


def _xml_text(text: str) -> str:
    return html.escape(text, quote=False).replace("\n", "<br/>\n")


def post_xml(text: str, quote: tuple[str, int, int, int, str] | None = None) -> str:
    """Post text as phpBB 3.2+ stores it; ``quote`` = (author name, post id, time, user id, quoted text)."""
    if quote is None:
        return f"<t>{_xml_text(text)}</t>"
    name, pid, t, uid, body = quote
    attr = html.escape(name, quote=True)
    mark = html.escape(f'[quote="{name}" post_id={pid} time={t} user_id={uid}]', quote=False)
    return (f'<r><QUOTE author="{attr}" post_id="{pid}" time="{t}" user_id="{uid}"><s>{mark}</s>'
            f"{_xml_text(body)}<e>[/quote]</e></QUOTE>\n{_xml_text(text)}</r>")


def write_dump(forum_dir: Path, out_path: Path, *, prefix: str = "phpbb_") -> dict[str, Any]:
    f = SynthForum(forum_dir)
    truth = f.truth
    start = epoch(truth.get("period", {}).get("start")) or min((epoch(u.get("registered_at")) for u in f.users),
                                                               default=0)
    boards = Numbering()
    for b in f.boards:
        boards(b["id"])
    ranks = Numbering()
    for r in f.ranks:
        ranks(r["id"])
    group_ids: dict[str, int] = {}
    next_group = 8
    for g in f.groups:
        gid = SYNTH_GROUP.get(g.get("kind", ""))
        if gid is None or gid in group_ids.values():
            gid = next_group
            next_group += 1
        group_ids[g["id"]] = gid
    # declared post-count gates become Auto Groups post-count groups
    gate_groups: dict[str, tuple[int, int]] = {}
    for b in f.boards:
        if b.get("min_posts") is not None:
            gate_groups[b["id"]] = (next_group, int(b["min_posts"]))
            next_group += 1
    uid = lambda cid: num(cid) + USER_OFFSET if cid else 1  # noqa: E731
    users_by_num = {num(u["id"]): u for u in f.users}
    topics = {num(t["id"]): t for t in rows(forum_dir, "threads")}
    primary = {m["user_id"]: m["group_id"] for m in f.memberships if m.get("is_primary")}
    special_rank = {r["id"] for r in f.ranks if r.get("is_special")}
    counts: dict[str, int] = {}

    with open_dump(out_path, "wt") as fh:
        w = MySQLDumpWriter(fh, database="phpbb")
        w.header()

        def table(name: str, cols: list[str], data) -> None:  # noqa: ANN001
            w.create_table(prefix + name, create_statement(name, prefix))
            counts[name] = w.insert(prefix + name, cols, data)

        # ---- permissions
        acl = []
        for b in f.boards:
            fid = boards(b["id"])
            required = (b.get("required_group_ids") or "").split("|") if b.get("required_group_ids") else []
            gated = b["id"] in gate_groups or bool(required)
            acl += [(1, fid, 0, R_READONLY, 0), (6, fid, 0, R_BOT, 0), (5, fid, 0, R_FULL, 0),
                    (4, fid, 0, R_STANDARD, 0), (2, fid, 0, R_READONLY if gated else R_STANDARD, 0)]
            if b["id"] in gate_groups:
                acl.append((gate_groups[b["id"]][0], fid, 0, R_STANDARD, 0))
            for g in required:
                gid = group_ids.get(g)
                if gid and gid not in (4, 5):
                    acl.append((gid, fid, 0, R_STANDARD, 0))
        table("acl_groups", ["group_id", "forum_id", "auth_option_id", "auth_role_id", "auth_setting"], acl)
        opt_id = {o: i + 1 for i, o in enumerate(F_OPTIONS)}
        table("acl_options", ["auth_option_id", "auth_option", "is_global", "is_local", "founder_only"],
              [(opt_id[o], o, 0, 1, 0) for o in F_OPTIONS])
        table("acl_roles", ["role_id", "role_name", "role_description", "role_type", "role_order"],
              [(rid, name, name.replace("ROLE_", "ROLE_DESCRIPTION_"), "f_", i + 1) for i, (rid, name, _) in enumerate(ROLES)])
        rdata = []
        for rid, name, opts in ROLES:
            if not opts:
                rdata.append((rid, opt_id["f_"], 0))
            rdata += [(rid, opt_id[o], 1) for o in opts]
        table("acl_roles_data", ["role_id", "auth_option_id", "auth_setting"], rdata)
        table("acl_users", ["user_id", "forum_id", "auth_option_id", "auth_role_id", "auth_setting"], [])

        # ---- attachments (records only)
        post_topic: dict[int, int] = {}

        def attachments() -> Iterator[tuple]:
            for a in rows(forum_dir, "attachments"):
                n = num(a["id"])
                name = a.get("file_name") or f"file_{n}"
                ext = name.rsplit(".", 1)[-1] if "." in name else ""
                yield (n, num(a["post_id"]) if a.get("post_id") else 0, 0, 0, uid(a.get("user_id")), 0,
                       f"{uid(a.get('user_id'))}_{hashlib.md5(name.encode()).hexdigest()}", name,
                       (n * 7) % 50, "", ext, a.get("declared_type") or "", int(a.get("size_bytes") or 0),
                       epoch(a.get("created_at")), 0)

        # attachments need topic ids: written after posts would break alphabetical order; use thread of post
        att_rows = list(attachments())
        # ---- posts (streamed); topic stats gathered on the way
        last: dict[int, tuple[int, int, int, str]] = {}
        nposts: dict[int, int] = {}
        first_subject: dict[int, str] = {}
        with_attach = {r[1] for r in att_rows}

        def posts() -> Iterator[tuple]:
            for p in f.posts():
                n = num(p["id"])
                t = num(p["thread_id"]) if p.get("thread_id") else 0
                post_topic[n] = t
                a = uid(p.get("author_id"))
                au = num(p["author_id"]) if p.get("author_id") else 0
                name = f.user_name.get(au, "Anonymous")
                pt = epoch(p.get("created_at"))
                text = p.get("text") or ""
                q = f.quoted.get(n)
                if q:
                    qa = int(f.post_author[q])
                    raw = post_xml(text, (f.user_name.get(qa, "Anonymous"), q, int(f.post_time[q]), qa + USER_OFFSET,
                                          f.excerpt(q)))
                else:
                    raw = post_xml(text)
                title = topics.get(t, {}).get("title") or ""
                subject = p.get("title") or ("Re: " + title if title else "")
                if t not in first_subject:
                    first_subject[t] = subject
                nposts[t] = nposts.get(t, 0) + 1
                last[t] = (n, a, pt, name)
                uid8 = hashlib.md5(f"uid{n}".encode()).hexdigest()[:8]
                yield (n, t, boards(p.get("board_id")), a, 0, _ip(au), pt, 0, 1, 1, 1, 1, _h(name), _h(subject), raw,
                       hashlib.md5(text.encode()).hexdigest(), 1 if n in with_attach else 0, "QA==" if q else "",
                       uid8, 1, epoch(p.get("edited_at")), "", 0, 0, 0, 2 if p.get("is_deleted") else 1, 0, "", 0)

        if att_rows:  # attachments come before posts in the dump: look up their topics first
            wanted = {r[1] for r in att_rows}
            for p in rows(forum_dir, "posts"):
                n = num(p["id"])
                if n in wanted and p.get("thread_id"):
                    post_topic[n] = num(p["thread_id"])
        table("attachments", ["attach_id", "post_msg_id", "topic_id", "in_message", "poster_id", "is_orphan",
                              "physical_filename", "real_filename", "download_count", "attach_comment", "extension",
                              "mimetype", "filesize", "filetime", "thumbnail"],
              [(r[0], r[1], post_topic.get(r[1], 0)) + r[3:] for r in att_rows])

        # ---- Auto Groups (the declared post-count gates)
        table("autogroups_rules", ["autogroups_id", "autogroups_type_id", "autogroups_min_value",
                                   "autogroups_max_value", "autogroups_group_id", "autogroups_default",
                                   "autogroups_notify", "autogroups_excluded_groups"],
              [(i + 1, 3, mn, 0, gid, 0, 0, "") for i, (gid, mn) in enumerate(gate_groups.values())])
        table("autogroups_types", ["autogroups_type_id", "autogroups_type_name"],
              [(1, "phpbb.autogroups.type.birthdays"), (2, "phpbb.autogroups.type.membership"),
               (3, "phpbb.autogroups.type.posts"), (4, "phpbb.autogroups.type.warnings")])
        table("config", ["config_name", "config_value", "is_dynamic"], [
            ("board_startdate", str(start), 0), ("default_lang", f.forum.get("language") or "en", 0),
            ("site_desc", f.forum.get("description") or "", 0), ("sitename", f.forum.get("name") or "", 0),
            ("version", "3.3.11", 0)])

        # ---- forums (nested set)
        children: dict[str | None, list[dict]] = {}
        for b in f.boards:
            children.setdefault(b.get("parent_id"), []).append(b)
        lr: dict[str, tuple[int, int]] = {}
        counter = [0]

        def walk(b: dict) -> None:
            counter[0] += 1
            left = counter[0]
            for c in children.get(b["id"], []):
                walk(c)
            counter[0] += 1
            lr[b["id"]] = (left, counter[0])

        for b in children.get(None, []):
            walk(b)

        def forums() -> Iterator[tuple]:
            for b in f.boards:
                left, right = lr.get(b["id"], (0, 0))
                is_cat = b.get("description") == "category" or not b.get("parent_id")
                yield (boards(b["id"]), boards(b.get("parent_id")) if b.get("parent_id") else 0, left, right, "",
                       _h(b.get("name") or ""), b.get("description") or "", "", 7, "", "", "", 0, "", "", "", "", 7, "",
                       0, 0 if is_cat else 1, 1 if b.get("closed_at") else 0, 0, 0, "", 0, "", "", 32, 1, 1, 1, 0, 0,
                       0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7, 1, 0)

        table("forums", _columns("forums"), forums())

        # ---- groups
        def groups() -> Iterator[tuple]:
            names = dict(BUILTIN_GROUPS)
            for gid, name in BUILTIN_GROUPS:
                yield _group_row(gid, name, 3, "")
            for g in f.groups:
                gid = group_ids[g["id"]]
                if gid not in names:
                    yield _group_row(gid, _h(g.get("name") or g["id"]), 1, g.get("description") or "")
            for bid, (gid, mn) in gate_groups.items():
                yield _group_row(gid, _h(f"{f.boards_by_id[bid].get('name')} members"), 1,
                                 f"members with at least {mn} posts (Auto Groups)")

        table("groups", _columns("groups"), groups())
        table("posts", _columns("posts"), posts())
        pms = list(rows(forum_dir, "private_messages"))
        pm_num = Numbering()
        for m in pms:
            pm_num(m["id"])
        roots: dict[str, int] = {}
        for m in pms:
            roots.setdefault(m.get("conversation_id") or m["id"], pm_num(m["id"]))

        def recipients(m: dict) -> list[int]:
            return [uid(r) for r in (m.get("recipient_ids") or "").split("|") if r]

        table("privmsgs", _columns("privmsgs"), [
            (pm_num(m["id"]), roots[m.get("conversation_id") or m["id"]] if roots[m.get("conversation_id") or m["id"]]
             != pm_num(m["id"]) else 0, uid(m.get("sender_id")), 0, _ip(num(m["sender_id"])) if m.get("sender_id") else "",
             epoch(m.get("sent_at")), 1, 1, 1, 1, _h(m.get("subject") or ""), post_xml(m.get("text") or ""), "", 0, 0, "",
             hashlib.md5(m["id"].encode()).hexdigest()[:8], 0, 0, ":".join(f"u_{r}" for r in recipients(m)), "", 0)
            for m in pms])
        table("privmsgs_to", _columns("privmsgs_to"), [
            row for m in pms for row in
            [(pm_num(m["id"]), uid(m.get("sender_id")), uid(m.get("sender_id")), 0, 0, 0, 0, 0, 0, -1)] +
            [(pm_num(m["id"]), r, uid(m.get("sender_id")), 0, 1, 1, 0, 0, 0, 0) for r in recipients(m)]])
        table("ranks", ["rank_id", "rank_title", "rank_min", "rank_special", "rank_image"],
              [(ranks(r["id"]), _h(r.get("name") or ""), int(r.get("min_posts") or 0) if not r.get("is_special") else 0,
                1 if r.get("is_special") else 0, "") for r in f.ranks])
        end = epoch(truth.get("period", {}).get("end")) or start
        table("sessions", _columns("sessions"), [
            (hashlib.md5(f"s{i}".encode()).hexdigest(), USER_OFFSET + 1 + i, end, end, end, _ip(999_000 + i),
             "Mozilla/5.0 (synthetic)", "", "index.php", 1, 0, 0, 0) for i in range(3)])

        def thanks() -> Iterator[tuple]:
            for i in f.thanks:
                p = num(i["target_post_id"])
                t = post_topic.get(p, 0)
                yield (p, uid(i.get("target_user_id")), uid(i.get("source_user_id")), t,
                       boards(topics.get(t, {}).get("board_id")) if t in topics else 0, epoch(i.get("created_at")))

        table("thanks", ["post_id", "poster_id", "user_id", "topic_id", "forum_id", "thanks_time"], thanks())

        def topic_rows() -> Iterator[tuple]:
            for t, th in topics.items():
                ln, la, lt, lname = last.get(t, (0, 0, 0, ""))
                first = num(th["first_post_id"]) if th.get("first_post_id") else 0
                author = uid(th.get("author_id"))
                aname = f.user_name.get(author - USER_OFFSET, "Anonymous")
                yield (t, boards(th.get("board_id")), 0, 0, 0, _h(th.get("title") or ""), author,
                       epoch(th.get("created_at")), 0, (t * 37) % 500 + nposts.get(t, 0), 1 if th.get("is_locked") else 0,
                       1 if th.get("is_sticky") else 0, first, _h(aname), "", ln, la, _h(lname), "",
                       _h(first_subject.get(t, "")), lt, lt, 0, 0, 0, "", 0, 0, 1, 0, 0, 1, 0, "", 0,
                       nposts.get(t, 0), 0, 0)

        table("topics", _columns("topics"), topic_rows())

        # ---- memberships
        def user_groups() -> Iterator[tuple]:
            yield (1, 1, 0, 0)
            for i in range(len(BOTS)):
                yield (6, 2 + i, 0, 0)
            for m in f.memberships:
                yield (group_ids[m["group_id"]], uid(m["user_id"]), 0, 0)
            for bid, (gid, mn) in gate_groups.items():
                for u in f.users:
                    if int(u.get("post_count_reported") or 0) >= mn:
                        yield (gid, uid(u["id"]), 0, 0)

        table("user_group", ["group_id", "user_id", "group_leader", "user_pending"], user_groups())

        # ---- users
        def users() -> Iterator[tuple]:
            yield _user_row(1, 2, 1, "Anonymous", start, 0, 0, "", "", 0, "en", "")
            for i, name in enumerate(BOTS):
                yield _user_row(2 + i, 2, 6, name, start, 0, 0, "", "", 0, "en", "")
            first_admin = True
            for n, u in sorted(users_by_num.items()):
                grp = group_ids.get(primary.get(u["id"], "g-members"), 2)
                utype = 0
                if grp == 5 and first_admin:
                    utype, first_admin = 3, False
                rank = ranks(u["rank_id"]) if u.get("rank_id") in special_rank else 0
                yield _user_row(n + USER_OFFSET, utype, grp, u.get("name") or f"user{n}", epoch(u.get("registered_at")),
                                epoch(u.get("last_seen_at")), int(u.get("post_count_reported") or 0),
                                f"user{n}@example.invalid", _ip(n), rank, u.get("language") or "en",
                                u.get("timezone_declared") or "")

        table("users", _columns("users"), users())
        w.footer()
    ids = {"user_offset": USER_OFFSET, "boards": dict(boards.ids), "ranks": dict(ranks.ids), "groups": group_ids,
           "gate_groups": {b: g for b, (g, _) in gate_groups.items()}, "private_messages": dict(pm_num.ids)}
    return {"engine": "phpbb", "path": str(out_path), "tables": counts, "ids": ids, "prefix": prefix}


def _columns(table: str) -> list[str]:
    import re

    return [m.group(1) for m in re.finditer(r"^\s*`(\w+)`", DDL[table], re.M)]


def _group_row(gid: int, name: str, gtype: int, desc: str) -> tuple:
    return (gid, gtype, 0, 0, name, desc, "", 7, "", 0, "", "", 0, 0, 0, "", 0, 0, 0, 0, 0)


def _user_row(user_id: int, utype: int, group: int, name: str, reg: int, last: int, posts: int, email: str, ip: str,
              rank: int, lang: str, tz: str) -> tuple:
    return (user_id, utype, group, "", 0, ip, reg, _h(name), name.lower(), FAKE_PASSWORD, reg, email, "", last, last,
            last, 0, "", "", 0, 0, 0, 0, 0, 0, posts, lang, tz, "d M Y H:i", 1, rank, "", 0, 0, 0, 0, -3, 0, 0, "t",
            "d", 0, "t", "a", 0, 1, 0, 1, 1, 1, 1, 230271, "", "", 0, 0, "", "", "", "", "", 0, "", 0, "", "synthsalt",
            0, 0, 0)
