"""Synthetic forums with planted ground truth (``docs/synth.md``).

>>> from forumscope.synth import generate, SynthParams
>>> summary = generate("/tmp/forum", posts=10_000, seed=1)   # doctest: +SKIP

Writes the forumscope canonical format (``<table>.ndjson``) plus ``truth.json`` and
``truth/*.ndjson``. All text is benign (SAFETY.md).
"""

from __future__ import annotations

from forumscope.synth.generator import generate
from forumscope.synth.params import SynthParams

__all__ = ["generate", "SynthParams"]
