"""Evaluation of the tagging layers against ground truth (shared by tests, bench and docs).

* :func:`evaluate_advice`: the advice-reddit corpus (Govindarajan et al. 2020; sentence-level
  advice labels of Reddit replies). Each layer is trained on ``train`` (where it trains), its
  threshold tuned on ``dev`` (best macro-F1 on a grid), and it is reported on ``test``: macro-F1
  over the two classes (advice, not advice), precision, recall and F1 of the advice class, pooled
  and per subset (askparents, needadvice).
* :func:`synthetic_truth` and :func:`code_report`: per-code precision, recall and F1 of tags
  against the labels planted by the synthetic forum (``truth/post_labels.ndjson``).
* :func:`stackexchange_report`: question vs answer as help-seeking vs advice-giving (a weak label:
  an answer need not give advice, a question need not ask for help).

Example::

    from forumscope.discourse.evaluate import evaluate_advice
    res = evaluate_advice("/work/shared/data/advice-reddit", layers=("rules", "fast"))
    res["fast"]["test"]["pooled"]["macro_f1"]
"""

from __future__ import annotations

import csv
import json
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from forumscope.errors import InputError

ADVICE_SUBSETS = ("askparents", "needadvice")
THRESHOLDS = tuple(round(x, 2) for x in np.arange(0.05, 0.96, 0.01))


# ----------------------------------------------------------------------------- metrics
def binary_report(y: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    """Precision, recall, F1 of the positive class, F1 of the negative class, macro-F1 and accuracy."""
    y = np.asarray(y).astype(bool)
    p = np.asarray(pred).astype(bool)
    tp, fp, fn, tn = int((p & y).sum()), int((p & ~y).sum()), int((~p & y).sum()), int((~p & ~y).sum())
    prec = tp / (tp + fp) if tp + fp else 0.0
    rec = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0
    f1_neg = 2 * tn / (2 * tn + fn + fp) if tn + fn + fp else 0.0
    return {"n": int(len(y)), "positives": int(y.sum()), "precision": prec, "recall": rec, "f1": f1,
            "f1_negative": f1_neg, "macro_f1": (f1 + f1_neg) / 2, "accuracy": (tp + tn) / max(len(y), 1)}


def code_report(truth: np.ndarray, pred: np.ndarray, code_ids: Sequence[str]) -> dict[str, Any]:
    """Per-code precision/recall/F1 for (n, codes) boolean arrays; macro-F1 over codes with support."""
    per = {}
    for j, c in enumerate(code_ids):
        r = binary_report(truth[:, j], pred[:, j])
        per[c] = {k: r[k] for k in ("positives", "precision", "recall", "f1")}
        per[c]["predicted"] = int(np.asarray(pred[:, j]).sum())
    with_support = [per[c]["f1"] for c in code_ids if per[c]["positives"] > 0]
    return {"codes": per, "macro_f1": float(np.mean(with_support)) if with_support else 0.0}


def best_threshold(y: np.ndarray, scores: np.ndarray, grid: Sequence[float] = THRESHOLDS) -> tuple[float, float]:
    """(threshold, macro-F1) with the best macro-F1 on (y, scores); ties: the lowest threshold."""
    best = (0.5, -1.0)
    for t in grid:
        m = binary_report(y, scores >= t)["macro_f1"]
        if m > best[1] + 1e-12:
            best = (float(t), m)
    return best


# ----------------------------------------------------------------------------- advice-reddit
_DETOK = [
    (re.compile(r"\b(ca|wo|do|does|did|is|are|was|were|have|has|had|could|would|should|must|need|ai) nt\b", re.I),
     r"\1n't"),
    (re.compile(r" n't\b"), "n't"),
    (re.compile(r"\b(that|it|he|she|what|there|here|who|let|where|how) s\b", re.I), r"\1's"),
    (re.compile(r" (['\u2019](?:s|d|ll|re|ve|m|t))\b", re.I), r"\1"),
    (re.compile(r" ([.,!?;:%)\]])"), r"\1"),
    (re.compile(r"([(\[$]) "), r"\1"),
]


def detokenize(sentence: str) -> str:
    """Undo the spaCy tokenisation of advice-reddit ("do nt" -> "don't", "word ." -> "word.")."""
    s = sentence
    for rx, rep in _DETOK:
        s = rx.sub(rep, s)
    return s


@dataclass
class AdviceSplit:
    ids: list[str]
    texts: list[str]
    y: np.ndarray        # 1 = advice
    subset: np.ndarray   # "askparents" | "needadvice"


def read_advice(folder: str | Path, split: str, subsets: Sequence[str] = ADVICE_SUBSETS,
                label: str = "DS_Label", detok: bool = True, limit: int | None = None,
                seed: int = 0) -> AdviceSplit:
    """One split (train, dev, test) of advice-reddit; ``limit`` keeps a seeded random sample."""
    ids: list[str] = []
    texts: list[str] = []
    ys: list[int] = []
    subs: list[str] = []
    for sub in subsets:
        path = Path(folder) / f"{sub}_{split}.tsv"
        if not path.is_file():
            raise InputError("advice-reddit file not found", path=str(path))
        with open(path, encoding="utf-8", newline="") as fh:
            reader = csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE)
            for line, row in enumerate(reader, start=2):
                try:
                    value = int(row[label])
                    sentence = row["Sentence"]
                except (KeyError, TypeError, ValueError):
                    raise InputError(f"expected columns ID, {label}, Sentence with a 0/1 label", path=str(path),
                                     line=line) from None
                ids.append(row["ID"])
                texts.append(detokenize(sentence) if detok else sentence)
                ys.append(value)
                subs.append(sub)
    y, subset = np.array(ys, dtype=np.int8), np.array(subs)
    if limit is not None and limit < len(ids):
        keep = np.sort(np.random.default_rng(seed).choice(len(ids), size=limit, replace=False))
        return AdviceSplit([ids[i] for i in keep], [texts[i] for i in keep], y[keep], subset[keep])
    return AdviceSplit(ids, texts, y, subset)


