"""Bad input to the statistics functions fails loudly, naming the argument; and consistency
properties that tie the tests to each other and to scipy."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

import ablens
from ablens import (
    DataError,
    InputError,
    Mean,
    Moments,
    Proportion,
    adjust_pvalues,
    fieller_interval,
    log_ratio_interval,
    mean_test,
    proportion_test,
    srm_test,
)

MEAN_ARGS = {
    "control_count": 100,
    "control_mean": 10.0,
    "control_variance": 4.0,
    "treatment_count": 120,
    "treatment_mean": 10.5,
    "treatment_variance": 5.0,
}
PROPORTION_ARGS = {
    "control_successes": 30,
    "control_count": 300,
    "treatment_successes": 45,
    "treatment_count": 310,
}
BAD_CONFIDENCE = [
    (1.5, r"confidence_level == 1\.5, must be in \(0, 1\)"),
    (0, r"confidence_level == 0, must be in \(0, 1\)"),
    (1, r"confidence_level == 1, must be in \(0, 1\)"),
    (-0.95, r"confidence_level == -0\.95, must be in \(0, 1\)"),
    (math.nan, r"confidence_level == nan, must be finite"),
]


# --------------------------------------------------------------------------- mean_test


@pytest.mark.parametrize(
    ("override", "match"),
    [
        ({"control_mean": math.nan}, r"control_mean == nan, must be finite"),
        ({"treatment_mean": math.inf}, r"treatment_mean == inf, must be finite"),
        ({"treatment_mean": -math.inf}, r"treatment_mean == -inf, must be finite"),
        ({"control_variance": math.nan}, r"control_variance == nan, must be finite"),
        ({"treatment_variance": math.inf}, r"treatment_variance == inf, must be finite"),
        ({"control_variance": -1.0}, r"control_variance == -1\.0, must be >= 0"),
        ({"control_count": -5}, r"control_count == -5, must be >= 0"),
        ({"treatment_count": -1}, r"treatment_count == -1, must be >= 0"),
        ({"control_count": 10.5}, r"control_count == 10\.5, must be a whole number"),
        ({"treatment_count": math.nan}, r"treatment_count == nan, must be finite"),
        ({"control_count": 0}, r"control_count == 0, must be >= 2"),
        ({"treatment_count": 0}, r"treatment_count == 0, must be >= 2"),
        ({"control_count": 1}, r"control_count == 1, must be >= 2"),
        ({"treatment_count": 1}, r"treatment_count == 1, must be >= 2"),
        ({"control_count": True}, r"control_count == True, must be a real number"),
        ({"control_mean": "10"}, r"control_mean == '10', must be a real number"),
        ({"control_mean": None}, r"control_mean == None, must be a real number"),
        (
            {"control_variance": 0.0, "treatment_variance": 0.0},
            r"control_variance and treatment_variance are both 0",
        ),
        ({"alternative": "bigger"}, r"alternative == 'bigger', must be one of 'two-sided'"),
        ({"test": "t"}, r"test == 't', must be one of 'welch', 'student', 'z'"),
        ({"margin_type": "percent"}, r"margin_type == 'percent', must be one of"),
        ({"margin": math.nan}, r"margin == nan, must be finite"),
        ({"margin": math.inf}, r"margin == inf, must be finite"),
        ({"margin": -1.0, "margin_type": "relative"}, r"margin == -1\.0 puts the null ratio"),
        ({"margin": -2.5, "margin_type": "relative"}, r"margin == -2\.5 puts the null ratio"),
    ],
)
def test_mean_test_rejects(override, match):
    with pytest.raises(InputError, match=match):
        mean_test(**(MEAN_ARGS | override))


@pytest.mark.parametrize(("level", "match"), BAD_CONFIDENCE)
def test_mean_test_rejects_confidence_level(level, match):
    with pytest.raises(InputError, match=match):
        mean_test(**MEAN_ARGS, confidence_level=level)


def test_mean_test_accepts_numpy_scalars_and_integral_floats():
    r = mean_test(np.int64(100), np.float64(10.0), 4.0, 120.0, np.float32(10.5), np.float64(5.0))
    assert r == mean_test(**MEAN_ARGS)


def test_mean_test_one_constant_arm_is_fine():
    r = mean_test(50, 3.0, 0.0, 50, 3.5, 1.0)
    assert r.standard_error == pytest.approx(math.sqrt(1.0 / 50))
    assert r.df == pytest.approx(49.0)


def test_relative_margin_needs_positive_means_for_the_log_ratio():
    with pytest.raises(InputError, match=r"same sign.*relative_method=.fieller. or .delta."):
        mean_test(**(MEAN_ARGS | {"control_mean": -1.0}), margin=0.1, margin_type="relative")


@pytest.mark.parametrize("test", [mean_test, proportion_test])
def test_unknown_relative_method_is_rejected(test):
    args = MEAN_ARGS if test is mean_test else PROPORTION_ARGS
    with pytest.raises(InputError, match=r"relative_method == 'bootstrap', must be one of"):
        test(**args, relative_method="bootstrap")


# --------------------------------------------------------------------------- proportion_test


@pytest.mark.parametrize(
    ("override", "match"),
    [
        ({"control_successes": -1}, r"control_successes == -1, must be >= 0"),
        ({"treatment_count": -10}, r"treatment_count == -10, must be >= 0"),
        ({"control_successes": 2.5}, r"control_successes == 2\.5, must be a whole number"),
        ({"treatment_count": 310.25}, r"treatment_count == 310\.25, must be a whole number"),
        ({"control_count": math.nan}, r"control_count == nan, must be finite"),
        ({"treatment_successes": math.inf}, r"treatment_successes == inf, must be finite"),
        (
            {"control_successes": 301},
            r"control_successes == 301, must be <= control_count == 300",
        ),
        (
            {"treatment_successes": 311},
            r"treatment_successes == 311, must be <= treatment_count == 310",
        ),
        ({"control_successes": 0, "control_count": 0}, r"control_count == 0, must be >= 1"),
        (
            {"treatment_successes": 0, "treatment_count": 0},
            r"treatment_count == 0, must be >= 1",
        ),
        ({"alternative": "bigger"}, r"alternative == 'bigger', must be one of"),
        ({"test": "g-test"}, r"test == 'g-test', must be one of 'z', 'chi2'"),
        ({"margin": 0.01, "test": "fisher"}, r"margin == 0\.01 with test == 'fisher'"),
        ({"margin": -0.01, "test": "chi2"}, r"margin == -0\.01 with test == 'chi2'"),
        ({"margin": 0.02, "test": "chi2-yates"}, r"margin == 0\.02 with test == 'chi2-yates'"),
        ({"margin": -1, "margin_type": "relative"}, r"margin == -1\.0 puts the null ratio"),
        ({"margin": -3.0, "margin_type": "relative"}, r"margin == -3\.0 puts the null ratio"),
        (
            {"control_successes": 0, "treatment_successes": 0},
            r"same outcome in both arms.*'z' test is undefined",
        ),
        (
            {"control_successes": 300, "treatment_successes": 310, "test": "chi2"},
            r"same outcome in both arms.*'chi2' test is undefined",
        ),
    ],
)
def test_proportion_test_rejects(override, match):
    with pytest.raises(InputError, match=match):
        proportion_test(**(PROPORTION_ARGS | override))


@pytest.mark.parametrize(("level", "match"), BAD_CONFIDENCE)
def test_proportion_test_rejects_confidence_level(level, match):
    with pytest.raises(InputError, match=match):
        proportion_test(**PROPORTION_ARGS, confidence_level=level)


def test_relative_margin_on_zero_control_rate_is_an_input_error():
    with pytest.raises(InputError, match=r"control estimate is 0"):
        proportion_test(0, 100, 5, 100, margin=0.1, margin_type="relative")


def test_zero_control_rate_reports_lift_as_nan_not_an_error():
    r = proportion_test(0, 100, 5, 100)
    assert math.isnan(r.relative_effect)
    assert math.isnan(r.relative_ci_lower)
    assert r.effect == pytest.approx(0.05)


@pytest.mark.parametrize(("control", "treatment"), [(0, 0), (50, 40)])
def test_fisher_without_variation_has_p_value_one(control, treatment):
    r = proportion_test(control, 50, treatment, 40, test="fisher")
    assert r.p_value == 1.0


# --------------------------------------------------------------------------- srm_test


@pytest.mark.parametrize(
    ("counts", "weights", "kwargs", "match"),
    [
        ([5], None, {}, r"counts has 1 arm\(s\), must have at least 2"),
        ({"control": 5}, None, {}, r"counts has 1 arm\(s\), must have at least 2"),
        ([], None, {}, r"counts has 0 arm\(s\)"),
        ({"a": -1, "b": 5}, None, {}, r"counts\['a'\] == -1, must be >= 0"),
        ([10, -1], None, {}, r"counts\[1\] == -1, must be >= 0"),
        ([10, 2.5], None, {}, r"counts\[1\] == 2\.5, must be a whole number"),
        ({"a": 5, "b": math.nan}, None, {}, r"counts\['b'\] == nan, must be finite"),
        ({"a": 5, "b": 5}, {"a": 0, "b": 1}, {}, r"weights\['a'\] == 0, must be > 0"),
        ({"a": 5, "b": 5}, {"a": 1, "b": -2}, {}, r"weights\['b'\] == -2, must be > 0"),
        ([5, 5], [1.0, 0.0], {}, r"weights\[1\] == 0\.0, must be > 0"),
        ([5, 5], [math.nan, 1.0], {}, r"weights\[0\] == nan, must be finite"),
        ([5, 5], [1, 1, 1], {}, r"weights has 3 entries, must have 2"),
        ({"a": 5, "b": 5}, [1.0], {}, r"weights has 1 entries, must have 2"),
        ({"a": 5, "b": 5}, {"a": 1, "c": 1}, {}, r"weights has arms \['a', 'c'\], must match"),
        ({"a": 0, "b": 0}, None, {}, r"counts are all 0"),
        ({"a": 5, "b": 5}, None, {"alpha": 2}, r"alpha == 2, must be in \(0, 1\)"),
        ({"a": 5, "b": 5}, None, {"alpha": 0.0}, r"alpha == 0\.0, must be in \(0, 1\)"),
    ],
)
def test_srm_test_rejects(counts, weights, kwargs, match):
    with pytest.raises(InputError, match=match):
        srm_test(counts, weights, **kwargs)


def test_srm_test_sequence_counts_with_mapping_weights_is_an_input_error():
    with pytest.raises(InputError, match=r"weights is a mapping of arm labels but counts is a"):
        srm_test([10, 20], {"a": 1.0, "b": 1.0})


def test_srm_test_matches_scipy_chisquare():
    counts = {"control": 5050, "b": 4890, "c": 10_060}
    weights = {"control": 1, "b": 1, "c": 2}
    r = srm_test(counts, weights)
    expected = stats.chisquare([5050, 4890, 10_060], f_exp=[5000, 5000, 10_000])
    assert r.statistic == pytest.approx(expected.statistic, rel=1e-12)
    assert r.p_value == pytest.approx(expected.pvalue, rel=1e-10)
    assert r.df == 2
    assert r.expected == pytest.approx((5000.0, 5000.0, 10_000.0))


def test_srm_sequence_input_labels_arms_by_position():
    r = srm_test([100, 130], [1, 1], alpha=0.05)
    assert r.arms == ("arm 0", "arm 1")
    assert r.p_value == pytest.approx(stats.chisquare([100, 130]).pvalue, rel=1e-10)
    assert r.mismatch == (r.p_value < 0.05)
    assert r.mismatch


# --------------------------------------------------------------------------- adjust_pvalues


@pytest.mark.parametrize(
    ("pvalues", "method", "match"),
    [
        ([0.1, 1.2], "holm", r"pvalues == \[0\.1, 1\.2\], must all be finite and in \[0, 1\]"),
        ([0.1, math.nan], "bh", r"pvalues == \[0\.1, nan\], must all be finite"),
        ([-0.01, 0.5], "bonferroni", r"pvalues == \[-0\.01, 0\.5\], must all be finite"),
        ([0.1, math.inf], "sidak", r"pvalues == \[0\.1, inf\]"),
        ([[0.1, 0.2], [0.3, 0.4]], "holm", r"pvalues has 2 dimensions, must be a flat"),
        (0.5, "holm", r"pvalues has 0 dimensions, must be a flat"),
        ([0.1, 0.2], "tukey", r"method == 'tukey', must be one of 'bonferroni'"),
        ([0.1, 0.2], "BH", r"method == 'BH', must be one of"),
    ],
)
def test_adjust_pvalues_rejects(pvalues, method, match):
    with pytest.raises(InputError, match=match):
        adjust_pvalues(pvalues, method)


def test_adjust_pvalues_empty_family_is_empty():
    assert adjust_pvalues([], "holm").tolist() == []


@pytest.mark.parametrize(
    "method", ["bonferroni", "sidak", "holm", "hochberg", "hommel", "bh", "by"]
)
def test_adjust_pvalues_single_value_is_unchanged(method):
    assert adjust_pvalues([0.0375], method).tolist() == pytest.approx([0.0375], rel=1e-12)


@pytest.mark.parametrize(
    ("method", "expected"),
    [
        # p.adjust(c(0.01, 0.04, 0.03, 0.005, 0.2), method = ...), worked by hand from the
        # definitions R uses.
        ("bonferroni", [0.05, 0.2, 0.15, 0.025, 1.0]),
        ("holm", [0.04, 0.09, 0.09, 0.025, 0.2]),
        ("hochberg", [0.04, 0.08, 0.08, 0.025, 0.2]),
        ("bh", [0.025, 0.05, 0.05, 0.025, 0.2]),
    ],
)
def test_adjust_pvalues_known_values(method, expected):
    got = adjust_pvalues([0.01, 0.04, 0.03, 0.005, 0.2], method)
    assert got.tolist() == pytest.approx(expected, rel=1e-12)


# --------------------------------------------------------------------------- Proportion metric


@pytest.mark.parametrize(
    "values",
    [
        [0.0, 2.0, 0.0, 2.0, 2.0, 0.0],  # integer counts, mean of squares != mean
        [0.5] * 6,  # fractional flags
        [0.0, 1.0, 1.0, 0.0, 1.0, 1.5],  # almost binary
        [-1.0, 1.0, 0.0, 0.0, 1.0, 1.0],  # negative values
    ],
)
def test_proportion_metric_rejects_non_binary_column(values):
    binary = Moments.from_columns({"spend": [0.0, 1.0, 0.0, 1.0, 0.0, 0.0]})
    bad = Moments.from_columns({"spend": values})
    metric = Proportion("spend")
    with pytest.raises(DataError, match=r"column 'spend' is not a 0/1 flag.*Mean\('spend'\)"):
        metric.compare(binary, bad, confidence_level=0.95)
    with pytest.raises(DataError, match=r"column 'spend' is not a 0/1 flag"):
        metric.compare(bad, binary, confidence_level=0.95)


def test_proportion_metric_accepts_booleans_and_counts_successes():
    control = Moments.from_columns({"c": np.array([True, False, False, True, False])})
    treatment = Moments.from_columns({"c": np.array([True, True, False, True, False, True])})
    r = Proportion("c").compare(control, treatment, confidence_level=0.95)
    assert r == proportion_test(2, 5, 4, 6)


@pytest.mark.parametrize(
    ("factory", "match"),
    [
        (lambda: Mean(""), r"column == '', must be a non-empty string"),
        (lambda: Mean("x", test="fisher"), r"test == 'fisher', must be one of 'welch'"),
        (lambda: Mean("x", role="main"), r"role == 'main', must be one of 'primary'"),
        (lambda: Mean("x", direction="up"), r"direction == 'up', must be one of 'increase'"),
        (lambda: Proportion("x", test="welch"), r"test == 'welch', must be one of 'z'"),
        (lambda: Proportion("x", relative_method="naive"), r"relative_method == 'naive'"),
    ],
)
def test_metric_constructors_reject_bad_options(factory, match):
    with pytest.raises(InputError, match=match):
        factory()


# --------------------------------------------------------------------------- consistency


@pytest.mark.parametrize(
    ("x_c", "n_c", "x_t", "n_t"),
    [(100, 1000, 130, 1000), (12, 80, 3, 95), (400, 5000, 380, 4700), (1, 10, 9, 10)],
)
def test_chi2_matches_z_and_scipy(x_c, n_c, x_t, n_t):
    z = proportion_test(x_c, n_c, x_t, n_t, test="z")
    chi2 = proportion_test(x_c, n_c, x_t, n_t, test="chi2")
    assert chi2.p_value == pytest.approx(z.p_value, rel=1e-12)
    assert chi2.statistic == pytest.approx(z.statistic**2, rel=1e-12)
    assert chi2.df == 1.0
    assert z.df is None
    table = [[x_t, n_t - x_t], [x_c, n_c - x_c]]
    reference = stats.chi2_contingency(table, correction=False)
    assert chi2.statistic == pytest.approx(reference.statistic, rel=1e-10)
    assert chi2.p_value == pytest.approx(reference.pvalue, rel=1e-10)
    yates = proportion_test(x_c, n_c, x_t, n_t, test="chi2-yates")
    corrected = stats.chi2_contingency(table, correction=True)
    assert yates.statistic == pytest.approx(corrected.statistic, rel=1e-10)
    assert yates.p_value == pytest.approx(corrected.pvalue, rel=1e-10)
    assert yates.p_value > chi2.p_value


def test_fisher_matches_scipy():
    r = proportion_test(12, 80, 3, 95, test="fisher", alternative="less")
    expected = stats.fisher_exact([[3, 92], [12, 68]], alternative="less").pvalue
    assert r.p_value == pytest.approx(expected, rel=1e-12)
    assert math.isnan(r.statistic)
    assert r.df is None


@pytest.mark.parametrize("test", ["welch", "student"])
def test_mean_test_matches_scipy_ttest_from_stats(test):
    r = mean_test(**MEAN_ARGS, test=test)
    expected = stats.ttest_ind_from_stats(
        mean1=10.5,
        std1=math.sqrt(5.0),
        nobs1=120,
        mean2=10.0,
        std2=math.sqrt(4.0),
        nobs2=100,
        equal_var=test == "student",
    )
    assert r.statistic == pytest.approx(expected.statistic, rel=1e-12)
    assert r.p_value == pytest.approx(expected.pvalue, rel=1e-10)


@settings(max_examples=60, deadline=None, derandomize=True)
@given(
    n=st.integers(2, 10_000),
    variance=st.floats(1e-3, 1e3),
    control_mean=st.floats(10, 100),
    delta=st.floats(-5, 5),
)
def test_welch_equals_student_with_equal_n_and_variances(n, variance, control_mean, delta):
    args = (n, control_mean, variance, n, control_mean + delta, variance)
    welch = mean_test(*args, test="welch")
    student = mean_test(*args, test="student")
    assert welch.df == pytest.approx(student.df, rel=1e-12)
    assert welch.df == pytest.approx(2 * n - 2, rel=1e-12)
    assert welch.statistic == pytest.approx(student.statistic, rel=1e-12, abs=1e-300)
    assert welch.p_value == pytest.approx(student.p_value, rel=1e-9, abs=1e-300)
    assert welch.effect_ci == pytest.approx(student.effect_ci, rel=1e-9, abs=1e-12)


def test_welch_differs_from_student_with_unequal_variances():
    welch = mean_test(30, 0.0, 1.0, 90, 0.5, 9.0, test="welch")
    student = mean_test(30, 0.0, 1.0, 90, 0.5, 9.0, test="student")
    assert welch.p_value != pytest.approx(student.p_value, rel=1e-3)
    assert welch.df < student.df


@pytest.mark.parametrize(
    ("compute", "bound"),
    [
        (lambda alt: mean_test(**MEAN_ARGS, alternative=alt), math.inf),
        (lambda alt: mean_test(**MEAN_ARGS, alternative=alt, test="z"), math.inf),
        # Differences of proportions are clipped to [-1, 1], as R clips them.
        (lambda alt: proportion_test(**PROPORTION_ARGS, alternative=alt), 1.0),
        (lambda alt: proportion_test(**PROPORTION_ARGS, alternative=alt, test="chi2"), 1.0),
    ],
)
def test_one_sided_p_value_is_half_the_two_sided_for_a_positive_effect(compute, bound):
    two_sided, greater, less = (compute(a) for a in ("two-sided", "greater", "less"))
    assert two_sided.effect > 0
    assert greater.p_value == pytest.approx(two_sided.p_value / 2, rel=1e-12)
    assert less.p_value == pytest.approx(1 - greater.p_value, rel=1e-12)
    # One-sided intervals are open on the untested side and tighter on the tested one.
    assert greater.effect_ci_upper == bound
    assert less.effect_ci_lower == -bound
    assert greater.relative_ci_upper == math.inf
    assert greater.effect_ci_lower > two_sided.effect_ci_lower
    assert less.effect_ci_upper < two_sided.effect_ci_upper


@pytest.mark.parametrize("d", [0.1, 0.5, 2.0])
@pytest.mark.parametrize("test", ["welch", "student", "z"])
def test_non_inferiority_equals_shifted_superiority_test(d, test):
    non_inferiority = mean_test(**MEAN_ARGS, test=test, alternative="greater", margin=-d)
    shifted = mean_test(
        **(MEAN_ARGS | {"treatment_mean": MEAN_ARGS["treatment_mean"] + d}),
        test=test,
        alternative="greater",
    )
    assert non_inferiority.margin == -d
    assert non_inferiority.statistic == pytest.approx(shifted.statistic, rel=1e-12)
    assert non_inferiority.p_value == pytest.approx(shifted.p_value, rel=1e-9)
    assert (
        non_inferiority.p_value < mean_test(**MEAN_ARGS, test=test, alternative="greater").p_value
    )


def test_proportion_non_inferiority_uses_unpooled_standard_error():
    r = proportion_test(**PROPORTION_ARGS, alternative="greater", margin=-0.02)
    assert r.statistic == pytest.approx((r.effect + 0.02) / r.standard_error, rel=1e-12)
    assert r.p_value == pytest.approx(stats.norm.sf(r.statistic), rel=1e-10)


@settings(max_examples=80, deadline=None, derandomize=True)
@given(
    control=st.floats(1.0, 100.0),
    lift=st.floats(-0.5, 1.0),
    cv_control=st.floats(0.001, 0.3),
    cv_treatment=st.floats(0.001, 0.5),
)
def test_fieller_and_delta_log_intervals_contain_the_point_lift(
    control, lift, cv_control, cv_treatment
):
    treatment = control * (1 + lift)
    var_c, var_t = (cv_control * control) ** 2, (cv_treatment * treatment) ** 2
    q = 1.959963984540054
    point = treatment / control - 1
    for interval in (
        fieller_interval(treatment, control, var_t, var_c, q=q),
        log_ratio_interval(treatment, control, var_t, var_c, q=q),
    ):
        lower, upper = interval
        assert lower <= point <= upper
        assert lower > -1 or math.isinf(lower)


def test_relative_intervals_in_test_results_contain_the_lift():
    for method in ("delta-log", "fieller"):
        r = mean_test(**MEAN_ARGS, relative_method=method)
        assert r.relative_method == method
        assert r.relative_ci_lower < r.relative_effect < r.relative_ci_upper
        assert r.relative_effect == pytest.approx(0.05)


def test_fieller_is_unbounded_when_control_mean_is_not_away_from_zero():
    # Control mean 0.1 with standard error 1: indistinguishable from 0.
    r = mean_test(100, 0.1, 100.0, 100, 5.0, 100.0, relative_method="fieller")
    assert r.relative_ci == (-math.inf, math.inf)
    assert math.isfinite(r.effect_ci_lower)
    assert r.relative_effect == pytest.approx(49.0)
    q = 1.959963984540054
    # The boundary is c^2 == q^2 Var(c): just inside it is bounded, just outside unbounded.
    assert fieller_interval(5.0, q * 1.0001, 1.0, 1.0, q=q)[1] < math.inf
    assert fieller_interval(5.0, q * 0.9999, 1.0, 1.0, q=q) == (-math.inf, math.inf)


def test_delta_log_is_undefined_for_non_positive_means_but_absolute_effect_stands():
    r = mean_test(100, -1.0, 4.0, 100, 1.0, 4.0)
    assert math.isnan(r.relative_ci_lower)
    assert math.isnan(r.relative_ci_upper)
    assert r.effect == 2.0
    fieller = mean_test(100, -1.0, 4.0, 100, 1.0, 4.0, relative_method="fieller")
    assert fieller.relative_ci_lower < fieller.relative_effect < fieller.relative_ci_upper


def test_delta_log_interval_with_huge_uncertainty_is_unbounded_not_an_error():
    # Revenue per user: mean 0.01, standard deviation 100, 1000 users per arm.
    r = mean_test(1000, 0.01, 100.0**2, 1000, 0.012, 100.0**2)
    assert r.relative_ci_upper == math.inf
    assert -1.0 <= r.relative_ci_lower < 0.0
    lower, upper = log_ratio_interval(1.0, 0.01, 1.0, 100.0, q=1.96)
    assert upper == math.inf
    assert lower == pytest.approx(-1.0)


def test_public_exports_match_the_stats_package():
    assert ablens.mean_test is mean_test
    assert ablens.stats.srm_test is srm_test
