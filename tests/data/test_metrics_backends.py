"""Every metric kind gives the same numbers on every engine, and pandas gives the stats layer's.

One seeded per-user table (3,000 users in 3 arms of unequal sizes; a heavy-tailed revenue, an
integer pair orders / sessions, a boolean flag, two pre-period covariates, a 3-valued stratum and
a continuous latency) is materialised on every engine of ``tests/materialize.py``: pandas, polars
(eager and lazy), pyarrow, DuckDB (relation, ``(connection, table)``, parquet and CSV paths), Ibis
(memtable, a DuckDB table, a real PostgreSQL table) and PySpark. On each, ONE `ablens.analyze`
call runs every metric kind: Mean, Mean with CUPED, Mean with two covariates by regression,
Proportion (plain and CUPED), Ratio (plain and CUPED), Mean and Ratio with exact HC variances
(a common slope with HC2, regression with HC3: the rows' sandwich sums, one more grouped query),
PostStratified, Quantile (p50, p90) and MannWhitney (a continuous column, and an integer one full
of ties).

Two checks:

* pandas' analysis equals the statistics functions applied directly to numpy's moments
  (`Moments.from_columns`), quantile summaries (`quantile_summary_from_array`), rank summary
  (`rank_summary_from_arrays`) and sandwich sums (`SandwichDesign.shares`) of the same values,
  to 1e-12 relative;
* every other engine's analysis equals pandas', number by number (effects, intervals, p-values,
  lifts and their intervals, variance reductions), to 1e-12 relative (1e-12 absolute near 0).
"""

from __future__ import annotations

import functools
import math
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pytest

import ablens
from ablens import (
    MannWhitney,
    Mean,
    Moments,
    PostStratified,
    Quantile,
    Ratio,
    common_slope_test,
    cuped_test,
    hodges_lehmann,
    mann_whitney_test,
    mean_test,
    proportion_test,
    quantile_summary_from_array,
    quantile_test,
    rank_summary_from_arrays,
    ratio_test,
    regression_adjusted_test,
    sandwich_design,
)
from ablens.stats.stratified import post_stratified_test
from materialize import ALL_BACKENDS, MOMENT_METRICS, Tables

if TYPE_CHECKING:
    from collections.abc import Iterator

    from numpy.typing import NDArray

N = 3_000
CONTROL = "control"
ARMS = (CONTROL, "treat_a", "treat_b")
TREATMENTS = ARMS[1:]
PLATFORMS = ("android", "ios", "web")
RTOL = 1e-12
ATOL = 1e-12

#: Exact HC variances: one more grouped query (the rows' sandwich sums) in every engine.
HC_METRICS = (
    Mean(
        "revenue",
        name="revenue (common slope, HC2)",
        covariates=("pre_revenue", "pre_sessions"),
        adjustment="common-slope",
        vcov="HC2",
    ),
    Ratio(
        "orders",
        "sessions",
        name="orders / sessions (regression, HC3)",
        covariates=("pre_sessions",),
        adjustment="regression",
        vcov="HC3",
    ),
)
METRICS = (
    *MOMENT_METRICS,
    *HC_METRICS,
    PostStratified("revenue", "platform"),
    Quantile("latency", 0.5),
    Quantile("latency", 0.9),
    MannWhitney("latency"),
    MannWhitney("orders"),
)
# Three bugs found by this file were fixed in src: Quantile broke on tables with 3+ arms,
# compute_rank_summary warned on pandas and could not rank pyarrow tables.
BACKENDS = list(ALL_BACKENDS)

#: The numbers of a `TestResult` that must agree; NaN (no lift for Mann-Whitney) equals NaN.
FIELDS = (
    "control_estimate",
    "treatment_estimate",
    "effect",
    "effect_ci_lower",
    "effect_ci_upper",
    "standard_error",
    "relative_effect",
    "relative_ci_lower",
    "relative_ci_upper",
    "statistic",
    "p_value",
    "variance_reduction",
)


