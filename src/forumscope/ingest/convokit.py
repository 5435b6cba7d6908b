"""ConvoKit corpus reader (a folder with ``utterances.jsonl``, ``speakers.json``, ...).

A ConvoKit corpus folder (Cornell Conversational Analysis Toolkit) holds:

* ``utterances.jsonl``: one JSON object per line (``id``, ``speaker``, ``conversation_id``,
  ``reply-to`` or ``reply_to``, ``timestamp``, ``text``, ``meta``, ``vectors``); older
  corpora say ``user`` and ``root``, and some hold ``utterances.json`` (one JSON list);
* ``speakers.json`` (older: ``users.json``) and ``conversations.json``: one JSON object
  mapping ids to ``{"meta": {...}, "vectors": [...]}`` (older: to the meta dict itself);
* ``corpus.json``: corpus-level metadata; ``index.json``: the metadata type index.

Mapping (field by field in ``docs/formats/convokit.md``): corpus -> forum,
conversation -> thread, utterance -> post, speaker -> user. Known metadata fields are
mapped to model fields; every other metadata field and all vectors are ignored (the
model keeps no free-form metadata). Reply interactions are derived by the loader from
``posts.parent_id`` (= ``reply-to``).

Memory stays bounded by the number of speakers and conversations, never by the number
of utterances: ``utterances.jsonl`` is read line by line (a bad line is rejected with its
line and byte offset and reading goes on); ``speakers.json`` and ``conversations.json``
are streamed with ijson. Binary metadata (``*-bin.p`` pickles) is never unpickled.

Example (with any :class:`~forumscope.ingest.base.Sink`)::

    reader = ConvoKitReader()
    if reader.detect(Path("subreddit-Cornell")):
        reader.read(Path("subreddit-Cornell"), sink, ReadOptions())
"""

from __future__ import annotations

import hashlib
from array import array
from pathlib import Path
from typing import Any, Iterable, Iterator

import ijson
import numpy as np
import orjson

from forumscope.errors import InputError
from forumscope.ingest.base import BATCH_ROWS, Batcher, ReadOptions, Reader, Sink, read_lines

PLATFORM = "convokit"
DEFAULT_BOARD = "main"
UTTERANCE_FILES = ("utterances.jsonl", "utterances.json")
SPEAKER_FILES = ("speakers.json", "users.json")
COMPANION_FILES = ("speakers.json", "users.json", "conversations.json", "corpus.json", "index.json")
BIN_DELIM_L, BIN_DELIM_R = "<##bin{", "}&&@**>"  # placeholder of a pickled metadata value
_EXCERPT_CHARS = 200

# Metadata keys that name the board (sub-forum) of a conversation, in order of preference.
BOARD_KEYS = ("subreddit", "board", "forum", "channel")
# Metadata field -> model field (documented in docs/formats/convokit.md).
UTTERANCE_META = {"score": "score", "title": "title"}
CONVERSATION_META = {"title": "title", "timestamp": "created_at", "num_comments": "reply_count_reported",
                     "stickied": "is_sticky", "locked": "is_locked"}
SPEAKER_META = {"name": "name"}
CORPUS_META = {"name": "name", "description": "description"}


class ConvoKitReader(Reader):
    """Reads a ConvoKit corpus folder."""

    name = "convokit"
    description = ("ConvoKit corpus folder (utterances.jsonl, speakers.json, conversations.json, corpus.json, "
                   "index.json)")

    def detect(self, path: Path) -> bool:
        path = Path(path)
        try:
            if path.is_file():
                return path.name == "utterances.jsonl" and any(
                    (path.parent / n).is_file() for n in COMPANION_FILES)
            return (path.is_dir() and any((path / n).is_file() for n in UTTERANCE_FILES)
                    and any((path / n).is_file() for n in COMPANION_FILES))
        except OSError:
            return False

    def read(self, path: Path, sink: Sink, options: ReadOptions) -> None:
        path = Path(path)
        folder = path.parent if path.is_file() else path
        if not folder.is_dir():
            raise InputError("a ConvoKit corpus is a folder holding utterances.jsonl", path=str(path))
        utt = next((folder / n for n in UTTERANCE_FILES if (folder / n).is_file()), None)
        if utt is None:
            raise InputError("no utterances.jsonl (or utterances.json) in the folder", path=str(folder))
        _Run(folder, utt, sink, options).run()


# ---------------------------------------------------------------- helpers


