"""The Mann–Whitney U (Wilcoxon rank-sum) test, from rank sums an engine can compute.

The test needs, per comparison, four numbers (a `RankSummary`): the two arm sizes, the sum of the
treatment's ranks in the pooled sample (ties get the average of the ranks they span) and the tie
term ``sum(t^3 - t)`` over groups of equal values. An engine computes them with a ``rank()``
window over the pooled arms and a group-by on the value; `rank_summary_from_arrays` computes them
from in-memory arrays.

`mann_whitney_test` then takes the p-value from the exact distribution of ``U`` (small arms
without ties) or from the normal approximation with the tie-corrected variance and, by default,
a continuity correction: the numbers R's ``wilcox.test(treatment, control)`` reports.

`hodges_lehmann` estimates the shift ``treatment - control`` (the median of every pairwise
difference) and its confidence interval, as ``wilcox.test(treatment, control, conf.int = TRUE)``
does. It needs the values themselves, which a `ValueCounts` per arm holds compactly: the arm's
distinct values and how often each occurs.
"""

from __future__ import annotations

import functools
import math
import struct
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from ablens._validation import check_count, check_real
from ablens.errors import InputError
from ablens.stats._inference import (
    Alternative,
    check_alternative,
    check_confidence_level,
    special_functions,
)

if TYPE_CHECKING:
    from numpy.typing import ArrayLike, NDArray

__all__ = [
    "EXACT_AUTO_LIMIT",
    "EXACT_MAX_PAIRS",
    "ExactOption",
    "HodgesLehmannResult",
    "MannWhitneyResult",
    "RankMethod",
    "RankSummary",
    "ValueCounts",
    "hodges_lehmann",
    "mann_whitney_test",
    "rank_summary_from_arrays",
]

#: How the p-value (and the shift's interval) is found: True (exact distribution of ``U``),
#: False (normal approximation), or "auto" / None (R's default: exact below `EXACT_AUTO_LIMIT`).
ExactOption = bool | Literal["auto"] | None
#: The method a result used.
RankMethod = Literal["exact", "normal"]
#: ``exact="auto"`` uses the exact distribution when both arms have fewer units than this and
#: no value is tied: R's rule for ``wilcox.test(exact = NULL)``.
EXACT_AUTO_LIMIT = 50
#: The largest ``n_control * n_treatment`` for which ``exact=True`` is accepted. The exact
#: distribution costs about ``n_c * n_t * (n_c * n_t / 2)`` operations and
#: ``8 * min(n_c, n_t) * n_c * n_t / 2`` bytes: at this limit (141 x 141 units, or 20 x 1,000)
#: about a second and 11 MB. Beyond it the normal approximation is accurate to the third
#: decimal of the p-value.
EXACT_MAX_PAIRS = 20_000


def check_sample(name: str, values: ArrayLike, *, minimum: int = 1) -> NDArray[np.float64]:
    """Return ``values`` as a 1-D float64 array of finite numbers, or raise an `InputError`.

    Args:
        name: The argument's name, for the message.
        values: A 1-D sequence or array of real numbers (booleans count as 0 and 1).
        minimum: The fewest values accepted.
    """
    try:
        array = np.asarray(values)
    except (TypeError, ValueError) as error:  # ragged nested sequences
        raise InputError(f"{name} must be a 1-D sequence of real numbers ({error})") from None
    if array.dtype.kind not in "biuf":
        raise InputError(
            f"{name} has dtype {array.dtype}, must hold real numbers (bool, int or float)"
        )
    if array.ndim != 1:
        raise InputError(f"{name} has shape {array.shape}, must be 1-D (one value per unit)")
    if array.size < minimum:
        raise InputError(f"{name} has {array.size} values, must have at least {minimum}")
    result = array.astype(np.float64)
    finite = np.isfinite(result)
    if not finite.all():
        bad = np.flatnonzero(~finite)
        raise InputError(
            f"{name} has {bad.size} NaN or infinite value(s) (first at index {int(bad[0])}, "
            f"{result[bad[0]]!r}), must be finite; drop or impute missing values first"
        )
    return result


