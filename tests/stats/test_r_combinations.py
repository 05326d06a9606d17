"""Agreement of ablens' metric combinations with reference values from R.

The fixture ``tests/fixtures/r/combinations.json`` is written by
``Rscript tests/fixtures/r/combinations.R`` (run from the repository root) from raw simulated data
stored in the fixture. R computes every number from the per-unit rows with ``mean()``, ``var()``
and ``lm()`` on explicitly linearized values (see the script's header for the definitions):

* `cuped_ratio_test`: revenue per session adjusted by the pre-period's revenue per session;
* `post_stratified_test`: a post-stratified mean and ratio, without a covariate, with a column
  covariate and (ratio) with a ratio covariate, CUPED within strata with a slope per stratum.

The "medium" data set has a stratum of new users whose pre-period columns are all 0: the
covariate is constant there and that stratum is left unadjusted (slope 0), as in R.

ablens computes the same numbers from per-stratum `Moments` (and, end to end, through
`ablens.analyze` on a pandas table and a DuckDB relation, i.e. from moments computed by the
engine's query). Every number must agree to 1e-9 relative (1e-12 absolute).
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
import pytest

import ablens
from ablens import Moments, PostStratified, PostStratifiedRatio, Ratio, cuped_ratio_test
from ablens.stats import post_stratified_test
from rfixtures import load_r_fixture

RTOL = 1e-9
ATOL = 1e-12
REFERENCE: dict[str, Any] = load_r_fixture("combinations.json")
COLUMNS = ("revenue", "sessions", "pre_revenue", "pre_sessions")
RESULT_FIELDS = (
    "control_estimate",
    "treatment_estimate",
    "effect",
    "effect_ci_lower",
    "effect_ci_upper",
    "standard_error",
    "relative_effect",
    "variance_reduction",
)


def _close(actual: float, expected: float) -> bool:
    return actual == pytest.approx(expected, rel=RTOL, abs=ATOL, nan_ok=True)


def _arm_rows(dataset: str, arm: str) -> dict[str, np.ndarray]:
    data = REFERENCE["datasets"][dataset][arm]
    rows = {c: np.asarray(data[c], dtype=np.float64) for c in COLUMNS}
    rows["stratum"] = np.asarray(data["stratum"])
    return rows


@functools.cache
def _strata(dataset: str, arm: str) -> dict[str, Moments]:
    rows = _arm_rows(dataset, arm)
    return {
        str(s): Moments.from_columns({c: rows[c][rows["stratum"] == s] for c in COLUMNS})
        for s in np.unique(rows["stratum"])
    }


@functools.cache
def _whole(dataset: str, arm: str) -> Moments:
    rows = _arm_rows(dataset, arm)
    return Moments.from_columns({c: rows[c] for c in COLUMNS})


def _check(result: Any, case: dict[str, Any], method: str) -> None:
    expected = case["expected"]
    pairs = [(name, getattr(result, name), expected[name]) for name in RESULT_FIELDS]
    test = expected["by_method"][method]  # a relative margin is tested by the method's pivot
    pairs += [(name, getattr(result, name), test[name]) for name in ("statistic", "p_value")]
    lower, upper = expected["relative_ci"][method]
    pairs += [
        ("relative_ci_lower", result.relative_ci_lower, lower),
        ("relative_ci_upper", result.relative_ci_upper, upper),
    ]
    mismatches = [f"{n}: python {a!r} != R {e!r}" for n, a, e in pairs if not _close(a, e)]
    assert not mismatches, "\n".join(mismatches)
    assert result.test == case["test"]


def _cases(method_list: tuple[str, ...] = ("delta-log", "fieller")) -> list[Any]:
    return [
        pytest.param(case, method, id=f"{case['id']}-{method}")
        for case in REFERENCE["cases"]
        for method in method_list
    ]


def test_fixture_covers_the_intended_cases() -> None:
    """Guard against a regenerated fixture silently losing its hard cases."""
    cases = REFERENCE["cases"]
    assert {c["test"] for c in cases} == {"cuped", "post-stratified", "post-stratified-cuped"}
    assert {tuple(c["covariate"]) for c in cases} == {
        (),
        ("covariate",),
        ("covariate_numerator", "covariate_denominator"),
    }
    assert {tuple(c["metric"]) for c in cases} == {("column",), ("numerator", "denominator")}
    assert {c["options"]["alternative"] for c in cases} == {"two-sided", "greater", "less"}
    assert {c["options"]["margin_type"] for c in cases} == {"absolute", "relative"}
    # A stratum without variation in the covariate (new users) must stay in the fixture.
    assert any(c["covariate"] and c["thetas"].get("new") == 0 for c in cases)


@pytest.mark.parametrize(("case", "method"), _cases())
def test_moments_match_r(case: dict[str, Any], method: str) -> None:
    dataset = case["dataset"]
    if case["function"] == "cuped_ratio_test":
        covariate = case["covariate"]
        result = cuped_ratio_test(
            _whole(dataset, "control"),
            _whole(dataset, "treatment"),
            case["metric"]["numerator"],
            case["metric"]["denominator"],
            covariate["covariate_numerator"],
            covariate["covariate_denominator"],
            **case["options"],
            relative_method=method,
        )
    else:
        result = post_stratified_test(
            _strata(dataset, "control"),
            _strata(dataset, "treatment"),
            **case["metric"],
            **case["covariate"],
            **case["options"],
            relative_method=method,
        )
    _check(result, case, method)


def _metric(case: dict[str, Any]) -> Any:
    options = {k: v for k, v in case["options"].items() if k != "confidence_level"}
    metric, covariate = case["metric"], case["covariate"]
    if case["function"] == "cuped_ratio_test":
        return Ratio(**metric, **covariate, **options, name="m")
    covariates = (covariate["covariate"],) if "covariate" in covariate else ()
    ratio_covariate = {k: v for k, v in covariate.items() if k != "covariate"}
    if "column" in metric:
        return PostStratified(
            metric["column"], "stratum", covariates=covariates, **options, name="m"
        )
    return PostStratifiedRatio(
        **metric, stratum="stratum", covariates=covariates, **ratio_covariate, **options, name="m"
    )


def _table(dataset: str) -> Any:
    pd = pytest.importorskip("pandas")
    frames = []
    for arm in ("control", "treatment"):
        rows = _arm_rows(dataset, arm)
        frames.append(pd.DataFrame({"variant": arm, **rows}))
    return pd.concat(frames, ignore_index=True)


@pytest.mark.parametrize("engine", ["pandas", "duckdb"])
@pytest.mark.parametrize(("case", "method"), _cases(("delta-log",)))
def test_analyze_on_a_table_matches_r(case: dict[str, Any], method: str, engine: str) -> None:
    """End to end: the engine's query computes every moment (and cross-moment) needed."""
    table = _table(case["dataset"])
    if engine == "duckdb":
        duckdb = pytest.importorskip("duckdb")
        table = duckdb.from_df(table)
    result = ablens.analyze(
        table,
        [_metric(case)],
        control="control",
        alpha=1 - case["options"]["confidence_level"],
    )
    _check(result.comparison("m").result, case, method)
