"""What every section builder gets: the case, the forum, the audience, and small query helpers."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Sequence

from forumscope.report.model import Column, Section, StepRun, Table
from forumscope.report.privacy import Policy, person_label

TOP_PEOPLE = 25  # per-person tables are capped (top-k) in the report


@dataclass
class Ctx:
    case: Any
    policy: Policy
    forum_id: str
    forum_name: str
    _tables: set[str] = field(default_factory=set)
    _handles: dict[str, str] | None = None
    _runs: dict[str, StepRun] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._tables = set(self.case.tables())

    @property
    def con(self):
        return self.case.con

    def has(self, table: str) -> bool:
        return table in self._tables

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        cur = self.con.execute(sql, list(params))
        names = [d[0] for d in cur.description]
        return [dict(zip(names, r)) for r in cur.fetchall()]

    def one(self, sql: str, params: Sequence[Any] = ()) -> dict[str, Any]:
        rows = self.rows(sql, params)
        return rows[0] if rows else {}

    def value(self, sql: str, params: Sequence[Any] = ()) -> Any:
        r = self.con.execute(sql, list(params)).fetchall()
        return r[0][0] if r else None

    def months(self) -> list[dict[str, Any]]:
        """Posts and posting members per month (computed once; the overview and the time section share it)."""
        if not hasattr(self, "_months"):
            rows = self.rows("""SELECT year(created_at) * 100 + month(created_at) AS ym, count(*) AS posts,
                                       count(DISTINCT author_id) AS posters
                                FROM posts WHERE forum_id = ? AND created_at IS NOT NULL GROUP BY 1 ORDER BY 1""",
                             [self.forum_id])
            self._months = [{"month": f"{r['ym'] // 100:04d}-{r['ym'] % 100:02d}", "posts": r["posts"],
                             "posters": r["posters"]} for r in rows]
        return [dict(r) for r in self._months]

    # ------------------------------------------------------------------ runs
    def run(self, step: str) -> StepRun:
        """The latest successful run of ``step`` that covers this forum (or its absence)."""
        if step in self._runs:
            return self._runs[step]
        rows = self.rows("SELECT id, status, started_at, finished_at, parameters, message FROM runs "
                         "WHERE step = ? ORDER BY finished_at DESC NULLS LAST", [step])
        found: StepRun | None = None
        failed = None
        for r in rows:
            try:
                fid = json.loads(r["parameters"] or "{}").get("forum_id")
            except ValueError:
                fid = None
            if fid not in (None, self.forum_id):
                continue
            if r["status"] != "ok":
                failed = failed or r
                continue
            found = StepRun(step, "ok", r["id"], str(r["finished_at"])[:19] if r["finished_at"] else None)
            if self.last_ingest is not None and r["started_at"] is not None and r["started_at"] < self.last_ingest:
                found.status = "stale"
                found.note = "the case's data changed after this run; rerun `forumscope analyze` to update it"
            break
        if found is None:
            if failed is not None:
                found = StepRun(step, "failed", failed["id"], None,
                                f"the last run failed: {str(failed['message'] or '')[:200]}")
            else:
                found = StepRun(step, "not_run", None, None, "not run on this case")
        self._runs[step] = found
        return found

    @property
    def last_ingest(self):
        """When the case's data last changed (the end of the last successful ingest)."""
        if not hasattr(self, "_last_ingest"):
            self._last_ingest = self.value("SELECT max(finished_at) FROM ingest_runs WHERE status = 'ok'")
        return self._last_ingest

    def ran(self, step: str) -> bool:
        return self.run(step).status in ("ok", "stale")

    def text(self, value: Any) -> Any:
        """Forum text used as a label (board, rank, group names, thread titles, event details): verbatim for the
        investigator, with e-mail addresses, URLs, IP and onion addresses redacted for everyone else."""
        if value is None or self.policy.audience == "investigator":
            return value
        from forumscope.report.privacy import redact

        return redact(str(value))

    # ------------------------------------------------------------------ people
    def person(self, user_id: str | None) -> str | None:
        if self.policy.handles and self._handles is None:
            self._handles = {r[0]: r[1] for r in self.con.execute(
                "SELECT id, name FROM users WHERE forum_id = ?", [self.forum_id]).fetchall() if r[1]}
        return person_label(self.case, self.policy, self.forum_id, user_id, self._handles)

    @property
    def person_title(self) -> str:
        return "member (handle)" if self.policy.handles else "member (pseudonym)"


def not_run_section(sid: str, title: str, runs: list[StepRun], intro: str = "") -> Section:
    steps = ",".join(r.step for r in runs)
    failed = [r for r in runs if r.status == "failed"]
    note = (f"This analysis has not been run on this case, so nothing is shown here. Run "
            f"`forumscope analyze --case CASE --steps {steps}` and make the report again.")
    if failed:
        note = (f"The last run of {', '.join(r.step for r in failed)} failed ({failed[0].note}); nothing is "
                f"shown here. Fix the cause and run `forumscope analyze --case CASE --steps {steps}`.")
    return Section(sid, title, status="not_run", note=note, steps=runs, intro=intro)


def step_status(runs: list[StepRun]) -> str:
    ok = [r for r in runs if r.status in ("ok", "stale")]
    if not ok:
        return "not_run"
    return "ok" if len(ok) == len(runs) else "partial"


def make_table(tid: str, title: str, columns: list[Column], rows: list[dict[str, Any]], source: str = "",
               note: str = "", cap: int | None = None) -> Table:
    total = len(rows)
    if cap is not None and total > cap:
        rows = rows[:cap]
        note = (note + " " if note else "") + f"The first {cap:,} of {total:,} rows are shown."
        return Table(tid, title, columns, rows, source, note, total_rows=total)
    return Table(tid, title, columns, rows, source, note)


def C(name: str, label: str, kind: str = "value", **kw: Any) -> Column:
    return Column(name, label, kind, **kw)
