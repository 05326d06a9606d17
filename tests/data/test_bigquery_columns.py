"""The BigQuery SQL of an analysis reads only the columns it needs (BigQuery bills per column).

`compute_moments` with ``unit=`` runs end to end on an Ibis DuckDB table that has many more
columns than the analysis names; every expression it sends is also compiled for BigQuery
(Ibis' own compiler, no network) and parsed back, and the table's columns that the SQL
references are exactly the variant, the unit and the metric columns.
"""

from __future__ import annotations

import warnings
from typing import Any

import ibis
import numpy as np
import pyarrow as pa
import pytest
import sqlglot

import ablens.data._source as source_module
import ablens.data.engine as engine_module
from ablens import compute_moments

N = 400
NEEDED = {"variant", "user_id", "revenue", "orders"}


def wide_table() -> pa.Table:
    rng = np.random.default_rng(19)
    columns: dict[str, Any] = {
        "user_id": np.arange(N, dtype=np.int64),
        "variant": np.where(np.arange(N) % 2 == 0, "control", "treatment"),
        "revenue": rng.gamma(2.0, 10.0, N),
        "orders": rng.poisson(1.5, N).astype(np.int64),
    }
    for i in range(40):  # columns the analysis does not name: BigQuery would bill each one
        columns[f"unused_{i}"] = rng.standard_normal(N)
    return pa.table(columns)


def referenced_columns(sql: str, table_columns: set[str]) -> set[str]:
    """The table's columns a BigQuery statement references (aliases of ablens excluded)."""
    tree = sqlglot.parse_one(sql, read="bigquery")
    for select in tree.find_all(sqlglot.exp.Select):
        source = select.args.get("from") or select.args.get("from_")
        reads_table = source is not None and isinstance(source.this, sqlglot.exp.Table)
        stars = [e for e in select.expressions if isinstance(e, sqlglot.exp.Star)]
        assert not (reads_table and stars), f"a star select of the table reads every column: {sql}"
    return {c.name for c in tree.find_all(sqlglot.exp.Column)} & table_columns


@pytest.mark.parametrize("unit", [None, "user_id"])
def test_bigquery_sql_of_an_analysis_names_only_the_columns_it_needs(
    unit: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    compiled: list[str] = []
    original = source_module.ibis_sql

    uncompiled: list[str] = []

    def also_bigquery(expression: Any, dialect: str) -> str:
        try:
            compiled.append(original(expression, "bigquery"))
        except ibis.common.exceptions.OperationNotDefinedError as error:
            uncompiled.append(str(error))
        return original(expression, dialect)

    monkeypatch.setattr(source_module, "ibis_sql", also_bigquery)
    # The table is on DuckDB, compiled for BigQuery too: pick the pilot BigQuery would get.
    monkeypatch.setattr(engine_module, "pilot_statistic", lambda frame: "min")
    data = wide_table()
    connection = ibis.duckdb.connect()
    connection.con.register("arrow_users", data)
    connection.con.execute("CREATE TABLE users AS SELECT * FROM arrow_users")
    with warnings.catch_warnings():  # ibis 12 reads the schema with a deprecated duckdb call
        warnings.filterwarnings("ignore", "fetch_arrow_table", DeprecationWarning)
        table = connection.table("users")
    result = compute_moments(table, variant="variant", columns=["revenue", "orders"], unit=unit)
    assert result.overall["control"].count == N // 2
    # Every statement compiles for BigQuery (a median has no BigQuery rule in Ibis 12, so the
    # pilot on a BigQuery table is the smallest of the first rows).
    assert uncompiled == []
    assert len(compiled) == (2 if unit else 1)  # the moments (and the unit check)
    table_columns = set(data.column_names)
    wanted = NEEDED if unit else NEEDED - {"user_id"}
    for sql in compiled:
        assert "`users`" in sql
        assert referenced_columns(sql, table_columns) <= wanted, sql
    every = set().union(*(referenced_columns(s, table_columns) for s in compiled))
    assert every == wanted
    if unit:
        check = next(s for s in compiled if "COUNT(DISTINCT" in s.upper())
        assert referenced_columns(check, table_columns) == {"user_id", "variant"}


def test_the_pilot_is_the_median_on_backends_that_have_one() -> None:
    import narwhals as nw  # noqa: PLC0415

    connection = ibis.duckdb.connect()
    with warnings.catch_warnings():  # ibis 12 reads the schema with a deprecated duckdb call
        warnings.filterwarnings("ignore", "fetch_arrow_table", DeprecationWarning)
        table = connection.create_table("t", pa.table({"x": [1.0, 2.0]}))
        assert engine_module.pilot_statistic(nw.from_native(table)) == "median"
    in_memory = nw.from_native(pa.table({"x": [1.0]})).lazy()
    assert engine_module.pilot_statistic(in_memory) == "median"
    assert "bigquery" in engine_module.NO_MEDIAN_BACKENDS
