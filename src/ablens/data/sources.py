"""Where an experiment's data live, and opening them: files, DuckDB, warehouses, Spark.

A source is a small frozen object (`PathSource`, `DuckDBSource`, `WarehouseSource`,
`SparkSource`) that an analysis plan names under ``source:``; `open_source` opens it and yields
what `ablens.analyze` takes for that engine, with the table's column names read from its schema
(no rows). Relative paths are taken relative to ``base`` (the plan file's folder), after
``${VARIABLE}`` expansion; secrets come from environment variables, never from the source itself.

A source may carry its cleaning: ``sql`` (a query in the source's own engine, in place of a
table) and ``filter`` (`RowFilter` conditions, all of which a row must meet). Both run where the
data live; the filter's values reach the engine as typed constants, never as SQL text.

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
from ablens.data._source import available_columns, database_error, read_file
from ablens.errors import ConfigError, DataError

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping, Sequence

__all__ = [
    "BACKENDS",
    "FILE_SUFFIXES",
    "FILTER_OPS",
    "SOURCE_KINDS",
    "WAREHOUSE_PARAMS",
    "WAREHOUSE_SECRETS",
    "Backend",
    "DataSource",
    "DuckDBSource",
    "FilterOp",
    "OpenedSource",
    "PathSource",
    "RowFilter",
    "SourceError",
    "SparkSource",
    "WarehouseSource",
    "filter_rows",
    "open_source",
]

Backend = Literal["postgres", "bigquery", "snowflake"]
#: Warehouses a source can name, each read through its Ibis backend.
BACKENDS: tuple[Backend, ...] = ("postgres", "bigquery", "snowflake")
#: The keys of a plan's ``source`` mapping, one per kind of source.
SOURCE_KINDS = ("path", "duckdb", "warehouse", "spark")
#: File endings a `PathSource` reads (parquet, or delimited text).
FILE_SUFFIXES = (".parquet", ".pq", ".csv", ".tsv", ".txt")

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
#: ``${VARIABLE}`` in a source path, expanded from the environment when the source is opened.
ENV_REFERENCE = re.compile(r"\$\{([^}]*)\}")
#: The name of the table a path source's ``sql`` reads (the file), e.g. ``FROM data``.
PATH_SQL_TABLE = "data"
#: The temporary DuckDB view holding a cleaned source (its ``sql`` and ``filter``).
_CLEANED_VIEW = "__ablens_source"

FilterOp = Literal["==", "!=", "<", "<=", ">", ">=", "in", "not-in", "is-null", "not-null"]
#: Comparisons a row filter takes: with one value, with a list (in, not-in), with none (nulls).
FILTER_OPS: tuple[FilterOp, ...] = (
    "==",
    "!=",
    "<",
    "<=",
    ">",
    ">=",
    "in",
    "not-in",
    "is-null",
    "not-null",
)
FilterValue: TypeAlias = str | int | float | bool


class SourceError(ConfigError):
    """A source cannot be opened as written: no such file or table, a variable not set.

    Attributes:
        key: The source key at fault (``"source.path"``), for the caller to locate.
    """

    def __init__(self, key: str, message: str) -> None:
        self.key = key
        super().__init__(message)


@dataclass(frozen=True)
class RowFilter:
    """One condition of a source's ``filter``: ``column op value``, run in the source's engine.

    The condition is built as an expression of the engine (through narwhals), so its value is
    a typed constant of the query, never text spliced into SQL; the column is matched against
    the table's columns before the query is built.

    Attributes:
        column: The column compared.
        op: One of `FILTER_OPS`: ``==``, ``!=``, ``<``, ``<=``, ``>``, ``>=`` (one value),
            ``in``, ``not-in`` (a list), ``is-null``, ``not-null`` (no value). NULLs meet no
            comparison but ``is-null`` (as in SQL).
        value: The value, a tuple of values for ``in``/``not-in``, None for the null tests.

    Examples:
        >>> import pandas as pd, narwhals as nw
        >>> frame = nw.from_native(pd.DataFrame({"country": ["DE", "FR", "US"], "n": [1, 2, 3]}))
        >>> keep = RowFilter("country", "in", ("DE", "FR"))
        >>> frame.filter(keep.expression())["n"].to_list()
        [1, 2]
        >>> keep.to_dict()
        {'column': 'country', 'op': 'in', 'value': ['DE', 'FR']}
    """

    column: str
    op: FilterOp = "=="
    value: FilterValue | tuple[FilterValue, ...] | None = None

    def expression(self) -> Any:  # noqa: ANN401 - a narwhals expression
        """The condition as a narwhals expression (compiled by each engine)."""
        nw = optional_import("narwhals", "data")
        column = nw.col(self.column)
        values = list(self.value) if isinstance(self.value, tuple) else [self.value]
        value = values[0]
        conditions: dict[str, Callable[[], Any]] = {
            "==": lambda: column == value,
            "!=": lambda: (column != value) & ~column.is_null(),
            "<": lambda: column < value,
            "<=": lambda: column <= value,
            ">": lambda: column > value,
            ">=": lambda: column >= value,
            "in": lambda: column.is_in(values),
            "not-in": lambda: ~column.is_in(values) & ~column.is_null(),
            "is-null": column.is_null,
            "not-null": lambda: ~column.is_null(),
        }
        return conditions[self.op]()

    def to_dict(self) -> dict[str, Any]:
        """The plan's mapping for this condition."""
        out: dict[str, Any] = {"column": self.column, "op": self.op}
        if self.value is not None:
            out["value"] = list(self.value) if isinstance(self.value, tuple) else self.value
        return out


