"""The server's infrastructure in headless Chromium: the "working" sign while a calculation or an
analysis runs, and pages that work under their Content-Security-Policy (htmx included).

Screenshots go to ``test-artifacts/``.
"""

from __future__ import annotations

import base64

import pytest

pytest.importorskip("fastapi", reason="the web extra is not installed (pip install 'ablens[web]')")
pytest.importorskip("uvicorn", reason="the web extra is not installed")
pl = pytest.importorskip("polars")

import slow_work  # noqa: E402 - tests/web is on the path: this module's own folder
from serving import ARTIFACTS, chromium, running  # noqa: E402

import ablens.web.app as web_app  # noqa: E402
import ablens.web.readout as web_readout  # noqa: E402
from ablens.demo import generate  # noqa: E402
from ablens.web.app import TimeLimits, create_app  # noqa: E402


@pytest.fixture(scope="module")
def browser():
    with chromium() as instance:
        yield instance


@pytest.fixture(scope="module")
def slow_server():
    """Calculator plans with 12345 users a day take 2.5 s, readouts 2.5 s longer."""
    patch = pytest.MonkeyPatch()
    patch.setattr(web_app, "calculator_plan", slow_work.plan_slowly_at_many_looks)
    patch.setattr(web_readout, "_run", slow_work.analyze_slowly)
    try:
        with running(create_app(time_limits=TimeLimits(calculator=20), compute_workers=2)) as url:
            yield url
    finally:
        patch.undo()


