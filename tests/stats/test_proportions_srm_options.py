"""The unpooled z test, Fisher's odds ratio, the exact sample-ratio tests and their power:
bad input, agreement with independent scipy implementations, and a seeded simulation of the
power of the sample-ratio check. The reference values from R are in test_r_proportions_srm.py."""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pytest
from scipy import stats

from ablens import (
    InputError,
    Mean,
    Moments,
    PlanError,
    Proportion,
    ProportionResult,
    analyze,
    parse_plan,
    plan_from_dict,
    proportion_test,
    srm_power,
    srm_test,
)
from ablens.analysis import AnalysisOptions
from ablens.stats.srm import MULTINOMIAL_ENUMERATION_BUDGET
from helpers import binomial_range

# --------------------------------------------------------------------------- proportions


def test_unpooled_z_is_the_wald_statistic_and_takes_a_margin():
    r = proportion_test(30, 300, 45, 310, test="z-unpooled", margin=0.01)
    p_c, p_t = 30 / 300, 45 / 310
    se = math.sqrt(p_t * (1 - p_t) / 310 + p_c * (1 - p_c) / 300)
    assert r.statistic == pytest.approx((p_t - p_c - 0.01) / se, rel=1e-14)
    # With a margin the pooled test has no common proportion: both tests are the Wald test.
    assert r.p_value == proportion_test(30, 300, 45, 310, margin=0.01).p_value
    assert r.unpooled_standard_error == pytest.approx(se, rel=1e-15)


def test_every_proportion_test_returns_both_standard_errors():
    for test in ("z", "z-unpooled", "chi2", "chi2-yates", "fisher"):
        r = proportion_test(30, 300, 45, 310, test=test)
        assert isinstance(r, ProportionResult)
        pooled = 75 / 610
        assert r.pooled_standard_error == pytest.approx(
            math.sqrt(pooled * (1 - pooled) * (1 / 300 + 1 / 310)), rel=1e-15
        )
        assert r.unpooled_standard_error == r.standard_error
        assert (r.odds_ratio is None) == (test != "fisher")
        assert (r.odds_ratio_ci is None) == (test != "fisher")


@pytest.mark.parametrize(
    ("args", "margin", "match"),
    [
        ((0, 10, 10, 10), 0.0, r"\(0/10, 10/10\), so the unpooled standard error is 0.*'fisher'"),
        ((10, 10, 0, 12), 0.0, r"unpooled standard error is 0"),
        ((0, 10, 10, 10), 0.1, r"unpooled standard error is 0"),
        ((0, 10, 0, 12), 0.0, r"same outcome in both arms.*'z-unpooled' test is undefined"),
    ],
)
def test_unpooled_z_without_variation_within_the_arms_is_an_input_error(args, margin, match):
    with pytest.raises(InputError, match=match):
        proportion_test(*args, test="z-unpooled", margin=margin)


def test_margin_with_the_z_test_and_no_variation_within_the_arms_is_an_input_error():
    with pytest.raises(InputError, match=r"unpooled standard error is 0"):
        proportion_test(0, 10, 10, 10, margin=0.1)


def test_margin_with_fisher_names_the_tests_that_take_one():
    with pytest.raises(InputError, match=r"only the 'z' and 'z-unpooled' tests take a margin"):
        proportion_test(30, 300, 45, 310, test="fisher", margin=0.01)


@pytest.mark.parametrize(
    ("table", "alternative", "level"),
    [
        ((100, 1000, 130, 1000), "two-sided", 0.95),
        ((12, 80, 3, 95), "less", 0.9),
        ((2, 6, 4, 5), "greater", 0.99),
        ((3, 2500, 11, 2600), "two-sided", 0.8),
    ],
)
def test_fisher_odds_ratio_solves_scipys_noncentral_hypergeometric(table, alternative, level):
    """The estimate and the bounds satisfy their defining equations under scipy's own
    Fisher noncentral hypergeometric distribution (an implementation independent of ours)."""
    x_c, n_c, x_t, n_t = table
    r = proportion_test(*table, test="fisher", alternative=alternative, confidence_level=level)
    assert r.odds_ratio is not None
    assert r.odds_ratio_ci is not None
    total, successes = n_c + n_t, x_c + x_t

    def law(odds: float) -> stats.rv_discrete:
        return stats.nchypergeom_fisher(total, successes, n_t, odds)

    assert law(r.odds_ratio).mean() == pytest.approx(x_t, rel=1e-9)
    tail = (1 - level) / 2 if alternative == "two-sided" else 1 - level
    lower, upper = r.odds_ratio_ci
    if alternative == "less":
        assert lower == 0.0
    else:
        assert law(lower).sf(x_t - 1) == pytest.approx(tail, rel=1e-8)
    if alternative == "greater":
        assert upper == math.inf
    else:
        assert law(upper).cdf(x_t) == pytest.approx(tail, rel=1e-8)


