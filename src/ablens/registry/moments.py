"""The moments a run stores: per day (or the whole period), per segment, per arm.

`plan_moments` computes them where the plan's data live, in one engine query grouped by the
plan's segment columns and its ``time`` column (`ablens.data.compute_moments`). A later run can
merge stored days with new ones exactly (`ablens.Moments.merge`), without reading rows again.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ablens.analysis_plan.run import open_plan_source
from ablens.data.checks import filter_exposure
from ablens.data.engine import compute_moments
from ablens.errors import InputError
from ablens.stats.moments import Moments

if TYPE_CHECKING:
    from collections.abc import Mapping

    from ablens.analysis_plan.model import AnalysisPlan

__all__ = ["OVERALL", "StoredMoments", "day_label", "plan_moments"]

#: The segment label of all units (no segment breakdown).
OVERALL = ""

#: Most (segment x day) groups one run may store.
MAX_GROUPS = 20_000


def day_label(value: object) -> str:
    """A day as stored: ISO ``YYYY-MM-DD`` for dates and timestamps, else its text.

    Examples:
        >>> day_label(dt.date(2026, 3, 1)), day_label(dt.datetime(2026, 3, 1, 5)), day_label(7)
        ('2026-03-01', '2026-03-01', '7')
    """
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


@dataclass(frozen=True)
class StoredMoments:
    """Moments of one experiment, keyed by (day, segment, arm).

    Attributes:
        cells: ``(day, segment, arm)`` to the moments of those units. ``day`` is None when the
            moments cover the whole period (the plan has no ``time`` column); ``segment`` is
            `OVERALL` (``""``) for all units, else a label such as ``"platform=ios"``.
        whole_period: True when the moments are not broken down by day.

    Examples:
        >>> a = Moments.from_columns({"x": [1.0, 2.0]})
        >>> b = Moments.from_columns({"x": [3.0]})
        >>> stored = StoredMoments({("2026-03-01", "", "a"): a, ("2026-03-02", "", "a"): b})
        >>> stored.days, stored.total("a").mean_of("x")
        (('2026-03-01', '2026-03-02'), 2.0)
    """

    cells: Mapping[tuple[str | None, str, str], Moments]
    whole_period: bool = False

    def __post_init__(self) -> None:
        for day, _, _ in self.cells:
            if (day is None) != self.whole_period:
                raise InputError(
                    f"day == {day!r} with whole_period == {self.whole_period}: the moments of "
                    "a whole period have no day, and daily moments must each name one"
                )

    @property
    def days(self) -> tuple[str, ...]:
        """The days stored, in order (empty for a whole period)."""
        return tuple(sorted({day for day, _, _ in self.cells if day is not None}, key=_day_order))

    @property
    def arms(self) -> tuple[str, ...]:
        """The arms, in order of first appearance."""
        return tuple(dict.fromkeys(arm for _, _, arm in self.cells))

    @property
    def segments(self) -> tuple[str, ...]:
        """The segment labels, `OVERALL` first when present."""
        return tuple(sorted({segment for _, segment, _ in self.cells}))

    def total(self, arm: str, segment: str = OVERALL) -> Moments:
        """The moments of ``arm`` in ``segment`` over every stored day, merged exactly."""
        parts = [m for (_, s, a), m in sorted(self._items()) if a == arm and s == segment]
        if not parts:
            raise InputError(
                f"arm == {arm!r}, segment == {segment!r} has no stored moments; stored arms: "
                f"{list(self.arms)}, segments: {list(self.segments)}"
            )
        return Moments.merge_all(parts)

    def _items(self) -> list[tuple[tuple[str, str, str], Moments]]:
        return [((day or "", s, a), m) for (day, s, a), m in self.cells.items()]


def _day_order(day: str) -> tuple[int, str]:
    # Whole-number days (exposure day 0, 1, ..., 10) in numeric order, dates in ISO order.
    digits = day.lstrip("-")
    return (int(day), "") if digits.isdigit() else (0, day)


def _segment_label(columns: tuple[str, ...], values: tuple[Any, ...]) -> str:
    # The label `ablens.analyze` gives the segment (its key in `AnalysisResult.segments`).
    return ", ".join(f"{column}={value}" for column, value in zip(columns, values, strict=True))


def plan_moments(plan: AnalysisPlan, *, data: object = None) -> StoredMoments:
    """The per-day (or whole-period), per-segment, per-arm moments of a plan's metric columns.

    One engine query grouped by the plan's segments and its ``time`` column (each unit's
    exposure day), on the same rows the analysis reads (the source's filter, and the exposure
    check's dropped rows left out). The rows of all units (segment `OVERALL`) of each day are
    the exact merge of its segments' rows, or the query's own when the plan has no segments.

    Args:
        plan: The plan.
        data: A table (or parquet/CSV path) to read instead of the plan's source, as
            `ablens.run_readout` takes it.

    Returns:
        The moments; per day when the plan has a ``time`` column, else for the whole period.

    Raises:
        PlanError: The source cannot be opened, or a column is missing.
        DataError: The data fail the checks the analysis makes.
    """
    metrics = plan.metric_objects()
    columns = list(dict.fromkeys(c for m in metrics for c in m.required_columns()))
    pairs = [p for m in metrics for p in m.required_pairs()]
    columns += [c for p in pairs for c in p if c not in columns]
    for spec in plan.metrics:  # quantile and rank columns: stored too (counts, means)
        columns += [c for _, c in spec.column_keys() if c not in columns]
    segments = tuple(plan.segments)
    by = [*segments, *([plan.time] if plan.time is not None else [])]
    with open_plan_source(plan, data) as opened:
        table = opened.table
        if plan.exposure is not None and plan.exposure.on_mismatch == "drop":
            table = filter_exposure(table, variant=plan.variant, exposure=plan.exposure)
        computed = compute_moments(
            table,
            variant=plan.variant,
            columns=columns,
            pairs=pairs,
            segments=by,
            unit=plan.unit,
            arms=plan.arms,
            experiment_id=plan.experiment_id,
            team=plan.team,
            max_segments=MAX_GROUPS,
        )
    cells: dict[tuple[str | None, str, str], Moments] = {}
    if plan.time is None:
        for arm, moments in computed.overall.items():
            cells[(None, OVERALL, str(arm))] = moments
        for key, arms in computed.segments.items():
            for arm, moments in arms.items():
                cells[(None, _segment_label(segments, key), str(arm))] = moments
        return StoredMoments(cells, whole_period=True)
    # Several values of the time column may fall on one day (timestamps): their groups merge.
    parts: dict[tuple[str | None, str, str], list[Moments]] = {}
    for key, arms in sorted(computed.segments.items(), key=lambda item: str(item[0])):
        day = day_label(key[-1])
        for arm, moments in arms.items():
            parts.setdefault((day, OVERALL, str(arm)), []).append(moments)
            if segments:
                parts.setdefault((day, _segment_label(segments, key[:-1]), str(arm)), []).append(
                    moments
                )
    for cell, group in parts.items():
        cells[cell] = Moments.merge_all(group)
    return StoredMoments(cells, whole_period=False)
