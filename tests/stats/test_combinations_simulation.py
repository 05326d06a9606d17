"""Simulations: CUPED of a ratio by a ratio covariate, and post-stratified ratios with CUPED.

Each check counts the experiments, out of N seeded ones with about 400 units per arm, whose 95%
interval covers the true effect, and accepts the count inside the central 99.9% range of
Binomial(N, 0.95) (`helpers.binomial_range`; a correct method fails by chance once in a thousand
seeds). At N = 1,000 the range is [926, 971] covered; an interval whose standard error is 15% too
small covers 91.2% and is caught with probability 0.94.

Users belong to one of three platforms with different activity and spend; revenue per session
is the metric, the pre-period's revenue per session (same users, same spend) the covariate.
Within a platform, sessions and spend are independent, so the true ratio of an arm is
``sum_s p_s E_s(sessions) E_s(spend) (1 + lift) / sum_s p_s E_s(sessions)``. Post-stratified
intervals are for the effect at the experiment's own platform shares ``w_s`` (the variance is
conditional on the strata sizes), so their truth uses ``w_s``; the unstratified CUPED interval's
truth uses the population shares ``p_s``.
"""

from __future__ import annotations

import functools

import numpy as np
import pytest

from ablens import Moments, cuped_ratio_test
from ablens.stats import post_stratified_test
from helpers import binomial_range

N_EXPERIMENTS = 1_000
UNITS = 400  # per arm
LIFT = 0.05
SHARES = np.array([0.5, 0.3, 0.2])
LEVELS = np.array([1.0, 2.5, 0.6])
MEAN_SESSIONS = 1 + 3 * LEVELS  # 1 + Poisson(Gamma(2, scale 1.5 level))
MEAN_SPEND = 4 * LEVELS  # Gamma(2, scale 2 level)
COLUMNS = ("revenue", "sessions", "pre_revenue", "pre_sessions")

pytestmark = pytest.mark.slow


def _arm(rng: np.random.Generator, lift: float) -> dict[str, np.ndarray]:
    shape = (N_EXPERIMENTS, UNITS)
    stratum = rng.choice(3, size=shape, p=SHARES)
    level = LEVELS[stratum]
    activity = rng.gamma(2.0, 1.5 * level)
    spend = rng.gamma(2.0, 2.0 * level)
    sessions = 1 + rng.poisson(activity)
    pre_sessions = 1 + rng.poisson(activity)
    return {
        "stratum": stratum,
        "revenue": sessions * spend * (1 + lift) * rng.gamma(4.0, 0.25, shape),
        "sessions": sessions.astype(np.float64),
        "pre_revenue": pre_sessions * spend * rng.gamma(4.0, 0.25, shape),
        "pre_sessions": pre_sessions.astype(np.float64),
    }


@functools.cache
def _data() -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    rng = np.random.default_rng(20180819)
    return _arm(rng, 0.0), _arm(rng, LIFT)


def _strata(arm: dict[str, np.ndarray], i: int) -> dict[int, Moments]:
    keep = {s: arm["stratum"][i] == s for s in range(3)}
    return {
        s: Moments.from_columns({c: arm[c][i][rows] for c in COLUMNS}) for s, rows in keep.items()
    }


@functools.cache
def _experiments() -> list[tuple[dict[int, Moments], dict[int, Moments], np.ndarray]]:
    """Per experiment: control and treatment moments per stratum, and the strata's shares."""
    control, treatment = _data()
    out = []
    for i in range(N_EXPERIMENTS):
        c, t = _strata(control, i), _strata(treatment, i)
        shares = np.array([c[s].count + t[s].count for s in range(3)]) / (2 * UNITS)
        out.append((c, t, shares))
    return out


def _ratio_effect(shares: np.ndarray) -> float:
    return LIFT * float(shares @ (MEAN_SESSIONS * MEAN_SPEND) / (shares @ MEAN_SESSIONS))


def _mean_effect(shares: np.ndarray) -> float:
    return LIFT * float(shares @ (MEAN_SESSIONS * MEAN_SPEND))


def _assert_coverage(covered: int) -> None:
    low, high = binomial_range(N_EXPERIMENTS, 0.95)
    print(f"covered {covered} of {N_EXPERIMENTS}")  # noqa: T201 - shown with -s
    assert low <= covered <= high, f"covered {covered} of {N_EXPERIMENTS}, range [{low}, {high}]"


def _covers(result, truth: float) -> bool:
    return bool(result.effect_ci_lower <= truth <= result.effect_ci_upper)


def test_cuped_ratio_by_ratio_covariate_coverage():
    control, treatment = _data()
    truth = _ratio_effect(SHARES)
    covered, reductions = 0, []
    for i in range(N_EXPERIMENTS):
        c = Moments.from_columns({k: control[k][i] for k in COLUMNS})
        t = Moments.from_columns({k: treatment[k][i] for k in COLUMNS})
        r = cuped_ratio_test(c, t, "revenue", "sessions", "pre_revenue", "pre_sessions")
        covered += _covers(r, truth)
        reductions.append(r.variance_reduction)
    _assert_coverage(covered)
    assert np.median(reductions) > 0.2  # the covariate carries the users' spend


@pytest.mark.parametrize(
    ("metric", "covariate"),
    [
        ({"numerator": "revenue", "denominator": "sessions"}, {}),
        (
            {"numerator": "revenue", "denominator": "sessions"},
            {"covariate_numerator": "pre_revenue", "covariate_denominator": "pre_sessions"},
        ),
        ({"numerator": "revenue", "denominator": "sessions"}, {"covariate": "pre_revenue"}),
        ({"column": "revenue"}, {"covariate": "pre_revenue"}),
    ],
    ids=["ratio", "ratio-cuped-ratio-covariate", "ratio-cuped-column", "mean-cuped"],
)
def test_post_stratified_coverage(metric, covariate):
    covered = 0
    for c, t, shares in _experiments():
        r = post_stratified_test(c, t, **metric, **covariate)
        truth = _ratio_effect(shares) if "numerator" in metric else _mean_effect(shares)
        covered += _covers(r, truth)
    _assert_coverage(covered)
