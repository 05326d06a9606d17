"""Column profiles read in the engine, and the metrics inferred from them."""

from __future__ import annotations

import duckdb
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest

from ablens.analysis_plan.infer import infer_metrics
from ablens.data import profile_columns
from ablens.errors import DataError
from ablens.metrics import Mean, Proportion

COLUMNS = {
    "arm": ["a", "a", "b", "b"],
    "flag": [0, 1, 1, None],
    "paid": [True, False, True, True],
    "rate_like": [0.0, 0.5, 1.0, 1.0],
    "spend": [1.5, 2.0, 0.0, 3.0],
}


def _inputs():
    frame = pl.DataFrame(COLUMNS)
    connection = duckdb.connect()
    connection.register("users_frame", frame.to_arrow())
    connection.sql("CREATE TABLE users AS SELECT * FROM users_frame")
    return {
        "polars": frame,
        "pandas": frame.to_pandas(),
        "pyarrow": frame.to_arrow(),
        "duckdb": (connection, "users"),
    }


@pytest.mark.parametrize("engine", ["polars", "pandas", "pyarrow", "duckdb"])
def test_profile_reads_types_and_flags_in_every_engine(engine: str) -> None:
    profiles = profile_columns(_inputs()[engine])
    assert [(p.name, p.numeric, p.binary) for p in profiles.values()] == [
        ("arm", False, False),
        ("flag", True, True),  # 0, 1 and a NULL: still a flag
        ("paid", True, True),
        ("rate_like", True, False),  # 0.5 is not a flag
        ("spend", True, False),
    ]


def test_infer_metrics_makes_rates_of_flags_and_means_of_numbers() -> None:
    metrics = infer_metrics(pl.DataFrame(COLUMNS), variant="arm")
    assert metrics == [
        Proportion("flag"),
        Proportion("paid"),
        Mean("rate_like"),
        Mean("spend"),
    ]
    assert infer_metrics(pd.DataFrame(COLUMNS), variant="arm", wanted=["spend"]) == [Mean("spend")]


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"variant": "group"}, "there is no column 'group' for the arms; the columns are arm, "),
        ({"variant": "arm", "unit": "user"}, "there is no unit column 'user'"),
        ({"variant": "arm", "time": "day"}, "there is no time column 'day'"),
        ({"variant": "arm", "wanted": ["nope"]}, "no column 'nope'; the columns are"),
        ({"variant": "arm", "wanted": ["arm"]}, "column 'arm' is String, not numbers."),
        ({"variant": "arm", "max_metrics": 2}, "4 numeric columns; name at most 2 to analyze."),
    ],
)
def test_infer_metrics_errors_name_the_column_and_the_fix(arguments, message) -> None:
    with pytest.raises(DataError) as caught:
        infer_metrics(pa.table(COLUMNS), **arguments)
    assert message in str(caught.value)


def test_a_table_of_labels_only_has_nothing_to_analyze() -> None:
    with pytest.raises(DataError, match="no numeric column to analyze besides the arms"):
        infer_metrics(pl.DataFrame({"arm": ["a", "b"], "name": ["x", "y"]}), variant="arm")


@pytest.mark.parametrize("engine", ["polars", "pandas", "pyarrow", "duckdb", "csv"])
def test_preview_counts_distinct_values_lists_few_and_reads_the_first_rows(engine, tmp_path):
    from ablens.data import preview_table  # noqa: PLC0415

    inputs = _inputs()
    if engine == "csv":
        path = tmp_path / "users.csv"
        pl.DataFrame(COLUMNS).write_csv(path)
        inputs["csv"] = str(path)
    preview = preview_table(inputs[engine], rows=2, max_values=3)
    # NULL is not a value: flag has 0 and 1
    assert preview.distinct == {"arm": 2, "flag": 2, "paid": 2, "rate_like": 3, "spend": 4}
    assert preview.values["arm"] == ("a", "b")
    assert preview.values["flag"] in {("0", "1"), ("0.0", "1.0")}
    assert "spend" not in preview.values  # 4 values > max_values
    assert preview.row_count == 4
    assert [row["arm"] for row in preview.rows] == ["a", "a"]
    assert list(preview.columns) == list(COLUMNS)


def test_preview_of_a_table_without_rows_says_so() -> None:
    import polars as pl  # noqa: PLC0415

    from ablens.data import preview_table  # noqa: PLC0415
    from ablens.errors import DataError  # noqa: PLC0415

    empty = pl.DataFrame(
        {"variant": pl.Series([], dtype=pl.String), "x": pl.Series([], dtype=pl.Float64)}
    )
    with pytest.raises(DataError, match="the data have no rows"):
        preview_table(empty)
