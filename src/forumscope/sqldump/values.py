"""Turning the raw value tokens of a dump into text, a whole column at a time, with charset repair.

The parser hands over raw tokens (the bytes of each literal as written in the dump). They are decoded
here per column with Arrow compute functions (C speed); only the rare tokens that need more (hex and
bit literals, charset introducers, doubled quotes, unusual escapes, invalid UTF-8, mojibake) go
through Python one by one.

Token kinds: ``"mysql"`` (MySQL literals), ``"pg"`` (PostgreSQL INSERT literals, standard strings),
``"pg_backslash"`` (PostgreSQL with ``standard_conforming_strings = off``) and ``"copy"`` (fields of a
PostgreSQL COPY text block).

Charset. Text is expected in UTF-8. Two kinds of damage are common in old forum databases and are
repaired and counted (never silently):

- ``latin1_as_utf8`` (mojibake): UTF-8 bytes that were once read as Latin-1/Windows-1252 and stored
  again as UTF-8 (``KÃ¶ln`` for ``Köln``). Detected when re-encoding the text as Windows-1252 gives
  valid UTF-8 that differs; repaired to that text.
- ``not_utf8``: bytes that are not valid UTF-8 (a latin1 column dumped as is, or mixed content):
  decoded as Windows-1252 (Latin-1 for the bytes it leaves undefined).
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any, Sequence

import pyarrow as pa
import pyarrow.compute as pc

from forumscope.sqldump.parser import Binary, decode_mysql, decode_pg, unescape_copy

__all__ = ["decode_column", "decode_token", "to_text", "repair_mojibake", "CharsetStats"]

CharsetStats = Counter  # (kind) -> count: latin1_as_utf8, not_utf8, binary_as_hex

# Windows-1252 characters of bytes 0x80-0x9f, back to those bytes (for re-encoding mojibake).
_CP1252_BACK = {ch: bytes([b]) for b in range(0x80, 0xA0)
                for ch in [bytes([b]).decode("cp1252", "ignore")] if ch}
_MOJIBAKE_RE = ("[\u00c2-\u00f4][\u0080-\u00bf\u0152\u0153\u0160\u0161\u0178\u017d\u017e\u0192\u02c6\u02dc"
                "\u2013\u2014\u2018-\u201e\u2020-\u2022\u2026\u2030\u2039\u203a\u20ac\u2122]")
_MOJIBAKE_PY = re.compile(_MOJIBAKE_RE)
_NUMBER_OR_NULL = r"^(?:NULL|[-+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?)$"


def _latin_bytes(text: str) -> bytes | None:
    """``text`` encoded as Windows-1252/Latin-1 (the inverse of a wrong decode), or None."""
    out = bytearray()
    for ch in text:
        o = ord(ch)
        if o < 256:
            out.append(o)
        else:
            b = _CP1252_BACK.get(ch)
            if b is None:
                return None
            out += b
    return bytes(out)


def repair_mojibake(text: str) -> str | None:
    """The repaired text when ``text`` is UTF-8 that was decoded as Windows-1252/Latin-1 (once or
    twice), else None."""
    if text.isascii() or not _MOJIBAKE_PY.search(text):
        return None
    fixed = text
    for _ in range(2):  # double-encoded twice happens too
        raw = _latin_bytes(fixed)
        if raw is None:
            break
        try:
            nxt = raw.decode("utf-8")
        except UnicodeDecodeError:
            break
        if nxt == fixed:
            break
        fixed = nxt
        if not _MOJIBAKE_PY.search(fixed):
            break
    return fixed if fixed != text else None


def to_text(raw: bytes, stats: Counter | None = None, *, repair: bool = True) -> str:
    """Bytes of a text value -> str: UTF-8, else Windows-1252 (counted ``not_utf8``); mojibake repaired
    (counted ``latin1_as_utf8``) when ``repair``."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        if stats is not None:
            stats["not_utf8"] += 1
        return raw.decode("cp1252", "backslashreplace") if _cp1252_ok(raw) else raw.decode("latin-1")
    if repair and not text.isascii():
        fixed = repair_mojibake(text)
        if fixed is not None:
            if stats is not None:
                stats["latin1_as_utf8"] += 1
            return fixed
    return text


def _cp1252_ok(raw: bytes) -> bool:
    try:
        raw.decode("cp1252")
        return True
    except UnicodeDecodeError:
        return False


def decode_token(tok: bytes | None, kind: str) -> bytes | str | None:
    """One raw token -> None, bytes (text not yet decoded), :class:`Binary` or str."""
    if tok is None:
        return None
    if kind == "copy":
        return unescape_copy(tok)
    if kind == "mysql":
        return decode_mysql(tok)
    return decode_pg(tok, kind == "pg_backslash")


