"""Per-arm (and per-segment) moments computed inside whatever engine holds the data.

One entry point, `compute_moments`, takes a pandas, polars or pyarrow table, a polars
LazyFrame, a DuckDB relation, a ``(duckdb_connection, "table")`` pair, a parquet or CSV path
(read lazily by DuckDB), an Ibis table (any Ibis backend: DuckDB, Postgres, BigQuery,
Snowflake, ...) or a PySpark DataFrame. It builds one query through narwhals, the maintained
engine-agnostic layer, so the same code runs on every engine, and only a few numbers per arm
come back to Python.

The query computes, per (segment, arm): the row count, the non-null count of each column, the
sums of each column shifted by a pilot value ``K`` (the median of the first rows, shared by all
arms, computed in a one-row subquery of the same query) and the sums of products of shifted
columns. `ablens.Moments.from_shifted_sums` turns
these into means and centred co-moments. Shifting keeps full precision where plain
``sum(x * x)`` loses every digit (the NIST NumAcc sets, ``1e9`` plus small noise); the pilot
needs only a read of the first rows, inside the one query (no separate round trip).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from ablens._validation import check_count, check_name, optional_import
from ablens.data._source import (
    InternalNames,
    Source,
    check_arms,
    check_columns,
    check_label_types,
    check_nulls,
    collect,
    column_names,
    is_null_key,
    narrow,
    query_comment,
    resolve,
)
from ablens.errors import DataError, InputError
from ablens.stats.moments import Moments

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

__all__ = [
    "DataReport",
    "MomentsByArm",
    "TooManySegmentsError",
    "compute_moments",
    "distinct_units_query",
    "moments_query",
]

PILOT_ROWS = 10_000
#: Rows the grouped result may have per allowed segment before the cap is declared exceeded.
_ROWS_PER_SEGMENT_GUARD = 64


@dataclass(frozen=True)
class DataReport:
    """What the data checks counted (every count computed in the engine).

    Attributes:
        rows: Rows read.
        null_variant: Rows whose variant is NULL (excluded from every arm).
        null_unit: Rows whose unit id is NULL (only when a unit column is given).
        repeated_units: Rows beyond the first for a unit id seen more than once in an arm.
        units_in_several_arms: Units that appear in more than one arm.
        arm_rows: Rows per arm label.
        warnings: Conditions that allow analysis to go on but deserve a look.
        exposure_mismatches: Arm label -> rows whose exposure column disagreed with the arm
            (dropped before every count above), when the analysis checked one.
    """

    rows: int
    null_variant: int
    null_unit: int = 0
    repeated_units: int = 0
    units_in_several_arms: int = 0
    arm_rows: Mapping[str, int] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()
    exposure_mismatches: Mapping[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dictionary."""
        return {
            "rows": self.rows,
            "null_variant": self.null_variant,
            "null_unit": self.null_unit,
            "repeated_units": self.repeated_units,
            "units_in_several_arms": self.units_in_several_arms,
            "arm_rows": dict(self.arm_rows),
            "warnings": list(self.warnings),
            "exposure_mismatches": dict(self.exposure_mismatches),
        }


@dataclass(frozen=True)
class MomentsByArm:
    """The moments an analysis needs, with the checks made while computing them.

    Attributes:
        overall: Arm label to its moments over all segments.
        segments: Segment values (a tuple, one per segment column) to arm label to moments;
            empty when no segment column was given.
        segment_columns: Names of the segment columns.
        report: Counts from the data checks.
        statements: SQL text sent to the engine, where ablens sent SQL itself (for audit).
    """

    overall: Mapping[str, Moments]
    segments: Mapping[tuple[Any, ...], Mapping[str, Moments]]
    segment_columns: tuple[str, ...]
    report: DataReport
    statements: tuple[str, ...] = ()


# ---------------------------------------------------------------------------- input resolution


# ---------------------------------------------------------------------------- the query


