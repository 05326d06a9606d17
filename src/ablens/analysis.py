"""`analyze`: every metric, every treatment arm against control, with corrections and SRM."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from ablens._validation import (
    check_arm_label,
    check_choice,
    check_open_unit_interval,
    resolve_arm,
)
from ablens.data.engine import compute_moments
from ablens.errors import AblensError, DataError, InputError
from ablens.metrics.base import StratifiedMetric, TableContext, TableMetric, kind_of
from ablens.metrics.moment import Mean, Proportion, Ratio, design_of
from ablens.results import AnalysisResult, Comparison
from ablens.stats.moments import Moments
from ablens.stats.multiplicity import (
    CORRECTION_METHODS,
    CorrectionMethod,
    CorrectionSetting,
    adjust_pvalues,
    adjusted_alphas,
    adjusted_confidence_level,
    resolve_correction,
)
from ablens.stats.small_samples import with_small_sample_note
from ablens.stats.srm import (
    DEFAULT_SRM_ALPHA,
    DEFAULT_SRM_METHOD,
    SRM_METHODS,
    SRMMethod,
    srm_test,
)
from ablens.typing import FAMILIES

if TYPE_CHECKING:
    from ablens.data.checks import ExposureCheck
    from ablens.data.engine import DataReport, MomentsByArm
    from ablens.data.scan import ReadoutMoments
    from ablens.metrics.base import Metric
    from ablens.stats.adjusted import HCShares
    from ablens.stats.result import TestResult
    from ablens.typing import Family

__all__ = ["AnalysisOptions", "analyze", "moment_needs", "strata_of"]


@dataclass(frozen=True)
class AnalysisOptions:
    """How comparisons are read, as one object from `analyze` down to each arm's comparison.

    Attributes:
        alpha: Significance level; intervals have confidence level ``1 - alpha``.
        correction: Multiple-testing method over each family, ``"auto"`` (Holm with more
            than two arms, none with two) or None.
        family: Which comparisons are corrected together.
        weights: Planned allocation per arm for the sample-ratio check (equal if None).
        srm_alpha: p-value below which the split is flagged as a mismatch.
        srm_method: Method of the sample-ratio check ("chi2", "binomial", "multinomial" or
            "auto"; see `ablens.srm_test`).
    """

    alpha: float = 0.05
    correction: CorrectionSetting = "auto"
    family: Family = "metric"
    weights: Mapping[str, float] | None = None
    srm_alpha: float = DEFAULT_SRM_ALPHA
    srm_method: SRMMethod = DEFAULT_SRM_METHOD

    def __post_init__(self) -> None:
        object.__setattr__(self, "alpha", check_open_unit_interval("alpha", self.alpha))
        if self.correction is not None:
            check_choice("correction", self.correction, (*CORRECTION_METHODS, "auto"))
        check_choice("family", self.family, FAMILIES)
        check_open_unit_interval("srm_alpha", self.srm_alpha)
        check_choice("srm_method", self.srm_method, SRM_METHODS)

    @property
    def confidence_level(self) -> float:
        """``1 - alpha``: the level of every interval."""
        return 1.0 - self.alpha


def _table_metric(metric: Metric) -> TableMetric | None:
    """The metric as a `TableMetric` when its kind reads the table itself, else None."""
    if kind_of(metric).needs != "table":
        return None
    if not isinstance(metric, TableMetric):
        raise InputError(
            f"metric {metric.name!r} declares needs='table' but has no compare_table method"
        )
    return metric


def _stratified_metric(metric: Metric) -> StratifiedMetric | None:
    """The metric as a `StratifiedMetric` when its kind reads per-stratum moments, else None."""
    if kind_of(metric).needs != "strata":
        return None
    if not isinstance(metric, StratifiedMetric):
        raise InputError(
            f"metric {metric.name!r} declares needs='strata' but has no stratum or compare_strata"
        )
    return metric


def analyze(
    data: object,
    metrics: Sequence[Metric],
    *,
    control: str | int | float,
    variant: str = "variant",
    unit: str | None = None,
    segments: Sequence[str] = (),
    pairs: Sequence[tuple[str, str]] = (),
    arms: Sequence[str | int | float] | None = None,
    alpha: float = 0.05,
    correction: CorrectionSetting = "auto",
    family: Family = "metric",
    weights: Mapping[str, float] | None = None,
    srm_alpha: float = DEFAULT_SRM_ALPHA,
    srm_method: SRMMethod = DEFAULT_SRM_METHOD,
    experiment_id: str | None = None,
    team: str | None = None,
    max_segments: int = 100,
    exposure: ExposureCheck | None = None,
    scanned: ReadoutMoments | None = None,
) -> AnalysisResult:
    """Compare every treatment arm with the control on every metric.

    ``data`` is either the per-arm moments already computed (a mapping arm label -> `Moments`)
    or the data itself, one row per unit, in any engine `ablens.data.compute_moments` accepts
    (pandas, polars, pyarrow, DuckDB, a parquet/CSV path, Ibis, PySpark); then every moment the
    metrics need is computed in that engine in one query, with the data checks, and only the
    moments come back.

    Args:
        data: Arm label to `Moments`, or a table with one row per unit.
        metrics: The metrics to compare (`Mean`, `Proportion`, or any `Metric`).
        variant: For table input: the column holding the arm label.
        unit: For table input: the unit id column; checks each unit is one row in one arm.
        segments: For table input: columns to also break the analysis down by (same query).
        pairs: For table input: extra cross-moments to compute (custom metrics).
        arms: For table input: the arm labels the plan expects (others are an error).
        control: Label of the control arm. With a numeric variant column, the number itself
            (``control=1``): it is compared with the arms as numbers (``1`` finds the arm
            ``"1"`` or ``"1.0"``); the result labels arms as text (``"1"``).
        alpha: Significance level; intervals have confidence level ``1 - alpha``.
        correction: Multiple-testing method over each family; ``"auto"`` (the default) applies
            Holm's method when more than two arms are compared and none with two arms
            (`ablens.stats.multiplicity.resolve_correction`); None applies none.
        family: Which comparisons are corrected together: "metric" (each metric across its
            treatment arms), "experiment" (all comparisons), or "primary" (primary metrics
            together; secondary metrics and guardrails uncorrected).
        weights: Planned allocation per arm for the sample-ratio check (equal if omitted).
        srm_alpha: p-value below which the split is flagged as a mismatch. With
            ``segments``, each segment's split is checked at ``srm_alpha`` divided by the number
            of segments (Bonferroni; ``result.segments[label].srm.alpha``).
        srm_method: Method of the sample-ratio check: "chi2" (default), "binomial" (exact,
            two arms), "multinomial" (exact, small experiments) or "auto" (see
            `ablens.srm_test`); ``result.srm.method`` records the one that ran.
        experiment_id: For table input: tag on every query sent, for cost attribution.
        team: For table input: optional team tag on every query.
        max_segments: For table input: most distinct segment values allowed.
        exposure: For table input: a column that must agree with the arm (`ExposureCheck`);
            rows that disagree stop the analysis (a `DataError` with the counts per arm) or,
            with ``on_mismatch="drop"``, are left out of every query and counted in
            ``result.data_report.exposure_mismatches``.
        scanned: For table input: the moments of ``data`` already read by one grouped scan
            (`ablens.data.scan.scan_moments` over at least ``segments``, the metrics' strata,
            columns and pairs, on the rows left after ``exposure``), so that no moments query
            runs here; quantile and rank metrics still query the table.

    Returns:
        The analysis, renderable as text, markdown, HTML, JSON or a dataframe.

    Raises:
        InputError: Unknown control or arm labels, duplicate metric names, bad options.

    Examples:
        >>> from ablens import Mean, Moments
        >>> data = {
        ...     "control": Moments.from_columns({"x": [1.0, 2.0, 3.0, 4.0, 5.0]}),
        ...     "treatment": Moments.from_columns({"x": [2.0, 3.0, 4.0, 5.0, 7.0]}),
        ... }
        >>> result = analyze(data, [Mean("x")], control="control")
        >>> c = result.comparison("x")
        >>> round(c.result.effect, 12), round(c.result.p_value, 4)
        (1.2, 0.3138)

        The same from a table (any engine), with the moments computed in it:

        >>> import polars as pl
        >>> table = pl.DataFrame(
        ...     {
        ...         "variant": ["control"] * 5 + ["treatment"] * 5,
        ...         "x": [1.0, 2.0, 3.0, 4.0, 5.0, 2.0, 3.0, 4.0, 5.0, 7.0],
        ...     }
        ... )
        >>> round(analyze(table, [Mean("x")], control="control").comparison("x").result.p_value, 4)
        0.3138
    """
    options = AnalysisOptions(alpha, correction, family, weights, srm_alpha, srm_method)
    # The exposure check and the HC sandwich pass load on use: `import ablens` stays light.
    from ablens.data.checks import ExposureCheck, apply_exposure  # noqa: PLC0415

    if exposure is not None and not isinstance(exposure, ExposureCheck):
        raise InputError(
            f"exposure is a {type(exposure).__name__}, must be an ablens.ExposureCheck"
        )
    check_arm_label("control", control)
    arm_labels = None
    if arms is not None:
        arm_labels = [
            a if isinstance(a, str) else str(check_arm_label(f"arms[{i}]", a))
            for i, a in enumerate(arms)
        ]
    if not isinstance(data, Mapping):
        mismatches: dict[str, int] = {}
        if exposure is not None:
            data, mismatches = apply_exposure(
                data, variant=variant, exposure=exposure, experiment_id=experiment_id, team=team
            )
        result = _analyze_table(
            data,
            metrics,
            control=control,
            variant=variant,
            unit=unit,
            segments=segments,
            pairs=pairs,
            arms=arm_labels,
            experiment_id=experiment_id,
            team=team,
            max_segments=max_segments,
            options=options,
            scanned=scanned,
        )
        if exposure is None or result.data_report is None:
            return result
        return replace(result, data_report=_with_exposure(result.data_report, exposure, mismatches))
    if exposure is not None or scanned is not None:
        which = "exposure" if exposure is not None else "scanned"
        raise InputError(f"{which} applies to a table, not to moments already computed")
    return _analyze_moments(data, metrics, control=control, options=options)


def _with_exposure(
    report: DataReport, exposure: ExposureCheck, mismatches: Mapping[str, int]
) -> DataReport:
    """The data report with the exposure counts (the rows already exclude the dropped ones)."""
    dropped = sum(mismatches.values())
    warnings = list(report.warnings)
    if dropped:
        listed = ", ".join(f"{arm} {n:,}" for arm, n in mismatches.items())
        warnings.insert(
            0,
            f"{dropped:,} row(s) whose {exposure.column!r} disagrees with the arm were dropped "
            f"({listed})",
        )
    return replace(report, exposure_mismatches=dict(mismatches), warnings=tuple(warnings))


def _analyze_table(
    data: object,
    metrics: Sequence[Metric],
    *,
    control: str | int | float,
    variant: str,
    unit: str | None,
    segments: Sequence[str],
    pairs: Sequence[tuple[str, str]],
    arms: Sequence[str] | None,
    experiment_id: str | None,
    team: str | None,
    max_segments: int,
    options: AnalysisOptions,
    scanned: ReadoutMoments | None = None,
) -> AnalysisResult:
    metrics = list(metrics)
    if not metrics:
        raise InputError("metrics is empty, must list at least one metric")
    columns, needed_pairs = moment_needs(metrics, pairs)
    if arms is not None:
        control = resolve_arm("control", control, arms)
    if scanned is not None:
        # One scan already holds every piece: merge them, no query runs here.
        computed = scanned.moments_by_arm(segments)
        _check_arms_found(computed, variant)
        strata: StrataMoments = {
            stratum: {key[0]: arms_ for key, arms_ in scanned.by(stratum).items()}
            for stratum in strata_of(metrics)
        }
    else:
        computed = compute_moments(
            data,
            variant=variant,
            columns=columns,
            pairs=needed_pairs,
            segments=segments,
            unit=unit,
            arms=arms,
            experiment_id=experiment_id,
            team=team,
            max_segments=max_segments,
        )
        _check_arms_found(computed, variant)
        strata = _strata_moments(
            data,
            metrics,
            variant=variant,
            arms=arms,
            experiment_id=experiment_id,
            team=team,
            max_segments=max_segments,
        )
    table = _Table(data, variant, experiment_id, team)
    overall = _analyze_moments(
        computed.overall, metrics, control=control, strata=strata, table=table, options=options
    )
    by_segment: dict[str, AnalysisResult] = {}
    notes = list(computed.report.warnings)
    # Each segment's sample-ratio check runs at srm_alpha divided by the number of segments
    # (Bonferroni), so that many healthy segments raise a false alarm with chance <= srm_alpha
    # in all; `result.segments[label].srm.alpha` records the threshold used.
    segment_options = replace(options, srm_alpha=options.srm_alpha / max(len(computed.segments), 1))
    for key, moments in computed.segments.items():
        label = ", ".join(f"{column}={value}" for column, value in zip(segments, key, strict=True))
        try:
            # Strata and table metrics are overall only: segments get the moment metrics (with
            # the segment's rows for exact HC variances).
            plain = [m for m in metrics if kind_of(m).needs == "moments"]
            segment_table = replace(table, segment=dict(zip(segments, key, strict=True)), cache={})
            by_segment[label] = _analyze_moments(
                moments, plain, control=control, table=segment_table, options=segment_options
            )
        except InputError as error:
            # A thin segment (one arm missing, a single unit) must not sink the whole analysis.
            notes.append(f"segment {label} not analyzed: {error}")
    return replace(
        overall,
        segments=dict(sorted(by_segment.items())),
        data_report=replace(computed.report, warnings=tuple(notes)),
    )


def moment_needs(
    metrics: Sequence[Metric], pairs: Sequence[tuple[str, str]] = ()
) -> tuple[list[str], list[tuple[str, str]]]:
    """The columns and cross-moments the moments query of `analyze` computes for ``metrics``.

    Examples:
        >>> from ablens import Mean, Ratio
        >>> moment_needs([Ratio("orders", "sessions"), Mean("revenue", covariates=("pre",))])
        (['orders', 'sessions', 'revenue', 'pre'], [('orders', 'sessions'), ('revenue', 'pre')])
    """
    # Table metrics (quantiles, ranks) run their own queries; their column still feeds the
    # moments query so that every arm is counted (SRM) even when no other metric is given.
    table_columns = [t.column for m in metrics if (t := _table_metric(m)) is not None]
    columns = list(dict.fromkeys(c for m in metrics for c in m.required_columns()))
    columns += [c for c in table_columns if c not in columns]
    needed_pairs = [p for m in metrics for p in m.required_pairs()] + list(pairs)
    columns += [c for p in needed_pairs for c in p if c not in columns]
    return columns, needed_pairs


def strata_of(metrics: Sequence[Metric]) -> list[str]:
    """The stratum columns of the post-stratified metrics among ``metrics``, in order."""
    return list(dict.fromkeys(s for m in metrics if (s := _stratum(m)) is not None))


def _check_arms_found(computed: MomentsByArm, variant: str) -> None:
    """An empty table, or one arm only, said in the data's terms (not the moments')."""
    report = computed.report
    if not computed.overall:
        if report.rows == 0:
            raise DataError(
                "the data have no rows: nothing to analyse; check the file, the table or the "
                "source's filter"
            )
        raise DataError(
            f"all {report.rows:,} rows have a NULL {variant!r}: no arm to compare; check the "
            "variant column"
        )
    if len(computed.overall) == 1:
        ((arm, moments),) = computed.overall.items()
        raise DataError(
            f"column {variant!r} holds one arm only, {arm!r} ({moments.count:,} rows): a "
            "treatment arm is needed to compare; check the variant column or the source's filter"
        )


def _check_varies(
    metric: Mean, control: Moments, treatment: Moments, names: tuple[str, str]
) -> None:
    """A metric constant within both arms, said in the user's terms (the arms, the values)."""
    column = metric.column
    if control.count < 2 or treatment.count < 2:
        return
    if control.variance(column) != 0 or treatment.variance(column) != 0:
        return
    low, high = control.mean_of(column), treatment.mean_of(column)
    if low == high:
        raise InputError(
            f"metric {metric.name!r}: column {column!r} is {low:g} for every unit of both arms; "
            "there is nothing to compare: check that the right column was chosen"
        )
    raise InputError(
        f"metric {metric.name!r}: column {column!r} is constant within each arm ({names[0]} "
        f"{low:g} for every unit, {names[1]} {high:g}): it differs between the arms but not "
        "within them, so there is no variation to test the difference against; check that it "
        "is the metric and not a value set per arm"
    )


