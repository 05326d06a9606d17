"""The small-sample note: which results get it, at which sizes, and which do not.

The proportions' expected-count rule is checked against R: ``chisq.test`` warns "Chi-squared
approximation may be incorrect" exactly for the tables of ``tests/fixtures/r/small_samples.json``
where the note appears, and the note's smallest expected count is ``min(chisq.test()$expected)``.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest

import ablens
from ablens import (
    InputError,
    MannWhitney,
    Mean,
    Moments,
    Proportion,
    Quantile,
    Ratio,
    analyze,
    cuped_test,
    mean_test,
    proportion_test,
    ratio_test,
    regression_adjusted_test,
)
from ablens.analysis_plan import PlanError, plan_from_dict
from ablens.stats import (
    QuantileSummary,
    post_stratified_test,
    quantile_bootstrap_test,
    quantile_test,
)
from ablens.stats.small_samples import (
    MIN_EXPECTED_COUNT,
    MIN_UNITS_PER_ARM,
    small_sample_note,
    with_small_sample_note,
)
from rfixtures import load_r_fixture

TABLES: list[dict[str, Any]] = load_r_fixture("small_samples.json")["proportion_tables"]


def _normal_columns(n: int, seed: int, shift: float = 0.0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(10.0, 2.0, n)
    sessions = 1.0 + rng.poisson(3.0, n)
    return {
        "y": x + shift + rng.normal(0.0, 1.0, n),
        "x": x,
        "orders": rng.binomial(sessions.astype(int), 0.3).astype(float),
        "sessions": sessions,
    }


def _arms(n_control: int, n_treatment: int) -> tuple[Moments, Moments]:
    return (
        Moments.from_columns(_normal_columns(n_control, 1)),
        Moments.from_columns(_normal_columns(n_treatment, 2, shift=0.5)),
    )


def test_thresholds_are_the_documented_ones():
    assert MIN_UNITS_PER_ARM == 30
    assert MIN_EXPECTED_COUNT == 5


# ------------------------------------------------------------------------------- by size
@pytest.mark.parametrize(
    ("n_control", "n_treatment", "noted"),
    [(29, 40, True), (40, 29, True), (30, 30, False), (5, 4, True)],
)
def test_every_normal_reference_moment_test_is_noted_below_the_threshold(
    n_control, n_treatment, noted
):
    control, treatment = _arms(n_control, n_treatment)
    results = {
        "delta": ratio_test(control, treatment, "orders", "sessions"),
        "z": mean_test(
            control.count,
            control.mean_of("y"),
            control.variance("y"),
            treatment.count,
            treatment.mean_of("y"),
            treatment.variance("y"),
            test="z",
        ),
        "cuped": cuped_test(control, treatment, "x", column="y"),
        "ancova": regression_adjusted_test(control, treatment, ["x"], column="y"),
    }
    for test, result in results.items():
        assert result.test == test
        note = small_sample_note(result, n_control, n_treatment)
        assert (note is not None) is noted, test
        if noted:
            assert note.startswith("small sample: ")
            assert f"{n_control:,} control and {n_treatment:,} treatment units" in note
            assert f"fewer than {MIN_UNITS_PER_ARM} in an arm" in note
            assert not note.endswith(".")  # the renderings add the period


@pytest.mark.parametrize("test", ["welch", "student"])
def test_t_reference_mean_tests_get_no_note(test):
    result = mean_test(5, 10.0, 4.0, 4, 12.0, 5.0, test=test)
    assert small_sample_note(result, 5, 4) is None


def test_ratio_with_t_reference_gets_no_note_and_the_fix_is_named():
    control, treatment = _arms(5, 4)
    normal = ratio_test(control, treatment, "orders", "sessions")
    t = ratio_test(control, treatment, "orders", "sessions", reference="t")
    assert "use reference='t'" in normal.notes[0]
    assert t.notes == ()
    assert small_sample_note(t, 5, 4) is None


def test_fixes_are_named_per_test():
    control, treatment = _arms(10, 10)
    z = mean_test(10, 1.0, 1.0, 10, 2.0, 1.0, test="z")
    assert "use test='welch'" in str(small_sample_note(z, 10, 10))
    cuped = cuped_test(control, treatment, "x", column="y")
    assert "reference='t'" in str(small_sample_note(cuped, 10, 10))
    strata_c = {
        "a": Moments.from_columns({"y": [1.0, 2, 3, 4]}),
        "b": Moments.from_columns({"y": _normal_columns(10, 1)["y"]}),
    }
    strata_t = {
        "a": Moments.from_columns({"y": [2.0, 3, 4, 6]}),
        "b": Moments.from_columns({"y": _normal_columns(10, 2)["y"]}),
    }
    stratified = post_stratified_test(strata_c, strata_t, "y")
    assert "merge the strata" in str(small_sample_note(stratified, 14, 14))


def test_quantile_normal_test_is_noted_and_the_bootstrap_is_not():
    rng = np.random.default_rng(3)
    c, t = rng.exponential(1.0, 20), rng.exponential(1.3, 25)
    summaries = [ablens.stats.quantile_summary_from_array(a, 0.5) for a in (c, t)]
    assert all(isinstance(s, QuantileSummary) for s in summaries)
    normal = quantile_test(*summaries)
    assert "quantile_bootstrap_test" in str(small_sample_note(normal, 20, 25))
    boot = quantile_bootstrap_test(c, t, 0.5, n_resamples=200, seed=1)
    assert small_sample_note(boot, 20, 25) is None


def test_unknown_and_exact_tests_get_no_note():
    result = mean_test(5, 10.0, 4.0, 4, 12.0, 5.0, test="z")
    assert small_sample_note(dataclasses.replace(result, test="my-test"), 5, 4) is None
    fisher = proportion_test(1, 10, 6, 10, test="fisher")
    assert small_sample_note(fisher, 10, 10, rate=True) is None


def test_note_is_added_once():
    result = mean_test(5, 10.0, 4.0, 4, 12.0, 5.0, test="z")
    once = with_small_sample_note(result, 5, 4)
    assert len(once.notes) == 1
    assert with_small_sample_note(once, 5, 4) is once
    assert with_small_sample_note(mean_test(5, 10.0, 4.0, 4, 12.0, 5.0), 5, 4).notes == ()


# ------------------------------------------------------------------------------- proportions
@pytest.mark.parametrize("table", TABLES, ids=[str(i) for i in range(len(TABLES))])
@pytest.mark.parametrize("test", ["z", "chi2", "chi2-yates"])
def test_proportion_note_exactly_where_chisq_test_warns(table, test):
    n_c, n_t = table["control_count"], table["treatment_count"]
    result = proportion_test(
        table["control_successes"], n_c, table["treatment_successes"], n_t, test=test
    )
    note = small_sample_note(result, n_c, n_t, rate=True)
    assert (note is not None) is table["chisq_test_warns"]
    if note is not None:
        shown = re.search(r"smallest expected count is ([0-9.e+-]+),", note).group(1)
        assert shown == f"{table['min_expected']:.3g}"  # printed to 3 significant digits
        assert "use test='fisher'" in note
        assert ("chi-square" in note) is test.startswith("chi2")


def test_fixture_tables_cover_both_sides_and_the_boundary():
    warns = [t["chisq_test_warns"] for t in TABLES]
    assert any(warns)
    assert not all(warns)
    assert any(
        t["min_expected"] == MIN_EXPECTED_COUNT and not t["chisq_test_warns"] for t in TABLES
    )


def test_a_small_but_balanced_proportion_is_not_noted():
    # 20 units per arm, below MIN_UNITS_PER_ARM, but 10 expected in every cell: no note.
    result = proportion_test(9, 20, 11, 20)
    assert small_sample_note(result, 20, 20, rate=True) is None
    assert small_sample_note(result, 20, 20) is not None  # read as a mean z test it would be


# ------------------------------------------------------------------------------- analyze
def _table(n_control: int, n_treatment: int, rate: float = 0.5) -> pl.DataFrame:
    rng = np.random.default_rng(11)
    n = n_control + n_treatment
    columns = _normal_columns(n, 4)
    return pl.DataFrame(
        {
            "variant": ["c"] * n_control + ["t"] * n_treatment,
            # Rate 0.5: alternating 0/1, so each arm converts exactly half (up to one unit).
            "converted": (
                np.arange(n) % 2 if rate == 0.5 else (rng.random(n) < rate).astype(np.int64)
            ),
            # Whole numbers: tied values, so that a rank test uses its normal approximation
            # (an exact rank test, where one is available, needs untied values).
            "score": np.round(columns["y"]),
            **columns,
        }
    )


def test_analyze_notes_every_kind_by_its_rule():
    table = _table(14, 12)
    metrics = [
        Mean("y"),
        Mean("y", test="z", name="y (z)"),
        Mean("y", covariates=("x",), name="y (cuped)"),
        Proportion("converted"),
        Proportion("converted", test="fisher", name="converted (fisher)"),
        Ratio("orders", "sessions"),
        Ratio("orders", "sessions", reference="t", name="ratio (t)"),
        Quantile("y", 0.5),
        MannWhitney("score"),
    ]
    result = analyze(table, metrics, control="c")
    noted = {
        c.metric: [n for n in c.result.notes if n.startswith("small sample")]
        for c in result.comparisons
    }
    assert noted["y"] == []
    assert noted["converted (fisher)"] == []
    assert noted["ratio (t)"] == []
    for name in ("y (z)", "y (cuped)", "orders / sessions", "y p50", "score (rank)"):
        assert len(noted[name]) == 1, name
        assert "14 control and 12 treatment units" in noted[name][0]
    # 13 of 26 units converted: the smallest expected count is 12 x 13 / 26 = 6 >= 5.
    assert noted["converted"] == []


def test_analyze_does_not_repeat_the_note_ratio_test_added():
    control, treatment = _arms(5, 4)
    result = analyze({"c": control, "t": treatment}, [Ratio("orders", "sessions")], control="c")
    assert len(result.comparisons[0].result.notes) == 1


def test_analyze_notes_a_rare_proportion_by_expected_counts():
    table = _table(200, 200, rate=0.01)
    result = analyze(table, [Proportion("converted")], control="c")
    (note,) = result.comparisons[0].result.notes
    assert "smallest expected count" in note
    assert "Fisher's exact test" in note


# ------------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("reference", ["T", "student", "Normal", "", None, 1])
def test_unknown_reference_is_an_input_error(reference):
    control, treatment = _arms(5, 4)
    with pytest.raises(InputError, match="reference"):
        ratio_test(control, treatment, "orders", "sessions", reference=reference)
    with pytest.raises(InputError, match="reference"):
        Ratio("orders", "sessions", reference=reference)


def test_t_reference_reaches_the_ratio_with_and_without_covariates():
    plain = Ratio("orders", "sessions", reference="t")
    adjusted = Ratio("orders", "sessions", covariates=("x",), reference="t")
    assert plain.reference == adjusted.reference == "t"


def test_plan_checks_the_reference():
    spec = {
        "experiment_id": "e",
        "source": {"path": "users.parquet"},
        "control": "c",
        "metrics": [
            {"kind": "ratio", "numerator": "orders", "denominator": "sessions", "reference": "T"}
        ],
    }
    with pytest.raises(PlanError, match=r"metrics\[0\]\.reference == 'T'"):
        plan_from_dict(spec)
    spec["metrics"][0]["reference"] = "t"
    metric = plan_from_dict(spec).metrics[0].to_metric()
    assert isinstance(metric, Ratio)
    assert metric.reference == "t"


def test_documented_levels_that_justify_the_threshold_match_r():
    """docs/methodology/small-samples.md: the level of a nominal 5% normal-reference test."""
    levels = load_r_fixture("small_samples.json")["normal_reference_levels"]
    page = (Path(__file__).parents[2] / "docs" / "methodology" / "small-samples.md").read_text(
        encoding="utf-8"
    )
    header = "| units per arm | " + " | ".join(str(r["units_per_arm"]) for r in levels) + " |"
    shown = " | ".join(f"{100 * r['level']:.1f}%" for r in levels)
    assert header in page
    assert f"| actual level of a nominal 5% normal-reference test | {shown} |" in page
    assert MIN_UNITS_PER_ARM in [r["units_per_arm"] for r in levels]


@pytest.mark.parametrize(
    ("test", "noted"),
    [
        ("ancova-HC2", True),
        ("common-slope", True),
        ("common-slope-HC0", True),
        ("post-stratified-cuped", True),
        ("ancova-HC9", False),
        ("welch", False),
    ],
)
def test_adjusted_variants_are_recognised_by_their_base_name(test, noted):
    """Normal-reference adjusted tests with a variance option keep their base name's rule."""
    result = dataclasses.replace(mean_test(5, 10.0, 4.0, 4, 12.0, 5.0, test="z"), test=test)
    assert (small_sample_note(result, 5, 4) is not None) is noted
    t_reference = dataclasses.replace(result, df=6.5)
    assert small_sample_note(t_reference, 5, 4) is None
