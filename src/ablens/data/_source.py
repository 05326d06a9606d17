"""The data package's internal contract: input resolution and the shared query helpers.

Resolving any input to a lazy frame, commented SQL for cost attribution, collection on each
engine, and the column, arm and NULL checks with their uniform messages.

Only modules of `ablens.data` import this; the layers above call the public functions of
`ablens.data` (`compute_moments`, `read_history`, ...), so that the data layer stays the one place
that builds queries.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from numbers import Number
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ablens._validation import optional_import
from ablens.errors import DataError, InputError

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence


@dataclass
class Source:
    """A narwhals LazyFrame plus what is needed to send commented SQL, when we can."""

    frame: Any  # narwhals.LazyFrame
    kind: str  # "duckdb", "ibis", "spark", "polars", "pandas", "pyarrow", ...
    duckdb_connection: Any = None  # set when ablens owns or was given the DuckDB connection
    file: Path | None = None  # the file read, when ablens opened one (for its read errors)
    names: list[str] | None = None  # the column names, once read
    eager: Any = None  # the narwhals DataFrame behind ``frame``, for an in-memory table
    wide: bool = False  # a file with very many columns: `narrow` copies the few it needs

    def columns(self) -> list[str]:
        """The table's column names, read once (a wide lazy frame's schema is not free)."""
        if self.names is None:
            self.names = column_names(self.frame)
        return self.names


class InternalNames:
    """Names for ablens' own columns that none of the table's columns can take.

    Every internal name is a prefix plus a suffix (``"__" + "n"``); the prefix is ``"__"``, with
    one more underscore for as long as a column of the table starts with it. So a user's
    column named ``__n`` or ``__arm`` is never shadowed, and the usual SQL keeps its usual names.

    Examples:
        >>> InternalNames(["variant", "x"])("n")
        '__n'
        >>> InternalNames(["variant", "__n", "___arm"])("n")
        '____n'
    """

    def __init__(self, columns: Iterable[str]) -> None:
        taken = [c for c in columns if c.startswith("__")]
        prefix = "__"
        while any(c.startswith(prefix) for c in taken):
            prefix += "_"
        self.prefix = prefix

    def __call__(self, suffix: str) -> str:
        """The internal column named ``suffix`` (``"n"`` -> ``"__n"``)."""
        return self.prefix + suffix


def available_columns(available: Sequence[str], shown: int = 50) -> str:
    """The columns a message offers: all of them, or the first ``shown`` of a wide table.

    Examples:
        >>> available_columns(["a", "b"])
        "available columns: ['a', 'b']"
        >>> available_columns([f"c{i}" for i in range(5_000)], shown=2)
        "available columns (5,000, the first 2): ['c0', 'c1']"
    """
    names = list(available)
    if len(names) <= shown:
        return f"available columns: {names}"
    return f"available columns ({len(names):,}, the first {shown}): {names[:shown]}"


def column_names(frame: Any) -> list[str]:  # noqa: ANN401 - a narwhals LazyFrame
    """The names of ``frame``'s columns (no rows are read)."""
    return [str(c) for c in frame.columns]


def narrow(source: Source, columns: Iterable[str]) -> Source:
    """``source`` reading only ``columns`` (in that order, repeats dropped).

    Every query of an analysis starts from this: a table with thousands of columns then costs
    what one with the few named costs (schemas, query text and engine plans stay small).
    """
    nw = optional_import("narwhals", "data")
    wanted = list(dict.fromkeys(columns))
    if source.eager is not None:
        # In memory, the selection is free (the columns are shared), and the lazy queries
        # then plan over the few columns instead of all of them.
        eager = source.eager.select(*(nw.col(c) for c in wanted))
        return Source(eager.lazy(), source.kind, names=wanted, eager=eager)
    frame = source.frame.select(*(nw.col(c) for c in wanted))
    if source.wide and source.duckdb_connection is not None and source.file is not None:
        # Every query over a relation of a 100,000-column CSV binds all its columns again
        # (a second each): read the few needed columns once into a temporary table.
        duckdb = optional_import("duckdb", "duckdb")
        import secrets  # noqa: PLC0415 - loads hashlib and hmac: only for wide CSV files

        table = f"ablens_columns_{secrets.token_hex(8)}"
        try:
            frame.to_native().create(table)
        except duckdb.Error as error:
            raise file_error(source.file, error) from None
        frame = nw.from_native(source.duckdb_connection.table(table))
    return Source(frame, source.kind, source.duckdb_connection, source.file, names=wanted)


