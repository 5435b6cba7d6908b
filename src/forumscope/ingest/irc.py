"""IRC channel log reader (one ``YYYY-MM-DD_HH.raw.txt`` file per log, optional gold links).

The layout is the one of the Ubuntu IRC disentanglement corpus (Kummerfeld et al., 2019):
a folder (searched recursively) or a single file of logs named ``YYYY-MM-DD_HH.raw.txt``
(also ``YYYY-MM-DD_HH.txt`` and ``YYYY-MM-DD.txt``), one log line per line:

* ``[HH:MM] <nick> text``  a message (``[HH:MM:SS]`` is accepted too);
* ``[HH:MM]  * nick text``  a ``/me`` action;
* ``=== nick [user@host]  has joined #chan`` / ``has left #chan`` / ``has quit ...``,
  ``=== old is now known as new``, ``=== mode/#chan [...] by nick``,
  ``=== ..[topic/#chan:nick] : text``: system lines without a timestamp;
* ``=== nick text``: the older logs (2004-2007) write ``/me`` actions this way; the gold
  annotations link to such lines as to messages, so they are read as actions, not as
  system lines.

Each file becomes one thread, each message or action one post, each system line one
event; every line is accounted for (post, event or reject). Host masks and IP addresses
of system lines are never stored. An optional ``<stem>.annotation.txt`` next to a log
holds gold reply links ``i j -`` (0-based line numbers; the later line replies to the
earlier one; ``i == j`` marks a conversation start). The earliest parent of a message
becomes ``posts.parent_id`` (the loader derives the reply interaction from it); further
parents become explicit ``interactions`` rows (kind ``reply``, id ``gold:<stem>:<i>:<j>``).

Times: the file name gives the date and the hour at which the annotated part of the log
starts; log lines carry only the clock time. See ``docs/formats/irc.md`` for how dates are
assigned (midnight wrap, 12-hour clocks of the oldest logs) and for the full field mapping.

Example (with any :class:`~forumscope.ingest.base.Sink`)::

    reader = IrcReader()
    if reader.detect(Path("irc-logs")):
        reader.read(Path("irc-logs"), sink, ReadOptions(extra={"channel": "#ubuntu"}))
"""

from __future__ import annotations

import datetime as dt
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from forumscope.errors import InputError
from forumscope.ingest.base import BATCH_ROWS, Batcher, ReadOptions, Reader, Sink, read_lines

PLATFORM = "irc"
DEFAULT_BOARD = "irc"
JITTER_MINUTES = 60  # a clock that goes back by at most this much is out of order, not a new day
_EXCERPT_CHARS = 200
_DETECT_MAX_ENTRIES = 2000

LOG_NAME_RE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})(?:_(\d{2}))?(\.raw)?\.txt$")

_TS = r"\[(?P<h>\d{1,2}):(?P<m>\d{2})(?::(?P<s>\d{2}))?\]"
# "<brad[] >": some loggers pad the nick; the padding is not part of it.
MESSAGE_RE = re.compile(_TS + r" <[@+%~&]?(?P<nick>[^>]*[^\s>])\s*>(?: (?P<text>.*))?$")
ACTION_RE = re.compile(_TS + r"\s+\* (?P<nick>\S+)(?: (?P<text>.*))?$")
TS_PREFIX_RE = re.compile(rb"^\[(\d{1,2}):(\d{2})(?::\d{2})?\]")

JOIN_RE = re.compile(r"^=== (?P<nick>.+?)\s+\[(?P<mask>[^\]]*)\]\s+has joined (?P<chan>\S+)\s*$")
PART_RE = re.compile(r"^=== (?P<nick>.+?)\s+\[(?P<mask>[^\]]*)\]\s+has left (?P<chan>\S+)\s*(?P<rest>.*)$")
QUIT_RE = re.compile(r"^=== (?P<nick>.+?)\s+\[(?P<mask>[^\]]*)\]\s+has quit\b\s*(?P<rest>.*)$")
RENAME_RE = re.compile(r"^=== (?P<nick>.+?)\s+is now known as (?P<new>\S+)\s*$")
MODE_RE = re.compile(r"^=== mode/(?P<chan>\S+) \[(?P<modes>[^\]]*)\]\s+by (?P<nick>\S+)\s*$")
TOPIC_RE = re.compile(r"^=== \.\.\[topic/(?P<chan>[^:\]]+):(?P<nick>[^\]]+)\] : (?P<topic>.*)$")
# "=== nick text": a /me action in the older logs. Nick characters per RFC 2812.
OLD_ACTION_RE = re.compile(r"^=== (?P<nick>[A-Za-z\[\]\\`_^{|}][A-Za-z0-9\[\]\\`_^{|}\-]*) (?P<text>.*\S.*)$")
SYSTEM_RE = re.compile(r"^=== ?(?P<text>.*)$")
CHANNEL_SCAN_RE = re.compile(rb"^=== .*?\s+has (?:joined|left) ([#&][^\s\]]+)")

