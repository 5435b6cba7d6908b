"""MiniLM fine-tuned end to end (the embedding layer's mode="finetune") and the sentence-context protocol."""

from __future__ import annotations

import numpy as np
import pytest

from forumscope.discourse.codebook import load_codebook
from forumscope.discourse.layers import neighbours, score_texts
from forumscope.errors import ConfigError

ADVICE = ["You should talk to your coach before the race.", "Try asking the ticket office for a refund.",
          "I would wait a week before you buy another licence.", "Make sure you keep the receipt.",
          "Ask the shop manager to check the cameras.", "Consider reporting the cheat to the game admins.",
          "You could take the later train instead.", "Tell your teammates about the doping test."]
STORY = ["My brother rode his bike to the station.", "We moved to a new flat last summer.",
         "The weather was awful all weekend.", "I had a long shift at work yesterday.",
         "Our old car broke down twice in March.", "She bought a cheap copy of the game.",
         "The match ended in a draw.", "The bus was late again this morning."]


def test_neighbours_follow_groups():
    prev, nxt, pos, size = neighbours(["a", "a", "a", "b", "c", "c"], 6)
    assert prev.tolist() == [-1, 0, 1, -1, -1, 4]
    assert nxt.tolist() == [1, 2, -1, -1, 5, -1]
    assert pos.tolist() == [0, 1, 2, 0, 0, 1] and size.tolist() == [3, 3, 3, 1, 2, 2]
    p0, n0, _, s0 = neighbours(None, 3)                       # no groups: every text alone
    assert p0.tolist() == n0.tolist() == [-1, -1, -1] and s0.tolist() == [1, 1, 1]
    with pytest.raises(ConfigError, match="2 entries for 3 texts"):
        neighbours([1, 1], 3)


def test_score_texts_passes_groups_only_to_context_layers():
    seen = []

    class Plain:
        def score(self, texts):
            seen.append("plain")
            return np.zeros((len(texts), 1))

    class Ctx:
        uses_context = True

        def score(self, texts, groups=None):
            seen.append(list(groups))
            return np.zeros((len(texts), 1))

    score_texts(Plain(), ["x", "y"], groups=[0, 0])
    score_texts(Ctx(), ["x", "y"], groups=[0, 0])
    assert seen == ["plain", [0, 0]]


@pytest.fixture(scope="module")
def tuned():
    pytest.importorskip("sentence_transformers")
    import torch

    from forumscope.discourse.embedding import EmbeddingLayer

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        cb = load_codebook("advice")
        texts = ADVICE[:6] + STORY[:6]
        y = np.array([[1, -1]] * 6 + [[0, -1]] * 6)
        groups = [f"p{i // 2}" for i in range(12)]               # posts of two sentences each
        calls = []
        layer = EmbeddingLayer(mode="finetune", context=True, epochs=6, lr=1e-4, device="cpu", seed=1,
                               progress=lambda f, m: calls.append((f, m)))
        from forumscope.discourse.embedding import load_minilm

        shared = load_minilm("cpu")[0].auto_model                   # the cached model other layers use
        before = float(sum(p.detach().double().abs().sum() for p in shared.parameters()))
        layer.train(cb, texts, y, groups=groups)
        after = float(sum(p.detach().double().abs().sum() for p in shared.parameters()))
        assert before == after                                     # training works on a copy
        return layer, calls
    finally:
        torch.set_num_threads(threads)


def test_finetune_separates_two_classes(tuned):
    layer, calls = tuned
    assert layer.uses_context and layer.untrained == ["help_request"]
    assert "fine-tuned with sentence context" in layer.model
    held_out = ADVICE[6:] + STORY[6:]                              # not seen in training
    s = layer.score(held_out)
    assert s.shape == (4, 2) and (s[:, 1] == 0).all()
    assert min(s[:2, 0]) > max(s[2:, 0]), s[:, 0]
    assert calls and calls[-1][0] == pytest.approx(1.0) and "epoch" in calls[-1][1]


def test_context_stays_within_posts(tuned):
    layer, _ = tuned
    a, b = [ADVICE[6], STORY[6]], [STORY[7], ADVICE[7], STORY[0]]
    together = layer.score(a + b, groups=[0, 0, 1, 1, 1])
    alone = layer.score(b, groups=[5, 5, 5])
    assert np.allclose(together[2:], alone, atol=1e-5)          # another post's sentences change nothing
    singles = layer.score(b, groups=[1, 2, 3])                  # same sentences without neighbours
    assert not np.allclose(singles[:, 0], alone[:, 0], atol=1e-4)