@functools.cache
def fixture_columns() -> dict[str, NDArray[np.generic]]:
    rng = np.random.default_rng(20261126)
    variant = rng.choice(np.array(ARMS), size=N, p=[0.4, 0.35, 0.25])
    platform = rng.choice(np.array(PLATFORMS), size=N, p=[0.3, 0.45, 0.25])
    a, b = variant == "treat_a", variant == "treat_b"
    # A latent propensity drives the pre-period and the outcomes, so the covariates correlate.
    propensity = rng.standard_normal(N)
    platform_level = np.select([platform == "ios", platform == "web"], [0.4, -0.3], 0.0)
    revenue = rng.lognormal(2.0 + 0.5 * propensity + platform_level, 1.2) * np.where(b, 1.3, 1.0)
    pre_revenue = rng.lognormal(2.0 + 0.5 * propensity + platform_level, 1.2)
    revenue = 0.5 * revenue + 0.5 * pre_revenue * np.where(b, 1.3, 1.0)
    pre_sessions = rng.poisson(np.exp(1.0 + 0.3 * propensity)).astype(np.int64)
    sessions = 1 + rng.poisson(0.7 * pre_sessions + np.where(a, 0.4, 0.0)).astype(np.int64)
    order_rate = 1.0 / (1.0 + np.exp(-(-1.5 + 0.5 * propensity + np.where(a, 0.25, 0.0))))
    orders = rng.binomial(sessions, order_rate).astype(np.int64)
    converted = rng.random(N) < 1.0 / (1.0 + np.exp(-(-1.0 + 0.8 * propensity + 0.3 * b)))
    latency = rng.gamma(2.0, np.where(a, 40.0, 50.0)) + rng.random(N)
    return {
        "user_id": rng.permutation(np.arange(1, N + 1, dtype=np.int64)),
        "variant": variant,
        "platform": platform,
        "revenue": revenue,
        "orders": orders,
        "sessions": sessions,
        "converted": converted,
        "pre_revenue": pre_revenue,
        "pre_sessions": pre_sessions,
        "latency": latency,
    }


def fixture_table() -> pa.Table:
    return pa.table(fixture_columns())


def values(arm: str, column: str, platform: str | None = None) -> NDArray[np.float64]:
    data = fixture_columns()
    mask = data["variant"] == arm
    if platform is not None:
        mask &= data["platform"] == platform
    return data[column][mask].astype(np.float64)


@functools.cache
def moments(arm: str, platform: str | None = None) -> Moments:
    """numpy's moments (corrected two-pass) of every numeric column of one arm (and stratum)."""
    columns = ("revenue", "orders", "sessions", "converted", "pre_revenue", "pre_sessions")
    return Moments.from_columns({c: values(arm, c, platform) for c in columns})


def direct(metric: str, treatment: str) -> dict[str, float | None]:
    """The comparison from the statistics functions on numpy's summaries, as `FIELDS`."""
    c, t = moments(CONTROL), moments(treatment)
    if metric == "revenue":
        args = [(m.count, m.mean_of("revenue"), m.variance("revenue")) for m in (c, t)]
        result = mean_test(*args[0], *args[1])
    elif metric == "revenue (CUPED)":
        result = cuped_test(c, t, "pre_revenue", column="revenue")
    elif metric == "revenue (regression)":
        result = regression_adjusted_test(c, t, ["pre_revenue", "pre_sessions"], column="revenue")
    elif metric in {m.name for m in HC_METRICS}:
        spec = next(m for m in HC_METRICS if m.name == metric)
        outcome = (
            {"column": "revenue"}
            if metric.startswith("revenue")
            else {"numerator": "orders", "denominator": "sessions"}
        )
        design = sandwich_design(c, t, spec.covariates, adjustment=spec.adjustment, **outcome)
        rows = [
            {column: values(arm, column) for column in design.columns()}
            for arm in (CONTROL, treatment)
        ]
        shares = design.shares(rows[0], rows[1], spec.vcov)
        function = (
            regression_adjusted_test if spec.adjustment == "regression" else common_slope_test
        )
        result = function(c, t, spec.covariates, vcov=spec.vcov, hc_shares=shares, **outcome)
    elif metric == "converted":
        successes = [int(values(arm, "converted").sum()) for arm in (CONTROL, treatment)]
        result = proportion_test(successes[0], c.count, successes[1], t.count)
    elif metric == "converted (CUPED)":
        result = cuped_test(c, t, "pre_revenue", column="converted")
    elif metric == "orders / sessions":
        result = ratio_test(c, t, "orders", "sessions")
    elif metric == "orders / sessions (CUPED)":
        result = cuped_test(c, t, "pre_sessions", numerator="orders", denominator="sessions")
    elif metric == "revenue | platform":
        strata = [{p: moments(arm, p) for p in PLATFORMS} for arm in (CONTROL, treatment)]
        result = post_stratified_test(strata[0], strata[1], "revenue")
    elif metric in {"latency p50", "latency p90"}:
        probability = 0.5 if metric == "latency p50" else 0.9
        summaries = [
            quantile_summary_from_array(values(arm, "latency"), probability)
            for arm in (CONTROL, treatment)
        ]
        result = quantile_test(summaries[0], summaries[1])
    else:
        column = {"latency (rank)": "latency", "orders (rank)": "orders"}[metric]
        control_values, treatment_values = values(CONTROL, column), values(treatment, column)
        test = mann_whitney_test(rank_summary_from_arrays(control_values, treatment_values))
        shift = hodges_lehmann(control_values, treatment_values)
        nan = math.nan
        return {
            "control_estimate": 0.5,
            "treatment_estimate": test.probability_of_superiority,
            "effect": shift.estimate,
            "effect_ci_lower": shift.ci_lower,
            "effect_ci_upper": shift.ci_upper,
            "standard_error": nan,
            "relative_effect": nan,
            "relative_ci_lower": nan,
            "relative_ci_upper": nan,
            "statistic": test.z,
            "p_value": test.p_value,
            "variance_reduction": None,
        }
    return {name: getattr(result, name) for name in FIELDS}


