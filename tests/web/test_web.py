"""The web UI through FastAPI's TestClient: every route, bad input, uploads, no external URL."""

from __future__ import annotations

import html
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import pytest

pytest.importorskip("fastapi", reason="the web extra is not installed (pip install 'ablens[web]')")
pytest.importorskip("python_multipart", reason="python-multipart is not installed")
pytest.importorskip("duckdb", reason="uploads are read with DuckDB")
pl = pytest.importorskip("polars")
np = pytest.importorskip("numpy")

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
    assert "the experiment needs 57,780 users per arm" in page
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
    assert f"over {looks} looks, the experiment needs at most {per_arm} users per arm" in page
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
        (
            {"sequential": "msprt", "looks": "5000"},
            "Looks: looks == 5,000, at most 1,000 looks for a sequential design",
        ),
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
        ({"mde": "", "days": ""}, "MDE: enter the smallest change worth detecting"),
        ({"solve": "mde", "days": ""}, "Days: enter how many days you can run"),
        ({"solve": "mde", "days": "14", "traffic": ""}, "Daily traffic: needed to find"),
        ({"baseline": "4,5%"}, "Baseline: '4,5%' has a comma inside a number; use a point: 4.5%"),
        ({"kind": "mean", "baseline": "10%", "sd": "40"}, "Baseline: '10%' is a percent"),
        ({"split": "50/40"}, "Split: the shares add up to 90"),
        ({"split": "50/25/25"}, "Split: 3 share(s) for 2 arms"),
        ({"variance_reduction": "100%"}, "Variance reduction: must be from 0%"),
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
COLUMNS = {"variant": "variant", "control": "control", "unit": "user_id", "primary": "converted"}


def send_file(client: TestClient, path: Path, name: str | None = None, **fields: str):
    """Step 1: upload; a good file answers 303 to its column page."""
    with path.open("rb") as handle:
        return client.post(
            "/readout",
            files={"file": (name or path.name, handle, "text/csv")},
            data=fields,
            follow_redirects=False,
        )


def analyze_upload(client: TestClient, path: Path, name: str | None = None, **choices):
    """Upload, then post the column choices (step 2); the answer after redirects."""
    sent = send_file(client, path, name)
    if sent.status_code != 303:
        return sent
    return client.post(sent.headers["location"], data={**COLUMNS, **choices})


def report_of(client: TestClient, response) -> str:
    assert response.status_code == 200, alert(response.text)
    url = re.search(r'<iframe id="report"[^>]* src="(/readout/report/[^"]+)"', response.text)
    assert url is not None, response.text[:2000]
    return client.get(url.group(1)).text


def metrics_table(report: str) -> str:
    return report.split("<h2>Metrics</h2>")[1].split("</table>", maxsplit=1)[0]


def test_readout_upload_of_the_demo_csv_shows_the_report(client, demo_csv):
    sent = send_file(client, demo_csv)
    assert sent.status_code == 303
    assert re.fullmatch(r"/readout/file/[\w-]{20,}", sent.headers["location"])
    columns = client.get(sent.headers["location"])
    assert columns.status_code == 200
    assert 'id="preview"' in columns.text
    answer = client.post(
        sent.headers["location"],
        data={**COLUMNS, "secondary": ["revenue", "sessions"]},
        follow_redirects=False,
    )
    assert answer.status_code == 303, alert(answer.text)
    address = answer.headers["location"]
    assert re.fullmatch(r"/readout/[\w-]{20,}", address)
    page = client.get(address)
    assert alert(page.text) == ""
    assert external_urls(page.text) == []
    report = report_of(client, page)
    assert report.startswith("<!DOCTYPE html>")
    for metric in ("converted", "revenue", "sessions"):
        assert f"<strong>{metric}</strong>" in metrics_table(report)
    assert external_urls(report) == []
    download = re.search(r'id="download" href="([^"]+)"', page.text).group(1)
    saved = client.get(download.replace("&amp;", "&"))
    assert saved.headers["content-disposition"] == 'attachment; filename="demo.html"'
    assert saved.text == report
    # The address keeps the readout: opening it again shows the same report.
    assert report_of(client, client.get(address)) == report


