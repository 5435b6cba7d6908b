"""Agreement between human coders, and between a model layer and the humans (docs/coding.md).

Per code of a codebook:

- **Cohen's kappa** (Cohen 1960) when exactly two coders coded the code: computed with
  scikit-learn on the items both coded; ``None`` for any other number of coders, and where it
  is undefined (both coders gave one and the same value to every item: expected agreement 1).
- **Krippendorff's alpha**, nominal (Krippendorff 2011, "Computing Krippendorff's
  alpha-reliability"), for any number of coders and missing values: computed with the
  ``krippendorff`` package over every item that at least two coders coded; ``None`` where it is
  undefined (a single value in the data: no expected disagreement).
- Model against humans: the reference is the **majority of the human coders** per item (more
  than half of those who coded it; ties leave the item out for that code). The model's 0/1
  decisions are compared with it by kappa and alpha (the model as a second coder) and by
  precision, recall and F1 of the positive class; the ``(macro)`` row holds the macro averages
  over the codes that have at least one positive item in the reference.

The sentence-level items of ``human_codes`` enter the human agreement; model layers are compared on
post-level items only. :func:`run_agreement` computes everything for a case and writes the
``discourse_agreement`` table through the pipeline runner (a ``runs`` row, step ``coding_agreement``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Hashable, Iterable, Mapping, Sequence

import numpy as np

MACRO = "(macro)"
HUMANS = "humans"


@dataclass
class Agreement:
    """Agreement of one code: ``items`` are those coded by >= 2 coders (by both, for kappa)."""

    coders: int
    items: int
    kappa: float | None = None
    alpha: float | None = None
    observed: float | None = None  # share of coder pairs on an item that agree
    positives: int = 0  # (coder, item) values of 1
    values: int = 0  # (coder, item) values in all


@dataclass
class Comparison:
    """A model layer against the human majority for one code."""

    items: int
    kappa: float | None
    alpha: float | None
    precision: float | None
    recall: float | None
    f1: float | None
    observed: float | None
    reference_positives: int
    predicted_positives: int
    extra: dict[str, Any] = field(default_factory=dict)


def _finite(x: float) -> float | None:
    return float(x) if x is not None and np.isfinite(x) else None


def cohen_kappa(a: Sequence[Hashable], b: Sequence[Hashable]) -> float | None:
    """Cohen's kappa of two coders over the same items (scikit-learn); ``None`` when undefined."""
    if len(a) != len(b):
        raise ValueError("cohen_kappa: both coders must code the same items")
    if not len(a):
        return None
    labels = sorted(set(a) | set(b), key=str)
    if len(labels) < 2:  # one value everywhere: chance agreement is 1, kappa is 0/0
        return None
    from sklearn.metrics import cohen_kappa_score

    with np.errstate(divide="ignore", invalid="ignore"):
        return _finite(cohen_kappa_score(list(a), list(b), labels=labels))


def krippendorff_alpha(data: Sequence[Sequence[float]] | np.ndarray,
                       value_domain: Sequence[float] | None = None) -> float | None:
    """Krippendorff's alpha, nominal, of a coders x items matrix (``nan`` = not coded).

    ``None`` when undefined: fewer than two pairable values, or a single value in the data."""
    import krippendorff

    m = np.asarray(data, dtype=float)
    if m.ndim != 2 or m.shape[0] < 2:
        return None
    pairable = (~np.isnan(m)).sum(axis=0) >= 2
    m = m[:, pairable]
    if m.shape[1] == 0:
        return None
    present = np.unique(m[~np.isnan(m)])
    if len(present) < 2:
        return None
    try:
        with np.errstate(divide="ignore", invalid="ignore"):
            a = krippendorff.alpha(reliability_data=m, level_of_measurement="nominal",
                                   value_domain=list(value_domain) if value_domain is not None else None)
    except ValueError:  # "There has to be more than one value in the domain."
        return None
    return _finite(a)


