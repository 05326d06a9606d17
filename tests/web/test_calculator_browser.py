"""The calculator as a product manager uses it, in headless Chromium at 1280 px and on a phone.

Each test is one point of the issue (the decimal comma, the question toggle, the phone layout,
planning a revenue metric, errors at the field); screenshots go to ``test-artifacts/``.
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from test_browser import ARGS, ARTIFACTS, CHROMIUM, server  # noqa: F401 - the fixture

import ablens
from engines import engine_unavailable

pl = pytest.importorskip("polars")

WIDE = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def browser():
    try:
        from playwright.sync_api import sync_playwright  # noqa: PLC0415 - optional
    except ImportError:
        engine_unavailable(
            "the playwright Python package is not installed (pip install playwright)"
        )
    if not Path(CHROMIUM).is_file() and shutil.which("chromium") is None:
        engine_unavailable("Chromium is not installed (Debian: apt-get install chromium)")
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield instance
        instance.close()


@pytest.fixture
def open_page(browser):
    """A new tab of a given size (and with or without scripts); nothing leaves the machine."""
    contexts: list[Any] = []
    outside: list[str] = []

    def make(viewport: dict[str, int] = WIDE, *, scripts: bool = True):
        context = browser.new_context(viewport=viewport, java_script_enabled=scripts)
        context.set_default_timeout(15_000)
        contexts.append(context)
        tab = context.new_page()
        tab.on(
            "request",
            lambda r: outside.append(r.url) if not r.url.startswith("http://127.0.0.1") else None,
        )
        return tab

    yield make
    for context in contexts:
        context.close()
    assert outside == [], f"requests left the machine: {outside}"


def retype(page, selector: str, text: str) -> None:
    page.fill(selector, "")
    page.type(selector, text)


def shoot(page, name: str) -> None:
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def number(page, selector: str) -> int:
    return int((page.text_content(selector) or "").replace(",", ""))


# ------------------------------------------------------------------------------- 1. comma
def test_a_decimal_comma_is_refused_at_the_field_and_the_reading_is_echoed(server, open_page):  # noqa: F811
    page = open_page()
    page.goto(f"{server}/calculator")
    retype(page, "#f-traffic", "2,000")
    retype(page, "#f-baseline", "4,5%")
    page.wait_for_function(
        "() => document.querySelector('#error-baseline').textContent.includes('use a point: 4.5%')"
    )
    page.wait_for_selector("#f-baseline[aria-invalid=true]")
    baseline = page.locator("#f-baseline")
    assert "error-baseline" in (baseline.get_attribute("aria-describedby") or "")
    assert page.is_visible("#error-baseline")
    assert page.locator("#f-mde").get_attribute("aria-invalid") is None
    shoot(page, "calculator-error-1280")
    page.set_viewport_size(PHONE)
    shoot(page, "calculator-error-390")
    page.set_viewport_size(WIDE)
    retype(page, "#f-baseline", "4.5%")
    page.wait_for_selector("#read-as")
    page.wait_for_selector("#f-baseline:not([aria-invalid])")
    assert "baseline 4.5%" in (page.text_content("#read-as") or "")
    assert "daily traffic 2,000 users" in (page.text_content("#read-as") or "")
    assert baseline.get_attribute("aria-invalid") is None
    assert (page.text_content("#error-baseline") or "") == ""
    expected = ablens.power_plan(baseline_rate=0.045, mde=0.05, daily_traffic=2_000)
    assert number(page, "#days") == expected.days  # not the 3 days of 45%
    assert expected.days > 30


# ------------------------------------------------------------------------------- 4. toggle
def test_the_question_toggle_makes_days_the_input_and_hides_what_does_not_apply(
    server,  # noqa: F811
    open_page,
):
    page = open_page()
    page.goto(f"{server}/calculator")
    assert page.is_visible("#f-mde")
    assert not page.is_visible("#f-days")
    assert not page.is_visible("#f-sd")  # a rate has no sd to ask
    assert not page.is_visible("#f-looks")  # read once: no looks
    page.select_option("#f-sequential", "msprt")
    assert page.is_visible("#f-looks")
    page.select_option("#f-sequential", "none")
    assert not page.is_visible("#f-looks")
    page.click("text=What can I detect in N days?")
    assert page.is_visible("#f-days")
    assert not page.is_visible("#f-mde")
    retype(page, "#f-days", "14")
    page.wait_for_function("() => document.querySelector('#mde')?.textContent === '+4.54%'")
    assert "In 14 days you can detect a change of +4.54%" in (page.text_content("#answer") or "")
    shoot(page, "calculator-detect-1280")
    retype(page, "#f-days", "28")
    page.wait_for_function("() => document.querySelector('#mde').textContent === '+3.20%'")
    page.wait_for_function("() => location.search.includes('solve=mde')")
    shared = page.url
    page.set_viewport_size(PHONE)
    shoot(page, "calculator-detect-390")
    # the link renders the same answer, and so does the page without scripts
    bare = open_page(scripts=False)
    bare.goto(shared)
    assert bare.text_content("#mde") == "+3.20%"
    assert bare.is_visible("#f-days")
    assert not bare.is_visible("#f-mde")
    bare.click("text=How long do I need?")
    bare.click("button:has-text('Calculate')")
    bare.wait_for_url(re.compile(r"solve=duration"))
    assert bare.is_visible("#f-mde")
    assert not bare.is_visible("#f-days")
    assert bare.text_content("#days") == "12"


# ------------------------------------------------------------------------------- 6. phone
def test_on_a_phone_the_answer_is_on_screen_without_scrolling(server, open_page):  # noqa: F811
    page = open_page(PHONE)
    page.goto(f"{server}/calculator")
    days = page.locator("#days").bounding_box()
    field = page.locator("#f-baseline").bounding_box()
    assert days is not None
    assert field is not None
    assert days["y"] + days["height"] < PHONE["height"]  # was 1,221 px below the first field
    assert days["y"] < field["y"]
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    shoot(page, "calculator-duration-390")
    # editing a field far down the form, the answer stays on screen (sticky) and follows
    retype(page, "#f-split", "80/20")
    expected = ablens.power_plan(
        baseline_rate=0.1, mde=0.05, split=[0.8, 0.2], daily_traffic=10_000
    )
    page.wait_for_function(
        f"() => document.querySelector('#answer-bar').textContent.includes('{expected.days} days')"
    )
    bar = page.locator("#answer-bar").bounding_box()
    split = page.locator("#f-split").bounding_box()
    assert bar is not None
    assert split is not None
    assert page.evaluate("window.scrollY") > 0
    assert 0 <= bar["y"] < split["y"]
    assert bar["y"] + bar["height"] < PHONE["height"]
    assert f"{expected.n_per_arm[0]:,} users per arm" in (page.text_content("#answer-bar") or "")
    page.screenshot(path=str(ARTIFACTS / "calculator-editing-390.png"))
    page.set_viewport_size(WIDE)
    assert not page.is_visible("#answer-bar")  # a wide screen shows the answer beside the form
    shoot(page, "calculator-duration-1280")


# ------------------------------------------------------------------------------- 7. revenue
def past_revenue(path: Path) -> Path:
    rng = np.random.default_rng(11)
    users, days = 8_400, 28
    before = rng.gamma(1.5, 20.0, users)
    start = dt.date(2024, 9, 2)
    pl.DataFrame(
        {
            "user_id": np.arange(users),
            "signup_day": [start + dt.timedelta(days=int(d)) for d in rng.integers(0, days, users)],
            "revenue": 0.6 * before + rng.gamma(1.5, 12.0, users),
            "revenue_last_month": before,
        }
    ).write_parquet(path)
    return path


def test_planning_revenue_switches_examples_takes_currency_and_reads_past_data(
    server,  # noqa: F811
    open_page,
    tmp_path,
):
    page = open_page()
    page.goto(f"{server}/calculator")
    page.check("input[name=kind][value=mean]")
    page.wait_for_function("() => document.querySelector('#f-baseline').value === '25'")
    assert page.input_value("#f-sd") == "40"
    page.wait_for_function("() => location.search.includes('kind=mean')")
    assert page.locator("#calculator-error").count() == 0
    retype(page, "#f-baseline", "$25")
    retype(page, "#f-sd", "40 €")
    page.wait_for_function("() => location.search.includes('sd=40')")
    assert number(page, "#n-per-arm") == ablens.power_plan(mean=25, sd=40, mde=0.05).n_per_arm[0]
    # estimate the baseline, sd, traffic and CUPED from last month's users
    path = past_revenue(tmp_path / "last-month.parquet")
    page.click("text=Estimate from past data")
    page.set_input_files("#h-file", str(path))
    page.fill("#h-history_column", "revenue")
    page.fill("#h-history_date", "signup_day")
    page.fill("#h-history_unit", "user_id")
    page.fill("#h-history_covariate", "revenue_last_month")
    retype(page, "#f-mde", "3%")
    page.wait_for_function("() => location.search.includes('mde=3%25')")
    page.click("button:has-text('Estimate and fill in')")
    page.wait_for_selector("#history-note")
    note = page.text_content("#history-note") or ""
    assert note.startswith("From last-month.parquet: 8,400 users over 28 days (2024-09-02 to")
    reference = ablens.power_plan_from_history(
        str(path),
        metric=ablens.Mean("revenue", covariates=["revenue_last_month"]),
        date="signup_day",
        unit="user_id",
        mde=0.03,
    )
    assert float(page.input_value("#f-baseline")) == pytest.approx(reference.baseline, rel=1e-3)
    assert float(page.input_value("#f-sd")) == pytest.approx(reference.sd, rel=1e-3)
    assert page.input_value("#f-traffic") == "300"
    reduction = float(page.input_value("#f-variance_reduction").rstrip("%")) / 100
    assert reduction == pytest.approx(reference.variance_reduction, rel=1e-2)
    assert page.input_value("#f-mde") == "3%"  # the PM's other inputs are kept
    filled = ablens.power_plan(
        mean=float(page.input_value("#f-baseline")),
        sd=float(page.input_value("#f-sd")),
        mde=0.03,
        variance_reduction=reduction,
        daily_traffic=300,
    )
    assert number(page, "#n-per-arm") == filled.n_per_arm[0]
    shoot(page, "calculator-history-1280")
    page.set_viewport_size(PHONE)
    shoot(page, "calculator-history-390")
    # a bad file: a plain message at the file field, no temporary path
    bad = tmp_path / "notes.csv"
    bad.write_bytes(b"\x00\x01binary")
    page.set_viewport_size(WIDE)
    page.set_input_files("#h-file", str(bad))
    page.click("button:has-text('Estimate and fill in')")
    page.wait_for_selector("#h-file[aria-invalid=true]")
    message = page.text_content("#error-history_file") or ""
    assert "notes.csv is not a text CSV file" in message
    assert "/tmp" not in page.content()  # noqa: S108 - no temporary path shown


# ------------------------------------------------------------------------------- 10. errors
def test_the_split_is_shown_per_arm_and_an_unequal_one_can_be_planned(server, open_page):  # noqa: F811
    page = open_page()
    page.goto(f"{server}/calculator")
    assert page.text_content("#allocation") == "Traffic split: control 50% · arm B 50%"
    retype(page, "#f-split", "90/10")
    page.wait_for_function(
        "() => document.querySelector('#allocation') && "
        "document.querySelector('#allocation').textContent.includes('control 90% · arm B 10%')"
    )
    expected = ablens.power_plan(baseline_rate=0.1, mde=0.05, split=[0.9, 0.1])
    assert page.text_content("#n-per-arm") == " / ".join(f"{n:,}" for n in expected.n_per_arm)
    retype(page, "#f-split", "90/20")
    page.wait_for_selector("#f-split[aria-invalid=true]")
    assert "add up to 110" in (page.text_content("#error-split") or "")


def test_the_chart_has_an_axis_title_a_labelled_target_and_round_ticks(server, open_page):  # noqa: F811
    page = open_page()
    page.goto(f"{server}/calculator")
    ticks = page.locator("svg.chart text.tick[text-anchor=end]").all_text_contents()
    assert ticks == ["0%", "5%", "10%", "15%", "20%"]
    assert page.locator("svg.chart text.label").all_text_contents() == [
        "smallest detectable lift",
        "days running",
    ]
    assert page.text_content("svg.chart text.target-label") == "day 12: your MDE 5%"


def test_the_library_s_warnings_are_listed_next_to_the_answer(server, open_page):  # noqa: F811
    """The planner's own plausibility warnings (`PowerPlan.warnings`), computed in a worker."""
    expected = ablens.power_plan(baseline_rate=0.1, mde=1e-9, daily_traffic=1_000).warnings
    assert len(expected) >= 2
    page = open_page()
    page.goto(f"{server}/calculator?baseline=10%25&mde=0.0000001%25&traffic=1000")
    items = page.locator("#warnings li").all_text_contents()
    assert items == list(expected)
    assert items[0].startswith("this plan needs about 2.8 x 10^20 units in total")
    answer = page.locator("#answer").bounding_box()
    warned = page.locator("#warnings").bounding_box()
    sentence = page.locator("#sentence").bounding_box()
    assert answer is not None
    assert warned is not None
    assert sentence is not None
    assert answer["y"] < warned["y"] < sentence["y"]  # next to the answer, before the prose
    assert f"{len(expected)} warnings above" in (page.text_content("#answer-bar") or "")
    shoot(page, "calculator-warnings-1280")
    page.set_viewport_size(PHONE)
    shoot(page, "calculator-warnings-390")
