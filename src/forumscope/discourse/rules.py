"""Layer (a): the codebook's own lexicons and regular expressions.

Each code's lexicon entries (all languages, or the languages given) become one compiled regular
expression: an entry is a phrase matched case-insensitively with word boundaries at both ends,
any run of white space between its words, straight or curly apostrophes alike, and a trailing
``*`` standing for any continuation of the last word. The code's ``patterns`` are used as written
(case-insensitive); a match of one of its ``exclude_patterns`` sets the code's hits in that text to
0 (a veto, e.g. "a question is not advice"). A text's score for a code is ``hits / (hits + 1)``
with ``hits`` the number of matches (one match: 0.5, the default threshold; two: 0.67; ...), so the score says how much
lexical evidence there is, and ``min_hits`` is simply a stricter threshold.

Example::

    from forumscope.discourse.codebook import load_codebook
    from forumscope.discourse.rules import RulesLayer
    layer = RulesLayer(); layer.fit(load_codebook("operating-model"))
    layer.score(["Everyone does it, nobody cares."])   # normalisation: 2 hits -> 0.67
"""

from __future__ import annotations

import re
from typing import Any, Sequence

import numpy as np

from forumscope.errors import ConfigError

APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u00b4": "'", "`": "'"})
TOKEN = re.compile(r"\w+|[^\w\s]")


def tokens(text: str) -> list[str]:
    """Lower-cased word and punctuation tokens (the unit lexicon entries are matched in)."""
    return TOKEN.findall(text.lower().translate(APOSTROPHES))


def entry_tokens(entry: str) -> tuple[tuple[str, ...], bool]:
    """A lexicon entry as tokens, and whether its last word is a prefix (trailing ``*``)."""
    e = entry.strip()
    star = e.endswith("*")
    toks = tuple(tokens(e[:-1] if star else e))
    if not toks:
        raise ConfigError(f"lexicon entry {entry!r} has no words")
    return toks, star


class RulesLayer:
    """Lexicon and pattern matching (no model, no training)."""

    name = "rules"
    model = None

    def __init__(self, threshold: float = 0.5, languages: Sequence[str] | None = None):
        if not 0 < threshold <= 1:
            raise ConfigError(f"rules layer: threshold must be in (0, 1], got {threshold}")
        self.threshold = float(threshold)
        self.languages = tuple(languages) if languages else None
        self._lex: list[re.Pattern[str] | None] = []
        self._pat: list[re.Pattern[str] | None] = []
        self.codebook: Any = None

    def fit(self, codebook: Any, case: Any = None) -> None:
        self.codebook = codebook
        self._index: dict[str, list[tuple[list[str], int, bool]]] = {}
        self._prefix: dict[str, list[tuple[str, int]]] = {}
        self._pat: list[tuple[int, re.Pattern[str]]] = []
        self._veto: list[tuple[int, re.Pattern[str]]] = []
        for j, code in enumerate(codebook.codes):
            entries: set[tuple[tuple[str, ...], bool]] = set()
            patterns: list[str] = []
            for lang, items in code.lexicon.items():
                if self.languages is None or lang in self.languages:
                    entries.update(entry_tokens(x) for x in items)
            for lang, items in code.patterns.items():
                if self.languages is None or lang in self.languages:
                    patterns.extend(items)
            for toks, star in sorted(entries):
                if star and len(toks) == 1:
                    if len(toks[0]) < 3:
                        raise ConfigError(f"codebook {codebook.id}, code {code.id}: a lexicon entry ending in * "
                                          f"needs at least 3 letters before the *: {toks[0]!r}")
                    self._prefix.setdefault(toks[0][:3], []).append((toks[0], j))
                else:
                    self._index.setdefault(toks[0], []).append((list(toks[1:]), j, star))
            if patterns:
                self._pat.append((j, re.compile("|".join(f"(?:{p})" for p in patterns), re.I | re.M)))
            vetoes = [p for lang, items in code.exclude_patterns.items()
                      if self.languages is None or lang in self.languages for p in items]
            if vetoes:
                self._veto.append((j, re.compile("|".join(f"(?:{p})" for p in vetoes), re.I | re.M)))

    def hits(self, texts: Sequence[str]) -> np.ndarray:
        """Matches per text and code (int array)."""
        if self.codebook is None:
            raise ConfigError("rules layer: call fit(codebook) before scoring")
        out = np.zeros((len(texts), len(self.codebook.codes)), dtype=np.int32)
        index_get, prefix_get = self._index.get, self._prefix.get
        for i, text in enumerate(texts):
            if not text:
                continue
            row = out[i]
            toks = TOKEN.findall(text.lower().translate(APOSTROPHES))
            n = len(toks)
            for k, t in enumerate(toks):
                cands = index_get(t)
                if cands is not None:
                    for rest, j, star in cands:
                        m = len(rest)
                        if not m:
                            row[j] += 1
                        elif k + m < n:
                            if star:
                                if toks[k + 1:k + m] == rest[:-1] and toks[k + m].startswith(rest[-1]):
                                    row[j] += 1
                            elif toks[k + 1:k + 1 + m] == rest:
                                row[j] += 1
                if len(t) >= 3:
                    pcands = prefix_get(t[:3])
                    if pcands is not None:
                        for prefix, j in pcands:
                            if t.startswith(prefix):
                                row[j] += 1
            for j, pat in self._pat:
                row[j] += len(pat.findall(text))
            for j, veto in self._veto:
                if row[j] and veto.search(text):
                    row[j] = 0
        return out

    def score(self, texts: Sequence[str]) -> np.ndarray:
        h = self.hits(texts).astype(np.float64)
        return h / (h + 1.0)
