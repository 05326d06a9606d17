"""End to end in headless Chromium (Debian's /usr/bin/chromium) driven by Playwright.

Skipped when Playwright or Chromium is missing, failed under CI (tests/engines.py). Never runs
``playwright install``: the browser is the system's. Screenshots go to ``test-artifacts/``.
"""

from __future__ import annotations

import re
import shutil
import socket
import threading
import time
from pathlib import Path

import pytest

from engines import engine_unavailable  # tests/ is on sys.path (see tests/conftest.py)

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).parents[2] / "test-artifacts"


@pytest.fixture(scope="module")
def server():
    try:
        import uvicorn  # noqa: PLC0415 - optional: skip without the web extra

        from ablens.web import create_app  # noqa: PLC0415
    except ImportError as error:
        engine_unavailable(f"the web extra is not installed: {error}")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    config = uvicorn.Config(create_app(), host="127.0.0.1", port=port, log_level="warning")
    instance = uvicorn.Server(config)
    thread = threading.Thread(target=instance.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not instance.started:
        if time.monotonic() > deadline:
            pytest.fail("uvicorn did not start within 10 s")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    instance.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def page():
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
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        context = browser.new_context(accept_downloads=True)
        context.set_default_timeout(15_000)
        tab = context.new_page()
        outside: list[str] = []
        tab.on(
            "request",
            lambda r: outside.append(r.url) if not r.url.startswith("http://127.0.0.1") else None,
        )
        yield tab
        context.close()
        browser.close()
    assert outside == [], f"requests left the machine: {outside}"


def test_calculator_round_trip(server, page):
    page.goto(f"{server}/calculator")
    page.fill("input[name=baseline]", "")
    page.type("input[name=baseline]", "4%")
    page.fill("input[name=mde]", "")
    page.type("input[name=mde]", "10%")
    page.wait_for_function(  # a function: the pages' CSP refuses Playwright's eval of a string
        "() => document.querySelector('#sentence')?.textContent.includes('4% → 4.4%')"
    )
    per_arm = page.text_content("#n-per-arm")
    assert re.fullmatch(r"[\d,]+", per_arm or "")
    page.wait_for_function("() => location.search.includes('baseline=4%25')")
    assert "mde=10%25" in page.url
    page.screenshot(path=str(ARTIFACTS / "calculator.png"), full_page=True)
    shared = page.url
    page.goto(shared)
    assert page.text_content("#n-per-arm") == per_arm
    assert page.input_value("input[name=baseline]") == "4%"
    # read daily for 30 days: the always-valid design needs more users at most
    page.select_option("select[name=sequential]", "msprt")
    page.fill("input[name=looks]", "")
    page.type("input[name=looks]", "30")
    page.wait_for_function(
        "() => document.querySelector('#sentence')"
        ".textContent.includes('mSPRT (always valid) over 30')"
    )
    assert "at most" in (page.text_content("#result .numbers") or "")
    sequential_per_arm = int((page.text_content("#n-per-arm") or "").replace(",", ""))
    assert sequential_per_arm > int((per_arm or "").replace(",", ""))
    page.wait_for_function("() => location.search.includes('sequential=msprt')")
    page.screenshot(path=str(ARTIFACTS / "calculator-sequential.png"), full_page=True)
    page.click("text=More options")  # alpha is folded with the other statistical options
    page.fill("input[name=alpha]", "1.5")
    page.wait_for_selector("#result .error")
    assert "must be between 0 and 1" in page.text_content("#result .error")
    page.screenshot(path=str(ARTIFACTS / "calculator-error.png"), full_page=True)


def upload_and_choose(page, server, csv):
    page.goto(f"{server}/readout")
    page.set_input_files("input[name=file]", str(csv))
    page.click("form.readout button[type=submit]")
    page.wait_for_selector("table#preview")
    assert page.input_value("select[name=unit]") == "user_id"
    page.select_option("select[name=primary]", "converted")
    page.check("input[name=secondary][value=revenue]")


def test_readout_upload_and_download(server, page, tmp_path):
    pl = pytest.importorskip("polars")
    from ablens.demo import generate  # noqa: PLC0415 - after the polars skip

    csv = tmp_path / "demo.csv"
    pl.DataFrame(generate(2_000, seed=5)).write_csv(csv)
    upload_and_choose(page, server, csv)
    page.click("button[name=action][value=analyze]")
    page.wait_for_selector("iframe#report")
    frame = page.frame_locator("iframe#report")
    frame.locator("h1").first.wait_for()
    assert "converted" in frame.locator("body").inner_text()
    page.screenshot(path=str(ARTIFACTS / "readout.png"), full_page=True)
    with page.expect_download() as info:
        page.click("#download")
    target = tmp_path / "report.html"
    info.value.save_as(target)
    text = target.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>")
    assert "converted" in text


def test_readout_with_a_sequential_method_and_the_bayesian_view(server, page, tmp_path):
    pl = pytest.importorskip("polars")
    from ablens.demo import generate  # noqa: PLC0415 - after the polars skip

    csv = tmp_path / "demo.csv"
    pl.DataFrame(generate(2_000, seed=5)).write_csv(csv)
    upload_and_choose(page, server, csv)
    page.click("details.options summary")
    page.select_option("select[name=sequential]", "msprt")
    page.select_option("select[name=time]", "exposure_day")
    page.check("input[name=bayesian]")
    page.click("button[name=action][value=analyze]")
    page.wait_for_selector("iframe#report")
    frame = page.frame_locator("iframe#report")
    frame.locator("section.looks h2").wait_for()
    text = frame.locator("body").inner_text()
    assert "Sequential looks" in text
    assert "Chance to beat control" in text
    assert frame.locator("section.looks svg").count() == 1  # converted, the primary
    page.screenshot(path=str(ARTIFACTS / "readout-sequential.png"), full_page=True)
