"""ablens.stats.power: agreement with R, exact inverses, vectorized curves, design formulas.

The fixture ``tests/fixtures/r/power.json`` is written by ``Rscript tests/fixtures/r/power.R``:
``power.t.test`` and ``power.prop.test`` (solving with ``tol = 1e-12``, a few with R's default),
and ``pwr.t2n.test`` / ``pwr.2p.test`` / ``pwr.2p2n.test``, whose roots use uniroot's default
tolerance; for those the fixture also holds the root of pwr's own power function found with
``tol = 1e-13``. Powers must agree to 1e-9 relative; solved quantities to 1e-9 relative against
tight roots, and within R's tolerance (twice ``tol``, absolute) against default-tolerance roots.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import norm

from ablens import InputError, Moments
from ablens.stats import power as power_module
from ablens.stats.power import (
    cohen_h,
    cohen_h_power,
    comparison_alpha,
    mde_curve,
    power_curve,
    power_z,
    prop_test_power,
    ratio_sd,
    solve_power,
    t_test_power,
)
from ablens.stats.ratio import ratio_estimate

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "r" / "power.json"
REFERENCE: dict[str, Any] = json.loads(FIXTURE.read_text(encoding="utf-8"))
RTOL = 1e-9
INVERSE_TOL = 1e-9

ALTERNATIVES = {"two.sided": "two-sided", "one.sided": "greater", "greater": "greater"}
ALTERNATIVES["less"] = "less"
SAMPLES = {"two.sample": "two-sample", "one.sample": "one-sample", "paired": "paired"}
SOLVED = {
    "n": "n",
    "n1": "n",
    "delta": "effect",
    "d": "effect",
    "h": "effect",
    "p2": "effect",
    "sd": "sd",
    "sig.level": "alpha",
    "power": "power",
}


def _ids(cases: list[dict[str, Any]]) -> list[str]:
    return [case["id"] for case in cases]


def _check_solved(actual: float, case: dict[str, Any], name: str) -> None:
    expected = case["result"][name]
    tol = case["tol"]
    if tol is None or tol <= 1e-12:
        assert actual == pytest.approx(expected, rel=RTOL, abs=1e-12)
    else:  # R's default uniroot tolerance: agreement within it
        assert abs(actual - expected) <= 2 * tol
    if "tight" in case:
        assert actual == pytest.approx(case["tight"], rel=RTOL, abs=1e-12)


# ---------------------------------------------------------------------------- power.t.test
def _t_arguments(case: dict[str, Any]) -> dict[str, Any]:
    given_ = case["given"]
    return {
        "n": given_.get("n"),
        "effect": given_.get("delta"),
        "power": given_.get("power"),
        "alpha": given_.get("sig.level"),
        "sd": given_.get("sd"),
        "alternative": ALTERNATIVES[case["alternative"]],
        "strict": case["strict"],
        "sample": SAMPLES[case["type"]],
    }


@pytest.mark.parametrize("case", REFERENCE["power_t_test"], ids=_ids(REFERENCE["power_t_test"]))
def test_power_t_test(case):
    solution = solve_power("t-test", **_t_arguments(case))
    solved = case["solve"]
    _check_solved(getattr(solution, SOLVED[solved]), case, solved)
    # Our power function at R's solution gives R's power there.
    result = case["result"]
    ours = t_test_power(
        result["n"],
        result["delta"],
        result["sd"],
        result["sig.level"],
        alternative=ALTERNATIVES[case["alternative"]],
        strict=case["strict"],
        sample=SAMPLES[case["type"]],
    )
    assert ours == pytest.approx(case["check_power"], rel=RTOL, abs=1e-12)


def test_power_t_test_curve_is_vectorized():
    curve = REFERENCE["power_t_test_curve"]
    ours = t_test_power(
        curve["n"], curve["delta"], curve["sd"], curve["sig.level"], strict=curve["strict"]
    )
    np.testing.assert_allclose(ours, curve["power"], rtol=RTOL, atol=1e-12)


# ---------------------------------------------------------------------------- power.prop.test
def _prop_arguments(case: dict[str, Any]) -> dict[str, Any]:
    given_ = case["given"]
    p2 = given_.get("p2")
    return {
        "n": given_.get("n"),
        "effect": None if p2 is None else p2 - given_["p1"],
        "power": given_.get("power"),
        "alpha": given_.get("sig.level"),
        "baseline": given_["p1"],
        "alternative": ALTERNATIVES[case["alternative"]],
        "strict": case["strict"],
    }


@pytest.mark.parametrize(
    "case", REFERENCE["power_prop_test"], ids=_ids(REFERENCE["power_prop_test"])
)
def test_power_prop_test(case):
    solution = solve_power("prop-test", **_prop_arguments(case))
    solved = case["solve"]
    actual = {
        "n": solution.n,
        "p2": case["given"]["p1"] + solution.effect,
        "sig.level": solution.alpha,
        "power": solution.power,
    }[solved]
    _check_solved(actual, case, solved)
    result = case["result"]
    ours = prop_test_power(
        result["n"],
        result["p1"],
        result["p2"],
        result["sig.level"],
        alternative=ALTERNATIVES[case["alternative"]],
        strict=case["strict"],
    )
    assert ours == pytest.approx(case["check_power"], rel=RTOL, abs=1e-12)


STRICT_TWO_SIDED = [
    c
    for c in REFERENCE["power_prop_test"]
    if c["strict"] and c["alternative"] == "two.sided" and c["solve"] in ("power", "n")
]


@pytest.mark.parametrize("case", STRICT_TWO_SIDED, ids=_ids(STRICT_TWO_SIDED))
def test_ablens_proportion_design_is_power_prop_test_strict(case):
    """The pooled z test of ablens, 50/50, two-sided, is ``power.prop.test(strict = TRUE)``."""
    result = case["result"]
    p1 = case["given"]["p1"]
    if case["solve"] == "power":
        s = solve_power(
            "proportion", n=2 * result["n"], effect=result["p2"] - p1, power=None, baseline=p1
        )
        assert s.power == pytest.approx(result["power"], rel=RTOL)
    else:
        s = solve_power("proportion", effect=result["p2"] - p1, power=0.8, baseline=p1)
        assert s.n / 2 == pytest.approx(result["n"], rel=RTOL)


# ---------------------------------------------------------------------------- pwr
def _pwr_arguments(case: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    given_ = case["given"]
    common = {
        "power": given_.get("power"),
        "alpha": given_.get("sig.level"),
        "alternative": ALTERNATIVES[case["alternative"]],
    }
    if case["fn"] == "pwr.t2n.test":
        return "t-test", {
            **common,
            "n": given_.get("n1"),
            "n_treatment": given_["n2"],
            "effect": given_.get("d"),
            "strict": True,
        }
    if case["fn"] == "pwr.2p.test":
        return "cohen-h", {**common, "n": given_.get("n"), "effect": given_.get("h")}
    return "cohen-h", {
        **common,
        "n": given_.get("n1"),
        "n_treatment": given_["n2"],
        "effect": given_.get("h"),
    }


@pytest.mark.parametrize("case", REFERENCE["pwr"], ids=_ids(REFERENCE["pwr"]))
def test_pwr(case):
    kind, arguments = _pwr_arguments(case)
    solution = solve_power(kind, **arguments)
    solved = case["solve"]
    _check_solved(getattr(solution, SOLVED[solved]), case, solved)
    result = case["result"]
    alternative = ALTERNATIVES[case["alternative"]]
    if case["fn"] == "pwr.t2n.test":
        ours = t_test_power(
            result["n1"],
            result["d"],
            1.0,
            result["sig.level"],
            n_treatment=result["n2"],
            alternative=alternative,
            strict=True,
        )
    else:
        ours = cohen_h_power(
            result["h"],
            result.get("n", result.get("n1")),
            result["sig.level"],
            n_treatment=result.get("n2"),
            alternative=alternative,
        )
    assert ours == pytest.approx(case["check_power"], rel=RTOL, abs=1e-12)


def test_cohen_h_is_es_h():
    es_h = REFERENCE["es_h"]
    np.testing.assert_allclose(cohen_h(es_h["p1"], es_h["p2"]), es_h["h"], rtol=1e-14)


# ---------------------------------------------------------------------------- exact inverses
POWERS = st.floats(0.5, 0.99)
ALPHAS = st.floats(0.001, 0.2)
ALTERNATIVE = st.sampled_from(["two-sided", "greater", "less"])
CORRECTION = st.sampled_from([None, "bonferroni", "sidak"])


@st.composite
def mean_designs(draw: st.DrawFn) -> dict[str, Any]:
    """A design of kind "mean" and an effect in the direction of its alternative."""
    alternative = draw(ALTERNATIVE)
    sign = -1.0 if alternative == "less" else 1.0
    relative = draw(st.booleans())
    arms = draw(st.integers(2, 4))
    shares = draw(st.lists(st.floats(0.5, 3.0), min_size=arms, max_size=arms))
    split = [s / sum(shares) for s in shares]
    split[-1] = 1.0 - sum(split[:-1])
    design: dict[str, Any] = {
        "sd": draw(st.floats(0.1, 50.0)),
        "alternative": alternative,
        "split": split,
        "correction": draw(CORRECTION),
        "variance_reduction": draw(st.sampled_from([0.0, 0.3, 0.8])),
    }
    if draw(st.booleans()):
        design["sd_treatment"] = draw(st.floats(0.1, 50.0))
    if relative:
        design["effect_type"] = "relative"
        design["baseline"] = draw(st.floats(1.0, 100.0))
        margin = draw(st.sampled_from([0.0, -0.02, 0.01]))
        design["margin"] = margin
        effect = (1 + margin) * math.exp(sign * draw(st.floats(0.005, 0.3))) - 1
    else:
        margin = draw(st.sampled_from([0.0, -0.5, 0.25]))
        design["margin"] = margin
        effect = margin + sign * design["sd"] * draw(st.floats(0.005, 0.5))
    return {"design": design, "effect": effect}


@st.composite
def proportion_designs(draw: st.DrawFn) -> dict[str, Any]:
    """A design of kind "proportion" and a valid effect towards its alternative."""
    alternative = draw(ALTERNATIVE)
    sign = -1.0 if alternative == "less" else 1.0
    baseline = draw(st.floats(0.02, 0.9))
    arms = draw(st.integers(2, 3))
    design: dict[str, Any] = {
        "baseline": baseline,
        "alternative": alternative,
        "arms": arms,
        "correction": draw(CORRECTION),
        "variance_reduction": draw(st.sampled_from([0.0, 0.2])),
    }
    if draw(st.booleans()):
        design["effect_type"] = "relative"
        margin = draw(st.sampled_from([0.0, -0.05]))
        lift = draw(st.floats(0.02, 0.5))
        effect = margin + sign * lift * min(1.0, (1 / baseline - 1 - margin)) * 0.9
        if sign < 0:
            effect = max(effect, -0.9)
    else:
        margin = draw(st.sampled_from([0.0, -0.01]))
        room = (1 - baseline - margin) if sign > 0 else (baseline + margin)
        effect = margin + sign * draw(st.floats(0.05, 0.9)) * room
    design["margin"] = margin
    return {"design": design, "effect": effect}


def _assert_inverse(kind: str, design: dict[str, Any], effect: float, power: float, alpha: float):
    """Solve n, then the effect at that n, then alpha, then power: each returns the target."""
    by_n = solve_power(kind, n=None, effect=effect, power=power, alpha=alpha, **design)
    assert by_n.n > 0
    check = solve_power(kind, n=by_n.n, effect=effect, power=None, alpha=alpha, **design)
    assert check.power == pytest.approx(power, abs=INVERSE_TOL)
    by_effect = solve_power(kind, n=by_n.n, effect=None, power=power, alpha=alpha, **design)
    check = solve_power(kind, n=by_n.n, effect=by_effect.effect, power=None, alpha=alpha, **design)
    assert check.power == pytest.approx(power, abs=INVERSE_TOL)
    if design.get("alternative") != "two-sided" or kind != "proportion":
        # The effect on the alternative's side is unique: it is the effect we started from.
        assert by_effect.effect == pytest.approx(effect, rel=1e-8, abs=1e-12)
    by_alpha = solve_power(kind, n=by_n.n, effect=effect, power=power, alpha=None, **design)
    assert by_alpha.alpha == pytest.approx(alpha, rel=1e-8)
    check = solve_power(kind, n=by_n.n, effect=effect, power=None, alpha=by_alpha.alpha, **design)
    assert check.power == pytest.approx(power, abs=INVERSE_TOL)


@settings(max_examples=80, deadline=None, derandomize=True)
@given(case=mean_designs(), power=POWERS, alpha=ALPHAS)
def test_mean_solvers_are_exact_inverses(case, power, alpha):
    _assert_inverse("mean", case["design"], case["effect"], power, alpha)
    # The standard deviation too.
    design = dict(case["design"])
    sd = design.pop("sd")
    n = solve_power("mean", effect=case["effect"], power=power, alpha=alpha, sd=sd, **design).n
    by_sd = solve_power(
        "mean", n=n, effect=case["effect"], power=power, alpha=alpha, sd=None, **design
    )
    assert by_sd.sd == pytest.approx(sd, rel=1e-8)


@settings(max_examples=80, deadline=None, derandomize=True)
@given(case=proportion_designs(), power=POWERS, alpha=ALPHAS)
def test_proportion_solvers_are_exact_inverses(case, power, alpha):
    _assert_inverse("proportion", case["design"], case["effect"], power, alpha)


@settings(max_examples=40, deadline=None, derandomize=True)
@given(
    effect=st.floats(0.1, 2.0),
    sd=st.floats(0.5, 3.0),
    power=POWERS,
    alpha=ALPHAS,
    alternative=ALTERNATIVE,
    strict=st.booleans(),
    unequal=st.booleans(),
)
def test_t_test_solvers_are_exact_inverses(effect, sd, power, alpha, alternative, strict, unequal):
    effect = -effect if alternative == "less" else effect
    design: dict[str, Any] = {"sd": sd, "alternative": alternative, "strict": strict}
    if unequal:
        design["n_treatment"] = 400.0
    lowest = solve_power("t-test", n=2.0, effect=effect, power=None, alpha=alpha, **design)
    if lowest.power >= power:  # a huge effect reaches the power below R's 2 units
        with pytest.raises(InputError, match="already reaches"):
            solve_power("t-test", effect=effect, power=power, alpha=alpha, **design)
        return
    ceiling = solve_power("t-test", n=1e15, effect=effect, power=None, alpha=alpha, **design)
    if ceiling.power < power:  # a fixed second group caps the power, whatever the first
        with pytest.raises(InputError, match="no sample size reaches"):
            solve_power("t-test", effect=effect, power=power, alpha=alpha, **design)
        return
    by_n = solve_power("t-test", effect=effect, power=power, alpha=alpha, **design)
    check = solve_power("t-test", n=by_n.n, effect=effect, power=None, alpha=alpha, **design)
    assert check.power == pytest.approx(power, abs=INVERSE_TOL)
    by_effect = solve_power("t-test", n=by_n.n, power=power, alpha=alpha, **design)
    assert by_effect.effect == pytest.approx(effect, rel=1e-8)


# ---------------------------------------------------------------------------- design formulas
def test_multiple_arms_split_alpha_and_size_by_the_smallest_arm():
    split = (0.5, 0.3, 0.2)
    s = solve_power("mean", effect=0.5, power=0.8, sd=4.0, split=split, correction="bonferroni")
    assert s.comparison_alpha == 0.025
    assert s.n_per_arm == pytest.approx(tuple(share * s.n for share in split))
    # The smallest treatment arm (20%) against control (50%) at alpha / 2:
    assert power_z(0.5, 4.0, 4.0, 0.5 * s.n, 0.2 * s.n, alpha=0.025) == pytest.approx(0.8)
    sidak = solve_power("mean", effect=0.5, power=0.8, sd=4.0, arms=3, correction="sidak")
    assert sidak.comparison_alpha == pytest.approx(1 - 0.95**0.5)


def test_equal_split_mean_matches_the_textbook_sample_size():
    """One-sided: n per arm = 2 (z_{1-a} + z_b)^2 sd^2 / delta^2 (Chow, Shao and Wang, 3.2)."""
    s = solve_power("mean", effect=1.0, power=0.9, sd=5.0, alternative="greater")
    expected = 2 * (norm.ppf(0.95) + norm.ppf(0.9)) ** 2 * 25.0
    assert s.n / 2 == pytest.approx(expected, rel=1e-12)


def test_non_inferiority_margin_shifts_the_null():
    """Proportions, true effect 0, margin -1pp, unpooled (Chow, Shao and Wang, 4.2)."""
    p = 0.2
    s = solve_power(
        "proportion", effect=0.0, power=0.8, baseline=p, margin=-0.01, alternative="greater"
    )
    expected = (norm.ppf(0.95) + norm.ppf(0.8)) ** 2 * 2 * p * (1 - p) / 0.01**2
    assert s.n / 2 == pytest.approx(expected, rel=1e-12)
    with pytest.raises(InputError, match="not beyond the null value"):
        solve_power(
            "proportion", effect=-0.02, power=0.8, baseline=p, margin=-0.01, alternative="greater"
        )


def test_relative_effect_uses_the_delta_method_variance_of_the_ratio():
    """Power of a lift on the log ratio; the control mean's variance enters with (1 + L)^2."""
    mean, sd, lift, n = 20.0, 25.0, 0.05, 40_000
    ours = solve_power(
        "mean",
        n=n,
        effect=lift,
        power=None,
        sd=sd,
        sd_treatment=sd,
        baseline=mean,
        effect_type="relative",
    ).power
    treated = mean * (1 + lift)
    se_log = math.sqrt(sd**2 / (n / 2 * treated**2) + sd**2 / (n / 2 * mean**2))
    z = norm.ppf(0.975)
    shift = math.log1p(lift) / se_log
    assert ours == pytest.approx(norm.cdf(shift - z) + norm.cdf(-shift - z), rel=1e-12)
    # Var(R) = R^2 Var(log R): the same standard error written for the ratio itself.
    var_ratio = (1 + lift) ** 2 * se_log**2
    naive = 2 * sd**2 / (n / 2) / mean**2  # treats the control mean as known, ignoring (1+L)^2
    assert var_ratio == pytest.approx(
        (sd**2 / (n / 2) + (1 + lift) ** 2 * sd**2 / (n / 2)) / mean**2
    )
    assert var_ratio > naive


