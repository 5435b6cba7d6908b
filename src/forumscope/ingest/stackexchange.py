"""Stack Exchange data-dump reader (``Posts.xml``, ``Users.xml``, ... in one folder).

The public dumps hold one ``<row attr="value" ... />`` element per line. This reader
does **not** use an XML parser: it reads each file line by line (bounded memory),
checks every line against a strict pattern for a complete row, and decodes only the
five predefined XML entities and numeric character references. Everything else is
rejected line by line (``Sink.reject``) and reading goes on:

* another entity (``&foo;``), a malformed or out-of-range character reference;
* a character XML does not allow, bytes that are not UTF-8;
* a line that is not one complete row (``not_a_row``), a row cut off at the end of
  the file (``truncated``), a line longer than ``ReadOptions.max_record_bytes``.

A file declaring entities (``<!ENTITY``) or a DOCTYPE with an internal subset
(``<!DOCTYPE x [ ... ]>``, the shape of entity-expansion "billion laughs" bombs) is
refused as a whole with :class:`~forumscope.errors.InputError`; nothing is ever
expanded. A plain external DOCTYPE line (``<!DOCTYPE posts SYSTEM 'posts.dtd'>``,
as found in some republished dumps) is harmless here, since the DTD is never read or
fetched: it is counted with ``Sink.skipped`` and ignored.

The mapping from dump columns to the canonical tables is documented column by
column in ``docs/formats/stackexchange.md``.

Example (with any :class:`~forumscope.ingest.base.Sink`)::

    reader = StackExchangeReader()
    if reader.detect(Path("se-conlang-meta")):
        reader.read(Path("se-conlang-meta"), sink, ReadOptions())
"""

from __future__ import annotations

import re
from bisect import bisect_right
from html.parser import HTMLParser
from pathlib import Path, PurePosixPath
from typing import Any, Callable

from forumscope.errors import InputError
from forumscope.ingest.base import BATCH_ROWS, Batcher, ReadOptions, Reader, Sink, read_line

PLATFORM = "stackexchange"

# Dump files in reading order -> (expected root element, table rejects are counted in).
DUMP_FILES: dict[str, tuple[str, str]] = {
    "Users.xml": ("users", "users"),
    "Posts.xml": ("posts", "posts"),
    "Comments.xml": ("comments", "posts"),
    "Badges.xml": ("badges", "badges"),
    "Votes.xml": ("votes", "interactions"),
    "PostHistory.xml": ("posthistory", "events"),
    "PostLinks.xml": ("postlinks", "interactions"),
    "Tags.xml": ("tags", "tags"),
}
DETECT_FILES = ("Posts.xml", "Users.xml")

# --------------------------------------------------------------- vocabularies

POST_TYPES: dict[int, str] = {
    1: "Question", 2: "Answer", 3: "OrphanedTagWiki", 4: "TagWikiExcerpt", 5: "TagWiki",
    6: "ModeratorNomination", 7: "WikiPlaceholder", 8: "PrivilegeWiki",
}
# PostTypeId -> (board id, post kind). Unknown types go to ("other", "other").
POST_TYPE_BOARD: dict[int, tuple[str, str]] = {
    1: ("questions", "question"),
    2: ("questions", "answer"),
    3: ("tag-wiki", "wiki"),
    4: ("tag-wiki", "wiki"),
    5: ("tag-wiki", "wiki"),
}
BOARDS: dict[str, tuple[str, str, int]] = {  # id -> (name, description, position)
    "questions": ("Questions", "Questions and their answers (PostTypeId 1 and 2).", 0),
    "tag-wiki": ("Tag wikis", "Tag wiki and tag excerpt posts (PostTypeId 3, 4, 5).", 1),
    "other": ("Other posts", "Moderator nominations, wiki placeholders, privilege wikis "
                             "and any other PostTypeId (6, 7, 8, ...).", 2),
}

ACCEPT_DETAIL = "accepted answer"
VOTE_TYPES: dict[int, str] = {
    1: "AcceptedByOriginator",
    2: "UpMod",
    3: "DownMod",
    4: "Offensive",
    5: "Favorite",
    6: "Close",
    7: "Reopen",
    8: "BountyStart",
    9: "BountyClose",
    10: "Deletion",
    11: "Undeletion",
    12: "Spam",
    13: "InformModerator",
    15: "ModeratorReview",
    16: "ApproveEditSuggestion",
}

