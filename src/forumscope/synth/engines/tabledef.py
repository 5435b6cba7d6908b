"""Table definitions for the ``synth --as`` writers of vBulletin, XenForo and Discourse.

A :class:`TableDef` lists a source table's columns in install order, each with its column definition
as the database prints it (``SHOW CREATE TABLE`` / ``pg_dump``) and the value a new row gets when the
writer does not set it, so that every row written has a value for every column (``mysqldump`` writes
``INSERT INTO t VALUES (...)`` without a column list) and the ``CREATE TABLE`` matches the rows.

The column lists are written from the engines' install schemas (see docs/engines/<engine>.md for the
sources); the DDL text is ours.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass
class TableDef:
    """One source table: ``columns`` are ``(name, definition, default)`` in install order; ``keys`` are
    the index lines (MySQL: ``PRIMARY KEY (`id`)``; PostgreSQL: the primary-key column list)."""

    name: str
    columns: Sequence[tuple[str, str, Any]]
    keys: Sequence[str] = ()
    options: str = "ENGINE=InnoDB DEFAULT CHARSET=utf8mb4"
    serial: str | None = None  # PostgreSQL: the column fed by a sequence (pg_dump writes it separately)
    _index: dict[str, int] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        self._index = {c[0]: i for i, c in enumerate(self.columns)}
        if len(self._index) != len(self.columns):
            raise ValueError(f"table {self.name}: duplicate column")

    @property
    def column_names(self) -> list[str]:
        return [c[0] for c in self.columns]

    def row(self, values: dict[str, Any]) -> tuple[Any, ...]:
        """A full row in column order: ``values`` where given, the column's default elsewhere."""
        unknown = set(values) - set(self._index)
        if unknown:
            raise KeyError(f"table {self.name}: unknown columns {sorted(unknown)}")
        return tuple(values[c[0]] if c[0] in values else c[2] for c in self.columns)

    def rows(self, records: Iterable[dict[str, Any]]) -> Iterable[tuple[Any, ...]]:
        for r in records:
            yield self.row(r)

    # ------------------------------------------------------------------ DDL
    def mysql_ddl(self, full_name: str) -> str:
        """``CREATE TABLE `full_name` (...)`` as MariaDB's ``SHOW CREATE TABLE`` prints it."""
        lines = [f"  `{c[0]}` {c[1]}" for c in self.columns] + [f"  {k}" for k in self.keys]
        return f"CREATE TABLE `{full_name}` (\n" + ",\n".join(lines) + f"\n) {self.options}"

    def pg_ddl(self, full_name: str) -> str:
        """``CREATE TABLE schema.table (...)`` as ``pg_dump`` prints it (constraints come later)."""
        lines = [f"    {_pg_col(c[0])} {c[1]}" for c in self.columns]
        return f"CREATE TABLE {full_name} (\n" + ",\n".join(lines) + "\n)"


_PG_RESERVED = {"position", "user", "order", "group", "value", "key", "offset", "limit", "default", "number"}


def _pg_col(name: str) -> str:
    return f'"{name}"' if name in _PG_RESERVED else name


def php_serialize(value: Any) -> str:
    """PHP ``serialize()`` of ints, strings, bools, None and (nested) dicts/lists, as vBulletin and
    XenForo 1 store arrays. String lengths are UTF-8 byte counts, as PHP counts them."""
    if value is None:
        return "N;"
    if isinstance(value, bool):
        return f"b:{int(value)};"
    if isinstance(value, int):
        return f"i:{value};"
    if isinstance(value, float):
        return f"d:{value!r};"
    if isinstance(value, str):
        return f's:{len(value.encode("utf-8"))}:"{value}";'
    if isinstance(value, (list, tuple)):
        value = dict(enumerate(value))
    if isinstance(value, dict):
        body = "".join(php_serialize(k) + php_serialize(v) for k, v in value.items())
        return f"a:{len(value)}:{{{body}}}"
    raise TypeError(f"cannot serialize {type(value).__name__}")
