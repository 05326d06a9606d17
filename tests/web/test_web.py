"""The web UI through FastAPI's TestClient: every route, bad input, uploads, no external URL."""

from __future__ import annotations

import html
import os
import re
import signal
import socket
import subprocess
import sys
import time
import warnings
from pathlib import Path

import pytest

pytest.importorskip("fastapi", reason="the web extra is not installed (pip install 'ablens[web]')")
pytest.importorskip("python_multipart", reason="python-multipart is not installed")
pytest.importorskip("duckdb", reason="uploads are read with DuckDB")
pl = pytest.importorskip("polars")

with warnings.catch_warnings():
    # starlette asks for httpx2 over httpx; either works for these tests.
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

from ablens import __file__ as ablens_file  # noqa: E402
from ablens.demo import generate  # noqa: E402 - after the optional-dependency skips
from ablens.web import create_app  # noqa: E402

EXAMPLE_PLAN = Path(__file__).parents[2] / "examples" / "plan.yaml"
EXTERNAL_URL = re.compile(r"https?://|\b(?:src|href|action)\s*=\s*[\"']?//", re.IGNORECASE)


def alert(page: str) -> str:
    found = re.search(r'role="alert">(.*?)</p>', page, re.DOTALL)
    return "" if found is None else html.unescape(re.sub(r"<[^>]+>", "", found.group(1)))


def external_urls(page: str) -> list[str]:
    return EXTERNAL_URL.findall(page)