def code_agreement(values: Mapping[str, Mapping[Hashable, int]]) -> Agreement:
    """Agreement on one code: ``values`` maps coder -> item -> 0/1 (absent = not coded)."""
    coders = sorted(c for c in values if values[c])
    items = sorted({i for c in coders for i in values[c]}, key=str)
    index = {i: k for k, i in enumerate(items)}
    m = np.full((len(coders), len(items)), np.nan)
    for r, c in enumerate(coders):
        for i, v in values[c].items():
            m[r, index[i]] = float(v)
    n_coded = (~np.isnan(m)).sum(axis=0) if items else np.zeros(0)
    pairable = n_coded >= 2
    res = Agreement(coders=len(coders), items=int(pairable.sum()),
                    positives=int(np.nansum(m)) if items else 0, values=int(n_coded.sum()) if items else 0)
    if len(coders) < 2 or not pairable.any():
        return res
    sub = m[:, pairable]
    ones = np.nansum(sub, axis=0)
    n = (~np.isnan(sub)).sum(axis=0)
    agree_pairs = ones * (ones - 1) / 2 + (n - ones) * (n - ones - 1) / 2
    res.observed = float(agree_pairs.sum() / (n * (n - 1) / 2).sum())
    res.alpha = krippendorff_alpha(sub, value_domain=(0.0, 1.0))
    if len(coders) == 2:
        both = ~np.isnan(m).any(axis=0)
        res.kappa = cohen_kappa(m[0, both].astype(int).tolist(), m[1, both].astype(int).tolist())
    return res


def majority(values: Mapping[str, Mapping[Hashable, int]]) -> dict[Hashable, int]:
    """Item -> 1/0 where more than half of the coders who coded the item agree; ties are left out."""
    ones: dict[Hashable, int] = {}
    total: dict[Hashable, int] = {}
    for per_item in values.values():
        for i, v in per_item.items():
            total[i] = total.get(i, 0) + 1
            ones[i] = ones.get(i, 0) + int(v)
    out = {}
    for i, n in total.items():
        if 2 * ones[i] > n:
            out[i] = 1
        elif 2 * ones[i] < n:
            out[i] = 0
    return out


def precision_recall_f1(pred: Sequence[int], ref: Sequence[int]) -> tuple[float | None, float | None, float | None]:
    """Of the positive class; ``None`` where the denominator is 0 (no predicted or no true positives)."""
    p = np.asarray(pred, dtype=bool)
    r = np.asarray(ref, dtype=bool)
    tp = int((p & r).sum())
    prec = tp / int(p.sum()) if p.sum() else None
    rec = tp / int(r.sum()) if r.sum() else None
    if prec is None or rec is None:
        f1 = 0.0 if (r.sum() and not p.sum()) else None
        return prec, rec, f1
    f1 = 0.0 if prec + rec == 0 else 2 * prec * rec / (prec + rec)
    return prec, rec, f1


def compare(predicted: Mapping[Hashable, int], reference: Mapping[Hashable, int]) -> Comparison:
    """A model's 0/1 decisions against a reference (the human majority) on the items of both."""
    items = sorted(set(predicted) & set(reference), key=str)
    pred = [int(predicted[i]) for i in items]
    ref = [int(reference[i]) for i in items]
    prec, rec, f1 = precision_recall_f1(pred, ref)
    return Comparison(
        items=len(items),
        kappa=cohen_kappa(pred, ref),
        alpha=krippendorff_alpha([pred, ref], value_domain=(0.0, 1.0)) if items else None,
        precision=prec, recall=rec, f1=f1,
        observed=(float(np.mean(np.asarray(pred) == np.asarray(ref))) if items else None),
        reference_positives=int(sum(ref)), predicted_positives=int(sum(pred)))


def macro(rows: Iterable[Comparison]) -> dict[str, float | None]:
    """Macro precision, recall and F1 over the codes with at least one reference positive."""
    rows = [r for r in rows if r.reference_positives > 0]
    if not rows:
        return {"precision": None, "recall": None, "f1": None, "codes": 0}
    return {"precision": float(np.mean([r.precision or 0.0 for r in rows])),
            "recall": float(np.mean([r.recall or 0.0 for r in rows])),
            "f1": float(np.mean([r.f1 or 0.0 for r in rows])), "codes": len(rows)}


# ----------------------------------------------------------------------------- from a case
Item = tuple  # (forum_id, post_id, sentence_no)


def load_human_codes(case: Any, codebook_id: str, *, forum_id: str | None = None
                     ) -> dict[str, dict[str, dict[Item, int]]]:
    """code -> coder -> (forum_id, post_id, sentence_no) -> 0/1, from the case's ``human_codes``."""
    q = "SELECT forum_id, post_id, sentence_no, code, coder, value FROM human_codes WHERE codebook = ?"
    params: list[Any] = [codebook_id]
    if forum_id is not None:
        q += " AND forum_id = ?"
        params.append(forum_id)
    out: dict[str, dict[str, dict[Item, int]]] = {}
    for f, p, s, code, coder, value in case.con.execute(q, params).fetchall():
        out.setdefault(code, {}).setdefault(coder, {})[(f, p, s)] = int(bool(value))
    return out


