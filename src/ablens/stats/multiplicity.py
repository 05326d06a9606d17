"""Multiple-testing corrections over a declared family of p-values.

Family-wise error rate (FWER): Bonferroni, Šidák, Holm (1979), Hochberg (1988), Hommel (1988).
False discovery rate (FDR): Benjamini-Hochberg (1995), Benjamini-Yekutieli (2001).
Adjusted p-values match R's ``p.adjust`` (Šidák: ``1 - (1 - p)^m``, not in base R).

Adjusted intervals exist where the method defines them: Bonferroni and Šidák give simultaneous
intervals at level ``1 - alpha/m`` and ``(1 - alpha)^(1/m)``; BH gives false-coverage-rate
intervals at level ``1 - R alpha / m`` (Benjamini and Yekutieli, 2005) where ``R`` is the number
of rejections (BY uses ``R alpha / (m c_m)``). Step-wise methods (Holm, Hochberg, Hommel) define
no interval: results report none rather than a misleading one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import numpy as np

from ablens._validation import check_choice, check_open_unit_interval
from ablens.errors import InputError

if TYPE_CHECKING:
    from numpy.typing import ArrayLike, NDArray

__all__ = ["CorrectionMethod", "adjust_pvalues", "adjusted_confidence_level"]

CorrectionMethod = Literal["bonferroni", "sidak", "holm", "hochberg", "hommel", "bh", "by"]
CORRECTION_METHODS: tuple[CorrectionMethod, ...] = (
    "bonferroni",
    "sidak",
    "holm",
    "hochberg",
    "hommel",
    "bh",
    "by",
)


def _check_pvalues(pvalues: ArrayLike) -> NDArray[np.float64]:
    p = np.asarray(pvalues, dtype=np.float64)
    if p.ndim != 1:
        raise InputError(f"pvalues has {p.ndim} dimensions, must be a flat sequence")
    if not np.all(np.isfinite(p)) or np.any((p < 0) | (p > 1)):
        raise InputError(f"pvalues == {p.tolist()!r}, must all be finite and in [0, 1]")
    return p


def adjust_pvalues(pvalues: ArrayLike, method: CorrectionMethod) -> NDArray[np.float64]:
    """Adjusted p-values of one family: reject where the adjusted value is below alpha.

    Args:
        pvalues: The family's raw p-values.
        method: "bonferroni", "sidak", "holm", "hochberg", "hommel", "bh" or "by".

    Returns:
        Adjusted p-values, in the input order, capped at 1.

    Examples:
        >>> adjust_pvalues([0.01, 0.02, 0.03, 0.04], "holm").tolist()
        [0.04, 0.06, 0.06, 0.06]
        >>> [round(float(v), 4) for v in adjust_pvalues([0.01, 0.02, 0.03, 0.04], "bh")]
        [0.04, 0.04, 0.04, 0.04]
    """
    check_choice("method", method, CORRECTION_METHODS)
    p = _check_pvalues(pvalues)
    m = p.size
    if m == 0:
        return p.copy()
    if method == "bonferroni":
        return np.minimum(p * m, 1.0)
    if method == "sidak":
        return -np.expm1(m * np.log1p(-p)) if np.all(p < 1) else _sidak_with_ones(p, m)
    if method == "hommel":
        return _hommel(p)
    order = np.argsort(p, kind="stable")
    ranked = p[order]
    rank = np.arange(1, m + 1)
    if method == "holm":
        stepped = np.maximum.accumulate((m - rank + 1) * ranked)
    else:
        factor = {"hochberg": m - rank + 1, "bh": m / rank, "by": m * np.sum(1 / rank) / rank}[
            method
        ]
        stepped = np.minimum.accumulate((factor * ranked)[::-1])[::-1]
    adjusted = np.empty(m)
    adjusted[order] = np.minimum(stepped, 1.0)
    return adjusted


def _sidak_with_ones(p: NDArray[np.float64], m: int) -> NDArray[np.float64]:
    result = np.ones_like(p)
    below = p < 1
    result[below] = -np.expm1(m * np.log1p(-p[below]))
    return result


def _hommel(p: NDArray[np.float64]) -> NDArray[np.float64]:
    """Hommel's closed-testing adjustment, by the O(m^2) recursion over subset sizes.

    See Wright (1992), "Adjusted p-values for simultaneous inference", Biometrics 48.
    """
    m = p.size
    order = np.argsort(p, kind="stable")
    s = p[order]
    rank = np.arange(1, m + 1)
    adjusted = np.full(m, np.min(m * s / rank))
    current = adjusted.copy()
    for j in range(m - 1, 1, -1):
        # Subsets of size j: the first m-j+1 sorted p-values each get min(j p, best Simes of
        # the tail); the tail shares the value of position m-j+1.
        head = m - j + 1
        tail_simes = np.min(j * s[head:] / np.arange(2, j + 1))
        current[:head] = np.minimum(j * s[:head], tail_simes)
        current[head:] = current[head - 1]
        adjusted = np.maximum(adjusted, current)
    adjusted = np.maximum(adjusted, s)
    result = np.empty(m)
    result[order] = np.minimum(adjusted, 1.0)
    return result


def adjusted_confidence_level(
    confidence_level: float,
    family_size: int,
    method: CorrectionMethod,
    rejections: int = 0,
) -> float | None:
    """The per-comparison confidence level that makes a family's intervals valid together.

    Args:
        confidence_level: The family-wide level wanted (e.g. 0.95).
        family_size: Number of comparisons ``m`` in the family.
        method: The correction applied to the p-values.
        rejections: Number of hypotheses rejected (used by the FCR intervals of BH and BY).

    Returns:
        The level to compute each interval at, or None when the method defines no interval.

    Examples:
        >>> adjusted_confidence_level(0.95, 4, "bonferroni")
        0.9875
        >>> adjusted_confidence_level(0.95, 4, "holm") is None
        True
    """
    check_choice("method", method, CORRECTION_METHODS)
    level = check_open_unit_interval("confidence_level", confidence_level)
    if family_size < 1:
        raise InputError(f"family_size == {family_size}, must be >= 1")
    alpha = 1.0 - level
    m = family_size
    if method == "bonferroni":
        return 1.0 - alpha / m
    if method == "sidak":
        return float(level ** (1.0 / m))
    if method in ("bh", "by"):
        selected = max(rejections, 1)
        harmonic = float(np.sum(1.0 / np.arange(1, m + 1))) if method == "by" else 1.0
        return 1.0 - selected * alpha / (m * harmonic)
    return None
