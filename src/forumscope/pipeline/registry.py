"""Step registry: name -> step class (imported lazily), in the order `analyze` runs them."""

from __future__ import annotations

import importlib

from forumscope.errors import UsageError
from forumscope.pipeline.step import Step

# name -> "module:Class". Steps are run in this order (later ones may read earlier results).
STEPS: dict[str, str] = {
    "hierarchy": "forumscope.analyze.hierarchy:HierarchyStep",
    "gating": "forumscope.analyze.gating:GatingStep",
    "commitment": "forumscope.analyze.commitment:CommitmentStep",
    "roles": "forumscope.analyze.roles:RolesStep",
    "trajectories": "forumscope.analyze.trajectories:TrajectoriesStep",
    "network": "forumscope.analyze.network:NetworkStep",
    "key_actors": "forumscope.analyze.key_actors:KeyActorsStep",
    "disruption": "forumscope.analyze.disruption:DisruptionStep",
    "rhythm": "forumscope.analyze.rhythm:RhythmStep",
    "aliases": "forumscope.analyze.aliases:AliasesStep",
    "discourse": "forumscope.discourse.step:DiscourseStep",
}


def get_step(name: str) -> type[Step]:
    if name not in STEPS:
        raise UsageError(f"unknown step {name!r}; steps: {', '.join(STEPS) or 'none'}")
    module, cls = STEPS[name].split(":")
    return getattr(importlib.import_module(module), cls)


def all_steps() -> list[str]:
    return list(STEPS)
