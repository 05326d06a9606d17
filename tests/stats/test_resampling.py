"""Bootstrap intervals and permutation tests: R's boot, scipy, simulations, bad input.

* R: ``tests/fixtures/r/nonparametric.R`` runs ``boot::boot`` (stratified by arm, R = 20,000)
  and ``boot.ci(type = c("perc", "bca"))`` on three data sets for a difference in means and in
  medians. The random streams differ, so the bounds are compared within their Monte Carlo error,
  measured (not guessed) from our own replicates; the parts without randomness (estimate,
  jackknife acceleration) must agree to 1e-9.
* scipy: for a seed and batch size, `bootstrap` and `permutation_test` draw the resamples that
  `scipy.stats.bootstrap` and `scipy.stats.permutation_test` draw with
  ``rng=default_rng(seed)``, so the results must agree to rounding.
* Simulations: interval coverage and A/A false-positive rates within the central 99.9% range of
  the binomial distribution of the count, as in ``test_simulation.py``.
"""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from scipy import stats
from scipy.special import ndtr, ndtri

from ablens.errors import DataError, InputError
from ablens.stats.resampling import (
    DEFAULT_BATCH_BYTES,
    BootstrapResult,
    PermutationResult,
    bootstrap,
    permutation_test,
)
from helpers import binomial_range

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "r" / "nonparametric.json"
REFERENCE: dict[str, Any] = json.loads(FIXTURE.read_text(encoding="utf-8"))
BOOT_CASES = REFERENCE["bootstrap"]
FAMILY_ERROR = 0.001  # chance that a correct implementation fails some comparison of a family


def mean_difference(control, treatment, axis=-1):
    return np.mean(treatment, axis=axis) - np.mean(control, axis=axis)


def median_difference(control, treatment, axis=-1):
    return np.median(treatment, axis=axis) - np.median(control, axis=axis)


STATISTICS = {"mean_difference": mean_difference, "median_difference": median_difference}


def family_z(comparisons: int) -> float:
    """Two-sided normal quantile for `comparisons` checks at family-wise error FAMILY_ERROR."""
    return float(ndtri(1 - FAMILY_ERROR / (2 * comparisons)))


def arms(dataset: str) -> tuple[np.ndarray, np.ndarray]:
    data = REFERENCE["bootstrap_datasets"][dataset]
    return np.array(data["control"]), np.array(data["treatment"])


# --------------------------------------------------------------------------- R's boot package
#
# boot.ci's interval is our interval computed with three different conventions (see the R
# script): quantiles interpolated on the normal scale (norm.inter), a strict count for z0, and
# its own acceleration. `boot_conventions` applies them to OUR replicates; what remains between
# that and R's number is Monte Carlo error alone: two independent sets of 20,000 replicates.


def norm_inter(sorted_replicates: np.ndarray, levels: np.ndarray) -> np.ndarray:
    """boot:::norm.inter: quantiles interpolated between order statistics on the normal scale."""
    t = sorted_replicates
    r = t.size
    out = []
    for level in levels:
        rank = (r + 1) * level
        k = int(rank)
        if k == rank:
            out.append(t[k - 1])
        elif k == 0:
            out.append(t[0])
        elif k == r:
            out.append(t[-1])
        else:
            z, z_k, z_k1 = ndtri(level), ndtri(k / (r + 1)), ndtri((k + 1) / (r + 1))
            out.append(t[k - 1] + (z - z_k) / (z_k1 - z_k) * (t[k] - t[k - 1]))
    return np.array(out)


def boot_conventions(replicates, estimate, acceleration, method, level=0.95):
    """boot.ci's percentile / BCa bounds (perc.ci, bca.ci of boot 1.3) from given replicates."""
    levels = np.array([(1 - level) / 2, (1 + level) / 2])
    if method == "bca":
        w = ndtri(np.mean(replicates < estimate))  # strict: boot counts no tie
        z = ndtri(levels)
        levels = ndtr(w + (w + z) / (1 - acceleration * (w + z)))
    return norm_inter(np.sort(replicates), levels)


