"""A metric's past period, read in the engine: the baseline and the traffic a plan starts from.

`read_history` is what `ablens.power_plan_from_history` reads: the metric's moments over the
period and the units first seen on each day, each computed by one engine query.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, cast

import numpy as np

from ablens._validation import check_choice, check_real, optional_import
from ablens.data._source import check_columns, collect, query_comment, resolve
from ablens.data.engine import compute_moments
from ablens.errors import DataError, InputError

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from ablens.stats.moments import Moments

__all__ = ["UNIT_COMBINES", "History", "UnitCombine", "read_history"]

#: How a unit's repeated rows combine into its one row, per column: "sum" adds them (revenue,
#: orders, sessions: a unit's total), "any" takes the largest (a 0/1 conversion: converted on
#: any row), "same" requires one value per unit (a pre-period covariate) and takes it.
UnitCombine = Literal["sum", "any", "same"]
UNIT_COMBINES: tuple[UnitCombine, ...] = ("sum", "any", "same")

#: The one "arm" of a history, a label no table uses.
HISTORY_ARM = "__ablens_history"
#: Days in the window whose mean daily traffic extrapolates the future.
FULL_WEEK = 7


@dataclass(frozen=True)
class History:
    """A metric's past period (every number computed in the engine).

    Attributes:
        first_day: First day (a date, or the integer day of the column).
        last_day: Last day.
        days: Days covered.
        units: Units seen over the whole period.
        cumulative_units: Units seen by the end of each day (first-seen day, cumulated).
        recent_daily_units: New units a day over the last week (the rate used to extrapolate).
        moments: The metric's moments over the period.
        rows: Rows read in the period (more than ``units`` when a unit's rows were combined).
        variant: The arm column the history was filtered on, or None.
        arm: The arm kept, or None (every row).
    """

    first_day: object
    last_day: object
    days: int
    units: int
    cumulative_units: tuple[int, ...]
    recent_daily_units: float
    moments: Moments = field(repr=False)
    rows: int = 0
    variant: str | None = None
    arm: object = None


def read_history(
    data: object,
    *,
    columns: Sequence[str],
    pairs: Sequence[tuple[str, str]] = (),
    date: str,
    unit: str | None = None,
    combine: Mapping[str, UnitCombine] | None = None,
    variant: str | None = None,
    arm: object = None,
    integer_days: bool = False,
    start: object = None,
    end: object = None,
    experiment_id: str | None = None,
    team: str | None = None,
) -> History:
    """A past period of a metric, read in two engine queries: its moments and its daily units.

    The units of each day are those first seen that day (when ``unit`` is given) or the rows of
    that day; the moments are the metric's over the whole period, as one arm. With ``unit``
    and ``combine``, a unit's repeated rows become one row first (its first day, each column
    combined by its rule), so traffic and moments count each unit once; with ``unit`` and no
    ``combine``, a repeated unit id is an error.

    Args:
        data: Any input `ablens.compute_moments` accepts.
        columns: The metric's columns (``metric.required_columns()``).
        pairs: The column pairs whose cross-moments the metric needs.
        date: The date or timestamp column (an integer day only with ``integer_days``).
        unit: The unit id column; None counts rows.
        combine: With ``unit``: how each of ``columns`` combines over a unit's rows ("sum",
            "any", "same"; see `UnitCombine`); None refuses repeated unit ids.
        variant: Arm column of a past experiment, to read one arm (with ``arm``).
        arm: The arm label kept (with ``variant``).
        integer_days: Accept an integer ``date`` column as consecutive day numbers.
        start: First day kept (inclusive), of the date column's type; None keeps all.
        end: End of the period (exclusive); None keeps all.
        experiment_id: Tag for the query comment (cost attribution).
        team: Tag for the query comment.

    Returns:
        The period's days, cumulated units and moments.

    Raises:
        DataError: A column is missing, of the wrong type, has NULL dates, units or values, a
            unit id repeats without ``combine``, a "same" column varies within a unit, or the
            period (or the arm) is empty.
        InputError: ``start`` or ``end`` is not of the date column's type; ``variant`` without
            ``arm`` or the reverse; a ``combine`` rule is unknown.

    Examples:
        >>> import polars as pl
        >>> days = pl.DataFrame({"day": [1, 1, 2, 3], "x": [1.0, 2.0, 3.0, 4.0]})
        >>> history = read_history(days, columns=["x"], date="day", integer_days=True)
        >>> history.cumulative_units, history.moments.count
        ((2, 3, 4), 4)
        >>> visits = pl.DataFrame(
        ...     {
        ...         "user": [1, 1, 2],
        ...         "seen": [dt.date(2024, 1, 2), dt.date(2024, 1, 1), dt.date(2024, 1, 2)],
        ...         "x": [1.0, 2.0, 3.0],
        ...     }
        ... )
        >>> history = read_history(
        ...     visits, columns=["x"], date="seen", unit="user", combine={"x": "sum"}
        ... )
        >>> history.cumulative_units, history.rows, float(history.moments.mean[0])
        ((1, 2), 3, 3.0)
    """
    nw = optional_import("narwhals", "data")
    if (variant is None) != (arm is None):
        raise InputError(
            f"variant == {variant!r} and arm == {arm!r}: give both (the arm column and the "
            "arm label to read) or neither"
        )
    rules = _check_combine(combine, columns) if unit is not None else None
    source = resolve(data)
    schema = source.frame.collect_schema()
    available = list(schema.names())
    if date not in schema:
        raise DataError(_no_date_column(date, schema, nw))
    for column in (unit, variant):
        if column is not None and column not in schema:
            raise DataError(f"column {column!r} is not in the data; available columns: {available}")
    column_kind = _date_kind(date, schema[date], nw, integer_days=integer_days)
    dtype = schema[date]
    zone = getattr(dtype, "time_zone", None) if column_kind == "timestamp" else None
    start, end = (
        _as_bound(name, bound, column_kind, zone)
        for name, bound in (("start", start), ("end", end))
    )
    # Only the columns used: a wide table then costs what a narrow one does.
    check_columns(source.frame, date, list(columns), [], available)
    used = [date, *(c for c in (unit, variant) if c is not None), *columns]
    used += [c for pair in pairs for c in pair]
    frame = source.frame.select(*(nw.col(c) for c in dict.fromkeys(used) if c in schema))
    if variant is not None:
        label = _as_label(arm, variant, schema[variant], nw)
        frame = frame.filter(nw.col(variant) == nw.lit(label))
    if start is not None:
        frame = frame.filter(nw.col(date) >= nw.lit(start))
    if end is not None:
        frame = frame.filter(nw.col(date) < nw.lit(end))
    source_filtered = type(source)(frame, source.kind, source.duckdb_connection)

    day = nw.col(date).dt.truncate("1d") if column_kind == "timestamp" else nw.col(date)
    per_unit, query = _daily_query(frame, day, unit, rules, nw)
    tag = query_comment(experiment_id, team)
    rows, _ = collect(source_filtered, query, tag, experiment_id, team)
    if not rows or all(r[DAY] is None for r in rows):
        where = f" of arm {arm!r} of column {variant!r}" if variant is not None else ""
        raise DataError(
            f"the history holds no rows{where} in the period asked; check start, end and date"
            + (f", and that {variant!r} holds the label {arm!r}" if variant is not None else "")
        )
    if any(r[DAY] is None for r in rows):
        raise DataError(f"column {date!r} has NULL values in the history; fill or filter them")
    row_count = sum(int(r[ROWS]) for r in rows)
    if unit is not None:
        _check_units(rows, unit, rules, row_count)

    first, last, cumulative, recent = _cumulate(rows, start, end)

    if rules is not None:  # one row per unit already: its combined columns
        table, moments_unit = per_unit.select(*columns), None
    else:
        table, moments_unit = frame, unit
    native = nw.to_native(table.with_columns(nw.lit("history").alias(HISTORY_ARM)))
    moments = compute_moments(
        native,
        variant=HISTORY_ARM,
        columns=list(columns),
        pairs=list(pairs),
        unit=moments_unit,
        experiment_id=experiment_id,
        team=team,
    ).overall["history"]
    return History(
        first_day=_day_label(first, rows[0][DAY]),
        last_day=_day_label(last, rows[0][DAY]),
        days=len(cumulative),
        units=cumulative[-1],
        cumulative_units=cumulative,
        recent_daily_units=recent,
        moments=moments,
        rows=row_count,
        variant=variant,
        arm=arm,
    )


#: Names of the columns the history's queries make (no table uses them).
DAY, ROWS, UNITS = "__ablens_day", "__ablens_rows", "__ablens_units"
NULLS, LOWEST, VARYING, NULL_UNITS = (
    "__ablens_nulls_",
    "__ablens_lowest_",
    "__ablens_varying_",
    "__ablens_null_units",
)


def _daily_query(
    frame: Any,  # noqa: ANN401 - a narwhals LazyFrame
    day: Any,  # noqa: ANN401 - a narwhals Expr
    unit: str | None,
    rules: dict[str, UnitCombine] | None,
    nw: Any,  # noqa: ANN401
) -> tuple[Any, Any]:
    """One row per unit (its first day, rows and combined columns), and its count by day.

    The count by day also carries the checks: NULL unit ids, NULL values of a combined column,
    units whose "same" column varies (its largest value differs from its smallest).
    """
    # Every aggregation is a plain one over a column made beforehand: pandas (through
    # narwhals) aggregates only such expressions efficiently.
    flags: list[Any] = []
    sums: list[str] = []
    if unit is None:
        per_unit = frame.with_columns(day.alias(DAY), nw.lit(1).alias(ROWS))
    else:
        marked = frame.with_columns(
            day.alias(DAY),
            *(
                _as_count(nw.col(column).is_null(), nw).alias(f"{NULLS}{index}")
                for index, column in enumerate(rules or {})
            ),
        )
        aggregations = [nw.col(DAY).min(), nw.len().alias(ROWS)]
        for index, (column, rule) in enumerate((rules or {}).items()):
            value = nw.col(column).sum() if rule == "sum" else nw.col(column).max()
            aggregations += [value, nw.col(f"{NULLS}{index}").sum()]
            sums.append(f"{NULLS}{index}")
            if rule == "same":
                aggregations.append(nw.col(column).min().alias(f"{LOWEST}{index}"))
                differs = nw.col(column) != nw.col(f"{LOWEST}{index}")
                flags.append(_as_count(differs, nw).alias(f"{VARYING}{index}"))
                sums.append(f"{VARYING}{index}")
        per_unit = marked.group_by(unit).agg(*aggregations)
        flags.append(_as_count(nw.col(unit).is_null(), nw).alias(NULL_UNITS))
        sums.append(NULL_UNITS)
    counted = per_unit.with_columns(*flags) if flags else per_unit
    query = counted.group_by(DAY).agg(
        nw.len().alias(UNITS), nw.col(ROWS).sum(), *(nw.col(name).sum() for name in sums)
    )
    return per_unit, query


def _as_count(condition: Any, nw: Any) -> Any:  # noqa: ANN401 - narwhals expressions
    """1 where ``condition`` holds, else 0 (PostgreSQL cannot cast a boolean to a bigint)."""
    return nw.when(condition).then(nw.lit(1)).otherwise(nw.lit(0))


def _cumulate(
    rows: list[dict[str, Any]], start: object, end: object
) -> tuple[int, int, tuple[int, ...], float]:
    """First and last day, units by the end of each day, and the last week's daily mean."""
    counts = {_ordinal(r[DAY]): int(r[UNITS]) for r in rows}
    first = _ordinal(start) if start is not None else min(counts)
    last = _last_day(end) if end is not None else max(counts)
    daily = np.zeros(last - first + 1, dtype=np.int64)
    for key, value in counts.items():
        daily[key - first] += value
    window = min(FULL_WEEK, daily.size)
    cumulative = tuple(int(c) for c in np.cumsum(daily))
    return first, last, cumulative, float(daily[-window:].mean())


