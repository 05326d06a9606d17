"""Always-valid inference: the mSPRT, the asymptotic confidence sequence and the sequential SRM.

The formulas are checked against direct transcriptions of the papers' expressions (in the
variables the papers use), the sequential SRM Bayes factor against an independent integral and
scipy's Dirichlet-multinomial, and the running p-values and intervals for their invariants.
The error rates under repeated looks are checked by simulation in test_peeking_simulation.py.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy import integrate, optimize, stats

from ablens.errors import InputError
from ablens.stats.always_valid import (
    EffectLook,
    asymptotic_confidence_sequence,
    default_tau,
    msprt,
    sequential_srm_test,
)
from ablens.stats.moments import Moments


def random_looks(rng, n_looks=20, effect=0.0, sigma=1.0, per_look=50):
    """Cumulative looks of a two-arm experiment with normal data."""
    control = rng.normal(0.0, sigma, size=n_looks * per_look)
    treatment = rng.normal(effect, sigma, size=n_looks * per_look)
    looks = []
    for k in range(1, n_looks + 1):
        c, t = control[: k * per_look], treatment[: k * per_look]
        variance = c.var(ddof=1) / len(c) + t.var(ddof=1) / len(t)
        looks.append(EffectLook(t.mean() - c.mean(), variance, len(c) + len(t)))
    return looks


def paper_msprt(looks, tau, alpha):
    """Johari et al.'s expressions, verbatim in V and tau^2."""
    p, lower, upper, p_run, lo_run, hi_run = [], [], [], 1.0, -math.inf, math.inf
    for look in looks:
        v, t2, theta = look.variance, tau**2, look.estimate
        lam = math.sqrt(v / (v + t2)) * math.exp(t2 * theta**2 / (2 * v * (v + t2)))
        p_run = min(p_run, 1.0, 1.0 / lam)
        half = math.sqrt((v * (v + t2) / t2) * (math.log((v + t2) / v) - 2 * math.log(alpha)))
        lo_run, hi_run = max(lo_run, theta - half), min(hi_run, theta + half)
        p.append(p_run)
        lower.append(lo_run)
        upper.append(hi_run)
    return p, lower, upper


def paper_cs_half_width(look, planned, alpha):
    """Waudby-Smith et al.'s boundary, verbatim in t, rho and sigma_hat."""
    t = look.count
    rho2 = (-2 * math.log(alpha) + math.log(-2 * math.log(alpha) + 1)) / planned
    sigma = math.sqrt(t * look.variance)  # per-unit influence standard deviation
    return sigma * math.sqrt(
        2 * (t * rho2 + 1) / (t**2 * rho2) * math.log(math.sqrt(t * rho2 + 1) / alpha)
    )


# ------------------------------------------------------------------------------------ looks
def test_look_from_moments_matches_the_arm_formulas():
    rng = np.random.default_rng(1)
    c, t = rng.normal(5, 2, 300), rng.normal(5.5, 3, 200)
    look = EffectLook.from_moments(Moments.from_columns({"y": c}), Moments.from_columns({"y": t}))
    assert look.estimate == pytest.approx(t.mean() - c.mean(), rel=1e-12)
    assert look.variance == pytest.approx(c.var(ddof=1) / 300 + t.var(ddof=1) / 200, rel=1e-12)
    assert look.count == 500


def test_look_from_moments_needs_a_column_among_several():
    m = Moments.from_columns({"x": [1.0, 2.0, 3.0], "y": [1.0, 5.0, 2.0]})
    with pytest.raises(InputError, match="name the metric's column"):
        EffectLook.from_moments(m, m)
    assert EffectLook.from_moments(m, m, "y").estimate == 0.0


def test_look_from_proportions_uses_the_unpooled_variance():
    look = EffectLook.from_proportions(50, 1000, 80, 1000)
    assert look.estimate == pytest.approx(0.03)
    assert look.variance == pytest.approx(0.05 * 0.95 / 1000 + 0.08 * 0.92 / 1000)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"estimate": 0.1, "variance": 0.0}, "variance == 0.0"),
        ({"estimate": 0.1, "variance": -1.0}, "variance == -1.0"),
        ({"estimate": math.nan, "variance": 1.0}, "estimate"),
        ({"estimate": 0.1, "variance": 1.0, "count": 1}, "count"),
    ],
)
def test_look_rejects_bad_values(kwargs, message):
    with pytest.raises(InputError, match=message):
        EffectLook(**kwargs)


