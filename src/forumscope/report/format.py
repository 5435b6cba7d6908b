"""Numbers as text, for tables and for the sentence under each chart (suppression markers pass through)."""

from __future__ import annotations

import math
from typing import Any

LANGUAGES = {
    "en": "English", "de": "German", "fr": "French", "nl": "Dutch", "es": "Spanish", "it": "Italian",
    "pt": "Portuguese", "ru": "Russian", "pl": "Polish", "sv": "Swedish", "da": "Danish", "no": "Norwegian",
    "fi": "Finnish", "cs": "Czech", "tr": "Turkish", "ar": "Arabic", "zh": "Chinese", "ja": "Japanese",
    "ko": "Korean", "uk": "Ukrainian", "ro": "Romanian", "hu": "Hungarian", "el": "Greek", "he": "Hebrew",
}


def language_name(code: str | None) -> str:
    if not code or code == "unknown":
        return "not known"
    return f"{LANGUAGES.get(code, code)} ({code})" if code in LANGUAGES else str(code)


def hidden(v: Any) -> bool:
    return isinstance(v, str) and (v == "suppressed" or v.startswith("<"))


def fmt_count(v: Any) -> str:
    if v is None:
        return "–"
    if isinstance(v, str):
        return v
    if isinstance(v, float) and not v.is_integer():
        return f"{v:,.1f}"
    return f"{int(v):,}"


def fmt_pct(v: Any, digits: int = 1) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "–"
    if isinstance(v, str):
        return v
    return f"{100 * float(v):.{digits}f}%"


def fmt_num(v: Any, sig: int = 3) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "–"
    if isinstance(v, str):
        return v
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int):
        return f"{v:,}"
    x = float(v)
    if x == 0:
        return "0"
    if abs(x) >= 10 ** sig:
        return f"{x:,.0f}"
    s = f"{x:.{sig}g}"
    if "e" in s:
        return f"{x:.2e}"
    return s


def fmt_days(v: Any) -> str:
    if v is None or isinstance(v, str):
        return fmt_num(v)
    return f"{float(v):,.0f} days" if abs(float(v)) >= 10 else f"{float(v):.1f} days"


def fmt_value(v: Any, kind: str, fmt: str | None = None) -> str:
    """A table cell as text, by the column's kind and display hint."""
    if v is None:
        return "–"
    if isinstance(v, str) and kind in ("count", "share", "stat", "value") and hidden(v):
        return v
    if fmt == "pct" or (kind == "share" and fmt is None):
        return fmt_pct(v)
    if fmt == "days":
        return fmt_days(v)
    if fmt == "date":
        return str(v)[:10]
    if fmt == "int" or kind == "count":
        return fmt_count(v)
    if kind in ("stat", "value"):
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            return fmt_num(v, 3 if fmt != "float" else 4)
        if isinstance(v, bool):
            return "yes" if v else "no"
        return str(v)
    if kind == "time":
        return str(v)[:19].replace("T", " ")
    if isinstance(v, bool):
        return "yes" if v else "no"
    return str(v)


def plural(n: Any, one: str, many: str | None = None) -> str:
    """'1 member' / '12 members' / '<10 members'."""
    many = many or one + "s"
    if isinstance(n, (int, float)) and not isinstance(n, bool) and n == 1:
        return f"1 {one}"
    return f"{fmt_count(n)} {many}"


def listing(items: list[str]) -> str:
    items = [i for i in items if i]
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]