@pytest.fixture(scope="module")
def demo_csv(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("web") / "demo.csv"
    pl.DataFrame(generate(2_000, seed=3)).write_csv(path)
    return path


@pytest.fixture(scope="module")
def client() -> TestClient:
    return TestClient(create_app())


def upload(client: TestClient, path: Path, name: str | None = None, **fields: str):
    with path.open("rb") as handle:
        return client.post(
            "/readout",
            files={"file": (name or path.name, handle, "text/csv")},
            data={"variant": "variant", "control": "control", **fields},
        )


# ------------------------------------------------------------------------------- pages
@pytest.mark.parametrize("url", ["/", "/calculator", "/readout"])
def test_pages_render_with_local_assets_only(client, url):
    response = client.get(url)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert '<script src="/static/htmx.min.js"' in response.text
    assert 'href="/static/ablens.css"' in response.text
    assert external_urls(response.text) == []


def test_static_assets_are_served_from_package_data(client):
    script = client.get("/static/htmx.min.js")
    assert script.status_code == 200
    assert script.text.startswith("/*! htmx.org 2.")
    assert "Zero-Clause BSD" in script.text[:600]
    assert "htmx" in script.text
    css = client.get("/static/ablens.css")
    assert css.status_code == 200
    assert external_urls(css.text) == []
    assert "@import" not in css.text
    assert "url(" not in css.text


def test_api_docs_pages_are_off_because_they_load_a_cdn(client):
    for url in ("/docs", "/redoc", "/openapi.json"):
        assert client.get(url).status_code == 404


def test_home_explains_every_glossary_term_as_tooltip(client):
    page = client.get("/").text
    for term in ("CI", "MDE", "SRM"):
        assert re.search(rf'<abbr class="term"[^>]*title="[^"]+">{term}</abbr>', page), term
    assert "Sample-ratio mismatch" in page
    calculator = client.get("/calculator").text
    assert re.search(r'<abbr class="term"[^>]*title="[^"]+">Power</abbr>', calculator)
    assert re.search(r'<abbr class="term"[^>]*title="[^"]+">MDE</abbr>', calculator)


def test_security_headers(client):
    response = client.get("/")
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"


# ------------------------------------------------------------------------------- calculator
def test_calculator_form_updates_as_you_type_through_htmx(client):
    page = client.get("/calculator").text
    assert 'hx-post="/calculator/result"' in page
    assert 'hx-trigger="input changed delay:300ms' in page
    assert 'hx-target="#result"' in page
    # The default inputs are already computed on the first load.
    assert 'id="n-per-arm">57,780<' in page


def test_calculator_result_fragment(client):
    response = client.post(
        "/calculator/result",
        data={"baseline": "10%", "mde": "5%", "traffic": "10000", "alpha": "0.05", "power": "0.8"},
    )
    assert response.status_code == 200
    page = response.text
    assert "<html" not in page  # a fragment
    assert 'id="n-per-arm">57,780<' in page
    assert 'id="n-total">115,560<' in page
    assert 'id="days">12<' in page
    assert "the experiment needs 57,780 units per arm" in page
    assert "<svg" in page
    assert "<polyline" in page
    assert 'xmlns="http' not in page
    assert response.headers["HX-Replace-Url"] == "/calculator?baseline=10%25&mde=5%25"
    assert external_urls(page) == []


def test_calculator_result_answers_get_too(client):
    response = client.get("/calculator/result", params={"baseline": "0.1", "mde": "0.05"})
    assert 'id="n-per-arm">57,780<' in response.text


def test_shareable_link_prefills_and_renders_the_same_result(client):
    fragment = client.post(
        "/calculator/result",
        data={"baseline": "4%", "mde": "10%", "traffic": "2500", "power": "0.9"},
    )
    link = fragment.headers["HX-Replace-Url"]
    assert link.startswith("/calculator?")
    assert "power=0.9" in link
    assert "traffic=2500" in link
    page = client.get(link).text
    per_arm = re.search(r'id="n-per-arm">([^<]+)<', fragment.text).group(1)
    assert f'id="n-per-arm">{per_arm}<' in page
    assert 'name="baseline" value="4%"' in page
    assert 'name="power" value="0.9"' in page
    assert f'href="{link.replace("&", "&amp;")}"' in page


def test_calculator_mean_metric(client):
    page = client.post(
        "/calculator/result",
        data={"kind": "mean", "baseline": "20", "sd": "30", "mde": "2%", "traffic": ""},
    ).text
    assert alert(page) == ""
    assert 'id="n-per-arm">' in page
    assert "add daily traffic" in page
    assert "<svg" not in page


def test_calculator_inverse_mode_solves_the_mde(client):
    page = client.post(
        "/calculator/result", data={"baseline": "0.1", "mde": "", "days": "14", "traffic": "10000"}
    ).text
    assert "can detect a change of +4.54%" in page


@pytest.mark.parametrize(
    ("reading", "looks", "per_arm", "days"),
    [
        # the plan() and `ablens power --sequential` numbers of the same inputs
        ("msprt", "30", "99,329", "20"),
        ("confidence-sequence", "30", "99,406", "20"),
        ("group-sequential", "5", "59,208", "12"),
    ],
)
def test_calculator_plans_a_design_that_may_stop_early(client, reading, looks, per_arm, days):
    fields = {"baseline": "10%", "mde": "5%", "sequential": reading, "looks": looks}
    response = client.post("/calculator/result", data=fields)
    page = response.text
    assert alert(page) == ""
    assert f'id="n-per-arm">{per_arm}<' in page
    assert f'id="days">{days}<' in page
    assert "users per arm at most" in page
    assert f"over {looks} looks, the experiment needs at most {per_arm} units per arm" in page
    link = response.headers["HX-Replace-Url"]
    assert f"sequential={reading}" in link
    shared = client.get(link).text
    assert f'<option value="{reading}" selected>' in shared
    assert f'id="n-per-arm">{per_arm}<' in shared


def test_calculator_reads_once_by_default(client):
    page = client.post(
        "/calculator/result", data={"baseline": "10%", "mde": "5%", "looks": "30"}
    ).text
    assert 'id="n-per-arm">57,780<' in page  # looks matter only with a sequential reading
    assert "users per arm at most" not in page


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"sequential": "msprt", "looks": "0"}, "Looks: must be a whole number of at least 1"),
        ({"sequential": "msprt", "looks": "ten"}, "Looks: 'ten' is not a number"),
        ({"sequential": "msprt", "looks": "5000"}, "Looks: at most 1,000 looks"),
        ({"sequential": "<script>"}, "sequential: '<script>' is not one of"),
        ({"alpha": "1.5"}, "Significance level (alpha): must be between 0 and 1"),
        ({"alpha": "0"}, "Significance level (alpha): must be between 0 and 1"),
        ({"power": "80"}, "Power: must be between 0 and 1"),
        ({"baseline": "-0.1"}, "Baseline: a conversion rate must be between 0 and 1"),
        ({"baseline": "10"}, "Baseline: a conversion rate must be between 0 and 1"),
        ({"baseline": "ten"}, "Baseline: 'ten' is not a number"),
        ({"baseline": ""}, "Baseline: enter a number"),
        ({"baseline": "nan"}, "Baseline: must be a finite number"),
        # The planner's rule, in its words: a zero effect is never detected.
        ({"mde": "0%"}, "effect == 0.0 is not beyond the null value"),
        ({"mde": "abc"}, "MDE: 'abc' is not a number"),
        ({"mde": "", "days": ""}, "Enter an MDE, or leave it empty"),
        ({"arms": "1"}, "Arms: must be a whole number of at least 2"),
        ({"arms": "2.5"}, "Arms: must be a whole number of at least 2"),
        ({"traffic": "-10"}, "Daily traffic: must be above zero"),
        ({"kind": "mean", "baseline": "5", "sd": ""}, "Standard deviation"),
        ({"kind": "median"}, "kind: 'median' is not one of"),
        ({"sides": "<script>"}, "sides: '<script>' is not one of"),
    ],
)
def test_calculator_nonsense_gives_an_inline_message(client, fields, message):
    response = client.post("/calculator/result", data=fields)
    assert response.status_code == 200  # htmx swaps 2xx fragments only
    assert "HX-Replace-Url" not in response.headers
    assert message in alert(response.text)
    assert "<script>" not in response.text


