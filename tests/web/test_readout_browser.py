"""The readout flow end to end in headless Chromium (Debian's /usr/bin/chromium) with Playwright.

Upload, say what the columns mean, read the result at its own address, save the plan file and
run it with the CLI; errors that keep the file; ``serve --demo`` opening on the result. Skipped
when Playwright or Chromium is missing, failed under CI (tests/engines.py). Screenshots at
1280 px and 390 px go to ``test-artifacts/``.
"""

from __future__ import annotations

import re
import shutil
import socket
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import pytest

from engines import engine_unavailable  # tests/ is on sys.path (see tests/conftest.py)

pl = pytest.importorskip("polars")
np = pytest.importorskip("numpy")

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync"]
ARTIFACTS = Path(__file__).parents[2] / "test-artifacts"
WIDTHS = {"desktop": 1280, "phone": 390}


@contextmanager
def serving(app):
    import uvicorn  # noqa: PLC0415 - optional: skip without the web extra

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            pytest.fail("uvicorn did not start within 10 s")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture(scope="module")
def create_app():
    try:
        import uvicorn  # noqa: F401, PLC0415

        from ablens.web import create_app  # noqa: PLC0415
    except ImportError as error:
        engine_unavailable(f"the web extra is not installed: {error}")
    return create_app