ANNOTATION_RE = re.compile(r"^\s*(?P<i>\d+)\s+(?P<j>\d+)(?:\s+(?P<rest>.*?))?\s*$")

# Host masks and addresses, removed from every system-line detail (SAFETY.md).
_MASK_RE = re.compile(r"[^\s\[\]()]*![^\s\[\]()]*@[^\s\[\]()]+|[^\s\[\]()@]*@[A-Za-z0-9.\-:/*]+")
_IPV4_RE = re.compile(r"(?<![\d.])\d{1,3}(?:\.\d{1,3}){3}(?![\d.])")
_IPV6_RE = re.compile(r"(?<![0-9A-Fa-f:])(?:[0-9A-Fa-f]{1,4}:){4,7}[0-9A-Fa-f]{1,4}(?![0-9A-Fa-f:])"
                      r"|(?<![0-9A-Fa-f:])(?:[0-9A-Fa-f]{1,4}:){1,6}:(?:[0-9A-Fa-f]{1,4}(?::[0-9A-Fa-f]{1,4})*)?"
                      r"(?![0-9A-Fa-f:])")

_BOM = b"\xef\xbb\xbf"
POST = 1
EVENT = 2
REJECTED = 3


def scrub(text: str) -> str:
    """Remove host masks (``nick!user@host``, ``user@host``) and IP addresses from ``text``."""
    text = _MASK_RE.sub("<mask>", text)
    text = _IPV4_RE.sub("<ip>", text)
    text = _IPV6_RE.sub("<ip>", text)
    return text


def log_files(path: Path) -> list[Path]:
    """The log files under ``path`` (itself when it is one), in path order."""
    path = Path(path)
    if path.is_file():
        return [path] if LOG_NAME_RE.match(path.name) else []
    out = []
    for root, dirs, files in os.walk(path):
        dirs.sort()
        for name in sorted(files):
            if LOG_NAME_RE.match(name):
                out.append(Path(root) / name)
    return sorted(out)


def stem_of(path: Path) -> str:
    name = path.name
    return name[: -len(".raw.txt")] if name.endswith(".raw.txt") else name[: -len(".txt")]


def annotation_file(path: Path) -> Path:
    return path.with_name(stem_of(path) + ".annotation.txt")


def _excerpt(raw: bytes) -> str:
    return raw[: _EXCERPT_CHARS * 4].decode("utf-8", "backslashreplace")[:_EXCERPT_CHARS]


# ---------------------------------------------------------------------- clock


