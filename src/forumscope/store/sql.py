"""Small SQL text helpers shared by the analyses, the discourse step and the engine mappings."""

from __future__ import annotations


def sql_str(value: object) -> str:
    """A SQL (DuckDB) string literal of ``value``: quotes doubled. For values spliced into a query where a
    parameter cannot go (a view, a CREATE ... AS); prefer ``?`` parameters elsewhere."""
    return "'" + str(value).replace("'", "''") + "'"


def main_language_sql(where: str) -> str:
    """SQL: ``forum_id, author_id, language`` with each author's most frequent post language over the
    posts that satisfy ``where`` (its ``?`` parameters are the caller's), a tie to the first language in
    alphabetical order. DuckDB's ``mode()`` breaks a tie by the order rows arrive in, which differs
    between runs."""
    return ("SELECT forum_id, author_id, first(language ORDER BY n DESC, language) AS language FROM "
            "(SELECT forum_id, author_id, language, count(*) AS n FROM posts "
            f"WHERE ({where}) AND language IS NOT NULL GROUP BY forum_id, author_id, language) "
            "GROUP BY forum_id, author_id")
