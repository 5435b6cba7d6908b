"""Supervised layer and active learning on real labels: the advice-reddit sentences (../shared/data).

Run by hand:  .venv/bin/python bench/coding_bench.py [--rounds 8] [--step 100]

1. The supervised layer (forumscope.discourse.supervised) trained on the whole train split (the
   annotators' majority label as if it were the case's human codes), threshold tuned on dev, scored on
   test: F1 of the advice class and macro-F1 over both classes; training and scoring speed.
2. Active learning against random sampling: start from ``step`` random train sentences, add ``step``
   per round, chosen by uncertainty sampling (the same rule as `forumscope coding suggest`) or at
   random; F1 on test after each round (threshold 0.5), three seeds.

Writes bench/results/coding-<date>.json and .md.
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import machine, write_results  # noqa: E402

from forumscope.discourse.codebook import load_codebook  # noqa: E402
from forumscope.discourse.supervised import UNLABELLED, SupervisedLayer, uncertainty  # noqa: E402

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "advice-reddit"


def load(split: str) -> tuple[list[str], np.ndarray]:
    texts, labels = [], []
    for sub in ("askparents", "needadvice"):
        with open(DATA / f"{sub}_{split}.tsv", encoding="utf-8", newline="") as fh:
            for row in csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE):
                texts.append(row["Sentence"])
                labels.append(int(row["Majority_label"]))
    return texts, np.array(labels)


def f1s(pred: np.ndarray, truth: np.ndarray) -> tuple[float, float]:
    """(F1 of class 1, macro-F1 over classes 0 and 1)."""
    out = []
    for c in (1, 0):
        tp = int(((pred == c) & (truth == c)).sum())
        denom = int((pred == c).sum() + (truth == c).sum())
        out.append(2 * tp / denom if denom else 0.0)
    return out[0], (out[0] + out[1]) / 2


def matrix(cb, y: np.ndarray) -> np.ndarray:
    m = np.full((len(y), len(cb.codes)), UNLABELLED)
    m[:, cb.index("advice")] = y
    return m


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=8)
    ap.add_argument("--step", type=int, default=100)
    ap.add_argument("--seeds", type=int, default=3)
    args = ap.parse_args()
    cb = load_codebook("advice")
    j = cb.index("advice")
    train, ytr = load("train")
    dev, ydev = load("dev")
    test, yte = load("test")

    t0 = time.perf_counter()
    layer = SupervisedLayer().fit_texts(cb, train, matrix(cb, ytr))
    fit_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    dev_p = layer.score(dev)[:, j]
    test_p = layer.score(test)[:, j]
    score_s = time.perf_counter() - t0
    grid = np.round(np.arange(0.1, 0.91, 0.05), 2)
    best = max(grid, key=lambda t: f1s((dev_p >= t).astype(int), ydev)[1])
    full = {"train": len(train), "dev": len(dev), "test": len(test), "threshold": float(best),
            "test_f1_advice@0.5": f1s((test_p >= 0.5).astype(int), yte)[0],
            "test_macro_f1@0.5": f1s((test_p >= 0.5).astype(int), yte)[1],
            "test_f1_advice@tuned": f1s((test_p >= best).astype(int), yte)[0],
            "test_macro_f1@tuned": f1s((test_p >= best).astype(int), yte)[1],
            "fit_seconds": fit_s, "score_sentences_per_s": (len(dev) + len(test)) / score_s}
    print(full)

    curves: dict[str, list[list[float]]] = {"uncertainty": [], "random": []}
    for seed in range(args.seeds):
        rng = np.random.default_rng(seed)
        start = rng.choice(len(train), args.step, replace=False)
        for how in curves:
            chosen = list(start)
            curve = []
            for _ in range(args.rounds):
                lab = SupervisedLayer(min_positives=1, min_negatives=1).fit_texts(
                    cb, [train[i] for i in chosen], matrix(cb, ytr[chosen]))
                curve.append(f1s((lab.score(test)[:, j] >= 0.5).astype(int), yte)[1])
                rest = np.setdiff1d(np.arange(len(train)), chosen)
                if how == "random":
                    add = rng.choice(rest, args.step, replace=False)
                else:
                    u = uncertainty(lab.score([train[i] for i in rest]), lab.threshold, lab.trained)
                    add = rest[np.argsort(-u, kind="stable")[:args.step]]
                chosen += list(add)
            curves[how].append(curve)
            print(how, seed, [round(x, 3) for x in curve])
    mean = {k: np.mean(v, axis=0).tolist() for k, v in curves.items()}
    sizes = [args.step * (r + 1) for r in range(args.rounds)]
    payload = {"machine": machine(), "full": full, "active_learning": {"sizes": sizes, "mean_macro_f1": mean,
                                                                        "runs": curves}}
    md = ["# Supervised layer and active learning on advice-reddit", "",
          f"Machine: {payload['machine']['cpu']} ({payload['machine']['cores']} cores), {payload['machine']['date']}.",
          "", "| train | test | F1 advice @0.5 | macro-F1 @0.5 | threshold (dev) | F1 advice @tuned | macro-F1 @tuned "
          "| fit s | sentences/s |", "|---|---|---|---|---|---|---|---|---|",
          f"| {full['train']:,} | {full['test']:,} | {full['test_f1_advice@0.5']:.3f} | {full['test_macro_f1@0.5']:.3f} "
          f"| {full['threshold']} | {full['test_f1_advice@tuned']:.3f} | {full['test_macro_f1@tuned']:.3f} "
          f"| {fit_s:.1f} | {full['score_sentences_per_s']:,.0f} |", "",
          f"Active learning (macro-F1 on test, mean of {args.seeds} seeds):", "",
          "| coded sentences | " + " | ".join(str(s) for s in sizes) + " |",
          "|---|" + "---|" * len(sizes)]
    for k, v in mean.items():
        md.append(f"| {k} | " + " | ".join(f"{x:.3f}" for x in v) + " |")
    j_path, m_path = write_results("coding", payload, "\n".join(md) + "\n")
    print(m_path.read_text())


if __name__ == "__main__":
    main()
