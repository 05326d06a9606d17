"""Rank sums for the Mann-Whitney test, computed inside the engine.

For one comparison (control against one treatment), the engine ranks the pooled values of the
two arms with average ranks for ties (a window function), sums the treatment's ranks, and counts
tie groups; only these numbers come back (`ablens.stats.nonparametric.RankSummary`).

The Hodges-Lehmann shift needs the values themselves: `compute_value_counts` brings back each
arm's distinct values with their counts (one ``GROUP BY arm, value``), up to a limit on their
number (`MAX_SHIFT_VALUES`), so a metric with few distinct values (amounts in cents, counts,
ratings) moves little however many units it has.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ablens._validation import check_count, check_name, optional_import
from ablens.data._source import InternalNames, collect, narrow, query_comment, resolve
from ablens.errors import DataError
from ablens.stats.nonparametric import RankSummary, ValueCounts, rank_summary_from_arrays

__all__ = ["MAX_SHIFT_VALUES", "compute_rank_summary", "compute_value_counts"]

#: The most distinct (arm, value) pairs `compute_value_counts` brings back by default: 16 bytes
#: each in memory, a few seconds of transfer and at most 64 counting passes over them for each
#: bound of the Hodges-Lehmann interval.
MAX_SHIFT_VALUES = 200_000


def compute_rank_summary(
    data: object,
    *,
    variant: str,
    column: str,
    control: str,
    treatment: str,
    experiment_id: str | None = None,
    team: str | None = None,
) -> RankSummary:
    """Mann-Whitney sufficient statistics of ``column`` for ``treatment`` against ``control``.

    Two queries in the data's engine: ranks summed per arm, and tie-group sizes.

    Args:
        data: Anything `ablens.data.compute_moments` accepts, one row per unit.
        variant: Arm label column.
        column: Numeric column to rank.
        control: Control arm label.
        treatment: Treatment arm label.
        experiment_id: Tag for the SQL comment (cost attribution).
        team: Optional team tag.

    Returns:
        Counts, the treatment's rank sum and the tie term ``sum(t^3 - t)``.

    Raises:
        DataError: If the column has NULLs in the two arms, or an arm has no rows.

    Examples:
        >>> import polars as pl
        >>> table = pl.DataFrame({"arm": ["a", "b", "a", "b", "a"], "x": [1.0, 2.0, 2.0, 3.0, 5.0]})
        >>> compute_rank_summary(table, variant="arm", column="x", control="a", treatment="b")
        RankSummary(n_control=3, n_treatment=2, rank_sum_treatment=6.5, tie_term=6.0)
    """
    nw = optional_import("narwhals", "data")
    check_name("variant", variant)
    check_name("column", column)
    source = resolve(data)
    name = InternalNames(source.columns())
    source = narrow(source, [variant, column])
    comment = query_comment(experiment_id, team)
    pair = source.frame.filter(nw.col(variant).is_in([control, treatment]))
    if source.kind == "pyarrow":
        # pyarrow has no average-rank kernel; its table is already in memory, so rank there.
        return _in_memory(pair, variant, column, control, treatment)
    rank, n, nn, ranks = name("rank"), name("n"), name("nn"), name("ranks")
    ranked = (
        pair.with_columns(nw.col(column).cast(nw.Float64).rank(method="average").alias(rank))
        .group_by(variant)
        .agg(
            nw.len().alias(n),
            nw.col(column).count().alias(nn),
            nw.col(rank).sum().alias(ranks),
        )
    )
    rows, _ = collect(source, ranked, comment, experiment_id, team)
    by_arm = {str(r[variant]): r for r in rows}
    for arm in (control, treatment):
        if arm not in by_arm:
            raise DataError(f"arm {arm!r} has no rows in column {variant!r}")
        nulls = int(by_arm[arm][n]) - int(by_arm[arm][nn])
        if nulls:
            raise DataError(
                f"column {column!r} has {nulls:,} NULL value(s) in arm {arm!r}; fill or filter them"
            )
    t, tie_sum = name("t"), name("ties")
    ties = (
        pair.group_by(column)
        .agg(nw.len().alias(t))
        .with_columns(nw.col(t).cast(nw.Float64))
        .select(((nw.col(t) ** 3) - nw.col(t)).sum().alias(tie_sum))
    )
    (tie_row,), _ = collect(source, ties, comment, experiment_id, team)
    return RankSummary(
        n_control=int(by_arm[control][n]),
        n_treatment=int(by_arm[treatment][n]),
        rank_sum_treatment=float(by_arm[treatment][ranks]),
        tie_term=float(tie_row[tie_sum] or 0.0),
    )


def _in_memory(
    pair: Any,  # noqa: ANN401 - a narwhals LazyFrame over an in-memory table
    variant: str,
    column: str,
    control: str,
    treatment: str,
) -> RankSummary:
    arms = _in_memory_arms(pair, variant, column, control, treatment)
    return rank_summary_from_arrays(arms[control], arms[treatment])


def _in_memory_arms(
    pair: Any,  # noqa: ANN401 - a narwhals LazyFrame over an in-memory table
    variant: str,
    column: str,
    control: str,
    treatment: str,
) -> dict[str, list[Any]]:
    """Each arm's values, checked for emptiness and NULLs."""
    frame = pair.collect()
    labels = frame[variant].to_list()
    values = frame[column].to_list()
    arms = {
        arm: [v for label, v in zip(labels, values, strict=True) if label == arm]
        for arm in (control, treatment)
    }
    for arm, arm_values in arms.items():
        if not arm_values:
            raise DataError(f"arm {arm!r} has no rows in column {variant!r}")
        if any(v is None for v in arm_values):
            nulls = sum(v is None for v in arm_values)
            raise DataError(
                f"column {column!r} has {nulls:,} NULL value(s) in arm {arm!r}; fill or filter them"
            )
    return arms


