"""The exact HC (sandwich) variance of an adjusted effect: one pass over the rows in the engine.

Moments give the fit of a regression adjustment (its coefficients and ``(X'X)^-1``), but not
``sandwich::vcovHC``: that sums, over the units, each unit's weight in the effect times its
residual, squared, divided by a power of ``1 - h_ii``. Given the fit, every factor is arithmetic
on the unit's own row (`ablens.stats.adjusted.sandwich_terms`), so one grouped query,
``SUM(term) ... GROUP BY arm`` over the two arms, gives the exact variance.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ablens._validation import check_choice, check_name, optional_import
from ablens.data._source import InternalNames, collect, narrow, query_comment, resolve
from ablens.errors import DataError, InputError
from ablens.stats.adjusted import HCShares, SandwichDesign, checked_share, sandwich_terms

if TYPE_CHECKING:
    from collections.abc import Mapping

    from ablens.stats.adjusted import VcovType

__all__ = ["compute_sandwich_shares"]

_HC_TYPES = ("HC0", "HC1", "HC2", "HC3")


def compute_sandwich_shares(
    data: object,
    *,
    variant: str,
    control: str,
    treatment: str,
    design: SandwichDesign,
    vcov: VcovType,
    segment: Mapping[str, Any] | None = None,
    experiment_id: str | None = None,
    team: str | None = None,
) -> HCShares:
    """Each arm's share of ``sandwich::vcovHC``'s variance of the effect, summed in the engine.

    One query over the two arms' rows (``GROUP BY variant``): the sum of each unit's sandwich
    term, its largest hat value and the row count, per arm.

    Args:
        data: Anything `ablens.data.compute_moments` accepts, one row per unit: the rows the
            design's moments were computed from.
        variant: Arm label column.
        control: Control arm label.
        treatment: Treatment arm label.
        design: The fit (`ablens.stats.adjusted.sandwich_design` of the arms' moments).
        vcov: "HC0", "HC1", "HC2" or "HC3".
        segment: Column -> value: only the rows of that segment (as `analyze` breaks an
            analysis down by ``segments``); None for all rows.
        experiment_id: Tag for the SQL comment (cost attribution).
        team: Optional team tag.

    Returns:
        The shares, to pass as ``hc_shares`` to `ablens.regression_adjusted_test` or
        `ablens.common_slope_test`.

    Raises:
        InputError: If ``vcov`` is not an HC type, or ``design`` is not a `SandwichDesign`.
        DataError: If an arm has no rows, or not the design's number of rows, or a column has
            NULLs; InputError if a unit has leverage 1 (HC2, HC3).

    Examples:
        >>> import polars as pl
        >>> from ablens import Moments
        >>> from ablens.stats.adjusted import sandwich_design
        >>> table = pl.DataFrame(
        ...     {
        ...         "arm": ["a"] * 4 + ["b"] * 3,
        ...         "y": [1.0, 2.0, 4.0, 3.0, 2.0, 4.0, 3.0],
        ...         "x": [0.0, 1.0, 2.0, 3.0, 0.5, 1.0, 2.5],
        ...     }
        ... )
        >>> control, treatment = (
        ...     Moments.from_columns(table.filter(pl.col("arm") == arm).select("y", "x").to_dict())
        ...     for arm in ("a", "b")
        ... )
        >>> design = sandwich_design(control, treatment, ["x"], column="y")
        >>> shares = compute_sandwich_shares(
        ...     table, variant="arm", control="a", treatment="b", design=design, vcov="HC0"
        ... )
        >>> round(shares.control + shares.treatment, 6)
        0.290193
    """
    nw = optional_import("narwhals", "data")
    check_name("variant", variant)
    check_choice("vcov", vcov, _HC_TYPES)
    if not isinstance(design, SandwichDesign):
        raise InputError(
            f"design is a {type(design).__name__}, must be a SandwichDesign "
            "(ablens.stats.adjusted.sandwich_design)"
        )
    source = resolve(data)
    columns = design.columns()
    internal = InternalNames(source.columns())
    source = narrow(source, [variant, *(segment or {}), *columns])
    comment = query_comment(experiment_id, team)

    def column(name: str) -> Any:  # noqa: ANN401 - a narwhals expression
        return nw.col(name).cast(nw.Float64)

    def constant(value: float) -> Any:  # noqa: ANN401 - a narwhals expression
        # A typed literal: some SQL dialects would read a bare decimal as an exact NUMERIC.
        return nw.lit(value, dtype=nw.Float64)

    terms = {
        arm: sandwich_terms(arm_design, column, vcov, constant)
        for arm, arm_design in ((control, design.control), (treatment, design.treatment))
    }
    is_control = nw.col(variant) == control
    term = nw.when(is_control).then(terms[control][0]).otherwise(terms[treatment][0])
    hat = nw.when(is_control).then(terms[control][1]).otherwise(terms[treatment][1])
    frame = source.frame.filter(nw.col(variant).is_in([control, treatment]))
    for name, value in (segment or {}).items():
        check_name("segment", name)
        frame = frame.filter(nw.col(name).is_null() if value is None else nw.col(name) == value)
    term_, hat_, n, total_, max_hat = (
        internal(suffix) for suffix in ("term", "hat", "n", "sum", "max_hat")
    )
    query = (
        frame.with_columns(term.alias(term_), hat.alias(hat_))
        .group_by(variant)
        .agg(
            nw.len().alias(n),
            *(nw.col(c).count().alias(internal(f"nn{i}")) for i, c in enumerate(columns)),
            nw.col(term_).sum().alias(total_),
            nw.col(hat_).max().alias(max_hat),
        )
    )
    rows, _ = collect(source, query, comment, experiment_id, team)
    by_arm = {str(r[variant]): r for r in rows}
    sums = []
    for label, arm_design in ((control, design.control), (treatment, design.treatment)):
        if label not in by_arm:
            raise DataError(f"arm {label!r} has no rows in column {variant!r}")
        row = by_arm[label]
        count = int(row[n])
        for i, name in enumerate(columns):
            nulls = count - int(row[internal(f"nn{i}")])
            if nulls:
                raise DataError(
                    f"column {name!r} has {nulls:,} NULL value(s) in arm {label!r}; fill or "
                    "filter them"
                )
        if count != arm_design.count:
            raise DataError(
                f"arm {label!r} has {count:,} rows, the design {arm_design.count:,}: compute "
                "the design from the moments of the same rows"
            )
        total = float(row[total_])
        largest = float(row[max_hat])
        sums.append(checked_share(total, largest, vcov, f"{label!r}"))
    factor = design.factor(vcov)
    return HCShares(vcov, sums[0] * factor, sums[1] * factor)
