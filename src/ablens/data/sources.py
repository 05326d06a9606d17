"""Where an experiment's data live, and opening them: files, DuckDB, warehouses, Spark.

A source is a small frozen object (`PathSource`, `DuckDBSource`, `WarehouseSource`,
`SparkSource`) that an analysis plan names under ``source:``; `open_source` opens it and yields
what `ablens.analyze` takes for that engine, with the table's column names read from its schema
(no rows). Relative paths are taken relative to ``base`` (the plan file's folder); secrets come
from environment variables, never from the source itself.

>>> import duckdb, pathlib, tempfile
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> with duckdb.connect(str(folder / "shop.duckdb")) as connection:
...     _ = connection.sql("CREATE TABLE users AS SELECT 'a' AS variant, 1.0 AS revenue")
>>> with open_source(DuckDBSource("shop.duckdb", "users"), base=folder) as opened:
...     opened.columns
['variant', 'revenue']

Errors name the source key that failed (``source.duckdb.table == 'x' is not in ...``), prefixed
by ``where(key)``, which an analysis plan maps to ``file:line``.
"""

from __future__ import annotations

import os
import re
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeAlias

from ablens._validation import optional_import
from ablens.errors import ConfigError, DataError

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping, Sequence

__all__ = [
    "BACKENDS",
    "FILE_SUFFIXES",
    "SOURCE_KINDS",
    "WAREHOUSE_PARAMS",
    "WAREHOUSE_SECRETS",
    "Backend",
    "DataSource",
    "DuckDBSource",
    "OpenedSource",
    "PathSource",
    "SourceError",
    "SparkSource",
    "WarehouseSource",
    "open_source",
]

Backend = Literal["postgres", "bigquery", "snowflake"]
#: Warehouses a source can name, each read through its Ibis backend.
BACKENDS: tuple[Backend, ...] = ("postgres", "bigquery", "snowflake")
#: The keys of a plan's ``source`` mapping, one per kind of source.
SOURCE_KINDS = ("path", "duckdb", "warehouse", "spark")
#: File endings a `PathSource` reads (parquet, or delimited text).
FILE_SUFFIXES = (".parquet", ".pq", ".csv", ".tsv", ".txt")
_PARQUET_SUFFIXES = (".parquet", ".pq")

#: Connection parameters each warehouse backend takes (any may instead be read from an
#: environment variable: ``<param>_env: VARIABLE``), and the secret ones, which may only be.
WAREHOUSE_PARAMS: dict[Backend, tuple[str, ...]] = {
    "postgres": ("host", "port", "user", "database", "schema"),
    "bigquery": ("project_id", "dataset_id", "location"),
    "snowflake": ("account", "user", "database", "schema", "warehouse", "role"),
}
WAREHOUSE_SECRETS: dict[Backend, tuple[str, ...]] = {
    "postgres": ("password",),
    "bigquery": (),  # Google's default credentials: GOOGLE_APPLICATION_CREDENTIALS
    "snowflake": ("password",),
}
#: Words that mark a connection key as a secret, and the usual variable that holds each.
SECRET_WORDS = ("password", "passwd", "secret", "token", "private_key", "api_key", "credentials")
SECRET_ENV_HINT = {"postgres": "PGPASSWORD", "snowflake": "SNOWFLAKE_PASSWORD"}
ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class SourceError(ConfigError):
    """A source cannot be opened as written: no such file or table, a variable not set.

    Attributes:
        key: The source key at fault (``"source.path"``), for the caller to locate.
    """

    def __init__(self, key: str, message: str) -> None:
        self.key = key
        super().__init__(message)


@dataclass(frozen=True)
class PathSource:
    """A parquet or CSV file, read by DuckDB (``source: {path: users.parquet}``).

    Attributes:
        path: The file; a relative path is relative to the plan file's folder.
    """

    path: str

    def to_dict(self) -> dict[str, Any]:
        """The plan's ``source`` mapping."""
        return {"path": self.path}


@dataclass(frozen=True)
class DuckDBSource:
    """A table of a DuckDB database file, opened read-only.

    Attributes:
        file: The database file; a relative path is relative to the plan file's folder.
        table: Table or view name.
    """

    file: str
    table: str

    def to_dict(self) -> dict[str, Any]:
        """The plan's ``source`` mapping."""
        return {"duckdb": {"file": self.file, "table": self.table}}


