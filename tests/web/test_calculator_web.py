"""The calculator page without a browser: the question, field errors, history upload, chart."""

from __future__ import annotations

import datetime as dt
import html
import re
import warnings
from pathlib import Path  # noqa: TC003 - the helpers' annotations

import numpy as np
import pytest

pytest.importorskip("fastapi", reason="the web extra is not installed (pip install 'ablens[web]')")
pytest.importorskip("python_multipart", reason="python-multipart is not installed")
pytest.importorskip("duckdb", reason="uploads are read with DuckDB")
pl = pytest.importorskip("polars")

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

import ablens  # noqa: E402
from ablens.web import create_app  # noqa: E402
from ablens.web.app import mde_chart, nice_ticks  # noqa: E402


@pytest.fixture(scope="module")
def client() -> TestClient:
    return TestClient(create_app())


def past_users(path: Path, users: int = 4_200, days: int = 21, seed: int = 5) -> Path:
    """A past period: one row per user, a first day, revenue, last month's revenue, a 0/1."""
    rng = np.random.default_rng(seed)
    before = rng.gamma(2.0, 10.0, users)
    start = dt.date(2024, 5, 6)
    pl.DataFrame(
        {
            "user_id": np.arange(users),
            "first_day": [start + dt.timedelta(days=int(d)) for d in rng.integers(0, days, users)],
            "revenue": 0.7 * before + rng.gamma(2.0, 5.0, users),
            "revenue_before": before,
            "converted": (rng.random(users) < 0.06).astype(np.int64),
        }
    ).write_csv(path)
    return path


def send_history(client: TestClient, path: Path, name: str | None = None, **fields: str):
    with path.open("rb") as handle:
        return client.post(
            "/calculator/history",
            files={"file": (name or path.name, handle, "text/csv")},
            data=fields,
        )


def field_error(page: str, key: str) -> str:
    found = re.search(rf'<span class="field-error" id="error-{key}"[^>]*>(.*?)</span>', page, re.S)
    return "" if found is None else html.unescape(found.group(1))


def input_tag(page: str, key: str) -> str:
    found = re.search(rf'<input id="[fh]-{key}"[^>]*>', page, re.S)
    assert found is not None, key
    return found.group(0)


# ------------------------------------------------------------------------------- question
def test_the_question_hides_the_fields_it_does_not_use_without_a_script(client):
    duration = client.get("/calculator").text
    assert 'id="field-days"' in duration
    assert re.search(r'id="field-days"[^>]*hidden', duration)
    assert re.search(r'id="field-looks"[^>]*hidden', duration)  # read once: no looks
    assert re.search(r'id="field-sd"[^>]*hidden', duration)  # a rate: no sd
    assert not re.search(r'id="field-mde"[^>]*hidden', duration)
    detect = client.get("/calculator", params={"solve": "mde", "days": "14"}).text
    assert re.search(r'id="field-mde"[^>]*hidden', detect)
    assert not re.search(r'id="field-days"[^>]*hidden', detect)
    assert 'value="mde" checked' in detect
    assert "In <strong>14 days</strong> you can detect a change of <strong>+4.54%" in detect


def test_days_change_the_answer_of_the_mde_question(client):
    def mde(days: str) -> str:
        page = client.post(
            "/calculator/result", data={"solve": "mde", "mde": "5%", "days": days}
        ).text
        return re.search(r'id="mde">([^<]+)<', page).group(1)

    assert mde("14") == "+4.54%"
    assert mde("28") == "+3.20%"


# ------------------------------------------------------------------------------- errors
def test_an_error_is_shown_at_its_field_with_aria_invalid(client):
    page = client.get("/calculator", params={"baseline": "4,5%"}).text
    tag = input_tag(page, "baseline")
    assert 'aria-invalid="true"' in tag
    assert 'aria-describedby="error-baseline"' in tag
    assert field_error(page, "baseline") == (
        "Baseline: '4,5%' has a comma inside a number; use a point: 4.5%"
    )
    assert 'aria-invalid="true"' not in input_tag(page, "mde")
    # htmx: the fragment updates every field's message out of band, and names the field
    fragment = client.post("/calculator/result", data={"baseline": "10%", "split": "60/60"}).text
    assert 'data-error-field="split"' in fragment
    assert 'id="error-split" hx-swap-oob="true">Split: the shares add up to 120' in fragment
    assert 'id="error-baseline" hx-swap-oob="true"></span>' in fragment


def test_the_answer_shows_the_split_and_what_was_read(client):
    page = client.post(
        "/calculator/result",
        data={"baseline": "4.5%", "mde": "5%", "traffic": "20,000", "split": "90/10"},
    ).text
    assert 'id="allocation">Traffic split: control 90% · arm B 10%</p>' in page
    assert (
        "Read as: baseline 4.5%; MDE +5% (relative); split 90% / 10%; daily traffic 20,000" in page
    )
    expected = ablens.power_plan(baseline_rate=0.045, mde=0.05, split=[0.9, 0.1])
    shown = re.search(r'id="n-per-arm">([^<]+)<', page).group(1)
    assert shown == " / ".join(f"{n:,}" for n in expected.n_per_arm)
    equal = client.post("/calculator/result", data={"arms": "3"}).text
    assert "Traffic split: control 33.3% · arm B 33.3% · arm C 33.3%" in equal


def test_switching_to_a_mean_without_a_script_puts_mean_examples_in(client):
    page = client.get("/calculator", params={"kind": "mean", "baseline": "10%", "sd": ""}).text
    assert 'role="alert"' not in page
    assert 'name="baseline" value="25"' in page
    assert 'name="sd" value="40"' in page


