"""Limits and plausibility warnings of power plans, the same on every face (API, CLI, web form).

The looks cap lives in the library (`ablens.stats.group_sequential.check_looks`): the API raises
a `LimitError`, the CLI exits 2 with its message, the calculator shows it at the Looks field.
"""

from __future__ import annotations

import html
import json
import re
import time

import pytest
from typer.testing import CliRunner

import ablens
from ablens.calculator import FieldError, calculator_plan
from ablens.cli.app import app
from ablens.errors import LimitError
from ablens.planning import MAX_TAU_LOOKS

runner = CliRunner()
METHODS = ["group-sequential", "msprt", "confidence-sequence"]


@pytest.mark.parametrize("method", METHODS)
def test_the_api_refuses_100000_looks_at_once(method):
    started = time.perf_counter()
    with pytest.raises(LimitError, match=r"looks == 100,000, at most 1,000 looks") as caught:
        ablens.power_plan(
            baseline_rate=0.1, mde=0.05, daily_traffic=10_000, sequential=method, looks=100_000
        )
    assert time.perf_counter() - started < 1.0
    assert (caught.value.argument, caught.value.limit) == ("looks", 1_000)
    fix = "weekly" if method == "group-sequential" else "plan with looks=1,000"
    assert fix in str(caught.value)


def test_an_msprt_plan_with_tau_has_a_lower_cap():
    with pytest.raises(LimitError, match=r"looks == 201 with tau: at most 200 looks") as caught:
        ablens.power_plan(
            baseline_rate=0.1, mde=0.05, sequential="msprt", looks=MAX_TAU_LOOKS + 1, tau=0.01
        )
    assert "leave tau unset" in str(caught.value)
    assert caught.value.limit == MAX_TAU_LOOKS


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("as_json", [False, True])
def test_the_cli_exits_2_with_the_limit(method, as_json):
    flags = ["power", "--baseline-rate", "0.1", "--mde", "0.05", "--daily-traffic", "10000"]
    flags += ["--sequential", method, "--looks", "100000"] + (["--json"] if as_json else [])
    started = time.perf_counter()
    outcome = runner.invoke(app, flags)
    assert time.perf_counter() - started < 5.0
    assert outcome.exit_code == 2
    assert "ablens: looks == 100,000, at most 1,000 looks" in outcome.output
    assert "Traceback" not in outcome.output


@pytest.mark.parametrize("method", METHODS)
def test_the_calculator_shows_the_limit_at_the_looks_field(method):
    started = time.perf_counter()
    with pytest.raises(FieldError) as caught:
        calculator_plan({"sequential": method, "looks": "100000"})
    assert time.perf_counter() - started < 1.0
    assert str(caught.value).startswith("Looks: looks == 100,000, at most 1,000 looks")


def test_a_thousand_looks_plan_on_every_face():
    # Generous limits on a loaded 2-core machine: these took 39-110 s before.
    started = time.perf_counter()
    plan = calculator_plan({"sequential": "msprt", "looks": "1000"})
    assert time.perf_counter() - started < 15.0
    api = ablens.power_plan(
        baseline_rate=0.1, mde=0.05, daily_traffic=10_000, sequential="msprt", looks=1_000
    )
    assert plan.n_per_arm == api.n_per_arm
    assert api.n_per_arm[0] < 95_125  # fewer than at 365 looks: more chances to stop early
    outcome = runner.invoke(
        app,
        [
            *("power", "--baseline-rate", "0.1", "--mde", "0.05", "--daily-traffic", "10000"),
            *("--sequential", "group-sequential", "--looks", "1000", "--json"),
        ],
    )
    assert outcome.exit_code == 0, outcome.output
    assert json.loads(outcome.stdout)["sequential"]["looks"] == 1_000


# ------------------------------------------------------------------------------- warnings
def test_an_absurd_mde_warns_about_size_and_duration():
    plan = ablens.power_plan(baseline_rate=0.1, mde=1e-9, daily_traffic=10_000)
    assert plan.n_per_arm[0] > 1e20
    size, duration = plan.warnings
    assert size == (
        "this plan needs about 2.8 x 10^20 units in total, more than almost any product has "
        "users: test a larger MDE"
    )
    assert duration.startswith("about 2.8 x 10^16 days is about 7.7 x 10^13 years")
    assert "test a larger MDE, or find more traffic" in duration


