"""The small-sample note reaches every rendering: text, markdown, HTML, JSON, the readout, the
HTML report, the command line (plain, rich, JSON, report) and the web readout.

The data: a ratio metric, orders per session, with a segment of 5 control and 4 treatment
users (issue 14's example: p = 3.1e-7 from the delta method's normal reference) and a segment
of 30 against 30; overall 35 against 34, above `MIN_UNITS_PER_ARM`, so only the small segment
is noted. A second, overall note comes from a rare conversion (expected counts below 5).
"""

from __future__ import annotations

import html
import json
import re
import warnings
from typing import TYPE_CHECKING

import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

from ablens import Proportion, Ratio, analyze
from ablens.cli import app as app_module
from ablens.cli.app import app
from ablens.readout import compose_readout
from ablens.report import render_report
from rfixtures import load_r_fixture

if TYPE_CHECKING:
    from pathlib import Path

SEGMENT_NOTE = (
    "Segment platform=ios, orders / sessions (treatment): small sample: 5 control and 4 "
    "treatment units, fewer than 30 in an arm; this delta test refers its statistic to the "
    "normal distribution, so its p-value and interval are too optimistic at this size: use "
    "reference='t' (Welch-Satterthwaite degrees of freedom)."
)
RATE_NOTE = "converted (treatment): small sample: the 2x2 table's smallest expected count is"
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _flat(text: str) -> str:
    """Text without markup, entities, colour codes or line wrapping."""
    text = html.unescape(re.sub(r"<[^>]+>", " ", ANSI.sub("", text)))
    text = re.sub(r"\s+", " ", text)
    return re.sub(r" ([.,;:)])", r"\1", text)


@pytest.fixture(scope="module")
def table() -> pl.DataFrame:
    small = load_r_fixture("small_samples.json")["datasets"]["five_vs_four"]
    rng = np.random.default_rng(14)
    rows: dict[str, list[object]] = {"variant": [], "platform": [], "orders": [], "sessions": []}
    for arm, label in (("control", "control"), ("treatment", "treatment")):
        count = len(small[arm]["numerator"])
        rows["variant"] += [label] * count
        rows["platform"] += ["ios"] * count
        rows["orders"] += [float(v) for v in small[arm]["numerator"]]
        rows["sessions"] += [float(v) for v in small[arm]["denominator"]]
    sessions = 1 + rng.poisson(3.0, 60)
    rows["variant"] += ["control"] * 30 + ["treatment"] * 30
    rows["platform"] += ["web"] * 60
    rows["orders"] += rng.binomial(sessions, 0.3).astype(float).tolist()
    rows["sessions"] += sessions.astype(float).tolist()
    frame = pl.DataFrame(rows).with_columns(pl.col("orders", "sessions").cast(pl.Float64))
    # Two conversions in 69 users (one per segment, both in treatment, so that each segment's
    # rate varies): the 2x2 table's expected counts of conversions are below 5.
    converted = np.zeros(frame.height, dtype=np.int64)
    converted[[8, frame.height - 1]] = 1
    return frame.with_columns(
        pl.Series("converted", converted), pl.Series("user_id", np.arange(frame.height))
    )


@pytest.fixture(scope="module")
def result(table):
    metrics = [Ratio("orders", "sessions"), Proportion("converted", role="secondary")]
    return analyze(table, metrics, control="control", segments=["platform"], unit="user_id")


def test_the_notes_are_where_the_sizes_say(result):
    overall = {c.metric: c.result.notes for c in result.comparisons}
    assert overall["orders / sessions"] == ()  # 35 against 34
    assert len(overall["converted"]) == 1
    ios = result.segments["platform=ios"].comparison("orders / sessions").result
    web = result.segments["platform=web"].comparison("orders / sessions").result
    assert f"{ios.p_value:.2g}" == "3.1e-07"
    assert len(ios.notes) == 1
    assert web.notes == ()


def test_text_markdown_and_html(result):
    for rendering in (str(result), result.to_markdown(), result.to_html(), result._repr_html_()):
        flat = _flat(rendering)
        assert SEGMENT_NOTE in flat
        assert RATE_NOTE in flat


def test_json_and_dataframes(result):
    document = json.loads(json.dumps(result.to_dict(), allow_nan=False))
    (ios,) = document["segments"]["platform=ios"]["comparisons"][:1]
    assert ios["notes"][0].startswith("small sample: 5 control and 4 treatment units")
    records = {r["metric"]: r for r in result.to_records()}
    assert "Fisher's exact test" in records["converted"]["notes"][0]


