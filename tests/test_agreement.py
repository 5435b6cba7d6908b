"""Agreement statistics against published worked examples and hand computation (docs/validation.md)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from forumscope.discourse.agreement import (
    MACRO,
    code_agreement,
    cohen_kappa,
    compare,
    krippendorff_alpha,
    macro,
    majority,
    precision_recall_f1,
)

NAN = float("nan")


def kappa_from_table(both_yes: int, a_yes_b_no: int, a_no_b_yes: int, both_no: int) -> float:
    """Cohen (1960) by hand: (p_o - p_e) / (1 - p_e) from the 2x2 table."""
    n = both_yes + a_yes_b_no + a_no_b_yes + both_no
    p_o = (both_yes + both_no) / n
    a_yes, b_yes = (both_yes + a_yes_b_no) / n, (both_yes + a_no_b_yes) / n
    p_e = a_yes * b_yes + (1 - a_yes) * (1 - b_yes)
    return (p_o - p_e) / (1 - p_e)


def coders_from_table(both_yes: int, a_yes_b_no: int, a_no_b_yes: int, both_no: int) -> tuple[list, list]:
    a = [1] * both_yes + [1] * a_yes_b_no + [0] * a_no_b_yes + [0] * both_no
    b = [1] * both_yes + [0] * a_yes_b_no + [1] * a_no_b_yes + [0] * both_no
    return a, b


def alpha_by_hand(data: np.ndarray) -> float:
    """Krippendorff's nominal alpha from the coincidence matrix (Krippendorff 2011, section C), written out
    here independently of the `krippendorff` package: alpha = 1 - (n - 1) * sum_{c!=k} o_ck / sum_{c!=k} n_c n_k."""
    values = sorted({v for v in data.ravel() if not math.isnan(v)})
    idx = {v: i for i, v in enumerate(values)}
    o = np.zeros((len(values), len(values)))
    for unit in data.T:
        vals = [v for v in unit if not math.isnan(v)]
        m = len(vals)
        if m < 2:
            continue
        for i, vi in enumerate(vals):
            for j, vj in enumerate(vals):
                if i != j:
                    o[idx[vi], idx[vj]] += 1 / (m - 1)
    n_c = o.sum(axis=1)
    n = n_c.sum()
    off = ~np.eye(len(values), dtype=bool)
    return 1 - (n - 1) * o[off].sum() / np.outer(n_c, n_c)[off].sum()


# ----------------------------------------------------------------------------- Cohen's kappa
@pytest.mark.parametrize("table,published", [
    # Wikipedia, "Cohen's kappa", worked example: 50 proposals, 20 yes/yes, 5 yes/no, 10 no/yes, 15 no/no.
    ((20, 5, 10, 15), 0.40),
    # Same article, "same percentages but different numbers": kappa 0.1304 and 0.2593 (agreement 60 % both).
    ((45, 15, 25, 15), 0.1304),
    ((25, 35, 5, 35), 0.2593),
])
def test_cohen_kappa_published_and_by_hand(table, published):
    a, b = coders_from_table(*table)
    k = cohen_kappa(a, b)
    assert k == pytest.approx(kappa_from_table(*table), abs=1e-12)
    assert k == pytest.approx(published, abs=5e-5)


def test_cohen_kappa_is_undefined_or_extreme_where_it_should_be():
    assert cohen_kappa([1, 1, 1], [1, 1, 1]) is None  # one value everywhere: p_e = 1
    assert cohen_kappa([], []) is None
    assert cohen_kappa([0, 1, 0, 1], [0, 1, 0, 1]) == pytest.approx(1.0)
    assert cohen_kappa([0, 1, 0, 1], [1, 0, 1, 0]) == pytest.approx(-1.0)
    with pytest.raises(ValueError):
        cohen_kappa([0, 1], [0])


# ----------------------------------------------------------------------------- Krippendorff's alpha
def test_krippendorff_2011_nominal_example_four_coders_missing_values():
    """Krippendorff (2011) 'Computing Krippendorff's alpha-reliability', section C: nominal data, 4 observers,
    12 units, missing values: alpha = 0.743."""
    data = np.array([
        [1, 2, 3, 3, 2, 1, 4, 1, 2, NAN, NAN, NAN],
        [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, NAN, 3],
        [NAN, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, NAN],
        [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, NAN],
    ])
    a = krippendorff_alpha(data)
    assert round(a, 3) == 0.743
    assert a == pytest.approx(alpha_by_hand(data), abs=1e-12)


def test_krippendorff_2011_binary_example_and_code_agreement():
    """Krippendorff (2011) section A: binary data, two observers, 10 units: alpha = 0.095; the hand formula
    1 - (n - 1) o_01 / (n_0 n_1) = 1 - 19 * 4 / (14 * 6)."""
    a = [0, 1, 0, 0, 0, 0, 0, 0, 1, 0]
    b = [1, 1, 1, 0, 0, 1, 0, 0, 0, 0]
    assert krippendorff_alpha([a, b]) == pytest.approx(1 - 19 * 4 / (14 * 6), abs=1e-12)
    assert round(krippendorff_alpha([a, b]), 3) == 0.095
    res = code_agreement({"A": dict(enumerate(a)), "B": dict(enumerate(b))})
    assert res.coders == 2 and res.items == 10
    assert res.alpha == pytest.approx(0.0952381, abs=1e-6)
    # kappa of the same table (1 yes/yes, 1 A-only, 3 B-only, 5 no/no) by hand: (0.6 - 0.56) / 0.44
    assert res.kappa == pytest.approx(kappa_from_table(1, 1, 3, 5), abs=1e-12)
    assert res.kappa == pytest.approx(0.04 / 0.44, abs=1e-12)
    assert res.observed == pytest.approx(0.6)


def test_alpha_with_three_coders_and_gaps_matches_hand_computation():
    rng = np.random.default_rng(5)
    m = (rng.random((3, 40)) < 0.3).astype(float)
    m[rng.random((3, 40)) < 0.25] = NAN  # missing values
    values = {c: {u: int(m[r, u]) for u in range(40) if not math.isnan(m[r, u])} for r, c in enumerate("ABC")}
    res = code_agreement(values)
    pairable = (~np.isnan(m)).sum(axis=0) >= 2
    assert res.coders == 3 and res.items == int(pairable.sum())
    assert res.kappa is None  # Cohen's kappa is for two coders only
    assert res.alpha == pytest.approx(alpha_by_hand(m[:, pairable]), abs=1e-12)


def test_alpha_undefined_cases():
    assert krippendorff_alpha([[1, 1, 1], [1, 1, 1]]) is None  # one value: no expected disagreement
    assert krippendorff_alpha([[1, NAN], [NAN, 0]]) is None  # nothing pairable
    assert krippendorff_alpha([[1, 0, 1]]) is None  # one coder
    one = code_agreement({"A": {1: 1, 2: 0}})
    assert one.coders == 1 and one.items == 0 and one.alpha is None and one.kappa is None


# ----------------------------------------------------------------------------- model against humans
def test_majority_leaves_ties_out():
    votes = {"A": {1: 1, 2: 0, 3: 1, 4: 1}, "B": {1: 1, 2: 1, 3: 0}, "C": {1: 0, 2: 1}}
    assert majority(votes) == {1: 1, 2: 1, 4: 1}  # item 3 is 1:1, a tie


def test_precision_recall_f1_by_hand_and_macro():
    pred = [1, 1, 0, 0, 1, 0]
    ref = [1, 0, 1, 0, 1, 0]
    p, r, f = precision_recall_f1(pred, ref)
    assert (p, r) == (pytest.approx(2 / 3), pytest.approx(2 / 3)) and f == pytest.approx(2 / 3)
    assert precision_recall_f1([0, 0], [1, 0]) == (None, 0.0, 0.0)  # nothing predicted: F1 0
    assert precision_recall_f1([1, 0], [0, 0]) == (0.0, None, None)  # no positives in the reference
    c1 = compare(dict(enumerate(pred)), dict(enumerate(ref)))
    c2 = compare({0: 1, 1: 1, 2: 1}, {0: 1, 1: 0, 2: 0})  # p 1/3, r 1, f1 0.5
    c3 = compare({0: 1, 1: 0}, {0: 0, 1: 0})  # no positive reference: left out of the macro average
    assert c1.items == 6 and c1.kappa == pytest.approx(kappa_from_table(2, 1, 1, 2))
    m = macro([c1, c2, c3])
    assert m["codes"] == 2 and m["f1"] == pytest.approx((2 / 3 + 0.5) / 2)
    assert m["precision"] == pytest.approx((2 / 3 + 1 / 3) / 2) and m["recall"] == pytest.approx((2 / 3 + 1) / 2)
    assert MACRO == "(macro)"
