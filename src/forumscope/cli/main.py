"""The command line: thin commands over the library. Only this module talks to the person.

Exit codes (docs/cli.md):
  0  success (rejected records are listed, not failures)
  1  internal error (a bug: please report it)
  2  usage error (bad option, unknown format, invalid setting)
  3  input unusable as a whole (unknown format, refused archive, hostile file)
  4  case error (not a case, missing key, database locked)
  130 interrupted
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import List, Optional

import typer
from rich.markup import escape
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from forumscope import __version__
from forumscope.errors import ForumscopeError, UsageError

app = typer.Typer(add_completion=False, no_args_is_help=True, rich_markup_mode=None, pretty_exceptions_enable=False,
                  help="forumscope: measure the operating model of an online forum community from its data.")
from forumscope.cli.console import err, out  # noqa: E402 - shared with the area modules


def _version(value: bool) -> None:
    if value:
        out.print(f"forumscope {__version__}")
        raise typer.Exit()


@app.callback()
def _root(version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                       help="Show the version and exit.")) -> None:
    """forumscope: text and metadata only; nothing is fetched from the network."""


def _source_bytes(paths: list[Path]) -> int:
    total = 0
    for p in paths:
        if p.is_file():
            total += p.stat().st_size
        elif p.is_dir():
            total += sum(f.stat().st_size for f in p.rglob("*") if f.is_file())
    return total


@app.command()
def ingest(
    sources: List[str] = typer.Argument(..., help="Files, folders, archives (.zip, .tar, .tar.gz), forum-engine "
                                        "SQL dumps (.sql, .sql.gz, .sql.zst) or a database URL (mysql://, postgresql://)."),
    case: Path = typer.Option(..., "--case", help="Case folder (created when missing)."),
    fmt: str = typer.Option("auto", "--format", help="Source format: auto, canonical, stackexchange, convokit, irc, "
                            "sqldump (any forum engine), phpbb, smf, mybb, vbulletin, xenforo, discourse."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Validate and reconcile; write nothing."),
    forum_id: Optional[str] = typer.Option(None, "--forum-id", help="Forum id to use (default: from the source)."),
    channel: Optional[str] = typer.Option(None, "--channel", help="IRC: channel name for the board."),
    table_prefix: Optional[str] = typer.Option(None, "--table-prefix", help="SQL dumps: table prefix (phpbb_, smf_, "
                                               "mybb_, xf_, ...; default: detected)."),
    as_json: bool = typer.Option(False, "--json", help="Print the reconciliation as JSON."),
) -> None:
    """Read forum data into a case, with evidence hashes, rejects and a reconciliation per table."""
    from forumscope.ingest.base import ReadOptions
    from forumscope.ingest.run import ingest as run_ingest
    from forumscope.ingest.sqldump import is_db_url, mask_url

    extra: dict = {"channel": channel} if channel else {}
    if table_prefix is not None:
        extra["table_prefix"] = table_prefix
    opts = ReadOptions(forum_id=forum_id, extra=extra)
    total = _source_bytes([Path(s) for s in sources if not is_db_url(s)])
    argv = [mask_url(a) if is_db_url(a) else a for a in sys.argv[1:]]  # never a password in the audit log
    with Progress(TextColumn("[bold]ingest"), BarColumn(), DownloadColumn(), TimeElapsedColumn(),
                  console=err, transient=True, disable=as_json or not err.is_terminal) as bar:
        task = bar.add_task("ingest", total=total or None)
        result = run_ingest(sources, case, fmt, dry_run=dry_run, options=opts,
                            progress=lambda n: bar.advance(task, n), argv=argv)
    if as_json:
        out.print_json(json.dumps({"run_id": result.run_id, "dry_run": result.dry_run, "formats": result.formats,
                                   "reconciliation": result.reconciliation, "skipped": result.skipped,
                                   "flags": result.flags, "notices": result.notices,
                                   "balanced": result.balanced, "seconds": result.seconds}))
        return
    t = Table(title=f"{'DRY RUN: nothing written. ' if dry_run else ''}Reconciliation ({', '.join(dict.fromkeys(result.formats))})")
    for col in ("table", "read", "stored", "merged", "unchanged", "rejected", "derived", "ok"):
        t.add_column(col, justify="left" if col == "table" else "right")
    for name, c in result.counts.items():
        t.add_row(name, f"{c.read:,}", f"{c.stored:,}", f"{c.merged:,}", f"{c.unchanged:,}", f"{c.rejected:,}",
                  f"{c.derived:,}", "yes" if c.balanced() else "NO")
    out.print(t)
    for reason, n in result.skipped.items():
        out.print(f"skipped {n:,}: {escape(reason)}")
    for flag, n in result.flags.items():
        out.print(f"flagged {n:,}: {escape(flag)} (kept; see the flags table)")
    for note in result.notices[:20]:
        out.print(f"note: {escape(note)}")
    if result.rejected:
        out.print(f"{result.rejected:,} records rejected: see `forumscope info --case {escape(str(case))}` "
                  "and the rejects table.")
    out.print(f"{'checked' if dry_run else 'ingested'} in {result.seconds:.1f}s; run {result.run_id}")


@app.command()
def info(
    case: Path = typer.Option(..., "--case", help="Case folder."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of tables."),
) -> None:
    """Tables, counts, time span, lurkers, rejects by reason, flags and evidence of a case."""
    from forumscope.store.case import open_case
    from forumscope.store.summary import case_summary

    with open_case(case) as c:
        s = case_summary(c)
        c.audit("info", sys.argv[1:], "ok")
    if as_json:
        out.print_json(json.dumps(s, default=str))
        return
    out.print(f"[bold]case[/bold] {escape(s['name'])} ({escape(s['case'])})")
    for f in s["forums"]:
        out.print(f"forum {escape(str(f['id']))}: {escape(str(f['name'] or ''))} [{escape(str(f['platform'] or ''))}]")
    t = Table(title="tables")
    t.add_column("table")
    t.add_column("rows", justify="right")
    for name, n in s["counts"].items():
        t.add_row(name, f"{n:,}")
    out.print(t)
    span = s["time_span"]
    out.print(f"posts from {span['first_post']} to {span['last_post']}")
    m = s["members"]
    share = f"{m['lurker_share_of_registered']:.1%}" if m["lurker_share_of_registered"] is not None else "n/a"
    out.print(f"members: {m['registered']:,} registered, {m['posting']:,} posting, {m['lurkers']:,} lurkers "
              f"({share} of registered)")
    if s["rejects"]:
        t = Table(title="rejects by reason")
        for col in ("reason", "table", "count"):
            t.add_column(col)
        for r in s["rejects"]:
            t.add_row(escape(r["reason"]), escape(str(r["table"])), f"{r['count']:,}")
        out.print(t)
    else:
        out.print("rejects: none")
    for f in s["flags"]:
        out.print(f"flagged {f['count']:,} {escape(f['table'])}: {escape(f['flag'])}")
    e = s["evidence"]
    out.print(f"evidence: {e['files']:,} files ingested ({e['distinct_sha256']:,} distinct SHA-256, "
              f"{e['bytes']:,} bytes); manifest in evidence.csv")
    out.print(f"ingest runs: {len(s['ingest_runs'])}")


@app.command()
def synth(
    out_dir: Path = typer.Option(..., "--out", help="Folder to write the synthetic forum into."),
    posts: int = typer.Option(10_000, "--posts", min=100, help="Number of posts."),
    seed: int = typer.Option(0, "--seed", help="Random seed (same seed, same bytes)."),
    as_engine: Optional[str] = typer.Option(None, "--as", help="Also write the forum as this engine's SQL dump: "
                                            "phpbb, smf, mybb, vbulletin, xenforo, discourse."),
    dump: Optional[Path] = typer.Option(None, "--dump", help="With --as: the dump file (.sql, .sql.gz, .sql.zst; "
                                        "default OUT/<engine>.sql)."),
) -> None:
    """Write a synthetic forum with planted ground truth (canonical format + truth.json), optionally also as a
    forum engine's SQL dump (--as)."""
    from forumscope.synth import generate

    if dump is not None and as_engine is None:
        raise UsageError("--dump needs --as ENGINE")
    if as_engine is not None:
        from forumscope.synth.engines import WRITERS

        if as_engine not in WRITERS:
            raise UsageError(f"unknown engine {as_engine!r} for --as; choose one of: {', '.join(WRITERS)}")
    with Progress(TextColumn("[bold]synth"), BarColumn(), TextColumn("{task.completed:,}/{task.total:,} posts"),
                  TimeElapsedColumn(), console=err, transient=True, disable=not err.is_terminal) as bar:
        task = bar.add_task("synth", total=posts)
        summary = generate(out_dir, posts=posts, seed=seed, progress=lambda n: bar.advance(task, n))
    counts = summary.get("counts", {}) if isinstance(summary, dict) else {}
    out.print(f"wrote a synthetic forum to {escape(str(out_dir))}: "
              + ", ".join(f"{k} {v:,}" for k, v in counts.items() if isinstance(v, int)))
    out.print(f"planted truth: {escape(str(out_dir / 'truth.json'))}")
    if as_engine is not None:
        from forumscope.synth.engines import write_dump

        target = dump or out_dir / f"{as_engine}.sql"
        res = write_dump(as_engine, out_dir, target)
        rows = sum(v for v in res.get("tables", {}).values() if isinstance(v, int))
        out.print(f"wrote it as a {escape(as_engine)} SQL dump: {escape(str(target))} ({rows:,} rows in "
                  f"{len(res.get('tables', {}))} tables); ingest it with `forumscope ingest {escape(str(target))} "
                  f"--case CASE --format {escape(as_engine)}`")