def test_calculator_page_with_nonsense_query_still_renders(client):
    response = client.get("/calculator", params={"alpha": "1.5", "baseline": "<b>x</b>"})
    assert response.status_code == 200
    assert 'role="alert"' in response.text
    assert "<b>x</b>" not in response.text
    # and the server keeps serving
    assert client.get("/calculator").status_code == 200


# ------------------------------------------------------------------------------- readout
def test_readout_upload_of_the_demo_csv_shows_the_report(client, demo_csv):
    response = upload(client, demo_csv, unit="user_id", metrics="converted, revenue, sessions")
    assert response.status_code == 200, alert(response.text)
    page = response.text
    assert alert(page) == ""
    report_url = re.search(r'<iframe id="report"[^>]* src="(/readout/report/[^"]+)"', page)
    assert report_url is not None
    download = re.search(r'id="download" href="([^"]+)"', page).group(1)
    assert external_urls(page) == []

    report = client.get(report_url.group(1))
    assert report.status_code == 200
    assert report.text.startswith("<!DOCTYPE html>")
    for metric in ("converted", "revenue", "sessions"):
        assert metric in report.text
    assert external_urls(report.text) == []
    assert "default-src 'none'" in report.headers["content-security-policy"]

    saved = client.get(download.replace("&amp;", "&"))
    assert saved.status_code == 200
    assert saved.headers["content-disposition"] == 'attachment; filename="ablens-report.html"'
    assert saved.text == report.text


def test_readout_infers_metrics_from_every_numeric_column(client, demo_csv):
    page = upload(client, demo_csv).text
    assert alert(page) == ""
    url = re.search(r'src="(/readout/report/[^"]+)"', page).group(1)
    report = client.get(url).text
    assert "pre_revenue" in report
    assert "platform" not in re.sub(r"<footer.*", "", report, flags=re.DOTALL).split("<h2")[1]


def test_readout_parquet_upload(client, demo_csv, tmp_path):
    path = tmp_path / "demo.parquet"
    pl.read_csv(demo_csv).write_parquet(path)
    with path.open("rb") as handle:
        response = client.post(
            "/readout",
            files={"file": ("demo.parquet", handle, "application/octet-stream")},
            data={"variant": "variant", "control": "control", "metrics": "converted"},
        )
    assert response.status_code == 200, alert(response.text)