def monte_carlo_standard_error(replicates, estimate, acceleration, method, draws=100):
    """Standard error of the bounds due to drawing B replicates, from resampling the replicates.

    A bootstrap of the Monte Carlo sample itself: the bounds recomputed from `draws` resamples
    of the B replicates vary as bounds from fresh sets of B replicates would. It covers both the
    quantile's error and, for BCa, that of z0.
    """
    rng = np.random.default_rng(20240919)
    b = replicates.size
    bounds = [
        boot_conventions(replicates[rng.integers(0, b, b)], estimate, acceleration, method)
        for _ in range(draws)
    ]
    return np.std(bounds, axis=0, ddof=1)


def test_fixture_covers_the_intended_cases():
    assert {c["statistic"] for c in BOOT_CASES} == set(STATISTICS)
    sizes = [tuple(len(v) for v in d.values()) for d in REFERENCE["bootstrap_datasets"].values()]
    assert any(n_c == n_t for n_c, n_t in sizes)
    assert any(n_c != n_t for n_c, n_t in sizes)
    assert all(c["options"]["n_resamples"] == 20_000 for c in BOOT_CASES)


@pytest.mark.parametrize("case", BOOT_CASES, ids=lambda case: case["id"])
def test_estimate_and_acceleration_match_r(case):
    # No randomness here: the statistic on the data and the jackknife acceleration (the
    # size-weighted multi-sample form, written out in the R script) must agree to 1e-9.
    control, treatment = arms(case["dataset"])
    result = bootstrap(STATISTICS[case["statistic"]], control, treatment, n_resamples=100, seed=1)
    expected = case["expected"]
    assert result.estimate == pytest.approx(expected["estimate"], rel=1e-9, abs=1e-12)
    assert result.acceleration == pytest.approx(expected["acceleration"], rel=1e-9, abs=1e-12)
    if control.size == treatment.size and case["statistic"] == "mean_difference":
        # Equal arms, jackknife values centred on the estimate: boot's formula is the same.
        assert result.acceleration == pytest.approx(expected["acceleration_boot"], rel=1e-9)


def test_acceleration_of_a_mean_difference_is_the_skewness_of_the_estimate():
    # For a mean, the jackknife terms U_i are x_i - mean exactly, so the size-weighted form is
    # (m3_t / n_t^2 - m3_c / n_c^2) / (6 (m2_t / n_t + m2_c / n_c)^(3/2)), m_k the k-th central
    # moment (divided by n): one sixth of the skewness of mean_t - mean_c.
    control, treatment = arms("lognormal_61_90")
    result = bootstrap(mean_difference, control, treatment, n_resamples=100, seed=1)

    def moment(x, k):
        return np.mean((x - x.mean()) ** k)

    n_c, n_t = control.size, treatment.size
    third = moment(treatment, 3) / n_t**2 - moment(control, 3) / n_c**2
    variance = moment(treatment, 2) / n_t + moment(control, 2) / n_c
    assert result.acceleration == pytest.approx(third / (6 * variance**1.5), rel=1e-10)


BOUND_COMPARISONS = len(BOOT_CASES) * 2 * 2  # cases x methods x bounds