@app.command()
def analyze(
    case: Path = typer.Option(..., "--case", help="Case folder."),
    steps: Optional[str] = typer.Option(None, "--steps", help="Comma-separated steps (default: all)."),
    param: List[str] = typer.Option([], "--param", help="A step parameter, STEP.NAME=VALUE (repeatable)."),
    forum_id: Optional[str] = typer.Option(None, "--forum-id", help="Analyse one forum of the case."),
) -> None:
    """Run analysis steps; each writes result tables keyed by run id and a row in `runs`."""
    from forumscope.pipeline.registry import all_steps, get_step
    from forumscope.pipeline.runner import run_steps
    from forumscope.pipeline.step import parse_param
    from forumscope.store.case import open_case

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
    with open_case(case) as c, Progress(TextColumn("[bold]{task.description}"), BarColumn(), TimeElapsedColumn(),
                                        console=err, transient=True, disable=not err.is_terminal) as bar:
        task = bar.add_task("analyze", total=None)
        try:
            records = run_steps(c, names, params, forum_id=forum_id,
                                progress=lambda msg, frac: bar.update(task, description=msg))
        except ForumscopeError:
            c.audit("analyze", sys.argv[1:], "failed")
            raise
        c.audit("analyze", sys.argv[1:], "ok", runs=[r.run_id for r in records])
    t = Table(title="analysis runs")
    for col in ("step", "run id", "seconds", "result rows"):
        t.add_column(col)
    for r in records:
        t.add_row(r.step, r.run_id, f"{r.seconds:.1f}", ", ".join(f"{k} {v:,}" for k, v in r.rows.items()))
    out.print(t)


