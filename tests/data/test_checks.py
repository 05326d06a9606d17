"""Every data check of `compute_moments`: the error names the column and gives the counts.

The checks are counted inside the engine, so each runs on pandas and on DuckDB (a
``(connection, "table")`` pair, the path that sends SQL), and a few on PostgreSQL through Ibis.
A NULL variant is a warning, not an error: those rows are left out and counted.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pytest

import ablens
from ablens import DataError, InputError, Mean, Moments, compute_moments
from materialize import Tables

if TYPE_CHECKING:
    from collections.abc import Iterator

BACKENDS = ("pandas", "duckdb-table")
WITH_POSTGRES = (*BACKENDS, "postgres")
ARMS = ("control", "treat_a", "treat_b")
ROWS = 60


def base_columns() -> dict[str, list[Any]]:
    """60 users, 20 per arm, two platforms; plain Python lists so tests can plant NULLs."""
    return {
        "user_id": list(range(1, ROWS + 1)),
        "variant": [ARMS[i % 3] for i in range(ROWS)],
        "platform": ["ios" if i % 4 < 2 else "web" for i in range(ROWS)],
        "revenue": [float((i * 37) % 11) + 0.25 * (i % 3) for i in range(ROWS)],
        "orders": [i % 4 for i in range(ROWS)],
        "clicked": [i % 5 == 0 for i in range(ROWS)],
    }


SCHEMA = pa.schema(
    [
        ("user_id", pa.int64()),
        ("variant", pa.string()),
        ("platform", pa.string()),
        ("revenue", pa.float64()),
        ("orders", pa.int64()),
        ("clicked", pa.bool_()),
    ]
)


@pytest.fixture(scope="module")
def tables(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tables]:
    with Tables(tmp_path_factory.mktemp("checks")) as made:
        yield made


@pytest.fixture
def make(tables: Tables, request: pytest.FixtureRequest) -> Any:
    """``make(backend, columns)``: the columns as a table on ``backend``, named after the test."""

    def build(backend: str, columns: dict[str, list[Any]], schema: pa.Schema = SCHEMA) -> object:
        key = re.sub(r"[^a-z0-9]+", "_", request.node.name.lower()).strip("_")
        return tables.make(backend, key, pa.table(columns, schema=schema), request)

    return build


def moments_of(columns: dict[str, list[Any]], keep: list[bool], arm: str) -> Moments:
    rows = [i for i, k in enumerate(keep) if k and columns["variant"][i] == arm]
    return Moments.from_columns({"revenue": np.array([columns["revenue"][i] for i in rows])})


# ---------------------------------------------------------------------------- variant
@pytest.mark.parametrize("backend", WITH_POSTGRES)
def test_null_variant_is_a_warning_and_rows_are_left_out(backend: str, make: Any) -> None:
    columns = base_columns()
    for i in (4, 9, 30):
        columns["variant"][i] = None
    result = compute_moments(make(backend, columns), variant="variant", columns=["revenue"])
    report = result.report
    assert report.rows == ROWS
    assert report.null_variant == 3
    assert report.warnings == ("3 row(s) have a NULL 'variant' and were left out of every arm",)
    assert sorted(result.overall) == list(ARMS)
    assert sum(m.count for m in result.overall.values()) == ROWS - 3
    assert dict(report.arm_rows) == {"control": 18, "treat_a": 19, "treat_b": 20}
    keep = [v is not None for v in columns["variant"]]
    for arm in ARMS:
        want = moments_of(columns, keep, arm)
        assert result.overall[arm].count == want.count
        assert result.overall[arm].mean_of("revenue") == pytest.approx(
            want.mean_of("revenue"), rel=1e-12
        )
        assert result.overall[arm].variance("revenue") == pytest.approx(
            want.variance("revenue"), rel=1e-12
        )


@pytest.mark.parametrize("backend", BACKENDS)
def test_null_variant_warning_reaches_the_analysis(backend: str, make: Any) -> None:
    columns = base_columns()
    columns["variant"][0] = None
    result = ablens.analyze(make(backend, columns), [Mean("revenue")], control="control")
    assert result.data_report is not None
    assert result.data_report.null_variant == 1
    assert result.data_report.warnings == (
        "1 row(s) have a NULL 'variant' and were left out of every arm",
    )
    assert result.counts == (19, 20, 20)


@pytest.mark.parametrize("backend", WITH_POSTGRES)
def test_labels_not_in_arms_are_named_with_their_row_counts(backend: str, make: Any) -> None:
    columns = base_columns()
    columns["variant"][3] = "contrl"
    columns["variant"][6] = "contrl"
    columns["variant"][7] = "treat-b"
    with pytest.raises(DataError) as error:
        compute_moments(make(backend, columns), variant="variant", columns=["revenue"], arms=ARMS)
    assert str(error.value) == (
        "column 'variant' holds labels not in the plan's arms ['control', 'treat_a', 'treat_b']: "
        "'contrl' (2 rows), 'treat-b' (1 row); fix the labels or declare the arms"
    )


@pytest.mark.parametrize("backend", BACKENDS)
def test_expected_arm_without_rows(backend: str, make: Any) -> None:
    columns = base_columns()
    columns["variant"] = ["treat_a" if v == "treat_b" else v for v in columns["variant"]]
    with pytest.raises(DataError) as error:
        compute_moments(make(backend, columns), variant="variant", columns=["revenue"], arms=ARMS)
    assert str(error.value) == (
        "arm(s) ['treat_b'] have no rows in column 'variant' (found ['control', 'treat_a'])"
    )


# ---------------------------------------------------------------------------- units
@pytest.mark.parametrize("backend", WITH_POSTGRES)
def test_null_unit_ids(backend: str, make: Any) -> None:
    columns = base_columns()
    columns["user_id"][5] = None
    columns["user_id"][40] = None
    with pytest.raises(
        DataError, match=r"^column 'user_id' \(the unit id\) has 2 NULL value\(s\)$"
    ):
        compute_moments(
            make(backend, columns), variant="variant", columns=["revenue"], unit="user_id"
        )


@pytest.mark.parametrize("backend", WITH_POSTGRES)
def test_repeated_unit_ids_count_the_extra_rows(backend: str, make: Any) -> None:
    columns = base_columns()
    # Unit 1 three times and unit 10 twice, all in control: 3 rows beyond one per unit.
    columns["user_id"][3] = 1
    columns["user_id"][6] = 1
    columns["user_id"][12] = 10
    assert {columns["variant"][i] for i in (0, 3, 6, 9, 12)} == {"control"}
    with pytest.raises(DataError) as error:
        compute_moments(
            make(backend, columns), variant="variant", columns=["revenue"], unit="user_id"
        )
    assert str(error.value) == (
        "column 'user_id' repeats unit ids: 3 row(s) beyond one per unit, and the analysis "
        "needs one row per unit: add up each unit's rows into one first, or if 'user_id' is "
        "not the unit id, choose the column that is"
    )


@pytest.mark.parametrize("backend", WITH_POSTGRES)
def test_unit_in_two_arms(backend: str, make: Any) -> None:
    columns = base_columns()
    columns["user_id"][1] = 1  # user 1: control (row 0) and treat_a (row 1)
    columns["user_id"][5] = 3  # user 3: treat_b (row 2) and treat_b (row 5): only repeated
    with pytest.raises(DataError) as error:
        compute_moments(
            make(backend, columns), variant="variant", columns=["revenue"], unit="user_id"
        )
    assert str(error.value) == (
        "1 unit(s) in column 'user_id' are assigned to more than one arm; fix the assignment or "
        "exclude them before analysis, or if 'user_id' is not the unit id, choose the column "
        "that is"
    )


@pytest.mark.parametrize("backend", BACKENDS)
def test_unit_in_two_arms_is_found_across_segments(backend: str, make: Any) -> None:
    # User 1 is in control on ios (row 0) and in treat_a on ios (row 1); also segmented.
    columns = base_columns()
    columns["user_id"][1] = 1
    with pytest.raises(DataError, match=r"^1 unit\(s\) in column 'user_id' are assigned to more"):
        compute_moments(
            make(backend, columns),
            variant="variant",
            columns=["revenue"],
            unit="user_id",
            segments=["platform"],
        )


@pytest.mark.parametrize("backend", BACKENDS)
def test_clean_units_report_zero(backend: str, make: Any) -> None:
    result = compute_moments(
        make(backend, base_columns()), variant="variant", columns=["revenue"], unit="user_id"
    )
    report = result.report
    assert (report.rows, report.null_unit, report.repeated_units) == (ROWS, 0, 0)
    assert report.units_in_several_arms == 0
    assert [result.overall[a].count for a in ARMS] == [20, 20, 20]


# ---------------------------------------------------------------------------- metric columns
@pytest.mark.parametrize("backend", WITH_POSTGRES)
def test_null_metric_values_give_count_and_arm(backend: str, make: Any) -> None:
    columns = base_columns()
    for i in (1, 4, 7):  # all treat_a
        columns["revenue"][i] = None
    with pytest.raises(DataError) as error:
        compute_moments(make(backend, columns), variant="variant", columns=["orders", "revenue"])
    assert str(error.value) == (
        "column 'revenue' has 3 NULL value(s) in arm 'treat_a'; fill them (e.g. 0 for no "
        "revenue) or filter the rows before analysis"
    )


@pytest.mark.parametrize("backend", BACKENDS)
def test_null_metric_values_per_segment_name_the_segment(backend: str, make: Any) -> None:
    columns = base_columns()
    columns["revenue"][5] = None  # treat_b, ios
    with pytest.raises(DataError) as error:
        compute_moments(
            make(backend, columns), variant="variant", columns=["revenue"], segments=["platform"]
        )
    assert str(error.value).startswith(
        "column 'revenue' has 1 NULL value(s) in arm 'treat_b', segment {'platform': 'ios'};"
    )


@pytest.mark.parametrize("backend", BACKENDS)
def test_all_null_metric_column(backend: str, make: Any) -> None:
    columns = base_columns()
    columns["revenue"] = [None] * ROWS
    with pytest.raises(DataError) as error:
        compute_moments(make(backend, columns), variant="variant", columns=["revenue"])
    message = str(error.value)
    assert message.startswith("column 'revenue' has 20 NULL value(s) in arm ")
    assert re.search(r"in arm '(control|treat_a|treat_b)'", message)


@pytest.mark.parametrize("backend", BACKENDS)
def test_non_numeric_metric_names_its_type(backend: str, make: Any) -> None:
    with pytest.raises(DataError) as error:
        compute_moments(
            make(backend, base_columns()), variant="variant", columns=["revenue", "platform"]
        )
    assert str(error.value) == (
        "column 'platform' has type String, must be numeric or boolean to be a metric; cast it or "
        "choose another column"
    )


@pytest.mark.parametrize("backend", WITH_POSTGRES)
@pytest.mark.parametrize(
    ("arguments", "missing"),
    [
        ({"variant": "arm", "columns": ["revenue"]}, "arm"),
        ({"variant": "variant", "columns": ["revenue", "spend"]}, "spend"),
        ({"variant": "variant", "columns": ["revenue"], "segments": ["country"]}, "country"),
        ({"variant": "variant", "columns": ["revenue"], "unit": "user"}, "user"),
    ],
    ids=["variant", "metric", "segment", "unit"],
)
def test_missing_column_lists_the_available_ones(
    backend: str, arguments: dict[str, Any], missing: str, make: Any
) -> None:
    with pytest.raises(DataError) as error:
        compute_moments(make(backend, base_columns()), **arguments)
    assert str(error.value) == (
        f"column {missing!r} is not in the data; available columns: ['user_id', 'variant', "
        "'platform', 'revenue', 'orders', 'clicked']"
    )


# ---------------------------------------------------------------------------- segments
@pytest.mark.parametrize("backend", WITH_POSTGRES)
def test_too_many_segment_values(backend: str, make: Any) -> None:
    columns = base_columns()
    columns["platform"] = [("ios", "web", "android")[i % 4 % 3] for i in range(ROWS)]
    table = make(backend, columns)
    with pytest.raises(DataError) as error:
        compute_moments(
            table, variant="variant", columns=["revenue"], segments=["platform"], max_segments=2
        )
    assert str(error.value) == (
        "segments ['platform'] have more than max_segments == 2 distinct values; segment by a "
        "coarser column, or raise max_segments"
    )
    # Three values are allowed with max_segments=3, the default 100, and the query is the same.
    for limit in (3, 100):
        result = compute_moments(
            table, variant="variant", columns=["revenue"], segments=["platform"], max_segments=limit
        )
        assert sorted(result.segments) == [("android",), ("ios",), ("web",)]


@pytest.mark.parametrize("backend", BACKENDS)
def test_segmenting_by_an_id_is_caught(backend: str, make: Any) -> None:
    # 60 distinct values with max_segments=5: stopped early by the row guard or the count.
    with pytest.raises(DataError, match=r"more than max_segments == 5 distinct values"):
        compute_moments(
            make(backend, base_columns()),
            variant="variant",
            columns=["revenue"],
            segments=["user_id"],
            max_segments=5,
        )


# ---------------------------------------------------------------------------- arguments
@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"columns": []}, "columns is empty, must name at least one metric column"),
        (
            {"columns": ["revenue"], "pairs": [("revenue", "spend")]},
            "pairs names column 'spend', must be one of columns ['revenue']; add it to columns",
        ),
        (
            {"columns": ["revenue"], "pairs": [("revenue",)]},
            "pairs has ('revenue',), each pair must name exactly two columns",
        ),
        (
            {"columns": ["revenue"], "segments": ["variant"]},
            "segments must not include the variant or unit column",
        ),
        (
            {"columns": ["revenue"], "segments": ["user_id"], "unit": "user_id"},
            "segments must not include the variant or unit column",
        ),
        ({"columns": ["revenue"], "max_segments": 0}, "max_segments == 0, must be >= 1"),
        ({"columns": ["revenue"], "variant": ""}, "variant == '', must be a non-empty string"),
    ],
    ids=[
        "empty-columns",
        "pair-unknown",
        "pair-short",
        "variant-segment",
        "unit-segment",
        "max-segments-0",
        "empty-variant",
    ],
)
def test_bad_arguments_are_input_errors(arguments: dict[str, Any], message: str) -> None:
    arguments = {"variant": "variant", **arguments}
    table = pa.table(base_columns(), schema=SCHEMA)
    with pytest.raises(InputError) as error:
        compute_moments(table, **arguments)
    assert str(error.value) == message


@pytest.mark.parametrize(
    ("data", "type_name"),
    [
        ([{"variant": "a", "x": 1.0}], "builtins.list"),
        ({"variant": ["a"], "x": [1.0]}, "builtins.dict"),
        (np.array([[1.0, 2.0]]), "numpy.ndarray"),
    ],
    ids=["list", "dict", "ndarray"],
)
def test_unsupported_data_type_names_the_type(data: object, type_name: str) -> None:
    with pytest.raises(InputError) as error:
        compute_moments(data, variant="variant", columns=["x"])
    assert str(error.value).startswith(f"data is a {type_name}, must be a pandas, polars ")


def test_paths_must_exist_and_be_parquet_or_csv(tmp_path: Any) -> None:
    missing = tmp_path / "nope.parquet"
    with pytest.raises(InputError, match=r"nope\.parquet'?: no such file"):
        compute_moments(missing, variant="variant", columns=["x"])
    odd = tmp_path / "data.json"
    odd.write_text("{}")
    with pytest.raises(InputError, match=r"has suffix '\.json', must be \.parquet, \.pq, \.csv"):
        compute_moments(str(odd), variant="variant", columns=["x"])
