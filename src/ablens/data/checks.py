"""Every data problem at once, counted in the engine: `check_data` and the exposure rule.

`ablens.compute_moments` stops at the first problem it meets; `check_data` counts them all in a
few grouped queries (only counts come back) and returns a `DataCheck`: rows per arm, NULL
variant, unit and metric values, unit ids repeated within an arm, units in several arms,
labels the plan does not name, named arms without rows, and rows whose exposure column
disagrees with their arm (`ExposureCheck`).

>>> import pandas as pd
>>> table = pd.DataFrame(
...     {
...         "user": [1, 2, 2, 3, 4],
...         "variant": ["a", "a", "a", "b", "b"],
...         "page": ["old", "old", "old", "old", "new"],
...     }
... )
>>> exposure = ExposureCheck("page", {"a": "old", "b": "new"})
>>> report = check_data(table, variant="variant", unit="user", exposure=exposure)
>>> dict(report.repeated_rows), dict(report.exposure_mismatches)
({'a': 1, 'b': 0}, {'a': 0, 'b': 1})
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from ablens._validation import (
    check_choice,
    check_count,
    check_name,
    check_open_unit_interval,
    optional_import,
)
from ablens.data._source import (
    InternalNames,
    check_columns,
    check_label_types,
    collect,
    is_null_key,
    narrow,
    query_comment,
    resolve,
)
from ablens.data.engine import distinct_units_query
from ablens.errors import DataError, InputError
from ablens.stats.srm import DEFAULT_SRM_ALPHA, SRMResult, srm_test

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

__all__ = [
    "ON_MISMATCH",
    "DataCheck",
    "ExposureCheck",
    "OnMismatch",
    "check_data",
    "exposure_mismatches",
    "filter_exposure",
]

OnMismatch = Literal["drop", "stop"]
#: What to do with rows whose exposure disagrees with their arm.
ON_MISMATCH: tuple[OnMismatch, ...] = ("drop", "stop")
ExposureValue = str | int | float | bool


@dataclass(frozen=True)
class ExposureCheck:
    """A column that must agree with the arm (the page, flag or variant key actually served).

    Attributes:
        column: The column recording what each unit was exposed to.
        expected: Arm label -> the value ``column`` must hold in that arm. A NULL exposure
            disagrees; labels not named here (unknown arms) are left to the arm check.
        on_mismatch: "stop" (the default): rows that disagree are a `DataError` listing the
            counts per arm; "drop": they are left out of the analysis and counted in its report.

    Examples:
        >>> ExposureCheck("page", {"control": "old", "treatment": "new"}, "drop")
        ExposureCheck(column='page', expected={'control': 'old', 'treatment': 'new'}, ...)
        >>> ExposureCheck("landing_page", {}, "drop")
        Traceback (most recent call last):
        ...
        ablens.errors.InputError: exposure.expected is empty, must map each arm to the value ...
    """

    column: str
    expected: Mapping[str, ExposureValue]
    on_mismatch: OnMismatch = "stop"

    def __post_init__(self) -> None:
        check_name("exposure.column", self.column)
        if not self.expected:
            raise InputError(
                "exposure.expected is empty, must map each arm to the value exposure.column "
                "holds in it"
            )
        for arm, value in self.expected.items():
            if not isinstance(value, str | int | float | bool) or (
                isinstance(value, float) and not math.isfinite(value)
            ):
                raise InputError(
                    f"exposure.expected.{arm} == {value!r}, must be a string, number or boolean"
                )
        check_choice("exposure.on_mismatch", self.on_mismatch, ON_MISMATCH)
        object.__setattr__(self, "expected", {str(a): v for a, v in self.expected.items()})

    def to_dict(self) -> dict[str, Any]:
        """The plan's ``exposure`` mapping."""
        return {
            "column": self.column,
            "expected": dict(self.expected),
            "on_mismatch": self.on_mismatch,
        }


def _mismatch(variant: str, exposure: ExposureCheck) -> Any:  # noqa: ANN401 - a narwhals Expr
    """True for a row of a named arm whose exposure is not that arm's (NULL exposure included)."""
    nw = optional_import("narwhals", "data")
    consistent = None
    for arm, value in exposure.expected.items():
        term = (nw.col(variant) == nw.lit(arm)) & (nw.col(exposure.column) == nw.lit(value))
        consistent = term if consistent is None else consistent | term
    named = nw.col(variant).is_in(list(exposure.expected)).fill_null(False)  # noqa: FBT003
    return named & ~consistent.fill_null(False)  # type: ignore[union-attr]  # noqa: FBT003


