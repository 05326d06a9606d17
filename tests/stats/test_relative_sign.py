"""The lift ``(t - c) / |c|`` at controls of any sign, the linear delta lift, Fieller's shapes.

Reference values: ``tests/fixtures/r/relative.json``, written by
``Rscript tests/fixtures/r/relative.R`` (``t.test`` on raw data; each lift interval written out on
the ratio scale and mapped to lifts by ``sign(c) (rho - 1)``; Fieller's roots from ``polyroot``
and its shape from the sign of the quadratic). Agreement to 1e-9 relative.

Then, for every metric kind, the definitional checks: the lift has the sign of the absolute
effect, and the outcome ("better" / "worse") follows the absolute effect whatever the control's
sign and the margin's type.
"""

from __future__ import annotations

import html
import math
from typing import Any

import numpy as np
import pandas as pd
import pytest

import ablens
from ablens import InputError, Moments
from ablens.report import render_report
from ablens.stats import mean_test
from ablens.stats.relative import fieller_set, lift
from rfixtures import load_r_fixture

RTOL = 1e-9
ATOL = 1e-12
REFERENCE: dict[str, Any] = load_r_fixture("relative.json")
WELCH = REFERENCE["welch_cases"]


def _close(actual: float, expected: float) -> bool:
    return actual == pytest.approx(expected, rel=RTOL, abs=ATOL, nan_ok=True)


def _ids(case: dict[str, Any]) -> str:
    return str(case["id"])


def test_fixture_covers_negative_controls_and_every_shape() -> None:
    controls = [c["arms"]["control_mean"] for c in WELCH]
    assert min(controls) < 0 < max(controls)
    assert any(c["expected"]["effect"] > 0 > c["arms"]["control_mean"] for c in WELCH)
    assert any(c["expected"]["effect"] < 0 and c["arms"]["control_mean"] < 0 for c in WELCH)
    shapes = {c["expected"]["shape"] for c in REFERENCE["fieller_shapes"]}
    assert shapes == {"bounded", "two-rays", "real-line"}
    assert any(c["expected"]["fieller"]["shape"] == "two-rays" for c in WELCH)


@pytest.mark.parametrize("case", WELCH, ids=_ids)
@pytest.mark.parametrize("method", ["delta-log", "delta", "fieller"])
def test_lift_and_its_intervals_match_r(case: dict[str, Any], method: str) -> None:
    expected = case["expected"]
    options = case["options"]
    result = mean_test(
        **case["arms"],
        alternative=options["alternative"],
        confidence_level=options["confidence_level"],
        relative_method=method,
    )
    assert _close(result.effect, expected["effect"])
    assert _close(result.relative_effect, expected["lift"])
    assert math.copysign(1.0, result.relative_effect) == math.copysign(1.0, result.effect)
    assert _close(result.relative_standard_error, expected["lift_standard_error"])
    if method == "fieller":
        fieller = expected["fieller"]
        assert result.relative_ci_shape == fieller["shape"]
        wanted = fieller["bounds"]
        if fieller["gap"] is None:
            assert result.relative_ci_gap is None
        else:
            assert result.relative_ci_gap is not None
            assert all(map(_close, result.relative_ci_gap, fieller["gap"]))
    else:
        wanted = expected["relative_ci"][method]
        assert result.relative_ci_shape == "bounded"
    assert _close(result.relative_ci_lower, wanted[0]), (result.relative_ci, wanted)
    assert _close(result.relative_ci_upper, wanted[1]), (result.relative_ci, wanted)