def is_null_key(value: object) -> bool:
    """Whether a group key an engine returned is NULL.

    pandas reports a NULL key as NaN, ``pd.NA`` or ``pd.NaT``; every other engine as None.
    """
    if value is None:
        return True
    if isinstance(value, float):
        return math.isnan(value)
    return type(value).__name__ in {"NAType", "NaTType"}


def _label_kind(value: object) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, Number):
        return "number"
    if isinstance(value, str):
        return "text"
    return type(value).__name__


def check_label_types(labels: Iterable[object], variant: str) -> None:
    """Refuse an arm column mixing kinds of values (pandas' object columns can).

    ``1`` and ``"1"`` would both become the arm ``"1"``, one group hiding the other.

    Raises:
        DataError: Naming the column and a value of each kind.
    """
    seen: dict[str, object] = {}
    for label in labels:
        if not is_null_key(label):
            seen.setdefault(_label_kind(label), label)
    if len(seen) > 1:
        listed = ", ".join(f"{value!r} ({kind})" for kind, value in sorted(seen.items()))
        raise DataError(
            f"column {variant!r} mixes kinds of values: {listed}; an arm label must have one "
            f"type, so that 1 and '1' are not read as one arm: convert the column first "
            f"(pandas: df[{variant!r}] = df[{variant!r}].astype(str))"
        )


def is_duckdb_connection(value: object) -> bool:
    return type(value).__module__.split(".")[0] in {"duckdb", "_duckdb"} and hasattr(value, "table")


def resolve(data: object) -> Source:
    """``data`` as a `Source` (a `Source` already resolved is returned as it is)."""
    if isinstance(data, Source):
        return data
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
    names = eager = None
    if isinstance(frame, nw.DataFrame):
        names = [str(c) for c in frame.columns]  # free on an eager frame, not once lazy
        eager, frame = frame, frame.lazy()
    kind = str(frame.implementation).split(".")[-1].lower()
    return Source(frame, kind, names=names, eager=eager)


def resolve_path(path: Path, nw: Any) -> Source:  # noqa: ANN401 - narwhals module
    duckdb = optional_import("duckdb", "duckdb")
    if not path.exists():
        raise InputError(f"data == {str(path)!r}: no such file; check the path")
    suffix = path.suffix.lower()
    if suffix not in PARQUET_SUFFIXES + TEXT_SUFFIXES:
        raise InputError(
            f"data == {str(path)!r} has suffix {suffix!r}, must be .parquet, .pq, .csv or .tsv"
        )
    connection = duckdb.connect(config=owned_duckdb_config())
    connection.execute("SET enable_progress_bar = false")  # a library draws on no terminal
    relation = read_file(connection, path)
    names = [str(c) for c in relation.columns]
    wide = suffix in TEXT_SUFFIXES and len(names) > WIDE_CSV_COLUMNS
    return Source(nw.from_native(relation), "duckdb", connection, file=path, names=names, wide=wide)


#: Environment variable overriding the memory limit of the DuckDB connections ablens opens.
MEMORY_LIMIT_VARIABLE = "ABLENS_DUCKDB_MEMORY_LIMIT"
#: Memory limit of the DuckDB connections ablens opens (for a file path); beyond it, DuckDB
#: spills to disk (the unit check's COUNT(DISTINCT) over every unit is the one large state).
DEFAULT_MEMORY_LIMIT = "1GB"