def _stratum(metric: Metric) -> str | None:
    stratified = _stratified_metric(metric)
    return None if stratified is None else stratified.stratum


StrataMoments = Mapping[str, Mapping[Any, Mapping[str, Moments]]]


def _strata_moments(
    data: object,
    metrics: Sequence[Metric],
    *,
    variant: str,
    arms: Sequence[str] | None,
    experiment_id: str | None,
    team: str | None,
    max_segments: int,
) -> StrataMoments:
    """Stratum column -> stratum value -> arm -> moments: one grouped query per stratum column."""
    result: dict[str, Mapping[Any, Mapping[str, Moments]]] = {}
    for stratum in dict.fromkeys(s for m in metrics if (s := _stratum(m)) is not None):
        stratified = [m for m in metrics if _stratum(m) == stratum]
        columns = list(dict.fromkeys(c for m in stratified for c in m.required_columns()))
        # Ratios and covariates need their cross-moments within each stratum too.
        pairs = list(dict.fromkeys(p for m in stratified for p in m.required_pairs()))
        columns += [c for p in pairs for c in p if c not in columns]
        computed = compute_moments(
            data,
            variant=variant,
            columns=columns,
            pairs=pairs,
            segments=[stratum],
            arms=arms,
            experiment_id=experiment_id,
            team=team,
            max_segments=max_segments,
        )
        result[stratum] = {key[0]: arms_ for key, arms_ in computed.segments.items()}
    return result


