"""power_plan_from_history's unit, arm and traffic options, and its date checks, on every engine.

One seeded table of visits: users come back on later days (several rows per user), each row
with its revenue, orders and sessions, a 0/1 conversion, the user's one pre-period revenue (the
same on every row of the user) and the arm of a past experiment (control has a third of the
users). Every expected number is computed here from the rows with pandas' own ``groupby``
(never with ablens): a user's first day is the earliest row's day, its revenue, orders and
sessions are summed, its conversion is the largest (converted on any visit). The plans on
pandas, polars, DuckDB (a relation and a ``(connection, table)``) must give those numbers; the
last test runs the arm, unit and multiplier options on every engine of ``tests/materialize.py``
(PostgreSQL and Spark too, under CI).
"""

from __future__ import annotations

import datetime as dt
import functools
import math
from typing import TYPE_CHECKING, Any

import duckdb
import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest

from ablens import DataError, InputError, Mean, Proportion, Ratio
from ablens.planning import PowerPlan, power_plan_from_history
from materialize import ALL_BACKENDS, Tables

if TYPE_CHECKING:
    from collections.abc import Iterator

START = dt.date(2024, 5, 6)
USERS = 3_000
DAYS = 21
RTOL = 1e-12


@functools.cache
def visits() -> pd.DataFrame:
    """Rows of visits: 1 to 4 per user, on the user's first day and later ones."""
    rng = np.random.default_rng(150)
    weights = np.exp(-np.arange(DAYS) / 9.0)
    first = rng.choice(DAYS, size=USERS, p=weights / weights.sum())
    repeats = rng.integers(1, 5, USERS)
    user = np.repeat(np.arange(USERS), repeats)
    later = rng.integers(0, 6, user.size)
    day = np.minimum(first[user] + np.where(np.arange(user.size) == 0, 0, later), DAYS - 1)
    # Every user keeps its first day on one of its rows (the first of its block).
    block_start = np.r_[0, np.cumsum(repeats)[:-1]]
    day[block_start] = first
    pre = rng.gamma(2.0, 10.0, USERS)
    sessions = 1 + rng.poisson(1.5, user.size)
    arm = np.where(rng.random(USERS) < 1 / 3, "control", "treatment")
    order = rng.permutation(user.size)  # rows in no particular order
    seconds = rng.integers(0, 86_400, user.size)
    frame = pd.DataFrame(
        {
            "user": user,
            "seen": pd.Timestamp(START) + pd.to_timedelta(day * 86_400 + seconds, unit="s"),
            "week": (day // 7).astype(np.int64),
            "revenue": np.maximum(0.0, 0.3 * pre[user] + rng.normal(0.0, 8.0, user.size)),
            "orders": rng.binomial(sessions, 0.15),
            "sessions": sessions,
            "converted": (rng.random(user.size) < 0.08).astype(np.int64),
            "pre_revenue": pre[user],
            "arm": arm[user],
        }
    )
    return frame.iloc[order].reset_index(drop=True)


def per_user(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per user, by pandas: first day, summed values, converted on any visit."""
    grouped = frame.assign(day=frame["seen"].dt.floor("D")).groupby("user")
    return pd.DataFrame(
        {
            "day": grouped["day"].min(),
            "revenue": grouped["revenue"].sum(),
            "orders": grouped["orders"].sum(),
            "sessions": grouped["sessions"].sum(),
            "converted": grouped["converted"].max(),
            "pre_revenue": grouped["pre_revenue"].first(),
        }
    )


def cumulative_units(users: pd.DataFrame) -> tuple[int, ...]:
    """Users first seen by the end of each day, from the first day to the last."""
    days = (users["day"] - users["day"].min()).dt.days.to_numpy()
    return tuple(np.cumsum(np.bincount(days)).tolist())


def on_engine(engine: str, frame: pd.DataFrame) -> Any:
    if engine == "pandas":
        return frame
    if engine == "polars":
        return pl.from_pandas(frame)
    connection = duckdb.connect()
    connection.register("visits_frame", frame)
    connection.execute("CREATE TABLE visits AS SELECT * FROM visits_frame")
    if engine == "duckdb-relation":
        return connection.table("visits")
    return (connection, "visits")


ENGINES = ["pandas", "polars", "duckdb-relation", "duckdb-table"]
METRICS = {
    "mean": Mean("revenue"),
    "cuped": Mean("revenue", covariates=("pre_revenue",)),
    "proportion": Proportion("converted"),
    "ratio": Ratio("orders", "sessions"),
}


def plan(engine: str, metric: str, **options: Any) -> PowerPlan:
    return power_plan_from_history(
        on_engine(engine, visits()),
        metric=METRICS[metric],
        date="seen",
        unit="user",
        **({"mde": 0.05} | options),
    )


def check_baseline(got: PowerPlan, metric: str, users: pd.DataFrame) -> None:
    """The plan's baseline, sd and reduction equal pandas' over the combined users."""
    if metric in {"mean", "cuped"}:
        y = users["revenue"].to_numpy()
        assert got.baseline == pytest.approx(y.mean(), rel=RTOL)
        assert got.sd == pytest.approx(y.std(ddof=1), rel=1e-11)
        if metric == "cuped":
            rho = np.corrcoef(y, users["pre_revenue"].to_numpy())[0, 1]
            assert got.variance_reduction == pytest.approx(rho**2, rel=1e-10)
    elif metric == "proportion":
        p = users["converted"].mean()
        assert 0 < p < 1
        assert got.baseline == pytest.approx(p, rel=RTOL)
        assert got.sd == pytest.approx(math.sqrt(p * (1 - p)), rel=RTOL)
    else:
        orders, sessions = users["orders"].to_numpy(float), users["sessions"].to_numpy(float)
        r = orders.sum() / sessions.sum()
        linear = (orders - r * sessions) / sessions.mean()
        assert got.baseline == pytest.approx(r, rel=RTOL)
        assert got.sd == pytest.approx(linear.std(ddof=1), rel=1e-10)


# ---------------------------------------------------------------------------- repeated units
@pytest.mark.parametrize("metric", list(METRICS))
@pytest.mark.parametrize("engine", ENGINES)
def test_repeated_units_count_once(engine: str, metric: str) -> None:
    rows = visits()
    users = per_user(rows)
    assert len(rows) > len(users)  # the table does repeat users
    got = plan(engine, metric)
    assert got.history is not None
    assert got.history.rows == len(rows)
    assert got.history.units == len(users) == USERS
    assert got.history.cumulative_units == cumulative_units(users)
    assert got.history.first_day == users["day"].min().date()
    check_baseline(got, metric, users)
    assert any(f"{len(rows):,} rows hold {USERS:,} units" in note for note in got.notes)


def test_without_unit_each_row_is_a_unit() -> None:
    rows = visits()
    got = power_plan_from_history(rows, metric=Mean("revenue"), date="seen", mde=0.05)
    assert got.history is not None
    assert got.history.units == got.history.rows == len(rows)
    assert got.baseline == pytest.approx(rows["revenue"].mean(), rel=RTOL)


@pytest.mark.parametrize("engine", ["pandas", "duckdb-table"])
def test_a_covariate_varying_within_a_unit_is_refused(engine: str) -> None:
    rows = visits().copy()
    rows.loc[rows.index[:5], "pre_revenue"] += 1.0  # no longer one value per user
    with pytest.raises(DataError, match="'pre_revenue' takes several values within"):
        power_plan_from_history(
            on_engine(engine, rows),
            metric=METRICS["cuped"],
            date="seen",
            unit="user",
            mde=0.05,
        )


@pytest.mark.parametrize("engine", ["pandas", "duckdb-table"])
def test_null_unit_ids_and_values_are_refused(engine: str) -> None:
    rows = visits().copy()
    rows["user"] = rows["user"].astype("float64")
    rows.loc[rows.index[0], "user"] = np.nan
    with pytest.raises(DataError, match="'user' has NULL unit ids"):
        power_plan_from_history(
            on_engine(engine, rows), metric=Mean("revenue"), date="seen", unit="user", mde=0.05
        )
    rows = visits().copy()
    rows.loc[rows.index[0], "revenue"] = np.nan
    with pytest.raises(DataError, match="'revenue' has NULL values"):
        power_plan_from_history(
            on_engine(engine, rows), metric=Mean("revenue"), date="seen", unit="user", mde=0.05
        )


# ---------------------------------------------------------------------------- one arm, x traffic
@pytest.mark.parametrize("metric", ["mean", "ratio"])
@pytest.mark.parametrize("engine", ENGINES)
def test_one_arm_of_a_past_experiment(engine: str, metric: str) -> None:
    rows = visits()
    control = per_user(rows[rows["arm"] == "control"])
    got = plan(engine, metric, variant="arm", arm="control")
    assert got.history is not None
    assert got.history.units == len(control)
    assert got.history.rows == int((rows["arm"] == "control").sum())
    assert got.history.cumulative_units == cumulative_units(control)
    assert (got.history.variant, got.history.arm) == ("arm", "control")
    check_baseline(got, metric, control)


@pytest.mark.parametrize("engine", ENGINES)
def test_traffic_multiplier_scales_the_units_not_the_baseline(engine: str) -> None:
    rows = visits()
    control = per_user(rows[rows["arm"] == "control"])
    cumulative = np.array(cumulative_units(control), dtype=float)
    once = plan(engine, "mean", variant="arm", arm="control", mde=0.15)
    three = plan(engine, "mean", variant="arm", arm="control", mde=0.15, traffic_multiplier=3)
    assert three.history is not None
    # The arm's moments, and its own units, are as read (polars may sum in another order).
    assert three.baseline == pytest.approx(once.baseline, rel=RTOL)
    assert three.sd == pytest.approx(once.sd, rel=RTOL)
    assert three.n_total == once.n_total
    assert three.history.cumulative_units == tuple(cumulative.astype(int).tolist())
    assert three.history.traffic_multiplier == 3
    # Units entering by each day: the arm's cumulated units times 3 (rounded down).
    by_day = {row.day: row.units for row in three.by_day}
    for day, units in by_day.items():
        if day <= cumulative.size:
            assert units == math.floor(3 * cumulative[day - 1] + 1e-9), day
    needed = int(np.nonzero(np.floor(3 * cumulative + 1e-9) >= three.n_total)[0][0]) + 1
    assert three.days == needed
    assert once.days is not None
    assert three.days < once.days
    assert any("multiplied by 3" in note for note in three.notes)


def test_traffic_multiplier_and_traffic_share_compose() -> None:
    rows = visits()
    cumulative = np.array(cumulative_units(per_user(rows)), dtype=float)
    got = plan("pandas", "mean", mde=0.1, traffic_multiplier=2, traffic=0.25)
    for row in got.by_day:
        if row.day <= cumulative.size:
            assert row.units == math.floor(0.5 * cumulative[row.day - 1] + 1e-9)


def test_extrapolation_note_gives_the_multiplied_rate() -> None:
    rows = visits()
    users = per_user(rows)
    daily = np.diff(np.r_[0, cumulative_units(users)])
    got = plan("pandas", "mean", mde=0.02, traffic_multiplier=2)
    assert got.days is not None
    assert got.days > DAYS
    assert any(
        f"extrapolated linearly at {2 * daily[-7:].mean():,.0f} new units a day" in note
        for note in got.notes
    )


# ---------------------------------------------------------------------------- the date column
@pytest.mark.parametrize("engine", ENGINES)
def test_an_integer_date_is_refused_with_the_fix(engine: str) -> None:
    with pytest.raises(DataError) as error:
        power_plan_from_history(
            on_engine(engine, visits()), metric=Mean("revenue"), date="week", mde=0.05
        )
    message = str(error.value)
    assert "column 'week' has type Int64, not a date or timestamp" in message
    assert "week number" in message
    assert "to_datetime" in message
    assert "integer_days=True" in message


@pytest.mark.parametrize("engine", ["pandas", "duckdb-table"])
def test_a_text_date_is_refused_with_the_fix(engine: str) -> None:
    rows = visits().assign(seen=visits()["seen"].dt.strftime("%Y-%m-%d"))
    with pytest.raises(DataError, match=r"has type String, must be a date or timestamp.*CAST"):
        power_plan_from_history(
            on_engine(engine, rows), metric=Mean("revenue"), date="seen", mde=0.05
        )


@pytest.mark.parametrize("engine", ["pandas", "duckdb-table"])
def test_no_date_column_suggests_planning_from_parameters(engine: str) -> None:
    rows = visits().drop(columns=["seen"])
    with pytest.raises(DataError) as error:
        power_plan_from_history(
            on_engine(engine, rows), metric=Mean("revenue"), date="seen", mde=0.05
        )
    message = str(error.value)
    assert "the history has no column 'seen' (it has no date or timestamp column)" in message
    assert "ablens.power_plan(baseline_rate=" in message
    assert "--daily-traffic" in message
    with pytest.raises(DataError, match=r"its date/timestamp columns are \['seen'\]"):
        power_plan_from_history(visits(), metric=Mean("revenue"), date="day", mde=0.05)


def test_no_date_given_suggests_planning_from_parameters() -> None:
    with pytest.raises(InputError, match=r"date is None: .*ablens.power_plan\(baseline_rate="):
        power_plan_from_history(visits(), metric=Mean("revenue"), mde=0.05)


# ---------------------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        ({"traffic_multiplier": 0.5}, InputError, r"traffic_multiplier == 0.5, must be >= 1"),
        ({"traffic_multiplier": 0}, InputError, r"traffic_multiplier == 0"),
        ({"variant": "arm"}, InputError, r"variant == 'arm' and arm == None: give both"),
        ({"arm": "control"}, InputError, r"give both"),
        ({"variant": "arm", "arm": "holdout"}, DataError, r"no rows of arm 'holdout'"),
        ({"variant": "group", "arm": "a"}, DataError, r"column 'group' is not in the data"),
        ({"variant": "user", "arm": "x"}, InputError, r"column 'user' holds integers"),
    ],
)
def test_bad_options_name_the_argument(options: dict[str, Any], error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        plan("pandas", "mean", **options)


def test_an_integer_arm_label_from_text() -> None:
    rows = visits().assign(arm=(visits()["arm"] == "control").astype(np.int64))
    got = power_plan_from_history(
        rows, metric=Mean("revenue"), date="seen", unit="user", variant="arm", arm="1", mde=0.1
    )
    assert got.history is not None
    assert got.history.units == len(per_user(rows[rows["arm"] == 1]))


@pytest.mark.parametrize("engine", ENGINES)
def test_a_boolean_conversion_is_converted_on_any_row(engine: str) -> None:
    rows = visits().assign(converted=visits()["converted"].astype(bool))
    users = per_user(visits())
    got = power_plan_from_history(
        on_engine(engine, rows), metric=Proportion("converted"), date="seen", unit="user", mde=0.1
    )
    p = users["converted"].mean()
    assert p > rows["converted"].mean()  # any of a user's visits: more than one visit's rate
    assert got.baseline == pytest.approx(p, rel=RTOL)
    assert got.sd == pytest.approx(math.sqrt(p * (1 - p)), rel=RTOL)


def test_the_summary_names_the_arm_and_the_multiplier() -> None:
    got = plan("pandas", "mean", variant="arm", arm="control", traffic_multiplier=3)
    assert "; arm 'control' of 'arm'; units x3 for the experiment's traffic" in str(got)
    document = got.to_dict()["history"]
    assert (document["variant"], document["arm"], document["traffic_multiplier"]) == (
        "arm",
        "control",
        3,
    )


# ---------------------------------------------------------------------------- every engine
@pytest.fixture(scope="module")
def tables(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tables]:
    with Tables(tmp_path_factory.mktemp("visits")) as made:
        yield made


@pytest.mark.parametrize("backend", ALL_BACKENDS)
def test_every_engine_counts_units_once_in_one_arm(
    backend: str, tables: Tables, request: pytest.FixtureRequest
) -> None:
    rows = visits()
    data = tables.make(backend, "visits", pa.Table.from_pandas(rows, preserve_index=False), request)
    control = per_user(rows[rows["arm"] == "control"])
    cumulative = np.array(cumulative_units(control), dtype=float)
    for metric, spec in METRICS.items():
        got = power_plan_from_history(
            data,
            metric=spec,
            date="seen",
            unit="user",
            variant="arm",
            arm="control",
            traffic_multiplier=3,
            mde=0.15,
        )
        assert got.history is not None
        assert got.history.cumulative_units == tuple(cumulative.astype(int).tolist()), metric
        assert got.history.rows == int((rows["arm"] == "control").sum())
        check_baseline(got, metric, control)
        needed = np.nonzero(np.floor(3 * cumulative + 1e-9) >= got.n_total)[0]
        if needed.size:
            assert got.days == int(needed[0]) + 1, metric
