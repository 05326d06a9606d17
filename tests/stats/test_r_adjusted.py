"""Agreement of ablens' ratio and covariate-adjusted tests with reference values from R.

The fixture ``tests/fixtures/r/adjusted.json`` is written by ``Rscript tests/fixtures/r/adjusted.R``
(run from the repository root) from raw simulated data stored in the fixture:

* `ratio_estimate` / `ratio_test`: the delta-method formula (Deng, Knoblich and Lu, 2018) with R's
  ``var()`` / ``cov()``;
* `cuped_test`: the adjusted per-unit values ``y - theta (x - mean(x))`` with ablens' pooled
  ``theta`` (checked in R against ``lm``), summarised by ``mean()`` / ``var()``;
* `regression_adjusted_test` (Lin, 2013): ``lm(y ~ I(x1 - c1) + ...)`` per arm, the intercept and
  its squared standard error; the effect is also the coefficient of ``treated`` in the fully
  interacted ``lm(y ~ treated * (I(x1 - c1) + ...))`` on the pooled data.

For ratio metrics the adjusted outcome is the linearization ``(N - R D) / mean_a(D)`` with the
pooled ratio ``R`` (see ``src/ablens/stats/adjusted.py``). Every number must agree to 1e-9 relative
(1e-12 absolute); infinite bounds must be the same infinity and NaN must be NaN.

ablens' per-arm variance of Lin's estimator is the homoskedastic one (the ``lm`` intercept's), not
the heteroskedasticity-consistent HC2 variance of the interacted model that Lin recommends. The
two are asymptotically equivalent: the fixture records ``sandwich::vcovHC(type = "HC2")`` and the
test checks agreement within 1e-2 relative on a 20,000-per-arm data set only (at n = 30 to 200
per arm they differ by up to a few percent, which is expected and not tested). The ``vcov``
option (HC0-HC3, computed at the arm level from moments) is checked in test_r_ancova.py.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np
import pytest

from ablens import Moments, cuped_test, ratio_test, regression_adjusted_test
from ablens.stats import ratio_estimate
from rfixtures import load_r_fixture

RTOL = 1e-9
ATOL = 1e-12
# Asymptotic (not exact) agreement of the lm-based and HC2 standard errors at 20,000 per arm.
HC2_RTOL = 1e-2
HC2_MIN_COUNT = 20_000


REFERENCE: dict[str, Any] = load_r_fixture("adjusted.json")
RELATIVE_METHODS = ("delta-log", "delta", "fieller")
RESULT_FIELDS = (
    "control_estimate",
    "treatment_estimate",
    "effect",
    "effect_ci_lower",
    "effect_ci_upper",
    "standard_error",
    "relative_effect",
)


# ---------------------------------------------------------------------------------------------
# Data: stored raw columns, or the large set regenerated exactly as adjusted.R does


def _park_miller(seed: int, count: int) -> np.ndarray:
    """``s <- 48271 s mod (2^31 - 1)``, ``u = s / (2^31 - 1)``: exact integers, as in R."""
    uniforms = np.empty(count)
    state = seed
    for i in range(count):
        state = 48271 * state % 2147483647
        uniforms[i] = state / 2147483647
    return uniforms


def _irwin_hall(block: np.ndarray) -> np.ndarray:
    """``((u_1 + ... + u_6) - 3) * sqrt(2)``, summed left to right like R's ``+``."""
    total = block[:, 0].copy()
    for column in range(1, block.shape[1]):
        total = total + block[:, column]
    return (total - 3) * math.sqrt(2)


def _generated_arm(block: np.ndarray, effect: float) -> dict[str, np.ndarray]:
    """One arm of the generated set: the same IEEE operations, in the same order, as adjusted.R."""
    z1 = _irwin_hall(block[:, 0:6])
    z2 = _irwin_hall(block[:, 6:12])
    z3 = _irwin_hall(block[:, 12:18])
    x1 = z1
    x2 = z2 * z2 + 0.5 * z1
    e = z3 / np.sqrt(0.05 + block[:, 18])
    y = 10 + effect + 2 * x1 - x2 + 3 * e * (1 + 0.5 * np.abs(x1))
    return {"y": y, "x1": x1, "x2": x2}