@dataclass(frozen=True)
class _Table:
    """The table behind an analysis, for metrics that query it themselves.

    ``segment`` restricts it to one segment's rows; ``cache`` keeps each comparison's sandwich
    sums, so that a multiple-testing correction's wider intervals do not query again.
    """

    data: object
    variant: str
    experiment_id: str | None
    team: str | None
    segment: Mapping[str, Any] | None = None
    cache: dict[tuple[str, str, str], HCShares] = field(default_factory=dict, compare=False)


def _exact_hc(
    metric: Mean | Proportion | Ratio,
    data: Mapping[str, Moments],
    control: str,
    treatment: str,
    confidence_level: float,
    table: _Table,
) -> TestResult | None:
    """The comparison with its HC variance summed over the rows, or None if it has none.

    An engine that cannot run the sum (an error that is not ablens' own) leaves the arm-level
    value from moments, with a note saying so and why.
    """
    design = design_of(metric, data[control], data[treatment])
    if design is None:
        return None
    key = (metric.name, control, treatment)
    if key not in table.cache:
        from ablens.data.sandwich import compute_sandwich_shares  # noqa: PLC0415 - on use

        try:
            table.cache[key] = compute_sandwich_shares(
                table.data,
                variant=table.variant,
                control=control,
                treatment=treatment,
                design=design,
                vcov=metric.vcov,
                segment=table.segment,
                experiment_id=table.experiment_id,
                team=table.team,
            )
        except AblensError:
            raise
        except Exception as error:
            result = metric.compare(
                data[control], data[treatment], confidence_level=confidence_level
            )
            reason = f"{type(error).__name__}: {error}".splitlines()[0][:200]
            note = (
                f"the exact {metric.vcov} sum over the rows could not run in this engine "
                f"({reason}); the arm-level approximation is shown"
            )
            return replace(result, notes=(*result.notes, note))
    return metric.compare(
        data[control],
        data[treatment],
        confidence_level=confidence_level,
        hc_shares=table.cache[key],
    )


