"""One batch of post texts for the discourse step: the posts, their sentences, and their words once.

A layer scores a batch's posts and its sentences. Sentences are cut only at white space (see
:mod:`forumscope.discourse.sentences`), so a post's words are exactly its sentences' words in
order: :class:`TextBatch` hashes the words of the sentences once and hands the same words, with
their post as owner, to every user of post words (the fast layer, the distilled language model).

Example::

    batch = TextBatch(["Try a VPN. It works!", "ok"])
    batch.sentences                 # ['Try a VPN.', 'It works!', 'ok']
    owner, hashes = batch.post_words()   # post index and MurmurHash3 of each word, in reading order
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from forumscope.discourse.sentences import split_sentences


class TextBatch:
    """Post texts, their sentences (with ``sentence_level``) and their hashed words (computed once)."""

    def __init__(self, texts: Sequence[str | None], sentence_level: bool = True):
        self.texts = [t or "" for t in texts]
        self.sentence_level = bool(sentence_level)
        sentences: list[str] = []
        owner: list[int] = []
        sno: list[int] = []
        if sentence_level:
            for i, t in enumerate(self.texts):
                for s_i, s in enumerate(split_sentences(t)):
                    sentences.append(s)
                    owner.append(i)
                    sno.append(s_i)
        self.sentences = sentences
        self.owner = np.asarray(owner, dtype=np.int64)   # post index of each sentence
        self.sno = np.asarray(sno, dtype=np.int32)       # its number within the post
        self._sentence_words: tuple[np.ndarray, np.ndarray] | None = None
        self._post_words: tuple[np.ndarray, np.ndarray] | None = None

    def sentence_words(self) -> tuple[np.ndarray, np.ndarray]:
        """(sentence index, word hash) of every word of the sentences, in reading order."""
        if self._sentence_words is None:
            from forumscope.discourse.fast import word_hashes  # scikit-learn loads with it

            self._sentence_words = word_hashes(self.sentences)
        return self._sentence_words

    def post_words(self) -> tuple[np.ndarray, np.ndarray]:
        """(post index, word hash) of every word of the posts, in reading order: the sentences' words
        when the batch has sentences (the same words), else hashed from the posts."""
        if self._post_words is None:
            if self.sentence_level:
                s_owner, h = self.sentence_words()
                self._post_words = (self.owner[s_owner], h)
            else:
                from forumscope.discourse.fast import word_hashes

                self._post_words = word_hashes(self.texts)
        return self._post_words
