"""Layer (c): a classifier trained on the case's own human codes, and active learning.

The **supervised layer** follows the layer protocol of :mod:`forumscope.discourse.layers`. It is
trained on the post-level items of ``human_codes`` for the codebook; an item's label for a code is
the majority of the coders who coded it (more than half; ties are left out for that code). The
model is scikit-learn: TF-IDF word 1-2-grams and character 2-5-grams (within words), and one
logistic regression per code (``class_weight="balanced"``, liblinear dual solver, fixed seed). A code with
fewer than ``min_positives`` positive or ``min_negatives`` negative items is not trained: its score
is the share of positive items (a prior, below a threshold of 0.5 unless most items carry it) and
it is listed in :attr:`SupervisedLayer.untrained`.

With ``backend="minilm"`` the classifier is MiniLM fine-tuned end to end on the same items (the
embedding layer's ``mode="finetune"``, :mod:`forumscope.discourse.finetune`, with positives weighted
per code like the tfidf backend's balanced classes, and the same threshold; ``epochs``,
``device``, ``progress`` are passed on): on the GPU when torch sees one, else on the CPU (minutes
for a few thousand items). Fine-tuned MiniLM is the best layer on the advice-reddit sentences
(docs/validation.md, measured through the embedding layer).

**Active learning** (:func:`suggest`): uncertainty sampling (Lewis & Gale 1994; Settles 2009). The
layer is trained on the codes so far and scores uncoded posts (a seeded random pool of at most
``pool`` of them); the uncertainty of a post is ``1 - min_c |p_c - t| / max(t, 1 - t)`` over the
trained codes ``c`` (``p_c`` the predicted probability, ``t`` the threshold): 1 when some code sits
exactly at the threshold, 0 when every code is certain. The ``size`` most uncertain posts are
proposed (ties: the seeded hash order) and written as an ordinary coding sheet, with no model
output in it: coders never see what the model thinks.

Example::

    layer = SupervisedLayer()
    layer.fit(load_codebook("operating-model"), case)
    scores = layer.score(["I want to stop, who can help?"])
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from forumscope.errors import UsageError

UNLABELLED = -1
BACKENDS = ("tfidf", "minilm")


def training_data(case: Any, codebook: Any, *, forum_id: str | None = None
                  ) -> tuple[list[tuple[str, str]], list[str], np.ndarray, int]:
    """Post-level human-coded items: ((forum_id, post_id), texts, labels (n, codes) of 1/0/-1, coders).

    A label is the majority of the coders who coded the item for that code; -1 where none did or
    they tie."""
    codes = codebook.code_ids
    q = ("SELECT h.forum_id, h.post_id, h.code, sum(CASE WHEN h.value THEN 1 ELSE 0 END) AS ones, count(*) AS n, "
         "any_value(p.text) AS text FROM human_codes h JOIN posts p ON p.forum_id = h.forum_id AND p.id = h.post_id "
         "WHERE h.codebook = ? AND h.sentence_no IS NULL")
    params: list[Any] = [codebook.id]
    if forum_id is not None:
        q += " AND h.forum_id = ?"
        params.append(forum_id)
    rows = case.con.execute(q + " GROUP BY h.forum_id, h.post_id, h.code ORDER BY 1, 2", params).fetchall()
    coders = case.con.execute("SELECT count(DISTINCT coder) FROM human_codes WHERE codebook = ? "
                              "AND sentence_no IS NULL", [codebook.id]).fetchall()[0][0]
    index = {c: i for i, c in enumerate(codes)}
    items: dict[tuple[str, str], int] = {}
    texts: list[str] = []
    labels: list[list[int]] = []
    for f, p, code, ones, n, text in rows:
        if code not in index:
            continue
        key = (f, p)
        if key not in items:
            items[key] = len(texts)
            texts.append(text or "")
            labels.append([UNLABELLED] * len(codes))
        label = 1 if 2 * ones > n else 0 if 2 * ones < n else UNLABELLED
        labels[items[key]][index[code]] = label
    y = np.array(labels, dtype=np.int64).reshape(len(texts), len(codes))
    return list(items), texts, y, int(coders)


class SupervisedLayer:
    """TF-IDF + logistic regression per code, trained on the case's human codes."""

    name = "supervised"

    @property
    def fork_safe(self) -> bool:
        """False with the MiniLM backend (torch does not survive a fork)."""
        return self.backend != "minilm"

    def __init__(self, threshold: float = 0.5, min_positives: int = 3, min_negatives: int = 3, C: float = 4.0,
                 seed: int = 0, forum_id: str | None = None, backend: str = "tfidf", epochs: int = 3,
                 device: str = "auto", progress: Any = None):
        if not 0.0 < threshold < 1.0:
            raise UsageError(f"supervised layer: threshold must be between 0 and 1, got {threshold}")
        if backend not in BACKENDS:
            raise UsageError(f"supervised layer: backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
        self.backend = backend
        self.epochs = int(epochs)
        self.device = device
        self.progress = progress
        self._tuned: Any = None
        self.threshold = float(threshold)
        self.min_positives = int(min_positives)
        self.min_negatives = int(min_negatives)
        self.C = float(C)
        self.seed = int(seed)
        self.forum_id = forum_id
        self.model: str | None = None
        self.codebook: Any = None
        self.untrained: list[str] = []
        self.items = 0
        self._features: Any = None
        self._models: list[Any] = []
        self._priors = np.zeros(0)

    # ------------------------------------------------------------------ protocol
    def fit(self, codebook: Any, case: Any = None) -> None:
        """Train on the human codes of ``case`` for ``codebook`` (majority of coders per item)."""
        if case is None:
            raise UsageError("the supervised layer is trained on a case's human codes: give a case "
                             "(code posts with `forumscope coding export` / `coding import` first)")
        _, texts, y, coders = training_data(case, codebook, forum_id=self.forum_id)
        if not texts:
            raise UsageError(f"the supervised layer needs human codes for codebook {codebook.id!r}; none in this "
                             "case (see `forumscope coding export` and `forumscope coding import`)")
        self.fit_texts(codebook, texts, y)
        if self.backend == "minilm":
            self.model = f"{self._tuned.model}, {len(texts)} items coded by {coders} coder(s)"
            return
        self.model = (f"tfidf+logistic-regression (scikit-learn {_sklearn_version()}) on {len(texts)} items "
                      f"coded by {coders} coder(s)")

    def fit_texts(self, codebook: Any, texts: Sequence[str], labels: np.ndarray) -> "SupervisedLayer":
        """Train on texts and a (n, codes) label array of 1, 0 and -1 (unlabelled for that code)."""
        from sklearn.linear_model import LogisticRegression

        y = np.asarray(labels, dtype=np.int64)
        if y.shape != (len(texts), len(codebook.codes)):
            raise UsageError(f"supervised layer: labels of shape {y.shape}, expected {(len(texts), len(codebook.codes))}")
        self.codebook = codebook
        self.items = len(texts)
        if self.backend == "minilm":
            return self._fit_minilm(codebook, texts, y)
        self._features = _vectorizer()
        x = self._features.fit_transform([t or "" for t in texts])
        self._models = []
        trainable = self._trainable(codebook, y)
        for j in range(len(codebook.codes)):
            if not trainable[j]:
                self._models.append(None)
                continue
            mask = y[:, j] != UNLABELLED
            clf = LogisticRegression(C=self.C, class_weight="balanced", solver="liblinear", dual=True, max_iter=2000,
                                     random_state=self.seed)
            clf.fit(x[mask], y[mask, j])
            self._models.append(clf)
        if self.model is None:
            self.model = f"tfidf+logistic-regression (scikit-learn {_sklearn_version()}) on {len(texts)} items"
        return self

    def _fit_minilm(self, codebook: Any, texts: Sequence[str], y: np.ndarray) -> "SupervisedLayer":
        from forumscope.discourse.embedding import EmbeddingLayer

        trainable = self._trainable(codebook, y)
        y = y.copy()
        y[:, ~trainable] = UNLABELLED
        if len(self.untrained) == len(codebook.codes):
            raise UsageError("supervised layer: no code has enough positive and negative items to train on")
        self._tuned = EmbeddingLayer(mode="finetune", threshold=self.threshold, seed=self.seed, epochs=self.epochs,
                                     device=self.device, progress=self.progress, max_length=256,
                                     balance="balanced")
        self._tuned.train(codebook, texts, y)
        self._models = ["minilm" if ok else None for ok in trainable]
        self.model = self._tuned.model
        return self

    def _trainable(self, codebook: Any, y: np.ndarray) -> np.ndarray:
        """Per code: True when it has ``min_positives`` positive and ``min_negatives`` negative items.
        Sets the prior of every code (the share of its labelled items that are positive) and
        :attr:`untrained` (the codes that are not trainable)."""
        labelled = y != UNLABELLED
        n = labelled.sum(axis=0)
        pos = ((y == 1) & labelled).sum(axis=0)
        self._priors = np.where(n > 0, pos / np.maximum(n, 1), 0.0)
        trainable = (pos >= self.min_positives) & (n - pos >= self.min_negatives)
        self.untrained = [c for c, ok in zip(codebook.code_ids, trainable) if not ok]
        return trainable

    def score(self, texts: Sequence[str]) -> np.ndarray:
        if self._tuned is not None:
            out = self._tuned.score(texts) if len(texts) else np.empty((0, len(self._models)))
            for j, m in enumerate(self._models):
                if m is None:
                    out[:, j] = self._priors[j]
            return np.clip(out, 0.0, 1.0)
        if self._features is None:
            raise UsageError("the supervised layer is not trained: call fit() first")
        out = np.empty((len(texts), len(self._models)))
        if not len(texts):
            return out
        x = self._features.transform([t or "" for t in texts])
        for j, clf in enumerate(self._models):
            out[:, j] = self._priors[j] if clf is None else clf.predict_proba(x)[:, list(clf.classes_).index(1)]
        return np.clip(out, 0.0, 1.0)

    @property
    def trained(self) -> list[bool]:
        return [m is not None for m in self._models]


def _vectorizer() -> Any:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import FeatureUnion

    return FeatureUnion([
        ("words", TfidfVectorizer(analyzer="word", ngram_range=(1, 2), sublinear_tf=True, max_features=200_000)),
        ("chars", TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, max_features=200_000)),
    ])


