"""The MannWhitney metric end to end: ablens.analyze on pandas and DuckDB against R.

The reference numbers are R's ``wilcox.test(treatment, control, conf.int = TRUE, ...)`` from
``tests/fixtures/r/rank_shift.json`` (written by ``tests/fixtures/r/rank_shift.R``): the
p-value, the Hodges-Lehmann shift and its interval must come out of `ablens.analyze` on a
pandas table and on a DuckDB relation to 1e-9 relative (exact intervals and medians) or, for
the normal-approximation bounds, equal to the sign change of R's statistic (see
tests/stats/test_rank_shift.py for why that is the number to compare).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

import ablens
from ablens import MannWhitney
from ablens.errors import InputError
from ablens.render import format_interval
from rfixtures import load_r_fixture

REFERENCE: dict[str, Any] = load_r_fixture("rank_shift.json")
RTOL = 1e-9


def _case(dataset: str, exact: object, alternative: str = "two-sided") -> dict[str, Any]:
    (case,) = [
        c
        for c in REFERENCE["cases"]
        if c["dataset"] == dataset
        and c["options"]["exact"] == exact
        and c["options"]["alternative"] == alternative
        and c["options"]["continuity"] is True
        and c["options"]["confidence_level"] == 0.95
    ]
    return case


def _table(dataset: str, engine: str) -> object:
    pandas = pytest.importorskip("pandas")
    data = REFERENCE["data"][dataset]
    frame = pandas.DataFrame(
        {
            "variant": ["control"] * len(data["control"]) + ["treatment"] * len(data["treatment"]),
            "value": [*data["control"], *data["treatment"]],
        }
    )
    if engine == "pandas":
        return frame
    duckdb = pytest.importorskip("duckdb")
    return duckdb.connect().from_df(frame)


@pytest.mark.parametrize("engine", ["pandas", "duckdb"])
@pytest.mark.parametrize(
    ("dataset", "exact", "alternative", "test"),
    [
        ("exact_12_15", "auto", "two-sided", "mann-whitney-exact"),
        ("exact_30_45", "auto", "greater", "mann-whitney-exact"),
        ("exact_90_110", True, "less", "mann-whitney-exact"),
        ("ties_rating_40_36", "auto", "two-sided", "mann-whitney"),
        ("lognormal_300_250", "auto", "two-sided", "mann-whitney"),
    ],
)
def test_analyze_matches_wilcox_test(engine, dataset, exact, alternative, test):
    case = _case(dataset, exact, alternative)
    expected = case["expected"]
    metric = MannWhitney("value", exact=exact, alternative=alternative)  # type: ignore[arg-type]
    result = ablens.analyze(_table(dataset, engine), [metric], control="control")
    r = result.comparisons[0].result
    assert r.test == test
    assert r.p_value == pytest.approx(expected["p_value"], rel=RTOL)
    assert r.effect == pytest.approx(expected["median_differences"], rel=RTOL)
    bounds = ("ci_lower", "ci_upper")
    if expected["method"] == "exact":
        references = [expected[b] for b in bounds]
    else:
        references = [expected[f"{b}_sign_change"] for b in bounds]
    for ours, reference in zip(r.effect_ci, references, strict=True):
        assert ours == pytest.approx(reference, rel=RTOL) or ours == reference
    n_t = len(REFERENCE["data"][dataset]["treatment"])
    n_c = len(REFERENCE["data"][dataset]["control"])
    assert r.treatment_estimate == pytest.approx(expected["u_statistic"] / (n_t * n_c), rel=RTOL)
    # Tied data: R warns that it cannot use the exact distribution; ablens notes it.
    assert any("tied values" in n for n in r.notes) == bool(expected["warnings"])


def test_results_show_the_shift_interval():
    table = _table("exact_12_15", "pandas")
    result = ablens.analyze(table, [MannWhitney("value")], control="control")
    comparison = result.comparisons[0]
    row = comparison.display_row()
    lower, upper = comparison.result.effect_ci
    assert math.isfinite(lower)
    assert math.isfinite(upper)
    assert "[—, —]" not in " ".join(row)
    assert row[4].endswith(format_interval(lower, upper))
    assert row[5] == "—"  # no lift for a shift
    record = comparison.to_dict()
    assert (record["effect_ci_lower"], record["effect_ci_upper"]) == (lower, upper)
    assert "Hodges-Lehmann shift" in str(result)


def test_zero_inflated_shift_is_zero_but_the_verdict_follows_the_test():
    # Most units are 0 in both arms: over half of the treatment - control differences are 0,
    # so the shift and its interval are 0, while treatment values do tend to be larger.
    pandas = pytest.importorskip("pandas")
    rng = np.random.default_rng(3)
    control = np.where(rng.random(300) < 0.7, 0, np.round(rng.exponential(20, 300), 2))
    treatment = np.where(rng.random(280) < 0.6, 0, np.round(rng.exponential(25, 280), 2))
    frame = pandas.DataFrame(
        {"variant": ["c"] * 300 + ["t"] * 280, "revenue": np.concatenate([control, treatment])}
    )
    comparison = ablens.analyze(frame, [MannWhitney("revenue")], control="c").comparisons[0]
    r = comparison.result
    assert r.p_value < 0.05
    assert r.treatment_estimate > 0.5
    assert r.statistic > 0
    assert (r.effect, *r.effect_ci) == (0.0, 0.0, 0.0)
    assert comparison.outcome == "better"
    assert any("single value 0" in n for n in r.notes)


def test_too_many_distinct_values_leave_the_shift_out_with_a_note(monkeypatch):
    monkeypatch.setattr("ablens.data.ranks.MAX_SHIFT_VALUES", 100)
    table = _table("lognormal_300_250", "duckdb")
    comparison = ablens.analyze(table, [MannWhitney("value")], control="control").comparisons[0]
    r = comparison.result
    assert math.isnan(r.effect)
    assert all(math.isnan(b) for b in r.effect_ci)
    assert any("more than 100 distinct values" in n for n in r.notes)
    expected = _case("lognormal_300_250", "auto")["expected"]
    assert r.p_value == pytest.approx(expected["p_value"], rel=RTOL)  # the test still runs


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"exact": "sometimes"}, r"exact == 'sometimes', must be True, False, 'auto' or None"),
        ({"continuity": "yes"}, r"continuity == 'yes', must be True or False"),
        ({"alternative": "bigger"}, r"alternative == 'bigger', must be one of"),
    ],
)
def test_bad_options_fail_at_construction(kwargs, match):
    with pytest.raises(InputError, match=match):
        MannWhitney("value", **kwargs)


def test_exact_beyond_its_limit_is_refused_when_analyzed():
    pandas = pytest.importorskip("pandas")
    frame = pandas.DataFrame(
        {"variant": ["c"] * 150 + ["t"] * 150, "x": np.arange(300, dtype=float)}
    )
    with pytest.raises(InputError, match=r"exact == True with n_control \* n_treatment == 22,500"):
        ablens.analyze(frame, [MannWhitney("x", exact=True)], control="c")
