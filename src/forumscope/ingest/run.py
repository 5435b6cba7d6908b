"""``ingest``: sources into a case, with evidence, rejects and reconciliation."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import sys
import tempfile
import uuid
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Sequence

import duckdb

from forumscope import __version__
from forumscope.errors import ForumscopeError, InputError
from forumscope.ingest import archive
from forumscope.ingest.base import ReadOptions
from forumscope.ingest.loader import Loader, TableCount, sha256_file
from forumscope.ingest.registry import detect, get_reader
from forumscope.model.schema import TABLES
from forumscope.store.case import Case, connect, create_case, ensure_schema, is_case, open_case, utcnow
from forumscope.store.settings import DEFAULTS


@dataclass
class IngestResult:
    run_id: str
    formats: list[str]
    counts: dict[str, TableCount]
    skipped: dict[str, int]
    flags: dict[str, int]
    notices: list[str]
    evidence: list[dict[str, Any]]
    dry_run: bool
    seconds: float
    refused: list[tuple[str, str]] = field(default_factory=list)

    @property
    def reconciliation(self) -> dict[str, dict[str, int]]:
        return {t: vars(c).copy() for t, c in self.counts.items()}

    @property
    def balanced(self) -> bool:
        return all(c.balanced() for c in self.counts.values())

    @property
    def rejected(self) -> int:
        return sum(c.rejected for c in self.counts.values())


def _display(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path.resolve())


def ingest(sources: Sequence[str | Path], case: str | Path | Case, fmt: str = "auto", *, dry_run: bool = False,
           options: ReadOptions | None = None, progress: Callable[[int], None] | None = None,
           argv: list[str] | None = None) -> IngestResult:
    """Read ``sources`` into ``case`` (created when missing, unless ``dry_run``).

    Every record read is stored, merged into a stored record, counted unchanged, or listed in
    ``rejects``; the per-table reconciliation is returned and kept in the case. With
    ``dry_run=True`` everything is validated and reconciled and nothing is written.
    """
    started = dt.datetime.now()
    options = options or ReadOptions()
    from forumscope.ingest.sqldump import is_db_url, mask_url  # live forum databases (docs/engines/README.md)

    urls = [str(s) for s in sources if is_db_url(str(s))]
    paths = [Path(s) for s in sources if not is_db_url(str(s))]
    for p in paths:
        if not p.exists():
            raise InputError("no such file or folder", path=str(p))
    if fmt != "auto":
        get_reader(fmt)  # unknown names fail before anything is created

    own_case = not isinstance(case, Case)
    the_case: Case | None = None
    if dry_run:
        case_path = case.path if isinstance(case, Case) else Path(case)
        settings = case.settings if isinstance(case, Case) else (
            open_case(case_path).settings if is_case(case_path) else DEFAULTS)
        con = connect(":memory:", memory_limit=settings["duckdb"]["memory_limit"],
                      threads=settings["duckdb"]["threads"], temp_dir=None)
        ensure_schema(con)
        if is_case(case_path):
            _copy_case_into(con, case_path / "case.duckdb")
        work_root = Path(tempfile.mkdtemp(prefix="forumscope-dry-"))
    else:
        the_case = case if isinstance(case, Case) else create_case(case)
        settings = the_case.settings
        con = the_case.con
        work_root = the_case.tmp_dir / f"ingest-{uuid.uuid4().hex[:8]}"
        work_root.mkdir(parents=True, exist_ok=True)

    run_id = "ing-" + utcnow().strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:6]
    loader = Loader(con, run_id, settings, default_forum_id=options.forum_id, progress=progress)
    formats: list[str] = []
    refused: list[tuple[str, str]] = []
    if not dry_run:
        con.execute("INSERT INTO ingest_runs (id, started_at, format, sources, forum_id, status, forumscope_version) "
                    "VALUES (?, ?, ?, ?, ?, 'running', ?)",
                    [run_id, utcnow(), fmt, json.dumps([_display(p) for p in paths] + [mask_url(u) for u in urls]),
                     options.forum_id, __version__])
    try:
        for url in urls:
            reader = get_reader("sqldump" if fmt == "auto" else fmt)
            if not hasattr(reader, "read_url"):
                raise InputError(f"format {fmt} cannot read a database URL", path=mask_url(url))
            formats.append(reader.name)
            reader.read_url(url, loader, options)
        for p in paths:
            target, opts = p, options
            if archive.is_archive(p):
                sha, size = sha256_file(p)
                loader.evidence(p, display=_display(p), sha256=sha, size=size)
                limits = settings["ingest"]
                ex = archive.extract(p, work_root / f"a{len(formats)}-{uuid.uuid4().hex[:6]}",
                                     max_bytes=int(limits["max_archive_bytes"]),
                                     max_members=int(limits["max_archive_members"]))
                for _ in range(ex.media_skipped):
                    loader.skipped(_display(p), "media member (never written)")
                for name, why in ex.refused:
                    loader.skipped(_display(p), f"unsafe archive member refused: {why}")
                    refused.append((f"{_display(p)}!{name}", why))
                    loader.notice(f"{_display(p)}!{name}: refused ({why}), not written")
                opts = replace(options, labels={**options.labels, ex.root.resolve(): _display(p)})
                for name, mpath, msha, msize in ex.members:
                    loader.evidence(mpath, display=opts.label(mpath.resolve()), member=name, sha256=msha, size=msize)
                target = ex.root.resolve()
                entries = list(target.iterdir())
                if len(entries) == 1 and entries[0].is_dir():  # archives usually wrap one folder
                    target = entries[0]
            try:
                reader = detect(target) if fmt == "auto" else get_reader(fmt)
            except InputError as exc:
                raise InputError(exc.message, path=_display(p)) from None
            formats.append(reader.name)
            reader.read(target, loader, opts)
        con.execute("BEGIN TRANSACTION")
        try:
            result = loader.finish()
            seconds = (dt.datetime.now() - started).total_seconds()
            if not dry_run:
                con.execute("UPDATE ingest_runs SET finished_at = ?, status = 'ok', format = ? WHERE id = ?",
                            [utcnow(), "+".join(dict.fromkeys(formats)) or fmt, run_id])
                con.execute("COMMIT")
            else:
                con.execute("ROLLBACK")
        except BaseException:
            con.execute("ROLLBACK")
            raise
    except (ForumscopeError, duckdb.Error, OSError) as exc:
        if not dry_run:
            msg = exc.one_line() if isinstance(exc, ForumscopeError) else str(exc)
            con.execute("UPDATE ingest_runs SET finished_at = ?, status = 'failed', message = ? WHERE id = ?",
                        [utcnow(), msg[:2000], run_id])
            assert the_case is not None
            the_case.audit("ingest", argv if argv is not None else list(sys.argv), "failed", error=msg[:500])
        raise
    finally:
        shutil.rmtree(work_root, ignore_errors=True)
        if dry_run:
            con.close()

    if not dry_run:
        assert the_case is not None
        the_case.append_evidence(result.evidence)
        the_case.audit("ingest", argv if argv is not None else list(sys.argv), "ok", ingest_run_id=run_id,
                       sources=[_display(p) for p in paths] + [mask_url(u) for u in urls])
        if own_case:
            the_case.close()
    return IngestResult(run_id=run_id, formats=formats, counts=result.counts, skipped=dict(result.skipped),
                        flags=dict(result.flags), notices=result.notices, evidence=result.evidence,
                        dry_run=dry_run, seconds=seconds, refused=refused)


def _copy_case_into(con: duckdb.DuckDBPyConnection, db: Path) -> None:
    """For a dry run: the stored rows, read-only, so de-duplication sees them."""
    con.execute(f"ATTACH '{str(db).replace(chr(39), chr(39) * 2)}' AS stored (READ_ONLY)")
    for name in TABLES:
        con.execute(f'INSERT INTO main."{name}" BY NAME SELECT * FROM stored."{name}"')
    con.execute("DETACH stored")
