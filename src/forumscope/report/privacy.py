"""Audience rules (SAFETY.md): who is named how, what text may be quoted, which counts are shown.

* ``investigator``: full detail; members as keyed pseudonyms unless the case sets
  ``privacy.reveal_handles``.
* ``researcher``: keyed pseudonyms; quotes only with ``privacy.allow_quotes``, with e-mail
  addresses, URLs, IP addresses and onion addresses redacted.
* ``public``: aggregates only: no handles, pseudonyms, quotes or per-person rows; every count
  below ``privacy.min_cell_size`` is shown as ``<N``, and further cells are suppressed where a
  reader could otherwise recover a small count by subtraction (:func:`suppress`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from forumscope.errors import UsageError
from forumscope.report.model import Cell, Fact, Partition, Report, Table

AUDIENCES = ("investigator", "researcher", "public")
SECONDARY = "suppressed"  # a cell hidden to protect a small count elsewhere, or a value resting on one

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_ONION = re.compile(r"\b(?:[a-z2-7]{56}|[a-z2-7]{16})\.onion\b", re.I)
_URL = re.compile(r"\b(?:(?:https?|ftp|hxxps?|javascript|data|file)://?|www\.)[^\s<>\"']+", re.I)
_IPV4 = re.compile(r"\b(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(?:25[0-5]|2[0-4]\d|1?\d?\d)\b")
_IPV6 = re.compile(r"(?<![\w:.])(?:(?:[0-9a-f]{1,4}:){7}[0-9a-f]{1,4}"
                   r"|(?:[0-9a-f]{1,4}:){1,6}:(?:[0-9a-f]{1,4}:){0,5}[0-9a-f]{0,4}"
                   r"|::(?:[0-9a-f]{1,4}:){0,6}[0-9a-f]{1,4})(?![\w:])", re.I)
_MENTION = re.compile(r"(?<![\w@])@[\w.\-]{2,}")


def redact(text: str) -> str:
    """Replace e-mail addresses, onion addresses, URLs, IP addresses and @mentions with markers."""
    text = _EMAIL.sub("[e-mail]", text)
    text = _ONION.sub("[onion address]", text)
    text = _URL.sub("[url]", text)
    text = _IPV4.sub("[ip]", text)
    text = _IPV6.sub("[ip]", text)
    return _MENTION.sub("@[member]", text)


@dataclass
class Policy:
    audience: str
    min_cell_size: int = 10
    reveal_handles: bool = False
    allow_quotes: bool = False

    def __post_init__(self) -> None:
        if self.audience not in AUDIENCES:
            raise UsageError(f"unknown audience {self.audience!r}; choose: {', '.join(AUDIENCES)}")
        if self.min_cell_size < 1:
            raise UsageError(f"privacy.min_cell_size must be at least 1, got {self.min_cell_size}")

    @classmethod
    def for_case(cls, case: Any, audience: str) -> "Policy":
        p = case.settings.get("privacy", {})
        return cls(audience, int(p.get("min_cell_size", 10)), bool(p.get("reveal_handles", False)),
                   bool(p.get("allow_quotes", False)))

    @property
    def public(self) -> bool:
        return self.audience == "public"

    @property
    def per_person(self) -> bool:
        """Rows about one member may be shown (never to the public)."""
        return not self.public

    @property
    def handles(self) -> bool:
        return self.audience == "investigator" and self.reveal_handles

    @property
    def quotes(self) -> bool:
        return self.audience == "investigator" or (self.audience == "researcher" and self.allow_quotes)

    @property
    def small(self) -> str:
        return f"<{self.min_cell_size}"

    def quote(self, text: str | None, limit: int = 400) -> str | None:
        """Post text as this audience may see it (None when it may not)."""
        if not self.quotes or text is None:
            return None
        t = " ".join(str(text).split())
        if self.audience != "investigator":
            t = redact(t)
        return t if len(t) <= limit else t[: limit - 1] + "…"

    def describe(self) -> dict[str, Any]:
        return {"audience": self.audience, "min_cell_size": self.min_cell_size,
                "members_shown_as": ("handles" if self.handles else "none" if self.public else "keyed pseudonyms"),
                "quotes": self.quotes, "quotes_redacted": self.quotes and self.audience != "investigator",
                "per_person_rows": self.per_person,
                "small_counts": (f"counts 1..{self.min_cell_size - 1} shown as '{self.small}'; cells that would "
                                 f"let a reader recover them by subtraction shown as '{SECONDARY}'")
                if self.public else "shown"}


def is_suppressed(v: Any) -> bool:
    return isinstance(v, str) and (v == SECONDARY or v.startswith("<"))


# ----------------------------------------------------------------------------- suppression

class _Cells:
    """Read and write values of the report's cells, remembering originals and how each was hidden."""

    def __init__(self, report: Report):
        self.tables = report.tables()
        self.facts = report.facts()
        self.orig: dict[tuple, Any] = {}
        self.how: dict[tuple, str] = {}  # "primary" | "secondary"

    @staticmethod
    def key(c: Cell) -> tuple:
        return ("f", c.fact) if c.fact else ("t", c.table, c.row, c.column)

    def get(self, c: Cell) -> Any:
        if c.fact:
            return self.facts[c.fact].value
        return self.tables[c.table].rows[c.row].get(c.column)

    def set(self, c: Cell, v: Any) -> None:
        if c.fact:
            self.facts[c.fact].value = v
        else:
            self.tables[c.table].rows[c.row][c.column] = v

    def original(self, c: Cell) -> Any:
        return self.orig.get(self.key(c), self.get(c))

    def hide(self, c: Cell, how: str, marker: str) -> None:
        k = self.key(c)
        if k not in self.orig:
            self.orig[k] = self.get(c)
        self.how[k] = how
        self.set(c, marker)

    def state(self, c: Cell) -> str | None:
        return self.how.get(self.key(c))


