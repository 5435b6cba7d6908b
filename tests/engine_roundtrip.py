"""Shared by tests/test_engine_{vbulletin,xenforo,discourse}.py: synth -> engine dump -> ingest -> analyses.

The synthetic forum (planted truth in truth.json) gets a few hand-made private messages, is written as
the engine's SQL dump by ``forumscope.synth.engines.write_dump`` and read back through the same ingest
reader the CLI uses (``forumscope ingest DUMP --case DIR --format ENGINE``); then the hierarchy,
gating and commitment steps run on the case.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import forumscope
from forumscope.ingest.base import ReadOptions
from forumscope.pipeline.runner import run_steps
from forumscope.synth import generate
from forumscope.synth.engines import write_dump

FORUM = "synth"

# Six messages in three conversations (c2 has three participants); recipients are every other
# participant, as XenForo and Discourse store conversations.
PRIVATE_MESSAGES = [
    {"id": "m1", "sender_id": "u1", "recipient_ids": "u2", "sent_at": "2019-03-01T10:00:00Z", "subject": "Hello",
     "text": "Welcome to the board, see you around.", "conversation_id": "c1"},
    {"id": "m2", "sender_id": "u2", "recipient_ids": "u1", "sent_at": "2019-03-01T11:00:00Z", "subject": "Hello",
     "text": "Thanks, glad to be here.", "conversation_id": "c1", "parent_id": "m1"},
    {"id": "m3", "sender_id": "u3", "recipient_ids": "u4|u5", "sent_at": "2019-04-02T09:00:00Z",
     "subject": "Tournament", "text": "Who is coming to the cycling race on Sunday?", "conversation_id": "c2"},
    {"id": "m4", "sender_id": "u4", "recipient_ids": "u3|u5", "sent_at": "2019-04-02T09:30:00Z",
     "subject": "Tournament", "text": "I am in, bringing the old bike.", "conversation_id": "c2", "parent_id": "m3"},
    {"id": "m5", "sender_id": "u5", "recipient_ids": "u3|u4", "sent_at": "2019-04-02T10:15:00Z",
     "subject": "Tournament", "text": "Count me in too.", "conversation_id": "c2", "parent_id": "m4"},
    {"id": "m6", "sender_id": "u6", "recipient_ids": "u2", "sent_at": "2019-05-05T20:00:00Z", "subject": "Rules",
     "text": "Please keep the requests board tidy.", "conversation_id": "c3"},
]

# What the synth writers put into the dumps and must never reach a case.
CLEAR_PATTERNS = {
    "e-mail": "@example\\.invalid",
    "ip": "(?:^|[^0-9])(?:192\\.0\\.2|198\\.51\\.100|203\\.0\\.113)\\.[0-9]{1,3}",
    "bcrypt": "\\$2y\\$10\\$",
    "password": "synthetic-password",
}


@dataclass
class RoundTrip:
    base: Path
    forum: Path
    truth: dict[str, Any]
    dump: Path
    written: dict[str, Any]
    case: Any
    runs: dict[str, str] = field(default_factory=dict)
    ingest: Any = None

    def q(self, sql: str, *params: Any) -> list[dict[str, Any]]:
        return self.case.sql(sql, params=list(params) or None).to_pylist()

    def result(self, table: str, step: str, where: str = "TRUE") -> list[dict[str, Any]]:
        return self.q(f"SELECT * FROM {table} WHERE run_id = '{self.runs[step]}' AND {where}")

    def canonical(self, table: str) -> list[dict[str, Any]]:
        path = self.forum / f"{table}.ndjson"
        return [json.loads(line) for line in path.read_text().splitlines() if line] if path.exists() else []


def n(canonical_id: str | None) -> str | None:
    """The dump id of a numbered synthetic id: 'u17' -> '17'."""
    return None if canonical_id is None else canonical_id.lstrip("abcdefghijklmnopqrstuvwxyz-_")


def build(engine: str, base: Path, *, posts: int, seed: int, dump_name: str, settings: dict | None = None,
          write_kwargs: dict | None = None, steps: tuple[str, ...] = ("hierarchy", "gating", "commitment"),
          with_pms: bool = True) -> RoundTrip:
    forum = base / "forum"
    generate(forum, posts=posts, seed=seed)
    if with_pms:
        (forum / "private_messages.ndjson").write_text(
            "".join(json.dumps({"forum_id": FORUM, **m}) + "\n" for m in PRIVATE_MESSAGES))
    truth = json.loads((forum / "truth.json").read_text())
    dump = base / dump_name
    if write_kwargs:
        import importlib

        written = importlib.import_module(f"forumscope.synth.engines.{engine}").write_dump(forum, dump, **write_kwargs)
    else:
        written = write_dump(engine, forum, dump)
    case = forumscope.create_case(base / "case", settings=settings)
    res = forumscope.ingest_sources([dump], case, engine, options=ReadOptions(forum_id=FORUM))
    rt = RoundTrip(base, forum, truth, dump, written, case, ingest=res)
    if steps:
        params = {"hierarchy": {"n_boot": 50}} if "hierarchy" in steps else {}
        for rec in run_steps(case, list(steps), params):
            rt.runs[rec.step] = rec.run_id
    return rt


def clear_values_in_case(case: Any, extra: dict[str, str] | None = None) -> dict[str, list[str]]:
    """Every VARCHAR column of every table in the case searched for clear e-mail addresses, IPs and
    password material: {pattern name: ['table.column', ...]} for each hit."""
    patterns = dict(CLEAR_PATTERNS, **(extra or {}))
    cols = case.sql("SELECT table_name, column_name FROM information_schema.columns "
                    "WHERE data_type = 'VARCHAR' AND table_schema = 'main'").to_pylist()
    hits: dict[str, list[str]] = {}
    for c in cols:
        t, col = c["table_name"], c["column_name"]
        for name, rx in patterns.items():
            found = case.sql(f'SELECT count(*) AS n FROM "{t}" WHERE regexp_matches("{col}", ?)',
                             params=[rx]).to_pylist()[0]["n"]
            if found:
                hits.setdefault(name, []).append(f"{t}.{col}")
    return hits


def hex_tokens_in_case(case: Any) -> set[str]:
    """Every run of 16 to 64 hex digits in any VARCHAR column of the case (to look for password
    hashes, salts, session ids and tokens)."""
    cols = case.sql("SELECT table_name, column_name FROM information_schema.columns "
                    "WHERE data_type = 'VARCHAR' AND table_schema = 'main'").to_pylist()
    out: set[str] = set()
    for c in cols:
        rows = case.sql(f'SELECT DISTINCT unnest(regexp_extract_all("{c["column_name"]}", \'[0-9a-fA-F]{{16,64}}\')) '
                        f'AS t FROM "{c["table_name"]}"').to_pylist()
        out.update(r["t"].lower() for r in rows if r["t"])
    return out


def documented_columns(doc: Path, prefix: str = "") -> set[tuple[str, str]]:
    """(table, column) pairs a docs/engines page names: `` `table.column` `` and, on the same line,
    the shorthand `` `.column` `` for the table named last. ``prefix`` is dropped from table names."""
    out: set[tuple[str, str]] = set()
    for line in doc.read_text(encoding="utf-8").splitlines():
        table = None
        for tok in re.findall(r"`([A-Za-z0-9_]*)\.([A-Za-z0-9_]+)`", line):
            if tok[0]:
                table = tok[0][len(prefix):] if prefix and tok[0].startswith(prefix) else tok[0]
            if table:
                out.add((table, tok[1]))
    return out


def undocumented(spec: Any, doc: Path, prefix: str = "") -> list[str]:
    """Known columns and never-read tables of an engine spec that its docs page does not name."""
    have = documented_columns(doc, prefix)
    text = doc.read_text(encoding="utf-8")
    missing = [f"{t}.{c}" for t, cols in spec.known_tables.items() for c in cols if (t, c) not in have]
    missing += [f"never read: {t}" for t in spec.never_stored if f"`{prefix}{t}`" not in text]
    return missing
