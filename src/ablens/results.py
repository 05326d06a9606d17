"""Frozen result objects of an analysis, and the one place they are turned into tables.

Every face (notebook, CLI, HTML report, web page) renders these objects: ``str(result)`` for a
terminal, `AnalysisResult.to_markdown`, `AnalysisResult.to_html` (and ``_repr_html_`` for
Jupyter), `AnalysisResult.to_dict` for JSON, and `AnalysisResult.to_pandas` /
`AnalysisResult.to_polars` for dataframes (those libraries are imported only when asked).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from ablens import render
from ablens._validation import optional_import
from ablens.metrics.base import kind_named
from ablens.typing import Family

if TYPE_CHECKING:
    from collections.abc import Mapping

    from ablens.data.engine import DataReport
    from ablens.stats.multiplicity import CorrectionMethod
    from ablens.stats.result import TestResult
    from ablens.stats.srm import SRMResult

__all__ = [
    "SCHEMA_VERSION",
    "AnalysisResult",
    "Comparison",
    "Family",
    "Outcome",
    "data_fingerprint",
]

SCHEMA_VERSION = 1
Outcome = Literal["better", "worse", "inconclusive"]


@dataclass(frozen=True)
class Comparison:
    """One metric, one treatment arm against the control.

    Attributes:
        metric: Metric name.
        kind: Metric family ("mean", "proportion", ...).
        role: "primary", "secondary" or "guardrail".
        direction: "increase" or "decrease": which way is good.
        control: Control arm label.
        treatment: Treatment arm label.
        control_count: Units in control.
        treatment_count: Units in treatment.
        result: The statistics at the requested confidence level, unadjusted.
        alpha: Significance level the decision uses.
        correction: Multiple-testing method applied, or None.
        family_size: Number of comparisons in this comparison's correction family (1 if none).
        adjusted_p_value: p-value adjusted over the family, or None without correction.
        adjusted_effect_ci: Simultaneous / FCR interval of the effect, where the method defines one.
        adjusted_relative_ci: The same for the lift.
        adjusted_alpha: The threshold the correction compares this comparison's raw p-value with
            (`ablens.adjusted_alphas`: ``alpha / m`` for Bonferroni, the rank's step for Holm or
            BH, ...), or None without correction.
    """

    metric: str
    kind: str
    role: str
    direction: str
    control: str
    treatment: str
    control_count: int
    treatment_count: int
    result: TestResult
    alpha: float
    correction: CorrectionMethod | None = None
    family_size: int = 1
    adjusted_p_value: float | None = None
    adjusted_effect_ci: tuple[float, float] | None = None
    adjusted_relative_ci: tuple[float, float] | None = None
    adjusted_alpha: float | None = None

    @property
    def p_value(self) -> float:
        """The p-value decisions use: adjusted when a correction applies, raw otherwise."""
        return self.result.p_value if self.adjusted_p_value is None else self.adjusted_p_value

    @property
    def significant(self) -> bool:
        """Whether the null hypothesis is rejected at ``alpha`` (after any correction)."""
        return self.p_value < self.alpha

    @property
    def outcome(self) -> Outcome:
        """The decision in product terms.

        "better" or "worse" (judged by the metric's good direction) when significant, else
        "inconclusive".
        """
        if not self.significant:
            return "inconclusive"
        r = self.result
        if r.alternative == "two-sided":
            # The direction comes from the absolute effect: a relative margin m is the absolute
            # threshold m |c| (the lift is (t - c) / |c|), whatever the control's sign.
            threshold = (
                r.margin if r.margin_type == "absolute" else r.margin * abs(r.control_estimate)
            )
            if (r.effect == threshold or math.isnan(r.effect)) and math.isfinite(r.statistic):
                # A rank test's shift can sit on the null (more than half the pairwise
                # differences tied at 0) or be unavailable while the test rejects: the sign of
                # its statistic says which way.
                up = r.statistic > 0
            else:
                up = r.effect > threshold
        else:
            # A one-sided test only ever rejects towards its alternative.
            up = r.alternative == "greater"
        good = up if self.direction == "increase" else not up
        return "better" if good else "worse"

    @property
    def relative_interval_text(self) -> str:
        """The lift's interval as every face shows it (``[+1.2%, +4.5%]``).

        An unbounded Fieller set says what it excludes, or that it is unbounded, rather than
        showing ``[-∞, ∞]`` for both shapes.
        """
        r = self.result
        if self.adjusted_relative_ci is not None:
            return render.format_interval(*self.adjusted_relative_ci, percent=True)
        return render.format_relative_set(
            r.relative_ci_lower, r.relative_ci_upper, r.relative_ci_shape, r.relative_ci_gap
        )

    def to_dict(self) -> dict[str, Any]:
        """A flat, JSON-ready dictionary (infinite bounds as None)."""
        r = self.result

        def clean(value: float | None) -> float | None:
            return None if value is None or math.isinf(value) or math.isnan(value) else value

        def pair(ci: tuple[float, float] | None) -> tuple[float | None, float | None]:
            return (None, None) if ci is None else (clean(ci[0]), clean(ci[1]))

        adj_lo, adj_hi = pair(self.adjusted_effect_ci)
        adj_rel_lo, adj_rel_hi = pair(self.adjusted_relative_ci)
        return {
            "metric": self.metric,
            "kind": self.kind,
            "role": self.role,
            "direction": self.direction,
            "control": self.control,
            "treatment": self.treatment,
            "control_count": self.control_count,
            "treatment_count": self.treatment_count,
            "control_value": r.control_estimate,
            "treatment_value": r.treatment_estimate,
            "effect": r.effect,
            "effect_ci_lower": clean(r.effect_ci_lower),
            "effect_ci_upper": clean(r.effect_ci_upper),
            "relative_effect": clean(r.relative_effect),
            "relative_ci_lower": clean(r.relative_ci_lower),
            "relative_ci_upper": clean(r.relative_ci_upper),
            "relative_method": r.relative_method,
            "relative_standard_error": clean(r.relative_standard_error),
            "relative_ci_shape": r.relative_ci_shape,
            "relative_ci_gap_lower": None if r.relative_ci_gap is None else r.relative_ci_gap[0],
            "relative_ci_gap_upper": None if r.relative_ci_gap is None else r.relative_ci_gap[1],
            "standard_error": clean(r.standard_error),
            "test": r.test,
            "statistic": clean(r.statistic),
            "df": r.df,
            "p_value": r.p_value,
            "alternative": r.alternative,
            "confidence_level": r.confidence_level,
            "margin": r.margin,
            "margin_type": r.margin_type,
            "alpha": self.alpha,
            "correction": self.correction,
            "family_size": self.family_size,
            "adjusted_p_value": self.adjusted_p_value,
            "adjusted_alpha": self.adjusted_alpha,
            "adjusted_effect_ci_lower": adj_lo,
            "adjusted_effect_ci_upper": adj_hi,
            "adjusted_relative_ci_lower": adj_rel_lo,
            "adjusted_relative_ci_upper": adj_rel_hi,
            "variance_reduction": r.variance_reduction,
            "unit_variance_reduction": r.unit_variance_reduction,
            "cuped_theta": r.cuped_theta,
            "notes": list(r.notes),
            "significant": self.significant,
            "outcome": self.outcome,
        } | self._extra_fields()

    def _extra_fields(self) -> dict[str, Any]:
        """Result fields `to_dict` does not name, e.g. a `ProportionResult`'s odds ratio.

        Every number a test computed reaches the JSON, those of subclasses included (infinite
        and NaN values as None).
        """
        named = {
            "relative_ci_gap",
            "control_estimate",
            "treatment_estimate",
            "control_variance",
            "treatment_variance",
        }
        extra: dict[str, Any] = {}
        for item in dataclasses.fields(self.result):
            value = getattr(self.result, item.name)
            if item.name in named or not isinstance(value, float | int | str | bool | None):
                continue
            if isinstance(value, float) and not math.isfinite(value):
                value = None
            extra[item.name] = value
        return extra

    def display_row(self) -> list[str]:
        """The comparison as the table cells every face shows (CLI, report, markdown).

        Rates (kinds declared ``rate=True``) show their effect in percentage points.
        """
        r = self.result
        percent = kind_named(self.kind).rate

        def value(v: float, n: int) -> str:
            shown = (
                render.format_percent(v, 4, signed=False) if percent else render.format_number(v)
            )
            return f"{shown} (n={n:,})"

        effect_ci = self.adjusted_effect_ci or r.effect_ci
        if percent:
            effect = render.format_points(r.effect)
            lo, hi = (render.format_points(b) for b in effect_ci)
            effect_interval = f"[{lo}, {hi}]"
        else:
            effect = render.format_number(r.effect, signed=True)
            effect_interval = render.format_interval(*effect_ci)
        p_text = render.format_pvalue(self.p_value)
        marks = {"better": "  better", "worse": "  WORSE", "inconclusive": ""}
        return [
            self.metric,
            self.treatment,
            value(r.control_estimate, self.control_count),
            value(r.treatment_estimate, self.treatment_count),
            f"{effect} {effect_interval}",
            (
                f"{render.format_percent(r.relative_effect)} {self.relative_interval_text}"
                if not all(map(math.isnan, (r.relative_effect, *r.relative_ci)))
                else "—"  # no lift defined (a rank test's shift, a zero control)
            ),
            p_text + marks[self.outcome],
        ]


@dataclass(frozen=True)
class AnalysisResult:
    """Every comparison of an experiment, with its sample-ratio check.

    Attributes:
        control: Control arm label.
        arms: All arm labels, control first.
        counts: Units per arm, in the order of ``arms``.
        comparisons: One entry per (metric, treatment arm).
        srm: Sample-ratio mismatch check of the arm counts.
        alpha: Significance level.
        correction: Multiple-testing method, or None.
        family: Which comparisons form a correction family.
        segments: Segment label (e.g. ``"platform=ios"``) to that segment's analysis, when the
            analysis was broken down by segment columns.
        data_report: Counts from the data checks, when the moments were computed from a table.
    """

    control: str
    arms: tuple[str, ...]
    counts: tuple[int, ...]
    comparisons: tuple[Comparison, ...]
    srm: SRMResult
    alpha: float
    correction: CorrectionMethod | None = None
    family: Family = "metric"
    segments: Mapping[str, AnalysisResult] = field(default_factory=dict)
    data_report: DataReport | None = None

    def comparison(self, metric: str, treatment: str | None = None) -> Comparison:
        """The comparison of ``metric`` for ``treatment`` (the only treatment if omitted)."""
        matches = [
            c
            for c in self.comparisons
            if c.metric == metric and (treatment is None or c.treatment == treatment)
        ]
        if len(matches) != 1:
            from ablens.errors import InputError  # noqa: PLC0415 - error path only

            known = sorted({(c.metric, c.treatment) for c in self.comparisons})
            raise InputError(
                f"metric == {metric!r}, treatment == {treatment!r} matches {len(matches)} "
                f"comparisons, must match exactly one of {known}"
            )
        return matches[0]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready document with a ``schema_version``."""
        return {
            "schema_version": SCHEMA_VERSION,
            "control": self.control,
            "arms": list(self.arms),
            "counts": dict(zip(self.arms, self.counts, strict=True)),
            "alpha": self.alpha,
            "correction": self.correction,
            "family": self.family,
            "srm": self.srm.to_dict(),
            "comparisons": self.to_records(),
            "segments": {label: r.to_dict() for label, r in self.segments.items()},
            "data_report": None if self.data_report is None else self.data_report.to_dict(),
        }

    def to_records(self) -> list[dict[str, Any]]:
        """One flat dictionary per comparison (the rows of `to_pandas`), all with the same keys.

        A key only some results carry (a proportion's odds ratio) is None in the other rows.
        """
        rows = [c.to_dict() for c in self.comparisons]
        keys = list(dict.fromkeys(key for row in rows for key in row))
        return [{key: row.get(key) for key in keys} for row in rows]

    def to_pandas(self) -> Any:  # noqa: ANN401 - pandas is optional; no hard type dependency
        """A pandas DataFrame, one row per comparison (needs ``ablens[pandas]``)."""
        pandas = optional_import("pandas", "pandas")
        return pandas.DataFrame.from_records(self.to_records())

    def to_polars(self) -> Any:  # noqa: ANN401 - polars is optional; no hard type dependency
        """A polars DataFrame, one row per comparison (needs ``ablens[polars]``)."""
        polars = optional_import("polars", "polars")
        return polars.DataFrame(self.to_records(), infer_schema_length=None)

    def display_headers(self) -> list[str]:
        """The headers of `Comparison.display_row`'s cells (the interval's level included)."""
        level = f"{round(100 * (1 - self.alpha), 4):g}%"
        if self.correction and any(c.adjusted_effect_ci for c in self.comparisons):
            level += f" {self.correction}-adjusted"
        p_header = f"p ({self.correction})" if self.correction else "p-value"
        control = "control" if self.control == "control" else f"{self.control} (control)"
        return [
            "metric",
            "arm",
            control,
            "arm value",
            f"effect [{level} CI]",
            f"lift [{level} CI]",
            p_header,
        ]

    def summary_lines(self) -> list[str]:
        """The lines under the table: units per arm, the SRM check, every note, the correction.

        The notes are those of every comparison, the segments' included (a small-sample
        warning, an imbalanced covariate, ties at a quantile), so that every rendering built
        on these lines (text, markdown, HTML, the report, the CLI) shows them.
        """
        split = ", ".join(f"{a} {n:,}" for a, n in zip(self.arms, self.counts, strict=True))
        lines = [f"Units: {split}.", str(self.srm) + "."]
        if self.data_report is not None:
            lines.extend(f"Data: {warning}." for warning in self.data_report.warnings)
        for c in self.comparisons:
            reduction = c.result.variance_reduction
            if reduction is not None and math.isfinite(reduction):
                verb = "cut" if reduction >= 0 else "raised"
                line = (
                    f"{c.metric} ({c.treatment}): covariate adjustment {verb} the variance of "
                    f"the effect by {render.format_share(abs(reduction))}"
                )
                per_unit = c.result.unit_variance_reduction
                if per_unit is not None and math.isfinite(per_unit):
                    unit_verb = "cut" if per_unit >= 0 else "raised"
                    line += (
                        f" (and {unit_verb} that of the per-unit values by "
                        f"{render.format_share(abs(per_unit))})"
                    )
                lines.append(line + ".")
            lines.extend(f"{c.metric} ({c.treatment}): {note}." for note in c.result.notes)
        # A segment's notes (a small-sample warning, most often) belong with its numbers too.
        for label, segment in self.segments.items():
            lines.extend(
                f"Segment {label}, {c.metric} ({c.treatment}): {note}."
                for c in segment.comparisons
                for note in c.result.notes
            )
        if self.correction:
            adjusted = any(c.adjusted_effect_ci for c in self.comparisons)
            intervals = (
                "intervals adjusted to match"
                if adjusted
                else f"intervals unadjusted ({self.correction} defines none), so an interval "
                "may exclude 0 while the adjusted p-value is above alpha"
            )
            lines.append(
                f"p-values adjusted by {self.correction} over each {self.family} family; "
                f"{intervals}."
            )
        return lines

    def segment_table(self) -> tuple[list[str], list[list[str]]]:
        """Headers and rows of the per-segment table (empty rows without segments)."""
        headers = [
            "segment",
            "metric",
            "arm",
            "units (control / arm)",
            "split p",
            "lift [CI]",
            "p-value",
        ]
        rows = []
        for label, result in self.segments.items():
            split = result.split_text()
            for c in result.comparisons:
                lift = (
                    f"{render.format_percent(c.result.relative_effect)} {c.relative_interval_text}"
                )
                rows.append(
                    [
                        label,
                        c.metric,
                        c.treatment,
                        f"{c.control_count:,} / {c.treatment_count:,}",
                        split,
                        lift,
                        render.format_pvalue(c.p_value),
                    ]
                )
        return headers, rows

    def split_text(self) -> str:
        """The sample-ratio check's p-value as shown per segment, marked when a mismatch.

        Examples:
            >>> import ablens
            >>> def arm(n):
            ...     return ablens.Moments.from_summary(n, mean={"x": 1.0}, variance={"x": 1.0})
            >>> data = {"a": arm(1_000), "b": arm(1_300)}
            >>> ablens.analyze(data, [ablens.Mean("x")], control="a").split_text()
            '3.964e-10 (mismatch)'
        """
        text = render.format_pvalue(self.srm.p_value)
        return f"{text} (mismatch)" if self.srm.mismatch else text

    _SEGMENT_NOTE = (
        "By segment (each segment on its own; not corrected for the number of segments; "
        "split p: the segment's sample-ratio check, at srm_alpha over the number of segments):"
    )

    def __str__(self) -> str:
        return self.to_text()

    def to_text(self, width: int | None = None) -> str:
        """The table, the summary lines and the segments as plain text (what ``str`` gives).

        Args:
            width: The terminal's width, or None (no limit: one line per row, however wide).
                A table wider than this becomes one block per comparison, and long lines wrap.

        Examples:
            >>> import ablens
            >>> data = {
            ...     "control": ablens.Moments.from_summary(
            ...         10_000, mean={"spend": 10.0}, variance={"spend": 25.0}
            ...     ),
            ...     "treatment": ablens.Moments.from_summary(
            ...         10_000, mean={"spend": 10.3}, variance={"spend": 25.0}
            ...     ),
            ... }
            >>> result = ablens.analyze(data, [ablens.Mean("spend")], control="control")
            >>> for line in result.to_text(width=60).splitlines()[:7]:
            ...     print(line)
            spend
              arm              treatment
              control          10 (n=10,000)
              arm value        10.3 (n=10,000)
              effect [95% CI]  +0.3 [+0.1614, +0.4386]
              lift [95% CI]    +3% [+1.6%, +4.42%]
              p-value          2.219e-05  better
        """
        rows = [c.display_row() for c in self.comparisons]
        table = render.table_text(self.display_headers(), rows, width=width)
        summary = render.wrap_lines("\n".join(self.summary_lines()), width)
        parts = [table, "", summary]
        if self.segments:
            segments = render.table_text(*self.segment_table(), width=width)
            parts += ["", render.wrap_lines(self._SEGMENT_NOTE, width), segments]
        return "\n".join(parts)

    def to_markdown(self) -> str:
        """A markdown table and summary lines."""
        rows = [c.display_row() for c in self.comparisons]
        summary = "\n".join(f"- {line}" for line in self.summary_lines())
        text = render.table_markdown(self.display_headers(), rows) + "\n\n" + summary + "\n"
        if self.segments:
            text += f"\n{self._SEGMENT_NOTE}\n\n{render.table_markdown(*self.segment_table())}\n"
        return text

    def to_html(self) -> str:
        """An HTML fragment: the table (rows classed better/worse/inconclusive) and a summary."""
        import html  # noqa: PLC0415 - stdlib, only needed here

        rows = [c.display_row() for c in self.comparisons]
        classes = [c.outcome for c in self.comparisons]
        summary = "".join(f"<li>{html.escape(line)}</li>" for line in self.summary_lines())
        segments = ""
        if self.segments:
            headers, segment_rows = self.segment_table()
            segments = render.table_html(headers, segment_rows, caption=self._SEGMENT_NOTE)
        return (
            '<div class="ablens-result">'
            + render.table_html(self.display_headers(), rows, row_classes=classes)
            + f"<ul>{summary}</ul>{segments}</div>"
        )

    def _repr_html_(self) -> str:
        return self.to_html()


def data_fingerprint(result: AnalysisResult) -> dict[str, Any]:
    """What identifies the data behind a result: row and arm counts and a hash of the summaries.

    The hash is the SHA-256 of every comparison's counts, estimates and standard error (and the
    same per segment), so the same data analyzed with the same plan give the same fingerprint,
    and any change to the rows that moves a summary changes it. It is not a hash of the rows.

    Examples:
        >>> import ablens
        >>> from ablens.results import data_fingerprint
        >>> data = {
        ...     "a": ablens.Moments.from_summary(100, mean={"x": 1.0}, variance={"x": 1.0}),
        ...     "b": ablens.Moments.from_summary(120, mean={"x": 1.2}, variance={"x": 1.0}),
        ... }
        >>> fingerprint = data_fingerprint(ablens.analyze(data, [ablens.Mean("x")], control="a"))
        >>> fingerprint["rows"], fingerprint["counts"], len(fingerprint["sha256"])
        (None, {'a': 100, 'b': 120}, 64)
    """

    def summary(r: AnalysisResult) -> dict[str, Any]:
        return {
            "counts": dict(zip(r.arms, r.counts, strict=True)),
            "comparisons": [
                [
                    c.metric,
                    c.treatment,
                    c.control_count,
                    c.treatment_count,
                    c.result.control_estimate,
                    c.result.treatment_estimate,
                    c.result.standard_error,
                ]
                for c in r.comparisons
            ],
        }

    document = summary(result)
    document["segments"] = {label: summary(r) for label, r in result.segments.items()}
    import hashlib  # noqa: PLC0415 - on use: OpenSSL's bindings are slow to load
    import json  # noqa: PLC0415

    text = json.dumps(document, sort_keys=True, default=str)
    rows = None if result.data_report is None else result.data_report.rows
    return {
        "rows": rows,
        "counts": dict(zip(result.arms, result.counts, strict=True)),
        "sha256": hashlib.sha256(text.encode()).hexdigest(),
    }
