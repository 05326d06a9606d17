"""The results registry: every run's readout, its comparisons and its moments, kept.

`open_registry` opens (or creates) a registry: an embedded DuckDB file by default, or a
PostgreSQL database by URL. `Registry.store` writes one run; the read methods give the stored
runs back as result objects (`RunRecord`, `StoredReadout`) and every table as a dataframe.

Writes are idempotent and safe with concurrent writers:

* a run is keyed by its experiment and its day (``as_of``); storing the same experiment and
  day again replaces the run, its comparisons, and the moments of the days it brings, in one
  transaction (delete, then insert);
* DuckDB lets one process at a time open a file for writing: each operation opens the file,
  works in one transaction and closes it, and a writer that finds the file locked waits and
  retries with a bounded backoff (``lock_timeout`` seconds in all) before giving up with a clear
  error;
* on PostgreSQL every write is one transaction that first takes a transaction-scoped advisory
  lock, so two writers of the same run follow each other instead of interleaving.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import random
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from ablens import render
from ablens._validation import optional_import
from ablens._version import __version__
from ablens.errors import ConfigError, InputError
from ablens.metrics.base import kind_named
from ablens.registry.moments import OVERALL, StoredMoments
from ablens.registry.schema import (
    COMOMENTS,
    COMPARISON_FIELDS,
    COMPARISONS,
    MIGRATIONS,
    MOMENTS,
    RUNS,
    SCHEMA_VERSION,
    VERSION_TABLE,
    SqlExpression,
    Table,
    create_statements,
    table_ref,
)
from ablens.stats.moments import Moments

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping, Sequence

    from ablens.readout import Readout

__all__ = [
    "DEFAULT_REGISTRY",
    "REGISTRY_VARIABLE",
    "ExperimentSummary",
    "Registry",
    "RegistryError",
    "RunRecord",
    "StoredReadout",
    "open_registry",
    "store_statements",
]

#: The version of the JSON documents the registry's read side gives (not the tables' schema).
DOCUMENT_VERSION = 1
#: The environment variable naming the registry when no URL is given.
REGISTRY_VARIABLE = "ABLENS_REGISTRY"
#: The registry used when neither a URL nor ``ABLENS_REGISTRY`` is given.
DEFAULT_REGISTRY = "ablens-registry.duckdb"
#: The PostgreSQL advisory lock every registry write takes (an arbitrary 64-bit constant).
_POSTGRES_LOCK = 0x61626C656E73  # "ablens"

_TABLE_NAMES = {
    "runs": RUNS,
    "comparisons": COMPARISONS,
    "moments": MOMENTS,
    "comoments": COMOMENTS,
    "schema_version": VERSION_TABLE,
}


class RegistryError(ConfigError):
    """The registry cannot be opened, read or written (locked, missing, of a newer schema)."""


# ------------------------------------------------------------------------------ result objects
@dataclass(frozen=True)
class RunRecord:
    """One stored run: what was read, when, with which plan and catalog, and the verdict.

    Attributes:
        run_id: ``<experiment_id>@<as_of>``; storing the same experiment and day replaces it.
        experiment_id: The experiment.
        as_of: The day the run reads up to (its last day of data, else the day it ran).
        run_at: When the run was stored (UTC, naive).
        plan_hash: SHA-256 of the plan file, or None.
        catalog_version: The metric catalog's version (git commit or content hash), or None.
        ablens_version: The ablens that computed it.
        verdict: The verdict's label ("Ship", "Roll back", ...).
        verdict_reason: The verdict's sentence.
        healthy: No health gate failed.
        complete: The planned sample is in.
        control: The control arm.
        arms: Every arm, control first.
        counts: Units per arm, in the order of ``arms``.
        alpha: Significance level.
        correction: Multiple-testing method, or None.
        family: The correction family.
        srm_p_value: The sample-ratio check's p-value.
        daily: Moments stored per day (True) or for the whole period (False).
    """

    run_id: str
    experiment_id: str
    as_of: dt.date
    run_at: dt.datetime
    plan_hash: str | None
    catalog_version: str | None
    ablens_version: str
    verdict: str
    verdict_reason: str
    healthy: bool
    complete: bool
    control: str
    arms: tuple[str, ...]
    counts: tuple[int, ...]
    alpha: float
    correction: str | None
    family: str
    srm_p_value: float
    daily: bool

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dictionary (dates in ISO 8601)."""
        return {
            "run_id": self.run_id,
            "experiment_id": self.experiment_id,
            "as_of": self.as_of.isoformat(),
            "run_at": self.run_at.isoformat(),
            "plan_hash": self.plan_hash,
            "catalog_version": self.catalog_version,
            "ablens_version": self.ablens_version,
            "verdict": self.verdict,
            "verdict_reason": self.verdict_reason,
            "healthy": self.healthy,
            "complete": self.complete,
            "control": self.control,
            "arms": list(self.arms),
            "counts": dict(zip(self.arms, self.counts, strict=True)),
            "alpha": self.alpha,
            "correction": self.correction,
            "family": self.family,
            "srm_p_value": _finite(self.srm_p_value),
            "daily": self.daily,
        }


