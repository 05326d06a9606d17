"""`compute_moments` and `analyze` give the same numbers on every engine, to rounding.

One seeded table (3 arms, 2 segments, 5,000 users; a heavy-tailed float, an integer count, a
boolean flag, a covariate correlated with the float and a ``1e9 + noise`` column) is materialised
on pandas, polars (eager and lazy), pyarrow, DuckDB (relation, ``(connection, table)``, parquet and
CSV paths), Ibis (memtable, a DuckDB table, a real PostgreSQL table) and PySpark. Each engine's
moments must equal those of numpy on the same float64 values (exact integer arithmetic for means
and variances), and `analyze` must give the same p-values. Then the NIST StRD sets NumAcc1-4 and
Michelso, and ``1e9 + N(0, 1e-3)`` data, check that the shifted sums keep every digit inside the
engines, where a plain ``sum(x * x)`` would lose them all.
"""

from __future__ import annotations

import functools
import math
from fractions import Fraction
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pytest

import ablens
from ablens import InputError, Mean, Moments, Proportion, compute_moments
from materialize import ALL_BACKENDS, Tables
from nist import exact_mean_and_comoment, exact_variance, load_nist, nist_directory, rel_err

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from numpy.typing import NDArray

EPS = float(np.finfo(np.float64).eps)
N = 5_000
ARMS = ("control", "treat_a", "treat_b")
PLATFORMS = ("ios", "web")
COLUMNS = ("revenue", "orders", "clicked", "pre_revenue", "big")
PAIRS = (("revenue", "pre_revenue"), ("orders", "revenue"), ("clicked", "big"))
METRICS = (
    Mean("revenue"),
    Mean("orders"),
    Proportion("clicked"),
    Mean("big", name="big offset"),
)
RTOL = 1e-12
BIG_MEAN_RTOL = 1e-15


@functools.cache
def fixture_columns() -> dict[str, NDArray[np.generic]]:
    rng = np.random.default_rng(20260611)
    variant = rng.choice(np.array(ARMS), size=N, p=[0.4, 0.3, 0.3])
    platform = rng.choice(np.array(PLATFORMS), size=N, p=[0.45, 0.55])
    # Heavy tail: lognormal with sigma 1.5 (a few values 100x the median); treat_b lifts 15%.
    revenue = rng.lognormal(2.0, 1.5, N) * np.where(variant == "treat_b", 1.15, 1.0)
    orders = rng.poisson(np.where(variant == "treat_a", 2.2, 2.0)).astype(np.int64)
    clicked = rng.random(N) < np.where(variant == "treat_a", 0.33, 0.30)
    pre_revenue = 0.6 * revenue + rng.normal(0.0, 10.0, N)
    big = 1e9 + rng.normal(0.0, 1e-3, N)
    return {
        "user_id": rng.permutation(np.arange(1, N + 1, dtype=np.int64)),
        "variant": variant,
        "platform": platform,
        "revenue": revenue,
        "orders": orders,
        "clicked": clicked,
        "pre_revenue": pre_revenue,
        "big": big,
    }


def fixture_table() -> pa.Table:
    return pa.table(fixture_columns())


def group_mask(arm: str, platform: str | None = None) -> NDArray[np.bool_]:
    data = fixture_columns()
    mask = data["variant"] == arm
    if platform is not None:
        mask &= data["platform"] == platform
    return mask


@functools.cache
def reference(arm: str, platform: str | None = None) -> Moments:
    """numpy's moments (corrected two-pass) of the group's float64 values."""
    mask = group_mask(arm, platform)
    return Moments.from_columns({c: fixture_columns()[c][mask].astype(float) for c in COLUMNS})


@functools.cache
def exact(arm: str, platform: str | None, column: str) -> tuple[Fraction, Fraction]:
    """Exact mean and variance of one column of one group, in integer arithmetic."""
    values = fixture_columns()[column][group_mask(arm, platform)].astype(float)
    mean, _ = exact_mean_and_comoment(values)
    return mean, exact_variance(values)