def _naming_the_metric(
    error: InputError, metric: Metric, control: str, treatment: str
) -> InputError:
    """The error of one comparison, saying which metric and arms it was about.

    The statistics name their own arguments (``count == 1``, ``control_variance``); the user
    wrote a metric and has arms, so the message starts with those (unless it already does).
    """
    message = str(error)
    if message.startswith(f"metric {metric.name!r}"):
        return error
    return InputError(f"metric {metric.name!r}, {treatment!r} vs {control!r}: {message}")


def _compare(
    metric: Metric,
    data: Mapping[str, Moments],
    strata: StrataMoments,
    control: str,
    treatment: str,
    confidence_level: float,
    table: _Table | None = None,
) -> TestResult:
    """One comparison; post-stratified and table metrics read what they need themselves."""
    table_metric = _table_metric(metric)
    if table_metric is not None:
        if table is None:
            raise InputError(
                f"metric {metric.name!r} needs the table itself: pass the data, not "
                "precomputed moments, to analyze()"
            )
        context = TableContext(
            table.data, table.variant, control, treatment, table.experiment_id, table.team
        )
        return table_metric.compare_table(context, confidence_level=confidence_level)
    stratified = _stratified_metric(metric)
    if stratified is None:
        if isinstance(metric, Mean) and not metric.covariates:
            _check_varies(metric, data[control], data[treatment], (control, treatment))
        if table is not None and isinstance(metric, Mean | Proportion | Ratio):
            exact = _exact_hc(metric, data, control, treatment, confidence_level, table)
            if exact is not None:
                return exact
        return metric.compare(data[control], data[treatment], confidence_level=confidence_level)
    stratum = stratified.stratum
    if stratum not in strata:
        raise InputError(
            f"metric {metric.name!r} is post-stratified and needs the table itself: pass the "
            "data, not precomputed moments, to analyze()"
        )
    by_value = strata[stratum]
    for value, arms in by_value.items():
        for arm in (control, treatment):
            if arm not in arms:
                raise InputError(
                    f"stratum {stratum}={value!r} has no units in arm {arm!r}; post-"
                    "stratification needs every stratum in both arms: merge it with another"
                )
    return stratified.compare_strata(
        {v: a[control] for v, a in by_value.items()},
        {v: a[treatment] for v, a in by_value.items()},
        confidence_level=confidence_level,
    )