@dataclass(frozen=True)
class RankSummary:
    """Sufficient statistics of the Mann–Whitney test for one comparison.

    The values of both arms are ranked together, from 1 (smallest) to
    ``N = n_control + n_treatment``, each group of equal values getting the average of the ranks
    it spans.

    Attributes:
        n_control: Units in the control arm (at least 1).
        n_treatment: Units in the treatment arm (at least 1).
        rank_sum_treatment: Sum of the treatment units' ranks (a multiple of 0.5).
        tie_term: ``sum(t^3 - t)`` over the groups of ``t`` equal values in the pooled sample;
            0 when all values are distinct.

    In SQL, the average rank of a row is ``RANK() OVER (ORDER BY value)`` plus
    ``(COUNT(*) OVER (PARTITION BY value) - 1) / 2``; the tie term is the sum of
    ``c * c * c - c`` over ``SELECT COUNT(*) AS c ... GROUP BY value`` of the pooled arms.

    Examples:
        >>> s = RankSummary(n_control=3, n_treatment=2, rank_sum_treatment=8.5, tie_term=6)
        >>> s.u_statistic, s.n_total
        (5.5, 5)
    """

    n_control: int
    n_treatment: int
    rank_sum_treatment: float
    tie_term: float = 0.0

    def __post_init__(self) -> None:
        n_c = check_count("n_control", self.n_control, minimum=1)
        n_t = check_count("n_treatment", self.n_treatment, minimum=1)
        rank_sum = check_real("rank_sum_treatment", self.rank_sum_treatment)
        tie_term = check_real("tie_term", self.tie_term)
        smallest = n_t * (n_t + 1) / 2  # treatment holds the n_t lowest ranks
        largest = smallest + n_t * n_c  # ... or the n_t highest
        if not smallest <= rank_sum <= largest:
            raise InputError(
                f"rank_sum_treatment == {self.rank_sum_treatment!r}, must be in "
                f"[{smallest}, {largest}] for n_treatment == {n_t} and n_control == {n_c}"
            )
        n = n_c + n_t
        if not 0 <= tie_term <= float(n**3 - n):
            raise InputError(
                f"tie_term == {self.tie_term!r}, must be in [0, N^3 - N] == [0, {n**3 - n}] "
                f"for N == {n} values"
            )
        object.__setattr__(self, "n_control", n_c)
        object.__setattr__(self, "n_treatment", n_t)
        object.__setattr__(self, "rank_sum_treatment", rank_sum)
        object.__setattr__(self, "tie_term", tie_term)

    @property
    def n_total(self) -> int:
        """Units in both arms, ``N``."""
        return self.n_control + self.n_treatment

    @property
    def u_statistic(self) -> float:
        """Mann–Whitney ``U`` of the treatment: ``rank_sum_treatment - n_t (n_t + 1) / 2``.

        The number of (treatment, control) pairs in which the treatment value is larger, ties
        counting one half.
        """
        return self.rank_sum_treatment - self.n_treatment * (self.n_treatment + 1) / 2


def rank_summary_from_arrays(control: ArrayLike, treatment: ArrayLike) -> RankSummary:
    """Compute a `RankSummary` from the raw values of the two arms.

    The ranks are average ranks over the pooled arms (as ``scipy.stats.rankdata`` and R's
    ``rank`` give them), found from the sorted distinct values and their counts: the same group-by
    an engine would run. Memory: a few float64 and int64 arrays of ``N`` entries.

    Args:
        control: Values of the control units, a 1-D sequence of finite numbers.
        treatment: Values of the treatment units.

    Returns:
        The arm sizes, the treatment's rank sum and the tie term.

    Raises:
        InputError: If an arm is empty, not 1-D, not numeric, or holds NaN or infinite values.

    Examples:
        >>> s = rank_summary_from_arrays([1.0, 2.0, 2.0], [2.0, 5.0])
        >>> s.rank_sum_treatment, s.tie_term  # the three 2.0s share ranks 2-4, so 3 each
        (8.0, 24.0)
    """
    c = check_sample("control", control)
    t = check_sample("treatment", treatment)
    pooled = np.concatenate([c, t])
    values, inverse, counts = np.unique(pooled, return_inverse=True, return_counts=True)
    del values
    # A group of `k` equal values whose smallest rank is `start + 1` spans ranks start+1 .. start+k:
    # average start + (k + 1) / 2.
    start = np.cumsum(counts) - counts
    average_rank = start + (counts + 1) / 2.0
    # Multiples of 0.5: the float64 sum is exact while it stays below 2^52 (N up to ~9e7).
    rank_sum = float(average_rank[inverse[c.size :]].sum())
    tied = counts[counts > 1]
    # Python integers: exact, where int64 would overflow beyond ~2 million ties in one group.
    tie_term = sum(int(k) ** 3 - int(k) for k in tied)
    return RankSummary(
        n_control=c.size,
        n_treatment=t.size,
        rank_sum_treatment=rank_sum,
        tie_term=float(tie_term),
    )