def _check_combine(
    combine: Mapping[str, UnitCombine] | None, columns: Sequence[str]
) -> dict[str, UnitCombine] | None:
    """The combine rules, one per column of the metric, each a known rule (None: refuse)."""
    if combine is None:
        return None
    rules = {
        column: check_choice(f"combine[{column!r}]", combine.get(column), UNIT_COMBINES)
        for column in columns
    }
    return cast("dict[str, UnitCombine]", rules)


def _check_units(
    rows: list[dict[str, Any]],
    unit: str,
    rules: dict[str, UnitCombine] | None,
    row_count: int,
) -> None:
    """Refuse NULL unit ids, repeated ids without rules, NULL values, a varying "same" column."""
    if any(int(r[NULL_UNITS] or 0) for r in rows):
        raise DataError(f"column {unit!r} has NULL unit ids in the history; fill or filter them")
    units = sum(int(r[UNITS]) for r in rows)
    if rules is None and row_count > units:
        raise DataError(
            f"column {unit!r} repeats unit ids ({row_count - units} rows beyond one per unit) "
            "and this metric's rows have no rule to combine them: aggregate the history to one "
            "row per unit first (ablens.data.aggregate_events)"
        )
    for index, (column, rule) in enumerate((rules or {}).items()):
        if sum(int(r[f"{NULLS}{index}"] or 0) for r in rows):
            raise DataError(
                f"column {column!r} has NULL values in the history; fill or filter them"
            )
        varying = sum(int(r.get(f"{VARYING}{index}") or 0) for r in rows) if rule == "same" else 0
        if varying:
            raise DataError(
                f"column {column!r} takes several values within {varying} unit(s) of column "
                f"{unit!r}: a covariate must hold one value per unit (a pre-period value); "
                "aggregate the history to one row per unit first"
            )