def compute_value_counts(
    data: object,
    *,
    variant: str,
    column: str,
    control: str,
    treatment: str,
    max_values: int = MAX_SHIFT_VALUES,
    experiment_id: str | None = None,
    team: str | None = None,
) -> tuple[ValueCounts, ValueCounts] | None:
    """The distinct values of ``column`` and their counts in the control and treatment arms.

    One query in the data's engine (``GROUP BY variant, column``, limited to ``max_values + 1``
    rows): what `ablens.stats.nonparametric.hodges_lehmann` needs for the shift and its
    interval.

    Args:
        data: Anything `ablens.data.compute_moments` accepts, one row per unit.
        variant: Arm label column.
        column: Numeric column (no NULLs in the two arms: `compute_rank_summary` checks it).
        control: Control arm label.
        treatment: Treatment arm label.
        max_values: The most distinct (arm, value) pairs to bring back, at least 2.
        experiment_id: Tag for the SQL comment (cost attribution).
        team: Optional team tag.

    Returns:
        ``(control, treatment)``, or None when the two arms hold more than ``max_values``
        distinct (arm, value) pairs.

    Raises:
        InputError: If ``max_values`` is not a whole number of at least 2.
        DataError: If an arm has no rows or the column has NULLs.

    Examples:
        >>> import polars as pl
        >>> table = pl.DataFrame({"arm": ["a", "b", "a", "b", "a"], "x": [1.0, 2.0, 1.0, 3.0, 5.0]})
        >>> control, treatment = compute_value_counts(
        ...     table, variant="arm", column="x", control="a", treatment="b"
        ... )
        >>> control.values.tolist(), control.counts.tolist(), treatment.values.tolist()
        ([1.0, 5.0], [2, 1], [2.0, 3.0])
        >>> compute_value_counts(
        ...     table, variant="arm", column="x", control="a", treatment="b", max_values=3
        ... ) is None
        True
    """
    nw = optional_import("narwhals", "data")
    check_name("variant", variant)
    check_name("column", column)
    limit = check_count("max_values", max_values, minimum=2)
    source = resolve(data)
    name = InternalNames(source.columns())
    source = narrow(source, [variant, column])
    comment = query_comment(experiment_id, team)
    pair = source.frame.filter(nw.col(variant).is_in([control, treatment]))
    if source.kind == "pyarrow":
        arms = _in_memory_arms(pair, variant, column, control, treatment)
        counted = {arm: ValueCounts.from_array(values) for arm, values in arms.items()}
        if sum(v.values.size for v in counted.values()) > limit:
            return None
        return counted[control], counted[treatment]
    count, as_value = name("count"), name("value")
    grouped = (
        pair.group_by(variant, column)
        .agg(nw.len().alias(count))
        .select(
            nw.col(variant),
            nw.col(column).cast(nw.Float64).alias(as_value),
            nw.col(count),
        )
        .head(limit + 1)
    )
    rows, _ = collect(source, grouped, comment, experiment_id, team)
    if len(rows) > limit:
        return None
    by_arm: dict[str, dict[float, int]] = {control: {}, treatment: {}}
    for row in rows:
        value = row[as_value]
        if value is None:
            raise DataError(f"column {column!r} has NULL values; fill or filter them")
        by_arm[str(row[variant])][float(value)] = int(row[count])
    counted = {}
    for arm, counts in by_arm.items():
        if not counts:
            raise DataError(f"arm {arm!r} has no rows in column {variant!r}")
        values = sorted(counts)
        counted[arm] = ValueCounts(
            np.array(values, dtype=np.float64),
            np.array([counts[v] for v in values], dtype=np.int64),
        )
    return counted[control], counted[treatment]