def test_readout_analyzes_the_chosen_columns_only(client, demo_csv):
    """A numeric user_id is the unit, never a metric; one primary; the rest as chosen."""
    report = report_of(client, analyze_upload(client, demo_csv, guardrail="revenue"))
    table = metrics_table(report)
    assert "<strong>converted</strong>" in table
    assert "<strong>revenue</strong>" in table
    for column in ("user_id", "sessions", "pre_revenue", "minutes", "exposure_day"):
        assert f"<strong>{column}</strong>" not in table
    assert table.count(">primary<") == 1


def test_readout_column_page_guesses_the_arm_control_unit_and_primary(client, tmp_path):
    path = tmp_path / "guess.csv"
    pl.DataFrame(
        {
            "id": [1, 2, 3, 4, 5, 6],
            "amount": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
            "group": ["b", "control", "b", "control", "a", "a"],
            "paid": [0, 1, 1, 0, 1, 0],
        }
    ).write_csv(path)
    page = client.get(send_file(client, path).headers["location"]).text
    selected = dict(
        re.findall(
            r'<select name="(\w+)"[^>]*>.*?<option value="([^"]*)" selected', page, re.DOTALL
        )
    )
    assert selected["variant"] == "group"
    assert selected["control"] == "control"
    assert selected["unit"] == "id"
    assert selected["primary"] == "paid"
    primary = page.split('<select name="primary">')[1].split("</select>")[0]
    assert 'value="id"' not in primary


def test_readout_planned_split_is_the_sample_ratio_checks_expectation(client, tmp_path):
    path = tmp_path / "split.csv"
    users = 2_000
    pl.DataFrame(
        {
            "user_id": list(range(users)),
            "variant": ["control"] * 1_800 + ["treatment"] * 200,
            "converted": [i % 7 == 0 for i in range(users)],
        }
    ).write_csv(path)
    equal = report_of(client, analyze_upload(client, path))
    assert "Don&#x27;t trust" in equal or "Don't trust" in equal
    planned = analyze_upload(client, path, **{"share:control": "90", "share:treatment": "10"})
    report = report_of(client, planned)
    assert "Don&#x27;t trust" not in report
    assert "Don't trust" not in report
    assert "90% / 10%" in report


def test_readout_plan_file_runs_with_the_cli_to_the_same_numbers(client, demo_csv, tmp_path):
    pytest.importorskip("yaml")
    from typer.testing import CliRunner  # noqa: PLC0415

    from ablens.cli.app import app as cli  # noqa: PLC0415

    page = analyze_upload(
        client, demo_csv, guardrail="revenue", **{"direction:revenue": "decrease"}
    )
    web = report_of(client, page)
    plan_url = re.search(r'id="save-plan" href="([^"]+)"', page.text).group(1)
    plan = tmp_path / "plan.yaml"
    plan.write_text(client.get(plan_url).text, encoding="utf-8")
    (tmp_path / demo_csv.name).write_bytes(demo_csv.read_bytes())
    result = CliRunner().invoke(cli, ["report", str(plan), "-o", "-"])
    assert result.exit_code == 0, result.output
    assert metrics_table(result.stdout) == metrics_table(web)
    text = plan.read_text(encoding="utf-8")
    assert "direction: decrease" in text
    assert "/tmp" not in text  # noqa: S108 - the file name only
    # The column page saves the same plan file without analyzing.
    sent = send_file(client, demo_csv)
    saved = client.post(
        sent.headers["location"],
        data={**COLUMNS, "guardrail": "revenue", "direction:revenue": "decrease", "action": "plan"},
    )
    assert saved.headers["content-disposition"] == 'attachment; filename="plan.yaml"'
    assert saved.text == text


def test_readout_parquet_upload(client, demo_csv, tmp_path):
    path = tmp_path / "demo.parquet"
    pl.read_csv(demo_csv).write_parquet(path)
    response = analyze_upload(client, path)
    assert "<strong>converted</strong>" in report_of(client, response)


def test_readout_with_a_plan_the_server_was_started_with(demo_csv):
    pytest.importorskip("yaml", reason="plans need PyYAML")
    plan_client = TestClient(create_app(plans=[EXAMPLE_PLAN]))
    page = plan_client.get("/readout").text
    assert '<option value="0"' in page
    assert "ablens-demo (plan.yaml)" in page
    response = send_file(plan_client, demo_csv, plan="0")
    assert response.status_code == 303
    page = plan_client.get(response.headers["location"])
    url = re.search(r'id="download" href="([^"]+)"', page.text).group(1)
    saved = plan_client.get(url.replace("&amp;", "&"))
    assert saved.headers["content-disposition"] == 'attachment; filename="ablens-demo.html"'
    assert "conversion" in saved.text
    assert external_urls(saved.text) == []
    unknown = send_file(plan_client, demo_csv, plan="7")
    assert "There is no such plan" in alert(unknown.text)