def _analyze_moments(
    data: Mapping[str, Moments],
    metrics: Sequence[Metric],
    *,
    control: str | int | float,
    strata: StrataMoments | None = None,
    table: _Table | None = None,
    options: AnalysisOptions,
) -> AnalysisResult:
    alpha, family, weights = (
        options.alpha,
        options.family,
        options.weights,
    )
    if not isinstance(data, Mapping) or not data:
        raise InputError("data must be a non-empty mapping of arm label -> Moments")
    for arm, moments in data.items():
        if not isinstance(moments, Moments):
            raise InputError(f"data[{arm!r}] is a {type(moments).__name__}, must be a Moments")
    control = resolve_arm("control", control, list(data))
    if len(data) < 2:
        raise InputError(f"data has only the arm {control!r}; at least one treatment is needed")
    metrics = list(metrics)
    if not metrics:
        raise InputError("metrics is empty, must list at least one metric")
    names = [m.name for m in metrics]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise InputError(f"metric names {duplicates} repeat; give each metric a unique name")
    if weights is not None and set(weights) != set(data):
        raise InputError(
            f"weights has arms {sorted(weights)}, must have exactly the arms {sorted(data)}"
        )

    arms = (control, *(a for a in data if a != control))
    correction = resolve_correction(options.correction, len(arms))
    confidence_level = options.confidence_level
    comparisons: list[Comparison] = []
    for metric in metrics:
        for treatment in arms[1:]:
            try:
                result = _compare(
                    metric, data, strata or {}, control, treatment, confidence_level, table
                )
            except InputError as error:
                raise _naming_the_metric(error, metric, control, treatment) from None
            # Every kind's large-sample results say when an arm is too small to trust them.
            result = with_small_sample_note(
                result, data[control].count, data[treatment].count, rate=kind_of(metric).rate
            )
            comparisons.append(
                Comparison(
                    metric=metric.name,
                    kind=kind_of(metric).name,
                    role=metric.role,
                    direction=metric.direction,
                    control=control,
                    treatment=treatment,
                    control_count=data[control].count,
                    treatment_count=data[treatment].count,
                    result=result,
                    alpha=alpha,
                )
            )
    if correction is not None:
        comparisons = _correct(
            comparisons, metrics, data, strata or {}, correction, family, confidence_level, table
        )

    counts = {arm: data[arm].count for arm in arms}
    srm = srm_test(
        counts,
        None if weights is None else {a: weights[a] for a in arms},
        alpha=options.srm_alpha,
        method=options.srm_method,
    )
    return AnalysisResult(
        control=control,
        arms=arms,
        counts=tuple(counts.values()),
        comparisons=tuple(comparisons),
        srm=srm,
        alpha=alpha,
        correction=correction,
        family=family,
    )