def test_proportion_metric_runs_the_unpooled_test():
    control = Moments.from_columns({"c": [0, 1, 0, 0, 1, 0, 0, 0]})
    treatment = Moments.from_columns({"c": [1, 1, 0, 0, 1, 0, 1, 0]})
    r = Proportion("c", test="z-unpooled").compare(control, treatment, confidence_level=0.95)
    assert r == proportion_test(2, 8, 4, 8, test="z-unpooled")
    with pytest.raises(InputError, match=r"test == 'wald', must be one of"):
        Proportion("c", test="wald")  # type: ignore[arg-type]


# --------------------------------------------------------------------------- srm_test


@pytest.mark.parametrize(
    ("counts", "method", "match"),
    [
        ([10, 12], "exact", r"method == 'exact', must be one of 'auto', 'chi2', 'binomial'"),
        ([10, 12, 9], "binomial", r"method == 'binomial' with 3 arms.*'multinomial'"),
        (
            [500, 470, 530, 510],
            "multinomial",
            (
                r"2010 units in 4 arms needs 1,357,477,286 outcomes.*"
                r"MULTINOMIAL_ENUMERATION_BUDGET == 1,000,000; use method='auto'"
            ),
        ),
    ],
)
def test_srm_test_rejects_methods_that_do_not_apply(counts, method, match):
    with pytest.raises(InputError, match=match):
        srm_test(counts, method=method)


def test_auto_uses_the_budget_exactly():
    # C(1412 + 2, 2) = 998,991 splits of 1,412 units into 3 arms fit; 1,413 units do not.
    assert math.comb(1414, 2) <= MULTINOMIAL_ENUMERATION_BUDGET < math.comb(1415, 2)
    assert srm_test([470, 470, 472], method="auto").method == "multinomial"
    assert srm_test([470, 471, 472], method="auto").method == "chi2"


@pytest.mark.parametrize(
    ("x", "n", "p"),
    [(3, 20, 0.3), (40, 102, 0.5), (0, 7, 0.2), (7, 7, 0.2), (26, 90, 0.25), (600, 1000, 0.55)],
)
def test_exact_binomial_matches_scipy_binomtest(x, n, p):
    r = srm_test([x, n - x], [p, 1 - p], method="binomial")
    assert r.p_value == pytest.approx(stats.binomtest(x, n, p).pvalue, rel=1e-10)
    # The multinomial enumeration of two arms is the same test.
    assert srm_test([x, n - x], [p, 1 - p], method="multinomial").p_value == pytest.approx(
        r.p_value, rel=1e-10
    )


def test_srm_result_records_and_prints_the_method():
    r = srm_test({"control": 40, "treatment": 62}, method="binomial")
    assert r.to_dict()["method"] == "binomial"
    assert str(r).startswith("Sample ratio ok: exact binomial test, chi2=4.745, p=0.03707;")
    assert srm_test([40, 62]).to_dict()["method"] == "chi2"


def test_analyze_passes_the_srm_method():
    data = {
        "control": Moments.from_columns({"x": [1.0, 2.0] * 20}),
        "treatment": Moments.from_columns({"x": [1.0, 3.0] * 31}),
    }
    result = analyze(data, [Mean("x")], control="control", srm_method="auto")
    assert result.srm == srm_test({"control": 40, "treatment": 62}, method="binomial")
    assert analyze(data, [Mean("x")], control="control").srm.method == "chi2"
    with pytest.raises(InputError, match=r"srm_method == 'exact', must be one of"):
        AnalysisOptions(srm_method="exact")  # type: ignore[arg-type]


# --------------------------------------------------------------------------- srm_power


@pytest.mark.parametrize(
    ("args", "kwargs", "match"),
    [
        ((100, 0.0), {}, r"shares == 0\.0, must be in \(0, 1\)"),
        ((100, 1.0), {}, r"shares == 1\.0, must be in \(0, 1\)"),
        ((100, 1.2), {}, r"shares == 1\.2, must be in \(0, 1\)"),
        ((100, math.nan), {}, r"shares == nan, must be finite"),
        ((100, [0.5, 0.0, 0.5]), {}, r"shares\[1\] == 0\.0, must be in \(0, 1\)"),
        ((100, {"a": 0.5, "b": -0.5}), {}, r"shares\['b'\] == -0\.5, must be in \(0, 1\)"),
        ((100, [0.4, 0.4]), {}, r"shares sum to 0\.8, must sum to 1"),
        ((100, [0.5]), {}, r"shares has 1 arm\(s\), must have at least 2"),
        ((0, 0.5), {}, r"count == 0, must be >= 1"),
        ((10.5, 0.5), {}, r"count == 10\.5, must be a whole number"),
        ((100, [0.3, 0.7], [1, 1, 1]), {}, r"weights has 3 entries, must have 2"),
        ((100, [0.3, 0.7], {"a": 1, "b": 1}), {}, r"weights is a mapping.*shares is a sequence"),
        ((100, {"a": 0.3, "b": 0.7}, {"a": 1, "c": 1}), {}, r"must match shares' arms"),
        ((100, 0.45), {"alpha": 1.0}, r"alpha == 1\.0, must be in \(0, 1\)"),
        ((100, 0.45), {"method": "exact"}, r"method == 'exact', must be one of"),
        ((100, [0.3, 0.3, 0.4]), {"method": "binomial"}, r"'binomial' with 3 arms"),
        ((5000, [0.3, 0.3, 0.4]), {"method": "multinomial"}, r"MULTINOMIAL_ENUMERATION_BUDGET"),
    ],
)
def test_srm_power_rejects(args, kwargs, match):
    with pytest.raises(InputError, match=match):
        srm_power(*args, **kwargs)


