"""A streaming parser for SQL dumps: mysqldump (MySQL/MariaDB) and pg_dump plain-format output.

Nothing from a dump is executed: the parser only recognises the statements that carry data
(``CREATE TABLE``, ``INSERT``/``REPLACE ... VALUES``, ``COPY ... FROM stdin`` blocks) and skips every
other statement (``SET``, ``LOCK``/``UNLOCK TABLES``, ``ALTER``, ``/*!...*/`` conditional comments,
triggers and routines between ``DELIMITER`` lines, functions in dollar quotes, ...) without looking
inside it.

It reads from a buffered binary stream in chunks and never holds more than one row (plus a chunk) in
memory: a single 1 GB ``INSERT`` line is parsed row by row, and a row larger than ``max_record_bytes``
is skipped in a streaming way and reported as a reject. Byte offsets are offsets in the
(decompressed) stream.

Events (:meth:`DumpParser.parse` yields them in dump order):

- :class:`TableDef` for each ``CREATE TABLE`` (name, columns, types);
- :class:`Rows`: a batch of rows of one table, only the columns the ``select`` callback asked for,
  each value ``None`` (NULL), ``bytes`` (the text of a string or number, escapes resolved, not yet
  decoded: usually UTF-8), :class:`Binary` (a hex, bit or ``_binary`` literal) or ``str`` (a string
  with another charset introducer, already decoded), with the byte offset of every row;
- :class:`Skipped`: a data statement of a table the callback did not want (name and bytes);
- :class:`Problem`: a row or statement that could not be read (reason, byte offset, excerpt): the
  caller records it as a reject. Nothing is silently dropped.

MySQL literals understood: ``'...'`` with backslash escapes (``\\0 \\' \\" \\b \\n \\r \\t \\Z \\\\``,
``\\%`` and ``\\_`` kept with their backslash, any other ``\\x`` -> ``x``) and doubled quotes,
``"..."`` strings, ``NULL``, numbers, ``0x...``, ``X'...'``, ``b'...'``, ``N'...'`` and charset
introducers (``_binary``, ``_utf8mb4``, ``_latin1``, ...). PostgreSQL: standard strings (``''``),
``E'...'`` strings with C escapes, COPY text format (``\\N``, ``\\b \\f \\n \\r \\t \\v \\\\``, octal
``\\ooo``, hex ``\\xhh``).
"""

from __future__ import annotations

import codecs
import gzip
import io
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Callable, Iterator

__all__ = ["TableDef", "Rows", "Skipped", "Problem", "Binary", "Selection", "DumpParser", "open_dump_stream",
           "sniff_dialect", "split_name"]


class Binary(bytes):
    """Bytes from a hex, bit or ``_binary`` literal (not text)."""


@dataclass
class TableDef:
    name: str                 # table name as written, without schema/database qualifier
    columns: list[str]
    types: list[str]
    offset: int
    schema: str | None = None


@dataclass
class Rows:
    """A batch of rows: raw value tokens (decode them with :mod:`forumscope.sqldump.values`)."""

    table: str
    columns: list[str]        # names of the kept values, in order
    rows: list[tuple]         # one tuple of raw tokens (bytes) per row
    offsets: list[int]        # byte offset of each row
    kind: str = "mysql"       # token kind: mysql, pg, pg_backslash, copy

    def decoded(self) -> list[tuple]:
        """The rows with every value decoded (None, bytes, Binary or str); for tests and small tables."""
        from forumscope.sqldump.values import decode_token

        return [tuple(decode_token(v, self.kind) for v in r) for r in self.rows]


@dataclass
class Skipped:
    table: str
    offset: int
    nbytes: int
    reason: str


@dataclass
class Problem:
    table: str | None
    offset: int
    reason: str
    excerpt: bytes = b""
    fatal: bool = False       # the rest of the statement could not be read
    record: bool = True       # False: not a record (a notice about the dump), never a reject


@dataclass
class Selection:
    """What to read of a table: the full column list of its rows and the indexes of values to keep."""

    columns: list[str]
    keep: list[int]
    names: list[str] | None = None  # names for the kept values (default: their column names)


Select = Callable[[str, "list[str] | None"], "Selection | None"]

# ----------------------------------------------------------------------------------------------- regexes
_MY_STR = rb"'[^'\\]*(?:(?:\\[\s\S]|'')[^'\\]*)*'"
_MY_DSTR = rb'"[^"\\]*(?:(?:\\[\s\S]|"")[^"\\]*)*"'
_PG_STR = rb"'[^']*(?:''[^']*)*'"
_PG_ESTR = rb"[eE]'[^'\\]*(?:(?:\\[\s\S]|'')[^'\\]*)*'"
_BARE = rb"[^,()'\"\s]+"


def _value_pattern(dialect: str, pg_backslash: bool) -> bytes:
    if dialect == "mysql":
        return (rb"(" + _MY_STR + rb"|" + _MY_DSTR + rb"|" + _BARE + rb"(?:\s*" + _MY_STR
                + rb"|\s+0[xX][0-9a-fA-F]*)?)")
    s = _MY_STR if pg_backslash else _PG_STR
    return (rb"((?:" + s + rb"|" + _PG_ESTR + rb"|" + _BARE + rb"(?:\s*" + s + rb")?)(?:::[\w ]+(?:\[\])?)?)")


_ROW_CACHE: dict[tuple[str, bool, int], re.Pattern[bytes]] = {}
# mysqldump's own form (no spaces, backslash escapes, plain literals): about twice as fast to match
_FAST_MY = rb"('[^'\\]*+(?:\\[\s\S][^'\\]*+)*+'|[^,'()\"]*+)"  # possessive, strings first: ~2x faster