@dataclass(frozen=True)
class WarehouseSource:
    """A warehouse table read through Ibis; the query runs in the warehouse.

    Attributes:
        backend: "postgres", "bigquery" or "snowflake".
        table: Table name.
        params: Literal, non-secret connection parameters (host, port, user, ...).
        env: Connection parameter -> name of the environment variable holding its value
            (``password_env: PGPASSWORD`` becomes ``{"password": "PGPASSWORD"}``).
    """

    backend: Backend
    table: str
    params: Mapping[str, str | int] = field(default_factory=dict)
    env: Mapping[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The plan's ``source`` mapping (environment variable names, never their values)."""
        inner: dict[str, Any] = {"backend": self.backend, "table": self.table}
        inner.update(self.params)
        inner.update({f"{key}_env": name for key, name in self.env.items()})
        return {"warehouse": inner}


@dataclass(frozen=True)
class SparkSource:
    """A table of the active (or default) Spark session's catalog.

    Attributes:
        table: Table or view name, as ``spark.table`` takes it.
    """

    table: str

    def to_dict(self) -> dict[str, Any]:
        """The plan's ``source`` mapping."""
        return {"spark": {"table": self.table}}


DataSource: TypeAlias = PathSource | DuckDBSource | WarehouseSource | SparkSource


@dataclass(frozen=True)
class OpenedSource:
    """An open source: what `ablens.analyze` takes for it, and the table's column names.

    Attributes:
        table: A file path, a ``(DuckDB connection, table name)`` pair, an Ibis table or a
            Spark DataFrame.
        columns: The table's column names, read from its schema.
    """

    table: object
    columns: Sequence[str]


def _no_location(key: str) -> str:
    return key.split(".", 1)[0] if key else "source"


def resolve_path(file: str, base: Path | None) -> Path:
    """``file`` with ``~`` expanded, relative to ``base`` when relative and ``base`` is given."""
    path = Path(file).expanduser()
    if not path.is_absolute() and base is not None:
        path = base / path
    return path


@contextmanager
def open_source(
    source: DataSource,
    *,
    base: Path | None = None,
    where: Callable[[str], str] = _no_location,
) -> Iterator[OpenedSource]:
    """Open a source for the length of a ``with`` block, and close what was opened.

    Args:
        source: The source.
        base: The folder relative file paths are relative to (the plan file's), or None for
            the working directory.
        where: Key (``"source.path"``) -> the prefix of its messages (``plan.yaml:3``).

    Yields:
        The open source.

    Raises:
        SourceError: No such file or table, or an environment variable not set.
        DataError: The warehouse refuses the connection.
        ConfigError: Ibis cannot load the warehouse's backend.
    """
    if isinstance(source, PathSource):
        path = resolve_path(source.path, base)
        if not path.is_file():
            key = "source.path"
            raise SourceError(key, f"{where(key)}: source.path: no such file {path}")
        duckdb = optional_import("duckdb", "duckdb")
        with duckdb.connect() as connection:
            read = (
                connection.read_parquet
                if path.suffix.lower() in _PARQUET_SUFFIXES
                else connection.read_csv
            )
            columns = list(read(str(path)).columns)
        yield OpenedSource(str(path), columns)
    elif isinstance(source, DuckDBSource):
        yield from _open_duckdb(source, base, where)
    elif isinstance(source, WarehouseSource):
        backend = _connect_warehouse(source, where)
        try:
            table = _table(where, "source.warehouse.table", source.table, backend.table)
            yield OpenedSource(table, list(table.columns))
        finally:
            backend.disconnect()
    else:
        sql = optional_import("pyspark.sql", "spark")
        session = sql.SparkSession.builder.getOrCreate()
        frame = _table(where, "source.spark.table", source.table, session.table)
        yield OpenedSource(frame, list(frame.columns))


def _open_duckdb(
    source: DuckDBSource, base: Path | None, where: Callable[[str], str]
) -> Iterator[OpenedSource]:
    path = resolve_path(source.file, base)
    if not path.is_file():
        key = "source.duckdb.file"
        raise SourceError(key, f"{where(key)}: source.duckdb.file: no such file {path}")
    duckdb = optional_import("duckdb", "duckdb")
    with duckdb.connect(str(path), read_only=True) as connection:
        try:
            columns = list(connection.table(source.table).columns)
        except duckdb.Error:
            tables = sorted(row[0] for row in connection.sql("SHOW TABLES").fetchall())
            key = "source.duckdb.table"
            message = f"source.duckdb.table == {source.table!r} is not in {path}"
            raise SourceError(key, f"{where(key)}: {message}; tables: {tables}") from None
        yield OpenedSource((connection, source.table), columns)


def _first_line(error: Exception) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def _table(where: Callable[[str], str], key: str, name: str, read: Callable[[str], Any]) -> Any:  # noqa: ANN401
    """``read(name)``, with a failure (no such table, no access) reported at ``key``."""
    try:
        return read(name)
    except Exception as error:  # each engine raises its own exception types
        raise SourceError(
            key, f"{where(key)}: {key} == {name!r} cannot be read: {_first_line(error)}"
        ) from None


def _connect_warehouse(source: WarehouseSource, where: Callable[[str], str]) -> Any:  # noqa: ANN401 - ibis
    """An Ibis backend connected with the source's parameters and secrets from the environment."""
    kwargs: dict[str, Any] = dict(source.params)
    for key, variable in source.env.items():
        value = os.environ.get(variable)
        if value is None:
            path = f"source.warehouse.{key}_env"
            message = f"source.warehouse.{key}_env names {variable}, which is not set"
            raise SourceError(path, f"{where(path)}: {message} in the environment")
        kwargs[key] = value
    if source.backend == "snowflake" and "schema" in kwargs:
        # Ibis takes Snowflake's database and schema as one "database/schema" string.
        kwargs["database"] = f"{kwargs.get('database', '')}/{kwargs.pop('schema')}"
    ibis = optional_import("ibis", "postgres" if source.backend == "postgres" else "ibis")
    try:
        connect = getattr(ibis, source.backend).connect
    except (AttributeError, ImportError) as error:
        raise ConfigError(
            f"{where('source.warehouse.backend')}: Ibis cannot load its {source.backend} "
            f"backend ({error}); install it: pip install 'ibis-framework[{source.backend}]'"
        ) from None
    try:
        return connect(**kwargs)
    except Exception as error:  # drivers raise their own types (psycopg.OperationalError, ...)
        raise DataError(
            f"{where('source.warehouse')}: cannot connect to {source.backend}: {_first_line(error)}"
        ) from None