@pytest.mark.parametrize("method", ["percentile", "bca"])
@pytest.mark.parametrize("case", BOOT_CASES, ids=lambda case: case["id"])
def test_interval_matches_boot_ci_within_monte_carlo_error(case, method):
    control, treatment = arms(case["dataset"])
    expected = case["expected"]
    result = bootstrap(
        STATISTICS[case["statistic"]],
        control,
        treatment,
        n_resamples=case["options"]["n_resamples"],
        confidence_level=case["options"]["confidence_level"],
        method=method,
        seed=2024,
    )
    r_bounds = np.array(expected["bca" if method == "bca" else "percentile"])
    a_boot = expected["acceleration_boot"]
    ours_in_r_conventions = boot_conventions(result.distribution, result.estimate, a_boot, method)
    se = monte_carlo_standard_error(result.distribution, result.estimate, a_boot, method)
    # R's 20,000 replicates carry the same Monte Carlo error as ours: the difference of the two
    # estimates has standard error sqrt(2) se. Bonferroni over the 24 bounds of this family.
    tolerance = family_z(BOUND_COMPARISONS) * math.sqrt(2) * se
    assert np.all(np.abs(ours_in_r_conventions - r_bounds) <= tolerance), (
        ours_in_r_conventions,
        r_bounds,
        tolerance,
    )
    # And the interval ablens reports differs from R's by that Monte Carlo error plus the effect
    # of the conventions, measured on the same replicates.
    convention_effect = np.abs(np.array(result.ci) - ours_in_r_conventions)
    assert np.all(np.abs(np.array(result.ci) - r_bounds) <= tolerance + convention_effect)
    if method == "percentile" or control.size == treatment.size:
        # Only boot's acceleration for unequal arms moves a bound by more than the Monte Carlo
        # error (see the R script); quantile interpolation and the tie count do not.
        assert np.all(convention_effect <= se)
    # The bootstrap standard error itself: its relative Monte Carlo error is about
    # sqrt((kurtosis - 1) / (4 B)) < 1% here; allow 3%.
    assert result.standard_error == pytest.approx(expected["standard_error"], rel=0.03)


# --------------------------------------------------------------------------- scipy.stats


@pytest.mark.parametrize("alternative", ["two-sided", "greater", "less"])
@pytest.mark.parametrize(("method", "scipy_method"), [("bca", "BCa"), ("percentile", "percentile")])
@pytest.mark.parametrize("statistic", sorted(STATISTICS))
@pytest.mark.parametrize("dataset", sorted(REFERENCE["bootstrap_datasets"]))
def test_bootstrap_reproduces_scipy(dataset, statistic, method, scipy_method, alternative):
    control, treatment = arms(dataset)
    batch = 700 if alternative == "two-sided" else None  # both a partial and a single batch
    result = bootstrap(
        STATISTICS[statistic],
        control,
        treatment,
        n_resamples=2000,
        confidence_level=0.9,
        method=method,
        alternative=alternative,
        seed=5,
        batch_size=batch,
    )
    expected = stats.bootstrap(
        (control, treatment),
        STATISTICS[statistic],
        n_resamples=2000,
        confidence_level=0.9,
        method=scipy_method,
        alternative=alternative,
        rng=np.random.default_rng(5),
        batch=result.batch_size,
        vectorized=True,
    )
    np.testing.assert_array_equal(result.distribution, expected.bootstrap_distribution)
    low, high = expected.confidence_interval
    assert result.ci_lower == pytest.approx(low, rel=1e-12, abs=1e-15)
    assert result.ci_upper == pytest.approx(high, rel=1e-12, abs=1e-15)
    assert result.standard_error == pytest.approx(expected.standard_error, rel=1e-12)


@pytest.mark.parametrize("alternative", ["two-sided", "greater", "less"])
@pytest.mark.parametrize("batch", [None, 333])
def test_permutation_test_reproduces_scipy(alternative, batch):
    control, treatment = arms("lognormal_61_90")
    result = permutation_test(
        mean_difference,
        control,
        treatment,
        n_resamples=3000,
        alternative=alternative,
        seed=8,
        batch_size=batch,
    )
    expected = stats.permutation_test(
        (control, treatment),
        mean_difference,
        n_resamples=3000,
        alternative=alternative,
        rng=np.random.default_rng(8),
        batch=result.batch_size,
        vectorized=True,
    )
    np.testing.assert_array_equal(result.null_distribution, expected.null_distribution)
    assert result.statistic == expected.statistic
    assert result.p_value == expected.pvalue


