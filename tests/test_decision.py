"""The health checks and the verdict (ablens.decision): labels, reasons, the two questions."""

from __future__ import annotations

import datetime as dt
import json

import pytest

import ablens
from ablens.analysis_plan import plan_from_dict
from ablens.decision import (
    FIX_DATA,
    KEEP_RUNNING,
    NO_EFFECT,
    ROLL_BACK,
    SHIP,
    VERDICTS,
    HealthCheck,
    verdict,
)


# ----------------------------------------------------------------------------- the verdict
def _moments(n, mean, sd=5.0):
    return ablens.Moments.from_summary(n, mean=dict(mean), variance=dict.fromkeys(mean, sd**2))


def _result(arms, metrics, **options):
    data = {arm: _moments(n, means) for arm, (n, means) in arms.items()}
    return ablens.analyze(data, metrics, control=next(iter(arms)), **options)


PRIMARY = ablens.Mean("spend", role="primary")
LATENCY = ablens.Mean("latency", role="guardrail", direction="decrease")


def test_ship_when_primary_better_and_guardrails_hold():
    result = _result(
        {
            "control": (10_000, {"spend": 10.0, "latency": 100.0}),
            "treatment": (10_000, {"spend": 10.4, "latency": 100.0}),
        },
        [PRIMARY, LATENCY],
    )
    decision = verdict(result)
    label, reason = decision
    assert label == SHIP
    assert reason.startswith("treatment raised spend by 4% [")
    assert reason.endswith("and no guardrail got worse.")
    assert decision.healthy
    assert [c.name for c in decision.checks] == ["sample-ratio", "sample-size", "guardrails"]


def test_guardrail_worse_rolls_back_even_when_primary_wins():
    result = _result(
        {
            "control": (10_000, {"spend": 10.0, "latency": 100.0}),
            "treatment": (10_000, {"spend": 10.4, "latency": 101.0}),
        },
        [PRIMARY, LATENCY],
    )
    decision = verdict(result)
    assert decision.label == ROLL_BACK
    assert decision.reason.startswith("latency, a guardrail, got worse with treatment: up 1% [")
    assert not decision.healthy


def test_guardrail_better_in_its_direction_is_no_breach():
    result = _result(
        {
            "control": (10_000, {"spend": 10.0, "latency": 100.0}),
            "treatment": (10_000, {"spend": 10.4, "latency": 99.0}),
        },
        [PRIMARY, LATENCY],
    )
    assert verdict(result).label == SHIP


def test_primary_worse_rolls_back():
    result = _result(
        {"control": (10_000, {"spend": 10.0}), "treatment": (10_000, {"spend": 9.6})},
        [PRIMARY],
    )
    label, reason = verdict(result)
    assert label == ROLL_BACK
    assert reason.startswith("treatment moved spend the wrong way: down 4% [")


def test_sample_ratio_mismatch_blocks_everything():
    result = _result(
        {"control": (9_000, {"spend": 10.0}), "treatment": (11_000, {"spend": 10.4})},
        [PRIMARY],
    )
    label, reason = verdict(result)
    assert label == FIX_DATA
    assert reason.startswith(
        "The arms got 9,000 / 11,000 units where the plan expects 50% / 50% (sample-ratio "
        "mismatch, p<1e-10"
    )
    assert "before reading any metric" in reason


def test_planned_split_is_what_the_ratio_is_checked_against():
    result = _result(
        {"control": (9_000, {"spend": 10.0}), "treatment": (11_000, {"spend": 10.0})},
        [PRIMARY],
        weights={"control": 45, "treatment": 55},
    )
    assert verdict(result).checks[0].passed


def _planned(**planned):
    return plan_from_dict(
        {
            "experiment_id": "e",
            "source": {"path": "x.parquet"},
            "control": "control",
            "metrics": [{"kind": "mean", "column": "spend"}],
            "planned": planned,
        }
    )


def test_not_enough_data_keeps_running_with_days_at_planned_traffic():
    result = _result(
        {"control": (5_000, {"spend": 10.0}), "treatment": (5_000, {"spend": 10.4})},
        [PRIMARY],
    )
    decision = verdict(result, _planned(sample_size=40_000, duration_days=28))
    assert decision.label == KEEP_RUNNING
    assert decision.reason.startswith(
        "Only 10,000 of the planned 40,000 units (25%); about 21 more days at the planned "
        "traffic; results read before then are not final"
    )


