"""Scoring batches of posts for the discourse step, in this process or in forked worker processes.

:class:`BatchScorer` does everything one batch of post texts needs: the language of each post,
the scores of every layer for each post and each of its sentences, the combined layer, and the
positive tags as compact arrays (post index, sentence number, code, score). :func:`score_batches`
feeds batches to it, either in this process or in ``workers`` forked processes (each scores whole
batches; at most two batches per worker are in flight, so memory stays bounded); results come back
in batch order, so they never depend on the number of workers.

Forked workers inherit the prepared layers without copying. They only run Python, NumPy, Arrow
and lingua code on the texts they are given (never the case's database) and they call lingua's
one-text-at-a-time API, so its thread pool is never started twice. Layers that use torch are not
run in workers (the discourse step scores in-process when the embedding layer is in use).

Example::

    scorer = BatchScorer([rules_layer], [0.5], LanguageIdentifier(("en", "de")), True, "any",
                         np.zeros(len(codebook.codes), bool))
    for meta, scored in score_batches(scorer, ((i, texts) for i, texts in enumerate(batches)), workers=2):
        scored.tags  # [(layer index, post index, sentence number or None, code index, score), ...]
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator, Sequence

import numpy as np

from forumscope.discourse.batch import TextBatch
from forumscope.discourse.language import DistilledLanguageIdentifier, LanguageIdentifier
from forumscope.discourse.layers import check_scores, score_texts


def rescale(scores: np.ndarray, threshold: float) -> np.ndarray:
    """Map a layer's scores so that its threshold lands on 0.5 (piecewise linear, monotone)."""
    t = min(max(threshold, 1e-9), 1 - 1e-9)
    return np.where(scores >= t, 0.5 + 0.5 * (scores - t) / (1 - t), 0.5 * scores / t)


def combine_scores(per_layer: list[np.ndarray], thresholds: list[float], how: str) -> np.ndarray:
    r = np.stack([rescale(s, t) for s, t in zip(per_layer, thresholds)])
    if how == "any":
        return r.max(axis=0)
    if how == "all":
        return r.min(axis=0)
    return r.mean(axis=0)


@dataclass
class Scored:
    """What one batch gave: languages, positive tags per layer, sentences, seconds per layer."""
    languages: list[str]
    confidence: np.ndarray
    methods: list[str | None]   # how each language was found: "lingua", "distilled", None (unknown)
    language_seconds: float
    sentences: int
    seconds: list[float]
    # (layer index, post index, sentence number (None for post-level tags), code index, score)
    tags: list[tuple[int, np.ndarray, np.ndarray | None, np.ndarray, np.ndarray]] = field(default_factory=list)


class BatchScorer:
    """Languages, layer scores and positive tags for batches of post texts."""

    def __init__(self, layers: Sequence[Any], thresholds: Sequence[float],
                 ident: LanguageIdentifier | DistilledLanguageIdentifier,
                 sentence_level: bool, combine: str, post_only: np.ndarray):
        self.layers = list(layers)
        self.thresholds = list(thresholds)  # one per layer, plus the combined layer's when there are 2+
        self.ident = ident
        self.sentence_level = sentence_level
        self.combine = combine
        self.post_only = np.asarray(post_only, dtype=bool)
        self.combined = len(self.layers) > 1

    def score(self, texts: list[str]) -> Scored:
        k = len(self.post_only)
        batch = TextBatch(texts, self.sentence_level)
        t0 = time.perf_counter()
        words = batch.post_words() if getattr(self.ident, "uses_words", False) else None
        langs, conf, methods = self.ident.detect(batch.texts, words=words)
        language_seconds = time.perf_counter() - t0
        sent_texts, owner_a, sno_a = batch.sentences, batch.owner, batch.sno
        post_scores, sent_scores, seconds = [], [], []
        for layer in self.layers:
            t0 = time.perf_counter()
            if sent_texts and hasattr(layer, "score_batch"):  # posts and sentences from one tokenisation
                ps, ss = layer.score_batch(batch)
            else:
                ps = layer.score(batch.texts)
                # a layer that reads context gets each sentence's post (its neighbours are in the same post)
                ss = score_texts(layer, sent_texts, groups=owner_a) if sent_texts else np.zeros((0, k))
            post_scores.append(check_scores(layer, ps, len(texts), k))
            sent_scores.append(check_scores(layer, ss, len(sent_texts), k))
            seconds.append(time.perf_counter() - t0)
        if self.combined:
            post_scores.append(combine_scores(post_scores, self.thresholds[:len(self.layers)], self.combine))
            sent_scores.append(combine_scores(sent_scores, self.thresholds[:len(self.layers)], self.combine)
                               if sent_texts else np.zeros((0, k)))
            seconds.append(0.0)
        out = Scored(langs, conf, methods, language_seconds, len(sent_texts), seconds)
        for li, (ps, ss) in enumerate(zip(post_scores, sent_scores)):
            rows, cols = np.nonzero(ps >= self.thresholds[li])
            out.tags.append((li, rows.astype(np.int64), None, cols, np.round(ps[rows, cols], 6)))
            if sent_texts:
                ss = ss.copy()
                ss[:, self.post_only] = 0.0  # post-level codes are not tagged per sentence
                rows, cols = np.nonzero(ss >= self.thresholds[li])
                out.tags.append((li, owner_a[rows], sno_a[rows], cols, np.round(ss[rows, cols], 6)))
        return out


_WORKER: dict[str, BatchScorer] = {}  # the scorer, inherited by forked workers


def _score_in_worker(texts: list[str]) -> Scored:
    return _WORKER["scorer"].score(texts)


def score_batches(scorer: BatchScorer, batches: Iterable[tuple[Any, ...]], workers: int = 1
                  ) -> Iterator[tuple[Any, ...]]:
    """For each ``(*meta, texts)`` of ``batches``: ``(*meta, Scored)``, in order.

    With ``workers`` > 1 the batches are scored in that many forked processes (at most two batches
    per worker in flight); otherwise here."""
    if workers <= 1:
        for *meta, texts in batches:
            yield (*meta, scorer.score(texts))
        return
    import multiprocessing

    parallel = scorer.ident.parallel
    scorer.ident.parallel = False  # one text at a time inside each worker
    _WORKER["scorer"] = scorer
    try:
        with multiprocessing.get_context("fork").Pool(workers) as pool:
            pending: deque[tuple[Any, Any]] = deque()
            for *meta, texts in batches:
                pending.append((meta, pool.apply_async(_score_in_worker, (texts,))))
                while len(pending) >= 2 * workers:
                    meta0, res = pending.popleft()
                    yield (*meta0, res.get())
            while pending:
                meta0, res = pending.popleft()
                yield (*meta0, res.get())
    finally:
        _WORKER.clear()
        scorer.ident.parallel = parallel