@pytest.fixture
def page(browser):
    """A tab that records every Content-Security-Policy refusal and every outside request."""
    context = browser.new_context()
    context.set_default_timeout(30_000)
    tab = context.new_page()
    refused: list[str] = []
    outside: list[str] = []
    tab.on(
        "console",
        lambda message: (
            refused.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    tab.on(
        "request",
        lambda r: outside.append(r.url) if not r.url.startswith("http://127.0.0.1") else None,
    )
    yield tab
    context.close()
    assert refused == [], f"the Content-Security-Policy refused: {refused}"
    assert outside == [], f"requests left the machine: {outside}"


def result_state(page) -> dict:
    return page.evaluate(
        """() => {
            const result = document.querySelector('#result');
            const sign = getComputedStyle(result, '::before');
            const answer = result.querySelector('.numbers, .error');
            return {
                busy: result.classList.contains('htmx-request'),
                sign: sign.content,
                signVisible: sign.visibility === 'visible' && sign.display !== 'none',
                answerOpacity: answer ? Number(getComputedStyle(answer).opacity) : null,
            };
        }"""
    )


def test_calculating_sign_and_greyed_answer_while_the_calculator_computes(slow_server, page):
    page.goto(f"{slow_server}/calculator?baseline=10%25&mde=5%25")
    page.wait_for_selector("#n-per-arm")
    idle = result_state(page)
    assert idle["busy"] is False
    assert idle["answerOpacity"] == 1
    assert idle["sign"] in ("none", "normal", '""')
    page.fill("input[name=traffic]", "12345")  # 2.5 s to compute here
    page.wait_for_selector("#result.htmx-request")
    page.wait_for_timeout(700)  # the sign and the grey wait 0.25 s: no flicker on quick answers
    busy = result_state(page)
    assert busy["busy"] is True
    assert busy["sign"] == '"Calculating…"'
    assert busy["signVisible"] is True
    assert busy["answerOpacity"] < 0.5, busy  # the old answer is greyed out
    page.screenshot(path=str(ARTIFACTS / "calculator-calculating.png"), full_page=True)
    page.wait_for_function(
        "() => !document.querySelector('#result').classList.contains('htmx-request')",
        timeout=30_000,
    )
    assert page.url.endswith("traffic=12345")
    assert page.text_content("#days") == "10"  # 2 x 57,780 users at 12,345 a day
    done = result_state(page)
    assert done["busy"] is False
    assert done["answerOpacity"] == 1
    # On a phone the answer comes first, and its sticky one-line copy is greyed as well.
    page.set_viewport_size({"width": 390, "height": 844})
    page.fill("input[name=baseline]", "11%")  # 2.5 s again (the traffic is still 12345)
    page.wait_for_selector("#result.htmx-request")
    page.wait_for_timeout(700)
    assert result_state(page)["answerOpacity"] < 0.5
    bar = page.evaluate(
        "() => Number(getComputedStyle(document.querySelector('#answer-bar')).opacity)"
    )
    assert bar < 0.5
    page.screenshot(path=str(ARTIFACTS / "calculator-calculating-390.png"), full_page=True)
    page.wait_for_function(
        "() => !document.querySelector('#result').classList.contains('htmx-request')",
        timeout=30_000,
    )
    assert result_state(page)["answerOpacity"] == 1


def test_analyzing_sign_while_the_readout_runs(slow_server, page, tmp_path):
    csv = tmp_path / "demo.csv"
    pl.DataFrame(generate(1_000, seed=5)).write_csv(csv)
    page.goto(f"{slow_server}/readout")
    assert page.locator("form.readout .htmx-indicator").is_hidden()
    page.set_input_files("input[name=file]", str(csv))
    page.click("form.readout button[type=submit]")
    page.wait_for_selector("table#preview")  # the column preview, at its own address
    preview = page.url
    sign = page.locator("form#columns .htmx-indicator")
    assert sign.is_hidden()
    # While a form posts, the browser runs no script in the page: look at it through the
    # DevTools protocol's screenshots, beside the Analyze button, before and during the post.
    box = page.locator("button[value=analyze]").bounding_box()
    clip = {"x": box["x"] + box["width"], "y": box["y"], "width": 120, "height": box["height"]}
    devtools = page.context.new_cdp_session(page)

    def beside_the_button() -> str:
        return devtools.send("Page.captureScreenshot", {"clip": {**clip, "scale": 1}})["data"]

    before = beside_the_button()
    page.click("button[value=analyze]", no_wait_after=True)  # 2.5 s slower than usual here
    page.wait_for_timeout(1_200)
    during = beside_the_button()
    for width, name in ((1280, "readout-analyzing"), (390, "readout-analyzing-390")):
        if width == 390:  # the phone: the same preview, posted again
            page.wait_for_selector("iframe#report", timeout=60_000)
            page.set_viewport_size({"width": 390, "height": 844})
            page.goto(preview)
            page.click("button[value=analyze]", no_wait_after=True)
            page.wait_for_timeout(1_200)
        (ARTIFACTS / f"{name}.png").write_bytes(
            base64.b64decode(
                devtools.send("Page.captureScreenshot", {"captureBeyondViewport": True})["data"]
            )
        )
    assert during != before, "no sign beside the Analyze button while the readout runs"
    page.wait_for_selector("iframe#report", timeout=60_000)
    assert "/readout/" in page.url
    assert "/file/" not in page.url
    # What the sign says: a post held back in the page.
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(preview)
    page.evaluate(
        "() => document.querySelector('form#columns')"
        ".addEventListener('submit', event => event.preventDefault())"
    )
    # "Save as a plan file" downloads: the page stays, so it never shows as busy
    page.click("button[value=plan]")
    page.wait_for_timeout(700)
    assert sign.is_hidden()
    assert page.locator("form#columns").get_attribute("class") == "fields columns"
    page.click("button[value=analyze]")
    page.wait_for_timeout(700)
    assert sign.is_visible()
    assert sign.inner_text() == "Analyzing…"
    assert sign.get_attribute("role") == "status"


def test_pages_work_under_their_content_security_policy(slow_server, page, tmp_path):
    """htmx updates the calculator, the report shows in its frame: nothing refused (see `page`)."""
    for path in ("/", "/calculator", "/readout", "/nowhere"):
        page.goto(f"{slow_server}{path}")
    page.goto(f"{slow_server}/calculator")
    page.fill("input[name=baseline]", "")
    page.type("input[name=baseline]", "4%")
    page.wait_for_function(
        "() => document.querySelector('#sentence')?.textContent.includes('4% → 4.2%')"
    )
    # htmx's indicator style is in ablens.css, not injected inline
    assert page.evaluate("htmx.config.includeIndicatorStyles") is False
    csv = tmp_path / "demo.csv"
    pl.DataFrame(generate(1_000, seed=5)).write_csv(csv)
    page.goto(f"{slow_server}/readout")
    page.set_input_files("input[name=file]", str(csv))
    page.click("form.readout button[type=submit]")
    page.wait_for_selector("table#preview")
    page.click("button[value=analyze]")
    page.wait_for_selector("iframe#report", timeout=60_000)
    page.frame_locator("iframe#report").locator("h1").first.wait_for()
    # the readout page's script sized the frame to its report (no inner scrollbar)
    page.wait_for_function("() => document.querySelector('#report').offsetHeight > 400")
    page.goto(f"{slow_server}/readout/" + "x" * 22)  # expired: its page, nothing refused
