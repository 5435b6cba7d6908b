"""The forumscope canonical format: one NDJSON or CSV file per table (docs/format.md).

A folder (archives are unpacked safely first, see :mod:`forumscope.ingest.archive`)
holding files named ``<table>.ndjson``, ``<table>.jsonl`` or ``<table>.csv``,
optionally gzipped (``.gz``), or split into parts ``<table>-<part>.<ext>``.
Field names are those of :mod:`forumscope.model.schema`.
"""

from __future__ import annotations

import re
from pathlib import Path

from forumscope.ingest.base import Reader, ReadOptions, Sink
from forumscope.model.schema import TABLES

_NAME = re.compile(r"^(?P<table>[a-z_]+)(?:-[A-Za-z0-9_.-]+)?\.(?P<ext>ndjson|jsonl|csv)(?P<gz>\.gz)?$")
DATA_TABLES = {name for name, t in TABLES.items() if t.kind == "data"}


def table_of(path: Path) -> tuple[str, str] | None:
    """(table, 'ndjson'|'csv') when ``path`` is named like a canonical table file."""
    m = _NAME.match(path.name)
    if not m or m.group("table") not in DATA_TABLES:
        return None
    return m.group("table"), ("csv" if m.group("ext") == "csv" else "ndjson")


class CanonicalReader(Reader):
    name = "canonical"
    description = "forumscope canonical format: a folder of <table>.ndjson / .csv files (optionally .gz)"

    def detect(self, path: Path) -> bool:
        if path.is_file():
            return table_of(path) is not None
        return path.is_dir() and any(table_of(p) for p in path.rglob("*") if p.is_file())

    def read(self, path: Path, sink: Sink, options: ReadOptions) -> None:
        files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
        for p in files:
            label = options.label(p)
            kind = table_of(p)
            if kind is None:
                sink.skipped(label, "not a canonical table file")
                continue
            sink.evidence(p, display=label)
            table, fmt = kind
            sink.emit_file(table, p, fmt, label)