def _resolve_method(
    exact: object, n_control: int, n_treatment: int, *, ties: bool
) -> tuple[RankMethod, tuple[str, ...]]:
    """The method ``exact`` asks for, as R's ``wilcox.test`` decides it, and why if it changed."""
    if exact is None or exact == "auto":
        wanted = n_control < EXACT_AUTO_LIMIT and n_treatment < EXACT_AUTO_LIMIT
    elif isinstance(exact, bool | np.bool_):
        wanted = bool(exact)
        if wanted and n_control * n_treatment > EXACT_MAX_PAIRS:
            raise InputError(
                f"exact == True with n_control * n_treatment == {n_control * n_treatment:,}, "
                f"must be at most EXACT_MAX_PAIRS == {EXACT_MAX_PAIRS:,}; use exact='auto' or "
                "False (the normal approximation is accurate at this size)"
            )
    else:
        raise InputError(f"exact == {exact!r}, must be True, False, 'auto' or None")
    if wanted and ties:
        return "normal", (
            (
                "tied values: the exact distribution of U assumes none (R refuses it too), so the "
                "normal approximation with the tie correction was used"
            ),
        )
    return ("exact" if wanted else "normal"), ()


@functools.lru_cache(maxsize=16)
def _exact_lower_cdf(n_x: int, n_y: int) -> NDArray[np.float64]:
    """``P(U <= u)`` for ``u = 0 .. floor(n_x n_y / 2)`` under the null, without ties.

    ``U`` is the number of (x, y) pairs with ``x > y`` (its distribution is that of R's
    ``pwilcox(u, n_x, n_y)``, symmetric about ``n_x n_y / 2``, the same for both orders of the
    sizes). The largest of the ``i + j`` pooled values is an x with probability
    ``i / (i + j)``, and then beats all ``j`` y's; so the probability mass functions obey

        p[i, j](u) = i / (i + j) * p[i - 1, j](u - j) + j / (i + j) * p[i, j - 1](u)

    with ``p[0, j] = p[i, 0]`` a point mass at 0. Every step adds non-negative numbers, so
    the relative error stays near ``(n_x + n_y)`` ulps even in the far tails (where subtracting
    generating-function terms would cancel). Only the lower half is kept (the recursion never
    looks at larger ``u``); the upper half follows by symmetry.
    """
    small, large = sorted((n_x, n_y))
    size = n_x * n_y // 2 + 1
    pmf = np.zeros((small + 1, size))
    pmf[:, 0] = 1.0  # i = 0: U = 0
    shifted = np.empty(size)
    for i in range(1, large + 1):
        for j in range(1, small + 1):
            weight = i / (i + j)
            shifted[:j] = 0.0
            shifted[j:] = pmf[j, : size - j]  # p[i - 1, j](u - j)
            np.multiply(shifted, weight, out=pmf[j])
            pmf[j] += (1.0 - weight) * pmf[j - 1]  # p[i, j - 1], already updated
    cdf = np.cumsum(pmf[small])
    cdf.flags.writeable = False  # cached: shared by every caller
    return cdf


class _ExactU:
    """The null distribution of ``U`` for arms of ``n_x`` and ``n_y`` units (no ties)."""

    def __init__(self, n_x: int, n_y: int) -> None:
        self.pairs = n_x * n_y
        self.lower = _exact_lower_cdf(n_x, n_y)

    def cdf(self, u: int) -> float:
        """``P(U <= u)``: R's ``pwilcox(u, n_x, n_y)``, summing the smaller tail."""
        if u < 0:
            return 0.0
        if u >= self.pairs:
            return 1.0
        if u < self.lower.size:
            return float(self.lower[u])
        return 1.0 - float(self.lower[self.pairs - u - 1])

    def sf(self, u: int) -> float:
        """``P(U >= u)``: R's ``pwilcox(u - 1, n_x, n_y, lower.tail = FALSE)``."""
        return self.cdf(self.pairs - u)

    def quantile(self, probability: float) -> int:
        """R's ``qwilcox(probability, n_x, n_y)``: the smallest ``u`` with ``P(U <= u) >= p``.

        With R's allowance of ``10 DBL_EPSILON`` for a probability hit exactly.
        """
        fuzz = 10 * np.finfo(np.float64).eps
        if probability <= 0.5:
            return int(np.searchsorted(self.lower, probability - fuzz, side="left"))
        # The upper half by symmetry: the smallest u with P(U >= pairs - u)... as R does it.
        return self.pairs - int(np.searchsorted(self.lower, 1 - probability + fuzz, side="right"))


