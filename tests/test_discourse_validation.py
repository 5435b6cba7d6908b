"""Validation on real public data: advice-reddit (sentence-level advice labels) and Stack Exchange
questions vs answers (a weak label for help-seeking vs advice-giving). Full runs are marked slow; the
default run uses small subsets. Numbers for the full runs: docs/validation.md, section Discourse."""

from __future__ import annotations

import pytest

import forumscope
from forumscope.discourse.evaluate import (binary_report, best_threshold, detokenize, evaluate_advice,
                                           read_advice, stackexchange_report)
from forumscope.pipeline.runner import run_steps


def test_metrics_by_hand():
    r = binary_report([1, 1, 0, 0, 0], [1, 0, 1, 0, 0])
    # advice class: tp 1, fp 1, fn 1 -> F1 0.5; other class: tp 2, fp 1, fn 1 -> F1 2/3
    assert r["f1"] == 0.5 and r["f1_negative"] == pytest.approx(2 / 3)
    assert r["macro_f1"] == pytest.approx((0.5 + 2 / 3) / 2) and r["accuracy"] == 0.6
    import numpy as np

    thr, m = best_threshold(np.array([0, 0, 1, 1]), np.array([0.1, 0.4, 0.35, 0.9]))
    # 0.11 (three predicted, one false) and 0.41 (one predicted, one missed) tie at 0.733: the lowest wins
    assert thr == pytest.approx(0.11) and m == pytest.approx((0.8 + 2 / 3) / 2)
    assert detokenize("I do nt know , that s it .") == "I don't know, that's it."
    assert detokenize("I 'd try ( maybe )") == "I'd try (maybe)"


def test_advice_reader(shared_data):
    test = read_advice(shared_data / "advice-reddit", "test")
    assert len(test.texts) == 1073 + 896 and int(test.y.sum()) == 280 + 330   # SOURCE.md counts (DS_Label)
    small = read_advice(shared_data / "advice-reddit", "test", limit=100, seed=3)
    assert len(small.texts) == 100 and set(small.subset) <= {"askparents", "needadvice"}


def test_advice_fast_and_rules_on_a_subset(shared_data):
    res = evaluate_advice(shared_data / "advice-reddit", layers=("rules", "fast"),
                          limit={"train": 4000, "dev": 800})
    rules, fast = res["rules"]["test"]["pooled"], res["fast"]["test"]["pooled"]
    assert res["_data"]["test"]["sentences"] == 1969            # always reported on the whole test split
    assert 0.55 <= rules["macro_f1"] and 0.66 <= fast["macro_f1"], (rules, fast)
    assert fast["macro_f1"] > rules["macro_f1"]
    assert res["fast"]["test"]["needadvice"]["macro_f1"] > res["fast"]["test"]["askparents"]["macro_f1"]


def test_advice_fast_layer_reads_sentence_context(shared_data):
    """The fast layer with sentence context (neighbours in the reply) beats the plain fast layer on the
    full advice-reddit splits (measured 0.735 against 0.726 on test; +0.008 to +0.010 over seeds 0-2) and
    stays within 5 points of the best layer (fine-tuned MiniLM with context, 0.777, docs/validation.md)."""
    res = evaluate_advice(shared_data / "advice-reddit", layers=("fast", "fast-context"))
    m = {k: v["test"]["pooled"]["macro_f1"] for k, v in res.items() if not k.startswith("_")}
    assert m["fast-context"] >= m["fast"] + 0.005 and m["fast-context"] >= 0.73, m
    assert res["fast-context"]["dev_macro_f1"] > res["fast"]["dev_macro_f1"]
    assert "sentence context" in res["fast-context"]["model"]


def test_advice_minilm_on_a_small_subset(shared_data):
    pytest.importorskip("sentence_transformers")
    res = evaluate_advice(shared_data / "advice-reddit", layers=("embedding",),
                          limit={"train": 240, "dev": 120, "test": 200}, embedding_modes=("head",))
    m = res["embedding"]["test"]["pooled"]["macro_f1"]
    assert 0.6 <= m <= 1.0, m


