"""Every data check, the same on every engine: pandas, polars, DuckDB, PostgreSQL, Spark.

`compute_moments` (what an analysis runs) stops at a problem with one message, and `check_data`
counts every problem; both are asked the same question on the same rows in each engine, and must
give the same counts and the same words. PostgreSQL and Spark are skipped on a machine without
them and fail under CI (tests/engines.py).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import pandas as pd
import pyarrow as pa
import pytest

import ablens
from ablens import DataError, compute_moments
from ablens.data import check_data
from materialize import Tables

if TYPE_CHECKING:
    from collections.abc import Iterator

ENGINES = ("pandas", "polars", "duckdb-table", "postgres", "spark")
ROWS = 24

SCHEMA = pa.schema(
    [
        ("user_id", pa.int64()),
        ("variant", pa.string()),
        ("platform", pa.string()),
        ("x", pa.float64()),
    ]
)


def table() -> dict[str, list[Any]]:
    """24 users, 12 per arm; plain lists so that each test can plant its problem."""
    return {
        "user_id": list(range(1, ROWS + 1)),
        "variant": ["a" if i % 2 == 0 else "b" for i in range(ROWS)],
        "platform": ["ios" if i % 3 == 0 else "web" for i in range(ROWS)],
        "x": [float((i * 7) % 5) + 0.5 * (i % 2) for i in range(ROWS)],
    }


@pytest.fixture(scope="module")
def tables(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tables]:
    with Tables(tmp_path_factory.mktemp("every-engine")) as made:
        yield made


@pytest.fixture
def make(tables: Tables, request: pytest.FixtureRequest) -> Any:
    def build(engine: str, columns: dict[str, list[Any]]) -> object:
        key = re.sub(r"[^a-z0-9]+", "_", request.node.name.lower()).strip("_")
        return tables.make(engine, key, pa.table(columns, schema=SCHEMA), request)

    return build


@pytest.mark.parametrize("engine", ENGINES)
def test_null_variant_with_unit_warns_and_counts_on_every_engine(engine: str, make: Any) -> None:
    # pandas used to compare the NaN labels of these rows as different arms: a false "assigned
    # to more than one arm".
    columns = table()
    for i in (3, 8, 15):
        columns["variant"][i] = None
    data = make(engine, columns)
    result = compute_moments(data, variant="variant", columns=["x"], unit="user_id")
    assert result.report.null_variant == 3
    assert result.report.units_in_several_arms == 0
    assert result.report.repeated_units == 0
    assert result.report.warnings == (
        "3 row(s) have a NULL 'variant' and were left out of every arm",
    )
    assert {arm: m.count for arm, m in result.overall.items()} == {"a": 11, "b": 10}
    report = check_data(data, variant="variant", unit="user_id", columns=["x"])
    assert report.null_variant == 3
    assert report.units_in_several_arms == 0
    assert dict(report.repeated_rows) == {"a": 0, "b": 0}
    assert report.problems() == [("warning", "3 rows have a NULL 'variant' (left out)")]


@pytest.mark.parametrize("engine", ENGINES)
def test_unit_in_two_arms_on_every_engine(engine: str, make: Any) -> None:
    columns = table()
    columns["user_id"][1] = 1  # user 1 is in arm a (row 0) and arm b (row 1)
    data = make(engine, columns)
    with pytest.raises(
        DataError,
        match=r"^1 unit\(s\) in column 'user_id' are assigned to more than one arm; fix the",
    ):
        compute_moments(data, variant="variant", columns=["x"], unit="user_id")
    report = check_data(data, variant="variant", unit="user_id")
    assert report.units_in_several_arms == 1
    assert dict(report.repeated_rows) == {"a": 0, "b": 0}


@pytest.mark.parametrize("engine", ENGINES)
def test_repeated_unit_on_every_engine(engine: str, make: Any) -> None:
    columns = table()
    columns["user_id"][2] = 1  # rows 0 and 2, both arm a
    data = make(engine, columns)
    with pytest.raises(
        DataError, match=r"^column 'user_id' repeats unit ids: 1 row\(s\) beyond one per unit"
    ):
        compute_moments(data, variant="variant", columns=["x"], unit="user_id")
    report = check_data(data, variant="variant", unit="user_id")
    assert dict(report.repeated_rows) == {"a": 1, "b": 0}
    assert dict(report.repeated_units) == {"a": 1, "b": 0}
    assert report.units_in_several_arms == 0


@pytest.mark.parametrize("engine", ENGINES)
def test_null_metric_on_every_engine(engine: str, make: Any) -> None:
    columns = table()
    columns["x"][4] = columns["x"][6] = None  # both arm a
    data = make(engine, columns)
    with pytest.raises(DataError, match=r"^column 'x' has 2 NULL value\(s\) in arm 'a'; fill them"):
        compute_moments(data, variant="variant", columns=["x"])
    assert dict(check_data(data, columns=["x"]).null_values) == {"x": {"a": 2}}


@pytest.mark.parametrize("engine", ENGINES)
def test_null_unit_on_every_engine(engine: str, make: Any) -> None:
    columns = table()
    columns["user_id"][5] = None  # arm b
    data = make(engine, columns)
    with pytest.raises(DataError, match=r"^column 'user_id' \(the unit id\) has 1 NULL value"):
        compute_moments(data, variant="variant", columns=["x"], unit="user_id")
    report = check_data(data, unit="user_id")
    assert dict(report.null_values) == {"user_id": {"b": 1}}


@pytest.mark.parametrize("engine", ENGINES)
def test_unknown_and_missing_arms_on_every_engine(engine: str, make: Any) -> None:
    columns = table()
    columns["variant"][1] = "B"
    data = make(engine, columns)
    with pytest.raises(
        DataError,
        match=r"^column 'variant' holds labels not in the plan's arms \['a', 'b'\]: 'B' \(1 row\)",
    ):
        compute_moments(data, variant="variant", columns=["x"], arms=["a", "b"])
    report = check_data(data, arms=["a", "b", "c"])
    assert dict(report.unknown_arms) == {"B": 1}
    assert report.missing_arms == ("c",)


@pytest.mark.parametrize("engine", ENGINES)
def test_too_many_segments_on_every_engine(engine: str, make: Any) -> None:
    data = make(engine, table())
    with pytest.raises(DataError, match=r"more than max_segments == 1 distinct values"):
        compute_moments(
            data, variant="variant", columns=["x"], segments=["platform"], max_segments=1
        )
    assert check_data(data, segments=["platform"], max_segments=1).too_many_segments


@pytest.mark.parametrize("engine", ENGINES)
def test_values_too_large_to_square_on_every_engine(engine: str, make: Any) -> None:
    # Their squares overflow to infinity: the moments would be NaN ("diagonal of comoment").
    columns = table()
    columns["x"] = [1e300 * (1 + i % 3) for i in range(ROWS)]
    data = make(engine, columns)
    with pytest.raises(
        DataError,
        match=r"^column 'x' holds values too large for floating-point sums in arm 'a' \(beyond "
        r"about 1e154 their squares overflow to infinity\); rescale them",
    ):
        compute_moments(data, variant="variant", columns=["x"])


@pytest.mark.parametrize("engine", ENGINES)
def test_clean_table_agrees_on_every_engine(engine: str, make: Any) -> None:
    """The numbers the checks guard: identical moments on every engine."""
    columns = table()
    data = make(engine, columns)
    result = compute_moments(data, variant="variant", columns=["x"], unit="user_id")
    frame = pd.DataFrame(columns)
    for arm in ("a", "b"):
        values = frame.loc[frame["variant"] == arm, "x"]
        assert result.overall[arm].count == len(values) == 12
        assert result.overall[arm].mean_of("x") == pytest.approx(values.mean(), rel=1e-14)
        assert result.overall[arm].variance("x") == pytest.approx(values.var(), rel=1e-12)


def test_mixed_type_arm_labels_are_refused() -> None:
    # Only pandas' object columns can mix kinds; 1 and "1" used to merge into one arm "1", one
    # group's moments overwriting the other's while the data report counted both.
    frame = pd.DataFrame({"variant": [1, "1", 2, "2"] * 5, "x": [float(i) for i in range(20)]})
    expected = (
        r"^column 'variant' mixes kinds of values: 1 \(number\), '1' \(text\); an arm label must "
        r"have one type"
    )
    with pytest.raises(DataError, match=expected):
        compute_moments(frame, variant="variant", columns=["x"])
    with pytest.raises(DataError, match=expected):
        ablens.analyze(frame, [ablens.Mean("x")], control="1")
    with pytest.raises(DataError, match=expected):
        check_data(frame)
    with pytest.raises(DataError, match=expected):
        ablens.analyze(frame, [ablens.Quantile("x", 0.5)], control="1")
    # One kind of label is fine, numbers included.
    numbers = frame.assign(variant=[1, 1, 2, 2] * 5)
    assert ablens.analyze(numbers, [ablens.Mean("x")], control=1).counts == (10, 10)