def _num(v: Any) -> float | None:
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None


def _protected(cells: _Cells, p: Partition, m: int) -> bool:
    """True when no primary-suppressed part can be narrowed beyond 1..m-1 from the total and the
    parts shown (primary parts are known to be 1..m-1, secondary parts at least m)."""
    total = _num(cells.get(p.total))
    if total is None:  # the total is hidden or empty: nothing to subtract from
        return True
    shown = 0.0
    hidden: list[tuple[str, Cell]] = []
    for c in p.parts:
        st = cells.state(c)
        if st:
            hidden.append((st, c))
        else:
            shown += _num(cells.get(c)) or 0.0
    primaries = [c for st, c in hidden if st == "primary"]
    if not primaries:
        return True
    rest = total - shown  # what the hidden parts add up to, as a reader can compute
    n_sec = sum(1 for st, _ in hidden if st == "secondary")
    n_pri = len(primaries)
    hi = rest - (n_pri - 1) * 1 - n_sec * m            # largest value one primary part can take
    lo = 1.0 if n_sec else rest - (n_pri - 1) * (m - 1)  # smallest
    return hi >= m - 1 and lo <= 1


def _protected_with(cells: _Cells, p: Partition, m: int, c: Cell) -> bool:
    """Whether hiding ``c`` as well would protect the partition (tried, then undone)."""
    k = cells.key(c)
    value = cells.get(c)
    cells.how[k] = "secondary"
    try:
        return _protected(cells, p, m)
    finally:
        del cells.how[k]
        cells.set(c, value)


