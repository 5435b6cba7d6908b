"""The case folder: one investigation or study.

A case is a folder holding:

- ``case.duckdb``: every table of the model, provenance and analysis results;
- ``case.toml``: settings (privacy, audience defaults, ingest limits);
- ``pseudonym.key``: the per-case HMAC secret, created once and never overwritten;
- ``audit.log``: append-only NDJSON, one line per command run against the case;
- ``evidence.csv``: the evidence manifest (SHA-256, size, path, time) of every input.

Nothing outside the folder is written (DuckDB spills to ``.tmp/`` inside it).
"""

from __future__ import annotations

import csv
import datetime as dt
import getpass
import hashlib
import hmac
import json
import os
import secrets
import tomllib
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import tomli_w

from forumscope import __version__
from forumscope.errors import CaseError, ConfigError
from forumscope.model.schema import TABLES, ddl
from forumscope.store.settings import DEFAULTS, merge_settings

DB_NAME = "case.duckdb"
CONFIG_NAME = "case.toml"
KEY_NAME = "pseudonym.key"
AUDIT_NAME = "audit.log"
EVIDENCE_NAME = "evidence.csv"
EVIDENCE_FIELDS = ["sha256", "size_bytes", "path", "member", "seen_at", "ingest_run_id", "status"]
SCHEMA_VERSION = 1


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


def connect(path: str | Path, *, memory_limit: str, threads: int, temp_dir: Path | None,
            read_only: bool = False) -> duckdb.DuckDBPyConnection:
    config: dict[str, Any] = {"memory_limit": memory_limit}
    if threads:
        config["threads"] = threads
    try:
        con = duckdb.connect(str(path), read_only=read_only, config=config)
    except duckdb.IOException as exc:  # locked by another process, unreadable file
        raise CaseError(f"cannot open the case database: {exc}", path=str(path)) from exc
    con.execute("SET TimeZone='UTC'")
    con.execute("SET enable_progress_bar = false")  # the CLI shows progress; the library never prints
    if temp_dir is not None:
        con.execute(f"SET temp_directory='{str(temp_dir).replace(chr(39), chr(39) * 2)}'")
    return con