def reading_order(ids: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """(order, groups): the permutation that puts advice-reddit sentences in reading order (reply by
    reply, sentence by sentence; the ID is ``<submission>-<reply>-<sentence>``) and, in that order,
    each sentence's reply (the ``groups`` of the sentence-context protocol, layers.py)."""
    keys = []
    for i in ids:
        reply, _, pos = i.rpartition("-")
        keys.append((reply, int(pos) if pos.isdigit() else 0))
    order = np.array(sorted(range(len(keys)), key=lambda i: keys[i]), dtype=np.int64)
    return order, np.array([keys[i][0] for i in order])


def _advice_labels(codebook: Any, y: np.ndarray) -> np.ndarray:
    """(n, codes) labels: the advice code from y, every other code not labelled (-1)."""
    lab = -np.ones((len(y), len(codebook.codes)), dtype=np.int8)
    lab[:, codebook.index("advice")] = y
    return lab


def evaluate_advice(folder: str | Path, layers: Sequence[str] = ("rules", "fast", "embedding"),
                    *, limit: dict[str, int] | None = None, seed: int = 0, embedding_modes: Sequence[str] = ("head",),
                    progress: Callable[[str], None] | None = None, finetune: dict[str, Any] | None = None,
                    combine: Sequence[Sequence[str]] = (), keep_scores: bool = False) -> dict[str, Any]:
    """Train on train, tune the threshold on dev, report on test, for each layer (see module docstring).

    ``limit`` caps the sentences read per split (a seeded sample), e.g. ``{"train": 2000, "dev": 500,
    "test": 500}`` for a quick run. Returns ``{layer: {"threshold", "dev_macro_f1", "test": {"pooled":
    report, "askparents": report, "needadvice": report}, "train_seconds", "test_texts_per_second",
    "model"}}``; the embedding layer is reported as ``embedding`` (logistic head on MiniLM embeddings)
    and, when asked in ``embedding_modes``, ``embedding-similarity`` (no training).

    Layer ``finetune``: MiniLM fine-tuned end to end with sentence context (the embedding layer's
    ``mode="finetune", context=True``; options in ``finetune``, e.g. ``{"epochs": 3}``), trained on
    train in reading order with each reply as a group; the epoch and threshold are picked on dev.
    Reported twice from the same model: ``finetune-context`` (scored with the neighbouring sentences
    of the reply) and ``finetune`` (each sentence alone, the sentence-only head; threshold tuned on
    dev). With ``{"context": False}`` only ``finetune`` is trained and reported.

    Layer ``fast-context``: the fast layer with sentence context (``FastLayer(context=True)``), trained
    and scored in reading order with each reply as a group.

    ``combine``: groups of reported layers joined as the discourse step's ``combine="mean"`` does
    (each layer's scores rescaled so that its dev-tuned threshold is 0.5, then averaged), reported as
    ``a+b`` with a threshold tuned on dev. ``keep_scores``: the dev and test scores of every layer in
    ``results["_scores"]``.
    """
    from forumscope.discourse.codebook import load_codebook

    limit = limit or {}
    cb = load_codebook("advice")
    j = cb.index("advice")
    data = {s: read_advice(folder, s, limit=limit.get(s), seed=seed) for s in ("train", "dev", "test")}
    say = progress or (lambda _m: None)
    results: dict[str, Any] = {}
    kept: dict[str, tuple[np.ndarray, np.ndarray]] = {}

    def report(name: str, dev_scores: np.ndarray, test_scores: np.ndarray, grid: Sequence[float], extra: dict) -> None:
        thr, dev_m = best_threshold(data["dev"].y, dev_scores, grid)
        test = data["test"]
        res = {"pooled": binary_report(test.y, test_scores >= thr)}
        for sub in ADVICE_SUBSETS:
            m = test.subset == sub
            if m.any():
                res[sub] = binary_report(test.y[m], test_scores[m] >= thr)
        results[name] = {"threshold": thr, "dev_macro_f1": dev_m, "test": res, **extra}
        kept[name] = (dev_scores, test_scores)

    for name in layers:
        say(f"advice-reddit: {name}")
        if name == "rules":
            from forumscope.discourse.rules import RulesLayer

            layer = RulesLayer()
            layer.fit(cb)
            dev = layer.score(data["dev"].texts)[:, j]
            t0 = time.perf_counter()
            test = layer.score(data["test"].texts)[:, j]
            rate = len(test) / max(time.perf_counter() - t0, 1e-9)
            hit_grid = sorted({h / (h + 1) for h in range(1, 6)})
            report("rules", dev, test, hit_grid, {"train_seconds": 0.0, "test_texts_per_second": rate,
                                                  "model": None})
        elif name in ("fast", "fast-context"):
            from forumscope.discourse.fast import FastLayer

            layer = FastLayer(seed=seed, context=name == "fast-context")
            # fast-context: in reading order, each reply a group; fast: as read, each sentence alone
            ordered = {s: reading_order(d.ids) if layer.context else (np.arange(len(d.ids)), None)
                       for s, d in data.items()}

            def fast_scores(s: str) -> np.ndarray:
                order, groups = ordered[s]
                out = np.empty(len(order))
                out[order] = layer.score([data[s].texts[i] for i in order], groups=groups)[:, j]
                return out

            order, groups = ordered["train"]
            layer.train(cb, [data["train"].texts[i] for i in order], _advice_labels(cb, data["train"].y[order]),
                        groups=groups)
            dev = fast_scores("dev")
            t0 = time.perf_counter()
            test = fast_scores("test")
            rate = len(test) / max(time.perf_counter() - t0, 1e-9)
            report(name, dev, test, THRESHOLDS, {"train_seconds": layer.train_seconds,
                                                 "test_texts_per_second": rate, "model": layer.model})
        elif name == "embedding":
            from forumscope.discourse.embedding import EmbeddingLayer

            layer = EmbeddingLayer(mode="head", seed=seed)
            emb = {}
            for s in ("train", "dev", "test"):
                say(f"advice-reddit: MiniLM embeddings of {s} ({len(data[s].texts)} sentences)")
                t0 = time.perf_counter()
                emb[s] = layer.encode(data[s].texts)
                if s == "test":
                    rate = len(data[s].texts) / max(time.perf_counter() - t0, 1e-9)
            t0 = time.perf_counter()
            if "head" in embedding_modes:
                layer.train(cb, data["train"].texts, _advice_labels(cb, data["train"].y), embeddings=emb["train"])
                report("embedding", layer.score(data["dev"].texts, emb["dev"])[:, j],
                       layer.score(data["test"].texts, emb["test"])[:, j], THRESHOLDS,
                       {"train_seconds": time.perf_counter() - t0, "test_texts_per_second": rate,
                        "model": layer.model})
            if "similarity" in embedding_modes:
                sim = EmbeddingLayer(mode="similarity")
                sim.fit(cb)
                report("embedding-similarity", sim.score(data["dev"].texts, emb["dev"])[:, j],
                       sim.score(data["test"].texts, emb["test"])[:, j], THRESHOLDS,
                       {"train_seconds": 0.0, "test_texts_per_second": rate, "model": sim.model})
        elif name == "finetune":
            _advice_finetune(cb, data, report, seed, dict(finetune or {}), say)
        else:
            raise InputError(f"evaluate_advice: unknown layer {name!r}")
    for group in combine:
        from forumscope.discourse.scoring import combine_scores

        if not all(g in kept for g in group):
            raise InputError(f"evaluate_advice: cannot combine {'+'.join(group)}: layers reported are "
                             f"{', '.join(kept)}")
        thr = [results[g]["threshold"] for g in group]
        both = [combine_scores([kept[g][k][:, None] for g in group], thr, "mean")[:, 0] for k in (0, 1)]
        report("+".join(group), both[0], both[1], THRESHOLDS,
               {"train_seconds": sum(results[g]["train_seconds"] for g in group),
                "test_texts_per_second": 1.0 / sum(1.0 / results[g]["test_texts_per_second"] for g in group),
                "model": f"mean of {', '.join(group)} (thresholds at 0.5)"})
    if keep_scores:
        results["_scores"] = {name: {"dev": d, "test": t} for name, (d, t) in kept.items()}
    results["_data"] = {s: {"sentences": len(d.y), "advice": int(d.y.sum())} for s, d in data.items()}
    return results


def _advice_finetune(cb: Any, data: dict[str, AdviceSplit], report: Callable[..., None], seed: int,
                     options: dict[str, Any], say: Callable[[str], None]) -> None:
    from forumscope.discourse.embedding import EmbeddingLayer

    j = cb.index("advice")
    context = bool(options.pop("context", True))
    ordered = {}
    for s, d in data.items():
        order, groups = reading_order(d.ids)
        ordered[s] = (order, [d.texts[i] for i in order], d.y[order], groups)
    last = [-1.0]

    def tick(fraction: float, message: str) -> None:
        if fraction - last[0] >= 0.05 or "validation" in message:
            last[0] = fraction
            say(f"advice-reddit: {message}")

    layer = EmbeddingLayer(mode="finetune", context=context, seed=seed, progress=tick, **options)
    _, tr_texts, tr_y, tr_groups = ordered["train"]
    _, dv_texts, dv_y, dv_groups = ordered["dev"]
    layer.train(cb, tr_texts, _advice_labels(cb, tr_y), groups=tr_groups,
                validation=(dv_texts, _advice_labels(cb, dv_y), dv_groups))
    fr = layer.fit_report

    def scores(s: str, with_context: bool) -> tuple[np.ndarray, float]:
        order, texts, _, groups = ordered[s]
        t0 = time.perf_counter()
        z = layer.score(texts, groups=groups if with_context else None)[:, j]
        rate = len(texts) / max(time.perf_counter() - t0, 1e-9)
        out = np.empty(len(texts))
        out[order] = z
        return out, rate

    extra = {"train_seconds": fr.train_seconds, "model": layer.model, "epochs": fr.epochs,
             "best_epoch": fr.best_epoch, "dev_macro_f1_per_epoch": fr.validation_macro_f1,
             "train_texts_per_second": fr.texts * fr.epochs / max(fr.train_seconds, 1e-9)}
    for name, with_context in ((("finetune-context", True),) if context else ()) + (("finetune", False),):
        dev, _ = scores("dev", with_context)
        test, rate = scores("test", with_context)
        report(name, dev, test, THRESHOLDS, {**extra, "test_texts_per_second": rate})


# ----------------------------------------------------------------------------- synthetic forum
def synthetic_truth(forum_dir: str | Path, primary_only: bool = True) -> dict[str, list[str]]:
    """post_id -> planted labels. ``primary_only``: only the label the text was written from (the
    generator adds a second ``normalisation`` label to some neutralisation posts without changing
    their text, so that label is not recoverable from the text)."""
    path = Path(forum_dir) / "truth" / "post_labels.ndjson"
    if not path.is_file():
        raise InputError("no planted labels (truth/post_labels.ndjson) in this folder", path=str(path))
    out = {}
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            r = json.loads(line)
            out[r["post_id"]] = r["labels"][:1] if primary_only else list(r["labels"])
    return out


def tags_vs_truth(case: Any, truth: dict[str, list[str]], code_ids: Sequence[str], *, layer: str,
                  run_id: str | None = None, codebook: str = "operating-model") -> dict[str, Any]:
    """Per-code report of the post-level tags of ``layer`` (a post carries a code when its post-level
    tag or any of its sentence tags does) against planted labels."""
    where = "codebook = ? AND layer = ?" + (" AND run_id = ?" if run_id else "")
    params = [codebook, layer] + ([run_id] if run_id else [])
    tagged = case.con.execute(f"SELECT DISTINCT post_id, code FROM discourse_tags WHERE {where}", params).fetchall()
    posts = [r[0] for r in case.con.execute("SELECT id FROM posts ORDER BY id").fetchall()]
    index = {p: i for i, p in enumerate(posts)}
    col = {c: j for j, c in enumerate(code_ids)}
    T = np.zeros((len(posts), len(code_ids)), dtype=bool)
    P = np.zeros_like(T)
    for p, labs in truth.items():
        for lab in labs:
            if p in index and lab in col:
                T[index[p], col[lab]] = True
    for p, c in tagged:
        if p in index and c in col:
            P[index[p], col[c]] = True
    return code_report(T, P, code_ids)


# ----------------------------------------------------------------------------- Stack Exchange
def stackexchange_report(case: Any, *, layer: str, run_id: str | None = None,
                         codebook: str = "advice") -> dict[str, Any]:
    """Weak-label check on Stack Exchange: questions should carry ``help_request`` and answers
    ``advice`` (post level). Returns binary reports for: help_request tag predicting "is a question"
    and advice tag predicting "is an answer", over all questions and answers with text."""
    where = "codebook = ? AND layer = ?" + (" AND run_id = ?" if run_id else "")
    params = [codebook, layer] + ([run_id] if run_id else [])
    rows = case.con.execute(f"""
        WITH t AS (SELECT DISTINCT forum_id, post_id, code FROM discourse_tags WHERE {where})
        SELECT p.kind,
               EXISTS (SELECT 1 FROM t WHERE t.forum_id = p.forum_id AND t.post_id = p.id AND t.code = 'help_request'),
               EXISTS (SELECT 1 FROM t WHERE t.forum_id = p.forum_id AND t.post_id = p.id AND t.code = 'advice')
        FROM posts p WHERE p.kind IN ('question', 'answer') AND p.text IS NOT NULL
    """, params).fetchall()
    kind = np.array([r[0] for r in rows])
    help_tag = np.array([bool(r[1]) for r in rows])
    advice_tag = np.array([bool(r[2]) for r in rows])
    is_q = kind == "question"
    return {"posts": len(rows), "questions": int(is_q.sum()), "answers": int((~is_q).sum()),
            "help_request_predicts_question": binary_report(is_q, help_tag),
            "advice_predicts_answer": binary_report(~is_q, advice_tag)}