def _check_exposure_column(frame: Any, variant: str, exposure: ExposureCheck) -> None:  # noqa: ANN401 - a narwhals LazyFrame
    """The column exists, and the expected values have its type (engines refuse 'a' = 1)."""
    nw = optional_import("narwhals", "data")
    check_columns(frame, variant, (), [exposure.column])
    dtype = frame.collect_schema()[exposure.column]
    if dtype == nw.String:
        fits = all(isinstance(v, str) for v in exposure.expected.values())
    elif dtype == nw.Boolean:
        fits = all(isinstance(v, bool) for v in exposure.expected.values())
    elif dtype.is_numeric():
        fits = all(
            isinstance(v, int | float) and not isinstance(v, bool)
            for v in exposure.expected.values()
        )
    else:  # categorical, dates, ...: left to the engine
        fits = True
    if not fits:
        raise DataError(
            f"column {exposure.column!r} has type {dtype}, but exposure.expected is "
            f"{dict(exposure.expected)}; give values of the column's type (quote text, leave "
            "numbers unquoted)"
        )


def filter_exposure(data: object, *, variant: str, exposure: ExposureCheck) -> object:
    """``data`` without the rows whose exposure disagrees with their arm (no query runs).

    Returns the engine's own table (a pandas frame, a DuckDB relation, an Ibis table, ...),
    which every `ablens.data` function takes; the filter runs in the engine with the next query.

    Examples:
        >>> import pandas as pd
        >>> table = pd.DataFrame({"variant": ["a", "b", "b"], "page": ["old", "new", "old"]})
        >>> kept = filter_exposure(
        ...     table, variant="variant", exposure=ExposureCheck("page", {"a": "old", "b": "new"})
        ... )
        >>> kept["page"].tolist()
        ['old', 'new']
    """
    nw = optional_import("narwhals", "data")
    source = resolve(data)
    _check_exposure_column(source.frame, variant, exposure)
    frame = source.frame.filter(~_mismatch(variant, exposure))
    native = nw.to_native(frame)
    if source.kind in {"pandas", "modin", "cudf"}:
        return nw.to_native(frame.collect())  # pandas-like lazy frames are eager underneath
    return native


def exposure_mismatches(
    data: object,
    *,
    variant: str,
    exposure: ExposureCheck,
    experiment_id: str | None = None,
    team: str | None = None,
) -> dict[str, int]:
    """Rows per named arm whose exposure disagrees with the arm: one grouped query.

    Examples:
        >>> import pandas as pd
        >>> table = pd.DataFrame({"variant": ["a", "b", "b"], "page": ["old", "new", None]})
        >>> exposure_mismatches(
        ...     table, variant="variant", exposure=ExposureCheck("page", {"a": "old", "b": "new"})
        ... )
        {'a': 0, 'b': 1}
    """
    nw = optional_import("narwhals", "data")
    source = resolve(data)
    _check_exposure_column(source.frame, variant, exposure)
    mismatch = InternalNames(source.columns())("mismatch")
    source = narrow(source, [variant, exposure.column])
    query = (
        source.frame.with_columns(_mismatch(variant, exposure).cast(nw.Int32).alias(mismatch))
        .filter(nw.col(variant).is_in(list(exposure.expected)).fill_null(False))  # noqa: FBT003
        .group_by(variant)
        .agg(nw.col(mismatch).sum().alias(mismatch))
    )
    rows, _ = collect(source, query, query_comment(experiment_id, team), experiment_id, team)
    counts = dict.fromkeys(exposure.expected, 0)
    for r in rows:
        counts[str(r[variant])] = int(r[mismatch] or 0)
    return counts


