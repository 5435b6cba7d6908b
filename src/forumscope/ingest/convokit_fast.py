"""DuckDB fast path for ConvoKit's ``utterances.jsonl`` (used by :mod:`forumscope.ingest.convokit`).

The whole file is read once with DuckDB ``read_json`` (every ConvoKit key as JSON) into an
in-memory database; the mapping of :meth:`~forumscope.ingest.convokit._Run._utterance` (ids as
text, ``bad_id`` rejects, ``meta.score``/``meta.title``, pickled placeholders as missing,
containers as JSON text), the conversations' roots and boards, and the speakers that
``speakers.json`` does not list are computed in SQL; the posts go to the loader as Arrow batches
of text columns (:meth:`~forumscope.ingest.base.Sink.emit_query`), converted and validated there
like every other input.

The result is the same as the line-by-line reader's. Where that cannot be guaranteed
:func:`read_utterances` returns False before handing anything to the sink, and the caller
reads the file line by line: when DuckDB cannot read the file as a whole (a malformed line,
bad UTF-8, an oversized record, a line that is not an object, a duplicate key, a ``meta`` that
is not an object), when a line holds no utterance key at all (``null`` and ``{}`` look alike),
when a value read is NaN or infinite, an integer of more than 18 digits or an id that is a float
beyond 1e38, when more than :data:`MAX_BAD` records have ids that are not strings or numbers, or
when the sink cannot take a relation.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import duckdb

from forumscope.ingest import convokit as ck
from forumscope.ingest.base import read_lines

FAST = True  # tests switch the fast path off to compare with the line-by-line reader
MAX_BAD = 64  # more records rejected by the reader itself than this: read line by line instead
KEYS = ("id", "speaker", "user", "conversation_id", "root", "reply-to", "reply_to", "timestamp", "text", "meta")
# Python's str.isspace() characters, for "str(v).strip() is empty"
_BLANK_RE = r"[\p{Z}\t\n\x0b\x0c\r\x1c-\x1f\x85]*"


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _lit(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


_INT_RE = "0|-?[1-9][0-9]{0,17}"  # an integer both readers keep exact


def _sql(n: str, what: str) -> str:
    """Expressions over ``s_<n>`` (the value as text: strings unquoted, anything else as JSON text)
    and ``c_<n>`` (the first character of its JSON text, which tells its type)."""
    s, c = _q("s_" + n), _q("c_" + n)
    x = f"TRY_CAST({s} AS DOUBLE)"
    other = f"({c} IS NULL OR {c} IN ('n', '\"', 't', 'f', '{{', '['))"  # not a number
    integer = f"regexp_full_match({s}, {_lit(_INT_RE)})"
    if what == "id":  # convokit._id
        return (f"CASE WHEN {c} = '\"' THEN {s} WHEN {other} THEN NULL WHEN {integer} THEN {s} "
                f"WHEN {x} = trunc({x}) THEN CAST(TRY_CAST({x} AS HUGEINT) AS VARCHAR) ELSE CAST({x} AS VARCHAR) END")
    if what == "bad":  # booleans and containers are not ids
        return f"coalesce({c} IN ('t', 'f', '{{', '['), false)"
    if what == "value":  # convokit._value, then the loader's text of it
        return (f"CASE WHEN {c} = '\"' THEN CASE WHEN starts_with({s}, {_lit(ck.BIN_DELIM_L)}) AND "
                f"ends_with({s}, {_lit(ck.BIN_DELIM_R)}) THEN NULL ELSE {s} END "
                f"WHEN {other} OR {integer} THEN {s} ELSE CAST({x} AS VARCHAR) END")
    if what == "board":  # one step of convokit._board_of
        return (f"CASE WHEN {c} = '\"' THEN CASE WHEN NOT regexp_full_match({s}, {_lit(_BLANK_RE)}) THEN {s} END "
                f"WHEN NOT {other} AND {integer} THEN {s} END")
    if what == "odd":  # NaN/Infinity (the line-by-line reader rejects the line), digits beyond 18, huge ids
        return (f"CASE WHEN {other} OR {integer} THEN false ELSE regexp_full_match({s}, '-?[0-9]+') OR "
                f"NOT coalesce(isfinite({x}) AND abs({x}) < 1e38, false) END")  # CASE: evaluated only where needed
    raise AssertionError(what)


def _load(con: duckdb.DuckDBPyConnection, f: Path, max_object: int) -> None:
    """Table ``u``: one row per record of ``f`` in file order (rowid + 1 = record number), as posts
    columns (text), plus ``board`` (named in meta), ``bad`` (the first id field that is not a string
    or a number) and ``odd`` (the line-by-line reader would read the record differently)."""
    mkeys = (*ck.UTTERANCE_META, *ck.BOARD_KEYS)
    cols = {k: "JSON" for k in KEYS} | {"meta": f"STRUCT({', '.join(_q(k) + ' JSON' for k in mkeys)})"}
    src = (f"read_json({_lit(str(f))}, format='newline_delimited', columns={{"
           f"{', '.join(f'{_lit(k)}: {_lit(v)}' for k, v in cols.items())}}}, maximum_object_size={max_object})")
    # a key that is missing or null falls back to the older layout's key
    ids = {"id": '"id"', "speaker": 'coalesce("speaker", "user")',
           "conversation_id": 'coalesce("conversation_id", "root")', "reply-to": 'coalesce("reply-to", "reply_to")'}
    values = {"created_at": '"timestamp"', "text": '"text"',
              **{fname: f"meta.{_q(key)}" for key, fname in ck.UTTERANCE_META.items()}}
    boards = {f"b_{k}": f"meta.{_q(k)}" for k in ck.BOARD_KEYS}
    fields = {**ids, **values, **boards}
    empty = " AND ".join(f"{_q(k)} IS NULL" for k in KEYS)  # null, {} and {"vectors": []} look alike here
    # 1. each field's value as text and the first character of its JSON text (parsing each value once)
    a = ", ".join([*(f"({e})->>'$' AS {_q('s_' + n)}, CAST({e} AS VARCHAR)[1] AS {_q('c_' + n)}"
                     for n, e in fields.items()), f"({empty}) AS empty"])
    con.execute(f"CREATE TEMP TABLE a AS SELECT {a} FROM {src}")
    # 2. the mapping
    out = {"id": "id", "author_id": "speaker", "thread_id": "conversation_id", "parent_id": "reply-to"}
    bad = "CASE " + " ".join(f"WHEN {_sql(n, 'bad')} THEN {_lit(n)}" for n in ids) + " END"
    odd = " OR ".join([*(_sql(n, "odd") for n in (*ids, *values)), "empty"])
    sel = [*(f"{_sql(s, 'id')} AS {_q(n)}" for n, s in out.items()),
           *(f"{_sql(n, 'value')} AS {_q(n)}" for n in values),
           f"coalesce({', '.join(_sql(n, 'board') for n in boards)}) AS board", f"{bad} AS bad", f"({odd}) AS odd"]
    con.execute(f"CREATE TABLE u AS SELECT {', '.join(sel)} FROM a")
    con.execute("DROP TABLE a")


def _positions(f: Path, wanted: set[int], limit: int) -> dict[int, tuple[int, int, bytes]]:
    """Line, byte offset and text of the records numbered ``wanted`` (records are the lines that are
    not blank, as DuckDB and the line-by-line reader count them)."""
    out: dict[int, tuple[int, int, bytes]] = {}
    if not wanted:
        return out
    last = max(wanted)
    rec = 0
    with f.open("rb") as fh:
        for line, off, raw, _too_long in read_lines(fh, start=1, limit=limit):
            if line == 1 and raw.startswith(b"\xef\xbb\xbf"):
                raw = raw[3:]
            if not raw.strip():
                continue
            rec += 1
            if rec in wanted:
                out[rec] = (line, off, raw)
                if rec >= last:
                    break
    return out


def read_utterances(run: ck._Run, f: Path) -> bool:
    """Read ``utterances.jsonl`` with DuckDB into ``run``'s sink. False, with nothing handed to the sink,
    where the line-by-line reader must do it (see the module docstring)."""
    if not FAST:
        return False
    sink, source = run.sink, run.options.label(f)
    spill = tempfile.TemporaryDirectory(prefix="forumscope-convokit-")  # DuckDB may spill large corpora here
    con = duckdb.connect(config={"temp_directory": spill.name})
    try:
        try:
            _load(con, f, run.limit - 2)
        except (duckdb.Error, UnicodeError):
            return False  # some line is not what DuckDB reads: the line-by-line reader rejects it
        n_odd, n_bad = con.execute("SELECT count(*) FILTER (WHERE odd), count(*) FILTER (WHERE bad IS NOT NULL) "
                                   "FROM u").fetchall()[0]
        if n_odd or n_bad > MAX_BAD:
            return False
        bad = con.execute("SELECT rowid + 1, bad FROM u WHERE bad IS NOT NULL ORDER BY 1").fetchall()
        posts = con.sql(f"SELECT {_lit(run.forum_id)} AS forum_id, id, author_id, thread_id, parent_id, created_at, "
                        f"text, score, title FROM u WHERE bad IS NULL").to_arrow_reader(100_000)
        if not sink.emit_query("posts", posts, source, f, "ndjson", skip=[r for r, _ in bad]):
            return False
        del posts
        # speakers that speakers.json does not list, at their first utterance
        firsts = con.execute("SELECT author_id, min(rowid) + 1 AS rec FROM u WHERE bad IS NULL AND author_id <> '' "
                             "GROUP BY author_id ORDER BY rec").fetchall()
        known = run.speakers.contains(s for s, _ in firsts)
        missing = [(s, rec) for (s, rec), k in zip(firsts, known) if not k]
        # conversations in order of first appearance: root utterance, first board named in meta
        run.conv_info.update((cid, [root, board]) for cid, root, board, _ in con.execute(
            "SELECT thread_id, max(CASE WHEN id = thread_id THEN id END), "
            "arg_min(board, rowid) FILTER (WHERE board IS NOT NULL), min(rowid) AS first FROM u "
            "WHERE bad IS NULL AND thread_id <> '' GROUP BY thread_id ORDER BY first").fetchall())
    finally:
        con.close()
        spill.cleanup()
    pos = _positions(f, {r for r, _ in bad} | {r for _, r in missing}, run.limit)
    for rec, name in bad:
        line, off, raw = pos[rec]
        sink.reject("posts", source, f"bad_id: {name} is not a string or a number", line=line, offset=off,
                    excerpt=ck._excerpt(raw))
    for sid, rec in missing:
        line, off, _raw = pos[rec]
        run.speakers.add(sid)
        run.batcher.add("users", {"forum_id": run.forum_id, "id": sid, "name": sid,
                                  "_source": source, "_line": line, "_offset": off})
    run.speakers.freeze()
    return True
