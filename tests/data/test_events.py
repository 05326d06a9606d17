"""`aggregate_events`: raw events to one row per unit, in the events' own engine.

Each aggregation, the first exposure and both kinds of analysis window are checked against a
pure-Python reference on pandas, polars, DuckDB, PostgreSQL (Ibis) and Spark; then the per-unit
table goes through `ablens.analyze` end to end, in the same engine.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import narwhals as nw
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

import ablens
from ablens import InputError, Mean, Moments, Proportion, aggregate_events
from materialize import Tables

if TYPE_CHECKING:
    from collections.abc import Iterator

BACKENDS = ("pandas", "polars", "duckdb-relation", "postgres", "spark")
UNITS = 40
DAY0 = datetime(2024, 3, 1)
# Every aggregation; "amount" has NULLs (which count and count_distinct must skip).
METRICS: dict[str, tuple[Any, str]] = {
    "revenue": ("sum", "amount"),
    "payments": ("count", "amount"),
    "products": ("count_distinct", "product"),
    "amounts": ("count_distinct", "amount"),
    "biggest": ("max", "amount"),
    "smallest": ("min", "amount"),
    "clicked_any": ("any", "clicked"),
    "bought_any": ("any", "amount"),
    "basket": ("mean", "amount"),
    "last_item": ("max", "product"),
}
WINDOWS: dict[str, dict[str, Any]] = {
    "all": {},
    "absolute": {"start": DAY0 + timedelta(days=2), "end": DAY0 + timedelta(days=9)},
    "after-exposure": {"window_after_exposure": timedelta(days=3)},
    "all-three": {
        "start": DAY0 + timedelta(days=1),
        "end": DAY0 + timedelta(days=10),
        "window_after_exposure": timedelta(days=4),
    },
}


def events_columns() -> dict[str, list[Any]]:
    """~200 events of 40 users in arms a/b over two weeks; some payments NULL (no purchase)."""
    rng = np.random.default_rng(31)
    columns: dict[str, list[Any]] = {
        key: [] for key in ("user", "arm", "ts", "amount", "product", "clicked")
    }
    for user in range(1, UNITS + 1):
        arm = "a" if user % 2 else "b"
        start = DAY0 + timedelta(hours=int(rng.integers(0, 5 * 24)))
        for k in range(int(rng.integers(1, 9))):
            columns["user"].append(user)
            columns["arm"].append(arm)
            later = timedelta(minutes=int(rng.integers(1, 10 * 24 * 60)))
            columns["ts"].append(start if k == 0 else start + later)
            # The first event always pays; later ones 60% of the time, a fifth of those 0.
            amount = round(float(rng.lognormal(2.5, 1.0)), 2)
            if k > 0:
                draw = rng.random()
                amount = None if draw < 0.4 else 0.0 if draw < 0.52 else amount
            columns["amount"].append(amount)
            columns["product"].append(int(rng.integers(1, 6)))
            columns["clicked"].append(bool(rng.random() < 0.25 * (1.5 if arm == "b" else 1.0)))
    return columns


EVENTS_SCHEMA = pa.schema(
    [
        ("user", pa.int64()),
        ("arm", pa.string()),
        ("ts", pa.timestamp("us")),
        ("amount", pa.float64()),
        ("product", pa.int64()),
        ("clicked", pa.bool_()),
    ]
)


def events_table() -> pa.Table:
    return pa.table(events_columns(), schema=EVENTS_SCHEMA)


def reference(window: dict[str, Any], metrics: dict[str, tuple[Any, str]]) -> dict[int, dict]:
    """Per-unit rows computed in plain Python, following the docstring of aggregate_events."""
    columns = events_columns()
    events = [dict(zip(columns, row, strict=True)) for row in zip(*columns.values(), strict=True)]
    if "start" in window:
        events = [e for e in events if e["ts"] >= window["start"]]
    if "end" in window:
        events = [e for e in events if e["ts"] < window["end"]]
    if "window_after_exposure" in window:
        first: dict[int, datetime] = {}
        for e in events:
            first[e["user"]] = min(first.get(e["user"], e["ts"]), e["ts"])
        limit = window["window_after_exposure"]
        events = [e for e in events if e["ts"] < first[e["user"]] + limit]
    by_user: dict[int, list[dict]] = {}
    for e in events:
        by_user.setdefault(e["user"], []).append(e)
    result = {}
    for user, rows in by_user.items():
        out: dict[str, Any] = {"user": user, "arm": rows[0]["arm"]}
        for name, (kind, column) in metrics.items():
            values = [r[column] for r in rows if r[column] is not None]
            out[name] = {
                "sum": math.fsum,  # 0.0 for no values, as narwhals (polars) on every engine
                "count": len,
                "count_distinct": lambda v: len(set(v)),
                "max": lambda v: max(v) if v else None,
                "min": lambda v: min(v) if v else None,
                "any": lambda v: int(any(x != 0 for x in v)),
                "mean": lambda v: math.fsum(v) / len(v) if v else None,
            }[kind](values)
        out["first_exposure"] = min(r["ts"] for r in rows)
        result[user] = out
    return result


@pytest.fixture(scope="module")
def tables(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tables]:
    with Tables(tmp_path_factory.mktemp("events")) as made:
        yield made


def events_on(backend: str, tables: Tables, request: pytest.FixtureRequest) -> object:
    return tables.make(backend, "events", events_table(), request)


def collect_rows(native: object) -> dict[int, dict[str, Any]]:
    frame = nw.from_native(native)
    if isinstance(frame, nw.LazyFrame):
        frame = frame.collect()
    return {int(row["user"]): row for row in frame.rows(named=True)}


def as_datetime(value: object) -> datetime:
    """A naive datetime; Spark hands back its (session-zone, UTC) timestamps as aware UTC."""
    stamp = pd.Timestamp(value)
    if stamp.tzinfo is not None:
        assert stamp.utcoffset() == timedelta(0), value
        stamp = stamp.tz_localize(None)
    return stamp.to_pydatetime()


def assert_rows_equal(got: dict[int, dict], want: dict[int, dict], names: list[str]) -> None:
    assert sorted(got) == sorted(want)
    for user, expected in want.items():
        row = got[user]
        assert row["arm"] == expected["arm"], user
        assert as_datetime(row["first_exposure"]) == expected["first_exposure"], user
        for name in names:
            value, wanted = row[name], expected[name]
            if wanted is None:
                assert value is None or (isinstance(value, float) and math.isnan(value)), name
            elif isinstance(wanted, int):
                assert value == wanted, (user, name, value, wanted)
                assert float(value).is_integer()
            else:
                assert value == pytest.approx(wanted, rel=1e-12), (user, name)


def test_reference_covers_every_case() -> None:
    # The fixture exercises what the aggregations must handle: NULL payments, zero payments,
    # users with one event, users the windows drop, units without a click.
    want = reference({}, METRICS)
    assert len(want) == UNITS
    assert any(r["payments"] == 1 for r in want.values())
    assert any(r["bought_any"] == 1 and r["smallest"] == 0.0 for r in want.values())
    assert {r["clicked_any"] for r in want.values()} == {0, 1}
    assert None in events_columns()["amount"]
    assert any(r["amounts"] < r["payments"] for r in want.values())  # a repeated amount
    absolute = reference(WINDOWS["absolute"], METRICS)
    assert len(absolute) < UNITS
    # A unit whose payments in the window are all NULL: sum 0, counts 0, no max.
    assert any(
        r["payments"] == r["amounts"] == 0 and r["biggest"] is None for r in absolute.values()
    )
    # Each window keeps a different set of events.
    totals = {sum(r["payments"] for r in reference(w, METRICS).values()) for w in WINDOWS.values()}
    assert len(totals) == len(WINDOWS)
    windowed = reference(WINDOWS["after-exposure"], METRICS)
    assert sum(r["payments"] for r in windowed.values()) < sum(r["payments"] for r in want.values())


# Spark runs no window and all three bounds at once (its jobs are slow to start); the other
# engines run each kind of window on its own too.
WINDOW_CASES = [
    (backend, window)
    for backend in BACKENDS
    for window in WINDOWS
    if backend != "spark" or window in {"all", "all-three"}
]


@pytest.mark.parametrize(("backend", "window"), WINDOW_CASES)
def test_aggregations_and_windows_match_python(
    backend: str, window: str, tables: Tables, request: pytest.FixtureRequest
) -> None:
    per_unit = aggregate_events(
        events_on(backend, tables, request),
        unit="user",
        variant="arm",
        metrics=METRICS,
        timestamp="ts",
        **WINDOWS[window],
    )
    assert_rows_equal(collect_rows(per_unit), reference(WINDOWS[window], METRICS), list(METRICS))


def test_count_distinct_skips_null_and_counts_zero_for_none() -> None:
    events = pd.DataFrame(
        {"user": [1, 1, 1, 2, 2], "arm": ["a"] * 5, "product": [7.0, None, 7.0, None, None]}
    )
    per_unit = aggregate_events(
        events, unit="user", variant="arm", metrics={"products": ("count_distinct", "product")}
    )
    assert dict(zip(per_unit["user"], per_unit["products"], strict=True)) == {1: 1, 2: 0}


@pytest.mark.parametrize("backend", ["duckdb-table", "parquet"])
def test_aggregate_events_reads_a_connection_table_pair_and_a_path(
    backend: str, tables: Tables, request: pytest.FixtureRequest
) -> None:
    events = tables.make(backend, "events", events_table(), request)
    per_unit = aggregate_events(events, unit="user", variant="arm", metrics=METRICS, timestamp="ts")
    assert_rows_equal(collect_rows(per_unit), reference({}, METRICS), list(METRICS))


def moments_from_reference(window: dict[str, Any]) -> dict[str, Moments]:
    rows = reference(window, METRICS).values()
    return {
        arm: Moments.from_columns(
            {
                "revenue": [r["revenue"] for r in rows if r["arm"] == arm],
                "clicked_any": [float(r["clicked_any"]) for r in rows if r["arm"] == arm],
            }
        )
        for arm in ("a", "b")
    }


@pytest.mark.parametrize("backend", BACKENDS)
def test_analyze_the_aggregated_table_end_to_end(
    backend: str, tables: Tables, request: pytest.FixtureRequest
) -> None:
    window = WINDOWS["after-exposure"]
    per_unit = aggregate_events(
        events_on(backend, tables, request),
        unit="user",
        variant="arm",
        metrics=METRICS,
        timestamp="ts",
        **window,
    )
    metrics = [Mean("revenue"), Proportion("clicked_any", name="clicked")]
    result = ablens.analyze(
        per_unit, metrics, control="a", variant="arm", unit="user", experiment_id="events-e2e"
    )
    want = ablens.analyze(moments_from_reference(window), metrics, control="a")
    assert result.counts == want.counts == (UNITS // 2, UNITS // 2)
    assert result.data_report is not None
    assert result.data_report.rows == UNITS
    assert result.data_report.repeated_units == 0
    for got, expected in zip(result.comparisons, want.comparisons, strict=True):
        assert got.metric == expected.metric
        assert got.result.effect == pytest.approx(expected.result.effect, rel=1e-12)
        assert got.result.p_value == pytest.approx(expected.result.p_value, rel=1e-12)


# ---------------------------------------------------------------------------- bad input
def small_events() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "user": [1, 1, 2],
            "arm": ["a", "a", "b"],
            "ts": pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-01"]),
            "amount": [1.0, 2.0, 3.0],
        }
    )


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (
            {"metrics": {"revenue": ("median", "amount")}},
            "metrics['revenue'] aggregation == 'median', must be one of ",
        ),
        (
            {"metrics": {"revenue": "amount"}},
            "metrics['revenue'] == 'amount', must be (aggregation, source column)",
        ),
        ({"metrics": {}}, "metrics is empty, must map at least one output column"),
        (
            {"metrics": {"revenue": ("sum", "amount")}, "start": datetime(2024, 1, 1)},
            "a window (start, end or window_after_exposure) needs timestamp=",
        ),
        (
            {"metrics": {"revenue": ("sum", "amount")}, "end": datetime(2024, 1, 2)},
            "a window (start, end or window_after_exposure) needs timestamp=",
        ),
        (
            {"metrics": {"revenue": ("sum", "amount")}, "window_after_exposure": timedelta(1)},
            "a window (start, end or window_after_exposure) needs timestamp=",
        ),
        (
            {"metrics": {"user": ("sum", "amount")}},
            "metrics key 'user' clashes with the unit/variant/exposure column",
        ),
        (
            {"metrics": {"arm": ("count", "amount")}},
            "metrics key 'arm' clashes with the unit/variant/exposure column",
        ),
        (
            {"metrics": {"first_exposure": ("min", "amount")}, "timestamp": "ts"},
            "metrics key 'first_exposure' clashes with the unit/variant/exposure column",
        ),
        (
            {"metrics": {"seen": ("min", "amount")}, "exposure_column": "seen"},
            "metrics key 'seen' clashes with the unit/variant/exposure column",
        ),
        ({"metrics": {"revenue": ("sum", "amount")}, "unit": ""}, "unit == '', must be a "),
    ],
    ids=[
        "unknown-aggregation",
        "not-a-pair",
        "empty",
        "start-no-timestamp",
        "end-no-timestamp",
        "window-no-timestamp",
        "clash-unit",
        "clash-variant",
        "clash-exposure",
        "clash-custom-exposure",
        "empty-unit",
    ],
)
def test_bad_input(arguments: dict[str, Any], message: str) -> None:
    arguments = {"unit": "user", "variant": "arm", **arguments}
    with pytest.raises(InputError) as error:
        aggregate_events(small_events(), **arguments)
    assert str(error.value).startswith(message)


def test_unknown_aggregation_lists_the_choices() -> None:
    with pytest.raises(InputError) as error:
        aggregate_events(
            small_events(), unit="user", variant="arm", metrics={"x": ("median", "amount")}
        )
    for choice in ("sum", "count", "count_distinct", "max", "min", "any", "mean"):
        assert repr(choice) in str(error.value)