def suppress(report: Report, policy: Policy) -> None:
    """Apply the public rules in place: primary suppression of counts 1..m-1, complementary
    suppression over every declared partition, then shares and statistics resting on hidden
    or small counts. Per-person and quote columns must not reach this point."""
    if not policy.public:
        return
    m = policy.min_cell_size
    cells = _Cells(report)
    for t in cells.tables.values():
        for col in t.columns:
            if col.kind in ("person", "quote"):
                raise AssertionError(f"table {t.id}: {col.kind} column {col.name} in a public report")
    # 1. primary
    for t in cells.tables.values():
        for col in t.columns:
            if col.kind != "count":
                continue
            for i, r in enumerate(t.rows):
                v = _num(r.get(col.name))
                if v is not None and 0 < v < m:
                    cells.hide(Cell(t.id, i, col.name), "primary", policy.small)
    for f in cells.facts.values():
        v = _num(f.value)
        if f.kind == "count" and v is not None and 0 < v < m:
            cells.hide(Cell(fact=f.id), "primary", policy.small)
    # 2. complementary, to a fixed point (a cell hidden for one partition may expose another)
    partitions = ([p for t in cells.tables.values() for p in t.partitions]
                  + [p for s in report.sections for p in s.partitions])
    links = [link for s in report.sections for link in s.links]
    for _ in range(50):
        changed = False
        for a, b in links:  # the same count shown twice is hidden in both places or in neither
            sa, sb = cells.state(a), cells.state(b)
            if sa and not sb:
                cells.hide(b, sa, cells.get(a))
                changed = True
            elif sb and not sa:
                cells.hide(a, sb, cells.get(b))
                changed = True
        for p in partitions:
            while not _protected(cells, p, m):
                candidates = sorted((c for c in p.parts if not cells.state(c) and (_num(cells.get(c)) or 0) > 0),
                                    key=lambda c: _num(cells.get(c)))
                if candidates:  # the smallest cell that protects the partition alone, else the largest
                    pick = next((c for c in candidates if _protected_with(cells, p, m, c)), candidates[-1])
                    cells.hide(pick, "secondary", SECONDARY)
                else:  # every part hidden and the total still gives a small count away: hide the total
                    cells.hide(p.total, "secondary", SECONDARY)
                changed = True
        if not changed:
            break
    # 3. derived values
    for t in cells.tables.values():
        _derived(t, cells, m)
    _derived_facts(cells, m)


def _small_or_hidden(cells: _Cells, c: Cell, m: int) -> bool:
    if cells.state(c):
        return True
    v = _num(cells.get(c))
    return v is not None and 0 < v < m


def _derived(t: Table, cells: _Cells, m: int) -> None:
    for col in t.columns:
        if col.kind not in ("share", "stat"):
            continue
        for i, r in enumerate(t.rows):
            if r.get(col.name) is None:
                continue
            hide = False
            if col.kind == "share":
                num = Cell(t.id, i, col.numerator) if col.numerator else None
                den = Cell(t.id, i, col.denominator) if col.denominator else None
                if num is not None and _small_or_hidden(cells, num, m):
                    hide = True
                if den is not None and _small_or_hidden(cells, den, m):
                    hide = True
                if num is None and den is not None and not hide:
                    implied = (_num(r.get(col.name)) or 0) * (_num(cells.original(den)) or 0)
                    hide = 0.5 <= implied < m - 0.5
            elif col.n:
                hide = _small_or_hidden(cells, Cell(t.id, i, col.n), m)
            if hide:
                cells.hide(Cell(t.id, i, col.name), "secondary", SECONDARY)


def _derived_facts(cells: _Cells, m: int) -> None:
    for f in cells.facts.values():
        if f.kind not in ("share", "stat") or f.value is None:
            continue
        refs = [x for x in (f.numerator, f.denominator, f.n) if x]
        if any(_small_or_hidden(cells, Cell(fact=x), m) for x in refs):
            cells.hide(Cell(fact=f.id), "secondary", SECONDARY)


def person_label(case: Any, policy: Policy, forum_id: str, user_id: str | None,
                 handles: dict[str, str] | None = None) -> str | None:
    """How a member is named for this audience: handle (investigator with reveal_handles) or pseudonym."""
    if user_id is None:
        return None
    if policy.public:
        raise AssertionError("no per-person labels in public reports")
    if policy.handles and handles is not None and handles.get(user_id):
        return handles[user_id]
    return case.pseudonym(forum_id, user_id)


__all__ = ["AUDIENCES", "Policy", "SECONDARY", "Fact", "is_suppressed", "person_label", "redact", "suppress"]