class IdSet:
    """A compact set of string ids (8-byte hashes, sorted), for membership tests in bulk.

    Holds millions of ids in a few bytes each, where a Python set would need ~100.
    A false "member" answer needs a 64-bit hash collision (negligible).
    """

    def __init__(self) -> None:
        self._pending = array("Q")
        self._sorted = np.zeros(0, dtype=np.uint64)

    @staticmethod
    def _h(value: str) -> int:
        return int.from_bytes(hashlib.blake2b(value.encode("utf-8", "surrogatepass"), digest_size=8).digest(),
                              "little")

    def add(self, value: str) -> None:
        self._pending.append(self._h(value))

    def freeze(self) -> None:
        if len(self._pending):
            new = np.unique(np.frombuffer(self._pending, dtype=np.uint64))
            self._pending = array("Q")
            if self._sorted.size:
                idx = np.searchsorted(self._sorted, new)
                present = self._sorted[np.minimum(idx, self._sorted.size - 1)] == new
                new, idx = new[~present], idx[~present]
                self._sorted = np.insert(self._sorted, idx, new)
            else:
                self._sorted = new

    def __len__(self) -> int:
        self.freeze()
        return int(self._sorted.size)

    def contains(self, values: Iterable[str]) -> list[bool]:
        self.freeze()
        vals = list(values)
        if not vals or not self._sorted.size:
            return [False] * len(vals)
        hs = np.array([self._h(v) for v in vals], dtype=np.uint64)
        idx = np.searchsorted(self._sorted, hs)
        idx[idx >= self._sorted.size] = 0
        return (self._sorted[idx] == hs).tolist()


def _excerpt(raw: bytes | str) -> str:
    if isinstance(raw, bytes):
        raw = raw[: _EXCERPT_CHARS * 4].decode("utf-8", "backslashreplace")
    return raw[:_EXCERPT_CHARS]


def _id(value: Any) -> str | None | bool:
    """An id as text; None when missing; False when it is not a string or a number."""
    if value is None:
        return None
    if isinstance(value, bool):
        return False
    if isinstance(value, str):
        return value
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    return False


def _first(u: dict[str, Any], key: str, older: str) -> Any:
    value = u.get(key)
    return u.get(older) if value is None else value


def _value(value: Any) -> Any:
    """A metadata value for the loader: scalars as they are, containers as JSON text (the loader
    flags them where the field is not text), pickled placeholders as missing."""
    if isinstance(value, str) and value.startswith(BIN_DELIM_L) and value.endswith(BIN_DELIM_R):
        return None
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return orjson.dumps(value, default=str).decode()


def _split(obj: dict[str, Any]) -> dict[str, Any]:
    """The metadata of a speakers.json / conversations.json entry, in either layout."""
    if "meta" in obj and isinstance(obj["meta"], dict) and set(obj) <= {"meta", "vectors"}:
        return obj["meta"]
    return obj


def _board_of(meta: dict[str, Any]) -> str | None:
    for k in BOARD_KEYS:
        v = meta.get(k)
        if isinstance(v, (str, int)) and not isinstance(v, bool) and str(v).strip():
            return str(v)
    return None


# ---------------------------------------------------------------- the run