@pytest.mark.parametrize("statistic", sorted(STATISTICS))
def test_permutation_test_agrees_with_scipy_within_monte_carlo_error(statistic):
    # Independent random streams this time: the p-values differ by Monte Carlo error only.
    # Each estimates p with variance p (1 - p) / B, so their difference has sd sqrt(2 p (1-p) / B).
    control, treatment = arms("exponential_51")
    b = 20_000
    ours = permutation_test(
        STATISTICS[statistic], control, treatment, n_resamples=b, alternative="greater", seed=1
    )
    theirs = stats.permutation_test(
        (control, treatment),
        STATISTICS[statistic],
        n_resamples=b,
        alternative="greater",
        rng=np.random.default_rng(2),
        vectorized=True,
    )
    p = (ours.p_value + theirs.pvalue) / 2
    assert 0.001 < p < 0.2  # a p-value where the comparison means something
    se = math.sqrt(2 * p * (1 - p) / b)
    assert abs(ours.p_value - theirs.pvalue) <= family_z(2) * se


@pytest.mark.parametrize("alternative", ["two-sided", "greater", "less"])
def test_permutation_p_value_agrees_with_exact_enumeration(alternative):
    # n = 6 + 6: all C(12, 6) = 924 splits enumerated. The Monte Carlo p-value
    # (count + 1) / (B + 1) has mean (B p + 1) / (B + 1) and sd sqrt(p (1 - p) / B) B / (B + 1).
    control = np.array([4.1, 5.3, 3.8, 6.0, 4.7, 5.1])
    treatment = np.array([5.9, 6.4, 4.9, 7.2, 5.6, 6.8])
    pooled = np.concatenate([control, treatment])
    observed = mean_difference(control, treatment)
    splits = [
        (pooled[list(c)], np.delete(pooled, list(c))) for c in itertools.combinations(range(12), 6)
    ]
    null = np.array([mean_difference(c, t) for c, t in splits])
    assert null.size == math.comb(12, 6) == 924
    tolerance = 100 * np.finfo(float).eps * abs(observed)
    p_greater = np.mean(null >= observed - tolerance)
    p_less = np.mean(null <= observed + tolerance)
    exact = {
        "greater": p_greater,
        "less": p_less,
        "two-sided": min(1.0, 2 * min(p_less, p_greater)),
    }
    # The two-sided p-value doubles the smaller tail; its Monte Carlo sd doubles too.
    tail = {"greater": p_greater, "less": p_less, "two-sided": min(p_less, p_greater)}
    scale = 2 if alternative == "two-sided" else 1
    b = 20_000
    result = permutation_test(
        mean_difference, control, treatment, n_resamples=b, alternative=alternative, seed=11
    )
    p = tail[alternative]
    mean = min(1.0, scale * (b * p + 1) / (b + 1))
    se = scale * math.sqrt(p * (1 - p) / b) * b / (b + 1)
    assert 0 < exact[alternative] < 1
    assert abs(result.p_value - mean) <= family_z(3) * se, (result.p_value, exact[alternative])


# --------------------------------------------------------------------------- simulations

N_COVERAGE = 400


@pytest.mark.parametrize("method", ["percentile", "bca"])
def test_coverage_of_the_difference_in_means(method):
    # 400 experiments, 200 units per arm, lognormal(0, 1) control and a 10% lift: skewed data
    # where the bootstrap interval of a mean difference is expected to be close to, but not
    # exactly, 95%. The 99.9% range of Binomial(400, 0.95) is [364, 393] = [91.0%, 98.25%].
    rng = np.random.default_rng(31)
    n, lift = 200, 0.10
    true_effect = lift * math.exp(0.5)  # E[lognormal(0, 1)] = exp(1/2)
    covered = 0
    for i in range(N_COVERAGE):
        control = rng.lognormal(0.0, 1.0, n)
        treatment = rng.lognormal(0.0, 1.0, n) * (1 + lift)
        result = bootstrap(
            mean_difference, control, treatment, n_resamples=2000, method=method, seed=i
        )
        covered += result.ci_lower <= true_effect <= result.ci_upper
    low, high = binomial_range(N_COVERAGE, 0.95)
    assert (low, high) == (364, 393)
    assert low <= covered <= high, covered