def moments_query(
    frame: Any,  # noqa: ANN401 - a narwhals LazyFrame
    *,
    variant: str,
    columns: Sequence[str],
    pairs: Sequence[tuple[str, str]],
    pilots: Sequence[float] | None = None,
    segments: Sequence[str] = (),
    unit: str | None = None,
    names: InternalNames | None = None,
) -> Any:  # noqa: ANN401 - a narwhals LazyFrame
    """The grouped aggregation, as a narwhals LazyFrame (nothing runs until it is collected).

    ``pilots`` are the shifts ``K`` as literals; None (the default) computes them in the same
    query, from the median of the first `PILOT_ROWS` rows (a one-row subquery joined to every
    row; a NULL or non-finite median shifts by 0), and returns them as ``__p{i}``.

    Output columns (with ``names``' prefix, ``__`` unless a column of the table starts with
    it): the segment columns, ``__arm``, ``__n`` (rows), ``__nn{i}`` (non-null values of column
    i), ``__s{i}`` (sum of ``x_i - K_i``), ``__c{i}_{j}`` (sum of products of shifted columns i
    and j, for squares and requested pairs) and, with a unit column, ``__unit_nn`` (non-null
    unit ids).

    Only the columns named are read: the first step selects them, so a table with thousands of
    other columns costs no more than one without them.
    """
    nw = optional_import("narwhals", "data")
    name = InternalNames(column_names(frame)) if names is None else names
    schema = frame.collect_schema()
    kept = list(dict.fromkeys([*segments, *([unit] if unit is not None else [])]))
    pilot_columns = [name(f"p{i}") for i in range(len(columns))]
    if pilots is None:
        frame = frame.join(pilot_query(frame, columns, name), how="cross")
        shift = [nw.col(p) for p in pilot_columns]
    else:
        shift = [nw.lit(float(pilot)) for pilot in pilots]
    shifted = {name(f"d{i}"): as_float(c, schema[c]) - shift[i] for i, c in enumerate(columns)}
    products = {
        name(f"c{i}_{j}"): nw.col(name(f"d{i}")) * nw.col(name(f"d{j}"))
        for i, j in _product_indices(columns, pairs)
    }
    keys = [*segments, name("arm")]
    aggregations = [nw.len().alias(name("n"))]
    aggregations += [
        nw.col(name(f"d{i}")).count().alias(name(f"nn{i}")) for i in range(len(columns))
    ]
    aggregations += [nw.col(name(f"d{i}")).sum().alias(name(f"s{i}")) for i in range(len(columns))]
    aggregations += [nw.col(product).sum() for product in products]
    if unit is not None:
        aggregations.append(nw.col(unit).count().alias(name("unit_nn")))
    if pilots is None:  # one value in every row: any aggregate of it gives it back
        aggregations += [nw.col(p).max() for p in pilot_columns]
    return (
        frame.select(
            *(nw.col(c) for c in kept),
            nw.col(variant).alias(name("arm")),
            *(expression.alias(alias) for alias, expression in shifted.items()),
            *(nw.col(p) for p in pilot_columns if pilots is None),
        )
        .with_columns(**products)
        .group_by(*keys)
        .agg(*aggregations)
    )


def as_float(column: str, dtype: Any) -> Any:  # noqa: ANN401 - narwhals dtype and Expr
    """``column`` as Float64; booleans through Int32 (PostgreSQL casts boolean only to int)."""
    nw = optional_import("narwhals", "data")
    expression = nw.col(column)
    if dtype == nw.Boolean:
        expression = expression.cast(nw.Int32)
    return expression.cast(nw.Float64)


def _product_indices(
    columns: Sequence[str], pairs: Sequence[tuple[str, str]]
) -> list[tuple[int, int]]:
    wanted = {(i, i) for i in range(len(columns))}
    for a, b in pairs:
        i, j = sorted((columns.index(a), columns.index(b)))
        wanted.add((i, j))
    return sorted(wanted)


#: Ibis backends that compile no median (Ibis 12 has no BigQuery rule for it).
NO_MEDIAN_BACKENDS = frozenset({"bigquery"})


def pilot_statistic(frame: Any) -> str:  # noqa: ANN401 - a narwhals LazyFrame
    """The pilot's statistic: the median, or the minimum on a backend without a median.

    Both are values of the data; the median is nearer the mean (a better shift), the
    smallest of the first rows is what a backend without a median can still compute.
    """
    nw = optional_import("narwhals", "data")
    if frame.implementation is not nw.Implementation.IBIS:
        return "median"
    try:
        backend = frame.to_native()._find_backend().name  # Ibis has no public way to ask
    except Exception:  # an unbound table: no backend to ask, so assume the worst
        return "min"
    return "min" if backend in NO_MEDIAN_BACKENDS else "median"


