"""The analysis plan's model: frozen, typed objects, validated by `ablens.analysis_plan.parser`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ablens.errors import ConfigError
from ablens.metrics.base import kind_named, metric_kinds
from ablens.stats.srm import DEFAULT_SRM_ALPHA, DEFAULT_SRM_METHOD, SRMMethod
from ablens.typing import DEFAULT_SPENDING

if TYPE_CHECKING:
    import datetime as dt
    from collections.abc import Mapping, Sequence
    from pathlib import Path

    from ablens.data.checks import ExposureCheck
    from ablens.data.sources import DataSource
    from ablens.metrics.base import Metric
    from ablens.stats.group_sequential import SpendingName
    from ablens.stats.multiplicity import CorrectionSetting
    from ablens.typing import BayesianPrior, Direction, Family, Role, SequentialMethod

__all__ = ["AnalysisPlan", "MetricSpec", "PlanError", "Planned"]


class PlanError(ConfigError):
    """An analysis plan is invalid; one message per problem, each ``file:line: key ...``.

    Attributes:
        messages: The problems found, in file order.
    """

    __module__ = "ablens.analysis_plan"

    def __init__(self, messages: Sequence[str]) -> None:
        self.messages = tuple(messages)
        super().__init__("\n".join(self.messages))


@dataclass(frozen=True)
class MetricSpec:
    """One metric of a plan, as written; `to_metric` builds the metric object.

    The keys a kind takes beside kind, name, role and direction are declared by its class
    (`ablens.MetricKind.plan_keys`) and held in ``params`` by name.

    Attributes:
        kind: The kind's plan spelling ("mean", "proportion", "ratio", "quantile",
            "mann-whitney", "post-stratified", or a registered kind).
        name: Label in results.
        role: "primary", "secondary" or "guardrail".
        direction: "increase" or "decrease": which way is good.
        params: The kind's own keys (``column``, ``covariates``, ``probability``, ...), with
            the metric class's defaults filled in.
    """

    kind: str
    name: str
    role: Role = "primary"
    direction: Direction = "increase"
    params: Mapping[str, Any] = field(default_factory=dict, hash=False)

    def _param(self, key: str) -> Any:  # noqa: ANN401 - a plan value of any declared type
        return self.params.get(key)

    @property
    def column(self) -> str | None:
        """The per-unit column (every built-in kind but ratio), or None."""
        value = self._param("column")
        return value if isinstance(value, str) else None

    @property
    def numerator(self) -> str | None:
        """Ratio numerator column, or None."""
        value = self._param("numerator")
        return value if isinstance(value, str) else None

    @property
    def denominator(self) -> str | None:
        """Ratio denominator column, or None."""
        value = self._param("denominator")
        return value if isinstance(value, str) else None

    @property
    def stratum(self) -> str | None:
        """Post-stratification column, or None."""
        value = self._param("stratum")
        return value if isinstance(value, str) else None

    @property
    def probability(self) -> float | None:
        """The quantile, or None."""
        value = self._param("probability")
        return float(value) if isinstance(value, int | float) else None

    @property
    def covariates(self) -> tuple[str, ...]:
        """Pre-period columns for variance reduction (empty when none)."""
        value = self._param("covariates")
        return tuple(value) if isinstance(value, tuple | list) else ()

    def columns(self) -> tuple[str, ...]:
        """Every column the metric reads, as its kind declares them (columns, then lists)."""
        kind = kind_named(self.kind)
        single = [
            value
            for key in kind.plan_keys
            if key.type == "column" and isinstance(value := self.params.get(key.name), str)
        ]
        lists = [
            column
            for key in kind.plan_keys
            if key.type == "columns"
            for column in self.params.get(key.name) or ()
        ]
        return (*single, *lists)

    def column_keys(self) -> list[tuple[str, str]]:
        """(plan key, column) of every column the metric reads, for messages."""
        kind = kind_named(self.kind)
        pairs: list[tuple[str, str]] = []
        for key in kind.plan_keys:
            value = self.params.get(key.name)
            if key.type == "column" and isinstance(value, str):
                pairs.append((key.name, value))
            elif key.type == "columns":
                pairs += [(key.name, column) for column in value or ()]
        return pairs

    def to_metric(self) -> Metric:
        """The metric object this entry describes (its registered class, constructed)."""
        cls = metric_kinds().get(self.kind)
        if cls is None:
            raise PlanError([f"metric kind {self.kind!r} is not registered"])
        metric: Metric = cls(
            **self.params, name=self.name, role=self.role, direction=self.direction
        )
        return metric

    def to_dict(self) -> dict[str, Any]:
        """The plan's mapping for this metric (keys that apply to its kind)."""
        out: dict[str, Any] = {
            "kind": self.kind,
            "name": self.name,
            "role": self.role,
            "direction": self.direction,
        }
        for key, value in self.params.items():
            if value is not None:
                out[key] = list(value) if isinstance(value, tuple) else value
        return out


@dataclass(frozen=True)
class Planned:
    """What the experiment was planned to collect, for the "not enough data" gate.

    Attributes:
        sample_size: Units planned over all arms, or None.
        duration_days: Planned duration in days, or None.
        start_date: The day the experiment started, or None.
        power: The power the sample size was planned for (used to state the detectable
            effect when a result is flat).
    """

    sample_size: int | None = None
    duration_days: float | None = None
    start_date: dt.date | None = None
    power: float = 0.8

    def to_dict(self) -> dict[str, Any]:
        """The plan's ``planned`` mapping."""
        return {
            "sample_size": self.sample_size,
            "duration_days": self.duration_days,
            "start_date": None if self.start_date is None else self.start_date.isoformat(),
            "power": self.power,
        }