@dataclass(frozen=True)
class DataCheck:
    """Every data problem of a table, with its counts (all computed in the engine).

    Attributes:
        variant: The variant column.
        unit: The unit id column, or None (then no unit checks).
        rows: Rows read.
        arm_rows: Arm label -> rows (rows with a NULL variant excluded).
        null_variant: Rows whose variant is NULL.
        null_values: Column -> arm label -> its NULL values there (columns with none left out).
        repeated_rows: Arm label -> rows beyond the first of a unit id within that arm.
        repeated_units: Arm label -> unit ids that have more than one row in that arm.
        units_in_several_arms: Unit ids seen in more than one arm.
        unknown_arms: Labels in the data the expected arms do not name -> their rows.
        missing_arms: Expected arms with no rows.
        exposure: The exposure rule checked, or None.
        exposure_mismatches: Arm label -> rows whose exposure disagrees with the arm.
        segment_columns: The segment columns counted, if any.
        segment_rows: Segment values (a tuple, one per segment column) -> arm label -> rows,
            for a look at each segment's split (empty without segment columns, or when they
            have more than ``max_segments`` distinct values).
        too_many_segments: True when the segment columns have more than ``max_segments``
            distinct values (an analysis would stop).
    """

    variant: str
    unit: str | None
    rows: int
    arm_rows: Mapping[str, int]
    null_variant: int = 0
    null_values: Mapping[str, Mapping[str, int]] = field(default_factory=dict)
    repeated_rows: Mapping[str, int] = field(default_factory=dict)
    repeated_units: Mapping[str, int] = field(default_factory=dict)
    units_in_several_arms: int = 0
    unknown_arms: Mapping[str, int] = field(default_factory=dict)
    missing_arms: tuple[str, ...] = ()
    exposure: ExposureCheck | None = None
    exposure_mismatches: Mapping[str, int] = field(default_factory=dict)
    segment_columns: tuple[str, ...] = ()
    segment_rows: Mapping[tuple[Any, ...], Mapping[str, int]] = field(default_factory=dict)
    too_many_segments: bool = False
    weights: Mapping[str, float] | None = None
    srm_alpha: float = DEFAULT_SRM_ALPHA

    def segment_mismatches(self) -> list[tuple[tuple[Any, ...], SRMResult]]:
        """Segments whose split is off, worst first, each with its sample-ratio test.

        As `ablens.analyze` checks them: every segment where all the arms have rows is tested
        against the planned split at ``srm_alpha`` divided by the number of segments
        (Bonferroni), so many healthy segments do not raise a false alarm.
        """
        # The planned arms that have rows: a typo label or an empty arm is a problem of its own.
        planned = list(self.weights) if self.weights is not None else list(self.arm_rows)
        arms = [a for a in planned if self.arm_rows.get(a) and a not in self.unknown_arms]
        tested = [
            (key, [int(per_arm.get(a, 0)) for a in arms])
            for key, per_arm in self.segment_rows.items()
        ]
        if not tested or len(arms) < 2:
            return []
        threshold = self.srm_alpha / len(tested)
        weights = None if self.weights is None else [float(self.weights[a]) for a in arms]
        found = []
        for key, counts in tested:
            if min(counts) == 0:
                continue  # a segment missing an arm is not analyzed; its rows show in the table
            result = srm_test(counts, weights, alpha=threshold)
            if result.mismatch:
                found.append((key, result))
        return sorted(found, key=lambda item: item[1].p_value)

    def problems(self) -> list[tuple[Literal["error", "warning"], str]]:
        """(severity, message) of every problem; an "error" makes `ablens.analyze` stop."""
        out: list[tuple[Literal["error", "warning"], str]] = []
        if self.unknown_arms:
            listed = ", ".join(f"{a!r} ({n:,} rows)" for a, n in sorted(self.unknown_arms.items()))
            out.append(("error", f"labels of {self.variant!r} not in the plan's arms: {listed}"))
        if self.missing_arms:
            out.append(("error", f"arms without rows: {list(self.missing_arms)}"))
        if self.null_variant:
            out.append(
                ("warning", f"{self.null_variant:,} rows have a NULL {self.variant!r} (left out)")
            )
        for column, per_arm in self.null_values.items():
            listed = ", ".join(f"{a} {n:,}" for a, n in per_arm.items())
            out.append(("error", f"column {column!r} has NULL values: {listed}"))
        if sum(self.repeated_rows.values()):
            listed = ", ".join(
                f"{a} {self.repeated_units.get(a, 0):,} units ({n:,} extra rows)"
                for a, n in self.repeated_rows.items()
                if n
            )
            out.append(("error", f"unit ids of {self.unit!r} repeated within an arm: {listed}"))
        if self.units_in_several_arms:
            several = f"{self.units_in_several_arms:,} units of {self.unit!r}"
            out.append(("error", f"{several} are in more than one arm"))
        if sum(self.exposure_mismatches.values()) and self.exposure is not None:
            listed = ", ".join(f"{a} {n:,}" for a, n in self.exposure_mismatches.items())
            action = (
                "dropped by the plan" if self.exposure.on_mismatch == "drop" else "analysis stops"
            )
            severity: Literal["error", "warning"] = (
                "warning" if self.exposure.on_mismatch == "drop" else "error"
            )
            out.append(
                (
                    severity,
                    (
                        f"rows whose {self.exposure.column!r} disagrees with the arm: "
                        f"{listed} ({action})"
                    ),
                )
            )
        if self.too_many_segments:
            out.append(
                (
                    "error",
                    (
                        f"segments {list(self.segment_columns)} have more distinct values "
                        "than max_segments"
                    ),
                )
            )
        for key, srm in self.segment_mismatches():
            label = ", ".join(
                f"{column}={value}" for column, value in zip(self.segment_columns, key, strict=True)
            )
            split = " / ".join(f"{n:,}" for n in srm.observed)
            out.append(
                (
                    "warning",
                    (
                        f"segment {label}: the split {split} is off (p={srm.p_value:.3g}, "
                        f"checked at {srm.alpha:.3g}); its results are not to be trusted"
                    ),
                )
            )
        return out

    @property
    def ok(self) -> bool:
        """True when nothing would stop an analysis (warnings allowed)."""
        return all(severity != "error" for severity, _ in self.problems())

    def table(self) -> tuple[list[str], list[list[str]]]:
        """Headers and rows of the per-arm counts, one row per arm (and one per unknown label)."""
        headers = ["arm", "rows"]
        columns = list(self.null_values)
        headers += [f"NULL {c}" for c in columns]
        if self.unit is not None:
            headers += ["repeated units", "extra rows"]
        if self.exposure is not None:
            headers.append(f"{self.exposure.column} mismatches")
        arms = [*self.arm_rows, *(a for a in self.missing_arms if a not in self.arm_rows)]
        rows = []
        for arm in arms:
            note = " (missing)" if arm in self.missing_arms else ""
            note = " (unknown)" if arm in self.unknown_arms else note
            row = [arm + note, f"{self.arm_rows.get(arm, 0):,}"]
            row += [f"{self.null_values[c].get(arm, 0):,}" for c in columns]
            if self.unit is not None:
                row += [
                    f"{self.repeated_units.get(arm, 0):,}",
                    f"{self.repeated_rows.get(arm, 0):,}",
                ]
            if self.exposure is not None:
                row.append(f"{self.exposure_mismatches.get(arm, 0):,}")
            rows.append(row)
        return headers, rows

    def __str__(self) -> str:
        headers, rows = self.table()
        widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]

        def line(cells: Sequence[str]) -> str:
            return "  ".join(
                c.ljust(w) if i == 0 else c.rjust(w)
                for i, (c, w) in enumerate(zip(cells, widths, strict=True))
            )

        out = [f"{self.rows:,} rows; {len(self.arm_rows)} arm label(s) in {self.variant!r}"]
        out += [line(headers), line(["-" * w for w in widths])]
        out += [line(r) for r in rows]
        if self.unit is not None:
            out.append(f"units in more than one arm: {self.units_in_several_arms:,}")
        if self.segment_rows:
            out.append(f"rows per {', '.join(self.segment_columns)} and arm:")
            for key, per_arm in self.segment_rows.items():
                label = ", ".join(str(v) for v in key)
                shares = ", ".join(f"{a} {n:,}" for a, n in per_arm.items())
                out.append(f"  {label}: {shares}")
        problems = self.problems()
        out.append("problems:" if problems else "no problems found")
        out += [f"  {severity}: {message}" for severity, message in problems]
        return "\n".join(out)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dictionary (``problems`` as {severity, message} objects)."""
        return {
            "ok": self.ok,
            "variant": self.variant,
            "unit": self.unit,
            "rows": self.rows,
            "arm_rows": dict(self.arm_rows),
            "null_variant": self.null_variant,
            "null_values": {c: dict(v) for c, v in self.null_values.items()},
            "repeated_rows": dict(self.repeated_rows),
            "repeated_units": dict(self.repeated_units),
            "units_in_several_arms": self.units_in_several_arms,
            "unknown_arms": dict(self.unknown_arms),
            "missing_arms": list(self.missing_arms),
            "exposure": None if self.exposure is None else self.exposure.to_dict(),
            "exposure_mismatches": dict(self.exposure_mismatches),
            "segment_columns": list(self.segment_columns),
            "segment_rows": [
                {"segment": dict(zip(self.segment_columns, key, strict=True)), "arm_rows": rows}
                for key, rows in self.segment_rows.items()
            ],
            "too_many_segments": self.too_many_segments,
            "problems": [{"severity": s, "message": m} for s, m in self.problems()],
        }


def _key(value: object) -> object:
    """None for a NULL group key (pandas reports it as NaN or pd.NA, every other engine as None)."""
    return None if is_null_key(value) else value


def check_data(
    data: object,
    *,
    variant: str = "variant",
    unit: str | None = None,
    columns: Sequence[str] = (),
    arms: Sequence[str] | None = None,
    exposure: ExposureCheck | None = None,
    segments: Sequence[str] = (),
    max_segments: int = 100,
    weights: Mapping[str, float] | None = None,
    srm_alpha: float = DEFAULT_SRM_ALPHA,
    experiment_id: str | None = None,
    team: str | None = None,
) -> DataCheck:
    """Count every data problem in the engine holding ``data`` (at most four grouped queries).

    Args:
        data: Any input `ablens.compute_moments` takes.
        variant: The column holding each unit's arm label.
        unit: The unit id column; with it, repeats within an arm and units in several arms
            are counted.
        columns: Metric (or any) columns whose NULL values are counted per arm.
        arms: The arm labels expected; other labels are unknown arms, expected ones without
            rows missing arms. None: every label found is an arm.
        exposure: A column that must agree with the arm; disagreeing rows are counted per arm.
        segments: Columns whose rows per (segment, arm) are counted, to see each segment's
            split.
        max_segments: Most distinct segment values counted; more is reported as a problem.
        weights: Planned split per arm, for each segment's sample-ratio check (equal if None).
        srm_alpha: Threshold of the sample-ratio check, divided over the segments (Bonferroni).
        experiment_id: Tag on every query sent, for cost attribution.
        team: Optional team tag on every query.

    Returns:
        The counts; ``problems()`` lists them as messages, ``ok`` says whether an analysis
        would go on.

    Raises:
        InputError: On invalid arguments.
        DataError: A named column is not in the data.

    Examples:
        >>> import pandas as pd
        >>> table = pd.DataFrame({"variant": ["a", "b", "c", None], "x": [1.0, None, 2.0, 3.0]})
        >>> report = check_data(table, columns=["x"], arms=["a", "b", "d"])
        >>> report.ok, dict(report.unknown_arms), report.missing_arms, report.null_variant
        (False, {'c': 1}, ('d',), 1)
        >>> dict(report.null_values["x"])
        {'b': 1}
    """
    check_name("variant", variant)
    if unit is not None:
        check_name("unit", unit)
    columns = list(dict.fromkeys(columns))
    for name in columns:
        check_name("columns", name)
    segments = list(dict.fromkeys(segments))
    for name in segments:
        check_name("segments", name)
    max_segments = check_count("max_segments", max_segments, minimum=1)
    if exposure is not None and not isinstance(exposure, ExposureCheck):
        raise InputError(
            f"exposure is a {type(exposure).__name__}, must be an ablens.ExposureCheck"
        )
    source = resolve(data)
    others = [*columns, *segments, *([unit] if unit else [])]
    others += [exposure.column] if exposure else []
    check_columns(source.frame, variant, (), others, source.columns())
    if exposure is not None:
        _check_exposure_column(source.frame, variant, exposure)
    names = InternalNames(source.columns())
    source = narrow(source, [variant, *others])
    comment = query_comment(experiment_id, team)

    def run(query: Any) -> list[dict[str, Any]]:  # noqa: ANN401 - a narwhals LazyFrame
        rows, _ = collect(source, query, comment, experiment_id, team)
        return rows

    arm_rows, null_variant, null_values, mismatches = _per_arm(
        source, run, variant=variant, unit=unit, columns=columns, exposure=exposure, names=names
    )
    repeated_rows: dict[str, int] = {}
    repeated_units: dict[str, int] = {}
    several = 0
    if unit is not None:
        repeated_rows, repeated_units, several = _unit_repeats(source, run, variant, unit, names)
        repeated_rows = {a: repeated_rows.get(a, 0) for a in arm_rows}
        repeated_units = {a: repeated_units.get(a, 0) for a in arm_rows}
    segment_rows: dict[tuple[Any, ...], dict[str, int]] | None = {}
    if segments:
        segment_rows = _segment_rows(source, run, variant, segments, max_segments, names)
    expected = None if arms is None else [str(a) for a in arms]
    unknown = {} if expected is None else {a: n for a, n in arm_rows.items() if a not in expected}
    missing = () if expected is None else tuple(a for a in expected if a not in arm_rows)
    return DataCheck(
        variant=variant,
        unit=unit,
        rows=sum(arm_rows.values()) + null_variant,
        arm_rows=arm_rows,
        null_variant=null_variant,
        null_values=null_values,
        repeated_rows=repeated_rows,
        repeated_units=repeated_units,
        units_in_several_arms=several,
        unknown_arms=unknown,
        missing_arms=missing,
        exposure=exposure,
        exposure_mismatches=mismatches,
        segment_columns=tuple(segments),
        segment_rows={} if segment_rows is None else segment_rows,
        too_many_segments=segment_rows is None,
        weights=None if weights is None else dict(weights),
        srm_alpha=check_open_unit_interval("srm_alpha", srm_alpha),
    )


def _per_arm(
    source: Any,  # noqa: ANN401 - ablens.data._source.Source
    run: Any,  # noqa: ANN401 - query -> rows
    *,
    variant: str,
    unit: str | None,
    columns: Sequence[str],
    exposure: ExposureCheck | None,
    names: InternalNames,
) -> tuple[dict[str, int], int, dict[str, dict[str, int]], dict[str, int]]:
    """Rows per arm, NULL variant rows, NULLs per column and arm, mismatches: one query."""
    nw = optional_import("narwhals", "data")
    arm, n, mismatch = names("arm"), names("n"), names("mismatch")
    extra = {}
    if exposure is not None:
        extra[mismatch] = _mismatch(variant, exposure).cast(nw.Int32)
    aggregations = [nw.len().alias(n)]
    aggregations += [nw.col(c).count().alias(names(f"nn{i}")) for i, c in enumerate(columns)]
    if unit is not None:
        aggregations.append(nw.col(unit).count().alias(names("unit_nn")))
    if exposure is not None:
        aggregations.append(nw.col(mismatch).sum().alias(mismatch))
    per_arm = run(
        source.frame.with_columns(nw.col(variant).alias(arm), **extra)
        .group_by(arm)
        .agg(*aggregations)
    )
    for r in per_arm:
        r[arm] = _key(r[arm])
    check_label_types((r[arm] for r in per_arm), variant)
    labelled = sorted((r for r in per_arm if r[arm] is not None), key=lambda r: str(r[arm]))
    arm_rows = {str(r[arm]): int(r[n]) for r in labelled}
    null_variant = sum(int(r[n]) for r in per_arm if r[arm] is None)
    null_values: dict[str, dict[str, int]] = {}
    keys = [(c, names(f"nn{i}")) for i, c in enumerate(columns)]
    keys += [(unit, names("unit_nn"))] if unit is not None else []
    for name, key in keys:
        counts = {str(r[arm]): int(r[n]) - int(r[key]) for r in labelled}
        if any(counts.values()):
            null_values[name] = {a: c for a, c in counts.items() if c}
    mismatches: dict[str, int] = {}
    if exposure is not None:
        mismatches = {
            str(r[arm]): int(r[mismatch] or 0) for r in labelled if str(r[arm]) in exposure.expected
        }
    return arm_rows, null_variant, null_values, mismatches


def _unit_repeats(
    source: Any,  # noqa: ANN401 - ablens.data._source.Source
    run: Any,  # noqa: ANN401 - query -> rows
    variant: str,
    unit: str,
    names: InternalNames,
) -> tuple[dict[str, int], dict[str, int], int]:
    """Extra rows and repeated units per arm, and units in several arms: exact.

    One COUNT(DISTINCT) query rules both out when every unit id has one row (a repeat or a
    unit in two arms needs two rows); only then are the two grouped queries that count them
    sent. Arms are filled in by the caller (absent here means 0).
    """
    nw = optional_import("narwhals", "data")
    rows_, extra, repeated = names("rows"), names("extra"), names("repeated")
    arms, several, distinct = names("arms"), names("several"), names("distinct_units")
    present = source.frame.drop_nulls(subset=[unit, variant])
    (counted,) = run(distinct_units_query(present, source.kind, unit, rows_, distinct))
    if int(counted[rows_] or 0) == int(counted[distinct] or 0):
        return {}, {}, 0
    per_unit_arm = present.group_by(unit, variant).agg(nw.len().alias(rows_))
    flagged = per_unit_arm.with_columns(
        (nw.col(rows_) - 1).alias(extra),
        (nw.col(rows_) > 1).cast(nw.Int32).alias(repeated),
    )
    repeated_rows: dict[str, int] = {}
    repeated_units: dict[str, int] = {}
    for r in run(flagged.group_by(variant).agg(nw.col(extra).sum(), nw.col(repeated).sum())):
        repeated_rows[str(r[variant])] = int(r[extra] or 0)
        repeated_units[str(r[variant])] = int(r[repeated] or 0)
    (total,) = run(
        per_unit_arm.group_by(unit)
        .agg(nw.len().alias(arms))
        .select((nw.col(arms) > 1).cast(nw.Int32).sum().alias(several))
    )
    return repeated_rows, repeated_units, int(total[several] or 0)


def _segment_rows(
    source: Any,  # noqa: ANN401 - ablens.data._source.Source
    run: Any,  # noqa: ANN401 - query -> rows
    variant: str,
    segments: Sequence[str],
    max_segments: int,
    names: InternalNames,
) -> dict[tuple[Any, ...], dict[str, int]] | None:
    """Segment values -> arm -> rows (one query), or None past ``max_segments`` values."""
    nw = optional_import("narwhals", "data")
    n = names("n")
    # Guard the result's size as compute_moments does: a segment by an id would be huge.
    limit = (max_segments + 1) * 64
    rows = run(
        source.frame.drop_nulls(subset=[variant])
        .group_by(*segments, variant)
        .agg(nw.len().alias(n))
        .head(limit)
    )
    if len(rows) >= limit:
        return None
    out: dict[tuple[Any, ...], dict[str, int]] = {}
    for r in rows:
        key = tuple(_key(r[s]) for s in segments)
        out.setdefault(key, {})[str(r[variant])] = int(r[n])
    if len(out) > max_segments:
        return None
    return {
        key: dict(sorted(out[key].items()))
        for key in sorted(out, key=lambda k: tuple((v is None, str(v)) for v in k))
    }


def apply_exposure(
    data: object,
    *,
    variant: str,
    exposure: ExposureCheck,
    experiment_id: str | None = None,
    team: str | None = None,
) -> tuple[object, dict[str, int]]:
    """Count the rows that disagree; stop on them, or return ``data`` without them.

    Raises:
        DataError: With ``on_mismatch="stop"``, when any row disagrees (counts per arm).
    """
    counts = exposure_mismatches(
        data, variant=variant, exposure=exposure, experiment_id=experiment_id, team=team
    )
    if not sum(counts.values()):
        return data, counts
    if exposure.on_mismatch == "stop":
        listed = ", ".join(f"{a} {n:,}" for a, n in counts.items())
        raise DataError(
            f"column {exposure.column!r} disagrees with the arm in {variant!r} "
            f"(expected {dict(exposure.expected)}): rows per arm: {listed}; fix the assignment, "
            "or set exposure.on_mismatch: drop to analyze the consistent rows"
        )
    return filter_exposure(data, variant=variant, exposure=exposure), counts
