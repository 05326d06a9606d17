"""power_plan_from_history gives pandas' numbers on every engine.

One seeded history of users (each on the day first seen, with fewer new users each day, a
revenue correlated with a pre-period covariate, an integer pair orders / sessions and a boolean
flag; the first-seen day as a timestamp, a date and an integer) is materialised on every engine
of ``tests/materialize.py``: pandas, polars (eager and lazy), pyarrow, DuckDB (relation,
``(connection, table)``, parquet and CSV paths), Ibis (memtable, a DuckDB table, a real
PostgreSQL table) and PySpark. On each, `ablens.power_plan_from_history` plans every metric kind the
planner takes (mean, proportion, ratio, each plain and covariate-adjusted, and a regression on two
covariates) and must give what it gives on pandas: the baseline mean, the per-unit standard
deviation (of the linearization for the ratio), the expected variance reduction (CUPED
``rho^2``, regression ``R^2``), the units first seen by each day, cumulated, and so the sizes and
days, to 1e-12 relative. pandas' own numbers are checked against numpy first.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pytest

from ablens import DataError, Mean
from ablens.planning import PowerPlan, power_plan_from_history
from materialize import ALL_BACKENDS, MOMENT_METRICS, Tables

if TYPE_CHECKING:
    from collections.abc import Iterator

    from numpy.typing import NDArray

USERS = 4_000
DAYS = 21
START = dt.date(2024, 3, 4)
RTOL = 1e-12

METRICS = MOMENT_METRICS
METRIC_IDS = [m.name for m in METRICS]
#: The first-seen day in three types, each with start / end bounds of its own type (the
#: timestamp bound falls inside a day: that day's earlier rows are left out).
DATES: dict[str, tuple[object, object]] = {
    "first_seen": (dt.datetime(2024, 3, 6, 12), dt.datetime(2024, 3, 21)),
    "seen_on": (dt.date(2024, 3, 6), dt.date(2024, 3, 21)),
    "day": (2, 17),
}


@functools.cache
def columns() -> dict[str, NDArray[Any]]:
    rng = np.random.default_rng(20240304)
    weights = np.exp(-np.arange(DAYS) / 8.0)
    day = rng.choice(DAYS, size=USERS, p=weights / weights.sum())
    seconds = rng.integers(0, 86_400, USERS)
    first_seen = np.datetime64(START, "s") + day * 86_400 + seconds
    pre = rng.gamma(2.0, 10.0, USERS)
    pre_sessions = rng.poisson(3.0, USERS)
    revenue = np.maximum(0.0, 0.6 * pre + 0.8 * pre_sessions + rng.normal(0.0, 12.0, USERS))
    sessions = 1 + rng.poisson(0.6 * pre_sessions + 0.5, USERS)
    orders = rng.binomial(sessions, 0.12)
    converted = rng.random(USERS) < 1.0 / (1.0 + np.exp(-(-2.5 + 0.05 * pre)))
    return {
        "user": rng.permutation(USERS).astype(np.int64),
        "first_seen": first_seen.astype("datetime64[us]"),
        "seen_on": (np.datetime64(START, "D") + day).astype("datetime64[D]"),
        "day": day.astype(np.int64),
        "revenue": revenue,
        "pre_revenue": pre,
        "pre_sessions": pre_sessions.astype(np.int64),
        "sessions": sessions.astype(np.int64),
        "orders": orders.astype(np.int64),
        "converted": converted,
    }


def history_plans(data: object, date: str) -> dict[str, PowerPlan]:
    """Every metric planned from the bounded history of ``data`` (with a relative MDE)."""
    start, end = DATES[date]
    return {
        metric.name: power_plan_from_history(
            data,
            metric=metric,
            date=date,
            integer_days=date == "day",
            unit="user",
            start=start,
            end=end,
            mde=0.04,
        )
        for metric in METRICS
    }


def pandas_frame() -> Any:
    """The table on pandas, dates as ``datetime64`` (pandas has no date type of its own)."""
    return pa.table(columns()).to_pandas(date_as_object=False)


@functools.cache
def pandas_plans(date: str) -> dict[str, PowerPlan]:
    return history_plans(pandas_frame(), date)


@pytest.fixture(scope="module")
def tables(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tables]:
    with Tables(tmp_path_factory.mktemp("history")) as made:
        yield made


def kept(date: str) -> NDArray[np.bool_]:
    """Which users the bounds of ``date`` keep (numpy's reading of the same bounds)."""
    data = columns()
    start, end = DATES[date]
    if date == "day":
        return (data["day"] >= start) & (data["day"] < end)
    if date == "seen_on":
        days = data["seen_on"]
        return (days >= np.datetime64(start, "D")) & (days < np.datetime64(end, "D"))
    stamps = data["first_seen"]
    return (stamps >= np.datetime64(start, "us")) & (stamps < np.datetime64(end, "us"))


# ---------------------------------------------------------------------------- pandas vs numpy
@pytest.mark.parametrize("date", list(DATES))
def test_pandas_history_equals_numpy(date: str) -> None:
    data = columns()
    keep = kept(date)
    plans = pandas_plans(date)
    # Units first seen by each day: the period runs from the start's day to the end's day - 1.
    first, last = 2, 16  # every period starts on day 2 and ends before day 17 (2024-03-21)
    daily = np.bincount(data["day"][keep] - first, minlength=last - first + 1)
    cumulative = tuple(np.cumsum(daily).tolist())
    y, x = data["revenue"][keep], data["pre_revenue"][keep]
    for name, p in plans.items():
        assert p.history is not None
        assert p.history.cumulative_units == cumulative, name
        assert p.history.days == last - first + 1
        assert p.history.recent_daily_units == pytest.approx(daily[-7:].mean(), rel=RTOL)
    mean = plans["revenue"]
    assert mean.baseline == pytest.approx(y.mean(), rel=RTOL)
    assert mean.sd == pytest.approx(y.std(ddof=1), rel=1e-11)
    cuped = plans["revenue (CUPED)"]
    assert cuped.variance_reduction == pytest.approx(np.corrcoef(x, y)[0, 1] ** 2, rel=1e-10)
    regression = plans["revenue (regression)"]
    design = np.column_stack([np.ones_like(y), x, data["pre_sessions"][keep]])
    residual = y - design @ np.linalg.lstsq(design, y, rcond=None)[0]
    assert regression.variance_reduction == pytest.approx(1.0 - residual.var() / y.var(), rel=1e-10)
    converted = data["converted"][keep].astype(float)
    assert plans["converted"].baseline == pytest.approx(converted.mean(), rel=RTOL)
    assert plans["converted"].sd == pytest.approx(
        math.sqrt(converted.mean() * (1.0 - converted.mean())), rel=RTOL
    )
    assert plans["converted (CUPED)"].variance_reduction == pytest.approx(
        np.corrcoef(converted, x)[0, 1] ** 2, rel=1e-10
    )
    orders = data["orders"][keep].astype(float)
    sessions = data["sessions"][keep].astype(float)
    ratio = orders.sum() / sessions.sum()
    linearized = (orders - ratio * sessions) / sessions.mean()
    assert plans["orders / sessions"].baseline == pytest.approx(ratio, rel=RTOL)
    assert plans["orders / sessions"].sd == pytest.approx(linearized.std(ddof=1), rel=1e-10)
    assert plans["orders / sessions (CUPED)"].variance_reduction == pytest.approx(
        np.corrcoef(linearized, data["pre_sessions"][keep])[0, 1] ** 2, rel=1e-9
    )


# ---------------------------------------------------------------------------- every engine
def assert_same_plan(got: PowerPlan, want: PowerPlan, label: str) -> None:
    assert got.history is not None
    assert want.history is not None
    for field in ("baseline", "sd", "variance_reduction", "effect", "relative_effect"):
        assert getattr(got, field) == pytest.approx(getattr(want, field), rel=RTOL, abs=1e-15), (
            f"{label}: {field}"
        )
    if want.history.correlation is None:
        assert got.history.correlation is None, label
    else:
        assert got.history.correlation == pytest.approx(want.history.correlation, rel=RTOL), label
    assert got.history.cumulative_units == want.history.cumulative_units, label
    assert got.history.units == want.history.units, label
    assert got.history.days == want.history.days, label
    assert got.history.first_day == want.history.first_day, label
    assert got.history.last_day == want.history.last_day, label
    assert got.history.recent_daily_units == pytest.approx(
        want.history.recent_daily_units, rel=RTOL
    ), label
    assert got.n_per_arm == want.n_per_arm, label
    assert got.days == want.days, label
    assert [d.units for d in got.by_day] == [d.units for d in want.by_day], label
    # Moments: count, means and the centred co-moments of every column the metric reads.
    moments_got, moments_want = got.history.moments, want.history.moments
    assert moments_got.count == moments_want.count, label
    assert moments_got.columns == moments_want.columns, label
    for a in moments_want.columns:
        assert moments_got.mean_of(a) == pytest.approx(moments_want.mean_of(a), rel=RTOL), label
        for b in moments_want.columns:
            assert moments_got.covariance(a, b) == pytest.approx(
                moments_want.covariance(a, b), rel=1e-11, abs=1e-12
            ), f"{label}: cov({a}, {b})"


@pytest.mark.parametrize("date", list(DATES))
@pytest.mark.parametrize("backend", ALL_BACKENDS)
def test_every_engine_plans_as_pandas(
    backend: str, date: str, tables: Tables, request: pytest.FixtureRequest
) -> None:
    data = tables.make(backend, "history", pa.table(columns()), request)
    if backend == "pandas" and date == "seen_on":
        # pyarrow hands pandas its dates as Python objects, which carry no type to plan on.
        with pytest.raises(DataError, match=r"type Object, .* convert it with pandas.to_datetime"):
            history_plans(data, date)
        data = pandas_frame()
    plans = history_plans(data, date)
    want = pandas_plans(date)
    assert list(plans) == METRIC_IDS
    for name, p in plans.items():
        assert_same_plan(p, want[name], f"{backend} / {date} / {name}")


@pytest.mark.parametrize("backend", ALL_BACKENDS)
def test_whole_history_without_bounds(
    backend: str, tables: Tables, request: pytest.FixtureRequest
) -> None:
    """No start or end: the period is the data's own first to last day."""
    data = tables.make(backend, "history", pa.table(columns()), request)
    got = power_plan_from_history(data, metric=Mean("revenue"), date="first_seen", mde=0.04)
    want = power_plan_from_history(
        pandas_frame(), metric=Mean("revenue"), date="first_seen", mde=0.04
    )
    assert_same_plan(got, want, backend)
    assert got.history is not None
    assert got.history.first_day == START
    assert got.history.last_day == START + dt.timedelta(days=DAYS - 1)
    assert got.history.units == USERS


def zoned_table() -> pa.Table:
    """The table with the first-seen time also as a UTC timestamp (an aware column)."""
    table = pa.table(columns())
    return table.append_column(
        "first_seen_utc", table["first_seen"].cast(pa.timestamp("us", tz="UTC"))
    )


@pytest.mark.parametrize("backend", ALL_BACKENDS)
def test_time_zones_of_the_bounds_and_the_column(
    backend: str, tables: Tables, request: pytest.FixtureRequest
) -> None:
    """Naive and aware bounds on naive and UTC columns all keep the same users.

    Before the bounds took the column's time zone, pandas, polars and pyarrow raised their own
    errors on a naive bound with an aware column (and the reverse), where the SQL engines
    compared them.
    """
    data = tables.make(backend, "zoned", zoned_table(), request)
    naive_start, naive_end = DATES["first_seen"]
    assert isinstance(naive_start, dt.datetime)
    assert isinstance(naive_end, dt.datetime)
    aware_start = naive_start.replace(tzinfo=dt.UTC)
    # The same instant as 2024-03-21 00:00 UTC, written in another zone.
    aware_end = naive_end.replace(tzinfo=dt.UTC).astimezone(dt.timezone(dt.timedelta(hours=-5)))
    want = pandas_plans("first_seen")["revenue"]
    whole_days = power_plan_from_history(
        pandas_frame(),
        metric=Mean("revenue"),
        date="first_seen",
        unit="user",
        start=naive_start.date(),
        end=naive_end.date(),
        mde=0.04,
    )
    for date, start, end, expected in (
        ("first_seen", aware_start, aware_end, want),
        ("first_seen_utc", naive_start, naive_end, want),
        ("first_seen_utc", aware_start, aware_end, want),
        ("first_seen_utc", naive_start.date(), naive_end.date(), whole_days),
    ):
        got = power_plan_from_history(
            data, metric=Mean("revenue"), date=date, unit="user", start=start, end=end, mde=0.04
        )
        assert_same_plan(got, expected, f"{backend} / {date} / {start!r}")
    # An end inside a day keeps that day's first hours (it once overflowed the day table).
    mid_end = dt.datetime(2024, 3, 20, 18)
    got = power_plan_from_history(
        data,
        metric=Mean("revenue"),
        date="first_seen",
        unit="user",
        start=naive_start,
        end=mid_end,
        mde=0.04,
    )
    stamps, days = columns()["first_seen"], columns()["day"]
    keep = (stamps >= np.datetime64(naive_start, "us")) & (stamps < np.datetime64(mid_end, "us"))
    assert got.history is not None
    assert got.history.last_day == mid_end.date()
    assert got.history.cumulative_units == tuple(
        np.cumsum(np.bincount(days[keep] - 2, minlength=15)).tolist()
    )
    # The whole-day start keeps all of day 2; the 12:00 start only its afternoon.
    assert whole_days.history is not None
    assert want.history is not None
    assert whole_days.history.cumulative_units[0] > want.history.cumulative_units[0]