def _row_regex(dialect: str, pg_backslash: bool, n: int) -> re.Pattern[bytes]:
    """The pattern of one row of ``n`` values: groups 1..n are the values, group n+1 the separator.
    ``dialect`` ``"fast"`` is mysqldump's own compact form; the others allow spaces and every literal."""
    key = (dialect, pg_backslash, n)
    rx = _ROW_CACHE.get(key)
    if rx is None and dialect == "fast":
        rx = re.compile(rb"\(" + _FAST_MY + (rb"," + _FAST_MY) * (n - 1) + rb"\)([,;]?)" if n else rb"\(\)([,;]?)")
        _ROW_CACHE[key] = rx
    if rx is None:
        v = _value_pattern(dialect, pg_backslash)
        body = v + (rb"\s*,\s*" + v) * (n - 1) if n else b""
        rx = re.compile(rb"\s*\(\s*" + body + rb"\s*\)\s*([,;]?)")
        _ROW_CACHE[key] = rx
    return rx


_IDENT = rb"(?:`(?:[^`]|``)+`|\"(?:[^\"]|\"\")+\"|[A-Za-z0-9_$\x80-\xff]+)"
_NAME = _IDENT + rb"(?:\s*\.\s*" + _IDENT + rb")?"
_INSERT = re.compile(
    rb"(?:INSERT|REPLACE)\s+(?:(?:LOW_PRIORITY|DELAYED|HIGH_PRIORITY|IGNORE)\s+)*(?:INTO\s+)?(" + _NAME
    + rb")\s*(?:\(([^)]*)\)\s*)?(VALUES?\b)?\s*", re.I)
_CREATE = re.compile(rb"CREATE\s+(?:OR\s+REPLACE\s+)?(?:(?:GLOBAL|LOCAL)\s+)?(?:TEMPORARY\s+|TEMP\s+|UNLOGGED\s+)?"
                     rb"TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?(" + _NAME + rb")\s*", re.I)
_COPY = re.compile(rb"COPY\s+(" + _NAME + rb")\s*(?:\(([^)]*)\))?\s*FROM\s+(stdin|\S+)[^;]*;[ \t]*\r?\n?", re.I)
_HEAD = re.compile(rb"(INSERT|REPLACE|CREATE|COPY|DELIMITER|SET)\b", re.I)
_DELIM = re.compile(rb"DELIMITER[ \t]+(\S+)[ \t]*\r?\n?", re.I)
_SET_SCS = re.compile(rb"SET\s+standard_conforming_strings\s*(?:=|TO)\s*'?(on|off)'?", re.I)
_SPACE = re.compile(rb"\s+")
_LINE_COMMENT = re.compile(rb"(?:--|#)[^\n]*\n")
_BLOCK_COMMENT = re.compile(rb"/\*(?!!)[\s\S]*?\*/")
_PLAIN_MY = re.compile(rb"[^;'\"`/#\-\\]+")
_PLAIN_PG = re.compile(rb"[^;'\"/\-$eE\\]+")
_DOLLAR = re.compile(rb"\$([A-Za-z_][A-Za-z0-9_]*)?\$")
_PLAIN_ROW = re.compile(rb"[^'\"()]+")
# a MySQL statement up to its ';': plain runs, complete strings, quoted names and comments
_SKIP_MY = re.compile(rb"(?:[^;'\"`/#\-]+|'[^'\\]*(?:(?:\\[\s\S]|'')[^'\\]*)*'|\"[^\"\\]*(?:(?:\\[\s\S]|\"\")[^\"\\]*)*\""
                      rb"|`[^`]*`|/\*[\s\S]*?\*/|--[^\n]*\n|\#[^\n]*\n|/(?!\*)|-(?!-))*")

_MY_ESC = {ord("0"): b"\0", ord("b"): b"\b", ord("n"): b"\n", ord("r"): b"\r", ord("t"): b"\t", ord("Z"): b"\x1a",
           ord("%"): b"\\%", ord("_"): b"\\_"}
_MY_ESC_RX = re.compile(rb"\\([\s\S])|''")
_MY_BS_RX = re.compile(rb"\\([\s\S])")
_MY_DQ_RX = re.compile(rb'\\([\s\S])|""')


def _my_dq(m: re.Match[bytes]) -> bytes:
    return b'"' if m.group(1) is None else _MY_ESC.get(m.group(1)[0], m.group(1))
_PG_E_RX = re.compile(rb"\\(?:([0-7]{1,3})|x([0-9a-fA-F]{1,2})|u([0-9a-fA-F]{4})|U([0-9a-fA-F]{8})|([\s\S]))|''")
_COPY_RX = re.compile(rb"\\(?:([0-7]{1,3})|x([0-9a-fA-F]{1,2})|([\s\S]))")
_C_ESC = {ord("b"): b"\b", ord("f"): b"\f", ord("n"): b"\n", ord("r"): b"\r", ord("t"): b"\t", ord("v"): b"\v"}


def _my_esc(m: re.Match[bytes]) -> bytes:
    c = m.group(1)
    if c is None:
        return b"'"
    o = c[0]
    return _MY_ESC.get(o, c)


def unescape_mysql(body: bytes) -> bytes:
    """The content of a MySQL string literal (between the quotes), escapes resolved."""
    if b"\\" not in body:
        return body.replace(b"''", b"'") if b"''" in body else body
    if b"\\\\" in body or b"''" in body:
        return _MY_ESC_RX.sub(_my_esc, body)
    # every backslash starts an escape: the common ones by plain replacement (C speed), the rest after
    out = body.replace(b"\\n", b"\n").replace(b"\\'", b"'").replace(b'\\"', b'"').replace(b"\\r", b"\r")
    return _MY_BS_RX.sub(_my_esc, out) if b"\\" in out else out


def _pg_e(m: re.Match[bytes]) -> bytes:
    if m.group(0) == b"''":
        return b"'"
    octal, hx, u4, u8, c = m.groups()
    if octal:
        return bytes([int(octal, 8) & 0xFF])
    if hx:
        return bytes([int(hx, 16)])
    if u4 or u8:
        return chr(int(u4 or u8, 16)).encode("utf-8", "surrogatepass")
    return _C_ESC.get(c[0], c)


def unescape_pg_e(body: bytes) -> bytes:
    """The content of a PostgreSQL ``E'...'`` string, C-style escapes resolved."""
    return _PG_E_RX.sub(_pg_e, body) if (b"\\" in body or b"''" in body) else body


