"""Looks over time: cumulative per-arm moments by day, from one engine query.

A readout that shows the estimate and its bounds day by day needs, for every day ``d``, the
moments of all units exposed up to ``d``. The engine computes moments grouped by (day, arm) in
the same single query as any segment breakdown; exact merging (`ablens.Moments.merge`) then
accumulates them day after day in Python, which costs a few additions per day.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ablens._validation import check_name
from ablens.data.engine import compute_moments

if TYPE_CHECKING:
    from collections.abc import Sequence

    from ablens.stats.moments import Moments

__all__ = ["cumulative_moments"]


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
        time: Column giving each unit's look (its exposure day or date); sortable.
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
    by_time = compute_moments(
        data,
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
    running: dict[str, Moments] = {}
    result: dict[Any, dict[str, Moments]] = {}
    for (look,), arms_at_look in sorted(by_time.segments.items(), key=lambda kv: kv[0]):
        for arm, moments in arms_at_look.items():
            running[arm] = running[arm].merge(moments) if arm in running else moments
        result[look] = dict(running)
    return result
