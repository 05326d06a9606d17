"""`analyze`: every metric, every treatment arm against control, with corrections and SRM."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from ablens._validation import check_choice, check_name, check_open_unit_interval
from ablens.errors import InputError
from ablens.results import AnalysisResult, Comparison, Family
from ablens.stats.moments import Moments
from ablens.stats.multiplicity import (
    CORRECTION_METHODS,
    CorrectionMethod,
    adjust_pvalues,
    adjusted_confidence_level,
)
from ablens.stats.srm import DEFAULT_SRM_ALPHA, srm_test

if TYPE_CHECKING:
    from ablens.metrics import Metric

__all__ = ["analyze"]

FAMILIES: tuple[Family, ...] = ("metric", "experiment", "primary")


def _metric_kind(metric: Metric) -> str:
    kind = getattr(metric, "kind", None)
    return kind if isinstance(kind, str) else type(metric).__name__.lower()


def analyze(
    data: Mapping[str, Moments],
    metrics: Sequence[Metric],
    *,
    control: str,
    alpha: float = 0.05,
    correction: CorrectionMethod | None = None,
    family: Family = "metric",
    weights: Mapping[str, float] | None = None,
    srm_alpha: float = DEFAULT_SRM_ALPHA,
) -> AnalysisResult:
    """Compare every treatment arm with the control on every metric.

    Args:
        data: Arm label to the arm's `Moments` (holding every column the metrics need).
        metrics: The metrics to compare (`Mean`, `Proportion`, or any `Metric`).
        control: Label of the control arm.
        alpha: Significance level; intervals have confidence level ``1 - alpha``.
        correction: Multiple-testing method over each family, or None.
        family: Which comparisons are corrected together: "metric" (each metric across its
            treatment arms), "experiment" (all comparisons), or "primary" (primary metrics
            together; secondary metrics and guardrails uncorrected).
        weights: Planned allocation per arm for the sample-ratio check (equal if omitted).
        srm_alpha: p-value below which the split is flagged as a mismatch.

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
    """
    alpha = check_open_unit_interval("alpha", alpha)
    check_name("control", control)
    if correction is not None:
        check_choice("correction", correction, CORRECTION_METHODS)
    check_choice("family", family, FAMILIES)
    if not isinstance(data, Mapping) or not data:
        raise InputError("data must be a non-empty mapping of arm label -> Moments")
    for arm, moments in data.items():
        if not isinstance(moments, Moments):
            raise InputError(f"data[{arm!r}] is a {type(moments).__name__}, must be a Moments")
    if control not in data:
        raise InputError(
            f"control == {control!r}, must be one of the arms {sorted(data)}; check the label"
        )
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
    confidence_level = 1.0 - alpha
    comparisons: list[Comparison] = []
    for metric in metrics:
        for treatment in arms[1:]:
            result = metric.compare(
                data[control], data[treatment], confidence_level=confidence_level
            )
            comparisons.append(
                Comparison(
                    metric=metric.name,
                    kind=_metric_kind(metric),
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
        comparisons = _correct(comparisons, metrics, data, correction, family, confidence_level)

    counts = {arm: data[arm].count for arm in arms}
    srm = srm_test(
        counts, None if weights is None else {a: weights[a] for a in arms}, alpha=srm_alpha
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
    method: CorrectionMethod,
    family: Family,
    confidence_level: float,
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
        for i, p in zip(members, adjusted, strict=True):
            c = comparisons[i]
            effect_ci = relative_ci = None
            if level is not None:
                wider = by_name[c.metric].compare(
                    data[c.control], data[c.treatment], confidence_level=level
                )
                effect_ci, relative_ci = wider.effect_ci, wider.relative_ci
            corrected[i] = replace(
                c,
                correction=method,
                family_size=len(members),
                adjusted_p_value=float(p),
                adjusted_effect_ci=effect_ci,
                adjusted_relative_ci=relative_ci,
            )
    return corrected
