"""`forumscope coding ...`: coding sheets for human coders, agreement, active learning (docs/coding.md).

Only the CLI talks to the person; the work is done by forumscope.discourse.coding, .agreement and
.supervised.
"""

from __future__ import annotations

import csv
import hashlib
import json
import sys
from pathlib import Path
from typing import List, Optional

import typer
from rich.markup import escape
from rich.table import Table

from forumscope.cli.console import out

coding_app = typer.Typer(add_completion=False, no_args_is_help=True, rich_markup_mode=None,
                         help="Human coding: export coding sheets, import them, agreement, active learning.")

MAX_SHOWN_REJECTS = 30


def _fmt(x: object) -> str:
    if x is None:
        return "-"
    if isinstance(x, float):
        return f"{x:.3f}"
    return escape(str(x))


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


@coding_app.command("export")
def export_cmd(
    case: Path = typer.Option(..., "--case", help="Case folder."),
    codebook: str = typer.Option("operating-model", "--codebook", help="Codebook id or path of a .yaml file."),
    size: int = typer.Option(..., "--size", min=1, help="Number of posts in the sheet."),
    out_path: Path = typer.Option(..., "--out", help="CSV file to write."),
    seed: int = typer.Option(0, "--seed", help="Seed of the sample (same seed, same sheet)."),
    strata: str = typer.Option("board-month", "--strata", help="board-month, board, month, tag (model tags) or none."),
    allocation: Optional[str] = typer.Option(None, "--allocation",
                                             help="proportional (default) or equal (default for --strata tag)."),
    forum_id: Optional[str] = typer.Option(None, "--forum-id", help="Sample from one forum of the case."),
) -> None:
    """Write a coding sheet: a stratified, seeded sample of posts not coded yet, one column per code."""
    from forumscope.discourse.coding import export_sheet, guide_path
    from forumscope.store.case import open_case

    with open_case(case) as c:
        res = export_sheet(c, codebook, size, out_path, seed=seed, strata=strata, allocation=allocation,
                           forum_id=forum_id)
        c.audit("coding export", sys.argv[1:], "ok", out=str(out_path), rows=res.rows, seed=seed, strata=strata,
                codebook=res.codebook, sha256=_sha256(out_path))
    used = sum(1 for s in res.strata if s.taken)
    out.print(f"wrote {res.rows:,} posts to {escape(str(res.path))} (codebook {escape(res.codebook)} "
              f"{escape(res.codebook_version)}; {res.available:,} uncoded posts with text; strata {escape(strata)}, "
              f"{res.allocation} allocation: {used:,} of {len(res.strata):,} strata in the sample; seed {seed})")
    out.print(f"codebook guide for the coders: {escape(str(guide_path(res.path)))}")
    out.print("coders fill each code column with 1 or 0 and their name in the coder column; then "
              "`forumscope coding import`")


@coding_app.command("import")
def import_cmd(
    sheets: List[Path] = typer.Argument(..., help="Filled coding sheets (CSV)."),
    case: Path = typer.Option(..., "--case", help="Case folder."),
    coder: Optional[str] = typer.Option(None, "--coder", help="Coder of these sheets (default: the coder column)."),
    codebook: Optional[str] = typer.Option(None, "--codebook", help="Codebook (default: the sheets' codebook column)."),
    blank: str = typer.Option("zero", "--blank", help="Blank code cells in a coded row: zero (default) or missing."),
    replace: bool = typer.Option(False, "--replace", help="Replace codes stored before for the same item and coder."),
    rejects_csv: Optional[Path] = typer.Option(None, "--rejects", help="Write every rejected row to this CSV."),
) -> None:
    """Read filled coding sheets into the case's human_codes table; bad rows are listed with sheet and line."""
    from forumscope.discourse.coding import import_sheets
    from forumscope.store.case import open_case

    with open_case(case) as c:
        res = import_sheets(c, sheets, coder=coder, codebook=codebook, blank=blank, replace=replace)
        c.audit("coding import", sys.argv[1:], "ok", codebook=res.codebook,
                sheets=[{"sheet": s.sheet, "sha256": _sha256(Path(s.sheet)), "read": s.read, "stored": s.stored,
                         "unchanged": s.unchanged, "rejected": s.rejected, "uncoded": s.uncoded} for s in res.sheets])
    t = Table(title=f"coding sheets (codebook {escape(res.codebook)} {escape(res.codebook_version)})")
    for col in ("sheet", "coders", "rows read", "stored", "unchanged", "rejected", "uncoded", "values", "ok"):
        t.add_column(col, justify="left" if col in ("sheet", "coders") else "right")
    for s in res.sheets:
        t.add_row(escape(s.sheet), escape(", ".join(sorted(s.coders))) or "-", f"{s.read:,}", f"{s.stored:,}",
                  f"{s.unchanged:,}", f"{s.rejected:,}", f"{s.uncoded:,}", f"{s.values:,}",
                  "yes" if s.balanced else "NO")
    out.print(t)
    for r in res.rejects[:MAX_SHOWN_REJECTS]:
        out.print(f"rejected {escape(r.sheet)} line {r.line}: {escape(r.reason)}", soft_wrap=True)
    if len(res.rejects) > MAX_SHOWN_REJECTS:
        out.print(f"... and {len(res.rejects) - MAX_SHOWN_REJECTS:,} more rejected rows"
                  + ("" if rejects_csv else " (list them all with --rejects FILE)"))
    if rejects_csv:
        with open(rejects_csv, "w", encoding="utf-8-sig", newline="") as fh:
            w = csv.writer(fh, lineterminator="\r\n")
            w.writerow(["sheet", "line", "reason"])
            from forumscope.discourse.coding import neutralise

            for r in res.rejects:
                w.writerow([neutralise(r.sheet), r.line, neutralise(r.reason)])
        out.print(f"wrote the rejected rows to {escape(str(rejects_csv))}")
    out.print(f"stored {res.stored:,} coded rows; rows read = stored + unchanged + rejected + uncoded: "
              f"{'yes' if res.balanced else 'NO'}")