@dataclass(frozen=True)
class ExperimentSummary:
    """One experiment of the registry: its number of runs and its latest run."""

    experiment_id: str
    runs: int
    latest: RunRecord

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dictionary."""
        return {
            "experiment_id": self.experiment_id,
            "runs": self.runs,
            "latest": self.latest.to_dict(),
        }


@dataclass(frozen=True)
class StoredReadout:
    """A stored run read back: its record and its comparisons, from the stored numbers.

    Attributes:
        run: The run's record.
        comparisons: One dictionary per comparison, as `ablens.Comparison.to_dict` gave it.
        segments: Segment label to its comparisons (empty without segments).
    """

    run: RunRecord
    comparisons: tuple[dict[str, Any], ...]
    segments: Mapping[str, tuple[dict[str, Any], ...]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready document: the run, its comparisons and its segments' comparisons.

        ``comparisons`` equals the ``comparisons`` of the original `ablens.Readout.to_dict`,
        and ``segments[label]["comparisons"]`` those of its segments.
        """
        return {
            "schema_version": DOCUMENT_VERSION,
            "run": self.run.to_dict(),
            "comparisons": _records(self.comparisons),
            "segments": {
                label: {"comparisons": _records(rows)} for label, rows in self.segments.items()
            },
        }

    def to_records(self) -> list[dict[str, Any]]:
        """One flat dictionary per comparison, segments' included (with a ``segment`` key)."""
        rows = [{"segment": OVERALL} | c for c in self.comparisons]
        for label, comparisons in self.segments.items():
            rows += [{"segment": label} | c for c in comparisons]
        return rows

    def to_pandas(self) -> Any:  # noqa: ANN401 - pandas is optional
        """The comparisons as a pandas DataFrame (needs ``ablens[pandas]``)."""
        return optional_import("pandas", "pandas").DataFrame.from_records(self.to_records())

    def to_polars(self) -> Any:  # noqa: ANN401 - polars is optional
        """The comparisons as a polars DataFrame (needs ``ablens[polars]``)."""
        polars = optional_import("polars", "polars")
        return polars.DataFrame(self.to_records(), infer_schema_length=None)

    def __str__(self) -> str:
        return self.to_text()

    def to_text(self) -> str:
        """The stored readout as plain text: verdict, run, and one row per comparison."""
        run = self.run
        lines = [
            f"{run.experiment_id}: {run.verdict}",
            run.verdict_reason,
            "",
            (
                f"run {run.run_id}, stored {run.run_at:%Y-%m-%d %H:%M} UTC, ablens "
                f"{run.ablens_version}, plan {(run.plan_hash or '—')[:12]}, catalog "
                f"{run.catalog_version or '—'}"
            ),
            "",
            render.table_text(*_comparison_table(self.comparisons, run.alpha)),
        ]
        for label, comparisons in self.segments.items():
            lines += ["", f"Segment {label}:", render.table_text(*_comparison_table(comparisons))]
        return "\n".join(lines)


def _comparison_table(
    comparisons: Sequence[Mapping[str, Any]], alpha: float | None = None
) -> tuple[list[str], list[list[str]]]:
    level = "" if alpha is None else f" ({round(100 * (1 - alpha), 4):g}% CI)"
    headers = ["metric", "arm", "control", "treatment", f"effect{level}", "lift", "p"]
    rows = []
    for c in comparisons:
        rate = _is_rate(str(c["kind"]))

        def value(v: float | None, n: int, *, rate: bool = rate) -> str:
            shown = render.format_percent(v, 4, signed=False) if rate else render.format_number(v)
            return f"{shown} (n={n:,})"

        low, high = c["effect_ci_lower"], c["effect_ci_upper"]
        if rate:
            effect = render.format_points(c["effect"])
            interval = f"[{render.format_points(low)}, {render.format_points(high)}]"
        else:
            effect = render.format_number(c["effect"], signed=True)
            interval = render.format_interval(low, high)
        lift_interval = render.format_interval(
            c["relative_ci_lower"], c["relative_ci_upper"], percent=True
        )
        lift = (
            f"{render.format_percent(c['relative_effect'])} {lift_interval}"
            if c["relative_effect"] is not None
            else "—"
        )
        p = c["adjusted_p_value"] if c["adjusted_p_value"] is not None else c["p_value"]
        mark = {"better": "  better", "worse": "  WORSE"}.get(str(c["outcome"]), "")
        rows.append(
            [
                str(c["metric"]),
                str(c["treatment"]),
                value(c["control_value"], int(c["control_count"])),
                value(c["treatment_value"], int(c["treatment_count"])),
                f"{effect} {interval}",
                lift,
                render.format_pvalue(p) + mark,
            ]
        )
    return headers, rows


def _is_rate(kind: str) -> bool:
    try:
        return bool(kind_named(kind).rate)
    except InputError:  # a kind this ablens does not know (stored by another version)
        return False