def _no_date_column(date: str, schema: Any, nw: Any) -> str:  # noqa: ANN401 - narwhals objects
    """Why a missing date column stops history planning, and what to do instead."""
    dated = [name for name, dtype in schema.items() if dtype in (nw.Date, nw.Datetime)]
    hint = (
        f"its date/timestamp columns are {dated}: pass one as date"
        if dated
        else "it has no date or timestamp column"
    )
    return (
        f"the history has no column {date!r} ({hint}). Without a date the days' traffic "
        "cannot be read: plan from parameters instead, ablens.power_plan(baseline_rate=... or "
        "mean=..., sd=..., daily_traffic=...) (CLI: ablens power --baseline-rate / --mean "
        f"--sd with --daily-traffic); columns: {list(schema.names())}"
    )


def _date_kind(date: str, dtype: Any, nw: Any, *, integer_days: bool) -> str:  # noqa: ANN401
    """The date column's kind: "date", "timestamp" or "integer" (with ``integer_days``)."""
    if dtype == nw.Datetime:
        return "timestamp"
    if dtype == nw.Date:
        return "date"
    if dtype.is_integer():
        if integer_days:
            return "integer"
        raise DataError(
            f"column {date!r} has type {dtype}, not a date or timestamp: an integer may be a "
            "week number or a yyyymmdd code, and days counted in it would be wrong. Convert it "
            "to a date (pandas.to_datetime, CAST(... AS DATE) in SQL), or, when it really "
            "counts consecutive days, pass integer_days=True (CLI: --integer-days)"
        )
    hint = (
        " (a column of dates stored as text or Python objects: convert it with "
        "pandas.to_datetime or CAST(... AS DATE))"
        if dtype in (nw.Object, nw.String)
        else ""
    )
    raise DataError(f"column {date!r} has type {dtype}, must be a date or timestamp{hint}")