def test_constant_cv_makes_the_relative_mde_closed_form():
    n = np.array([1_000.0, 10_000.0])
    mde = mde_curve("mean", n, sd=3.0, baseline=2.0, effect_type="relative")
    u = power_module._standardized_shift(0.8, 0.05, "two-sided")
    expected = np.expm1(u * 1.5 * np.sqrt(2 / (n / 2)))
    np.testing.assert_allclose(mde, expected, rtol=1e-14)


def test_variance_reduction_scales_the_sample_size():
    plain = solve_power("mean", effect=0.2, power=0.8, sd=3.0).n
    cuped = solve_power("mean", effect=0.2, power=0.8, sd=3.0, variance_reduction=0.36).n
    assert cuped == pytest.approx(0.64 * plain, rel=1e-12)


def test_ratio_sd_is_the_delta_method_variance_per_unit():
    rng = np.random.default_rng(3)
    sessions = rng.poisson(3.0, 5_000) + 1.0
    orders = rng.binomial(sessions.astype(int), 0.1).astype(float)
    m = Moments.from_columns({"orders": orders, "sessions": sessions})
    ratio, variance = ratio_estimate(m, "orders", "sessions")
    value, sd = ratio_sd(
        m.mean_of("orders"),
        m.mean_of("sessions"),
        m.variance("orders"),
        m.variance("sessions"),
        m.covariance("orders", "sessions"),
    )
    assert value == pytest.approx(ratio, rel=1e-14)
    assert sd**2 / m.count == pytest.approx(variance, rel=1e-12)


