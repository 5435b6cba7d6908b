"""Forum-engine SQL dumps (phpBB, SMF, MyBB, vBulletin, XenForo, Discourse) and live databases.

``forumscope ingest forum.sql.gz --case DIR --format phpbb [--table-prefix phpbb_]`` (or
``--format sqldump`` / ``auto``: the engine is recognised from the dump's table names). The dump is
parsed as a stream (:mod:`forumscope.sqldump.parser`; nothing in it is executed), the engine's tables
are staged in a scratch DuckDB inside the case's ``.tmp`` folder (:mod:`forumscope.sqldump.staging`),
mapped to canonical records by the engine module (:mod:`forumscope.engines`) and handed to the loader
like every other format: validation, duplicates, rejects and reconciliation are the same.

A live database (``mysql://user@host:3306/db``, ``postgresql://user@host/db``) is read read-only
(:func:`read_database`) into the same staging.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import uuid
from pathlib import Path
from typing import Any, Callable, Iterator
from urllib.parse import unquote, urlsplit

import duckdb

from forumscope.engines.base import EngineSpec, MapContext, emit_tables, install_macros
from forumscope.engines.registry import ENGINES, available, get_engine
from forumscope.errors import InputError, UsageError
from forumscope.ingest.base import Reader, ReadOptions, Sink
from forumscope.sqldump.parser import DumpParser, Problem, Selection, Skipped, TableDef, open_dump_stream, \
    sniff_dialect
from forumscope.sqldump.staging import Stager, StageResult

__all__ = ["SqlDumpReader", "read_dump_into", "read_database", "is_db_url", "detect_engine", "mask_url"]

_URL = re.compile(r"^(mysql|mariadb|postgres|postgresql)(\+\w+)?://", re.I)
_SUFFIXES = (".sql", ".gz", ".zst", ".dump", ".txt", ".mysql", ".pgsql", ".psql")


def is_db_url(text: str) -> bool:
    """True for ``mysql://``, ``mariadb://``, ``postgres://`` or ``postgresql://`` connection URLs."""
    return bool(_URL.match(str(text)))


def mask_url(url: str) -> str:
    """The URL with any password replaced by ``***`` (for evidence, logs and messages)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(":" + parts.password + "@", ":***@", 1)
    return parts._replace(netloc=netloc).geturl()


def _forum_id_from(name: str) -> str:
    stem = Path(name).name
    changed = True
    while changed:
        changed = False
        for suf in _SUFFIXES:
            if stem.lower().endswith(suf) and len(stem) > len(suf):
                stem = stem[: -len(suf)]
                changed = True
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", stem).strip("-") or "forum"


# ----------------------------------------------------------------------------------------------- detection
def _table_names(path: Path, limit_bytes: int | None) -> tuple[set[str], str | None]:
    """Table names defined or filled in the first ``limit_bytes`` of a dump (all of it when None)."""
    names: set[str] = set()
    fh, _ = open_dump_stream(path)
    try:
        head = fh.read(65536)
        dialect = sniff_dialect(head)
        if dialect is None:
            return names, None
        import io

        class _Joined(io.RawIOBase):
            def __init__(self) -> None:
                self.first = head
                self.read_bytes = 0

            def readable(self) -> bool:
                return True

            def read(self, n: int = -1) -> bytes:  # type: ignore[override]
                if limit_bytes is not None and self.read_bytes >= limit_bytes:
                    return b""
                if self.first:
                    out, self.first = self.first, b""
                else:
                    out = fh.read(n if n and n > 0 else 1 << 20)
                self.read_bytes += len(out)
                return out

        def select(table: str, cols: list[str] | None) -> Selection | None:
            names.add(table)
            return None

        parser = DumpParser(_Joined(), select=select, dialect=dialect)  # type: ignore[arg-type]
        for ev in parser.parse():
            if isinstance(ev, TableDef):
                names.add(ev.name)
            elif isinstance(ev, Skipped):
                names.add(ev.table)
        return names, dialect
    finally:
        fh.close()


def _score(spec: EngineSpec, names: set[str], prefix: str | None = None) -> tuple[int, str]:
    """How many of the engine's signature tables ``names`` holds under the best prefix."""
    best = (0, "")
    candidates = {prefix} if prefix is not None else {""} | {
        n[: -len(t)] for n in names for t in spec.signature_tables if n.endswith(t) and n[: -len(t)].endswith("_")}
    for p in candidates:
        score = sum(1 for t in spec.signature_tables if p + t in names)
        if score > best[0] or (score == best[0] and p in spec.prefixes and best[1] not in spec.prefixes):
            best = (score, p)
    return best


