"""The Mann–Whitney U test: agreement with R's wilcox.test, level under A/A, bad input.

The fixture ``tests/fixtures/r/nonparametric.json`` is written by
``Rscript tests/fixtures/r/nonparametric.R``: ``wilcox.test(treatment, control, exact = FALSE,
correct = TRUE / FALSE, alternative = ...)`` on data sets with and without ties, unequal and
tiny arms, and the rank sums, tie terms and z written out by formula. Every number must agree to
1e-9 relative (1e-12 absolute).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from scipy import stats

from ablens.errors import InputError
from ablens.stats.nonparametric import (
    MannWhitneyResult,
    RankSummary,
    mann_whitney_test,
    rank_summary_from_arrays,
)
from helpers import binomial_range

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "r" / "nonparametric.json"
REFERENCE: dict[str, Any] = json.loads(FIXTURE.read_text(encoding="utf-8"))
RTOL = 1e-9
ATOL = 1e-12
N_EXPERIMENTS = 4_000


# --------------------------------------------------------------------------- R reference


def test_fixture_records_its_provenance():
    generated = REFERENCE["generated_with"]
    assert generated["r_version"].startswith("R version")
    assert set(generated["packages"]) >= {"stats", "boot", "jsonlite"}


def test_fixture_covers_the_intended_cases():
    cases = REFERENCE["mann_whitney"]
    assert {c["options"]["alternative"] for c in cases} == {"two-sided", "greater", "less"}
    assert {c["options"]["continuity"] for c in cases} == {True, False}
    summaries = [d["summary"] for d in REFERENCE["rank_datasets"].values()]
    assert any(s["tie_term"] == 0 for s in summaries)  # no ties
    assert any(s["tie_term"] > 0 for s in summaries)  # ties
    assert any(s["n_control"] != s["n_treatment"] for s in summaries)  # unequal arms
    assert any(min(s["n_control"], s["n_treatment"]) == 1 for s in summaries)  # a single unit
    assert any(c["expected"]["z"] == 0 for c in cases)  # U at its mean: no correction


@pytest.mark.parametrize("dataset", sorted(REFERENCE["rank_datasets"]), ids=lambda name: name)
def test_rank_summary_matches_r(dataset):
    data = REFERENCE["rank_datasets"][dataset]
    summary = rank_summary_from_arrays(data["control"], data["treatment"])
    # Rank sums (multiples of 1/2) and tie terms (integers) are exact in both languages.
    assert summary == RankSummary(**data["summary"])


@pytest.mark.parametrize("case", REFERENCE["mann_whitney"], ids=lambda case: case["id"])
def test_mann_whitney_test_matches_wilcox_test(case):
    data = REFERENCE["rank_datasets"][case["dataset"]]
    # The fixture is R's normal approximation (exact = FALSE).
    result = mann_whitney_test(RankSummary(**data["summary"]), **case["options"], exact=False)
    mismatches = [
        f"{name}: python {getattr(result, name)!r} != R {expected!r}"
        for name, expected in case["expected"].items()
        if getattr(result, name) != pytest.approx(expected, rel=RTOL, abs=ATOL)
    ]
    assert not mismatches, "\n".join(mismatches)
    assert result.alternative == case["options"]["alternative"]
    assert result.continuity is case["options"]["continuity"]


@pytest.mark.parametrize("dataset", ["continuous_unequal", "integer_ties", "zero_inflated"])
@pytest.mark.parametrize("continuity", [True, False])
@pytest.mark.parametrize("alternative", ["two-sided", "greater", "less"])
def test_mann_whitney_test_matches_scipy(dataset, continuity, alternative):
    # A second, independent implementation: scipy's U is that of its first sample.
    data = REFERENCE["rank_datasets"][dataset]
    result = mann_whitney_test(
        rank_summary_from_arrays(data["control"], data["treatment"]),
        alternative=alternative,
        continuity=continuity,
        exact=False,
    )
    expected = stats.mannwhitneyu(
        data["treatment"],
        data["control"],
        alternative=alternative,
        use_continuity=continuity,
        method="asymptotic",
    )
    assert result.u_statistic == expected.statistic
    assert result.p_value == pytest.approx(expected.pvalue, rel=RTOL, abs=ATOL)


def test_rank_summary_agrees_with_rankdata_on_heavy_ties():
    rng = np.random.default_rng(3)
    control = rng.poisson(2.0, 500).astype(float)
    treatment = rng.poisson(2.3, 400).astype(float)
    summary = rank_summary_from_arrays(control, treatment)
    ranks = stats.rankdata(np.concatenate([control, treatment]))
    _, counts = np.unique(np.concatenate([control, treatment]), return_counts=True)
    assert summary.rank_sum_treatment == ranks[500:].sum()
    assert summary.tie_term == float(np.sum(counts.astype(float) ** 3 - counts))
    assert (summary.n_control, summary.n_treatment, summary.n_total) == (500, 400, 900)


def test_probability_of_superiority_counts_pairs():
    control = [1.0, 2.0, 2.0, 7.0]
    treatment = [2.0, 3.0, 0.5]
    result = mann_whitney_test(rank_summary_from_arrays(control, treatment))
    wins = sum((t > c) + 0.5 * (t == c) for t in treatment for c in control)
    assert result.u_statistic == wins
    assert result.probability_of_superiority == wins / 12
    assert isinstance(result, MannWhitneyResult)
    assert result.to_dict()["u_statistic"] == wins


def test_arms_swap_symmetrically():
    rng = np.random.default_rng(4)
    a, b = rng.normal(0, 1, 30), rng.normal(0.5, 1, 40)
    forward = mann_whitney_test(rank_summary_from_arrays(a, b), alternative="greater")
    backward = mann_whitney_test(rank_summary_from_arrays(b, a), alternative="less")
    assert forward.u_statistic == 30 * 40 - backward.u_statistic
    assert forward.p_value == pytest.approx(backward.p_value, rel=1e-12)


# --------------------------------------------------------------------------- A/A simulation


@pytest.mark.parametrize("alternative", ["two-sided", "greater"])
def test_aa_false_positive_rate(alternative):
    # 4000 A/A experiments of 200 units per arm on a skewed, heavily tied metric (rounded
    # lognormal: about 40% of units share a value with another). The 99.9% range for 5% is
    # [156, 247] = [3.9%, 6.2%]; a test off by 1.5 points would fail.
    rng = np.random.default_rng(21)
    rejections = 0
    for _ in range(N_EXPERIMENTS):
        control = np.round(rng.lognormal(0.0, 1.0, 200), 1)
        treatment = np.round(rng.lognormal(0.0, 1.0, 200), 1)
        result = mann_whitney_test(
            rank_summary_from_arrays(control, treatment), alternative=alternative
        )
        rejections += result.p_value < 0.05
    low, high = binomial_range(N_EXPERIMENTS, 0.05)
    assert (low, high) == (156, 247)
    assert low <= rejections <= high, rejections


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("control", "treatment", "match"),
    [
        ([], [1.0, 2.0], r"control has 0 values, must have at least 1"),
        ([1.0], [], r"treatment has 0 values, must have at least 1"),
        ([1.0, math.nan], [1.0], r"control has 1 NaN or infinite value\(s\) \(first at index 1"),
        ([1.0], [math.inf, 2.0], r"treatment has 1 NaN or infinite value\(s\)"),
        ([[1.0, 2.0]], [1.0], r"control has shape \(1, 2\), must be 1-D"),
        (["a", "b"], [1.0], r"control has dtype <U1, must hold real numbers"),
        ([1.0], [[1.0], [2.0, 3.0]], r"treatment must be a 1-D sequence of real numbers"),
    ],
)
def test_bad_arrays_name_the_argument(control, treatment, match):
    with pytest.raises(InputError, match=match):
        rank_summary_from_arrays(control, treatment)


@pytest.mark.parametrize(
    ("fields", "match"),
    [
        ({"n_control": 0}, r"n_control == 0, must be >= 1"),
        ({"n_treatment": 2.5}, r"n_treatment == 2\.5, must be a whole number"),
        ({"rank_sum_treatment": math.nan}, r"rank_sum_treatment == nan, must be finite"),
        ({"rank_sum_treatment": 2.0}, r"rank_sum_treatment == 2\.0, must be in \[3\.0, 9\.0\]"),
        ({"rank_sum_treatment": 9.5}, r"rank_sum_treatment == 9\.5, must be in \[3\.0, 9\.0\]"),
        ({"tie_term": -6}, r"tie_term == -6, must be in \[0, N\^3 - N\] == \[0, 120\]"),
        ({"tie_term": 126}, r"tie_term == 126, must be in \[0, N\^3 - N\]"),
        ({"tie_term": "6"}, r"tie_term == '6', must be a real number"),
    ],
)
def test_bad_rank_summary_names_the_field(fields, match):
    valid = {"n_control": 3, "n_treatment": 2, "rank_sum_treatment": 5.0, "tie_term": 0}
    with pytest.raises(InputError, match=match):
        RankSummary(**{**valid, **fields})


def test_all_values_tied_is_rejected():
    summary = rank_summary_from_arrays([2.0, 2.0], [2.0, 2.0, 2.0])
    assert summary.tie_term == 120.0
    with pytest.raises(InputError, match=r"all 5 values are equal, so the rank test has no"):
        mann_whitney_test(summary)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"alternative": "two.sided"}, r"alternative == 'two.sided', must be one of"),
        ({"continuity": "yes"}, r"continuity == 'yes', must be True or False"),
    ],
)
def test_bad_options_name_the_argument(kwargs, match):
    summary = RankSummary(n_control=3, n_treatment=2, rank_sum_treatment=5.0)
    with pytest.raises(InputError, match=match):
        mann_whitney_test(summary, **kwargs)


def test_summary_must_be_a_rank_summary():
    with pytest.raises(InputError, match=r"summary == \(3, 2, 5\.0\), must be a RankSummary"):
        mann_whitney_test((3, 2, 5.0))  # type: ignore[arg-type]
