"""Writers for SQL dumps as the real dump tools write them: mysqldump (MySQL/MariaDB) and pg_dump (plain).

Used by ``forumscope synth --as ENGINE`` (``forumscope.synth.engines.<engine>.write_dump``) to turn a
synthetic forum into an engine's database dump, and by tests that hand-build dumps.

Values handed to the writers are Python values: ``None`` (NULL), ``bool``, ``int``, ``float``, ``str``,
``bytes`` (written as a hex literal / bytea) or ``datetime`` (written as ``'YYYY-MM-DD HH:MM:SS'``).

MySQL (:class:`MySQLDumpWriter`), as ``mysqldump --extended-insert`` writes it::

    w = MySQLDumpWriter(fh)                      # fh: a text file opened with open_dump(path, "wt")
    w.header()
    w.create_table("phpbb_users", "CREATE TABLE `phpbb_users` (...) ENGINE=InnoDB ...")
    w.insert("phpbb_users", ["user_id", "username"], [(1, "ann"), (2, "bob")])
    w.footer()

Strings are escaped like ``mysql_real_escape_string``: ``\\0``, ``\\n``, ``\\r``, ``\\\\``, ``\\'``,
``\\"`` and ``\\Z`` (0x1a); every other character is written as is (UTF-8). Rows are grouped into
multi-row ``INSERT INTO `t` VALUES (...),(...);`` statements of at most ``max_statement_bytes``
(like mysqldump's ``net_buffer_length``; a single row longer than that gets a statement of its own),
between ``LOCK TABLES ... WRITE`` / ``UNLOCK TABLES`` and ``/*!40000 ALTER TABLE ... DISABLE KEYS */``.

PostgreSQL (:class:`PostgresDumpWriter`), as ``pg_dump`` (plain format) writes it::

    w = PostgresDumpWriter(fh)
    w.header()
    w.create_table("public.posts", "CREATE TABLE public.posts (...);")
    w.copy("public.posts", ["id", "raw"], rows)   # COPY public.posts (id, raw) FROM stdin; ... \\.
    w.footer()

COPY text format: columns separated by a tab, NULL as ``\\N``, and backslash, newline, carriage return,
tab, backspace, form feed and vertical tab escaped as ``\\\\``, ``\\n``, ``\\r``, ``\\t``, ``\\b``,
``\\f``, ``\\v``; ``bytea`` values as ``\\\\x<hex>``; booleans as ``t``/``f``.
"""

from __future__ import annotations

import datetime as dt
import gzip
import io
import math
from pathlib import Path
from typing import IO, Any, Iterable, Sequence

__all__ = [
    "mysql_escape", "mysql_literal", "mysql_ident", "pg_copy_value", "pg_literal", "pg_ident",
    "MySQLDumpWriter", "PostgresDumpWriter", "open_dump",
]

_MYSQL_ESC = str.maketrans({"\0": "\\0", "\n": "\\n", "\r": "\\r", "\\": "\\\\", "'": "\\'", '"': '\\"',
                            "\x1a": "\\Z"})
_PG_COPY_ESC = str.maketrans({"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\b": "\\b", "\f": "\\f",
                              "\v": "\\v"})


def mysql_escape(text: str) -> str:
    """The body of a MySQL string literal (without quotes), escaped like ``mysql_real_escape_string``."""
    return text.translate(_MYSQL_ESC)


def _time_text(v: dt.datetime | dt.date) -> str:
    if isinstance(v, dt.datetime):
        if v.tzinfo is not None:
            v = v.astimezone(dt.timezone.utc).replace(tzinfo=None)
        return v.strftime("%Y-%m-%d %H:%M:%S")
    return v.isoformat()


