"""Raw events to one row per unit, aggregated inside the engine.

Experiments log events (page views, orders, payments); analyses need one row per randomized
unit. `aggregate_events` builds that per-unit table as a lazy query in the events' own engine
(nothing is pulled into Python), optionally keeping only events inside an analysis window, and
hands back a native lazy table that `ablens.analyze` or `ablens.data.compute_moments` accepts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from ablens._validation import check_choice, check_name, optional_import
from ablens.data._source import InternalNames, narrow, resolve
from ablens.data.engine import as_float
from ablens.errors import InputError

if TYPE_CHECKING:
    from collections.abc import Mapping
    from datetime import datetime, timedelta

__all__ = ["AGGREGATIONS", "Aggregation", "aggregate_events"]

Aggregation = Literal["sum", "count", "count_distinct", "max", "min", "any", "mean"]
AGGREGATIONS: tuple[Aggregation, ...] = (
    "sum",
    "count",
    "count_distinct",
    "max",
    "min",
    "any",
    "mean",
)


def aggregate_events(
    events: object,
    *,
    unit: str,
    variant: str,
    metrics: Mapping[str, tuple[Aggregation, str]],
    timestamp: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    window_after_exposure: timedelta | None = None,
    exposure_column: str = "first_exposure",
) -> Any:  # noqa: ANN401 - the events' own native lazy table type
    """One row per (unit, variant) with each metric aggregated over the unit's events.

    Args:
        events: Event-level data of any engine `ablens.data.compute_moments` accepts.
        unit: Unit id column (the randomization unit).
        variant: Arm label column.
        metrics: Output column to ``(aggregation, source column)``; aggregations are "sum",
            "count" (non-null values), "count_distinct", "max", "min", "any" (1 if any value is
            true or non-zero, else 0) and "mean".
        timestamp: Event time column; needed for a window and for the first exposure.
        start: Keep events at or after this time.
        end: Keep events before this time.
        window_after_exposure: Keep each unit's events within this long after its first
            event (its exposure), so early and late enrollees are measured alike.
        exposure_column: Name of the output column holding each unit's first event time
            (only with ``timestamp``).

    Returns:
        A lazy native table (e.g. a DuckDB relation, polars LazyFrame, Ibis table, Spark
        DataFrame; an eager frame for pandas/pyarrow input) with ``unit``, ``variant``, the
        metrics and, with ``timestamp``, ``exposure_column``.

    Raises:
        InputError: On an unknown aggregation, a window without a timestamp, or a name clash.

    Examples:
        >>> import polars as pl
        >>> events = pl.DataFrame(
        ...     {
        ...         "user": [1, 1, 2, 3, 3, 3],
        ...         "arm": ["a", "a", "b", "a", "a", "a"],
        ...         "amount": [5.0, 7.0, 3.0, 1.0, 0.0, 2.0],
        ...     }
        ... )
        >>> per_user = aggregate_events(
        ...     events,
        ...     unit="user",
        ...     variant="arm",
        ...     metrics={"revenue": ("sum", "amount"), "orders": ("count", "amount")},
        ... )
        >>> per_user.sort("user").to_dicts()[0]
        {'user': 1, 'arm': 'a', 'revenue': 12.0, 'orders': 2}
    """
    nw = optional_import("narwhals", "data")
    _check_arguments(unit, variant, metrics, exposure_column)
    needs_time = start is not None or end is not None or window_after_exposure is not None
    if needs_time and timestamp is None:
        raise InputError("a window (start, end or window_after_exposure) needs timestamp=")

    source = resolve(events)
    internal = InternalNames(source.columns())
    used = [unit, variant, *(column for _, column in metrics.values())]
    used += [timestamp] if timestamp is not None else []
    # Only the columns used (the missing ones are left for the engine to name).
    present = set(source.columns())
    if all(c in present for c in used):
        source = narrow(source, used)
    frame = source.frame
    native_is_eager = source.kind in {"pandas", "pyarrow", "modin", "cudf"} or (
        source.kind == "polars" and not _is_lazy(events)
    )
    if start is not None:
        frame = frame.filter(nw.col(timestamp) >= nw.lit(start))
    if end is not None:
        frame = frame.filter(nw.col(timestamp) < nw.lit(end))
    if window_after_exposure is not None:
        # The first event time as a column, then the filter: Ibis 12 (with sqlglot 30.30)
        # compiles a window function inside a filter to invalid SQL (PostgreSQL: missing
        # FROM-clause entry for table "t0").
        frame = (
            frame.with_columns(nw.col(timestamp).min().over(unit).alias(internal("exposure")))
            .filter(
                nw.col(timestamp) < nw.col(internal("exposure")) + nw.lit(window_after_exposure)
            )
            .drop(internal("exposure"))
        )

    # Derived columns first, then only simple aggregations: pandas runs those natively.
    schema = frame.collect_schema()
    flags = {
        internal(f"any_{name}"): (as_float(column, schema[column]).fill_null(0.0) != 0).cast(
            nw.Int32
        )
        for name, (kind, column) in metrics.items()
        if kind == "any"
    }
    if flags:
        frame = frame.with_columns(**flags)

    def aggregate(name: str, kind: str, column: str) -> Any:  # noqa: ANN401 - narwhals Expr
        if kind == "any":
            return nw.col(internal(f"any_{name}")).max().alias(name)
        return getattr(nw.col(column), kind)().alias(name)

    keys = [unit, variant]
    aggregations = [
        aggregate(name, *spec) for name, spec in metrics.items() if spec[0] != "count_distinct"
    ]
    if timestamp is not None:
        aggregations.append(nw.col(timestamp).min().alias(exposure_column))
    if not aggregations:
        aggregations.append(nw.len().alias(internal("events")))
    result = frame.group_by(*keys).agg(*aggregations)
    # Distinct counts as distinct (unit, variant, value) rows counted per unit: portable SQL
    # that ignores NULLs, where COUNT(DISTINCT) differs between engines.
    for name, (kind, column) in metrics.items():
        if kind != "count_distinct":
            continue
        distinct = (
            frame.select(*keys, column)
            .drop_nulls(subset=[column])
            .unique()
            .group_by(*keys)
            .agg(nw.len().alias(name))
        )
        result = result.join(distinct, on=keys, how="left").with_columns(nw.col(name).fill_null(0))
    if internal("events") in result.collect_schema().names():
        result = result.drop(internal("events"))
    if native_is_eager:
        return result.collect().to_native()
    return result.to_native()


def _is_lazy(native: object) -> bool:
    return type(native).__name__ == "LazyFrame"


def _check_arguments(
    unit: str, variant: str, metrics: Mapping[str, tuple[Aggregation, str]], exposure_column: str
) -> None:
    check_name("unit", unit)
    check_name("variant", variant)
    if not metrics:
        raise InputError("metrics is empty, must map at least one output column")
    for name, spec in metrics.items():
        check_name("metrics key", name)
        if not isinstance(spec, tuple) or len(spec) != 2:
            raise InputError(f"metrics[{name!r}] == {spec!r}, must be (aggregation, source column)")
        check_choice(f"metrics[{name!r}] aggregation", spec[0], AGGREGATIONS)
        if name in (unit, variant, exposure_column):
            raise InputError(f"metrics key {name!r} clashes with the unit/variant/exposure column")