def pilot_query(
    frame: Any,  # noqa: ANN401 - a narwhals LazyFrame
    columns: Sequence[str],
    names: InternalNames,
) -> Any:  # noqa: ANN401 - a narwhals LazyFrame
    """One row: each column's shift ``K``, the median of its first `PILOT_ROWS` values.

    (On a backend without a median, their smallest: see `pilot_statistic`.)

    The median of the first rows is (close to) a data value: near the mean in standard
    deviations, and on integer or zero-inflated columns ``x - K`` is then exact, where a mean
    pilot (an arbitrary double) would round on every row. A NULL pilot (no values in the first
    rows) or a non-finite one shifts by 0: any finite shift is exact for the merge, only less
    precise; the NULL check reports the real problem.
    """
    nw = optional_import("narwhals", "data")
    schema = frame.collect_schema()
    medians = [names(f"m{i}") for i in range(len(columns))]
    central = pilot_statistic(frame)
    return (
        frame.select(*(nw.col(c) for c in columns))
        .head(PILOT_ROWS)
        .select(
            *(
                getattr(as_float(c, schema[c]), central)().alias(medians[i])
                for i, c in enumerate(columns)
            )
        )
        .select(
            *(
                nw.when(nw.col(m).is_finite())
                .then(nw.col(m))
                .otherwise(nw.lit(0.0))
                .alias(names(f"p{i}"))
                for i, m in enumerate(medians)
            )
        )
    )


# ---------------------------------------------------------------------------- entry point
def compute_moments(
    data: object,
    *,
    variant: str,
    columns: Sequence[str],
    pairs: Sequence[tuple[str, str]] = (),
    segments: Sequence[str] = (),
    unit: str | None = None,
    arms: Sequence[str] | None = None,
    experiment_id: str | None = None,
    team: str | None = None,
    max_segments: int = 100,
) -> MomentsByArm:
    """Compute per-arm (and per-segment) moments in the engine that holds ``data``.

    Args:
        data: A pandas/polars/pyarrow table, polars LazyFrame, DuckDB relation,
            ``(duckdb_connection, "table")``, parquet/CSV path, Ibis table or PySpark DataFrame;
            one row per unit (aggregate events first with `ablens.data.aggregate_events`).
        variant: Column holding each unit's arm label.
        columns: Numeric or boolean metric columns (booleans count as 0/1).
        pairs: Column pairs whose cross-moment is needed (ratio metrics, covariates).
        segments: Categorical columns to break the moments down by (same pass).
        unit: Unit id column; when given, repeated ids and units in several arms are errors.
        arms: The arm labels the plan expects; other labels, or expected arms without rows,
            are errors. Without it, every label found is an arm.
        experiment_id: Tag put in a comment of every SQL statement (and BigQuery job labels,
            Spark job group), so warehouse costs can be split by experiment.
        team: Optional team tag, attached the same way.
        max_segments: Most distinct segment values allowed (guards against segmenting by an id).

    Returns:
        Moments per arm overall and per segment, the data checks' counts and the SQL sent.

    Raises:
        InputError: On invalid arguments or an unsupported data type.
        DataError: On missing or non-numeric columns, NULL metric values or units, repeated
            units, units in several arms, unexpected or missing arm labels, too many segments.

    Examples:
        >>> import pandas as pd
        >>> frame = pd.DataFrame({"arm": ["a", "a", "b", "b"], "x": [1.0, 2.0, 3.0, 5.0]})
        >>> result = compute_moments(frame, variant="arm", columns=["x"])
        >>> result.overall["b"].mean_of("x"), result.overall["b"].variance("x")
        (4.0, 2.0)
    """
    check_name("variant", variant)
    columns = list(dict.fromkeys(columns))  # keep order, drop repeats
    if not columns:
        raise InputError("columns is empty, must name at least one metric column")
    for name in columns:
        check_name("columns", name)
    pairs = [tuple(p) for p in pairs]  # type: ignore[misc]
    for pair in pairs:
        if len(pair) != 2:
            raise InputError(f"pairs has {pair!r}, each pair must name exactly two columns")
        for name in pair:
            if name not in columns:
                raise InputError(
                    f"pairs names column {name!r}, must be one of columns {columns}; add it to "
                    "columns"
                )
    segments = list(segments)
    if variant in segments or unit in segments:
        raise InputError("segments must not include the variant or unit column")
    max_segments = check_count("max_segments", max_segments, minimum=1)
    expected_arms = None if arms is None else [str(a) for a in arms]

    source = resolve(data)
    others = [*segments, *([unit] if unit is not None else [])]
    available = source.columns()
    check_columns(source.frame, variant, columns, others, available)
    names = InternalNames(available)
    source = narrow(source, [variant, *others, *columns])
    comment = query_comment(experiment_id, team)
    statements: list[str] = []
    # The shifts come from the first rows inside the same query: one round trip, one scan.
    query = moments_query(
        source.frame,
        variant=variant,
        columns=columns,
        pairs=pairs,
        segments=segments,
        unit=unit,
        names=names,
    )
    if segments:
        query = query.head((max_segments + 1) * _ROWS_PER_SEGMENT_GUARD)
    try:
        rows, sent = collect(source, query, comment, experiment_id, team)
    except Exception as error:
        # PostgreSQL raises on a float sum that overflows (the others return infinity): find
        # the column and arm, to say it as every other engine does.
        if "overflow" not in str(error).lower():
            raise
        raise _overflow(source, variant, columns, comment, experiment_id, team, names) from None
    statements.extend(sent)
    unit_counts = (
        _unit_counts(source, unit, variant, comment, experiment_id, team, statements, names)
        if unit is not None
        else (0, 0)
    )
    return _assemble(
        rows,
        columns=columns,
        pairs=pairs,
        segments=segments,
        variant=variant,
        unit=unit,
        expected_arms=expected_arms,
        max_segments=max_segments,
        unit_counts=unit_counts,
        statements=statements,
        names=names,
    )


