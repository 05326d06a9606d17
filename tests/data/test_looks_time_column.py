"""The look column: numbers, dates and timestamps only, never NULL, the same on every engine.

Text sorted as text ("day 1", "day 10", "day 11", ..., "day 2"), and ISO strings with mixed
offsets sorted as text in pandas but as instants in DuckDB (sequential p 0.0063 against 0.0030);
a NULL time raised a TypeError in the sort. Each is now a `DataError` naming the column, on
pandas, polars, DuckDB, PostgreSQL and Spark.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import TYPE_CHECKING, Any

import pandas as pd
import pyarrow as pa
import pytest

import ablens
from ablens import DataError
from ablens.data import cumulative_moments
from materialize import Tables

if TYPE_CHECKING:
    from collections.abc import Iterator

ENGINES = ("pandas", "polars", "duckdb-table", "postgres", "spark")
ROWS = 28


def table(time: list[Any], time_type: pa.DataType) -> pa.Table:
    return pa.table(
        {
            "variant": ["a" if i % 2 == 0 else "b" for i in range(ROWS)],
            "x": [float((i * 5) % 9) for i in range(ROWS)],
            "t": pa.array(time, type=time_type),
        }
    )


@pytest.fixture(scope="module")
def tables(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tables]:
    with Tables(tmp_path_factory.mktemp("looks-time")) as made:
        yield made


@pytest.fixture
def make(tables: Tables, request: pytest.FixtureRequest) -> Any:
    def build(engine: str, data: pa.Table) -> object:
        key = re.sub(r"[^a-z0-9]+", "_", request.node.name.lower()).strip("_")[-40:]
        return tables.make(engine, key, data, request)

    return build


@pytest.mark.parametrize("engine", ENGINES)
def test_null_time_is_a_named_error(engine: str, make: Any) -> None:
    days = [1 + i // 7 for i in range(ROWS)]
    days[3] = days[10] = None
    data = make(engine, table(days, pa.int64()))
    with pytest.raises(
        DataError,
        match=r"^column 't' \(the look time\) has 2 NULL value\(s\) in rows with an arm; give "
        r"each unit its look",
    ):
        cumulative_moments(data, variant="variant", time="t", columns=["x"])


def test_null_time_in_a_pandas_nullable_column_through_analyze_looks() -> None:
    # The case of the issue: Int64 with pd.NA raised "TypeError: '<' not supported".
    frame = table([1 + i // 7 for i in range(ROWS)], pa.int64()).to_pandas()
    frame["t"] = pd.array([None if i == 5 else 1 + i // 7 for i in range(ROWS)], dtype="Int64")
    with pytest.raises(DataError, match=r"column 't' \(the look time\) has 1 NULL value"):
        ablens.analyze_looks(frame, ablens.Mean("x"), control="a", time="t", planned_units=100)


@pytest.mark.parametrize("engine", ENGINES)
def test_day_labels_as_text_are_refused(engine: str, make: Any) -> None:
    labels = [f"day {1 + i // 2}" for i in range(ROWS)]  # day 1 .. day 14: "day 10" < "day 2"
    data = make(engine, table(labels, pa.string()))
    with pytest.raises(
        DataError,
        match=r"^column 't' \(the look time\) has type String, must be a number, a date or a "
        r"timestamp so that looks follow time; text sorts as text \('day 10' before 'day 2'\)",
    ):
        cumulative_moments(data, variant="variant", time="t", columns=["x"])


@pytest.mark.parametrize("engine", ENGINES)
def test_iso_strings_with_mixed_offsets_are_refused(engine: str, make: Any) -> None:
    # Sorted as text, 10:00+05:00 (05:00 UTC) comes after 06:00+00:00; as instants, before.
    stamps = [
        "2024-03-01T10:00:00+05:00" if i % 2 else f"2024-03-01T0{6 + i % 3}:00:00+00:00"
        for i in range(ROWS)
    ]
    data = make(engine, table(stamps, pa.string()))
    with pytest.raises(DataError, match=r"convert it to a date or timestamp \(pandas: pd\.to"):
        cumulative_moments(data, variant="variant", time="t", columns=["x"])


@pytest.mark.parametrize("engine", ENGINES)
def test_numbers_dates_and_timestamps_are_looks_in_time_order(engine: str, make: Any) -> None:
    days = [1 + (i * 5) % 14 for i in range(ROWS)]
    start = dt.datetime(2024, 3, 1, tzinfo=dt.UTC)
    for values, kind in (
        (days, pa.int64()),
        ([start.date() + dt.timedelta(days=d) for d in days], pa.date32()),
        ([start + dt.timedelta(hours=d) for d in days], pa.timestamp("us", tz="UTC")),
    ):
        looks = cumulative_moments(
            make(engine, table(values, kind)), variant="variant", time="t", columns=["x"]
        )
        assert len(looks) == 14
        assert list(looks) == sorted(looks)
        last = looks[max(looks)]
        assert last["a"].count + last["b"].count == ROWS


def test_pandas_object_column_of_dates_is_accepted_and_mixed_objects_are_not() -> None:
    frame = table([1 + i // 7 for i in range(ROWS)], pa.int64()).to_pandas()
    frame["t"] = [dt.date(2024, 3, 1 + i // 7) for i in range(ROWS)]  # object dtype
    looks = cumulative_moments(frame, variant="variant", time="t", columns=["x"])
    assert list(looks) == [dt.date(2024, 3, d) for d in (1, 2, 3, 4)]
    frame["t"] = [dt.date(2024, 3, 1) if i % 2 else "2024-03-02" for i in range(ROWS)]
    with pytest.raises(
        DataError, match=r"^column 't' \(the look time\) holds date, str values, must hold only"
    ):
        cumulative_moments(frame, variant="variant", time="t", columns=["x"])