def test_readout_with_a_plan_the_server_was_started_with(demo_csv):
    pytest.importorskip("yaml", reason="plans need PyYAML")
    plan_client = TestClient(create_app(plans=[EXAMPLE_PLAN]))
    page = plan_client.get("/readout").text
    assert '<option value="0"' in page
    assert "ablens-demo (plan.yaml)" in page
    response = upload(plan_client, demo_csv, plan="0")
    assert response.status_code == 200, alert(response.text)
    url = re.search(r'id="download" href="([^"]+)"', response.text).group(1)
    saved = plan_client.get(url.replace("&amp;", "&"))
    assert saved.headers["content-disposition"] == 'attachment; filename="ablens-demo.html"'
    assert "conversion" in saved.text
    assert external_urls(saved.text) == []
    unknown = upload(plan_client, demo_csv, plan="7")
    assert "there is no such plan" in alert(unknown.text)


def test_serve_demo_offers_the_demo_experiment_and_removes_it_on_exit(monkeypatch):
    """``ablens serve --demo``: a readout of the demo with nothing to upload, then no trace."""
    pytest.importorskip("yaml", reason="plans need PyYAML")
    import uvicorn  # noqa: PLC0415 - the web extra's server, replaced here

    import ablens.demo  # noqa: PLC0415
    from ablens.web.app import serve  # noqa: PLC0415

    seen: dict[str, object] = {}
    write_demo = ablens.demo.write_demo

    def recording_write_demo(folder, **options):
        seen["folder"] = Path(folder)
        return write_demo(folder, **options)

    def fake_run(app, **options):  # what a browser would do while the server runs
        seen["options"] = options
        browser = TestClient(app)
        seen["page"] = browser.get("/readout").text
        response = browser.post(
            "/readout", data={"plan": "0", "variant": "variant", "control": "control"}
        )
        seen["report"] = report_of(browser, response)

    monkeypatch.setattr(ablens.demo, "write_demo", recording_write_demo)
    monkeypatch.setattr(uvicorn, "run", fake_run)
    serve(demo=True, plans=[EXAMPLE_PLAN])
    assert seen["options"] == {"host": "127.0.0.1", "port": 8000, "log_level": "info"}
    page = str(seen["page"])
    # the demo first, then the plans given
    assert re.search(r'<option value="0"[^>]*>ablens-demo \(plan.yaml\)', page), page
    assert '<option value="1"' in page
    report = str(seen["report"])
    assert "Ship" in report
    assert "new_checkout raised conversion by 5." in report
    assert external_urls(report) == []
    folder = seen["folder"]
    assert isinstance(folder, Path)
    assert not folder.exists()


def test_upload_too_large_is_refused_with_a_message(demo_csv):
    small = TestClient(create_app(max_upload_bytes=10_000))
    response = upload(small, demo_csv)
    assert response.status_code == 413
    assert "larger than the upload limit of 9.8 KB" in alert(response.text)
    # caught from Content-Length before the body is read, or while copying it
    big = demo_csv.parent / "big.csv"
    big.write_bytes(demo_csv.read_bytes() * 3)
    assert upload(small, big).status_code == 413
    assert small.get("/readout").status_code == 200


def test_upload_of_the_wrong_type_is_refused(client, tmp_path):
    exe = tmp_path / "tool.exe"
    exe.write_bytes(b"MZ\x90\x00binary")
    response = upload(client, exe)
    assert response.status_code == 415
    assert "tool.exe is not a CSV or parquet file" in alert(response.text)

    fake = tmp_path / "fake.parquet"
    fake.write_text("a,b\n1,2\n")
    response = upload(client, fake)
    assert response.status_code == 415
    assert "not a parquet file" in alert(response.text)

    binary = tmp_path / "binary.csv"
    binary.write_bytes(b"\x00\x01\x02\x03garbage")
    assert "not a text CSV file" in alert(upload(client, binary).text)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"variant": "arm"}, "there is no column 'arm' for the arms"),
        ({"metrics": "nope"}, "no column 'nope'"),
        ({"metrics": "platform"}, "column 'platform' is String, not numbers"),
        ({"unit": "customer"}, "there is no unit column 'customer'"),
    ],
)
def test_readout_bad_columns_are_explained(client, demo_csv, fields, message):
    response = upload(client, demo_csv, **fields)
    assert response.status_code == 422
    assert message in alert(response.text)


