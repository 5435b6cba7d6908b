"""Sentence splitting for sentence-level tags: fast, language-neutral, good enough for forum text.

A sentence ends at ``.``, ``!``, ``?``, ``…`` (or runs of them), with the closing quotes and
brackets that follow them, before white space; or at a line break. Empty pieces are dropped;
pieces shorter than ``min_chars`` (emoticons, sign-offs) are merged into the sentence before them.
Common abbreviations (e.g., i.e., Dr., z.B., etc.) do not end a sentence. Sentences are cut only at
white space, so the words and punctuation marks of a post are exactly those of its sentences, in
order (the discourse step relies on this to tokenise a batch once for posts and sentences).
Sentence numbers start at 0.

    >>> split_sentences("I want to stop. How did you quit?\\ncheers")
    ['I want to stop.', 'How did you quit?\\ncheers']
"""

from __future__ import annotations

import re

_ABBREV = "".join(rf"(?<!\b{re.escape(a)}\.)" for a in ("e.g", "i.e", "dr", "mr", "mrs", "ms", "etc", "vs", "z.b", "ca",
                                                          "bzw", "sr", "st", "nr", "usw", "p.ej"))
# the closing quotes after a sentence's end are captured, to stay with the sentence (re.split
# returns them between the pieces)
_SPLIT = re.compile(rf"(?<=[.!?\u2026]){_ABBREV}([\"')\]]*)\s+|\n\s*\n+|\n(?=\S)", re.I)
MAX_SENTENCES = 200  # a post is cut into at most this many sentences (the rest is one last piece)


def split_sentences(text: str | None, min_chars: int = 8) -> list[str]:
    """The sentences of a text (see the module docstring)."""
    if not text:
        return []
    parts = _SPLIT.split(text, maxsplit=MAX_SENTENCES - 1)  # piece, closing quotes, piece, ...
    quotes = parts[1::2] + [None]  # the closing quotes after each piece (None: a line break cut it)
    pieces = [(p + (q or "")).strip() for p, q in zip(parts[0::2], quotes)]
    out: list[str] = []
    for p in pieces:
        if not p:
            continue
        if out and len(p) < min_chars:
            out[-1] = f"{out[-1]}\n{p}" if "\n" in text else f"{out[-1]} {p}"
        else:
            out.append(p)
    return out