def owned_duckdb_config() -> dict[str, str]:
    """Settings of a DuckDB connection ablens opens itself (never of one it was given).

    A memory limit (``ABLENS_DUCKDB_MEMORY_LIMIT``, default 1GB) and a private spill
    directory under the system's temporary directory (DuckDB's default, ``.tmp`` in the
    working directory, would litter it; DuckDB removes the directory when the connection
    closes).

    Examples:
        >>> config = owned_duckdb_config()
        >>> config["memory_limit"], Path(config["temp_directory"]).name[:14]
        ('1GB', 'ablens-duckdb-')
    """
    import os  # noqa: PLC0415 - only where ablens opens a connection
    import secrets  # noqa: PLC0415
    import tempfile  # noqa: PLC0415

    spill = Path(tempfile.gettempdir()) / f"ablens-duckdb-{os.getpid()}-{secrets.token_hex(4)}"
    return {
        "memory_limit": os.environ.get(MEMORY_LIMIT_VARIABLE) or DEFAULT_MEMORY_LIMIT,
        "temp_directory": str(spill),
    }


PARQUET_SUFFIXES = (".parquet", ".pq")
TEXT_SUFFIXES = (".csv", ".tsv", ".txt")
#: Leading bytes of the files most often mistaken for a table: what they are, and the fix.
_EXPORT = "export the table as CSV (UTF-8 text) or parquet"
_MAGIC = (
    (b"\x89PNG", "a PNG image", _EXPORT),
    (b"\xff\xd8\xff", "a JPEG image", _EXPORT),
    (b"GIF8", "a GIF image", _EXPORT),
    (b"%PDF", "a PDF document", _EXPORT),
    (b"PK\x03\x04", "a zip archive (an Excel .xlsx workbook is one)", _EXPORT),
    (b"\x1f\x8b", "a gzip-compressed file", "decompress it first (gunzip)"),
    (b"PAR1", "a parquet file", "name it .parquet"),
    (b"SQLite format 3\x00", "an SQLite database", _EXPORT),
    (b"\xd0\xcf\x11\xe0", "an old Excel .xls workbook", _EXPORT),
)
_DUCKDB_MAGIC = b"DUCK"  # at byte 8 of a DuckDB database file
_LOCK_PID = re.compile(r"PID (\d+)")


def _looks_like(head: bytes) -> tuple[str, str] | None:
    """What the leading bytes of a file say it is (and the fix), for known binary formats."""
    for magic, kind, fix in _MAGIC:
        if head.startswith(magic):
            return kind, fix
    if head[8:12] == _DUCKDB_MAGIC:
        return "a DuckDB database", "read it as source: {duckdb: {file: ..., table: ...}}"
    return None


def check_file(path: Path) -> None:
    """Refuse a file that cannot be the table its suffix promises, before DuckDB reads it.

    The message names the file (its name only: the folder may be a server's) and the fix.

    Raises:
        DataError: An empty file, a binary file named ``.csv``, or a parquet file without its
            ``PAR1`` markers (not parquet, or truncated).
    """
    name = path.name
    size = path.stat().st_size
    if size == 0:
        raise DataError(f"{name} is empty: export the table again")
    with path.open("rb") as handle:
        head = handle.read(16)
        handle.seek(max(size - 4, 0))
        tail = handle.read(4)
    kind = _looks_like(head)
    if path.suffix.lower() in PARQUET_SUFFIXES:
        if not head.startswith(b"PAR1"):
            what = kind[0] if kind is not None else "text or another format"
            raise DataError(
                f"{name} is not a parquet file (it looks like {what}); write the table as "
                "parquet, or give a .csv name to a CSV file"
            )
        if tail != b"PAR1" or size < 12:
            raise DataError(
                f"{name}: the parquet file is truncated or its footer is damaged (no PAR1 "
                "marker at its end); copy or write it again"
            )
    elif kind is not None:
        raise DataError(f"{name} is not a CSV: it looks like {kind[0]}; {kind[1]}")


