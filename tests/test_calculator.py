"""The calculator's form reading (`ablens.calculator`): numbers, the question, split, history."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pytest

import ablens
from ablens.calculator import (
    CALCULATOR_DEFAULTS,
    FieldError,
    applicable_fields,
    calculator_form,
    calculator_plan,
    estimate_from_history,
    parse_number,
    read_calculator,
)


# ------------------------------------------------------------------------------- numbers
@pytest.mark.parametrize(
    ("text", "options", "value"),
    [
        ("20,000", {}, 20_000.0),
        ("1,234,567", {}, 1_234_567.0),
        ("1,234.5", {}, 1_234.5),
        ("10_000", {}, 10_000.0),
        ("4.5%", {"percent": True}, 0.045),
        ("0.045", {"percent": True}, 0.045),
        ("-5%", {"percent": True}, -0.05),
        ("$25", {"currency": True}, 25.0),
        ("25 €", {"currency": True}, 25.0),
        ("£1,200.50", {"currency": True}, 1200.5),
        ("-$3.5", {"currency": True}, -3.5),
        ("USD 40", {"currency": True}, 40.0),
    ],
)
def test_numbers_are_read_with_a_point_and_thousands_commas(text, options, value):
    assert parse_number(text, "Field", **options) == pytest.approx(value, abs=1e-15)


@pytest.mark.parametrize(
    ("text", "options", "message"),
    [
        ("4,5", {}, "Field: '4,5' has a comma inside a number; use a point: 4.5"),
        ("4,5%", {"percent": True}, "use a point: 4.5%"),
        ("25,50 €", {"currency": True}, "use a point: 25.50 €"),
        ("1,23", {}, "use a point: 1.23"),
        ("1.234,5", {}, "use a point for decimals, and commas only between thousands"),
        ("12,34,567", {}, "commas only between thousands"),
        ("$25", {}, "'$25' is an amount; this field takes a fraction or a percent"),
        ("ten", {}, "Field: 'ten' is not a number"),
        ("", {}, "Field: enter a number"),
        ("inf", {}, "Field: must be a finite number"),
    ],
)
def test_a_decimal_comma_is_refused_with_a_hint_not_read_as_thousands(text, options, message):
    with pytest.raises(FieldError) as caught:
        parse_number(text, "Field", field="baseline", **options)
    assert message in str(caught.value)
    assert caught.value.field == "baseline"


def test_the_issue_s_decimal_comma_no_longer_gives_a_three_day_plan():
    # "4,5%" was read as 45% (3 days); 4.5% needs about 38 days at this traffic
    with pytest.raises(FieldError) as caught:
        calculator_plan({"baseline": "4,5%", "mde": "5%", "traffic": "2,000"})
    assert caught.value.field == "baseline"
    plan = calculator_plan({"baseline": "4.5%", "mde": "5%", "traffic": "2,000"})
    assert plan.days == ablens.power_plan(baseline_rate=0.045, mde=0.05, daily_traffic=2000).days
    assert 30 < plan.days < 200


def test_the_echo_says_what_each_field_was_read_as():
    reading = read_calculator(
        {"baseline": "4.5%", "mde": "5%", "traffic": "20,000", "split": "90/10"}
    )
    assert reading.read_as == (
        ("baseline", "baseline", "4.5%"),
        ("mde", "MDE", "+5% (relative)"),
        ("split", "split", "90% / 10%"),
        ("traffic", "daily traffic", "20,000 users"),
    )
    mean = read_calculator(
        {
            "kind": "mean",
            "baseline": "£1,200.50",
            "sd": "$900",
            "mde": "$30",
            "mde_type": "absolute",
            "traffic": "",
        }
    )
    assert mean.arguments["mean"] == 1200.5
    assert mean.arguments["sd"] == 900.0
    assert mean.arguments["mde"] == 30.0
    assert mean.sentence == (
        "Read as: baseline 1,200.5; standard deviation 900; MDE +30 (absolute)."
    )


def test_a_percent_baseline_for_a_mean_is_refused_naming_the_kinds():
    with pytest.raises(FieldError, match="'10%' is a percent; a mean is an amount") as caught:
        read_calculator({"kind": "mean", "baseline": "10%", "sd": "40"})
    assert caught.value.field == "baseline"


# ------------------------------------------------------------------------------- question
def test_the_mde_question_reads_the_days_and_ignores_the_mde_field():
    fields = {"solve": "mde", "mde": "5%", "days": "14", "traffic": "10000"}
    plan = calculator_plan(fields)
    assert plan.solved == "mde"
    expected = ablens.power_plan(baseline_rate=0.1, days=14, daily_traffic=10_000)
    assert plan.relative_effect == expected.relative_effect
    assert round(plan.relative_effect, 4) == 0.0454
    fewer = calculator_plan({**fields, "days": "7"})
    assert fewer.relative_effect > plan.relative_effect  # the days change the answer


def test_the_duration_question_ignores_the_days_field():
    plan = calculator_plan({"solve": "duration", "mde": "5%", "days": "3", "traffic": "10000"})
    assert plan.solved == "sample size"
    assert plan.days == 12


def test_an_old_link_with_an_empty_mde_and_days_still_asks_the_mde():
    assert calculator_form({"mde": "", "days": "14"})["solve"] == "mde"
    assert calculator_form({"mde": "5%", "days": "14"})["solve"] == "duration"
    assert calculator_plan({"mde": "", "days": "14"}).solved == "mde"


def test_fields_that_do_not_apply_are_named():
    hidden = set(CALCULATOR_DEFAULTS) - applicable_fields(CALCULATOR_DEFAULTS)
    assert hidden == {"sd", "days", "looks"}
    mean = applicable_fields({"kind": "mean", "solve": "mde", "sequential": "msprt"})
    assert {"sd", "days", "looks"} <= mean
    assert not {"mde", "mde_type"} & mean


def test_switching_the_kind_without_a_script_puts_the_kind_s_examples_in():
    values = calculator_form({"kind": "mean", "baseline": "10%", "sd": ""})
    assert (values["baseline"], values["sd"]) == ("25", "40")
    typed = calculator_form({"kind": "mean", "baseline": "30", "sd": "12"})
    assert (typed["baseline"], typed["sd"]) == ("30", "12")
    assert calculator_plan(values).n_per_arm[0] > 0


# ------------------------------------------------------------------------------- split, CUPED
@pytest.mark.parametrize("text", ["90/10", "90%/10%", "0.9/0.1", "90 / 10", "90:10"])
def test_an_unequal_split_is_planned_as_power_plan_plans_it(text):
    plan = calculator_plan({"baseline": "10%", "mde": "5%", "split": text})
    expected = ablens.power_plan(baseline_rate=0.1, mde=0.05, split=[0.9, 0.1])
    assert plan.split == pytest.approx((0.9, 0.1))
    assert plan.n_per_arm == expected.n_per_arm
    assert plan.n_per_arm[0] > plan.n_per_arm[1]


def test_a_split_must_match_the_arms_and_add_up():
    with pytest.raises(FieldError, match=r"Split: 2 share\(s\) for 3 arms") as caught:
        read_calculator({"arms": "3", "split": "50/50"})
    assert caught.value.field == "split"
    with pytest.raises(FieldError, match="add up to 110"):
        read_calculator({"split": "60/50"})
    with pytest.raises(FieldError, match="above zero"):
        read_calculator({"split": "100/0"})


def test_a_variance_reduction_shrinks_the_sample_as_power_plan_does():
    plan = calculator_plan(
        {"kind": "mean", "baseline": "25", "sd": "40", "variance_reduction": "30%"}
    )
    expected = ablens.power_plan(mean=25, sd=40, mde=0.05, variance_reduction=0.3)
    assert plan.n_per_arm == expected.n_per_arm
    assert plan.n_per_arm[0] < ablens.power_plan(mean=25, sd=40, mde=0.05).n_per_arm[0]


# ------------------------------------------------------------------------------- history
pl = pytest.importorskip("polars")


def _past(seed: int = 3, users: int = 5_600, days: int = 28) -> object:
    rng = np.random.default_rng(seed)
    before = rng.gamma(2.0, 12.0, users)
    revenue = 0.8 * before + rng.gamma(2.0, 6.0, users)
    start = dt.date(2024, 3, 4)
    return pl.DataFrame(
        {
            "user": np.arange(users),
            "day": [start + dt.timedelta(days=int(d)) for d in rng.integers(0, days, users)],
            "revenue": revenue,
            "pre_revenue": before,
            "converted": (rng.random(users) < 0.08).astype(np.int64),
        }
    )


def test_the_history_estimate_is_power_plan_from_history_s_numbers():
    past = _past()
    estimate = estimate_from_history(
        past, column="revenue", date="day", unit="user", covariate="pre_revenue", source="x.csv"
    )
    reference = ablens.power_plan_from_history(
        past,
        metric=ablens.Mean("revenue", covariates=["pre_revenue"]),
        date="day",
        unit="user",
        mde=0.05,
    )
    assert estimate.kind == "mean"
    # the same two engine queries (sums in the engine may differ in the last bits)
    assert estimate.baseline == pytest.approx(reference.baseline, rel=1e-12)
    assert estimate.sd == pytest.approx(reference.sd, rel=1e-12)
    assert estimate.variance_reduction == pytest.approx(reference.variance_reduction, rel=1e-9)
    assert estimate.units == 5_600
    assert estimate.days == 28
    assert estimate.daily_traffic == 200.0
    revenue = past["revenue"].to_numpy()
    assert estimate.baseline == pytest.approx(revenue.mean(), rel=1e-12)
    assert estimate.sd == pytest.approx(revenue.std(ddof=1), rel=1e-9)
    values = estimate.form_values()
    assert values["kind"] == "mean"
    assert values["traffic"] == "200"
    assert float(values["baseline"]) == pytest.approx(estimate.baseline, rel=1e-3)
    assert float(values["variance_reduction"].rstrip("%")) / 100 == pytest.approx(
        estimate.variance_reduction, rel=1e-2
    )
    assert estimate.sentence.startswith("From x.csv: 5,600 users over 28 days (2024-03-04 to")
    assert "'pre_revenue' (CUPED)" in estimate.sentence
    # and the numbers filled in plan like the history (same baseline, sd and reduction)
    plan = calculator_plan({**CALCULATOR_DEFAULTS, **values})
    direct = ablens.power_plan(
        mean=float(values["baseline"]),
        sd=float(values["sd"]),
        mde=0.05,
        variance_reduction=float(values["variance_reduction"].rstrip("%")) / 100,
        daily_traffic=200,
    )
    assert plan.n_per_arm == direct.n_per_arm


def test_a_0_1_column_is_estimated_as_a_rate():
    past = _past()
    estimate = estimate_from_history(past, column="converted", date="day")
    assert estimate.kind == "proportion"
    assert estimate.baseline == pytest.approx(past["converted"].mean(), rel=1e-12)
    assert estimate.form_values()["baseline"].endswith("%")
    assert estimate.form_values()["sd"] == ""
    assert math.isclose(estimate.sd, math.sqrt(estimate.baseline * (1 - estimate.baseline)))


@pytest.mark.parametrize(
    ("arguments", "field", "message"),
    [
        ({"column": "spend"}, "history_column",
         "Metric column: 'spend' is not a column of the file; its columns are user, day, revenue"),
        ({"column": ""}, "history_column", "Metric column: enter the column"),
        ({"date": ""}, "history_date", "Time column: enter the column"),
        ({"date": "user"}, "history_date",
         "Time column: 'user' holds numbers (Int64); it must hold dates"),
        ({"covariate": "prior"}, "history_covariate", "Covariate: 'prior' is not a column"),
        ({"covariate": "revenue"}, "history_covariate", "the metric's own column"),
        ({"unit": "who"}, "history_unit", "User column: 'who' is not a column"),
        ({"column": "label"}, "history_column",
         "Metric column: 'label' holds String values, not numbers"),
    ],
)  # fmt: skip
def test_bad_history_columns_get_a_plain_message_at_their_field(arguments, field, message):
    past = _past().with_columns(pl.lit("x").alias("label"))
    with pytest.raises(FieldError) as caught:
        estimate_from_history(past, **{"column": "revenue", "date": "day", **arguments})
    assert message in str(caught.value)
    assert caught.value.field == field
