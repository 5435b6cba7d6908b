"""Language identification per post with lingua, restricted to a configured language set.

lingua's all-language detector needs about 1.3 GB of memory; a detector built from a handful of
languages needs a few tens of MB, so the detector is only ever built from the configured
languages (``languages``, ISO 639-1 codes). Texts shorter than ``min_chars`` characters (after
removing @mentions, URLs and white space) are "unknown": statistics on a few words are guesses.
For very large forums, :class:`DistilledLanguageIdentifier` learns lingua's answers on a sample and
answers the posts it is sure of itself (about 9 times faster than lingua's low-accuracy mode).

Example::

    from forumscope.discourse.language import LanguageIdentifier
    ident = LanguageIdentifier(("en", "de", "es"))
    ident.identify(["Das Wetter ist heute wirklich furchtbar schlecht.", "ok"])
    # (["de", "unknown"], array([0.9..., nan]))
"""

from __future__ import annotations

import re
from typing import Any, Sequence

import numpy as np

from forumscope.errors import ConfigError

DEFAULT_LANGUAGES = ("en", "de", "fr", "nl", "es")
UNKNOWN = "unknown"
_NOISE = re.compile(r"https?://\S+|www\.\S+|@\w+|\s+")


def _needs_cleaning(text: str | None) -> bool:
    """Whether the text may hold a URL or an @mention (else cleaning only joins its white space)."""
    return bool(text) and ("http" in text or "www." in text or "@" in text)


def _clean(text: str | None) -> str:
    """The text without URLs and @mentions, white space runs as one space (the regex only where needed)."""
    if not text:
        return ""
    if _needs_cleaning(text):
        return _NOISE.sub(" ", text).strip()
    return " ".join(text.split())  # the same result as the regex here, several times faster


class LanguageIdentifier:
    """lingua detector for the given languages; short texts are ``unknown``."""

    def __init__(self, languages: Sequence[str] = DEFAULT_LANGUAGES, min_chars: int = 20,
                 min_confidence: float = 0.0, low_accuracy: bool = False):
        from lingua import IsoCode639_1, LanguageDetectorBuilder

        langs = tuple(dict.fromkeys(x.strip().lower() for x in languages if x.strip()))
        if not langs:
            raise ConfigError("language identification: give at least one language (ISO 639-1 code)")
        codes = []
        for lang in langs:
            code = getattr(IsoCode639_1, lang.upper(), None) if re.fullmatch(r"[a-z]{2}", lang) else None
            if code is None:
                raise ConfigError(f"language identification: {lang!r} is not an ISO 639-1 code lingua knows")
            codes.append(code)
        if min_chars < 0:
            raise ConfigError("language identification: min_chars must be at least 0")
        self.languages = langs
        self.min_chars = int(min_chars)
        self.min_confidence = float(min_confidence)
        self.low_accuracy = bool(low_accuracy)
        self.parallel = True  # lingua's own thread pool; False: one text at a time (in worker processes)
        if len(codes) == 1:  # lingua needs two languages; one language means every long text is that one
            self._detector = None
        else:
            builder = LanguageDetectorBuilder.from_iso_codes_639_1(*codes)
            if low_accuracy:
                builder = builder.with_low_accuracy_mode()
            self._detector = builder.build()

    def identify(self, texts: Sequence[str | None]) -> tuple[list[str], np.ndarray]:
        """(language per text, confidence per text; NaN for unknown)."""
        langs, conf, _ = self.detect(texts)
        return langs, conf

    def describe(self) -> str:
        mode = "low" if self.low_accuracy else "high"
        return f"lingua {_lingua_version()} ({mode} accuracy) over {', '.join(self.languages)}"

    uses_words = False  # lingua reads the texts (``detect``'s ``words`` are not needed)

    def detect(self, texts: Sequence[str | None], words: tuple[np.ndarray, np.ndarray] | None = None
               ) -> tuple[list[str], np.ndarray, list[str | None]]:
        """(language, confidence (NaN for unknown), method: ``lingua`` or None for unknown) per text.
        ``words`` is accepted for the same signature as the distilled identifier's, and not used."""
        langs, conf, methods, cleaned, todo = _start(texts, self.min_chars)
        if not todo:
            return langs, conf, methods
        if self._detector is None:
            for i in todo:
                langs[i], conf[i], methods[i] = self.languages[0], 1.0, "lingua"
            return langs, conf, methods
        if self.parallel:
            values = self._detector.compute_language_confidence_values_in_parallel([cleaned[i] for i in todo])
        else:
            one = self._detector.compute_language_confidence_values
            values = [one(cleaned[i]) for i in todo]
        for i, vals in zip(todo, values):
            if not vals:
                continue
            top = vals[0]
            if top.value <= 0 or top.value < self.min_confidence:
                continue
            langs[i] = top.language.iso_code_639_1.name.lower()
            conf[i] = round(float(top.value), 6)  # the parallel and serial APIs differ in the last bits
            methods[i] = "lingua"
        return langs, conf, methods


