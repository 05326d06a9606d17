"""Rank sums for the Mann-Whitney test, computed inside the engine.

For one comparison (control against one treatment), the engine ranks the pooled values of the
two arms with average ranks for ties (a window function), sums the treatment's ranks, and counts
tie groups; only these numbers come back (`ablens.stats.nonparametric.RankSummary`).
"""

from __future__ import annotations

from typing import Any

from ablens._validation import check_name, optional_import
from ablens.data._source import collect, query_comment, resolve
from ablens.errors import DataError
from ablens.stats.nonparametric import RankSummary, rank_summary_from_arrays

__all__ = ["compute_rank_summary"]


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
    comment = query_comment(experiment_id, team)
    pair = source.frame.filter(nw.col(variant).is_in([control, treatment]))
    if source.kind == "pyarrow":
        # pyarrow has no average-rank kernel; its table is already in memory, so rank there.
        return _in_memory(pair, variant, column, control, treatment)
    ranked = (
        pair.with_columns(nw.col(column).cast(nw.Float64).rank(method="average").alias("__rank"))
        .group_by(variant)
        .agg(
            nw.len().alias("__n"),
            nw.col(column).count().alias("__nn"),
            nw.col("__rank").sum().alias("__ranks"),
        )
    )
    rows, _ = collect(source, ranked, comment, experiment_id, team)
    by_arm = {str(r[variant]): r for r in rows}
    for arm in (control, treatment):
        if arm not in by_arm:
            raise DataError(f"arm {arm!r} has no rows in column {variant!r}")
        nulls = int(by_arm[arm]["__n"]) - int(by_arm[arm]["__nn"])
        if nulls:
            raise DataError(
                f"column {column!r} has {nulls:,} NULL value(s) in arm {arm!r}; fill or filter them"
            )
    ties = (
        pair.group_by(column)
        .agg(nw.len().alias("__t"))
        .with_columns(nw.col("__t").cast(nw.Float64))
        .select(((nw.col("__t") ** 3) - nw.col("__t")).sum().alias("__ties"))
    )
    (tie_row,), _ = collect(source, ties, comment, experiment_id, team)
    return RankSummary(
        n_control=int(by_arm[control]["__n"]),
        n_treatment=int(by_arm[treatment]["__n"]),
        rank_sum_treatment=float(by_arm[treatment]["__ranks"]),
        tie_term=float(tie_row["__ties"] or 0.0),
    )


def _in_memory(
    pair: Any,  # noqa: ANN401 - a narwhals LazyFrame over an in-memory table
    variant: str,
    column: str,
    control: str,
    treatment: str,
) -> RankSummary:
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
    return rank_summary_from_arrays(arms[control], arms[treatment])