POST_HISTORY_TYPES: dict[int, str] = {
    1: "Initial Title",
    2: "Initial Body",
    3: "Initial Tags",
    4: "Edit Title",
    5: "Edit Body",
    6: "Edit Tags",
    7: "Rollback Title",
    8: "Rollback Body",
    9: "Rollback Tags",
    10: "Post Closed",
    11: "Post Reopened",
    12: "Post Deleted",
    13: "Post Undeleted",
    14: "Post Locked",
    15: "Post Unlocked",
    16: "Community Owned",
    17: "Post Migrated",
    18: "Question Merged",
    19: "Question Protected",
    20: "Question Unprotected",
    21: "Post Disassociated",
    22: "Question Unmerged",
    24: "Suggested Edit Applied",
    25: "Post Tweeted",
    31: "Comment discussion moved to chat",
    33: "Post notice added",
    34: "Post notice removed",
    35: "Post migrated away",
    36: "Post migrated here",
    37: "Post merge source",
    38: "Post merge destination",
    50: "Bumped by Community User",
    52: "Question became hot network question",
    53: "Question removed from hot network questions by a moderator",
    66: "Created from Ask Wizard",
}
POST_HISTORY_KINDS: dict[int, str] = {
    **{i: "edit" for i in range(1, 10)},
    10: "close", 11: "reopen", 12: "delete", 13: "undelete", 14: "lock", 15: "unlock",
    17: "migrate", 35: "migrate", 36: "migrate",
    18: "merge", 37: "merge", 38: "merge",
    19: "protect", 20: "unprotect",
}
# Close reasons in PostHistory.Comment for PostHistoryTypeId 10 (old ids 1-10, 20; new 101-105).
CLOSE_REASONS: dict[str, str] = {
    "1": "exact duplicate", "2": "off-topic", "3": "subjective and argumentative",
    "4": "not a real question", "7": "too localized", "10": "general reference",
    "20": "noise or pointless",
    "101": "duplicate", "102": "off-topic", "103": "unclear what you're asking",
    "104": "too broad", "105": "primarily opinion-based",
}

LINK_TYPES: dict[int, tuple[str, str]] = {1: ("link", "Linked"), 3: ("duplicate", "Duplicate")}
BADGE_CLASSES: dict[str, str] = {"1": "gold", "2": "silver", "3": "bronze"}

# The public reputation privilege ladder of *graduated* Stack Exchange sites.
# (threshold, privileges gained at it). Public beta sites use lower thresholds for
# the upper rungs; this ladder is the one loaded (see docs/formats/stackexchange.md).
REPUTATION_LADDER: tuple[tuple[int, tuple[str, ...]], ...] = (
    (1, ("create posts",)),
    (5, ("participate in meta",)),
    (10, ("remove new user restrictions", "create wiki posts")),
    (15, ("vote up", "flag posts")),
    (20, ("talk in chat",)),
    (50, ("comment everywhere",)),
    (75, ("set bounties",)),
    (100, ("edit community wiki",)),
    (125, ("vote down",)),
    (200, ("reduced ads",)),
    (250, ("view close votes",)),
    (500, ("access review queues",)),
    (1000, ("established user",)),
    (1500, ("create tags",)),
    (2000, ("edit questions and answers",)),
    (2500, ("create tag synonyms",)),
    (3000, ("cast close and reopen votes",)),
    (5000, ("approve tag wiki edits",)),
    (10000, ("access to moderator tools",)),
    (15000, ("protect questions",)),
    (20000, ("trusted user",)),
    (25000, ("access to site analytics",)),
)
_LADDER_MINS = [m for m, _ in REPUTATION_LADDER]


def rank_id_for(reputation: int) -> str | None:
    """Id of the highest rung of :data:`REPUTATION_LADDER` reached with ``reputation``."""
    i = bisect_right(_LADDER_MINS, reputation)
    return f"rep{_LADDER_MINS[i - 1]}" if i else None


# ------------------------------------------------------------ line grammar

_NAME = r"[A-Za-z_][A-Za-z0-9_.\-]*"
# One complete row element on one line; attribute values may not contain '<' (XML).
_ROW_RE = re.compile(
    r"[ \t]*<row((?:[ \t]+" + _NAME + r"[ \t]*=[ \t]*(?:\"[^\"<]*\"|'[^'<]*'))*)[ \t]*/>[ \t]*")
