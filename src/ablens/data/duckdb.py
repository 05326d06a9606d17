"""Per-arm moments from a DuckDB table in a single SQL statement.

The statement computes, per arm, the count and the sums of values shifted by a pilot (the
average of the first rows the engine returns, shared by all arms: any value near the mean will
do), and the sums of products of shifted values for every requested pair.
`ablens.Moments.from_shifted_sums` turns them into exact means and centred co-moments: the shift
keeps ``sum((x - K)^2)`` free of the cancellation that ruins ``sum(x^2) - n mean^2``.
"""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING, Any

import numpy as np

from ablens._validation import check_name
from ablens.errors import DataError, InputError
from ablens.stats.moments import Moments

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["moments_by_arm", "moments_sql"]

PILOT_SAMPLE_ROWS = 10_000


def quote(identifier: str) -> str:
    """A DuckDB identifier in double quotes, inner quotes doubled."""
    return '"' + identifier.replace('"', '""') + '"'


def moments_sql(
    table: str,
    variant: str,
    columns: Sequence[str],
    pairs: Sequence[tuple[str, str]] | None = None,
    *,
    comment: str = "",
) -> str:
    """The single statement that computes per-arm moments.

    Args:
        table: Table or view name.
        variant: Column holding the arm label.
        columns: Numeric columns (booleans are cast to 0/1).
        pairs: Column pairs whose cross-moment is needed; all pairs if None.
        comment: Text put in a leading SQL comment (e.g. the experiment id, for cost attribution).

    Returns:
        SQL text; its result has one row per arm.
    """
    check_name("table", table)
    check_name("variant", variant)
    if not columns:
        raise InputError("columns is empty, must name at least one metric column")
    k = len(columns)
    for pair in pairs or ():
        for name in pair:
            if name not in columns:
                raise InputError(
                    f"pairs names column {name!r}, must be one of columns {list(columns)}; "
                    "add it to columns"
                )
    wanted = (
        set(itertools.combinations(range(k), 2))
        if pairs is None
        else {tuple(sorted((columns.index(a), columns.index(b)))) for a, b in pairs}
    )
    value = [f"CAST({quote(c)} AS DOUBLE)" for c in columns]
    pilot = ", ".join(f"avg({v}) AS p{i}" for i, v in enumerate(value))
    shifted = [f"({v} - pilot.p{i})" for i, v in enumerate(value)]
    select = [f"{quote(variant)} AS arm", "count(*) AS n"]
    select += [f"count({quote(c)}) AS nonnull{i}" for i, c in enumerate(columns)]
    select += [f"any_value(pilot.p{i}) AS pilot{i}" for i in range(k)]
    select += [f"sum({s}) AS s{i}" for i, s in enumerate(shifted)]
    for i, j in itertools.combinations_with_replacement(range(k), 2):
        if i == j or (i, j) in wanted:
            select.append(f"sum({shifted[i]} * {shifted[j]}) AS c{i}_{j}")
    # Comments nest in some engines (DuckDB, Postgres): neutralise both delimiters.
    safe_comment = comment.replace("/*", "/ *").replace("*/", "* /")
    header = f"/* {safe_comment} */\n" if comment else ""
    # Identifiers are quoted by `quote`; no user value is interpolated into the statement.
    source = quote(table)
    return (
        f"{header}WITH pilot AS (SELECT {pilot} FROM "  # noqa: S608
        f"(SELECT * FROM {source} LIMIT {PILOT_SAMPLE_ROWS}))\n"
        f"SELECT {', '.join(select)}\nFROM {source}, pilot\n"
        f"GROUP BY {quote(variant)}\nORDER BY arm"
    )


def moments_by_arm(
    connection: Any,  # noqa: ANN401 - a duckdb.DuckDBPyConnection; duckdb is optional
    table: str,
    variant: str,
    columns: Sequence[str],
    pairs: Sequence[tuple[str, str]] | None = None,
    *,
    comment: str = "",
) -> dict[str, Moments]:
    """Run `moments_sql` and return arm label -> `Moments`.

    Raises:
        DataError: If the variant or a metric column holds NULLs.
    """
    sql = moments_sql(table, variant, columns, pairs, comment=comment)
    cursor = connection.execute(sql)
    names = [d[0] for d in cursor.description]
    rows = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    k = len(columns)
    result: dict[str, Moments] = {}
    for row in rows:
        if row["arm"] is None:
            raise DataError(
                f"{row['n']} row(s) have a NULL {variant!r}; drop or assign them before analysis"
            )
        for i, column in enumerate(columns):
            missing = row["n"] - row[f"nonnull{i}"]
            if missing:
                raise DataError(
                    f"column {column!r} has {missing} NULL value(s) in arm {row['arm']!r}; "
                    "fill them (e.g. 0 for no revenue) or filter the rows"
                )
        cross = np.full((k, k), np.nan)
        for i, j in itertools.combinations_with_replacement(range(k), 2):
            key = f"c{i}_{j}"
            if key in row:
                cross[i, j] = cross[j, i] = row[key]
        result[str(row["arm"])] = Moments.from_shifted_sums(
            row["n"],
            columns,
            [row[f"pilot{i}"] for i in range(k)],
            [row[f"s{i}"] for i in range(k)],
            cross,
        )
    return result