def _copy_esc(m: re.Match[bytes]) -> bytes:
    octal, hx, c = m.groups()
    if octal:
        return bytes([int(octal, 8) & 0xFF])
    if hx:
        return bytes([int(hx, 16)])
    return _C_ESC.get(c[0], c)


def unescape_copy(field_: bytes) -> bytes | None:
    """One COPY text-format field: ``\\N`` -> None, escapes resolved."""
    if field_ == b"\\N":
        return None
    return _COPY_RX.sub(_copy_esc, field_) if b"\\" in field_ else field_


_CHARSETS = {"utf8": "utf-8", "utf8mb4": "utf-8", "utf8mb3": "utf-8", "latin1": "cp1252", "ascii": "ascii",
             "utf16": "utf-16-be", "ucs2": "utf-16-be", "utf32": "utf-32-be", "cp1251": "cp1251",
             "latin2": "iso8859-2", "greek": "iso8859-7", "hebrew": "iso8859-8", "sjis": "shift_jis",
             "gbk": "gbk", "big5": "big5", "euckr": "euc_kr", "koi8r": "koi8_r"}


def _hex(text: bytes) -> Binary:
    t = text.strip()
    if len(t) % 2:
        t = b"0" + t
    try:
        return Binary(bytes.fromhex(t.decode("ascii")))
    except ValueError:
        return Binary(b"")


