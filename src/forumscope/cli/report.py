"""CLI commands of the report area: ``forumscope report`` and ``forumscope run`` (registered by :func:`register`).

Only the CLI talks to the person; the library (forumscope.report) returns data.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any, List, Optional

import typer
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from forumscope.cli.console import err, out
from forumscope.errors import UsageError

AUDIENCE_HELP = "Who the report is for: investigator, researcher or public (SAFETY.md; see docs/report.md)."
FORMATS_HELP = "What to write, comma-separated: html, json, charts (default: all three)."


def _formats(text: str) -> list[str]:
    from forumscope.report.render import FORMATS

    items = [x.strip() for x in text.split(",") if x.strip()]
    bad = [x for x in items if x not in FORMATS]
    if bad or not items:
        raise UsageError(f"--formats {text!r}: choose from {', '.join(FORMATS)}")
    return items


def _audience(text: str) -> str:
    from forumscope.report.privacy import AUDIENCES

    if text not in AUDIENCES:
        raise UsageError(f"--audience {text!r}: choose one of {', '.join(AUDIENCES)}")
    return text


def make_report(case: Any, audience: str, out_dir: Path, forum_id: str | None, formats: list[str]):
    """Build and write one report from an open case; returns (report, written, seconds)."""
    from forumscope.report import build_report, write_report
    from forumscope.report.render import prefetch

    t0 = time.perf_counter()
    if "html" in formats:
        prefetch()  # the Vega bundle builds in the background while the queries run
    report = build_report(case, audience, forum_id)
    written = write_report(report, out_dir, formats)
    return report, written, time.perf_counter() - t0


def print_written(report: Any, written: Any, seconds: float) -> None:
    not_run = [s.id for s in report.sections if s.status == "not_run"]
    out.print(f"{report.audience} report of forum {escape(str(report.meta['forum']['id']))} in {seconds:.1f}s:")
    if written.html:
        out.print(f"  {escape(str(written.html))} ({written.html_bytes / 2**20:.1f} MB, opens offline in a browser)")
    if written.json:
        out.print(f"  {escape(str(written.json))} (every figure and table; docs/report-schema.md)")
    if written.charts:
        out.print(f"  {escape(str(written.out_dir / 'charts'))}/ ({len(written.charts) // 2} charts as SVG and PNG)")
    if not_run:
        out.print(f"  sections not run: {', '.join(not_run)} (run `forumscope analyze` to fill them)")


def _run_analyses(case: Any, steps: Optional[str], param: list[str], forum_id: Optional[str]) -> list[Any]:
    from forumscope.pipeline.registry import all_steps, get_step
    from forumscope.pipeline.runner import run_steps
    from forumscope.pipeline.step import parse_param

    names = [n.strip() for n in steps.split(",") if n.strip()] if steps else all_steps()
    for n in names:
        get_step(n)
    params: dict[str, dict] = {}
    for item in param:
        key, sep, value = item.partition("=")
        step_name, dot, pname = key.partition(".")
        if not sep or not dot:
            raise UsageError(f"--param {item!r}: expected STEP.NAME=VALUE")
        params.setdefault(step_name, {})[pname] = parse_param(get_step(step_name), pname, value)
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), TimeElapsedColumn(), console=err,
                  transient=True, disable=not err.is_terminal) as bar:
        task = bar.add_task("analyze", total=None)
        return run_steps(case, names, params, forum_id=forum_id,
                         progress=lambda msg, frac: bar.update(task, description=escape(msg)))


def needs_ingest(case_dir: Path, sources: list[Path]) -> tuple[bool, str]:
    """Whether ``sources`` must be ingested: no case yet, a source no earlier ingest read, or a file an earlier
    ingest read has changed (SHA-256). Files added to a source folder later are not detected: use --reingest."""
    import json

    from forumscope.ingest.loader import sha256_file
    from forumscope.ingest.run import _display
    from forumscope.store.case import is_case, open_case

    if not is_case(case_dir):
        return True, "new case"
    with open_case(case_dir, read_only=True) as c:
        done: set[str] = set()
        for (src,) in c.con.execute("SELECT sources FROM ingest_runs WHERE status = 'ok'").fetchall():
            try:
                done.update(json.loads(src or "[]"))
            except ValueError:
                continue
        evidence = c.con.execute("SELECT path, sha256 FROM evidence WHERE member IS NULL").fetchall()
    for s in sources:
        if _display(s) not in done:
            return True, f"{s} was not ingested into this case"
        prefix = _display(s)
        for path, sha in evidence:
            if path == prefix or path.startswith(prefix.rstrip("/") + "/"):
                p = Path(path)
                if not p.is_absolute():
                    p = Path.cwd() / p
                if not p.exists() or sha256_file(p)[0] != sha:
                    return True, f"{path} changed since it was ingested"
    return False, "every source was ingested before and is unchanged"


def register(app: typer.Typer) -> None:
    """Add this area's commands to the main app."""

    @app.command("report")
    def report_cmd(
        case: Path = typer.Option(..., "--case", help="Case folder (analysed with `forumscope analyze`)."),
        audience: str = typer.Option(..., "--audience", help=AUDIENCE_HELP),
        out_dir: Path = typer.Option(..., "--out", help="Folder for report.html, report.json and charts/."),
        forum_id: Optional[str] = typer.Option(None, "--forum-id", help="Forum to report on (default: the only "
                                                                         "one, or the largest)."),
        formats: str = typer.Option("html,json,charts", "--formats", help=FORMATS_HELP),
    ) -> None:
        """The operating-model report of an analysed case, for one audience: report.html, report.json, charts/."""
        from forumscope.store.case import open_case

        aud, fmts = _audience(audience), _formats(formats)
        with open_case(case, read_only=True) as c:
            report, written, seconds = make_report(c, aud, out_dir, forum_id, fmts)
            c.audit("report", sys.argv[1:], "ok", audience=aud, out=str(out_dir))
        print_written(report, written, seconds)

    @app.command("run")
    def run_cmd(
        sources: List[Path] = typer.Argument(..., help="Files, folders or archives to ingest (as for `ingest`)."),
        case: Path = typer.Option(..., "--case", help="Case folder (created when missing)."),
        out_dir: Path = typer.Option(..., "--out", help="Folder for the report."),
        audience: str = typer.Option("public", "--audience", help=AUDIENCE_HELP + " Default: public (the least "
                                                                                  "revealing)."),
        fmt: str = typer.Option("auto", "--format", help="Source format: auto, canonical, stackexchange, convokit, "
                                                         "irc, ..."),
        forum_id: Optional[str] = typer.Option(None, "--forum-id", help="Forum id to ingest as and report on."),
        steps: Optional[str] = typer.Option(None, "--steps", help="Comma-separated analysis steps (default: all)."),
        param: List[str] = typer.Option([], "--param", help="A step parameter, STEP.NAME=VALUE (repeatable)."),
        reingest: bool = typer.Option(False, "--reingest", help="Ingest even when the sources are unchanged."),
        formats: str = typer.Option("html,json,charts", "--formats", help=FORMATS_HELP),
    ) -> None:
        """One command: ingest (when needed), every analysis step, and the report."""
        from forumscope.errors import ForumscopeError
        from forumscope.ingest.base import ReadOptions
        from forumscope.ingest.run import ingest as run_ingest
        from forumscope.store.case import open_case

        aud, fmts = _audience(audience), _formats(formats)
        t0 = time.perf_counter()
        needed, why = (True, "--reingest") if reingest else needs_ingest(case, list(sources))
        if needed:
            out.print(f"1/3 ingest ({escape(why)}) ...")
            res = run_ingest(list(sources), case, fmt, options=ReadOptions(forum_id=forum_id), argv=sys.argv[1:])
            out.print(f"    {sum(c.read for c in res.counts.values()):,} records read, {res.rejected:,} rejected, "
                      f"reconciled: {'yes' if res.balanced else 'NO'} ({res.seconds:.1f}s)")
        else:
            out.print(f"1/3 ingest skipped: {escape(why)}")
        with open_case(case) as c:
            out.print("2/3 analyses ...")
            t1 = time.perf_counter()
            try:
                records = _run_analyses(c, steps, param, forum_id)
            except ForumscopeError:
                c.audit("run", sys.argv[1:], "failed")
                raise
            out.print(f"    {len(records)} steps in {time.perf_counter() - t1:.1f}s: "
                      + ", ".join(f"{r.step} {r.seconds:.1f}s" for r in records))
            out.print("3/3 report ...")
            report, written, seconds = make_report(c, aud, out_dir, forum_id, fmts)
            c.audit("run", sys.argv[1:], "ok", audience=aud, out=str(out_dir), runs=[r.run_id for r in records])
        print_written(report, written, seconds)
        out.print(f"done in {time.perf_counter() - t0:.1f}s")