def test_days_remaining_from_current_traffic_and_duration():
    result = _result(
        {"control": (5_000, {"spend": 10.0}), "treatment": (5_000, {"spend": 10.0})},
        [PRIMARY],
    )
    plan = _planned(sample_size=30_000, duration_days=14, start_date="2026-03-01")
    decision = verdict(result, plan, today=dt.date(2026, 3, 6))  # 5 days, 2,000 a day
    assert decision.label == KEEP_RUNNING
    assert decision.reason.startswith(
        "Only 10,000 of the planned 30,000 units (33%) and day 5 of 14; about 10 more days "
        "at the current traffic"
    )
    done = verdict(result, plan, today=dt.date(2026, 3, 20))
    assert done.checks[1].passed is False  # the duration is over, the sample is not
    full = _result(
        {"control": (15_000, {"spend": 10.0}), "treatment": (15_000, {"spend": 10.0})},
        [PRIMARY],
    )
    assert verdict(full, plan, today=dt.date(2026, 3, 20)).checks[1].passed


def test_flat_result_states_the_detectable_effect():
    result = _result(
        {"control": (10_000, {"spend": 10.0}), "treatment": (10_000, {"spend": 10.02})},
        [PRIMARY],
    )
    decision = verdict(result)  # no plan: nothing says the experiment is over
    assert decision.label == KEEP_RUNNING
    assert decision.reason.startswith("No primary metric moved beyond chance: spend +0.2% [")
    # 2.8016 standard errors of the difference (5 * sqrt(2 / 10,000)) over the control mean.
    assert "only a change of about ±1.98% would be detected with 80% power" in decision.reason
    assert decision.reason.endswith("a flat result without power is not evidence of no effect.")
    assert decision.healthy


def test_flat_result_at_the_planned_size_is_final_and_says_what_it_rules_out():
    result = _result(
        {"control": (10_000, {"spend": 10.0}), "treatment": (10_000, {"spend": 10.02})},
        [PRIMARY],
    )
    decision = verdict(result, _planned(sample_size=20_000))
    assert decision.label == NO_EFFECT
    assert decision.complete
    assert decision.healthy
    assert "keep running" not in str(decision)
    spend = next(c for c in result.comparisons if c.metric == "spend")
    upper = ablens.render.format_percent(spend.result.relative_ci_upper)
    assert decision.reason.startswith(
        "At the planned size no primary metric moved beyond chance: spend +0.2% ["
    )
    assert decision.reason.endswith(f"; the 95% interval rules out a lift above {upper}.")
    # A metric that should go down: its lower bound is the one in the good direction.
    latency = _result(
        {"control": (10_000, {"latency": 100.0}), "treatment": (10_000, {"latency": 100.05})},
        [ablens.Mean("latency", role="primary", direction="decrease")],
    )
    lower = latency.comparisons[0].result.relative_ci_lower
    reason = verdict(latency, _planned(sample_size=20_000)).reason
    assert reason.endswith(
        f"; the 95% interval rules out a drop below {ablens.render.format_percent(lower)}."
    )
    # Short of the planned size the verdict still waits.
    assert verdict(result, _planned(sample_size=30_000)).label == KEEP_RUNNING


def test_numeric_arm_names_read_as_arms():
    result = _result(
        {"1": (10_000, {"spend": 10.0}), "2": (10_000, {"spend": 10.4})},
        [PRIMARY],
    )
    assert verdict(result).reason.startswith("arm 2 raised spend by 4% [")
    worse = _result(
        {"1": (10_000, {"spend": 10.4}), "2": (10_000, {"spend": 10.0})},
        [PRIMARY],
    )
    assert verdict(worse).reason.startswith("arm 2 moved spend the wrong way: down ")


def test_sample_ratio_between_the_blocking_threshold_and_5_percent_gets_a_note():
    # 9,800 vs 10,200: chi2 = 400**2 / 10,000 * 2 / 2 = 8, p = P(chi2_1 > 8) = 0.004678.
    result = _result(
        {"control": (9_800, {"spend": 10.0}), "treatment": (10_200, {"spend": 10.0})},
        [PRIMARY],
    )
    check = verdict(result).checks[0]
    assert check.passed
    assert "p=0.004678: above the 0.001 threshold that blocks, below 0.05" in check.message
    assert "watch the split" in check.message
    even = _result(
        {"control": (10_000, {"spend": 10.0}), "treatment": (10_000, {"spend": 10.0})},
        [PRIMARY],
    )
    assert "threshold" not in verdict(even).checks[0].message


