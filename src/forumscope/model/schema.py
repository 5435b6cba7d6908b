"""The canonical forum data model: every table, field, type and meaning.

This module is the single source of truth for the tables of a case. The DuckDB
DDL, the canonical input format (docs/format.md), the data-model page
(docs/data-model.md) and the loader's validation are all derived from it; a test
fails when a field here is missing from the docs.

All ids are strings scoped by ``forum_id``. All times are UTC ``TIMESTAMP``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# DuckDB logical types used by the model.
VARCHAR = "VARCHAR"
BIGINT = "BIGINT"
DOUBLE = "DOUBLE"
BOOLEAN = "BOOLEAN"
TIMESTAMP = "TIMESTAMP"


@dataclass(frozen=True)
class Field:
    name: str
    type: str
    required: bool = False
    doc: str = ""
    # Filled from another record when missing (documented rule); see loader.
    derived: str = ""


@dataclass(frozen=True)
class Table:
    name: str
    doc: str
    fields: tuple[Field, ...]
    key: tuple[str, ...]
    kind: str = "data"  # "data" (forum records), "coding" (human coders' work) or "provenance"
    fill_rules: tuple[str, ...] = field(default=())

    @property
    def field_names(self) -> list[str]:
        return [f.name for f in self.fields]

    def get(self, name: str) -> Field:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(name)


def F(name: str, type_: str = VARCHAR, required: bool = False, doc: str = "", derived: str = "") -> Field:
    return Field(name, type_, required, doc, derived)


FORUM_ID = F("forum_id", VARCHAR, True, "Id of the forum this record belongs to (see `forums.id`).")

TABLES: dict[str, Table] = {}


def _t(table: Table) -> Table:
    TABLES[table.name] = table
    return table


_t(Table("forums", "One row per forum (site, board system, channel network) in the case.", (
    F("id", VARCHAR, True, "Forum id; every other record is scoped by it."),
    F("name", VARCHAR, False, "Human-readable forum name."),
    F("platform", VARCHAR, False, "Software or source the data came from: stackexchange, irc, convokit, phpbb, synthetic, other."),
    F("url", VARCHAR, False, "Address the forum was known under (text only; never fetched)."),
    F("description", VARCHAR, False, "Free-text description."),
    F("language", VARCHAR, False, "Main language, ISO 639-1 code if known."),
    F("created_at", TIMESTAMP, False, "When the forum started, if known."),
), key=("id",)))

_t(Table("boards", "Boards, sub-forums, categories or channels. Declared access rules are kept when the source has them.", (
    FORUM_ID,
    F("id", VARCHAR, True, "Board id."),
    F("parent_id", VARCHAR, False, "Parent board id for nested boards."),
    F("name", VARCHAR, False, "Board name (forum text: hostile, escaped when shown)."),
    F("description", VARCHAR, False, "Board description."),
    F("position", BIGINT, False, "Display order among siblings."),
    F("language", VARCHAR, False, "Declared language of the board (ISO 639-1)."),
    F("is_hidden", BOOLEAN, False, "True when the board is hidden from ordinary members."),
    F("access_rule", VARCHAR, False, "Declared access rule as text from the source (e.g. 'rank>=3', 'group:vip')."),
    F("min_posts", BIGINT, False, "Declared minimum post count to post here (a declared gate)."),
    F("min_rank_id", VARCHAR, False, "Declared minimum rank (`ranks.id`) to post here."),
    F("required_group_ids", VARCHAR, False, "Declared groups allowed to post here, `|`-separated `groups.id`s."),
    F("created_at", TIMESTAMP, False, "When the board was created."),
    F("closed_at", TIMESTAMP, False, "When the board was closed or taken down, if known."),
), key=("forum_id", "id")))

_t(Table("users", "Accounts (members). Handles are forum text; reports show keyed pseudonyms unless the case reveals handles.", (
    FORUM_ID,
    F("id", VARCHAR, True, "User id."),
    F("name", VARCHAR, False, "Handle / display name."),
    F("registered_at", TIMESTAMP, False, "Registration time."),
    F("last_seen_at", TIMESTAMP, False, "Last visit or last activity reported by the source."),
    F("post_count_reported", BIGINT, False, "Post count as the source reports it (may include deleted posts)."),
    F("reputation", BIGINT, False, "Reputation / karma / points reported by the source."),
    F("rank_id", VARCHAR, False, "Current rank (`ranks.id`)."),
    F("title", VARCHAR, False, "Custom user title."),
    F("location", VARCHAR, False, "Self-declared location text."),
    F("timezone_declared", VARCHAR, False, "Time zone the user declared in their profile (IANA name or offset)."),
    F("language", VARCHAR, False, "Declared interface or profile language."),
    F("profile_text", VARCHAR, False, "About-me / signature text."),
    F("external_account_id", VARCHAR, False, "Network-wide account id when the source has one (e.g. Stack Exchange AccountId)."),
    F("is_bot", BOOLEAN, False, "True for system or bot accounts."),
    F("is_deleted", BOOLEAN, False, "True for deleted or anonymised accounts."),
), key=("forum_id", "id")))

_t(Table("ranks", "The rank ladder. Thresholds are filled where ranks are rule-based (post counts, reputation).", (
    FORUM_ID,
    F("id", VARCHAR, True, "Rank id."),
    F("name", VARCHAR, False, "Rank name."),
    F("position", BIGINT, False, "Order on the ladder, 0 = lowest."),
    F("min_posts", BIGINT, False, "Post count at which the rank is reached, if rule-based."),
    F("min_reputation", BIGINT, False, "Reputation at which the rank/privilege is reached, if rule-based."),
    F("is_special", BOOLEAN, False, "True for ranks assigned by hand (staff, VIP), not by threshold."),
    F("description", VARCHAR, False, "What the rank grants, if known."),
), key=("forum_id", "id")))

_t(Table("groups", "User groups (administrators, moderators, VIP, ...).", (
    FORUM_ID,
    F("id", VARCHAR, True, "Group id."),
    F("name", VARCHAR, False, "Group name."),
    F("kind", VARCHAR, False, "admin, moderator, staff, vip, member, banned, bot or other."),
    F("description", VARCHAR, False, "Group description."),
), key=("forum_id", "id")))

_t(Table("memberships", "Which user belongs to which group, and since when.", (
    FORUM_ID,
    F("user_id", VARCHAR, True, "Member (`users.id`)."),
    F("group_id", VARCHAR, True, "Group (`groups.id`)."),
    F("since", TIMESTAMP, False, "When the membership started."),
    F("until", TIMESTAMP, False, "When it ended."),
    F("is_primary", BOOLEAN, False, "True for the user's primary/display group."),
), key=("forum_id", "user_id", "group_id")))

_t(Table("threads", "Threads (topics, questions, conversations).", (
    FORUM_ID,
    F("id", VARCHAR, True, "Thread id."),
    F("board_id", VARCHAR, False, "Board (`boards.id`)."),
    F("title", VARCHAR, False, "Thread title."),
    F("author_id", VARCHAR, False, "Starter (`users.id`).", derived="author of first_post_id"),
    F("created_at", TIMESTAMP, False, "When the thread was started."),
    F("first_post_id", VARCHAR, False, "Opening post (`posts.id`)."),
    F("is_locked", BOOLEAN, False, "Locked / closed for replies."),
    F("is_sticky", BOOLEAN, False, "Pinned / sticky."),
    F("view_count", BIGINT, False, "Views reported by the source."),
    F("reply_count_reported", BIGINT, False, "Replies reported by the source."),
    F("tags", VARCHAR, False, "Tags, `|`-separated."),
    F("closed_at", TIMESTAMP, False, "When the thread was closed, if known."),
), key=("forum_id", "id")))

_t(Table("posts", "Posts: opening posts, replies, answers, comments, chat messages.", (
    FORUM_ID,
    F("id", VARCHAR, True, "Post id."),
    F("thread_id", VARCHAR, False, "Thread (`threads.id`).", derived="thread of parent_id"),
    F("board_id", VARCHAR, False, "Board (`boards.id`).", derived="board of thread_id"),
    F("author_id", VARCHAR, False, "Author (`users.id`); empty for guests."),
    F("author_name", VARCHAR, False, "Name shown for the author (guests, deleted users)."),
    F("created_at", TIMESTAMP, False, "When the post was written."),
    F("edited_at", TIMESTAMP, False, "Last edit."),
    F("parent_id", VARCHAR, False, "The post this one explicitly replies to (`posts.id`)."),
    F("position", BIGINT, False, "Position in the thread, 0 = opening post."),
    F("title", VARCHAR, False, "Post subject."),
    F("text", VARCHAR, False, "Plain text for analysis (markup removed)."),
    F("raw", VARCHAR, False, "Original markup (HTML, BBCode, Markdown) when it differs from text."),
    F("format", VARCHAR, False, "Format of raw: plain, html, bbcode or markdown."),
    F("language", VARCHAR, False, "Declared language (ISO 639-1); detected languages are analysis results."),
    F("score", BIGINT, False, "Score / net votes reported by the source."),
    F("kind", VARCHAR, False, "post, question, answer, comment, message, wiki or other."),
    F("is_deleted", BOOLEAN, False, "Deleted or hidden by moderation."),
), key=("forum_id", "id")))

_t(Table("interactions", "Directed person-to-person acts: reply, quote, mention, thanks, vote, accept, favorite, link, private_message, ...", (
    FORUM_ID,
    F("id", VARCHAR, False, "Interaction id; when missing it is derived from kind, post ids, users and time."),
    F("kind", VARCHAR, True, "reply, quote, mention, thanks, vote, accept, favorite, bounty, link, duplicate, reaction, reputation, private_message, other."),
    F("source_user_id", VARCHAR, False, "Who acted (`users.id`); empty when anonymous (e.g. Stack Exchange votes)."),
    F("target_user_id", VARCHAR, False, "Who it was aimed at (`users.id`).", derived="author of target_post_id"),
    F("post_id", VARCHAR, False, "The post that carries the act (the reply, the quoting post)."),
    F("target_post_id", VARCHAR, False, "The post acted on (replied to, quoted, thanked, voted)."),
    F("created_at", TIMESTAMP, False, "When it happened.", derived="created_at of post_id"),
    F("value", DOUBLE, False, "Weight or sign (vote +1/-1, reputation points, reaction count)."),
    F("detail", VARCHAR, False, "Sub-kind as text (e.g. vote type name, reaction name)."),
), key=("forum_id", "id")))

_t(Table("attachments", "Attachment records only: never the bytes (SAFETY.md).", (
    FORUM_ID,
    F("id", VARCHAR, True, "Attachment id."),
    F("post_id", VARCHAR, False, "Post it was attached to."),
    F("user_id", VARCHAR, False, "Uploader (`users.id`)."),
    F("file_name", VARCHAR, False, "File name as recorded by the source."),
    F("size_bytes", BIGINT, False, "Size in bytes as recorded by the source."),
    F("declared_type", VARCHAR, False, "MIME type or extension as declared by the source."),
    F("md5", VARCHAR, False, "MD5 given by the source (hex)."),
    F("sha1", VARCHAR, False, "SHA-1 given by the source (hex)."),
    F("sha256", VARCHAR, False, "SHA-256 given by the source (hex)."),
    F("download_count", BIGINT, False, "Downloads reported by the source."),
    F("created_at", TIMESTAMP, False, "Upload time."),
), key=("forum_id", "id")))

_t(Table("private_messages", "Private-message metadata; text only where the case allows it.", (
    FORUM_ID,
    F("id", VARCHAR, True, "Message id."),
    F("sender_id", VARCHAR, False, "Sender (`users.id`)."),
    F("recipient_ids", VARCHAR, False, "Recipients, `|`-separated `users.id`s."),
    F("sent_at", TIMESTAMP, False, "When it was sent."),
    F("subject", VARCHAR, False, "Subject line."),
    F("text", VARCHAR, False, "Body text (dropped unless case.toml sets privacy.store_private_message_text)."),
    F("conversation_id", VARCHAR, False, "Conversation / PM thread id."),
    F("parent_id", VARCHAR, False, "Message this one answers."),
), key=("forum_id", "id")))

_t(Table("events", "Moderation and system events: close, lock, delete, edit, join, rename, rule change, takedown.", (
    FORUM_ID,
    F("id", VARCHAR, True, "Event id."),
    F("kind", VARCHAR, True, "close, reopen, delete, undelete, lock, unlock, edit, join, part, quit, rename, migrate, merge, protect, unprotect, takedown, announcement, other."),
    F("created_at", TIMESTAMP, False, "When it happened."),
    F("user_id", VARCHAR, False, "Who did it (`users.id`)."),
    F("post_id", VARCHAR, False, "Post concerned."),
    F("thread_id", VARCHAR, False, "Thread concerned."),
    F("board_id", VARCHAR, False, "Board concerned."),
    F("detail", VARCHAR, False, "Source-specific detail (e.g. Stack Exchange PostHistoryType name, close reason)."),
), key=("forum_id", "id")))

_t(Table("badges", "Badges, awards and trophies given to members.", (
    FORUM_ID,
    F("id", VARCHAR, True, "Award id."),
    F("user_id", VARCHAR, True, "Recipient (`users.id`)."),
    F("name", VARCHAR, True, "Badge name."),
    F("class", VARCHAR, False, "Badge class or level (gold, silver, bronze, ...)."),
    F("awarded_at", TIMESTAMP, False, "When it was awarded."),
    F("tag_based", BOOLEAN, False, "True when awarded for a tag rather than site-wide."),
), key=("forum_id", "id")))

_t(Table("tags", "Tags used to label threads.", (
    FORUM_ID,
    F("id", VARCHAR, True, "Tag id."),
    F("name", VARCHAR, True, "Tag name."),
    F("count", BIGINT, False, "Uses reported by the source."),
    F("excerpt_post_id", VARCHAR, False, "Post holding the tag's short description."),
    F("wiki_post_id", VARCHAR, False, "Post holding the tag's wiki."),
), key=("forum_id", "id")))

_t(Table("contacts", "Keyed pseudonyms of members' e-mail addresses and IP addresses, kept only when the case sets privacy.store_contact_pseudonyms; never in clear (SAFETY.md). One row per member, kind and pseudonym.", (
    FORUM_ID,
    F("id", VARCHAR, True, "Row id: `<kind>:<user_id>:<pseudonym>`."),
    F("user_id", VARCHAR, False, "Member (`users.id`); empty for guests."),
    F("kind", VARCHAR, False, "email or ip."),
    F("pseudonym", VARCHAR, False, "HMAC-SHA256 of the value with the case key (`E-...` for e-mails, `I-...` for IPs)."),
    F("first_seen_at", TIMESTAMP, False, "Earliest time a source record carries it (registration, post, message)."),
    F("last_seen_at", TIMESTAMP, False, "Latest such time."),
    F("records", BIGINT, False, "Source records carrying it (registration, posts, private messages)."),
), key=("forum_id", "id")))

_t(Table("human_codes", "Codes given by human coders in coding sheets (`forumscope coding import`, docs/coding.md): one row per item, code and coder. Model tags are never stored here.", (
    FORUM_ID,
    F("post_id", VARCHAR, True, "Coded post (`posts.id`)."),
    F("sentence_no", BIGINT, False, "Sentence of the post for sentence-level coding; empty = the whole post."),
    F("codebook", VARCHAR, True, "Codebook id."),
    F("codebook_version", VARCHAR, False, "Codebook version the sheet was made with."),
    F("code", VARCHAR, True, "Code id of the codebook."),
    F("coder", VARCHAR, True, "Name of the human coder."),
    F("value", BOOLEAN, True, "True: the coder judged that the code applies; false: that it does not."),
    F("sheet", VARCHAR, False, "Coding sheet the value came from (its path as given at import)."),
    F("line", BIGINT, False, "Line of the sheet (1 = the header)."),
    F("imported_at", TIMESTAMP, False, "When the sheet was imported (UTC)."),
), key=("forum_id", "post_id", "sentence_no", "codebook", "code", "coder"), kind="coding"))

# ---------------------------------------------------------------- provenance

_t(Table("ingest_runs", "One row per `forumscope ingest` run.", (
    F("id", VARCHAR, True, "Ingest run id."),
    F("started_at", TIMESTAMP, True, "Start (UTC)."),
    F("finished_at", TIMESTAMP, False, "End (UTC)."),
    F("format", VARCHAR, False, "Reader used."),
    F("sources", VARCHAR, False, "Sources as given on the command line, JSON list."),
    F("forum_id", VARCHAR, False, "Forum id the run wrote to, when one."),
    F("status", VARCHAR, False, "running, ok, failed."),
    F("forumscope_version", VARCHAR, False, "Version that ran it."),
    F("message", VARCHAR, False, "Error message for failed runs."),
), key=("id",), kind="provenance"))

_t(Table("evidence", "Every input file read, with its hash: the case's evidence manifest (also kept as evidence.csv).", (
    F("sha256", VARCHAR, True, "SHA-256 of the file's bytes (of the member's bytes for archive members)."),
    F("size_bytes", BIGINT, True, "Size in bytes."),
    F("path", VARCHAR, True, "Path as given (relative to the working directory when possible)."),
    F("member", VARCHAR, False, "Path inside an archive, for archive members."),
    F("seen_at", TIMESTAMP, True, "When it was ingested (UTC)."),
    F("ingest_run_id", VARCHAR, True, "Ingest run (`ingest_runs.id`)."),
    F("status", VARCHAR, False, "ingested, already_ingested, skipped_media, refused."),
), key=("ingest_run_id", "sha256", "path", "member"), kind="provenance"))

_t(Table("reconciliation", "Per ingest run and table: records read = stored + unchanged + rejected.", (
    F("ingest_run_id", VARCHAR, True, "Ingest run."),
    F("table_name", VARCHAR, True, "Target table."),
    F("read", BIGINT, True, "Records read from the sources (read = stored + merged + unchanged + rejected)."),
    F("stored", BIGINT, True, "New records stored."),
    F("unchanged", BIGINT, True, "Records identical to one already stored (re-ingest, exact duplicates)."),
    F("rejected", BIGINT, True, "Records listed in `rejects`."),
    F("derived", BIGINT, False, "Records the loader derived, not read (reply interactions from `posts.parent_id`)."),
    F("merged", BIGINT, False, "Records whose id was stored already and which only filled empty fields of it."),
), key=("ingest_run_id", "table_name"), kind="provenance"))

_t(Table("rejects", "Every record read but not stored, with where it was and why.", (
    F("ingest_run_id", VARCHAR, True, "Ingest run."),
    F("table_name", VARCHAR, False, "Target table, when known."),
    F("source", VARCHAR, True, "File (and archive member) it came from."),
    F("line", BIGINT, False, "1-based line number, when known."),
    F("byte_offset", BIGINT, False, "0-based byte offset in the (decompressed) file, when known."),
    F("record", BIGINT, False, "1-based record number in the file, when lines are not known."),
    F("reason", VARCHAR, True, "Why it was rejected (short code: detail)."),
    F("excerpt", VARCHAR, False, "First 200 characters of the raw record (forum text: escaped when shown)."),
), key=(), kind="provenance"))

_t(Table("flags", "Records stored but flagged: reply to a missing post, unparseable time (set empty), conflicts with stored records.", (
    F("ingest_run_id", VARCHAR, True, "Ingest run."),
    F("table_name", VARCHAR, True, "Table of the flagged record."),
    F("forum_id", VARCHAR, False, "Forum of the flagged record."),
    F("record_id", VARCHAR, False, "Key of the flagged record."),
    F("flag", VARCHAR, True, "missing_parent, missing_thread, bad_time, future_time, bad_value, ..."),
    F("detail", VARCHAR, False, "Field and raw value."),
    F("source", VARCHAR, False, "File it came from."),
    F("line", BIGINT, False, "Line or record number."),
), key=(), kind="provenance"))

_t(Table("runs", "One row per analysis step run: parameters, versions, input fingerprint.", (
    F("id", VARCHAR, True, "Run id."),
    F("step", VARCHAR, True, "Step name."),
    F("started_at", TIMESTAMP, True, "Start (UTC)."),
    F("finished_at", TIMESTAMP, False, "End (UTC)."),
    F("status", VARCHAR, False, "running, ok, failed."),
    F("parameters", VARCHAR, False, "Parameters as JSON."),
    F("versions", VARCHAR, False, "Package versions as JSON."),
    F("input_fingerprint", VARCHAR, False, "Hash of the inputs' row counts and evidence."),
    F("message", VARCHAR, False, "Error message for failed runs."),
), key=("id",), kind="provenance"))

DATA_TABLES = [t for t in TABLES.values() if t.kind == "data"]
PROVENANCE_TABLES = [t for t in TABLES.values() if t.kind == "provenance"]
CODING_TABLES = [t for t in TABLES.values() if t.kind == "coding"]

# Vocabularies (documented; values outside them are kept but flagged).
INTERACTION_KINDS = (
    "reply", "quote", "mention", "thanks", "vote", "accept", "favorite", "bounty", "link",
    "duplicate", "reaction", "reputation", "private_message", "other",
)
POST_FORMATS = ("plain", "html", "bbcode", "markdown")
GROUP_KINDS = ("admin", "moderator", "staff", "vip", "member", "banned", "bot", "other")


def ddl(table: Table) -> str:
    cols = ",\n  ".join(f'"{f.name}" {f.type}' for f in table.fields)
    return f'CREATE TABLE IF NOT EXISTS "{table.name}" (\n  {cols}\n)'
