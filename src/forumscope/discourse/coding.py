"""Coding sheets: export a stratified sample of posts for human coders, import their codes.

Export (:func:`export_sheet`) writes a CSV that spreadsheets open (UTF-8 with a byte-order mark,
comma-separated, CRLF line ends): one row per post with its ids, board, month, thread title and
text, one empty column per code of the codebook for the coder to fill with ``1`` (applies) or
``0`` (does not), and ``coder`` and ``note`` columns. Every text cell that a spreadsheet could
take for a formula (starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return; and,
so that the rule can be undone exactly, ``'``) is prefixed with ``'`` (CSV formula injection,
OWASP); import removes that prefix again. Text longer than a spreadsheet cell holds is cut.

The sample is stratified (``board-month`` by default; ``board``, ``month``, ``tag`` or
``none``), deterministic for a seed: within a stratum posts are ordered by
``md5(seed, forum_id, post_id)`` and the first ones are taken; how many per stratum is decided
by proportional allocation with largest remainders (``equal`` allocation for ``tag``). Posts that
already have human codes for the codebook are left out. With ``tag``, the stratum of a post is
its highest-scoring model tag of the latest tagging run (``(untagged)`` without one); the tags
only choose the sample and never appear in the sheet.

Import (:func:`import_sheets`) reads sheets from several coders into ``human_codes``. A row with
at least one 0/1 is a coded row, and (``blank="zero"``, the default) its blank code cells mean
"does not apply"; a row without any value is left uncoded. Rows are rejected, with sheet, line
and reason, for: values other than 0, 1 or blank; unknown post ids; no coder; a duplicate row
(same item and coder twice); a conflict with codes stored before (unless ``replace``). A sheet
whose header names a column that is not a code of the codebook is refused as a whole. Counts
reconcile: rows read = stored + unchanged + rejected + uncoded.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

import pyarrow as pa

from forumscope.errors import ConfigError, InputError, UsageError
from forumscope.store.sql import sql_str

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
MAX_CELL = 32_000  # spreadsheets hold 32,767 characters per cell
CUT_MARK = " [... cut for the sheet]"
MAX_SHEET_BYTES = 200 * 1024 * 1024
BEFORE = ("forum_id", "post_id", "sentence_no", "board_id", "board", "month", "thread", "text")
AFTER = ("coder", "note", "codebook", "codebook_version")
META = set(BEFORE) | set(AFTER)
STRATA = ("board-month", "board", "month", "tag", "none")
ALLOCATIONS = ("proportional", "equal")
UNTAGGED = "(untagged)"
TAG_LAYER_PREFERENCE = ("combined", "supervised", "embedding", "fast", "rules")


# ----------------------------------------------------------------------------- formula injection
def neutralise(cell: Any) -> str:
    """A cell that no spreadsheet evaluates: formula-like text gets a leading ``'``."""
    text = "" if cell is None else str(cell)
    if text and (text[0] in FORMULA_START or text[0] == "'"):
        return "'" + text
    return text


def unneutralise(cell: str) -> str:
    """The exact inverse of :func:`neutralise`."""
    if len(cell) > 1 and cell[0] == "'" and (cell[1] in FORMULA_START or cell[1] == "'"):
        return cell[1:]
    return cell


def _cut(text: str) -> str:
    return text if len(text) <= MAX_CELL else text[:MAX_CELL - len(CUT_MARK)] + CUT_MARK


# ----------------------------------------------------------------------------- export
@dataclass
class Stratum:
    key: str
    available: int
    taken: int


@dataclass
class ExportResult:
    path: Path
    rows: int
    available: int
    strata: list[Stratum]
    strata_kind: str
    allocation: str
    seed: int
    codebook: str
    codebook_version: str
    post_ids: list[tuple[str, str]] = field(default_factory=list)