def test_currency_signs_are_accepted_for_a_mean(client):
    page = client.post(
        "/calculator/result",
        data={"kind": "mean", "baseline": "$25", "sd": "40 €", "mde": "5%"},
    ).text
    assert 'role="alert"' not in page
    assert f'id="n-per-arm">{ablens.power_plan(mean=25, sd=40, mde=0.05).n_per_arm[0]:,}<' in page


# ------------------------------------------------------------------------------- history
def test_an_upload_of_past_data_fills_in_the_form(client, tmp_path):
    path = past_users(tmp_path / "last-month.csv")
    response = send_history(
        client,
        path,
        history_column="revenue",
        history_date="first_day",
        history_unit="user_id",
        history_covariate="revenue_before",
        keep_alpha="0.01",
        keep_mde="3%",
    )
    assert response.status_code == 200, field_error(response.text, "history_file")
    page = response.text
    reference = ablens.power_plan_from_history(
        str(path),
        metric=ablens.Mean("revenue", covariates=["revenue_before"]),
        date="first_day",
        unit="user_id",
        mde=0.05,
    )
    baseline = float(re.search(r'name="baseline" value="([^"]+)"', page).group(1))
    sd = float(re.search(r'name="sd" value="([^"]+)"', page).group(1))
    reduction = re.search(r'name="variance_reduction" value="([\d.]+)%"', page).group(1)
    assert baseline == pytest.approx(reference.baseline, rel=1e-3)
    assert sd == pytest.approx(reference.sd, rel=1e-3)
    assert float(reduction) / 100 == pytest.approx(reference.variance_reduction, rel=1e-2)
    assert 'name="traffic" value="200"' in page  # 4,200 users over 21 days
    assert 'value="mean" checked' in page
    # the other inputs were kept, and the answer plans the filled-in numbers
    assert 'name="alpha" value="0.01"' in page
    assert 'name="mde" value="3%"' in page
    assert "From last-month.csv: 4,200 users over 21 days (2024-05-06 to" in page
    assert "Adjusting for &#39;revenue_before&#39; (CUPED)" in page
    direct = ablens.power_plan(
        mean=baseline,
        sd=sd,
        mde=0.03,
        alpha=0.01,
        variance_reduction=float(reduction) / 100,
        daily_traffic=200,
    )
    assert f'id="n-per-arm">{direct.n_per_arm[0]:,}<' in page


@pytest.mark.parametrize(
    ("name", "content", "fields", "field", "message"),
    [
        ("notes.txt", b"a,b\n1,2\n", {}, "history_file", "notes.txt is not a CSV or parquet file"),
        ("empty.csv", b"", {}, "history_file", "empty.csv is empty"),
        ("past.parquet", b"not parquet", {}, "history_file", "is not a parquet file"),
        ("past.csv", None, {"history_column": "spend"}, "history_column",
         "Metric column: 'spend' is not a column of the file; its columns are user_id, first_day"),
        ("past.csv", None, {"history_date": ""}, "history_date", "Time column: enter the column"),
        ("past.csv", None, {"history_date": "user_id"}, "history_date",
         "Time column: 'user_id' holds numbers (Int64)"),
    ],
)  # fmt: skip
def test_a_bad_history_upload_gets_a_plain_message_at_its_field(
    client, tmp_path, name, content, fields, field, message
):
    path = tmp_path / name
    if content is None:
        past_users(path, users=300)
    else:
        path.write_bytes(content)
    data = {"history_column": "revenue", "history_date": "first_day", **fields}
    response = send_history(client, path, **data)
    assert response.status_code in (413, 415, 422)
    page = response.text
    assert message in field_error(page, field)
    assert 'aria-invalid="true"' in input_tag(
        page, field.removeprefix("history_") if field == "history_file" else field
    )
    assert "/tmp" not in page  # noqa: S108 - no temporary path shown
    assert "ablens-web-" not in page
    assert 'name="history_column" value="' + data["history_column"] + '"' in page


def test_a_history_upload_keeps_to_the_upload_limit(tmp_path):
    small = TestClient(create_app(max_upload_bytes=2_000))
    path = past_users(tmp_path / "big.csv", users=400)
    response = send_history(small, path, history_column="revenue", history_date="first_day")
    assert response.status_code == 413
    assert "larger than the upload limit of 2.0 KB" in field_error(response.text, "history_file")


# ------------------------------------------------------------------------------- chart
def test_nice_ticks_are_one_two_or_five_times_a_power_of_ten():
    assert nice_ticks(20.4) == [0.0, 5.0, 10.0, 15.0, 20.0, 25.0]
    assert nice_ticks(10.2) == [0.0, 5.0, 10.0, 15.0]
    assert nice_ticks(3.3) == [0.0, 1.0, 2.0, 3.0, 4.0]
    assert nice_ticks(0.37) == [0.0, 0.1, 0.2, 0.3, 0.4]
    assert nice_ticks(150) == [0.0, 50.0, 100.0, 150.0]


def test_the_chart_has_an_axis_title_round_ticks_and_a_labelled_target():
    plan = ablens.power_plan(baseline_rate=0.1, mde=0.05, daily_traffic=10_000)
    svg = str(mde_chart(plan))
    ticks = re.findall(r'<text class="tick" x="66"[^>]*>([^<]+)</text>', svg)
    assert ticks == ["0%", "5%", "10%", "15%", "20%"]
    assert ">smallest detectable lift</text>" in svg
    assert 'class="target-label"' in svg
    assert ">day 12: your MDE 5%</text>" in svg
