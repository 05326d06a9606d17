"""Simulated experiments reach the power `ablens.stats.power` promises.

For each design, the planner's sample size (rounded up to whole units per arm) is simulated
``N`` times and analyzed with the test ablens runs on it: `ablens.proportion_test`, the Welch
`ablens.mean_test`, `ablens.cuped_test` and `ablens.ratio_test`, the last three on
`ablens.Moments.from_columns` of the simulated units. The number of rejections must fall in the
central 99.9% range of Binomial(N, promised power): a correct formula fails this 1 time in
1,000, and the seeds are fixed, so the test is deterministic. Each design's data follow the
assumption the formula makes (normal or binomial outcomes; for the ratio, a lift that scales the
numerator's rate).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import binom

from ablens import Moments, cuped_test, mean_test, proportion_test, ratio_test
from ablens.stats.power import solve_power

SIMULATIONS = 2_000
LEVEL = 0.999


def _sizes(kind: str, power: float, **design) -> tuple[int, ...]:
    """Units per arm: the solved size, each arm rounded up."""
    s = solve_power(kind, n=None, power=power, **design)
    return tuple(math.ceil(size - 1e-9) for size in s.n_per_arm)


def _promised(kind: str, sizes: tuple[int, ...], effect: float, **design) -> float:
    """The power at the whole-unit sizes actually simulated (the smaller treatment arm)."""
    total = sum(sizes)
    split = [size / total for size in sizes]
    split[-1] = 1.0 - sum(split[:-1])
    design = {k: v for k, v in design.items() if k not in ("split", "arms")}
    return solve_power(kind, n=total, effect=effect, power=None, split=split, **design).power


def _check(rejections: int, promised: float) -> None:
    lower, upper = binom.interval(LEVEL, SIMULATIONS, promised)
    empirical = rejections / SIMULATIONS
    assert lower <= rejections <= upper, (
        f"empirical power {empirical:.4f} outside the {LEVEL:.1%} binomial range "
        f"[{lower / SIMULATIONS:.4f}, {upper / SIMULATIONS:.4f}] of the promised {promised:.4f}"
    )


def test_proportion_pooled_z_two_sided():
    design = {"baseline": 0.2, "alternative": "two-sided"}
    effect = 0.03
    sizes = _sizes("proportion", 0.8, effect=effect, **design)
    promised = _promised("proportion", sizes, effect, **design)
    rng = np.random.default_rng(20260101)
    control = rng.binomial(sizes[0], 0.2, SIMULATIONS)
    treatment = rng.binomial(sizes[1], 0.23, SIMULATIONS)
    rejections = sum(
        proportion_test(int(c), sizes[0], int(t), sizes[1]).p_value < 0.05
        for c, t in zip(control, treatment, strict=True)
    )
    _check(rejections, promised)


def test_welch_mean_unequal_sd_unequal_split_one_sided():
    design = {"sd": 1.0, "sd_treatment": 2.0, "split": (0.4, 0.6), "alternative": "greater"}
    effect = 0.2
    sizes = _sizes("mean", 0.8, effect=effect, **design)
    promised = _promised("mean", sizes, effect, **design)
    rng = np.random.default_rng(20260102)
    rejections = 0
    for _ in range(SIMULATIONS):
        c = Moments.from_columns({"y": rng.normal(5.0, 1.0, sizes[0])})
        t = Moments.from_columns({"y": rng.normal(5.0 + effect, 2.0, sizes[1])})
        result = mean_test(
            c.count,
            c.mean_of("y"),
            c.variance("y"),
            t.count,
            t.mean_of("y"),
            t.variance("y"),
            alternative="greater",
        )
        rejections += result.p_value < 0.05
    _check(rejections, promised)


def test_cuped_mean_three_arms_bonferroni():
    """y = x + noise with corr(x, y)^2 = 0.6; control vs the first of two treatments at alpha/2."""
    rho2 = 0.6
    sd_x, sd_y = 2.0, 2.0
    noise = sd_y * math.sqrt(1 - rho2)
    slope = math.sqrt(rho2) * sd_y / sd_x
    design = {
        "sd": sd_y,
        "variance_reduction": rho2,
        "split": (0.5, 0.25, 0.25),
        "correction": "bonferroni",
    }
    effect = 0.2
    sizes = _sizes("mean", 0.8, effect=effect, **design)
    promised = _promised("mean", sizes, effect, **design)
    rng = np.random.default_rng(20260103)
    rejections = 0
    for _ in range(SIMULATIONS):
        arms = []
        for size, shift in ((sizes[0], 0.0), (sizes[1], effect)):
            x = rng.normal(10.0, sd_x, size)
            y = slope * x + rng.normal(shift, noise, size)
            arms.append(Moments.from_columns({"y": y, "x": x}))
        result = cuped_test(arms[0], arms[1], "x", column="y")
        rejections += result.p_value < 0.025
    _check(rejections, promised)


def test_ratio_relative_lift_non_inferiority():
    """Orders per session; the lift scales the order rate; relative margin -2%, log-ratio test."""
    rate, lift, margin, sessions_mean = 0.1, 0.08, -0.02, 4.0
    treated = rate * (1 + lift)

    def linearized_sd(p: float) -> float:  # Var(N - p D) / mean(D)^2 with N | D ~ Bin(D, p)
        return math.sqrt(p * (1 - p) / sessions_mean)

    design = {
        "sd": linearized_sd(rate),
        "sd_treatment": linearized_sd(treated),
        "baseline": rate,
        "effect_type": "relative",
        "margin": margin,
        "alternative": "greater",
    }
    sizes = _sizes("mean", 0.8, effect=lift, **design)
    promised = _promised("mean", sizes, lift, **design)
    rng = np.random.default_rng(20260104)
    rejections = 0
    for _ in range(SIMULATIONS):
        arms = []
        for size, p in ((sizes[0], rate), (sizes[1], treated)):
            sessions = 1 + rng.poisson(sessions_mean - 1, size)
            orders = rng.binomial(sessions, p)
            arms.append(Moments.from_columns({"orders": orders, "sessions": sessions}))
        result = ratio_test(
            arms[0],
            arms[1],
            "orders",
            "sessions",
            alternative="greater",
            margin=margin,
            margin_type="relative",
        )
        rejections += result.p_value < 0.05
    _check(rejections, promised)


@pytest.mark.parametrize("promised", [0.5, 0.8, 0.95])
def test_the_tolerance_is_the_binomial_range(promised):
    """The acceptance range is neither guessed nor too wide: about +-3.3 binomial sd."""
    lower, upper = binom.interval(LEVEL, SIMULATIONS, promised)
    sd = math.sqrt(SIMULATIONS * promised * (1 - promised))
    assert (upper - lower) / (2 * sd) == pytest.approx(3.29, abs=0.1)
