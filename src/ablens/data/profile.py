"""What a table's columns hold, read in the engine: numeric or not, and which are 0/1 flags.

`profile_columns` is what infers metrics from a table that comes without a plan (the web's
uploaded file, a quick look in a notebook): the schema gives each column's type, and one
aggregate query says which numeric columns hold only 0, 1 or NULL.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ablens._validation import optional_import
from ablens.data._source import collect, query_comment, resolve
from ablens.errors import DataError

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["ColumnProfile", "TablePreview", "preview_table", "profile_columns"]


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


@dataclass(frozen=True)
class TablePreview:
    """A first look at a table: its columns with their distinct counts, and its first rows.

    Attributes:
        columns: Column name -> its profile (type, numeric, 0/1 flag), in the table's order.
        distinct: Column name -> its number of distinct values (NULL not counted).
        values: For the columns with at most ``max_values`` distinct values, those values as
            text, sorted (what an arm column's control can be chosen from).
        rows: The first rows, each a mapping column -> value.
        row_count: The table's number of rows.
    """

    columns: dict[str, ColumnProfile]
    distinct: dict[str, int]
    values: dict[str, tuple[str, ...]]
    rows: tuple[dict[str, object], ...]
    row_count: int


def preview_table(data: object, *, rows: int = 5, max_values: int = 20) -> TablePreview:
    """Profile every column, count its distinct values and read the first rows (in the engine).

    Queries: the 0/1 check of `profile_columns`, the distinct counts with the row count, one
    per column with at most ``max_values`` values (its values), and the first ``rows`` rows.

    Args:
        data: Any input `ablens.compute_moments` accepts.
        rows: How many of the first rows to read.
        max_values: Columns with at most this many distinct values get them listed.

    Returns:
        The preview.

    Examples:
        >>> import polars as pl
        >>> table = pl.DataFrame({"arm": ["a", "b", "a"], "paid": [0, 1, 1]})
        >>> preview = preview_table(table, rows=2)
        >>> preview.distinct, preview.values["arm"], preview.row_count, len(preview.rows)
        ({'arm': 2, 'paid': 2}, ('a', 'b'), 3, 2)
    """
    nw = optional_import("narwhals", "data")
    profiles = profile_columns(data)
    source = resolve(data)
    names = list(profiles)
    comment = query_comment(None, None)
    counts = [nw.col(name).n_unique().alias(f"__ablens_d{i}") for i, name in enumerate(names)]
    # n_unique counts NULL as a value: take it off where the column has one (same query).
    counts += [nw.col(name).null_count().alias(f"__ablens_n{i}") for i, name in enumerate(names)]
    counts.append(nw.len().alias("__ablens_rows"))
    found, _ = collect(source, source.frame.select(counts), comment)
    if not int(found[0]["__ablens_rows"] or 0):
        # Some engines count nothing as NULL: say what is wrong rather than fail on it.
        raise DataError(
            "the data have no rows: nothing to analyse; check the file, the table or the "
            "source's filter"
        )
    distinct = {
        name: int(found[0][f"__ablens_d{i}"]) - int(int(found[0][f"__ablens_n{i}"]) > 0)
        for i, name in enumerate(names)
    }
    values: dict[str, tuple[str, ...]] = {}
    for name in names:
        if 0 < distinct[name] <= max_values:
            seen, _ = collect(source, source.frame.select(nw.col(name)).unique(), comment)
            present = [row[name] for row in seen if not _missing(row[name])]
            # Numbers in numeric order (2 before 10), text in text order.
            values[name] = tuple(str(value) for value in sorted(present, key=_order))
    first, _ = collect(source, source.frame.head(rows), comment)
    return TablePreview(
        columns=profiles,
        distinct=distinct,
        values=values,
        rows=tuple(first),
        row_count=int(found[0]["__ablens_rows"]),
    )


def _missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _order(value: object) -> tuple[int, float, str]:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return (0, float(value), "")
    return (1, 0.0, str(value))
