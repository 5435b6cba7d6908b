"""The reader protocol and the sink readers write into.

A *reader* knows one source format. It never touches the database: it streams
records into a :class:`Sink` in bounded batches (column lists), reports every
record it could not parse with :meth:`Sink.reject`, and registers every input
file it opens with :meth:`Sink.evidence`. The loader behind the sink does all
validation, type conversion, de-duplication, derivations, flags and
reconciliation in one place, the same way for every format.

Batch values may be ``str``, ``int``, ``float``, ``bool``, ``datetime`` or
``None``; the loader converts them to the model types (times as ISO 8601 or
epoch seconds, UTC unless an offset is given). Every batch carries three
provenance columns: ``_source`` (file, ``archive!member`` for members),
``_line`` (1-based line, or None) and ``_offset`` (0-based byte offset, or None).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Callable, Iterator, Mapping, Sequence

BATCH_ROWS = 50_000  # readers flush batches of about this many records


@dataclass
class ReadOptions:
    """Options every reader receives. Readers ignore what does not apply to them."""

    forum_id: str | None = None  # override the forum id the reader would choose
    forum_name: str | None = None
    max_record_bytes: int = 64 * 1024 * 1024  # larger single records are rejected
    extra: dict[str, Any] = field(default_factory=dict)  # reader-specific options (e.g. irc channel)
    # Paths extracted from archives are shown as "archive.zip!member": root -> label prefix.
    labels: dict[Path, str] = field(default_factory=dict)

    def label(self, path: Path) -> str:
        """How to name ``path`` in rejects, flags and evidence (use it for ``_source``)."""
        p = Path(path)
        for root, prefix in self.labels.items():
            try:
                rel = p.relative_to(root)
            except ValueError:
                continue
            return f"{prefix}!{rel.as_posix()}"
        return str(p)


class Sink(ABC):
    """Where readers put records. Implemented by :class:`forumscope.ingest.loader.Loader`."""

    @abstractmethod
    def emit(self, table: str, columns: Mapping[str, Sequence[Any]]) -> None:
        """Add a batch of records for ``table`` as equal-length columns.

        Column names are the model's field names (any subset) plus ``_source``,
        ``_line`` and ``_offset``. Unknown names raise ``KeyError``.
        """

    @abstractmethod
    def emit_file(self, table: str, path: Path, fmt: str, source: str) -> None:
        """Hand a whole canonical file (``ndjson`` or ``csv``, optionally .gz) to the
        loader, which reads it with DuckDB directly (the fast path)."""

    def emit_query(self, table: str, query: Any, source: str, path: Path, fmt: str = "ndjson", *,
                   skip: Sequence[int] = ()) -> bool:
        """Hand the records of a whole file ``path`` to the loader as one relation whose columns are
        text named after model fields (any subset): ``query`` is SQL over the loader's connection, or
        Arrow data (a table or a record batch reader). Rows are the file's records in order, except
        the record numbers in ``skip`` (rejected by the reader itself); record numbers are turned into
        lines of ``path`` (read as ``fmt``) for later rejects and flags. Returns False when the sink
        cannot do this (the default): the reader then emits batches instead."""
        return False

    @abstractmethod
    def reject(self, table: str | None, source: str, reason: str, *, line: int | None = None,
               offset: int | None = None, record: int | None = None, excerpt: str | bytes | None = None) -> None:
        """Record a record that was read but cannot be stored, and why."""

    @abstractmethod
    def evidence(self, path: Path, *, display: str | None = None, member: str | None = None,
                 sha256: str | None = None, size: int | None = None, status: str = "ingested") -> None:
        """Register an input file (or archive member) in the evidence manifest.
        ``sha256``/``size`` are computed from ``path`` when not given."""

    @abstractmethod
    def skipped(self, source: str, reason: str) -> None:
        """Count something in the input that is not a record and is deliberately not read
        (e.g. media bytes inside an archive, SAFETY.md). Never stored, only counted."""

    def progress(self, n_bytes: int) -> None:  # pragma: no cover - optional hook
        """Report ``n_bytes`` more consumed since the last call (an increment), for progress bars."""

    def already_ingested(self, path: Path) -> bool:  # pragma: no cover - overridden by the loader
        """True when a file with the same SHA-256 is already in the case's evidence."""
        return False


class Reader(ABC):
    """One source format. Constructors store nothing but parameters."""

    name: str = ""
    description: str = ""

    @abstractmethod
    def detect(self, path: Path) -> bool:
        """Cheap check (file names, first bytes) whether ``path`` is in this format."""

    @abstractmethod
    def read(self, path: Path, sink: Sink, options: ReadOptions) -> None:
        """Stream every record of ``path`` into ``sink``. Raise
        :class:`forumscope.errors.InputError` only when the input is unusable as a whole."""


class Batcher:
    """Collects row dicts per table and flushes column batches to a sink.

    Keeps at most ``size`` records per table in memory.
    """

    def __init__(self, sink: Sink, size: int = BATCH_ROWS):
        self.sink = sink
        self.size = size
        self._rows: dict[str, list[dict[str, Any]]] = {}

    def add(self, table: str, row: dict[str, Any]) -> None:
        rows = self._rows.setdefault(table, [])
        rows.append(row)
        if len(rows) >= self.size:
            self.flush(table)

    def flush(self, table: str | None = None) -> None:
        tables = [table] if table else list(self._rows)
        for t in tables:
            rows = self._rows.get(t)
            if not rows:
                continue
            names: dict[str, None] = {}
            for r in rows:
                for k in r:
                    names.setdefault(k, None)
            cols = {k: [r.get(k) for r in rows] for k in names}
            self.sink.emit(t, cols)
            self._rows[t] = []


ReaderFactory = Callable[[], Reader]


def read_line(fh: BinaryIO, limit: int) -> tuple[bytes, int, bool]:
    """Next line as read (ending kept, at most ``limit`` bytes), its full length in bytes, and whether it
    was longer than ``limit`` (the rest is skipped without being held in memory). ``(b"", 0, False)`` at EOF."""
    raw = fh.readline(limit)
    size = len(raw)
    too_long = False
    if size == limit and not raw.endswith(b"\n"):
        too_long = True
        while True:
            more = fh.readline(1 << 20)
            size += len(more)
            if not more or more.endswith(b"\n"):
                break
    return raw, size, too_long


def read_lines(fh: BinaryIO, limit: int, start: int = 1) -> Iterator[tuple[int, int, bytes, bool]]:
    """Yield ``(line number counted from start, byte offset, line without its ending, too_long)``."""
    offset = 0
    lineno = start
    while True:
        raw, size, too_long = read_line(fh, limit)
        if not size:
            return
        yield lineno, offset, raw.rstrip(b"\n").rstrip(b"\r"), too_long
        lineno += 1
        offset += size
