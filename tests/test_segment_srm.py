"""Each segment's sample ratio: checked (Bonferroni over the segments), warned, shown on every face.

Reference values: tests/fixtures/r/segment_srm.R (R's chisq.test and p.adjust) wrote
segment_srm.json; the unit counts per segment and arm below are the ones that script uses.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re

import pytest
from typer.testing import CliRunner

import ablens
from ablens.cli.app import app
from ablens.decision import HealthCheck, verdict
from ablens.readout import compose_readout
from ablens.report import render_report
from rfixtures import load_r_fixture

duckdb = pytest.importorskip("duckdb")

FIXTURE = load_r_fixture("segment_srm.json")
COUNTS = {
    case["label"].removeprefix("platform="): (int(case["control"]), int(case["treatment"]))
    for case in FIXTURE["segments"]
}


def users(counts=COUNTS, database=":memory:"):
    """One row per user: arm, platform and a metric x that does not depend on the arm."""
    parts = [
        f"SELECT '{arm}' AS variant, '{platform}' AS platform, i FROM range({n}) t(i)"  # noqa: S608 - test constants
        for platform, (control, treatment) in counts.items()
        for arm, n in (("control", control), ("treatment", treatment))
    ]
    union = " UNION ALL ".join(parts)
    columns = "row_number() OVER () AS user_id, variant, platform, (i % 5)::DOUBLE AS x"
    query = f"CREATE TABLE users AS SELECT {columns} FROM ({union})"  # noqa: S608 - constants
    con = duckdb.connect(str(database))
    con.execute(query)
    return con


def analyzed(counts=COUNTS, **options):
    return ablens.analyze(
        users(counts).table("users"),
        [ablens.Mean("x")],
        control="control",
        segments=["platform"],
        unit="user_id",
        **options,
    )


def test_each_segment_is_checked_at_alpha_over_the_number_of_segments():
    result = analyzed()
    assert math.isclose(result.srm.p_value, FIXTURE["overall"]["p_value"], rel_tol=1e-9)
    assert result.srm.mismatch is FIXTURE["overall"]["mismatch"] is False
    assert list(result.segments) == [case["label"] for case in FIXTURE["segments"]]
    for case in FIXTURE["segments"]:
        srm = result.segments[case["label"]].srm
        assert srm.observed == (case["control"], case["treatment"])
        assert math.isclose(srm.statistic, case["statistic"], rel_tol=1e-9, abs_tol=1e-12)
        assert math.isclose(srm.p_value, case["p_value"], rel_tol=1e-9)
        assert math.isclose(srm.alpha, FIXTURE["threshold"], rel_tol=1e-15)
        # R's p.adjust(p, "bonferroni") < alpha decides the same as p < alpha / k.
        assert srm.mismatch is case["mismatch"]
    # android is off at the unadjusted 0.001 and spared by the correction; ios is off either way.
    spared = [c["label"] for c in FIXTURE["segments"] if c["mismatch_unadjusted"] != c["mismatch"]]
    assert spared == ["platform=android"]


def test_the_threshold_follows_srm_alpha():
    result = analyzed(srm_alpha=0.003)
    assert result.srm.alpha == 0.003
    assert {label: r.srm.alpha for label, r in result.segments.items()} == dict.fromkeys(
        result.segments, 0.001
    )
    # android's p = 0.000576 is now below 0.003 / 3 = 0.001.
    assert [label for label, r in result.segments.items() if r.srm.mismatch] == [
        "platform=android",
        "platform=ios",
    ]


def test_a_segment_off_with_the_overall_split_fine_warns_and_does_not_block():
    result = analyzed()
    decision = verdict(result)
    by_name = {c.name: c for c in decision.checks}
    assert [c.name for c in decision.checks] == ["sample-ratio", "sample-size", "segment-ratio"]
    check = by_name["segment-ratio"]
    assert (check.status, check.passed) == ("warning", False)
    assert check.message == (
        "The split is off in 1 of 3 segments (each checked at p < 0.0003333: Bonferroni, 0.001 "
        "over 3 segments): platform=ios 1,000 / 1,200 (p=2.008e-05); the overall split is fine, "
        "so the segment column is probably affected by the treatment or logged differently by "
        "arm: do not read that segment until the cause is known."
    )
    assert by_name["sample-ratio"].passed
    assert decision.label != "Don't trust — fix the data"
    assert decision.healthy
    assert decision.complete
    assert decision.exit_code() == 0
    assert decision.exit_code(fail_on_incomplete=True) == 0


def test_segments_off_with_the_overall_split_off_say_so():
    counts = {"android": (1000, 1200), "ios": (1000, 1250), "web": (5000, 5000)}
    decision = verdict(analyzed(counts))
    by_name = {c.name: c for c in decision.checks}
    assert decision.label == "Don't trust — fix the data"
    assert by_name["sample-ratio"].status == "failed"
    message = by_name["segment-ratio"].message
    assert message.startswith("The split is off in 2 of 3 segments")
    # Worst first.
    assert message.index("platform=ios 1,000 / 1,250") < message.index("platform=android")
    assert "the overall split is off too (see the sample-ratio check)" in message
    assert message.endswith("do not read those segments until the cause is known.")


def test_every_segment_on_plan_passes():
    counts = {"android": (1000, 1000), "ios": (2000, 2000)}
    check = verdict(analyzed(counts)).checks[-1]
    assert (check.name, check.status) == ("segment-ratio", "passed")
    assert check.message == (
        "The split matches the plan in all 2 segments (each checked at p < 0.0005: "
        "Bonferroni, 0.001 over 2 segments)."
    )


def test_no_segments_no_segment_check():
    data = {
        "control": ablens.Moments.from_summary(1000, mean={"x": 1.0}, variance={"x": 1.0}),
        "treatment": ablens.Moments.from_summary(1000, mean={"x": 1.0}, variance={"x": 1.0}),
    }
    decision = verdict(ablens.analyze(data, [ablens.Mean("x")], control="control"))
    assert [c.name for c in decision.checks] == ["sample-ratio", "sample-size"]


def test_a_warning_is_neither_passed_nor_incomplete():
    with pytest.raises(ValueError, match="cannot be incomplete or a warning"):
        HealthCheck("segment-ratio", passed=True, message="m", warning=True)
    with pytest.raises(ValueError, match="both incomplete and a warning"):
        HealthCheck("segment-ratio", passed=False, message="m", incomplete=True, warning=True)
    check = HealthCheck("segment-ratio", passed=False, message="m", warning=True)
    assert check.to_dict() == {
        "name": "segment-ratio",
        "passed": False,
        "status": "warning",
        "message": "m",
    }


def test_json_text_and_report_show_each_segment_split():
    readout = compose_readout(analyzed())
    document = json.loads(json.dumps(readout.to_dict()))
    segments = document["segments"]
    assert {label: s["srm"]["mismatch"] for label, s in segments.items()} == {
        "platform=android": False,
        "platform=ios": True,
        "platform=web": False,
    }
    assert segments["platform=ios"]["srm"]["observed"] == [1000, 1200]
    assert segments["platform=ios"]["srm"]["alpha"] == pytest.approx(0.001 / 3, rel=1e-15)
    checks = document["verdict"]["checks"]
    assert [c["status"] for c in checks] == ["passed", "passed", "warning"]
    assert document["verdict"]["healthy"] is True

    text = str(readout)
    assert text.count("warn  segment-ratio: The split is off in 1 of 3 segments") == 1
    headers, rows = readout.result.segment_table()
    assert headers[4] == "split p"
    assert [row[4] for row in rows] == ["0.000576", "2.008e-05 (mismatch)", "1"]
    assert text.count("(mismatch)") == 1
    markdown = readout.result.to_markdown()
    assert "| units (control / arm) | split p | lift [CI] |" in markdown
    assert markdown.count("2.008e-05 (mismatch)") == 1

    page = render_report(readout.result, generated_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
    assert page.count('<div class="banner warn" role="status">') == 1
    assert (
        "<strong>Segments&#x27; sample ratio</strong>: The split is off in 1 of 3 segments" in page
    )
    # The report shows p-values for people: 2.008e-05 reads "< 0.001".
    assert page.count('<td class="split srm-mismatch">') == 1
    assert re.search(r'<td class="split srm-mismatch">.*?</span>&lt; 0.001 \(mismatch\)</td>', page)
    assert page.count(">Split p</abbr></th>") == 1
    assert "below 0.00033 (the threshold 0.001 split over 3 segments) the split is off" in page


PLAN = """\
experiment_id: segments
source:
  duckdb:
    file: users.duckdb
    table: users