@dataclass(frozen=True)
class AnalysisPlan:
    """A validated analysis plan.

    Attributes:
        experiment_id: The experiment's id (tags every query for cost attribution).
        source: Where the data live.
        control: Control arm label.
        metrics: The metrics, in the order results list them.
        team: Team tag for cost attribution, or None.
        description: Free text shown in reports, or None.
        variant: Column holding each unit's arm label.
        unit: Unit id column (each unit must be one row in one arm), or None.
        arms: The arm labels expected (others are an error), or None for whatever is found.
        weights: Planned split per arm (any positive scale) for the sample-ratio check, or
            None for an equal split.
        segments: Columns to break the analysis down by.
        alpha: Significance level.
        correction: Multiple-testing method; ``"auto"`` (when the plan names none: Holm's
            method with more than two arms, none with two), or None (``correction: none``).
        family: Which comparisons are corrected together: "metric", "experiment", "primary".
        sequential: Sequential method ("none", "group-sequential", "msprt",
            "confidence-sequence"). With one, `ablens.run_readout` reads the primary metrics
            and guardrails at every look of ``time``, and the verdict may stop early.
        time: Column giving each unit's look (its exposure day or date), required by a
            sequential method; None without one.
        spending: Alpha-spending family of the group-sequential method ("obrien-fleming",
            "pocock", "hsd", "power"), as in `ablens.power_plan`; unused by the other methods.
        bayesian: The prior of the Bayesian reading ("flat"), or None for no Bayesian reading.
        srm_alpha: p-value below which the split is a sample-ratio mismatch.
        srm_method: Method of the sample-ratio check ("chi2", "binomial", "multinomial",
            "auto"), as in `ablens.srm_test`.
        planned: Planned sample size, duration and start date.
        exposure: A column that must agree with the arm (the page or flag actually served),
            and whether disagreeing rows are dropped or stop the analysis; or None.
        path: The file the plan was read from, or None.
        sha256: SHA-256 of the plan file's bytes (of its canonical JSON without a file).
        lines: Key path (``"metrics[2].kind"``) to its line in the file, for error messages.
    """

    experiment_id: str
    source: DataSource
    control: str
    metrics: tuple[MetricSpec, ...]
    team: str | None = None
    description: str | None = None
    variant: str = "variant"
    unit: str | None = None
    arms: tuple[str, ...] | None = None
    weights: Mapping[str, float] | None = None
    segments: tuple[str, ...] = ()
    alpha: float = 0.05
    correction: CorrectionSetting = "auto"
    family: Family = "metric"
    sequential: SequentialMethod = "none"
    spending: SpendingName = DEFAULT_SPENDING
    srm_alpha: float = DEFAULT_SRM_ALPHA
    srm_method: SRMMethod = DEFAULT_SRM_METHOD
    planned: Planned = field(default_factory=Planned)
    time: str | None = None
    bayesian: BayesianPrior | None = None
    exposure: ExposureCheck | None = None
    path: Path | None = field(default=None, compare=False)
    sha256: str = field(default="", compare=False)
    lines: Mapping[str, int] = field(default_factory=dict, compare=False, repr=False)

    @property
    def name(self) -> str:
        """The plan file's path as given, or ``"<plan>"``."""
        return "<plan>" if self.path is None else str(self.path)

    @property
    def folder(self) -> Path | None:
        """The folder relative source paths are relative to (the plan file's), or None."""
        return None if self.path is None else self.path.parent

    def where(self, key: str) -> str:
        """``file:line`` of ``key`` (e.g. ``"metrics[1].column"``), for messages."""
        line = line_of(self.lines, key)
        return self.name if line is None else f"{self.name}:{line}"

    def metric_objects(self) -> list[Metric]:
        """The metrics, ready for `ablens.analyze`."""
        return [spec.to_metric() for spec in self.metrics]

    def to_dict(self) -> dict[str, Any]:
        """The normalized plan as a JSON-ready mapping (defaults filled in)."""
        arms: Any = None
        if self.weights is not None:
            arms = dict(self.weights)
        elif self.arms is not None:
            arms = list(self.arms)
        document = {
            "experiment_id": self.experiment_id,
            "team": self.team,
            "description": self.description,
            "source": self.source.to_dict(),
            "variant": self.variant,
            "unit": self.unit,
            "control": self.control,
            "arms": arms,
            "metrics": [m.to_dict() for m in self.metrics],
            "segments": list(self.segments),
            "alpha": self.alpha,
            "correction": self.correction,
            "family": self.family,
            "sequential": self.sequential,
            "time": self.time,
            "bayesian": None if self.bayesian is None else {"prior": self.bayesian},
            "srm_alpha": self.srm_alpha,
            "planned": self.planned.to_dict(),
        }
        if self.sequential == "group-sequential":  # the only method with a spending family
            document["spending"] = self.spending
        if self.srm_method != DEFAULT_SRM_METHOD:  # plans that keep the default hash as before
            document["srm_method"] = self.srm_method
        if self.exposure is not None:  # plans without one hash as before
            document["exposure"] = self.exposure.to_dict()
        return document


def _parent(key: str) -> str:
    if key.endswith("]"):
        return key[: key.rindex("[")]
    return key.rsplit(".", 1)[0] if "." in key else ""


def line_of(lines: Mapping[str, int], key: str) -> int | None:
    """The line of ``key``, or of its nearest parent that has one (None without any)."""
    while True:
        if key in lines:
            return lines[key]
        if not key:
            return None
        key = _parent(key)