def file_error(path: Path, error: Exception) -> DataError:
    """A DuckDB error while reading ``path``, said in the user's terms (no server path)."""
    text = str(error)
    name = path.name
    if "unicode" in text.lower() or "utf-8" in text.lower() or "utf8" in text.lower():
        return DataError(
            f"{name} is not UTF-8 text (Latin-1 or another encoding?); save it as UTF-8 "
            "(e.g. iconv -f latin1 -t utf-8) and try again"
        )
    if path.suffix.lower() in PARQUET_SUFFIXES:
        return DataError(
            f"{name}: the parquet file is truncated or not parquet ({_first_line(text, path)}); "
            "write it again"
        )
    return DataError(
        f"{name} cannot be read as a CSV table ({_first_line(text, path)}); check that it is "
        "a delimited text file with a header row"
    )


def _first_line(text: str, path: Path) -> str:
    line = text.strip().splitlines()[0] if text.strip() else "unreadable"
    # DuckDB quotes the path, sometimes made absolute: keep the file's name only.
    for shown in sorted({str(path.resolve()), str(path.absolute()), str(path)}, key=len)[::-1]:
        line = line.replace(shown, path.name)
    return line[:200]


def read_file(connection: Any, path: Path) -> Any:  # noqa: ANN401 - DuckDB connection, relation
    """``path`` (parquet or delimited text) as a DuckDB relation of ``connection``.

    Raises:
        DataError: The file is not what its suffix says, or DuckDB cannot read it.
    """
    duckdb = optional_import("duckdb", "duckdb")
    check_file(path)
    try:
        if path.suffix.lower() in PARQUET_SUFFIXES:
            return connection.read_parquet(str(path))
        wide = wide_csv_layout(path)
        if wide is not None:
            delimiter, columns = wide
            return connection.read_csv(
                str(path), header=True, auto_detect=False, delimiter=delimiter, columns=columns
            )
        return connection.read_csv(str(path))
    except duckdb.Error as error:
        raise file_error(path, error) from None


#: Above this many columns, DuckDB's CSV sniffer costs seconds to minutes (20,000 columns:
#: ~13 s; 100,000: ~5 min), so ablens types the columns itself from a sample of rows.
WIDE_CSV_COLUMNS = 1_000
#: Cells typed from the sample of a wide CSV (rows = this / columns, at least 20).
_WIDE_SAMPLE_CELLS = 2_000_000