@dataclass(frozen=True)
class MannWhitneyResult:
    """The Mann–Whitney U test of one comparison.

    Attributes:
        u_statistic: ``U`` of the treatment: pairs (treatment, control) in which the treatment
            value is larger, ties counting one half (R's ``W`` for ``wilcox.test(treatment,
            control)``).
        z: The standardized statistic, after the continuity correction when one is applied
            (NaN when the p-value is exact).
        p_value: p-value from the exact distribution of ``U`` or the standard normal.
        probability_of_superiority: ``U / (n_t n_c)``, an estimate of
            ``P(T > C) + P(T = C) / 2`` for a random treatment unit ``T`` and control unit ``C``
            (the common-language effect size; 0.5 under the null).
        alternative: "two-sided", "greater" (treatment values tend to be larger) or "less".
        continuity: Whether the continuity correction was asked for (it applies to the normal
            approximation only).
        n_control: Units in control.
        n_treatment: Units in treatment.
        method: "exact" (the permutation distribution of ``U``) or "normal".
        notes: Why the method differs from the one asked for, if it does.
    """

    u_statistic: float
    z: float
    p_value: float
    probability_of_superiority: float
    alternative: Alternative
    continuity: bool
    n_control: int
    n_treatment: int
    method: RankMethod = "normal"
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """A flat dictionary of every field."""
        return asdict(self)


def _check_continuity(continuity: object) -> bool:
    if not isinstance(continuity, bool | np.bool_):
        raise InputError(f"continuity == {continuity!r}, must be True or False")
    return bool(continuity)


def mann_whitney_test(
    summary: RankSummary,
    *,
    alternative: str = "two-sided",
    continuity: bool = True,
    exact: ExactOption = "auto",
) -> MannWhitneyResult:
    """Mann–Whitney U test of treatment against control, from a `RankSummary`.

    **Exact** (no ties): the p-value is a tail probability of the permutation distribution of
    ``U`` (R's ``pwilcox``): ``P(U >= u)`` for "greater", ``P(U <= u)`` for "less", and twice
    the smaller of the two, at most 1, for "two-sided".

    **Normal approximation**, with ``U`` the treatment's U statistic and ``N = n_t + n_c``::

        mean  = n_t n_c / 2
        var   = n_t n_c / 12 * ((N + 1) - tie_term / (N (N - 1)))
        z     = (U - mean - cc) / sqrt(var)

    where the continuity correction ``cc`` is ``0.5 sign(U - mean)`` two-sided, ``+0.5`` for
    "greater" and ``-0.5`` for "less" (0 with ``continuity=False``).

    These are the statistic and p-value of R's ``wilcox.test(treatment, control, exact =
    exact, correct = continuity)``, including its choice of method: ``exact="auto"`` (or None)
    is exact when both arms have fewer than 50 units (`EXACT_AUTO_LIMIT`) and no value is
    tied; ``exact=True`` is exact at any size up to `EXACT_MAX_PAIRS` pairs. With ties the
    exact distribution does not apply: as R, the test falls back to the normal approximation,
    and says so in ``notes``.

    Args:
        summary: Arm sizes, the treatment's rank sum and the tie term.
        alternative: "two-sided" (default), "greater" (treatment values tend to be larger than
            control values, i.e. ``P(T > C) + P(T = C) / 2 > 1/2``) or "less".
        continuity: Apply the continuity correction to the normal approximation (default
            True, as R).
        exact: True (exact p-value), False (normal approximation) or "auto" / None (R's rule,
            the default).

    Returns:
        The statistic, its p-value, the method used and the probability of superiority.

    Raises:
        InputError: If ``summary`` is not a `RankSummary`, ``alternative`` is unknown,
            ``continuity`` is not a bool, ``exact`` is not one of its values or True for more
            than `EXACT_MAX_PAIRS` pairs, or every value is tied (no variance).

    Examples:
        >>> s = rank_summary_from_arrays([1.1, 2.0, 2.0, 3.5, 0.4], [2.0, 4.2, 5.0, 3.5, 6.1, 2.6])
        >>> r = mann_whitney_test(s)
        >>> (
        ...     r.u_statistic,
        ...     round(r.z, 4),
        ...     round(r.p_value, 4),
        ...     round(r.probability_of_superiority, 3),
        ...     r.method,
        ... )
        (26.5, 2.0315, 0.0422, 0.883, 'normal')
        >>> r.notes[0][:13]
        'tied values: '
        >>> round(mann_whitney_test(s, alternative="greater").p_value, 4)
        0.0211

        Without ties, small arms get the exact p-value (R: ``W = 21, p-value = 0.06667``):

        >>> s = rank_summary_from_arrays([1.1, 2.0, 2.2, 3.5], [2.1, 4.2, 5.0, 3.6, 6.1, 2.6])
        >>> r = mann_whitney_test(s)
        >>> r.u_statistic, round(r.p_value, 5), r.method
        (21.0, 0.06667, 'exact')
    """
    if not isinstance(summary, RankSummary):
        raise InputError(
            f"summary == {summary!r}, must be a RankSummary (see rank_summary_from_arrays)"
        )
    checked = check_alternative(alternative)
    correct = _check_continuity(continuity)
    n_c, n_t, n = summary.n_control, summary.n_treatment, summary.n_total
    method, notes = _resolve_method(exact, n_c, n_t, ties=summary.tie_term > 0)
    u = summary.u_statistic
    superiority = u / (n_t * n_c)
    if method == "exact":
        distribution = _ExactU(n_t, n_c)
        w = round(u)  # without ties U is a whole number
        if checked == "greater":
            p = distribution.sf(w)
        elif checked == "less":
            p = distribution.cdf(w)
        else:
            tail = distribution.sf(w) if w > n_t * n_c / 2 else distribution.cdf(w)
            p = min(2.0 * tail, 1.0)
        return MannWhitneyResult(
            u_statistic=u,
            z=math.nan,
            p_value=p,
            probability_of_superiority=superiority,
            alternative=checked,
            continuity=correct,
            n_control=n_c,
            n_treatment=n_t,
            method="exact",
            notes=notes,
        )
    deviation = u - n_t * n_c / 2.0
    variance = n_t * n_c / 12.0 * ((n + 1) - summary.tie_term / (n * (n - 1)))
    if variance <= 0:
        raise InputError(
            f"tie_term == {summary.tie_term!r} == N^3 - N: all {n} values are equal, so the "
            "rank test has no variance and no test is possible"
        )
    z = (deviation - _correction(deviation, checked, correct)) / math.sqrt(variance)
    ndtr = special_functions().ndtr
    if checked == "greater":
        p = float(ndtr(-z))
    elif checked == "less":
        p = float(ndtr(z))
    else:
        p = 2.0 * float(ndtr(-abs(z)))
    return MannWhitneyResult(
        u_statistic=u,
        z=z,
        p_value=p,
        probability_of_superiority=superiority,
        alternative=checked,
        continuity=correct,
        n_control=n_c,
        n_treatment=n_t,
        method="normal",
        notes=notes,
    )