def test_comparison_alpha():
    assert comparison_alpha(0.05, 1, "bonferroni") == 0.05
    assert comparison_alpha(0.05, 4, "bonferroni") == 0.0125
    assert comparison_alpha(0.05, 4, None) == 0.05
    assert comparison_alpha(0.05, 4, "sidak") == pytest.approx(1 - 0.95**0.25, rel=1e-14)


def test_two_sided_mde_is_on_the_larger_side_and_less_is_negative():
    up = solve_power("proportion", n=20_000, power=0.8, baseline=0.3).effect
    down = solve_power("proportion", n=20_000, power=0.8, baseline=0.3, alternative="less").effect
    assert up > 0 > down


def test_solution_to_dict_and_str():
    s = solve_power("mean", effect=0.5, power=0.8, sd=2.0, arms=3)
    assert s.to_dict()["solved"] == "n"
    assert "solved for n" in str(s)
    assert len(s.n_per_arm) == 3


# ---------------------------------------------------------------------------- vectorized curves
GRID = np.geomspace(200.0, 2_000_000.0, 1_000)
CURVE_DESIGNS = [
    pytest.param("mean", {"sd": 2.0}, 0.05, id="mean-absolute"),
    pytest.param(
        "mean",
        {"sd": 2.0, "sd_treatment": 3.0, "baseline": 5.0, "effect_type": "relative"},
        0.02,
        id="mean-relative-fixed-sd",
    ),
    pytest.param(
        "proportion",
        {"baseline": 0.08, "split": (0.5, 0.25, 0.25), "correction": "bonferroni"},
        0.004,
        id="proportion-pooled-3-arms",
    ),
    pytest.param(
        "proportion",
        {"baseline": 0.08, "effect_type": "relative", "alternative": "less", "margin": -0.01},
        -0.06,
        id="proportion-relative-less",
    ),
    pytest.param("t-test", {"sd": 1.5, "strict": True}, 0.05, id="t-test"),
    pytest.param("cohen-h", {"n_treatment": 1e6}, 0.02, id="cohen-h"),
    pytest.param("t-test", {"sd": 1.5, "alternative": "less"}, -0.05, id="t-test-less"),
    pytest.param("prop-test", {"baseline": 0.3}, 0.01, id="prop-test"),
    pytest.param(
        "prop-test", {"baseline": 0.97, "alternative": "greater"}, 0.005, id="prop-test-edge"
    ),
    pytest.param("chi-square", {"df": 3}, 0.01, id="chi-square"),
]