@coding_app.command("agreement")
def agreement_cmd(
    case: Path = typer.Option(..., "--case", help="Case folder."),
    codebook: str = typer.Option("operating-model", "--codebook", help="Codebook id or path."),
    against_layer: List[str] = typer.Option([], "--against-layer",
                                            help="Compare a layer with the human majority: rules, fast, embedding, "
                                                 "supervised (repeatable)."),
    folds: int = typer.Option(5, "--folds", min=2, help="Cross-validation folds for the supervised layer."),
    seed: int = typer.Option(0, "--seed", help="Seed of the cross-validation folds."),
    forum_id: Optional[str] = typer.Option(None, "--forum-id", help="Only the codes of one forum."),
    as_json: bool = typer.Option(False, "--json", help="Print the rows as JSON."),
) -> None:
    """Agreement per code: kappa (two coders) and alpha (any number); layers against the human majority."""
    from forumscope.discourse.agreement import run_agreement
    from forumscope.errors import ForumscopeError
    from forumscope.store.case import open_case

    with open_case(case) as c:
        try:
            record, rows = run_agreement(c, codebook, tuple(against_layer), forum_id=forum_id, folds=folds, seed=seed)
        except ForumscopeError:
            c.audit("coding agreement", sys.argv[1:], "failed")
            raise
        c.audit("coding agreement", sys.argv[1:], "ok", runs=[record.run_id])
    if as_json:
        out.print_json(json.dumps({"run_id": record.run_id, "rows": rows}, default=str))
        return
    t = Table(title=f"agreement (run {escape(record.run_id)}; table discourse_agreement)")
    for col in ("comparison", "code", "coders", "items", "kappa", "alpha", "precision", "recall", "f1"):
        t.add_column(col, justify="left" if col in ("comparison", "code") else "right",
                     overflow="fold", min_width=6 if col in ("comparison", "code") else None)
    for r in rows:
        t.add_row(*(_fmt(r[k]) for k in ("comparison", "code", "coders", "items", "kappa", "alpha", "precision",
                                         "recall", "f1")))
    out.print(t)
    out.print("kappa: Cohen's, only with exactly two coders; alpha: Krippendorff's (nominal). Model rows compare "
              "a layer's tags with the majority of the human coders; model tags are not human codes.")


@coding_app.command("suggest")
def suggest_cmd(
    case: Path = typer.Option(..., "--case", help="Case folder."),
    codebook: str = typer.Option("operating-model", "--codebook", help="Codebook id or path."),
    size: int = typer.Option(..., "--size", min=1, help="Number of posts to propose."),
    out_path: Path = typer.Option(..., "--out", help="CSV coding sheet to write."),
    pool: int = typer.Option(20_000, "--pool", min=0, help="Uncoded posts scored (a seeded random pool; 0 = all)."),
    seed: int = typer.Option(0, "--seed", help="Seed of the pool and of ties."),
    forum_id: Optional[str] = typer.Option(None, "--forum-id", help="Train on and propose posts of one forum."),
    backend: str = typer.Option("tfidf", "--backend", help="Supervised model: tfidf (seconds) or minilm (MiniLM "
                                "fine-tuned on the codes: needs the nlp extra; minutes on a CPU, a GPU when torch "
                                "sees one)."),
) -> None:
    """Active learning: the uncoded posts the supervised layer is least sure about, as a coding sheet."""
    from forumscope.discourse.coding import guide_path
    from forumscope.discourse.supervised import suggest_sheet
    from forumscope.store.case import open_case

    with open_case(case) as c:
        s = suggest_sheet(c, codebook, size, out_path, pool=pool, seed=seed, forum_id=forum_id, backend=backend)
        c.audit("coding suggest", sys.argv[1:], "ok", out=str(out_path), rows=len(s.ids), pool=s.pool, seed=seed,
                sha256=_sha256(out_path))
    if s.uncertainty:
        span = f"uncertainty {min(s.uncertainty):.2f} to {max(s.uncertainty):.2f}"
    else:
        span = "no uncoded posts left"
    out.print(f"wrote the {len(s.ids):,} most uncertain of {s.pool:,} scored posts to {escape(str(out_path))} "
              f"({span}; layer: {escape(s.layer.model or 'supervised')})")
    if s.untrained:
        out.print(f"codes without enough positive and negative examples yet (not used to choose): "
                  f"{escape(', '.join(s.untrained))}")
    out.print(f"codebook guide for the coders: {escape(str(guide_path(out_path)))}")


def register(app: typer.Typer) -> None:
    """Add `forumscope coding ...` to the main app."""
    app.add_typer(coding_app, name="coding")