def _finite(value: Any) -> Any:  # noqa: ANN401 - any JSON value
    return None if isinstance(value, float) and not math.isfinite(value) else value


def _records(comparisons: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """JSON-ready records, all with the same keys, as `ablens.AnalysisResult.to_records`.

    A key only some results carry (a proportion's odds ratio) is None in the other rows.
    """
    keys = list(dict.fromkeys(key for row in comparisons for key in row))
    return [{key: _finite(row.get(key)) for key in keys} for row in comparisons]


# ------------------------------------------------------------------------------ statements


def _exp() -> Any:  # noqa: ANN401 - the sqlglot.exp module
    return optional_import("sqlglot", "registry").exp


def _literal(value: object) -> SqlExpression:
    """``value`` as a SQL literal (for statements compiled to text, e.g. for BigQuery)."""
    e = _exp()
    if value is None:
        return e.Null()
    if isinstance(value, bool):
        return e.Boolean(this=value)
    if isinstance(value, int):
        return e.Literal.number(str(value))
    if isinstance(value, float):
        if not math.isfinite(value):
            return e.cast(e.Literal.string(repr(value).replace("inf", "Infinity")), "DOUBLE")
        return e.Literal.number(repr(value))  # repr: the shortest text that reads back exactly
    if isinstance(value, dt.datetime):
        return e.cast(e.Literal.string(value.isoformat(sep=" ")), "TIMESTAMP")
    if isinstance(value, dt.date):
        return e.cast(e.Literal.string(value.isoformat()), "DATE")
    return e.Literal.string(str(value))


@dataclass
class _Statement:
    """One statement with its parameters (one tuple per execution)."""

    expression: SqlExpression
    rows: list[tuple[object, ...]]


@dataclass
class _Write:
    """What one `Registry.store` does: deletes, then inserts, in one transaction."""

    deletes: list[tuple[Table, list[tuple[str, object]], str | None]] = field(default_factory=list)
    inserts: list[tuple[Table, list[tuple[object, ...]]]] = field(default_factory=list)

    def statements(self, dataset: str | None = None) -> list[_Statement]:
        """Statements with placeholders (``?`` or ``%s`` once rendered) and their rows."""
        e = _exp()
        out = []
        for table, equal, day_condition in self.deletes:
            condition, values = _conditions(equal, day_condition)
            out.append(
                _Statement(e.delete(table_ref(table.name, dataset), where=condition), [values])
            )
        for table, rows in self.inserts:
            if not rows:
                continue
            # One statement per table, one array parameter per column, unnested side by side:
            # one round trip, and the driver binds every double exactly (no decimal text).
            columns = table.columns
            unnested = e.select(
                *(
                    e.func(
                        "unnest",
                        e.cast(e.Placeholder(), e.DataType.build(f"ARRAY<{column.type}>")),
                    ).as_(column.name, quoted=True)
                    for column in columns
                )
            )
            insert = e.insert(
                unnested,
                e.Schema(
                    this=table_ref(table.name, dataset),
                    expressions=[e.to_identifier(c.name, quoted=True) for c in columns],
                ),
            )
            arrays = tuple([row[i] for row in rows] for i in range(len(columns)))
            out.append(_Statement(insert, [arrays]))
        return out

    def literal_sql(self, dialect: str, dataset: str | None) -> list[str]:
        """The statements as text with literal values (one INSERT per table)."""
        e = _exp()
        out = []
        for table, equal, day_condition in self.deletes:
            condition = _literal_conditions(equal, day_condition)
            out.append(e.delete(table_ref(table.name, dataset), where=condition).sql(dialect))
        for table, rows in self.inserts:
            if not rows:
                continue
            columns = [e.to_identifier(name, quoted=True) for name in table.names]
            tuples = [e.Tuple(expressions=[_literal(v) for v in row]) for row in rows]
            insert = e.Insert(
                this=e.Schema(this=table_ref(table.name, dataset), expressions=columns),
                expression=e.Values(expressions=tuples),
            )
            out.append(insert.sql(dialect))
        return out


def _conditions(
    equal: Sequence[tuple[str, object]], extra: str | None
) -> tuple[SqlExpression, tuple[object, ...]]:
    e = _exp()
    parts = []
    values: list[object] = []
    for name, value in equal:
        if isinstance(value, tuple):  # one of several values
            parts.append(e.column(name, quoted=True).isin(*(e.Placeholder() for _ in value)))
            values += value
        else:
            parts.append(e.column(name, quoted=True).eq(e.Placeholder()))
            values.append(value)
    if extra is not None:
        parts.append(e.column(extra, quoted=True))
    return e.and_(*parts), tuple(values)


def _literal_conditions(equal: Sequence[tuple[str, object]], extra: str | None) -> SqlExpression:
    e = _exp()
    parts = [
        e.column(name, quoted=True).isin(*map(_literal, value))
        if isinstance(value, tuple)
        else e.column(name, quoted=True).eq(_literal(value))
        for name, value in equal
    ]
    if extra is not None:
        parts.append(e.column(extra, quoted=True))
    return e.and_(*parts)


def _moment_rows(
    experiment_id: str, run_id: str, moments: StoredMoments
) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
    means: list[tuple[object, ...]] = []
    comoments: list[tuple[object, ...]] = []
    for (day, segment, arm), m in moments.cells.items():
        key = (experiment_id, run_id, day, moments.whole_period, segment, arm)
        for position, column in enumerate(m.columns):
            means.append(
                (
                    *key,
                    position,
                    column,
                    m.count,
                    float(m.mean[position]),
                    float(m.mean_low[position]),
                )
            )
            for other in range(position, len(m.columns)):
                value = float(m.comoment[position, other])
                comoments.append(
                    (*key, column, m.columns[other], None if math.isnan(value) else value)
                )
    return means, comoments


def _comparison_rows(readout: Readout, experiment_id: str, run_id: str) -> list[tuple[Any, ...]]:
    named = {name for name, _ in COMPARISON_FIELDS} | {"notes"}
    results = [(OVERALL, readout.result), *readout.result.segments.items()]
    rows = []
    for segment, result in results:
        for position, comparison in enumerate(result.comparisons):
            record = comparison.to_dict()
            extra = {key: value for key, value in record.items() if key not in named}
            rows.append(
                (
                    run_id,
                    experiment_id,
                    segment,
                    position,
                    *(_stored(record.get(name)) for name, _ in COMPARISON_FIELDS),
                    json.dumps(list(record.get("notes", []))),
                    json.dumps(extra, allow_nan=False),
                )
            )
    return rows


def _stored(value: object) -> object:
    # numpy scalars and tuples become plain Python values the drivers bind.
    if hasattr(value, "item") and callable(value.item):
        return value.item()
    return value


def _as_of(moments: StoredMoments | None, run_at: dt.datetime) -> dt.date:
    """The run's day: its last day of data when the days are dates, else the day it ran."""
    if moments is not None and moments.days:
        try:
            return dt.date.fromisoformat(moments.days[-1])
        except ValueError:
            pass
    return run_at.date()


def _plan_write(
    readout: Readout,
    moments: StoredMoments | None,
    *,
    experiment_id: str | None,
    run_at: dt.datetime | None,
    as_of: dt.date | None,
    catalog_version: str | None,
) -> tuple[RunRecord, _Write]:
    plan = readout.plan
    if experiment_id is None:
        if plan is None:
            raise InputError(
                "experiment_id is None and the readout has no plan; pass experiment_id= to "
                "store a readout composed without a plan"
            )
        experiment_id = plan.experiment_id
    if run_at is None:
        run_at = dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)
    elif run_at.tzinfo is not None:
        run_at = run_at.astimezone(dt.UTC).replace(tzinfo=None)
    as_of = as_of if as_of is not None else _as_of(moments, run_at)
    result = readout.result
    run_id = f"{experiment_id}@{as_of.isoformat()}"
    record = RunRecord(
        run_id=run_id,
        experiment_id=experiment_id,
        as_of=as_of,
        run_at=run_at,
        plan_hash=(plan.sha256 or None) if plan is not None else None,
        catalog_version=catalog_version,
        ablens_version=__version__,
        verdict=readout.verdict.label,
        verdict_reason=readout.verdict.reason,
        healthy=readout.verdict.healthy,
        complete=readout.verdict.complete,
        control=str(result.control),
        arms=tuple(str(a) for a in result.arms),
        counts=tuple(int(n) for n in result.counts),
        alpha=float(result.alpha),
        correction=result.correction,
        family=str(result.family),
        srm_p_value=float(result.srm.p_value),
        daily=moments is not None and not moments.whole_period,
    )
    run_values = {
        **record.to_dict(),
        "as_of": record.as_of,
        "run_at": record.run_at,
        "arms": json.dumps(list(record.arms)),
        "counts": json.dumps(list(record.counts)),
        "srm_p_value": record.srm_p_value,
    }
    write = _Write()
    write.deletes.append((RUNS, [("run_id", run_id)], None))
    write.deletes.append((COMPARISONS, [("run_id", run_id)], None))
    write.inserts.append((RUNS, [tuple(run_values[name] for name in RUNS.names)]))
    write.inserts.append((COMPARISONS, _comparison_rows(readout, experiment_id, run_id)))
    if moments is not None:
        for table in (MOMENTS, COMOMENTS):
            if moments.whole_period:  # the whole period replaces every stored day
                write.deletes.append((table, [("experiment_id", experiment_id)], None))
                continue
            write.deletes.append((table, [("experiment_id", experiment_id)], "whole_period"))
            if moments.days:
                days = ("day", tuple(moments.days))
                write.deletes.append((table, [("experiment_id", experiment_id), days], None))
        means, comoments = _moment_rows(experiment_id, run_id, moments)
        write.inserts += [(MOMENTS, means), (COMOMENTS, comoments)]
    return record, write


