"""Capped sequential p-values are shown as bounds ("≥0.5") on every face, and one-sided looks.

The group-sequential repeated p-value is searched only up to 0.5 (as rpact's), so a look whose
evidence is weaker shows 0.5, which is not its p-value but a lower bound on it. Text, markdown,
HTML, the sentence of a reading, the HTML report (which the web readout serves) and JSON must
say so.
"""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

import ablens
from ablens.errors import InputError
from ablens.report import render_report
from ablens.sequential import LooksResult, SequentialReading, analyze_looks
from ablens.stats.group_sequential import REPEATED_P_VALUE_CAP

DAYS = 8
N = 2_400


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(140012)
    arm = rng.choice(["control", "treatment"], N)
    return pd.DataFrame(
        {
            "arm": arm,
            "day": rng.integers(1, DAYS + 1, N),
            "flat": rng.normal(10.0, 2.0, N),  # A/A
            "lifted": rng.normal(10.0, 2.0, N) + np.where(arm == "treatment", 0.4, 0.0),
        }
    )


def looks(frame: pd.DataFrame, column: str, **options: object) -> LooksResult:
    options.setdefault("planned_units", N)
    return analyze_looks(
        frame, ablens.Mean(column), control="control", variant="arm", time="day", **options
    )


@pytest.fixture(scope="module")
def capped(frame: pd.DataFrame) -> LooksResult:
    result = looks(frame, "flat", method="group-sequential")
    assert any(row.sequential_p_value_capped for row in result.rows)
    return result


def test_the_flag_marks_exactly_the_capped_repeated_p_values(capped: LooksResult) -> None:
    for row in capped.rows:
        assert row.sequential_p_value_capped == (row.sequential_p_value >= REPEATED_P_VALUE_CAP)
        assert row.sequential_p_value <= REPEATED_P_VALUE_CAP
        shown = row.sequential_p_text
        assert shown.startswith("≥") == row.sequential_p_value_capped
        if row.sequential_p_value_capped:
            assert shown == "≥0.5"


def test_json_carries_the_flag(capped: LooksResult) -> None:
    document = json.loads(json.dumps(capped.to_dict()))
    flags = [row["sequential_p_value_capped"] for row in document["rows"]]
    assert flags == [row.sequential_p_value_capped for row in capped.rows]
    assert any(flags)


def test_text_markdown_and_html_show_a_bound(capped: LooksResult) -> None:
    capped_rows = [row for row in capped.rows if row.sequential_p_value_capped]
    text_lines = str(capped).splitlines()
    markdown_lines = capped.to_markdown().splitlines()
    html = capped.to_html()
    for row in capped_rows:
        # The row's line (its look is the first cell) carries "≥0.5" as its sequential p.
        text = next(line for line in text_lines if line.split()[0] == str(row.look))
        assert "≥0.5" in text
        markdown = next(line for line in markdown_lines if line.startswith(f"| {row.look} |"))
        cells = [cell.strip() for cell in markdown.strip("|").split("|")]
        assert cells[7] == "≥0.5"  # the "sequential p" column
    assert html.count("<td>≥0.5</td>") == len(capped_rows)


def test_reading_sentence_report_and_json(capped: LooksResult) -> None:
    # Read before the last look (where this A/A design ends): every look so far is capped.
    early = replace(capped, rows=capped.rows[:-1], decision="continue", stopping_look=None)
    assert all(row.sequential_p_value_capped for row in early.rows)
    reading = SequentialReading(
        metric="flat",
        treatment="treatment",
        role="primary",
        direction="increase",
        method="group-sequential",
        time="day",
        alpha=0.05,
        looks=early,
    )
    assert reading.p_value_capped
    assert reading.p_value == REPEATED_P_VALUE_CAP
    sentence = reading.sentence()
    assert "(sequential p≥0.5 at day 7," in sentence
    assert "p=0.5" not in sentence
    assert "p≥0.5" in str(reading)
    document = json.loads(json.dumps(reading.to_dict()))
    assert document["sequential_p_value_capped"] is True
    assert document["sequential_p_value"] == 0.5
    analysis = ablens.analyze(
        {
            arm: ablens.Moments.from_summary(1_200, mean={"flat": 10.0}, variance={"flat": 4.0})
            for arm in ("control", "treatment")
        },
        [ablens.Mean("flat")],
        control="control",
    )
    report = render_report(analysis, sequential=[reading])  # the page the web readout serves
    assert report.count("<td>≥0.5</td>") == len(early.rows)
    assert "sequential p≥0.5 at day 7" in report
    assert "p=0.5" not in report
    verdict = ablens.verdict(analysis, sequential=[reading])
    assert "p=0.5" not in str(verdict)


def test_other_methods_are_never_capped(frame: pd.DataFrame) -> None:
    for method in ("msprt", "confidence-sequence", "fixed"):
        result = looks(frame, "flat", method=method)
        assert not any(row.sequential_p_value_capped for row in result.rows)
        assert "≥" not in str(result)


# ------------------------------------------------------------------------------- one-sided
@pytest.mark.parametrize(("alternative", "decision"), [("greater", "treatment higher")])
def test_one_sided_confidence_sequence_through_analyze_looks(
    frame: pd.DataFrame, alternative: str, decision: str
) -> None:
    result = looks(frame, "lifted", method="confidence-sequence", alternative=alternative)
    assert result.alternative == alternative
    assert isinstance(result.detail, ablens.AlwaysValidResult)
    assert result.detail.alternative == alternative
    assert all(row.sequential_upper == float("inf") for row in result.rows)
    assert result.decision == decision
    direct = ablens.asymptotic_confidence_sequence(
        [
            ablens.EffectLook(
                row.estimate, row.standard_error**2, row.control_units + row.treatment_units
            )
            for row in result.rows
        ],
        planned_count=N,
        alternative=alternative,
    )
    for row, look in zip(result.rows, direct.looks, strict=True):
        assert row.sequential_lower == pytest.approx(look.ci_lower, rel=1e-12)
        assert row.sequential_p_value == pytest.approx(look.p_value, rel=1e-12, abs=1e-300)
    # JSON: the infinite upper bound is null.
    assert json.loads(json.dumps(result.to_dict()))["rows"][-1]["sequential_upper"] is None


def test_one_sided_bad_input(frame: pd.DataFrame) -> None:
    with pytest.raises(InputError, match="method='msprt' is two-sided only"):
        looks(frame, "lifted", method="msprt", alternative="greater")
    with pytest.raises(InputError, match=r"alpha == 0.6, must be < 0.5"):
        looks(frame, "lifted", method="confidence-sequence", alternative="less", alpha=0.6)