def mysql_literal(v: Any) -> str:
    """One value as a MySQL literal: NULL, a number, ``0x..`` for bytes, or a quoted escaped string."""
    if v is None:
        return "NULL"
    if v is True:
        return "1"
    if v is False:
        return "0"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if math.isnan(v) or math.isinf(v):
            return "NULL"
        return repr(v)
    if isinstance(v, (bytes, bytearray, memoryview)):
        b = bytes(v)
        return "0x" + b.hex().upper() if b else "''"
    if isinstance(v, (dt.datetime, dt.date)):
        return "'" + _time_text(v) + "'"
    return "'" + str(v).translate(_MYSQL_ESC) + "'"


def mysql_ident(name: str) -> str:
    """A backquoted MySQL identifier."""
    return "`" + name.replace("`", "``") + "`"


def pg_copy_value(v: Any) -> str:
    """One value in PostgreSQL COPY text format (``\\N`` for NULL)."""
    if v is None:
        return "\\N"
    if v is True:
        return "t"
    if v is False:
        return "f"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if math.isnan(v):
            return "NaN"
        return repr(v)
    if isinstance(v, (bytes, bytearray, memoryview)):
        return "\\\\x" + bytes(v).hex()
    if isinstance(v, (dt.datetime, dt.date)):
        return _time_text(v)
    return str(v).translate(_PG_COPY_ESC)


def pg_literal(v: Any) -> str:
    """One value as a PostgreSQL literal for INSERT statements (``pg_dump --inserts`` style)."""
    if v is None:
        return "NULL"
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, (int, float)):
        return pg_copy_value(v) if not (isinstance(v, float) and math.isnan(v)) else "'NaN'"
    if isinstance(v, (bytes, bytearray, memoryview)):
        return "'\\x" + bytes(v).hex() + "'"
    if isinstance(v, (dt.datetime, dt.date)):
        return "'" + _time_text(v) + "'"
    return "'" + str(v).replace("'", "''") + "'"


def pg_ident(name: str) -> str:
    """A PostgreSQL identifier, quoted only when needed (``schema.table`` is kept as two parts)."""
    parts = name.split(".")
    out = []
    for p in parts:
        if p and (p[0].isalpha() or p[0] == "_") and p.replace("_", "").isalnum() and p == p.lower():
            out.append(p)
        else:
            out.append('"' + p.replace('"', '""') + '"')
    return ".".join(out)


def open_dump(path: str | Path, mode: str = "wt") -> IO[Any]:
    """Open a dump file for writing or reading; ``.gz`` and ``.zst`` are compressed by name.

    Text modes use UTF-8 and ``\\n`` line ends (as the dump tools write them)."""
    p = Path(path)
    binary = "b" in mode
    raw: IO[bytes]
    if p.suffix == ".gz":
        raw = gzip.open(p, mode.replace("t", "").replace("b", "") + "b", compresslevel=6)  # type: ignore[assignment]
    elif p.suffix == ".zst":
        import zstandard

        if "r" in mode:
            raw = zstandard.ZstdDecompressor().stream_reader(open(p, "rb"), closefd=True)  # type: ignore[assignment]
        else:
            raw = zstandard.ZstdCompressor(level=3).stream_writer(open(p, "wb"), closefd=True)  # type: ignore[assignment]
    else:
        raw = open(p, mode.replace("t", "").replace("b", "") + "b", buffering=1 << 20)
    if binary:
        return raw
    return io.TextIOWrapper(raw, encoding="utf-8", newline="\n", write_through=False)  # type: ignore[arg-type]


