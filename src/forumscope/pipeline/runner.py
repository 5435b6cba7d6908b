"""Run steps against a case: result tables keyed by run id, one `runs` row per step run."""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from importlib import metadata
from typing import Any, Callable, Sequence

import pyarrow as pa

from forumscope import __version__
from forumscope.errors import ForumscopeError
from forumscope.pipeline.registry import all_steps, get_step
from forumscope.pipeline.step import Step, StepContext
from forumscope.store.case import Case, utcnow

VERSIONED = ("duckdb", "pyarrow", "numpy", "pandas", "python-igraph", "igraph", "leidenalg", "lifelines",
             "scikit-learn", "scipy")


@dataclass
class RunRecord:
    run_id: str
    step: str
    status: str
    seconds: float
    rows: dict[str, int]
    message: str = ""


def versions() -> dict[str, str]:
    out = {"forumscope": __version__}
    for name in VERSIONED:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


def input_fingerprint(case: Case, tables: Sequence[str]) -> str:
    """Hash of the inputs' row counts and the evidence hashes: equal fingerprints, same inputs."""
    parts: dict[str, Any] = {t: case.con.execute(f'SELECT count(*) FROM "{t}"').fetchall()[0][0] for t in tables}
    parts["evidence"] = [r[0] for r in case.con.execute(
        "SELECT DISTINCT sha256 FROM evidence ORDER BY 1").fetchall()]
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _as_arrow(value: Any) -> pa.Table:
    if isinstance(value, pa.Table):
        return value
    if hasattr(value, "to_arrow_table"):  # a DuckDB relation
        return value.to_arrow_table()
    try:
        import pandas as pd

        if isinstance(value, pd.DataFrame):
            return pa.Table.from_pandas(value, preserve_index=False)
    except ImportError:  # pragma: no cover
        pass
    raise TypeError(f"a step returned {type(value).__name__}; expected a pyarrow Table or pandas DataFrame")


def write_result(case: Case, table: str, run_id: str, data: pa.Table) -> int:
    con = case.con
    con.register("_result", data)
    # the run id is added in SQL (a constant column: no Arrow array of as many copies as rows)
    rows = "SELECT ?::VARCHAR AS run_id, * FROM _result"
    try:
        exists = con.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = ?",
                             [table]).fetchall()[0][0]
        if not exists:
            con.execute(f'CREATE TABLE "{table}" AS {rows} LIMIT 0', [run_id])
        else:  # a newer version of the step may add columns: add them (older runs read as empty)
            have = {r[0] for r in con.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_name = ?", [table]).fetchall()}
            types = dict(con.execute("SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM _result)"
                                     ).fetchall())
            for col in data.column_names:
                if col not in have:
                    con.execute(f'ALTER TABLE "{table}" ADD COLUMN "{col}" {types[col]}')
        con.execute(f'INSERT INTO "{table}" BY NAME {rows}', [run_id])
    finally:
        con.unregister("_result")
    return data.num_rows


def run_step(case: Case, step: Step, *, forum_id: str | None = None,
             progress: Callable[[str, float], None] | None = None) -> RunRecord:
    """Run one configured step; its results and its `runs` row are written in one transaction."""
    import time

    run_id = f"{step.name}-{utcnow().strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:6]}"
    started = utcnow()
    t0 = time.perf_counter()
    params = json.dumps({**step.get_params(), "forum_id": forum_id}, default=list, sort_keys=True)
    fingerprint = input_fingerprint(case, step.inputs)
    ctx = StepContext(case, forum_id=forum_id, progress=progress)
    try:
        results = dict(step.compute(ctx))
        unknown = set(results) - set(step.outputs)
        if unknown:
            raise ForumscopeError(f"step {step.name} returned undeclared tables: {sorted(unknown)}")
        rows = {}
        case.con.execute("BEGIN TRANSACTION")
        try:
            for table, value in results.items():
                rows[table] = write_result(case, table, run_id, _as_arrow(value))
            case.con.execute(
                "INSERT INTO runs VALUES (?, ?, ?, ?, 'ok', ?, ?, ?, NULL)",
                [run_id, step.name, started, utcnow(), params, json.dumps(versions()), fingerprint])
            case.con.execute("COMMIT")
        except BaseException:
            try:
                case.con.execute("ROLLBACK")
            except Exception:  # noqa: BLE001 - never hide the original error behind the clean-up's
                pass
            raise
    except Exception as exc:
        msg = exc.one_line() if isinstance(exc, ForumscopeError) else f"{type(exc).__name__}: {exc}"
        try:
            case.con.execute("INSERT INTO runs VALUES (?, ?, ?, ?, 'failed', ?, ?, ?, ?)",
                             [run_id, step.name, started, utcnow(), params, json.dumps(versions()), fingerprint,
                              msg[:2000]])
        except Exception:  # noqa: BLE001 - the original error is the one to report
            pass
        raise
    return RunRecord(run_id, step.name, "ok", time.perf_counter() - t0, rows)


def run_steps(case: Case, names: Sequence[str] | None = None, params: dict[str, dict[str, Any]] | None = None,
              *, forum_id: str | None = None,
              progress: Callable[[str, float], None] | None = None) -> list[RunRecord]:
    """Run the named steps (default: all) in registry order, each with its parameters."""
    params = params or {}
    wanted = list(names) if names else all_steps()
    for name in list(params):
        get_step(name)  # unknown step names fail before anything runs
    order = [n for n in all_steps() if n in wanted] + [n for n in wanted if n not in all_steps()]
    steps = [get_step(n)(**params.get(n, {})) for n in order]  # parameters validated before anything runs
    return [run_step(case, s, forum_id=forum_id, progress=progress) for s in steps]


def latest_run_id(case: Case, step: str) -> str | None:
    rows = case.con.execute("SELECT id FROM runs WHERE step = ? AND status = 'ok' ORDER BY finished_at DESC "
                            "LIMIT 1", [step]).fetchall()
    return rows[0][0] if rows else None
