"""Layer (a): the codebook's own lexicons and regular expressions.

A lexicon entry is a phrase matched case-insensitively as whole tokens (words and single
punctuation marks), whatever the white space between its words, straight or curly apostrophes
alike; a trailing ``*`` stands for any continuation of the last word. All entries of all codes go
into one Aho-Corasick automaton (pyahocorasick) that reads a whole batch of texts in one pass, as
one stream of space-separated tokens (so each match is a run of whole tokens, and each starting
token counts once per entry). The code's ``patterns`` are used as written (case-insensitive,
multi-line); a match of one of its ``exclude_patterns`` sets the code's hits in that text to 0 (a
veto, e.g. "a question is not advice"). A zero-width pattern match is not a hit. Patterns also run
over the joined batch, except those with ``\\A`` or ``\\Z``, which run text by text.
A text's score for a code is ``hits / (hits + 1)`` with ``hits`` the number of matches (one match:
0.5, the default threshold; two: 0.67; ...), so the score says how much lexical evidence there is,
and ``min_hits`` is simply a stricter threshold.

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

APOSTROPHES = ("\u2019", "\u2018", "\u00b4", "`")  # read as a straight apostrophe
TOKEN = re.compile(r"\w+|[^\w\s]")
SEP = "\x00"            # separates the texts of a batch (a NUL inside a text is read as a space)
_SENT = "\x01"          # separates the sentences of a post (read as a space inside a text, too)
_PSEP = "\n\x00\n"      # the same for patterns: ^ and $ (multi-line) still see each text's edges
_ANCHORS = re.compile(r"\\[AZ]")


def normalise(text: str) -> str:
    """Lower case, every apostrophe straight (str.replace: far faster than str.translate)."""
    text = text.lower()
    for a in APOSTROPHES:
        if a in text:
            text = text.replace(a, "'")
    return text


def tokens(text: str) -> list[str]:
    """Lower-cased word and punctuation tokens (the unit lexicon entries are matched in)."""
    return TOKEN.findall(normalise(text))


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
        import ahocorasick

        self.codebook = codebook
        self._auto = ahocorasick.Automaton()
        keys: dict[str, list[int]] = {}
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
                if star and len(toks) == 1 and len(toks[0]) < 3:
                    raise ConfigError(f"codebook {codebook.id}, code {code.id}: a lexicon entry ending in * "
                                      f"needs at least 3 letters before the *: {toks[0]!r}")
                # tokens are matched in " tok tok tok ": a space before each token, after the last one
                # unless the entry ends in * (then the last word is a prefix)
                keys.setdefault(" " + " ".join(toks) + ("" if star else " "), []).append(j)
            if patterns:
                self._pat.append((j, re.compile("|".join(f"(?:{p})" for p in patterns), re.I | re.M)))
            vetoes = [p for lang, items in code.exclude_patterns.items()
                      if self.languages is None or lang in self.languages for p in items]
            if vetoes:
                self._veto.append((j, re.compile("|".join(f"(?:{p})" for p in vetoes), re.I | re.M)))
        for key, js in keys.items():
            self._auto.add_word(key, np.asarray(js, dtype=np.int64))
        if keys:
            self._auto.make_automaton()

    def hits(self, texts: Sequence[str]) -> np.ndarray:
        """Matches per text and code (int array)."""
        self._check_fitted()
        clean = [_clean(t) for t in texts]
        out = np.zeros((len(clean), len(self.codebook.codes)), dtype=np.int32)
        if clean and len(self._auto):
            # NUL (never a word, never in a lexicon) separates the texts: one token stream for the batch
            self._lexicon_hits(_stream(SEP.join(clean)), out)
        self._pattern_hits(clean, out)
        return out

    def hits_batch(self, batch: Any) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`hits` of a :class:`~forumscope.discourse.batch.TextBatch`'s posts and of its
        sentences, tokenised once: a post's tokens are its sentences' tokens, so one token stream
        with a mark between sentences gives both (the mark removed for the posts, made a text
        separator for the sentences). Patterns run on each level's texts (they may anchor at a
        sentence's start)."""
        self._check_fitted()
        n, k = len(batch.texts), len(self.codebook.codes)
        sentences = [_clean(s) for s in batch.sentences]
        posts_out = np.zeros((n, k), dtype=np.int32)
        sent_out = np.zeros((len(sentences), k), dtype=np.int32)
        if n and len(self._auto):
            bounds = np.searchsorted(batch.owner, np.arange(n + 1))
            stream = _stream(SEP.join(_SENT.join(sentences[bounds[i]:bounds[i + 1]]) for i in range(n)))
            self._lexicon_hits(stream.replace(" " + _SENT, ""), posts_out)
            # segments of the sentence stream: each post's sentences, or one empty segment for a post without
            per_post = np.maximum(np.bincount(batch.owner, minlength=n), 1)
            seg_start = np.concatenate([[0], np.cumsum(per_post)[:-1]])
            rows = np.full(int(per_post.sum()), -1, dtype=np.int64)
            rows[seg_start[batch.owner] + batch.sno] = np.arange(len(sentences))
            self._lexicon_hits(stream.replace(_SENT, SEP), sent_out, rows)
        self._pattern_hits([_clean(t) for t in batch.texts], posts_out)
        self._pattern_hits(sentences, sent_out)
        return posts_out, sent_out

    def _check_fitted(self) -> None:
        if self.codebook is None:
            raise ConfigError("rules layer: call fit(codebook) before scoring")

    def _lexicon_hits(self, stream: str, out: np.ndarray, rows_of: np.ndarray | None = None) -> None:
        """Add the lexicon matches in ``stream`` (texts separated by NUL tokens) to ``out``; with
        ``rows_of``, the stream's i-th text is row ``rows_of[i]`` of ``out`` (-1: none)."""
        seps = np.flatnonzero(np.frombuffer(stream.encode("utf-32-le"), dtype=np.uint32) == 0)
        ends, codes = [], []
        for end, js in self._auto.iter(stream):
            ends.append(end)
            codes.append(js)
        if not ends:
            return
        counts = np.fromiter((len(js) for js in codes), dtype=np.int64, count=len(codes))
        rows = np.repeat(np.searchsorted(seps, np.asarray(ends, dtype=np.int64)), counts)
        cols = np.concatenate(codes)
        if rows_of is not None:
            rows = rows_of[rows]
            cols = cols[rows >= 0]
            rows = rows[rows >= 0]
        np.add.at(out, (rows, cols), 1)

    def _pattern_hits(self, clean: list[str], out: np.ndarray) -> None:
        """Add the pattern matches in ``clean`` to ``out`` and apply the vetoes."""
        if not clean or not (self._pat or self._veto):
            return
        joined = _PSEP.join(clean)
        starts = np.cumsum([0] + [len(t) + len(_PSEP) for t in clean[:-1]])
        for j, pat in self._pat:
            np.add.at(out, (self._matches(pat, joined, starts, clean), j), 1)
        for j, veto in self._veto:
            out[self._matches(veto, joined, starts, clean), j] = 0

    @staticmethod
    def _matches(pat: re.Pattern[str], joined: str, starts: np.ndarray, texts: list[str]) -> np.ndarray:
        """The text index of each non-empty match of ``pat`` (one pass over the joined batch)."""
        if _ANCHORS.search(pat.pattern):  # \A, \Z: text boundaries that a joined batch does not have
            return np.asarray([i for i, t in enumerate(texts) for m in pat.finditer(t) if m.end() > m.start()],
                              dtype=np.int64)
        at = [m.start() for m in pat.finditer(joined) if m.end() > m.start() and SEP not in m.group()]
        return np.searchsorted(starts, np.asarray(at, dtype=np.int64), side="right") - 1

    def score(self, texts: Sequence[str]) -> np.ndarray:
        return _scores(self.hits(texts))

    def score_batch(self, batch: Any) -> tuple[np.ndarray, np.ndarray]:
        """Scores of a batch's posts and sentences (the same as :meth:`score` on each)."""
        posts, sentences = self.hits_batch(batch)
        return _scores(posts), _scores(sentences)


def _scores(hits: np.ndarray) -> np.ndarray:
    h = hits.astype(np.float64)
    return h / (h + 1.0)


def _clean(text: str | None) -> str:
    """The text with the batch separators (NUL, and the sentence mark) read as spaces."""
    text = text or ""
    if SEP in text or _SENT in text:
        text = text.replace(SEP, " ").replace(_SENT, " ")
    return text


def _stream(joined: str) -> str:
    """The tokens of ``joined``, normalised, as one space-separated stream with a space at each end."""
    return " " + " ".join(TOKEN.findall(normalise(joined))) + " "