def human_rows(codebook: Any, codes: Mapping[str, Mapping[str, Mapping[Item, int]]]) -> list[dict[str, Any]]:
    """One ``discourse_agreement`` row per code of the codebook (comparison ``humans``)."""
    rows = []
    for code_id in codebook.code_ids:
        per_coder = codes.get(code_id, {})
        a = code_agreement(per_coder)
        positives = sum(majority(per_coder).values())
        rows.append(_row(codebook, code_id, HUMANS, a.coders, a.items, a.kappa, a.alpha, None, None, None,
                         a.observed, positives, None, "human coders"))
    return rows


def model_rows(codebook: Any, layer: str, predicted: Mapping[str, Mapping[Item, int]],
               codes: Mapping[str, Mapping[str, Mapping[Item, int]]], method: str) -> list[dict[str, Any]]:
    """Rows of one layer against the human majority: one per code, plus the ``(macro)`` row."""
    comparison = f"model:{layer}"
    rows, comps = [], []
    coders = len({c for per in codes.values() for c in per if per[c]})
    for code_id in codebook.code_ids:
        ref = majority(codes.get(code_id, {}))
        c = compare(predicted.get(code_id, {}), ref)
        comps.append(c)
        rows.append(_row(codebook, code_id, comparison, coders, c.items, c.kappa, c.alpha, c.precision, c.recall,
                         c.f1, c.observed, c.reference_positives, c.predicted_positives, method))
    m = macro(comps)
    rows.append(_row(codebook, MACRO, comparison, coders, max((c.items for c in comps), default=0), None, None,
                     m["precision"], m["recall"], m["f1"], None, sum(c.reference_positives for c in comps),
                     sum(c.predicted_positives for c in comps),
                     f"{method}; macro over {m['codes']} codes with a positive human item"))
    return rows


def _row(codebook: Any, code: str, comparison: str, coders: int, items: int, kappa: float | None,
         alpha: float | None, precision: float | None, recall: float | None, f1: float | None,
         observed: float | None, positives: int | None, predicted: int | None, method: str) -> dict[str, Any]:
    return {"codebook": codebook.id, "codebook_version": codebook.version, "code": code,
            "comparison": comparison, "coders": coders, "items": items, "kappa": kappa, "alpha": alpha,
            "precision": precision, "recall": recall, "f1": f1, "observed_agreement": observed,
            "positives": positives, "predicted_positives": predicted, "method": method}


AGREEMENT_COLUMNS = ("codebook", "codebook_version", "code", "comparison", "coders", "items", "kappa", "alpha",
                     "precision", "recall", "f1", "observed_agreement", "positives", "predicted_positives",
                     "method")


# ----------------------------------------------------------------------------- the agreement run
def layer_predictions(case: Any, codebook: Any, layer_name: str, codes: Mapping[str, Mapping[str, Mapping[Item, int]]],
                      *, forum_id: str | None = None, folds: int = 5, seed: int = 0
                      ) -> tuple[dict[str, dict[Item, int]], str]:
    """code -> post-level item -> 0/1 decisions of a layer on the human-coded posts, and how they were made.

    The supervised layer is trained on these very codes, so it is judged by k-fold cross-validation
    (each item scored by a model trained without it); other layers score the posts' texts directly."""
    from forumscope.discourse.layers import check_scores, make_layer

    if layer_name == "supervised":
        from forumscope.discourse.supervised import cross_validated_scores, training_data

        items, texts, y, _ = training_data(case, codebook, forum_id=forum_id)
        if len(items) < 2:
            raise ValueError("too few coded posts")
        scores = cross_validated_scores(codebook, texts, y, folds=folds, seed=seed)
        threshold, method = 0.5, f"supervised layer, {min(folds, len(items))}-fold cross-validated (seed {seed})"
        keys = [(f, p, None) for f, p in items]
    else:
        keys = sorted({i for per in codes.values() for vals in per.values() for i in vals if i[2] is None},
                      key=lambda i: (i[0], i[1]))
        texts = _texts(case, keys)
        layer = make_layer(layer_name)
        layer.fit(codebook, case)
        scores = check_scores(layer, layer.score(texts), len(texts), len(codebook.codes))
        threshold = layer.threshold
        method = f"layer {layer_name} (threshold {threshold:g}{', ' + layer.model if getattr(layer, 'model', None) else ''})"
    out: dict[str, dict[Item, int]] = {}
    for j, code in enumerate(codebook.code_ids):
        out[code] = {k: int(scores[i, j] >= threshold) for i, k in enumerate(keys)}
    return out, method