def allocate(sizes: dict[str, int], n: int, how: str = "proportional") -> dict[str, int]:
    """How many items to take from each stratum (deterministic; never more than a stratum has).

    ``proportional``: ``n * size / total`` rounded down, the rest to the largest remainders (ties:
    larger stratum, then key). ``equal``: the same number from each stratum; strata too small give all
    they have and the rest is shared among the others."""
    if how not in ALLOCATIONS:
        raise UsageError(f"unknown allocation {how!r}; choose: {', '.join(ALLOCATIONS)}")
    total = sum(sizes.values())
    keys = sorted(sizes)
    if n >= total:
        return dict(sizes)
    out = {k: 0 for k in keys}
    if how == "proportional":
        exact = {k: n * sizes[k] / total for k in keys}
        for k in keys:
            out[k] = int(exact[k])
        rest = n - sum(out.values())
        for k in sorted(keys, key=lambda k: (-(exact[k] - out[k]), -sizes[k], k))[:rest]:
            out[k] += 1
        return out
    left, open_ = n, [k for k in keys if sizes[k] > 0]
    while left > 0 and open_:
        share = left // len(open_)
        if share == 0:  # fewer left than strata: one each to the largest remaining strata
            for k in sorted(open_, key=lambda k: (-(sizes[k] - out[k]), k))[:left]:
                out[k] += 1
            break
        for k in list(open_):
            give = min(share, sizes[k] - out[k])
            out[k] += give
            left -= give
            if out[k] >= sizes[k]:
                open_.remove(k)
    return out


def _stratum_expr(kind: str) -> str:
    if kind == "board-month":
        return "coalesce(p.board_id, '(no board)') || ' ' || coalesce(strftime(p.created_at, '%Y-%m'), '(no date)')"
    if kind == "board":
        return "coalesce(p.board_id, '(no board)')"
    if kind == "month":
        return "coalesce(strftime(p.created_at, '%Y-%m'), '(no date)')"
    if kind == "none":
        return "'all'"
    if kind == "tag":
        return f"coalesce(tg.code, {sql_str(UNTAGGED)})"
    raise UsageError(f"unknown strata {kind!r}; choose: {', '.join(STRATA)}")


def _tag_source(case: Any, codebook_id: str) -> str:
    """SQL of (forum_id, post_id, code): each post's highest-scoring tag in the latest tagging run."""
    if "discourse_tags" not in case.tables():
        raise UsageError("--strata tag needs model tags: run `forumscope tag` for this codebook first, "
                         "or choose other strata")
    rows = case.con.execute(
        "SELECT t.run_id, t.layer FROM discourse_tags t LEFT JOIN runs r ON r.id = t.run_id "
        "WHERE t.codebook = ? GROUP BY ALL ORDER BY max(r.finished_at) DESC NULLS LAST, t.run_id DESC",
        [codebook_id]).fetchall()
    if not rows:
        raise UsageError(f"--strata tag: no model tags for codebook {codebook_id!r}; run `forumscope tag` "
                         "first, or choose other strata")
    run_id = rows[0][0]
    layers = [layer for r, layer in rows if r == run_id]
    layer = next((x for x in TAG_LAYER_PREFERENCE if x in layers), min(layers))
    return (f"SELECT forum_id, post_id, arg_max(code, score) AS code FROM discourse_tags "
            f"WHERE run_id = {sql_str(run_id)} AND layer = {sql_str(layer)} "
            f"AND codebook = {sql_str(codebook_id)} GROUP BY forum_id, post_id")


def candidates_sql(codebook_id: str, forum_id: str | None, *, extra_join: str = "",
                   stratum: str = "'all'", seed: int = 0) -> str:
    """Posts with text and without human codes for the codebook, with a stratum and a seeded hash."""
    where = f"AND p.forum_id = {sql_str(forum_id)}" if forum_id is not None else ""
    return (
        f"SELECT p.forum_id, p.id AS post_id, {stratum} AS stratum, "
        f"md5({sql_str(str(seed))} || chr(31) || p.forum_id || chr(31) || p.id) AS h "
        f"FROM posts p {extra_join} "
        f"WHERE length(trim(coalesce(p.text, ''))) > 0 {where} "
        f"AND NOT EXISTS (SELECT 1 FROM human_codes hc WHERE hc.codebook = {sql_str(codebook_id)} "
        f"AND hc.forum_id = p.forum_id AND hc.post_id = p.id)")


