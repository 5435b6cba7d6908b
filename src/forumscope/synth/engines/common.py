"""Shared by the ``synth --as ENGINE`` writers: read a synthetic canonical forum, map its ids to an
engine's integer ids, and build quote markup.

Ids: the synthetic forum numbers users, posts, threads, attachments and events (``u12`` -> 12,
``p5`` -> 5, ``t3`` -> 3, ``a7`` -> 7); boards, ranks and groups have names (``en-general``, ``r3``,
``g-vip``) and get integers in file order (:class:`Numbering`), so a round trip can be checked by
mapping the planted truth's ids the same way (:func:`num`, ``write_dump(...)["ids"]``).
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import orjson


def num(canonical_id: str) -> int:
    """``'u12'`` -> 12 (the synthetic forum's numbered ids)."""
    return int(canonical_id.lstrip("abcdefghijklmnopqrstuvwxyz-_"))


def epoch(iso: str | None) -> int:
    """ISO 8601 UTC text (``2021-03-04T10:11:12Z``) -> Unix seconds; None -> 0 (the engines' 'never')."""
    if not iso:
        return 0
    return int(dt.datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp())


def datetime_text(iso: str | None) -> str | None:
    """ISO 8601 UTC -> ``'YYYY-MM-DD HH:MM:SS'`` (MySQL DATETIME / PostgreSQL timestamp text)."""
    if not iso:
        return None
    return dt.datetime.fromisoformat(iso.replace("Z", "+00:00")).strftime("%Y-%m-%d %H:%M:%S")


def rows(forum_dir: Path, table: str) -> Iterator[dict[str, Any]]:
    """Stream the records of one canonical table file (nothing when the file is missing)."""
    path = forum_dir / f"{table}.ndjson"
    if not path.exists():
        return
    with open(path, "rb") as fh:
        for line in fh:
            if line.strip():
                yield orjson.loads(line)


class Numbering:
    """Integers for named ids, in order of first appearance, starting at ``start``."""

    def __init__(self, start: int = 1):
        self.ids: dict[str, int] = {}
        self.next = start

    def __call__(self, key: str | None) -> int:
        if key is None:
            return 0
        if key not in self.ids:
            self.ids[key] = self.next
            self.next += 1
        return self.ids[key]


class SynthForum:
    """The small tables of a synthetic forum in memory; posts and interactions are streamed.

    ``post_author[n]`` / ``post_thread[n]`` give the author and thread number of post ``p<n>``;
    ``excerpt(n)`` the first words of its text (for quote markup); ``user_name[u]`` a user's name.
    """

    def __init__(self, forum_dir: Path, *, excerpt_chars: int = 60):
        self.dir = Path(forum_dir)
        self.forum = next(rows(self.dir, "forums"), {"id": "synth", "name": "synthetic forum"})
        self.boards = list(rows(self.dir, "boards"))
        self.ranks = list(rows(self.dir, "ranks"))
        self.groups = list(rows(self.dir, "groups"))
        self.memberships = list(rows(self.dir, "memberships"))
        self.users = list(rows(self.dir, "users"))
        truth = self.dir / "truth.json"
        self.truth: dict[str, Any] = json.loads(truth.read_text()) if truth.exists() else {}
        self.user_name = {num(u["id"]): u.get("name") or f"user{num(u['id'])}" for u in self.users}
        self.excerpt_chars = excerpt_chars
        n_posts = int(self.truth.get("counts", {}).get("posts", 0)) or sum(1 for _ in rows(self.dir, "posts"))
        self.post_author = np.zeros(n_posts + 2, dtype=np.int64)
        self.post_thread = np.zeros(n_posts + 2, dtype=np.int64)
        self.post_time = np.zeros(n_posts + 2, dtype=np.int64)
        self._excerpts: list[str] = [""] * (n_posts + 2)
        self.quoted: dict[int, int] = {}  # quoting post -> quoted post
        self.thanks: list[dict[str, Any]] = []
        self.mentions: dict[int, int] = {}  # post -> mentioned user
        for i in rows(self.dir, "interactions"):
            kind = i.get("kind")
            if kind == "quote" and i.get("post_id") and i.get("target_post_id"):
                self.quoted[num(i["post_id"])] = num(i["target_post_id"])
            elif kind == "thanks":
                self.thanks.append(i)
            elif kind == "mention" and i.get("post_id") and i.get("target_user_id"):
                self.mentions[num(i["post_id"])] = num(i["target_user_id"])
        self.boards_by_id = {b["id"]: b for b in self.boards}

    def posts(self) -> Iterator[dict[str, Any]]:
        """Posts in file (time) order; records each post's author, thread, time and excerpt as it goes,
        so that a later post can quote an earlier one."""
        for p in rows(self.dir, "posts"):
            n = num(p["id"])
            if n >= len(self.post_author):
                self._grow(n + 1)
            self.post_author[n] = num(p["author_id"]) if p.get("author_id") else 0
            self.post_thread[n] = num(p["thread_id"]) if p.get("thread_id") else 0
            self.post_time[n] = epoch(p.get("created_at"))
            if n in self._quoted_targets:
                self._excerpts[n] = _excerpt(p.get("text") or "", self.excerpt_chars)
            yield p

    @property
    def _quoted_targets(self) -> set[int]:
        if not hasattr(self, "_qt"):
            self._qt = set(self.quoted.values())
        return self._qt

    def excerpt(self, n: int) -> str:
        return self._excerpts[n] if n < len(self._excerpts) else ""

    def _grow(self, size: int) -> None:
        for name in ("post_author", "post_thread", "post_time"):
            arr = getattr(self, name)
            new = np.zeros(max(size, 2 * len(arr)), dtype=np.int64)
            new[:len(arr)] = arr
            setattr(self, name, new)
        self._excerpts.extend([""] * (len(self.post_author) - len(self._excerpts)))


def _excerpt(text: str, n: int) -> str:
    if len(text) <= n:
        return text
    cut = text[:n].rsplit(" ", 1)[0]
    return cut + " ..."
