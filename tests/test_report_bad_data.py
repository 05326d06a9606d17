"""A report even when the data are bad: "Don't trust — fix the data", every problem named."""

from __future__ import annotations

import datetime as dt
import html

import pytest

from ablens.decision import FIX_DATA, data_verdict
from ablens.report import render_data_problems

PROBLEMS = [
    "column 'user_id' (the unit id) has 12 NULL value(s)",
    (
        "column 'user_id' repeats unit ids: 3 row(s) beyond one per unit; aggregate to one row "
        "per unit first (ablens.data.aggregate_events)."
    ),
    (
        "column 'variant' holds labels not in the plan's arms ['control', 'b']: 'B' (40 rows); "
        "fix the labels or declare the arms"
    ),
    "column 'revenue' has 7 NULL value(s) in arm 'b'; fill them",
]


def test_data_verdict_names_every_problem():
    decision = data_verdict(PROBLEMS)
    assert decision.label == FIX_DATA
    assert [(c.name, c.status) for c in decision.checks] == [("data", "failed")] * 4
    assert [c.message for c in decision.checks] == [p.rstrip(".") + "." for p in PROBLEMS]
    assert (decision.healthy, decision.exit_code()) == (False, 1)
    # The sentence lists the first three and says there are more.
    assert decision.reason.startswith("The data fail 4 checks, so nothing was analyzed: ")
    assert decision.reason.endswith(
        "fix the labels or declare the arms; and 1 more (see the checks). Fix the data and run "
        "again."
    )
    assert decision.reason.count("column ") == 3
    assert decision.to_dict()["checks"][3]["message"] == (
        "column 'revenue' has 7 NULL value(s) in arm 'b'; fill them."
    )


def test_data_verdict_needs_a_problem():
    with pytest.raises(ValueError, match="problems is empty, must name at least one problem"):
        data_verdict([])


def test_the_page_names_each_problem():
    page = render_data_problems(PROBLEMS, generated_at=dt.datetime(2026, 1, 2, tzinfo=dt.UTC))
    assert page.startswith("<!DOCTYPE html>")
    assert "<title>A/B test: Don&#x27;t trust — fix the data</title>" in page
    assert '<section class="verdict verdict-fix" aria-label="verdict">' in page
    banner = '<div class="banner fail" role="alert"><strong>Data</strong>: '
    assert page.count(banner) == 4
    for problem in PROBLEMS:
        assert f"{banner}{html.escape(problem.rstrip('.'), quote=True)}.</div>" in page
    assert "generated 2026-01-02 00:00:00 UTC" in page
    assert "Data: failed the checks, not analyzed" in page
    assert "http" not in page
