"""The HTML report in headless Chromium (Debian's /usr/bin/chromium, driven by Playwright).

A phone shows one card per metric and nothing overflows; a wide screen keeps the table; the
page needs no script and runs under the web's CSP (``default-src 'none'``); keyboard focus
shows a column's explanation. Screenshots at 1280 px and 390 px go to ``test-artifacts/``.
Skipped when Playwright or Chromium is missing, failed under CI (tests/engines.py).
"""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import numpy as np
import pytest

from engines import engine_unavailable  # tests/ is on sys.path (see tests/conftest.py)

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"]
ARTIFACTS = Path(__file__).parents[2] / "test-artifacts"
ADDRESS = "http://127.0.0.1/report.html"  # answered by the route below, never by a network
CSP = "default-src 'none'; style-src 'unsafe-inline'"  # the web's header for the report


def _report() -> str:
    """A readout with 3 arms, 5 metrics (one a rank test), 3 segments and the Bayesian view."""
    pl = pytest.importorskip("polars")
    from ablens.analysis_plan import plan_from_dict  # noqa: PLC0415
    from ablens.readout import run_readout  # noqa: PLC0415
    from ablens.report import render_readout  # noqa: PLC0415

    rng = np.random.default_rng(390)
    n = 9_000
    arm = rng.choice(["control", "one_page_checkout", "express_checkout"], n)
    lift = np.where(arm == "one_page_checkout", 0.25, np.where(arm == "express_checkout", -0.1, 0))
    frame = pl.DataFrame(
        {
            "user_id": np.arange(n),
            "variant": arm,
            "platform": rng.choice(["android", "ios", "web"], n),
            "converted": rng.random(n) < 0.10 * (1 + lift),
            "revenue": rng.gamma(2.0, 12.5, n) * (1 + lift),
            "sessions": rng.poisson(3.0, n) + 1,
            "orders": rng.poisson(0.4 * (1 + lift), n),
            "minutes": rng.exponential(8.0, n),
        }
    )
    plan = plan_from_dict(
        {
            "experiment_id": "checkout-redesign-with-a-long-name",
            "team": "growth",
            "description": "Two new checkouts against the current three-step checkout.",
            "source": {"path": "users.parquet"},
            "unit": "user_id",
            "control": "control",
            "metrics": [
                {
                    "name": "conversion",
                    "kind": "proportion",
                    "column": "converted",
                    "role": "primary",
                },
                {"name": "revenue per user", "kind": "mean", "column": "revenue"},
                {
                    "name": "orders per session",
                    "kind": "ratio",
                    "numerator": "orders",
                    "denominator": "sessions",
                },
                {
                    "name": "minutes on site",
                    "kind": "mean",
                    "column": "minutes",
                    "role": "guardrail",
                },
                {"name": "revenue (rank test)", "kind": "mann-whitney", "column": "revenue"},
            ],
            "segments": ["platform"],
            "correction": "holm",
            "family": "primary",
            "bayesian": True,
            "planned": {"sample_size": 20_000},
        }
    )
    readout = run_readout(plan, data=frame)
    assert len(readout.result.comparisons) == 10
    return render_readout(readout, generated_at=dt.datetime(2026, 3, 16, tzinfo=dt.UTC))


@pytest.fixture(scope="module")
def report() -> str:
    return _report()


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


def _open(browser, report: str, width: int, scheme: str = "light"):
    context = browser.new_context(viewport={"width": width, "height": 900}, color_scheme=scheme)
    tab = context.new_page()
    requests: list[str] = []
    violations: list[str] = []
    tab.on("console", lambda m: violations.append(m.text) if m.type == "error" else None)

    def serve(route):
        requests.append(route.request.url)
        route.fulfill(
            status=200,
            body=report,
            headers={"Content-Type": "text/html; charset=utf-8", "Content-Security-Policy": CSP},
        )

    tab.route("**/*", serve)
    tab.goto(ADDRESS)
    tab.wait_for_load_state("load")
    return context, tab, requests, violations


def _overflow(tab) -> dict:
    return tab.evaluate(
        """() => {
            const width = document.documentElement.clientWidth;
            const wider = [...document.querySelectorAll('.ablens-report *')]
                .filter(e => e.closest('.wide') === null || e.matches('.wide'))
                .filter(e => e.getBoundingClientRect().right > width + 0.5)
                .map(e => e.tagName + '.' + e.className);
            return {scroll: document.documentElement.scrollWidth, width, wider};
        }"""
    )


