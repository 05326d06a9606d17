"""One scan for a whole readout: per-(look, segment, stratum, arm) moments, merged exactly.

A plan's readout needs the per-arm moments overall, per segment, per stratum of each
post-stratified metric and, for sequential looks, cumulatively up to each look. All of them are
sums over rows, so one grouped query by (time, segments, strata, arm) holds them all: every
piece is then an exact merge (`ablens.Moments.merge`) of the query's cells in Python, a few
additions per cell. The table is read once instead of once per piece.

Quantile and rank metrics (`ablens.Quantile`, `ablens.MannWhitney`) cannot be merged from
moments; they keep their own query. So does the unit check (a grouping by unit id) and the
exposure check.

>>> import polars as pl
>>> table = pl.DataFrame(
...     {
...         "arm": ["a", "b", "a", "b", "a", "b"],
...         "day": [1, 1, 2, 2, 2, 2],
...         "os": ["ios", "ios", "web", "web", "ios", "web"],
...         "x": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
...     }
... )
>>> scan = scan_moments(table, variant="arm", columns=["x"], segments=["os"], time="day")
>>> scan.overall()["b"].mean_of("x"), scan.by("os")[("web",)]["b"].count
(4.0, 2)
>>> [(day, arms["a"].count) for day, arms in scan.cumulative().items()]
[(1, 1), (2, 3)]
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ablens.data._source import resolve
from ablens.data.engine import MomentsByArm, TooManySegmentsError, compute_moments
from ablens.data.looks import TimeColumnError, accumulate_looks, check_time_column
from ablens.errors import InputError
from ablens.stats.moments import Moments

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from ablens.data.engine import DataReport

__all__ = ["MAX_CELLS", "ReadoutMoments", "scan_moments"]

#: Most (time, segment, stratum) cells one scan holds; beyond it each piece runs its own query.
MAX_CELLS = 20_000


@dataclass(frozen=True)
class ReadoutMoments:
    """The cells of one grouped scan and every piece merged from them.

    Attributes:
        keys: The grouping columns, in the cells' key order (time first when present).
        time: The look column, or None.
        cells: Key values -> arm -> moments of the rows of that cell.
        report: The data checks' counts (as `ablens.data.compute_moments` reports them).
        statements: SQL sent to the engine.
    """

    keys: tuple[str, ...]
    time: str | None
    cells: Mapping[tuple[Any, ...], Mapping[str, Moments]]
    report: DataReport
    statements: tuple[str, ...] = ()
    _looks: dict[int, dict[Any, dict[str, Moments]]] = field(
        default_factory=dict, compare=False, repr=False
    )

    def by(self, *columns: str) -> dict[tuple[Any, ...], dict[str, Moments]]:
        """Moments per value of ``columns`` (a subset of `keys`), merged over the others.

        Arms are in label order within each value, as `ablens.data.compute_moments` gives them.
        """
        positions = [self.keys.index(c) for c in columns]
        parts: dict[tuple[Any, ...], dict[str, list[Moments]]] = {}
        for key, arms in self.cells.items():
            value = tuple(key[p] for p in positions)
            at = parts.setdefault(value, {})
            for arm, moments in arms.items():
                at.setdefault(arm, []).append(moments)
        return {
            value: {arm: Moments.merge_all(arms[arm]) for arm in sorted(arms)}
            for value, arms in parts.items()
        }

    def overall(self) -> dict[str, Moments]:
        """Arm -> moments of every row."""
        return self.by().get((), {})

    def moments_by_arm(self, segments: Sequence[str]) -> MomentsByArm:
        """What `ablens.data.compute_moments` returns for these segments."""
        return MomentsByArm(
            overall=self.overall(),
            segments=self.by(*segments) if segments else {},
            segment_columns=tuple(segments),
            report=self.report,
            statements=self.statements,
        )

    def cumulative(self, max_looks: int = 366) -> dict[Any, dict[str, Moments]]:
        """Look -> arm -> moments of every row up to it (`ablens.data.cumulative_moments`).

        Raises:
            InputError: The scan was not grouped by a time column.
            TimeColumnError: As `ablens.data.cumulative_moments`: NULL look values, too many
                looks.
        """
        if self.time is None:
            raise InputError("the scan has no time column; pass time= to scan_moments")
        if max_looks not in self._looks:  # every reading of a readout shares them
            by_time = self.by(self.time)
            if len(by_time) > max_looks:
                raise TimeColumnError(too_many_looks(self.time, max_looks))
            self._looks[max_looks] = accumulate_looks(by_time, self.time)
        return self._looks[max_looks]


def too_many_looks(time: str, max_looks: int) -> str:
    """The message of a look column with more than ``max_looks`` values."""
    return (
        f"column {time!r} (the look time) has more than {max_looks:,} distinct values, "
        f"more looks than ablens reads (max_looks == {max_looks:,}); use a coarser time: "
        f"each unit's exposure day (e.g. CAST({time} AS DATE)) rather than its timestamp"
    )


def scan_moments(
    data: object,
    *,
    variant: str,
    columns: Sequence[str],
    pairs: Sequence[tuple[str, str]] = (),
    segments: Sequence[str] = (),
    strata: Sequence[str] = (),
    time: str | None = None,
    unit: str | None = None,
    arms: Sequence[str] | None = None,
    experiment_id: str | None = None,
    team: str | None = None,
    max_segments: int = 100,
    max_cells: int = MAX_CELLS,
) -> ReadoutMoments:
    """Per-(time, segment, stratum, arm) moments of ``data`` in one engine query.

    Args:
        data: One row per unit, in any engine `ablens.data.compute_moments` accepts.
        variant: Arm label column.
        columns: Every metric column any piece needs.
        pairs: Every cross-moment any piece needs.
        segments: Segment columns.
        strata: Stratum columns of post-stratified metrics.
        time: Look column (a number, date or timestamp), or None.
        unit: Unit id column, for the duplicate checks.
        arms: The arms the plan expects.
        experiment_id: Tag on the query (cost attribution).
        team: Optional team tag.
        max_segments: Most distinct values of each segment or stratum column.
        max_cells: Most distinct (time, segment, stratum) combinations.

    Returns:
        The scan's cells.

    Raises:
        TooManySegmentsError: More than ``max_cells`` combinations, or a segment or stratum
            column with more than ``max_segments`` values: the caller reads each piece with its
            own query, whose error (if any) names the column.
        DataError: Every error of `ablens.data.compute_moments`; a ``time`` column that is not
            a number, date or timestamp.
    """
    keys = list(dict.fromkeys([*([time] if time is not None else []), *segments, *strata]))
    if time is not None:
        check_time_column(resolve(data).frame, time)
    computed = compute_moments(
        data,
        variant=variant,
        columns=columns,
        pairs=pairs,
        segments=keys,
        unit=unit,
        arms=arms,
        experiment_id=experiment_id,
        team=team,
        max_segments=max_cells,
    )
    cells = computed.segments if keys else {(): computed.overall}
    scan = ReadoutMoments(
        keys=tuple(keys),
        time=time,
        cells=cells,
        report=computed.report,
        statements=computed.statements,
    )
    groups = [list(segments)] if segments else []
    groups += [[stratum] for stratum in dict.fromkeys(strata)]
    for group in groups:
        if len(scan.by(*group)) > max_segments:
            raise TooManySegmentsError(group, max_segments)
    return scan