def test_zero_variance_proportions_are_refused():
    with pytest.raises(InputError, match="start at a later look"):
        EffectLook.from_proportions(0, 100, 0, 100)


def test_looks_must_be_a_non_empty_sequence():
    with pytest.raises(InputError, match="at least one look"):
        msprt([], tau=1.0)
    with pytest.raises(InputError, match="sequence of EffectLook"):
        msprt(EffectLook(0.1, 0.01), tau=1.0)  # type: ignore[arg-type]
    with pytest.raises(InputError, match=r"looks\[1\]"):
        msprt([EffectLook(0.1, 0.01), (0.1, 0.01)], tau=1.0)  # type: ignore[list-item]


# ------------------------------------------------------------------------------------ mSPRT
@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("alpha", [0.05, 0.01, 0.2])
def test_msprt_matches_the_papers_expressions(seed, alpha):
    rng = np.random.default_rng(seed)
    looks = random_looks(rng, effect=0.15 * seed)
    tau = 0.05 + 0.1 * seed
    result = msprt(looks, tau=tau, alpha=alpha)
    p, lower, upper = paper_msprt(looks, tau, alpha)
    for look, p_i, lo_i, hi_i in zip(result.looks, p, lower, upper, strict=True):
        assert look.p_value == pytest.approx(p_i, rel=1e-12, abs=1e-300)
        if look.decision != "inconsistent":
            assert look.ci_lower == pytest.approx(lo_i, rel=1e-12, abs=1e-15)
            assert look.ci_upper == pytest.approx(hi_i, rel=1e-12, abs=1e-15)


@pytest.mark.parametrize("seed", range(20))
def test_running_p_value_and_interval_agree_and_never_retreat(seed):
    rng = np.random.default_rng(100 + seed)
    looks = random_looks(rng, effect=rng.choice([0.0, 0.1, -0.2]))
    result = msprt(looks, tau=0.2)
    p_values = [look.p_value for look in result.looks]
    assert p_values == sorted(p_values, reverse=True)
    lowers = [look.ci_lower for look in result.looks]
    uppers = [look.ci_upper for look in result.looks]
    assert lowers == sorted(lowers)
    assert uppers == sorted(uppers, reverse=True)
    for look in result.looks:
        assert look.look_ci_lower <= look.ci_lower <= look.ci_upper <= look.look_ci_upper
        # Duality: the null is rejected exactly when the always-valid interval excludes it.
        excluded = not (look.ci_lower <= 0.0 <= look.ci_upper)
        assert look.rejected == excluded
        if look.rejected:
            expected = "treatment higher" if look.ci_lower > 0 else "treatment lower"
            assert look.decision == expected
    first = result.first_rejection
    assert [look.rejected for look in result.looks] == [
        first is not None and look.look >= first for look in result.looks
    ]


def test_the_interval_is_the_set_of_nulls_not_rejected():
    looks = [EffectLook(0.3, 0.02, 1000), EffectLook(0.25, 0.01, 2000)]
    result = msprt(looks, tau=0.3)
    lo, hi = result.final.ci
    inside = (lo + 1e-9, hi - 1e-9, (lo + hi) / 2)
    outside = (lo - 1e-9, hi + 1e-9)
    assert all(msprt(looks, tau=0.3, null=v).final.p_value > 0.05 for v in inside)
    assert all(msprt(looks, tau=0.3, null=v).final.p_value <= 0.05 for v in outside)


def test_single_look_msprt_is_more_conservative_than_the_z_test():
    for z in np.linspace(0.0, 8.0, 81):
        look = EffectLook(float(z), 1.0)
        p_fixed = 2 * stats.norm.sf(z)
        for tau in (0.3, 1.0, 3.0, 10.0):
            assert msprt([look], tau=tau).final.p_value >= p_fixed


def test_null_at_the_estimate_gives_p_one():
    result = msprt([EffectLook(0.4, 0.01)], tau=0.5, null=0.4)
    assert result.final.p_value == 1.0
    assert result.final.decision == "continue"