def wide_csv_layout(path: Path) -> tuple[str, dict[str, str]] | None:
    """The delimiter and column types of a CSV with very many columns, or None for others.

    DuckDB's CSV sniffer takes time that grows faster than the number of columns, even when
    a query then reads two of them. For a file with more than `WIDE_CSV_COLUMNS` columns, the
    types are read here from the first rows (integers, decimals, true/false, ISO dates and
    timestamps, else text) and DuckDB reads the file with them, sniffing nothing. A later row
    that does not fit its column's type is then an error naming the file, not a wrong number.
    """
    import csv  # noqa: PLC0415 - only for CSV files
    import itertools  # noqa: PLC0415

    with path.open("rb") as raw:
        head = raw.readline()
    if sum(head.count(d) for d in (b",", b"\t", b";", b"|")) < WIDE_CSV_COLUMNS:
        return None  # fewer columns than the threshold, whatever the delimiter
    try:
        with path.open(encoding="utf-8", newline="") as handle:
            first = handle.readline()
            delimiter = "\t" if path.suffix.lower() == ".tsv" else _delimiter(first)
            header = next(csv.reader([first], delimiter=delimiter))
            if len(header) <= WIDE_CSV_COLUMNS:
                return None
            rows = max(20, _WIDE_SAMPLE_CELLS // len(header))
            reader = csv.reader(handle, delimiter=delimiter)
            sample = list(itertools.islice(reader, rows))
    except (UnicodeDecodeError, csv.Error):
        return None  # DuckDB's own reader names what is wrong with the file
    columns = {
        name: _sampled_type([row[i] for row in sample if i < len(row)])
        for i, name in enumerate(header)
    }
    if len(columns) < len(header):
        return None  # repeated names: DuckDB's own reader renames them
    return delimiter, columns


def _delimiter(line: str) -> str:
    counts = {d: line.count(d) for d in (",", "\t", ";", "|")}
    return max(counts, key=lambda d: counts[d])


def _sampled_type(values: list[str]) -> str:
    """The DuckDB type of a column from its sampled text values (empty ones are NULL)."""
    import datetime as dt  # noqa: PLC0415

    present = [v for v in values if v != ""]
    if not present:
        return "VARCHAR"

    def every(parse: Any) -> bool:  # noqa: ANN401 - a parser
        try:
            for value in present:
                parse(value)
        except (ValueError, OverflowError):
            return False
        return True

    def integer(value: str) -> None:
        if not -(2**63) <= int(value) < 2**63:
            raise OverflowError(value)

    if every(integer):
        return "BIGINT"
    if every(float):
        return "DOUBLE"
    if all(v.lower() in ("true", "false") for v in present):
        return "BOOLEAN"
    if all(len(v) == 10 for v in present) and every(dt.date.fromisoformat):
        return "DATE"
    if every(dt.datetime.fromisoformat):
        zoned = any(dt.datetime.fromisoformat(v).tzinfo is not None for v in present)
        return "TIMESTAMPTZ" if zoned else "TIMESTAMP"
    return "VARCHAR"


def database_error(path: Path, error: Exception) -> DataError:
    """A DuckDB database file that cannot be opened: locked by a writer, or not a database."""
    text = str(error)
    name = path.name
    if "lock" in text.lower():
        pid = _LOCK_PID.search(text)
        holder = f" (pid {pid.group(1)})" if pid else ""
        return DataError(
            f"{name}: the database is locked by another process{holder} that is writing to it; "
            "close that program (or wait for it to finish), or read a copy of the file"
        )
    return DataError(
        f"{name} cannot be opened as a DuckDB database ({_first_line(text, path)}); check "
        "that it is a DuckDB file written by a compatible DuckDB version"
    )


def check_columns(
    frame: Any,  # noqa: ANN401 - a narwhals LazyFrame
    variant: str,
    columns: Sequence[str],
    others: Sequence[str],
    available: Sequence[str] | None = None,
) -> None:
    """Every named column exists; the metric ``columns`` are numeric or boolean.

    ``available`` is the frame's column names when they were already read.
    """
    nw = optional_import("narwhals", "data")
    available = column_names(frame) if available is None else list(available)
    present = set(available)
    for name in (variant, *columns, *others):
        if name not in present:
            raise DataError(f"column {name!r} is not in the data; {available_columns(available)}")
    if not columns:
        return
    schema = frame.select(*(nw.col(c) for c in dict.fromkeys(columns))).collect_schema()
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
    if source.file is not None:
        duckdb = optional_import("duckdb", "duckdb")
        try:
            return _collect(source, query, comment, experiment_id, team)
        except duckdb.Error as error:  # the file's content fails only once rows are read
            raise file_error(source.file, error) from None
    return _collect(source, query, comment, experiment_id, team)


def _collect(
    source: Source,
    query: Any,  # noqa: ANN401 - a narwhals LazyFrame
    comment: str,
    experiment_id: str | None,
    team: str | None,
) -> tuple[list[dict[str, Any]], list[str]]:
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
    rows: list[dict[str, Any]],
    columns: Sequence[str],
    segments: Sequence[str],
    names: InternalNames,
) -> None:
    for r in rows:
        for i, column in enumerate(columns):
            nulls = int(r[names("n")]) - int(r[names(f"nn{i}")])
            if not nulls:
                continue
            where = f"arm {r[names('arm')]!r}"
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