@pytest.mark.slow
def test_advice_finetune_on_a_subset(shared_data):
    """MiniLM fine-tuned with sentence context (one epoch on 1,500 sentences: about two minutes on one
    CPU thread); the full run is bench/discourse_bench.py advice (docs/validation.md)."""
    pytest.importorskip("sentence_transformers")
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        res = evaluate_advice(shared_data / "advice-reddit", layers=("fast", "finetune"), finetune={"epochs": 1},
                              limit={"train": 1500, "dev": 400, "test": 600})
    finally:
        torch.set_num_threads(threads)
    m = {k: v["test"]["pooled"]["macro_f1"] for k, v in res.items() if not k.startswith("_")}
    assert set(m) == {"fast", "finetune-context", "finetune"}
    assert res["finetune"]["best_epoch"] == 1 and len(res["finetune"]["dev_macro_f1_per_epoch"]) == 1
    assert m["finetune-context"] >= 0.65 and m["finetune"] >= 0.65, m
    assert max(m["finetune-context"], m["finetune"]) > m["fast"], m    # the transformer beats n-grams


@pytest.mark.slow
def test_advice_all_layers_full(shared_data):
    """Full splits (MiniLM over ~18k sentences: minutes on 2 CPUs). Goal of the issue: >= 0.80 macro-F1
    for the best layer; measured ~0.75 here and 0.777 for the fine-tuned layer, which takes ~30 minutes on
    one CPU thread and is measured by bench/discourse_bench.py advice (docs/validation.md)."""
    pytest.importorskip("sentence_transformers")
    res = evaluate_advice(shared_data / "advice-reddit", layers=("rules", "fast", "embedding"))
    m = {k: v["test"]["pooled"]["macro_f1"] for k, v in res.items() if not k.startswith("_")}
    assert m["embedding"] >= 0.72 and m["fast"] >= 0.70 and m["rules"] >= 0.60, m
    assert m["fast"] >= m["embedding"] - 0.05, m                  # the fast pass within 5 points of MiniLM
    assert res["embedding"]["test"]["needadvice"]["macro_f1"] >= 0.78


def _se_rates(case, layer, run):
    r = stackexchange_report(case, layer=layer, run_id=run)
    h, a = r["help_request_predicts_question"], r["advice_predicts_answer"]
    q, n_a = r["questions"], r["answers"]
    help_q = h["recall"]                                           # share of questions tagged help_request
    help_a = (h["recall"] * q / h["precision"] - h["recall"] * q) / n_a if h["precision"] else 0.0
    adv_a = a["recall"]
    adv_q = (a["recall"] * n_a / a["precision"] - a["recall"] * n_a) / q if a["precision"] else 0.0
    return help_q, help_a, adv_a, adv_q


def test_stackexchange_questions_are_help_seeking(shared_data, tmp_path):
    """Weak label: a question asks for help; an answer need not give advice (and on a meta site many
    questions are proposals), so only help-seeking is checked on this small site."""
    forumscope.ingest_sources([shared_data / "se-conlang-meta"], tmp_path / "case")
    with forumscope.open_case(tmp_path / "case") as c:
        run = run_steps(c, ["discourse"], {"discourse": {"codebook": "advice", "layers": ("rules",),
                                                         "languages": ("en",)}})[0].run_id
        help_q, help_a, _, _ = _se_rates(c, "rules", run)
    assert help_q >= 0.6 and help_a <= 0.35 and help_q > 2 * help_a, (help_q, help_a)


@pytest.mark.slow
def test_stackexchange_cardano_both_directions(shared_data, tmp_path):
    forumscope.ingest_sources([shared_data / "se-cardano"], tmp_path / "case")
    with forumscope.open_case(tmp_path / "case") as c:
        run = run_steps(c, ["discourse"], {"discourse": {"codebook": "advice", "languages": ("en",)}})[0].run_id
        help_q, help_a, adv_a, adv_q = _se_rates(c, "combined", run)
    assert help_q >= 0.75 and help_q > 3 * help_a, (help_q, help_a)
    assert adv_a > 1.5 * adv_q, (adv_a, adv_q)
