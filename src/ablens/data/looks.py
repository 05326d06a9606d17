"""Looks over time: cumulative per-arm moments by day, from one engine query.

A readout that shows the estimate and its bounds day by day needs, for every day ``d``, the
moments of all units exposed up to ``d``. The engine computes moments grouped by (day, arm) in
the same single query as any segment breakdown; exact merging (`ablens.Moments.merge`) then
accumulates them day after day in Python, which costs a few additions per day.
"""

from __future__ import annotations

import datetime as dt
from numbers import Number
from typing import TYPE_CHECKING, Any

from ablens._validation import check_name, optional_import
from ablens.data._source import check_columns, resolve
from ablens.data.engine import TooManySegmentsError, compute_moments
from ablens.errors import DataError

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from ablens.stats.moments import Moments

__all__ = ["TimeColumnError", "accumulate_looks", "check_time_column", "cumulative_moments"]


def cumulative_moments(
    data: object,
    *,
    variant: str,
    time: str,
    columns: Sequence[str],
    pairs: Sequence[tuple[str, str]] = (),
    unit: str | None = None,
    arms: Sequence[str] | None = None,
    experiment_id: str | None = None,
    team: str | None = None,
    max_looks: int = 366,
) -> dict[Any, dict[str, Moments]]:
    """Per-arm moments of all units up to each value of ``time`` (a day, a date, a look id).

    Args:
        data: One row per unit, in any engine `ablens.data.compute_moments` accepts.
        variant: Arm label column.
        time: Column giving each unit's look (its exposure day or date): a number, a date or
            a timestamp, never NULL. Text is refused on every engine, since it would sort as
            text ("day 10" before "day 2") or, for ISO strings with offsets, differently by
            engine: convert it first.
        columns: Metric columns.
        pairs: Cross-moments needed (ratios, covariates).
        unit: Unit id column, for the duplicate checks.
        arms: The arms the plan expects.
        experiment_id: Tag on every query (cost attribution).
        team: Optional team tag.
        max_looks: Most distinct values of ``time`` allowed.

    Returns:
        Look value -> arm -> cumulative moments, in increasing look order. An arm with no units
        yet at a look is absent from that look.

    Raises:
        TimeColumnError: The time column is not a number, date or timestamp, holds NULL
            values (for rows with an arm), or has more than ``max_looks`` distinct values.
        DataError: Every error of `ablens.data.compute_moments`.

    Examples:
        >>> import polars as pl
        >>> table = pl.DataFrame(
        ...     {
        ...         "arm": ["a", "b", "a", "b", "a", "b"],
        ...         "day": [1, 1, 2, 2, 3, 3],
        ...         "x": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
        ...     }
        ... )
        >>> looks = cumulative_moments(table, variant="arm", time="day", columns=["x"])
        >>> [(day, arms["b"].count, arms["b"].mean_of("x")) for day, arms in looks.items()]
        [(1, 1, 2.0), (2, 2, 3.0), (3, 3, 4.0)]
    """
    check_name("time", time)
    source = resolve(data)
    check_columns(source.frame, variant, (), [time], source.columns())
    check_time_column(source.frame, time)
    try:
        by_time = compute_moments(
            source,
            variant=variant,
            columns=columns,
            pairs=pairs,
            segments=[time],
            unit=unit,
            arms=arms,
            experiment_id=experiment_id,
            team=team,
            max_segments=max_looks,
        )
    except TooManySegmentsError:
        raise TimeColumnError(
            f"column {time!r} (the look time) has more than {max_looks:,} distinct values, "
            f"more looks than ablens reads (max_looks == {max_looks:,}); use a coarser time: "
            f"each unit's exposure day (e.g. CAST({time} AS DATE)) rather than its timestamp"
        ) from None
    return accumulate_looks(by_time.segments, time)


def accumulate_looks(
    by_time: Mapping[tuple[Any, ...], Mapping[str, Moments]], time: str
) -> dict[Any, dict[str, Moments]]:
    """Look -> arm -> moments up to that look, from the moments of each look alone.

    Raises:
        DataError: A NULL look value, or look values of mixed kinds.
    """
    missing = sum(m.count for (look,), at in by_time.items() if look is None for m in at.values())
    if missing:
        raise TimeColumnError(
            f"column {time!r} (the look time) has {missing:,} NULL value(s) in rows with an "
            "arm; give each unit its look (its exposure day) or filter those rows before "
            "analysis"
        )
    _check_look_values([look for (look,) in by_time if look is not None], time)
    running: dict[str, Moments] = {}
    result: dict[Any, dict[str, Moments]] = {}
    for (look,), arms_at_look in sorted(by_time.items(), key=lambda kv: kv[0]):
        for arm, moments in arms_at_look.items():
            running[arm] = running[arm].merge(moments) if arm in running else moments
        result[look] = dict(running)
    return result


class TimeColumnError(DataError):
    """The look-time column itself cannot order the looks (text, NULLs, too many values).

    Unlike a metric that has no reading at each look, this is bad data in a column the plan
    named: a readout refuses it instead of falling back to fixed-horizon tests.
    """


def check_time_column(frame: Any, time: str) -> None:  # noqa: ANN401 - a narwhals LazyFrame
    """Refuse a look column that does not sort in time: only numbers, dates and timestamps.

    Raises:
        TimeColumnError: Naming the column, its type and how to convert it.
    """
    nw = optional_import("narwhals", "data")
    dtype = frame.select(nw.col(time)).collect_schema()[time]
    temporal = any(dtype == kind for kind in (nw.Date, nw.Datetime))
    if temporal or (dtype.is_numeric() and dtype != nw.Boolean):
        return
    if any(dtype == kind for kind in (nw.Object, nw.Unknown)):  # pandas: values checked later
        return
    if dtype == nw.String:
        fix = (
            "text sorts as text ('day 10' before 'day 2'), and ISO strings with time zones "
            "sort differently by engine: convert it to a date or timestamp (pandas: "
            f"pd.to_datetime(df[{time!r}], utc=True); SQL: CAST({time} AS TIMESTAMPTZ)) or to "
            "a day number"
        )
    else:
        fix = "convert it to a date, a timestamp or a day number"
    raise TimeColumnError(
        f"column {time!r} (the look time) has type {dtype}, must be a number, a date or a "
        f"timestamp so that looks follow time; {fix}"
    )


def _check_look_values(values: Sequence[object], time: str) -> None:
    """The looks of a column typed only as objects (pandas): all numbers, or all dates/times."""
    kinds = set()
    for value in values:
        if isinstance(value, bool):
            kinds.add("boolean")
        elif isinstance(value, Number):
            kinds.add("number")
        elif isinstance(value, dt.date) or type(value).__name__ == "datetime64":
            kinds.add("date")
        else:
            kinds.add(type(value).__name__)
    if kinds <= {"number"} or kinds <= {"date"}:
        return
    raise TimeColumnError(
        f"column {time!r} (the look time) holds {', '.join(sorted(kinds))} values, must hold "
        "only numbers or only dates and timestamps so that looks follow time; convert it to a "
        f"date or timestamp (pandas: pd.to_datetime(df[{time!r}], utc=True)) or to a day number"
    )