_ATTR_RE = re.compile(r"(" + _NAME + r")[ \t]*=[ \t]*(?:\"([^\"<]*)\"|'([^'<]*)')")
_REF_RE = re.compile(r"&(?:(amp|lt|gt|quot|apos)|#([0-9]+)|#x([0-9A-Fa-f]+));")
_BAD_AMP_RE = re.compile(r"&(?!(?:amp|lt|gt|quot|apos|#[0-9]+|#x[0-9A-Fa-f]+);)")
_ENTITY_NAME_RE = re.compile(r"&(" + _NAME + r");")
_PREDEFINED = {"amp": "&", "lt": "<", "gt": ">", "quot": '"', "apos": "'"}
# Characters XML 1.0 does not allow (raw or as references).
_BAD_CHAR_RE = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_XML_DECL_RE = re.compile(r"[ \t]*<\?xml[ \t][^<>]*\?>[ \t]*")
_COMMENT_RE = re.compile(r"[ \t]*<!--(?:(?!--).)*-->[ \t]*")
_ROOT_START_RE = re.compile(r"[ \t]*<(" + _NAME + r")[ \t]*(/?)>[ \t]*")
_ROOT_END_RE = re.compile(r"[ \t]*</(" + _NAME + r")[ \t]*>[ \t]*")
_ROOT_EMPTY_RE = re.compile(r"[ \t]*<(" + _NAME + r")[ \t]*>[ \t]*</(" + _NAME + r")[ \t]*>[ \t]*")
_QUOTED = r"(?:\"[^\"]*\"|'[^']*')"
_EXTERNAL_DOCTYPE_RE = re.compile(
    r"[ \t]*<!DOCTYPE[ \t]+" + _NAME + r"(?:[ \t]+(?:SYSTEM[ \t]+" + _QUOTED + r"|PUBLIC[ \t]+"
    + _QUOTED + r"[ \t]+" + _QUOTED + r"))?[ \t]*>[ \t]*")
_ATTR_WS = str.maketrans({"\t": " ", "\n": " ", "\r": " "})
_BOM = b"\xef\xbb\xbf"
_ROW_START_RE = re.compile(rb"(?:\xef\xbb\xbf)?[ \t]*<row")
_PROGRESS_EVERY = 1 << 20
_EXCERPT_CHARS = 200


class _Bad(Exception):
    """A line that cannot become a record; ``args[0]`` is the reject reason."""


def _decode_ref(m: re.Match[str]) -> str:
    if m.group(1):
        return _PREDEFINED[m.group(1)]
    digits = m.group(2) or m.group(3)
    try:
        cp = int(digits, 10 if m.group(2) else 16)
    except ValueError:  # absurdly long digit strings
        raise _Bad(f"bad_reference: {m.group(0)[:20]!r}") from None
    if cp > 0x10FFFF or _BAD_CHAR_RE.match(chr(cp)):
        raise _Bad(f"bad_reference: {m.group(0)[:20]} is not an XML character")
    return chr(cp)


def _unescape(value: str) -> str:
    """Decode the predefined entities and character references of an attribute value."""
    if "\t" in value or "\r" in value:  # attribute-value normalisation of literal whitespace
        value = value.translate(_ATTR_WS)
    if "&" not in value:
        return value
    bad = _BAD_AMP_RE.search(value)
    if bad:
        named = _ENTITY_NAME_RE.match(value, bad.start())
        if named:
            raise _Bad(f"bad_entity: undeclared entity &{named.group(1)};")
        raise _Bad(f"bad_reference: malformed reference {value[bad.start():bad.start() + 12]!r}")
    # Every '&' now starts a valid reference. Line breaks are by far the most common
    # numeric references; decoding them first cannot create a new reference.
    value = value.replace("&#xA;", "\n").replace("&#xD;", "\r")
    if "&#" in value:  # one pass, so a decoded '&' is never decoded again
        return _REF_RE.sub(_decode_ref, value)
    return (value.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", '"')
            .replace("&apos;", "'").replace("&amp;", "&"))