@app.command()
def aliases(
    case: Path = typer.Option(..., "--case", help="Case folder."),
    against: Optional[Path] = typer.Option(None, "--against", help="Another case: candidates come from it."),
    top: int = typer.Option(5, "--top", min=1, max=100, help="Candidates per account."),
    forum_id: Optional[str] = typer.Option(None, "--forum-id", help="Only accounts of this forum."),
    out_csv: Optional[Path] = typer.Option(None, "--out", help="Write every candidate with its evidence as CSV."),
    show: int = typer.Option(20, "--show", min=0, help="Accounts to print (strongest first)."),
) -> None:
    """Ranked alias candidates (leads, not identifications): calibrated scores and the evidence for each."""
    import pyarrow.compute as pc
    import pyarrow.csv as pacsv

    from forumscope.analyze.aliases import find_aliases
    from forumscope.store.case import open_case

    with open_case(case) as c, Progress(TextColumn("[bold]{task.description}"), BarColumn(), TimeElapsedColumn(),
                                        console=err, transient=True, disable=not err.is_terminal) as bar:
        task = bar.add_task("aliases", total=None)
        res = find_aliases(c, str(against) if against else None, top, forum_id=forum_id,
                           progress=lambda msg, frac: bar.update(task, description=msg))
        c.audit("aliases", sys.argv[1:], "ok")
        cand = res.candidates
        status = res.accounts.column("status").to_pylist() if "status" in res.accounts.column_names else []
        linked = sum(1 for x in status if x == "linked")
        out.print(f"{linked:,} accounts with enough text were linked, {len(status) - linked:,} are too thin; "
                  f"{cand.num_rows:,} candidates. Scores are calibrated likelihoods that two accounts share an "
                  "author: leads to check, never identifications.")
        if out_csv:
            pacsv.write_csv(cand, out_csv)
            out.print(f"wrote {escape(str(out_csv))}")
        if show and cand.num_rows:
            first = cand.filter(pc.equal(cand.column("rank"), 1))
            order = pc.sort_indices(first, sort_keys=[("score", "descending")])
            t = Table(title="strongest candidates (rank 1), by pseudonym")
            for col in ("account", "candidate", "score", "families agreeing", "posts"):
                t.add_column(col)
            for i in order.to_pylist()[:show]:
                r = {k: first.column(k)[i].as_py() for k in ("forum_id", "user_id", "candidate_forum_id",
                                                             "candidate_user_id", "score", "families_agreeing",
                                                             "n_posts", "candidate_n_posts")}
                t.add_row(c.pseudonym(r["forum_id"], r["user_id"]),
                          (c.pseudonym(r["candidate_forum_id"], r["candidate_user_id"]) if not against
                           else f"{escape(str(r['candidate_forum_id']))}/{escape(str(r['candidate_user_id']))}"),
                          f"{r['score']:.3g}", escape(str(r["families_agreeing"] or "")),
                          f"{r['n_posts']}/{r['candidate_n_posts']}")
            out.print(t)