@pytest.mark.parametrize("case", WELCH, ids=_ids)
@pytest.mark.parametrize("method", ["delta-log", "delta", "fieller"])
def test_relative_margin_test_matches_r(case: dict[str, Any], method: str) -> None:
    expected = case["expected"]
    options = case["options"]

    def run() -> ablens.TestResult:
        return mean_test(
            **case["arms"],
            **options,
            margin_type="relative",
            relative_method=method,
        )

    statistic = expected["margin_statistic"][method]
    if options["margin"] == 0 and method != "delta":
        # A zero lift is a zero difference: the ordinary Welch test (Fieller's pivot at
        # rho = 1 is that test; delta-log keeps it rather than its log pivot).
        result = run()
        assert _close(result.statistic, expected["welch_statistic"])
        assert _close(result.p_value, expected["welch_p_value"])
        return
    if statistic is None:  # the log ratio of estimates of opposite signs
        with pytest.raises(InputError, match="same sign"):
            run()
        return
    result = run()
    assert _close(result.statistic, statistic)
    assert _close(result.p_value, expected["margin_p_value"][method])
    assert result.df == pytest.approx(expected["df"], rel=RTOL)


@pytest.mark.parametrize(
    "case",
    REFERENCE["fieller_shapes"],
    ids=lambda c: f"{c['treatment']}-{c['control']}-{c['alternative']}",
)
def test_fieller_set_shape_matches_r(case: dict[str, Any]) -> None:
    found = fieller_set(
        case["treatment"],
        case["control"],
        case["var_treatment"],
        case["var_control"],
        q=case["q"],
        alternative=case["alternative"],
    )
    expected = case["expected"]
    assert found.shape == expected["shape"]
    assert _close(found.lower, expected["bounds"][0])
    assert _close(found.upper, expected["bounds"][1])
    if expected["gap"] is None:
        assert found.gap is None
    else:
        assert found.gap is not None
        assert all(map(_close, found.gap, expected["gap"]))


def test_lift_is_undefined_at_a_zero_control() -> None:
    assert math.isnan(lift(1.0, 0.0))
    with pytest.raises(InputError, match="control estimate is 0"):
        fieller_set(1.0, 0.0, 0.1, 0.1, q=1.96)


# ------------------------------------------------------------------ every metric kind, outcomes


def _arm(column: str, values: np.ndarray) -> Moments:
    return Moments.from_columns({column: values})


def _shifted(rng: np.random.Generator, n: int, mean: float, sd: float) -> np.ndarray:
    return mean + sd * rng.standard_normal(n)


def test_the_issue_example_reads_better_for_either_margin_type() -> None:
    """Control mean -10, treatment -5: up 50%, "better" whether the margin is absolute or not."""
    data = {
        "control": Moments.from_summary(1_000, mean={"x": -10.0}, variance={"x": 25.0}),
        "treatment": Moments.from_summary(1_000, mean={"x": -5.0}, variance={"x": 25.0}),
    }
    for margin_type in ("absolute", "relative"):
        for method in ("delta-log", "delta", "fieller"):
            metric = ablens.Mean("x", margin_type=margin_type, relative_method=method)
            c = ablens.analyze(data, [metric], control="control").comparison("x")
            assert c.result.effect == 5.0
            assert c.result.relative_effect == 0.5
            assert c.outcome == "better", (margin_type, method)
            lower, upper = c.result.relative_ci
            assert 0 < lower < 0.5 < upper
        decrease = ablens.Mean("x", margin_type=margin_type, direction="decrease")
        c = ablens.analyze(data, [decrease], control="control").comparison("x")
        assert c.outcome == "worse"


def test_a_relative_non_inferiority_margin_on_a_negative_metric() -> None:
    """A drop of 1% of the control's size passes a -5% margin whichever the control's sign."""
    for sign in (1.0, -1.0):
        data = {
            "control": Moments.from_summary(50_000, mean={"x": 10.0 * sign}, variance={"x": 4.0}),
            "treatment": Moments.from_summary(
                50_000, mean={"x": 10.0 * sign - 0.1}, variance={"x": 4.0}
            ),
        }
        for method in ("delta-log", "delta", "fieller"):
            metric = ablens.Mean(
                "x",
                alternative="greater",
                margin=-0.05,
                margin_type="relative",
                relative_method=method,
            )
            comparison = ablens.analyze(data, [metric], control="control").comparison("x")
            result = comparison.result
            assert result.relative_effect == pytest.approx(-0.01, rel=1e-12)
            assert result.statistic > 10  # far inside the margin
            assert comparison.outcome == "better"  # better than the margin: non-inferior
            # The same lift against a -0.5% margin is not shown to be non-inferior.
            strict = ablens.Mean(
                "x",
                alternative="greater",
                margin=-0.005,
                margin_type="relative",
                relative_method=method,
            )
            strict_result = ablens.analyze(data, [strict], control="control").comparison("x")
            assert strict_result.result.p_value > 0.5