class Case:
    """An open case folder. Use :func:`create_case` or :func:`open_case`."""

    def __init__(self, path: Path, settings: dict[str, Any], *, read_only: bool = False):
        self.path = path
        self.settings = settings
        self.read_only = read_only
        self._con: duckdb.DuckDBPyConnection | None = None

    # ------------------------------------------------------------- database
    @property
    def db_path(self) -> Path:
        return self.path / DB_NAME

    @property
    def tmp_dir(self) -> Path:
        return self.path / ".tmp"

    @property
    def con(self) -> duckdb.DuckDBPyConnection:
        if self._con is None:
            self.tmp_dir.mkdir(exist_ok=True)
            self._con = connect(self.db_path, memory_limit=self.settings["duckdb"]["memory_limit"],
                                threads=self.settings["duckdb"]["threads"], temp_dir=self.tmp_dir,
                                read_only=self.read_only)
            if not self.read_only:
                ensure_schema(self._con)
        return self._con

    def close(self) -> None:
        if self._con is not None:
            self._con.close()
            self._con = None

    def __enter__(self) -> "Case":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def sql(self, query: str, params: list[Any] | None = None) -> pa.Table:
        """Run a query and return the result as an Arrow table."""
        rel = self.con.sql(query, params=params or None)
        if rel is None:  # a statement without a result
            return pa.table({})
        fetch = getattr(rel, "to_arrow_table", None) or rel.arrow  # DuckDB 2 renamed it
        return fetch()

    def table(self, name: str) -> pa.Table:
        """A whole table as Arrow (model, provenance or result table)."""
        self._check_table(name)
        return self.sql(f'SELECT * FROM "{name}"')

    def df(self, name: str):
        """A whole table as a pandas DataFrame (needs pandas)."""
        self._check_table(name)
        return self.con.execute(f'SELECT * FROM "{name}"').df()

    def tables(self) -> list[str]:
        return [r[0] for r in self.con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema='main' ORDER BY 1").fetchall()]

    def count(self, name: str) -> int:
        self._check_table(name)
        return int(self.con.execute(f'SELECT count(*) FROM "{name}"').fetchall()[0][0])

    def _check_table(self, name: str) -> None:
        if name not in self.tables():
            raise CaseError(f"no table named {name!r} in this case", path=str(self.path))

    # ------------------------------------------------------------- pseudonyms
    def ingest(self, sources: list[str | Path], fmt: str = "auto", **kwargs: Any):
        """Ingest sources into this case; see :func:`forumscope.ingest.run.ingest`."""
        from forumscope.ingest.run import ingest

        return ingest(sources, self, fmt, **kwargs)

    def pseudonym(self, forum_id: str, user_id: str) -> str:
        """Keyed pseudonym for a user: the same within a case, different across cases."""
        key = (self.path / KEY_NAME).read_bytes().strip()
        mac = hmac.new(key, f"{forum_id}\x1f{user_id}".encode(), hashlib.sha256).hexdigest()
        return "P-" + mac[:12]

    # ------------------------------------------------------------- audit, evidence
    def audit(self, command: str, argv: list[str], outcome: str, **extra: Any) -> None:
        """Append one line to the audit log (never rewritten)."""
        entry = {"time": utcnow().isoformat() + "Z", "command": command, "argv": argv,
                 "outcome": outcome, "user": _user(), "forumscope_version": __version__, **extra}
        fd = os.open(self.path / AUDIT_NAME, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        with os.fdopen(fd, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(entry, ensure_ascii=False) + "\n")

    def append_evidence(self, rows: list[dict[str, Any]]) -> None:
        path = self.path / EVIDENCE_NAME
        new = not path.exists()
        with open(path, "a", encoding="utf-8", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=EVIDENCE_FIELDS)
            if new:
                w.writeheader()
            for r in rows:
                w.writerow({k: r.get(k) for k in EVIDENCE_FIELDS})

    def save_settings(self) -> None:
        (self.path / CONFIG_NAME).write_text(tomli_w.dumps(self.settings), encoding="utf-8")


def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no user name in some containers
        return "unknown"


def ensure_schema(con: duckdb.DuckDBPyConnection) -> None:
    for table in TABLES.values():
        con.execute(ddl(table))
    con.execute("CREATE TABLE IF NOT EXISTS _meta (key VARCHAR, value VARCHAR)")
    if not con.execute("SELECT 1 FROM _meta WHERE key='schema_version'").fetchall():
        con.execute("INSERT INTO _meta VALUES ('schema_version', ?)", [str(SCHEMA_VERSION)])


def is_case(path: Path) -> bool:
    return (path / CONFIG_NAME).is_file()


def create_case(path: str | Path, *, name: str | None = None, settings: dict[str, Any] | None = None) -> Case:
    """Create a case folder (or open it when it already is one)."""
    p = Path(path)
    if is_case(p):
        return open_case(p)
    if p.exists() and any(p.iterdir()):
        raise CaseError("folder exists, is not empty and is not a case; choose a new folder", path=str(p))
    p.mkdir(parents=True, exist_ok=True)
    merged = merge_settings(DEFAULTS, settings or {})
    merged["case"]["name"] = name or p.resolve().name
    merged["case"]["created_at"] = utcnow().isoformat() + "Z"
    merged["case"]["forumscope_version"] = __version__
    key_path = p / KEY_NAME
    try:  # created once, never overwritten
        fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(32) + "\n")
    except FileExistsError:
        pass
    case = Case(p, merged)
    case.save_settings()
    (p / AUDIT_NAME).touch()
    case.con  # creates the database and schema
    return case


def open_case(path: str | Path, *, read_only: bool = False) -> Case:
    """Open an existing case folder."""
    p = Path(path)
    if not is_case(p):
        raise CaseError("not a forumscope case (no case.toml); create one with `forumscope ingest ... --case DIR`",
                        path=str(p))
    try:
        loaded = tomllib.loads((p / CONFIG_NAME).read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"case.toml is not valid TOML: {exc}", path=str(p / CONFIG_NAME)) from exc
    settings = merge_settings(DEFAULTS, loaded)
    if not (p / KEY_NAME).is_file():
        raise CaseError("the pseudonym key is missing; it is never re-created (pseudonyms would change)",
                        path=str(p / KEY_NAME))
    return Case(p, settings, read_only=read_only)