class MySQLDumpWriter:
    """Writes a dump in the shape of ``mysqldump --opt`` (the default) output. See the module docstring."""

    def __init__(self, fh: IO[str], *, database: str | None = None, server: str = "10.11.6-MariaDB",
                 max_statement_bytes: int = 1 << 20, charset: str = "utf8mb4"):
        self.fh = fh
        self.database = database
        self.server = server
        self.max_statement_bytes = max_statement_bytes
        self.charset = charset
        self.rows_written: dict[str, int] = {}

    def header(self) -> None:
        w = self.fh.write
        w(f"-- MySQL dump 10.19  Distrib {self.server}, for debian-linux-gnu (x86_64)\n--\n")
        w(f"-- Host: localhost    Database: {self.database or ''}\n")
        w("-- ------------------------------------------------------\n")
        w(f"-- Server version\t{self.server}\n\n")
        w("/*!40101 SET @OLD_CHARACTER_SET_CLIENT=@@CHARACTER_SET_CLIENT */;\n")
        w("/*!40101 SET @OLD_CHARACTER_SET_RESULTS=@@CHARACTER_SET_RESULTS */;\n")
        w("/*!40101 SET @OLD_COLLATION_CONNECTION=@@COLLATION_CONNECTION */;\n")
        w(f"/*!40101 SET NAMES {self.charset} */;\n")
        w("/*!40103 SET @OLD_TIME_ZONE=@@TIME_ZONE */;\n")
        w("/*!40103 SET TIME_ZONE='+00:00' */;\n")
        w("/*!40014 SET @OLD_UNIQUE_CHECKS=@@UNIQUE_CHECKS, UNIQUE_CHECKS=0 */;\n")
        w("/*!40014 SET @OLD_FOREIGN_KEY_CHECKS=@@FOREIGN_KEY_CHECKS, FOREIGN_KEY_CHECKS=0 */;\n")
        w("/*!40101 SET @OLD_SQL_MODE=@@SQL_MODE, SQL_MODE='NO_AUTO_VALUE_ON_ZERO' */;\n")
        w("/*!40111 SET @OLD_SQL_NOTES=@@SQL_NOTES, SQL_NOTES=0 */;\n\n")

    def create_table(self, name: str, ddl: str) -> None:
        """``DROP TABLE IF EXISTS`` and the given ``CREATE TABLE`` statement (without or with its ``;``)."""
        w = self.fh.write
        w(f"--\n-- Table structure for table {mysql_ident(name)}\n--\n\n")
        w(f"DROP TABLE IF EXISTS {mysql_ident(name)};\n")
        w("/*!40101 SET @saved_cs_client     = @@character_set_client */;\n")
        w(f"/*!40101 SET character_set_client = {self.charset} */;\n")
        w(ddl.rstrip().rstrip(";") + ";\n")
        w("/*!40101 SET character_set_client = @saved_cs_client */;\n\n")

    def insert(self, table: str, columns: Sequence[str] | None, rows: Iterable[Sequence[Any]], *,
               complete_insert: bool = False) -> int:
        """Write ``rows`` as extended INSERTs (between LOCK/UNLOCK TABLES). ``columns`` are named in each
        statement when ``complete_insert`` (``mysqldump --complete-insert``). Returns rows written."""
        w = self.fh.write
        t = mysql_ident(table)
        w(f"--\n-- Dumping data for table {t}\n--\n\n")
        w(f"LOCK TABLES {t} WRITE;\n/*!40000 ALTER TABLE {t} DISABLE KEYS */;\n")
        head = f"INSERT INTO {t} " + (
            "(" + ",".join(mysql_ident(c) for c in columns) + ") " if complete_insert and columns else "") + "VALUES "
        n = 0
        size = 0
        lit = mysql_literal
        for row in rows:
            tup = "(" + ",".join([lit(v) for v in row]) + ")"
            if size and size + len(tup) + 1 > self.max_statement_bytes:
                w(";\n")
                size = 0
            if size == 0:
                w(head)
                size = len(head)
            else:
                w(",")
                size += 1
            w(tup)
            size += len(tup)
            n += 1
        if size:
            w(";\n")
        w(f"/*!40000 ALTER TABLE {t} ENABLE KEYS */;\nUNLOCK TABLES;\n\n")
        self.rows_written[table] = self.rows_written.get(table, 0) + n
        return n

    def footer(self) -> None:
        w = self.fh.write
        w("/*!40103 SET TIME_ZONE=@OLD_TIME_ZONE */;\n\n")
        w("/*!40101 SET SQL_MODE=@OLD_SQL_MODE */;\n")
        w("/*!40014 SET FOREIGN_KEY_CHECKS=@OLD_FOREIGN_KEY_CHECKS */;\n")
        w("/*!40014 SET UNIQUE_CHECKS=@OLD_UNIQUE_CHECKS */;\n")
        w("/*!40101 SET CHARACTER_SET_CLIENT=@OLD_CHARACTER_SET_CLIENT */;\n")
        w("/*!40101 SET CHARACTER_SET_RESULTS=@OLD_CHARACTER_SET_RESULTS */;\n")
        w("/*!40101 SET COLLATION_CONNECTION=@OLD_COLLATION_CONNECTION */;\n")
        w("/*!40111 SET SQL_NOTES=@OLD_SQL_NOTES */;\n\n")
        w("-- Dump completed\n")


