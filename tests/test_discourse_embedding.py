"""The MiniLM layer: loads offline from the shipped package, scores codes by similarity, runs in the step."""

from __future__ import annotations

import socket

import numpy as np
import pytest

pytest.importorskip("sentence_transformers")

from forumscope.discourse import embedding  # noqa: E402
from forumscope.discourse.codebook import load_codebook  # noqa: E402
from forumscope.discourse.embedding import EmbeddingLayer  # noqa: E402
from forumscope.errors import ConfigError  # noqa: E402


def test_loads_offline_and_ranks_codes(monkeypatch):
    def refuse(*a, **k):
        raise OSError("network access attempted (SAFETY.md: no network at run time)")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(embedding, "_MODEL_CACHE", {})  # load it again, with the network refused
    cb = load_codebook("operating-model")
    layer = EmbeddingLayer(device="cpu")
    layer.fit(cb)
    assert "all-MiniLM-L6-v2" in layer.model and "cpu" in layer.model
    texts = ["I keep doing it and I really want to quit, where can I get help to stop?",
             "Unzip the patch into the game folder and restart the launcher to fix the crash.",
             "Honestly everybody around here does it, it is completely normal."]
    s = layer.score(texts)
    assert s.shape == (3, len(cb.codes)) and (s >= 0).all() and (s <= 1).all()
    top = [cb.code_ids[i] for i in s.argmax(axis=1)]
    assert top == ["help_seeking", "technical_help", "normalisation"]
    # definition-only codebooks still work: similarity to the clinical definitions
    wk = EmbeddingLayer(device="cpu")
    wk.fit(load_codebook("ward-keenan"))
    assert wk.score(["the world is hostile and everyone is against me"]).shape == (1, 5)


def test_head_learns_from_labels():
    cb = load_codebook("advice")
    pos = ["You should talk to your teacher.", "Try going to bed earlier.", "I would wait a week.",
           "Make sure you drink water.", "Ask your boss for feedback.", "Consider taking a break."]
    neg = ["My son is four years old.", "We moved last summer.", "The weather was awful.",
           "I had a long day at work.", "She likes painting.", "Our car broke down twice."]
    y = np.array([[1, -1]] * len(pos) + [[0, -1]] * len(neg))
    layer = EmbeddingLayer(device="cpu").train(cb, pos + neg, y)
    assert layer.untrained == ["help_request"]
    s = layer.score(["You should ask your doctor.", "My daughter is six."])
    assert s[0, 0] > 0.5 > s[1, 0]


def test_bad_options():
    with pytest.raises(ConfigError, match="mode"):
        EmbeddingLayer(mode="magic")
    with pytest.raises(ConfigError, match="threshold"):
        EmbeddingLayer(threshold=1.5)