def numbers(comparison: ablens.Comparison) -> dict[str, float | None]:
    return {name: getattr(comparison.result, name) for name in FIELDS}


def assert_same_numbers(got: dict[str, Any], want: dict[str, Any], where: object) -> None:
    for name in FIELDS:
        g, w = got[name], want[name]
        if w is None:
            assert g is None, (where, name, g)
            continue
        assert g == pytest.approx(w, rel=RTOL, abs=ATOL, nan_ok=True), (where, name, g, w)


@pytest.fixture(scope="module")
def tables(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tables]:
    with Tables(tmp_path_factory.mktemp("metrics")) as made:
        yield made


def analyze_on(backend: str, tables: Tables, request: pytest.FixtureRequest) -> Any:
    data = tables.make(backend, "metrics", fixture_table(), request)
    return ablens.analyze(data, list(METRICS), control=CONTROL, arms=ARMS)


@functools.cache
def pandas_result() -> ablens.AnalysisResult:
    return ablens.analyze(fixture_table().to_pandas(), list(METRICS), control=CONTROL, arms=ARMS)


def test_fixture_is_what_the_metrics_need() -> None:
    data = fixture_columns()
    sizes = [int((data["variant"] == arm).sum()) for arm in ARMS]
    assert len(set(sizes)) == 3  # unequal arms: each has its own quantile brackets
    assert data["revenue"].max() > 30 * np.median(data["revenue"])  # heavy tail
    assert np.corrcoef(data["revenue"], data["pre_revenue"])[0, 1] > 0.5
    assert data["sessions"].min() >= 1
    assert np.unique(data["orders"]).size < 20  # ties for the rank test
    assert data["converted"].dtype == np.bool_
    assert {(a, p) for a, p in zip(data["variant"], data["platform"], strict=True)} == {
        (a, p) for a in ARMS for p in PLATFORMS
    }


def test_pandas_equals_the_statistics_functions() -> None:
    result = pandas_result()
    assert result.arms == ARMS
    assert len(result.comparisons) == len(METRICS) * len(TREATMENTS)
    assert [c.metric for c in result.comparisons[:: len(TREATMENTS)]] == [m.name for m in METRICS]
    for comparison in result.comparisons:
        where = (comparison.metric, comparison.treatment)
        assert_same_numbers(numbers(comparison), direct(*where), where)
    # Real effects, so the agreement is not of numbers all near a null; adjustment does reduce.
    by = {(c.metric, c.treatment): c.result for c in result.comparisons}
    assert by["revenue", "treat_b"].p_value < 0.01
    assert by["orders / sessions", "treat_a"].p_value < 0.01
    assert by["latency p50", "treat_a"].p_value < 0.01
    assert by["latency (rank)", "treat_a"].p_value < 0.01
    for name, least in (
        ("revenue (CUPED)", 0.3),
        ("revenue (regression)", 0.3),
        ("orders / sessions (CUPED)", 0.01),
        ("revenue | platform", 0.01),
    ):
        reduction = by[name, "treat_a"].variance_reduction
        assert reduction is not None
        assert reduction > least, name


@pytest.mark.parametrize("backend", BACKENDS)
def test_every_metric_equals_pandas_on_every_backend(
    backend: str, tables: Tables, request: pytest.FixtureRequest
) -> None:
    got = analyze_on(backend, tables, request)
    want = pandas_result()
    assert got.arms == want.arms
    assert got.counts == want.counts
    assert got.srm.p_value == pytest.approx(want.srm.p_value, rel=RTOL)
    assert len(got.comparisons) == len(want.comparisons)
    for g, w in zip(got.comparisons, want.comparisons, strict=True):
        where = (backend, g.metric, g.treatment)
        assert (g.metric, g.treatment, g.kind) == (w.metric, w.treatment, w.kind), where
        assert g.result.test == w.result.test, where
        assert g.result.notes == w.result.notes, where
        assert_same_numbers(numbers(g), numbers(w), where)