def parse_row(text: str) -> dict[str, str] | None:
    """Attributes of one complete ``<row .../>`` line (without line ending), decoded.

    Returns ``None`` when the line is not a row; raises ``_Bad`` for a row that is
    malformed inside (entity, reference, character, duplicate attribute).
    """
    m = _ROW_RE.fullmatch(text)
    if m is None:
        return None
    bad = _BAD_CHAR_RE.search(text)
    if bad:
        raise _Bad(f"bad_char: U+{ord(bad.group(0)):04X} is not allowed in XML")
    attrs: dict[str, str] = {}
    for name, dq, sq in _ATTR_RE.findall(m.group(1)):
        if name in attrs:
            raise _Bad(f"duplicate_attribute: {name}")
        attrs[name] = _unescape(dq or sq)
    return attrs


# ----------------------------------------------------------------- HTML -> text

_BLOCK_TAGS = frozenset({
    "p", "div", "li", "ul", "ol", "blockquote", "pre", "h1", "h2", "h3", "h4", "h5", "h6",
    "tr", "table", "hr", "dl", "dt", "dd", "section", "article", "details", "summary",
})
_SKIP_TAGS = frozenset({"script", "style"})
_WS_RE = re.compile(r"\s+")
_MANY_NL_RE = re.compile(r"\n{3,}")


class _HtmlText(HTMLParser):
    """Plain text from post HTML: tags dropped, entities decoded, line breaks kept for
    block elements, ``<br>`` and list items; whitespace collapsed outside ``<pre>``.
    Link targets and image sources are dropped (only visible text is kept)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.pre = 0
        self.skip = 0

    def _newline(self) -> None:
        self.parts.append("\n")

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        if tag == "br":
            self._newline()
        elif tag in _BLOCK_TAGS:
            self._newline()
            if tag == "pre":
                self.pre += 1
        elif tag in _SKIP_TAGS:
            self.skip += 1

    def handle_startendtag(self, tag: str, attrs: Any) -> None:
        if tag == "br" or tag in _BLOCK_TAGS:
            self._newline()

    def handle_endtag(self, tag: str) -> None:
        if tag in _BLOCK_TAGS:
            self._newline()
            if tag == "pre" and self.pre:
                self.pre -= 1
        elif tag in _SKIP_TAGS and self.skip:
            self.skip -= 1

    def handle_data(self, data: str) -> None:
        if self.skip:
            return
        if not self.pre:
            data = _WS_RE.sub(" ", data)
            if not self.parts or self.parts[-1].endswith("\n"):
                data = data.lstrip(" ")
        if data:
            self.parts.append(data)

    def text(self) -> str:
        joined = "".join(self.parts)
        lines = [ln.rstrip() for ln in joined.split("\n")]
        return _MANY_NL_RE.sub("\n\n", "\n".join(lines)).strip("\n")


def html_to_text(html: str) -> str:
    """Plain text of an HTML fragment (stdlib ``html.parser``; nothing is fetched)."""
    if "<" not in html and "&" not in html:
        return html.strip()
    parser = _HtmlText()
    parser.feed(html)
    parser.close()
    return parser.text()


_MD_LINK_RE = re.compile(r"\[([^\[\]\n]+)\]\((?:https?://|/)[^()\s]*\)")


def comment_text(markdown: str) -> str:
    """Comment mini-Markdown with ``[label](url)`` links reduced to their label."""
    return _MD_LINK_RE.sub(r"\1", markdown) if "](" in markdown else markdown


# ------------------------------------------------------------------ helpers

_INT_RE = re.compile(r"-?[0-9]{1,18}")


def _int(v: str | None) -> int | str | None:
    """int when the value is an integer; the raw text otherwise (the loader flags it)."""
    if v is None or v == "":
        return None
    return int(v) if _INT_RE.fullmatch(v) else v


def _bool(v: str | None) -> bool | str | None:
    if v is None or v == "":
        return None
    return {"True": True, "False": False, "true": True, "false": False}.get(v, v)


def _type_id(a: dict[str, str], name: str) -> int:
    v = a.get(name)
    if v is None or not _INT_RE.fullmatch(v):
        raise _Bad(f"bad_value: {name}={v!r} is missing or not an integer")
    return int(v)


def _tags(v: str | None) -> str | None:
    """``<a><b>`` (classic dumps) or ``|a|b|`` (2024+ dumps) -> ``a|b``."""
    if not v:
        return None
    if v.startswith("<"):
        names = re.findall(r"<([^<>]+)>", v)
    elif v.startswith("|"):
        names = [t for t in v.split("|") if t]
    else:
        names = v.split()
    return "|".join(names) or None


def _prefixed(prefix: str, v: str | None) -> str | None:
    return prefix + v if v else None


def _excerpt(raw: bytes) -> str:
    return raw[: _EXCERPT_CHARS * 4].decode("utf-8", "replace")[:_EXCERPT_CHARS]


# ------------------------------------------------------------------- reader


class StackExchangeReader(Reader):
    """Reads a folder of Stack Exchange data-dump XML files (any subset of the eight)."""

    name = "stackexchange"
    description = "Stack Exchange data dump folder (Posts.xml, Users.xml, Comments.xml, ...)"

    def detect(self, path: Path) -> bool:
        path = Path(path)
        try:
            return path.is_dir() and any((_dump_folder(path) / n).is_file() for n in DETECT_FILES)
        except OSError:
            return False

    def read(self, path: Path, sink: Sink, options: ReadOptions) -> None:
        path = Path(path)
        if not path.is_dir():
            raise InputError("a Stack Exchange dump is a folder of XML files", path=options.label(path))
        folder = _dump_folder(path)
        files = [folder / n for n in DUMP_FILES if (folder / n).is_file()]
        if not files:
            raise InputError("no Stack Exchange dump file (" + ", ".join(DUMP_FILES) + ") in the folder",
                             path=options.label(path))
        # Refuse hostile prologs before anything is emitted.
        for f in files:
            _check_prolog(f, options.label(f), sink)
        _Run(folder, files, sink, options).run()


def _dump_folder(path: Path) -> Path:
    """``path``, or its only sub-folder when the dump files sit one level down (an
    unpacked archive ``site.zip`` holding ``site/Posts.xml``, ...)."""
    if any((path / n).is_file() for n in DUMP_FILES):
        return path
    entries = [p for p in path.iterdir() if not p.name.startswith(".")]
    if len(entries) == 1 and entries[0].is_dir() and any((entries[0] / n).is_file() for n in DETECT_FILES):
        return entries[0]
    return path


def _forum_id_from_label(label: str) -> str:
    """Folder name, or the archive's name for the root of an unpacked archive."""
    if "!" in label:
        archive, member = label.split("!", 1)
        if member.strip("./"):
            return PurePosixPath(member).name
        name = Path(archive).name
        for suffix in (".tar.gz", ".tgz", ".zip", ".tar", ".7z"):
            if name.lower().endswith(suffix):
                return name[: -len(suffix)]
        return name
    return Path(label).name or Path(label).resolve().name


