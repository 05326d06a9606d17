"""Simulations: ratio, covariate-adjusted and post-stratified intervals and tests hold their level.

Each check counts events (covered truths, A/A rejections) over N seeded experiments of about 500
units per arm and accepts the count when it lies inside the central 99.9% range of
Binomial(N, nominal rate), as ``test_simulation.py`` does: a correct method fails by chance once
in a thousand seeds. At N = 1,500 the range for 95% coverage is [93.1%, 96.7%] and for a 5%
false-positive rate [3.3%, 6.9%]. A method whose standard error is 15% too small covers 91.2% and
is caught with probability 0.996; one 10% too small (92.5%) with probability 0.77.

Data are generated with numpy for all experiments at once (arrays of shape (N, units)); each
experiment's arms are then summarised with `Moments.from_columns`, exactly the numbers an engine
would return, and handed to the function under test.

The clustered ratio data (orders per session, users randomized) also show why the delta method is
needed: a naive per-session test on the same A/A data treats sessions as independent and rejects
far more often than 5%.
"""

from __future__ import annotations

import functools

import numpy as np
from scipy import stats

from ablens import Moments, cuped_test, mean_test, ratio_test, regression_adjusted_test
from ablens.stats import post_stratified_test
from helpers import binomial_range

N_EXPERIMENTS = 1_500
UNITS = 500  # per arm
ALPHA = 0.05


def assert_coverage(covered: int, level: float = 0.95) -> None:
    low, high = binomial_range(N_EXPERIMENTS, level)
    assert low <= covered <= high, f"covered {covered} of {N_EXPERIMENTS}, range [{low}, {high}]"


def assert_false_positive_rate(rejections: int) -> None:
    low, high = binomial_range(N_EXPERIMENTS, ALPHA)
    assert low <= rejections <= high, (
        f"rejected {rejections} of {N_EXPERIMENTS} A/A tests, range [{low}, {high}]"
    )


def moments(arm: dict[str, np.ndarray], i: int) -> Moments:
    """Moments of experiment ``i`` of one arm (every column of the arm)."""
    return Moments.from_columns({name: values[i] for name, values in arm.items()})


def covers(result, truth: float) -> bool:
    return result.effect_ci_lower <= truth <= result.effect_ci_upper


def test_binomial_range_is_what_it_says():
    assert binomial_range(1_500, 0.95) == (1396, 1451)
    assert binomial_range(1_500, 0.05) == (49, 104)


# --------------------------------------------------------------------------------------------
# Clustered ratio data: users randomized, orders per session analysed.
#
# Each user has a session rate (gamma) and a per-session order probability p = 0.4 Beta(0.5, 1.5)
# (mean 0.1), drawn independently, so the true ratio sum(orders) / sum(sessions) is
# E[S p] / E[S] = E[p] = 0.1, times (1 + lift) in treatment. The spread of p makes a user's
# sessions alike (intra-user correlation about 0.11): sessions are not independent units.
# The pre-period has the same users' sessions and orders at the untreated p (CUPED covariate).

BASE_RATIO = 0.1
RATIO_LIFT = 0.1


def clustered_arm(rng: np.random.Generator, lift: float) -> dict[str, np.ndarray]:
    shape = (N_EXPERIMENTS, UNITS)
    rate = rng.gamma(2.0, 2.0, shape)
    p = 0.4 * rng.beta(0.5, 1.5, shape)
    sessions = 1 + rng.poisson(rate)
    pre_sessions = 1 + rng.poisson(rate)
    return {
        "orders": rng.binomial(sessions, p * (1 + lift)).astype(np.float64),
        "sessions": sessions.astype(np.float64),
        "pre_orders": rng.binomial(pre_sessions, p).astype(np.float64),
    }


@functools.cache
def clustered_aa() -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """A/A clustered data, shared by the delta-method and the naive per-session tests."""
    rng = np.random.default_rng(2018)
    return clustered_arm(rng, 0.0), clustered_arm(rng, 0.0)


def test_ratio_delta_method_coverage_on_clustered_data():
    rng = np.random.default_rng(101)
    control, treatment = clustered_arm(rng, 0.0), clustered_arm(rng, RATIO_LIFT)
    truth = BASE_RATIO * RATIO_LIFT
    covered = sum(
        covers(ratio_test(moments(control, i), moments(treatment, i), "orders", "sessions"), truth)
        for i in range(N_EXPERIMENTS)
    )
    assert_coverage(covered)


def test_cuped_ratio_coverage_on_clustered_data():
    rng = np.random.default_rng(102)
    control, treatment = clustered_arm(rng, 0.0), clustered_arm(rng, RATIO_LIFT)
    truth = BASE_RATIO * RATIO_LIFT
    covered = 0
    reductions = []
    for i in range(N_EXPERIMENTS):
        result = cuped_test(
            moments(control, i),
            moments(treatment, i),
            "pre_orders",
            numerator="orders",
            denominator="sessions",
        )
        covered += covers(result, truth)
        reductions.append(result.variance_reduction)
    assert_coverage(covered)
    assert np.median(reductions) > 0.1  # the pre-period orders do predict: the check has teeth


def test_ratio_delta_method_aa_false_positive_rate():
    control, treatment = clustered_aa()
    rejections = sum(
        ratio_test(moments(control, i), moments(treatment, i), "orders", "sessions").p_value < ALPHA
        for i in range(N_EXPERIMENTS)
    )
    assert_false_positive_rate(rejections)