def test_a_phone_shows_one_card_per_metric_and_nothing_overflows(browser, report):
    context, tab, requests, violations = _open(browser, report, 390)
    try:
        layout = _overflow(tab)
        assert layout["width"] == 390
        assert layout["scroll"] <= layout["width"], layout
        assert layout["wider"] == [], layout
        # Cards: the table header is gone, each metric-and-arm is a grid box of its own.
        assert tab.locator("table.metrics > thead").is_hidden()
        cards = tab.locator("table.metrics > tbody.metric")
        assert cards.count() == 10
        for i in range(cards.count()):
            card = cards.nth(i)
            assert card.evaluate("e => getComputedStyle(e).display") == "grid"
            box = card.bounding_box()
            assert box["x"] >= 0
            assert box["x"] + box["width"] <= 390
        # A card reads: name, verdict badge, the sentence, the lift, the p-value ...
        first = cards.nth(0).inner_text()
        for text in (
            "conversion",
            "We are 95% confident",
            "Lift (95% CI)",
            "p-value",
            "Chance to beat control",
            "users",
        ):
            assert text in first, (text, first)
        # ... and the segments are cards too (no 8-column table squeezed into 390 px).
        assert tab.locator("section.segments thead").is_hidden()
        # No request but the page itself, no script, no CSP violation.
        assert requests == [ADDRESS]
        assert tab.locator("script").count() == 0
        assert violations == []
        tab.screenshot(path=str(ARTIFACTS / "report-390.png"), full_page=True)
    finally:
        context.close()


def test_a_wide_screen_keeps_the_table(browser, report):
    context, tab, _, violations = _open(browser, report, 1280)
    try:
        layout = _overflow(tab)
        assert layout["scroll"] <= layout["width"], layout
        assert tab.locator("table.metrics > thead").is_visible()
        row = tab.locator("table.metrics > tbody.metric").first
        assert row.evaluate("e => getComputedStyle(e).display") == "table-row-group"
        # The table fits the report's width: it needs no scrolling box of its own.
        assert tab.locator("section.metrics .wide").evaluate("e => e.scrollWidth <= e.clientWidth")
        assert violations == []
        tab.screenshot(path=str(ARTIFACTS / "report-1280.png"), full_page=True)
    finally:
        context.close()


def test_the_dark_scheme_screenshots(browser, report):
    for width in (1280, 390):
        context, tab, _, _ = _open(browser, report, width, scheme="dark")
        try:
            background = tab.locator(".ablens-report").evaluate(
                "e => getComputedStyle(e).backgroundColor"
            )
            assert background == "rgb(13, 17, 23)"
            assert _overflow(tab)["scroll"] <= width
            tab.screenshot(path=str(ARTIFACTS / f"report-{width}-dark.png"), full_page=True)
        finally:
            context.close()


@pytest.mark.parametrize("width", [1280, 390])
def test_keyboard_focus_shows_the_explanation(browser, report, width):
    context, tab, _, _ = _open(browser, report, width)
    try:
        tip = tab.locator("abbr.tip:visible").filter(has_text="p-value").first
        title = tip.get_attribute("title")
        assert title.startswith("How surprising a difference this large would be")
        assert "Adjusted by Holm's method" in title
        before = tip.evaluate("e => getComputedStyle(e, '::after').content")
        assert before in ("none", "normal")
        tip.focus()
        shown = tip.evaluate("e => getComputedStyle(e, '::after').content")
        assert shown == f'"{title}"'
        assert _overflow(tab)["scroll"] <= width  # the bubble stays on screen
    finally:
        context.close()


def test_embedded_in_a_narrow_column_of_a_wide_page_it_shows_cards(browser, report):
    """The <body> content with the report's own <style>, in a 480 px column of a 1280 px page.

    The narrow layout follows the report's width (a container query), not the window's; the
    host's own rules for h1 and body stay its own, as every report rule is scoped.
    """
    styles = report.split("<style>")
    own = styles[2].split("</style>")[0]  # the second <style>: the scoped report CSS
    body = report.split("<body>")[1].split("</body>")[0]
    host = (
        "<!DOCTYPE html><html><head><style>body { margin: 0; background: rgb(255, 0, 255); }"
        "h1 { font-size: 50px; } .host { display: flex; } .host nav { width: 800px; }"
        f"aside {{ width: 480px; }}</style><style>{own}</style></head><body>"
        f'<div class="host"><nav><h1>Host</h1></nav><aside>{body}</aside></div></body></html>'
    )
    context, tab, _, violations = _open(browser, host, 1280)
    try:
        assert tab.locator("nav h1").evaluate("e => getComputedStyle(e).fontSize") == "50px"
        assert tab.locator("body").evaluate("e => getComputedStyle(e).backgroundColor") == (
            "rgb(255, 0, 255)"
        )
        assert tab.locator("table.metrics > thead").is_hidden()
        card = tab.locator("table.metrics > tbody.metric").first
        assert card.evaluate("e => getComputedStyle(e).display") == "grid"
        box = card.bounding_box()
        assert box["x"] >= 800
        assert box["x"] + box["width"] <= 1280
        assert tab.evaluate("document.documentElement.scrollWidth") <= 1280
        assert violations == []
        tab.screenshot(path=str(ARTIFACTS / "report-embedded-1280.png"))
    finally:
        context.close()