def _sklearn_version() -> str:
    import sklearn

    return sklearn.__version__


def cross_validated_scores(codebook: Any, texts: Sequence[str], labels: np.ndarray, *, folds: int = 5,
                           seed: int = 0, **options: Any) -> np.ndarray:
    """Out-of-fold scores: each item scored by a layer trained without it (k-fold over items)."""
    from sklearn.model_selection import KFold

    n = len(texts)
    out = np.zeros((n, len(codebook.codes)))
    if n < 2:
        raise UsageError("cross-validation needs at least two coded items")
    k = min(folds, n)
    texts = list(texts)
    for train, test in KFold(n_splits=k, shuffle=True, random_state=seed).split(np.arange(n)):
        layer = SupervisedLayer(seed=seed, **options).fit_texts(codebook, [texts[i] for i in train], labels[train])
        out[test] = layer.score([texts[i] for i in test])
    return out


# ----------------------------------------------------------------------------- active learning
def uncertainty(scores: np.ndarray, threshold: float = 0.5, trained: Sequence[bool] | None = None) -> np.ndarray:
    """Per row: ``1 - min_c |p_c - t| / max(t, 1 - t)`` over the trained codes (1 = at the threshold)."""
    s = np.asarray(scores, dtype=float)
    if trained is not None:
        s = s[:, np.asarray(trained, dtype=bool)]
    if s.shape[1] == 0:
        raise UsageError("no code could be trained yet: code more posts (each code needs positive and "
                         "negative examples)")
    margin = np.abs(s - threshold).min(axis=1) / max(threshold, 1.0 - threshold)
    return 1.0 - margin


