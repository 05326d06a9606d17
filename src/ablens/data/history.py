"""A metric's past period, read in the engine: the baseline and the traffic a plan starts from.

`read_history` is what `ablens.power_plan_from_history` reads: the metric's moments over the
period and the units first seen on each day, each computed by one engine query.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, cast

import numpy as np

from ablens._validation import check_real, optional_import
from ablens.data._source import collect, query_comment, resolve
from ablens.data.engine import compute_moments
from ablens.errors import DataError, InputError

if TYPE_CHECKING:
    from collections.abc import Sequence

    from ablens.stats.moments import Moments

__all__ = ["History", "read_history"]

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
    """

    first_day: object
    last_day: object
    days: int
    units: int
    cumulative_units: tuple[int, ...]
    recent_daily_units: float
    moments: Moments = field(repr=False)


def read_history(
    data: object,
    *,
    columns: Sequence[str],
    pairs: Sequence[tuple[str, str]] = (),
    date: str,
    unit: str | None = None,
    start: object = None,
    end: object = None,
    experiment_id: str | None = None,
    team: str | None = None,
) -> History:
    """A past period of a metric, read in two engine queries: its moments and its daily units.

    The units of each day are those first seen that day (when ``unit`` is given) or the rows of
    that day; the moments are the metric's over the whole period, as one arm.

    Args:
        data: Any input `ablens.compute_moments` accepts.
        columns: The metric's columns (``metric.required_columns()``).
        pairs: The column pairs whose cross-moments the metric needs.
        date: The date, timestamp or integer-day column.
        unit: The unit id column; None counts rows.
        start: First day kept (inclusive), of the date column's type; None keeps all.
        end: End of the period (exclusive); None keeps all.
        experiment_id: Tag for the query comment (cost attribution).
        team: Tag for the query comment.

    Returns:
        The period's days, cumulated units and moments.

    Raises:
        DataError: A column is missing, of the wrong type, has NULL dates, or the period is empty.
        InputError: ``start`` or ``end`` is not of the date column's type.

    Examples:
        >>> import polars as pl
        >>> days = pl.DataFrame({"day": [1, 1, 2, 3], "x": [1.0, 2.0, 3.0, 4.0]})
        >>> history = read_history(days, columns=["x"], date="day")
        >>> history.cumulative_units, history.moments.count
        ((2, 3, 4), 4)
    """
    nw = optional_import("narwhals", "data")
    source = resolve(data)
    schema = source.frame.collect_schema()
    available = list(schema.names())
    for column in (date, *([unit] if unit is not None else [])):
        if column not in schema:
            raise DataError(f"column {column!r} is not in the data; available columns: {available}")
    dtype = schema[date]
    if dtype == nw.Datetime:
        column_kind = "timestamp"
    elif dtype == nw.Date:
        column_kind = "date"
    elif dtype.is_integer():
        column_kind = "integer"
    else:
        hint = (
            " (a pandas column of Python dates has type Object: convert it with pandas.to_datetime)"
            if dtype in (nw.Object, nw.String)
            else ""
        )
        raise DataError(
            f"column {date!r} has type {dtype}, must be a date, timestamp or integer{hint}"
        )
    zone = getattr(dtype, "time_zone", None) if column_kind == "timestamp" else None
    start, end = (
        _as_bound(name, bound, column_kind, zone)
        for name, bound in (("start", start), ("end", end))
    )
    frame = source.frame
    if start is not None:
        frame = frame.filter(nw.col(date) >= nw.lit(start))
    if end is not None:
        frame = frame.filter(nw.col(date) < nw.lit(end))
    source_filtered = type(source)(frame, source.kind, source.duckdb_connection)

    day = nw.col(date).dt.truncate("1d") if column_kind == "timestamp" else nw.col(date)
    per_unit = frame.with_columns(day.alias("__ablens_day"))
    if unit is not None:
        per_unit = per_unit.group_by(unit).agg(nw.col("__ablens_day").min())
    query = per_unit.group_by("__ablens_day").agg(nw.len().alias("__ablens_units"))
    tag = query_comment(experiment_id, team)
    rows, _ = collect(source_filtered, query, tag, experiment_id, team)
    if not rows or all(r["__ablens_day"] is None for r in rows):
        raise DataError("the history holds no rows in the period asked; check start, end and date")
    if any(r["__ablens_day"] is None for r in rows):
        raise DataError(f"column {date!r} has NULL values in the history; fill or filter them")
    counts = {_ordinal(r["__ablens_day"]): int(r["__ablens_units"]) for r in rows}
    first = _ordinal(start) if start is not None else min(counts)
    last = _last_day(end) if end is not None else max(counts)
    daily = np.zeros(last - first + 1, dtype=np.int64)
    for key, value in counts.items():
        daily[key - first] += value
    cumulative = np.cumsum(daily)
    window = min(FULL_WEEK, daily.size)
    recent = float(daily[-window:].mean())

    native = nw.to_native(frame.with_columns(nw.lit("history").alias(HISTORY_ARM)))
    moments = compute_moments(
        native,
        variant=HISTORY_ARM,
        columns=list(columns),
        pairs=list(pairs),
        unit=unit,
        experiment_id=experiment_id,
        team=team,
    ).overall["history"]
    return History(
        first_day=_day_label(first, rows[0]["__ablens_day"]),
        last_day=_day_label(last, rows[0]["__ablens_day"]),
        days=int(daily.size),
        units=int(cumulative[-1]),
        cumulative_units=tuple(int(c) for c in cumulative),
        recent_daily_units=recent,
        moments=moments,
    )


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