def _unit_counts(
    source: Source,
    unit: str,
    variant: str,
    comment: str,
    experiment_id: str | None,
    team: str | None,
    statements: list[str],
    names: InternalNames,
) -> tuple[int, int]:
    """Rows beyond one per unit id, and units seen in more than one arm: exact, usually one query.

    A unit repeated within an arm, or in two arms, has at least two rows; so when the distinct
    unit ids equal the rows (arm and unit not NULL) neither can happen and both counts are 0.
    That rule-out check is one COUNT(DISTINCT) over two columns, exact, and far cheaper than
    grouping every unit with its arms (one small hash per unit instead of three aggregates,
    and it spills to disk under DuckDB's memory limit). Only when it fails does the grouped
    query run, to count the problems for the message. Rows with a NULL arm are left out, as
    from every arm.
    """
    nw = optional_import("narwhals", "data")
    rows_, distinct = names("rows"), names("distinct_units")
    present = source.frame.select(nw.col(unit), nw.col(variant)).drop_nulls(subset=[unit, variant])
    rule_out = distinct_units_query(present, source.kind, unit, rows_, distinct)
    (counted,), sent = collect(source, rule_out, comment, experiment_id, team)
    statements.extend(sent)
    if int(counted[rows_] or 0) == int(counted[distinct] or 0):
        return 0, 0
    return _unit_problems(
        source, unit, variant, present, comment, experiment_id, team, statements, names
    )


def distinct_units_query(
    present: Any,  # noqa: ANN401 - a narwhals LazyFrame without NULL units
    kind: str,
    unit: str,
    rows: str,
    distinct: str,
) -> Any:  # noqa: ANN401 - a narwhals LazyFrame
    """One row: the rows of ``present`` (as ``rows``) and its distinct ``unit`` ids (``distinct``).

    Ibis tables get Ibis' own ``nunique`` (narwhals' NULL-aware version casts a boolean to
    smallint, which PostgreSQL refuses); NULL units were dropped, so both are COUNT(DISTINCT).
    """
    nw = optional_import("narwhals", "data")
    if kind == "ibis":
        table = nw.to_native(present)
        native = table.aggregate(**{rows: table.count(), distinct: table[unit].nunique()})
        return nw.from_native(native)
    return present.select(nw.len().alias(rows), nw.col(unit).n_unique().alias(distinct))


def _unit_problems(
    source: Source,
    unit: str,
    variant: str,
    present: Any,  # noqa: ANN401 - a narwhals LazyFrame: unit and variant, neither NULL
    comment: str,
    experiment_id: str | None,
    team: str | None,
    statements: list[str],
    names: InternalNames,
) -> tuple[int, int]:
    """The counts once some unit id repeats: one query grouping by unit.

    Comparing each unit's smallest and largest arm label avoids COUNT(DISTINCT) over labels,
    which some engine dialects cannot express for every type.
    """
    nw = optional_import("narwhals", "data")
    rows_, lo, hi, several = names("rows"), names("lo"), names("hi"), names("several")
    per_unit = (
        present.group_by(unit)
        .agg(
            nw.len().alias(rows_),
            nw.col(variant).min().alias(lo),
            nw.col(variant).max().alias(hi),
        )
        # Int32: PostgreSQL casts boolean to integer, not to bigint.
        .with_columns((nw.col(lo) != nw.col(hi)).cast(nw.Int32).alias(several))
    )
    query = per_unit.select(
        (nw.col(rows_).sum() - nw.len()).alias(names("repeated")),
        nw.col(several).sum().alias(names("several_units")),
    )
    (result,), sent = collect(source, query, comment, experiment_id, team)
    statements.extend(sent)
    return int(result[names("repeated")] or 0), int(result[names("several_units")] or 0)