@app.command()
def export(
    case: Path = typer.Option(..., "--case", help="Case folder."),
    fmt: str = typer.Option(..., "--format", help="Export format: gexf, graphml, csv (nodes and edges), convokit."),
    out_path: Path = typer.Option(..., "--out", help="File (gexf, graphml) or folder (csv, convokit) to write."),
    forum_id: Optional[str] = typer.Option(None, "--forum-id", help="Forum to export when the case has several."),
    kinds: str = typer.Option("reply,quote,thanks", "--kinds", help="Graph exports: interaction kinds combined."),
    labels: str = typer.Option("user_id", "--labels", help="Graph exports: node labels, user_id or pseudonym."),
) -> None:
    """Export a case: the interaction graph (GEXF for Gephi, GraphML, CSV for ORA/i2) or a ConvoKit corpus."""
    from forumscope.store.case import open_case

    if fmt not in ("convokit", "gexf", "graphml", "csv"):
        raise UsageError(f"unknown export format {fmt!r}; choose: gexf, graphml, csv, convokit")
    with open_case(case) as c:
        if fmt == "convokit":
            from forumscope.export.convokit import export_convokit

            res = export_convokit(c, out_path, forum_id)
            message = (f"wrote a ConvoKit corpus of forum {escape(res.forum_id)} to {escape(str(res.path))}: "
                       f"{res.utterances:,} utterances, {res.speakers:,} speakers, "
                       f"{res.conversations:,} conversations")
        else:
            from forumscope.export.graph import export_graph

            g = export_graph(c, fmt, out_path, forum_id, tuple(k for k in kinds.split(",") if k), labels=labels)
            message = (f"wrote the {escape(kinds)} graph ({g.nodes:,} nodes, {g.edges:,} edges) as {fmt}: "
                       + ", ".join(escape(str(p)) for p in g.paths))
        c.audit("export", sys.argv[1:], "ok", format=fmt, out=str(out_path))
    out.print(message)