def assert_matches_reference(got: Moments, arm: str, platform: str | None = None) -> None:
    want = reference(arm, platform)
    where = f"arm {arm}, platform {platform}"
    assert got.count == want.count == int(group_mask(arm, platform).sum()), where
    assert got.columns == COLUMNS, where
    for i, column in enumerate(COLUMNS):
        exact_mean, exact_var = exact(arm, platform, column)
        mean_rtol = BIG_MEAN_RTOL if column == "big" else RTOL
        assert rel_err(got.mean_of(column), exact_mean) <= mean_rtol, (where, column)
        # The two-float mean (high + low part) is exact to a tiny fraction of the spread, also
        # for "big", where one float64 (ulp 1.2e-7) holds only ~4 digits of the 1e-3 noise.
        two_float = Fraction(float(got.mean[i])) + Fraction(float(got.mean_low[i]))
        assert abs(two_float - exact_mean) <= RTOL * math.sqrt(exact_var), (where, column)
        assert rel_err(got.variance(column), exact_var) <= RTOL, (where, column)
    for a, b in PAIRS:
        # Relative to the scale of the two columns: a covariance near zero has no relative digits.
        scale = math.sqrt(want.variance(a) * want.variance(b))
        assert abs(got.covariance(a, b) - want.covariance(a, b)) <= RTOL * scale, (where, a, b)
    # The correlated pair is far from zero: there, plain relative error.
    assert got.covariance("revenue", "pre_revenue") == pytest.approx(
        want.covariance("revenue", "pre_revenue"), rel=RTOL
    )
    # Only the requested cross-moments are computed.
    with pytest.raises(InputError, match=r"cross-moment of 'orders' and 'big'"):
        got.covariance("orders", "big")


@pytest.fixture(scope="module")
def tables(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tables]:
    with Tables(tmp_path_factory.mktemp("backends")) as made:
        yield made


def test_reference_is_numpy_and_exact() -> None:
    # The reference itself: numpy's two-pass moments agree with exact arithmetic and numpy.var.
    data = fixture_columns()
    for arm in ARMS:
        want = reference(arm)
        mask = group_mask(arm)
        for column in COLUMNS:
            values = data[column][mask].astype(float)
            assert rel_err(want.variance(column), exact(arm, None, column)[1]) <= 1e-14
            assert want.variance(column) == pytest.approx(np.var(values, ddof=1), rel=1e-12)
        assert want.covariance("revenue", "pre_revenue") == pytest.approx(
            np.cov(data["revenue"][mask], data["pre_revenue"][mask])[0, 1], rel=1e-12
        )
    # The fixture really is heavy-tailed, correlated and has all arms in all segments.
    revenue = data["revenue"]
    assert revenue.max() > 50 * np.median(revenue)
    assert np.corrcoef(revenue, data["pre_revenue"])[0, 1] > 0.5
    assert {(a, p) for a, p in zip(data["variant"], data["platform"], strict=True)} == {
        (a, p) for a in ARMS for p in PLATFORMS
    }


@pytest.mark.parametrize("backend", ALL_BACKENDS)
def test_moments_equal_numpy_on_every_backend(
    backend: str, tables: Tables, request: pytest.FixtureRequest
) -> None:
    data = tables.make(backend, "fixture", fixture_table(), request)
    result = compute_moments(
        data, variant="variant", columns=COLUMNS, pairs=PAIRS, segments=["platform"], arms=ARMS
    )
    assert sorted(result.overall) == list(ARMS)
    for arm in ARMS:
        assert_matches_reference(result.overall[arm], arm)
    assert result.segment_columns == ("platform",)
    assert sorted(result.segments) == [(p,) for p in PLATFORMS]
    for platform in PLATFORMS:
        assert sorted(result.segments[platform,]) == list(ARMS)
        for arm in ARMS:
            assert_matches_reference(result.segments[platform,][arm], arm, platform)
    report = result.report
    assert report.rows == N
    assert report.null_variant == 0
    assert dict(report.arm_rows) == {a: int(group_mask(a).sum()) for a in ARMS}
    assert report.warnings == ()