class PostgresDumpWriter:
    """Writes a dump in the shape of ``pg_dump`` plain-format output. See the module docstring."""

    def __init__(self, fh: IO[str], *, server: str = "15.5"):
        self.fh = fh
        self.server = server
        self.rows_written: dict[str, int] = {}

    def header(self) -> None:
        w = self.fh.write
        w("--\n-- PostgreSQL database dump\n--\n\n")
        w(f"-- Dumped from database version {self.server}\n-- Dumped by pg_dump version {self.server}\n\n")
        w("SET statement_timeout = 0;\nSET lock_timeout = 0;\nSET idle_in_transaction_session_timeout = 0;\n")
        w("SET client_encoding = 'UTF8';\nSET standard_conforming_strings = on;\n")
        w("SELECT pg_catalog.set_config('search_path', '', false);\n")
        w("SET check_function_bodies = false;\nSET xmloption = content;\nSET client_min_messages = warning;\n")
        w("SET row_security = off;\n\nSET default_tablespace = '';\n\nSET default_table_access_method = heap;\n\n")

    def create_table(self, name: str, ddl: str) -> None:
        """The given ``CREATE TABLE`` statement, with pg_dump's comment header."""
        w = self.fh.write
        short = name.split(".")[-1]
        w(f"--\n-- Name: {short}; Type: TABLE; Schema: public; Owner: -\n--\n\n")
        w(ddl.rstrip().rstrip(";") + ";\n\n\n")

    def copy(self, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
        """A ``COPY table (cols) FROM stdin;`` block ending with ``\\.``. Returns rows written."""
        w = self.fh.write
        short = table.split(".")[-1]
        w(f"--\n-- Data for Name: {short}; Type: TABLE DATA; Schema: public; Owner: -\n--\n\n")
        w(f"COPY {pg_ident(table)} ({', '.join(pg_ident(c) for c in columns)}) FROM stdin;\n")
        n = 0
        val = pg_copy_value
        for row in rows:
            w("\t".join([val(v) for v in row]))
            w("\n")
            n += 1
        w("\\.\n\n\n")
        self.rows_written[table] = self.rows_written.get(table, 0) + n
        return n

    def insert(self, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
        """One ``INSERT INTO table (cols) VALUES (...);`` per row (``pg_dump --column-inserts``)."""
        w = self.fh.write
        head = f"INSERT INTO {pg_ident(table)} ({', '.join(pg_ident(c) for c in columns)}) VALUES ("
        n = 0
        for row in rows:
            w(head + ", ".join(pg_literal(v) for v in row) + ");\n")
            n += 1
        w("\n\n")
        self.rows_written[table] = self.rows_written.get(table, 0) + n
        return n

    def raw(self, sql: str) -> None:
        """Any other statement (ALTER TABLE ... ADD CONSTRAINT, CREATE INDEX, SELECT setval ...)."""
        self.fh.write(sql.rstrip() + "\n\n")

    def footer(self) -> None:
        self.fh.write("--\n-- PostgreSQL database dump complete\n--\n\n")