@app.command()
def demo(
    out_dir: Path = typer.Option(Path("forumscope-demo"), "--out", help="Folder for the demo forum and case."),
    posts: int = typer.Option(20_000, "--posts", min=1000, help="Size of the synthetic forum."),
    seed: int = typer.Option(7, "--seed", help="Random seed."),
) -> None:
    """End to end on a synthetic forum: generate it, ingest it, analyse it, and write the report per audience."""
    import shutil

    from forumscope.cli.report import _run_analyses, make_report
    from forumscope.ingest.run import ingest as run_ingest
    from forumscope.report.render import prefetch
    from forumscope.store.case import open_case
    from forumscope.synth import generate

    forum_dir, case_dir, report_dir = out_dir / "forum", out_dir / "case", out_dir / "report"
    for d in (case_dir, report_dir):
        if d.exists():
            shutil.rmtree(d)  # the demo always starts fresh; a real case is never deleted
    prefetch()  # the report's chart bundle builds in the background meanwhile
    out.print(f"1/4 writing a synthetic forum of {posts:,} posts to {escape(str(forum_dir))} ...")
    generate(forum_dir, posts=posts, seed=seed)
    out.print(f"2/4 ingesting it into the case {escape(str(case_dir))} ...")
    result = run_ingest([forum_dir], case_dir, "canonical", argv=sys.argv[1:])
    read = sum(c.read for c in result.counts.values())
    out.print(f"    {read:,} records read, {result.rejected:,} rejected, reconciled: "
              f"{'yes' if result.balanced else 'NO'} ({result.seconds:.1f}s)")
    with open_case(case_dir) as c:
        out.print("3/4 running every analysis step ...")
        records = _run_analyses(c, None, [], None)
        out.print(f"    {len(records)} steps in {sum(r.seconds for r in records):.1f}s: "
                  + ", ".join(r.step for r in records))
        out.print("4/4 writing the report for each audience ...")
        paths = {}
        for audience in ("investigator", "researcher", "public"):
            _, written, seconds = make_report(c, audience, report_dir / audience, None, ["html", "json", "charts"])
            paths[audience] = written.html
            out.print(f"    {audience}: {escape(str(written.html))} ({seconds:.1f}s)")
        c.audit("demo", sys.argv[1:], "ok", reports=[str(p) for p in paths.values()])
    out.print(f"\nplanted truth for checking analyses: {escape(str(forum_dir / 'truth.json'))}")
    out.print(f"open the report in a browser: {escape(str(paths['investigator']))}")


def _register_areas() -> None:
    """Commands that live in their own modules (discourse, coding, report)."""
    from forumscope.cli import coding, discourse, report

    for area in (discourse, coding, report):
        area.register(app)


_register_areas()


def main(argv: list[str] | None = None) -> int:
    """Entry point: one-line errors for mistakes, documented exit codes."""
    try:
        app(args=argv, prog_name="forumscope")  # standalone: usage errors print and exit 2
        return 0
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except ForumscopeError as exc:
        err.print(f"forumscope: error: {escape(exc.one_line())}")
        return exc.exit_code
    except KeyboardInterrupt:
        err.print("forumscope: interrupted")
        return 130
    except Exception as exc:  # noqa: BLE001 - the last line of defence: one line, not a traceback
        if os.environ.get("FORUMSCOPE_DEBUG"):
            raise
        err.print(f"forumscope: internal error: {escape(type(exc).__name__)}: {escape(str(exc))[:300]} "
                  "(set FORUMSCOPE_DEBUG=1 for a traceback, and please report it)")
        return 1


def entry() -> None:
    sys.exit(main())


if __name__ == "__main__":
    entry()
