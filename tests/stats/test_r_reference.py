"""Agreement of ablens.stats with reference values computed independently in R.

The fixture ``tests/fixtures/r/fixed_horizon.json`` is written by
``Rscript tests/fixtures/r/fixed_horizon.R`` (run from the repository root): ``t.test`` on raw
simulated data for Welch and Student, ``prop.test`` / ``fisher.test`` for proportions,
``chisq.test`` for sample-ratio mismatch, ``p.adjust`` for multiplicity, and written-out
textbook formulas (commented in the R script) for the z test of means, the relative-effect
intervals (delta-log, linear delta and Fieller), tests against margins and Šidák. Every
number must agree to 1e-9 relative (1e-12 absolute); infinite bounds must be the same infinity
and NaN must be NaN.
"""

from __future__ import annotations

import math
from typing import Any

import pytest

from ablens.stats import (
    adjust_pvalues,
    adjusted_confidence_level,
    mean_test,
    proportion_test,
    srm_test,
)
from rfixtures import load_r_fixture

RTOL = 1e-9
ATOL = 1e-12


REFERENCE: dict[str, Any] = load_r_fixture("fixed_horizon.json")
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


def _close(actual: float, expected: float) -> bool:
    """Agreement to RTOL relative / ATOL absolute; equal infinities and NaN with NaN agree."""
    return actual == pytest.approx(expected, rel=RTOL, abs=ATOL, nan_ok=True)


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
    if expected["df"] is None:
        if result.df is not None:
            mismatches.append(f"df: python {result.df!r} != R None (normal or exact reference)")
    elif result.df is None or not _close(result.df, expected["df"]):
        mismatches.append(f"df: python {result.df!r} != R {expected['df']!r}")
    assert not mismatches, "\n".join(mismatches)
    assert result.relative_method == method


def test_fixture_records_its_provenance() -> None:
    generated = REFERENCE["generated_with"]
    assert generated["r_version"].startswith("R version")
    assert set(generated["packages"]) >= {"stats", "jsonlite"}


def test_fixture_covers_the_intended_cases() -> None:
    """Guard against a regenerated fixture silently losing its hard cases."""
    means, props = REFERENCE["mean_tests"], REFERENCE["proportion_tests"]
    assert {c["options"]["test"] for c in means} == {"welch", "student", "z"}
    assert {c["options"]["test"] for c in props} == {"z", "chi2", "chi2-yates", "fisher"}
    for cases in (means, props):
        assert {c["options"]["alternative"] for c in cases} == {"two-sided", "greater", "less"}
        assert {c["options"]["margin_type"] for c in cases} == {"absolute", "relative"}
        assert any(c["options"]["margin"] != 0 for c in cases)
    fieller = [c["expected"]["relative_ci"]["fieller"] for c in means]
    assert [-math.inf, math.inf] in fieller  # an unbounded Fieller set
    delta_log = [c["expected"]["relative_ci"]["delta-log"] for c in means + props]
    assert any(math.isnan(lower) for lower, _ in delta_log)  # an undefined log ratio
    sizes = {len(c["pvalues"]) for c in REFERENCE["adjust_pvalues"]}
    assert sizes >= {1, 2, 3, 5, 10, 20}
    assert {len(c["counts"]) for c in REFERENCE["srm_tests"]} == {2, 3, 4}


@pytest.mark.parametrize(("case", "method"), _with_methods(REFERENCE["mean_tests"]))
def test_mean_test_matches_r(case: dict[str, Any], method: str) -> None:
    data = REFERENCE["mean_datasets"][case["dataset"]]
    result = mean_test(**data, **case["options"], relative_method=method)
    _check_result(result, case["expected"], method)


@pytest.mark.parametrize(("case", "method"), _with_methods(REFERENCE["proportion_tests"]))
def test_proportion_test_matches_r(case: dict[str, Any], method: str) -> None:
    table = REFERENCE["proportion_tables"][case["table"]]
    result = proportion_test(**table, **case["options"], relative_method=method)
    _check_result(result, case["expected"], method)


@pytest.mark.parametrize("case", REFERENCE["srm_tests"], ids=lambda case: case["id"])
def test_srm_test_matches_chisq_test(case: dict[str, Any]) -> None:
    result = srm_test([int(c) for c in case["counts"]], case["weights"])
    expected = case["expected"]
    assert result.df == expected["df"]
    assert _close(result.statistic, expected["statistic"])
    assert _close(result.p_value, expected["p_value"])
    assert list(result.expected) == pytest.approx(expected["expected_counts"], rel=RTOL, abs=ATOL)


@pytest.mark.parametrize("case", REFERENCE["adjust_pvalues"], ids=lambda case: case["id"])
def test_adjust_pvalues_matches_p_adjust(case: dict[str, Any]) -> None:
    adjusted = adjust_pvalues(case["pvalues"], case["method"])
    assert adjusted.tolist() == pytest.approx(case["expected"], rel=RTOL, abs=ATOL)


@pytest.mark.parametrize(
    "case", REFERENCE["adjusted_confidence_level"], ids=lambda case: case["id"]
)
def test_adjusted_confidence_level_matches_formula(case: dict[str, Any]) -> None:
    level = adjusted_confidence_level(
        case["confidence_level"], case["family_size"], case["method"], case["rejections"]
    )
    if case["expected"] is None:
        assert level is None
    else:
        assert level == pytest.approx(case["expected"], rel=RTOL, abs=ATOL)