def value_text(v: bytes | str | None, stats: Counter | None = None, *, repair: bool = True) -> str | None:
    """A decoded token as text: binary literals as UTF-8 when they are, else ``\\x<hex>``."""
    if v is None or isinstance(v, str):
        return v
    if isinstance(v, Binary):
        try:
            return bytes(v).decode("utf-8")
        except UnicodeDecodeError:
            if stats is not None:
                stats["binary_as_hex"] += 1
            return "\\x" + bytes(v).hex()
    return to_text(v, stats, repair=repair)


def _python_column(tokens: Sequence[bytes | None], kind: str, stats: Counter, repair: bool) -> pa.Array:
    return pa.array([value_text(decode_token(t, kind), stats, repair=repair) for t in tokens], pa.string())


def decode_column(tokens: Sequence[bytes | None], kind: str, stats: Counter | None = None, *,
                  repair: bool = True) -> pa.Array:
    """A column of raw tokens -> an Arrow string array (NULL kept). ``stats`` counts charset repairs."""
    stats = stats if stats is not None else Counter()
    n = len(tokens)
    if n == 0:
        return pa.array([], pa.string())
    if kind not in ("mysql", "copy"):
        return _python_column(tokens, kind, stats, repair)
    arr = pa.array(tokens, pa.binary())
    if kind == "mysql":  # fast path: a column of numbers and NULLs (most id, time and flag columns)
        try:
            txt = arr.cast(pa.string())
        except pa.ArrowInvalid:
            txt = None
        if txt is not None and pc.all(pc.fill_null(pc.match_substring_regex(txt, _NUMBER_OR_NULL), True)).as_py():
            return pc.if_else(pc.equal(txt, "NULL"), pa.scalar(None, pa.string()), txt)
    if kind == "copy":
        is_null = pc.fill_null(pc.equal(arr, b"\\N"), True)
        body = arr
        special = pc.match_substring(arr, b"\\\\")  # an escaped backslash: Python resolves the rest
    else:
        is_null = pc.equal(arr, b"NULL")
        first = pc.binary_slice(arr, 0, 1)
        is_str = pc.equal(first, b"'")
        body = pc.if_else(is_str, pc.binary_slice(arr, 1, -1), arr)
        # not a plain quoted string, number or NULL: hex/bit literals, introducers, "strings", ''
        odd = pc.and_(pc.invert(is_str), pc.invert(is_null))
        odd = pc.and_(odd, pc.invert(pc.match_substring_regex(arr, rb"^[-+0-9.][0-9.eE+-]*$")))
        special = pc.or_(odd, pc.match_substring(body, b"\\\\"))
        special = pc.or_(special, pc.and_(is_str, pc.match_substring(body, b"''")))
    has_bs = pc.match_substring(body, b"\\")
    if pc.any(has_bs).as_py():
        for esc, rep in ((b"\\n", b"\n"), (b"\\t", b"\t"), (b"\\r", b"\r"), (b"\\'", b"'"), (b'\\"', b'"')):
            body = pc.replace_substring(body, esc, rep)
        # other escapes (\0, \Z, \b, \%, octal ...) are rarer: Python
        special = pc.or_(special, pc.match_substring(body, b"\\"))
    special = pc.and_(special, pc.invert(is_null))
    if pc.any(special).as_py():
        idx = pc.indices_nonzero(special).to_pylist()
        fixed = [value_text(decode_token(tokens[i], kind), stats, repair=repair) for i in idx]
        body = pc.replace_with_mask(body, special, pa.array([None if f is None else f.encode("utf-8") for f in fixed],
                                                          pa.binary()))
    try:
        text = body.cast(pa.string())
    except pa.ArrowInvalid:  # not valid UTF-8 somewhere: decode value by value
        text = pa.array([None if b is None else to_text(b, stats, repair=repair) for b in body.to_pylist()],
                        pa.string())
        repair = False  # done above
    text = pc.if_else(is_null, pa.scalar(None, pa.string()), text)
    if repair and not pc.all(pc.fill_null(pc.string_is_ascii(text), True)).as_py():
        cand = pc.fill_null(pc.match_substring_regex(text, _MOJIBAKE_RE), False)
        if pc.any(cand).as_py():
            idx = pc.indices_nonzero(cand).to_pylist()
            vals = text.to_pylist()
            changed = False
            out: list[Any] = []
            for i in idx:
                f = repair_mojibake(vals[i])
                if f is not None:
                    stats["latin1_as_utf8"] += 1
                    changed = True
                out.append(f if f is not None else vals[i])
            if changed:
                text = pc.replace_with_mask(text, cand, pa.array(out, pa.string()))
    return text