def test_served_plans_are_parsed_once_and_a_broken_one_shows_its_error(monkeypatch, tmp_path):
    pytest.importorskip("yaml", reason="plans need PyYAML")
    import ablens.analysis_plan  # noqa: PLC0415

    broken = tmp_path / "broken.yaml"
    broken.write_text("experiment_id: x\nalpha: 2\n", encoding="utf-8")
    recursive = tmp_path / "recursive.yaml"
    recursive.write_text("experiment_id: y\n", encoding="utf-8")
    calls: list[str] = []
    load_plan = ablens.analysis_plan.load_plan

    def counting_load_plan(path):
        calls.append(Path(path).name)
        if Path(path).name == "recursive.yaml":
            raise RecursionError("maximum recursion depth exceeded")
        return load_plan(path)

    monkeypatch.setattr(ablens.analysis_plan, "load_plan", counting_load_plan)
    app_client = TestClient(create_app(plans=[EXAMPLE_PLAN, broken, recursive]))
    assert calls == ["plan.yaml", "broken.yaml", "recursive.yaml"]
    for _ in range(3):
        page = app_client.get("/readout")
        assert page.status_code == 200
        assert page.text.count("broken.yaml</code>:") == 1
        assert "alpha" in page.text.split("broken.yaml</code>:")[1].split("</li>")[0]
        assert page.text.count("recursive.yaml could not be read (RecursionError)") == 1
    assert calls == ["plan.yaml", "broken.yaml", "recursive.yaml"]  # never parsed again
    assert send_file(app_client, EXAMPLE_PLAN, plan="1").status_code == 422


def test_serve_demo_opens_on_the_demo_result_and_removes_it_on_exit(monkeypatch):
    """``ablens serve --demo``: the readout page opens on the demo's result, then no trace."""
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
        opened = browser.get("/readout", follow_redirects=False)
        seen["location"] = opened.headers.get("location", "")
        page = browser.get("/readout")
        seen["page"] = page.text
        seen["report"] = report_of(browser, page)

    monkeypatch.setattr(ablens.demo, "write_demo", recording_write_demo)
    monkeypatch.setattr(uvicorn, "run", fake_run)
    serve(demo=True, plans=[EXAMPLE_PLAN])
    assert seen["options"] == {"host": "127.0.0.1", "port": 8000, "log_level": "info"}
    assert re.fullmatch(r"/readout/[\w-]{20,}", str(seen["location"]))
    page = str(seen["page"])
    # the result first, the form folded below it; the demo first, then the plans given
    assert page.index('<iframe id="report"') < page.index('<details class="another"')
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
    response = send_file(small, demo_csv)
    assert response.status_code == 413
    assert "larger than the upload limit of 9.8 KB" in alert(response.text)
    # caught from Content-Length before the body is read, or while copying it
    big = demo_csv.parent / "big.csv"
    big.write_bytes(demo_csv.read_bytes() * 3)
    assert send_file(small, big).status_code == 413
    assert small.get("/readout").status_code == 200


def test_upload_of_the_wrong_type_is_refused(client, tmp_path):
    exe = tmp_path / "tool.exe"
    exe.write_bytes(b"MZ\x90\x00binary")
    response = send_file(client, exe)
    assert response.status_code == 415
    assert "tool.exe is not a CSV or parquet file" in alert(response.text)

    fake = tmp_path / "fake.parquet"
    fake.write_text("a,b\n1,2\n")
    response = send_file(client, fake)
    assert response.status_code == 415
    assert "not a parquet file" in alert(response.text)

    binary = tmp_path / "binary.csv"
    binary.write_bytes(b"\x00\x01\x02\x03garbage")
    assert "not a text CSV file" in alert(send_file(client, binary).text)


