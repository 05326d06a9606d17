"""The report's context block in headless Chromium at 1280 px and on a 390 px phone.

The report of the demo cut at day 8 (keep running) shows, under the verdict, the dates and
traffic, the chance to beat control beside the p-value, the impact a month, the days still
needed with a link to the calculator filled in, and the lift over time. Screenshots go to
``test-artifacts/`` (kept by CI). The calculator link is followed on the web app: it shows the
numbers the sentence states.
"""

from __future__ import annotations

import datetime as dt
import html
import re
import shutil
import warnings
from pathlib import Path

import pytest

from ablens.analysis_plan import load_plan
from ablens.readout import run_readout
from ablens.report import render_readout
from engines import engine_unavailable  # tests/ is on sys.path (see tests/conftest.py)

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run"]
ARTIFACTS = Path(__file__).parents[2] / "test-artifacts"
EXAMPLE = Path(__file__).parents[2] / "examples" / "plan.yaml"


@pytest.fixture(scope="module")
def readout(full_demo_database, tmp_path_factory):
    text = (
        EXAMPLE.read_text()
        .replace("file: ablens_demo.duckdb", f"file: {full_demo_database}")
        .replace("table: users", "table: users_day8")
        .replace("sample_size: 20000", "sample_size: 200000")
        .replace("sequential: none", "sequential: none\ntime: exposure_day")
        .replace("duration_days: 14", "duration_days: 14\n  start_date: 2026-03-02")
    )
    plan = tmp_path_factory.mktemp("context") / "plan.yaml"
    plan.write_text(text)
    return run_readout(load_plan(plan), today=dt.date(2026, 3, 11))


@pytest.fixture(scope="module")
def report_file(readout, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("context-report") / "report.html"
    path.write_text(render_readout(readout), encoding="utf-8")
    return path


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


def _luminance(colour: str) -> float:
    channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def _contrast(a: str, b: str) -> float:
    high, low = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


@pytest.mark.parametrize("width", [1280, 390])
def test_the_context_block_reads_at_both_widths(browser, report_file, readout, width):
    page = browser.new_page(viewport={"width": width, "height": 900})
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.goto(report_file.as_uri())
    section = page.locator("section.context")
    assert section.is_visible()
    # the block sits right under the verdict, before the health checks
    order = page.evaluate(
        "[...document.querySelectorAll('main > section')].map(s => s.className.split(' ')[0])"
    )
    assert order[:2] == ["verdict", "context"]
    text = section.inner_text()
    assert "2026-03-02 → 2026-03-10 (9 days)" in text
    assert "14,282 units a day (128,535 in all)" in text
    (m,) = readout.context.metrics
    assert f"{m.p_text} · {m.chance_text}" in text
    assert m.impact_sentence in text
    assert m.keep_running_sentence in text
    link = section.locator("a.calculator-link")
    assert link.get_attribute("href") == m.keep_running.calculator_url
    # nothing leaves the page, nothing overflows the phone's width
    assert requests == [report_file.as_uri()]
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    box = section.locator("svg").bounding_box()
    assert box is not None
    assert box["x"] >= 0
    assert box["x"] + box["width"] <= width
    assert 300 <= box["width"] <= 520
    # the chart's 13-unit text is at least 11 px tall on screen
    assert 13 * box["width"] / 380 >= 11
    section.screenshot(path=str(ARTIFACTS / f"report-context-{width}.png"))
    page.screenshot(path=str(ARTIFACTS / f"report-context-page-{width}.png"), full_page=True)
    page.close()


def test_the_charts_marks_and_text_have_contrast(readout):
    (m,) = readout.context.metrics
    svg = m.to_svg(inline=True)
    # every stroke and text colour except the decorative grid lines, against the white card
    colours = set(re.findall(r'(?:stroke|fill)="(#[0-9a-f]{6})"', svg)) - {"#ffffff", "#d0d7de"}
    assert colours == {"#1f2328", "#57606a", "#0969da"}
    assert all(_contrast(colour, "#ffffff") >= 3.0 for colour in colours)
    assert min(_contrast(c, "#ffffff") for c in ("#1f2328", "#57606a")) >= 4.5  # text
    assert "effect so far (pp)" in svg
    assert ">date</text>" in svg


def test_the_calculator_link_opens_the_same_numbers(readout):
    with warnings.catch_warnings():
        # starlette asks for httpx2 over httpx; either works (as in test_web.py).
        warnings.simplefilter("ignore")
        from fastapi.testclient import TestClient  # noqa: PLC0415 - the web extra

    from ablens.web import create_app  # noqa: PLC0415

    (m,) = readout.context.metrics
    k = m.keep_running
    page = TestClient(create_app()).get(k.calculator_url)
    assert page.status_code == 200
    body = html.unescape(page.text)
    assert '<span class="value" id="days">15</span>' in body  # 9 days run + 6 more
    assert f"{k.detectable_lift:+.2%}" in body  # the MDE the sentence states, as a lift