def _correction(deviation: float, alternative: Alternative, continuity: bool) -> float:
    """The continuity correction R subtracts from ``U - E[U]`` (or from ``dz`` of a shift)."""
    if not continuity:
        return 0.0
    if alternative == "two-sided":
        return 0.5 * float(np.sign(deviation))
    return 0.5 if alternative == "greater" else -0.5


# ------------------------------------------------------------------------------ Hodges-Lehmann
@dataclass(frozen=True, eq=False)
class ValueCounts:
    """One arm's values as its sorted distinct values and how often each occurs.

    The compact form of a sample the shift estimate needs: an engine returns it with one
    ``GROUP BY value`` (`ablens.data.compute_value_counts`), and a metric with few distinct
    values (amounts in cents, counts, ratings) stays small however many units it has.

    Attributes:
        values: Distinct finite values, strictly increasing (float64).
        counts: How many units have each value (int64, each at least 1).

    Examples:
        >>> v = ValueCounts.from_array([3.0, 1.0, 3.0, 2.5])
        >>> v.values.tolist(), v.counts.tolist(), v.n, v.has_ties
        ([1.0, 2.5, 3.0], [1, 1, 2], 4, True)
    """

    values: NDArray[np.float64] = field(repr=False)
    counts: NDArray[np.int64] = field(repr=False)

    def __post_init__(self) -> None:
        values = check_sample("values", self.values)
        try:
            counts = np.asarray(self.counts)
        except (TypeError, ValueError) as error:
            raise InputError(f"counts must be a 1-D sequence of whole numbers ({error})") from None
        if counts.dtype.kind not in "iu" or counts.shape != values.shape:
            raise InputError(
                f"counts has dtype {counts.dtype} and shape {counts.shape}, must be whole "
                f"numbers, one per value (shape {values.shape})"
            )
        if (counts < 1).any():
            raise InputError("counts must all be at least 1 (drop values no unit has)")
        if (np.diff(values) <= 0).any():
            raise InputError("values must be strictly increasing (sorted, each value once)")
        object.__setattr__(self, "values", values)
        object.__setattr__(self, "counts", counts.astype(np.int64))

    @classmethod
    def from_array(cls, values: ArrayLike, *, name: str = "values") -> ValueCounts:
        """The distinct values and counts of a 1-D sample of finite numbers."""
        distinct, counts = np.unique(check_sample(name, values), return_counts=True)
        return cls(distinct, counts.astype(np.int64))

    @property
    def n(self) -> int:
        """Units in the arm."""
        return int(self.counts.sum())

    @property
    def has_ties(self) -> bool:
        """Whether some value occurs more than once."""
        return bool((self.counts > 1).any())

    def __repr__(self) -> str:
        return f"ValueCounts(n={self.n}, distinct={self.values.size})"