def _png() -> bytes:
    return b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(range(256)) * 4


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("garbage.csv", b'variant,x\n"control,1\ntreatment\n', "Arm column: "),
        ("image.csv", _png(), "image.csv is not a text CSV file"),
        (
            "truncated.parquet",
            b"PAR1" + b"\x15\x04\x00" * 50,
            "truncated.parquet: the parquet file is truncated or its footer is damaged",
        ),
        ("cut.parquet", None, "cut.parquet: the parquet file is truncated or its footer"),
    ],
)
def test_unreadable_files_get_a_message_without_server_paths(
    client, demo_csv, tmp_path, name, content, message
):
    path = tmp_path / name
    if content is None:  # a real parquet file cut in half
        whole = tmp_path / "whole.parquet"
        pl.read_csv(demo_csv).write_parquet(whole)
        content = whole.read_bytes()[: whole.stat().st_size // 2]
    path.write_bytes(content)
    response = analyze_upload(client, path, unit="", primary="x")
    assert response.status_code in (415, 422)
    shown = alert(response.text)
    assert message in shown
    assert "/tmp" not in response.text  # noqa: S108 - no server path shown
    assert "ablens-web" not in response.text
    assert tempfile.gettempdir() not in response.text
    assert client.get("/").status_code == 200


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"variant": "arm"}, "Arm column: choose the column that says which arm"),
        ({"variant": "user_id"}, "Arm column: 'user_id' has 2,000 distinct value(s)"),
        ({"primary": "nope"}, "no column 'nope'"),
        ({"primary": "platform"}, "column 'platform' is String, not numbers"),
        ({"unit": "customer"}, "there is no unit column 'customer'"),
        ({"primary": ""}, "Primary metric: choose the one metric the decision is about."),
        ({"share:control": "90", "share:new_checkout": "x"}, "the share of 'new_checkout' is x"),
    ],
)
def test_readout_bad_choices_are_explained_and_the_file_is_kept(client, demo_csv, fields, message):
    sent = send_file(client, demo_csv)
    response = client.post(sent.headers["location"], data={**COLUMNS, **fields})
    assert response.status_code == 422
    assert message in alert(response.text)
    assert "demo.csv is still here" in alert(response.text)
    assert 'id="preview"' in response.text  # the same page, the file kept: no new upload
    fixed = client.post(sent.headers["location"], data=COLUMNS)
    assert "<strong>converted</strong>" in report_of(client, fixed)


def test_readout_messages_are_in_words_not_code(client, demo_csv, tmp_path):
    """The issue's cases: an unknown control, and a user id repeated over rows."""
    sent = send_file(client, demo_csv)
    unknown = alert(
        client.post(sent.headers["location"], data={**COLUMNS, "control": "champion"}).text
    )
    assert "Control arm: choose one of the values of 'variant' (control, new_checkout)." in unknown
    events = tmp_path / "events.csv"
    pl.DataFrame(
        {
            "user_id": [1, 1, 2, 3, 3, 4],
            "variant": ["control", "control", "b", "control", "control", "b"],
            "converted": [0, 1, 1, 0, 0, 1],
        }
    ).write_csv(events)
    repeated = alert(analyze_upload(client, events).text)
    assert "column 'user_id' repeats unit ids: 2 row(s) beyond one per unit" in repeated
    assert "add up each unit's rows into one first" in repeated
    # A served plan whose control is not in the uploaded file: the library's words.
    pytest.importorskip("yaml")
    plan = tmp_path / "champion.yaml"
    text = EXAMPLE_PLAN.read_text()
    arms = text[text.index("arms:") : text.index("metrics:")]  # no arms: the data's are used
    plan.write_text(text.replace(arms, "").replace("control: control", "control: champion"))
    plan_client = TestClient(create_app(plans=[plan]))
    served = alert(send_file(plan_client, demo_csv, plan="0").text)
    assert "the control arm 'champion' is not an arm of the data, whose arms are" in served
    for message in (unknown, repeated, served):
        assert "==" not in message
        assert "ablens." not in message
        assert "aggregate_events" not in message


def test_readout_without_file_or_plan(client):
    response = client.post("/readout", data={})
    assert response.status_code == 422
    assert "Choose a CSV or parquet file" in alert(response.text)


def test_expired_readouts_and_uploads_say_so(client):
    for url in ("/readout/" + "x" * 22, "/readout/file/" + "y" * 22, "/readout/report/nope"):
        response = client.get(url)
        assert response.status_code == 404
        assert "expired" in response.text
    assert "This readout has expired" in client.get("/readout/" + "x" * 22).text