def store_statements(
    readout: Readout,
    moments: StoredMoments | None = None,
    *,
    dialect: str = "bigquery",
    dataset: str | None = None,
    experiment_id: str | None = None,
    run_at: dt.datetime | None = None,
    as_of: dt.date | None = None,
    catalog_version: str | None = None,
) -> list[str]:
    """The SQL that stores a run, compiled for ``dialect`` with literal values (no connection).

    The tables' ``CREATE TABLE IF NOT EXISTS`` at the current schema version, then the deletes
    and inserts `Registry.store` runs in one transaction. For engines ablens does not write to
    itself (BigQuery): run them as one multi-statement transaction (``BEGIN TRANSACTION; ...;
    COMMIT TRANSACTION;``).

    Args:
        readout: The readout to store.
        moments: Its moments (`plan_moments`), or None.
        dialect: A sqlglot dialect name ("bigquery", "duckdb", "postgres", ...).
        dataset: The dataset (schema) that holds the tables, or None.
        experiment_id: The experiment (default: the plan's).
        run_at: When the run happened (default: now, UTC).
        as_of: The run's day (default: its last day of data, else the day of ``run_at``).
        catalog_version: The metric catalog's version, or None.

    Returns:
        The statements, one string each.
    """
    _, write = _plan_write(
        readout,
        moments,
        experiment_id=experiment_id,
        run_at=run_at,
        as_of=as_of,
        catalog_version=catalog_version,
    )
    create = [statement.sql(dialect) for statement in create_statements(dataset=dataset)]
    return create + write.literal_sql(dialect, dataset)