@functools.cache
def _generated_columns(name: str) -> dict[str, dict[str, np.ndarray]]:
    spec = REFERENCE["generated_datasets"][name]
    per_unit = int(spec["uniforms_per_unit"])
    n_c, n_t = int(spec["control_count"]), int(spec["treatment_count"])
    uniforms = _park_miller(int(spec["seed"]), (n_c + n_t) * per_unit)
    blocks = uniforms.reshape(n_c + n_t, per_unit)
    return {
        "control": _generated_arm(blocks[:n_c], spec["control_effect"]),
        "treatment": _generated_arm(blocks[n_c:], spec["treatment_effect"]),
    }


@functools.cache
def _arms(name: str) -> tuple[Moments, Moments]:
    """Control and treatment moments of a data set, from its raw columns."""
    if name in REFERENCE["generated_datasets"]:
        columns = _generated_columns(name)
    else:
        columns = REFERENCE["datasets"][name]
    return Moments.from_columns(columns["control"]), Moments.from_columns(columns["treatment"])


# ---------------------------------------------------------------------------------------------
# Comparison helpers


def _close(actual: float, expected: float, rtol: float = RTOL) -> bool:
    """Agreement to ``rtol`` relative / ATOL absolute; equal infinities and NaN with NaN agree."""
    return actual == pytest.approx(expected, rel=rtol, abs=ATOL, nan_ok=True)


def _with_methods(cases: list[dict[str, Any]]) -> list[Any]:
    """One parameter per (case, relative interval method), with readable ids."""
    return [
        pytest.param(case, method, id=f"{case['id']}-{method}")
        for case in cases
        for method in RELATIVE_METHODS
    ]


def _check_result(result: Any, expected: dict[str, Any], method: str) -> None:
    """Compare every field of a TestResult with R; report all disagreements at once."""
    pairs = [(name, getattr(result, name), expected[name]) for name in RESULT_FIELDS]
    test = expected["by_method"][method]  # a relative margin is tested by the method's pivot
    pairs += [(name, getattr(result, name), test[name]) for name in ("statistic", "p_value")]
    lower, upper = expected["relative_ci"][method]
    pairs += [
        ("relative_ci_lower", result.relative_ci_lower, lower),
        ("relative_ci_upper", result.relative_ci_upper, upper),
    ]
    mismatches = [
        f"{name}: python {actual!r} != R {wanted!r}"
        for name, actual, wanted in pairs
        if not _close(actual, wanted)
    ]
    wanted_reduction = expected["variance_reduction"]
    if wanted_reduction is None:
        if result.variance_reduction is not None:
            mismatches.append(f"variance_reduction: python {result.variance_reduction!r} != None")
    elif result.variance_reduction is None or not _close(
        result.variance_reduction, wanted_reduction
    ):
        mismatches.append(
            f"variance_reduction: python {result.variance_reduction!r} != R {wanted_reduction!r}"
        )
    if result.df is not None:
        mismatches.append(f"df: python {result.df!r} != None (normal reference)")
    assert not mismatches, "\n".join(mismatches)
    assert result.relative_method == method


# ---------------------------------------------------------------------------------------------
# The fixture itself


def test_fixture_records_its_provenance() -> None:
    generated = REFERENCE["generated_with"]
    assert generated["r_version"].startswith("R version")
    assert set(generated["packages"]) >= {"stats", "jsonlite", "sandwich"}


def test_fixture_covers_the_intended_cases() -> None:
    """Guard against a regenerated fixture silently losing its hard cases."""
    kinds = {data["kind"] for data in REFERENCE["datasets"].values()}
    assert kinds == {"mean", "proportion", "ratio"}
    for key in ("ratio_tests", "cuped_tests", "regression_tests"):
        cases = REFERENCE[key]
        assert {c["options"]["alternative"] for c in cases} == {"two-sided", "greater", "less"}
        assert {c["options"]["margin_type"] for c in cases} == {"absolute", "relative"}
        assert any(c["options"]["margin"] != 0 for c in cases)
    for key in ("cuped_tests", "regression_tests"):
        metrics = {tuple(c["metric"]) for c in REFERENCE[key]}
        assert metrics == {("column",), ("numerator", "denominator")}
        assert any(c["dataset"] in REFERENCE["generated_datasets"] for c in REFERENCE[key])
    assert {len(c["covariates"]) for c in REFERENCE["regression_tests"]} == {1, 2}
    assert any(min(c["n"]) >= HC2_MIN_COUNT for c in REFERENCE["hc2_comparisons"])