def sample_posts(case: Any, codebook_id: str, size: int, *, seed: int = 0, strata: str = "board-month",
                 allocation: str | None = None, forum_id: str | None = None
                 ) -> tuple[list[tuple[str, str]], list[Stratum], str]:
    """A stratified sample of uncoded posts: ((forum_id, post_id) in sheet order, strata, allocation)."""
    if size < 1:
        raise UsageError("the sample size must be at least 1")
    allocation = allocation or ("equal" if strata == "tag" else "proportional")
    join = ""
    if strata == "tag":
        join = f"LEFT JOIN ({_tag_source(case, codebook_id)}) tg ON tg.forum_id = p.forum_id AND tg.post_id = p.id"
    con = case.con
    con.execute("CREATE OR REPLACE TEMP TABLE _coding_cand AS " +
                candidates_sql(codebook_id, forum_id, extra_join=join, stratum=_stratum_expr(strata), seed=seed))
    try:
        sizes = dict(con.execute("SELECT stratum, count(*) FROM _coding_cand GROUP BY 1").fetchall())
        take = allocate(sizes, size, allocation)
        alloc = pa.table({"stratum": pa.array(list(take), pa.string()),
                          "k": pa.array(list(take.values()), pa.int64())})
        con.register("_coding_alloc", alloc)
        try:
            picked = con.execute(
                "SELECT forum_id, post_id FROM (SELECT c.*, row_number() OVER (PARTITION BY c.stratum "
                "ORDER BY c.h, c.forum_id, c.post_id) AS rn FROM _coding_cand c) s "
                "JOIN _coding_alloc a ON a.stratum = s.stratum WHERE s.rn <= a.k "
                "ORDER BY s.h, s.forum_id, s.post_id").fetchall()
        finally:
            con.unregister("_coding_alloc")
    finally:
        con.execute("DROP TABLE IF EXISTS _coding_cand")
    strata_out = [Stratum(k, sizes[k], take[k]) for k in sorted(sizes)]
    return [(f, p) for f, p in picked], strata_out, allocation


def post_rows(case: Any, ids: Sequence[tuple[str, str]]) -> list[dict[str, Any]]:
    """Ids, board, month, thread title and text of posts, in the order given."""
    if not ids:
        return []
    keys = pa.table({"forum_id": pa.array([f for f, _ in ids], pa.string()),
                     "post_id": pa.array([p for _, p in ids], pa.string()),
                     "ord": pa.array(range(len(ids)), pa.int64())})
    con = case.con
    con.register("_coding_ids", keys)
    try:
        rows = con.execute(
            "SELECT k.forum_id, k.post_id, p.board_id, b.name, strftime(p.created_at, '%Y-%m'), t.title, p.text "
            "FROM _coding_ids k JOIN posts p ON p.forum_id = k.forum_id AND p.id = k.post_id "
            "LEFT JOIN boards b ON b.forum_id = p.forum_id AND b.id = p.board_id "
            "LEFT JOIN threads t ON t.forum_id = p.forum_id AND t.id = p.thread_id ORDER BY k.ord").fetchall()
    finally:
        con.unregister("_coding_ids")
    names = ("forum_id", "post_id", "board_id", "board", "month", "thread", "text")
    return [dict(zip(names, r)) for r in rows]


def sheet_header(codebook: Any) -> list[str]:
    clash = [c for c in codebook.code_ids if c in META]
    if clash:
        raise UsageError(f"codebook {codebook.id}: code ids {clash} clash with the sheet's own columns")
    return list(BEFORE) + list(codebook.code_ids) + list(AFTER)