class _Clock:
    """Turns clock times into minutes on a running timeline, counting wraps.

    ``period`` is 1440 for a 24-hour clock and 720 for a 12-hour clock without am/pm
    (the oldest #ubuntu logs). A time more than ``JITTER_MINUTES`` earlier than the
    previous one starts a new period (midnight, or noon/midnight on a 12-hour clock).
    """

    def __init__(self, period: int):
        self.period = period
        self.prev: int | None = None
        self.wraps = 0
        self.first: int | None = None
        self.anchor: int | None = None

    def step(self, h: int, m: int) -> int:
        v = ((h % 12) if self.period == 720 else h) * 60 + m
        if self.prev is not None and v < self.prev - JITTER_MINUTES:
            self.wraps += 1
        self.prev = v
        r = v + self.wraps * self.period
        if self.first is None:
            self.first = r
        return r

    def note_anchor(self, r: int, hour: int | None) -> None:
        if hour is not None and self.anchor is None and (r // 60) % (self.period // 60) == hour % (self.period // 60):
            self.anchor = r

    def shift(self, hour: int | None) -> int:
        """Minutes to add to the timeline so that it lands on the file's date.

        The first line whose hour is the file-name hour is placed on the file-name date;
        with no such line, the first line is placed as close as possible to that hour;
        with no hour in the name, the first line is on the file-name date.
        """
        if hour is None or self.first is None:
            return 0
        if self.anchor is not None:
            return (hour - self.anchor // 60) * 60
        return round((hour * 60 - self.first) / self.period) * self.period


@dataclass
class _FileScan:
    n_lines: int = 0
    channel: str | None = None
    clock_mode: int = 1440
    shift: int = 0
    first_minutes: int | None = None


def _scan_file(f: Path, hour: int | None, limit: int) -> _FileScan:
    """First pass over a log: line count, channel, clock type and date anchor."""
    scan = _FileScan()
    c24, c12 = _Clock(1440), _Clock(720)
    small_hours_only = True  # every hour in 1..12
    noon_drop = False  # a drop from hour 12 to a smaller hour (12:59 -> 01:00 on a 12-hour clock)
    prev_h: int | None = None
    with f.open("rb") as fh:
        for lineno, _off, raw, too_long in read_lines(fh, start=0, limit=limit):
            scan.n_lines = lineno + 1
            if too_long:
                continue
            m = TS_PREFIX_RE.match(raw[3:] if lineno == 0 and raw.startswith(_BOM) else raw)
            if m:
                h, mi = int(m.group(1)), int(m.group(2))
                if h > 23 or mi > 59:
                    continue
                if h == 0 or h > 12:
                    small_hours_only = False
                if prev_h == 12 and h < 12:
                    noon_drop = True
                prev_h = h
                for c in (c24, c12):
                    c.note_anchor(c.step(h, mi), hour)
            elif scan.channel is None and raw.startswith(b"=== "):
                cm = CHANNEL_SCAN_RE.match(raw)
                if cm:
                    scan.channel = cm.group(1).decode("utf-8", "replace")
    clock = c12 if (small_hours_only and noon_drop) else c24
    scan.clock_mode = clock.period
    scan.shift = clock.shift(hour)
    scan.first_minutes = clock.first
    return scan


# ---------------------------------------------------------------------- reader


class IrcReader(Reader):
    """Reads IRC channel logs named ``YYYY-MM-DD_HH.raw.txt`` (with optional gold reply links)."""

    name = "irc"
    description = "IRC channel logs, one YYYY-MM-DD_HH.raw.txt file per log (+ .annotation.txt gold links)"

    def detect(self, path: Path) -> bool:
        path = Path(path)
        try:
            if path.is_file():
                candidates = [path] if LOG_NAME_RE.match(path.name) else []
            elif path.is_dir():
                candidates = []
                seen = 0
                for root, dirs, files in os.walk(path):
                    dirs.sort()
                    for name in sorted(files):
                        seen += 1
                        if LOG_NAME_RE.match(name):
                            candidates.append(Path(root) / name)
                    if candidates or seen > _DETECT_MAX_ENTRIES:
                        break
            else:
                return False
            for f in candidates[:3]:
                with f.open("rb") as fh:
                    for _ in range(20):
                        raw = fh.readline(4096).rstrip(b"\r\n")
                        if not raw:
                            break
                        text = raw.decode("utf-8", "replace")
                        if MESSAGE_RE.match(text) or ACTION_RE.match(text) or text.startswith("=== "):
                            return True
            return False
        except OSError:
            return False

    def read(self, path: Path, sink: Sink, options: ReadOptions) -> None:
        path = Path(path)
        if not path.exists():
            raise InputError("no such file or folder", path=str(path))
        files = log_files(path)
        if not files:
            raise InputError("no IRC log file named YYYY-MM-DD_HH.raw.txt (or YYYY-MM-DD[_HH].txt) found",
                             path=str(path))
        _Run(path, files, sink, options).run()


@dataclass
class _Link:
    parent: int
    child: int
    i: int
    j: int
    line: int  # 1-based line in the annotation file
    offset: int
    raw: bytes


@dataclass
class _Run:
    """State of one ``read`` call (the reader itself stays stateless)."""

    path: Path
    files: list[Path]
    sink: Sink
    options: ReadOptions
    forum_id: str = ""
    channel: str | None = None
    boards: set[str] = field(default_factory=set)
    nicks: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.limit = max(1024, int(self.options.max_record_bytes) + 2)
        self.batcher = Batcher(self.sink, BATCH_ROWS)

    # ------------------------------------------------------------ driver
    def run(self) -> None:
        extra = self.options.extra or {}
        self.channel = extra.get("channel") or self._find_channel()
        chan = self.channel or DEFAULT_BOARD
        self.forum_id = self.options.forum_id or (
            "irc-" + chan.lstrip("#&") if self.channel and chan.lstrip("#&") else "irc")
        self.batcher.add("forums", {
            "id": self.forum_id, "name": self.options.forum_name or chan, "platform": PLATFORM,
            "_source": self.options.label(self.path), "_line": None, "_offset": None})
        for f in self.files:
            self._file(f)
        self.batcher.flush()

    def _find_channel(self) -> str | None:
        for f in self.files:
            with f.open("rb") as fh:
                for _lineno, _off, raw, too_long in read_lines(fh, start=0, limit=self.limit):
                    if not too_long and raw.startswith(b"=== "):
                        m = CHANNEL_SCAN_RE.match(raw)
                        if m:
                            return m.group(1).decode("utf-8", "replace")
        return None

    def _board(self, board: str, source: str) -> None:
        if board not in self.boards:
            self.boards.add(board)
            self.batcher.add("boards", {"forum_id": self.forum_id, "id": board, "name": board,
                                        "_source": source, "_line": None, "_offset": None})

    def _user(self, nick: str, source: str, line: int, offset: int) -> None:
        if nick in self.nicks:
            return
        if len(self.nicks) >= BATCH_ROWS:  # bounded memory; the loader de-duplicates repeats
            self.nicks.clear()
        self.nicks.add(nick)
        self.batcher.add("users", {"forum_id": self.forum_id, "id": nick, "name": nick,
                                   "_source": source, "_line": line, "_offset": offset})

    # ------------------------------------------------------------ one file
    def _file(self, f: Path) -> None:
        sink = self.sink
        source = self.options.label(f)
        m = LOG_NAME_RE.match(f.name)
        assert m is not None
        try:
            date = dt.datetime(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        except ValueError as exc:
            sink.evidence(f, display=source)
            raise InputError(f"file name is not a valid date: {exc}", path=source) from exc
        hour = int(m.group(4)) if m.group(4) is not None else None
        if hour is not None and hour > 23:
            hour = None
        stem = stem_of(f)
        sink.evidence(f, display=source)
        scan = _scan_file(f, hour, self.limit)
        board = (self.options.extra or {}).get("channel") or scan.channel or self.channel or DEFAULT_BOARD
        self._board(board, source)
        links = self._links(f, stem, scan.n_lines)
        ann_source = self.options.label(annotation_file(f))

        kinds = bytearray(scan.n_lines)
        authors: dict[int, str] = {}
        clock = _Clock(scan.clock_mode)
        first_time = (date + dt.timedelta(minutes=scan.first_minutes + scan.shift)
                      if scan.first_minutes is not None else None)
        last_time = first_time
        position = 0
        first_post: tuple[str, dt.datetime | None] | None = None
        fid = self.forum_id
        b = self.batcher

        with f.open("rb") as fh:
            for li, off, raw, too_long in read_lines(fh, start=0, limit=self.limit):
                line = li + 1
                if li >= len(kinds):  # the file grew since the first pass
                    kinds.extend(bytes(li + 1 - len(kinds)))

                def reject(reason: str) -> None:
                    kinds[li] = REJECTED
                    sink.reject(None, source, reason, line=line, offset=off, excerpt=_excerpt(raw))

                if too_long:
                    reject(f"too_large: line exceeds max_record_bytes={self.options.max_record_bytes}")
                    self._reject_links(links.pop(li, ()), f, "link_from_rejected_line")
                    continue
                try:
                    text = raw.decode("utf-8")
                except UnicodeDecodeError as exc:
                    reject(f"bad_utf8: invalid UTF-8 at byte {exc.start} of the line")
                    self._reject_links(links.pop(li, ()), f, "link_from_rejected_line")
                    continue
                if li == 0:
                    text = text.removeprefix("\ufeff")
                prov = {"_source": source, "_line": line, "_offset": off}
                post: dict[str, Any] | None = None
                mm = MESSAGE_RE.match(text) or ACTION_RE.match(text)
                if mm:
                    h, mi, s = int(mm.group("h")), int(mm.group("m")), mm.group("s")
                    if h > 23 or mi > 59 or (s is not None and int(s) > 59):
                        reject(f"bad_time: clock time {h:02d}:{mi:02d} is not a time of day")
                        self._reject_links(links.pop(li, ()), f, "link_from_rejected_line")
                        continue
                    r = clock.step(h, mi)
                    when = date + dt.timedelta(minutes=r + scan.shift, seconds=int(s) if s else 0)
                    last_time = when
                    nick = mm.group("nick")
                    body = mm.group("text") or ""
                    if mm.re is ACTION_RE:
                        body = "/me " + body if body else "/me"
                    post = {"author": nick, "text": body, "when": when}
                elif text.startswith("==="):
                    if not self._system(text, li, line, off, stem, board, last_time, prov):
                        om = OLD_ACTION_RE.match(text)
                        if om:  # "=== nick text": an old-style /me action, timed like the line before
                            post = {"author": om.group("nick"), "text": "/me " + om.group("text"),
                                    "when": last_time}
                        else:
                            self._other_event(text, li, stem, board, last_time, prov)
                    if post is None:
                        kinds[li] = EVENT
                        self._reject_links(links.pop(li, ()), f, "link_from_system_line")
                        continue
                else:
                    reject("unrecognised_line: not a message, an action or a system line")
                    self._reject_links(links.pop(li, ()), f, "link_from_rejected_line")
                    continue

                # a post
                kinds[li] = POST
                pid = f"{stem}:{li}"
                nick = post["author"]
                authors[li] = nick
                self._user(nick, source, line, off)
                parent_id = None
                for n, link in enumerate(self._valid_links(links.pop(li, ()), kinds, f)):
                    if n == 0:
                        parent_id = f"{stem}:{link.parent}"
                    else:
                        b.add("interactions", {
                            "forum_id": fid, "id": f"gold:{stem}:{link.i}:{link.j}", "kind": "reply",
                            "source_user_id": nick, "target_user_id": authors.get(link.parent),
                            "post_id": pid, "target_post_id": f"{stem}:{link.parent}",
                            "created_at": post["when"], "detail": "gold", "_source": ann_source,
                            "_line": link.line, "_offset": link.offset})
                b.add("posts", {
                    "forum_id": fid, "id": pid, "thread_id": stem, "board_id": board, "author_id": nick,
                    "created_at": post["when"], "parent_id": parent_id, "position": position,
                    "text": post["text"], "format": "plain", "kind": "message", **prov})
                if first_post is None:
                    first_post = (pid, post["when"])
                position += 1

        for rest in links.values():  # none in practice: links past the end were rejected when read
            self._reject_links(rest, f, "link_outside_file")
        b.add("threads", {
            "forum_id": fid, "id": stem, "board_id": board, "title": stem,
            "first_post_id": first_post[0] if first_post else None,
            "created_at": first_post[1] if first_post else None,
            "_source": source, "_line": None, "_offset": None})

    # ------------------------------------------------------------ system lines
    def _system(self, text: str, li: int, line: int, off: int, stem: str, board: str,
                when: dt.datetime | None, prov: dict[str, Any]) -> bool:
        """Emit an event for a known system line; False when ``text`` is none."""
        kind = nick = detail = None
        if m := JOIN_RE.match(text):
            kind, nick, detail = "join", m.group("nick").strip(), f"has joined {m.group('chan')}"
        elif m := PART_RE.match(text):
            kind, nick = "part", m.group("nick").strip()
            detail = f"has left {m.group('chan')}" + (f" {m.group('rest')}" if m.group("rest") else "")
        elif m := QUIT_RE.match(text):
            kind, nick = "quit", m.group("nick").strip()
            detail = "has quit" + (f" {m.group('rest')}" if m.group("rest") else "")
        elif m := RENAME_RE.match(text):
            kind, nick, detail = "rename", m.group("nick").strip(), f"is now known as {m.group('new')}"
            self._user(m.group("new"), prov["_source"], line, off)
        elif m := MODE_RE.match(text):
            kind, nick, detail = "other", m.group("nick"), f"mode/{m.group('chan')} [{m.group('modes')}]"
        elif m := TOPIC_RE.match(text):
            kind, nick, detail = "other", m.group("nick"), f"topic/{m.group('chan')}: {m.group('topic')}"
        if kind is None:
            return False
        assert nick is not None and detail is not None
        self._user(nick, prov["_source"], line, off)
        self.batcher.add("events", {
            "forum_id": self.forum_id, "id": f"{stem}:{li}", "kind": kind, "created_at": when,
            "user_id": nick, "thread_id": stem, "board_id": board, "detail": scrub(detail), **prov})
        return True

    def _other_event(self, text: str, li: int, stem: str, board: str, when: dt.datetime | None,
                     prov: dict[str, Any]) -> None:
        m = SYSTEM_RE.match(text)
        detail = m.group("text") if m else text
        self.batcher.add("events", {
            "forum_id": self.forum_id, "id": f"{stem}:{li}", "kind": "other", "created_at": when,
            "user_id": None, "thread_id": stem, "board_id": board, "detail": scrub(detail), **prov})

    # ------------------------------------------------------------ gold links
    def _links(self, f: Path, stem: str, n_lines: int) -> dict[int, list[_Link]]:
        """Gold links of ``f`` by child line; malformed or out-of-range ones are rejected here."""
        ann = annotation_file(f)
        out: dict[int, list[_Link]] = {}
        if not ann.is_file():
            return out
        source = self.options.label(ann)
        self.sink.evidence(ann, display=source)
        seen: set[tuple[int, int]] = set()
        with ann.open("rb") as fh:
            for li, off, raw, too_long in read_lines(fh, start=0, limit=self.limit):
                line = li + 1

                def reject(reason: str) -> None:
                    self.sink.reject("interactions", source, reason, line=line, offset=off, excerpt=_excerpt(raw))

                if too_long:
                    reject("too_large: line exceeds max_record_bytes")
                    continue
                try:
                    text = raw.decode("utf-8")
                except UnicodeDecodeError as exc:
                    reject(f"bad_utf8: invalid UTF-8 at byte {exc.start} of the line")
                    continue
                if not text.strip():
                    continue  # blank lines hold no link
                m = ANNOTATION_RE.match(text)
                if not m or (m.group("rest") not in (None, "", "-")):
                    reject("bad_annotation: expected 'i j -' (two 0-based line numbers)")
                    continue
                i, j = int(m.group("i")), int(m.group("j"))
                if max(i, j) >= n_lines:
                    reject(f"link_outside_file: line {max(i, j)} is past the end of {f.name} ({n_lines} lines)")
                    continue
                if i == j:
                    continue  # conversation start / system message marker: not a link
                parent, child = min(i, j), max(i, j)
                if (parent, child) in seen:
                    reject(f"duplicate_link: {parent} -> {child} is already listed")
                    continue
                seen.add((parent, child))
                out.setdefault(child, []).append(_Link(parent, child, i, j, line, off, raw))
        for v in out.values():
            v.sort(key=lambda k: k.parent)
        return out

    def _valid_links(self, links: list[_Link] | tuple, kinds: bytearray, f: Path) -> list[_Link]:
        valid = []
        for link in links:
            k = kinds[link.parent]
            if k == POST:
                valid.append(link)
            elif k == EVENT:
                self._reject_link(link, f, "link_to_system_line",
                                  f"line {link.parent} of {f.name} is a system line, not a message")
            else:
                self._reject_link(link, f, "link_to_rejected_line",
                                  f"line {link.parent} of {f.name} was rejected")
        return valid

    def _reject_links(self, links: list[_Link] | tuple, f: Path, code: str) -> None:
        for link in links:
            what = {"link_from_system_line": "is a system line, not a message",
                    "link_from_rejected_line": "was rejected",
                    "link_outside_file": "is past the end of the file"}[code]
            self._reject_link(link, f, code, f"line {link.child} of {f.name} {what}")

    def _reject_link(self, link: _Link, f: Path, code: str, detail: str) -> None:
        self.sink.reject("interactions", self.options.label(annotation_file(f)), f"{code}: {detail}",
                         line=link.line, offset=link.offset, excerpt=_excerpt(link.raw))