def _label_chunk(task: tuple[tuple[str, ...], int, list[str]]) -> list[str]:
    languages, min_chars, texts = task
    ident = LanguageIdentifier(languages, min_chars=min_chars)
    ident.parallel = False  # never lingua's thread pool in a forked process
    return ident.detect(texts)[0]


def teacher_labels(languages: Sequence[str], min_chars: int, texts: list[str], workers: int = 2) -> list[str]:
    """lingua's high-accuracy answers for ``texts``, computed in ``workers`` forked processes (its
    models, about 170 MB for five languages, are loaded there and freed with them)."""
    import multiprocessing

    if not texts:
        return []
    size = -(-len(texts) // workers)
    tasks = [(tuple(languages), min_chars, texts[i:i + size]) for i in range(0, len(texts), size)]
    with multiprocessing.get_context("fork").Pool(len(tasks)) as pool:
        parts = pool.map(_label_chunk, tasks)
    return [lang for part in parts for lang in part]


def _start(texts: Sequence[str | None], min_chars: int
           ) -> tuple[list[str], np.ndarray, list[str | None], list[str], list[int]]:
    """Answers that say unknown, the cleaned texts, and the positions of those long enough to identify."""
    cleaned = [_clean(t) for t in texts]
    todo = [i for i, t in enumerate(cleaned) if len(t) >= min_chars]
    return [UNKNOWN] * len(texts), np.full(len(texts), np.nan), [None] * len(texts), cleaned, todo


def _lingua_version() -> str:
    from importlib.metadata import version

    try:
        return version("lingua-language-detector")
    except Exception:  # pragma: no cover - an unusual installation
        return "?"


class DistilledLanguageIdentifier:
    """lingua's answers on a sample of the forum, learnt by a naive Bayes model on hashed words.

    For very large forums: lingua (high accuracy, in ``workers`` forked processes, so that its large
    models never stay in this one) labels a sample of the posts (``fit``); a multinomial naive Bayes
    model on hashed word counts learns those labels, and a vocabulary per language records the
    words seen in the sample's posts of that language. A post gets the model's language only when the
    model is sure (probability >= ``min_probability``) and the post's words are known in that language
    (share of its words seen in the sample's posts of that language >= ``min_coverage``); every other
    post (a language rare or absent in the sample, a mixed or unusual post) goes to ``base`` (lingua
    as the caller configured it; the discourse step uses the low-accuracy mode). A fifth of
    the sample is held out: if the answers (model or lingua) agree with lingua's on fewer than
    ``min_agreement`` of it, the model is not used at all and every post goes to lingua.

    Example::

        base = LanguageIdentifier(("en", "de", "es"), low_accuracy=True)
        ident = DistilledLanguageIdentifier(base)
        ident.fit(sample_texts)           # a random sample of the forum's posts
        langs, conf, methods = ident.detect(texts)   # methods: "distilled", "lingua" or None
    """

    def __init__(self, base: LanguageIdentifier, min_probability: float = 0.99, min_coverage: float = 0.8,
                 min_agreement: float = 0.99, bits: int = 20, workers: int = 2):
        self.base = base
        self.workers = max(1, int(workers))
        self.languages = base.languages
        self.min_chars = base.min_chars
        self.min_probability = float(min_probability)
        self.min_coverage = float(min_coverage)
        self.min_agreement = float(min_agreement)
        self.bits = int(bits)
        self.classes: list[str] = []
        self.enabled = False
        self.stats: dict[str, float] = {}
        self._vocab: np.ndarray | None = None   # (classes, 2**bits) bool: word seen in a post of that language
        self._clf: Any = None

    @property
    def parallel(self) -> bool:
        return self.base.parallel

    @parallel.setter
    def parallel(self, value: bool) -> None:
        self.base.parallel = value

    @property
    def uses_words(self) -> bool:
        """Whether :meth:`detect` can take the texts' words (hashed once by the caller)."""
        return self.enabled

    # ------------------------------------------------------------------ training
    def fit(self, texts: Sequence[str | None]) -> "DistilledLanguageIdentifier":
        """Learn lingua's answers (high accuracy, in forked worker processes) on ``texts``, a sample."""
        cleaned = [c for c in (_clean(t) for t in texts) if len(c) >= self.min_chars]
        langs = teacher_labels(self.languages, self.min_chars, cleaned, self.workers)
        pairs = [(t, lang) for t, lang in zip(cleaned, langs) if lang != UNKNOWN]
        cut = int(len(pairs) * 0.8)
        train, held = pairs[:cut], pairs[cut:]
        self.stats = {"sample": float(len(cleaned)), "train": float(len(train)), "held_out": float(len(held))}
        if len(train) < 100 or len(held) < 20:
            self.enabled = False
            return self
        self.classes = sorted({lang for _, lang in train})
        y = np.array([self.classes.index(lang) for _, lang in train])
        owner, cols = self._word_columns([t for t, _ in train])
        self._vocab = np.zeros((len(self.classes), 2 ** self.bits), dtype=bool)
        self._vocab[y[owner], cols] = True
        if len(self.classes) > 1:
            from sklearn.naive_bayes import MultinomialNB

            self._clf = MultinomialNB(alpha=0.1).fit(self._features(owner, cols, len(train)), y)
        self.enabled = True
        got, _, methods = self.detect([t for t, _ in held])
        agree = float(np.mean([g == lang for g, (_, lang) in zip(got, held)]))
        share = float(np.mean([m == "distilled" for m in methods]))
        self.stats.update(agreement=round(agree, 4), distilled_share=round(share, 4))
        self.enabled = agree >= self.min_agreement
        return self

    def _word_columns(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """(text index, hashed column) of every word of ``texts`` (the fast layer's tokens)."""
        from forumscope.discourse.fast import word_hashes  # imported here: scikit-learn loads with it

        owner, h = word_hashes(texts)
        return owner, (h & np.uint64(2 ** self.bits - 1)).astype(np.int64)

    def _todo_columns(self, texts: Sequence[str | None], cleaned: list[str], todo: list[int],
                      words: tuple[np.ndarray, np.ndarray] | None) -> tuple[np.ndarray, np.ndarray]:
        """(position in ``todo``, hashed column) of the words of the cleaned texts at ``todo``."""
        if words is None:
            return self._word_columns([cleaned[i] for i in todo])
        pos = np.full(len(texts), -1, dtype=np.int64)
        pos[todo] = np.arange(len(todo))
        dirty = [j for j, i in enumerate(todo) if _needs_cleaning(texts[i])]
        pos[[todo[j] for j in dirty]] = -1
        owner, h = words
        keep = pos[owner] >= 0
        owner = pos[owner[keep]]
        cols = (h[keep] & np.uint64(2 ** self.bits - 1)).astype(np.int64)
        if dirty:
            d_owner, d_cols = self._word_columns([cleaned[todo[j]] for j in dirty])
            owner = np.concatenate([owner, np.asarray(dirty, dtype=np.int64)[d_owner]])
            cols = np.concatenate([cols, d_cols])
        return owner, cols

    def _features(self, owner: np.ndarray, cols: np.ndarray, n: int) -> Any:
        import scipy.sparse as sp

        X = sp.csr_matrix((np.ones(len(cols), np.float32), (owner, cols)), shape=(n, 2 ** self.bits))
        X.sum_duplicates()
        return X

    def describe(self) -> str:
        base = self.base.describe()
        if not self.stats:
            return base
        s = self.stats
        if not self.enabled:
            why = (f"held-out agreement {s['agreement']:.4f} < {self.min_agreement}" if "agreement" in s
                   else "too few labelled posts in the sample")
            return f"{base}; the distilled model was not used ({why})"
        return (f"lingua {_lingua_version()} (high accuracy) on {int(s['sample']):,} sampled posts, distilled into a "
                f"naive Bayes model on hashed words ({', '.join(self.classes)}) that answers where it is sure; "
                f"{base} for the rest; on the {int(s['held_out']):,} held-out posts: "
                f"{s['distilled_share']:.1%} answered by the model, agreement with lingua {s['agreement']:.2%}")

    # ------------------------------------------------------------------ answers
    def identify(self, texts: Sequence[str | None]) -> tuple[list[str], np.ndarray]:
        langs, conf, _ = self.detect(texts)
        return langs, conf

    def detect(self, texts: Sequence[str | None], words: tuple[np.ndarray, np.ndarray] | None = None
               ) -> tuple[list[str], np.ndarray, list[str | None]]:
        """(language, confidence, method) per text; method ``distilled``, ``lingua`` or None (unknown).

        ``words``: the texts' :func:`~forumscope.discourse.fast.word_hashes` when the caller has
        them (a text without URLs and @mentions has the same words cleaned; the others are hashed
        here). The confidence of a distilled answer is the model's probability (NaN when the sample
        had a single language)."""
        if not self.enabled:
            return self.base.detect(texts)
        langs, conf, methods, cleaned, todo = _start(texts, self.min_chars)
        if not todo:
            return langs, conf, methods
        owner, cols = self._todo_columns(texts, cleaned, todo, words)
        n = len(todo)
        if self._clf is not None:
            proba = self._clf.predict_proba(self._features(owner, cols, n))
            best = proba.argmax(axis=1)
            p_best = proba[np.arange(n), best]
        else:
            best = np.zeros(n, dtype=np.int64)
            p_best = np.ones(n)
        words = np.bincount(owner, minlength=n)
        known = np.bincount(owner, weights=self._vocab[best[owner], cols], minlength=n)
        coverage = np.divide(known, words, out=np.zeros(n), where=words > 0)
        accept = (p_best >= self.min_probability) & (coverage >= self.min_coverage) & (words > 0)
        rest = []
        for j, i in enumerate(todo):
            if accept[j]:
                langs[i] = self.classes[best[j]]
                conf[i] = round(float(p_best[j]), 6) if self._clf is not None else np.nan
                methods[i] = "distilled"
            else:
                rest.append(i)
        if rest:
            r_langs, r_conf, r_methods = self.base.detect([cleaned[i] for i in rest])
            for i, lang, c, m in zip(rest, r_langs, r_conf, r_methods):
                langs[i], conf[i], methods[i] = lang, c, m
        return langs, conf, methods