def test_readout_data_errors_are_explained(client, demo_csv):
    response = upload(client, demo_csv, control="champion", metrics="converted")
    assert response.status_code == 422
    assert "champion" in alert(response.text)


def test_readout_without_file_or_plan(client):
    response = client.post("/readout", data={"variant": "variant", "control": "control"})
    assert response.status_code == 422
    assert "choose a CSV or parquet file" in alert(response.text)


def test_readout_garbage_csv(client, tmp_path):
    path = tmp_path / "garbage.csv"
    path.write_text('variant,x\n"control,1\ntreatment\n')
    response = upload(client, path)
    assert response.status_code == 422
    assert alert(response.text)
    assert client.get("/").status_code == 200


def test_unknown_report_key(client):
    response = client.get("/readout/report/nope")
    assert response.status_code == 404
    assert "no longer kept" in response.text


def test_create_app_rejects_a_nonpositive_limit():
    with pytest.raises(ValueError, match="max_upload_bytes"):
        create_app(max_upload_bytes=0)


def test_templates_hold_no_external_url():
    folder = Path(__file__).parents[2] / "src" / "ablens" / "web" / "templates"
    templates = sorted(folder.glob("*.html"))
    assert templates
    for template in templates:
        assert external_urls(template.read_text(encoding="utf-8")) == [], template.name


# ------------------------------------------------------------------------------- sequential
def report_of(client: TestClient, response) -> str:
    assert response.status_code == 200, alert(response.text)
    url = re.search(r'src="(/readout/report/[^"]+)"', response.text).group(1)
    return client.get(url).text


def test_readout_form_offers_the_sequential_and_bayesian_options(client):
    page = client.get("/readout").text
    assert '<select name="sequential">' in page
    for choice in ("none", "group-sequential", "msprt", "confidence-sequence"):
        assert f'<option value="{choice}"' in page
    assert '<input name="time"' in page
    assert '<input type="checkbox" name="bayesian" value="on"' in page
    assert '<select name="spending">' in page
    for choice in ("obrien-fleming", "pocock", "hsd", "power"):
        assert f'<option value="{choice}"' in page


def test_readout_upload_with_a_spending_family(client, demo_csv):
    fields = {
        "unit": "user_id",
        "time": "exposure_day",
        "sequential": "group-sequential",
        "planned": "4000",
    }
    pocock = report_of(client, upload(client, demo_csv, spending="pocock", **fields))
    assert "the group-sequential method (Pocock alpha spending" in pocock
    default = report_of(client, upload(client, demo_csv, **fields))
    assert "the group-sequential method (O&#x27;Brien-Fleming alpha spending" in default
    # the form keeps the choice; the spending of other methods is not passed to the plan
    kept = upload(client, demo_csv, spending="pocock", **fields).text
    assert '<option value="pocock" selected>' in kept
    msprt = upload(client, demo_csv, **{**fields, "sequential": "msprt"}, spending="pocock")
    assert msprt.status_code == 200, alert(msprt.text)


