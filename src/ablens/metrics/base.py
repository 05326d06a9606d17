"""What a metric is: the protocols it follows and the kind it declares.

A metric is any object that follows the `Metric` protocol: it names the columns (and column
pairs) whose moments it needs, and turns the control's and a treatment's `Moments` into a
`TestResult`. Metrics that need more than the two arms' moments follow one of two declared
protocols instead: `StratifiedMetric` (per-stratum moments, computed in the same engine) and
`TableMetric` (the table itself: quantiles, ranks).

A metric *class* declares its kind once, as a `MetricKind` in its ``metric_kind`` class
attribute: its spelling in an analysis plan, its title, its plan keys and what it can do (be
read at every look, have a posterior, be planned). The plan parser, its JSON Schema, the
readout, the report, the planner and the web page derive their tables from these declarations,
so a new kind written outside ablens works everywhere once registered
(`register_metric_kind`, or the ``ablens.metric_kinds`` entry-point group):

>>> from ablens.metrics import Mean, metric_kinds
>>> Mean.metric_kind.name, Mean.metric_kind.title, Mean.metric_kind.needs
('mean', 'Mean', 'moments')
>>> sorted(metric_kinds())  # doctest: +NORMALIZE_WHITESPACE
['mann-whitney', 'mean', 'post-stratified', 'post-stratified-ratio', 'proportion', 'quantile',
 'ratio']
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypeVar, runtime_checkable

from ablens._validation import check_choice, check_name
from ablens.errors import InputError
from ablens.typing import DIRECTIONS, ROLES

if TYPE_CHECKING:
    from collections.abc import Mapping

    from ablens.stats.moments import Moments
    from ablens.stats.result import TestResult
    from ablens.typing import MetricNeeds, Role

__all__ = [
    "ENTRY_POINT_GROUP",
    "Metric",
    "MetricKind",
    "PlanKey",
    "PlannableMetric",
    "PlanningBaseline",
    "StratifiedMetric",
    "TableContext",
    "TableMetric",
    "kind_named",
    "kind_of",
    "metric_kinds",
    "register_metric_kind",
    "unregister_metric_kind",
]

#: The entry-point group through which installed packages register metric kinds.
ENTRY_POINT_GROUP = "ablens.metric_kinds"


# ------------------------------------------------------------------------------- protocols
@runtime_checkable
class Metric(Protocol):
    """What every metric provides: its moment needs and its comparison.

    Attributes:
        name: Label shown in results.
        role: "primary" (decides the verdict), "secondary" or "guardrail" (must not worsen).
        direction: Whether an "increase" or a "decrease" is good.
    """

    @property
    def name(self) -> str:
        """Label shown in results."""
        ...

    @property
    def role(self) -> str:
        """One of "primary", "secondary" or "guardrail"."""
        ...

    @property
    def direction(self) -> str:
        """Which way is good: "increase" or "decrease"."""
        ...

    def required_columns(self) -> tuple[str, ...]:
        """Columns whose count, mean and variance the metric needs."""
        ...

    def required_pairs(self) -> tuple[tuple[str, str], ...]:
        """Column pairs whose cross-moment the metric needs (ratios, covariates)."""
        ...

    def compare(
        self, control: Moments, treatment: Moments, *, confidence_level: float
    ) -> TestResult:
        """Compare a treatment arm's moments with the control arm's."""
        ...


@runtime_checkable
class StratifiedMetric(Metric, Protocol):
    """A metric compared from per-stratum moments (``needs="strata"``).

    `ablens.analyze` computes every arm's moments of `Metric.required_columns` per value of
    ``stratum`` in the same engine, and calls `compare_strata` with them.
    """

    @property
    def stratum(self) -> str:
        """The categorical column whose values are the strata."""
        ...

    def compare_strata(
        self,
        control: Mapping[Any, Moments],
        treatment: Mapping[Any, Moments],
        *,
        confidence_level: float,
    ) -> TestResult:
        """Compare from stratum value -> moments of each arm."""
        ...


@dataclass(frozen=True)
class TableContext:
    """Where a table metric (`TableMetric`) reads its data for one comparison.

    Attributes:
        data: The table, as `ablens.analyze` was given it.
        variant: The column holding each unit's arm.
        control: Control arm label.
        treatment: Treatment arm label.
        experiment_id: Tag for every query sent (cost attribution), or None.
        team: Team tag, or None.
    """

    data: object
    variant: str
    control: str
    treatment: str
    experiment_id: str | None = None
    team: str | None = None


@runtime_checkable
class TableMetric(Metric, Protocol):
    """A metric compared from the table itself (``needs="table"``): quantiles, ranks.

    Its ``column`` still feeds the moments query, so that every arm is counted for the
    sample-ratio check even when no moment metric is given.
    """

    @property
    def column(self) -> str:
        """The per-unit column the metric reads."""
        ...

    def compare_table(self, context: TableContext, *, confidence_level: float) -> TestResult:
        """Compare one treatment with control, running the metric's own engine queries."""
        ...