N_PERMUTATION_AA = 1_000


def test_permutation_test_aa_false_positive_rate():
    # Under A/A the arms are exchangeable, so the permutation test is valid at any sample size:
    # with B = 999 and the +1 correction, P(p <= 0.05) is exactly 50 / 1000 for a continuous
    # statistic. 1000 experiments of 50 lognormal units per arm; the 99.9% range of
    # Binomial(1000, 0.05) is [29, 74].
    rng = np.random.default_rng(41)
    rejections = 0
    for i in range(N_PERMUTATION_AA):
        control = rng.lognormal(0.0, 1.0, 50)
        treatment = rng.lognormal(0.0, 1.0, 50)
        result = permutation_test(mean_difference, control, treatment, n_resamples=999, seed=i)
        rejections += result.p_value <= 0.05
    low, high = binomial_range(N_PERMUTATION_AA, 0.05)
    assert (low, high) == (29, 74)
    assert low <= rejections <= high, rejections


# --------------------------------------------------------------------------- behaviour


def test_results_are_deterministic_for_a_seed_and_record_it():
    control, treatment = arms("exponential_51")
    first = bootstrap(mean_difference, control, treatment, n_resamples=500, seed=3)
    again = bootstrap(mean_difference, control, treatment, n_resamples=500, seed=3)
    assert first == again
    np.testing.assert_array_equal(first.distribution, again.distribution)
    fresh = bootstrap(mean_difference, control, treatment, n_resamples=500)
    assert fresh.seed >= 0
    replay = bootstrap(mean_difference, control, treatment, n_resamples=500, seed=fresh.seed)
    np.testing.assert_array_equal(fresh.distribution, replay.distribution)
    permuted = permutation_test(mean_difference, control, treatment, n_resamples=500)
    replay_p = permutation_test(
        mean_difference, control, treatment, n_resamples=500, seed=permuted.seed
    )
    assert permuted == replay_p


def test_non_vectorized_statistic_gives_the_same_result():
    control, treatment = arms("exponential_51")

    def scalar(c, t):
        assert c.ndim == t.ndim == 1
        return float(np.median(t) - np.median(c))

    kwargs = {"n_resamples": 300, "seed": 4, "batch_size": 128}
    looped = bootstrap(scalar, control, treatment, vectorized=False, **kwargs)
    vectorized = bootstrap(median_difference, control, treatment, **kwargs)
    np.testing.assert_allclose(looped.distribution, vectorized.distribution, rtol=1e-14)
    assert looped.ci == pytest.approx(vectorized.ci, rel=1e-12)
    assert looped.acceleration == pytest.approx(vectorized.acceleration, rel=1e-9, abs=1e-15)
    p_looped = permutation_test(scalar, control, treatment, vectorized=False, **kwargs)
    p_vectorized = permutation_test(median_difference, control, treatment, **kwargs)
    assert p_looped.p_value == p_vectorized.p_value


def test_memory_is_bounded_and_reported():
    rng = np.random.default_rng(5)
    control, treatment = rng.normal(size=3000), rng.normal(size=2000)
    result = bootstrap(mean_difference, control, treatment, n_resamples=1000, seed=1)
    assert result.memory_bytes == result.batch_size * 5000 * 16 <= DEFAULT_BATCH_BYTES
    assert result.batch_size == DEFAULT_BATCH_BYTES // (5000 * 16)
    small = bootstrap(mean_difference, control, treatment, n_resamples=1000, seed=1, batch_size=10)
    assert small.memory_bytes == 10 * 5000 * 16
    permuted = permutation_test(
        mean_difference, control, treatment, n_resamples=100, seed=1, batch_size=7
    )
    assert (permuted.batch_size, permuted.memory_bytes) == (7, 7 * 5000 * 8)
    # A batch never exceeds the number of resamples.
    tiny = bootstrap(mean_difference, [1.0, 2.0], [3.0, 5.0], n_resamples=100, seed=1)
    assert tiny.batch_size == 100


