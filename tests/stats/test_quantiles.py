"""Quantile comparisons: exact summaries, agreement with R, coverage, the bootstrap, bad input.

* `quantile_summary_from_array` is numpy's ``method="linear"`` exactly, at the bracket
  probabilities ``q -/+ z sqrt(q (1 - q) / n)``.
* ``tests/fixtures/r/quantiles.json`` (written by ``Rscript tests/fixtures/r/quantiles.R``) holds
  R's ``quantile(x, probs, type = 7)`` and the written-out comparison for three datasets (skewed,
  small, heavily tied); everything must agree to 1e-9 relative.
* Seeded simulations: 400 experiments per setting, lognormal, 2,000 units per arm; the count of
  intervals covering the true difference (median, p90; absolute and relative; asymptotic and
  bootstrap) must lie in the central 99.9% range of Binomial(400, 0.95).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from scipy import stats

from ablens import InputError
from ablens.stats._inference import NORMAL
from ablens.stats.quantiles import (
    QuantileSummary,
    _bootstrap_quantiles,
    bracket_probabilities,
    minimum_count,
    quantile_bootstrap_test,
    quantile_summary_from_array,
    quantile_test,
)
from ablens.stats.result import difference_test
from helpers import binomial_range
from rfixtures import load_r_fixture

RTOL = 1e-9
ATOL = 1e-12

REFERENCE: dict[str, Any] = load_r_fixture("quantiles.json")


# --------------------------------------------------------------------------- the bracket
def test_bracket_probabilities_formula():
    z = stats.norm.ppf(0.975)
    lower, upper = bracket_probabilities(2_000, 0.9)
    half = z * math.sqrt(0.9 * 0.1 / 2_000)
    assert lower == pytest.approx(0.9 - half, rel=1e-15)
    assert upper == pytest.approx(0.9 + half, rel=1e-15)
    z90 = stats.norm.ppf(0.95)
    assert bracket_probabilities(400, 0.25, 0.9)[1] == pytest.approx(
        0.25 + z90 * math.sqrt(0.25 * 0.75 / 400), rel=1e-15
    )


@pytest.mark.parametrize("probability", [0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99, 0.999])
@pytest.mark.parametrize("level", [0.5, 0.9, 0.95, 0.99])
def test_minimum_count_is_the_smallest_n_whose_bracket_fits(probability, level):
    n = minimum_count(probability, level)
    lower, upper = bracket_probabilities(n, probability, level)
    assert 0 < lower < probability < upper < 1
    if n > 2:
        with pytest.raises(InputError, match=rf"n == {n - 1} is too small .* needs n >= {n}"):
            bracket_probabilities(n - 1, probability, level)
    z = stats.norm.ppf(0.5 + level / 2)
    small = min(probability, 1 - probability)
    assert n == max(2, math.floor(z * z * (1 - small) / small) + 1)


# --------------------------------------------------------------------------- in-memory summaries
@pytest.mark.parametrize("probability", [0.05, 0.1, 0.5, 0.9, 0.95, 0.99])
@pytest.mark.parametrize("level", [0.9, 0.95])
def test_summary_is_numpy_linear_quantile_exactly(probability, level):
    rng = np.random.default_rng(3)
    for values in (
        rng.lognormal(2.0, 1.0, 3_001),
        rng.normal(0.0, 1.0, 5_000),
        rng.poisson(5.0, 4_000).astype(float),
        np.arange(1_000.0),
    ):
        summary = quantile_summary_from_array(values, probability, level)
        lower, upper = bracket_probabilities(values.size, probability, level)
        want = np.quantile(values, [lower, probability, upper], method="linear")
        assert (summary.lower_value, summary.value, summary.upper_value) == tuple(want)
        assert summary.n == values.size
        assert summary.bracket_probabilities == (lower, upper)
        z = stats.norm.ppf(0.5 + level / 2)
        assert summary.standard_error == pytest.approx((want[2] - want[0]) / (2 * z), rel=1e-15)
        assert summary.variance == pytest.approx(summary.standard_error**2, rel=1e-15)


def test_summary_accepts_integers_and_lists_and_round_trips():
    summary = quantile_summary_from_array(list(range(1, 101)), 0.5)
    assert summary.value == 50.5
    assert isinstance(summary.n, int)
    assert isinstance(summary.value, float)
    assert QuantileSummary(**summary.to_dict()) == summary


def test_linear_interpolation_between_order_statistics():
    # Type 7: h = (n - 1) q; the quantile is x[floor h] + frac(h) (x[floor h + 1] - x[floor h]).
    values = np.array([7.0, 1.0, 3.0, 10.0, 4.0, 8.0, 2.0, 9.0, 5.0, 6.0] * 10)
    ordered = np.sort(values)
    for q in (0.31, 0.5, 0.77):
        h = (values.size - 1) * q
        j = math.floor(h)
        want = ordered[j] + (h - j) * (ordered[j + 1] - ordered[j])
        assert quantile_summary_from_array(values, q).value == pytest.approx(want, rel=1e-15)


def test_standard_error_approaches_the_asymptotic_formula():
    # se(Q(q)) -> sqrt(q (1 - q) / n) / f(xi_q); at n = 200,000 the bracket spans ~800 ranks.
    rng = np.random.default_rng(8)
    n = 200_000
    values = rng.normal(0.0, 1.0, n)
    for q in (0.5, 0.9):
        truth = math.sqrt(q * (1 - q) / n) / stats.norm.pdf(stats.norm.ppf(q))
        assert quantile_summary_from_array(values, q).standard_error == pytest.approx(
            truth, rel=0.15
        )


# --------------------------------------------------------------------------- the comparison
def test_quantile_test_is_a_normal_difference_of_bracket_standard_errors():
    rng = np.random.default_rng(4)
    control = quantile_summary_from_array(rng.lognormal(0.0, 1.0, 3_000), 0.9)
    treatment = quantile_summary_from_array(rng.lognormal(0.1, 1.0, 2_500), 0.9)
    result = quantile_test(control, treatment)
    assert result.test == "quantile"
    assert result.df is None
    assert result.notes == ()
    effect = treatment.value - control.value
    se = math.hypot(control.standard_error, treatment.standard_error)
    z = stats.norm.ppf(0.975)
    assert result.effect == pytest.approx(effect, rel=1e-15)
    assert result.standard_error == pytest.approx(se, rel=1e-15)
    assert result.effect_ci == pytest.approx((effect - z * se, effect + z * se), rel=1e-14)
    assert result.p_value == pytest.approx(2 * stats.norm.sf(abs(effect) / se), rel=1e-12)
    for options in (
        {"alternative": "greater", "confidence_level": 0.9, "margin": -0.1},
        {"alternative": "less", "margin": 0.05, "margin_type": "relative"},
        {"relative_method": "fieller", "confidence_level": 0.99},
    ):
        got = quantile_test(control, treatment, **options)
        want = difference_test(
            test="quantile",
            control=control.value,
            treatment=treatment.value,
            var_control=control.variance,
            var_treatment=treatment.variance,
            reference=NORMAL,
            alternative=options.get("alternative", "two-sided"),
            confidence_level=options.get("confidence_level", 0.95),
            margin=options.get("margin", 0.0),
            margin_type=options.get("margin_type", "absolute"),
            relative_method=options.get("relative_method", "delta-log"),
        )
        assert got == want


def test_ties_at_the_quantile_are_noted_or_refused():
    tied = QuantileSummary(2_000, 0.5, 4.0, 4.0, 4.0)
    spread = QuantileSummary(2_000, 0.5, 4.0, 3.0, 5.0)
    result = quantile_test(tied, spread)
    assert result.notes == (
        (
            "ties at the 0.5 quantile in the control arm (its quantile equals a bracket "
            "quantile): the metric is discrete there and the interval is unreliable, usually "
            "too narrow"
        ),
    )
    assert result.standard_error == pytest.approx(spread.standard_error)
    with pytest.raises(InputError, match=r"zero width in both arms .* quantile_bootstrap_test"):
        quantile_test(tied, tied)
    # Discrete data: the sample quantile usually sits on a run of ties, and the note says so.
    rng = np.random.default_rng(2)
    counts = [rng.poisson(200, 2_000).astype(float) for _ in range(2)]
    noted = quantile_test(*(quantile_summary_from_array(c, 0.5) for c in counts))
    assert noted.notes


# --------------------------------------------------------------------------- R reference
def _close(actual: float, expected: float) -> bool:
    return actual == pytest.approx(expected, rel=RTOL, abs=ATOL, nan_ok=True)


def _cases() -> list[Any]:
    return [pytest.param(case, id=case["id"]) for case in REFERENCE["cases"]]


@pytest.mark.parametrize("case", _cases())
def test_summaries_agree_with_r_quantile_type_7(case):
    data = REFERENCE["datasets"][case["dataset"]]
    q = case["control"]["probability"]
    level = case["control"]["bracket_level"]
    for arm in ("control", "treatment"):
        expected = case[arm]
        got = quantile_summary_from_array(data[arm], q, level)
        assert got.n == expected["n"]
        assert got.bracket_probabilities == pytest.approx(
            expected["bracket_probabilities"], rel=1e-15
        )
        bad = [
            (field, getattr(got, field), expected[field])
            for field in ("lower_value", "value", "upper_value")
            if not _close(getattr(got, field), expected[field])
        ]
        assert not bad, bad


@pytest.mark.parametrize("case", _cases())
def test_comparisons_agree_with_r(case):
    data = REFERENCE["datasets"][case["dataset"]]
    q = case["control"]["probability"]
    level = case["control"]["bracket_level"]
    control = quantile_summary_from_array(data["control"], q, level)
    treatment = quantile_summary_from_array(data["treatment"], q, level)
    assert case["tests"], "every reference case has comparisons"
    for test in case["tests"]:
        result = quantile_test(
            control,
            treatment,
            alternative=test["alternative"],
            confidence_level=test["confidence_level"],
        )
        expected = test["expected"]
        pairs = [
            (name, getattr(result, name), expected[name])
            for name in expected
            if name != "relative_ci"
        ]
        pairs += list(
            zip(
                ("relative_ci_lower", "relative_ci_upper"),
                result.relative_ci,
                expected["relative_ci"],
                strict=True,
            )
        )
        bad = [(name, got, want) for name, got, want in pairs if not _close(got, want)]
        assert not bad, (test["alternative"], bad)


def test_r_skipped_the_bracket_that_does_not_fit_and_so_does_ablens():
    ids = {case["id"] for case in REFERENCE["cases"]}
    assert "normal_small-q0.95-b0.95" not in ids  # 60 values; the bracket needs 73
    assert minimum_count(0.95, 0.95) == 73
    values = REFERENCE["datasets"]["normal_small"]["control"]
    with pytest.raises(InputError, match=r"n == 60 is too small .* needs n >= 73"):
        quantile_summary_from_array(values, 0.95)


# --------------------------------------------------------------------------- coverage
N_EXPERIMENTS = 400
N_PER_ARM = 2_000
LIFT = 0.05


def test_binomial_range_is_what_it_says():
    assert binomial_range(N_EXPERIMENTS, 0.95) == (364, 393)


@pytest.mark.parametrize("probability", [0.5, 0.9])
def test_interval_coverage_of_the_difference_of_quantiles(probability):
    # Lognormal(0, 1) control; treatment scaled by 1.05, so every quantile moves by +5%:
    # the true difference is 0.05 exp(z_q) and the true lift 0.05. At N = 400 the 99.9% range
    # is [364, 393] = [91%, 98.25%].
    rng = np.random.default_rng(20260613 + int(probability * 100))
    truth = LIFT * math.exp(stats.norm.ppf(probability))
    control = rng.lognormal(0.0, 1.0, (N_EXPERIMENTS, N_PER_ARM))
    treatment = rng.lognormal(0.0, 1.0, (N_EXPERIMENTS, N_PER_ARM)) * (1 + LIFT)
    covered = {"absolute": 0, "delta-log": 0, "fieller": 0, "bootstrap": 0, "bootstrap-lift": 0}
    for i in range(N_EXPERIMENTS):
        c = quantile_summary_from_array(control[i], probability)
        t = quantile_summary_from_array(treatment[i], probability)
        result = quantile_test(c, t)
        covered["absolute"] += result.effect_ci_lower <= truth <= result.effect_ci_upper
        covered["delta-log"] += result.relative_ci_lower <= LIFT <= result.relative_ci_upper
        fieller = quantile_test(c, t, relative_method="fieller")
        covered["fieller"] += fieller.relative_ci_lower <= LIFT <= fieller.relative_ci_upper
        boot = quantile_bootstrap_test(
            control[i], treatment[i], probability, n_resamples=2_000, seed=i
        )
        covered["bootstrap"] += boot.effect_ci_lower <= truth <= boot.effect_ci_upper
        covered["bootstrap-lift"] += boot.relative_ci_lower <= LIFT <= boot.relative_ci_upper
    low, high = binomial_range(N_EXPERIMENTS, 0.95)
    assert all(low <= count <= high for count in covered.values()), covered


def test_aa_false_positive_rate_of_the_median_test():
    # Unequal arms (1,000 and 3,000), one-sided: the level holds at alpha = 0.05.
    rng = np.random.default_rng(77)
    rejections = 0
    for _ in range(N_EXPERIMENTS):
        c = quantile_summary_from_array(rng.gamma(2.0, 3.0, 1_000), 0.5)
        t = quantile_summary_from_array(rng.gamma(2.0, 3.0, 3_000), 0.5)
        rejections += quantile_test(c, t, alternative="greater").p_value < 0.05
    low, high = binomial_range(N_EXPERIMENTS, 0.05)
    assert low <= rejections <= high, rejections


# --------------------------------------------------------------------------- the bootstrap
def test_bootstrap_is_reproducible_by_seed():
    rng = np.random.default_rng(1)
    c, t = rng.lognormal(0, 1, 800), rng.lognormal(0.2, 1, 900)
    first = quantile_bootstrap_test(c, t, 0.5, n_resamples=500, seed=42)
    assert first == quantile_bootstrap_test(c, t, 0.5, n_resamples=500, seed=42)
    assert first != quantile_bootstrap_test(c, t, 0.5, n_resamples=500, seed=43)
    generator = quantile_bootstrap_test(c, t, 0.5, n_resamples=500, seed=np.random.default_rng(42))
    assert generator == first
    assert first.test == "quantile-bootstrap"
    assert math.isnan(first.statistic)
    assert first.control_estimate == float(np.quantile(c, 0.5))
    assert first.treatment_estimate == float(np.quantile(t, 0.5))


@pytest.mark.parametrize(("n", "probability"), [(15, 0.5), (15, 0.9), (40, 0.3), (9, 0.25)])
def test_order_statistic_draws_match_full_resampling(n, probability):
    # The shortcut draws the two order statistics a type-7 quantile reads. Check it against
    # the exact bootstrap distribution where one is known, and against brute-force resampling.
    x = np.sort(np.random.default_rng(n).lognormal(0.0, 1.0, n))
    draws = 100_000
    shortcut = _bootstrap_quantiles(x, probability, draws, np.random.default_rng(1))
    indices = np.random.default_rng(2).integers(0, n, size=(draws, n))
    brute = np.quantile(x[indices], probability, axis=1, method="linear")
    assert stats.ks_2samp(shortcut, brute).pvalue > 1e-3
    assert shortcut.mean() == pytest.approx(brute.mean(), rel=0.02)
    assert shortcut.std() == pytest.approx(brute.std(), rel=0.03)
    # The resample's k-th order statistic is <= x[j] iff at least k of n draws hit x[0..j]:
    # P = P(Binomial(n, (j + 1) / n) >= k); with fraction 0 the quantile is that statistic.
    k = 5
    lower_only = _bootstrap_quantiles(x, (k - 1) / (n - 1), draws, np.random.default_rng(3))
    for j in range(n):
        want = stats.binom.sf(k - 1, n, (j + 1) / n)
        got = np.mean(lower_only <= x[j])
        assert got == pytest.approx(want, abs=5 * math.sqrt(want * (1 - want) / draws) + 1e-9)


def test_bootstrap_interval_and_p_value_agree():
    rng = np.random.default_rng(6)
    c, t = rng.lognormal(0.0, 1.0, 3_000), rng.lognormal(0.2, 1.0, 3_000)
    two = quantile_bootstrap_test(c, t, 0.5, seed=1)
    assert two.effect_ci_lower > 0
    assert two.p_value < 0.05
    greater = quantile_bootstrap_test(c, t, 0.5, seed=1, alternative="greater")
    assert greater.effect_ci_upper == math.inf
    assert greater.relative_ci_upper == math.inf
    assert greater.p_value < two.p_value
    less = quantile_bootstrap_test(c, t, 0.5, seed=1, alternative="less")
    assert less.effect_ci_lower == -math.inf
    assert less.relative_ci_lower == -1.0
    assert less.p_value > 0.9
    # A margin just below the interval's lower end is rejected, one just above it is not.
    level = 0.9
    interval = quantile_bootstrap_test(c, t, 0.5, seed=1, confidence_level=level)
    below = quantile_bootstrap_test(
        c, t, 0.5, seed=1, margin=interval.effect_ci_lower * 0.98, alternative="two-sided"
    )
    above = quantile_bootstrap_test(c, t, 0.5, seed=1, margin=interval.effect_ci_lower * 1.02)
    assert below.p_value < 1 - level < above.p_value
    relative = quantile_bootstrap_test(
        c, t, 0.5, seed=1, margin=-0.05, margin_type="relative", alternative="greater"
    )
    assert relative.p_value < 0.01
    assert relative.standard_error == pytest.approx(two.standard_error)


def test_bootstrap_lift_is_nan_when_a_control_quantile_is_zero():
    rng = np.random.default_rng(9)
    control = np.where(rng.random(600) < 0.5, 0.0, rng.exponential(1.0, 600))
    treatment = rng.exponential(1.0, 600)
    result = quantile_bootstrap_test(control, treatment, 0.4, n_resamples=500)
    assert math.isnan(result.relative_ci_lower)
    assert math.isnan(result.relative_ci_upper)
    assert result.effect > 0
    with pytest.raises(InputError, match=r"margin == 0\.1 is relative"):
        quantile_bootstrap_test(control, treatment, 0.4, margin=0.1, margin_type="relative")


# --------------------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    ("probability", "match"),
    [
        (0, r"probability == 0, must be in \(0, 1\)"),
        (1, r"probability == 1, must be in \(0, 1\)"),
        (1.5, r"probability == 1\.5, must be in \(0, 1\)"),
        (-0.5, r"probability == -0\.5, must be in \(0, 1\)"),
        (math.nan, r"probability == nan, must be finite"),
        (True, r"probability == True, must be a real number"),
        ("0.5", r"probability == '0\.5', must be a real number"),
    ],
)
def test_bad_probability(probability, match):
    values = np.arange(1_000.0)
    with pytest.raises(InputError, match=match):
        quantile_summary_from_array(values, probability)
    with pytest.raises(InputError, match=match):
        quantile_bootstrap_test(values, values, probability)
    with pytest.raises(InputError, match=match):
        QuantileSummary(1_000, probability, 1.0, 0.0, 2.0)
    with pytest.raises(InputError, match=match):
        minimum_count(probability)


@pytest.mark.parametrize("level", [0, 1, 1.2, math.nan])
def test_bad_bracket_level(level):
    with pytest.raises(InputError, match=r"bracket_level == .*, must be"):
        quantile_summary_from_array(np.arange(100.0), 0.5, level)


def test_too_few_values_for_the_bracket():
    with pytest.raises(InputError, match=r"n == 200 is too small to bracket the 0\.99 quantile"):
        quantile_summary_from_array(np.arange(200.0), 0.99)
    with pytest.raises(InputError, match=r"n == 3 is too small .* needs n >= 4"):
        QuantileSummary(3, 0.5, 1.0, 0.0, 2.0)
    with pytest.raises(InputError, match=r"n == 1 is too small"):
        quantile_summary_from_array([1.0], 0.5, 0.01)


@pytest.mark.parametrize(
    ("values", "match"),
    [
        ([1.0, math.nan, 2.0], r"values has 1 NaN or infinite value\(s\), must be finite"),
        ([1.0, math.inf, -math.inf], r"values has 2 NaN or infinite value\(s\)"),
        ([[1.0, 2.0], [3.0, 4.0]], r"values has shape \(2, 2\), must be one-dimensional"),
        ([], r"values is empty"),
        (["a", "b"], r"values must be a sequence of real numbers"),
    ],
)
def test_bad_values(values, match):
    with pytest.raises(InputError, match=match):
        quantile_summary_from_array(values, 0.5)


def test_bad_bootstrap_arguments():
    good = np.arange(500.0)
    with pytest.raises(InputError, match=r"control_values has 1 NaN"):
        quantile_bootstrap_test([*good, math.nan], good, 0.5)
    with pytest.raises(InputError, match=r"treatment_values has 1 value\(s\), must have >= 2"):
        quantile_bootstrap_test(good, [1.0], 0.5)
    with pytest.raises(InputError, match=r"n_resamples == 10, must be >= 100"):
        quantile_bootstrap_test(good, good, 0.5, n_resamples=10)
    with pytest.raises(InputError, match=r"seed == 1\.5, must be an int or a numpy Generator"):
        quantile_bootstrap_test(good, good, 0.5, seed=1.5)
    with pytest.raises(InputError, match=r"alternative == 'bigger', must be one of"):
        quantile_bootstrap_test(good, good, 0.5, alternative="bigger")
    with pytest.raises(InputError, match=r"margin_type == 'ratio', must be one of"):
        quantile_bootstrap_test(good, good, 0.5, margin_type="ratio")
    with pytest.raises(InputError, match=r"margin == -1\.0 is relative"):
        quantile_bootstrap_test(good + 1, good + 1, 0.5, margin=-1.0, margin_type="relative")


def test_bad_summaries_and_comparisons():
    with pytest.raises(InputError, match=r"lower_value == 3\.0, value == 2\.0, upper_value"):
        QuantileSummary(1_000, 0.5, 2.0, 3.0, 4.0)
    with pytest.raises(InputError, match=r"value == nan, must be finite"):
        QuantileSummary(1_000, 0.5, math.nan, 0.0, 4.0)
    with pytest.raises(InputError, match=r"n == 10\.5, must be a whole number"):
        QuantileSummary(10.5, 0.5, 1.0, 0.0, 4.0)
    a = QuantileSummary(1_000, 0.5, 1.0, 0.9, 1.1)
    b = QuantileSummary(1_000, 0.9, 3.0, 2.8, 3.3)
    with pytest.raises(InputError, match=r"control\.probability == 0\.5 and treatment\.prob"):
        quantile_test(a, b)
    with pytest.raises(InputError, match=r"treatment is a dict, must be a QuantileSummary"):
        quantile_test(a, a.to_dict())
    with pytest.raises(InputError, match=r"confidence_level == 1\.5, must be in \(0, 1\)"):
        quantile_test(a, a, confidence_level=1.5)
    with pytest.raises(InputError, match=r"margin_type == 'lift', must be one of"):
        quantile_test(a, a, margin_type="lift")
    # A few units in the last place of disorder (engines' rounding of tied values) is fine.
    assert QuantileSummary(1_000, 0.5, 1.0 + 2e-16, 0.5, 1.0).value == 1.0 + 2e-16