# ------------------------------------------------------------------------------ drivers
class _Session(Protocol):
    def execute(self, sql: str, params: Sequence[object] = ()) -> None: ...

    def executemany(self, sql: str, rows: Sequence[Sequence[object]]) -> None: ...

    def fetch(
        self, sql: str, params: Sequence[object] = ()
    ) -> tuple[list[str], list[tuple[Any, ...]]]: ...


class _Driver(Protocol):
    dialect: str
    name: str

    def exists(self) -> bool: ...

    def session(self, *, write: bool) -> Any: ...  # noqa: ANN401 - a context manager


class _DBAPISession:
    def __init__(self, connection: Any) -> None:  # noqa: ANN401 - a DB-API connection
        self.connection = connection

    def execute(self, sql: str, params: Sequence[object] = ()) -> None:
        self.connection.execute(sql, list(params))

    def executemany(self, sql: str, rows: Sequence[Sequence[object]]) -> None:
        values = [list(row) for row in rows]
        if hasattr(self.connection, "executemany"):  # DuckDB: a cursor would be a new connection
            self.connection.executemany(sql, values)
            return
        with self.connection.cursor() as cursor:  # psycopg: cursors share the transaction
            cursor.executemany(sql, values)

    def fetch(
        self, sql: str, params: Sequence[object] = ()
    ) -> tuple[list[str], list[tuple[Any, ...]]]:
        cursor = self.connection.execute(sql, list(params))
        names = [d[0] for d in cursor.description]
        return names, [tuple(row) for row in cursor.fetchall()]


class _DuckDBDriver:
    """A DuckDB file: opened per operation, with a bounded wait while another process holds it."""

    dialect = "duckdb"

    def __init__(self, path: Path, lock_timeout: float) -> None:
        self.path = path
        self.name = str(path)
        self.lock_timeout = lock_timeout

    def exists(self) -> bool:
        return self.path.is_file()

    def _connect(self) -> Any:  # noqa: ANN401 - a duckdb connection
        duckdb = optional_import("duckdb", "registry")
        deadline = time.monotonic() + self.lock_timeout
        delay = 0.02
        while True:
            try:
                return duckdb.connect(str(self.path))
            except duckdb.IOException as error:
                text = str(error)
                if "could not set lock" not in text.lower():
                    raise RegistryError(
                        f"registry {self.name} cannot be opened as a DuckDB file: "
                        f"{text.splitlines()[0]}"
                    ) from None
                if time.monotonic() + delay > deadline:
                    raise RegistryError(
                        f"registry {self.name} is locked by another process (waited "
                        f"{self.lock_timeout:g} s): a DuckDB file takes one writer process at a "
                        "time; retry when the other run ends, or use a PostgreSQL registry for "
                        "many concurrent writers"
                    ) from None
                # Jitter keeps two waiting writers from retrying in lockstep.
                time.sleep(delay * (0.5 + random.random()))  # noqa: S311 - not cryptographic
                delay = min(delay * 2, 0.5)
            except duckdb.Error as error:
                raise RegistryError(
                    f"registry {self.name} cannot be opened as a DuckDB file: "
                    f"{str(error).splitlines()[0]}"
                ) from None

    @contextmanager
    def session(self, *, write: bool) -> Iterator[_Session]:
        connection = self._connect()
        try:
            connection.execute("BEGIN TRANSACTION")
            try:
                yield _DBAPISession(connection)
            except BaseException:
                connection.execute("ROLLBACK")
                raise
            connection.execute("COMMIT")
        finally:
            connection.close()