def write_sheet(path: str | Path, codebook: Any, rows: Iterable[dict[str, Any]], *, coder: str = "") -> int:
    """Write a coding sheet (UTF-8 with BOM, CRLF); returns the number of item rows."""
    header = sheet_header(codebook)
    n = 0
    path = Path(path)
    if path.parent and not path.parent.exists():
        raise UsageError(f"folder {path.parent} does not exist", path=str(path))
    with open(path, "w", encoding="utf-8-sig", newline="") as fh:
        w = csv.writer(fh, lineterminator="\r\n")
        w.writerow(header)
        for r in rows:
            cells = {**{k: r.get(k) for k in BEFORE}, "coder": coder, "note": "",
                     "codebook": codebook.id, "codebook_version": codebook.version}
            cells["text"] = _cut(cells["text"] or "")
            w.writerow([neutralise(cells.get(h, "")) for h in header])
            n += 1
    return n


def codebook_guide(codebook: Any) -> str:
    """Plain-text guide to the codes, written next to a sheet for the coders."""
    lines = [f"Codebook {codebook.id} version {codebook.version}: {codebook.title}", "",
             "Fill each code column with 1 (the code applies to the post) or 0 (it does not). In a row",
             "with at least one value, blank code cells count as 0. Put your name in the coder column.", ""]
    for c in codebook.codes:
        lines += [f"{c.id}: {c.label}", f"  definition: {c.definition}"]
        lines += [f"  include: {x}" for x in c.include] + [f"  exclude: {x}" for x in c.exclude]
        lines.append("")
    return "\n".join(lines)


def export_sheet(case: Any, codebook: Any, size: int, out: str | Path, *, seed: int = 0,
                 strata: str = "board-month", allocation: str | None = None, forum_id: str | None = None,
                 guide: bool = True) -> ExportResult:
    """Sample ``size`` uncoded posts and write them as a coding sheet (and a codebook guide beside it)."""
    from forumscope.discourse.codebook import load_codebook

    codebook = load_codebook(codebook)
    if strata not in STRATA:
        raise UsageError(f"unknown strata {strata!r}; choose: {', '.join(STRATA)}")
    sheet_header(codebook)
    ids, strata_out, allocation = sample_posts(case, codebook.id, size, seed=seed, strata=strata,
                                               allocation=allocation, forum_id=forum_id)
    out = Path(out)
    n = write_sheet(out, codebook, post_rows(case, ids))
    if guide:
        guide_path(out).write_text(codebook_guide(codebook), encoding="utf-8")
    return ExportResult(out, n, sum(s.available for s in strata_out), strata_out, strata, allocation, seed,
                        codebook.id, codebook.version, ids)


def guide_path(sheet: Path) -> Path:
    return sheet.with_name(sheet.stem + ".codebook.txt")


# ----------------------------------------------------------------------------- import
@dataclass
class Reject:
    sheet: str
    line: int
    reason: str


@dataclass
class SheetCounts:
    sheet: str
    read: int = 0
    stored: int = 0
    unchanged: int = 0
    rejected: int = 0
    uncoded: int = 0
    values: int = 0  # code values stored
    coders: set[str] = field(default_factory=set)

    @property
    def balanced(self) -> bool:
        return self.read == self.stored + self.unchanged + self.rejected + self.uncoded


@dataclass
class ImportResult:
    codebook: str
    codebook_version: str
    sheets: list[SheetCounts]
    rejects: list[Reject]

    @property
    def balanced(self) -> bool:
        return all(s.balanced for s in self.sheets)

    @property
    def stored(self) -> int:
        return sum(s.stored for s in self.sheets)


@dataclass
class _Row:
    sheet: str
    line: int
    forum_id: str
    post_id: str
    sentence_no: int | None
    coder: str
    values: dict[str, bool]

    @property
    def item(self) -> tuple[str, str, int | None, str]:
        return (self.forum_id, self.post_id, self.sentence_no, self.coder)