def _cleaning(sql: str | None, row_filter: Sequence[RowFilter]) -> dict[str, Any]:
    """The ``sql`` and ``filter`` keys of a source mapping, those that are set."""
    out: dict[str, Any] = {}
    if sql is not None:
        out["sql"] = sql
    if row_filter:
        out["filter"] = [condition.to_dict() for condition in row_filter]
    return out


@dataclass(frozen=True)
class PathSource:
    """A parquet or CSV file, read by DuckDB (``source: {path: users.parquet}``).

    Attributes:
        path: The file; a relative path is relative to the plan file's folder, and
            ``${VARIABLE}`` is replaced by that environment variable's value.
        sql: A DuckDB query reading the file as the table ``data``, or None for the file.
        filter: Conditions every row analyzed meets (after ``sql``).
    """

    path: str
    sql: str | None = None
    filter: tuple[RowFilter, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """The plan's ``source`` mapping."""
        return {"path": self.path, **_cleaning(self.sql, self.filter)}


@dataclass(frozen=True)
class DuckDBSource:
    """A table of a DuckDB database file, opened read-only.

    Attributes:
        file: The database file; a relative path is relative to the plan file's folder, and
            ``${VARIABLE}`` is replaced by that environment variable's value.
        table: Table or view name (None when ``sql`` is given).
        sql: A query of the database, in place of ``table``.
        filter: Conditions every row analyzed meets.
    """

    file: str
    table: str | None = None
    sql: str | None = None
    filter: tuple[RowFilter, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """The plan's ``source`` mapping."""
        inner = (
            {"file": self.file} if self.table is None else {"file": self.file, "table": self.table}
        )
        return {"duckdb": inner, **_cleaning(self.sql, self.filter)}


@dataclass(frozen=True)
class WarehouseSource:
    """A warehouse table read through Ibis; the query runs in the warehouse.

    Attributes:
        backend: "postgres", "bigquery" or "snowflake".
        table: Table name (None when ``sql`` is given).
        params: Literal, non-secret connection parameters (host, port, user, ...).
        env: Connection parameter -> name of the environment variable holding its value
            (``password_env: PGPASSWORD`` becomes ``{"password": "PGPASSWORD"}``).
        sql: A query in the warehouse's SQL, in place of ``table``.
        filter: Conditions every row analyzed meets.
    """

    backend: Backend
    table: str | None
    params: Mapping[str, str | int] = field(default_factory=dict)
    env: Mapping[str, str] = field(default_factory=dict)
    sql: str | None = None
    filter: tuple[RowFilter, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """The plan's ``source`` mapping (environment variable names, never their values)."""
        inner: dict[str, Any] = {"backend": self.backend}
        if self.table is not None:
            inner["table"] = self.table
        inner.update(self.params)
        inner.update({f"{key}_env": name for key, name in self.env.items()})
        return {"warehouse": inner, **_cleaning(self.sql, self.filter)}


@dataclass(frozen=True)
class SparkSource:
    """A table of the active (or default) Spark session's catalog.

    Attributes:
        table: Table or view name, as ``spark.table`` takes it (None when ``sql`` is given).
        sql: A Spark SQL query, in place of ``table``.
        filter: Conditions every row analyzed meets.
    """

    table: str | None = None
    sql: str | None = None
    filter: tuple[RowFilter, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """The plan's ``source`` mapping."""
        inner = {} if self.table is None else {"table": self.table}
        return {"spark": inner, **_cleaning(self.sql, self.filter)}


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


def expand_env(text: str, key: str, where: Callable[[str], str]) -> str:
    """``text`` with each ``${VARIABLE}`` replaced by its value in the environment.

    Raises:
        SourceError: A variable is not set (or its name is not a variable name), at ``key``.

    Examples:
        >>> import os
        >>> os.environ["ABLENS_DOC_DATA"] = "/data"
        >>> expand_env("${ABLENS_DOC_DATA}/users.parquet", "source.path", str)
        '/data/users.parquet'
        >>> expand_env("${ABLENS_DOC_UNSET}/users.parquet", "source.path", str)
        Traceback (most recent call last):
        ...
        ablens.data.sources.SourceError: source.path: source.path names ${ABLENS_DOC_UNSET}, ...
    """

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        found = os.environ.get(name) if ENV_NAME.fullmatch(name) else None
        if found is None:
            state = "which is not set" if ENV_NAME.fullmatch(name) else "not a variable name"
            raise SourceError(
                key,
                f"{where(key)}: {key} names ${{{name}}}, {state} in the environment; set it "
                "(export NAME=...) or write the path out",
            )
        return found

    return ENV_REFERENCE.sub(value, text)


@contextmanager
def open_source(
    source: DataSource,
    *,
    base: Path | None = None,
    where: Callable[[str], str] = _no_location,
) -> Iterator[OpenedSource]:
    """Open a source for the length of a ``with`` block, and close what was opened.

    A source with ``sql`` or ``filter`` is opened as that query, filtered, in its own engine:
    for files and DuckDB a temporary view of the connection (so queries stay commented), for a
    warehouse an Ibis expression, for Spark a DataFrame.

    Args:
        source: The source.
        base: The folder relative file paths are relative to (the plan file's), or None for
            the working directory.
        where: Key (``"source.path"``) -> the prefix of its messages (``plan.yaml:3``).

    Yields:
        The open source.

    Raises:
        SourceError: No such file or table, an environment variable not set, a ``sql`` the
            engine refuses, or a ``filter`` naming a column the table lacks.
        DataError: The warehouse refuses the connection.
        ConfigError: Ibis cannot load the warehouse's backend.
    """
    if isinstance(source, PathSource):
        yield from _open_path(source, base, where)
    elif isinstance(source, DuckDBSource):
        yield from _open_duckdb(source, base, where)
    elif isinstance(source, WarehouseSource):
        backend = _connect_warehouse(source, where)
        try:
            if source.sql is not None:
                table = _query(where, source.sql, backend.sql)
            else:
                table = _table(where, "source.warehouse.table", source.table or "", backend.table)
            table = filter_rows(table, source.filter, where)
            yield OpenedSource(table, list(table.columns))
        finally:
            backend.disconnect()
    else:
        spark = optional_import("pyspark.sql", "spark")
        session = spark.SparkSession.builder.getOrCreate()
        if source.sql is not None:
            frame = _query(where, source.sql, session.sql)
        else:
            frame = _table(where, "source.spark.table", source.table or "", session.table)
        frame = filter_rows(frame, source.filter, where)
        yield OpenedSource(frame, list(frame.columns))


def _open_path(
    source: PathSource, base: Path | None, where: Callable[[str], str]
) -> Iterator[OpenedSource]:
    key = "source.path"
    path = resolve_path(expand_env(source.path, key, where), base)
    if not path.is_file():
        raise SourceError(key, f"{where(key)}: source.path: no such file {path}")
    duckdb = optional_import("duckdb", "duckdb")
    with duckdb.connect() as connection:
        try:
            relation = read_file(connection, path)
        except DataError as error:
            raise SourceError(key, f"{where(key)}: {key}: {error}") from None
        if source.sql is None and not source.filter:
            columns = list(relation.columns)
        else:
            relation.create_view(PATH_SQL_TABLE)
            yield _cleaned_view(connection, duckdb, relation, source, where)
            return
    yield OpenedSource(str(path), columns)


def _open_duckdb(
    source: DuckDBSource, base: Path | None, where: Callable[[str], str]
) -> Iterator[OpenedSource]:
    key = "source.duckdb.file"
    path = resolve_path(expand_env(source.file, key, where), base)
    if not path.is_file():
        raise SourceError(key, f"{where(key)}: source.duckdb.file: no such file {path}")
    duckdb = optional_import("duckdb", "duckdb")
    try:
        opened = duckdb.connect(str(path), read_only=True)
    except duckdb.Error as error:  # locked by a writer, not a database, a newer format
        raise SourceError(key, f"{where(key)}: {key}: {database_error(path, error)}") from None
    with opened as connection:
        if source.sql is not None:
            yield _cleaned_view(connection, duckdb, None, source, where)
            return
        table = source.table or ""
        try:
            relation = connection.table(table)
        except duckdb.Error:
            tables = sorted(row[0] for row in connection.sql("SHOW TABLES").fetchall())
            key = "source.duckdb.table"
            message = f"source.duckdb.table == {table!r} is not in {path}"
            raise SourceError(key, f"{where(key)}: {message}; tables: {tables}") from None
        if source.filter:
            yield _cleaned_view(connection, duckdb, relation, source, where)
        else:
            yield OpenedSource((connection, table), list(relation.columns))


def _cleaned_view(
    connection: Any,  # noqa: ANN401 - a DuckDB connection
    duckdb: Any,  # noqa: ANN401 - the duckdb module
    relation: Any,  # noqa: ANN401 - the table's DuckDB relation, or None to run ``sql``
    source: PathSource | DuckDBSource,
    where: Callable[[str], str],
) -> OpenedSource:
    """The source's ``sql`` and ``filter`` as a temporary view of ``connection``.

    The view's SQL is DuckDB's own rendering of the filtered relation (values as constants
    it quotes), so the analysis queries that read the view stay commented.
    """
    if source.sql is not None:
        relation = _duckdb_query(connection, duckdb, source.sql, where)
    relation = filter_rows(relation, source.filter, where)
    try:
        connection.execute(f"CREATE TEMP VIEW {_CLEANED_VIEW} AS {relation.sql_query()}")
        columns = list(connection.table(_CLEANED_VIEW).columns)
    except duckdb.Error as error:
        key = "source.filter" if source.filter else "source.sql"
        raise SourceError(key, f"{where(key)}: {key} cannot be run: {_first_line(error)}") from None
    return OpenedSource((connection, _CLEANED_VIEW), columns)


def _check_value_type(
    condition: RowFilter,
    dtype: Any,  # noqa: ANN401 - a narwhals dtype
    key: str,
    where: Callable[[str], str],
) -> None:
    """A value must suit its column: engines would fail (or cast) only while reading rows."""
    nw = optional_import("narwhals", "data")
    values = condition.value if isinstance(condition.value, tuple) else (condition.value,)
    if condition.value is None:
        return
    if dtype == nw.Boolean:
        fits, kind = all(isinstance(v, bool) for v in values), "true or false"
    elif dtype.is_numeric():
        fits = all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)
        kind = "a number"
    elif dtype == nw.String:
        fits, kind = all(isinstance(v, str) for v in values), "a string (quote it)"
    else:  # dates and the rest: the engine casts the text
        return
    if not fits:
        path = f"{key}.value"
        shown = list(condition.value) if isinstance(condition.value, tuple) else condition.value
        raise SourceError(
            path,
            f"{where(path)}: {path} == {shown!r}, must be {kind}: column "
            f"{condition.column!r} has type {dtype}",
        )


def _duckdb_query(
    connection: Any,  # noqa: ANN401 - a DuckDB connection
    duckdb: Any,  # noqa: ANN401 - the duckdb module
    sql: str,
    where: Callable[[str], str],
) -> Any:  # noqa: ANN401 - a DuckDB relation
    """The relation of a source's ``sql``: one SELECT (never a statement that writes)."""
    key = "source.sql"
    try:
        statements = connection.extract_statements(sql)
        if len(statements) != 1 or statements[0].type != duckdb.StatementType.SELECT:
            kinds = ", ".join(statement.type.name for statement in statements) or "nothing"
            raise SourceError(
                key,
                f"{where(key)}: {key} must be one SELECT query (WITH ... SELECT), found {kinds}",
            )
        return connection.sql(sql)
    except duckdb.Error as error:
        raise SourceError(key, f"{where(key)}: {key} cannot be run: {_first_line(error)}") from None


def filter_rows(
    native: Any,  # noqa: ANN401 - a DuckDB relation, Ibis table, Spark or pandas DataFrame
    row_filter: Sequence[RowFilter],
    where: Callable[[str], str] = _no_location,
) -> Any:  # noqa: ANN401 - the same kind of table
    """``native`` with the rows that meet every condition, in its own engine.

    Args:
        native: Any table narwhals reads (a DuckDB relation, an Ibis table, a pandas, polars
            or Spark DataFrame).
        row_filter: The conditions, all of which a row must meet.
        where: Key -> the prefix of its messages.

    Returns:
        The same kind of table (lazy where the input was), or ``native`` without conditions.

    Raises:
        SourceError: A condition names a column the table lacks, or the engine refuses it.

    Examples:
        >>> import pandas as pd
        >>> frame = pd.DataFrame({"bot": [True, False, False], "revenue": [9.0, 1.0, 2.0]})
        >>> filter_rows(frame, [RowFilter("bot", "==", False)])["revenue"].tolist()
        [1.0, 2.0]
        >>> filter_rows(frame, [RowFilter("country", "==", "DE")])
        Traceback (most recent call last):
        ...
        ablens.data.sources.SourceError: source: source.filter[0].column == 'country' is not ...
    """
    if not row_filter:
        return native
    nw = optional_import("narwhals", "data")
    try:
        frame = nw.from_native(native)
    except TypeError:
        key = "source.filter"
        raise SourceError(
            key,
            f"{where(key)}: {key} cannot filter a {type(native).__name__}; give a pandas, polars "
            "or pyarrow table, a DuckDB relation, an Ibis table or a Spark DataFrame",
        ) from None
    schema = frame.collect_schema()
    available = list(schema.names())
    for index, condition in enumerate(row_filter):
        if condition.column not in available:
            key = f"source.filter[{index}].column"
            raise SourceError(
                key,
                f"{where(key)}: {key} == {condition.column!r} is not a column of the data; "
                f"{available_columns(available)}",
            )
        _check_value_type(condition, schema[condition.column], f"source.filter[{index}]", where)
    try:
        filtered = frame.filter(*(condition.expression() for condition in row_filter))
    except Exception as error:  # each engine raises its own types (a value of the wrong type)
        key = "source.filter"
        raise SourceError(key, f"{where(key)}: {key} cannot be run: {_first_line(error)}") from None
    return nw.to_native(filtered)


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


def _query(where: Callable[[str], str], sql: str, run: Callable[[str], Any]) -> Any:  # noqa: ANN401
    """``run(sql)`` (a warehouse's or Spark's query), a failure reported at ``source.sql``."""
    key = "source.sql"
    try:
        return run(sql)
    except Exception as error:  # each engine raises its own exception types
        raise SourceError(key, f"{where(key)}: {key} cannot be run: {_first_line(error)}") from None


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