def _refuse(f: Path, label: str, sink: Sink, line: int, offset: int, what: str,
            register: bool) -> InputError:
    if register:
        sink.evidence(f, display=label, status="refused")
    return InputError(
        f"{what}: file refused (possible entity-expansion bomb); nothing was expanded",
        path=label, line=line, offset=offset)


def _check_prolog(f: Path, label: str, sink: Sink, max_bytes: int = 1 << 20) -> None:
    """Scan the lines before the root element for entity declarations or an internal DTD."""
    with f.open("rb") as fh:
        offset = 0
        lineno = 0
        while offset < max_bytes:
            raw = fh.readline(max_bytes)
            if not raw:
                return
            lineno += 1
            _check_markup_decl(raw, f, label, sink, lineno, offset)
            text = raw.decode("utf-8", "replace").lstrip("\ufeff").strip()
            offset += len(raw)
            if _ROOT_START_RE.fullmatch(text) or _ROW_RE.fullmatch(text):
                return


def _check_markup_decl(raw: bytes, f: Path, label: str, sink: Sink, lineno: int, offset: int,
                       register: bool = True) -> None:
    if b"<!" not in raw:
        return
    if b"<!ENTITY" in raw:
        raise _refuse(f, label, sink, lineno, offset, "entity declaration (<!ENTITY)", register)
    if b"<!DOCTYPE" in raw:
        text = raw.decode("utf-8", "replace").lstrip("\ufeff").rstrip("\r\n")
        if not _EXTERNAL_DOCTYPE_RE.fullmatch(text):
            raise _refuse(f, label, sink, lineno, offset, "DOCTYPE with an internal subset", register)