def _check_kind(result: ablens.TestResult) -> None:
    c = result.control_estimate
    if c == 0:
        assert math.isnan(result.relative_effect)
        return
    assert result.relative_effect == pytest.approx(result.effect / abs(c), rel=1e-12)
    if result.effect != 0:
        assert (result.relative_effect > 0) == (result.effect > 0)


@pytest.mark.parametrize("control_mean", [-10.0, -1e-6, 0.0, 1e-6])
def test_every_moment_kind_takes_its_lift_from_the_absolute_effect(control_mean: float) -> None:
    """Mean, ratio, CUPED- and regression-adjusted means, post-stratified means."""
    rng = np.random.default_rng(7)
    n = 400
    frames = []
    for arm, shift in (("control", 0.0), ("treatment", 0.5)):
        pre = _shifted(rng, n, 0.0, 1.0)
        y = control_mean + shift + 0.8 * pre + 0.6 * rng.standard_normal(n)
        y = y - y.mean() + control_mean + shift  # pin each arm's mean exactly
        sessions = rng.integers(1, 5, n).astype(float)
        frames.append(
            pd.DataFrame(
                {
                    "variant": arm,
                    "y": y,
                    "pre": pre,
                    "net": y * sessions,
                    "sessions": sessions,
                    "segment": np.where(rng.random(n) < 0.5, "a", "b"),
                }
            )
        )
    table = pd.concat(frames, ignore_index=True)
    metrics: list[ablens.Metric] = [
        ablens.Mean("y", name="mean"),
        ablens.Mean("y", name="cuped", covariates="pre", adjustment="cuped"),
        ablens.Mean("y", name="regression", covariates=["pre"], adjustment="regression"),
        ablens.Ratio("net", "sessions", name="ratio"),
        ablens.PostStratified("y", "segment", name="stratified"),
    ]
    result = ablens.analyze(table, metrics, control="control")
    for comparison in result.comparisons:
        _check_kind(comparison.result)
        assert comparison.result.effect > 0
        assert comparison.outcome in ("better", "inconclusive")
        if control_mean == -10.0:
            assert comparison.outcome == "better", comparison.metric


@pytest.mark.parametrize(("control_rate", "treatment_rate"), [(0.0, 0.02), (1e-4, 0.03)])
def test_proportions_with_a_zero_or_tiny_control(
    control_rate: float, treatment_rate: float
) -> None:
    n = 20_000
    data = {
        arm: Moments.from_columns(
            {"converted": np.r_[np.ones(round(rate * n)), np.zeros(n - round(rate * n))]}
        )
        for arm, rate in (("control", control_rate), ("treatment", treatment_rate))
    }
    result = ablens.analyze(data, [ablens.Proportion("converted")], control="control")
    comparison = result.comparison("converted")
    _check_kind(comparison.result)
    assert comparison.outcome == "better"


def test_quantiles_and_ranks_of_a_negative_metric() -> None:
    rng = np.random.default_rng(3)
    table = pd.DataFrame(
        {
            "variant": ["control"] * 3_000 + ["treatment"] * 3_000,
            "y": np.r_[_shifted(rng, 3_000, -20.0, 4.0), _shifted(rng, 3_000, -19.0, 4.0)],
        }
    )
    metrics = [ablens.Quantile("y", 0.5, name="median"), ablens.MannWhitney("y", name="ranks")]
    result = ablens.analyze(table, metrics, control="control")
    median = result.comparison("median")
    _check_kind(median.result)
    assert median.result.control_estimate < 0 < median.result.effect
    assert median.result.relative_effect > 0
    assert median.outcome == "better"
    assert result.comparison("ranks").outcome == "better"