def test_uploads_live_in_one_app_folder_bounded_and_removed_on_shutdown(demo_csv, monkeypatch):
    import ablens.web.readout as web_readout  # noqa: PLC0415

    monkeypatch.setattr(web_readout, "MAX_KEPT_UPLOADS", 3)
    app = create_app()
    with TestClient(app) as app_client:
        locations = [send_file(app_client, demo_csv).headers["location"] for _ in range(5)]
        root = app.state.readout.uploads.root
        assert root.parent == Path(tempfile.gettempdir())
        assert root.name.startswith("ablens-web-")
        # the three latest kept, one folder each named by its key; the two oldest removed
        assert sorted(p.name for p in root.iterdir()) == sorted(
            url.rsplit("/", 1)[1] for url in locations[2:]
        )
        assert app_client.get(locations[0]).status_code == 404
        assert app_client.get(locations[-1]).status_code == 200
    assert not root.exists()  # removed when the app shuts down


def test_uploads_expire_after_their_age(demo_csv, monkeypatch):
    import ablens.web.readout as web_readout  # noqa: PLC0415

    monkeypatch.setattr(web_readout, "UPLOAD_MAX_AGE_SECONDS", 0.0)
    app_client = TestClient(create_app())
    location = send_file(app_client, demo_csv).headers["location"]
    expired = app_client.get(location)
    assert expired.status_code == 404
    assert "This upload has expired" in expired.text


def test_create_app_rejects_a_nonpositive_limit():
    with pytest.raises(ValueError, match="max_upload_bytes"):
        create_app(max_upload_bytes=0)


def test_templates_hold_no_external_url():
    folder = Path(__file__).parents[2] / "src" / "ablens" / "web" / "templates"
    templates = sorted(folder.glob("*.html"))
    assert templates
    for template in templates:
        assert external_urls(template.read_text(encoding="utf-8")) == [], template.name


# ------------------------------------------------------------------------------- many arms
@pytest.mark.slow
def test_web_readout_corrects_for_many_arms(client, tmp_path):
    """20 arms with no effect, 40 simulated experiments: false decisions as Holm promises.

    Each experiment's primary metric is read over 20 treatment arms; uncorrected, 19 of 40
    experiments named a winner or a loser. Holm keeps the chance of any false decision per
    experiment at or below alpha (0.05): at most 7 of 40 (P(Binomial(40, 0.05) >= 8) = 0.0007).
    With this seed: 2 of 40 corrected, 21 of 40 with correction=None.
    """
    rng = np.random.default_rng(20)
    arms = ["control", *(f"t{i:02d}" for i in range(1, 21))]
    path = tmp_path / "arms.csv"
    per_arm = 150
    verdicts = []
    for _ in range(40):
        pl.DataFrame(
            {
                "user_id": np.arange(per_arm * len(arms)),
                "variant": np.repeat(arms, per_arm),
                "converted": (rng.random(per_arm * len(arms)) < 0.2).astype(int),
            }
        ).write_csv(path)
        page = analyze_upload(client, path)
        assert page.status_code == 200, alert(page.text)
        verdicts.append(re.search(r"<title>(.*?) · ", page.text).group(1))
    assert "holm" in report_of(client, page)
    decided = [v for v in verdicts if v in ("Ship", "Roll back")]
    assert len(decided) <= 7, verdicts


# ------------------------------------------------------------------------------- sequential
def test_readout_column_page_offers_the_sequential_and_bayesian_options(client, demo_csv):
    page = client.get(send_file(client, demo_csv).headers["location"]).text
    assert '<select name="sequential">' in page
    for choice in ("none", "group-sequential", "msprt", "confidence-sequence"):
        assert f'<option value="{choice}"' in page
    assert '<select name="time">' in page
    assert '<input type="checkbox" name="bayesian" value="on"' in page
    assert '<select name="spending">' in page
    for choice in ("obrien-fleming", "pocock", "hsd", "power"):
        assert f'<option value="{choice}"' in page


SEQUENTIAL = {"time": "exposure_day", "sequential": "group-sequential", "planned": "4000"}


def test_readout_upload_with_a_spending_family(client, demo_csv):
    pocock = report_of(client, analyze_upload(client, demo_csv, spending="pocock", **SEQUENTIAL))
    assert "the group-sequential method (Pocock alpha spending" in pocock
    default = report_of(client, analyze_upload(client, demo_csv, **SEQUENTIAL))
    assert "the group-sequential method (O&#x27;Brien-Fleming alpha spending" in default
    # the spending of other methods is not passed to the plan
    msprt = analyze_upload(
        client, demo_csv, **{**SEQUENTIAL, "sequential": "msprt"}, spending="pocock"
    )
    assert msprt.status_code == 200, alert(msprt.text)