@dataclass(frozen=True)
class PlanningBaseline:
    """A metric's linearization for power planning, from past moments of its columns.

    The power formulas see the metric as the mean of a per-unit outcome ``sum_j w_j x_j``.

    Attributes:
        power_kind: "proportion" (variance from the rate) or "mean".
        value: The metric's baseline value (rate, mean or ratio).
        sd: The per-unit standard deviation of the linearized outcome.
        weights: Column -> weight ``w_j`` of the linearized outcome (for covariate adjustment).
        notes: Remarks for the plan (e.g. the power is that of a simpler test).
    """

    power_kind: Literal["mean", "proportion"]
    value: float
    sd: float
    weights: Mapping[str, float]
    notes: tuple[str, ...] = ()


@runtime_checkable
class PlannableMetric(Metric, Protocol):
    """A metric the planner (`ablens.power_plan`) can size (``plannable=True``)."""

    @property
    def alternative(self) -> str:
        """The alternative: "two-sided", "greater" or "less"."""
        ...

    @property
    def margin(self) -> float:
        """Null value of the effect."""
        ...

    @property
    def margin_type(self) -> str:
        """Whether the margin is "absolute" or "relative"."""
        ...

    @property
    def covariates(self) -> tuple[str, ...]:
        """Pre-period columns whose variance reduction the plan counts."""
        ...

    def planning_baseline(self, moments: Moments) -> PlanningBaseline:
        """The metric's baseline and per-unit sd from past moments of its columns."""
        ...


# ------------------------------------------------------------------------------- declarations
PlanKeyType = Literal["column", "columns", "choice", "probability", "boolean", "boolean-or-choice"]
#: The plan-key types, in `PlanKeyType`'s order.
_PLAN_KEY_TYPES: tuple[PlanKeyType, ...] = (
    "column",
    "columns",
    "choice",
    "probability",
    "boolean",
    "boolean-or-choice",
)


@dataclass(frozen=True)
class PlanKey:
    """One key a metric kind takes in an analysis plan, beside kind, name, role and direction.

    Whether it is required follows from the metric class: a constructor argument without a
    default is required.

    Attributes:
        name: The key, equal to the metric class's constructor argument.
        type: "column" (a column name), "columns" (one name or a list), "choice" (one of
            ``choices``), "probability" (a number in (0, 1)), "boolean" (YAML ``true`` or
            ``false``) or "boolean-or-choice" (``true``, ``false`` or one of ``choices``, e.g.
            ``exact: auto``).
        choices: The allowed words of a "choice" or "boolean-or-choice" key.
        description: One line for the JSON Schema and the docs.

    Examples:
        >>> PlanKey("exact", "boolean-or-choice", ("auto",)).type
        'boolean-or-choice'
        >>> PlanKey("exact", "boolean-or-choice")
        Traceback (most recent call last):
        ...
        ablens.errors.InputError: plan key 'exact' of type 'boolean-or-choice' has no choices; ...
    """

    name: str
    type: PlanKeyType = "column"
    choices: tuple[str, ...] = ()
    description: str = ""

    def __post_init__(self) -> None:
        check_choice("type", self.type, _PLAN_KEY_TYPES)
        takes_choices = self.type in ("choice", "boolean-or-choice")
        if takes_choices and not self.choices:
            extra = " beside true and false" if self.type == "boolean-or-choice" else ""
            example = '("auto",)' if self.type == "boolean-or-choice" else '("a", "b")'
            raise InputError(
                f"plan key {self.name!r} of type {self.type!r} has no choices; give the words "
                f"it allows{extra}, e.g. choices={example}"
            )
        if not takes_choices and self.choices:
            raise InputError(
                f"plan key {self.name!r} of type {self.type!r} takes no choices; use type "
                "'choice' or 'boolean-or-choice', or drop choices"
            )


@dataclass(frozen=True)
class MetricKind:
    """What a metric class declares about itself, once, for every table of kinds.

    Attributes:
        name: The kind's spelling in an analysis plan (``kind: mann-whitney``) and in results
            (`ablens.Comparison.kind`).
        title: The kind for people ("Mann-Whitney").
        plan_keys: The plan keys beside kind, name, role and direction.
        needs: "moments" (the two arms' moments), "strata" (per-stratum moments, a
            `StratifiedMetric`) or "table" (the table itself, a `TableMetric`).
        looks: True when the metric can be compared at each look from cumulative moments
            (sequential readings).
        no_looks: Why not, when ``looks`` is False.
        posterior: The Bayesian model of its comparisons: "beta-binomial" (rates, from success
            counts), "normal" (a difference with a standard error), or None.
        no_posterior: Why there is none, when ``posterior`` is None.
        plannable: True when the class is a `PlannableMetric` the planner can size.
        rate: True when values are rates, shown in percentage points.
        totals: True when the effect is a change in a per-unit average (a mean, a rate), so
            the effect times a number of units is the change in their total: the projected
            impact `ablens.decision_context` states ("about 1,850 more a month"). False for
            ratios (per denominator), quantiles and rank tests.
        test_titles: Test name (`ablens.TestResult.test`) -> the test in words, for reports.
    """

    name: str
    title: str
    plan_keys: tuple[PlanKey, ...] = ()
    needs: MetricNeeds = "moments"
    looks: bool = True
    no_looks: str = ""
    posterior: Literal["beta-binomial", "normal"] | None = "normal"
    no_posterior: str = ""
    plannable: bool = False
    rate: bool = False
    totals: bool = False
    test_titles: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_name("name", self.name)
        if not self.looks and not self.no_looks:
            raise InputError(f"metric kind {self.name!r} has looks=False, so no_looks must say why")
        if self.posterior is None and not self.no_posterior:
            raise InputError(
                f"metric kind {self.name!r} has no posterior, so no_posterior must say why"
            )


