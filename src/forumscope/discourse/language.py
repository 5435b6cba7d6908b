"""Language identification per post with lingua, restricted to a configured language set.

lingua's all-language detector needs about 1.3 GB of memory; a detector built from a handful of
languages needs a few tens of MB, so the detector is only ever built from the configured
languages (``languages``, ISO 639-1 codes). Texts shorter than ``min_chars`` characters (after
removing @mentions, URLs and white space) are "unknown": statistics on a few words are guesses.

Example::

    from forumscope.discourse.language import LanguageIdentifier
    ident = LanguageIdentifier(("en", "de", "es"))
    ident.identify(["Das Wetter ist heute wirklich furchtbar schlecht.", "ok"])
    # (["de", "unknown"], array([0.9..., nan]))
"""

from __future__ import annotations

import re
from typing import Sequence

import numpy as np

from forumscope.errors import ConfigError

DEFAULT_LANGUAGES = ("en", "de", "fr", "nl", "es")
UNKNOWN = "unknown"
_NOISE = re.compile(r"https?://\S+|www\.\S+|@\w+|\s+")


def _clean(text: str | None) -> str:
    """The text without URLs and @mentions, white space runs as one space (the regex only where needed)."""
    if not text:
        return ""
    if "http" in text or "www." in text or "@" in text:
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
        langs = [UNKNOWN] * len(texts)
        conf = np.full(len(texts), np.nan)
        cleaned = [_clean(t) for t in texts]
        todo = [i for i, t in enumerate(cleaned) if len(t) >= self.min_chars]
        if not todo:
            return langs, conf
        if self._detector is None:
            for i in todo:
                langs[i], conf[i] = self.languages[0], 1.0
            return langs, conf
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
        return langs, conf
