"""Bayesian analysis: closed forms against independent numerical integration.

Every closed form (normal and lognormal partial expectations, Miller's sum, Stucchio's loss, the
two-arm probability of being best) is checked against ``scipy.integrate.quad`` on scipy.stats
densities, or dense Gauss-Hermite quadrature, to 1e-9. Monte Carlo appears only as a sanity
check with a wide tolerance.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys

import numpy as np
import pytest
from scipy import integrate, special, stats

from ablens.errors import InputError
from ablens.stats import bayesian
from ablens.stats.bayesian import (
    NormalPrior,
    bayesian_mean_test,
    bayesian_proportion_test,
    beta_best_arm,
    empirical_prior,
    normal_best_arm,
    normal_posterior,
)

TOL = 1e-9


def quad(function, lo, hi, points=None):
    value, _ = integrate.quad(
        function, lo, hi, points=points, epsabs=1e-14, epsrel=1e-13, limit=1000
    )
    return value


def normal_expectation(function, mean, sd):
    """E[function(X)] for X ~ N(mean, sd^2), by quad over mean +/- 40 sd."""
    lo, hi = mean - 40 * sd, mean + 40 * sd
    points = [mean, 0.0] if lo < 0 < hi else [mean]
    return quad(lambda x: function(x) * stats.norm.pdf(x, mean, sd), lo, hi, points)


def beta_expectation_pair(function, a1, b1, a2, b2):
    """E[function(X1, X2)] for independent betas, by nested quad (slow; small cases only)."""

    def inner(x1):
        return quad(lambda x2: function(x1, x2) * stats.beta.pdf(x2, a2, b2), 0, 1, [x1])

    return quad(lambda x1: inner(x1) * stats.beta.pdf(x1, a1, b1), 0, 1)


def beta_greater(a1, b1, a2, b2):
    """P(X1 > X2) = integral f1 F2, with scipy.stats densities."""
    lo = min(stats.beta.ppf(1e-16, a1, b1), stats.beta.ppf(1e-16, a2, b2))
    hi = max(stats.beta.isf(1e-16, a1, b1), stats.beta.isf(1e-16, a2, b2))
    points = [
        stats.beta.ppf(q, a, b) for a, b in ((a1, b1), (a2, b2)) for q in (1e-6, 0.5, 1 - 1e-6)
    ]
    return quad(lambda x: stats.beta.pdf(x, a1, b1) * stats.beta.cdf(x, a2, b2), lo, hi, points)


# ------------------------------------------------------------------------------------ normal
@pytest.mark.parametrize(
    ("mean", "sd"), [(0.3, 0.1), (-0.02, 0.05), (0.0, 1.0), (1e-3, 2e-4), (-5.0, 1.0)]
)
def test_normal_closed_forms_match_integration(mean, sd):
    r = normal_posterior(mean, sd)
    assert r.probability_better == pytest.approx(
        normal_expectation(lambda x: float(x > 0), mean, sd), abs=TOL
    )
    assert r.expected_loss_ship == pytest.approx(
        normal_expectation(lambda x: max(0.0, -x), mean, sd), abs=TOL * sd
    )
    assert r.expected_loss_keep == pytest.approx(
        normal_expectation(lambda x: max(0.0, x), mean, sd), abs=TOL * sd
    )
    # keep - ship = E[effect]
    assert r.expected_loss_keep - r.expected_loss_ship == pytest.approx(mean, abs=1e-15)


@pytest.mark.parametrize(("mean", "sd"), [(0.03, 0.01), (-0.01, 0.02), (0.2, 0.3), (0.0, 0.05)])
def test_lognormal_closed_forms_match_integration(mean, sd):
    r = normal_posterior(mean, sd, scale="relative")
    lift = math.expm1
    assert r.posterior_mean == pytest.approx(normal_expectation(lift, mean, sd), abs=TOL)
    variance = normal_expectation(lambda x: (lift(x) - r.posterior_mean) ** 2, mean, sd)
    assert r.posterior_sd == pytest.approx(math.sqrt(variance), rel=1e-9)
    assert r.expected_loss_ship == pytest.approx(
        normal_expectation(lambda x: max(0.0, -lift(x)), mean, sd), abs=TOL
    )
    assert r.expected_loss_keep == pytest.approx(
        normal_expectation(lambda x: max(0.0, lift(x)), mean, sd), abs=TOL
    )
    assert r.probability_better == pytest.approx(stats.norm.sf(0, mean, sd), abs=1e-15)
    q = stats.norm.ppf(0.975)
    assert r.ci == pytest.approx((math.expm1(mean - q * sd), math.expm1(mean + q * sd)))


def test_posterior_is_the_precision_weighted_average():
    prior = NormalPrior(0.01, 0.02)
    r = normal_posterior(0.05, 0.03, prior=prior)
    precision = 1 / 0.03**2 + 1 / 0.02**2
    assert r.model_sd == pytest.approx(math.sqrt(1 / precision), rel=1e-14)
    assert r.model_mean == pytest.approx((0.05 / 0.03**2 + 0.01 / 0.02**2) / precision, rel=1e-14)
    assert r.posterior_mean == r.model_mean
    assert r.prior_mean == 0.01
    assert r.prior_sd == 0.02


@pytest.mark.parametrize("scale", ["absolute", "relative"])
@pytest.mark.parametrize("direction", ["increase", "decrease"])
def test_a_huge_prior_variance_gives_the_flat_result(scale, direction):
    flat = normal_posterior(0.02, 0.01, scale=scale, direction=direction)
    vague = normal_posterior(
        0.02, 0.01, prior=NormalPrior(0.5, 1e8), scale=scale, direction=direction
    )
    for field in (
        "model_mean",
        "model_sd",
        "posterior_mean",
        "posterior_sd",
        "ci_lower",
        "ci_upper",
        "probability_better",
        "expected_loss_ship",
        "expected_loss_keep",
    ):
        assert getattr(vague, field) == pytest.approx(getattr(flat, field), rel=TOL, abs=1e-15)


def test_a_point_mass_prior_ignores_the_data_and_says_so():
    r = normal_posterior(0.3, 0.1, prior=NormalPrior(-0.1, 0.0))
    assert (r.posterior_mean, r.posterior_sd, r.ci) == (-0.1, 0.0, (-0.1, -0.1))
    assert r.probability_better == 0.0
    assert r.expected_loss_ship == pytest.approx(0.1)
    assert r.expected_loss_keep == 0.0
    assert "ignores the data" in r.notes[0]


def test_decrease_swaps_the_direction():
    up = normal_posterior(0.2, 0.15)
    down = normal_posterior(0.2, 0.15, direction="decrease")
    assert down.probability_better == pytest.approx(1 - up.probability_better, abs=1e-15)
    assert down.expected_loss_ship == up.expected_loss_keep
    assert down.expected_loss_keep == up.expected_loss_ship


def test_credible_level_sets_the_interval():
    r = normal_posterior(1.0, 2.0, credible_level=0.9)
    assert r.ci == pytest.approx((1.0 - 2.0 * 1.6448536269514722, 1.0 + 2.0 * 1.6448536269514722))


def test_bayesian_mean_test_builds_the_likelihood_from_the_arms():
    r = bayesian_mean_test(400, 10.0, 9.0, 500, 10.4, 16.0)
    assert r.estimate == pytest.approx(0.4)
    assert r.standard_error == pytest.approx(math.sqrt(9 / 400 + 16 / 500))
    rel = bayesian_mean_test(400, 10.0, 9.0, 500, 10.4, 16.0, scale="relative")
    assert rel.model_mean == pytest.approx(math.log(1.04))
    assert rel.standard_error == pytest.approx(math.sqrt(9 / 400 / 100 + 16 / 500 / 10.4**2))
    assert rel.estimate == pytest.approx(0.04)
    assert rel.ci_lower < 0.04 < rel.ci_upper
    exact = bayesian_mean_test(400, 10.0, 9.0, 500, 10.4, 16.0, mean_difference=0.4000001)
    assert exact.estimate == 0.4000001


def test_bayesian_mean_test_rejects_bad_input():
    with pytest.raises(InputError, match="control_count"):
        bayesian_mean_test(1, 1.0, 1.0, 10, 1.0, 1.0)
    with pytest.raises(InputError, match="does not vary"):
        bayesian_mean_test(10, 1.0, 0.0, 10, 1.0, 0.0)
    with pytest.raises(InputError, match="positive"):
        bayesian_mean_test(10, -1.0, 1.0, 10, 1.0, 1.0, scale="relative")
    with pytest.raises(InputError, match="scale"):
        bayesian_mean_test(10, 1.0, 1.0, 10, 1.0, 1.0, scale="log")  # type: ignore[arg-type]
    with pytest.raises(InputError, match="direction"):
        normal_posterior(0.1, 0.1, direction="up")  # type: ignore[arg-type]
    with pytest.raises(InputError, match="prior"):
        normal_posterior(0.1, 0.1, prior=(0.0, 1.0))  # type: ignore[arg-type]
    with pytest.raises(InputError, match="sd"):
        NormalPrior(0.0, -1.0)
    with pytest.raises(InputError, match="sd"):
        NormalPrior(0.0, math.nan)


def test_result_serializes_to_json():
    r = normal_posterior(0.3, 0.1, prior=NormalPrior(0.0, 0.0))
    data = json.loads(json.dumps(r.to_dict()))
    assert data["notes"] == list(r.notes)
    assert data["probability_better"] == r.probability_better


# ------------------------------------------------------------------------------------ empirical
def test_empirical_prior_is_the_method_of_moments():
    rng = np.random.default_rng(3)
    se = rng.uniform(0.005, 0.02, 40)
    effects = rng.normal(0.01, 0.015, 40) + rng.normal(0, se)
    prior = empirical_prior(effects, se)
    assert prior.mean == pytest.approx(effects.mean())
    assert prior.sd**2 == pytest.approx(effects.var(ddof=1) - np.mean(se**2))


def test_empirical_prior_recovers_the_spread_on_average():
    rng = np.random.default_rng(4)
    estimates = []
    for _ in range(400):
        se = rng.uniform(0.005, 0.02, 30)
        effects = rng.normal(0.0, 0.01, 30) + rng.normal(0, se)
        estimates.append(empirical_prior(effects, se).sd ** 2)
    # Truncation at 0 biases tau^2 upward a little; the average stays near 1e-4.
    assert np.mean(estimates) == pytest.approx(1e-4, rel=0.1)


def test_empirical_prior_truncates_at_zero():
    prior = empirical_prior([0.01, 0.011, 0.009], [0.05, 0.05, 0.05])
    assert prior.sd == 0.0
    assert not prior.flat


@pytest.mark.parametrize(
    ("effects", "ses", "message"),
    [
        ([0.1], [0.1], "at least 2"),
        ([0.1, 0.2], [0.1], "shapes"),
        ([0.1, math.nan], [0.1, 0.1], "finite"),
        ([0.1, 0.2], [0.1, -0.1], ">= 0"),
    ],
)
def test_empirical_prior_rejects_bad_input(effects, ses, message):
    with pytest.raises(InputError, match=message):
        empirical_prior(effects, ses)


# ------------------------------------------------------------------------------------ beta
BETA_CASES = [
    (101, 901, 131, 871),  # 100/1000 vs 130/1000, uniform prior
    (3, 9, 6, 5),  # small counts
    (5001, 45001, 5101, 44901),  # large counts, close rates
    (1, 1, 1, 1),  # the prior alone: 1/2
    (12.5, 88.5, 15.5, 85.5),  # Jeffreys-like prior: no whole parameter, quadrature
]


# High-precision references, computed with mpmath 1.4.1 at 30-40 significant digits: log B by
# mpmath.beta; P(X1 > X2) by Miller's sum with its terms generated by the exact recurrence
# t_{i+1} = t_i (a_A + i)(b_B + i) / ((a_A + i + b_A + b_B)(1 + i)); the expected excesses by
# Stucchio's identity on those sums.
LOG_BETA_REFERENCE = [
    (6, 2e6, -82.26446218835639549627837),
    (10, 999992, -125.3532430994587709982029),
    (1.5, 1e6, -20.84404844958153137855432),
    (5e5, 5e5, -693152.476229260526936233),
    (1e6, 9e6, -3250835.670050886084357401),
    (131, 871, -390.0117328666707318552962),
    (0.5, 1e7, -7.486682870054459806991262),
    (8, 8, -10.84894866171006296575838),
    (7.5, 1e4, -61.54562548451060186764802),
    (2.5, 3.5, -3.301835269962052609799184),
    (1e-3, 50, 6.903276885609827168701569),
]
# (a1, b1, a2, b2): P(X1 > X2), E[max(0, X1 - X2)], E[max(0, X2 - X1)]
BETA_REFERENCE = {
    (10, 999992, 6, 999996): (
        0.8491220101951622068846222,
        4.312914954498771734885796e-6,
        3.12922954482771766885732e-7,
    ),
    (5101, 44901, 5001, 45001): (
        0.8530024869521085341078338,
        0.002144324025238001692703946,
        0.0001444040220381296875841504,
    ),
    (131, 871, 101, 901): (
        0.9821650661163505218490662,
        0.03003249425198374897814564,
        0.00009237449150470706197797997,
    ),
    (3, 9, 6, 5): (
        0.06346749226006191950464396,
        0.005523501266535322262876442,
        0.300978046721080776808331,
    ),
    # A million conversions per arm: beyond the closed form's length, quadrature only.
    (1_003_001, 8_997_001, 1_000_001, 9_000_001): (
        0.9872774939041684688889586,
        0.0003005942699053512421664115,
        None,
    ),
}


@pytest.mark.parametrize(("a", "b", "reference"), LOG_BETA_REFERENCE)
def test_log_beta_matches_high_precision_values(a, b, reference):
    # scipy.special.betaln is off by up to 3e-8 on these; the Stirling forms keep 1e-16 relative.
    assert float(bayesian._log_beta(a, b)) == pytest.approx(reference, rel=2e-16, abs=2e-14)
    assert float(bayesian._log_beta(b, a)) == float(bayesian._log_beta(a, b))


def test_log_beta_satisfies_its_recurrence_across_the_branches():
    a = np.array([0.3, 1.0, 2.5, 7.0, 7.999, 8.0, 12.5, 300.0, 5e4])
    for b in (0.7, 3.0, 7.5, 8.0, 40.0, 1e3, 1e6):
        # B(a + 1, b) = B(a, b) a / (a + b), to the rounding of log B itself (~1e-16 of it)
        base = bayesian._log_beta(a, b)
        step = bayesian._log_beta(a + 1, b) - base
        tolerance = 1e-13 + 4e-16 * np.abs(base)
        assert np.all(np.abs(step - np.log(a / (a + b))) <= tolerance)


@pytest.mark.parametrize("case", list(BETA_REFERENCE))
def test_large_counts_match_high_precision_references(case):
    greater, excess_12, excess_21 = BETA_REFERENCE[case]
    closed = bayesian._greater_closed(*case)
    if closed is not None:
        assert closed == pytest.approx(greater, abs=1e-12)
        assert bayesian._excess_closed(*case) == pytest.approx(excess_12, abs=1e-13)
    else:
        assert case[0] > bayesian.MAX_TERMS
    assert bayesian._greater_quadrature(*case) == pytest.approx(greater, abs=1e-12)
    assert bayesian._excess_quadrature(*case) == pytest.approx(excess_12, abs=1e-13)
    if excess_21 is not None:
        reverse = (case[2], case[3], case[0], case[1])
        assert bayesian._excess_quadrature(*reverse) == pytest.approx(excess_21, abs=1e-13)


def test_a_million_conversions_per_arm_is_analyzed_without_warnings():
    r = bayesian_proportion_test(1_000_000, 10_000_000, 1_003_000, 10_000_000)
    assert r.method == "quadrature"
    assert r.probability_treatment_higher == pytest.approx(0.9872774939041684688889586, abs=1e-12)
    assert r.expected_loss_keep - r.expected_loss_ship == pytest.approx(r.effect, abs=1e-13)
    assert r.ci_lower < r.effect < r.ci_upper


@pytest.mark.parametrize(("a1", "b1", "a2", "b2"), BETA_CASES)
def test_probability_treatment_higher_matches_integration(a1, b1, a2, b2):
    closed = bayesian._greater_closed(a1, b1, a2, b2)
    quadrature = bayesian._greater_quadrature(a1, b1, a2, b2)
    reference = beta_greater(a1, b1, a2, b2)
    assert quadrature == pytest.approx(reference, abs=TOL)
    if closed is not None:
        assert closed == pytest.approx(reference, abs=TOL)
        assert closed == pytest.approx(quadrature, abs=1e-11)


@pytest.mark.parametrize(
    ("a1", "b1", "a2", "b2"),
    [
        (7, 20.5, 9.5, 18.5),  # only a1 whole: sum over a1
        (7.5, 20.5, 9, 18.5),  # only a2 whole
        (7.5, 20.5, 9.5, 18),  # only b2 whole
        (7.5, 20, 9.5, 18.5),  # only b1 whole
    ],
)
def test_every_branch_of_the_closed_form_agrees(a1, b1, a2, b2):
    closed = bayesian._greater_closed(a1, b1, a2, b2)
    assert closed is not None
    assert closed == pytest.approx(beta_greater(a1, b1, a2, b2), abs=TOL)


def test_no_whole_parameter_means_no_closed_form():
    assert bayesian._greater_closed(1.5, 2.5, 3.5, 4.5) is None


@pytest.mark.parametrize(("a1", "b1", "a2", "b2"), BETA_CASES)
def test_expected_excess_matches_integration(a1, b1, a2, b2):
    quadrature = bayesian._excess_quadrature(a1, b1, a2, b2)
    closed = bayesian._excess_closed(a1, b1, a2, b2)
    # Independent of both: condition on X1 instead of X2. E[max(0, x - X2)] = x F2(x) -
    # E[X2 1{X2 <= x}] = x I_x(a2, b2) - m2 I_x(a2 + 1, b2).
    m2 = a2 / (a2 + b2)

    def integrand(x):
        inner = x * special.betainc(a2, b2, x) - m2 * special.betainc(a2 + 1, b2, x)
        return stats.beta.pdf(x, a1, b1) * inner

    lo, hi = stats.beta.ppf(1e-16, a1, b1), stats.beta.isf(1e-16, a1, b1)
    points = [
        stats.beta.ppf(q, a, b) for a, b in ((a1, b1), (a2, b2)) for q in (1e-6, 0.5, 1 - 1e-6)
    ]
    reference = quad(integrand, lo, hi, [p for p in points if lo < p < hi])
    assert quadrature == pytest.approx(reference, abs=TOL)
    if closed is not None:
        assert closed == pytest.approx(reference, abs=TOL)


def test_expected_excess_matches_a_double_integral_on_small_counts():
    value = bayesian._excess_closed(3, 9, 6, 5)
    reference = beta_expectation_pair(lambda x1, x2: max(0.0, x1 - x2), 3, 9, 6, 5)
    assert value == pytest.approx(reference, abs=1e-9)


@pytest.mark.parametrize("method", ["auto", "quadrature"])
def test_proportion_test_losses_and_probabilities_are_consistent(method):
    r = bayesian_proportion_test(100, 1000, 130, 1000, method=method)
    assert r.method == ("closed-form" if method == "auto" else "quadrature")
    assert (r.control_alpha, r.control_beta, r.treatment_alpha, r.treatment_beta) == (
        101,
        901,
        131,
        871,
    )
    assert r.probability_treatment_higher == pytest.approx(
        beta_greater(131, 871, 101, 901), abs=TOL
    )
    # keep - ship = E[p_t - p_c]
    assert r.expected_loss_keep - r.expected_loss_ship == pytest.approx(r.effect, abs=1e-12)
    assert r.effect == pytest.approx(131 / 1002 - 101 / 1002)


def test_closed_form_and_quadrature_agree_on_the_proportion_test():
    a = bayesian_proportion_test(480, 5000, 540, 5000)
    b = bayesian_proportion_test(480, 5000, 540, 5000, method="quadrature")
    for field in ("probability_better", "expected_loss_ship", "expected_loss_keep"):
        assert getattr(a, field) == pytest.approx(getattr(b, field), abs=1e-11)


def test_non_integer_prior_uses_quadrature():
    r = bayesian_proportion_test(10, 100, 15, 100, prior=(0.5, 0.5))
    assert r.method == "quadrature"
    assert r.probability_better == pytest.approx(beta_greater(15.5, 85.5, 10.5, 90.5), abs=TOL)
    with pytest.raises(InputError, match="closed-form"):
        bayesian_proportion_test(10, 100, 15, 100, prior=(0.5, 0.5), method="closed-form")


def test_credible_interval_of_the_difference_has_its_tail_probabilities():
    r = bayesian_proportion_test(30, 200, 45, 210, credible_level=0.9)
    a_c, b_c, a_t, b_t = r.control_alpha, r.control_beta, r.treatment_alpha, r.treatment_beta

    def cdf(d):
        # P(p_t - p_c <= d) = integral f_c(x) F_t(x + d) dx
        return quad(
            lambda x: stats.beta.pdf(x, a_c, b_c) * stats.beta.cdf(min(max(x + d, 0), 1), a_t, b_t),
            0,
            1,
            [a_c / (a_c + b_c)],
        )

    assert cdf(r.ci_lower) == pytest.approx(0.05, abs=TOL)
    assert cdf(r.ci_upper) == pytest.approx(0.95, abs=TOL)


def test_beta_binomial_direction_decrease():
    up = bayesian_proportion_test(100, 1000, 130, 1000)
    down = bayesian_proportion_test(100, 1000, 130, 1000, direction="decrease")
    assert down.probability_better == pytest.approx(1 - up.probability_better, abs=1e-15)
    assert down.expected_loss_ship == up.expected_loss_keep
    assert down.expected_loss_keep == up.expected_loss_ship


def test_beta_binomial_matches_monte_carlo_roughly():
    rng = np.random.default_rng(5)
    r = bayesian_proportion_test(40, 400, 52, 380)
    pc = rng.beta(r.control_alpha, r.control_beta, 400_000)
    pt = rng.beta(r.treatment_alpha, r.treatment_beta, 400_000)
    assert np.mean(pt > pc) == pytest.approx(r.probability_treatment_higher, abs=5e-3)
    assert np.mean(np.maximum(0, pc - pt)) == pytest.approx(r.expected_loss_ship, abs=2e-4)
    assert np.quantile(pt - pc, 0.025) == pytest.approx(r.ci_lower, abs=2e-3)


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        ((11, 10, 1, 10), {}, "control_successes"),
        ((1, 10, 1, 10), {"prior": (0.0, 1.0)}, "prior"),
        ((1, 10, 1, 10), {"prior": (1.0,)}, "pair"),
        ((1, 10, 1, 10), {"method": "mc"}, "method"),
        ((1, 10, 1, 10), {"credible_level": 1.0}, "credible_level"),
    ],
)
def test_proportion_test_rejects_bad_input(args, kwargs, message):
    with pytest.raises(InputError, match=message):
        bayesian_proportion_test(*args, **kwargs)


# ------------------------------------------------------------------------------------ k arms
@pytest.mark.parametrize(
    ("means", "sds"),
    [
        ((0.0, 0.1), (1.0, 1.0)),
        ((10.0, 10.3), (0.1, 0.2)),
        ((0.0, 0.1), (1.0, 0.001)),
        ((5.0, -5.0), (1.0, 1.0)),
    ],
)
def test_two_normal_arms_match_the_closed_forms(means, sds):
    r = normal_best_arm(means, sds)
    delta, sigma = means[1] - means[0], math.hypot(*sds)
    assert r.probability_best[1] == pytest.approx(stats.norm.cdf(delta / sigma), abs=TOL)
    assert sum(r.probability_best) == pytest.approx(1.0, abs=TOL)
    # E[max(X, Y)] = mu_1 Phi(d / s) + mu_0 Phi(-d / s) + s phi(d / s)
    expected_max = (
        means[1] * stats.norm.cdf(delta / sigma)
        + means[0] * stats.norm.cdf(-delta / sigma)
        + sigma * stats.norm.pdf(delta / sigma)
    )
    assert r.expected_loss[0] == pytest.approx(expected_max - means[0], abs=TOL)
    assert r.expected_loss[1] == pytest.approx(expected_max - means[1], abs=TOL)


def test_three_normal_arms_match_gauss_hermite():
    means, sds = np.array([0.0, 0.25, 0.3]), np.array([0.2, 0.25, 0.3])
    r = normal_best_arm(means.tolist(), sds.tolist())
    nodes, weights = np.polynomial.hermite_e.hermegauss(300)
    weights = weights / math.sqrt(2 * math.pi)
    expected_max = 0.0
    for i in range(3):
        others = [j for j in range(3) if j != i]
        values = np.ones_like(nodes)
        for j in others:
            values *= stats.norm.cdf((means[i] + sds[i] * nodes - means[j]) / sds[j])
        probability = float(weights @ values)
        assert r.probability_best[i] == pytest.approx(probability, abs=TOL)
        expected_max += float(weights @ ((means[i] + sds[i] * nodes) * values))
    for i in range(3):
        assert r.expected_loss[i] == pytest.approx(expected_max - means[i], abs=TOL)
    assert sum(r.probability_best) == pytest.approx(1.0, abs=TOL)


def test_normal_arms_match_monte_carlo_roughly():
    rng = np.random.default_rng(6)
    means, sds = [1.0, 1.1, 0.95, 1.05], [0.05, 0.08, 0.02, 0.1]
    r = normal_best_arm(means, sds, direction="decrease")
    draws = rng.normal(means, sds, size=(400_000, 4))
    best = np.bincount(np.argmin(draws, axis=1), minlength=4) / 400_000
    assert r.probability_best == pytest.approx(tuple(best), abs=5e-3)
    loss = (draws - draws.min(axis=1, keepdims=True)).mean(axis=0)
    assert r.expected_loss == pytest.approx(tuple(loss), abs=1e-3)
    assert sum(r.probability_best) == pytest.approx(1.0, abs=TOL)


def test_identical_normal_arms_are_equally_likely_best():
    r = normal_best_arm({"a": 1.0, "b": 1.0, "c": 1.0, "d": 1.0}, dict.fromkeys("abcd", 0.5))
    assert r.probability_best == pytest.approx((0.25,) * 4, abs=TOL)
    assert r.arms == ("a", "b", "c", "d")
    json.dumps(r.to_dict())


def test_decrease_is_the_best_arm_of_the_negated_metric():
    down = normal_best_arm([1.0, 1.2, 0.9], [0.1, 0.2, 0.15], direction="decrease")
    up = normal_best_arm([-1.0, -1.2, -0.9], [0.1, 0.2, 0.15])
    assert down.probability_best == pytest.approx(up.probability_best, abs=1e-14)
    assert down.expected_loss == pytest.approx(up.expected_loss, abs=1e-14)
    assert down.best == "arm 2"


def test_two_beta_arms_match_the_closed_forms():
    r = beta_best_arm([100, 130], [1000, 1000])
    p = bayesian_proportion_test(100, 1000, 130, 1000)
    assert r.probability_best[1] == pytest.approx(p.probability_treatment_higher, abs=TOL)
    assert r.expected_loss[1] == pytest.approx(p.expected_loss_ship, abs=TOL)
    assert r.expected_loss[0] == pytest.approx(p.expected_loss_keep, abs=TOL)
    assert sum(r.probability_best) == pytest.approx(1.0, abs=TOL)


def test_beta_arms_sum_to_one_and_match_monte_carlo_roughly():
    rng = np.random.default_rng(7)
    x, n = [30, 45, 38, 41], [500, 520, 480, 510]
    r = beta_best_arm(dict(zip("abcd", x, strict=True)), dict(zip("abcd", n, strict=True)))
    assert sum(r.probability_best) == pytest.approx(1.0, abs=TOL)
    draws = np.column_stack(
        [rng.beta(1 + xi, 1 + ni - xi, 400_000) for xi, ni in zip(x, n, strict=True)]
    )
    best = np.bincount(np.argmax(draws, axis=1), minlength=4) / 400_000
    assert r.probability_best == pytest.approx(tuple(best), abs=5e-3)
    loss = (draws.max(axis=1, keepdims=True) - draws).mean(axis=0)
    assert r.expected_loss == pytest.approx(tuple(loss), abs=2e-4)


def test_beta_decrease_is_the_best_arm_of_the_failures():
    down = beta_best_arm([30, 45, 38], [500, 520, 480], direction="decrease")
    up = beta_best_arm([470, 475, 442], [500, 520, 480])
    assert down.probability_best == pytest.approx(up.probability_best, abs=1e-12)
    assert down.expected_loss == pytest.approx(up.expected_loss, abs=1e-12)
    assert down.posterior_means[0] == pytest.approx(31 / 502)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: normal_best_arm([1.0], [1.0]), "at least 2"),
        (lambda: normal_best_arm([1.0, 2.0], [1.0, 0.0]), "standard_errors"),
        (lambda: normal_best_arm({"a": 1.0, "b": 2.0}, {"a": 1.0, "c": 1.0}), "same arms"),
        (lambda: normal_best_arm("ab", [1.0, 1.0]), "mapping"),
        (lambda: beta_best_arm([1, 2], [10, 1]), "successes"),
    ],
)
def test_best_arm_rejects_bad_input(call, message):
    with pytest.raises(InputError, match=message):
        call()


# ------------------------------------------------------------------------------------ imports
def test_modules_import_no_scipy_submodule():
    # scipy.special, .integrate and .optimize are imported inside the functions that need them.
    code = (
        "import sys\n"
        "import ablens\n"
        "before = set(sys.modules)\n"
        "import ablens.stats.bayesian, ablens.stats.always_valid\n"
        "print(sorted(m for m in set(sys.modules) - before if m.startswith('scipy')))\n"
    )
    completed = subprocess.run(  # noqa: S603 - fixed interpreter and code
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert completed.stdout.strip() == "[]"
