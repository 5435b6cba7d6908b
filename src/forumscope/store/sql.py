"""Small SQL text helpers shared by the analyses, the discourse step and the engine mappings."""

from __future__ import annotations


def sql_str(value: object) -> str:
    """A SQL (DuckDB) string literal of ``value``: quotes doubled. For values spliced into a query where a
    parameter cannot go (a view, a CREATE ... AS); prefer ``?`` parameters elsewhere."""
    return "'" + str(value).replace("'", "''") + "'"