def _read_text(path: Path) -> str:
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise InputError(f"cannot read the sheet: {exc.strerror}", path=str(path)) from None
    if size > MAX_SHEET_BYTES:
        raise InputError(f"sheet is larger than {MAX_SHEET_BYTES // 2**20} MiB", path=str(path))
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError("the sheet is not UTF-8 text; save it as 'CSV UTF-8'", path=str(path),
                         offset=exc.start) from None


def _dialect(text: str) -> str:
    first = text.split("\n", 1)[0]
    counts = {d: first.count(d) for d in (",", ";", "\t")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def _parse_sheet(path: Path, codebook: Any, coder: str | None, blank: str, counts: SheetCounts,
                 rejects: list[Reject], codebook_given: bool) -> list[_Row]:
    text = _read_text(path)
    sheet = str(path)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_dialect(text))
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        raise InputError("the sheet is empty (no header)", path=sheet, line=1) from None
    except csv.Error as exc:
        raise InputError(f"not a readable CSV header: {exc}", path=sheet, line=1) from None
    dup = sorted({h for h in header if header.count(h) > 1 and h})
    if dup:
        raise InputError(f"duplicate columns in the header: {', '.join(dup)}", path=sheet, line=1)
    for need in ("forum_id", "post_id"):
        if need not in header:
            raise InputError(f"the header has no {need} column (is this a coding sheet?)", path=sheet, line=1)
    codes = set(codebook.code_ids)
    unknown = [h for h in header if h and h not in META and h not in codes]
    if unknown:
        raise InputError(f"unknown code column(s) {', '.join(repr(u) for u in unknown)}: not codes of codebook "
                         f"{codebook.id} {codebook.version}", path=sheet, line=1)
    code_cols = [(i, h) for i, h in enumerate(header) if h in codes]
    if not code_cols:
        raise InputError(f"the header has no code column of codebook {codebook.id}", path=sheet, line=1)
    col = {h: i for i, h in enumerate(header)}
    out: list[_Row] = []
    start = reader.line_num + 1
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            raise InputError(f"unreadable CSV: {exc}", path=sheet, line=start) from None
        line, start = start, reader.line_num + 1
        if not any(c.strip() for c in cells):
            continue  # an empty line is not a record
        counts.read += 1
        row = _check_row(cells, len(header), col, code_cols, codebook, coder, blank, codebook_given)
        if isinstance(row, str):
            counts.rejected += 1
            rejects.append(Reject(sheet, line, row))
        elif row is None:
            counts.uncoded += 1
        else:
            forum_id, post_id, sentence_no, who, values = row
            out.append(_Row(sheet, line, forum_id, post_id, sentence_no, who, values))
    return out


def _check_row(cells: list[str], width: int, col: dict[str, int], code_cols: list[tuple[int, str]], codebook: Any,
               coder: str | None, blank: str, codebook_given: bool
               ) -> str | None | tuple[str, str, int | None, str, dict[str, bool]]:
    """One sheet row: (forum_id, post_id, sentence_no, coder, values), None when uncoded, or the reason to
    reject it."""
    if len(cells) > width and any(c.strip() for c in cells[width:]):
        return f"bad_row: {len(cells)} cells, the header has {width}"

    def cell(name: str) -> str:
        i = col.get(name)
        return unneutralise(cells[i].strip()) if i is not None and i < len(cells) else ""

    named_book = cell("codebook")
    if codebook_given and named_book and named_book != codebook.id:
        return f"codebook_mismatch: the row names codebook {named_book[:60]!r}, not {codebook.id!r}"
    forum_id, post_id = cell("forum_id"), cell("post_id")
    if not forum_id or not post_id:
        return "missing_id: forum_id and post_id are required"
    raw_sentence = cell("sentence_no")
    sentence_no: int | None = None
    if raw_sentence:
        if not raw_sentence.isdigit():
            return f"bad_sentence_no: {raw_sentence[:40]!r} (blank or a whole number >= 0)"
        sentence_no = int(raw_sentence)
    values: dict[str, bool] = {}
    for i, code in code_cols:
        v = cells[i].strip() if i < len(cells) else ""
        if v in ("0", "1"):
            values[code] = v == "1"
        elif v:
            return f"bad_value: column {code} has {v[:40]!r} (0, 1 or blank)"
    if not values:
        return None
    if blank == "zero":
        for _, code in code_cols:
            values.setdefault(code, False)
    named = cell("coder")
    if coder and named and named != coder:
        return f"coder_mismatch: the row names coder {named[:40]!r}, --coder is {coder!r}"
    who = coder or named
    if not who:
        return "missing_coder: no coder in the row and none given (--coder)"
    if len(who) > 100 or not who.isprintable():
        return "bad_coder: coder names are printable text of at most 100 characters"
    return forum_id, post_id, sentence_no, who, values