def test_a_negative_effect_is_a_lower_decision():
    result = msprt([EffectLook(-0.5, 0.01)], tau=0.3)
    assert result.final.decision == "treatment lower"
    assert result.final.ci_upper < 0
    assert result.rejected
    assert result.first_rejection == 1


def test_looks_whose_intervals_do_not_overlap_are_flagged():
    result = msprt([EffectLook(1.0, 0.001), EffectLook(-1.0, 0.001)], tau=0.1)
    assert result.final.decision == "inconsistent"
    assert math.isnan(result.final.ci_lower)
    assert math.isnan(result.final.ci_upper)
    assert result.looks[0].decision == "treatment higher"


def test_moments_pairs_give_the_same_analysis_as_looks():
    rng = np.random.default_rng(7)
    c, t = rng.normal(0, 1, 600), rng.normal(0.2, 1, 600)
    pairs = [
        (Moments.from_columns({"y": c[: 200 * k]}), Moments.from_columns({"y": t[: 200 * k]}))
        for k in (1, 2, 3)
    ]
    looks = [EffectLook.from_moments(ctl, trt) for ctl, trt in pairs]
    assert msprt(pairs, tau=0.2) == msprt(looks, tau=0.2)
    assert asymptotic_confidence_sequence(
        pairs, planned_count=1200
    ) == asymptotic_confidence_sequence(looks, planned_count=1200)


def test_results_serialize_to_json():
    result = msprt([EffectLook(0.3, 0.02, 1000), EffectLook(0.25, 0.01, 2000)], tau=0.3)
    data = json.loads(json.dumps(result.to_dict()))
    assert data["method"] == "msprt"
    assert data["tau"] == 0.3
    assert len(data["looks"]) == 2
    assert data["looks"][1]["p_value"] == result.final.p_value
    assert set(data["looks"][0]) >= {"estimate", "ci_lower", "ci_upper", "p_value", "decision"}
    assert "msprt after 2 look(s)" in str(result)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"tau": 0.0}, "tau"),
        ({"tau": 1.0, "alpha": 1.0}, "alpha"),
        ({"tau": 1.0, "null": "0"}, "null"),
    ],
)
def test_msprt_rejects_bad_options(kwargs, message):
    with pytest.raises(InputError, match=message):
        msprt([EffectLook(0.1, 0.01)], **kwargs)


# ------------------------------------------------------------------------------------ tau
@pytest.mark.parametrize("alpha", [0.001, 0.01, 0.05, 0.1, 0.5])
def test_default_tau_minimizes_the_interval_at_the_planned_variance(alpha):
    variance = 0.004
    tau = default_tau(variance, alpha=alpha)

    def half_width(log_tau):
        t2 = math.exp(2 * log_tau)
        return (variance + t2) / t2 * (math.log((variance + t2) / variance) - 2 * math.log(alpha))

    best = optimize.minimize_scalar(half_width, bracket=(-5.0, 0.0), tol=1e-12)
    assert tau == pytest.approx(math.exp(best.x), rel=1e-5)
    ratio = tau**2 / variance
    # The optimum solves r = -2 log(alpha) + log(1 + r), where the half-width is sqrt((1 + r) V).
    assert ratio == pytest.approx(-2 * math.log(alpha) + math.log1p(ratio), rel=1e-14)
    assert half_width(math.log(tau)) == pytest.approx(1 + ratio, rel=1e-12)


def test_default_tau_with_an_mde_tunes_for_the_expected_crossing():
    ratio = default_tau(1.0) ** 2  # r* at alpha = 0.05
    assert ratio == pytest.approx(8.21197, abs=1e-5)
    # A small MDE (undetectable before the planned end) leaves the planned-end tuning.
    assert default_tau(0.01, mde=0.1) == default_tau(0.01)
    # A large one moves the tuning to the look where it would cross: tau^2 = r*/(1+r*) mde^2.
    assert default_tau(0.01, mde=2.0) ** 2 == pytest.approx(ratio / (1 + ratio) * 4.0)
    assert default_tau(0.01, mde=-2.0) == default_tau(0.01, mde=2.0)
    # A plan powered at 80% for its MDE gives tau close to the MDE.
    mde = (stats.norm.ppf(0.975) + stats.norm.ppf(0.8)) * 0.1
    assert default_tau(0.01, mde=mde) == pytest.approx(mde, rel=0.05)