@pytest.fixture(scope="module")
def browser():
    try:
        from playwright.sync_api import sync_playwright  # noqa: PLC0415 - optional
    except ImportError:
        engine_unavailable("the playwright Python package is not installed")
    if not Path(CHROMIUM).is_file() and shutil.which("chromium") is None:
        engine_unavailable("Chromium is not installed (Debian: apt-get install chromium)")
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield instance
        instance.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(accept_downloads=True, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(20_000)
    tab = context.new_page()
    outside: list[str] = []
    tab.on(
        "request",
        lambda r: outside.append(r.url) if not r.url.startswith("http://127.0.0.1") else None,
    )
    yield tab
    context.close()
    assert outside == [], f"requests left the machine: {outside}"


def shoot(page, name: str) -> None:
    """Screenshots of the whole page at a desktop and a phone width."""
    for label, width in WIDTHS.items():
        page.set_viewport_size({"width": width, "height": 900})
        page.wait_for_timeout(150)  # the report frame refits to the new width
        page.screenshot(path=str(ARTIFACTS / f"{name}-{label}.png"), full_page=True)
    page.set_viewport_size({"width": 1280, "height": 900})


def ninety_ten_csv(folder: Path, *, seed: int = 11, users: int = 6_000) -> Path:
    """A deliberate 90/10 split, a numeric user_id, a 0/1 conversion, revenue and a day."""
    rng = np.random.default_rng(seed)
    arm = np.where(rng.random(users) < 0.9, "control", "treatment")
    converted = (rng.random(users) < np.where(arm == "control", 0.10, 0.13)).astype(int)
    revenue = np.round(converted * rng.gamma(2.0, 20.0, users), 2)
    path = folder / "checkout test.csv"
    pl.DataFrame(
        {
            "user_id": np.arange(100_000, 100_000 + users),
            "variant": arm,
            "converted": converted,
            "revenue": revenue,
            "day": rng.integers(1, 15, users),
        }
    ).write_csv(path)
    return path


def report_text(page) -> str:
    frame = page.frame_locator("iframe#report")
    frame.locator("h1").first.wait_for()
    return frame.locator("body").inner_text()


def metrics_section(report: str) -> str:
    """The report's metrics (numbers only: no generation time, no file paths)."""
    start = report.index("<h2>Metrics</h2>")
    return report[start : report.index("</table>", start)]


# ------------------------------------------------------------------------------- A: columns
def test_upload_shows_a_preview_where_the_columns_are_chosen(create_app, page, tmp_path):
    csv = ninety_ten_csv(tmp_path)
    with serving(create_app()) as server:
        page.goto(f"{server}/readout")
        page.set_input_files("input[name=file]", str(csv))
        page.click("form.readout button[type=submit]")
        page.wait_for_url(re.compile(r"/readout/file/[\w-]+$"))
        # The preview: first rows, each column's type and distinct count.
        preview = page.locator("table#preview")
        assert "0/1" in preview.inner_text()
        header = [c.strip() for c in preview.locator("thead tr").first.inner_text().split("\t")]
        assert header == ["column", "user_id", "variant", "converted", "revenue", "day"]
        about = preview.locator("tr.about").nth(1).inner_text().split("\t")
        assert about[1:3] == ["6,000", "2"]  # user_id distinct per row; two arms
        assert preview.locator("tbody tr").count() == 5
        # Guessed: the arm column, its control, the user id (never a metric), a 0/1 primary.
        assert page.input_value("select[name=variant]") == "variant"
        assert page.input_value("select[name=control]") == "control"
        assert page.input_value("select[name=unit]") == "user_id"
        assert page.input_value("select[name=primary]") == "converted"
        primaries = page.locator("select[name=primary] option").all_inner_texts()
        assert not any(text.startswith("user_id") for text in primaries)
        # The PM says: 90/10 planned, revenue a guardrail.
        page.fill("input[name='share:control']", "90")
        page.fill("input[name='share:treatment']", "10")
        page.check("input[name=guardrail][value=revenue]")
        shoot(page, "readout-upload-preview")
        page.click("button[name=action][value=analyze]")
        page.wait_for_url(re.compile(r"/readout/[\w-]{20,}$"))
        readout_url = page.url
        text = report_text(page)
        assert "Don't trust" not in text  # the planned 90/10 split is not a mismatch
        assert "user_id" not in text.split("Metrics", 1)[1]
        assert "converted" in text
        assert "revenue" in text
        # Save as a plan file; the CLI runs it on the same file and gives the same numbers.
        with page.expect_download() as info:
            page.click("#save-plan")
        folder = tmp_path / "cli"
        folder.mkdir()
        plan = folder / "plan.yaml"
        info.value.save_as(plan)
        shutil.copy(csv, folder / csv.name)
        web_report = page.request.get(server + page.get_attribute("iframe#report", "src")).text()
        page.goto(readout_url)  # the address opens the same readout again
        assert "converted" in report_text(page)

    from typer.testing import CliRunner  # noqa: PLC0415

    from ablens.cli.app import app as cli  # noqa: PLC0415

    result = CliRunner().invoke(cli, ["report", str(plan), "-o", "-"])
    assert result.exit_code == 0, result.output
    assert metrics_section(result.stdout) == metrics_section(web_report)
    plan_text = plan.read_text(encoding="utf-8")
    assert "role: guardrail" in plan_text
    assert "control: 0.9" in plan_text or "control: 90" in plan_text


def test_an_analysis_error_keeps_the_file_and_says_what_to_do(create_app, page, tmp_path):
    csv = ninety_ten_csv(tmp_path)
    with serving(create_app()) as server:
        page.goto(f"{server}/readout")
        page.set_input_files("input[name=file]", str(csv))
        page.click("form.readout button[type=submit]")
        page.wait_for_url(re.compile(r"/readout/file/[\w-]+$"))
        columns_url = page.url
        # A wrong user id column: "day" repeats. The message is plain, the file stays.
        page.select_option("select[name=unit]", "day")
        page.click("button[name=action][value=analyze]")
        alert = page.locator("[role=alert]")
        message = alert.inner_text()
        assert "in column 'day' are assigned to more than one arm" in message
        assert "aggregate_events" not in message
        assert "==" not in message
        assert "checkout test.csv is still here" in message
        assert page.locator("table#preview").is_visible()
        assert page.input_value("select[name=unit]") == "day"  # the choices are kept too
        shoot(page, "readout-error-file-kept")
        # Another arm column swaps in its own values for the control and the split.
        page.select_option("select[name=variant]", "converted")
        page.wait_for_function(
            "() => [...document.querySelectorAll('select[name=control] option')]"
            ".map(o => o.value).join() === '0,1'"
        )
        assert page.locator("input[name='share:1']").count() == 1
        page.select_option("select[name=variant]", "variant")
        page.wait_for_function(
            "() => document.querySelector('select[name=control]').value === 'control'"
        )
        # Fix the choice and analyze, without choosing the file again.
        page.select_option("select[name=unit]", "user_id")
        page.click("button[name=action][value=analyze]")
        page.wait_for_url(re.compile(r"/readout/[\w-]{20,}$"))
        assert "converted" in report_text(page)
        # "Change the columns" goes back to the kept file.
        page.click("#change")
        assert page.url == columns_url
        # A truncated parquet: a message in words, no server path.
        broken = tmp_path / "broken.parquet"
        broken.write_bytes(b"PAR1" + b"\x15\x04" * 40)
        page.goto(f"{server}/readout")
        page.set_input_files("input[name=file]", str(broken))
        page.click("form.readout button[type=submit]")
        message = page.locator("[role=alert]").inner_text()
        # the data layer's named error, with the file's own name (not the saved copy's)
        assert "broken.parquet: the parquet file is truncated or its footer is damaged" in message
        assert "/tmp" not in message  # noqa: S108 - no server path shown
        assert "ablens-web" not in message


# ------------------------------------------------------------------------------- B: demo
@pytest.fixture(scope="module")
def demo_plan(tmp_path_factory):
    pytest.importorskip("duckdb")
    pytest.importorskip("yaml")
    from ablens.demo import write_demo  # noqa: PLC0415

    return write_demo(tmp_path_factory.mktemp("demo"), users=20_000)


def test_demo_opens_on_its_result_at_its_own_address(create_app, page, demo_plan, tmp_path):
    broken = tmp_path / "broken.yaml"
    broken.write_text("experiment_id: x\nalpha: 2\n", encoding="utf-8")
    app = create_app(plans=[demo_plan, broken], open_first=True)
    with serving(app) as server:
        page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server)
        page.goto(f"{server}/readout")
        page.wait_for_url(re.compile(r"/readout/[\w-]{20,}$"))
        assert "ablens-demo" in report_text(page).lower()
        assert "ablens-demo" in page.title()
        # The result first; the form folded below it.
        another = page.locator("details.another")
        assert another.get_attribute("open") is None
        frame_box = page.locator("iframe#report").bounding_box()
        assert frame_box["y"] < another.bounding_box()["y"]
        assert frame_box["y"] < 200
        # The report needs no scrollbar of its own, at either width.
        for width in WIDTHS.values():
            page.set_viewport_size({"width": width, "height": 900})
            page.wait_for_function(
                "() => { const f = document.querySelector('iframe#report');"
                " const d = f.contentDocument.documentElement;"
                " return d.scrollHeight <= f.clientHeight + 1; }"
            )
        page.set_viewport_size({"width": 1280, "height": 900})
        shoot(page, "readout-demo")
        # Copy link puts the readout's own address on the clipboard.
        page.click("#copy-link")
        page.wait_for_function("() => document.querySelector('#copied').textContent.length > 0")
        assert page.evaluate("navigator.clipboard.readText()") == page.url
        # The served plan that fails shows its named error, once.
        page.click("details.another summary")
        errors = page.locator(".plan-errors li")
        assert errors.count() == 1
        assert "alpha" in errors.inner_text()
        # An address that is no longer kept says so, with the upload form.
        response = page.goto(f"{server}/readout/{'x' * 22}")
        assert response.status == 404
        assert "This readout has expired" in page.locator("h1").inner_text()
        assert page.locator("input[name=file]").is_visible()