def test_delta_log_refuses_a_relative_margin_across_a_sign_change() -> None:
    with pytest.raises(InputError, match=r"same sign.*'fieller' or 'delta'"):
        mean_test(
            control_count=50,
            control_mean=-1.0,
            control_variance=1.0,
            treatment_count=50,
            treatment_mean=0.5,
            treatment_variance=1.0,
            margin=0.1,
            margin_type="relative",
        )


def test_delta_margin_must_keep_a_positive_null_ratio_only_for_delta_log() -> None:
    arms = {
        "control_count": 50,
        "control_mean": 2.0,
        "control_variance": 1.0,
        "treatment_count": 50,
        "treatment_mean": 0.5,
        "treatment_variance": 1.0,
    }
    with pytest.raises(InputError, match=r"margin == -1\.5 puts the null ratio"):
        mean_test(**arms, margin=-1.5, margin_type="relative")
    # The linear delta method and Fieller's pivot test any margin.
    for method in ("delta", "fieller"):
        r = mean_test(**arms, margin=-1.5, margin_type="relative", relative_method=method)
        assert math.isfinite(r.p_value)


# Printed by GrowthBook's gbstats 0.8.0, TwoSidedTTest(difference_type="relative") on
# n = (1000, 1100), means (10, 10.3), variances (4, 5): expected, ci, p_value. gbstats divides
# by the signed control mean, so on the mirrored negative metric its lift is ablens' negated.
GBSTATS = {
    10.0: (0.030000000000000072, (0.011614736578533267, 0.04838526342146687), 0.001394798527372787),
    -10.0: (
        -0.030000000000000072,
        (-0.04787617435356213, -0.012123825646438015),
        0.0010143918574210264,
    ),
}


@pytest.mark.parametrize("control_mean", [10.0, -10.0])
def test_linear_delta_lift_reproduces_gbstats(control_mean: float) -> None:
    sign = 1.0 if control_mean > 0 else -1.0
    result = mean_test(
        control_count=1000,
        control_mean=control_mean,
        control_variance=4.0,
        treatment_count=1100,
        treatment_mean=control_mean + 0.3,
        treatment_variance=5.0,
        margin_type="relative",
        relative_method="delta",
    )
    expected, (lower, upper), p = GBSTATS[control_mean]
    assert result.relative_effect == pytest.approx(sign * expected, rel=1e-9)
    wanted = (lower, upper) if sign > 0 else (-upper, -lower)
    assert result.relative_ci == pytest.approx(wanted, rel=1e-9)
    assert result.p_value == pytest.approx(p, rel=1e-9)


def test_faces_say_what_an_unbounded_fieller_set_excludes() -> None:
    data = {
        "control": Moments.from_summary(12, mean={"x": 0.3}, variance={"x": 4.0}),
        "treatment": Moments.from_summary(12, mean={"x": 2.5}, variance={"x": 4.0}),
    }
    result = ablens.analyze(data, [ablens.Mean("x", relative_method="fieller")], control="control")
    comparison = result.comparison("x")
    assert comparison.result.relative_ci_shape == "two-rays"
    gap = comparison.result.relative_ci_gap
    assert gap is not None
    text = comparison.relative_interval_text
    assert text.startswith("[any lift outside ")
    assert text in str(result)
    assert text in result.to_markdown()
    row = comparison.to_dict()
    assert row["relative_ci_shape"] == "two-rays"
    assert (row["relative_ci_gap_lower"], row["relative_ci_gap_upper"]) == gap
    page = render_report(result)
    assert html.escape(text) in page
    # No interval bar: it would draw the two rays as one interval covering everything.
    assert '<span class="muted">unbounded</span>' in page