def _as_value_counts(name: str, sample: ValueCounts | ArrayLike) -> ValueCounts:
    if isinstance(sample, ValueCounts):
        return sample
    return ValueCounts.from_array(sample, name=name)


def _order_key(value: float) -> int:
    """An integer that orders like the double ``value`` (consecutive doubles differ by 1)."""
    bits: int = struct.unpack("<q", struct.pack("<d", value))[0]
    return bits if bits >= 0 else -(bits & 0x7FFF_FFFF_FFFF_FFFF)


def _from_order_key(key: int) -> float:
    bits = key if key >= 0 else (-key) | (1 << 63)
    value: float = struct.unpack("<d", struct.pack("<Q", bits))[0]
    return value


#: Up to this many distinct (treatment, control) value pairs the differences are sorted outright
#: (16 bytes each); beyond, their order statistics are found by bisection.
_SORT_LIMIT = 1 << 20


class _Differences:
    """The ``n_t n_c`` differences ``t - c`` (treatment minus control), never formed.

    ``count_at_most(d)`` counts, with multiplicity, the pairs whose floating-point difference
    ``fl(t - c)`` (exactly what R's ``outer(x, y, "-")`` holds) is at most ``d``: for each
    distinct treatment value a binary search among the sorted control values, then a
    correction of the few positions where rounding of ``t - d`` misplaces the boundary.
    ``order_statistic(k)`` is the smallest double ``d`` with at least ``k`` differences at or
    below it, which is the ``k``-th smallest difference, found by bisection on the 64-bit
    ordering of doubles: at most 64 counts of ``O(distinct_t log distinct_c)`` each. With at
    most `_SORT_LIMIT` distinct pairs the differences are simply formed and sorted.
    """

    def __init__(self, control: ValueCounts, treatment: ValueCounts) -> None:
        self.t = treatment.values
        self.t_counts = treatment.counts
        self.c = control.values
        self.c_cumulative = np.concatenate([[0], np.cumsum(control.counts)])
        self.pairs = treatment.n * control.n
        self.smallest = float(self.t[0] - self.c[-1])
        self.largest = float(self.t[-1] - self.c[0])
        # Few distinct pairs: sort them once (the same fl(t - c) values), faster than bisecting.
        self.sorted: tuple[NDArray[np.float64], NDArray[np.int64]] | None = None
        if self.t.size * self.c.size <= _SORT_LIMIT:
            differences = np.subtract.outer(self.t, self.c).ravel()
            weights = np.multiply.outer(self.t_counts, control.counts).ravel()
            order = np.argsort(differences, kind="stable")
            self.sorted = differences[order], np.cumsum(weights[order])

    def count_at_most(self, d: float) -> int:
        c, t, last = self.c, self.t, self.c.size
        # First control index j with fl(t - c[j]) <= d (true for all larger j: fl is monotone).
        j = np.searchsorted(c, t - d, side="left")
        while True:  # step left while the previous control value also qualifies
            movable = j > 0
            previous = c[np.where(movable, j - 1, 0)]
            step = movable & (t - previous <= d)
            if not step.any():
                break
            j = j - step
        while True:  # step right while the current one does not qualify
            inside = j < last
            current = c[np.where(inside, j, 0)]
            step = inside & (t - current > d)
            if not step.any():
                break
            j = j + step
        above = self.c_cumulative[last] - self.c_cumulative[j]
        return int(np.dot(self.t_counts, above))

    def order_statistic(self, k: int) -> float:
        """The ``k``-th smallest difference, ``1 <= k <= pairs``."""
        if self.sorted is not None:
            values, cumulative = self.sorted
            return float(values[np.searchsorted(cumulative, k, side="left")])
        if self.count_at_most(self.smallest) >= k:
            return self.smallest
        low, high = _order_key(self.smallest), _order_key(self.largest)
        while high - low > 1:  # count(low) < k <= count(high)
            middle = (low + high) // 2
            if self.count_at_most(_from_order_key(middle)) >= k:
                high = middle
            else:
                low = middle
        return _from_order_key(high)

    def median(self) -> float:
        """R's ``median`` of the differences: the middle one, or the mean of the middle two."""
        half = self.pairs // 2
        if self.pairs % 2:
            return self.order_statistic(half + 1)
        return (self.order_statistic(half) + self.order_statistic(half + 1)) / 2.0


