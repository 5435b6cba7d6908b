from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

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
