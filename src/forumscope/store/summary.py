"""A case's summary: what ``forumscope info`` shows (plain data, no printing)."""

from __future__ import annotations

from typing import Any

from forumscope.model.schema import DATA_TABLES
from forumscope.store.case import Case


def _rows(case: Case, query: str) -> list[tuple]:
    return case.con.execute(query).fetchall()


def case_summary(case: Case) -> dict[str, Any]:
    """Tables and counts, time span, lurkers, rejects by reason, flags, evidence, ingest runs."""
    counts = {t.name: case.count(t.name) for t in DATA_TABLES}
    first, last = _rows(case, "SELECT min(created_at), max(created_at) FROM posts")[0]
    posters = _rows(case, "SELECT count(DISTINCT (forum_id, author_id)) FROM posts WHERE author_id IS NOT NULL")[0][0]
    lurkers = _rows(case, "SELECT count(*) FROM users u WHERE NOT EXISTS (SELECT 1 FROM posts p "
                          "WHERE p.forum_id = u.forum_id AND p.author_id = u.id)")[0][0]
    forums = [dict(zip(("id", "name", "platform"), r)) for r in
              _rows(case, "SELECT id, name, platform FROM forums ORDER BY id")]
    rejects = [{"reason": r[0], "table": r[1], "count": r[2]} for r in _rows(
        case, "SELECT split_part(reason, ':', 1) AS reason, table_name, count(*) FROM rejects "
              "GROUP BY ALL ORDER BY 3 DESC, 1")]
    flags = [{"flag": r[0], "table": r[1], "count": r[2]} for r in _rows(
        case, "SELECT flag, table_name, count(*) FROM flags GROUP BY ALL ORDER BY 3 DESC, 1")]
    ev = _rows(case, "SELECT count(*), count(DISTINCT sha256), coalesce(sum(size_bytes), 0) FROM evidence "
                     "WHERE status = 'ingested'")[0]
    runs = [dict(zip(("id", "started_at", "format", "status", "sources"), (r[0], str(r[1]), r[2], r[3], r[4])))
            for r in _rows(case, "SELECT id, started_at, format, status, sources FROM ingest_runs ORDER BY started_at")]
    return {
        "case": str(case.path),
        "name": case.settings["case"]["name"],
        "forums": forums,
        "counts": counts,
        "time_span": {"first_post": str(first) if first else None, "last_post": str(last) if last else None},
        "members": {"registered": counts["users"], "posting": posters, "lurkers": lurkers,
                    "lurker_share_of_registered": (lurkers / counts["users"]) if counts["users"] else None},
        "rejects": rejects,
        "flags": flags,
        "evidence": {"files": ev[0], "distinct_sha256": ev[1], "bytes": int(ev[2])},
        "ingest_runs": runs,
    }