class _PostgresDriver:
    """A PostgreSQL database: one transaction per operation; writes take an advisory lock."""

    dialect = "postgres"

    def __init__(self, url: str) -> None:
        self.url = url
        self.name = _redacted(url)

    def exists(self) -> bool:
        return True

    @contextmanager
    def session(self, *, write: bool) -> Iterator[_Session]:
        psycopg = optional_import("psycopg", "postgres")
        try:
            connection = psycopg.connect(self.url, connect_timeout=15)
        except psycopg.Error as error:
            raise RegistryError(
                f"registry {self.name} cannot be reached: {str(error).strip().splitlines()[0]}"
            ) from None
        try:
            with connection.transaction():
                if write:
                    connection.execute("SELECT pg_advisory_xact_lock(%s)", [_POSTGRES_LOCK])
                yield _DBAPISession(connection)
        finally:
            connection.close()


def _redacted(url: str) -> str:
    """The URL without its password (for messages)."""
    scheme, sep, rest = url.partition("://")
    if "@" in rest and ":" in rest.split("@", 1)[0]:
        user = rest.split("@", 1)[0].split(":", 1)[0]
        rest = f"{user}:***@{rest.split('@', 1)[1]}"
    return f"{scheme}{sep}{rest}"


def _driver(url: str, lock_timeout: float) -> _Driver:
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    if scheme in ("postgresql", "postgres"):
        return _PostgresDriver(url)
    if scheme == "duckdb":
        return _DuckDBDriver(Path(url.split("://", 1)[1]).expanduser(), lock_timeout)
    if scheme == "bigquery":
        raise RegistryError(
            f"registry == {url!r}: ablens does not write to BigQuery itself yet; compile the "
            "statements with ablens.registry.store_statements(readout, moments, "
            "dialect='bigquery', dataset=...) and run them in a BigQuery transaction"
        )
    if scheme:
        raise RegistryError(
            f"registry == {url!r}: the scheme {scheme!r} is not supported; use a DuckDB file "
            "(path or duckdb://path) or postgresql://user@host/database"
        )
    return _DuckDBDriver(Path(url).expanduser(), lock_timeout)