@pytest.mark.parametrize(("kind", "design", "effect"), CURVE_DESIGNS)
def test_power_curve_equals_scalar_calls(kind, design, effect):
    curve = power_curve(kind, GRID, effect=effect, **design)
    assert curve.shape == GRID.shape
    scalar = [
        solve_power(kind, n=float(n), effect=effect, power=None, **design).power for n in GRID
    ]
    np.testing.assert_allclose(curve, scalar, rtol=1e-14, atol=1e-15)


@pytest.mark.parametrize(("kind", "design", "effect"), CURVE_DESIGNS)
def test_mde_curve_equals_scalar_calls(kind, design, effect):
    del effect
    curve = mde_curve(kind, GRID, power=0.8, **design)
    assert curve.shape == GRID.shape
    closed_form = power_module._design(kind, design).closed_form_effect()
    for i in range(0, GRID.size, 1 if closed_form else 5):
        if math.isnan(curve[i]):  # no effect reaches the power: the scalar solver says so
            with pytest.raises(InputError, match="no effect reaches"):
                solve_power(kind, n=float(GRID[i]), power=0.8, **design)
            continue
        scalar = solve_power(kind, n=float(GRID[i]), power=0.8, **design).effect
        assert curve[i] == pytest.approx(scalar, rel=1e-12, abs=1e-15)
    # And the power at every MDE of the curve is the target.
    found = ~np.isnan(curve)
    assert found.sum() > 900
    achieved = power_curve(kind, GRID[found], effect=curve[found], **design)
    np.testing.assert_allclose(achieved, 0.8, rtol=0, atol=1e-9)