def _as_label(arm: object, variant: str, dtype: Any, nw: Any) -> object:  # noqa: ANN401
    """The arm label in the arm column's type (a CLI's "1" is the integer 1 of an int column)."""
    if dtype.is_integer() and isinstance(arm, str):
        try:
            return int(arm)
        except ValueError:
            raise InputError(
                f"arm == {arm!r}, but column {variant!r} holds integers: give an integer label"
            ) from None
    if dtype == nw.String and not isinstance(arm, str):
        return str(arm)
    return arm


def _as_bound(name: str, bound: object, column_kind: str, zone: str | None = None) -> object:
    """A start/end value of the date column's type: a date or timestamp, or an integer day.

    A bound on a timestamp column takes the column's time zone, so that every engine compares
    like with like (pandas, polars and pyarrow refuse to compare an aware timestamp with a
    naive one; SQL engines would silently read the naive side in their session's zone): a naive
    bound is a wall-clock time in the column's zone, an aware bound is converted to that zone,
    and on a column without a zone an aware bound is converted to UTC and made naive.
    """
    if bound is None:
        return None
    if column_kind == "integer":
        if isinstance(bound, dt.date):
            raise InputError(f"{name} == {bound!r}, must be an integer day like the date column")
        value = check_real(name, bound)
        if value != math.floor(value):
            raise InputError(f"{name} == {bound!r}, must be a whole day like the date column")
        return int(value)
    if not isinstance(bound, dt.date):
        raise InputError(f"{name} == {bound!r}, must be a date or datetime like the date column")
    if column_kind == "timestamp":
        moment = bound if isinstance(bound, dt.datetime) else dt.datetime.combine(bound, dt.time())
        aware = moment.utcoffset() is not None
        if zone is None:
            return moment.astimezone(dt.UTC).replace(tzinfo=None) if aware else moment
        tzinfo = _time_zone(zone)
        return moment.astimezone(tzinfo) if aware else moment.replace(tzinfo=tzinfo)
    if column_kind == "date" and isinstance(bound, dt.datetime):
        return bound.date()
    return bound


