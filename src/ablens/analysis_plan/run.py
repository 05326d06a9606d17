"""Running an analysis plan: open its source, check its columns, analyze where the data live."""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from ablens.analysis import analyze, moment_needs, strata_of
from ablens.analysis_plan.model import PlanError
from ablens.data._source import available_columns
from ablens.data.checks import DataCheck, check_data
from ablens.data.sources import (
    FILE_SUFFIXES,
    OpenedSource,
    PathSource,
    SourceError,
    filter_rows,
    open_source,
)
from ablens.errors import AblensError, InputError

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

    from ablens.analysis_plan.model import AnalysisPlan
    from ablens.data.scan import ReadoutMoments
    from ablens.results import AnalysisResult

__all__ = [
    "analyze_opened",
    "check_columns",
    "check_plan",
    "check_source",
    "open_plan_source",
    "run_plan",
    "scan_plan",
    "with_data_file",
]


def with_data_file(plan: AnalysisPlan, path: str | Path) -> AnalysisPlan:
    """The plan reading ``path`` (parquet or CSV) instead of its source, cleaning kept.

    The plan's ``filter`` applies to the file; a path source's ``sql`` reads it as the table
    ``data`` as before. A database source's ``sql`` names that database's tables, so it cannot
    be pointed at a file: that is refused. The path is taken relative to the working
    directory (it comes from the command line, not from the plan).

    Raises:
        InputError: ``path`` is not a parquet or CSV file name.
        PlanError: The plan's source has a ``sql`` of its database.

    Examples:
        >>> from ablens.analysis_plan import plan_from_dict
        >>> plan = plan_from_dict(
        ...     {
        ...         "experiment_id": "e1",
        ...         "source": {
        ...             "duckdb": {"file": "shop.duckdb", "table": "users"},
        ...             "filter": [{"column": "bot", "value": False}],
        ...         },
        ...         "control": "a",
        ...         "metrics": [{"kind": "mean", "column": "revenue"}],
        ...     }
        ... )
        >>> with_data_file(plan, "/tmp/users.parquet").source.to_dict()
        {'path': '/tmp/users.parquet', 'filter': [{'column': 'bot', 'op': '==', 'value': False}]}
    """
    file = Path(path).expanduser()
    if file.suffix.lower() not in FILE_SUFFIXES:
        raise InputError(
            f"data == {str(path)!r}, must be a file ending in one of {', '.join(FILE_SUFFIXES)}"
        )
    source = plan.source
    if source.sql is not None and not isinstance(source, PathSource):
        raise PlanError(
            [
                (
                    f"{plan.where('source.sql')}: source.sql queries the plan's database, so the "
                    f"plan cannot read the file {str(path)!r} instead; export the query's result "
                    "to that file and drop source.sql, or use a path source whose sql reads 'data'"
                )
            ]
        )
    sql = source.sql if isinstance(source, PathSource) else None
    return replace(plan, source=PathSource(str(file.absolute()), sql, source.filter))


@contextmanager
def open_plan_source(plan: AnalysisPlan, data: object = None) -> Iterator[OpenedSource]:
    """Open the plan's source (or take ``data`` instead) and check every column it names.

    Args:
        plan: The plan.
        data: A table to use instead of the plan's source (any input `ablens.analyze` takes),
            filtered by the source's ``filter``; its columns are then not checked ahead of
            the query. A parquet or CSV path is opened like the plan's own file
            (`with_data_file`).

    Yields:
        The open source; ``columns`` is empty when a table was given.

    Raises:
        PlanError: The source cannot be opened, or a column is missing (at its line), or
            ``data`` is a table and the source has a ``sql`` (which cannot run on it).
    """
    if isinstance(data, str | Path):
        plan = with_data_file(plan, data)
    elif data is not None:
        if plan.source.sql is not None:
            raise PlanError(
                [
                    (
                        f"{plan.where('source.sql')}: source.sql cannot run on a table passed as "
                        "data; pass a parquet or CSV path (read as the table 'data'), or the "
                        "query's result"
                    )
                ]
            )
        try:
            yield OpenedSource(filter_rows(data, plan.source.filter, plan.where), ())
        except SourceError as error:
            raise PlanError([str(error)]) from None
        return
    try:
        with open_source(plan.source, base=plan.folder, where=plan.where) as opened:
            check_columns(plan, opened.columns)
            yield opened
    except SourceError as error:
        raise PlanError([str(error)]) from None


def check_columns(plan: AnalysisPlan, available: Sequence[str]) -> None:
    """Raise `PlanError` naming every column the plan names that ``available`` lacks."""
    wanted: list[tuple[str, str]] = [("variant", plan.variant)]
    if plan.unit is not None:
        wanted.append(("unit", plan.unit))
    if plan.time is not None:
        wanted.append(("time", plan.time))
    wanted += [(f"segments[{i}]", s) for i, s in enumerate(plan.segments)]
    if plan.exposure is not None:
        wanted.append(("exposure.column", plan.exposure.column))
    for i, spec in enumerate(plan.metrics):
        wanted += [(f"metrics[{i}].{key}", column) for key, column in spec.column_keys()]
    missing = [(key, column) for key, column in wanted if column not in available]
    if missing:
        raise PlanError(
            [
                f"{plan.where(key)}: {key} == {column!r} is not a column of the data; "
                f"{available_columns(list(available))}"
                for key, column in missing
            ]
        )


