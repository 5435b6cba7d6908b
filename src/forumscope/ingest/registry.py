"""Reader registry: format name -> reader, and ``--format auto`` detection."""

from __future__ import annotations

import importlib
from pathlib import Path

from forumscope.errors import InputError, UsageError
from forumscope.ingest.base import Reader

# name -> "module:Class". Order matters for auto-detection: most specific first.
READERS: dict[str, str] = {
    "stackexchange": "forumscope.ingest.stackexchange:StackExchangeReader",
    "convokit": "forumscope.ingest.convokit:ConvoKitReader",
    "irc": "forumscope.ingest.irc:IrcReader",
    "canonical": "forumscope.ingest.canonical:CanonicalReader",
    # forum-engine SQL dumps (docs/engines/): "sqldump" recognises the engine, the others name it
    "sqldump": "forumscope.ingest.sqldump:SqlDumpReader",
    "phpbb": "forumscope.ingest.sqldump:PhpbbDumpReader",
    "smf": "forumscope.ingest.sqldump:SmfDumpReader",
    "mybb": "forumscope.ingest.sqldump:MybbDumpReader",
    "vbulletin": "forumscope.ingest.sqldump:VbulletinDumpReader",
    "xenforo": "forumscope.ingest.sqldump:XenforoDumpReader",
    "discourse": "forumscope.ingest.sqldump:DiscourseDumpReader",
}


def get_reader(name: str) -> Reader:
    if name not in READERS:
        raise UsageError(f"unknown format {name!r}; choose one of: auto, {', '.join(READERS)}")
    module, cls = READERS[name].split(":")
    return getattr(importlib.import_module(module), cls)()


def detect(path: Path) -> Reader:
    """Return the first reader whose ``detect`` accepts ``path``."""
    if not path.exists():
        raise UsageError(f"{path}: no such file or folder")
    for name in READERS:
        reader = get_reader(name)
        if reader.detect(path):
            return reader
    raise InputError(
        "could not recognise the format; pass --format with one of: " + ", ".join(READERS),
        path=str(path),
    )