@dataclass(frozen=True)
class HodgesLehmannResult:
    """The Hodges–Lehmann shift of treatment against control, with its confidence interval.

    Attributes:
        estimate: The median of the ``n_t n_c`` differences ``t - c`` between a treatment
            value and a control value (R's "difference in location" of ``wilcox.test(treatment,
            control, conf.int = TRUE)``): positive when treatment values tend to be larger.
        ci_lower: Lower bound (``-inf`` for ``alternative="less"``).
        ci_upper: Upper bound (``inf`` for ``alternative="greater"``).
        confidence_level: The coverage of the interval: the level asked for, or, when the
            exact distribution cannot reach it (tiny arms), the level achieved (as R).
        alternative: "two-sided", "greater" or "less".
        method: "exact" (order statistics at quantiles of the exact distribution of ``U``) or
            "normal" (where the continuity-corrected normal statistic crosses its quantile).
        continuity: Whether the continuity correction was asked for (normal method only).
        n_control: Units in control.
        n_treatment: Units in treatment.
        notes: Why the method or the level differs from the one asked for, if they do.
    """

    estimate: float
    ci_lower: float
    ci_upper: float
    confidence_level: float
    alternative: Alternative
    method: RankMethod
    continuity: bool
    n_control: int
    n_treatment: int
    notes: tuple[str, ...] = ()

    @property
    def ci(self) -> tuple[float, float]:
        """The interval ``(ci_lower, ci_upper)``."""
        return self.ci_lower, self.ci_upper

    def to_dict(self) -> dict[str, Any]:
        """A flat dictionary of every field."""
        return asdict(self)


def _normal_bound_rank(
    pairs: int, sigma: float, z: float, alternative: Alternative, continuity: bool
) -> int:
    """The ``k`` such that R's normal-approximation bound for quantile ``z`` is ``D_(k)``.

    For a shift ``d`` strictly between two consecutive differences, ``c = #{D > d}`` treatment
    values of ``t - d`` exceed control values and none are tied, so R's statistic is
    ``g(c) = (c - pairs / 2 - cc) / sigma - z`` with ``sigma`` from the within-arm ties only. It
    does not decrease as ``c`` grows, so it changes sign at one difference: ``D_(k)`` with
    ``k`` the smallest in ``1 .. pairs`` such that ``g(pairs - k) <= 0``. uniroot converges to
    this point (``pairs`` if ``g`` stays positive: R then returns the largest difference).
    """

    def g(count: int) -> float:
        deviation = count - pairs / 2.0
        return (deviation - _correction(deviation, alternative, continuity)) / sigma - z

    count = min(max(math.floor(pairs / 2.0 + z * sigma), 0), pairs - 1)
    while count < pairs - 1 and g(count + 1) <= 0:
        count += 1
    while count >= 0 and g(count) > 0:
        count -= 1
    return pairs if count < 0 else pairs - count