def _resolve_codebook(paths: Sequence[Path], codebook: Any) -> Any:
    from forumscope.discourse.codebook import load_codebook

    if codebook is not None:
        return load_codebook(codebook)
    named: set[str] = set()
    for p in paths:
        text = _read_text(p)
        reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=_dialect(text))
        if not reader.fieldnames or "codebook" not in [f.strip() for f in reader.fieldnames]:
            raise UsageError("the sheet has no codebook column; name the codebook (--codebook)", path=str(p))
        key = next(f for f in reader.fieldnames if f.strip() == "codebook")
        named |= {unneutralise((r.get(key) or "").strip()) for r in reader} - {""}
    if len(named) != 1:
        raise UsageError(f"the sheets name {len(named)} codebooks ({', '.join(sorted(named)) or 'none'}); "
                         "name one with --codebook")
    name = named.pop()
    try:
        return load_codebook(name)
    except ConfigError:
        raise UsageError(f"the sheets name codebook {name!r}, which is not shipped with forumscope; give its "
                         "file with --codebook PATH") from None


def import_sheets(case: Any, paths: Sequence[str | Path], *, coder: str | None = None, codebook: Any = None,
                  blank: str = "zero", replace: bool = False) -> ImportResult:
    """Read coding sheets into ``human_codes``; every row is stored, unchanged, rejected or uncoded."""
    if blank not in ("zero", "missing"):
        raise UsageError(f"blank must be 'zero' or 'missing', got {blank!r}")
    if coder is not None:
        coder = coder.strip()
        if not coder or len(coder) > 100 or not coder.isprintable():
            raise UsageError("--coder must be printable text of 1 to 100 characters")
    paths = [Path(p) for p in paths]
    if not paths:
        raise UsageError("no sheet given")
    if len({str(p) for p in paths}) != len(paths):
        raise UsageError("the same sheet is named twice")
    cb = _resolve_codebook(paths, codebook)
    rejects: list[Reject] = []
    sheets: list[SheetCounts] = []
    rows: list[_Row] = []
    by_sheet: dict[str, SheetCounts] = {}
    for p in paths:
        counts = SheetCounts(str(p))
        rows += _parse_sheet(p, cb, coder, blank, counts, rejects, codebook is not None)
        sheets.append(counts)
        by_sheet[str(p)] = counts

    def reject(r: _Row, reason: str) -> None:
        by_sheet[r.sheet].rejected += 1
        rejects.append(Reject(r.sheet, r.line, reason))

    # duplicates within this import
    first: dict[tuple, _Row] = {}
    kept: list[_Row] = []
    for r in rows:
        if r.item in first:
            f = first[r.item]
            reject(r, f"duplicate_row: the same item and coder as {f.sheet} line {f.line}")
            continue
        first[r.item] = r
        kept.append(r)
    con = case.con
    # unknown posts
    if kept:
        ids = pa.table({"forum_id": pa.array([r.forum_id for r in kept], pa.string()),
                        "post_id": pa.array([r.post_id for r in kept], pa.string())})
        con.register("_coding_rows", ids)
        try:
            known = set(con.execute("SELECT DISTINCT r.forum_id, r.post_id FROM _coding_rows r JOIN posts p "
                                    "ON p.forum_id = r.forum_id AND p.id = r.post_id").fetchall())
        finally:
            con.unregister("_coding_rows")
        still = []
        for r in kept:
            if (r.forum_id, r.post_id) not in known:
                reject(r, f"unknown_post: no post {r.post_id!r} in forum {r.forum_id!r} of this case")
            else:
                still.append(r)
        kept = still
    # stored codes of the same items and coders
    stored: dict[tuple, dict[str, tuple[bool, str, int]]] = {}
    for f, p, s, c, code, v, sh, ln in con.execute(
            "SELECT forum_id, post_id, sentence_no, coder, code, value, sheet, line FROM human_codes "
            "WHERE codebook = ?", [cb.id]).fetchall():
        stored.setdefault((f, p, s, c), {})[code] = (bool(v), sh, ln)
    to_store: list[_Row] = []
    to_delete: list[_Row] = []
    for r in kept:
        old = stored.get(r.item)
        if old is None:
            to_store.append(r)
            continue
        if all(code in old and old[code][0] == v for code, v in r.values.items()):
            by_sheet[r.sheet].unchanged += 1
            by_sheet[r.sheet].coders.add(r.coder)
            continue
        if replace:
            to_delete.append(r)
            to_store.append(r)
            continue
        where = next(iter(old.values()))
        reject(r, f"conflict: coder {r.coder!r} already has other codes for this item (from {where[1]} line "
                  f"{where[2]}); use --replace to replace them")
    now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    cols: dict[str, list[Any]] = {k: [] for k in ("forum_id", "post_id", "sentence_no", "codebook",
                                                  "codebook_version", "code", "coder", "value", "sheet",
                                                  "line", "imported_at")}
    for r in to_store:
        by_sheet[r.sheet].stored += 1
        by_sheet[r.sheet].coders.add(r.coder)
        for code, v in r.values.items():
            by_sheet[r.sheet].values += 1
            for k, x in (("forum_id", r.forum_id), ("post_id", r.post_id), ("sentence_no", r.sentence_no),
                         ("codebook", cb.id), ("codebook_version", cb.version), ("code", code),
                         ("coder", r.coder), ("value", v), ("sheet", r.sheet), ("line", r.line),
                         ("imported_at", now)):
                cols[k].append(x)
    table = pa.table({
        "forum_id": pa.array(cols["forum_id"], pa.string()), "post_id": pa.array(cols["post_id"], pa.string()),
        "sentence_no": pa.array(cols["sentence_no"], pa.int64()), "codebook": pa.array(cols["codebook"], pa.string()),
        "codebook_version": pa.array(cols["codebook_version"], pa.string()),
        "code": pa.array(cols["code"], pa.string()), "coder": pa.array(cols["coder"], pa.string()),
        "value": pa.array(cols["value"], pa.bool_()), "sheet": pa.array(cols["sheet"], pa.string()),
        "line": pa.array(cols["line"], pa.int64()), "imported_at": pa.array(cols["imported_at"], pa.timestamp("us"))})
    con.execute("BEGIN TRANSACTION")
    try:
        for r in to_delete:
            con.execute("DELETE FROM human_codes WHERE codebook = ? AND forum_id = ? AND post_id = ? AND "
                        "sentence_no IS NOT DISTINCT FROM ? AND coder = ?",
                        [cb.id, r.forum_id, r.post_id, r.sentence_no, r.coder])
        if table.num_rows:
            con.register("_coding_new", table)
            try:
                con.execute("INSERT INTO human_codes BY NAME SELECT * FROM _coding_new")
            finally:
                con.unregister("_coding_new")
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    rejects.sort(key=lambda x: (paths.index(Path(x.sheet)) if Path(x.sheet) in paths else 0, x.line))
    return ImportResult(cb.id, cb.version, sheets, rejects)