def test_naive_per_session_test_over_rejects_on_clustered_aa_data():
    # The same A/A experiments, analysed as if each session were an independent unit: every
    # session has 0 or 1 order, so the per-session mean is O / S over an arm's S sessions and its
    # sample variance S / (S - 1) p (1 - p). Sessions of a user are correlated, the variance is
    # too small by the design effect (about 1.7 here) and the test rejects about 13% of the time.
    control, treatment = clustered_aa()

    def per_session(arm):
        orders, sessions = arm["orders"].sum(axis=1), arm["sessions"].sum(axis=1)
        p = orders / sessions
        return sessions, p, sessions / (sessions - 1) * p * (1 - p)

    sc, pc, vc = per_session(control)
    st, pt, vt = per_session(treatment)
    rejections = sum(
        mean_test(int(sc[i]), pc[i], vc[i], int(st[i]), pt[i], vt[i]).p_value < ALPHA
        for i in range(N_EXPERIMENTS)
    )
    _, high = binomial_range(N_EXPERIMENTS, ALPHA)
    assert rejections > high, rejections
    assert rejections > 2 * ALPHA * N_EXPERIMENTS  # not marginal: more than twice the level


# --------------------------------------------------------------------------------------------
# CUPED and regression adjustment of a mean.


def cuped_arm(rng: np.random.Generator, effect: float) -> dict[str, np.ndarray]:
    """Skewed pre-period spend ``x`` and in-experiment spend ``y`` (correlation about 0.8)."""
    shape = (N_EXPERIMENTS, UNITS)
    x = rng.gamma(2.0, 5.0, shape)
    return {"y": 0.8 * x + rng.gamma(2.0, 3.0, shape) + effect, "x": x}


def test_cuped_mean_coverage():
    rng = np.random.default_rng(103)
    effect = 1.0
    control, treatment = cuped_arm(rng, 0.0), cuped_arm(rng, effect)
    covered = 0
    reductions = []
    for i in range(N_EXPERIMENTS):
        result = cuped_test(moments(control, i), moments(treatment, i), "x", column="y")
        covered += covers(result, effect)
        reductions.append(result.variance_reduction)
    assert_coverage(covered)
    assert np.median(reductions) > 0.5


def test_cuped_mean_aa_false_positive_rate():
    rng = np.random.default_rng(104)
    control, treatment = cuped_arm(rng, 0.0), cuped_arm(rng, 0.0)
    rejections = sum(
        cuped_test(moments(control, i), moments(treatment, i), "x", column="y").p_value < ALPHA
        for i in range(N_EXPERIMENTS)
    )
    assert_false_positive_rate(rejections)


def test_regression_adjustment_coverage_with_two_covariates():
    # Same slopes in both arms, residual spread 1 in control and 1.5 in treatment: Lin's
    # arm-specific fit must cope with the unequal variances as Welch does.
    rng = np.random.default_rng(105)
    effect = 0.3
    shape = (N_EXPERIMENTS, UNITS)

    def arm(noise_sd: float, shift: float) -> dict[str, np.ndarray]:
        x1 = rng.normal(0.0, 1.0, shape)
        x2 = rng.exponential(1.0, shape)
        y = 1.0 + 2.0 * x1 - x2 + rng.normal(0.0, noise_sd, shape) + shift
        return {"y": y, "x1": x1, "x2": x2}

    control, treatment = arm(1.0, 0.0), arm(1.5, effect)
    covered = 0
    reductions = []
    for i in range(N_EXPERIMENTS):
        result = regression_adjusted_test(
            moments(control, i), moments(treatment, i), ["x1", "x2"], column="y"
        )
        covered += covers(result, effect)
        reductions.append(result.variance_reduction)
    assert_coverage(covered)
    assert np.median(reductions) > 0.5


# --------------------------------------------------------------------------------------------
# Post-stratification.

STRATUM_SHARES = (0.5, 0.3, 0.2)
STRATUM_MEANS = (0.0, 5.0, 10.0)
STRATUM_SDS = (1.0, 2.0, 4.0)


def test_post_stratified_mean_coverage():
    # Three strata with very different levels and spreads; each unit's stratum is random, so the
    # strata sizes vary between arms and experiments (the smallest holds about 100 per arm).
    rng = np.random.default_rng(106)
    effect = 0.5
    shape = (N_EXPERIMENTS, UNITS)

    def arm(shift: float) -> tuple[np.ndarray, np.ndarray]:
        stratum = rng.choice(len(STRATUM_SHARES), size=shape, p=STRATUM_SHARES)
        means, sds = np.take(STRATUM_MEANS, stratum), np.take(STRATUM_SDS, stratum)
        return stratum, rng.normal(means, sds) + shift

    (sc, yc), (st, yt) = arm(0.0), arm(effect)

    def by_stratum(stratum: np.ndarray, y: np.ndarray) -> dict[int, Moments]:
        return {s: Moments.from_columns({"y": y[stratum == s]}) for s in range(3)}

    covered = 0
    reductions = []
    for i in range(N_EXPERIMENTS):
        result = post_stratified_test(by_stratum(sc[i], yc[i]), by_stratum(st[i], yt[i]), "y")
        covered += covers(result, effect)
        reductions.append(result.variance_reduction)
    assert_coverage(covered)
    assert np.median(reductions) > 0.5  # strata explain most of the variance here


def test_the_coverage_check_catches_a_standard_error_15_percent_too_small():
    # The power note of the module docstring: such an interval covers P(|Z| < 1.96 / 1.15) of
    # the time, and a count of covered truths that low falls below the accepted range.
    low, _ = binomial_range(N_EXPERIMENTS, 0.95)
    shrunk = 1 - 2 * stats.norm.sf(stats.norm.isf(0.025) / 1.15)
    assert stats.binom.cdf(low - 1, N_EXPERIMENTS, shrunk) > 0.99