class _Run:
    """State of one ``read`` call (the reader itself stays stateless)."""

    def __init__(self, folder: Path, files: list[Path], sink: Sink, options: ReadOptions):
        self.folder = folder
        self.files = files
        self.sink = sink
        self.options = options
        self.forum_id = options.forum_id or _forum_id_from_label(options.label(folder))
        self.has_posts_file = any(f.name == "Posts.xml" for f in files)
        self.boards_used: set[str] = set()
        self.batcher = Batcher(sink, BATCH_ROWS)
        self.source = ""

    # ------------------------------------------------------------ driver

    def run(self) -> None:
        b = Batcher(self.sink)
        fid = self.forum_id
        b.add("forums", {"id": fid, "name": self.options.forum_name or fid, "platform": PLATFORM,
                         "_source": self.options.label(self.folder), "_line": None, "_offset": None})
        for pos, (minimum, privileges) in enumerate(REPUTATION_LADDER):
            b.add("ranks", {
                "forum_id": fid, "id": f"rep{minimum}", "name": ", ".join(privileges),
                "position": pos, "min_reputation": minimum, "is_special": False,
                "description": f"Reputation {minimum}+: {'; '.join(privileges)} "
                               "(Stack Exchange privilege ladder, graduated sites)",
                "_source": self.options.label(self.folder), "_line": None, "_offset": None})
        b.flush()
        handlers: dict[str, Callable[[dict[str, str], dict[str, Any]], None]] = {
            "Users.xml": self._user, "Posts.xml": self._post, "Comments.xml": self._comment,
            "Badges.xml": self._badge, "Votes.xml": self._vote, "PostHistory.xml": self._history,
            "PostLinks.xml": self._link, "Tags.xml": self._tag,
        }
        for f in self.files:
            root, table = DUMP_FILES[f.name]
            heavy = f.name in ("Posts.xml", "Comments.xml", "Users.xml")
            self.batcher = Batcher(self.sink, min(5_000, BATCH_ROWS) if heavy else BATCH_ROWS)
            self.source = self.options.label(f)
            self.sink.evidence(f, display=self.source)
            _scan(f, self.source, root, table, handlers[f.name], self.sink, self.options.max_record_bytes)
            self.batcher.flush()

    def _row(self, prov: dict[str, Any], **values: Any) -> dict[str, Any]:
        values["forum_id"] = self.forum_id
        values.update(prov)
        return values

    # ---------------------------------------------------------- mappings

    def _user(self, a: dict[str, str], prov: dict[str, Any]) -> None:
        rep = _int(a.get("Reputation"))
        about = a.get("AboutMe")
        uid = a.get("Id")
        self.batcher.add("users", self._row(
            prov, id=uid, name=a.get("DisplayName"), registered_at=a.get("CreationDate"),
            last_seen_at=a.get("LastAccessDate"), reputation=rep,
            rank_id=rank_id_for(rep) if isinstance(rep, int) else None,
            location=a.get("Location") or None,
            profile_text=html_to_text(about) if about else None,
            external_account_id=a.get("AccountId"), is_bot=uid == "-1"))

    def _board(self, board: str) -> None:
        if board in self.boards_used:
            return
        self.boards_used.add(board)
        name, description, position = BOARDS[board]
        self.batcher.add("boards", {
            "forum_id": self.forum_id, "id": board, "name": name, "description": description,
            "position": position, "_source": self.source, "_line": None, "_offset": None})

    def _post(self, a: dict[str, str], prov: dict[str, Any]) -> None:
        type_id = _type_id(a, "PostTypeId")
        board, kind = POST_TYPE_BOARD.get(type_id, ("other", "other"))
        self._board(board)
        pid = a.get("Id")
        owner = a.get("OwnerUserId") or None
        body = a.get("Body")
        post = self._row(
            prov, id=pid, board_id=board, author_id=owner,
            author_name=None if owner else (a.get("OwnerDisplayName") or None),
            created_at=a.get("CreationDate"), edited_at=a.get("LastEditDate"),
            title=a.get("Title"), text=html_to_text(body) if body else body,
            raw=body, format="html", score=_int(a.get("Score")), kind=kind,
            is_deleted=True if a.get("DeletionDate") else None)
        if type_id == 2:
            parent = a.get("ParentId") or None
            post["thread_id"] = parent
            post["parent_id"] = parent
        else:
            closed = a.get("ClosedDate") or None
            post["thread_id"] = pid
            post["position"] = 0
            self.batcher.add("threads", self._row(
                prov, id=pid, board_id=board, title=a.get("Title"), author_id=owner,
                created_at=a.get("CreationDate"), first_post_id=pid,
                view_count=_int(a.get("ViewCount")),
                reply_count_reported=_int(a.get("AnswerCount")),
                tags=_tags(a.get("Tags")), closed_at=closed, is_locked=closed is not None))
            accepted = a.get("AcceptedAnswerId")
            if accepted and pid:
                # the same id as the accept vote (VoteTypeId 1) on that answer: the loader merges the two
                # records (who accepted, from here; when, from the vote)
                self.batcher.add("interactions", self._row(
                    prov, id="accept:" + accepted, kind="accept", source_user_id=owner, post_id=pid,
                    target_post_id=accepted, detail=ACCEPT_DETAIL))
        self.batcher.add("posts", post)

    def _comment(self, a: dict[str, str], prov: dict[str, Any]) -> None:
        raw = a.get("Text")
        text = comment_text(raw) if raw else raw
        self.batcher.add("posts", self._row(
            prov, id=_prefixed("c", a.get("Id")), parent_id=a.get("PostId"),
            author_id=a.get("UserId") or None, author_name=a.get("UserDisplayName") or None,
            created_at=a.get("CreationDate"), score=_int(a.get("Score")), text=text,
            raw=raw if raw != text else None, format="markdown", kind="comment"))

    def _badge(self, a: dict[str, str], prov: dict[str, Any]) -> None:
        cls = a.get("Class")
        self.batcher.add("badges", self._row(
            prov, id=a.get("Id"), user_id=a.get("UserId"), name=a.get("Name"),
            awarded_at=a.get("Date"), tag_based=_bool(a.get("TagBased")),
            **{"class": BADGE_CLASSES.get(cls, cls) if cls else None}))

    def _vote(self, a: dict[str, str], prov: dict[str, Any]) -> None:
        type_id = _type_id(a, "VoteTypeId")
        name = VOTE_TYPES.get(type_id, f"VoteType{type_id}")
        value: Any = None
        if type_id == 1:  # merged by id with the accept from Posts.AcceptedAnswerId (see _post)
            self.batcher.add("interactions", self._row(
                prov, id=_prefixed("accept:", a.get("PostId")), kind="accept", target_post_id=a.get("PostId"),
                created_at=a.get("CreationDate"), detail=ACCEPT_DETAIL))
            return
        elif type_id == 2:
            kind, value = "vote", 1
        elif type_id == 3:
            kind, value = "vote", -1
        elif type_id == 5:
            kind = "favorite"
        elif type_id in (8, 9):
            kind, value = "bounty", _int(a.get("BountyAmount"))
        else:
            kind = "vote"
        self.batcher.add("interactions", self._row(
            prov, id=_prefixed("v", a.get("Id")), kind=kind,
            source_user_id=a.get("UserId") or None, target_post_id=a.get("PostId"),
            created_at=a.get("CreationDate"), value=value, detail=name))

    def _history(self, a: dict[str, str], prov: dict[str, Any]) -> None:
        type_id = _type_id(a, "PostHistoryTypeId")
        detail = POST_HISTORY_TYPES.get(type_id, f"PostHistoryType{type_id}")
        comment = a.get("Comment")
        if comment:
            if type_id == 10 and comment in CLOSE_REASONS:
                comment = f"{comment} ({CLOSE_REASONS[comment]})"
            detail = f"{detail}: {comment}"
        self.batcher.add("events", self._row(
            prov, id=_prefixed("h", a.get("Id")), kind=POST_HISTORY_KINDS.get(type_id, "other"),
            created_at=a.get("CreationDate"), user_id=a.get("UserId") or None,
            post_id=a.get("PostId"), detail=detail))

    def _link(self, a: dict[str, str], prov: dict[str, Any]) -> None:
        type_id = _type_id(a, "LinkTypeId")
        kind, name = LINK_TYPES.get(type_id, ("other", f"LinkType{type_id}"))
        self.batcher.add("interactions", self._row(
            prov, id=_prefixed("l", a.get("Id")), kind=kind, post_id=a.get("PostId"),
            target_post_id=a.get("RelatedPostId"), created_at=a.get("CreationDate"),
            detail=name))

    def _tag(self, a: dict[str, str], prov: dict[str, Any]) -> None:
        self.batcher.add("tags", self._row(
            prov, id=a.get("Id"), name=a.get("TagName"), count=_int(a.get("Count")),
            excerpt_post_id=a.get("ExcerptPostId"), wiki_post_id=a.get("WikiPostId")))


