"""axe-core, the accessibility engine, finds no violation on any page of the web UI.

axe-core is vendored under tests/web/vendor/axe-core (see its README: version, license,
checksum) and injected into each page in headless Chromium; the browser context bypasses the
pages' Content-Security-Policy only so that the test's own script can be added.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import pytest

pytest.importorskip("fastapi", reason="the web extra is not installed (pip install 'ablens[web]')")
pytest.importorskip("uvicorn", reason="the web extra is not installed")
pytest.importorskip("yaml", reason="the demo plan needs PyYAML")
pytest.importorskip("duckdb", reason="the demo experiment is a DuckDB file")

from serving import ARTIFACTS, chromium, running

from ablens.demo import write_demo
from ablens.web import create_app

AXE = Path(__file__).parent / "vendor" / "axe-core"
#: Calculator states: the default, a design read early, both questions ("how long", "what can
#: I detect in N days"), a mean, a field error, the looks limit, an implausible plan's warnings.
CALCULATOR_STATES = {
    "calculator": "/calculator",
    "calculator-sequential": "/calculator?baseline=10%25&mde=5%25&sequential=msprt&looks=30",
    "calculator-duration": "/calculator?solve=duration&baseline=10%25&mde=5%25&traffic=10000",
    "calculator-inverse": "/calculator?solve=mde&baseline=10%25&days=14&traffic=10000",
    "calculator-mean": "/calculator?kind=mean&baseline=25&sd=40&mde=5%25",
    "calculator-error": "/calculator?baseline=10%25&mde=5%25&alpha=1.5",
    "calculator-limit": (
        "/calculator?baseline=10%25&mde=5%25&sequential=group-sequential&looks=5000"
    ),
    "calculator-warnings": "/calculator?baseline=10%25&mde=0.0000001%25&traffic=1000",
}
#: Pages audited besides the calculator's states (each at both widths).
OTHER_PAGES = (
    "home",
    "calculator-history",
    "calculator-history-error",
    "readout",
    "readout-error",
    "readout-preview",
    "readout-preview-error",
    "readout-result",
    "readout-expired",
    "upload-expired",
    "readout-demo",
    "report",
)


def test_vendored_axe_core_is_the_one_its_readme_names():
    readme = (AXE / "README.md").read_text(encoding="utf-8")
    digest = hashlib.sha256((AXE / "axe.min.js").read_bytes()).hexdigest()
    assert f"`{digest}`" in readme
    version = re.search(r"axe-core \*\*(4\.\d+\.\d+)\*\*", readme)
    assert version is not None
    assert f"axe v{version.group(1)}" in (AXE / "axe.min.js").read_text(encoding="utf-8")[:200]
    assert "Mozilla Public License" in (AXE / "LICENSE").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def demo_server(tmp_path_factory):
    plan = write_demo(tmp_path_factory.mktemp("demo"), users=20_000)
    with running(create_app(plans=[plan], compute_workers=2)) as url:
        yield url


def violations(page) -> list[dict]:
    """axe-core's violations on the page as it is now (WCAG 2.x A and AA, and best practice)."""
    page.add_script_tag(path=str(AXE / "axe.min.js"))
    found = page.evaluate("async () => (await axe.run(document)).violations")
    return [
        {
            "rule": v["id"],
            "impact": v["impact"],
            "help": v["help"],
            "where": [node["target"] for node in v["nodes"]][:5],
            "html": [node["html"][:160] for node in v["nodes"]][:2],
        }
        for v in found
    ]


def test_no_accessibility_violation_on_any_page(demo_server, tmp_path):  # noqa: PLR0915 - a tour
    import polars as pl  # noqa: PLC0415

    from ablens.demo import generate  # noqa: PLC0415

    data = tmp_path / "experiment.csv"
    pl.DataFrame(generate(2_000, seed=3)).write_csv(data)
    past = tmp_path / "past.csv"
    past.write_text(
        "day,user,revenue\n"
        + "".join(f"2026-01-{1 + i % 7:02d},{i},{(i * 37) % 50}\n" for i in range(300)),
        encoding="utf-8",
    )
    seen: dict[str, list[dict]] = {}
    with chromium() as browser:
        for width in (1280, 390):
            context = browser.new_context(bypass_csp=True, viewport={"width": width, "height": 900})
            context.set_default_timeout(60_000)
            page = context.new_page()

            def audit(name: str, width: int = width, page=page) -> None:
                page.wait_for_load_state("load")
                seen[f"{name} @{width}px"] = violations(page)

            page.goto(f"{demo_server}/")
            audit("home")
            for name, url in CALCULATOR_STATES.items():
                page.goto(f"{demo_server}{url}")
                audit(name)
            # the calculator filled in from past data, and a column the file lacks
            page.goto(f"{demo_server}/calculator")
            page.click("details#history > summary")
            page.set_input_files("#h-file", str(past))
            page.fill("input[name=history_column]", "revenue")
            page.fill("input[name=history_date]", "day")
            page.click("#history-form button[type=submit]")
            page.wait_for_selector("#history-note")
            audit("calculator-history")
            page.set_input_files("#h-file", str(past))
            page.fill("input[name=history_column]", "nowhere")
            page.click("#history-form button[type=submit]")
            page.wait_for_selector("#history-form [aria-invalid=true]")
            audit("calculator-history-error")
            page.goto(f"{demo_server}/readout")
            audit("readout")
            page.click("form.readout button[type=submit]")  # nothing chosen: its message
            page.wait_for_selector("p.error")
            audit("readout-error")
            # an upload: the column preview, a choice that fails, the readout at its address
            page.set_input_files("input[name=file]", str(data))
            page.click("form.readout button[type=submit]")
            page.wait_for_selector("table#preview")
            audit("readout-preview")
            preview = page.url
            page.select_option("select[name=unit]", "sessions")  # the user id as the metric
            page.select_option("select[name=primary]", "sessions")
            page.click("button[value=analyze]")
            page.wait_for_selector("p.error")
            audit("readout-preview-error")
            page.goto(preview)
            page.click("button[value=analyze]")
            page.wait_for_selector("iframe#report")
            page.frame_locator("iframe#report").locator("h1").first.wait_for()
            audit("readout-result")
            page.goto(f"{demo_server}/readout/" + "x" * 22)
            audit("readout-expired")
            page.goto(f"{demo_server}/readout/file/" + "x" * 22)
            audit("upload-expired")
            page.goto(f"{demo_server}/readout")
            page.select_option("select[name=plan]", "0")
            page.click("form.readout button[type=submit]")
            page.wait_for_selector("iframe#report")
            page.frame_locator("iframe#report").locator("h1").first.wait_for()
            audit("readout-demo")
            report = page.get_attribute("iframe#report", "src")
            page.goto(f"{demo_server}{report}")
            audit("report")
            if width == 390:
                page.screenshot(path=str(ARTIFACTS / "report-390.png"), full_page=True)
            context.close()
    failing = {name: found for name, found in seen.items() if found}
    assert len(seen) == 2 * (len(CALCULATOR_STATES) + len(OTHER_PAGES))
    assert failing == {}, json.dumps(failing, indent=1)
