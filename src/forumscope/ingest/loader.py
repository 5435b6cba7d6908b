"""The loader: the one place where records become rows of the case.

Readers stream raw records into staging tables (every field as text). At
:meth:`Loader.finish` each table is converted, validated, de-duplicated,
derived, merged with what the case already holds, and inserted, in one
transaction. Every record read ends up counted in exactly one of
``stored``, ``merged``, ``unchanged`` or ``rejected`` (see ``reconciliation``).
"""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import io
import json
from collections import Counter
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import duckdb
import orjson
import pyarrow as pa

from forumscope.errors import InputError
from forumscope.ingest.base import Sink
from forumscope.model.schema import BIGINT, BOOLEAN, DOUBLE, TABLES, TIMESTAMP, VARCHAR, Table

# Tables in the order they are finished (later ones derive fields from earlier ones).
ORDER = ["forums", "boards", "users", "ranks", "groups", "memberships", "threads", "posts",
         "interactions", "attachments", "private_messages", "events", "badges", "tags", "contacts"]
PROV = ("_source", "_line", "_offset")
# Text fields keep empty strings; every other VARCHAR field treats '' as missing.
TEXT_FIELDS = {"name", "title", "text", "raw", "description", "profile_text", "subject", "detail",
               "location", "author_name", "access_rule", "file_name", "url"}
EXCERPT = 200


def q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def lit(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _to_text(v: Any) -> str | None:
    if v is None:
        return None
    if isinstance(v, str):
        return v
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, dt.datetime):
        if v.tzinfo is not None:
            v = v.astimezone(dt.timezone.utc).replace(tzinfo=None)
        return v.isoformat()
    if isinstance(v, (dict, list)):
        return json.dumps(v, ensure_ascii=False)
    return str(v)


def _text_array(values: Sequence[Any]) -> pa.Array:
    """``values`` as an Arrow string array, each as :func:`_to_text` gives it; columns holding only text,
    only integers or only booleans (and None) are converted by Arrow, the rest value by value."""
    try:
        arr = pa.array(values)
    except (pa.ArrowException, OverflowError, TypeError, ValueError):
        arr = None
    if arr is not None and (pa.types.is_string(arr.type) or pa.types.is_null(arr.type)
                            or pa.types.is_integer(arr.type) or pa.types.is_boolean(arr.type)):
        return arr.cast(pa.string())
    return pa.array([_to_text(v) for v in values], pa.string())


def excerpt_of(raw: str | bytes | None) -> str | None:
    if raw is None:
        return None
    if isinstance(raw, bytes):
        raw = raw[: EXCERPT * 4].decode("utf-8", "backslashreplace")
    return raw[:EXCERPT]


def sha256_file(path: Path) -> tuple[str, int]:
    h = hashlib.sha256()
    size = 0
    with open(path, "rb") as fh:
        while chunk := fh.read(4 * 1024 * 1024):
            h.update(chunk)
            size += len(chunk)
    return h.hexdigest(), size


@dataclass
class TableCount:
    read: int = 0
    stored: int = 0
    merged: int = 0
    unchanged: int = 0
    rejected: int = 0
    derived: int = 0

    def balanced(self) -> bool:
        return self.read == self.stored + self.merged + self.unchanged + self.rejected


@dataclass
class LoadResult:
    counts: dict[str, TableCount] = field(default_factory=dict)
    skipped: Counter = field(default_factory=Counter)
    flags: Counter = field(default_factory=Counter)
    notices: list[str] = field(default_factory=list)
    evidence: list[dict[str, Any]] = field(default_factory=list)