def test_default_tau_rejects_bad_values():
    with pytest.raises(InputError, match="planned_variance"):
        default_tau(0.0)
    with pytest.raises(InputError, match="mde"):
        default_tau(1.0, mde=0.0)


# ------------------------------------------------------------------------------------ CS
@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("alpha", [0.05, 0.1])
def test_confidence_sequence_matches_the_papers_boundary(seed, alpha):
    rng = np.random.default_rng(200 + seed)
    looks = random_looks(rng, effect=0.1 * seed)
    planned = 1500
    result = asymptotic_confidence_sequence(looks, planned_count=planned, alpha=alpha)
    rho2 = (-2 * math.log(alpha) + math.log(-2 * math.log(alpha) + 1)) / planned
    assert result.rho == pytest.approx(math.sqrt(rho2), rel=1e-15)
    lo_run, hi_run = -math.inf, math.inf
    for look, out in zip(looks, result.looks, strict=True):
        half = paper_cs_half_width(look, planned, alpha)
        assert out.look_ci_lower == pytest.approx(look.estimate - half, rel=1e-12, abs=1e-15)
        assert out.look_ci_upper == pytest.approx(look.estimate + half, rel=1e-12, abs=1e-15)
        lo_run, hi_run = max(lo_run, look.estimate - half), min(hi_run, look.estimate + half)
        assert out.ci_lower == pytest.approx(lo_run, rel=1e-12, abs=1e-15)
        assert out.ci_upper == pytest.approx(hi_run, rel=1e-12, abs=1e-15)


def test_confidence_sequence_p_value_is_the_smallest_alpha_excluding_the_null():
    looks = [
        EffectLook(0.12, 0.004, 800),
        EffectLook(0.15, 0.002, 1600),
        EffectLook(0.13, 0.001, 3200),
    ]
    planned = 3200
    result = asymptotic_confidence_sequence(looks, planned_count=planned, alpha=0.05)
    rho2 = result.rho**2

    def excluded(level):
        # The sequence at another level, with rho held at its design value.
        for look in looks:
            r = look.count * rho2
            half = math.sqrt(look.variance * (1 + r) / r * (math.log1p(r) - 2 * math.log(level)))
            if abs(look.estimate) > half:
                return True
        return False

    p = result.final.p_value
    assert 0 < p < 1
    assert excluded(p * (1 + 1e-9))
    assert not excluded(p * (1 - 1e-9))
    # At the planned size the CS is the mSPRT with tau^2 = rho^2 t* V at that look.
    tau = math.sqrt(rho2 * planned * looks[-1].variance)
    single = asymptotic_confidence_sequence(looks[-1:], planned_count=planned)
    assert msprt(looks[-1:], tau=tau).final.p_value == pytest.approx(
        single.final.p_value, rel=1e-12
    )


def test_confidence_sequence_needs_counts():
    with pytest.raises(InputError, match="no count"):
        asymptotic_confidence_sequence([EffectLook(0.1, 0.01)], planned_count=100)
    with pytest.raises(InputError, match="planned_count"):
        asymptotic_confidence_sequence([EffectLook(0.1, 0.01, 10)], planned_count=0)


# ------------------------------------------------------------------------------------ SRM
def log_bf_by_integration(x1, x2, w1, k):
    """Two arms: integral of theta^x1 (1 - theta)^x2 Beta(theta; k w1, k w2) / w1^x1 w2^x2."""
    a, b = k * w1, k * (1 - w1)

    def integrand(theta):
        log = (
            x1 * math.log(theta / w1)
            + x2 * math.log((1 - theta) / (1 - w1))
            + stats.beta.logpdf(theta, a, b)
        )
        return math.exp(log)

    mode = (x1 + a - 1) / (x1 + x2 + a + b - 2)
    value, _ = integrate.quad(integrand, 0, 1, points=[mode], epsabs=0, epsrel=1e-12, limit=500)
    return math.log(value)