def analyze_opened(
    plan: AnalysisPlan, table: object, *, scanned: ReadoutMoments | None = None
) -> AnalysisResult:
    """`ablens.analyze` of an opened source with the plan's metrics and options.

    ``scanned``: the moments of the table already read by one scan (`scan_plan`), if any.
    """
    return analyze(
        table,
        plan.metric_objects(),
        control=plan.control,
        variant=plan.variant,
        unit=plan.unit,
        segments=plan.segments,
        arms=plan.arms,
        alpha=plan.alpha,
        correction=plan.correction,
        family=plan.family,
        weights=plan.weights,
        srm_alpha=plan.srm_alpha,
        srm_method=plan.srm_method,
        exposure=plan.exposure,
        experiment_id=plan.experiment_id,
        team=plan.team,
        scanned=scanned,
    )


def scan_plan(plan: AnalysisPlan, table: object) -> ReadoutMoments | None:
    """Every moment the plan's readout needs, from one grouped query, or None.

    One query by (time, segments, strata, arm) holds the analysis overall and per segment,
    each post-stratified metric's strata and the cumulative moments of every sequential look
    (`ablens.data.scan.scan_moments`). None when that grouping holds too many cells, or the
    data fail a check: each piece then runs its own query, which says what is wrong.

    Args:
        plan: The plan.
        table: The opened table, without the rows an exposure check with
            ``on_mismatch: drop`` leaves out.
    """
    from ablens.data.scan import scan_moments  # noqa: PLC0415 - on use

    metrics = plan.metric_objects()
    columns, pairs = moment_needs(metrics)
    try:
        return scan_moments(
            table,
            variant=plan.variant,
            columns=columns,
            pairs=pairs,
            segments=plan.segments,
            strata=strata_of(metrics),
            time=plan.time,
            unit=plan.unit,
            arms=plan.arms,
            experiment_id=plan.experiment_id,
            team=plan.team,
        )
    except AblensError:
        return None


def run_plan(plan: AnalysisPlan, *, data: object = None) -> AnalysisResult:
    """Analyze the plan's experiment where its data live.

    Opens the source (paths relative to the plan file), checks that every column the plan
    names exists (a missing one is reported at its line), then calls `ablens.analyze` with the
    plan's metrics and options. `ablens.run_readout` does this and adds the sequential looks,
    the Bayesian reading and the verdict.

    Args:
        plan: The plan.
        data: A table to analyze instead of the plan's source (any input `ablens.analyze`
            takes), or a parquet or CSV path (`with_data_file`); the source's ``filter``
            applies to it. Handy in notebooks and tests.

    Returns:
        The analysis.

    Raises:
        PlanError: A column the plan names is not in the data, or the source cannot be opened.
        DataError: The data fail the checks (NULLs, repeated units, unexpected arms, ...).
    """
    with open_plan_source(plan, data) as opened:
        return analyze_opened(plan, opened.table)


def check_source(plan: AnalysisPlan) -> list[str]:
    """Open the plan's data source and check every column the plan names; return its columns.

    Cheap: reads the table's schema, not its rows.

    Raises:
        PlanError: The source cannot be opened, or a column is missing (at its line).
    """
    with open_plan_source(plan) as opened:
        return list(opened.columns)


def check_plan(plan: AnalysisPlan, *, data: object = None) -> DataCheck:
    """Every data problem of the plan's experiment at once, counted where its data live.

    What ``ablens check PLAN`` prints: rows per arm, NULL variant, unit and metric values, unit
    ids repeated within an arm, units in several arms, labels the plan does not name, named arms
    without rows, and rows whose exposure column disagrees with the arm. Unlike `run_plan`,
    which stops at the first problem, every check runs (a few grouped queries; counts only).

    Args:
        plan: The plan.
        data: A table to check instead of the plan's source (any input `ablens.analyze` takes).

    Returns:
        The counts; ``ok`` is False when `run_plan` would stop on them.

    Raises:
        PlanError: A column the plan names is not in the data, or the source cannot be opened.

    Examples:
        >>> import pandas as pd
        >>> from ablens.analysis_plan import plan_from_dict
        >>> plan = plan_from_dict(
        ...     {
        ...         "experiment_id": "e1",
        ...         "source": {"path": "users.parquet"},
        ...         "control": "a",
        ...         "arms": ["a", "b"],
        ...         "unit": "user",
        ...         "metrics": [{"kind": "mean", "column": "x"}],
        ...     }
        ... )
        >>> table = pd.DataFrame(
        ...     {"user": [1, 1, 2, 3], "variant": ["a", "b", "b", "b"], "x": [1.0, 2.0, None, 4.0]}
        ... )
        >>> report = check_plan(plan, data=table)
        >>> report.ok, report.units_in_several_arms, dict(report.null_values["x"])
        (False, 1, {'b': 1})
    """
    columns = list(dict.fromkeys(c for spec in plan.metrics for c in spec.columns()))
    with open_plan_source(plan, data) as opened:
        return check_data(
            opened.table,
            variant=plan.variant,
            unit=plan.unit,
            columns=columns,
            arms=plan.arms,
            exposure=plan.exposure,
            segments=plan.segments,
            weights=plan.weights,
            srm_alpha=plan.srm_alpha,
            experiment_id=plan.experiment_id,
            team=plan.team,
        )