def decode_mysql(tok: bytes) -> bytes | str | None:
    """One raw MySQL value token (as the row regex captured it) -> None, bytes, Binary or str."""
    c = tok[0]
    if c == 39:  # '
        return unescape_mysql(tok[1:-1])
    if c == 34:  # "..." string: backslash escapes and doubled "" (a '' inside stays two quotes)
        body = tok[1:-1]
        return _MY_DQ_RX.sub(_my_dq, body) if (b"\\" in body or b'""' in body) else body
    if tok == b"NULL" or tok == b"null":
        return None
    q = tok.find(b"'")
    if c == 48 and len(tok) > 1 and tok[1] in (120, 88):  # 0x...
        return _hex(tok[2:])
    if q > 0:
        prefix = tok[:q].strip().lower()
        body = unescape_mysql(tok[q + 1:-1]) if prefix not in (b"x", b"b") else tok[q + 1:-1]
        if prefix == b"x":
            return _hex(body)
        if prefix == b"b":
            bits = body.strip() or b"0"
            n = int(bits, 2)
            return Binary(n.to_bytes((len(bits) + 7) // 8, "big"))
        if prefix == b"n":
            return body
        if prefix.startswith(b"_"):
            cs = prefix[1:].decode("ascii", "replace")
            if cs == "binary":
                return Binary(body)
            codec = _CHARSETS.get(cs)
            if codec is None or codec == "utf-8":
                return body
            try:
                return body.decode(codec)
            except UnicodeDecodeError:
                return body
        return body
    if c == 95 and (sp := tok.find(b"0x")) > 0:  # _binary 0x...
        return _hex(tok[sp + 2:])
    return tok


def decode_pg(tok: bytes, backslash: bool = False) -> bytes | str | None:
    """One raw PostgreSQL value token -> None, bytes or str (casts ``::type`` dropped)."""
    c = tok[0]
    if c == 39:
        body = tok[1:tok.rfind(b"'")]
        return unescape_mysql(body) if backslash else body.replace(b"''", b"'")
    if tok in (b"NULL", b"null"):
        return None
    if c in (69, 101) and len(tok) > 1 and tok[1] == 39:  # E'...'
        end = tok.rfind(b"'")
        return unescape_pg_e(tok[2:end])
    q = tok.find(b"'")
    if q > 0:  # typed literal: timestamp '...' / '...'::type
        end = tok.rfind(b"'")
        return tok[q + 1:end].replace(b"''", b"'")
    if q == 0:
        end = tok.rfind(b"'")
        return tok[1:end].replace(b"''", b"'")
    cast = tok.find(b"::")
    return tok[:cast] if cast > 0 else tok


def split_name(raw: bytes) -> tuple[str | None, str]:
    """``\\`db\\`.\\`t\\``` / ``public.t`` / ``"t"`` -> (schema or None, name)."""
    parts = []
    for m in re.finditer(_IDENT, raw):
        p = m.group(0)
        if p[:1] == b"`":
            p = p[1:-1].replace(b"``", b"`")
        elif p[:1] == b'"':
            p = p[1:-1].replace(b'""', b'"')
        parts.append(p.decode("utf-8", "replace"))
    if not parts:
        return None, raw.decode("utf-8", "replace")
    return (parts[0] if len(parts) > 1 else None), parts[-1]


def _columns(raw: bytes | None) -> list[str] | None:
    if raw is None:
        return None
    return [split_name(c.strip())[1] for c in raw.split(b",") if c.strip()]


# ----------------------------------------------------------------------------------------------- input
_GZIP, _ZSTD = b"\x1f\x8b", b"\x28\xb5\x2f\xfd"


class _Counting(io.RawIOBase):
    """Counts bytes read from the underlying (compressed) file, for progress."""

    def __init__(self, fh: BinaryIO, progress: Callable[[int], None] | None):
        self.fh = fh
        self.progress = progress

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:  # type: ignore[override]
        n = self.fh.readinto(b)  # type: ignore[attr-defined]
        if n and self.progress:
            self.progress(n)
        return n or 0

    def close(self) -> None:
        self.fh.close()
        super().close()


def open_dump_stream(path: str | Path, progress: Callable[[int], None] | None = None) -> tuple[BinaryIO, str]:
    """Open a dump for reading, decompressing gzip or zstd by their magic bytes.

    Returns (binary stream of the decompressed bytes, compression: ``"none"``, ``"gzip"``, ``"zstd"``).
    ``progress`` gets the compressed bytes read (increments)."""
    p = Path(path)
    with open(p, "rb") as probe:
        magic = probe.read(4)
    raw = io.BufferedReader(_Counting(open(p, "rb", buffering=0), progress), buffer_size=1 << 20)  # type: ignore[arg-type]
    if magic[:2] == _GZIP:
        return gzip.GzipFile(fileobj=raw, mode="rb"), "gzip"  # type: ignore[return-value]
    if magic == _ZSTD:
        import zstandard

        return zstandard.ZstdDecompressor().stream_reader(raw, read_across_frames=True, closefd=True), "zstd"  # type: ignore[return-value]
    return raw, "none"  # type: ignore[return-value]


def sniff_dialect(head: bytes) -> str | None:
    """``mysql``, ``postgres`` or None from the first bytes of a dump."""
    h = head[:65536]
    if re.search(rb"PostgreSQL database dump|^COPY \S+ .*FROM stdin;|SET standard_conforming_strings|"
                 rb"pg_catalog\.set_config", h, re.M):
        return "postgres"
    if re.search(rb"MySQL dump|MariaDB dump|/\*!\d{5}|ENGINE\s*=|LOCK TABLES|`", h):
        return "mysql"
    if re.search(rb"CREATE TABLE|INSERT INTO", h, re.I):
        return "mysql"
    return None


class _Truncated(Exception):
    pass


# ----------------------------------------------------------------------------------------------- parser
@dataclass
class ParseStats:
    statements_skipped: int = 0
    tables_defined: int = 0
    rows: int = 0
    truncated_at: int | None = None
    compression: str = "none"
    other_statements: dict[str, int] = field(default_factory=dict)


class DumpParser:
    """Streams one dump. ``select(table, columns)`` decides what is read of each table (see
    :class:`Selection`; return None to skip the table). ``dialect`` is sniffed when None."""

    def __init__(self, fh: BinaryIO, *, select: Select | None = None, dialect: str | None = None,
                 max_record_bytes: int = 64 * 1024 * 1024, chunk_bytes: int = 8 * 1024 * 1024,
                 batch_rows: int = 50_000):
        self.fh = fh
        self.select = select or (lambda t, cols: Selection(cols, list(range(len(cols)))) if cols else None)
        self.dialect = dialect
        self.max_record = max_record_bytes
        self.chunk = chunk_bytes
        self.batch_rows = batch_rows
        self.buf = b""
        self.pos = 0
        self.base = 0
        self.eof = False
        self.delimiter = b";"
        self.pg_backslash = False
        self.tables: dict[str, TableDef] = {}
        self.stats = ParseStats()
        self._cap: list[bytes] | None = None
        self._cap_from = 0
        self.read_error: str | None = None  # set when the (compressed) stream broke: the dump ends there

    # -------------------------------------------------------------------- buffer
    def _abs(self, pos: int | None = None) -> int:
        return self.base + (self.pos if pos is None else pos)

    def _more(self, want: int = 0) -> bool:
        """Read another chunk (at least ``want`` more bytes when possible). False at end of input."""
        if self.eof:
            return False
        if self._cap is not None:
            self._cap.append(self.buf[self._cap_from:self.pos])
            self._cap_from = 0
        if self.pos:
            self.buf = self.buf[self.pos:]
            self.base += self.pos
            self.pos = 0
        need = max(self.chunk, want, len(self.buf))  # grow geometrically for long rows
        data = self._read(need)
        if not data:
            self.eof = True
            return False
        self.buf = self.buf + data if self.buf else data
        return True

    def _read(self, need: int) -> bytes:
        """Up to ``need`` bytes; a damaged gzip/zstd stream ends the input where it breaks (what was
        decompressed before is kept; ``read_error`` says why)."""
        if self.read_error:
            return b""
        parts: list[bytes] = []
        got = 0
        read = getattr(self.fh, "read1", None) or self.fh.read
        try:
            while got < need:
                piece = read(min(need - got, 1 << 20))
                if not piece:
                    break
                parts.append(piece)
                got += len(piece)
        except Exception as exc:  # noqa: BLE001 - zlib/zstd errors, EOFError of a cut .gz
            self.read_error = f"{type(exc).__name__}: {exc}"
        return b"".join(parts)

    def _ensure(self, n: int) -> bool:
        """At least ``n`` bytes after pos, unless the input ends first. True when there are."""
        while len(self.buf) - self.pos < n:
            if not self._more(n):
                return len(self.buf) - self.pos >= n
        return True

    # -------------------------------------------------------------------- top level
    def parse(self) -> Iterator[TableDef | Rows | Skipped | Problem]:
        """Yield the dump's events (module docstring)."""
        if self.dialect is None:
            self._ensure(65536)
            self.dialect = sniff_dialect(self.buf[self.pos:]) or "mysql"
        try:
            while self._skip_space():
                start, start_abs = self.pos, self._abs()
                if self.delimiter != b";":
                    if self._peek_delimiter_command():
                        continue
                    self._skip_statement()
                    continue
                if self.buf.startswith(b"/*!", self.pos):
                    self._skip_statement()
                    continue
                self._ensure(64)
                m = _HEAD.match(self.buf, self.pos)
                word = m.group(1).upper() if m else b""
                if word in (b"INSERT", b"REPLACE"):
                    yield from self._insert()
                elif word == b"CREATE":
                    ev = self._create()
                    if ev is not None:
                        yield ev
                elif word == b"COPY":
                    yield from self._copy()
                elif word == b"DELIMITER":
                    if not self._peek_delimiter_command():
                        self._skip_statement()
                elif word == b"SET":
                    self._ensure(256)
                    sm = _SET_SCS.match(self.buf, self.pos)
                    if sm:
                        self.pg_backslash = sm.group(1).lower() == b"off"
                    self._skip_statement()
                else:
                    self._skip_statement()
                if self.pos == start and self._abs() == start_abs and not self.eof:  # pragma: no cover - a bug guard
                    self.pos += 1
        except _Truncated as exc:
            self.stats.truncated_at = self._abs()
            yield Problem(None, self._abs(), f"truncated: the dump ends {exc}", self.buf[self.pos:self.pos + 200],
                          fatal=True, record=False)

    def _peek_delimiter_command(self) -> bool:
        self._ensure(256)
        m = _DELIM.match(self.buf, self.pos)
        if not m:
            return False
        self.delimiter = m.group(1)
        self.pos = m.end()
        return True

    def _skip_space(self) -> bool:
        """Skip whitespace and comments (not ``/*!`` conditional comments). False at end of input."""
        while True:
            if self.pos >= len(self.buf) and not self._more():
                return False
            m = _SPACE.match(self.buf, self.pos)
            if m:
                self.pos = m.end()
                continue
            c = self.buf[self.pos:self.pos + 2]
            if len(c) < 2 and not self.eof and self._more():
                continue
            if c == b"--" or c[:1] == b"#" and self.dialect == "mysql":
                end = self.buf.find(b"\n", self.pos)
                while end < 0:
                    if not self._more():
                        self.pos = len(self.buf)
                        return False
                    end = self.buf.find(b"\n", self.pos)
                self.pos = end + 1
                continue
            if c == b"/*" and self.buf[self.pos + 2:self.pos + 3] != b"!":
                if not self._ensure(3):
                    return True
                if self.buf[self.pos + 2:self.pos + 3] == b"!":
                    return True
                end = self.buf.find(b"*/", self.pos + 2)
                while end < 0:
                    if not self._more():
                        raise _Truncated("inside a /* comment */")
                    end = self.buf.find(b"*/", self.pos + 2)
                self.pos = end + 2
                continue
            return True

    # -------------------------------------------------------------------- skipping
    def _skip_quoted(self, q: int, backslash: bool) -> None:
        """pos at an opening quote ``q``: move past the closing one, streaming (bounded memory)."""
        buf_find = re.compile(rb"[\\" + bytes([q]) + rb"]" if backslash else bytes([q]))
        self.pos += 1
        while True:
            m = buf_find.search(self.buf, self.pos)
            if m is None:
                self.pos = len(self.buf)
                if not self._more():
                    raise _Truncated("inside a quoted string")
                continue
            i = m.start()
            if self.buf[i] == 92:  # backslash: skip the escaped byte
                if i + 1 >= len(self.buf):
                    self.pos = i
                    if not self._more():
                        raise _Truncated("inside a quoted string")
                    continue
                self.pos = i + 2
                continue
            if i + 1 >= len(self.buf):
                self.pos = i
                if not self._more():
                    self.pos = i + 1
                    return
                continue
            if self.buf[i + 1] == q:  # doubled quote
                self.pos = i + 2
                continue
            self.pos = i + 1
            return

    def _skip_statement(self, capture: bool = False, limit: int = 16 * 1024 * 1024) -> bytes:
        """Move past the statement at pos (to after its delimiter), streaming. Returns its text when
        ``capture`` (a statement longer than ``limit`` raises: only CREATE TABLE is captured)."""
        if not capture:
            self.stats.statements_skipped += 1
            self._scan_statement()
            return b""
        self._cap, self._cap_from = [], self.pos
        try:
            self._scan_statement(limit)
            return b"".join(self._cap) + self.buf[self._cap_from:self.pos]
        finally:
            self._cap = None

    def _fast_skip(self) -> bool:
        """MySQL, ``;`` delimiter: consume whole runs of plain text, strings and comments with one regex
        call per buffer (C speed). True when the statement's ``;`` was reached."""
        while True:
            m = _SKIP_MY.match(self.buf, self.pos)
            self.pos = m.end()
            if self.pos < len(self.buf):
                c = self.buf[self.pos]
                if c == 59:
                    self.pos += 1
                    return True
                if len(self.buf) - self.pos < self.max_record and not self.eof:
                    # an incomplete string or comment at the end of the buffer: read on
                    if self._more(2 * (len(self.buf) - self.pos)):
                        continue
                return False  # something the slow scanner handles (a huge string, the end of input)
            if not self._more():
                return False

    def _scan_statement(self, limit: int | None = None) -> None:
        delim = self.delimiter
        my = self.dialect == "mysql"
        plain = _PLAIN_MY if my else _PLAIN_PG
        start_abs = self._abs()
        if my and delim == b";" and limit is None and self._fast_skip():
            return
        while True:
            if self.pos >= len(self.buf) and not self._more():
                return  # the last statement may lack its delimiter
            if limit is not None and self._abs() - start_abs > limit:
                raise _Truncated(f"nowhere: a statement longer than {limit} bytes was not read")
            buf = self.buf
            p = self.pos
            c = buf[p]
            if delim == b";":
                if c == 59:
                    self.pos = p + 1
                    return
            elif c == delim[0]:
                if len(buf) - p < len(delim) and self._more():
                    continue
                if self.buf.startswith(delim, self.pos):
                    self.pos += len(delim)
                    return
            if c == 39 or c == 34:
                self._skip_quoted(c, my or self.pg_backslash)
            elif c == 96 and my:
                end = buf.find(b"`", p + 1)
                while end < 0:
                    if not self._more():
                        raise _Truncated("inside a `quoted` name")
                    end = self.buf.find(b"`", self.pos + 1)
                self.pos = end + 1
            elif not my and c in (69, 101) and buf[p + 1:p + 2] == b"'":
                self.pos = p + 1
                self._skip_quoted(39, True)
            elif not my and c == 36:  # $tag$ ... $tag$
                if len(buf) - p < 128 and self._more():
                    continue
                m = _DOLLAR.match(self.buf, self.pos)
                if not m:
                    self.pos += 1
                    continue
                tag = m.group(0)
                self.pos = m.end()
                end = self.buf.find(tag, self.pos)
                while end < 0:
                    self.pos = max(self.pos, len(self.buf) - len(tag))
                    if not self._more():
                        raise _Truncated("inside a $$ quoted body")
                    end = self.buf.find(tag, self.pos)
                self.pos = end + len(tag)
            elif c == 45 or c == 35 or c == 47:  # -- comment, # comment, /* comment */
                if len(buf) - p < 2 and self._more():
                    continue
                two = self.buf[self.pos:self.pos + 2]
                if two == b"--" or (c == 35 and my):
                    end = self.buf.find(b"\n", self.pos)
                    while end < 0:
                        self.pos = len(self.buf)
                        if not self._more():
                            return
                        end = self.buf.find(b"\n", self.pos)
                    self.pos = end + 1
                elif two == b"/*":
                    end = self.buf.find(b"*/", self.pos + 2)
                    while end < 0:
                        self.pos = max(self.pos, len(self.buf) - 1)
                        if not self._more():
                            raise _Truncated("inside a /* comment */")
                        end = self.buf.find(b"*/", self.pos)
                    self.pos = end + 2
                else:
                    self.pos += 1
            else:
                m = plain.match(buf, p)
                self.pos = m.end() if m else p + 1

    # -------------------------------------------------------------------- CREATE TABLE
    def _create(self) -> TableDef | None:
        start = self._abs()
        self._ensure(4096)
        m = _CREATE.match(self.buf, self.pos)
        if not m:
            self._skip_statement()
            return None
        text = self._skip_statement(capture=True)
        schema, name = split_name(m.group(1))
        cols, types = _parse_columns(text[m.end() - m.start():])
        if not cols:  # CREATE TABLE ... AS SELECT / LIKE: nothing to read
            return None
        td = TableDef(name, cols, types, start, schema)
        self.tables[name] = td
        self.stats.tables_defined += 1
        return td

    # -------------------------------------------------------------------- INSERT
    def _insert(self) -> Iterator[Rows | Skipped | Problem]:
        start = self._abs()
        self._ensure(64 * 1024)
        m = _INSERT.match(self.buf, self.pos)
        if not m or not m.group(3):
            name = split_name(m.group(1))[1] if m else None
            excerpt = self.buf[self.pos:self.pos + 200]
            self._skip_statement()
            yield Problem(name, start, "unsupported_statement: only INSERT ... VALUES is read "
                          "(INSERT ... SELECT / SET are skipped)", excerpt, record=False)
            return
        schema, name = split_name(m.group(1))
        listed = _columns(m.group(2))
        known = listed if listed is not None else (self.tables[name].columns if name in self.tables else None)
        sel = self.select(name, known)
        self.pos = m.end()
        if sel is None:
            before = self._abs()
            self._skip_statement()
            yield Skipped(name, start, self._abs() - before, "not read")
            return
        yield from self._values(name, sel)

    def _values(self, table: str, sel: Selection) -> Iterator[Rows | Problem]:
        n = len(sel.columns)
        rx_tol = _row_regex(self.dialect or "mysql", self.pg_backslash, n)
        rx_fast = _row_regex("fast", False, n) if self.dialect == "mysql" else rx_tol
        groups = [i + 1 for i in sel.keep]
        sep_group = n + 1
        names = sel.names if sel.names is not None else [sel.columns[i] for i in sel.keep]
        rows: list[tuple] = []
        offsets: list[int] = []
        pick = (lambda mm: (mm.group(groups[0]),)) if len(groups) == 1 else (
            (lambda mm: mm.group(*groups)) if groups else (lambda mm: ()))
        kind = "mysql" if self.dialect == "mysql" else ("pg_backslash" if self.pg_backslash else "pg")
        while True:
            buf = self.buf
            mm = rx_fast.match(buf, self.pos)
            if mm is None and rx_tol is not rx_fast:
                mm = rx_tol.match(buf, self.pos)
            if mm is not None and not mm.group(sep_group) and mm.end() >= len(buf) and not self.eof:
                self._more()
                continue
            if mm is not None:
                o = mm.start()
                o = o if buf[o] == 40 else buf.index(b"(", o)
                sep = mm.group(sep_group)
                if mm.end() - o > self.max_record:  # read whole, but over the limit like any other record
                    yield Problem(table, self.base + o, f"too_large: a row of {mm.end() - o} bytes (more than "
                                  f"{self.max_record}) was skipped", buf[o:o + 200])
                    self.pos = mm.end()
                    if sep == b",":
                        continue
                    if sep == b";":
                        break
                    if not self._skip_space():
                        break
                    continue
                rows.append(pick(mm))
                offsets.append(self.base + o)
                self.pos = mm.end()
                if len(rows) >= self.batch_rows:
                    self.stats.rows += len(rows)
                    yield Rows(table, names, rows, offsets, kind)
                    rows, offsets = [], []
                if sep == b",":
                    continue
                if sep == b";":
                    break
                # no separator: something else follows (ON DUPLICATE KEY ..., a comment) or the end
                if not self._skip_space():
                    yield Problem(table, self._abs(), "truncated: the INSERT statement has no final ';'", b"", record=False)
                    break
                if self.buf[self.pos:self.pos + 1] == b",":
                    self.pos += 1
                    self._skip_space()
                    continue
                if self.buf[self.pos:self.pos + 1] == b";":
                    self.pos += 1
                    break
                tail_at = self._abs()
                excerpt = self.buf[self.pos:self.pos + 200]
                self._skip_statement()
                yield Problem(table, tail_at, "ignored_clause: text after the VALUES list was not read", excerpt,
                              record=False)
                break
            # No clean match: the row is incomplete in the buffer, too large, or malformed.
            if not self._skip_space():
                yield Problem(table, self._abs(), "truncated: the dump ends inside an INSERT statement", b"")
                break
            if self.buf[self.pos:self.pos + 1] == b";":  # 'VALUES ;' or a trailing comma
                self.pos += 1
                break
            status = self._row_diagnosis(n)
            if status == "more":
                if len(self.buf) - self.pos < self.max_record and self._more(2 * (len(self.buf) - self.pos)):
                    continue
                if self.eof:
                    at = self._abs()
                    excerpt = self.buf[self.pos:self.pos + 200]
                    self.pos = len(self.buf)
                    yield Problem(table, at, "truncated: the dump ends inside a row (a value or the row is "
                                  "never closed)", excerpt)
                    break
                at = self._abs()
                excerpt = self.buf[self.pos:self.pos + 200]
                try:
                    size = self._skip_row()
                except _Truncated:
                    yield Problem(table, at, "truncated: the dump ends inside a row larger than "
                                  f"{self.max_record} bytes", excerpt)
                    break
                yield Problem(table, at, f"too_large: a row of {size} bytes (more than {self.max_record}) "
                              "was skipped", excerpt)
            elif isinstance(status, tuple):  # (reason, end): a complete but unreadable row
                reason, end = status
                at = self._abs()
                yield Problem(table, at, reason, self.buf[self.pos:min(end, self.pos + 200)])
                self.pos = end
            else:  # not a row at all: give up on the rest of this statement
                at = self._abs()
                excerpt = self.buf[self.pos:self.pos + 200]
                skipped_from = at
                self._skip_statement()
                yield Problem(table, at, f"syntax: {status}; the rest of the statement (bytes {skipped_from}-"
                              f"{self._abs()}) was not read", excerpt, fatal=True)
                break
            # after a rejected row: its separator
            if not self._skip_space():
                break
            c = self.buf[self.pos:self.pos + 1]
            if c == b",":
                self.pos += 1
            elif c == b";":
                self.pos += 1
                break
        if rows:
            self.stats.rows += len(rows)
            yield Rows(table, names, rows, offsets, kind)

    def _row_diagnosis(self, n: int) -> str | tuple[str, int]:
        """Look at the row at pos when the fast pattern did not match: ``"more"`` (incomplete in the
        buffer), (reason, end position) for a complete row that cannot be read, or a syntax message."""
        buf = self.buf
        p = self.pos
        if buf[p:p + 1] != b"(":
            return f"expected '(' at the start of a row, found {buf[p:p + 20]!r}"
        vp = re.compile(_value_pattern(self.dialect or "mysql", self.pg_backslash))
        p += 1
        count = 0
        while True:
            sp = _SPACE.match(buf, p)
            if sp:
                p = sp.end()
            if p >= len(buf):
                return "more"
            if buf[p] == 41 and count == 0:  # ()
                p += 1
                break
            vm = vp.match(buf, p)
            if not vm:
                if p >= len(buf) - 1 or buf[p] in (39, 34) and not self.eof:
                    return "more"
                if buf[p] in (39, 34):
                    return "more"
                return f"unreadable value at byte {self.base + p}: {buf[p:p + 20]!r}"
            if vm.end() >= len(buf) and not self.eof:
                return "more"
            count += 1
            p = vm.end()
            sp = _SPACE.match(buf, p)
            if sp:
                p = sp.end()
            if p >= len(buf):
                return "more"
            if buf[p] == 44:
                p += 1
                continue
            if buf[p] == 41:
                p += 1
                break
            if buf[p] == 40:  # a function call or expression: not a literal
                end = self._find_row_end(p)
                if end is None:
                    return "more"
                return (f"not_a_literal: a value at byte {self.base + p} is an expression, not a literal", end)
            return f"unexpected {buf[p:p + 20]!r} at byte {self.base + p} inside a row"
        if count != n:
            return (f"column_count: the row has {count} values, the table has {n} columns", p)
        return (f"unreadable_row: the row could not be read ({count} values)", p)

    def _find_row_end(self, p: int) -> int | None:
        """End of the row containing position p (after its closing ')'), within the buffer, or None."""
        depth = 1
        buf = self.buf
        while p < len(buf):
            c = buf[p]
            if c in (39, 34):
                rx = re.compile(_MY_STR if c == 39 else _MY_DSTR)
                m = rx.match(buf, p)
                if not m:
                    return None
                p = m.end()
                continue
            if c == 40:
                depth += 1
            elif c == 41:
                depth -= 1
                if depth == 0:
                    return p + 1
            p += 1
        return None

    def _skip_row(self) -> int:
        """pos at '(' of a row: move past its closing ')', streaming. Returns the bytes skipped."""
        start = self._abs()
        depth = 0
        backslash = self.dialect == "mysql" or self.pg_backslash
        while True:
            if self.pos >= len(self.buf) and not self._more():
                raise _Truncated("inside a row")
            c = self.buf[self.pos]
            if c in (39, 34):
                self._skip_quoted(c, backslash)
                continue
            if c == 40:
                depth += 1
                self.pos += 1
            elif c == 41:
                depth -= 1
                self.pos += 1
                if depth <= 0:
                    return self._abs() - start
            else:
                m = _PLAIN_ROW.match(self.buf, self.pos)
                self.pos = m.end() if m else self.pos + 1

    # -------------------------------------------------------------------- COPY
    def _copy(self) -> Iterator[Rows | Skipped | Problem]:
        start = self._abs()
        self._ensure(256 * 1024)
        m = _COPY.match(self.buf, self.pos)
        if not m:
            excerpt = self.buf[self.pos:self.pos + 200]
            self._skip_statement()
            yield Problem(None, start, "unsupported_statement: a COPY statement that was not understood", excerpt,
                          record=False)
            return
        schema, name = split_name(m.group(1))
        if m.group(3).lower() != b"stdin":
            self.pos = m.end()
            yield Problem(name, start, "unsupported_statement: COPY from a file is never read", m.group(0)[:200],
                          record=False)
            return
        listed = _columns(m.group(2))
        known = listed if listed is not None else (self.tables[name].columns if name in self.tables else None)
        sel = self.select(name, known)
        self.pos = m.end()
        if sel is None:
            before = self._abs()
            self._skip_copy_data()
            yield Skipped(name, start, self._abs() - before, "not read")
            return
        yield from self._copy_rows(name, sel)

    def _skip_copy_data(self) -> None:
        """Move past the data lines of a COPY block and its ``\\.`` line, streaming."""
        at_line_start = True
        while True:
            if len(self.buf) - self.pos < 3 and self._more():
                continue
            if at_line_start and self.buf.startswith(b"\\.", self.pos):
                after = self.buf[self.pos + 2:self.pos + 3]
                if after in (b"\n", b"\r", b""):
                    self.pos += 2
                    nl = self.buf.find(b"\n", self.pos)
                    self.pos = len(self.buf) if nl < 0 else nl + 1
                    return
            i = self.buf.find(b"\n\\.", self.pos)
            if i < 0:
                self.pos = max(self.pos, len(self.buf) - 2)
                at_line_start = False
                if not self._more():
                    raise _Truncated("inside a COPY block (no \\. line)")
                continue
            self.pos = i + 1
            at_line_start = True
            if len(self.buf) - self.pos < 3:
                self._more()

    def _copy_rows(self, table: str, sel: Selection) -> Iterator[Rows | Problem]:
        n = len(sel.columns)
        keep = sel.keep
        names = sel.names if sel.names is not None else [sel.columns[i] for i in keep]
        rows: list[tuple] = []
        offsets: list[int] = []
        while True:
            nl = self.buf.find(b"\n", self.pos)
            if nl < 0:
                if len(self.buf) - self.pos > self.max_record:
                    at = self._abs()
                    excerpt = self.buf[self.pos:self.pos + 200]
                    size = 0
                    while True:
                        size += len(self.buf) - self.pos
                        self.pos = len(self.buf)
                        if not self._more():
                            break
                        nl = self.buf.find(b"\n", self.pos)
                        if nl >= 0:
                            size += nl - self.pos
                            self.pos = nl + 1
                            break
                    yield Problem(table, at, f"too_large: a COPY line of {size} bytes (more than "
                                  f"{self.max_record}) was skipped", excerpt)
                    continue
                if not self._more():
                    rest = self.buf[self.pos:]
                    if rest.rstrip(b"\r") == b"\\.":
                        self.pos = len(self.buf)
                        break
                    if rest:
                        yield Problem(table, self._abs(), "truncated: the dump ends inside a COPY line", rest[:200])
                        self.pos = len(self.buf)
                    yield Problem(table, self._abs(), "truncated: the dump ends inside a COPY block (no \\. line)",
                                  b"", record=False)
                    break
                continue
            # every complete line in the buffer
            buf = self.buf
            stop = False
            p = self.pos
            last = buf.rfind(b"\n", p)
            for line in buf[p:last].split(b"\n") if last > p else [b""] if last == p else []:
                ln = len(line) + 1
                if line.endswith(b"\r"):
                    line = line[:-1]
                if line == b"\\.":
                    p += ln
                    stop = True
                    break
                fields = line.split(b"\t")
                if len(fields) != n:
                    yield Problem(table, self.base + p, f"column_count: the COPY line has {len(fields)} fields, "
                                  f"the table has {n} columns", line[:200])
                else:
                    rows.append(tuple([fields[i] for i in keep]))
                    offsets.append(self.base + p)
                p += ln
            self.pos = p
            if len(rows) >= self.batch_rows or stop:
                if rows:
                    self.stats.rows += len(rows)
                    yield Rows(table, names, rows, offsets, "copy")
                rows, offsets = [], []
            if stop:
                return
        if rows:
            self.stats.rows += len(rows)
            yield Rows(table, names, rows, offsets, "copy")


# ----------------------------------------------------------------------------------------------- DDL
_CONSTRAINT = re.compile(rb"(PRIMARY|UNIQUE|KEY|INDEX|CONSTRAINT|FOREIGN|FULLTEXT|SPATIAL|CHECK|EXCLUDE|LIKE|PERIOD)\b",
                         re.I)


_TYPE_END = re.compile(rb"\s+(?:NOT\s+NULL|NULL|DEFAULT|COLLATE|CHARACTER\s+SET|CHARSET|PRIMARY|UNIQUE|REFERENCES|"
                       rb"AUTO_INCREMENT|COMMENT|GENERATED|CHECK|CONSTRAINT|UNSIGNED|ZEROFILL|ON\s+UPDATE|"
                       rb"IDENTITY|AS)\b", re.I)


def _parse_columns(text: bytes) -> tuple[list[str], list[str]]:
    """Column names and types from the part of a CREATE TABLE statement after the table name."""
    i = text.find(b"(")
    if i < 0:
        return [], []
    items: list[bytes] = []
    depth = 0
    cur_start = i + 1
    p = i + 1
    n = len(text)
    while p < n:
        c = text[p]
        if c in (39, 34, 96):
            p += 1
            while p < n:
                if text[p] == 92 and c != 96:
                    p += 2
                    continue
                if text[p] == c:
                    if p + 1 < n and text[p + 1] == c:
                        p += 2
                        continue
                    break
                p += 1
            p += 1
            continue
        if c == 40:
            depth += 1
        elif c == 41:
            if depth == 0:
                items.append(text[cur_start:p])
                break
            depth -= 1
        elif c == 44 and depth == 0:
            items.append(text[cur_start:p])
            cur_start = p + 1
        elif c == 45 and text[p:p + 2] == b"--":  # comment inside the definition
            e = text.find(b"\n", p)
            p = n if e < 0 else e
            continue
        p += 1
    cols: list[str] = []
    types: list[str] = []
    for it in items:
        it = it.strip()
        if not it or _CONSTRAINT.match(it):
            continue
        m = re.match(_IDENT, it)
        if not m:
            continue
        name = split_name(m.group(0))[1]
        rest = it[m.end():].strip()
        typ = _TYPE_END.split(rest, 1)[0]
        types.append(typ.decode("utf-8", "replace").strip().lower())
        cols.append(name)
    return cols, types


def read_dump(path: str | Path, select: Select | None = None, **kw: object) -> Iterator[TableDef | Rows | Skipped | Problem]:
    """Convenience: open ``path`` (plain, gzip or zstd) and yield its events."""
    fh, comp = open_dump_stream(path)
    try:
        parser = DumpParser(fh, select=select, **kw)  # type: ignore[arg-type]
        parser.stats.compression = comp
        yield from parser.parse()
    finally:
        fh.close()


_ = codecs  # codecs are looked up by name in _CHARSETS