_M = TypeVar("_M", bound=type)

#: Kind name -> metric class. Built-in kinds register when `ablens.metrics` is imported.
_REGISTRY: dict[str, type] = {}
_entry_points_loaded = False


def register_metric_kind(cls: _M) -> _M:
    """Register a metric class by its declared ``metric_kind``; usable as a class decorator.

    Registered kinds are accepted in analysis plans (``kind: <name>``), get a JSON Schema
    entry, and their declarations drive the readout, the report and the planner. Installed
    packages can register without code: an entry point in the ``ablens.metric_kinds`` group
    naming the class is loaded the first time kinds are listed.

    Args:
        cls: A metric class with a ``metric_kind`` class attribute (a `MetricKind`).

    Returns:
        The class, unchanged.

    Raises:
        InputError: No ``metric_kind`` declaration, a plan key that is not a constructor
            argument, or a name already registered by another class.
    """
    kind = getattr(cls, "metric_kind", None)
    if not isinstance(kind, MetricKind):
        raise InputError(
            f"{cls.__name__} has no metric_kind declaration; add a class attribute "
            "metric_kind: ClassVar[MetricKind] = MetricKind(name=..., title=..., ...)"
        )
    parameters = inspect.signature(cls).parameters
    for key in (*kind.plan_keys, *_COMMON_KEYS):
        if key.name not in parameters:
            raise InputError(
                f"{cls.__name__}'s plan key {key.name!r} is not an argument of its constructor"
            )
    other = _REGISTRY.get(kind.name)
    if other is not None and other is not cls:
        raise InputError(
            f"metric kind {kind.name!r} is already registered by {other.__module__}."
            f"{other.__qualname__}; choose another name"
        )
    _REGISTRY[kind.name] = cls
    return cls


def unregister_metric_kind(name: str) -> None:
    """Forget a registered kind (for tests and notebooks that re-define a class)."""
    _REGISTRY.pop(name, None)


def metric_kinds() -> Mapping[str, type]:
    """Kind name -> metric class of every registered kind, built-in kinds first.

    The first call also loads the ``ablens.metric_kinds`` entry points of installed packages.
    """
    global _entry_points_loaded  # noqa: PLW0603 - loaded once per process
    if not _entry_points_loaded:
        _entry_points_loaded = True
        from importlib.metadata import entry_points  # noqa: PLC0415 - only when kinds are listed

        for entry in entry_points(group=ENTRY_POINT_GROUP):
            register_metric_kind(entry.load())
    return dict(_REGISTRY)


def _default_kind(metric: object) -> MetricKind:
    """The declaration assumed for a metric class that declares none (a plain `Metric`)."""
    return MetricKind(name=type(metric).__name__.lower(), title=type(metric).__name__)


def kind_of(metric: object) -> MetricKind:
    """The metric's declared kind (a plain `Metric` without one: moments, no planning)."""
    kind = getattr(type(metric), "metric_kind", None)
    return kind if isinstance(kind, MetricKind) else _default_kind(metric)


def kind_named(name: str) -> MetricKind:
    """The registered kind called ``name`` (as `ablens.Comparison.kind` gives it).

    A name no class registered (a plain `Metric` without a declaration) gets the defaults
    such a metric has: moments, looks, a normal posterior, no planning.
    """
    cls = metric_kinds().get(name)
    if cls is None:
        return MetricKind(name=name, title=name)
    kind: MetricKind = cls.metric_kind  # type: ignore[attr-defined]
    return kind


def default_role(cls: type) -> Role:
    """The role a kind's class gives when none is named (its ``role`` argument's default)."""
    default = inspect.signature(cls).parameters["role"].default
    return default if default in ROLES else "primary"


def required_keys(cls: type) -> tuple[str, ...]:
    """The plan keys of a kind without a default in its class's constructor."""
    parameters = inspect.signature(cls).parameters
    kind: MetricKind = cls.metric_kind  # type: ignore[attr-defined]
    return tuple(
        key.name
        for key in kind.plan_keys
        if parameters[key.name].default is inspect.Parameter.empty
    )


#: The keys every kind takes in a plan (besides ``kind``), with their vocabularies.
_COMMON_KEYS = (
    PlanKey("name", "column", description="Label in results."),
    PlanKey("role", "choice", ROLES),
    PlanKey("direction", "choice", DIRECTIONS, "Which way is good."),
)


def check_common(name: str, role: str, direction: str) -> None:
    """The checks every built-in metric makes of its name, role and direction."""
    check_name("name", name)
    check_choice("role", role, ROLES)
    check_choice("direction", direction, DIRECTIONS)