def test_readout_upload_with_a_sequential_method_and_the_bayesian_view(client, demo_csv):
    response = upload(
        client,
        demo_csv,
        unit="user_id",
        time="exposure_day",
        sequential="group-sequential",
        planned="4000",
        bayesian="on",
    )
    report = report_of(client, response)
    assert external_urls(report) == []
    assert '<section class="looks"><h2>Sequential looks</h2>' in report
    assert "The group-sequential method reads the primary metrics and guardrails" in report
    assert ">chance to beat control (Bayesian)</th>" in report
    assert "Uploaded file demo.csv" in report
    # The time column is the looks' clock, not a metric.
    metrics_table = report.split("<h2>Metrics</h2>")[1].split("</table>")[0]
    assert "<strong>exposure_day</strong>" not in metrics_table
    assert "<strong>converted</strong>" in metrics_table
    # 2,000 of the planned 4,000 users: keep running, shown as a wait banner, not an error.
    assert '<div class="banner wait" role="status"><strong>Sample size</strong>' in report
    # The form keeps what was typed.
    assert 'value="exposure_day"' in response.text
    assert '<option value="group-sequential" selected>' in response.text


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        # The plan's own rules, in the plan's words (the web adds none of its own).
        ({"sequential": "msprt"}, "sequential == 'msprt' needs time: the column giving each"),
        (
            {"sequential": "group-sequential", "time": "exposure_day"},
            "sequential == 'group-sequential' needs planned.sample_size",
        ),
        ({"planned": "lots"}, "planned users: 'lots' is not a whole number of at least 2."),
        ({"sequential": "bayes"}, "sequential method 'bayes' is not one of the choices."),
        ({"spending": "linear"}, "alpha spending 'linear' is not one of the choices."),
        (
            {"sequential": "msprt", "time": "exposure_date"},
            "there is no time column 'exposure_date'",
        ),
    ],
)
def test_readout_sequential_options_are_checked(client, demo_csv, fields, message):
    response = upload(client, demo_csv, **fields)
    assert response.status_code == 422
    assert message in alert(response.text)
    assert client.get("/readout").status_code == 200


def test_readout_of_a_sequential_plan_the_server_was_started_with(demo_csv, tmp_path):
    pytest.importorskip("yaml", reason="plans need PyYAML")
    plan = tmp_path / "sequential.yaml"
    plan.write_text(
        EXAMPLE_PLAN.read_text().replace(
            "sequential: none", "sequential: msprt\ntime: exposure_day\nbayesian: true"
        )
    )
    plan_client = TestClient(create_app(plans=[plan]))
    report = report_of(plan_client, upload(plan_client, demo_csv, plan="0"))
    assert external_urls(report) == []
    assert "<h3>conversion (new_checkout, primary)</h3>" in report
    assert "The mSPRT boundary has not been crossed" in report
    assert "No sequential reading: a quantile needs the table itself" in report
    assert "chance to beat control" in report
    assert "this readout uses fixed-horizon tests" not in report


def test_readout_report_shows_capped_repeated_p_values_as_bounds(client, demo_csv):
    # An early read of a group-sequential design (planned far beyond the data): the repeated
    # p-values of the weak looks are searched only up to 0.5, so the page must say "≥0.5".
    fields = {"unit": "user_id", "time": "exposure_day", "sequential": "group-sequential"}
    report = report_of(client, upload(client, demo_csv, planned="400000", **fields))
    assert "<td>≥0.5</td>" in report
    assert "<td>0.5</td>" not in report


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.slow
@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_serve_demo_removes_its_folder_when_stopped_by_a_signal(tmp_path, stop):
    """Ctrl-C (SIGINT) and ``kill``/``docker stop`` (SIGTERM) both leave no demo folder behind."""
    pytest.importorskip("uvicorn", reason="the web extra's server")
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    port = _free_port()
    server = subprocess.Popen(  # noqa: S603 - this interpreter and fixed arguments
        [
            *(sys.executable, "-c", "from ablens.cli import run; run()"),
            *("serve", "--demo", "--port", str(port)),
        ],
        env=os.environ | {"TMPDIR": str(scratch), "PYTHONPATH": str(Path(ablens_file).parents[1])},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 180  # simulating 200,000 users first, on a loaded machine
        while True:
            assert server.poll() is None, server.communicate()[1].decode()
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                assert time.monotonic() < deadline, "the server did not start"
                time.sleep(0.2)
        demo_folders = list(scratch.glob("ablens-web-*-demo-*"))
        assert len(demo_folders) == 1
        assert (demo_folders[0] / "plan.yaml").is_file()
        server.send_signal(stop)
        _, errors = server.communicate(timeout=60)
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
    assert list(scratch.iterdir()) == [], errors.decode()
    assert "Finished server process" in errors.decode()