def test_one_sided_intervals_are_open_on_one_side():
    control, treatment = arms("lognormal_80")
    greater = bootstrap(
        mean_difference, control, treatment, n_resamples=500, alternative="greater", seed=1
    )
    less = bootstrap(
        mean_difference, control, treatment, n_resamples=500, alternative="less", seed=1
    )
    assert greater.ci_upper == math.inf
    assert less.ci_lower == -math.inf
    assert greater.ci_lower < greater.estimate < less.ci_upper


def test_results_serialize_without_the_replicates():
    control, treatment = arms("lognormal_80")
    result = bootstrap(mean_difference, control, treatment, n_resamples=200, seed=1)
    assert isinstance(result, BootstrapResult)
    record = result.to_dict()
    assert "distribution" not in record
    assert record["method"] == "bca"
    assert record["bias_correction"] == result.bias_correction
    assert not result.distribution.flags.writeable
    assert "distribution" not in repr(result)
    percentile = bootstrap(
        mean_difference, control, treatment, n_resamples=200, seed=1, method="percentile"
    )
    assert percentile.bias_correction is None
    assert percentile.acceleration is None
    permuted = permutation_test(mean_difference, control, treatment, n_resamples=200, seed=1)
    assert isinstance(permuted, PermutationResult)
    assert "null_distribution" not in permuted.to_dict()
    assert permuted.null_mean == pytest.approx(permuted.null_distribution.mean())
    assert json.loads(json.dumps(record))["n_resamples"] == 200
    assert json.loads(json.dumps(permuted.to_dict()))["p_value"] == permuted.p_value


def test_constant_statistic_gives_a_point_interval():
    control, treatment = arms("lognormal_80")
    result = bootstrap(lambda c, t: np.zeros(c.shape[0]), control, treatment, n_resamples=100)
    assert result.ci == (0.0, 0.0)
    assert (result.bias_correction, result.acceleration) == (0.0, 0.0)


def distinct_treatment_values(control, treatment):
    del control
    return (np.diff(np.sort(treatment, axis=-1), axis=-1) != 0).sum(axis=-1) + 1.0


def test_bca_is_refused_when_every_replicate_is_on_one_side():
    # A resample of 80 distinct values repeats some of them (all but surely): every replicate
    # of a distinct count is below the estimate, and z0 is infinite.
    control, treatment = arms("lognormal_80")
    with pytest.raises(DataError, match=r"every bootstrap replicate lies strictly on one side"):
        bootstrap(distinct_treatment_values, control, treatment, n_resamples=200, seed=1)
    result = bootstrap(
        distinct_treatment_values,
        control,
        treatment,
        n_resamples=200,
        method="percentile",
        seed=1,
    )
    assert result.ci_upper < result.estimate == 80


# --------------------------------------------------------------------------- bad input

GOOD = ([1.0, 2.0, 3.5, 4.0], [2.0, 3.0, 5.5])


@pytest.mark.parametrize("function", [bootstrap, permutation_test])
@pytest.mark.parametrize(
    ("control", "treatment", "match"),
    [
        ([], GOOD[1], r"control has 0 values, must have at least"),
        (GOOD[0], [], r"treatment has 0 values, must have at least"),
        ([1.0, math.nan, 2.0], GOOD[1], r"control has 1 NaN or infinite value\(s\)"),
        (GOOD[0], [1.0, -math.inf], r"treatment has 1 NaN or infinite value\(s\)"),
        (np.ones((2, 2)), GOOD[1], r"control has shape \(2, 2\), must be 1-D"),
    ],
)
def test_bad_data_names_the_argument(function, control, treatment, match):
    with pytest.raises(InputError, match=match):
        function(mean_difference, control, treatment, seed=1)