def hodges_lehmann(
    control: ValueCounts | ArrayLike,
    treatment: ValueCounts | ArrayLike,
    *,
    alternative: str = "two-sided",
    confidence_level: float = 0.95,
    exact: ExactOption = "auto",
    continuity: bool = True,
) -> HodgesLehmannResult:
    """Hodges–Lehmann estimate of the shift ``treatment - control`` and its interval.

    The estimate is the median of the ``m = n_t n_c`` pairwise differences ``t_i - c_j``; the
    interval holds the shifts ``d`` that the Mann–Whitney test of ``treatment - d`` against
    ``control`` does not reject. Both bounds are order statistics ``D_(k)`` of the sorted
    differences:

    - **exact** (no ties): ``k = qwilcox(alpha / 2, n_t, n_c)`` (at least 1) and the interval
      is ``[D_(k), D_(m - k + 1)]`` (``alpha`` instead of ``alpha / 2`` one-sided). When the
      exact distribution cannot reach the level, the achieved level
      ``1 - 2 pwilcox(k - 1)`` is reported, as R does;
    - **normal**: the bounds are where the tie- and continuity-corrected statistic of the
      shifted sample crosses ``z_(1 - alpha / 2)`` and ``z_(alpha / 2)``: R finds them with
      ``uniroot`` (to ``tol.root = 1e-4``); here they are found exactly (see
      `_normal_bound_rank`), so R's bounds agree to that tolerance.

    This is R's ``wilcox.test(treatment, control, conf.int = TRUE, conf.level =
    confidence_level, exact = exact, correct = continuity)$conf.int`` and ``$estimate``, with
    the same choice of method (`mann_whitney_test`); with the normal method R's estimate is a
    uniroot of the uncorrected statistic, which lies between the two middle differences
    (within 1e-4) rather than at their mean.

    The differences are never formed: each order statistic is a bisection over doubles whose
    steps count pairs at or below a candidate, ``O((distinct_t + distinct_c) log distinct_c)``
    each, at most 64 steps; memory is a few arrays of the arms' distinct values.

    Args:
        control: The control values, as a 1-D array or a `ValueCounts`.
        treatment: The treatment values, likewise.
        alternative: "two-sided" (default), "greater" (a lower bound only) or "less".
        confidence_level: Coverage of the interval, in (0, 1) (default 0.95).
        exact: True, False, or "auto" / None (R's rule): see `mann_whitney_test`.
        continuity: Continuity correction of the normal method (default True, as R).

    Returns:
        The estimate, the interval, its level and the method.

    Raises:
        InputError: If a sample is empty or not finite, or an option is invalid.

    Examples:
        R's ``wilcox.test(treatment, control, conf.int = TRUE)`` prints
        ``-1.183 0.370`` and ``difference in location -0.560`` for these arms:

        >>> control = [1.83, 0.50, 1.62, 2.48, 1.68, 1.88, 1.55, 3.06, 1.30]
        >>> treatment = [0.878, 0.647, 0.598, 2.05, 1.06, 1.29, 1.07, 3.14, 1.28]
        >>> r = hodges_lehmann(control, treatment)
        >>> r.method, round(r.estimate, 3), round(r.ci_lower, 3), round(r.ci_upper, 3)
        ('exact', -0.56, -1.183, 0.37)

        With ties (two 1.06 and two 1.29) R refuses the exact interval and so does ablens:

        >>> treatment = [0.878, 0.647, 0.598, 2.05, 1.06, 1.29, 1.06, 3.14, 1.29]
        >>> r = hodges_lehmann(control, treatment)
        >>> r.method, round(r.ci_lower, 3), round(r.ci_upper, 3), r.notes[0][:12]
        ('normal', -1.183, 0.37, 'tied values:')
    """
    c = _as_value_counts("control", control)
    t = _as_value_counts("treatment", treatment)
    checked = check_alternative(alternative)
    level = check_confidence_level(confidence_level)
    correct = _check_continuity(continuity)
    n_c, n_t = c.n, t.n
    ties = c.has_ties or t.has_ties or np.intersect1d(c.values, t.values).size > 0
    method, notes = _resolve_method(exact, n_c, n_t, ties=ties)
    differences = _Differences(c, t)
    pairs = differences.pairs
    alpha = 1.0 - level
    tail = alpha / 2.0 if checked == "two-sided" else alpha
    lower, upper = -math.inf, math.inf
    if method == "exact":
        distribution = _ExactU(n_t, n_c)
        k = max(distribution.quantile(tail), 1)
        if checked != "less":
            lower = differences.order_statistic(k)
        if checked != "greater":
            upper = differences.order_statistic(pairs - k + 1)
        achieved = distribution.cdf(k - 1) * (2.0 if checked == "two-sided" else 1.0)
        if achieved - alpha > alpha / 2.0:
            notes += (
                (
                    f"the exact interval cannot reach {level:g} with {n_t} and {n_c} units; its "
                    f"level is {1.0 - achieved:.6g}"
                ),
            )
            level = 1.0 - achieved
    else:
        within = float(sum(int(k) ** 3 - int(k) for k in (*c.counts, *t.counts) if k > 1))
        n = n_c + n_t
        sigma = math.sqrt(n_t * n_c / 12.0 * ((n + 1) - within / (n * (n - 1))))
        z = float(special_functions().ndtri(1.0 - tail))
        if checked != "less":
            lower = differences.order_statistic(
                _normal_bound_rank(pairs, sigma, z, checked, correct)
            )
        if checked != "greater":
            upper = differences.order_statistic(
                _normal_bound_rank(pairs, sigma, -z, checked, correct)
            )
    return HodgesLehmannResult(
        estimate=differences.median(),
        ci_lower=lower,
        ci_upper=upper,
        confidence_level=level,
        alternative=checked,
        method=method,
        continuity=correct,
        n_control=n_c,
        n_treatment=n_t,
        notes=notes,
    )