# Spark's unit checks run in test_cost_attribution.py (Spark jobs are slow to start).
@pytest.mark.parametrize("backend", [b for b in ALL_BACKENDS if b != "spark"])
def test_unit_checks_run_on_every_backend(
    backend: str, tables: Tables, request: pytest.FixtureRequest
) -> None:
    data = tables.make(backend, "fixture", fixture_table(), request)
    result = compute_moments(data, variant="variant", columns=["orders"], unit="user_id", arms=ARMS)
    report = result.report
    assert (report.rows, report.null_variant, report.null_unit) == (N, 0, 0)
    assert (report.repeated_units, report.units_in_several_arms) == (0, 0)
    for arm in ARMS:
        assert result.overall[arm].count == int(group_mask(arm).sum())
        assert result.overall[arm].sum_of("orders") == pytest.approx(
            float(fixture_columns()["orders"][group_mask(arm)].sum()), rel=RTOL
        )


def reference_analysis() -> ablens.AnalysisResult:
    return ablens.analyze({arm: reference(arm) for arm in ARMS}, list(METRICS), control="control")


def assert_same_analysis(got: ablens.AnalysisResult, want: ablens.AnalysisResult) -> None:
    assert got.arms == want.arms
    assert got.counts == want.counts
    assert len(got.comparisons) == len(want.comparisons) == len(METRICS) * 2
    for g, w in zip(got.comparisons, want.comparisons, strict=True):
        assert (g.metric, g.treatment) == (w.metric, w.treatment)
        assert g.result.standard_error == pytest.approx(w.result.standard_error, rel=RTOL)
        assert g.result.p_value == pytest.approx(w.result.p_value, rel=RTOL), g.metric
        assert g.result.effect == pytest.approx(w.result.effect, rel=RTOL), g.metric
        assert g.result.effect_ci == pytest.approx(w.result.effect_ci, rel=RTOL), g.metric
    assert got.srm.p_value == pytest.approx(want.srm.p_value, rel=RTOL)


@pytest.mark.parametrize("backend", ALL_BACKENDS)
def test_analyze_gives_the_same_pvalues_on_every_backend(
    backend: str, tables: Tables, request: pytest.FixtureRequest
) -> None:
    data = tables.make(backend, "fixture", fixture_table(), request)
    result = ablens.analyze(
        data,
        list(METRICS),
        control="control",
        variant="variant",
        segments=["platform"],
        arms=ARMS,
        experiment_id="backend-test",
    )
    want = reference_analysis()
    assert_same_analysis(result, want)
    # The fixture has real effects, so the comparison is not of p-values all near 1.
    p_values = {(c.metric, c.treatment): c.result.p_value for c in result.comparisons}
    assert p_values["orders", "treat_a"] < 0.01
    assert result.data_report is not None
    assert result.data_report.rows == N
    assert sorted(result.segments) == [f"platform={p}" for p in PLATFORMS]
    for platform in PLATFORMS:
        segment_want = ablens.analyze(
            {arm: reference(arm, platform) for arm in ARMS}, list(METRICS), control="control"
        )
        assert_same_analysis(result.segments[f"platform={platform}"], segment_want)


def test_mean_effect_keeps_the_low_part_of_big_means() -> None:
    data = fixture_columns()
    control, treatment = (data["big"][data["variant"] == arm] for arm in ("control", "treat_a"))
    exact_effect = exact_mean_and_comoment(treatment)[0] - exact_mean_and_comoment(control)[0]
    moments = {
        "control": Moments.from_columns({"big": control}),
        "treat_a": Moments.from_columns({"big": treatment}),
    }
    # The moments do hold the means to far better than the effect needs ...
    for m, values in ((moments["control"], control), (moments["treat_a"], treatment)):
        two_float = Fraction(float(m.mean[0])) + Fraction(float(m.mean_low[0]))
        assert abs(two_float - exact_mean_and_comoment(values)[0]) < 1e-15
    # ... and the comparison keeps the low parts (a float-mean subtraction was ~1e-2 off here).
    effect = ablens.analyze(moments, [Mean("big")], control="control").comparison("big")
    assert rel_err(effect.result.effect, exact_effect) <= 1e-9