def test_multi_arm_ships_the_winner_and_drops_the_loser():
    result = _result(
        {
            "control": (10_000, {"spend": 10.0}),
            "b": (10_000, {"spend": 10.5}),
            "c": (10_000, {"spend": 9.5}),
        },
        [PRIMARY],
        weights=None,
    )
    label, reason = verdict(result)
    assert label == SHIP
    assert reason.startswith("b raised spend by 5%")
    assert reason.endswith("drop c, which moved a primary metric the wrong way.")


def test_sequential_declaration_without_looks_is_a_note():
    plan = plan_from_dict({**_planned().to_dict(), "sequential": "msprt", "time": "day"})
    result = _result(
        {"control": (10_000, {"spend": 10.0}), "treatment": (10_000, {"spend": 10.0})},
        [PRIMARY],
    )
    decision = verdict(result, plan)
    assert decision.notes[0] == (
        "The plan declares the msprt sequential method, but no look was read; this readout "
        "uses fixed-horizon tests, valid only at the planned sample size."
    )
    assert decision.to_dict()["label"] in VERDICTS
    assert json.loads(json.dumps(decision.to_dict()))["healthy"] is True
    assert str(decision).startswith(f"{KEEP_RUNNING}: ")


def test_health_check_status_and_the_two_questions_of_a_verdict():
    assert HealthCheck("sample-ratio", passed=True, message="ok").status == "passed"
    assert HealthCheck("sample-ratio", passed=False, message="broken").status == "failed"
    assert (
        HealthCheck("sample-size", passed=False, message="wait", incomplete=True).status
        == "incomplete"
    )
    assert HealthCheck("sample-size", passed=False, message="wait", incomplete=True).to_dict() == {
        "name": "sample-size",
        "passed": False,
        "status": "incomplete",
        "message": "wait",
    }
    with pytest.raises(ValueError, match="cannot be incomplete"):
        HealthCheck("sample-size", passed=True, message="in", incomplete=True)

    result = _result(
        {"control": (5_000, {"spend": 10.0}), "treatment": (5_000, {"spend": 10.4})},
        [PRIMARY],
    )
    waiting = verdict(result, _planned(sample_size=40_000))
    assert waiting.label == KEEP_RUNNING
    assert [c.status for c in waiting.checks] == ["passed", "incomplete"]
    assert waiting.healthy is True  # nothing is wrong ...
    assert waiting.complete is False  # ... the sample is just not in yet
    assert waiting.exit_code() == 0
    assert waiting.exit_code(fail_on_incomplete=True) == 1
    assert waiting.to_dict()["complete"] is False
    assert waiting.to_dict()["checks"][1]["status"] == "incomplete"

    done = verdict(result, _planned(sample_size=10_000))
    assert (done.label, done.healthy, done.complete) == (SHIP, True, True)
    assert done.exit_code(fail_on_incomplete=True) == 0

    mismatch = _result(
        {"control": (9_000, {"spend": 10.0}), "treatment": (11_000, {"spend": 10.4})},
        [PRIMARY],
    )
    broken = verdict(mismatch, _planned(sample_size=40_000))
    assert [c.status for c in broken.checks] == ["failed", "incomplete"]
    assert (broken.label, broken.healthy, broken.complete) == (FIX_DATA, False, False)
    assert broken.exit_code() == 1


def test_exit_code_fails_on_unwanted_verdicts_and_refuses_unknown_names():
    decision = verdict(
        _result(
            {"control": (10_000, {"spend": 10.4}), "treatment": (10_000, {"spend": 10.0})},
            [PRIMARY],
        )
    )
    assert decision.label == ROLL_BACK
    assert decision.key == "roll-back"
    assert decision.exit_code() == 0
    assert decision.exit_code(fail_on=["roll-back"]) == 1
    assert decision.exit_code(fail_on=["keep-running", "no-effect"]) == 0
    with pytest.raises(ablens.InputError, match=r"fail_on == 'rollback', must be one of"):
        decision.exit_code(fail_on=["rollback"])