class Loader(Sink):
    """Staging, validation and storage for one ingest run (see module docstring)."""

    def __init__(self, con: duckdb.DuckDBPyConnection, run_id: str, settings: dict[str, Any], *,
                 default_forum_id: str | None = None, progress: Callable[[int], None] | None = None,
                 now: dt.datetime | None = None):
        self.con = con
        self.run_id = run_id
        self.settings = settings
        self.default_forum_id = default_forum_id
        self._progress = progress
        self.now = now or dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
        self.staged: dict[str, int] = {}
        # table, source, first rowid, end rowid, record number of the first row
        self.file_ranges: list[tuple[str, str, int, int, int]] = []
        self.file_paths: dict[str, tuple[Path, str]] = {}  # source -> (path, fmt), to turn records into lines
        self.result = LoadResult()
        self._rejects: list[tuple] = []
        self._reader_rejects: Counter = Counter()
        self._pool: ThreadPoolExecutor | None = None
        self._pending_evidence: list[tuple[Any, dict[str, Any]]] = []
        self._evidence_labels: set[str] = set()
        con.execute("CREATE OR REPLACE TEMP TABLE _rej (table_name VARCHAR, source VARCHAR, line BIGINT, "
                    "byte_offset BIGINT, record BIGINT, reason VARCHAR, excerpt VARCHAR)")
        con.execute("CREATE OR REPLACE TEMP TABLE _flag (table_name VARCHAR, forum_id VARCHAR, record_id VARCHAR, "
                    "flag VARCHAR, detail VARCHAR, source VARCHAR, line BIGINT, record BIGINT)")

    # ------------------------------------------------------------------ Sink
    def _stage(self, table: str) -> str:
        """The staging table holds typed values, plus the raw text of any value that failed to convert."""
        name = f"_stg_{table}"
        if table not in self.staged:
            t = TABLES[table]
            cols = [f"{q(f.name)} {f.type}" for f in t.fields]
            cols += [f"{q('_r_' + f.name)} VARCHAR" for f in t.fields if f.type != VARCHAR]
            self.con.execute(f"CREATE OR REPLACE TEMP TABLE {q(name)} ({', '.join(cols)}, _source VARCHAR, "
                             f"_line BIGINT, _offset BIGINT)")
            self.staged[table] = 0
        return name

    def _insert_typed(self, t: Table, src: str, present: Sequence[str], source_expr: str,
                      line_expr: str = "NULL", offset_expr: str = "NULL", *, typed_source: bool = False) -> None:
        """INSERT INTO the staging table from ``src``, converting in one pass.

        ``src`` has text columns ``present`` (converted here, raw text kept where conversion fails), or,
        with ``typed_source``, columns already of the model types (DuckDB converted them while reading)."""
        sel = []
        for f in t.fields:
            if t.name == "interactions" and f.name == "id":
                sel.append(self._interaction_id(t, present, typed_source))
            elif f.name not in present:
                sel.append("NULL")
            elif typed_source:
                col = f"s.{q(f.name)}"
                sel.append(f"CAST({col} AS TIMESTAMP)" if f.type == TIMESTAMP else
                           col if f.type != VARCHAR or f.name in TEXT_FIELDS else f"NULLIF({col}, '')")
            else:
                sel.append(self._typed_expr(t, f.name, f.type, present))
        for f in t.fields:
            if f.type != VARCHAR:
                sel.append(f"CASE WHEN ({sel[t.field_names.index(f.name)]}) IS NULL THEN s.{q(f.name)} END"
                           if f.name in present and not typed_source else "NULL")
        self.con.execute(f"INSERT INTO {q(self._stage(t.name))} SELECT {', '.join(sel)}, {source_expr}, "
                         f"{line_expr}, {offset_expr} FROM {src} s")

    def _interaction_id(self, t: Table, present: Sequence[str], typed_source: bool) -> str:
        """``interactions.id`` when missing: a hash of the converted values of the other fields, so that
        the same act gets the same id from any format."""
        parts = []
        for fl in t.fields:
            if fl.name in ("id", "forum_id"):
                continue
            if fl.name not in present:
                parts.append("''")
                continue
            val = (f"CAST(s.{q(fl.name)} AS TIMESTAMP)" if typed_source and fl.type == TIMESTAMP else
                   f"s.{q(fl.name)}" if typed_source else self._typed_expr(t, fl.name, fl.type, present))
            if typed_source and fl.type == VARCHAR and fl.name not in TEXT_FIELDS:
                val = f"NULLIF({val}, '')"
            parts.append(f"coalesce(CAST({val} AS VARCHAR), '')")
        derived = f"'auto:' || substr(md5(concat_ws('|', {', '.join(parts)})), 1, 20)"
        if "id" not in present:
            return derived
        return f"CASE WHEN s.id IS NULL OR s.id = '' THEN {derived} ELSE s.id END"

    def emit(self, table: str, columns: Mapping[str, Sequence[Any]]) -> None:
        if table not in TABLES or TABLES[table].kind != "data":
            raise KeyError(f"unknown table {table!r}")
        t = TABLES[table]
        unknown = [c for c in columns if c not in t.field_names and c not in PROV]
        if unknown:
            raise KeyError(f"unknown fields for {table}: {unknown}")
        if not columns:
            return
        arrays = {}
        for name, values in columns.items():
            if name in ("_line", "_offset"):
                arrays[name] = pa.array(values, pa.int64())
            else:
                arrays[name] = _text_array(values)
        for f in t.field_names:  # every field present as text, so expressions bind
            if f not in arrays:
                arrays[f] = pa.nulls(len(next(iter(arrays.values()))), pa.string())
        batch = pa.table(arrays)
        if batch.num_rows == 0:
            return
        self._stage(table)
        self.con.register("_batch", batch)
        try:
            self._insert_typed(t, "_batch", t.field_names, "s._source" if "_source" in arrays else "NULL",
                               "s._line" if "_line" in arrays else "NULL",
                               "s._offset" if "_offset" in arrays else "NULL")
        finally:
            self.con.unregister("_batch")
        self.staged[table] += batch.num_rows

    def emit_file(self, table: str, path: Path, fmt: str, source: str) -> None:
        t = TABLES[table]
        stage = self._stage(table)
        before = self.staged[table]
        if fmt == "ndjson":
            self._ndjson(t, stage, path, source)
        elif fmt == "csv":
            self._csv(t, stage, path, source)
        else:
            raise ValueError(fmt)
        self._register_file(table, source, path, fmt, before)

    def emit_query(self, table: str, query: Any, source: str, path: Path, fmt: str = "ndjson", *,
                   skip: Sequence[int] = ()) -> bool:
        """See :meth:`Sink.emit_query`: the relation's text columns go through the same conversion as
        every other input (``_insert_typed``); an Arrow table or record batch reader is read once."""
        t = TABLES[table]
        src = f"({query})" if isinstance(query, str) else "_query"
        if not isinstance(query, str):
            self.con.register("_query", query)
        try:
            names = (list(query.schema.names) if hasattr(query, "schema") else  # Arrow: read once, never twice
                     [d[0] for d in self.con.execute(f"SELECT * FROM {src} LIMIT 0").description])
            unknown = [n for n in names if n not in t.field_names]
            if unknown:
                raise KeyError(f"unknown fields for {table}: {unknown}")
            self._stage(table)
            before = self.staged[table]
            self._insert_typed(t, src, names, lit(source))
        finally:
            if not isinstance(query, str):
                self.con.unregister("_query")
        self._register_file(table, source, path, fmt, before, skip)
        return True

    def _register_file(self, table: str, source: str, path: Path, fmt: str, before: int,
                       skip: Sequence[int] = ()) -> None:
        """Note which staged rows came from which records of ``path`` (records ``skip`` are not staged),
        so that record numbers, and then line numbers, can be given for rejects and flags."""
        after = int(self.con.execute(f"SELECT count(*) FROM {q(self._stage(table))}").fetchall()[0][0])
        row, rec = before, 1
        for s in [*sorted(set(skip)), None]:
            end = after if s is None else min(after, row + (s - rec))
            if end > row:
                self.file_ranges.append((table, source, row, end, rec))
            if s is None:
                break
            row, rec = end, s + 1
        self.file_paths[source] = (path, fmt)
        self.staged[table] = after

    def reject(self, table: str | None, source: str, reason: str, *, line: int | None = None,
               offset: int | None = None, record: int | None = None, excerpt: str | bytes | None = None) -> None:
        self._reader_rejects[table or "(unknown)"] += 1
        self._rejects.append((table or "(unknown)", source, line, offset, record, reason, excerpt_of(excerpt)))
        if len(self._rejects) >= 10_000:
            self._flush_rejects()

    def _flush_rejects(self) -> None:
        if self._rejects:
            self.con.executemany("INSERT INTO _rej VALUES (?, ?, ?, ?, ?, ?, ?)", self._rejects)
            self._rejects = []

    def evidence(self, path: Path, *, display: str | None = None, member: str | None = None,
                 sha256: str | None = None, size: int | None = None, status: str = "ingested") -> None:
        label = display or str(path)
        if label in self._evidence_labels:
            return  # archive members are registered when unpacked; readers may register them again
        self._evidence_labels.add(label)
        if sha256 is None or size is None:
            # hashed in a background thread while DuckDB reads the file (both release the GIL)
            if self._pool is None:
                self._pool = ThreadPoolExecutor(max_workers=1)
            digest: Any = self._pool.submit(sha256_file, path)
        else:
            digest = (sha256, size)
        self._pending_evidence.append((digest, {
            "path": label.split("!", 1)[0] if member else label, "member": member,
            "seen_at": self.now, "ingest_run_id": self.run_id, "status": status}))

    def _resolve_evidence(self) -> None:
        known = {r[0] for r in self.con.execute(
            "SELECT DISTINCT sha256 FROM evidence WHERE status IN ('ingested','already_ingested')").fetchall()}
        for digest, row in self._pending_evidence:
            sha, size = digest.result() if isinstance(digest, Future) else digest
            if row["status"] == "ingested" and sha in known:
                row["status"] = "already_ingested"
            self.result.evidence.append({"sha256": sha, "size_bytes": size, **row})
        self._pending_evidence = []
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None

    def skipped(self, source: str, reason: str) -> None:
        self.result.skipped[reason] += 1

    def progress(self, n_bytes: int) -> None:
        if self._progress:
            self._progress(n_bytes)

    def notice(self, text: str) -> None:
        self.result.notices.append(text)

    # ------------------------------------------------------------ file readers
    def _ndjson(self, t: Table, stage: str, path: Path, source: str) -> None:
        cols = "{" + ", ".join(f"{lit(f)}: 'VARCHAR'" for f in t.field_names) + "}"
        max_bytes = int(self.settings["ingest"]["max_record_bytes"])
        self._unknown_keys_ndjson(t, path, source)
        typed = "{" + ", ".join(f"{lit(f.name)}: {lit('TIMESTAMPTZ' if f.type == TIMESTAMP else f.type)}"
                                for f in t.fields) + "}"
        opts = f"format='newline_delimited', maximum_object_size={max_bytes + 1024}, compression='auto_detect'"
        try:
            # fastest: DuckDB converts while reading; any value it cannot convert fails the whole file
            self._insert_typed(t, f"read_json({lit(str(path))}, {opts}, columns={typed})", t.field_names,
                               lit(source), typed_source=True)
        except (duckdb.Error, UnicodeError):
            try:
                # values as text, converted with TRY_CAST; the raw text kept where conversion fails
                self._insert_typed(t, f"read_json({lit(str(path))}, {opts}, columns={cols})", t.field_names,
                                   lit(source))
            except (duckdb.Error, UnicodeError):
                # Something in the file is broken: read it line by line, keep every good record,
                # reject each bad one with its line and byte offset.
                self._ndjson_slow(t, stage, path, source, max_bytes)
                return
        self.progress(path.stat().st_size)

    def _unknown_keys_ndjson(self, t: Table, path: Path, source: str, sample: int = 200) -> None:
        keys: set[str] = set()
        with _open_maybe_gz(path) as fh:
            for i, raw in enumerate(fh):
                if i >= sample:
                    break
                try:
                    obj = orjson.loads(raw)
                except orjson.JSONDecodeError:
                    continue
                if isinstance(obj, dict):
                    keys.update(obj)
        unknown = sorted(keys - set(t.field_names))
        if unknown:
            self.notice(f"{source}: fields not in the model, not stored: {', '.join(unknown)}")
            self._flag_rows([(t.name, None, None, "unknown_field", f"{', '.join(unknown)}", source, None)])

    def _ndjson_slow(self, t: Table, stage: str, path: Path, source: str, max_bytes: int) -> None:
        names = set(t.field_names)
        rows: list[dict[str, Any]] = []
        offset = 0
        with _open_maybe_gz(path) as fh:
            for lineno, raw in enumerate(fh, start=1):
                start = offset
                offset += len(raw)
                body = raw.rstrip(b"\r\n")
                if not body.strip():
                    continue
                if len(body) > max_bytes:
                    self.reject(t.name, source, f"too_large: {len(body)} bytes > {max_bytes}",
                                line=lineno, offset=start, excerpt=body[:EXCERPT])
                    continue
                try:
                    body.decode("utf-8")
                except UnicodeDecodeError as exc:
                    self.reject(t.name, source, f"invalid_utf8: at byte {start + exc.start}",
                                line=lineno, offset=start, excerpt=body)
                    continue
                try:
                    obj = orjson.loads(body)
                except orjson.JSONDecodeError as exc:
                    reason = "truncated" if not raw.endswith(b"\n") else "invalid_json"
                    self.reject(t.name, source, f"{reason}: {exc}", line=lineno, offset=start, excerpt=body)
                    continue
                if not isinstance(obj, dict):
                    self.reject(t.name, source, "not_an_object: the line is JSON but not an object", line=lineno, offset=start,
                                excerpt=body)
                    continue
                row = {k: v for k, v in obj.items() if k in names}
                row["_source"], row["_line"], row["_offset"] = source, lineno, start
                rows.append(row)
                if len(rows) >= 20_000:
                    self._emit_rows(t.name, rows)
                    rows = []
            self.progress(offset)
        self._emit_rows(t.name, rows)

    def _emit_rows(self, table: str, rows: list[dict[str, Any]]) -> None:
        if not rows:
            return
        names: dict[str, None] = {}
        for r in rows:
            for k in r:
                names.setdefault(k, None)
        self.emit(table, {k: [r.get(k) for r in rows] for k in names})

    def _csv(self, t: Table, stage: str, path: Path, source: str) -> None:
        import csv

        with _open_maybe_gz(path) as fh:
            first = fh.readline()
        try:
            header = next(csv.reader([first.decode("utf-8-sig")]))
        except (UnicodeDecodeError, StopIteration, csv.Error) as exc:
            raise InputError(f"CSV header unreadable: {exc}", path=source, line=1) from exc
        known = [h for h in header if h in t.field_names]
        unknown = [h for h in header if h not in t.field_names]
        if unknown:
            self.notice(f"{source}: columns not in the model, not stored: {', '.join(unknown)}")
            self._flag_rows([(t.name, None, None, "unknown_field", ", ".join(unknown), source, None)])
        if not known:
            raise InputError(f"CSV header has no field of table {t.name}", path=source, line=1)
        src = (f"read_csv({lit(str(path))}, header=true, all_varchar=true, store_rejects=true, "
               f"rejects_table='_csv_rej', rejects_scan='_csv_scan', strict_mode=true, parallel=false, "
               f"max_line_size={int(self.settings['ingest']['max_record_bytes']) + 1024})")
        self._insert_typed(t, src, known, lit(source))
        for line, pos, err, raw in self.con.execute(
                "SELECT line, byte_position, error_message, csv_line FROM _csv_rej").fetchall():
            self.reject(t.name, source, f"invalid_csv: {err.splitlines()[0] if err else 'error'}",
                        line=int(line) if line is not None else None,
                        offset=int(pos) if pos is not None else None, excerpt=raw)
        self.con.execute("DROP TABLE IF EXISTS _csv_rej")
        self.con.execute("DROP TABLE IF EXISTS _csv_scan")
        self.progress(path.stat().st_size)

    # ------------------------------------------------------------------ finish
    def _flag_rows(self, rows: list[tuple]) -> None:
        if rows:
            self.con.executemany("INSERT INTO _flag VALUES (?, ?, ?, ?, ?, ?, ?, NULL)", rows)

    def _default_forum(self) -> str | None:
        if self.default_forum_id:
            return self.default_forum_id
        if "forums" in self.staged:
            ids = self.con.execute("SELECT DISTINCT NULLIF(id, '') FROM _stg_forums WHERE NULLIF(id,'') IS NOT NULL "
                                   "LIMIT 2").fetchall()
            if len(ids) == 1:
                return ids[0][0]
        return None

    def finish(self) -> LoadResult:
        """Validate and store everything staged. The caller wraps this in a transaction."""
        self._flush_rejects()
        self._resolve_evidence()
        forum = self._default_forum()
        for name in ORDER:
            if name not in self.staged and not self._reader_rejects.get(name):
                continue
            count = self.result.counts.setdefault(name, TableCount())
            count.read += self._reader_rejects.get(name, 0)
            if name in self.staged:
                self._finish_table(TABLES[name], count, forum)
        self._fixups()
        unknown = self._reader_rejects.get("(unknown)", 0)
        if unknown:
            self.result.counts["(unknown)"] = TableCount(read=unknown, rejected=unknown)
        for name, c in self.result.counts.items():
            c.rejected = int(self.con.execute("SELECT count(*) FROM _rej WHERE table_name = ?", [name]).fetchall()[0][0])
        self._records_to_lines()
        self.con.execute(
            "INSERT INTO rejects SELECT ?, table_name, source, line, byte_offset, record, reason, excerpt FROM _rej",
            [self.run_id])
        self.con.execute(
            "INSERT INTO flags SELECT ?, table_name, forum_id, record_id, flag, detail, source, coalesce(line, record) "
            "FROM _flag", [self.run_id])
        self.result.flags.update(dict(self.con.execute("SELECT flag, count(*) FROM _flag GROUP BY 1").fetchall()))
        for name, c in self.result.counts.items():
            self.con.execute("INSERT INTO reconciliation VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                             [self.run_id, name, c.read, c.stored, c.unchanged, c.rejected, c.derived, c.merged])
        if self.result.evidence:
            cols = ["sha256", "size_bytes", "path", "member", "seen_at", "ingest_run_id", "status"]
            self.con.executemany(f"INSERT INTO evidence ({', '.join(cols)}) VALUES (?, ?, ?, ?, ?, ?, ?)",
                                 [[e[c] for c in cols] for e in self.result.evidence])
        for name in list(self.staged):
            self.con.execute(f"DROP TABLE IF EXISTS {q('_stg_' + name)}")
        return self.result

    def _records_to_lines(self) -> None:
        """Files read by DuckDB report record numbers; turn them into line numbers (one pass per file
        that has rejects or flags, so a clean ingest pays nothing)."""
        for source, (path, fmt) in self.file_paths.items():
            wanted = {r[0] for r in self.con.execute(
                "SELECT record FROM _rej WHERE source = ? AND line IS NULL AND record IS NOT NULL UNION "
                "SELECT record FROM _flag WHERE source = ? AND line IS NULL AND record IS NOT NULL",
                [source, source]).fetchall()}
            if not wanted:
                continue
            lines = _record_lines(path, fmt, wanted)
            if lines:
                self.con.execute("CREATE OR REPLACE TEMP TABLE _map (record BIGINT, line BIGINT)")
                self.con.executemany("INSERT INTO _map VALUES (?, ?)", list(lines.items()))
                for tbl in ("_rej", "_flag"):
                    self.con.execute(f"UPDATE {tbl} SET line = m.line FROM _map m WHERE {tbl}.source = ? AND "
                                     f"{tbl}.line IS NULL AND {tbl}.record = m.record", [source])
                self.con.execute("DROP TABLE _map")

    def _typed_expr(self, t: Table, f: str, ftype: str, present: Sequence[str]) -> str:
        col = f"s.{q(f)}"
        if ftype == VARCHAR:
            return col if f in TEXT_FIELDS else f"NULLIF({col}, '')"
        x = f"NULLIF(trim({col}), '')"
        if ftype == BIGINT:
            return f"coalesce(TRY_CAST({x} AS BIGINT), TRY_CAST(round(TRY_CAST({x} AS DOUBLE)) AS BIGINT))"
        if ftype == DOUBLE:
            return f"TRY_CAST({x} AS DOUBLE)"
        if ftype == BOOLEAN:
            return (f"CASE WHEN lower({x}) IN ('true','t','1','yes','y') THEN true "
                    f"WHEN lower({x}) IN ('false','f','0','no','n') THEN false END")
        if ftype == TIMESTAMP:
            return (f"CASE WHEN regexp_full_match({x}, '-?[0-9]{{9,11}}([.][0-9]+)?') "
                    f"THEN TRY_CAST(to_timestamp(TRY_CAST({x} AS DOUBLE)) AS TIMESTAMP) "
                    f"WHEN regexp_full_match({x}, '[0-9]{{12,14}}') "
                    f"THEN TRY_CAST(to_timestamp(TRY_CAST({x} AS DOUBLE) / 1000) AS TIMESTAMP) "
                    f"ELSE TRY_CAST(TRY_CAST({x} AS TIMESTAMPTZ) AS TIMESTAMP) END")
        raise AssertionError(ftype)

    def _finish_table(self, t: Table, count: TableCount, forum: str | None) -> None:
        con = self.con
        stage = q(f"_stg_{t.name}")
        self._cur_stage = stage
        count.read += self.staged[t.name]
        ranges = [r for r in self.file_ranges if r[0] == t.name]
        rec_expr = "NULL"
        if ranges:
            rec_expr = "CASE " + " ".join(
                f"WHEN s.rowid >= {a} AND s.rowid < {b} THEN s.rowid - {a} + {r}" for _, _, a, b, r in ranges) + " END"
        if forum is not None and "forum_id" in t.field_names:
            con.execute(f"UPDATE {stage} SET forum_id = {lit(forum)} WHERE forum_id IS NULL")
        # _typ: the staged rows with their sequence (rowid) and record number; updates go to the stage.
        con.execute(f"CREATE OR REPLACE TEMP VIEW _typ AS SELECT s.*, s.rowid AS _seq, {rec_expr} AS _rec "
                    f"FROM {stage} s")
        self.staged[t.name] = 0
        tname = t.name

        # 1. bad values: stored empty, flagged
        key_expr = " || '/' || ".join(f"coalesce({q(k)}, '')" for k in t.key if k != "forum_id") or "NULL"
        fid = "forum_id" if "forum_id" in t.field_names else "id"
        for f in t.fields:
            if f.type == VARCHAR:
                continue
            flag = "bad_time" if f.type == TIMESTAMP else "bad_value"
            con.execute(
                f"INSERT INTO _flag SELECT {lit(tname)}, {fid}, {key_expr}, {lit(flag)}, "
                f"{lit(f.name + '=')} || substr({q('_r_' + f.name)}, 1, 100), _source, _line, _rec "
                f"FROM _typ WHERE {q(f.name)} IS NULL AND NULLIF(trim({q('_r_' + f.name)}), '') IS NOT NULL")
            if f.type == TIMESTAMP:
                lo = str(self.settings["ingest"]["min_time"])
                hi = (self.now + dt.timedelta(days=int(self.settings["ingest"]["max_future_days"]))).isoformat()
                cond = f"{q(f.name)} < TIMESTAMP {lit(lo)} OR {q(f.name)} > TIMESTAMP {lit(hi)}"
                n = con.execute(f"SELECT count(*) FROM _typ WHERE {cond}").fetchall()[0][0]
                if n:
                    con.execute(
                        f"INSERT INTO _flag SELECT {lit(tname)}, {fid}, {key_expr}, "
                        f"CASE WHEN {q(f.name)} > TIMESTAMP {lit(hi)} THEN 'future_time' ELSE 'implausible_time' END, "
                        f"{lit(f.name + '=')} || CAST({q(f.name)} AS VARCHAR), _source, _line, _rec "
                        f"FROM _typ WHERE {cond}")
                    con.execute(f"UPDATE {stage} SET {q(f.name)} = NULL WHERE {cond}")

        # 2. required fields
        con.execute("CREATE OR REPLACE TEMP TABLE _drop (_seq BIGINT, why VARCHAR)")
        con.execute("CREATE OR REPLACE TEMP TABLE _dupmap (_seq BIGINT, first_seq BIGINT)")
        req = [f.name for f in t.fields if f.required]
        if req:
            missing = " OR ".join(f"{q(r)} IS NULL" for r in req)
            which = ", ".join(f"CASE WHEN {q(r)} IS NULL THEN {lit(r)} END" for r in req)
            con.execute(f"INSERT INTO _drop SELECT _seq, 'rejected' FROM _typ WHERE {missing}")
            con.execute(
                f"INSERT INTO _rej SELECT {lit(tname)}, _source, _line, _offset, CASE WHEN _line IS NULL THEN _rec END, "
                f"'missing_required: field ' || concat_ws(', ', {which}), {self._excerpt_sql(t)} "
                f"FROM _typ WHERE {missing}")

        # 3. derivations that must happen before comparing with stored rows
        if tname == "posts":
            self._derive_posts()

        # 4. duplicates inside this run
        if t.key:
            keys = ", ".join(q(k) for k in t.key)
            on = " AND ".join(f"a.{q(k)} = b.{q(k)}" for k in t.key)
            ndup = con.execute(
                f"SELECT count(*) FROM (SELECT {keys} FROM _typ ANTI JOIN _drop USING (_seq) "
                f"GROUP BY ALL HAVING count(*) > 1)").fetchall()[0][0]
            if ndup:
                con.execute(
                    f"CREATE OR REPLACE TEMP TABLE _dups AS SELECT * FROM (SELECT *, row_number() OVER "
                    f"(PARTITION BY {keys} ORDER BY _seq) AS _rn FROM (SELECT * FROM _typ ANTI JOIN _drop "
                    f"USING (_seq)) SEMI JOIN (SELECT {keys} FROM _typ ANTI JOIN _drop USING (_seq) "
                    f"GROUP BY ALL HAVING count(*) > 1) USING ({keys}))")
                # same rules as against stored rows: identical (or adding nothing) -> unchanged; only filling
                # empty fields of the first -> merged into it; any differing value -> rejected, first kept
                conflict = " OR ".join(f"(a.{q(f)} IS NOT NULL AND b.{q(f)} IS NOT NULL AND a.{q(f)} <> b.{q(f)})"
                                       for f in t.field_names)
                adds = " OR ".join(f"(a.{q(f)} IS NOT NULL AND b.{q(f)} IS NULL)" for f in t.field_names)
                diff = ", ".join(f"CASE WHEN a.{q(f)} IS NOT NULL AND b.{q(f)} IS NOT NULL AND a.{q(f)} <> b.{q(f)} "
                                 f"THEN {lit(f)} END" for f in t.field_names)
                con.execute(
                    f"CREATE OR REPLACE TEMP TABLE _dupwhy AS SELECT a._seq, b._seq AS first_seq, CASE WHEN {conflict} "
                    f"THEN 'rejected' WHEN {adds} THEN 'merged' ELSE 'unchanged' END AS why "
                    f"FROM _dups a JOIN _dups b ON {on} AND b._rn = 1 WHERE a._rn > 1")
                con.execute("INSERT INTO _drop SELECT _seq, why FROM _dupwhy")
                con.execute(
                    f"INSERT INTO _rej SELECT {lit(tname)}, a._source, a._line, a._offset, "
                    f"CASE WHEN a._line IS NULL THEN a._rec END, "
                    f"'duplicate_conflict: same id, different content (' || concat_ws(', ', {diff}) || "
                    f"' differ from the record at ' || coalesce(b._source, '') || ' ' || "
                    f"coalesce('line ' || b._line, 'record ' || b._rec, '') || '); the first is kept', "
                    f"{self._excerpt_sql(t, 'a')} FROM _dups a JOIN _dups b ON {on} AND b._rn = 1 "
                    f"WHERE a._rn > 1 AND ({conflict})")
                if con.execute("SELECT count(*) FROM _dupwhy WHERE why = 'merged'").fetchall()[0][0]:
                    fills = ", ".join(f"first(a.{q(f)} ORDER BY a._rn) FILTER (WHERE a.{q(f)} IS NOT NULL) AS {q(f)}"
                                      for f in t.field_names)
                    sets = ", ".join(f"{q(f)} = coalesce({stage}.{q(f)}, m.{q(f)})" for f in t.field_names
                                     if f not in t.key)
                    con.execute(
                        f"UPDATE {stage} SET {sets} FROM (SELECT w.first_seq, {fills} FROM _dupwhy w JOIN _dups a "
                        f"ON a._seq = w._seq WHERE w.why = 'merged' GROUP BY w.first_seq) m "
                        f"WHERE {stage}.rowid = m.first_seq")
                con.execute("INSERT INTO _dupmap SELECT _seq, first_seq FROM _dupwhy WHERE why = 'merged'")
                con.execute("DROP TABLE _dupwhy")
                con.execute("DROP TABLE _dups")

            # 5. against what the case already holds
            if con.execute(f"SELECT EXISTS (SELECT 1 FROM {q(tname)})").fetchall()[0][0]:
                self._merge_existing(t, count)
                # a record completed by a duplicate of this run that then equals the stored one changed
                # nothing: its duplicates are unchanged, not merged
                con.execute("UPDATE _drop SET why = 'unchanged' WHERE why = 'merged' AND _seq IN (SELECT m._seq FROM "
                            "_dupmap m JOIN _drop d ON d._seq = m.first_seq AND d.why = 'unchanged')")

        # 6. store
        drop_counts = dict(con.execute("SELECT why, count(*) FROM _drop GROUP BY 1").fetchall())
        count.unchanged += int(drop_counts.get("unchanged", 0))
        count.merged += int(drop_counts.get("merged", 0))
        cols = ", ".join(q(f) for f in t.field_names)
        self._live = "_typ" if not drop_counts else "(SELECT * FROM _typ ANTI JOIN _drop USING (_seq))"
        con.execute("SET preserve_insertion_order = false")  # row order of stored tables carries no meaning
        try:
            con.execute(f"INSERT INTO {q(tname)} ({cols}) SELECT {cols} FROM {self._live}")
        finally:
            con.execute("SET preserve_insertion_order = true")  # staging relies on it for record numbers
        count.stored += int(con.execute(f"SELECT count(*) FROM {self._live}").fetchall()[0][0])

        if tname == "posts":
            self._after_posts(count)
        con.execute("DROP VIEW _typ")
        con.execute(f"DROP TABLE {stage}")

    def _excerpt_sql(self, t: Table, alias: str = "") -> str:
        a = f"{alias}." if alias else ""
        parts = ", ".join(f"{lit(f)}: coalesce({a}{q('_r_' + f)}, CAST({a}{q(f)} AS VARCHAR))"
                          if t.get(f).type != VARCHAR else f"{lit(f)}: {a}{q(f)}" for f in t.field_names)
        return f"substr(CAST(to_json({{{parts}}}) AS VARCHAR), 1, {EXCERPT})"

    def _merge_existing(self, t: Table, count: TableCount) -> None:
        """Rows whose key is already stored: identical -> unchanged; adds values to empty fields only ->
        merged (the stored row is completed); any field that differs -> rejected as a conflict."""
        con = self.con
        tname = t.name
        on = " AND ".join(f"n.{q(k)} = o.{q(k)}" for k in t.key)
        conflict = " OR ".join(f"(n.{q(f)} IS NOT NULL AND o.{q(f)} IS NOT NULL AND n.{q(f)} <> o.{q(f)})"
                               for f in t.field_names)
        adds = " OR ".join(f"(n.{q(f)} IS NOT NULL AND o.{q(f)} IS NULL)" for f in t.field_names)
        diff = ", ".join(f"CASE WHEN n.{q(f)} IS NOT NULL AND o.{q(f)} IS NOT NULL AND n.{q(f)} <> o.{q(f)} "
                         f"THEN {lit(f)} END" for f in t.field_names)
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE _match AS SELECT n._seq, CASE WHEN {conflict} THEN 'rejected' "
            f"WHEN {adds} THEN 'merged' ELSE 'unchanged' END AS why FROM _typ n JOIN {q(tname)} o ON {on} "
            f"WHERE n._seq NOT IN (SELECT _seq FROM _drop)")
        if not con.execute("SELECT count(*) FROM _match").fetchall()[0][0]:
            return
        con.execute(
            f"INSERT INTO _rej SELECT {lit(tname)}, n._source, n._line, n._offset, "
            f"CASE WHEN n._line IS NULL THEN n._rec END, "
            f"'id_conflict: differs from the stored record with the same id (' || concat_ws(', ', {diff}) || "
            f"' differ); the stored record is kept', {self._excerpt_sql(t, 'n')} "
            f"FROM _typ n JOIN {q(tname)} o ON {on} WHERE n._seq IN (SELECT _seq FROM _match WHERE why='rejected')")
        sets = ", ".join(f"{q(f)} = coalesce({q(tname)}.{q(f)}, n.{q(f)})" for f in t.field_names
                         if f not in t.key)
        on_upd = " AND ".join(f"n.{q(k)} = {q(tname)}.{q(k)}" for k in t.key)
        con.execute(
            f"UPDATE {q(tname)} SET {sets} FROM (SELECT * FROM _typ WHERE _seq IN "
            f"(SELECT _seq FROM _match WHERE why='merged')) n WHERE {on_upd}")
        con.execute("INSERT INTO _drop SELECT _seq, why FROM _match")
        con.execute("DROP TABLE _match")

    # ----------------------------------------------------------- derivations
    def _derive_posts(self) -> None:
        con = self.con
        st = self._cur_stage
        # thread of the parent, repeated for chains (comment on an answer on a question)
        for _ in range(5):
            n = con.execute(f"SELECT count(*) FROM {st} WHERE thread_id IS NULL AND parent_id IS NOT NULL"
                            ).fetchall()[0][0]
            if not n:
                break
            con.execute(
                f"UPDATE {st} SET thread_id = p.thread_id FROM (SELECT forum_id, id, thread_id FROM {st} "
                "WHERE thread_id IS NOT NULL UNION ALL SELECT forum_id, id, thread_id FROM posts) p "
                f"WHERE {st}.thread_id IS NULL AND {st}.parent_id = p.id AND {st}.forum_id = p.forum_id")
            if con.execute(f"SELECT count(*) FROM {st} WHERE thread_id IS NULL AND parent_id IS NOT NULL"
                           ).fetchall()[0][0] == n:
                break
        if con.execute(f"SELECT count(*) FROM {st} WHERE board_id IS NULL AND thread_id IS NOT NULL").fetchall()[0][0]:
            con.execute(
                f"UPDATE {st} SET board_id = t.board_id FROM threads t WHERE {st}.board_id IS NULL "
                f"AND {st}.thread_id = t.id AND {st}.forum_id = t.forum_id")

    def _after_posts(self, count: TableCount) -> None:
        con = self.con
        new = self._live
        # positions by time within the thread, for posts that have none
        if con.execute(f"SELECT count(*) FROM {new} WHERE position IS NULL AND thread_id IS NOT NULL").fetchall()[0][0]:
            con.execute(
                "UPDATE posts SET position = r.pos FROM (SELECT forum_id, id, row_number() OVER (PARTITION BY "
                "forum_id, thread_id ORDER BY created_at NULLS LAST, id) - 1 AS pos FROM posts SEMI JOIN "
                f"(SELECT DISTINCT forum_id, thread_id FROM {new} WHERE position IS NULL) USING (forum_id, thread_id)) r "
                "WHERE posts.position IS NULL AND posts.forum_id = r.forum_id AND posts.id = r.id")
        # flags: replies to missing posts (kept), posts without a known thread
        con.execute(
            f"INSERT INTO _flag SELECT 'posts', n.forum_id, n.id, 'missing_parent', 'parent_id=' || n.parent_id, "
            f"n._source, n._line, n._rec FROM {new} n WHERE n.parent_id IS NOT NULL AND NOT EXISTS "
            f"(SELECT 1 FROM posts p WHERE p.forum_id = n.forum_id AND p.id = n.parent_id)")
        con.execute(
            f"INSERT INTO _flag SELECT 'posts', n.forum_id, n.id, 'missing_thread', "
            f"coalesce('thread_id=' || n.thread_id, 'no thread'), n._source, n._line, n._rec FROM {new} n "
            f"WHERE n.thread_id IS NULL OR NOT EXISTS (SELECT 1 FROM threads t WHERE t.forum_id = n.forum_id "
            f"AND t.id = n.thread_id)")
        # reply interactions derived from parent_id
        before = con.execute("SELECT count(*) FROM interactions").fetchall()[0][0]
        has_replies = bool(con.execute("SELECT count(*) FROM interactions WHERE id LIKE 'reply:%'").fetchall()[0][0])
        con.execute(
            "INSERT INTO interactions (forum_id, id, kind, source_user_id, target_user_id, post_id, target_post_id, "
            "created_at) SELECT n.forum_id, 'reply:' || n.id, 'reply', n.author_id, p.author_id, n.id, n.parent_id, "
            f"n.created_at FROM {new} n LEFT JOIN posts p ON p.forum_id = n.forum_id AND p.id = n.parent_id "
            "WHERE n.parent_id IS NOT NULL" + (" AND NOT EXISTS (SELECT 1 FROM interactions i WHERE "
            "i.forum_id = n.forum_id AND i.id = 'reply:' || n.id)" if has_replies else ""))
        derived = con.execute("SELECT count(*) FROM interactions").fetchall()[0][0] - before
        self.result.counts.setdefault("interactions", TableCount()).derived += int(derived)

    def _fixups(self) -> None:
        """Fill fields derivable from other tables, only where empty (also for rows stored earlier)."""
        con = self.con
        if con.execute("SELECT count(*) FROM threads WHERE first_post_id IS NULL").fetchall()[0][0]:
            con.execute(
                "UPDATE threads SET first_post_id = f.id FROM (SELECT forum_id, thread_id, arg_min(id, "
                "(coalesce(position, 9223372036854775807), created_at)) AS id FROM posts GROUP BY ALL) f "
                "WHERE threads.first_post_id IS NULL AND threads.forum_id = f.forum_id AND threads.id = f.thread_id")
        if con.execute("SELECT count(*) FROM threads WHERE author_id IS NULL OR created_at IS NULL").fetchall()[0][0]:
            con.execute(
                "UPDATE threads SET author_id = coalesce(threads.author_id, p.author_id), created_at = "
                "coalesce(threads.created_at, p.created_at) FROM posts p WHERE (threads.author_id IS NULL OR "
                "threads.created_at IS NULL) AND p.forum_id = threads.forum_id AND p.id = threads.first_post_id")
        if con.execute("SELECT count(*) FROM interactions WHERE target_user_id IS NULL AND target_post_id IS NOT NULL"
                       ).fetchall()[0][0]:
            con.execute(
                "UPDATE interactions SET target_user_id = p.author_id FROM posts p WHERE interactions.target_user_id "
                "IS NULL AND p.forum_id = interactions.forum_id AND p.id = interactions.target_post_id")
        if con.execute("SELECT count(*) FROM interactions WHERE created_at IS NULL AND post_id IS NOT NULL"
                       ).fetchall()[0][0]:
            con.execute(
                "UPDATE interactions SET created_at = p.created_at FROM posts p WHERE interactions.created_at IS NULL "
                "AND p.forum_id = interactions.forum_id AND p.id = interactions.post_id")