# ------------------------------------------------------------------------------ the registry
class Registry:
    """A results registry: runs, comparisons and moments of every stored readout.

    Open one with `open_registry`. Every method opens the database, works in one transaction
    and closes it, so a registry object holds no lock between calls.
    """

    def __init__(self, driver: _Driver) -> None:
        self._driver = driver

    @property
    def name(self) -> str:
        """The registry's file or URL (password hidden)."""
        return self._driver.name

    def __repr__(self) -> str:
        return f"Registry({self.name!r})"

    # -------------------------------------------------------------------------- schema
    def _version(self, session: _Session) -> int | None:
        e = _exp()
        query = (
            e.select("table_name")
            .from_("information_schema.tables")
            .where(
                e.and_(
                    e.column("table_name").eq(e.Placeholder()),
                    e.column("table_schema").eq(e.func("current_schema")),
                )
            )
        )
        _, found = session.fetch(query.sql(self._driver.dialect), [VERSION_TABLE.name])
        if not found:
            return None
        versions = e.select(e.func("max", e.column("version"))).from_(VERSION_TABLE.name)
        _, rows = session.fetch(versions.sql(self._driver.dialect))
        return None if rows[0][0] is None else int(rows[0][0])

    def _prepare(self, *, create: bool) -> int:
        """Create the tables, or migrate them to this version; refuse a newer registry."""
        with self._driver.session(write=True) as session:
            version = self._version(session)
            if version is None:
                if not create:
                    raise RegistryError(
                        f"registry {self.name} holds no ablens registry; store a run first "
                        "(ablens analyze PLAN --registry URL)"
                    )
                for statement in create_statements():
                    session.execute(statement.sql(self._driver.dialect))
                self._record_version(session, SCHEMA_VERSION)
                return SCHEMA_VERSION
            if version > SCHEMA_VERSION:
                raise RegistryError(
                    f"registry {self.name} has schema version {version}, newer than version "
                    f"{SCHEMA_VERSION} that ablens {__version__} reads; upgrade ablens "
                    "(pip install -U ablens) to use it"
                )
            for step in range(version, SCHEMA_VERSION):
                for statement in MIGRATIONS[step](None):
                    session.execute(statement.sql(self._driver.dialect))
                self._record_version(session, step + 1)
            return SCHEMA_VERSION

    def _record_version(self, session: _Session, version: int) -> None:
        statement = _Write(
            inserts=[
                (
                    VERSION_TABLE,
                    [(version, dt.datetime.now(dt.UTC).replace(tzinfo=None), __version__)],
                )
            ]
        ).statements()[0]
        session.executemany(statement.expression.sql(self._driver.dialect), statement.rows)

    # -------------------------------------------------------------------------- writing
    def store(
        self,
        readout: Readout,
        moments: StoredMoments | None = None,
        *,
        experiment_id: str | None = None,
        run_at: dt.datetime | None = None,
        as_of: dt.date | None = None,
        catalog_version: str | None = None,
    ) -> RunRecord:
        """Store a readout: its run, its comparisons and (when given) its moments.

        Storing the same experiment and day (``as_of``) again replaces that run; moments replace
        the stored days they bring (daily moments), or every stored day (whole-period moments).
        All of it happens in one transaction.

        Args:
            readout: The readout (`ablens.run_readout`).
            moments: Its per-day (or whole-period) moments (`plan_moments`), or None.
            experiment_id: The experiment (default: the plan's).
            run_at: When the run happened (default: now, UTC).
            as_of: The run's day (default: its last day of data, else the day of ``run_at``).
            catalog_version: The metric catalog's version, or None.

        Returns:
            The run's record.
        """
        record, write = _plan_write(
            readout,
            moments,
            experiment_id=experiment_id,
            run_at=run_at,
            as_of=as_of,
            catalog_version=catalog_version,
        )
        dialect = self._driver.dialect
        with self._driver.session(write=True) as session:
            for statement in write.statements():
                sql = statement.expression.sql(dialect)
                if len(statement.rows) == 1:
                    session.execute(sql, statement.rows[0])
                else:
                    session.executemany(sql, statement.rows)
        return record

    # -------------------------------------------------------------------------- reading
    def rows(
        self, table: str, *, experiment_id: str | None = None, run_id: str | None = None
    ) -> list[dict[str, Any]]:
        """Every row of a table, optionally of one experiment or run, as dictionaries.

        Args:
            table: "runs", "comparisons", "moments", "comoments" or "schema_version".
            experiment_id: Only this experiment's rows.
            run_id: Only this run's rows.
        """
        spec = self._table(table)
        e = _exp()
        query = e.select(*(e.column(n, quoted=True) for n in spec.names)).from_(
            table_ref(spec.name)
        )
        equal = [("experiment_id", experiment_id), ("run_id", run_id)]
        equal = [(k, v) for k, v in equal if v is not None]
        params: tuple[object, ...] = ()
        if equal:
            condition, params = _conditions(equal, None)
            query = query.where(condition)
        with self._driver.session(write=False) as session:
            names, rows = session.fetch(query.sql(self._driver.dialect), params)
        return [dict(zip(names, row, strict=True)) for row in rows]

    def _table(self, table: str) -> Table:
        if table not in _TABLE_NAMES:
            raise InputError(f"table == {table!r}, must be one of {', '.join(_TABLE_NAMES)}")
        return _TABLE_NAMES[table]

    def to_pandas(self, table: str = "runs") -> Any:  # noqa: ANN401 - pandas is optional
        """A table as a pandas DataFrame (needs ``ablens[pandas]``)."""
        pandas = optional_import("pandas", "pandas")
        return pandas.DataFrame.from_records(
            self.rows(table), columns=list(self._table(table).names)
        )

    def to_polars(self, table: str = "runs") -> Any:  # noqa: ANN401 - polars is optional
        """A table as a polars DataFrame (needs ``ablens[polars]``)."""
        polars = optional_import("polars", "polars")
        rows = self.rows(table)
        names = list(self._table(table).names)
        return polars.DataFrame({name: [row[name] for row in rows] for name in names}, strict=False)

    def runs(self, experiment_id: str) -> tuple[RunRecord, ...]:
        """The stored runs of an experiment, oldest first (by day, then time stored)."""
        records = [_run_record(row) for row in self.rows("runs", experiment_id=experiment_id)]
        return tuple(sorted(records, key=lambda r: (r.as_of, r.run_at)))

    def experiments(self) -> tuple[ExperimentSummary, ...]:
        """Every experiment with its number of runs and its latest run, by experiment id."""
        by_experiment: dict[str, list[RunRecord]] = {}
        for row in self.rows("runs"):
            record = _run_record(row)
            by_experiment.setdefault(record.experiment_id, []).append(record)
        return tuple(
            ExperimentSummary(name, len(records), max(records, key=lambda r: (r.as_of, r.run_at)))
            for name, records in sorted(by_experiment.items())
        )

    def latest(self, experiment_id: str) -> StoredReadout:
        """The latest stored readout of an experiment, from the stored numbers.

        Raises:
            RegistryError: The experiment has no stored run.
        """
        runs = self.runs(experiment_id)
        if not runs:
            known = [s.experiment_id for s in self.experiments()]
            raise RegistryError(
                f"experiment == {experiment_id!r} has no run in registry {self.name}; stored "
                f"experiments: {known}"
            )
        return self.readout(runs[-1].run_id)

    def readout(self, run_id: str) -> StoredReadout:
        """One stored run's readout (its record and comparisons)."""
        found = [_run_record(row) for row in self.rows("runs", run_id=run_id)]
        if not found:
            raise RegistryError(f"run_id == {run_id!r} is not in registry {self.name}")
        rows = self.rows("comparisons", run_id=run_id)
        rows.sort(key=lambda row: (row["segment"] != OVERALL, row["segment"], row["position"]))
        overall: list[dict[str, Any]] = []
        segments: dict[str, list[dict[str, Any]]] = {}
        for row in rows:
            target = (
                overall if row["segment"] == OVERALL else segments.setdefault(row["segment"], [])
            )
            target.append(_comparison(row))
        return StoredReadout(
            found[0], tuple(overall), {label: tuple(c) for label, c in segments.items()}
        )

    def moments(self, experiment_id: str) -> StoredMoments:
        """The stored moments of an experiment, as exact `ablens.Moments` per cell."""
        means = self.rows("moments", experiment_id=experiment_id)
        pairs = self.rows("comoments", experiment_id=experiment_id)
        cells: dict[tuple[str | None, str, str], list[dict[str, Any]]] = {}
        whole = False
        for row in means:
            cells.setdefault((row["day"], row["segment"], row["arm"]), []).append(row)
            whole = whole or bool(row["whole_period"])
        comoment: dict[tuple[str | None, str, str], dict[tuple[str, str], float]] = {}
        for row in pairs:
            value = math.nan if row["comoment"] is None else float(row["comoment"])
            comoment.setdefault((row["day"], row["segment"], row["arm"]), {})[
                (row["column_a"], row["column_b"])
            ] = value
        built = {}
        for key, rows in cells.items():
            rows.sort(key=lambda row: int(row["position"]))
            columns = tuple(str(row["column_name"]) for row in rows)
            matrix = [
                [
                    comoment.get(key, {}).get((a, b), comoment.get(key, {}).get((b, a), math.nan))
                    for b in columns
                ]
                for a in columns
            ]
            built[key] = Moments(
                int(rows[0]["count"]),
                columns,
                [float(row["mean"]) for row in rows],  # type: ignore[arg-type]
                matrix,  # type: ignore[arg-type]
                [float(row["mean_low"]) for row in rows],  # type: ignore[arg-type]
            )
        return StoredMoments(built, whole_period=whole)


