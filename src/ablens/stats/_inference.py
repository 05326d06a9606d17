"""Shared machinery: reference distributions, p-values and intervals for each alternative."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, cast

from ablens._validation import check_choice, check_open_unit_interval, check_real

if TYPE_CHECKING:
    from types import ModuleType


def special_functions() -> ModuleType:
    """scipy.special, imported on first use: it costs ~0.15 s, and `import ablens` stays light."""
    from scipy import special  # noqa: PLC0415 - deliberate lazy import

    return special


Alternative = Literal["two-sided", "greater", "less"]
ALTERNATIVES: tuple[Alternative, ...] = ("two-sided", "greater", "less")


@dataclass(frozen=True)
class Reference:
    """The null distribution of a standardized statistic: standard normal, or Student t."""

    df: float | None = None  # None for the standard normal

    def sf(self, x: float) -> float:
        """Upper tail probability P(T > x)."""
        if self.df is None:
            return float(special_functions().ndtr(-x))
        return float(special_functions().stdtr(self.df, -x))

    def cdf(self, x: float) -> float:
        """Lower tail probability P(T <= x)."""
        if self.df is None:
            return float(special_functions().ndtr(x))
        return float(special_functions().stdtr(self.df, x))

    def ppf(self, probability: float) -> float:
        """Quantile function."""
        if self.df is None:
            return float(special_functions().ndtri(probability))
        return float(special_functions().stdtrit(self.df, probability))


NORMAL = Reference()

ReferenceDistribution = Literal["normal", "t"]
#: The null distributions a user may pick by name for a large-sample statistic: the standard
#: normal ("normal"), or Student's t with Welch-Satterthwaite degrees of freedom ("t").
REFERENCE_DISTRIBUTIONS: tuple[ReferenceDistribution, ...] = ("normal", "t")


def check_reference(reference: str) -> ReferenceDistribution:
    """Validate a ``reference`` argument ("normal" or "t")."""
    checked = check_choice("reference", reference, REFERENCE_DISTRIBUTIONS)
    return cast("ReferenceDistribution", checked)


def welch_satterthwaite_df(
    var_control: float, control_count: int, var_treatment: float, treatment_count: int
) -> float:
    """Welch-Satterthwaite degrees of freedom of ``(t - c) / sqrt(V_c + V_t)``.

    ``(V_c + V_t)^2 / (V_c^2 / (n_c - 1) + V_t^2 / (n_t - 1))``, with ``V`` the variance of each
    arm's estimator (``s^2 / n`` for a mean) and ``n`` its units (Welch, 1947; Satterthwaite,
    1946), as R's ``t.test(var.equal = FALSE)`` computes it.
    """
    total = var_control + var_treatment
    spread = var_control**2 / (control_count - 1) + var_treatment**2 / (treatment_count - 1)
    return total * total / spread


def check_alternative(alternative: str) -> Alternative:
    """Validate an ``alternative`` argument."""
    return cast("Alternative", check_choice("alternative", alternative, ALTERNATIVES))


def check_confidence_level(confidence_level: object) -> float:
    """Validate a ``confidence_level`` argument."""
    return check_open_unit_interval("confidence_level", confidence_level)


def critical_value(
    reference: Reference, confidence_level: float, alternative: Alternative
) -> float:
    """The quantile ``q`` such that ``estimate +/- q * se`` has the requested coverage."""
    tail = 1.0 - confidence_level
    if alternative == "two-sided":
        tail /= 2.0
    return reference.ppf(1.0 - tail)


def p_value(statistic: float, reference: Reference, alternative: Alternative) -> float:
    """The p-value of a standardized statistic under the given alternative."""
    if alternative == "greater":
        return reference.sf(statistic)
    if alternative == "less":
        return reference.cdf(statistic)
    return min(1.0, 2.0 * reference.sf(abs(statistic)))


def interval(estimate: float, half_width: float, alternative: Alternative) -> tuple[float, float]:
    """``estimate +/- half_width``, open on the side the alternative does not test."""
    lower = estimate - half_width if alternative != "less" else -math.inf
    upper = estimate + half_width if alternative != "greater" else math.inf
    return lower, upper


def check_margin(margin: object) -> float:
    """Validate a non-inferiority / superiority ``margin``."""
    return check_real("margin", margin)
