"""Staging a dump's rows into a scratch DuckDB database, one table per source table (out of core).

The :class:`Stager` is the parser's ``select`` callback and receives its :class:`~forumscope.sqldump.parser.Rows`
batches. It decides which tables and columns are read (the engine's known tables and columns, under
the table prefix given or detected), decodes values column by column (:mod:`forumscope.sqldump.values`),
pseudonymises contact columns, and appends to the staging tables named by the source table name
without its prefix, with an ``_offset`` column (the row's byte offset in the dump).

Prefix detection: without a given prefix, every table named ``<p><known table>`` where ``<p>`` is empty
or ends with ``_`` is staged under a provisional name; at :meth:`Stager.finish` the prefix matching the
most signature tables (then known tables, then rows) is chosen, its tables get their final names, and
the others are dropped and listed (a database holding two forums needs ``--table-prefix``).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

import duckdb
import pyarrow as pa

from forumscope.engines.base import SECRET_COLUMN, EngineSpec, qi
from forumscope.sqldump.parser import Binary, Problem, Rows, Selection, Skipped, TableDef
from forumscope.sqldump.values import decode_column, decode_token, value_text

__all__ = ["Stager", "StageResult", "contact_value"]


def contact_value(v: Any) -> str | bytes | None:
    """An e-mail/IP value as the pseudonymiser takes it: text when it is text (so a dump and a live
    database give the same pseudonym), raw bytes for binary literals (packed IPs)."""
    if v is None or isinstance(v, str):
        return v
    if isinstance(v, Binary):
        return bytes(v)
    if isinstance(v, (bytes, bytearray)):
        return value_text(bytes(v))
    return str(v)


@dataclass
class _Staged:
    prefix: str
    table: str            # unprefixed known table
    source_name: str      # as in the dump
    name: str             # staging table name (provisional until finish)
    columns: list[str]    # staged columns
    rows: int = 0


@dataclass
class StageResult:
    prefix: str
    tables: dict[str, list[str]]                  # staged table -> columns
    rows: dict[str, int]                          # staged table -> rows
    source_names: dict[str, str]                  # staged table -> name in the dump
    skipped: dict[str, tuple[int, str]]           # dump table -> (bytes or rows, why)
    missing_columns: dict[str, list[str]]         # staged table -> used columns the dump lacks
    charset: Counter                              # (table, column, kind) -> values
    notices: list[str] = field(default_factory=list)


class Stager:
    """See the module docstring. ``pseudonym(kind, value)`` turns contact values into keyed pseudonyms
    (or None). ``prefix`` None means detect."""

    def __init__(self, con: duckdb.DuckDBPyConnection, spec: EngineSpec, *, prefix: str | None = None,
                 pseudonym: Callable[[str, Any], str | None] | None = None, repair_charset: bool = True,
                 batch_rows: int = 50_000):
        self.con = con
        self.spec = spec
        self.prefix = prefix
        self.pseudonym = pseudonym or (lambda kind, v: None)
        self.contacts_wanted = pseudonym is not None  # else contact columns are staged as NULL, unread
        self.batch_rows = batch_rows
        self._queue: list[tuple[tuple, Rows]] = []
        self._queued = 0
        self.repair = repair_charset
        self.staged: dict[tuple[str, str], _Staged] = {}   # (prefix, table) -> staged
        self.by_source: dict[str, _Staged] = {}
        self.skipped: dict[str, list] = {}                  # dump table -> [bytes, why]
        self.missing: dict[tuple[str, str], list[str]] = {}
        self.no_columns: set[str] = set()
        self.charset: Counter = Counter()
        self.notices: list[str] = []
        self._n = 0
        known = sorted(spec.known_tables, key=len, reverse=True)
        self._known = known
        self._never = dict(spec.never_stored)

    # ---------------------------------------------------------------- which tables
    def split(self, name: str) -> tuple[str, str] | None:
        """(prefix, known table) for a dump table name, or None."""
        low = name
        if self.prefix is not None:
            if not low.startswith(self.prefix):
                return None
            rest = low[len(self.prefix):]
            return (self.prefix, rest) if rest in self.spec.known_tables else None
        for k in self._known:
            if low == k:
                return "", k
            if low.endswith("_" + k) or (low.endswith(k) and low[:-len(k)].endswith("_")):
                p = low[:-len(k)]
                if p.endswith("_"):
                    return p, k
        return None

    def _never_reason(self, name: str) -> str | None:
        for t, why in self._never.items():
            if name == t or name.endswith("_" + t) and (self.prefix is None or name == self.prefix + t):
                return why
        return None

    def select(self, name: str, columns: list[str] | None) -> Selection | None:
        """The parser's callback: what to read of table ``name`` with ``columns``."""
        hit = self.split(name)
        if hit is None:
            why = self._never_reason(name)
            self._skip(name, why or f"not used by the {self.spec.name} mapping")
            return None
        prefix, table = hit
        wanted = self.spec.wanted_columns(table)
        if columns is None:
            install = self.spec.install_columns.get(table)
            if not install:
                self.no_columns.add(name)
                self._skip(name, "no CREATE TABLE and no column list: columns unknown")
                return None
            columns = list(install)
            self.notices.append(f"{name}: no CREATE TABLE or column list in the dump; read with the "
                                f"{self.spec.title} install column order")
        lower = [c.lower() for c in columns]
        keep: list[int] = []
        present: list[str] = []
        for w in wanted:
            if SECRET_COLUMN.search(w):  # belt and braces: never read a secret
                continue
            if w.lower() in lower:
                keep.append(lower.index(w.lower()))
                present.append(w)
        optional = set(self.spec.optional_columns.get(table, ()))
        missing = [w for w in wanted if w not in present and w not in optional]
        if missing:
            prev = self.missing.setdefault((prefix, table), [])
            for m in missing:
                if m not in prev:
                    prev.append(m)
        st = self._staged(prefix, table, name, present)
        return Selection(list(columns), keep, present) if st is not None else None

    def _skip(self, name: str, why: str) -> None:
        self.skipped.setdefault(name, [0, why])

    def _staged(self, prefix: str, table: str, source_name: str, columns: list[str]) -> _Staged | None:
        key = (prefix, table)
        st = self.staged.get(key)
        if st is None:
            self._n += 1
            st = _Staged(prefix, table, source_name, f"_stage_{self._n}", list(columns))
            cols = ", ".join(f"{qi(c)} {self._type(table, c)}" for c in columns)
            self.con.execute(f"CREATE TABLE {qi(st.name)} ({cols}{', ' if cols else ''}_offset BIGINT)")
            self.staged[key] = st
            self.by_source[source_name] = st
        else:
            for c in columns:
                if c not in st.columns:
                    self.con.execute(f"ALTER TABLE {qi(st.name)} ADD COLUMN {qi(c)} {self._type(table, c)}")
                    st.columns.append(c)
            self.by_source[source_name] = st
        return st

    def _type(self, table: str, column: str) -> str:
        return self.spec.column_types.get(table, {}).get(column, "VARCHAR")

    # ---------------------------------------------------------------- events
    def handle(self, event: TableDef | Rows | Skipped | Problem) -> None:
        """Consume one parser event (rows are staged; skipped statements counted)."""
        if isinstance(event, Rows):
            self.add(event)
        elif isinstance(event, Skipped):
            entry = self.skipped.setdefault(event.table, [0, "not used"])
            entry[0] += event.nbytes

    def add(self, rows: Rows) -> None:
        """Queue a batch; batches of one table are staged together once about ``batch_rows`` rows are
        queued (a mysqldump statement holds only ~1 MB of rows; fewer, larger inserts are much faster)."""
        st = self.by_source.get(rows.table)
        if st is None or not rows.rows:
            return
        key = (rows.table, tuple(rows.columns), rows.kind)
        if self._queue and self._queue[0][0] != key:
            self.flush()
        self._queue.append((key, rows))
        self._queued += len(rows.rows)
        if self._queued >= self.batch_rows:
            self.flush()

    def flush(self) -> None:
        """Stage the queued batches."""
        if not self._queue:
            return
        first = self._queue[0][1]
        merged = Rows(first.table, first.columns, [r for _, b in self._queue for r in b.rows],
                      [o for _, b in self._queue for o in b.offsets], first.kind)
        self._queue, self._queued = [], 0
        self._stage_rows(merged)

    def _stage_rows(self, rows: Rows) -> None:
        st = self.by_source[rows.table]
        contact = self.spec.contact_columns.get(st.table, {})
        cols = list(zip(*rows.rows)) if rows.columns else []
        arrays: dict[str, pa.Array] = {}
        for name, tokens in zip(rows.columns, cols):
            if name in contact:
                kind = contact[name]
                arrays[name] = (pa.array([self.pseudonym(kind, contact_value(decode_token(t, rows.kind)))
                                          for t in tokens], pa.string()) if self.contacts_wanted
                                else pa.nulls(len(tokens), pa.string()))
                continue
            stats: Counter = Counter()
            arrays[name] = decode_column(list(tokens), rows.kind, stats, repair=self.repair)
            for k, n in stats.items():
                self.charset[(st.table, name, k)] += n
        arrays["_offset"] = pa.array(rows.offsets, pa.int64())
        batch = pa.table(arrays)
        self.con.register("_stage_batch", batch)
        try:
            names = [c for c in rows.columns]
            sel = ", ".join(
                (f"TRY_CAST(b.{qi(c)} AS {self._type(st.table, c)})" if self._type(st.table, c) != "VARCHAR"
                 else f"b.{qi(c)}") for c in names)
            target = ", ".join(qi(c) for c in names)
            self.con.execute(f"INSERT INTO {qi(st.name)} ({target}{', ' if target else ''}_offset) "
                             f"SELECT {sel}{', ' if sel else ''}b._offset FROM _stage_batch b")
        finally:
            self.con.unregister("_stage_batch")
        st.rows += len(rows.rows)

    def add_arrow(self, table_name: str, batch: pa.Table) -> None:
        """Stage an Arrow batch of text columns (a live database source) for dump table ``table_name``;
        ``select`` must have been called for it first."""
        self.flush()
        st = self.by_source.get(table_name)
        if st is None or batch.num_rows == 0:
            return
        contact = self.spec.contact_columns.get(st.table, {})
        arrays = {}
        for name in batch.column_names:
            col = batch.column(name)
            if name in contact:
                arrays[name] = (pa.array([self.pseudonym(contact[name], contact_value(v)) for v in col.to_pylist()],
                                         pa.string()) if self.contacts_wanted else pa.nulls(len(col), pa.string()))
            elif name == "_offset":
                arrays[name] = col
            else:
                stats: Counter = Counter()
                vals = col.to_pylist()
                out = []
                for v in vals:
                    if isinstance(v, bytes):
                        out.append(value_text(v, stats, repair=self.repair))
                    elif isinstance(v, str) and self.repair and not v.isascii():
                        from forumscope.sqldump.values import repair_mojibake

                        f = repair_mojibake(v)
                        if f is not None:
                            stats["latin1_as_utf8"] += 1
                        out.append(f if f is not None else v)
                    else:
                        out.append(None if v is None else str(v))
                arrays[name] = pa.array(out, pa.string())
                for k, n in stats.items():
                    self.charset[(st.table, name, k)] += n
        if "_offset" not in arrays:
            arrays["_offset"] = pa.nulls(batch.num_rows, pa.int64())
        tbl = pa.table(arrays)
        self.con.register("_stage_batch", tbl)
        try:
            names = [c for c in tbl.column_names if c != "_offset"]
            target = ", ".join(qi(c) for c in names)
            self.con.execute(f"INSERT INTO {qi(st.name)} ({target}{', ' if target else ''}_offset) "
                             f"SELECT {', '.join('b.' + qi(c) for c in names)}{', ' if names else ''}b._offset "
                             f"FROM _stage_batch b")
        finally:
            self.con.unregister("_stage_batch")
        st.rows += batch.num_rows

    def consume(self, events: Iterable[TableDef | Rows | Skipped | Problem],
                on_problem: Callable[[Problem], None]) -> None:
        """Stage every event; problems go to ``on_problem``."""
        for ev in events:
            if isinstance(ev, Problem):
                on_problem(ev)
            else:
                self.handle(ev)

    # ---------------------------------------------------------------- finish
    def finish(self) -> StageResult:
        """Choose the prefix, give the staging tables their final names, report what was skipped."""
        self.flush()
        prefixes: dict[str, tuple[int, int, int]] = {}
        for (p, t), st in self.staged.items():
            sig, known, rows = prefixes.get(p, (0, 0, 0))
            prefixes[p] = (sig + (t in self.spec.signature_tables), known + 1, rows + st.rows)
        if self.prefix is not None:
            chosen = self.prefix
        elif prefixes:
            preferred = list(self.spec.prefixes)
            chosen = max(prefixes, key=lambda p: (prefixes[p], p in preferred, -len(p)))
        else:
            chosen = ""
        tables: dict[str, list[str]] = {}
        rows: dict[str, int] = {}
        names: dict[str, str] = {}
        for (p, t), st in self.staged.items():
            if p != chosen:
                self.con.execute(f"DROP TABLE {qi(st.name)}")
                self.skipped[st.source_name] = [st.rows, f"table prefix {p!r}, not the chosen {chosen!r} "
                                                          "(use --table-prefix to read it)"]
                continue
            self.con.execute(f"DROP TABLE IF EXISTS {qi(t)}")
            self.con.execute(f"ALTER TABLE {qi(st.name)} RENAME TO {qi(t)}")
            tables[t] = list(st.columns)
            rows[t] = st.rows
            names[t] = st.source_name
        missing = {t: cols for (p, t), cols in self.missing.items() if p == chosen and t in tables}
        skipped = {k: (int(v[0]), str(v[1])) for k, v in self.skipped.items()}
        return StageResult(prefix=chosen, tables=tables, rows=rows, source_names=names, skipped=skipped,
                           missing_columns=missing, charset=self.charset, notices=list(self.notices))