@pytest.mark.parametrize(
    ("x1", "x2", "w1", "k"),
    [(10, 12, 0.5, 100.0), (480, 520, 0.5, 100.0), (300, 900, 0.25, 10.0), (0, 7, 0.4, 1.0)],
)
def test_srm_bayes_factor_matches_integration(x1, x2, w1, k):
    result = sequential_srm_test([[x1, x2]], [w1, 1 - w1], concentration=k)
    assert result.final.log_bayes_factor == pytest.approx(
        log_bf_by_integration(x1, x2, w1, k), rel=1e-9, abs=1e-9
    )


def test_srm_bayes_factor_matches_scipy_dirichlet_multinomial():
    counts, weights, k = np.array([520, 1030, 450]), np.array([0.25, 0.5, 0.25]), 50.0
    mixture = stats.dirichlet_multinomial.logpmf(counts, k * weights, counts.sum())
    null = stats.multinomial.logpmf(counts, counts.sum(), weights)
    result = sequential_srm_test([counts.tolist()], weights.tolist(), concentration=k)
    assert result.final.log_bayes_factor == pytest.approx(mixture - null, rel=1e-10)


def test_srm_bayes_factor_is_a_martingale_under_the_design():
    # E[BF(x + one more unit) | x] = sum_i w_i BF(x + e_i) = BF(x), exactly.
    weights = [0.2, 0.3, 0.5]
    x = [13, 30, 41]
    base = sequential_srm_test([x], weights, concentration=20.0).final.log_bayes_factor
    expectation = 0.0
    for i, w in enumerate(weights):
        step = [c + (j == i) for j, c in enumerate(x)]
        log_bf = sequential_srm_test([step], weights, concentration=20.0).final.log_bayes_factor
        expectation += w * math.exp(log_bf)
    assert expectation == pytest.approx(math.exp(base), rel=1e-12)


def test_srm_running_p_value_and_labels():
    looks = [{"b": 510, "a": 500}, {"a": 1000, "b": 1100}, {"a": 1500, "b": 1510}]
    result = sequential_srm_test(looks, {"a": 1, "b": 1}, alpha=0.05)
    assert result.arms == ("b", "a")
    assert result.looks[0].observed == (510, 500)
    assert result.looks[1].expected == (1050.0, 1050.0)
    p = [look.p_value for look in result.looks]
    assert p == sorted(p, reverse=True)
    assert p[0] == 1.0
    # The p-value is 1 / BF at its best look so far.
    assert p[1] == pytest.approx(min(1.0, math.exp(-result.looks[1].log_bayes_factor)))
    assert p[2] == p[1]
    json.dumps(result.to_dict())
    assert "Sequential sample ratio" in str(result)


def test_srm_flags_a_clear_mismatch_and_not_a_balanced_split():
    balanced = sequential_srm_test([[5_000 * k, 5_000 * k + 30] for k in range(1, 11)])
    assert not balanced.mismatch
    assert balanced.first_mismatch is None
    broken = sequential_srm_test([[5_000 * k, 5_150 * k] for k in range(1, 11)])
    assert broken.mismatch
    assert broken.first_mismatch is not None


@pytest.mark.parametrize(
    ("looks", "weights", "message"),
    [
        ([[10, 10], [9, 12]], None, "cumulative"),
        ([[10, 10], [10, 10, 1]], None, "must have 2"),
        ([[10]], None, "at least 2"),
        ([], None, "non-empty"),
        ([{"a": 1, "b": 2}, {"a": 2, "c": 3}], None, "must have"),
        ([{"a": 1, "b": 2}, [2, 3]], None, "mixes"),
        ([[1, 2]], {"a": 1, "b": 1}, "mapping"),
        ([[1, 2]], [1, 0], "weights"),
        ([[1, 2]], [1, 1, 1], "entries"),
        ([[1.5, 2]], None, "whole number"),
    ],
)
def test_srm_rejects_bad_input(looks, weights, message):
    with pytest.raises(InputError, match=message):
        sequential_srm_test(looks, weights)


def test_srm_rejects_bad_concentration():
    with pytest.raises(InputError, match="concentration"):
        sequential_srm_test([[1, 2]], concentration=0.0)
