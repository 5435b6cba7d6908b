"""The report model: sections of facts, tables and figures, as plain data.

A report is built in three passes (see :mod:`forumscope.report.build`): the sections collect
tables and facts from the case; the audience rules (:mod:`forumscope.report.privacy`) suppress
what the audience may not see; then each figure's sentence is written from the numbers that
remain. ``Report.to_json()`` is the content of report.json (docs/report-schema.md).

Every value in a table has a *kind* (its column's ``kind``) that says how the audience rules
treat it:

========  ==================================================================================
kind      meaning
========  ==================================================================================
label     a category name (board, rank, code, month): forum text, escaped when shown
count     a count of members, posts, threads, ...: suppressed below the minimum cell size
share     a proportion 0..1 (``numerator`` / ``denominator`` name the counts it rests on)
stat      a statistic over a group (median, mean, correlation); ``n`` names the group size
value     a parameter, threshold or measured value that is not a count of people or posts
time      a date or timestamp (ISO 8601 text)
person    a keyed pseudonym or a handle: never in public reports
quote     post text: investigator, and researcher where the case allows (redacted)
text      text written by forumscope (rules, explanations, notes)
========  ==================================================================================
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable

KINDS = ("label", "count", "share", "stat", "value", "time", "person", "quote", "text")
SECTION_STATUSES = ("ok", "partial", "not_run", "empty", "omitted")


@dataclass
class Column:
    name: str
    label: str
    kind: str = "value"
    numerator: str | None = None    # share: the count column it is the share of
    denominator: str | None = None  # share: the count column it is a share of
    n: str | None = None            # stat: the column holding the group size it rests on
    fmt: str | None = None          # display hint: int, pct, float, sig, days, date
    doc: str = ""

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"column {self.name}: unknown kind {self.kind!r}")

    def to_json(self) -> dict[str, Any]:
        d: dict[str, Any] = {"name": self.name, "label": self.label, "kind": self.kind}
        for key in ("numerator", "denominator", "n", "fmt", "doc"):
            v = getattr(self, key)
            if v:
                d[key] = v
        return d


@dataclass
class Cell:
    """A reference to one value: a table cell (``table`` id, ``row`` index, ``column``) or a fact."""
    table: str | None = None
    row: int | None = None
    column: str | None = None
    fact: str | None = None

    def to_json(self) -> dict[str, Any]:
        if self.fact:
            return {"fact": self.fact}
        return {"table": self.table, "row": self.row, "column": self.column}


@dataclass
class Partition:
    """Counts (``parts``) that add up to a ``total`` shown in the report: a reader could subtract,
    so suppressing one part means suppressing enough others (complementary suppression)."""
    total: Cell
    parts: list[Cell]

    def to_json(self) -> dict[str, Any]:
        return {"total": self.total.to_json(), "parts": [p.to_json() for p in self.parts]}


@dataclass
class Table:
    id: str
    title: str
    columns: list[Column]
    rows: list[dict[str, Any]]
    source: str = ""                # result or model tables it comes from
    note: str = ""
    total_rows: int | None = None   # rows before the cap (top-k); None = all shown
    partitions: list[Partition] = field(default_factory=list)

    def col(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(f"table {self.id}: no column {name}")

    def column_partition(self, column: str, total: Cell, rows: list[int] | None = None) -> None:
        """Declare that ``column`` over ``rows`` (default: all) adds up to ``total``."""
        idx = range(len(self.rows)) if rows is None else rows
        self.partitions.append(Partition(total, [Cell(self.id, i, column) for i in idx]))

    def row_partition(self, row: int, total_column: str, part_columns: list[str]) -> None:
        """Declare that in row ``row`` the ``part_columns`` add up to ``total_column``."""
        self.partitions.append(Partition(Cell(self.id, row, total_column),
                                         [Cell(self.id, row, c) for c in part_columns]))

    def to_json(self) -> dict[str, Any]:
        d: dict[str, Any] = {"id": self.id, "title": self.title, "source": self.source,
                             "columns": [c.to_json() for c in self.columns],
                             "rows": [{c.name: jsonable(r.get(c.name)) for c in self.columns} for r in self.rows]}
        if self.note:
            d["note"] = self.note
        if self.total_rows is not None:
            d["total_rows"] = self.total_rows
        if self.partitions:
            d["partitions"] = [p.to_json() for p in self.partitions]
        return d


@dataclass
class Fact:
    id: str
    label: str
    value: Any
    kind: str = "count"
    numerator: str | None = None    # share facts: fact ids
    denominator: str | None = None
    n: str | None = None
    fmt: str | None = None

    def to_json(self) -> dict[str, Any]:
        d = {"id": self.id, "label": self.label, "value": jsonable(self.value), "kind": self.kind}
        for key in ("numerator", "denominator", "n", "fmt"):
            if getattr(self, key):
                d[key] = getattr(self, key)
        return d


@dataclass
class Figure:
    id: str
    title: str
    table: str                      # id of the table holding its data
    spec: dict[str, Any]            # Vega-Lite spec without data (data: {"name": "table"})
    caption_fn: Callable[["Report"], str] | None = None
    caption: str = ""
    files: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "title": self.title, "table": self.table, "caption": self.caption,
                "spec": self.spec, "files": dict(self.files)}


@dataclass
class StepRun:
    step: str
    status: str                     # ok, not_run, failed, stale
    run_id: str | None = None
    finished_at: str | None = None
    note: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"step": self.step, "status": self.status, "run_id": self.run_id,
                "finished_at": self.finished_at, "note": self.note}


@dataclass
class Section:
    id: str
    title: str
    status: str = "ok"
    note: str = ""                  # why not run / omitted, in words
    steps: list[StepRun] = field(default_factory=list)
    intro: str = ""
    facts: list[Fact] = field(default_factory=list)
    figures: list[Figure] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    paragraphs: list[str] = field(default_factory=list)
    paragraph_fns: list[Callable[["Report"], str]] = field(default_factory=list)
    partitions: list[Partition] = field(default_factory=list)  # sums over facts
    links: list[tuple[Cell, Cell]] = field(default_factory=list)  # the same count shown in two places

    def to_json(self) -> dict[str, Any]:
        if self.status not in SECTION_STATUSES:
            raise ValueError(f"section {self.id}: bad status {self.status}")
        return {"id": self.id, "title": self.title, "status": self.status, "note": self.note,
                "intro": self.intro, "steps": [s.to_json() for s in self.steps],
                "facts": [f.to_json() for f in self.facts], "paragraphs": list(self.paragraphs),
                "figures": [f.to_json() for f in self.figures], "tables": [t.to_json() for t in self.tables],
                "partitions": [p.to_json() for p in self.partitions],
                "links": [[a.to_json(), b.to_json()] for a, b in self.links]}


@dataclass
class Report:
    audience: str
    meta: dict[str, Any]
    privacy: dict[str, Any]
    sections: list[Section] = field(default_factory=list)

    def tables(self) -> dict[str, Table]:
        return {t.id: t for s in self.sections for t in s.tables}

    def facts(self) -> dict[str, Fact]:
        return {f.id: f for s in self.sections for f in s.facts}

    def table(self, table_id: str) -> Table:
        return self.tables()[table_id]

    def fact(self, fact_id: str) -> Fact:
        return self.facts()[fact_id]

    def section(self, section_id: str) -> Section:
        for s in self.sections:
            if s.id == section_id:
                return s
        raise KeyError(section_id)

    def to_json(self) -> dict[str, Any]:
        return {"schema_version": SCHEMA_VERSION, "audience": self.audience, "meta": self.meta,
                "privacy": self.privacy, "sections": [s.to_json() for s in self.sections]}


SCHEMA_VERSION = 1


def jsonable(v: Any) -> Any:
    """A value as JSON: NaN and infinities become null, times ISO text, numpy scalars Python."""
    if v is None or isinstance(v, (bool, str, int)):
        return v
    if isinstance(v, float):
        return v if math.isfinite(v) else None
    if hasattr(v, "isoformat"):
        return v.isoformat()
    if hasattr(v, "item"):  # numpy scalar
        return jsonable(v.item())
    if isinstance(v, (list, tuple)):
        return [jsonable(x) for x in v]
    if isinstance(v, dict):
        return {str(k): jsonable(x) for k, x in v.items()}
    try:  # Decimal and other numbers
        return float(v)
    except (TypeError, ValueError):
        return str(v)
