"""One pyarrow table, materialised on every engine `ablens.data.compute_moments` accepts.

`Tables.make(backend, key, table, request)` returns the native object of ``backend`` holding
``table`` (cached per ``(backend, key)``, so one engine table serves several tests); `close`
drops the PostgreSQL tables and closes the DuckDB connections it made. PostgreSQL and Spark come
from the session fixtures ``ibis_postgres`` and ``spark`` (see ``tests/conftest.py``), requested
only when a test asks for those backends, so the other backends run without them.
"""

from __future__ import annotations

import uuid
import warnings
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from ablens import Mean, Proportion, Ratio

if TYPE_CHECKING:
    from pathlib import Path

    import pytest

#: Backends that need nothing but installed Python packages.
LOCAL_BACKENDS = (
    "pandas",
    "polars",
    "polars-lazy",
    "pyarrow",
    "duckdb-relation",
    "duckdb-table",
    "parquet",
    "csv",
    "ibis-memtable",
    "ibis-duckdb",
)
#: Backends that need a server or a JVM (PostgreSQL through ibis, PySpark).
ENGINE_BACKENDS = ("postgres", "spark")
ALL_BACKENDS = LOCAL_BACKENDS + ENGINE_BACKENDS

#: Every metric computed from moments alone (means, rates, ratios, with and without covariates),
#: on the columns revenue, converted, orders, sessions, pre_revenue and pre_sessions.
MOMENT_METRICS = (
    Mean("revenue"),
    Mean("revenue", name="revenue (CUPED)", covariates=("pre_revenue",)),
    Mean(
        "revenue",
        name="revenue (regression)",
        covariates=("pre_revenue", "pre_sessions"),
        adjustment="regression",
    ),
    Proportion("converted"),
    Proportion("converted", name="converted (CUPED)", covariates=("pre_revenue",)),
    Ratio("orders", "sessions"),
    Ratio("orders", "sessions", name="orders / sessions (CUPED)", covariates=("pre_sessions",)),
)


def drop_postgres_table(backend: Any, name: str) -> None:
    """Drop a PostgreSQL table through raw SQL.

    With sqlglot >= 30.18, ibis 12's ``drop_table`` renders a bare ``DROP TABLE`` (the name is
    lost, ibis-project/ibis#12101), so it is avoided here whatever sqlglot is installed.
    """
    backend.raw_sql(f'DROP TABLE IF EXISTS "{name}"').close()


class Tables:
    """Materialises pyarrow tables on the engines; remembers what to clean up."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._cache: dict[tuple[str, str], object] = {}
        self._closers: list[Any] = []
        self._postgres: list[tuple[Any, str]] = []

    def __enter__(self) -> Tables:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        """Drop every PostgreSQL table made here; close every DuckDB connection."""
        for backend, name in self._postgres:
            drop_postgres_table(backend, name)
        for close in self._closers:
            close()
        self._postgres.clear()
        self._closers.clear()
        self._cache.clear()

    def make(
        self, backend: str, key: str, table: pa.Table, request: pytest.FixtureRequest
    ) -> object:
        """``table`` as a native object of ``backend`` (cached under ``(backend, key)``)."""
        cached = self._cache.get((backend, key))
        if cached is None:
            cached = self._make(backend, key, table, request)
            self._cache[backend, key] = cached
        return cached

    def _duckdb_connection(self) -> Any:
        import duckdb  # noqa: PLC0415

        connection = duckdb.connect()
        self._closers.append(connection.close)
        return connection

    def _make(
        self, backend: str, key: str, table: pa.Table, request: pytest.FixtureRequest
    ) -> object:
        if backend == "pandas":
            return table.to_pandas()
        if backend in {"polars", "polars-lazy"}:
            import polars as pl  # noqa: PLC0415

            frame = pl.from_arrow(table)
            return frame.lazy() if backend == "polars-lazy" else frame
        if backend == "pyarrow":
            return table
        if backend in {"duckdb-relation", "duckdb-table"}:
            connection = self._duckdb_connection()
            connection.register("__arrow", table)
            connection.execute(f'CREATE TABLE "{key}" AS SELECT * FROM __arrow')  # noqa: S608
            connection.unregister("__arrow")
            if backend == "duckdb-table":
                return (connection, key)
            return connection.table(key)
        if backend == "parquet":
            path = self.directory / f"{key}.parquet"
            pq.write_table(table, path, row_group_size=max(1, table.num_rows // 3))
            return path
        if backend == "csv":
            path = self.directory / f"{key}.csv"
            pa_csv.write_csv(table, path)
            return str(path)
        if backend == "ibis-memtable":
            import ibis  # noqa: PLC0415

            return ibis.memtable(table)
        if backend == "ibis-duckdb":
            import ibis  # noqa: PLC0415

            # ibis 12's create_table fails with sqlglot >= 30.18 (it renders a bare "DROP VIEW IF
            # EXISTS"), so the table is made through the backend's own DuckDB connection.
            connection = ibis.duckdb.connect()
            self._closers.append(connection.disconnect)
            connection.con.register("__arrow", table)
            connection.con.execute(f'CREATE TABLE "{key}" AS SELECT * FROM __arrow')  # noqa: S608
            connection.con.unregister("__arrow")
            with warnings.catch_warnings():
                # ibis 12 reads the schema with duckdb's fetch_arrow_table, deprecated in 2.0.
                warnings.filterwarnings("ignore", "fetch_arrow_table", DeprecationWarning)
                return connection.table(key)
        if backend == "postgres":
            ibis_postgres = request.getfixturevalue("ibis_postgres")
            name = f"ablens_{key}_{uuid.uuid4().hex[:8]}"
            created = ibis_postgres.create_table(name, table)
            self._postgres.append((ibis_postgres, name))
            return created
        if backend == "spark":
            spark = request.getfixturevalue("spark")
            return spark.createDataFrame(table)
        raise AssertionError(f"unknown backend {backend!r}")