def _texts(case: Any, keys: Sequence[Item]) -> list[str]:
    import pyarrow as pa

    if not keys:
        return []
    t = pa.table({"forum_id": pa.array([k[0] for k in keys], pa.string()),
                  "post_id": pa.array([k[1] for k in keys], pa.string()),
                  "ord": pa.array(range(len(keys)), pa.int64())})
    case.con.register("_agreement_keys", t)
    try:
        rows = case.con.execute("SELECT coalesce(p.text, '') FROM _agreement_keys k LEFT JOIN posts p ON "
                                "p.forum_id = k.forum_id AND p.id = k.post_id ORDER BY k.ord").fetchall()
    finally:
        case.con.unregister("_agreement_keys")
    return [r[0] for r in rows]


def agreement_rows(case: Any, codebook: Any, layers: Sequence[str] = (), *, forum_id: str | None = None,
                   folds: int = 5, seed: int = 0) -> list[dict[str, Any]]:
    """The rows of ``discourse_agreement``: humans per code, then each layer against the human majority."""
    from forumscope.discourse.codebook import load_codebook
    from forumscope.errors import UsageError

    codebook = load_codebook(codebook)
    codes = load_human_codes(case, codebook.id, forum_id=forum_id)
    if not codes:
        raise UsageError(f"no human codes for codebook {codebook.id!r} in this case: import coding sheets first "
                         "(`forumscope coding import`)")
    rows = human_rows(codebook, codes)
    for layer in layers:
        predicted, method = layer_predictions(case, codebook, layer, codes, forum_id=forum_id, folds=folds,
                                              seed=seed)
        rows += model_rows(codebook, layer, predicted, codes, method)
    return rows


def agreement_table(rows: Sequence[Mapping[str, Any]]):
    import pyarrow as pa

    s, i, f = pa.string(), pa.int64(), pa.float64()
    types = {"codebook": s, "codebook_version": s, "code": s, "comparison": s, "coders": i, "items": i, "kappa": f,
             "alpha": f, "precision": f, "recall": f, "f1": f, "observed_agreement": f, "positives": i,
             "predicted_positives": i, "method": s}
    return pa.table({c: pa.array([r[c] for r in rows], types[c]) for c in AGREEMENT_COLUMNS})


def _agreement_step():
    from forumscope.pipeline.step import Param, Step

    class AgreementStep(Step):
        """Not in the analysis registry: run by `forumscope coding agreement` through the runner."""

        name = "coding_agreement"
        description = "Agreement of human coders per code, and of model layers against the human majority."
        inputs = ("human_codes", "posts")
        outputs = {"discourse_agreement": "Agreement per codebook, code and comparison (docs/coding.md)."}
        params = (
            Param("codebook", str, "operating-model", "Codebook id or path."),
            Param("layers", tuple, (), "Layers compared with the human majority."),
            Param("folds", int, 5, "Folds of the supervised layer's cross-validation.", lambda v: v >= 2, ">= 2"),
            Param("seed", int, 0, "Seed of the cross-validation folds."),
        )

        def compute(self, ctx):
            rows = agreement_rows(ctx.case, self.codebook, self.layers, forum_id=ctx.forum_id, folds=self.folds,
                                  seed=self.seed)
            return {"discourse_agreement": agreement_table(rows)}

    return AgreementStep


def run_agreement(case: Any, codebook: Any = "operating-model", layers: Sequence[str] = (), *,
                  forum_id: str | None = None, folds: int = 5, seed: int = 0):
    """Compute agreement and write ``discourse_agreement`` with a ``runs`` row (step ``coding_agreement``).

    Returns (run record, rows)."""
    from forumscope.discourse.codebook import load_codebook
    from forumscope.pipeline.runner import run_step

    cb = load_codebook(codebook)
    name = str(codebook) if isinstance(codebook, (str, Path)) else (cb.path or cb.id)
    step = _agreement_step()(codebook=name, layers=tuple(layers), folds=folds, seed=seed)
    record = run_step(case, step, forum_id=forum_id)
    rows = case.con.execute("SELECT * EXCLUDE (run_id) FROM discourse_agreement WHERE run_id = ?",
                            [record.run_id]).fetchall()
    names = [d[0] for d in case.con.description]
    return record, [dict(zip(names, r)) for r in rows]