class _Run:
    """State of one ``read`` call (the reader itself stays stateless)."""

    def __init__(self, folder: Path, utt: Path, sink: Sink, options: ReadOptions):
        self.folder = folder
        self.utt = utt
        self.sink = sink
        self.options = options
        self.forum_id = options.forum_id or folder.name or folder.resolve().name
        self.default_board = str((options.extra or {}).get("board") or DEFAULT_BOARD)
        self.batcher = Batcher(sink, BATCH_ROWS)
        self.boards: set[str] = set()
        self.speakers = IdSet()
        # conversation id -> [root utterance id (when id == conversation id), board from utterance meta]
        self.conv_info: dict[str, list[Any]] = {}
        self.limit = max(1024, int(options.max_record_bytes) + 2)

    def run(self) -> None:
        folder = self.folder
        for f in sorted(folder.iterdir()):
            if f.is_file() and f.name.endswith("-bin.p"):
                self.sink.skipped(self.options.label(f), "convokit binary metadata (pickle), never read")
        corpus_meta = self._corpus(folder / "corpus.json")
        if (folder / "index.json").is_file():
            self.sink.evidence(folder / "index.json", display=self.options.label(folder / "index.json"))
        if not (self.options.extra or {}).get("board"):
            self.default_board = _board_of(corpus_meta) or self.default_board
        spk = next((folder / n for n in SPEAKER_FILES if (folder / n).is_file()), None)
        if spk is not None:
            self._speakers(spk)
            self.batcher.flush("users")
            self.speakers.freeze()
        self._utterances(self.utt)
        self.batcher.flush()
        conv = folder / "conversations.json"
        if conv.is_file():
            self._conversations(conv)
        utt_source = self.options.label(self.utt)
        for cid, (root, board) in self.conv_info.items():  # conversations.json does not list them
            self._thread({"id": cid, "board_id": self._use_board(board or self.default_board, utt_source),
                          "first_post_id": root}, utt_source)
        self.conv_info.clear()
        self.batcher.flush()

    # ------------------------------------------------------------ pieces
    def _use_board(self, board: str, source: str) -> str:
        if board not in self.boards:
            self.boards.add(board)
            self.batcher.add("boards", {"forum_id": self.forum_id, "id": board, "name": board,
                                        "_source": source, "_line": None, "_offset": None})
        return board

    def _thread(self, row: dict[str, Any], source: str) -> None:
        row.update({"forum_id": self.forum_id, "_source": source, "_line": None, "_offset": None})
        self.batcher.add("threads", row)

    def _objects(self, f: Path, table: str) -> Iterator[tuple[int, str, Any]]:
        """Stream the entries of a JSON object file (id -> value); a syntax error ends the file
        with one reject (nothing after it can be located)."""
        label = self.options.label(f)
        self.sink.evidence(f, display=label)
        n = 0
        with f.open("rb") as fh:
            head = fh.read(4096).lstrip(b"\xef\xbb\xbf \t\r\n")
            fh.seek(0)
            if not head.startswith(b"{"):
                self.sink.reject(table, label, "not_an_object: the file must hold one JSON object (id -> entry)",
                                 record=1, excerpt=_excerpt(head))
                return
            try:
                for key, value in ijson.kvitems(fh, "", use_float=True):
                    n += 1
                    yield n, key, value
            except (ijson.JSONError, UnicodeDecodeError) as exc:
                self.sink.reject(table, label, f"bad_json: {exc}; the rest of the file is unreadable",
                                 record=n + 1)

    def _corpus(self, f: Path) -> dict[str, Any]:
        meta: dict[str, Any] = {}
        if f.is_file():
            for _n, key, value in self._objects(f, "forums"):
                if key in CORPUS_META or key in BOARD_KEYS:
                    meta[key] = value
        row: dict[str, Any] = {"id": self.forum_id, "platform": PLATFORM, "_line": None, "_offset": None,
                               "_source": self.options.label(f if f.is_file() else self.folder)}
        name = meta.get("name")
        row["name"] = self.options.forum_name or (name if isinstance(name, str) and name else self.folder.name)
        if isinstance(meta.get("description"), str):
            row["description"] = meta["description"]
        self.batcher.add("forums", row)
        return meta

    def _speakers(self, f: Path) -> None:
        source = self.options.label(f)
        for n, sid, obj in self._objects(f, "users"):
            if not isinstance(obj, dict):
                self.sink.reject("users", source, "not_an_object: a speaker entry must be a JSON object",
                                 record=n, excerpt=_excerpt(orjson.dumps({sid: obj}, default=str)))
                continue
            meta = _split(obj)
            name = _value(meta.get("name"))
            self.speakers.add(sid)
            self.batcher.add("users", {"forum_id": self.forum_id, "id": sid,
                                       "name": name if isinstance(name, str) and name else sid,
                                       "_source": source, "_line": None, "_offset": None})

    def _utterances(self, f: Path) -> None:
        self.sink.evidence(f, display=self.options.label(f))
        if f.name.endswith(".json"):
            self._utterances_json(f)
            return
        from forumscope.ingest.convokit_fast import read_utterances

        if read_utterances(self, f):  # the whole file with DuckDB; False: read it line by line
            return
        source = self.options.label(f)
        pending: list[tuple[str, int, int]] = []  # speakers to check against speakers.json
        with f.open("rb") as fh:
            for line, off, raw, too_long in read_lines(fh, start=1, limit=self.limit):
                def reject(reason: str) -> None:
                    self.sink.reject("posts", source, reason, line=line, offset=off, excerpt=_excerpt(raw))

                if too_long:
                    reject(f"too_large: line exceeds max_record_bytes={self.options.max_record_bytes}")
                    continue
                if line == 1 and raw.startswith(b"\xef\xbb\xbf"):
                    raw = raw[3:]
                if not raw.strip():
                    continue  # blank lines hold no record
                try:
                    raw.decode("utf-8")
                except UnicodeDecodeError as exc:
                    reject(f"bad_utf8: invalid UTF-8 at byte {exc.start} of the line")
                    continue
                try:
                    obj = orjson.loads(raw)
                except orjson.JSONDecodeError as exc:
                    reject(f"bad_json: {exc}")
                    continue
                if not isinstance(obj, dict):
                    reject("not_an_object: an utterance must be a JSON object")
                    continue
                speaker = self._utterance(obj, source, line, off, reject)
                if speaker:
                    pending.append((speaker, line, off))
                    if len(pending) >= 10_000:
                        self._missing_speakers(pending, source)
                        pending = []
        self._missing_speakers(pending, source)

    def _utterances_json(self, f: Path) -> None:
        """Older corpora: ``utterances.json`` holds one JSON list (streamed, record numbers only)."""
        source = self.options.label(f)
        pending: list[tuple[str, int | None, int | None]] = []
        n = 0
        with f.open("rb") as fh:
            try:
                for obj in ijson.items(fh, "item", use_float=True):
                    n += 1
                    record = n

                    def reject(reason: str) -> None:
                        self.sink.reject("posts", source, reason, record=record,
                                         excerpt=_excerpt(orjson.dumps(obj, default=str)))

                    if not isinstance(obj, dict):
                        reject("not_an_object: an utterance must be a JSON object")
                        continue
                    speaker = self._utterance(obj, source, None, None, reject)
                    if speaker:
                        pending.append((speaker, None, None))
                        if len(pending) >= 10_000:
                            self._missing_speakers(pending, source)
                            pending = []
            except (ijson.JSONError, UnicodeDecodeError) as exc:
                self.sink.reject("posts", source, f"bad_json: {exc}; the rest of the file is unreadable",
                                 record=n + 1)
        self._missing_speakers(pending, source)

    def _utterance(self, u: dict[str, Any], source: str, line: int | None, off: int | None,
                   reject: Any) -> str | None:
        uid = _id(u.get("id"))
        # a key that is missing or null falls back to the older layout's key
        speaker = _id(_first(u, "speaker", "user"))
        conv = _id(_first(u, "conversation_id", "root"))
        reply = _id(_first(u, "reply-to", "reply_to"))
        for name, v in (("id", uid), ("speaker", speaker), ("conversation_id", conv), ("reply-to", reply)):
            if v is False:
                reject(f"bad_id: {name} is not a string or a number")
                return None
        meta = u.get("meta")
        meta = meta if isinstance(meta, dict) else {}
        row: dict[str, Any] = {
            "forum_id": self.forum_id, "id": uid, "author_id": speaker, "thread_id": conv, "parent_id": reply,
            "created_at": _value(u.get("timestamp")), "text": _value(u.get("text")),
            "_source": source, "_line": line, "_offset": off,
        }
        for key, fname in UTTERANCE_META.items():
            if key in meta:
                row[fname] = _value(meta[key])
        self.batcher.add("posts", row)
        if conv:
            info = self.conv_info.get(conv)
            if info is None:
                info = self.conv_info[conv] = [None, None]
            if uid and uid == conv:  # ConvoKit's convention: the root utterance's id is the conversation id
                info[0] = uid
            if info[1] is None:
                info[1] = _board_of(meta)
        return speaker or None  # type: ignore[return-value]

    def _missing_speakers(self, pending: list[tuple[str, Any, Any]], source: str) -> None:
        """Users for speakers that speakers.json does not list (ConvoKit gives them empty metadata)."""
        if not pending:
            return
        known = self.speakers.contains(p[0] for p in pending)
        added: set[str] = set()
        for (sid, line, off), k in zip(pending, known):
            if not k and sid not in added:
                added.add(sid)
                self.speakers.add(sid)  # once is enough
                self.batcher.add("users", {"forum_id": self.forum_id, "id": sid, "name": sid,
                                           "_source": source, "_line": line, "_offset": off})
        self.speakers.freeze()

    def _conversations(self, f: Path) -> None:
        source = self.options.label(f)
        for n, cid, obj in self._objects(f, "threads"):
            if not isinstance(obj, dict):
                self.sink.reject("threads", source, "not_an_object: a conversation entry must be a JSON object",
                                 record=n, excerpt=_excerpt(orjson.dumps({cid: obj}, default=str)))
                continue
            meta = _split(obj)
            info = self.conv_info.pop(cid, None)
            board = _board_of(meta) or (info[1] if info else None) or self.default_board
            row: dict[str, Any] = {"id": cid, "board_id": self._use_board(board, source),
                                   "first_post_id": info[0] if info else None}
            for key, fname in CONVERSATION_META.items():
                if key in meta:
                    row[fname] = _value(meta[key])
            self._thread(row, source)