@pytest.mark.parametrize(("kind", "design", "effect"), CURVE_DESIGNS)
def test_curves_do_not_loop_over_the_grid(monkeypatch, kind, design, effect):
    """Far fewer power evaluations than grid points: the grid is one array, never looped."""
    del effect
    calls = []
    original = power_module._Design.power

    def counting(self, *args, **kwargs):
        calls.append(1)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(power_module._Design, "power", counting)
    power_curve(kind, GRID, effect=0.01, **design)
    assert len(calls) == 1
    calls.clear()
    mde_curve(kind, GRID, power=0.8, **design)
    assert len(calls) < GRID.size / 5


def test_mde_curve_is_nan_where_no_rate_can_reach_the_power():
    mde = mde_curve("proportion", [2.0, 100_000.0], baseline=0.995, alternative="greater")
    assert math.isnan(mde[0])
    assert 0 < mde[1] < 0.005


# ---------------------------------------------------------------------------- bad input
BAD = [
    ({"kind": "mean", "effect": 1.0, "power": 0.8, "sd": 1.0, "alpha": 1.5}, "alpha == 1.5"),
    ({"kind": "mean", "effect": 1.0, "power": 0.0, "sd": 1.0}, "power == 0.0"),
    ({"kind": "mean", "n": 100, "effect": 1.0, "power": 0.8, "sd": 1.0}, "got none"),
    ({"kind": "mean", "power": 0.8, "sd": 1.0}, "got n, effect"),
    ({"kind": "mean", "effect": 1.0, "power": 0.8, "sd": -2.0}, "sd == -2.0"),
    ({"kind": "mean", "effect": 1.0, "power": 0.8}, "sd is required"),
    ({"kind": "proportion", "effect": 0.01, "power": 0.8, "baseline": 1.2}, "baseline == 1.2"),
    ({"kind": "proportion", "effect": 0.01, "power": 0.8}, "baseline is required"),
    (
        {"kind": "proportion", "effect": 0.01, "power": 0.8, "baseline": 0.1, "split": (0.5, 0.3)},
        "split == (0.5, 0.3), must sum to 1",
    ),
    (
        {"kind": "mean", "effect": 1, "power": 0.8, "sd": 1, "split": (0.5, 0.5), "arms": 3},
        "must match arms == 3",
    ),
    ({"kind": "mean", "effect": 1, "power": 0.8, "sd": 1, "split": (1.0, 0.0)}, "split =="),
    ({"kind": "mean", "effect": 1, "power": 0.8, "sd": 1, "arms": 1}, "arms == 1"),
    ({"kind": "mean", "effect": 1, "power": 0.8, "sd": 1, "strict": True}, "strict does not"),
    ({"kind": "anova", "effect": 1, "power": 0.8}, "kind == 'anova'"),
    ({"kind": "mean", "effect": 1, "power": 0.8, "sd": 1, "alternative": "up"}, "alternative =="),
    ({"kind": "mean", "effect": 1, "power": 0.8, "sd": 1, "correction": "holm"}, "correction =="),
    (
        {"kind": "mean", "effect": 0.1, "power": 0.8, "sd": 1, "effect_type": "relative"},
        "baseline is required",
    ),
    (
        {"kind": "mean", "effect": 1, "power": 0.8, "sd": 1, "variance_reduction": 1.0},
        "variance_reduction == 1.0",
    ),
    ({"kind": "mean", "n": -5, "effect": 1.0, "power": None, "sd": 1}, "n == -5"),
    ({"kind": "mean", "effect": 0.0, "power": 0.8, "sd": 1}, "not beyond the null value"),
    ({"kind": "mean", "effect": 1.0, "power": 0.01, "sd": 1}, "must exceed"),
    (
        {"kind": "proportion", "n": 100, "effect": 0.95, "power": None, "baseline": 0.1},
        "outside (0, 1)",
    ),
    (
        {
            "kind": "proportion",
            "effect": 0.01,
            "power": 0.8,
            "baseline": 0.1,
            "margin": 0.01,
            "pooled": True,
        },
        "pooled == True",
    ),
    (
        {
            "kind": "mean",
            "effect": 0.1,
            "power": 0.8,
            "sd": 1,
            "baseline": 1,
            "effect_type": "relative",
            "margin": -1.5,
        },
        "margin == -1.5",
    ),
    (
        {"kind": "t-test", "effect": 1, "power": 0.8, "n_treatment": 20, "sample": "paired"},
        "n_treatment applies",
    ),
]