def test_many_arms_that_make_the_test_long_are_named():
    plan = ablens.power_plan(baseline_rate=0.1, mde=0.05, daily_traffic=1_000, arms=20)
    assert plan.days > 365
    assert f"{plan.days:,} days for 20 arms: each arm gets only 1/20 of the traffic; test " in (
        " ".join(plan.warnings)
    )


@pytest.mark.parametrize(
    ("traffic", "days", "advice"),
    [
        (
            100_000,
            2,
            (
                "the experiment would run 2 days, under a full week: weekday and weekend users "
                "differ; run whole weeks so every weekday counts the same (plan 7 days, 1 week)"
            ),
        ),
        (
            10_000,
            12,
            (
                "12 days is not whole weeks: run whole weeks so every weekday counts the "
                "same (plan 14 days, 2 weeks)"
            ),
        ),
    ],
)
def test_a_duration_that_is_not_whole_weeks_gets_the_rounded_up_weeks(traffic, days, advice):
    plan = ablens.power_plan(baseline_rate=0.1, mde=0.05, daily_traffic=traffic)
    assert plan.days == days
    assert plan.warnings == (advice,)


def test_a_sound_plan_has_no_warning():
    plan = ablens.power_plan(baseline_rate=0.1, daily_traffic=10_000, days=14)
    assert plan.warnings == ()
    assert "Warning" not in str(plan)
    assert "ablens-warning" not in plan.to_html()


def test_warnings_show_on_every_rendering_and_face():
    plan = ablens.power_plan(baseline_rate=0.1, mde=0.05, daily_traffic=10_000)
    (warning,) = plan.warnings
    assert f"Warning: {warning}" in str(plan)
    assert f"**Warning:** {warning}" in plan.to_markdown()
    assert f'<p class="ablens-warning">Warning: {warning}</p>' in plan.to_html()
    assert plan.to_dict()["warnings"] == [warning]
    flags = ["power", "--baseline-rate", "0.1", "--mde", "0.05", "--daily-traffic", "10000"]
    plain = runner.invoke(app, flags)
    assert plain.exit_code == 0, plain.output
    assert f"Warning: {warning}" in plain.stdout
    document = json.loads(runner.invoke(app, [*flags, "--json"]).stdout)
    assert document["warnings"] == [warning]
    assert calculator_plan({"baseline": "10%", "mde": "5%", "traffic": "10000"}).warnings == (
        warning,
    )


def test_a_negative_relative_mde_is_one_rule_on_every_face():
    """A relative -5% plans for a decrease, in the API, the CLI and the calculator alike."""
    api = ablens.power_plan(baseline_rate=0.1, mde=-0.05, daily_traffic=10_000)
    assert api.effect == pytest.approx(-0.005)
    assert api.n_per_arm == (55_269, 55_269)
    web = calculator_plan({"baseline": "10%", "mde": "-5%", "traffic": "10000"})
    assert web.n_per_arm == api.n_per_arm
    outcome = runner.invoke(
        app,
        ["power", "--baseline-rate", "0.1", "--mde", "-0.05", "--daily-traffic", "10000", "--json"],
    )
    assert outcome.exit_code == 0, outcome.output
    assert json.loads(outcome.stdout)["n_per_arm"] == [55_269, 55_269]


def test_the_web_calculator_marks_the_looks_field_at_once():
    pytest.importorskip("fastapi", reason="the web extra is not installed")
    from fastapi.testclient import TestClient  # noqa: PLC0415 - only with the web extra

    from ablens.web import create_app  # noqa: PLC0415

    client = TestClient(create_app())
    started = time.perf_counter()
    page = client.get(
        "/calculator", params={"sequential": "msprt", "looks": "100000", "traffic": "10000"}
    ).text
    assert time.perf_counter() - started < 5.0
    found = re.search(r'<input id="[fh]-looks"[^>]*>', page)
    assert found is not None
    assert 'aria-invalid="true"' in found.group(0)
    message = re.search(r'<span class="field-error" id="error-looks"[^>]*>(.*?)</span>', page)
    assert message is not None
    assert html.unescape(message.group(1)).startswith(
        "Looks: looks == 100,000, at most 1,000 looks for a sequential design: plan with "
        "looks=1,000"
    )
