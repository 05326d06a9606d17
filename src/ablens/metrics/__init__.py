"""Metrics: what to compare between arms, and the extension point for new ones.

A metric is any object that follows the `Metric` protocol: it names the columns (and column
pairs) whose moments it needs, and turns the control's and a treatment's `Moments` into a
`TestResult`. The built-in metrics are ordinary implementations, one module per family:

- `ablens.metrics.moment`: `Mean`, `Proportion` and `Ratio`, from the arms' moments;
- `ablens.metrics.stratified`: `PostStratified` and `PostStratifiedRatio`, from per-stratum moments;
- `ablens.metrics.table`: `Quantile` and `MannWhitney`, from the table in the engine.

A new metric is a class of its own, with no change to the core:

>>> from dataclasses import dataclass
>>> from ablens import Moments, TestResult, mean_test
>>> @dataclass(frozen=True)
... class Doubled:
...     '''A toy metric: the mean of twice a column.'''
...
...     column: str
...     name: str = "doubled"
...     role: str = "primary"
...     direction: str = "increase"
...
...     def required_columns(self) -> tuple[str, ...]:
...         return (self.column,)
...
...     def required_pairs(self) -> tuple[tuple[str, str], ...]:
...         return ()
...
...     def compare(self, control, treatment, *, confidence_level):
...         def args(m):
...             return m.count, 2 * m.mean_of(self.column), 4 * m.variance(self.column)
...
...         return mean_test(*args(control), *args(treatment), confidence_level=confidence_level)
>>> control = Moments.from_columns({"x": [1.0, 2.0, 3.0, 4.0]})
>>> treatment = Moments.from_columns({"x": [2.0, 3.0, 4.0, 5.0]})
>>> Doubled("x").compare(control, treatment, confidence_level=0.95).effect
2.0

Declaring a `MetricKind` and registering the class (`register_metric_kind`) makes it a kind of
its own in analysis plans, readouts, reports and the planner; docs/extending.md shows one.
"""

from ablens.metrics.base import (
    ENTRY_POINT_GROUP,
    Metric,
    MetricKind,
    PlanKey,
    PlannableMetric,
    PlanningBaseline,
    StratifiedMetric,
    TableContext,
    TableMetric,
    kind_named,
    kind_of,
    metric_kinds,
    register_metric_kind,
    unregister_metric_kind,
)
from ablens.metrics.moment import Mean, Proportion, Ratio, binary_successes
from ablens.metrics.stratified import PostStratified, PostStratifiedRatio
from ablens.metrics.table import MannWhitney, Quantile
from ablens.typing import ADJUSTMENTS, DIRECTIONS, ROLES, Adjustment, Direction, Role

__all__ = [
    "ADJUSTMENTS",
    "DIRECTIONS",
    "ENTRY_POINT_GROUP",
    "ROLES",
    "Adjustment",
    "Direction",
    "MannWhitney",
    "Mean",
    "Metric",
    "MetricKind",
    "PlanKey",
    "PlannableMetric",
    "PlanningBaseline",
    "PostStratified",
    "PostStratifiedRatio",
    "Proportion",
    "Quantile",
    "Ratio",
    "Role",
    "StratifiedMetric",
    "TableContext",
    "TableMetric",
    "binary_successes",
    "kind_named",
    "kind_of",
    "metric_kinds",
    "register_metric_kind",
    "unregister_metric_kind",
]
