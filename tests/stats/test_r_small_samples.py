"""The delta-method ratio test with a t reference against R, on small arms (issue 14, item 10).

The fixture ``tests/fixtures/r/small_samples.json`` is written by
``Rscript tests/fixtures/r/small_samples.R`` from raw per-unit numerator and denominator values
stored in it. Its reference is ``t.test(L_t, L_c, var.equal = FALSE)`` on the linearized values
``L_i = R + (N_i - R D_i) / mean(D)`` of each arm: Welch's test on them is the delta-method
statistic with the Welch-Satterthwaite degrees of freedom, an independent route to the number
ablens computes from moments (the script also checks the moments formula against it). Every
number must agree to 1e-9 relative (1e-12 absolute); infinite bounds must be equal.
"""

from __future__ import annotations

import math
from typing import Any

import pytest

from ablens import Moments, Ratio, analyze, ratio_test
from rfixtures import load_r_fixture

RTOL = 1e-9
ATOL = 1e-12

REFERENCE: dict[str, Any] = load_r_fixture("small_samples.json")
CASES = REFERENCE["ratio_t"]
FIELDS = (
    "control_estimate",
    "treatment_estimate",
    "effect",
    "standard_error",
    "statistic",
    "df",
    "p_value",
    "effect_ci_lower",
    "effect_ci_upper",
    "control_variance",
    "treatment_variance",
)


def _arms(dataset: str) -> tuple[Moments, Moments]:
    data = REFERENCE["datasets"][dataset]
    return tuple(  # type: ignore[return-value]
        Moments.from_columns(
            {"orders": data[arm]["numerator"], "sessions": data[arm]["denominator"]}
        )
        for arm in ("control", "treatment")
    )


def _relative_error(actual: float, expected: float) -> float:
    if math.isinf(expected) or math.isinf(actual):
        return 0.0 if actual == expected else math.inf
    return abs(actual - expected) / max(abs(expected), ATOL / RTOL)


def test_fixture_covers_small_arms_and_every_alternative():
    assert len(CASES) >= 30
    assert {c["options"]["alternative"] for c in CASES} == {"two-sided", "greater", "less"}
    assert {c["dataset"] for c in CASES} >= {"five_vs_four", "constant_treatment"}


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_ratio_t_reference_matches_welch_t_test_on_linearized_values(case):
    control, treatment = _arms(case["dataset"])
    result = ratio_test(control, treatment, "orders", "sessions", reference="t", **case["options"])
    assert result.test == "delta-t"
    expected = case["expected"]
    errors = {f: _relative_error(getattr(result, f), expected[f]) for f in FIELDS}
    assert max(errors.values()) <= RTOL, errors
    assert result.notes == ()  # a t reference needs no small-sample warning


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_normal_reference_is_the_same_statistic_referred_to_the_normal(case):
    control, treatment = _arms(case["dataset"])
    result = ratio_test(control, treatment, "orders", "sessions", **case["options"])
    expected = case["expected"]
    assert result.test == "delta"
    assert result.df is None
    assert _relative_error(result.statistic, expected["statistic"]) <= RTOL
    assert _relative_error(result.p_value, expected["p_value_normal"]) <= RTOL
    small = min(control.count, treatment.count) < 30
    assert bool(result.notes) is small
    if small:
        assert "reference='t'" in result.notes[0]


def test_issue_example_five_units_against_four():
    """Issue 14: p = 3.1e-7 from the normal reference where Welch's t gives 0.0029."""
    control, treatment = _arms("five_vs_four")
    assert (control.count, treatment.count) == (5, 4)
    normal = ratio_test(control, treatment, "orders", "sessions")
    welch = ratio_test(control, treatment, "orders", "sessions", reference="t")
    assert f"{normal.p_value:.2g}" == "3.1e-07"
    assert f"{welch.p_value:.2g}" == "0.0029"
    assert welch.statistic == pytest.approx(normal.statistic, rel=1e-15)
    assert 5 < welch.df < 7  # at most n_c + n_t - 2 = 7
    assert len(normal.notes) == 1
    assert "5 control and 4 treatment units" in normal.notes[0]


def test_constant_arm_leaves_the_other_arms_degrees_of_freedom():
    control, treatment = _arms("constant_treatment")
    result = ratio_test(control, treatment, "orders", "sessions", reference="t")
    assert result.treatment_variance == 0
    assert result.df == pytest.approx(control.count - 1, rel=1e-12)


def test_ratio_metric_and_analyze_carry_the_reference():
    control, treatment = _arms("five_vs_four")
    case = next(c for c in CASES if c["id"] == "five_vs_four-two-sided-0.95-0")
    metric = Ratio("orders", "sessions", reference="t")
    analysis = analyze({"c": control, "t": treatment}, [metric], control="c")
    result = analysis.comparisons[0].result
    assert result.test == "delta-t"
    assert _relative_error(result.df, case["expected"]["df"]) <= RTOL
    assert _relative_error(result.p_value, case["expected"]["p_value"]) <= RTOL
    assert analysis.to_dict()["comparisons"][0]["df"] == result.df
    assert result.notes == ()
