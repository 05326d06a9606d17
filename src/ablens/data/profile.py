"""What a table's columns hold, read in the engine: numeric or not, and which are 0/1 flags.

`profile_columns` is what infers metrics from a table that comes without a plan (the web's
uploaded file, a quick look in a notebook): the schema gives each column's type, and one
aggregate query says which numeric columns hold only 0, 1 or NULL.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ablens._validation import optional_import
from ablens.data._source import collect, query_comment, resolve

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["ColumnProfile", "profile_columns"]


@dataclass(frozen=True)
class ColumnProfile:
    """One column of a table.

    Attributes:
        name: The column.
        dtype: Its type, as the engine names it through narwhals (``Float64``, ``String``, ...).
        numeric: True for numbers and booleans (a metric can be computed from it).
        binary: True for a boolean column, or numbers that are all 0, 1 or NULL (a rate).
    """

    name: str
    dtype: str
    numeric: bool
    binary: bool


def profile_columns(
    data: object, *, binary_of: Sequence[str] | None = None
) -> dict[str, ColumnProfile]:
    """Every column's type, and for numeric columns whether they are 0/1 flags (one query).

    Args:
        data: Any input `ablens.compute_moments` accepts.
        binary_of: The numeric columns to check for 0/1 values (None: every numeric column);
            the others get ``binary=False`` without a query.

    Returns:
        Column name -> its profile, in the table's order.

    Examples:
        >>> import polars as pl
        >>> table = pl.DataFrame({"arm": ["a", "b"], "paid": [0, 1], "spend": [0.0, 9.5]})
        >>> [(p.name, p.numeric, p.binary) for p in profile_columns(table).values()]
        [('arm', False, False), ('paid', True, True), ('spend', True, False)]
    """
    nw = optional_import("narwhals", "data")
    source = resolve(data)
    schema = source.frame.collect_schema()
    kinds = {
        name: (str(dtype), dtype == nw.Boolean, dtype.is_numeric() or dtype == nw.Boolean)
        for name, dtype in schema.items()
    }
    asked = [
        name
        for name, (_, boolean, numeric) in kinds.items()
        if numeric and not boolean and (binary_of is None or name in binary_of)
    ]
    flags: dict[str, bool] = {}
    if asked:
        checks = [
            ((nw.col(name) == 0) | (nw.col(name) == 1) | nw.col(name).is_null())
            .all()
            .alias(f"__ablens_{i}")
            for i, name in enumerate(asked)
        ]
        rows, _ = collect(source, source.frame.select(checks), query_comment(None, None))
        flags = {name: bool(rows[0][f"__ablens_{i}"]) for i, name in enumerate(asked)}
    return {
        name: ColumnProfile(name, dtype, numeric, boolean or flags.get(name, False))
        for name, (dtype, boolean, numeric) in kinds.items()
    }
