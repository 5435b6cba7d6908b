from __future__ import annotations

import collections
import json
from pathlib import Path
from typing import Any, Mapping, Sequence

import pytest

from forumscope.ingest.base import Sink
from forumscope.model.schema import TABLES

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


def write_forum(folder: Path, tables: dict[str, list[dict[str, Any]]]) -> Path:
    """Write a canonical-format forum: one NDJSON file per table."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, rows in tables.items():
        with open(folder / f"{name}.ndjson", "w", encoding="utf-8") as fh:
            for r in rows:
                fh.write(json.dumps(r) + "\n")
    return folder


def tiny_tables() -> dict[str, list[dict[str, Any]]]:
    """A hand-built forum: 2 boards, 4 users (1 lurker), 2 threads, 5 posts, 1 thanks."""
    f = "tiny"
    return {
        "forums": [{"id": f, "name": "Tiny", "platform": "synthetic"}],
        "boards": [{"forum_id": f, "id": "b1", "name": "General"},
                   {"forum_id": f, "id": "b2", "name": "Trading", "min_posts": 2}],
        "users": [{"forum_id": f, "id": "u1", "name": "ann", "registered_at": "2020-01-01T00:00:00Z"},
                  {"forum_id": f, "id": "u2", "name": "bob", "registered_at": "2020-01-02T00:00:00+01:00"},
                  {"forum_id": f, "id": "u3", "name": "cyd", "registered_at": 1577836800},
                  {"forum_id": f, "id": "u4", "name": "lurker", "registered_at": "2020-01-03T00:00:00Z"}],
        "threads": [{"forum_id": f, "id": "t1", "board_id": "b1", "title": "Hello"},
                    {"forum_id": f, "id": "t2", "board_id": "b2", "title": "Swap"}],
        "posts": [
            {"forum_id": f, "id": "p1", "thread_id": "t1", "author_id": "u1", "created_at": "2020-02-01T10:00:00Z", "text": "hi all"},
            {"forum_id": f, "id": "p2", "author_id": "u2", "parent_id": "p1", "created_at": "2020-02-01T11:00:00Z", "text": "hello ann"},
            {"forum_id": f, "id": "p3", "author_id": "u3", "parent_id": "p2", "created_at": "2020-02-01T12:00:00Z", "text": "welcome"},
            {"forum_id": f, "id": "p4", "thread_id": "t2", "author_id": "u1", "created_at": "2020-02-02T09:00:00Z", "text": "offer"},
            {"forum_id": f, "id": "p5", "thread_id": "t2", "author_id": "u2", "parent_id": "p4", "created_at": "2020-02-02T09:30:00Z", "text": "thanks"},
        ],
        "interactions": [{"forum_id": f, "kind": "thanks", "source_user_id": "u2", "post_id": "p5", "target_post_id": "p4"}],
    }


@pytest.fixture
def tiny_forum(tmp_path: Path) -> Path:
    return write_forum(tmp_path / "tiny", tiny_tables())


@pytest.fixture
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared test data not found at {SHARED_DATA}")
    return SHARED_DATA


class RecordingSink(Sink):
    """Records everything a reader hands over, for reader unit tests; checks column names against the
    model (and, with ``plain_values``, that every value is a plain str/int/float/bool/None)."""

    def __init__(self, *, plain_values: bool = False) -> None:
        self.plain_values = plain_values
        self.rows: dict[str, list[dict[str, Any]]] = collections.defaultdict(list)
        self.batches: dict[str, list[int]] = collections.defaultdict(list)
        self.rejects: list[dict[str, Any]] = []
        self.evidences: list[Path] = []
        self.evidence_meta: list[tuple[Path, dict[str, Any]]] = []
        self.skips: list[tuple[str, str]] = []
        self.progressed = 0

    def emit(self, table: str, columns: Mapping[str, Sequence[Any]]) -> None:
        allowed = set(TABLES[table].field_names) | {"_source", "_line", "_offset"}
        unknown = set(columns) - allowed
        if unknown:
            raise KeyError(f"{table}: unknown columns {sorted(unknown)}")
        lengths = {len(v) for v in columns.values()}
        assert len(lengths) == 1
        n = lengths.pop()
        self.batches[table].append(n)
        for i in range(n):
            row = {k: v[i] for k, v in columns.items()}
            if self.plain_values:
                for k, v in row.items():
                    assert v is None or isinstance(v, (str, int, float, bool)), (table, k, v)
            self.rows[table].append(row)

    def emit_file(self, table: str, path: Path, fmt: str, source: str) -> None:  # pragma: no cover
        raise AssertionError("the readers under test stream batches")

    def reject(self, table, source, reason, *, line=None, offset=None, record=None, excerpt=None) -> None:
        self.rejects.append(dict(table=table, source=source, reason=reason, line=line, offset=offset,
                                 record=record, excerpt=excerpt))

    def evidence(self, path, *, display=None, member=None, sha256=None, size=None, status="ingested") -> None:
        self.evidences.append(Path(path))
        self.evidence_meta.append((Path(path), {"status": status}))

    def skipped(self, source: str, reason: str) -> None:
        self.skips.append((source, reason))

    def progress(self, n_bytes: int) -> None:
        self.progressed += n_bytes

    def by_id(self, table: str) -> dict[str, dict[str, Any]]:
        return {r["id"]: r for r in self.rows[table]}

    def strip(self, row: dict[str, Any]) -> dict[str, Any]:
        """The row without provenance columns and without empty values."""
        return {k: v for k, v in row.items() if not k.startswith("_") and v is not None}
