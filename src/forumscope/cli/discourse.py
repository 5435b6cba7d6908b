"""CLI commands for the discourse area: `forumscope tag` and `forumscope codebook validate|list`.

Only the CLI talks to the person; the work is done by forumscope.discourse.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import List, Optional

import typer
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from forumscope.cli.console import err, out
from forumscope.errors import ForumscopeError

codebook_app = typer.Typer(add_completion=False, no_args_is_help=True, rich_markup_mode=None,
                           help="Codebooks: check a codebook file, list the shipped ones.")


@codebook_app.command("validate")
def codebook_validate(
    file: Path = typer.Argument(..., help="Codebook YAML file."),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON summary."),
) -> None:
    """Check a codebook file; errors name the file, the line and the field."""
    from forumscope.discourse.codebook import load_codebook

    cb = load_codebook(str(file)) if file.suffix in (".yaml", ".yml") else load_codebook(file)
    summary = {"id": cb.id, "version": cb.version, "languages": list(cb.languages), "codes": len(cb.codes),
               "definition_only": sum(c.definition_only for c in cb.codes),
               "examples": sum(len(c.examples) for c in cb.codes),
               "lexicon_entries": sum(len(v) for c in cb.codes for v in c.lexicon.values()),
               "patterns": sum(len(v) for c in cb.codes for v in c.patterns.values())}
    if as_json:
        out.print_json(json.dumps(summary))
        return
    out.print(f"{escape(str(file))}: valid codebook {escape(cb.id)} version {escape(cb.version)}: "
              f"{summary['codes']} codes ({summary['definition_only']} definition only), {summary['examples']} "
              f"examples, {summary['lexicon_entries']} lexicon entries, {summary['patterns']} patterns; "
              f"languages {escape(', '.join(cb.languages))}")


@codebook_app.command("list")
def codebook_list() -> None:
    """The codebooks shipped with forumscope."""
    from forumscope.discourse.codebook import load_codebook, shipped_codebooks

    t = Table(title="shipped codebooks")
    for col in ("id", "version", "codes", "languages", "title"):
        t.add_column(col)
    for name in shipped_codebooks():
        cb = load_codebook(name)
        t.add_row(escape(cb.id), escape(cb.version), str(len(cb.codes)), escape(", ".join(cb.languages)),
                  escape(cb.title))
    out.print(t)


def tag(
    case: Path = typer.Option(..., "--case", help="Case folder."),
    codebook: str = typer.Option("operating-model", "--codebook", help="Shipped codebook id or YAML file."),
    layer: List[str] = typer.Option([], "--layer", help="rules, fast, embedding or supervised (repeatable; "
                                                        "default: rules and fast)."),
    threshold: Optional[float] = typer.Option(None, "--threshold", help="One threshold for every layer."),
    combine: str = typer.Option("any", "--combine", help="Combined layer: any, all or mean."),
    sentences: bool = typer.Option(True, "--sentences/--no-sentences", help="Also tag each sentence."),
    language: List[str] = typer.Option([], "--language", help="Languages for language identification "
                                                              "(repeatable; default en de fr nl es)."),
    fast_teacher: str = typer.Option("rules", "--fast-teacher", help="What the fast layer learns from: rules, "
                                                                     "embedding or none."),
    embedding_mode: str = typer.Option("similarity", "--embedding-mode", help="similarity or head."),
    device: str = typer.Option("auto", "--device", help="MiniLM device: auto, cpu or cuda."),
    forum_id: Optional[str] = typer.Option(None, "--forum-id", help="Tag one forum of the case."),
    as_json: bool = typer.Option(False, "--json", help="Print the run and the overall prevalence as JSON."),
) -> None:
    """Tag posts and sentences with a codebook's codes (the `discourse` step with these parameters)."""
    from forumscope.pipeline.runner import run_steps
    from forumscope.store.case import open_case

    params: dict = {"codebook": codebook, "combine": combine, "sentence_level": sentences,
                    "fast_teacher": fast_teacher, "embedding_mode": embedding_mode, "device": device}
    if layer:
        params["layers"] = tuple(dict.fromkeys(x.strip() for item in layer for x in item.split(",") if x.strip()))
    if threshold is not None:
        params["threshold"] = threshold
    if language:
        params["languages"] = tuple(x.strip() for item in language for x in item.split(",") if x.strip())
    with open_case(case) as c, Progress(TextColumn("[bold]{task.description}"), BarColumn(), TimeElapsedColumn(),
                                        console=err, transient=True, disable=not err.is_terminal) as bar:
        task = bar.add_task("tag", total=1.0)
        try:
            records = run_steps(c, ["discourse"], {"discourse": params}, forum_id=forum_id,
                                progress=lambda msg, frac: bar.update(task, description=msg, completed=frac))
        except ForumscopeError:
            c.audit("tag", sys.argv[1:], "failed")
            raise
        run_id = records[0].run_id
        c.audit("tag", sys.argv[1:], "ok", runs=[run_id])
        layers = c.con.execute("SELECT layer, model, threshold, posts_scored, sentences_scored, seconds "
                               "FROM discourse_layers WHERE run_id = ? ORDER BY rowid", [run_id]).fetchall()
        prev = c.con.execute("SELECT layer, code, sum(tagged_posts), sum(posts) FROM discourse_prevalence "
                             "WHERE run_id = ? AND dimension = 'all' GROUP BY ALL ORDER BY 1, 2", [run_id]).fetchall()
    if as_json:
        out.print_json(json.dumps({
            "run_id": run_id, "seconds": records[0].seconds, "rows": records[0].rows,
            "layers": [dict(zip(("layer", "model", "threshold", "posts_scored", "sentences_scored", "seconds"), r))
                       for r in layers],
            "prevalence": [{"layer": a, "code": b, "tagged_posts": int(n), "posts": int(d),
                            "share": (n / d) if d else None} for a, b, n, d in prev]}))
        return
    t = Table(title=f"discourse run {escape(run_id)}")
    for col in ("layer", "model", "threshold", "posts", "sentences", "seconds"):
        t.add_column(col)
    for name, model, thr, posts, sents, secs in layers:
        t.add_row(escape(name), escape(model or "-"), f"{thr:.2f}", f"{posts:,}", f"{sents:,}", f"{secs:.1f}")
    out.print(t)
    names = [r[0] for r in layers if any(x[0] == r[0] for x in prev)]  # in the order the layers ran
    shares = {(a, b): (n, d) for a, b, n, d in prev}
    p = Table(title="share of posts carrying each code (all forums)")
    p.add_column("code")
    for name in names:
        p.add_column(escape(name), justify="right")
    for code in dict.fromkeys(r[1] for r in prev):
        row = [escape(code)]
        for name in names:
            n, d = shares.get((name, code), (0, 0))
            row.append(f"{n:,} ({100 * n / d:.1f} %)" if d else "-")
        p.add_row(*row)
    out.print(p)
    out.print("Tags are model output, not human codes; see docs/analyses/discourse.md for what each layer can and "
              "cannot see.")


def register(app: typer.Typer) -> None:
    """Add this area's commands to the main app."""
    app.command("tag")(tag)
    app.add_typer(codebook_app, name="codebook")