def _record_lines(path: Path, fmt: str, wanted: set[int]) -> dict[int, int]:
    """Map 1-based record numbers of a canonical file to the 1-based line where each record starts."""
    out: dict[int, int] = {}
    if fmt == "ndjson":
        rec = 0
        with _open_maybe_gz(path) as fh:
            for lineno, raw in enumerate(fh, start=1):
                if raw.strip():
                    rec += 1
                    if rec in wanted:
                        out[rec] = lineno
        return out
    import csv

    with _open_maybe_gz(path) as fh:
        text = io.TextIOWrapper(fh, encoding="utf-8", errors="replace", newline="")
        reader = csv.reader(text)
        prev = 0
        for rec, _row in enumerate(reader):  # rec 0 is the header
            if rec in wanted:
                out[rec] = prev + 1
            prev = reader.line_num
    return out


class _open_maybe_gz:
    """Open a file for binary line reading, transparently decompressing .gz."""

    def __init__(self, path: Path):
        self.path = path

    def __enter__(self) -> io.BufferedReader:
        with open(self.path, "rb") as probe:
            magic = probe.read(2)
        self.fh = gzip.open(self.path, "rb") if magic == b"\x1f\x8b" else open(self.path, "rb")
        return self.fh  # type: ignore[return-value]

    def __exit__(self, *exc: object) -> None:
        self.fh.close()