def test_readout_text_and_json(result):
    readout = compose_readout(result)
    assert SEGMENT_NOTE in _flat(str(readout))
    segment = readout.to_dict()["segments"]["platform=ios"]["comparisons"][0]
    assert "reference='t'" in segment["notes"][0]


def _rows(page: str, first_cell: str) -> list[str]:
    return [row for row in re.findall(r"<tr.*?</tr>", page, re.DOTALL) if first_cell in row]


def test_html_report(result):
    page = render_report(result)
    assert SEGMENT_NOTE in _flat(page)
    assert RATE_NOTE in _flat(page)
    # The row itself is flagged, with the note as the flag's tooltip.
    (ios,) = [r for r in _rows(page, "platform=ios") if "orders / sessions" in r]
    (web,) = [r for r in _rows(page, "platform=web") if "orders / sessions" in r]
    assert 'class="small-sample"' in ios
    assert "use reference=&#x27;t&#x27;" in ios
    assert "small-sample" not in web
    (overall,) = _rows(page, "<strong>orders / sessions</strong>")
    assert "small-sample" not in overall
    (rate,) = _rows(page, "<strong>converted</strong>")
    assert "Fisher&#x27;s exact test" in rate


# ------------------------------------------------------------------------------- the faces
@pytest.fixture(scope="module")
def plan(table, tmp_path_factory) -> Path:
    pytest.importorskip("yaml", reason="plans need PyYAML")
    folder = tmp_path_factory.mktemp("small")
    table.write_csv(folder / "users.csv")
    path = folder / "plan.yaml"
    path.write_text(
        "experiment_id: small-segments\n"
        "source:\n  path: users.csv\n"
        "variant: variant\nunit: user_id\ncontrol: control\n"
        "metrics:\n"
        "  - kind: ratio\n    numerator: orders\n    denominator: sessions\n"
        "  - kind: proportion\n    column: converted\n    role: secondary\n"
        "segments: [platform]\n",
        encoding="utf-8",
    )
    return path


def test_cli_plain_json_rich_and_report(plan, monkeypatch, tmp_path):
    runner = CliRunner()
    plain = runner.invoke(app, ["analyze", str(plan)])
    assert plain.exit_code == 0, plain.output
    assert SEGMENT_NOTE in _flat(plain.stdout)
    assert RATE_NOTE in _flat(plain.stdout)

    as_json = runner.invoke(app, ["analyze", str(plan), "--json"])
    assert as_json.exit_code == 0, as_json.output
    document = json.loads(as_json.stdout)
    assert document["segments"]["platform=ios"]["comparisons"][0]["notes"]

    monkeypatch.setattr(app_module, "_stdout_is_terminal", lambda: True)
    fancy = runner.invoke(app, ["analyze", str(plan)], env={"NO_COLOR": None, "TERM": "xterm"})
    assert fancy.exit_code == 0, fancy.output
    assert "\x1b[" in fancy.stdout  # the rich rendering, not the plain one
    assert SEGMENT_NOTE in _flat(fancy.stdout)

    target = tmp_path / "report.html"
    report = runner.invoke(app, ["report", str(plan), "-o", str(target)])
    assert report.exit_code == 0, report.output
    assert SEGMENT_NOTE in _flat(target.read_text(encoding="utf-8"))


def test_web_readout(plan):
    pytest.importorskip("fastapi", reason="the web extra is not installed")
    pytest.importorskip("python_multipart", reason="python-multipart is not installed")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # starlette's preference of httpx2 over httpx
        from fastapi.testclient import TestClient  # noqa: PLC0415

    from ablens.web import create_app  # noqa: PLC0415

    client = TestClient(create_app(plans=[plan]))
    csv = plan.parent / "users.csv"
    with csv.open("rb") as handle:
        response = client.post(
            "/readout",
            files={"file": ("users.csv", handle, "text/csv")},
            data={"variant": "variant", "control": "control", "plan": "0"},
        )
    assert response.status_code == 200, response.text
    url = re.search(r'<iframe id="report"[^>]* src="(/readout/report/[^"]+)"', response.text)
    assert url is not None
    page = client.get(url.group(1)).text
    assert SEGMENT_NOTE in _flat(page)
    assert RATE_NOTE in _flat(page)
    assert 'class="small-sample"' in page