def detect_engine(names: set[str], prefix: str | None = None) -> str | None:
    """The engine whose signature tables the set of table names matches best (at least 3, or all)."""
    best: tuple[float, str] | None = None
    for name, mod in available().items():
        spec: EngineSpec = mod.ENGINE
        score, _ = _score(spec, names, prefix)
        need = min(3, len(spec.signature_tables))
        if score >= need:
            frac = score / max(1, len(spec.signature_tables))
            if best is None or frac > best[0]:
                best = (frac, name)
    return best[1] if best else None


# ----------------------------------------------------------------------------------------------- reader
class SqlDumpReader(Reader):
    """A forum-engine SQL dump; ``engine`` None means recognise it from the table names."""

    name = "sqldump"
    description = ("SQL dump of a forum database (mysqldump or pg_dump plain; plain, .gz or .zst): phpBB, SMF, "
                   "MyBB, vBulletin, XenForo, Discourse")
    engine: str | None = None

    def detect(self, path: Path) -> bool:
        if not path.is_file():
            return False
        try:
            fh, _ = open_dump_stream(path)
            try:
                head = fh.read(65536)
            finally:
                fh.close()
        except (OSError, EOFError, ValueError):
            return False
        except Exception:  # noqa: BLE001 - a corrupt compressed file is not a dump
            return False
        if sniff_dialect(head) is None or not re.search(rb"CREATE TABLE|INSERT INTO|COPY \S+", head, re.I):
            return False
        if self.engine is None:
            return True
        names, _ = _table_names(path, 64 << 20)
        return detect_engine(names) == self.engine

    def read(self, path: Path, sink: Sink, options: ReadOptions) -> None:
        read_dump_into(path, sink, options, engine=self.engine)

    def read_url(self, url: str, sink: Sink, options: ReadOptions) -> None:
        read_database(url, sink, options, engine=self.engine)


def _make_reader(engine: str) -> type[SqlDumpReader]:
    cls = type(f"{engine.capitalize()}DumpReader", (SqlDumpReader,), {
        "name": engine, "engine": engine,
        "description": f"{engine} database: SQL dump (plain, .gz, .zst) or live database URL"})
    return cls


PhpbbDumpReader = _make_reader("phpbb")
SmfDumpReader = _make_reader("smf")
MybbDumpReader = _make_reader("mybb")
VbulletinDumpReader = _make_reader("vbulletin")
XenforoDumpReader = _make_reader("xenforo")
DiscourseDumpReader = _make_reader("discourse")


# ----------------------------------------------------------------------------------------------- plumbing
def _work_dir(sink: Sink) -> Path:
    """A scratch folder inside the case's .tmp (found through the loader's DuckDB temp_directory)."""
    con = getattr(sink, "con", None)
    base: Path | None = None
    if con is not None:
        try:
            tmp = con.execute("SELECT current_setting('temp_directory')").fetchall()[0][0]
            if tmp and Path(tmp).is_absolute() and Path(tmp).is_dir():  # a case's .tmp (not a dry run's default)
                base = Path(tmp)
        except duckdb.Error:
            base = None
    if base is None:
        return Path(tempfile.mkdtemp(prefix="forumscope-sqldump-"))
    d = base / f"sqldump-{uuid.uuid4().hex[:8]}"
    d.mkdir(parents=True, exist_ok=True)
    return d