def _refuse_no_arm(total_rows: int, variant: str) -> None:
    """No row with an arm: an empty table, or a NULL arm everywhere (said before the arms)."""
    if total_rows == 0:
        raise DataError(
            "the data have no rows: nothing to analyse; check the file, the table or the "
            "source's filter"
        )
    raise DataError(
        f"all {total_rows:,} rows have a NULL {variant!r}: no arm to compare; check the "
        "variant column"
    )


class TooManySegmentsError(DataError):
    """The segment columns hold more distinct values than allowed (the caller may reword it).

    Attributes:
        segments: The segment columns.
        max_segments: The limit that was passed.
    """

    def __init__(self, segments: Sequence[str], max_segments: int) -> None:
        self.segments = tuple(segments)
        self.max_segments = max_segments
        super().__init__(
            f"segments {list(segments)} have more than max_segments == {max_segments} distinct "
            "values; segment by a coarser column, or raise max_segments"
        )


def _check_segments(rows: list[dict[str, Any]], segments: Sequence[str], max_segments: int) -> None:
    distinct = {tuple(r[s] for s in segments) for r in rows}
    truncated = bool(segments) and len(rows) >= (max_segments + 1) * _ROWS_PER_SEGMENT_GUARD
    if len(distinct) > max_segments or truncated:
        raise TooManySegmentsError(segments, max_segments)


def _check_units(
    rows: list[dict[str, Any]], unit: str, unit_counts: tuple[int, int], names: InternalNames
) -> tuple[int, int, int]:
    """Return (NULL unit ids, repeated rows, units in several arms); raise when any is > 0."""
    null_unit = sum(int(r[names("n")]) - int(r[names("unit_nn")]) for r in rows)
    if null_unit:
        raise DataError(f"column {unit!r} (the unit id) has {null_unit:,} NULL value(s)")
    repeated, several = unit_counts
    if several > 0:
        raise DataError(
            f"{several:,} unit(s) in column {unit!r} are assigned to more than one arm; "
            "fix the assignment or exclude them before analysis, or if "
            f"{unit!r} is not the unit id, choose the column that is"
        )
    if repeated > 0:
        raise DataError(
            f"column {unit!r} repeats unit ids: {repeated:,} row(s) beyond one per unit, and "
            "the analysis needs one row per unit: add up each unit's rows into one first, "
            f"or if {unit!r} is not the unit id, choose the column that is"
        )
    return null_unit, repeated, several


def _check_finite_sums(
    r: dict[str, Any],
    columns: Sequence[str],
    indices: Sequence[tuple[int, int]],
    arm: str,
    names: InternalNames,
) -> None:
    """Refuse sums that overflowed: values beyond about 1e154 square past the largest double."""

    def finite(value: object) -> bool:
        return value is None or math.isfinite(float(value))  # type: ignore[arg-type]

    for i, j in sorted(indices, key=lambda ij: ij[0] != ij[1]):  # squares first
        if finite(r[names(f"s{i}")]) and finite(r[names(f"c{i}_{j}")]):
            continue
        which = (
            f"column {columns[i]!r} holds"
            if i == j
            else f"columns {columns[i]!r} and {columns[j]!r} hold"
        )
        raise DataError(
            f"{which} values too large for floating-point sums in arm {arm!r} (beyond about "
            "1e154 their squares overflow to infinity); rescale them (e.g. divide by 1e6) or "
            "look for corrupt values"
        )


#: Beyond this absolute value a double's square overflows (sqrt of the largest double).
_SQUARE_LIMIT = 1.3e154