# ---------------------------------------------------------------------------- NIST StRD
NIST_BACKENDS = ("pandas", "polars", "duckdb-table", "postgres", "spark")
NIST_NAMES = ("NumAcc1", "NumAcc2", "NumAcc3", "NumAcc4", "Michelso")
# NumAcc4's certified 0.1 is beyond its float64 values (see tests/stats/test_moments.py): there
# the engines are held to the exact variance of the stored values instead.
BEYOND_FLOAT64 = {"NumAcc4"}


@pytest.fixture(scope="module")
def nist_dir(reference_data_dir: Path) -> Path:
    return nist_directory(reference_data_dir, NIST_NAMES)


def nist_table(values: NDArray[np.float64]) -> pa.Table:
    """All values in arm "nist", plus a two-row dummy arm so the table is a real experiment."""
    dummy = values[:2]
    return pa.table(
        {
            "variant": ["nist"] * len(values) + ["dummy"] * len(dummy),
            "y": np.concatenate([values, dummy]),
        }
    )


@pytest.mark.parametrize("backend", NIST_BACKENDS)
@pytest.mark.parametrize("name", NIST_NAMES)
def test_nist_certified_variance_in_the_engine(
    nist_dir: Path, name: str, backend: str, tables: Tables, request: pytest.FixtureRequest
) -> None:
    data = load_nist(nist_dir, name)
    table = tables.make(backend, f"nist_{name.lower()}", nist_table(data.values), request)
    moments = compute_moments(table, variant="variant", columns=["y"]).overall["nist"]
    assert moments.count == len(data.values)
    exact_mean, _ = exact_mean_and_comoment(data.values)
    exact_var = exact_variance(data.values)
    assert rel_err(moments.mean_of("y"), exact_mean) <= 4 * EPS
    assert rel_err(moments.mean_of("y"), data.certified_mean) <= 1e-13
    if name in BEYOND_FLOAT64:
        assert rel_err(moments.variance("y"), exact_var) <= 1e-9
        assert rel_err(moments.variance("y"), data.certified_std**2) <= 2e-8
    else:
        assert rel_err(moments.variance("y"), data.certified_std**2) <= 1e-9
    # Against the exact variance of the stored values the engines do much better still.
    assert rel_err(moments.variance("y"), exact_var) <= 1e-12


# ---------------------------------------------------------------------------- 1e9 + noise
BIG_OFFSET_ROWS = {
    "duckdb-table": 100_000,
    "polars": 100_000,
    "pandas": 100_000,
    "postgres": 20_000,
    "spark": 20_000,
}


@functools.cache
def big_offset(n: int) -> NDArray[np.float64]:
    rng = np.random.default_rng(20240611)
    return 1e9 + rng.normal(0.0, 1e-3, n)


@pytest.mark.parametrize("backend", list(BIG_OFFSET_ROWS))
def test_big_offset_variance_in_the_engine(
    backend: str, tables: Tables, request: pytest.FixtureRequest
) -> None:
    n = BIG_OFFSET_ROWS[backend]
    x = big_offset(n)
    arms = np.where(np.arange(n) % 2 == 0, "a", "b")
    table = tables.make(backend, f"big_{n}", pa.table({"variant": arms, "x": x}), request)
    result = compute_moments(table, variant="variant", columns=["x"])
    naive_failed = False
    for arm in ("a", "b"):
        values = x[arms == arm]
        got = result.overall[arm]
        exact_mean, _ = exact_mean_and_comoment(values)
        assert got.count == n // 2
        assert rel_err(got.mean_of("x"), exact_mean) <= 4 * EPS
        assert rel_err(got.variance("x"), exact_variance(values)) <= 1e-9
        # The textbook formula on the same values is far off: the test can tell.
        naive = (np.sum(values * values) - len(values) * np.mean(values) ** 2) / (len(values) - 1)
        naive_failed |= rel_err(float(naive), exact_variance(values)) > 1e-3
    assert naive_failed