def _case_key(sink: Sink) -> bytes | None:
    """The case's pseudonym key (only read when the case asks for contact pseudonyms)."""
    con = getattr(sink, "con", None)
    if con is None:
        return None
    try:
        rows = con.execute("SELECT path FROM duckdb_databases() WHERE database_name = current_database()").fetchall()
    except duckdb.Error:
        return None
    if not rows or not rows[0][0]:
        return None
    key = Path(rows[0][0]).parent / "pseudonym.key"
    return key.read_bytes().strip() if key.is_file() else None


def _settings(sink: Sink) -> dict[str, Any]:
    from forumscope.store.settings import DEFAULTS

    return getattr(sink, "settings", None) or DEFAULTS


def _notice(sink: Sink, text: str) -> None:
    fn = getattr(sink, "notice", None)
    if fn is not None:
        fn(text)


def _spec_and_module(engine: str) -> tuple[EngineSpec, Any]:
    try:
        module = get_engine(engine)
    except ModuleNotFoundError as exc:
        raise UsageError(f"the {engine} mapping is not available in this installation ({exc})") from None
    return module.ENGINE, module


def _context(spec: EngineSpec, sink: Sink, options: ReadOptions, source: str, work: Path,
             stage: StageResult) -> MapContext:
    settings = _settings(sink)
    want_contacts = bool(settings.get("privacy", {}).get("store_contact_pseudonyms", False))
    return MapContext(spec=spec, forum_id=options.forum_id or _forum_id_from(source), source=source,
                      prefix=stage.prefix, forum_name=options.forum_name, tables=stage.tables, rows=stage.rows,
                      settings=settings, work_dir=work, key=_case_key(sink) if want_contacts else None)


def _scratch(work: Path, settings: dict[str, Any]) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(str(work / "stage.duckdb"), config={"memory_limit": str(settings["duckdb"]["memory_limit"])})
    con.execute("SET TimeZone='UTC'")
    con.execute("SET enable_progress_bar = false")
    con.execute("SET preserve_insertion_order = false")  # staging order carries no meaning (rowid stays unique)
    con.execute(f"SET temp_directory='{str(work / 'spill').replace(chr(39), chr(39) * 2)}'")
    threads = int(settings["duckdb"].get("threads") or 0)
    if threads:
        con.execute(f"SET threads = {threads}")
    return con


def _pseudonymiser(sink: Sink, settings: dict[str, Any]) -> tuple[Callable[[str, Any], str | None] | None,
                                                                  bytes | None]:
    """The keyed pseudonym function when the case asks for contact pseudonyms (and has a key), else None:
    contact columns are then never decoded at all."""
    want = bool(settings.get("privacy", {}).get("store_contact_pseudonyms", False))
    key = _case_key(sink) if want else None
    if key is None:
        if want:
            _notice(sink, "privacy.store_contact_pseudonyms is set but the case has no key here (dry run?): "
                          "e-mails and IPs are not kept")
        return None, None
    probe = MapContext(spec=None, forum_id="", source="", settings=settings, key=key)  # type: ignore[arg-type]
    return probe.pseudonym, key