def _run_record(row: Mapping[str, Any]) -> RunRecord:
    as_of = row["as_of"]
    run_at = row["run_at"]
    return RunRecord(
        run_id=row["run_id"],
        experiment_id=row["experiment_id"],
        as_of=as_of if isinstance(as_of, dt.date) else dt.date.fromisoformat(str(as_of)),
        run_at=run_at
        if isinstance(run_at, dt.datetime)
        else dt.datetime.fromisoformat(str(run_at)),
        plan_hash=row["plan_hash"],
        catalog_version=row.get("catalog_version"),
        ablens_version=row["ablens_version"],
        verdict=row["verdict"],
        verdict_reason=row["verdict_reason"],
        healthy=bool(row["healthy"]),
        complete=bool(row["complete"]),
        control=row["control"],
        arms=tuple(json.loads(row["arms"])),
        counts=tuple(json.loads(row["counts"])),
        alpha=float(row["alpha"]),
        correction=row["correction"],
        family=row["family"],
        srm_p_value=float(row["srm_p_value"]),
        daily=bool(row["daily"]),
    )


_INTEGER_FIELDS = {name for name, kind in COMPARISON_FIELDS if kind == "BIGINT"}
_FLOAT_FIELDS = {name for name, kind in COMPARISON_FIELDS if kind == "DOUBLE"}


def _comparison(row: Mapping[str, Any]) -> dict[str, Any]:
    record: dict[str, Any] = {}
    for name, _ in COMPARISON_FIELDS:
        value = row[name]
        if value is not None and name in _INTEGER_FIELDS:
            value = int(value)
        elif value is not None and name in _FLOAT_FIELDS:
            value = float(value)
        record[name] = value
    record["notes"] = json.loads(row["notes"])
    record.update(json.loads(row["extra"]))
    return record


def open_registry(
    url: str | os.PathLike[str] | None = None, *, create: bool = True, lock_timeout: float = 60.0
) -> Registry:
    """Open a results registry, creating or migrating its tables as needed.

    Args:
        url: A DuckDB file (a path, or ``duckdb://path``) or ``postgresql://user@host/db``.
            Default: the ``ABLENS_REGISTRY`` environment variable, else
            ``ablens-registry.duckdb`` in the working directory.
        create: Create the tables when the database holds none (False: refuse, as the read
            commands do, so that a mistyped path is not made into an empty registry).
        lock_timeout: Seconds to wait, in all, while another process holds a DuckDB file.

    Returns:
        The registry.

    Raises:
        RegistryError: The registry cannot be opened, holds no registry (with
            ``create=False``), or has a schema version newer than this ablens reads.

    Examples:
        >>> import tempfile, pathlib
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "results.duckdb"
        >>> registry = open_registry(path)
        >>> registry.experiments()
        ()
    """
    if url is None:
        url = os.environ.get(REGISTRY_VARIABLE, "").strip() or DEFAULT_REGISTRY
    text = os.fspath(url)
    if not text.strip():
        raise InputError("registry URL is empty; pass a DuckDB file or a postgresql:// URL")
    driver = _driver(text, lock_timeout)
    if not create and not driver.exists():
        raise RegistryError(
            f"registry {driver.name} does not exist; store a run first "
            "(ablens analyze PLAN --registry URL) or check the path"
        )
    registry = Registry(driver)
    registry._prepare(create=create)
    return registry