def test_readout_upload_with_a_sequential_method_and_the_bayesian_view(client, demo_csv):
    response = analyze_upload(client, demo_csv, bayesian="on", **SEQUENTIAL)
    report = report_of(client, response)
    assert external_urls(report) == []
    assert '<section class="looks"><h2>Sequential looks</h2>' in report
    assert "The group-sequential method reads the primary metrics and guardrails" in report
    assert ">Chance to beat control</abbr></th>" in report
    assert "Uploaded file demo.csv" in report
    # The time column is the looks' clock, not a metric.
    assert "<strong>exposure_day</strong>" not in metrics_table(report)
    assert "<strong>converted</strong>" in metrics_table(report)
    # 2,000 of the planned 4,000 users: keep running, shown as a wait banner, not an error.
    assert '<div class="banner wait" role="status"><strong>Sample size</strong>' in report


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        # The plan's own rules, in the plan's words (the web adds none of its own).
        ({"sequential": "msprt"}, "sequential == 'msprt' needs time: the column giving each"),
        (
            {"sequential": "group-sequential", "time": "exposure_day"},
            "sequential == 'group-sequential' needs planned.sample_size",
        ),
        ({"planned": "lots"}, "Planned users: 'lots' is not a whole number of at least 2."),
        ({"sequential": "bayes"}, "Reading: 'bayes' is not one of the choices."),
        ({"spending": "linear"}, "Alpha spending: 'linear' is not one of the choices."),
        (
            {"sequential": "msprt", "time": "exposure_date"},
            "there is no time column 'exposure_date'",
        ),
    ],
)
def test_readout_sequential_options_are_checked(client, demo_csv, fields, message):
    sent = send_file(client, demo_csv)
    response = client.post(sent.headers["location"], data={**COLUMNS, **fields})
    assert response.status_code == 422
    assert message in alert(response.text)
    # the choices come back as posted
    if "time" in fields and fields["time"] == "exposure_day":
        assert '<option value="exposure_day" selected>' in response.text


def test_readout_of_a_sequential_plan_the_server_was_started_with(demo_csv, tmp_path):
    pytest.importorskip("yaml", reason="plans need PyYAML")
    plan = tmp_path / "sequential.yaml"
    plan.write_text(
        EXAMPLE_PLAN.read_text().replace(
            "sequential: none", "sequential: msprt\ntime: exposure_day\nbayesian: true"
        )
    )
    plan_client = TestClient(create_app(plans=[plan]))
    sent = send_file(plan_client, demo_csv, plan="0")
    report = report_of(plan_client, plan_client.get(sent.headers["location"]))
    assert external_urls(report) == []
    assert "<h3>conversion (new_checkout, primary)</h3>" in report
    assert "The mSPRT boundary has not been crossed" in report
    assert "No sequential reading: a quantile needs the table itself" in report
    assert "Chance to beat control" in report
    assert "this readout uses fixed-horizon tests" not in report


def test_readout_report_shows_capped_repeated_p_values_as_bounds(client, demo_csv):
    # An early read of a group-sequential design (planned far beyond the data): the repeated
    # p-values of the weak looks are searched only up to 0.5, so the page must say "≥0.5".
    report = report_of(
        client, analyze_upload(client, demo_csv, **{**SEQUENTIAL, "planned": "400000"})
    )
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


def test_an_upload_that_names_its_columns_is_analyzed_at_once(client, demo_csv):
    """Scripts (curl) post the file with its columns: the first metric is the primary."""
    sent = send_file(
        client,
        demo_csv,
        variant="variant",
        control="control",
        unit="user_id",
        metrics="converted, revenue",
    )
    assert sent.status_code == 303
    assert re.fullmatch(r"/readout/[\w-]{20,}", sent.headers["location"])
    table = metrics_table(report_of(client, client.get(sent.headers["location"])))
    assert "<strong>converted</strong>" in table
    assert "<strong>revenue</strong>" in table
    assert table.count(">primary<") == 1
    refused = send_file(
        client, demo_csv, variant="variant", control="champion", metrics="converted"
    )
    assert refused.status_code == 422
    assert "Control arm: choose one of the values of 'variant'" in alert(refused.text)
    assert 'id="preview"' in refused.text  # the column page, the file kept