def _finish(spec: EngineSpec, module: Any, con: duckdb.DuckDBPyConnection, stager: Stager, sink: Sink,
            options: ReadOptions, source: str, work: Path, rejected_rows: dict[str, int]) -> dict[str, Any]:
    stage = stager.finish()
    missing = [t for t in spec.required_tables if t not in stage.tables]
    if missing:
        seen = ", ".join(sorted(stage.source_names.values()) or sorted(stage.skipped)[:15]) or "none"
        raise InputError(f"not a {spec.title} database: no {', '.join(missing)} table "
                         f"(prefix {stage.prefix!r}; tables found: {seen}); check --format and --table-prefix",
                         path=source)
    ctx = _context(spec, sink, options, source, work, stage)
    install_macros(con)
    results = module.map_tables(con, ctx)
    counts = emit_tables(con, ctx, results, sink)
    # what was read and what was not
    if stage.prefix:
        _notice(sink, f"{source}: {spec.name} tables with prefix {stage.prefix!r}")
    skipped = sorted(stage.skipped.items())
    if skipped:
        listed = "; ".join(f"{name} ({why}{', ' + _size(n) if n else ''})" for name, (n, why) in skipped[:40])
        more = f"; and {len(skipped) - 40} more" if len(skipped) > 40 else ""
        _notice(sink, f"{source}: {len(skipped)} tables not read: {listed}{more}")
        for name, (n, why) in skipped:
            sink.skipped(source, f"table {name} not read ({why})")
    for table, cols in stage.missing_columns.items():
        _notice(sink, f"{source}: {stage.source_names.get(table, table)} lacks columns {', '.join(cols)} "
                      "(an older or modified schema): mapped as empty")
    for (table, column, kind), n in sorted(stage.charset.items()):
        what = {"latin1_as_utf8": "repaired from latin1-read-as-UTF-8 mojibake",
                "not_utf8": "were not valid UTF-8 and were read as Windows-1252",
                "binary_as_hex": "were binary and are kept as hex"}.get(kind, kind)
        _notice(sink, f"{source}: charset: {n:,} values of {stage.source_names.get(table, table)}.{column} {what}")
    for note in stage.notices + ctx.notices:
        _notice(sink, f"{source}: {note}")
    for table, rows in sorted(stage.rows.items()):
        target = spec.target_of(table)
        if target and target in counts and counts[target] < rows - rejected_rows.get(table, 0):
            _notice(sink, f"{source}: {rows - counts[target]:,} of {rows:,} {stage.source_names.get(table, table)} "
                          f"rows are not {target} records (filtered by the {spec.name} mapping; see "
                          f"docs/engines/{spec.name}.md)")
    return {"stage": stage, "counts": counts, "context": ctx}