@dataclass
class Suggestion:
    ids: list[tuple[str, str]]
    uncertainty: list[float]
    pool: int
    layer: SupervisedLayer
    path: Path | None = None
    untrained: list[str] = field(default_factory=list)


def candidate_pool(case: Any, codebook: Any, pool: int, *, seed: int = 0, forum_id: str | None = None
                   ) -> list[tuple[str, str, str, str]]:
    """Uncoded posts with text, in seeded hash order, at most ``pool`` (0 = all): (forum_id, post_id, h, text)."""
    from forumscope.discourse.coding import candidates_sql

    sql = (f"SELECT c.forum_id, c.post_id, c.h, p.text FROM ({candidates_sql(codebook.id, forum_id, seed=seed)}) c "
           "JOIN posts p ON p.forum_id = c.forum_id AND p.id = c.post_id ORDER BY c.h, c.forum_id, c.post_id")
    if pool:
        sql += f" LIMIT {int(pool)}"
    return case.con.execute(sql).fetchall()


def suggest(case: Any, codebook: Any, size: int, *, pool: int = 20_000, seed: int = 0,
            forum_id: str | None = None, batch: int = 5_000, **options: Any) -> Suggestion:
    """The ``size`` most uncertain uncoded posts under a layer trained on the codes so far."""
    from forumscope.discourse.codebook import load_codebook

    if size < 1:
        raise UsageError("the number of posts to suggest must be at least 1")
    codebook = load_codebook(codebook)
    layer = SupervisedLayer(seed=seed, forum_id=forum_id, **options)
    layer.fit(codebook, case)
    cand = candidate_pool(case, codebook, pool, seed=seed, forum_id=forum_id)
    u = np.zeros(len(cand))
    for start in range(0, len(cand), batch):
        part = cand[start:start + batch]
        u[start:start + len(part)] = uncertainty(layer.score([r[3] for r in part]), layer.threshold, layer.trained)
    order = sorted(range(len(cand)), key=lambda i: (-u[i], cand[i][2], cand[i][0], cand[i][1]))[:size]
    return Suggestion([(cand[i][0], cand[i][1]) for i in order], [float(u[i]) for i in order], len(cand), layer,
                      untrained=list(layer.untrained))


def suggest_sheet(case: Any, codebook: Any, size: int, out: str | Path, *, guide: bool = True,
                  **options: Any) -> Suggestion:
    """:func:`suggest`, written as a coding sheet (no model output in it) with the codebook guide beside it."""
    from forumscope.discourse.codebook import load_codebook
    from forumscope.discourse.coding import codebook_guide, guide_path, post_rows, sheet_header, write_sheet

    codebook = load_codebook(codebook)
    sheet_header(codebook)
    s = suggest(case, codebook, size, **options)
    out = Path(out)
    write_sheet(out, codebook, post_rows(case, s.ids))
    if guide:
        guide_path(out).write_text(codebook_guide(codebook), encoding="utf-8")
    s.path = out
    return s
