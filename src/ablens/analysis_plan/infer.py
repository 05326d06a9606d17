"""Metrics inferred from a table that comes without a plan: a rate or a mean per column.

The web readout of an uploaded file uses this; so can a notebook's first look at a table.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ablens.data.profile import profile_columns
from ablens.errors import DataError
from ablens.metrics import Mean, Proportion

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["MAX_INFERRED_METRICS", "infer_metrics"]

#: Columns inferred as metrics at most when none are named.
MAX_INFERRED_METRICS = 25


def infer_metrics(
    data: object,
    *,
    variant: str,
    unit: str | None = None,
    wanted: Sequence[str] = (),
    time: str | None = None,
    max_metrics: int = MAX_INFERRED_METRICS,
) -> list[Mean | Proportion]:
    """One metric per column: `Proportion` for true/false or 0/1 columns, `Mean` for numbers.

    The column types and the 0/1 check are read in the engine (`ablens.data.profile_columns`).

    Args:
        data: Any input `ablens.compute_moments` accepts.
        variant: The arm column (never a metric).
        unit: The unit id column, if any (never a metric).
        wanted: The columns to analyze; empty: every numeric column but the variant, unit and
            time columns.
        time: The look column of a sequential readout, if any (must exist; never a metric).
        max_metrics: Most columns inferred when none are named.

    Returns:
        The metrics, in the order of ``wanted`` or of the table.

    Raises:
        DataError: A named column is missing or not numeric, or there is nothing to analyze.

    Examples:
        >>> import polars as pl
        >>> table = pl.DataFrame({"arm": ["a", "b"], "paid": [0, 1], "spend": [0.0, 9.5]})
        >>> infer_metrics(table, variant="arm")
        [Proportion(column='paid', ...), Mean(column='spend', ...)]
    """
    profiles = profile_columns(data, binary_of=list(wanted) or None)
    names = ", ".join(profiles)
    if variant not in profiles:
        raise DataError(f"there is no column {variant!r} for the arms; the columns are {names}.")
    for label, column in (("unit", unit), ("time", time)):
        if column is not None and column not in profiles:
            raise DataError(f"there is no {label} column {column!r}; the columns are {names}.")
    missing = [c for c in wanted if c not in profiles]
    if missing:
        raise DataError(f"no column {', '.join(map(repr, missing))}; the columns are {names}.")
    columns = list(wanted) or [
        name
        for name, profile in profiles.items()
        if profile.numeric and name not in {variant, unit, time}
    ]
    if not columns:
        raise DataError("there is no numeric column to analyze besides the arms.")
    if len(columns) > max_metrics:
        raise DataError(f"{len(columns)} numeric columns; name at most {max_metrics} to analyze.")
    for column in columns:
        if not profiles[column].numeric:
            raise DataError(f"column {column!r} is {profiles[column].dtype}, not numbers.")
    return [Proportion(c) if profiles[c].binary else Mean(c) for c in columns]
