"""Metrics: what to compare between arms, and the extension point for new ones.

A metric is any object that follows the `Metric` protocol: it names the columns (and column
pairs) whose moments it needs, and turns the control's and a treatment's `Moments` into a
`TestResult`. The built-in `Mean` and `Proportion` are ordinary implementations; a new metric
family (a ratio, a covariate-adjusted mean, ...) is a new class in its own module, with no
change to the core:

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
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, Protocol, runtime_checkable

from ablens._validation import check_choice, check_name
from ablens.errors import DataError
from ablens.stats.means import MEAN_TESTS, MeanTest, mean_test
from ablens.stats.proportions import PROPORTION_TESTS, ProportionTest, proportion_test
from ablens.stats.relative import RELATIVE_METHODS, RelativeMethod

if TYPE_CHECKING:
    from ablens.stats.moments import Moments
    from ablens.stats.result import MarginType, TestResult

__all__ = ["Direction", "Mean", "Metric", "Proportion", "Role"]

Role = Literal["primary", "secondary", "guardrail"]
Direction = Literal["increase", "decrease"]
ROLES: tuple[Role, ...] = ("primary", "secondary", "guardrail")
DIRECTIONS: tuple[Direction, ...] = ("increase", "decrease")


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


def _check_common(name: str, role: str, direction: str) -> None:
    check_name("name", name)
    check_choice("role", role, ROLES)
    check_choice("direction", direction, DIRECTIONS)


@dataclass(frozen=True)
class Mean:
    """The mean of a per-unit column (revenue per user, sessions per user).

    Args:
        column: The column holding one value per unit.
        name: Label in results; defaults to the column.
        test: "welch" (default), "student" or "z".
        alternative: "two-sided", "greater" or "less".
        margin: Null value of the effect (non-inferiority / superiority).
        margin_type: "absolute" or "relative".
        relative_method: "delta-log" (default) or "fieller".
        role: "primary", "secondary" or "guardrail".
        direction: "increase" or "decrease": which way is good.

    Examples:
        >>> from ablens import Moments
        >>> control = Moments.from_columns({"revenue": [1.0, 2.0, 3.0, 4.0]})
        >>> treatment = Moments.from_columns({"revenue": [2.0, 3.0, 4.0, 6.0]})
        >>> r = Mean("revenue").compare(control, treatment, confidence_level=0.95)
        >>> r.effect, round(r.relative_effect, 4)
        (1.25, 0.5)
    """

    column: str
    name: str = ""
    test: MeanTest = "welch"
    alternative: Literal["two-sided", "greater", "less"] = "two-sided"
    margin: float = 0.0
    margin_type: MarginType = "absolute"
    relative_method: RelativeMethod = "delta-log"
    role: Role = "primary"
    direction: Direction = "increase"

    def __post_init__(self) -> None:
        check_name("column", self.column)
        if not self.name:
            object.__setattr__(self, "name", self.column)
        _check_common(self.name, self.role, self.direction)
        check_choice("test", self.test, MEAN_TESTS)
        check_choice("relative_method", self.relative_method, RELATIVE_METHODS)

    def required_columns(self) -> tuple[str, ...]:
        """The metric's column."""
        return (self.column,)

    def required_pairs(self) -> tuple[tuple[str, str], ...]:
        """No cross-moments needed."""
        return ()

    def compare(
        self, control: Moments, treatment: Moments, *, confidence_level: float
    ) -> TestResult:
        """Welch (or Student, or z) comparison of the column's means."""
        return mean_test(
            control.count,
            control.mean_of(self.column),
            control.variance(self.column),
            treatment.count,
            treatment.mean_of(self.column),
            treatment.variance(self.column),
            test=self.test,
            alternative=self.alternative,
            confidence_level=confidence_level,
            margin=self.margin,
            margin_type=self.margin_type,
            relative_method=self.relative_method,
        )


def binary_successes(moments: Moments, column: str) -> int:
    """Number of ones in a 0/1 column, checked from its moments.

    A column of zeros and ones has ``sum(x^2) == sum(x)``, i.e. ``C + n m^2 == n m`` with ``C``
    its centred sum of squares; anything else is not a conversion flag.
    """
    n = moments.count
    mean = moments.mean_of(column)
    successes = n * mean
    sum_of_squares = moments.comoment_of(column, column) + n * mean * mean
    tolerance = 1e-6 * max(1.0, successes)
    rounded = round(successes)
    if (
        mean < -1e-12
        or mean > 1 + 1e-12
        or abs(successes - rounded) > tolerance
        or not math.isclose(sum_of_squares, successes, rel_tol=1e-6, abs_tol=1e-6)
    ):
        raise DataError(
            f"column {column!r} is not a 0/1 flag (mean {mean:.6g}, mean of squares "
            f"{sum_of_squares / max(n, 1):.6g}); use Mean({column!r}) for a numeric metric"
        )
    return int(rounded)


@dataclass(frozen=True)
class Proportion:
    """The share of units with a 0/1 outcome (conversion, retention).

    Args:
        column: A column of 0/1 (or boolean) values, one per unit.
        name: Label in results; defaults to the column.
        test: "z" (default), "chi2", "chi2-yates" or "fisher".
        alternative: "two-sided", "greater" or "less".
        margin: Null value of the effect; only the "z" test takes one.
        margin_type: "absolute" or "relative".
        relative_method: "delta-log" (default) or "fieller".
        role: "primary", "secondary" or "guardrail".
        direction: "increase" or "decrease": which way is good.

    Examples:
        >>> from ablens import Moments
        >>> control = Moments.from_columns({"converted": [0, 1, 0, 0, 1, 0, 0, 0]})
        >>> treatment = Moments.from_columns({"converted": [1, 1, 0, 0, 1, 0, 1, 0]})
        >>> Proportion("converted").compare(control, treatment, confidence_level=0.95).effect
        0.25
    """

    column: str
    name: str = ""
    test: ProportionTest = "z"
    alternative: Literal["two-sided", "greater", "less"] = "two-sided"
    margin: float = 0.0
    margin_type: MarginType = "absolute"
    relative_method: RelativeMethod = "delta-log"
    role: Role = "primary"
    direction: Direction = "increase"

    def __post_init__(self) -> None:
        check_name("column", self.column)
        if not self.name:
            object.__setattr__(self, "name", self.column)
        _check_common(self.name, self.role, self.direction)
        check_choice("test", self.test, PROPORTION_TESTS)
        check_choice("relative_method", self.relative_method, RELATIVE_METHODS)

    def required_columns(self) -> tuple[str, ...]:
        """The metric's column."""
        return (self.column,)

    def required_pairs(self) -> tuple[tuple[str, str], ...]:
        """No cross-moments needed."""
        return ()

    def compare(
        self, control: Moments, treatment: Moments, *, confidence_level: float
    ) -> TestResult:
        """Two-proportion comparison from the column's success counts."""
        return proportion_test(
            binary_successes(control, self.column),
            control.count,
            binary_successes(treatment, self.column),
            treatment.count,
            test=self.test,
            alternative=self.alternative,
            confidence_level=confidence_level,
            margin=self.margin,
            margin_type=self.margin_type,
            relative_method=self.relative_method,
        )
