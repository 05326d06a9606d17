"""Per-arm quantile summaries computed inside whatever engine holds the data.

`compute_quantile_summaries` takes the same inputs as `ablens.data.compute_moments` (pandas,
polars, pyarrow, DuckDB, parquet/CSV paths, Ibis tables such as PostgreSQL, PySpark) and returns,
per arm, the three quantiles `ablens.stats.quantiles.quantile_test` needs: the ``q``-quantile
and the two bracket quantiles at ``q -/+ z sqrt(q (1 - q) / n)``. Only those numbers leave the
engine.

Two queries, both built through narwhals and sent with the cost-attribution comment:

1. One grouped count per arm: rows, non-NULL values and finite values of the column. It checks
   for NULL, NaN and infinite values and gives each arm's ``n``, on which its bracket
   probabilities depend.
2. One aggregation with exactly three quantile aggregates per arm. The probabilities differ by
   arm (they depend on ``n``) and a grouped aggregation applies the same probability to every
   group, so each arm's values are first masked into their own column
   (``CASE WHEN variant = arm THEN value END``, NULL elsewhere; quantile aggregates skip NULLs),
   and the query takes three quantiles of each masked column: one scan of the table, ``3 k``
   quantile aggregates for ``k`` arms, each over its own arm's values only.

   The alternatives do more work: a grouped query at the union of all arms' probabilities
   computes ``2 k + 1`` quantiles of every arm; one filtered aggregation per arm (or their
   union) scans the table ``k`` times.

The quantile is type 7 (linear interpolation, ``Expr.quantile(q, "linear")`` in narwhals): the
only interpolation narwhals computes on every engine (DuckDB ``quantile_cont``, PostgreSQL and
Snowflake ``percentile_cont``, Spark's exact ``percentile``, pandas, polars, pyarrow). Engines
then agree to the last few bits. Approximate or missing: ClickHouse's ``quantile`` (through
Ibis) samples, so its results are approximate; BigQuery and Trino have no exact quantile
aggregate in Ibis and fail. Exact quantile aggregates hold their input in the engine's memory,
in most engines once per aggregate (PostgreSQL shares one sort between the three quantiles of an
arm).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ablens._validation import check_name, check_open_unit_interval, optional_import
from ablens.data._source import (
    InternalNames,
    Source,
    check_arms,
    check_columns,
    check_label_types,
    check_nulls,
    collect,
    is_null_key,
    narrow,
    query_comment,
    resolve,
)
from ablens.errors import DataError, InputError
from ablens.stats.quantiles import (
    INTERPOLATION,
    QuantileSummary,
    bracket_probabilities,
    minimum_count,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["compute_quantile_summaries"]


def compute_quantile_summaries(
    data: object,
    *,
    variant: str,
    column: str,
    probability: float,
    bracket_level: float = 0.95,
    arms: Sequence[str] | None = None,
    experiment_id: str | None = None,
    team: str | None = None,
) -> dict[str, QuantileSummary]:
    """Compute each arm's `QuantileSummary` of ``column`` in the engine that holds ``data``.

    Args:
        data: Anything `ablens.data.compute_moments` accepts, one row per unit.
        variant: Column holding each unit's arm label; rows with a NULL label are left out.
        column: Numeric metric column.
        probability: The quantile's probability ``q``, in (0, 1) (0.5 for the median).
        bracket_level: Level of the bracketing interval that measures the standard error.
        arms: The arm labels expected; other labels, or expected arms without rows, are errors.
        experiment_id: Tag put in a comment of every SQL statement (BigQuery job labels, Spark
            job group), so warehouse costs can be split by experiment.
        team: Optional team tag, attached the same way.

    Returns:
        Arm label (as a string, sorted) to its summary.

    Raises:
        InputError: On invalid arguments, an unsupported data type, or an Ibis backend that has
            no exact quantile aggregate (BigQuery, Trino).
        DataError: On a missing or non-numeric column, NULL, NaN or infinite values (naming
            the column, the arm and the count), unexpected or missing arms, or an arm with too
            few values for the bracket.

    Examples:
        >>> import pandas as pd
        >>> frame = pd.DataFrame({"arm": ["a"] * 50 + ["b"] * 50, "x": list(range(100))})
        >>> summaries = compute_quantile_summaries(
        ...     frame, variant="arm", column="x", probability=0.5
        ... )
        >>> summaries["b"].value, round(summaries["b"].standard_error, 4)
        (74.5, 3.4648)
    """
    check_name("variant", variant)
    check_name("column", column)
    probability = check_open_unit_interval("probability", probability)
    bracket_level = check_open_unit_interval("bracket_level", bracket_level)
    expected_arms = None if arms is None else [str(a) for a in arms]

    source = resolve(data)
    check_columns(source.frame, variant, [column], [], source.columns())
    names = InternalNames(source.columns())
    source = narrow(source, [variant, column])
    nw = optional_import("narwhals", "data")
    if source.frame.collect_schema()[column] == nw.Boolean:
        raise DataError(
            f"column {column!r} is boolean, must be numeric for a quantile; a 0/1 metric has "
            "no informative quantile (compare it as a proportion)"
        )
    comment = query_comment(experiment_id, team)
    counts = _count_by_arm(source, variant, column, comment, experiment_id, team, names)
    arm, n = names("arm"), names("n")
    arm_rows = {str(r[arm]): int(r[n]) for r in counts}
    check_arms(arm_rows, variant, expected_arms)
    check_nulls(counts, [column], [], names)
    _check_finite(counts, column, names)
    labels = sorted((r[arm] for r in counts), key=str)
    probabilities = {
        str(label): _arm_probabilities(
            str(label), arm_rows[str(label)], column, probability, bracket_level
        )
        for label in labels
    }
    values = _quantiles_by_arm(
        source, variant, column, labels, probabilities, comment, experiment_id, team, names
    )
    return {
        str(label): QuantileSummary(
            n=arm_rows[str(label)],
            probability=probability,
            value=values[str(label)][1],
            lower_value=values[str(label)][0],
            upper_value=values[str(label)][2],
            bracket_level=bracket_level,
        )
        for label in labels
    }


def _count_by_arm(
    source: Source,
    variant: str,
    column: str,
    comment: str,
    experiment_id: str | None,
    team: str | None,
    names: InternalNames,
) -> list[dict[str, Any]]:
    """Rows, non-NULL and finite values of ``column`` per arm (NULL-label rows dropped)."""
    nw = optional_import("narwhals", "data")
    arm, x, finite = names("arm"), names("x"), names("finite")
    query = (
        source.frame.with_columns(
            nw.col(variant).alias(arm), nw.col(column).cast(nw.Float64).alias(x)
        )
        # The finite values, masked before the aggregation so that every engine (pandas,
        # pyarrow) sees a plain count; PostgreSQL cannot cast a boolean to BIGINT to sum it.
        .with_columns(nw.when(nw.col(x).is_finite()).then(nw.col(x)).alias(finite))
        .group_by(arm)
        .agg(
            nw.len().alias(names("n")),
            nw.col(x).count().alias(names("nn0")),
            nw.col(finite).count().alias(names("nf")),
        )
    )
    rows, _ = collect(source, query, comment, experiment_id, team)
    check_label_types((r[arm] for r in rows), variant)
    return [r for r in rows if not is_null_key(r[arm])]


def _check_finite(rows: Sequence[dict[str, Any]], column: str, names: InternalNames) -> None:
    for r in rows:
        bad = int(r[names("nn0")]) - int(r[names("nf")])
        if bad:
            raise DataError(
                f"column {column!r} has {bad:,} NaN or infinite value(s) in arm "
                f"{r[names('arm')]!r}; a quantile needs finite values: filter or fill them "
                "before analysis"
            )


def _arm_probabilities(
    arm: str, n: int, column: str, probability: float, bracket_level: float
) -> tuple[float, float, float]:
    needed = minimum_count(probability, bracket_level)
    if n < needed:
        raise DataError(
            f"arm {arm!r} has {n:,} value(s) in column {column!r}, too few to bracket the "
            f"{probability!r} quantile at bracket_level {bracket_level!r}: needs >= {needed:,}"
        )
    lower, upper = bracket_probabilities(n, probability, bracket_level)
    return lower, probability, upper


def _quantiles_by_arm(
    source: Source,
    variant: str,
    column: str,
    labels: Sequence[Any],
    probabilities: dict[str, tuple[float, float, float]],
    comment: str,
    experiment_id: str | None,
    team: str | None,
    names: InternalNames,
) -> dict[str, tuple[float, float, float]]:
    """The three quantiles of every arm, in one aggregation over arm-masked columns."""
    nw = optional_import("narwhals", "data")
    value = nw.col(column).cast(nw.Float64)
    masked = [
        nw.when(nw.col(variant) == nw.lit(label)).then(value).alias(names(f"x{i}"))
        for i, label in enumerate(labels)
    ]
    aggregations = [
        nw.col(names(f"x{i}")).quantile(p, INTERPOLATION).alias(names(f"q{i}_{j}"))
        for i, label in enumerate(labels)
        for j, p in enumerate(probabilities[str(label)])
    ]
    query = source.frame.with_columns(*masked).select(*aggregations)
    try:
        (row,), _ = collect(source, query, comment, experiment_id, team)
    except Exception as error:
        kind = type(error)
        if kind.__name__ == "OperationNotDefinedError" and kind.__module__.startswith("ibis"):
            raise InputError(
                f"data is an Ibis table on a backend with no exact quantile aggregate ({error}); "
                "quantiles need DuckDB, PostgreSQL, Snowflake, Spark, pandas, polars or pyarrow"
            ) from error
        raise
    result: dict[str, tuple[float, float, float]] = {}
    for i, label in enumerate(labels):
        lower, middle, upper = (_as_float(row[names(f"q{i}_{j}")], label) for j in range(3))
        result[str(label)] = (lower, middle, upper)
    return result


def _as_float(value: Any, label: object) -> float:  # noqa: ANN401 - an engine's scalar
    if value is None:  # cannot happen after the counts, unless the data changed in between
        raise DataError(f"the engine returned no quantile for arm {label!r}; did the data change?")
    return float(value)
