"""Export one forum of a case as a ConvoKit corpus folder.

The folder holds ``utterances.jsonl``, ``speakers.json``, ``conversations.json``,
``corpus.json`` and ``index.json`` in the layout ConvoKit writes itself (``Corpus.dump``),
so ``convokit.Corpus(filename=folder)`` loads it, and forumscope's ``convokit`` reader
reads it back into the same posts, users and threads (see ``docs/formats/convokit.md``).

* utterance = post: ``id``; ``speaker`` = author (``guest:<author_name>`` for posts
  without an author id, ``[unknown]`` when neither is known); ``conversation_id`` = the
  post's thread (the post's own id when it has none); ``reply-to`` = ``parent_id``;
  ``timestamp`` = epoch seconds (int, or float with sub-second precision); ``text``;
  ``meta``: ``score``, ``title`` when set.
* speaker = user: ``meta.name`` when set; also every author id that has no user row.
* conversation = thread: ``meta``: ``title``, ``board`` (board id), ``timestamp``,
  ``num_comments`` (reply_count_reported), ``stickied``, ``locked`` when set.
* corpus.json: ``name`` (forum name, else its id), ``description`` when set.

Posts are streamed from DuckDB in Arrow record batches: memory stays bounded by the batch
size, never by the number of posts. Text is forum text (hostile): it is only ever
JSON-encoded here, never interpreted.

Example::

    from forumscope import open_case
    from forumscope.export.convokit import export_convokit

    with open_case("my-case") as case:
        export_convokit(case, "my-corpus")
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Iterator

import orjson

from forumscope.errors import UsageError

INDEX_VERSION = 1
UNKNOWN_SPEAKER = "[unknown]"
GUEST_PREFIX = "guest:"

# model field -> ConvoKit metadata key
POST_META = {"score": "score", "title": "title"}
THREAD_META = {"title": "title", "board_id": "board", "created_at": "timestamp",
               "reply_count_reported": "num_comments", "is_sticky": "stickied", "is_locked": "locked"}


@dataclass(frozen=True)
class ConvoKitExport:
    """What :func:`export_convokit` wrote."""

    path: Path
    forum_id: str
    utterances: int
    speakers: int
    conversations: int


def _type_name(value: Any) -> str:
    return str(type(value))  # ConvoKit's index stores "<class 'int'>" and the like


class _Index:
    """Accumulates the metadata type index ConvoKit keeps in index.json."""

    def __init__(self) -> None:
        self.types: dict[str, dict[str, list[str]]] = {
            "utterances-index": {}, "speakers-index": {}, "conversations-index": {}, "overall-index": {}}

    def note(self, which: str, meta: dict[str, Any]) -> None:
        idx = self.types[which]
        for k, v in meta.items():
            seen = idx.setdefault(k, [])
            t = _type_name(v)
            if t not in seen:
                seen.append(t)

    def as_dict(self) -> dict[str, Any]:
        return {**self.types, "version": INDEX_VERSION, "vectors": []}


def _epoch(us: int | None) -> int | float | None:
    if us is None:
        return None
    return us // 1_000_000 if us % 1_000_000 == 0 else us / 1_000_000


def _batches(con: Any, sql: str, params: dict[str, Any], rows: int) -> Iterator[list[dict[str, Any]]]:
    reader = con.sql(sql, params=params).to_arrow_reader(rows)
    for batch in reader:
        yield batch.to_pylist()


class _ObjectWriter:
    """Writes one JSON object ``{id: entry, ...}`` entry by entry."""

    def __init__(self, fh: IO[bytes]):
        self.fh = fh
        self.n = 0
        fh.write(b"{")

    def add(self, key: str, value: Any) -> None:
        self.fh.write((b"," if self.n else b"") + orjson.dumps(key) + b":" + orjson.dumps(value))
        self.n += 1

    def close(self) -> None:
        self.fh.write(b"}")


def _choose_forum(con: Any, forum_id: str | None) -> tuple[str, str | None, str | None]:
    forums = {r[0]: (r[1], r[2]) for r in con.execute(
        "SELECT id, name, description FROM forums WHERE id IS NOT NULL").fetchall()}
    if forum_id is None:
        ids = sorted(set(forums) | {r[0] for r in con.execute(
            "SELECT DISTINCT forum_id FROM posts WHERE forum_id IS NOT NULL").fetchall()})
        if len(ids) != 1:
            raise UsageError("the case holds " + (f"{len(ids)} forums ({', '.join(ids[:10])}); "
                             if ids else "no forum; ") + "choose one with forum_id")
        forum_id = ids[0]
    elif forum_id not in forums and not con.execute(
            "SELECT 1 FROM posts WHERE forum_id = ? LIMIT 1", [forum_id]).fetchall():
        raise UsageError(f"no forum {forum_id!r} in the case")
    name, description = forums.get(forum_id, (None, None))
    return forum_id, name, description


_SPEAKER_SQL = (f"coalesce(p.author_id, '{GUEST_PREFIX}' || p.author_name, '{UNKNOWN_SPEAKER}')")


def export_convokit(case: Any, out_dir: str | Path, forum_id: str | None = None, *,
                    batch_rows: int = 50_000, reply_to_root: bool = False) -> ConvoKitExport:
    """Write forum ``forum_id`` of ``case`` (a :class:`~forumscope.store.case.Case` or a case
    folder) as a ConvoKit corpus in ``out_dir`` (created; must not hold files already).

    ``forum_id`` may be left out when the case holds one forum. With ``reply_to_root=True``
    posts without an explicit parent reply to their thread's first post (so every
    conversation is one tree, as some ConvoKit tools expect); by default ``reply-to`` is
    exactly ``posts.parent_id``.
    """
    from forumscope.store.case import Case, open_case

    own = not isinstance(case, Case)
    the_case: Case = open_case(case, read_only=True) if own else case
    try:
        return _export(the_case.con, Path(out_dir), forum_id, batch_rows, reply_to_root)
    finally:
        if own:
            the_case.close()


def _export(con: Any, out: Path, forum_id: str | None, batch_rows: int, reply_to_root: bool) -> ConvoKitExport:
    if batch_rows < 1:
        raise UsageError("batch_rows must be at least 1")
    fid, forum_name, forum_description = _choose_forum(con, forum_id)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise UsageError("the output folder exists and is not empty; choose a new folder", path=str(out))
    out.mkdir(parents=True, exist_ok=True)
    index = _Index()

    # ---- utterances.jsonl (posts, in thread order)
    root_join = ""
    reply_sql = "p.parent_id"
    if reply_to_root:
        root_join = (
            "LEFT JOIN (SELECT r.thread_id, coalesce(any_value(t.first_post_id), arg_min(r.id, "
            "(coalesce(r.position, 9223372036854775807), r.created_at, r.id))) AS root_id FROM posts r "
            "LEFT JOIN threads t ON t.forum_id = r.forum_id AND t.id = r.thread_id "
            "WHERE r.forum_id = $fid AND r.thread_id IS NOT NULL GROUP BY r.thread_id) roots "
            "ON roots.thread_id = p.thread_id ")
        reply_sql = "coalesce(p.parent_id, CASE WHEN p.id <> roots.root_id THEN roots.root_id END)"
    utt_sql = (
        f"SELECT p.id, {_SPEAKER_SQL} AS speaker, coalesce(p.thread_id, p.id) AS conversation_id, "
        f"{reply_sql} AS reply_to, epoch_us(p.created_at) AS ts, p.text, p.score, p.title "
        f"FROM posts p {root_join}WHERE p.forum_id = $fid "
        "ORDER BY conversation_id, p.position NULLS LAST, p.created_at NULLS LAST, p.id")
    n_utt = 0
    with open(out / "utterances.jsonl", "wb") as fh:
        for rows in _batches(con, utt_sql, {"fid": fid}, batch_rows):
            lines = []
            for r in rows:
                meta = {k: r[f] for f, k in POST_META.items() if r[f] is not None}
                index.note("utterances-index", meta)
                lines.append(orjson.dumps({
                    "id": r["id"], "conversation_id": r["conversation_id"], "text": r["text"] or "",
                    "speaker": r["speaker"], "meta": meta, "reply-to": r["reply_to"],
                    "timestamp": _epoch(r["ts"]), "vectors": []}))
            if lines:
                fh.write(b"\n".join(lines) + b"\n")
            n_utt += len(lines)

    # ---- speakers.json (users, plus authors without a user row)
    spk_sql = (
        "SELECT id, name FROM users WHERE forum_id = $fid AND id IS NOT NULL "
        f"UNION ALL SELECT s.speaker, any_value(s.author_name) FROM (SELECT {_SPEAKER_SQL} AS speaker, "
        "p.author_name FROM posts p WHERE p.forum_id = $fid) s WHERE NOT EXISTS (SELECT 1 FROM users u "
        "WHERE u.forum_id = $fid AND u.id = s.speaker) GROUP BY s.speaker ORDER BY 1")
    with open(out / "speakers.json", "wb") as fh:
        w = _ObjectWriter(fh)
        for rows in _batches(con, spk_sql, {"fid": fid}, batch_rows):
            for r in rows:
                meta = {"name": r["name"]} if r["name"] is not None else {}
                index.note("speakers-index", meta)
                w.add(r["id"], {"meta": meta, "vectors": []})
        w.close()
        n_spk = w.n

    # ---- conversations.json (threads, plus conversation ids without a thread row)
    conv_sql = (
        "SELECT id, title, board_id, epoch_us(created_at) AS created_at, reply_count_reported, is_sticky, "
        "is_locked FROM threads WHERE forum_id = $fid AND id IS NOT NULL "
        "UNION ALL SELECT DISTINCT c.cid, NULL, NULL, NULL, NULL, NULL, NULL FROM (SELECT coalesce(p.thread_id, "
        "p.id) AS cid FROM posts p WHERE p.forum_id = $fid) c WHERE NOT EXISTS (SELECT 1 FROM threads t "
        "WHERE t.forum_id = $fid AND t.id = c.cid) ORDER BY 1")
    with open(out / "conversations.json", "wb") as fh:
        w = _ObjectWriter(fh)
        for rows in _batches(con, conv_sql, {"fid": fid}, batch_rows):
            for r in rows:
                meta = {}
                for f, k in THREAD_META.items():
                    v = r[f]
                    if v is None:
                        continue
                    meta[k] = _epoch(v) if f == "created_at" else v
                index.note("conversations-index", meta)
                w.add(r["id"], {"meta": meta, "vectors": []})
        w.close()
        n_conv = w.n

    # ---- corpus.json, index.json
    corpus_meta: dict[str, Any] = {"name": forum_name or fid}
    if forum_description is not None:
        corpus_meta["description"] = forum_description
    index.note("overall-index", corpus_meta)
    (out / "corpus.json").write_bytes(orjson.dumps(corpus_meta))
    (out / "index.json").write_bytes(orjson.dumps(index.as_dict()))
    return ConvoKitExport(path=out, forum_id=fid, utterances=n_utt, speakers=n_spk, conversations=n_conv)