def _overflow(
    source: Source,
    variant: str,
    columns: Sequence[str],
    comment: str,
    experiment_id: str | None,
    team: str | None,
    names: InternalNames,
) -> DataError:
    """The overflow error of the first (arm, column) whose largest value cannot be squared."""
    schema = source.frame.collect_schema()
    query = (
        source.frame.drop_nulls(subset=[variant])
        .group_by(variant)
        .agg(
            *(
                as_float(c, schema[c]).abs().max().alias(names(f"m{i}"))
                for i, c in enumerate(columns)
            )
        )
    )
    rows, _ = collect(source, query, comment, experiment_id, team)
    found = [
        (str(r[variant]), i, float(r[names(f"m{i}")] or 0.0))
        for r in rows
        for i in range(len(columns))
    ]
    found.sort(key=lambda item: (item[2] <= _SQUARE_LIMIT, item[0], item[1]))
    arm, i, _ = found[0] if found else ("?", 0, 0.0)
    return DataError(
        f"column {columns[i]!r} holds values too large for floating-point sums in arm {arm!r} "
        "(beyond about 1e154 their squares overflow to infinity); rescale them (e.g. divide by "
        "1e6) or look for corrupt values"
    )


def _assemble(
    rows: list[dict[str, Any]],
    *,
    columns: Sequence[str],
    pairs: Sequence[tuple[str, str]],
    segments: Sequence[str],
    variant: str,
    unit: str | None,
    expected_arms: Sequence[str] | None,
    max_segments: int,
    unit_counts: tuple[int, int],
    statements: Sequence[str],
    names: InternalNames,
) -> MomentsByArm:
    k = len(columns)
    indices = _product_indices(columns, pairs)
    arm, n = names("arm"), names("n")
    for r in rows:  # pandas reports a NULL group key as NaN (or pd.NA); every other as None
        for name in (arm, *segments):
            if is_null_key(r[name]):
                r[name] = None
    check_label_types((r[arm] for r in rows), variant)
    total_rows = sum(int(r[n]) for r in rows)
    null_variant = sum(int(r[n]) for r in rows if r[arm] is None)
    rows = [r for r in rows if r[arm] is not None]
    _check_segments(rows, segments, max_segments)
    arm_rows: dict[str, int] = {}
    for r in rows:
        label = str(r[arm])
        arm_rows[label] = arm_rows.get(label, 0) + int(r[n])
    if not arm_rows:
        _refuse_no_arm(total_rows, variant)
    check_arms(arm_rows, variant, expected_arms)
    check_nulls(rows, columns, segments, names)
    null_unit = repeated = several = 0
    if unit is not None:
        null_unit, repeated, several = _check_units(rows, unit, unit_counts, names)
    for r in sorted(rows, key=lambda r: str(r[arm])):
        _check_finite_sums(r, columns, indices, str(r[arm]), names)
    warnings: list[str] = []
    if null_variant:
        warnings.append(
            f"{null_variant:,} row(s) have a NULL {variant!r} and were left out of every arm"
        )

    def to_moments(r: dict[str, Any]) -> Moments:
        cross = np.full((k, k), np.nan)
        for i, j in indices:
            cross[i, j] = cross[j, i] = float(r[names(f"c{i}_{j}")] or 0.0)
        pilots = []
        for i in range(k):
            pilot = r[names(f"p{i}")]
            pilots.append(float(pilot) if pilot is not None and math.isfinite(pilot) else 0.0)
        return Moments.from_shifted_sums(
            int(r[n]),
            columns,
            pilots,
            [float(r[names(f"s{i}")] or 0.0) for i in range(k)],
            cross,
        )

    by_segment: dict[tuple[Any, ...], dict[str, Moments]] = {}
    # Arms in label order in every segment, as overall, whatever order the engine returned.
    for r in sorted(rows, key=lambda r: str(r[arm])):
        key = tuple(r[s] for s in segments)
        by_segment.setdefault(key, {})[str(r[arm])] = to_moments(r)
    overall: dict[str, Moments] = {}
    for label in sorted({str(r[arm]) for r in rows}):
        overall[label] = Moments.merge_all(
            parts[label] for parts in by_segment.values() if label in parts
        )
    report = DataReport(
        rows=total_rows,
        null_variant=null_variant,
        null_unit=null_unit,
        repeated_units=max(repeated, 0),
        units_in_several_arms=max(several, 0),
        arm_rows=arm_rows,
        warnings=tuple(warnings),
    )
    return MomentsByArm(
        overall=overall,
        segments=by_segment if segments else {},
        segment_columns=tuple(segments),
        report=report,
        statements=tuple(statements),
    )