variant: variant
unit: user_id
control: control
arms:
  control: 50
  treatment: 50
metrics:
  - name: x
    kind: mean
    column: x
    role: primary
segments: [platform]
"""


def test_command_line_warns_and_exits_zero(tmp_path):
    users(database=tmp_path / "users.duckdb").close()
    plan = tmp_path / "plan.yaml"
    plan.write_text(PLAN)
    runner = CliRunner()
    outcome = runner.invoke(app, ["analyze", str(plan)])
    assert outcome.exit_code == 0, outcome.output
    assert outcome.stderr == "ablens: warning (segment-ratio): see the health checks\n"
    assert outcome.stdout.count("  warn  segment-ratio: The split is off in 1 of 3 segments") == 1
    assert outcome.stdout.count("(mismatch)") == 1
    document = json.loads(runner.invoke(app, ["analyze", str(plan), "--json"]).stdout)
    assert [c["status"] for c in document["verdict"]["checks"]] == [
        "passed",
        "passed",
        "warning",
    ]
    assert document["segments"]["platform=ios"]["srm"]["mismatch"] is True
    report = runner.invoke(app, ["report", str(plan), "-o", str(tmp_path / "r.html")])
    assert report.exit_code == 0
    page = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert page.count('<div class="banner warn" role="status">') == 1
