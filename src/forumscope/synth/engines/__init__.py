"""Write a synthetic forum as a forum engine's SQL dump (``forumscope synth --as ENGINE``).

Each module ``forumscope.synth.engines.<engine>`` defines
``write_dump(forum_dir: Path, out_path: Path) -> dict``: it reads the canonical forum written by
:func:`forumscope.synth.generate` in ``forum_dir`` (NDJSON files, streamed) and writes ``out_path`` (``.sql``,
``.sql.gz`` or ``.sql.zst``) with the engine's real install schema for the tables it uses, using
:mod:`forumscope.sqldump.writer`. It returns ``{"engine", "path", "tables": {table: rows}, "ids": {...}}``
where ``ids`` explains how canonical ids map to the dump's ids (for checking the round trip).
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from forumscope.errors import UsageError

WRITERS = ("phpbb", "smf", "mybb", "vbulletin", "xenforo", "discourse")


def write_dump(engine: str, forum_dir: str | Path, out_path: str | Path) -> dict[str, Any]:
    """Write the synthetic forum in ``forum_dir`` as ``engine``'s SQL dump at ``out_path``."""
    if engine not in WRITERS:
        raise UsageError(f"unknown engine {engine!r} for synth --as; choose one of: {', '.join(WRITERS)}")
    module = importlib.import_module(f"forumscope.synth.engines.{engine}")
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    return module.write_dump(Path(forum_dir), out)
