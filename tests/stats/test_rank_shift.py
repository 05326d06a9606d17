"""Exact Mann–Whitney p-values and the Hodges–Lehmann shift: agreement with R, bad input.

The fixture ``tests/fixtures/r/rank_shift.json`` is written by
``Rscript tests/fixtures/r/rank_shift.R``: ``wilcox.test(treatment, control, exact = ...,
correct = ..., conf.int = TRUE, conf.level = ..., alternative = ...)`` on seeded small and
medium samples with and without ties, and ``pwilcox`` / ``qwilcox`` over whole supports.

Tolerances:

- p-values, exact intervals and estimates: 1e-9 relative (1e-12 absolute);
- normal-approximation intervals: R finds each bound with ``uniroot(tol = tol.root)``; the bound
  is the pairwise difference where R's step-function statistic changes sign. ablens computes
  that difference exactly: it must equal (1e-9) the sign change the R script finds by
  evaluating R's own statistic between differences, lie within 1e-12 + 1e-13 relative of
  R's ``tol.root = 1e-13`` root, and within R's default ``tol.root = 1e-4`` of its default root
  (zeroin stops once its bracket is ``2 eps |b| + tol / 2`` wide, so 1e-4 plus 4 eps |b|).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from ablens.errors import InputError
from ablens.stats.nonparametric import (
    EXACT_MAX_PAIRS,
    HodgesLehmannResult,
    ValueCounts,
    _Differences,
    _ExactU,
    hodges_lehmann,
    mann_whitney_test,
    rank_summary_from_arrays,
)
from helpers import binomial_range
from rfixtures import load_r_fixture

REFERENCE: dict[str, Any] = load_r_fixture("rank_shift.json")
RTOL = 1e-9
ATOL = 1e-12
CASES = REFERENCE["cases"]


def _close(name: str, actual: float, expected: float, *, rel: float = RTOL, abs_: float = ATOL):
    if math.isinf(expected) or math.isinf(actual):
        assert actual == expected, name
        return
    assert actual == pytest.approx(expected, rel=rel, abs=abs_), (
        f"{name}: python {actual!r} != R {expected!r}"
    )


def _arms(case: dict[str, Any]) -> tuple[list[float], list[float]]:
    data = REFERENCE["data"][case["dataset"]]
    return data["control"], data["treatment"]


def test_fixture_covers_the_intended_cases():
    methods = {c["expected"]["method"] for c in CASES}
    assert methods == {"exact", "normal"}
    assert {c["options"]["alternative"] for c in CASES} == {"two-sided", "greater", "less"}
    assert {c["options"]["exact"] for c in CASES} == {"auto", True, False}
    assert {c["options"]["continuity"] for c in CASES} == {True, False}
    assert any(c["expected"]["warnings"] for c in CASES)  # exact refused with ties
    assert any(c["expected"]["confidence_level"] != c["options"]["confidence_level"] for c in CASES)


@pytest.mark.parametrize("case", CASES, ids=lambda case: case["id"])
def test_p_value_matches_wilcox_test(case):
    control, treatment = _arms(case)
    options = case["options"]
    result = mann_whitney_test(
        rank_summary_from_arrays(control, treatment),
        alternative=options["alternative"],
        continuity=options["continuity"],
        exact=options["exact"],
    )
    expected = case["expected"]
    assert result.method == expected["method"]
    assert result.u_statistic == expected["u_statistic"]
    _close("p_value", result.p_value, expected["p_value"])
    # R warns when it cannot use the exact distribution; ablens says so in the notes.
    refused = any("exact p-value with ties" in w for w in expected["warnings"])
    assert bool(result.notes) == refused
    if refused:
        assert "normal approximation" in result.notes[0]


@pytest.mark.parametrize("case", CASES, ids=lambda case: case["id"])
def test_shift_matches_wilcox_test(case):
    control, treatment = _arms(case)
    options = case["options"]
    result = hodges_lehmann(
        control,
        treatment,
        alternative=options["alternative"],
        confidence_level=options["confidence_level"],
        exact=options["exact"],
        continuity=options["continuity"],
    )
    expected = case["expected"]
    assert isinstance(result, HodgesLehmannResult)
    assert result.method == expected["method"]
    _close("estimate (median of differences)", result.estimate, expected["median_differences"])
    _close("confidence_level", result.confidence_level, expected["confidence_level"])
    if result.method == "exact":
        _close("estimate", result.estimate, expected["estimate"])
        _close("exact ci_lower", result.ci_lower, expected["ci_lower"])
        _close("exact ci_upper", result.ci_upper, expected["ci_upper"])
        return
    # R's normal-method estimate: a zero of the statistic, between the two middle differences.
    low, high = expected["middle_differences"]
    for estimate in (expected["estimate"], expected["estimate_tight"]):
        assert low - 1e-4 <= estimate <= high + 1e-4
    for side in ("ci_lower", "ci_upper"):
        ours = getattr(result, side)
        _close(f"normal {side} (sign change)", ours, expected[f"{side}_sign_change"])
        if math.isinf(ours):
            assert expected[side] == expected[f"{side}_tight"] == ours
            continue
        tight = expected[f"{side}_tight"]
        assert abs(ours - tight) <= 1e-12 + 1e-13 * abs(ours), (side, ours, tight)
        default = expected[side]
        assert abs(ours - default) <= 1e-4 + 4 * np.finfo(float).eps * abs(ours), (side, ours)


@pytest.mark.parametrize(
    "entry", REFERENCE["distributions"], ids=lambda e: f"{e['n_x']}x{e['n_y']}"
)
def test_exact_distribution_matches_pwilcox_and_qwilcox(entry):
    n_x, n_y = entry["n_x"], entry["n_y"]
    for order in ((n_x, n_y), (n_y, n_x)):  # the distribution is the same both ways
        distribution = _ExactU(*order)
        for u, (lower, upper) in enumerate(zip(entry["cdf"], entry["upper"], strict=True)):
            _close("pwilcox", distribution.cdf(u), lower)
            _close("pwilcox upper", distribution.sf(u + 1), upper)
        for probability, quantile in zip(entry["probabilities"], entry["quantiles"], strict=True):
            ours = distribution.quantile(probability)
            if ours != quantile:
                # Only where the distribution hits the probability exactly (P(U <= 1200) is
                # exactly 1/2 for 49 x 49): R's running sum of 1,201 terms lands a few ulps
                # below 1/2, beyond its 10 DBL_EPSILON allowance, and it takes the next u.
                assert ours == quantile - 1
                assert distribution.cdf(ours) == pytest.approx(probability, rel=1e-13)


def test_value_counts_give_the_same_shift_as_arrays():
    rng = np.random.default_rng(7)
    control = rng.integers(0, 40, 3_000) / 4
    treatment = rng.integers(1, 42, 2_500) / 4
    from_arrays = hodges_lehmann(control, treatment)
    from_counts = hodges_lehmann(ValueCounts.from_array(control), ValueCounts.from_array(treatment))
    assert from_arrays == from_counts
    differences = np.subtract.outer(treatment, control).ravel()
    assert from_arrays.estimate == np.median(differences)


def test_order_statistics_agree_with_sorting_on_awkward_values():
    # Values whose differences round: the count must use fl(t - c), as R's outer() does.
    rng = np.random.default_rng(11)
    control = rng.normal(1e8, 1, 40) + rng.normal(0, 1e-8, 40)
    treatment = rng.normal(1e8, 1, 35)
    result = hodges_lehmann(control, treatment, exact=True, alternative="greater")
    differences = np.sort(np.subtract.outer(treatment, control).ravel())
    assert result.estimate == np.median(differences)
    assert result.ci_lower in differences


@pytest.mark.parametrize("seed", range(5))
def test_bisection_agrees_with_sorting(monkeypatch, seed):
    # Large arms use the bisection; force it on small ones and compare with the sorted path.
    # Odd seeds: continuous values (exact intervals); even seeds: rounded values (ties).
    rng = np.random.default_rng(seed)
    control = rng.lognormal(0, 1, 100)
    treatment = rng.lognormal(0.2, 1, 150)
    if seed % 2 == 0:
        control, treatment = np.round(control, 1 + seed // 2), np.round(treatment, 1 + seed // 2)
    options = [
        {"alternative": a, "exact": e}
        for a in ("two-sided", "greater", "less")
        for e in (True, False)
    ]
    sorted_results = [hodges_lehmann(control, treatment, **o) for o in options]
    monkeypatch.setattr("ablens.stats.nonparametric._SORT_LIMIT", 0)
    bisected = [hodges_lehmann(control, treatment, **o) for o in options]
    assert bisected == sorted_results
    differences = np.sort(np.subtract.outer(treatment, control).ravel())
    for k in (1, 2, 777, differences.size // 2, differences.size - 1, differences.size):
        counted = _Differences(ValueCounts.from_array(control), ValueCounts.from_array(treatment))
        assert counted.order_statistic(k) == differences[k - 1]


def test_swapping_arms_negates_the_shift():
    rng = np.random.default_rng(5)
    a, b = rng.normal(0, 1, 20), rng.normal(0.4, 1, 25)
    forward = hodges_lehmann(a, b)
    backward = hodges_lehmann(b, a)
    assert forward.estimate == -backward.estimate
    assert (forward.ci_lower, forward.ci_upper) == (-backward.ci_upper, -backward.ci_lower)


# --------------------------------------------------------------------------- bad input


def test_exact_with_ties_falls_back_with_a_note():
    summary = rank_summary_from_arrays([1.0, 2.0, 2.0], [2.0, 3.0])
    result = mann_whitney_test(summary, exact=True)
    assert result.method == "normal"
    assert "tied values" in result.notes[0]
    shift = hodges_lehmann([1.0, 2.0, 2.0], [2.0, 3.0], exact=True)
    assert shift.method == "normal"
    assert shift.notes == result.notes


def test_exact_true_is_refused_beyond_its_limit():
    n_treatment = EXACT_MAX_PAIRS // 100 + 1
    summary = rank_summary_from_arrays(np.arange(100.0), np.arange(n_treatment) + 0.5)
    with pytest.raises(InputError, match=r"exact == True with n_control \* n_treatment == 20,100"):
        mann_whitney_test(summary, exact=True)
    with pytest.raises(InputError, match=r"must be at most EXACT_MAX_PAIRS"):
        hodges_lehmann(np.arange(100.0), np.arange(n_treatment) + 0.5, exact=True)
    assert mann_whitney_test(summary, exact="auto").method == "normal"


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"exact": "yes"}, r"exact == 'yes', must be True, False, 'auto' or None"),
        ({"exact": 1}, r"exact == 1, must be True, False, 'auto' or None"),
        ({"confidence_level": 1.0}, r"confidence_level == 1.0, must be in \(0, 1\)"),
        ({"confidence_level": 0.0}, r"confidence_level == 0.0, must be in \(0, 1\)"),
        ({"confidence_level": math.nan}, r"confidence_level == nan, must be finite"),
        ({"alternative": "two.sided"}, r"alternative == 'two.sided', must be one of"),
        ({"continuity": None}, r"continuity == None, must be True or False"),
    ],
)
def test_bad_shift_options_name_the_argument(kwargs, match):
    with pytest.raises(InputError, match=match):
        hodges_lehmann([1.0, 2.0, 3.0], [2.5, 4.0], **kwargs)


def test_bad_exact_option_in_the_test():
    summary = rank_summary_from_arrays([1.0, 2.0], [3.0])
    with pytest.raises(InputError, match=r"exact == 'always', must be True, False"):
        mann_whitney_test(summary, exact="always")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("values", "counts", "match"),
    [
        ([1.0, 2.0], [1, 0], r"counts must all be at least 1"),
        ([2.0, 1.0], [1, 1], r"values must be strictly increasing"),
        ([1.0, 2.0], [1.5, 1.0], r"counts has dtype float64 and shape \(2,\), must be whole"),
        ([1.0, math.inf], [1, 1], r"values has 1 NaN or infinite value"),
    ],
)
def test_bad_value_counts_name_the_field(values, counts, match):
    with pytest.raises(InputError, match=match):
        ValueCounts(np.array(values), np.array(counts))


def test_empty_arm_is_refused():
    with pytest.raises(InputError, match=r"treatment has 0 values, must have at least 1"):
        hodges_lehmann([1.0], [])


# --------------------------------------------------------------------------- coverage


@pytest.mark.parametrize(("n", "exact", "coverage"), [(12, True, 0.955098), (60, False, 0.95)])
def test_interval_covers_a_true_shift(n, exact, coverage):
    # 400 seeded experiments, skewed continuous data shifted by exactly 1.5. For 12 + 12 units
    # the exact interval [D_(38), D_(107)] covers with probability 1 - 2 P(U <= 37) = 0.955098
    # (checked below); the normal one about 0.95. The count of covering intervals must lie in
    # the 99.9% binomial range.
    if exact:
        assert 1 - 2 * _ExactU(n, n).cdf(37) == pytest.approx(coverage, abs=1e-6)
    rng = np.random.default_rng(2026 + n)
    experiments = 400
    covered = 0
    for _ in range(experiments):
        control = rng.gamma(2.0, 1.0, n)
        treatment = rng.gamma(2.0, 1.0, n) + 1.5
        shift = hodges_lehmann(control, treatment, exact=exact)
        covered += shift.ci_lower <= 1.5 <= shift.ci_upper
    low, high = binomial_range(experiments, coverage)
    assert low <= covered <= high, covered