def test_bootstrap_needs_two_values_per_arm():
    with pytest.raises(InputError, match=r"treatment has 1 values, must have at least 2"):
        bootstrap(mean_difference, GOOD[0], [1.0], seed=1)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n_resamples": 99}, r"n_resamples == 99, must be >= 100"),
        ({"n_resamples": 1000.5}, r"n_resamples == 1000\.5, must be a whole number"),
        ({"confidence_level": 1.5}, r"confidence_level == 1\.5, must be in \(0, 1\)"),
        ({"confidence_level": math.nan}, r"confidence_level == nan, must be finite"),
        ({"method": "bootstrap-t"}, r"method == 'bootstrap-t', must be one of 'bca', 'perc"),
        ({"method": "BCa"}, r"method == 'BCa', must be one of"),
        ({"alternative": "both"}, r"alternative == 'both', must be one of"),
        ({"seed": -1}, r"seed == -1, must be None or a non-negative integer"),
        ({"seed": 1.5}, r"seed == 1\.5, must be None or a non-negative integer"),
        ({"seed": True}, r"seed == True, must be None or a non-negative integer"),
        ({"batch_size": 0}, r"batch_size == 0, must be >= 1"),
        ({"vectorized": "no"}, r"vectorized == 'no', must be True or False"),
    ],
)
def test_bad_bootstrap_options_name_the_argument(kwargs, match):
    with pytest.raises(InputError, match=match):
        bootstrap(mean_difference, *GOOD, **{"seed": 1, **kwargs})


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n_resamples": 10}, r"n_resamples == 10, must be >= 100"),
        ({"alternative": "two.sided"}, r"alternative == 'two.sided', must be one of"),
        ({"seed": "7"}, r"seed == '7', must be None or a non-negative integer"),
        ({"batch_size": -5}, r"batch_size == -5, must be >= 1"),
    ],
)
def test_bad_permutation_options_name_the_argument(kwargs, match):
    with pytest.raises(InputError, match=match):
        permutation_test(mean_difference, *GOOD, **{"seed": 1, **kwargs})


@pytest.mark.parametrize("function", [bootstrap, permutation_test])
@pytest.mark.parametrize(
    ("statistic", "kwargs", "match"),
    [
        ("mean", {}, r"statistic == 'mean', must be callable"),
        (lambda c, t: np.mean(t) - np.mean(c), {}, r"statistic returned shape \(\) for 1 resa"),
        (lambda c, t: t - t.mean(), {}, r"must return shape \(1,\): one value per row"),
        (lambda c, t: np.full(c.shape[0], np.nan), {}, r"statistic returned nan on the data"),
        (lambda c, t: [1.0, 2.0], {"vectorized": False}, r"must return one number when vec"),
        (lambda c, t: "x", {"vectorized": False}, r"statistic failed on 1 resample"),
    ],
)
def test_bad_statistic_is_explained(function, statistic, kwargs, match):
    with (
        pytest.raises(InputError, match=match),
        np.errstate(divide="ignore", invalid="ignore"),
    ):
        function(statistic, *GOOD, seed=1, **kwargs)


def test_non_finite_replicates_are_refused():
    # A ratio of means is infinite on resamples whose control values are all 0.
    control, treatment = [0.0, 0.0, 0.0, 1.0], [1.0, 2.0, 3.0]
    with (
        pytest.raises(InputError, match=r"statistic returned \d+ NaN or infinite value\(s\) over"),
        np.errstate(divide="ignore"),
    ):
        bootstrap(
            lambda c, t: t.mean(axis=-1) / c.mean(axis=-1),
            control,
            treatment,
            n_resamples=1000,
            seed=1,
        )
