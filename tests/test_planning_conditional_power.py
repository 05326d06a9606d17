"""PowerPlan.conditional_power: the plan's numbers fed to conditional_power_from_result."""

from __future__ import annotations

import math

import pytest

from ablens import InputError, conditional_power, conditional_power_from_result, power_plan
from ablens.stats import mean_test, proportion_test, solve_power


def test_plan_conditional_power_uses_the_plans_size_effect_and_level():
    plan = power_plan(baseline_rate=0.10, mde=0.05, arms=3, correction="bonferroni")
    interim = proportion_test(2_000, 20_000, 2_100, 20_000)
    n = 60_000
    result = plan.conditional_power(interim, n=n)
    expected = conditional_power_from_result(
        interim,
        n=n,
        n_planned=plan.n_total,
        planned_effect=plan.effect,
        alpha=plan.comparison_alpha,
    )
    assert result == expected
    # Bonferroni over two comparisons: the final boundary is z_{1 - 0.025 / 2}.
    assert result.critical_value == pytest.approx(2.241402727604947, rel=1e-14)
    assert result.information_fraction == pytest.approx(n / plan.n_total, rel=1e-15)


def test_planned_drift_is_the_plans_design():
    # An interim z test whose variances are the plan's: the planned drift gives, from t -> 0,
    # exactly the plan's power at its (rounded) size.
    plan = power_plan(mean=10.0, sd=5.0, mde=0.25, mde_type="absolute")
    half = plan.n_per_arm[0] // 2
    interim = mean_test(half, 10.0, 25.0, half, 10.1, 25.0, test="z")
    result = plan.conditional_power(interim, n=2 * half)
    drift = result.planned_drift
    z = 1.959963984540054
    power_from_drift = 0.5 * math.erfc((z - drift) / math.sqrt(2)) + 0.5 * math.erfc(
        (z + drift) / math.sqrt(2)
    )
    design = solve_power("mean", n=2 * plan.n_per_arm[0], effect=0.25, power=None, sd=5.0)
    assert power_from_drift == pytest.approx(design.power, rel=1e-12)
    assert result.planned == pytest.approx(
        conditional_power(interim.statistic, result.information_fraction, drift=drift), rel=1e-12
    )


def test_plan_conditional_power_bad_input():
    plan = power_plan(baseline_rate=0.10, mde=0.05)
    interim = proportion_test(2_000, 20_000, 2_100, 20_000)
    with pytest.raises(InputError, match="exceeds n_planned"):
        plan.conditional_power(interim, n=plan.n_total + 1)
    with pytest.raises(InputError, match="n == 0"):
        plan.conditional_power(interim, n=0)
    one_sided = proportion_test(2_000, 20_000, 2_100, 20_000, alternative="greater")
    with pytest.raises(InputError, match="must be the plan's 'two-sided'"):
        plan.conditional_power(one_sided, n=40_000)
    sequential = power_plan(baseline_rate=0.10, mde=0.05, sequential="group-sequential")
    with pytest.raises(InputError, match="one final analysis"):
        sequential.conditional_power(interim, n=40_000)


def test_plan_conditional_power_renders_as_the_other_results():
    plan = power_plan(baseline_rate=0.10, mde=0.05)
    interim = proportion_test(2_000, 20_000, 2_100, 20_000)
    result = plan.conditional_power(interim, n=40_000)
    assert [r["assumption"] for r in result.to_records()] == [
        "current trend",
        "planned effect",
        "no effect",
    ]
    assert result.to_records()[1]["conditional_power"] == result.planned
    assert result.to_markdown().startswith("Conditional power at ")
    assert result._repr_html_() == result.to_html()
