"""forumscope: measure the operating model of an online forum community from its data."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["Case", "create_case", "open_case", "ingest_sources", "__version__"]


def __getattr__(name: str):  # lazy: importing forumscope stays cheap and side-effect free
    if name in ("Case", "create_case", "open_case"):
        from forumscope.store import case

        return getattr(case, name)
    if name == "ingest_sources":
        from forumscope.ingest.run import ingest

        return ingest
    raise AttributeError(name)
