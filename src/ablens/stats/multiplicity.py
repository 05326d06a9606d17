"""Multiple-testing corrections over a declared family of p-values.

Family-wise error rate (FWER): Bonferroni, Šidák, Holm (1979), Holm-Šidák (step-down Šidák),
Hochberg (1988), Hommel (1988).
False discovery rate (FDR): Benjamini-Hochberg (1995), Benjamini-Yekutieli (2001), and the
two-stage adaptive procedure of Benjamini, Krieger and Yekutieli (2006, "bky").
Adjusted p-values match R's ``p.adjust`` (Šidák: ``1 - (1 - p)^m`` and Holm-Šidák, not in base
R, follow their formulas; BKY's adjusted p-value is the smallest level at which the two-stage
procedure rejects, see `adjust_pvalues`). `adjusted_alphas` gives the threshold each raw p-value
is compared with.

Adjusted intervals exist where the method defines them: Bonferroni and Šidák give simultaneous
intervals at level ``1 - alpha/m`` and ``(1 - alpha)^(1/m)``; BH gives false-coverage-rate
intervals at level ``1 - R alpha / m`` (Benjamini and Yekutieli, 2005) where ``R`` is the number
of rejections (BY uses ``R alpha / (m c_m)``). Step-wise methods (Holm, Holm-Šidák, Hochberg,
Hommel) and BKY define no interval: results report none rather than a misleading one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import numpy as np

from ablens._validation import check_choice, check_open_unit_interval
from ablens.errors import InputError

if TYPE_CHECKING:
    from numpy.typing import ArrayLike, NDArray

__all__ = [
    "DEFAULT_MANY_ARMS_CORRECTION",
    "CorrectionMethod",
    "CorrectionSetting",
    "adjust_pvalues",
    "adjusted_alphas",
    "adjusted_confidence_level",
    "resolve_correction",
]

CorrectionMethod = Literal[
    "bonferroni", "sidak", "holm", "holm-sidak", "hochberg", "hommel", "bh", "by", "bky"
]
CORRECTION_METHODS: tuple[CorrectionMethod, ...] = (
    "bonferroni",
    "sidak",
    "holm",
    "holm-sidak",
    "hochberg",
    "hommel",
    "bh",
    "by",
    "bky",
)

#: A correction as analyses and plans take it: a method, ``"auto"`` (the default: Holm when
#: there are more than two arms, none with two) or None (no correction).
CorrectionSetting = CorrectionMethod | Literal["auto"] | None

#: The method ``correction="auto"`` applies when more than two arms are compared.
DEFAULT_MANY_ARMS_CORRECTION: CorrectionMethod = "holm"


def resolve_correction(setting: CorrectionSetting, arms: int) -> CorrectionMethod | None:
    """The method a correction setting applies to an experiment of ``arms`` arms.

    ``"auto"`` corrects each metric's comparisons over the treatment arms with Holm's method
    when there are more than two arms (with 20 arms and no effect, 19 uncorrected comparisons
    at 5% find a false winner two times in three) and applies none to a two-arm test, where a
    metric has one comparison.

    Examples:
        >>> resolve_correction("auto", 2), resolve_correction("auto", 3)
        (None, 'holm')
        >>> resolve_correction(None, 5), resolve_correction("bonferroni", 2)
        (None, 'bonferroni')
    """
    if setting == "auto":
        return DEFAULT_MANY_ARMS_CORRECTION if arms > 2 else None
    return setting


def _check_pvalues(pvalues: ArrayLike) -> NDArray[np.float64]:
    p = np.asarray(pvalues, dtype=np.float64)
    if p.ndim != 1:
        raise InputError(f"pvalues has {p.ndim} dimensions, must be a flat sequence")
    if not np.all(np.isfinite(p)) or np.any((p < 0) | (p > 1)):
        raise InputError(f"pvalues == {p.tolist()!r}, must all be finite and in [0, 1]")
    return p


def adjust_pvalues(pvalues: ArrayLike, method: CorrectionMethod) -> NDArray[np.float64]:
    """Adjusted p-values of one family: reject where the adjusted value is below alpha.

    With ``p_(1) <= ... <= p_(m)`` sorted (ties in input order), Holm-Šidák's adjusted value is
    ``max over j <= i of 1 - (1 - p_(j))^(m - j + 1)``. BKY (Benjamini, Krieger and Yekutieli,
    2006, Definition 6) is a procedure at a level ``q``, not a formula in ``p``: its adjusted
    p-value here is the smallest ``q`` at which the two-stage procedure rejects the hypothesis
    (Wright, 1992). The procedure's rejections grow with ``q`` (both its stage-one rejections and
    its stage-two level ``q* = q' m / (m - r1)`` do), so the two-stage procedure at level ``q``
    rejects exactly the hypotheses whose adjusted value is ``<= q``; unlike statsmodels'
    ``fdr_tsbky`` values, these do not depend on the level. See
    docs/methodology/multiplicity.md.

    Args:
        pvalues: The family's raw p-values.
        method: "bonferroni", "sidak", "holm", "holm-sidak", "hochberg", "hommel", "bh", "by"
            or "bky".

    Returns:
        Adjusted p-values, in the input order, capped at 1.

    Examples:
        >>> adjust_pvalues([0.01, 0.02, 0.03, 0.04], "holm").tolist()
        [0.04, 0.06, 0.06, 0.06]
        >>> [round(float(v), 4) for v in adjust_pvalues([0.01, 0.02, 0.03, 0.04], "bh")]
        [0.04, 0.04, 0.04, 0.04]
        >>> [round(float(v), 6) for v in adjust_pvalues([0.01, 0.02, 0.03, 0.04], "holm-sidak")]
        [0.039404, 0.058808, 0.0591, 0.0591]
        >>> [round(float(v), 6) for v in adjust_pvalues([0.01, 0.02, 0.03, 0.04, 0.5], "bky")]
        [0.052632, 0.052632, 0.052632, 0.052632, 0.111111]
    """
    check_choice("method", method, CORRECTION_METHODS)
    p = _check_pvalues(pvalues)
    m = p.size
    if m == 0:
        return p.copy()
    if method == "bonferroni":
        return np.minimum(p * m, 1.0)
    if method == "sidak":
        return _sidak(p, np.full(m, float(m)))
    if method == "hommel":
        return _hommel(p)
    if method == "bky":
        return _bky(p)
    order = np.argsort(p, kind="stable")
    ranked = p[order]
    rank = np.arange(1, m + 1)
    if method == "holm":
        stepped = np.maximum.accumulate((m - rank + 1) * ranked)
    elif method == "holm-sidak":
        stepped = np.maximum.accumulate(_sidak(ranked, (m - rank + 1).astype(np.float64)))
    else:
        factor = {"hochberg": m - rank + 1, "bh": m / rank, "by": m * np.sum(1 / rank) / rank}[
            method
        ]
        stepped = np.minimum.accumulate((factor * ranked)[::-1])[::-1]
    adjusted = np.empty(m)
    adjusted[order] = np.minimum(stepped, 1.0)
    return adjusted


def _sidak(p: NDArray[np.float64], tests: NDArray[np.float64]) -> NDArray[np.float64]:
    """``1 - (1 - p)^tests`` without cancellation for small ``p`` (and exactly 1 at ``p = 1``)."""
    with np.errstate(divide="ignore"):  # log1p(-1) = -inf gives expm1(-inf) = -1: exactly 1
        return np.asarray(-np.expm1(tests * np.log1p(-p)), dtype=np.float64)


def _bky(p: NDArray[np.float64]) -> NDArray[np.float64]:
    """The smallest level ``q`` at which BKY's two-stage procedure rejects each hypothesis.

    The linear step-up procedure (BH) at a level ``a`` rejects ``H_i`` exactly when its BH
    adjusted value ``b_i <= a``. At ``q`` BKY runs BH at ``q' = q / (1 + q)`` (``r1 =
    #{b_j <= q'}`` rejections), then BH at ``q* = q' m / (m - r1)`` (everything when ``r1 = m``;
    nothing when ``r1 = 0``, where ``q* = q'`` rejects nothing either). So ``H_i`` is rejected
    at ``q`` iff ``g(q') >= b_i`` with ``g(q') = q' m / (m - r1(q'))``, a nondecreasing,
    right-continuous step-linear function: on ``[u_k, u_k+1)`` between consecutive distinct
    values of ``b``, ``r1`` is constant. The first piece whose supremum exceeds ``b_i`` holds the
    smallest ``q'``; then ``q = q' / (1 - q')``.
    """
    m = p.size
    bh = adjust_pvalues(p, "bh")
    distinct = np.unique(bh)  # u_1 < ... < u_d
    below = np.searchsorted(np.sort(bh), distinct, side="right")  # r1 on [u_k, u_k+1)
    starts = np.concatenate(([0.0], distinct))
    counts = np.concatenate(([0], below))
    ends = np.concatenate((distinct, [np.inf]))
    with np.errstate(divide="ignore"):  # r1 = m: stage one rejects everything, g = inf
        supremum = np.where(counts < m, ends * m / (m - counts), np.inf)
    piece = np.searchsorted(supremum, bh, side="right")
    start, count = starts[piece], counts[piece]
    level = np.maximum(start, bh * (m - count) / m)
    with np.errstate(divide="ignore"):
        adjusted = np.where(level < 0.5, level / (1.0 - level), 1.0)
    return np.minimum(adjusted, 1.0)


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


def _hommel_divisor(ranked: NDArray[np.float64], alpha: float) -> int:
    """Hommel's ``j``: the largest ``j`` with ``p_(m-j+k) > k alpha / j`` for every ``k <= j``.

    0 when there is none (Hommel, 1988: then every hypothesis is rejected).
    """
    m = ranked.size
    for j in range(m, 0, -1):
        k = np.arange(1, j + 1)
        if np.all(ranked[m - j :] > k * alpha / j):
            return j
    return 0


def adjusted_alphas(
    pvalues: ArrayLike, method: CorrectionMethod, alpha: float = 0.05
) -> NDArray[np.float64]:
    """The threshold each raw p-value of a family is compared with, at the family's ``alpha``.

    With the p-values sorted ``p_(1) <= ... <= p_(m)`` (ties in input order) and ``i`` the rank
    of a hypothesis's p-value:

    * Bonferroni ``alpha / m``; Šidák ``1 - (1 - alpha)^(1/m)`` (the same for every hypothesis);
    * Holm and Hochberg ``alpha / (m - i + 1)``; Holm-Šidák ``1 - (1 - alpha)^(1/(m - i + 1))``;
    * Hommel ``alpha / j`` with Hommel's ``j`` (the largest ``j`` such that
      ``p_(m-j+k) > k alpha / j`` for ``k = 1..j``), or ``alpha`` when there is no such ``j``;
    * BH ``i alpha / m``; BY ``i alpha / (m H_m)``, ``H_m = 1 + 1/2 + ... + 1/m``;
    * BKY ``i q* / m``, stage two's level ``q* = q' m / (m - r1)`` with ``q' = alpha / (1 +
      alpha)`` and ``r1`` the rejections of BH at ``q'``; when stage one decides alone (``r1 =
      0`` or ``m``) its own ``i q' / m``.

    For the single-step methods (Bonferroni, Šidák) and Hommel, ``p_i <= `` its threshold is the
    decision. The step-wise ones compare each sorted p-value with its rank's threshold but decide
    together: a step-down method (Holm, Holm-Šidák) rejects ``p_(i)`` only if every smaller
    p-value passed its own threshold too; a step-up method (Hochberg, BH, BY, BKY) rejects
    ``p_(i)`` if any ``p_(k)``, ``k >= i``, passed. The adjusted p-value (`adjust_pvalues`)
    folds that in.

    Args:
        pvalues: The family's raw p-values.
        method: A correction method (see `adjust_pvalues`).
        alpha: The family's level (FWER or FDR), in (0, 1).

    Returns:
        One threshold per p-value, in the input order.

    Examples:
        >>> adjusted_alphas([0.04, 0.01, 0.03], "holm").round(6).tolist()
        [0.05, 0.016667, 0.025]
        >>> adjusted_alphas([0.04, 0.01, 0.03], "bh").round(6).tolist()
        [0.05, 0.016667, 0.033333]
    """
    check_choice("method", method, CORRECTION_METHODS)
    alpha = check_open_unit_interval("alpha", alpha)
    p = _check_pvalues(pvalues)
    m = p.size
    if m == 0:
        return p.copy()
    if method == "bonferroni":
        return np.full(m, alpha / m)
    if method == "sidak":
        return np.full(m, float(-np.expm1(np.log1p(-alpha) / m)))
    order = np.argsort(p, kind="stable")
    ranked = p[order]
    rank = np.arange(1, m + 1, dtype=np.float64)
    if method in ("holm", "hochberg"):
        by_rank = alpha / (m - rank + 1)
    elif method == "holm-sidak":
        by_rank = -np.expm1(np.log1p(-alpha) / (m - rank + 1))
    elif method == "hommel":
        j = _hommel_divisor(ranked, alpha)
        by_rank = np.full(m, alpha if j == 0 else alpha / j)
    elif method == "bh":
        by_rank = rank * alpha / m
    elif method == "by":
        by_rank = rank * alpha / (m * float(np.sum(1.0 / rank)))
    else:  # bky
        stage_one = alpha / (1.0 + alpha)
        r1 = int(np.sum(adjust_pvalues(p, "bh") <= stage_one))
        level = stage_one if r1 in (0, m) else stage_one * m / (m - r1)
        by_rank = rank * level / m
    thresholds = np.empty(m)
    thresholds[order] = by_rank
    return thresholds


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
    return None  # step-wise (Holm, Holm-Šidák, Hochberg, Hommel) and adaptive (BKY): none
