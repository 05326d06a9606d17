"""The data package's internal contract: input resolution and the shared query helpers.

Resolving any input to a lazy frame, commented SQL for cost attribution, collection on each
engine, and the column, arm and NULL checks with their uniform messages.

Only modules of `ablens.data` import this; the layers above call the public functions of
`ablens.data` (`compute_moments`, `read_history`, ...), so that the data layer stays the one place
that builds queries.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ablens._validation import optional_import
from ablens.errors import DataError, InputError

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence


@dataclass
class Source:
    """A narwhals LazyFrame plus what is needed to send commented SQL, when we can."""

    frame: Any  # narwhals.LazyFrame
    kind: str  # "duckdb", "ibis", "spark", "polars", "pandas", "pyarrow", ...
    duckdb_connection: Any = None  # set when ablens owns or was given the DuckDB connection


def is_duckdb_connection(value: object) -> bool:
    return type(value).__module__.split(".")[0] in {"duckdb", "_duckdb"} and hasattr(value, "table")


def resolve(data: object) -> Source:
    nw = optional_import("narwhals", "data")
    if isinstance(data, str | Path):
        return resolve_path(Path(data), nw)
    if (
        isinstance(data, tuple)
        and len(data) == 2
        and is_duckdb_connection(data[0])
        and isinstance(data[1], str)
    ):
        connection, table = data
        if not table:
            raise InputError("table == '', must name a table or view of the DuckDB connection")
        try:
            relation = connection.table(table)
        except Exception as error:  # duckdb.CatalogException and friends: name the table
            raise DataError(
                f"table {table!r} cannot be read from the DuckDB connection: {error}"
            ) from None
        return Source(nw.from_native(relation), "duckdb", connection)
    try:
        frame = nw.from_native(data)
    except TypeError:
        raise InputError(
            f"data is a {type(data).__module__}.{type(data).__name__}, must be a pandas, polars "
            "or pyarrow table, a polars LazyFrame, a DuckDB relation, a (duckdb connection, "
            "'table') pair, a parquet/CSV path, an Ibis table or a PySpark DataFrame"
        ) from None
    if isinstance(frame, nw.DataFrame):
        frame = frame.lazy()
    kind = str(frame.implementation).split(".")[-1].lower()
    return Source(frame, kind)


def resolve_path(path: Path, nw: Any) -> Source:  # noqa: ANN401 - narwhals module
    duckdb = optional_import("duckdb", "duckdb")
    if not path.exists():
        raise InputError(f"data == {str(path)!r}: no such file; check the path")
    suffix = path.suffix.lower()
    connection = duckdb.connect()
    if suffix in {".parquet", ".pq"}:
        relation = connection.read_parquet(str(path))
    elif suffix in {".csv", ".tsv", ".txt"}:
        relation = connection.read_csv(str(path))
    else:
        raise InputError(
            f"data == {str(path)!r} has suffix {suffix!r}, must be .parquet, .pq, .csv or .tsv"
        )
    return Source(nw.from_native(relation), "duckdb", connection)


def check_columns(frame: Any, variant: str, columns: Sequence[str], others: Sequence[str]) -> None:  # noqa: ANN401
    nw = optional_import("narwhals", "data")
    schema = frame.collect_schema()
    available = list(schema.names())
    for name in (variant, *columns, *others):
        if name not in schema:
            raise DataError(f"column {name!r} is not in the data; available columns: {available}")
    for name in columns:
        dtype = schema[name]
        if not (dtype.is_numeric() or dtype == nw.Boolean):
            raise DataError(
                f"column {name!r} has type {dtype}, must be numeric or boolean to be a metric; "
                "cast it or choose another column"
            )


def query_comment(experiment_id: str | None, team: str | None) -> str:
    parts = ["ablens"]
    if experiment_id:
        parts.append(f"experiment={experiment_id}")
    if team:
        parts.append(f"team={team}")
    text = " ".join(parts)
    # Comments nest in some engines (DuckDB, Postgres): neutralise both delimiters.
    return "/* " + text.replace("/*", "/ *").replace("*/", "* /") + " */"


def collect(
    source: Source,
    query: Any,  # noqa: ANN401 - a narwhals LazyFrame
    comment: str,
    experiment_id: str | None = None,
    team: str | None = None,
) -> tuple[list[dict[str, Any]], list[str]]:
    """Run the query where it lives; send commented SQL where the engine allows."""
    nw = optional_import("narwhals", "data")
    native = nw.to_native(query)
    if source.kind == "duckdb" and source.duckdb_connection is not None:
        sql = f"{comment}\n{native.sql_query()}"
        cursor = source.duckdb_connection.sql(sql)
        names = cursor.columns
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()], [sql]
    if source.kind == "duckdb":
        # A relation without its connection: fetch its rows directly (no pyarrow needed, unlike
        # narwhals' collect), uncommented since the SQL cannot be re-sent on its connection.
        names = native.columns
        return [dict(zip(names, row, strict=True)) for row in native.fetchall()], []
    if source.kind == "ibis" and not has_memtables(native):
        backend = native.get_backend()
        sql = f"{comment}\n{ibis_sql(native, backend.name)}"
        if backend.name == "snowflake":  # Snowflake strips leading comments from its history
            sql += f"\n{comment}"
        return run_ibis_sql(backend, sql, experiment_id, team), [sql]
    if source.kind == "pyspark":
        return collect_spark(native, query, comment, experiment_id), []
    return rows(query.collect()), []


def rows(frame: Any) -> list[dict[str, Any]]:  # noqa: ANN401 - a narwhals DataFrame
    columns = frame.to_dict(as_series=False)
    names = list(columns)
    count = len(columns[names[0]]) if names else 0
    return [{name: columns[name][i] for name in names} for i in range(count)]


def collect_spark(
    native: Any,  # noqa: ANN401 - a pyspark DataFrame
    query: Any,  # noqa: ANN401 - a narwhals LazyFrame
    comment: str,
    experiment_id: str | None,
) -> list[dict[str, Any]]:
    """Run on Spark inside a job group named after the experiment.

    The thread's previous group and description are restored afterwards, so later jobs are not
    attributed to the experiment.
    """
    context = native.sparkSession.sparkContext
    keys = ("spark.jobGroup.id", "spark.job.description", "spark.job.interruptOnCancel")
    previous = {key: context.getLocalProperty(key) for key in keys}
    context.setJobGroup(f"ablens-{experiment_id or 'analysis'}", comment, interruptOnCancel=False)
    try:
        return rows(query.collect())
    finally:
        for key, value in previous.items():
            context.setLocalProperty(key, value)


def has_memtables(expression: Any) -> bool:  # noqa: ANN401 - an ibis expression
    """Whether the expression reads an in-memory table.

    Ibis registers those only when it executes the expression itself; raw SQL cannot see them,
    so such (local, free) queries run through ibis, uncommented.
    """
    operations = optional_import("ibis.expr.operations", "ibis")
    return bool(expression.op().find(operations.InMemoryTable))


def run_ibis_sql(
    backend: Any,  # noqa: ANN401 - an ibis backend
    sql: str,
    experiment_id: str | None,
    team: str | None,
) -> list[dict[str, Any]]:
    if backend.name == "bigquery":  # pragma: no cover - needs a BigQuery account
        bigquery = optional_import("google.cloud.bigquery", "ibis")
        config = bigquery.QueryJobConfig(labels=bigquery_labels(experiment_id, team))
        return [dict(row.items()) for row in backend.raw_sql(sql, query_job_config=config)]
    cursor = backend.raw_sql(sql)
    try:
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    finally:
        # Some backends (DuckDB) hand back their own connection as the cursor: keep it open.
        if cursor is not getattr(backend, "con", None) and hasattr(cursor, "close"):
            cursor.close()


def check_arms(
    arm_rows: Mapping[str, int], variant: str, expected_arms: Sequence[str] | None
) -> None:
    if expected_arms is None:
        return
    unknown = {a: n for a, n in arm_rows.items() if a not in expected_arms}
    if unknown:
        listed = ", ".join(
            f"{a!r} ({n:,} row{'s' if n != 1 else ''})" for a, n in sorted(unknown.items())
        )
        raise DataError(
            f"column {variant!r} holds labels not in the plan's arms {list(expected_arms)}: "
            f"{listed}; fix the labels or declare the arms"
        )
    missing = [a for a in expected_arms if a not in arm_rows]
    if missing:
        raise DataError(
            f"arm(s) {missing} have no rows in column {variant!r} (found {sorted(arm_rows)})"
        )


def check_nulls(
    rows: list[dict[str, Any]], columns: Sequence[str], segments: Sequence[str]
) -> None:
    for r in rows:
        for i, column in enumerate(columns):
            nulls = int(r["__n"]) - int(r[f"__nn{i}"])
            if not nulls:
                continue
            where = f"arm {r['__arm']!r}"
            if segments:
                where += f", segment {dict(zip(segments, (r[s] for s in segments), strict=True))}"
            raise DataError(
                f"column {column!r} has {nulls:,} NULL value(s) in {where}; fill them "
                "(e.g. 0 for no revenue) or filter the rows before analysis"
            )


def ibis_sql(expression: Any, dialect: str) -> str:  # noqa: ANN401 - an ibis expression
    """Compile an Ibis expression to SQL text for ``dialect`` ("postgres", "bigquery", ...)."""
    ibis = optional_import("ibis", "ibis")
    return str(ibis.to_sql(expression, dialect=dialect))


def bigquery_labels(experiment_id: str | None, team: str | None) -> dict[str, str]:
    """BigQuery job labels for cost attribution (lowercase letters, digits, ``_`` and ``-``).

    Examples:
        >>> bigquery_labels("Checkout Test #7", "Growth")
        {'ablens_experiment': 'checkout_test__7', 'ablens_team': 'growth'}
    """

    def clean(value: str) -> str:
        text = "".join(ch if ch.isalnum() or ch in "_-" else "_" for ch in value.lower())
        return text[:63]

    labels = {"ablens_experiment": clean(experiment_id or "analysis")}
    if team:
        labels["ablens_team"] = clean(team)
    return labels