def test_finetune_bad_input():
    pytest.importorskip("sentence_transformers")
    from forumscope.discourse.embedding import EmbeddingLayer

    cb = load_codebook("advice")
    layer = EmbeddingLayer(mode="finetune", device="cpu")
    with pytest.raises(ConfigError, match="call fit"):
        layer.score(["x"])
    with pytest.raises(ConfigError, match="both positive and negative"):
        layer.train(cb, ["a", "b"], np.array([[1, -1], [1, -1]]))
    with pytest.raises(ConfigError, match="epochs"):
        EmbeddingLayer(mode="finetune", epochs=0, device="cpu")


def test_balanced_fine_tuning_lifts_a_rare_code():
    """balance="balanced" weights a code's positives by negatives / positives: with 2 positives among
    12 texts the positive class is not learnt as "never" (the supervised layer's MiniLM backend)."""
    pytest.importorskip("sentence_transformers")
    import torch

    from forumscope.discourse.embedding import EmbeddingLayer
    from forumscope.discourse.finetune import MiniLMFineTuner

    with pytest.raises(ConfigError, match="balance"):
        MiniLMFineTuner(1, balance="sometimes")
    cb = load_codebook("advice")
    texts = ADVICE[:2] + STORY[:8] + STORY[:2]
    y = np.array([[1, -1]] * 2 + [[0, -1]] * 10)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        means = {}
        for balance in ("none", "balanced"):
            layer = EmbeddingLayer(mode="finetune", epochs=2, lr=1e-4, device="cpu", seed=1, balance=balance)
            layer.train(cb, texts, y)
            means[balance] = float(layer.score(ADVICE[2:])[:, 0].mean())
    finally:
        torch.set_num_threads(threads)
    assert means["balanced"] > means["none"] + 0.05, means


def test_supervised_layer_with_the_minilm_backend():
    pytest.importorskip("sentence_transformers")
    import torch

    from forumscope.discourse.supervised import SupervisedLayer
    from forumscope.errors import UsageError

    cb = load_codebook("advice")
    texts = ADVICE[:6] + STORY[:6]
    y = np.array([[1, 0]] * 6 + [[0, 0]] * 5 + [[0, 1]])        # help_request: one positive only
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        layer = SupervisedLayer(backend="minilm", epochs=6, device="cpu", seed=2).fit_texts(cb, texts, y)
    finally:
        torch.set_num_threads(threads)
    assert layer.untrained == ["help_request"] and layer.trained == [True, False]
    assert "fine-tuned" in layer.model
    s = layer.score(ADVICE[6:] + STORY[6:])
    assert min(s[:2, 0]) > max(s[2:, 0]), s[:, 0]
    assert np.allclose(s[:, 1], 1 / 12)                         # untrained code: the prior
    with pytest.raises(UsageError, match="backend"):
        SupervisedLayer(backend="bert")
    with pytest.raises(UsageError, match="enough positive"):
        SupervisedLayer(backend="minilm").fit_texts(cb, texts[:4], np.array([[1, 0]] * 4))


def test_advice_reading_order():
    from forumscope.discourse.evaluate import reading_order

    ids = ["ab1-2-1", "ab1-10-0", "ab1-2-0", "cd2-1.1-3", "ab1-2-10", "cd2-1.1-0"]
    order, groups = reading_order(ids)
    assert [ids[i] for i in order] == ["ab1-10-0", "ab1-2-0", "ab1-2-1", "ab1-2-10", "cd2-1.1-0", "cd2-1.1-3"]
    assert groups.tolist() == ["ab1-10", "ab1-2", "ab1-2", "ab1-2", "cd2-1.1", "cd2-1.1"]
    prev, _, _, size = neighbours(groups, len(ids))
    assert prev.tolist() == [-1, -1, 1, 2, -1, 4] and size.tolist() == [1, 3, 3, 3, 2, 2]


def test_advice_combined_layers(shared_data):
    from forumscope.discourse.evaluate import evaluate_advice

    res = evaluate_advice(shared_data / "advice-reddit", layers=("rules", "fast"), combine=[("rules", "fast")],
                          limit={"train": 1500, "dev": 300, "test": 300}, keep_scores=True)
    both = res["_scores"]["rules+fast"]
    r, f = res["_scores"]["rules"], res["_scores"]["fast"]
    # mean of the two layers' scores, each rescaled so that its dev threshold sits at 0.5
    t_r, t_f = res["rules"]["threshold"], res["fast"]["threshold"]
    scale = lambda s, t: np.where(s >= t, 0.5 + 0.5 * (s - t) / (1 - t), 0.5 * s / t)
    assert np.allclose(both["test"], (scale(r["test"], t_r) + scale(f["test"], t_f)) / 2)
    assert res["rules+fast"]["test"]["pooled"]["n"] == 300
    with pytest.raises(Exception, match="cannot combine"):
        evaluate_advice(shared_data / "advice-reddit", layers=("rules",), combine=[("rules", "fast")],
                        limit={"train": 10, "dev": 10, "test": 10})
