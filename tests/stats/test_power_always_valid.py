"""Sample-size inflation of the always-valid tests (mSPRT, asymptotic confidence sequence).

The planner's bound ``c_k`` is the stats module's own rejection at each look; the power at the
solved drift is checked by an independent one-dimensional quadrature (two looks) and by a
seeded, vectorized simulation of the estimates at the planned sizes; the A/A rejection rate is
at most alpha and equals the design's exact type I error, within binomial ranges.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from scipy import integrate, stats

import ablens
from ablens import (
    EffectLook,
    InputError,
    always_valid_design,
    always_valid_inflation,
    asymptotic_confidence_sequence,
    default_tau,
    msprt,
)
from ablens.stats.always_valid import _optimal_ratio

#: z of a two-sided 99.9% binomial range.
Z999 = float(stats.norm.ppf(1 - 0.0005))


def binomial_range(p: float, n: int) -> float:
    """Half-width of the 99.9% normal-approximation range of a binomial rate."""
    return Z999 * math.sqrt(p * (1 - p) / n)


def fixed_drift(alpha: float, beta: float, sides: int) -> float:
    return float(stats.norm.ppf(1 - alpha / sides) + stats.norm.ppf(1 - beta))


# ---------------------------------------------------------------------------- (a) the bounds
DESIGNS = [
    pytest.param({"method": "msprt"}, id="msprt-default-tau"),
    pytest.param({"method": "confidence-sequence"}, id="confidence-sequence"),
    pytest.param({"method": "msprt", "tau": 0.03, "max_variance": 0.01**2}, id="msprt-tau"),
    pytest.param({"method": "msprt", "alpha": 0.01}, id="msprt-alpha-0.01"),
]


@pytest.mark.parametrize("options", DESIGNS)
def test_the_bound_is_the_modules_own_rejection(options):
    looks, n_max, v_max = 12, 12_000, 0.01**2
    design = always_valid_design(looks, **options)
    alpha = design.alpha
    assert design.information_fractions == pytest.approx([(k + 1) / looks for k in range(looks)])
    for k, (t, c) in enumerate(zip(design.information_fractions, design.z_bounds, strict=True)):
        variance = v_max / t
        count = round(t * n_max)
        for scale, rejects in ((1.0, True), (1 - 1e-7, False), (1 + 1e-7, True)):
            look = EffectLook(scale * c * math.sqrt(variance), variance, count)
            if design.method == "msprt":
                result = msprt([look], tau=design.tau(v_max), alpha=alpha)
            else:
                result = asymptotic_confidence_sequence([look], planned_count=n_max, alpha=alpha)
            final = result.final
            if scale == 1.0:
                # Exactly on the bound: Lambda = 1 / alpha, and the interval touches the null.
                assert final.p_value == pytest.approx(alpha, rel=1e-9), k
                assert final.look_ci_lower == pytest.approx(0.0, abs=1e-9 * math.sqrt(variance))
                assert final.look_ci_upper - final.estimate == pytest.approx(
                    c * math.sqrt(variance), rel=1e-12
                )
            else:
                assert final.rejected is rejects, (k, scale)


def test_the_default_tau_and_the_confidence_sequence_ratios():
    alpha = 0.05
    design = always_valid_design(10)
    r_star = _optimal_ratio(alpha)
    assert design.max_ratio == pytest.approx(r_star, rel=1e-15)
    assert design.tau(4e-4) == pytest.approx(default_tau(4e-4), rel=1e-14)
    assert design.ratios == pytest.approx([r_star * (k + 1) / 10 for k in range(10)], rel=1e-14)
    c = -2 * math.log(alpha)
    cs = always_valid_design(10, method="confidence-sequence")
    assert cs.max_ratio == pytest.approx(c + math.log1p(c), rel=1e-15)
    # At the optimal ratio the bound is sqrt(1 + r*) (r* solves r = -2 log alpha + log(1 + r)).
    assert design.z_bounds[-1] == pytest.approx(math.sqrt(1 + r_star), rel=1e-13)


# ---------------------------------------------------------------------------- (c) K = 1 and order
@pytest.mark.parametrize("method", ["msprt", "confidence-sequence"])
@pytest.mark.parametrize("alternative", ["two-sided", "greater"])
@pytest.mark.parametrize(("alpha", "beta"), [(0.05, 0.2), (0.01, 0.1)])
def test_one_look_is_a_shifted_normal_quantile(method, alternative, alpha, beta):
    design = always_valid_design(1, method=method, alpha=alpha, beta=beta, alternative=alternative)
    c = design.z_bounds[0]
    drift = c + stats.norm.ppf(1 - beta)  # P(Z >= c) = 1 - beta at one look
    sides = 2 if alternative == "two-sided" else 1
    assert design.drift == pytest.approx(drift, rel=1e-12)
    assert design.inflation == pytest.approx((drift / fixed_drift(alpha, beta, sides)) ** 2, 1e-12)
    null = sides * stats.norm.sf(c)
    assert design.type_i_error == pytest.approx(null, rel=1e-12)
    assert design.power_by_look == pytest.approx((1 - beta,), rel=1e-12)


def test_two_looks_agree_with_an_independent_quadrature():
    design = always_valid_design([0.4, 1.0])
    c1, c2 = design.z_bounds
    t1, drift = 0.4, design.drift

    def crossed_later(z1: float) -> float:
        # Z2 sqrt(1) = Z1 sqrt(t1) + drift (1 - t1) + N(0, 1 - t1)
        mean = z1 * math.sqrt(t1) + drift * (1 - t1)
        return float(stats.norm.pdf(z1 - drift * math.sqrt(t1)) * stats.norm.sf(c2, mean, 0.6**0.5))

    later, _ = integrate.quad(crossed_later, -c1, c1, epsabs=1e-14, epsrel=1e-13)
    first = stats.norm.sf(c1 - drift * math.sqrt(t1))
    assert first + later == pytest.approx(0.8, rel=1e-9)
    assert design.power_by_look[0] == pytest.approx(first, rel=1e-9)


@pytest.mark.parametrize(
    "options",
    [
        {"method": "msprt"},
        {"method": "confidence-sequence"},
        {"method": "msprt", "alternative": "greater"},
        {"method": "msprt", "tau": 0.05, "fixed_variance": 0.02**2},
        {"method": "msprt", "tau": 0.05, "max_variance": 0.02**2},
    ],
)
def test_more_looks_lower_the_inflation(options):
    """Each look's bound depends on its own size only: a look added is one more chance to cross.

    (The opposite of a group-sequential design, where more looks spend alpha more thinly.)
    """
    designs = [always_valid_design(k, **options) for k in (1, 2, 4, 8, 16, 32)]
    inflations = [d.inflation for d in designs]
    assert all(b < a for a, b in itertools.pairwise(inflations)), inflations
    assert min(inflations) > 1.0
    type_i = [d.type_i_error for d in designs]
    assert all(b > a for a, b in itertools.pairwise(type_i)), type_i
    assert max(type_i) < designs[0].alpha
    # one more look in between never hurts either (not nested: 30 vs 31 looks)
    assert always_valid_inflation(31, **options) < always_valid_inflation(30, **options)


def test_one_sided_counts_one_side_of_the_two_sided_test():
    two = always_valid_design(20)
    one = always_valid_design(20, alternative="greater")
    less = always_valid_design(20, alternative="less")
    assert one.z_bounds == two.z_bounds  # the same test ...
    assert one.inflation > two.inflation  # ... against a stronger fixed design
    assert one.inflation == pytest.approx(less.inflation, rel=1e-14)
    # About half of the type I error lies on each side (the two are disjoint events).
    assert one.type_i_error == pytest.approx(two.type_i_error / 2, rel=1e-9)
    assert one.drift == pytest.approx(two.drift, rel=1e-9)  # crossing below is negligible


def test_the_fixed_point_in_the_sample_size():
    tau, fixed = 0.05, 0.02**2
    design = always_valid_design(30, tau=tau, fixed_variance=fixed)
    # r_K = tau^2 / V_max with V_max = V_fixed / inflation: the design reproduces itself.
    assert design.max_ratio == pytest.approx(tau**2 * design.inflation / fixed, rel=1e-12)
    again = always_valid_design(30, tau=tau, max_variance=fixed / design.inflation)
    assert again.inflation == pytest.approx(design.inflation, rel=1e-11)
    # A tau far from the default's costs sample size on both sides.
    default = always_valid_design(30).inflation
    tuned = {m: always_valid_inflation(30, tau=m * tau, fixed_variance=fixed) for m in (0.1, 10)}
    assert min(tuned.values()) > default
    # tiny tau: the root is still found, far out
    assert always_valid_inflation(5, tau=1e-4, fixed_variance=1.0) > 1e3


# ---------------------------------------------------------------------------- (b) simulation
def simulate(
    design: ablens.AlwaysValidDesign,
    *,
    effect: float,
    tau: float | None,
    n_max: float,
    unit_variance: float,
    runs: int,
    seed: int,
) -> tuple[float, float]:
    """Rejection rates (first crossing above, below) of the test run on simulated estimates.

    The estimate at look k is the mean of n_k unit-level differences: ``effect`` plus a Brownian
    motion in the units divided by ``n_k``. The rejection is the mSPRT's / confidence
    sequence's own rule, ``Lambda >= 1 / alpha``, with ``r_k = tau^2 / V_k`` (or ``t_k r_K``).
    """
    rng = np.random.default_rng(seed)
    sizes = n_max * np.asarray(design.information_fractions)
    steps = np.diff(sizes, prepend=0.0)
    walk = np.cumsum(rng.standard_normal((runs, sizes.size)) * np.sqrt(steps), axis=1)
    estimate = effect + math.sqrt(unit_variance) * walk / sizes
    variance = unit_variance / sizes
    # The confidence sequence and the default tau: r_k = t_k r_K; a fixed tau: tau^2 / V_k.
    ratio = np.asarray(design.ratios) if tau is None else tau**2 / variance
    z2 = estimate**2 / variance
    log_lambda = 0.5 * (ratio / (1 + ratio) * z2 - np.log1p(ratio))
    crossed = log_lambda >= -math.log(design.alpha)
    any_crossed = crossed.any(axis=1)
    first = np.argmax(crossed, axis=1)
    sign = np.sign(estimate[np.arange(runs), first])
    above = float(np.mean(any_crossed & (sign > 0)))
    below = float(np.mean(any_crossed & (sign < 0)))
    return above, below


SIMULATED = [
    pytest.param("msprt", "two-sided", None, 30, id="msprt-two-sided-30"),
    pytest.param("msprt", "greater", None, 14, id="msprt-greater-14"),
    pytest.param("confidence-sequence", "two-sided", None, 21, id="cs-two-sided-21"),
    pytest.param("confidence-sequence", "less", None, 30, id="cs-less-30"),
    pytest.param("msprt", "two-sided", 0.04, 30, id="msprt-tau-two-sided-30"),
    pytest.param("msprt", "greater", 0.25, 10, id="msprt-tau-greater-10"),
]


@pytest.mark.parametrize(("method", "alternative", "tau", "looks"), SIMULATED)
def test_simulated_experiments_reach_the_promised_power(method, alternative, tau, looks):
    alpha, beta, runs = 0.05, 0.2, 200_000
    sd, effect = 2.0, 0.1  # unit-level differences (control and treatment pooled)
    unit_variance = sd**2
    sides = 2 if alternative == "two-sided" else 1
    n_fixed = unit_variance * (fixed_drift(alpha, beta, sides) / effect) ** 2
    options = {} if tau is None else {"tau": tau, "fixed_variance": unit_variance / n_fixed}
    design = always_valid_design(
        looks, method=method, alpha=alpha, beta=beta, alternative=alternative, **options
    )
    n_max = design.inflation * n_fixed
    direction = -1.0 if alternative == "less" else 1.0
    seed = 20261127 + looks
    above, below = simulate(
        design,
        effect=direction * effect,
        tau=tau,
        n_max=n_max,
        unit_variance=unit_variance,
        runs=runs,
        seed=seed,
    )
    power = below if alternative == "less" else above
    assert abs(power - (1 - beta)) <= binomial_range(1 - beta, runs), power
    # A/A at the same sizes: at most alpha, and the design's exact type I error.
    above, below = simulate(
        design,
        effect=0.0,
        tau=tau,
        n_max=n_max,
        unit_variance=unit_variance,
        runs=runs,
        seed=seed + 1,
    )
    rejected = above + below if sides == 2 else (below if alternative == "less" else above)
    assert abs(rejected - design.type_i_error) <= binomial_range(design.type_i_error, runs)
    assert rejected <= alpha + binomial_range(alpha, runs)


# ---------------------------------------------------------------------------- (d) bad input
BAD = [
    ({"looks": 10, "alpha": 1.5}, "alpha == 1.5"),
    ({"looks": 0}, "looks == 0"),
    ({"looks": 10, "beta": 0.0}, "beta == 0.0"),
    ({"looks": 10, "tau": 0.0, "fixed_variance": 1.0}, "tau == 0.0"),
    ({"looks": 10, "tau": -1.0, "max_variance": 1.0}, "tau == -1.0"),
    ({"looks": 10, "tau": 0.1}, "exactly one of fixed_variance"),
    ({"looks": 10, "tau": 0.1, "fixed_variance": 1.0, "max_variance": 1.0}, "exactly one"),
    ({"looks": 10, "fixed_variance": 1.0}, "fixed_variance == 1.0 applies only with tau"),
    ({"looks": 10, "tau": 0.1, "max_variance": 0.0}, "max_variance == 0.0"),
    (
        {"looks": 10, "method": "confidence-sequence", "tau": 0.1, "max_variance": 1.0},
        "applies to method='msprt'",
    ),
    ({"looks": 10, "method": "bayes"}, "method == 'bayes'"),
    ({"looks": 10, "alternative": "bigger"}, "alternative == 'bigger'"),
    ({"looks": [0.5, 0.9]}, "the last must be 1"),
    ({"looks": [0.6, 0.5, 1.0]}, "strictly increasing"),
    ({"looks": [0.0, 1.0]}, "must be in (0, 1]"),
    ({"looks": []}, "non-empty"),
    ({"looks": "daily"}, "looks == 'daily'"),
    ({"looks": True}, "looks == True"),
    ({"looks": 10, "alpha": 0.5, "beta": 0.75}, "beta == 0.75, must be < 1 - alpha / 2"),
]


@pytest.mark.parametrize(("options", "message"), BAD, ids=[m for _, m in BAD])
def test_bad_input_names_the_argument(options, message):
    options = dict(options)
    looks = options.pop("looks")
    with pytest.raises(InputError) as error:
        always_valid_design(looks, **options)
    assert message in str(error.value)
    with pytest.raises(InputError):
        always_valid_inflation(looks, **options)


def test_results_render():
    design = always_valid_design(5, method="confidence-sequence", alternative="greater")
    document = design.to_dict()
    assert document["looks"] == 5
    assert document["z_bounds"] == list(design.z_bounds)
    assert document["inflation"] == design.inflation
    assert "confidence sequence at 5 look(s)" in str(design)
    assert f"inflation {design.inflation:.6g}" in str(design)
    with pytest.raises(InputError, match="max_variance == -1"):
        design.tau(-1)