@pytest.mark.parametrize(("arguments", "message"), BAD, ids=[m for _, m in BAD])
def test_bad_input_raises_input_error_naming_the_argument(arguments, message):
    arguments = dict(arguments)
    kind = arguments.pop("kind")
    with pytest.raises(InputError) as error:
        solve_power(kind, **arguments)
    assert message in str(error.value)


def test_bad_curve_input():
    with pytest.raises(InputError, match="n =="):
        power_curve("mean", [100.0, 0.0], effect=1.0, sd=1.0)
    with pytest.raises(InputError, match="must be finite"):
        power_curve("mean", [100.0, math.nan], effect=1.0, sd=1.0)
    with pytest.raises(InputError, match="sd == None"):
        mde_curve("mean", [100.0], sd=None)
    with pytest.raises(InputError, match=r"power == 1\.0"):
        mde_curve("mean", [100.0], sd=1.0, power=1.0)
    with pytest.raises(InputError, match="p2 =="):
        prop_test_power(100, 0.1, 1.2)
    with pytest.raises(InputError, match="p1 and p2"):
        cohen_h(0.1, 1.5)
    with pytest.raises(InputError, match="mean_denominator"):
        ratio_sd(1.0, 0.0, 1.0, 1.0, 0.0)


@pytest.mark.parametrize(
    "design",
    [
        pytest.param({"sd": 1.5}, id="two-sample"),
        pytest.param({"sd": 2.0, "n_treatment": 300.0}, id="unequal"),
        pytest.param({"sd": 1.0, "sample": "one-sample", "alpha": 0.001}, id="one-sample"),
        pytest.param({"sd": 1.0, "power": 0.3, "alpha": 0.2}, id="low-power"),
    ],
)
def test_strict_t_curve_is_the_strict_search_from_fewer_tails(monkeypatch, design):
    """The strict two-sided t curve is polished from the non-strict one: the same MDEs as a
    search on the strict power itself, from at most 10 noncentral t tails a size (it took 18)."""
    design = dict(design)
    power, alpha = design.pop("power", 0.8), design.pop("alpha", 0.05)
    grid = np.linspace(100.0, 5000.0, 1000)
    direct = power_module._design("t-test", {**design, "strict": True})._illinois(
        grid, power, alpha
    )
    tails = []
    original = power_module._pnt

    def counting(*args, **kwargs):
        tails.append(np.broadcast(*args).size)
        return original(*args, **kwargs)

    monkeypatch.setattr(power_module, "_pnt", counting)
    curve = mde_curve("t-test", grid, power=power, alpha=alpha, strict=True, **design)
    np.testing.assert_allclose(curve, direct, rtol=1e-12, atol=0)
    assert sum(tails) <= 10 * grid.size
    monkeypatch.setattr(power_module, "_pnt", original)
    achieved = power_curve("t-test", grid, effect=curve, alpha=alpha, strict=True, **design)
    np.testing.assert_allclose(achieved, power, rtol=0, atol=1e-12)
