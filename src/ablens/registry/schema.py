"""The registry's tables, their versions, and the statements that create and migrate them.

The schema is versioned: the table ``ablens_schema_version`` holds one row per version applied.
A registry written by an older ablens is migrated forward, one step at a time, in the same
transaction that checks its version; one written by a newer ablens is refused (this ablens would
not know its columns). Every statement is a sqlglot expression rendered in the registry's
dialect (``duckdb``, ``postgres``, ``bigquery``: the dialects Ibis compiles through), so the same
definitions serve every backend.

Moments are stored long, one row per (experiment, day, segment, arm, column) in
``ablens_moments`` and one per pair of columns in ``ablens_comoments``: the count, the two-float
mean and the centred co-moments of `ablens.Moments`, which merge exactly, so a later run can
combine stored days with new ones without reading rows again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeAlias

from ablens._validation import optional_import

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

__all__ = [
    "COMPARISON_FIELDS",
    "MIGRATIONS",
    "SCHEMA_VERSION",
    "TABLES",
    "Column",
    "SqlExpression",
    "Table",
    "create_statements",
    "tables_at",
]

#: A sqlglot expression (sqlglot is an optional dependency, imported on use).
SqlExpression: TypeAlias = Any

#: The schema version this ablens writes and reads.
SCHEMA_VERSION = 2


@dataclass(frozen=True)
class Column:
    """One column: its name and SQL type (a sqlglot type name, rendered per dialect)."""

    name: str
    type: str
    since: int = 1


@dataclass(frozen=True)
class Table:
    """One table of the registry: its name and columns (with the version each appeared in)."""

    name: str
    columns: tuple[Column, ...]

    def columns_at(self, version: int) -> tuple[Column, ...]:
        """The columns the table has at schema ``version``."""
        return tuple(c for c in self.columns if c.since <= version)

    @property
    def names(self) -> tuple[str, ...]:
        """The column names at the current version."""
        return tuple(c.name for c in self.columns)


def _columns(*spec: tuple[str, str] | tuple[str, str, int]) -> tuple[Column, ...]:
    return tuple(Column(*item) for item in spec)


#: Comparison fields stored as typed columns, as `ablens.Comparison.to_dict` names them. The
#: test-specific fields of a result (a proportion's odds ratio, ...) go to ``extra`` (JSON).
COMPARISON_FIELDS: tuple[tuple[str, str], ...] = (
    ("metric", "VARCHAR"),
    ("kind", "VARCHAR"),
    ("role", "VARCHAR"),
    ("direction", "VARCHAR"),
    ("control", "VARCHAR"),
    ("treatment", "VARCHAR"),
    ("control_count", "BIGINT"),
    ("treatment_count", "BIGINT"),
    ("control_value", "DOUBLE"),
    ("treatment_value", "DOUBLE"),
    ("effect", "DOUBLE"),
    ("effect_ci_lower", "DOUBLE"),
    ("effect_ci_upper", "DOUBLE"),
    ("relative_effect", "DOUBLE"),
    ("relative_ci_lower", "DOUBLE"),
    ("relative_ci_upper", "DOUBLE"),
    ("relative_method", "VARCHAR"),
    ("relative_standard_error", "DOUBLE"),
    ("relative_ci_shape", "VARCHAR"),
    ("relative_ci_gap_lower", "DOUBLE"),
    ("relative_ci_gap_upper", "DOUBLE"),
    ("standard_error", "DOUBLE"),
    ("test", "VARCHAR"),
    ("statistic", "DOUBLE"),
    ("df", "DOUBLE"),
    ("p_value", "DOUBLE"),
    ("alternative", "VARCHAR"),
    ("confidence_level", "DOUBLE"),
    ("margin", "DOUBLE"),
    ("margin_type", "VARCHAR"),
    ("alpha", "DOUBLE"),
    ("correction", "VARCHAR"),
    ("family_size", "BIGINT"),
    ("adjusted_p_value", "DOUBLE"),
    ("adjusted_alpha", "DOUBLE"),
    ("adjusted_effect_ci_lower", "DOUBLE"),
    ("adjusted_effect_ci_upper", "DOUBLE"),
    ("adjusted_relative_ci_lower", "DOUBLE"),
    ("adjusted_relative_ci_upper", "DOUBLE"),
    ("variance_reduction", "DOUBLE"),
    ("unit_variance_reduction", "DOUBLE"),
    ("cuped_theta", "DOUBLE"),
    ("significant", "BOOLEAN"),
    ("outcome", "VARCHAR"),
)

VERSION_TABLE = Table(
    "ablens_schema_version",
    _columns(("version", "BIGINT"), ("applied_at", "TIMESTAMP"), ("ablens_version", "VARCHAR")),
)

RUNS = Table(
    "ablens_runs",
    _columns(
        ("run_id", "VARCHAR"),
        ("experiment_id", "VARCHAR"),
        ("as_of", "DATE"),
        ("run_at", "TIMESTAMP"),
        ("plan_hash", "VARCHAR"),
        ("ablens_version", "VARCHAR"),
        ("verdict", "VARCHAR"),
        ("verdict_reason", "VARCHAR"),
        ("healthy", "BOOLEAN"),
        ("complete", "BOOLEAN"),
        ("control", "VARCHAR"),
        ("arms", "VARCHAR"),  # JSON list, control first
        ("counts", "VARCHAR"),  # JSON list, in the order of arms
        ("alpha", "DOUBLE"),
        ("correction", "VARCHAR"),
        ("family", "VARCHAR"),
        ("srm_p_value", "DOUBLE"),
        ("daily", "BOOLEAN"),  # moments stored per day (True) or for the whole period
        ("catalog_version", "VARCHAR", 2),
    ),
)

COMPARISONS = Table(
    "ablens_comparisons",
    (
        *_columns(
            ("run_id", "VARCHAR"),
            ("experiment_id", "VARCHAR"),
            ("segment", "VARCHAR"),  # '' for the whole experiment, else "platform=ios"
            ("position", "BIGINT"),
        ),
        *(Column(name, kind) for name, kind in COMPARISON_FIELDS),
        *_columns(("notes", "VARCHAR"), ("extra", "VARCHAR")),  # JSON
    ),
)

#: Keys of the moments rows: one experiment, one day (NULL with whole_period), one segment
#: ('' for all units), one arm.
_MOMENT_KEYS = (
    ("experiment_id", "VARCHAR"),
    ("run_id", "VARCHAR"),
    ("day", "VARCHAR"),
    ("whole_period", "BOOLEAN"),
    ("segment", "VARCHAR"),
    ("arm", "VARCHAR"),
)

MOMENTS = Table(
    "ablens_moments",
    _columns(
        *_MOMENT_KEYS,
        ("position", "BIGINT"),
        ("column_name", "VARCHAR"),
        ("count", "BIGINT"),
        ("mean", "DOUBLE"),
        ("mean_low", "DOUBLE"),
    ),
)

COMOMENTS = Table(
    "ablens_comoments",
    _columns(
        *_MOMENT_KEYS,
        ("column_a", "VARCHAR"),
        ("column_b", "VARCHAR"),
        ("comoment", "DOUBLE"),  # NULL where the pair was not computed
    ),
)

#: Every table, the version table first.
TABLES: tuple[Table, ...] = (VERSION_TABLE, RUNS, COMPARISONS, MOMENTS, COMOMENTS)


def tables_at(version: int) -> dict[str, tuple[Column, ...]]:
    """Table name to its columns at schema ``version``."""
    return {table.name: table.columns_at(version) for table in TABLES}


def table_ref(name: str, dataset: str | None = None) -> SqlExpression:
    """The table ``name``, qualified by ``dataset`` (BigQuery) or the connection's schema."""
    sqlglot = optional_import("sqlglot", "registry")
    return sqlglot.exp.to_table(name if dataset is None else f"{dataset}.{name}")


