"""Peeking: always-valid methods keep their error rate under 30 daily looks; the z test does not.

Each simulated experiment runs 30 days; units arrive daily (Poisson, about 400 a day, split 50/50
by a fair coin), and every day the analyst reads the cumulative results. A method "rejects" an
experiment if it rejects at any of the 30 looks. Under A/A data (no effect, correct split):

* the mSPRT, the asymptotic confidence sequence and the sequential SRM check must reject at most
  ``alpha`` of the experiments: the count must not exceed the top of the central 99.9% range of
  Binomial(N, alpha);
* the fixed-horizon z test read daily must reject far more often: its count must exceed that
  same range (with 30 looks it runs at 4 to 5 times alpha).

With a true effect, the always-valid intervals must hold it at all 30 looks at once in at least
95% of experiments (count not below the 99.9% range of Binomial(N, 0.95)), where the daily
fixed-horizon 95% interval does not.

Per-unit data are drawn through their exact daily sufficient statistics (for normal data, a
day's mean is normal and its centred sum of squares a scaled chi-square, independently; for
Bernoulli data, the day's successes are binomial), accumulated with numpy over all experiments
at once.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from ablens.stats.always_valid import (
    EffectLook,
    asymptotic_confidence_sequence,
    default_tau,
    msprt,
    sequential_srm_test,
)
from helpers import binomial_range

N_EXPERIMENTS = 2_000
N_DAYS = 30
DAILY_UNITS = 400
ALPHA = 0.05
SIGMA = 2.0
BASE_RATE = 0.1
PLANNED_PER_ARM = N_DAYS * DAILY_UNITS // 2


def daily_counts(rng):
    """Units per arm per day, shape (N_EXPERIMENTS, N_DAYS) each."""
    units = rng.poisson(DAILY_UNITS, size=(N_EXPERIMENTS, N_DAYS))
    treatment = rng.binomial(units, 0.5)
    return units - treatment, treatment


def cumulative_normal_arm(rng, counts, mean):
    """Cumulative count, mean and sample variance of N(mean, SIGMA^2) data, day by day."""
    safe = np.maximum(counts, 2)
    day_mean = rng.normal(mean, SIGMA / np.sqrt(safe))
    day_ss = SIGMA**2 * rng.chisquare(safe - 1)
    n = np.cumsum(safe, axis=1)
    total = np.cumsum(safe * day_mean, axis=1)
    squares = np.cumsum(day_ss + safe * day_mean**2, axis=1)
    cum_mean = total / n
    return n, cum_mean, (squares - n * cum_mean**2) / (n - 1)


def normal_looks(rng, effect):
    """Per experiment: cumulative estimates, variances and counts at each look."""
    n_c, n_t = daily_counts(rng)
    nc, mc, vc = cumulative_normal_arm(rng, n_c, 1.0)
    nt, mt, vt = cumulative_normal_arm(rng, n_t, 1.0 + effect)
    return mt - mc, vt / nt + vc / nc, nc + nt, nc, nt


def bernoulli_looks(rng, effect):
    n_c, n_t = daily_counts(rng)
    nc, nt = np.cumsum(n_c, axis=1), np.cumsum(n_t, axis=1)
    xc = np.cumsum(rng.binomial(n_c, BASE_RATE), axis=1)
    xt = np.cumsum(rng.binomial(n_t, BASE_RATE + effect), axis=1)
    pc, pt = xc / nc, xt / nt
    return pt - pc, pt * (1 - pt) / nt + pc * (1 - pc) / nc, nc + nt, nc, nt


def planned_variance(kind):
    unit_variance = SIGMA**2 if kind == "normal" else BASE_RATE * (1 - BASE_RATE)
    return 2 * unit_variance / PLANNED_PER_ARM


def analyze(estimate, variance, count, kind, truth):
    """Per experiment: ever rejected, and intervals covering `truth` at every look."""
    tau = default_tau(planned_variance(kind), alpha=ALPHA)
    rejected = {"msprt": 0, "cs": 0}
    covered = {"msprt": 0, "cs": 0}
    for i in range(N_EXPERIMENTS):
        looks = [
            EffectLook(float(e), float(v), int(n))
            for e, v, n in zip(estimate[i], variance[i], count[i], strict=True)
        ]
        results = {
            "msprt": msprt(looks, tau=tau, alpha=ALPHA),
            "cs": asymptotic_confidence_sequence(
                looks, planned_count=2 * PLANNED_PER_ARM, alpha=ALPHA
            ),
        }
        for name, result in results.items():
            rejected[name] += result.rejected
            # Running intersections are nested: covering at the last look is covering at all.
            lower, upper = result.final.ci
            covered[name] += bool(lower <= truth <= upper)
    return rejected, covered


def naive_z(estimate, variance, truth=0.0):
    """Fixed-horizon two-sided z test and 95% interval, read at every look."""
    z = (estimate - truth) / np.sqrt(variance)
    q = stats.norm.ppf(1 - ALPHA / 2)
    ever_rejects = np.any(np.abs(z) > q, axis=1)
    return int(ever_rejects.sum()), int((~ever_rejects).sum())


def test_binomial_range_is_what_it_says():
    assert binomial_range(2_000, 0.05) == (69, 133)
    assert binomial_range(2_000, 0.95) == (1867, 1931)


@pytest.mark.parametrize("kind", ["normal", "bernoulli"])
def test_aa_peeking_keeps_alpha_for_always_valid_methods_only(kind):
    rng = np.random.default_rng(2024 if kind == "normal" else 2025)
    simulate = normal_looks if kind == "normal" else bernoulli_looks
    estimate, variance, count, nc, nt = simulate(rng, 0.0)
    rejected, _ = analyze(estimate, variance, count, kind, 0.0)
    _, high = binomial_range(N_EXPERIMENTS, ALPHA)
    assert rejected["msprt"] <= high, rejected
    assert rejected["cs"] <= high, rejected
    naive, _ = naive_z(estimate, variance)
    assert naive > high, naive
    # The sequential SRM check on the arm counts of the same experiments.
    mismatches = sum(
        sequential_srm_test(np.column_stack([nc[i], nt[i]]).tolist(), alpha=ALPHA).mismatch
        for i in range(N_EXPERIMENTS)
    )
    assert mismatches <= high, mismatches


def test_always_valid_intervals_cover_a_true_effect_at_every_look():
    rng = np.random.default_rng(2026)
    effect = 0.1  # about 2.7 standard errors at the planned end: an MDE-sized effect
    estimate, variance, count, _, _ = normal_looks(rng, effect)
    _, covered = analyze(estimate, variance, count, "normal", effect)
    low, _ = binomial_range(N_EXPERIMENTS, 1 - ALPHA)
    assert covered["msprt"] >= low, covered
    assert covered["cs"] >= low, covered
    _, naive_covered = naive_z(estimate, variance, truth=effect)
    assert naive_covered < low, naive_covered