def _size(n: int) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:,.0f} {unit}" if unit == "bytes" else f"{n:,.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return str(n)


def read_dump_into(path: Path, sink: Sink, options: ReadOptions, *, engine: str | None = None) -> dict[str, Any]:
    """Parse, stage, map and emit one dump (see the module docstring). Returns what happened (for tests)."""
    source = options.label(path)
    prefix = options.extra.get("table_prefix")
    if engine is None:
        names, dialect = _table_names(path, 64 << 20)
        engine = detect_engine(names, prefix)
        if engine is None:
            names, dialect = _table_names(path, None)
            engine = detect_engine(names, prefix)
        if engine is None:
            raise InputError("a SQL dump, but not of a known forum engine (tables: "
                             f"{', '.join(sorted(names)[:20]) or 'none'}); pass --format with one of: "
                             f"{', '.join(ENGINES)} (and --table-prefix if needed)", path=source)
    spec, module = _spec_and_module(engine)
    sink.evidence(path, display=source)
    settings = _settings(sink)
    work = _work_dir(sink)
    con = _scratch(work, settings)
    pseudonym, _ = _pseudonymiser(sink, settings)
    stager = Stager(con, spec, prefix=prefix, pseudonym=pseudonym,
                    repair_charset=bool(options.extra.get("charset_repair", True)))
    rejected: dict[str, int] = {}
    problems: list[str] = []

    def on_problem(p: Problem) -> None:
        hit = stager.split(p.table) if p.table else None
        if p.record and hit is not None:
            target = spec.target_of(hit[1])
            rejected[hit[1]] = rejected.get(hit[1], 0) + 1
            sink.reject(target, source, p.reason, offset=p.offset, excerpt=p.excerpt)
        elif p.record and p.table is None:
            sink.reject(None, source, p.reason, offset=p.offset, excerpt=p.excerpt)
        else:
            where = f" ({p.table})" if p.table else ""
            if p.record:
                problems.append(f"byte {p.offset}{where}: {p.reason} (table not read)")
            else:
                problems.append(f"byte {p.offset}{where}: {p.reason}")

    fh, compression = open_dump_stream(path, progress=sink.progress)
    try:
        parser = DumpParser(fh, select=stager.select, dialect=None,
                            max_record_bytes=int(settings["ingest"]["max_record_bytes"]))
        parser.stats.compression = compression
        stager.consume(parser.parse(), on_problem)
        if parser.read_error:  # a damaged compressed stream: everything before it was read
            problems.append(f"byte {parser.base + len(parser.buf)}: the {compression} stream is damaged "
                            f"({parser.read_error}); the dump was read up to there")
    finally:
        fh.close()
    try:
        for text in problems[:50]:
            _notice(sink, f"{source}: {text}")
        if len(problems) > 50:
            _notice(sink, f"{source}: and {len(problems) - 50} more problems")
        try:
            out = _finish(spec, module, con, stager, sink, options, source, work, rejected)
        except InputError as exc:
            if parser.read_error:
                raise InputError(f"{exc.message} (the {compression} stream is damaged: {parser.read_error})",
                                 path=source) from None
            raise
        out["parser"] = parser.stats
        out["engine"] = engine
        out["problems"] = problems
        return out
    finally:
        con.close()
        shutil.rmtree(work, ignore_errors=True)


# ----------------------------------------------------------------------------------------------- live DB
def _connect(url: str) -> tuple[Any, str]:
    """A read-only DB-API connection for a URL, and the dialect."""
    parts = urlsplit(url)
    scheme = parts.scheme.split("+")[0].lower()
    user = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password else os.environ.get("FORUMSCOPE_DB_PASSWORD")
    db = parts.path.lstrip("/") or None
    from urllib.parse import parse_qs

    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    if scheme in ("mysql", "mariadb"):
        try:
            import pymysql
        except ImportError as exc:  # pragma: no cover - the db extra
            raise UsageError("reading a MySQL database needs pymysql: pip install 'forumscope[db]'") from exc
        kw: dict[str, Any] = {"user": user, "password": password or "", "database": db, "charset": "utf8mb4",
                              "use_unicode": False, "cursorclass": pymysql.cursors.SSCursor}
        if query.get("unix_socket") or query.get("socket"):
            kw["unix_socket"] = query.get("unix_socket") or query.get("socket")
        else:
            kw["host"] = parts.hostname or "localhost"
            kw["port"] = parts.port or 3306
        try:
            con = pymysql.connect(**kw)
        except pymysql.MySQLError as exc:
            raise InputError(f"cannot connect: {exc}", path=mask_url(url)) from None
        with con.cursor() as cur:
            cur.execute("SET SESSION TRANSACTION READ ONLY")
            cur.execute("START TRANSACTION READ ONLY")
        return con, "mysql"
    if scheme in ("postgres", "postgresql"):
        try:
            import psycopg
        except ImportError as exc:  # pragma: no cover
            raise UsageError("reading a PostgreSQL database needs psycopg: pip install 'forumscope[db]'") from exc
        conninfo = url.replace(parts.scheme + "://", "postgresql://", 1)
        try:
            con = psycopg.connect(conninfo)
        except psycopg.Error as exc:
            raise InputError(f"cannot connect: {str(exc).splitlines()[0]}", path=mask_url(url)) from None
        con.read_only = True
        return con, "postgres"
    raise UsageError(f"unsupported database URL scheme {parts.scheme!r}; use mysql:// or postgresql://")


def _db_tables(con: Any, dialect: str) -> dict[str, list[str]]:
    """Table -> columns of the connected database (the current schema)."""
    cur = con.cursor()
    if dialect == "mysql":
        cur.execute("SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = DATABASE() "
                    "ORDER BY table_name, ordinal_position")
    else:
        cur.execute("SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = "
                    "current_schema() ORDER BY table_name, ordinal_position")
    out: dict[str, list[str]] = {}
    for t, c in cur.fetchall():
        t = t.decode() if isinstance(t, bytes) else t
        c = c.decode() if isinstance(c, bytes) else c
        out.setdefault(t, []).append(c)
    cur.close()
    return out


def _db_rows(con: Any, dialect: str, table: str, columns: list[str], batch: int) -> Iterator[list[tuple]]:
    q = "`" if dialect == "mysql" else '"'
    cols = ", ".join(f"{q}{c}{q}" for c in columns)
    cur = con.cursor() if dialect == "mysql" else con.cursor(name=f"fs_{uuid.uuid4().hex[:8]}")
    try:
        cur.execute(f"SELECT {cols} FROM {q}{table}{q}")
        while True:
            rows = cur.fetchmany(batch)
            if not rows:
                break
            yield rows
    finally:
        cur.close()


def read_database(url: str, sink: Sink, options: ReadOptions, *, engine: str | None = None,
                  batch: int = 20_000) -> dict[str, Any]:
    """Read a live database (read-only) into the same staging as a dump. Only SELECTs on the engine's known
    tables and columns are issued; the session is read-only."""
    import pyarrow as pa

    source = mask_url(url)
    con_db, dialect = _connect(url)
    try:
        tables = _db_tables(con_db, dialect)
        prefix = options.extra.get("table_prefix")
        if engine is None:
            engine = detect_engine(set(tables), prefix)
            if engine is None:
                raise InputError("not a database of a known forum engine; pass --format", path=source)
        spec, module = _spec_and_module(engine)
        settings = _settings(sink)
        work = _work_dir(sink)
        con = _scratch(work, settings)
        pseudonym, _ = _pseudonymiser(sink, settings)
        stager = Stager(con, spec, prefix=prefix, pseudonym=pseudonym,
                        repair_charset=bool(options.extra.get("charset_repair", True)))
        try:
            for table, cols in tables.items():
                sel = stager.select(table, cols)
                if sel is None:
                    continue
                names = sel.names if sel.names is not None else [sel.columns[i] for i in sel.keep]
                real = [sel.columns[i] for i in sel.keep]
                for rows in _db_rows(con_db, dialect, table, real, batch):
                    data = {n: [r[i] for r in rows] for i, n in enumerate(names)}
                    arrays = {n: pa.array([_db_value(v) for v in vals], pa.binary()) for n, vals in data.items()}
                    stager.add_arrow(table, pa.table(arrays) if arrays else pa.table({"_offset": pa.nulls(len(rows), pa.int64())}))
            _notice(sink, f"{source}: read from a live {dialect} database (read-only); no evidence hash for a database")
            out = _finish(spec, module, con, stager, sink, options, source, work, {})
            out["engine"] = engine
            return out
        finally:
            con.close()
            shutil.rmtree(work, ignore_errors=True)
    finally:
        try:
            con_db.rollback()
        finally:
            con_db.close()


def _db_value(v: Any) -> bytes | None:
    """A DB-API value as bytes (text as UTF-8), decoded later with the same charset rules as a dump."""
    if v is None or isinstance(v, bytes):
        return v
    if isinstance(v, (bytearray, memoryview)):
        return bytes(v)
    if isinstance(v, str):
        return v.encode("utf-8", "surrogatepass")
    import datetime as dt

    if isinstance(v, dt.datetime):
        if v.tzinfo is not None:
            v = v.astimezone(dt.timezone.utc).replace(tzinfo=None)
        return v.strftime("%Y-%m-%d %H:%M:%S").encode()
    if isinstance(v, bool):
        return b"1" if v else b"0"
    return str(v).encode()
