"""Engine name -> module. The order is the order auto-detection tries them in (ties: first wins)."""

from __future__ import annotations

import importlib
from types import ModuleType

from forumscope.errors import UsageError

ENGINES: dict[str, str] = {
    "phpbb": "forumscope.engines.phpbb",
    "smf": "forumscope.engines.smf",
    "mybb": "forumscope.engines.mybb",
    "vbulletin": "forumscope.engines.vbulletin",
    "xenforo": "forumscope.engines.xenforo",
    "discourse": "forumscope.engines.discourse",
}


def engine_names() -> list[str]:
    return list(ENGINES)


def get_engine(name: str) -> ModuleType:
    """The engine module (with ``ENGINE`` and ``map_tables``) for ``name``."""
    if name not in ENGINES:
        raise UsageError(f"unknown forum engine {name!r}; choose one of: {', '.join(ENGINES)}")
    return importlib.import_module(ENGINES[name])


def available() -> dict[str, ModuleType]:
    """Every engine whose module exists (an engine still being written is left out)."""
    out: dict[str, ModuleType] = {}
    for name, mod in ENGINES.items():
        try:
            out[name] = importlib.import_module(mod)
        except ModuleNotFoundError as exc:
            if exc.name != mod:
                raise
    return out
