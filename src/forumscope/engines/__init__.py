"""Forum-engine databases (phpBB, SMF, MyBB, vBulletin, XenForo, Discourse) mapped to the canonical model.

Each engine is a module ``forumscope.engines.<name>`` with ``ENGINE`` (an
:class:`~forumscope.engines.base.EngineSpec`) and ``map_tables(con, ctx)``; see
:mod:`forumscope.engines.base` for the contract and docs/engines/README.md for users.
"""

from forumscope.engines.registry import ENGINES, engine_names, get_engine

__all__ = ["ENGINES", "engine_names", "get_engine"]