def test_srm_power_without_imbalance_is_the_false_alarm_rate():
    assert srm_power(10_000, 0.5, alpha=0.01) == pytest.approx(0.01, rel=1e-12)
    exact = srm_power(1_000, 0.5, alpha=0.01, method="binomial")
    assert 0.008 < exact <= 0.01  # an exact test's size is at most alpha
    assert srm_power(5_000, [0.25, 0.75], [1, 3], alpha=0.01) == pytest.approx(0.01, rel=1e-12)


def test_srm_power_auto_resolves_as_the_test_does():
    assert srm_power(1_000, 0.45, method="auto") == srm_power(1_000, 0.45, method="binomial")
    shares = [0.3, 0.3, 0.4]
    assert srm_power(60, shares, method="auto") == srm_power(60, shares, method="multinomial")
    assert srm_power(5_000, shares, method="auto") == srm_power(5_000, shares)


def test_exact_binomial_power_sums_the_tests_own_rejections():
    n, alpha = 120, 0.05
    rejected = [x for x in range(n + 1) if srm_test([x, n - x], method="binomial").p_value < alpha]
    expected = stats.binom.pmf(rejected, n, 0.6).sum()
    assert srm_power(n, 0.6, alpha=alpha, method="binomial") == pytest.approx(expected, rel=1e-12)


# --------------------------------------------------------------------------- simulation


def _simulated_mismatches(
    rng: np.random.Generator, runs: int, n: int, shares: list[float], method: str, alpha: float
) -> int:
    """How many of ``runs`` seeded experiments the check flags (each split tested once)."""
    splits = Counter(tuple(int(v) for v in row) for row in rng.multinomial(n, shares, size=runs))
    return sum(
        times
        for split, times in splits.items()
        if srm_test(list(split), method=method, alpha=alpha).mismatch  # type: ignore[arg-type]
    )


def _chi2_test_power_by_enumeration(n: int, shares: list[float], alpha: float) -> float:
    """Exact power of Pearson's chi-square check (equal weights): the true probability of
    every split (of 2 or 3 arms) whose chi-square p-value is below alpha."""
    k = len(shares)
    expected = n / k
    splits = np.array(
        [(a, n - a) for a in range(n + 1)]
        if k == 2
        else [(a, b, n - a - b) for a in range(n + 1) for b in range(n - a + 1)]
    )
    statistic = ((splits - expected) ** 2 / expected).sum(axis=1)
    rejected = splits[stats.chi2.sf(statistic, k - 1) < alpha]
    return float(stats.multinomial.pmf(rejected, n, shares).sum())


@pytest.mark.parametrize(
    ("n", "shares", "method", "alpha"),
    [
        (2_000, [0.47, 0.53], "chi2", 0.01),
        (2_000, [0.47, 0.53], "binomial", 0.01),
        (300, [0.3, 0.3, 0.4], "chi2", 0.05),
        (40, [0.5, 0.3, 0.2], "multinomial", 0.05),
    ],
)
def test_simulated_srm_power_matches_srm_power(n, shares, method, alpha):
    runs = 4_000
    rng = np.random.default_rng(20261206)
    flagged = _simulated_mismatches(rng, runs, n, shares, method, alpha)
    power = srm_power(n, shares, alpha=alpha, method=method)
    low, high = binomial_range(runs, power)
    if method == "chi2":
        # The noncentral chi-square is an approximation of the chi-square test's power (0.002
        # and 0.001 off here): widen the binomial range by its error, measured by enumeration.
        gap = abs(_chi2_test_power_by_enumeration(n, shares, alpha) - power)
        assert gap < 0.005
        low, high = math.floor(low - gap * runs), math.ceil(high + gap * runs)
    assert low <= flagged <= high


# --------------------------------------------------------------------------- plans

PLAN = """\
experiment_id: e1
source: {path: users.parquet}
control: control
srm_method: auto
metrics:
  - {kind: proportion, column: converted, test: z-unpooled}
  - {kind: proportion, column: retained, test: fisher}
"""


def test_a_plan_accepts_the_new_names_and_round_trips():
    plan = parse_plan(PLAN)
    assert plan.srm_method == "auto"
    assert [m.test for m in plan.metric_objects()] == ["z-unpooled", "fisher"]
    document = plan.to_dict()
    assert document["srm_method"] == "auto"
    assert plan_from_dict(document) == plan
    # The default method stays out of the canonical document (existing plans hash the same).
    assert "srm_method" not in parse_plan(PLAN.replace("srm_method: auto\n", "")).to_dict()


def test_a_plan_rejects_an_unknown_srm_method():
    with pytest.raises(PlanError, match=r"srm_method == 'exact', must be one of 'auto', 'chi2'"):
        parse_plan(PLAN.replace("srm_method: auto", "srm_method: exact"))