def _family_key(comparison: Comparison, family: Family) -> str | None:
    if family == "metric":
        return comparison.metric
    if family == "experiment":
        return "experiment"
    return "primary" if comparison.role == "primary" else None


def _correct(
    comparisons: list[Comparison],
    metrics: Sequence[Metric],
    data: Mapping[str, Moments],
    strata: StrataMoments,
    method: CorrectionMethod,
    family: Family,
    confidence_level: float,
    table: _Table | None = None,
) -> list[Comparison]:
    by_name = {m.name: m for m in metrics}
    groups: dict[str, list[int]] = {}
    for index, comparison in enumerate(comparisons):
        key = _family_key(comparison, family)
        if key is not None:
            groups.setdefault(key, []).append(index)
    corrected = list(comparisons)
    for members in groups.values():
        raw = [comparisons[i].result.p_value for i in members]
        adjusted = adjust_pvalues(raw, method)
        alpha = comparisons[members[0]].alpha
        rejections = int((adjusted < alpha).sum())
        level = adjusted_confidence_level(confidence_level, len(members), method, rejections)
        thresholds = adjusted_alphas(raw, method, alpha)
        for i, p, threshold in zip(members, adjusted, thresholds, strict=True):
            c = comparisons[i]
            effect_ci = relative_ci = None
            if level is not None:
                wider = _compare(
                    by_name[c.metric], data, strata, c.control, c.treatment, level, table
                )
                effect_ci, relative_ci = wider.effect_ci, wider.relative_ci
            corrected[i] = replace(
                c,
                correction=method,
                family_size=len(members),
                adjusted_p_value=float(p),
                adjusted_effect_ci=effect_ci,
                adjusted_relative_ci=relative_ci,
                adjusted_alpha=float(threshold),
            )
    return corrected