def create_table(table: Table, version: int, dataset: str | None = None) -> SqlExpression:
    """``CREATE TABLE IF NOT EXISTS`` of ``table`` as it is at schema ``version``."""
    exp = optional_import("sqlglot", "registry").exp
    columns = [
        exp.ColumnDef(this=exp.to_identifier(c.name, quoted=True), kind=exp.DataType.build(c.type))
        for c in table.columns_at(version)
    ]
    schema = exp.Schema(this=table_ref(table.name, dataset), expressions=columns)
    return exp.Create(this=schema, kind="TABLE", exists=True)


def create_statements(
    version: int = SCHEMA_VERSION, dataset: str | None = None
) -> list[SqlExpression]:
    """The statements creating every table at schema ``version`` (sqlglot expressions)."""
    return [create_table(table, version, dataset) for table in TABLES]


def _add_catalog_version(dataset: str | None) -> list[SqlExpression]:
    """1 -> 2: runs record the metric catalog's version (git commit or content hash)."""
    exp = optional_import("sqlglot", "registry").exp
    column = next(c for c in RUNS.columns if c.name == "catalog_version")
    return [
        exp.Alter(
            this=table_ref(RUNS.name, dataset),
            kind="TABLE",
            actions=[
                exp.ColumnDef(
                    this=exp.to_identifier(column.name, quoted=True),
                    kind=exp.DataType.build(column.type),
                )
            ],
        )
    ]


#: Version ``v`` to the statements that turn a registry at ``v`` into one at ``v + 1``.
MIGRATIONS: dict[int, Callable[[str | None], Sequence[SqlExpression]]] = {1: _add_catalog_version}