@pytest.mark.parametrize("name", sorted(REFERENCE["generated_datasets"]))
def test_generated_data_is_identical_to_r(name: str) -> None:
    """The large set is regenerated here, not stored: it must be R's, bit for bit."""
    columns = _generated_columns(name)
    for arm, checks in REFERENCE["generated_datasets"][name]["check"].items():
        for column, check in checks.items():
            values = columns[arm][column]
            assert values[:3].tolist() == check["head"], (arm, column)
            assert values[-3:].tolist() == check["tail"], (arm, column)
            assert _close(float(np.mean(values)), check["mean"], 1e-12), (arm, column)


# ---------------------------------------------------------------------------------------------
# Ratio metrics (delta method)


@pytest.mark.parametrize("case", REFERENCE["ratio_estimates"], ids=lambda case: case["id"])
def test_ratio_estimate_matches_r(case: dict[str, Any]) -> None:
    control, treatment = _arms(case["dataset"])
    arm = control if case["arm"] == "control" else treatment
    ratio, variance = ratio_estimate(arm, "orders", "sessions")
    assert _close(ratio, case["expected"]["ratio"])
    assert _close(variance, case["expected"]["variance"])


@pytest.mark.parametrize(("case", "method"), _with_methods(REFERENCE["ratio_tests"]))
def test_ratio_test_matches_r(case: dict[str, Any], method: str) -> None:
    control, treatment = _arms(case["dataset"])
    result = ratio_test(
        control, treatment, **case["metric"], **case["options"], relative_method=method
    )
    _check_result(result, case["expected"], method)


# ---------------------------------------------------------------------------------------------
# CUPED


@pytest.mark.parametrize(("case", "method"), _with_methods(REFERENCE["cuped_tests"]))
def test_cuped_test_matches_r(case: dict[str, Any], method: str) -> None:
    control, treatment = _arms(case["dataset"])
    result = cuped_test(
        control,
        treatment,
        case["covariate"],
        **case["metric"],
        **case["options"],
        relative_method=method,
    )
    _check_result(result, case["expected"], method)


# ---------------------------------------------------------------------------------------------
# Regression adjustment (Lin, 2013)


@pytest.mark.parametrize(("case", "method"), _with_methods(REFERENCE["regression_tests"]))
def test_regression_adjusted_test_matches_r(case: dict[str, Any], method: str) -> None:
    control, treatment = _arms(case["dataset"])
    result = regression_adjusted_test(
        control,
        treatment,
        case["covariates"],
        **case["metric"],
        **case["options"],
        relative_method=method,
    )
    _check_result(result, case["expected"], method)


@pytest.mark.parametrize(
    "case",
    [c for c in REFERENCE["regression_tests"] if c["options"]["alternative"] == "two-sided"],
    ids=lambda case: case["id"],
)
def test_regression_adjustment_is_lm(case: dict[str, Any]) -> None:
    """The arm estimates are lm's intercepts, the effect is the interacted model's coefficient.

    The variance of the effect is the sum of the two intercepts' squared standard errors; each
    arm's own variance is checked through the relative intervals of the test above, which
    weight the two differently.
    """
    control, treatment = _arms(case["dataset"])
    result = regression_adjusted_test(
        control, treatment, case["covariates"], **case["metric"], **case["options"]
    )
    fit = case["lm"]
    assert _close(result.control_estimate, fit["offset"] + fit["control_intercept"])
    assert _close(result.treatment_estimate, fit["offset"] + fit["treatment_intercept"])
    assert _close(result.effect, fit["treatment_intercept"] - fit["control_intercept"])
    assert _close(result.effect, fit["interacted_treated_coefficient"])
    variance = fit["control_intercept_variance"] + fit["treatment_intercept_variance"]
    assert _close(result.standard_error**2, variance)


@pytest.mark.parametrize(
    "case",
    [c for c in REFERENCE["hc2_comparisons"] if min(c["n"]) >= HC2_MIN_COUNT],
    ids=lambda case: case["id"],
)
def test_regression_standard_error_approaches_hc2(case: dict[str, Any]) -> None:
    """Asymptotic equivalence with ``sandwich::vcovHC(type = "HC2")`` at 20,000 units per arm.

    Not an identity: ablens uses the per-arm homoskedastic (lm) variance of the intercept, which
    differs from the heteroskedasticity-consistent HC2 variance by O(1/sqrt(n)) relative terms
    (the data here are heteroskedastic and heavy-tailed on purpose).
    """
    control, treatment = _arms(case["dataset"])
    result = regression_adjusted_test(control, treatment, case["covariates"], **case["metric"])
    assert _close(result.standard_error, case["lm_standard_error"])
    assert result.standard_error == pytest.approx(case["hc2_standard_error"], rel=HC2_RTOL)