def _last_day(end: object) -> int:
    """The last day an exclusive ``end`` keeps: the day before, unless ``end`` falls in a day."""
    day = _ordinal(end)
    if isinstance(end, dt.datetime) and end.time() != dt.time():
        return day  # 12:00 keeps that day's morning
    return day - 1


def _time_zone(zone: str) -> dt.tzinfo:
    """The ``tzinfo`` of a column's time zone name ("UTC", "Etc/UTC", "Europe/Berlin", ...)."""
    import zoneinfo  # noqa: PLC0415 - stdlib

    if zone.upper() in {"UTC", "ETC/UTC", "Z", "+00:00", "GMT"}:
        return dt.UTC
    try:
        return zoneinfo.ZoneInfo(zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise DataError(
            f"the date column's time zone {zone!r} is unknown to Python's zoneinfo, so start "
            "and end cannot be put in it; install the time zone database (pip install tzdata)"
        ) from None


def _ordinal(value: object) -> int:
    """Days as integers: ``toordinal()`` of a date or timestamp, the value of an integer day."""
    to_ordinal = getattr(value, "toordinal", None)
    if to_ordinal is not None:
        return int(to_ordinal())
    return int(cast("int", value))


def _day_label(ordinal: int, example: object) -> object:
    """An ordinal back as a date (when the column holds dates) or as the integer day."""
    if hasattr(example, "toordinal"):
        return dt.date.fromordinal(ordinal)
    return ordinal