# ------------------------------------------------------------- the scanner


def _scan(f: Path, source: str, root: str, table: str, handler: Callable[[dict[str, str], dict[str, Any]], None],
          sink: Sink, max_record_bytes: int) -> None:
    """Read one dump file line by line; hand decoded rows to ``handler``. ``source`` is the
    file's name in rejects and provenance (``archive!member`` inside archives)."""
    state = "prolog"  # prolog -> body -> epilog
    root_name = ""
    offset = 0
    lineno = 0
    unreported = 0
    cut = False  # a row cut off by the end of the file was rejected
    limit = max(1024, max_record_bytes + 2)  # room for the line ending
    with f.open("rb") as fh:
        while True:
            raw, size, _too_long = read_line(fh, limit)
            if not size:
                break
            lineno += 1
            line_offset = offset
            offset += size
            unreported += size
            if unreported >= _PROGRESS_EVERY:
                sink.progress(unreported)
                unreported = 0
            is_last_cut = not raw.endswith(b"\n") and size == len(raw)  # EOF without newline

            # A line that starts like a row is a record of ``table``; other stray lines
            # (a cut closing tag, junk) are rejected without a table.
            is_record = _ROW_START_RE.match(raw) is not None

            def reject(reason: str) -> None:
                sink.reject(table if is_record else None, source, reason, line=lineno,
                            offset=line_offset, excerpt=_excerpt(raw))

            if size > len(raw) or len(raw) > max_record_bytes + 2:
                reject(f"too_large: line of {size} bytes exceeds max_record_bytes={max_record_bytes}")
                continue
            body = raw[3:] if line_offset == 0 and raw.startswith(_BOM) else raw
            body = body.rstrip(b"\n").rstrip(b"\r")
            _check_markup_decl(body, f, source, sink, lineno, line_offset, register=False)
            try:
                text = body.decode("utf-8")
            except UnicodeDecodeError as exc:
                if is_last_cut and state == "body":
                    cut = True
                    reject("truncated: the file ends inside this row")
                else:
                    reject(f"bad_utf8: invalid UTF-8 at byte {exc.start} of the line")
                continue
            stripped = text.strip(" \t")
            if not stripped or _COMMENT_RE.fullmatch(stripped):
                continue

            if state == "body":
                try:
                    attrs = parse_row(text)
                except _Bad as bad:
                    reject(str(bad))
                    continue
                if attrs is not None:
                    try:
                        handler(attrs, {"_source": source, "_line": lineno, "_offset": line_offset})
                    except _Bad as bad:
                        reject(str(bad))
                    continue
                m = _ROOT_END_RE.fullmatch(stripped)
                if m and m.group(1) == root_name:
                    state = "epilog"
                elif is_last_cut:
                    cut = True
                    reject("truncated: the file ends inside this row")
                else:
                    reject("not_a_row: line is not one complete <row .../> element")
                continue

            if state == "prolog":
                if lineno == 1 and _XML_DECL_RE.fullmatch(stripped):
                    continue
                if _EXTERNAL_DOCTYPE_RE.fullmatch(stripped):
                    sink.skipped(source, "external DOCTYPE declaration (the DTD is never read or fetched)")
                    continue
                m = _ROOT_START_RE.fullmatch(stripped)
                if m is None:
                    m2 = _ROOT_EMPTY_RE.fullmatch(stripped)
                    if m2 and m2.group(1) == m2.group(2):
                        _check_root(m2.group(1), root, f, source, lineno)
                        state = "epilog"
                        continue
                    reject("misplaced: line before the root element")
                    continue
                _check_root(m.group(1), root, f, source, lineno)
                root_name = m.group(1)
                state = "epilog" if m.group(2) else "body"
                continue

            reject("misplaced: line after the closing root element")
    if unreported:
        sink.progress(unreported)
    if state == "prolog":
        sink.reject(None, source, f"truncated: no <{root}> root element", line=lineno or None, offset=offset)
    elif state == "body" and not cut:
        sink.reject(None, source, f"truncated: missing closing </{root_name}>",
                    line=lineno + 1, offset=offset)


def _check_root(name: str, expected: str, f: Path, source: str, lineno: int) -> None:
    if name.lower() != expected:
        raise InputError(f"root element <{name}> is not <{expected}>: not a Stack Exchange {f.name}",
                         path=source, line=lineno)
