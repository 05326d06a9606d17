"""The Mann–Whitney U (Wilcoxon rank-sum) test, from rank sums an engine can compute.

The test needs, per comparison, four numbers (a `RankSummary`): the two arm sizes, the sum of the
treatment's ranks in the pooled sample (ties get the average of the ranks they span) and the tie
term ``sum(t^3 - t)`` over groups of equal values. An engine computes them with a ``rank()``
window over the pooled arms and a group-by on the value; `rank_summary_from_arrays` computes them
from in-memory arrays.

`mann_whitney_test` then applies the normal approximation with the tie-corrected variance and,
by default, a continuity correction: the numbers R's
``wilcox.test(treatment, control, exact = FALSE, correct = TRUE)`` reports.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from ablens._validation import check_count, check_real
from ablens.errors import InputError
from ablens.stats._inference import Alternative, check_alternative, special_functions

if TYPE_CHECKING:
    from numpy.typing import ArrayLike, NDArray

__all__ = ["MannWhitneyResult", "RankSummary", "mann_whitney_test", "rank_summary_from_arrays"]


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


@dataclass(frozen=True)
class MannWhitneyResult:
    """The Mann–Whitney U test of one comparison (normal approximation).

    Attributes:
        u_statistic: ``U`` of the treatment: pairs (treatment, control) in which the treatment
            value is larger, ties counting one half (R's ``W`` for ``wilcox.test(treatment,
            control)``).
        z: The standardized statistic, after the continuity correction when one is applied.
        p_value: p-value from the standard normal.
        probability_of_superiority: ``U / (n_t n_c)``, an estimate of
            ``P(T > C) + P(T = C) / 2`` for a random treatment unit ``T`` and control unit ``C``
            (the common-language effect size; 0.5 under the null).
        alternative: "two-sided", "greater" (treatment values tend to be larger) or "less".
        continuity: Whether the continuity correction was applied.
        n_control: Units in control.
        n_treatment: Units in treatment.
    """

    u_statistic: float
    z: float
    p_value: float
    probability_of_superiority: float
    alternative: Alternative
    continuity: bool
    n_control: int
    n_treatment: int

    def to_dict(self) -> dict[str, Any]:
        """A flat dictionary of every field."""
        return asdict(self)


def mann_whitney_test(
    summary: RankSummary,
    *,
    alternative: str = "two-sided",
    continuity: bool = True,
) -> MannWhitneyResult:
    """Mann–Whitney U test of treatment against control, from a `RankSummary`.

    With ``U`` the treatment's U statistic and ``N = n_t + n_c``::

        mean  = n_t n_c / 2
        var   = n_t n_c / 12 * ((N + 1) - tie_term / (N (N - 1)))
        z     = (U - mean - cc) / sqrt(var)

    where the continuity correction ``cc`` is ``0.5 sign(U - mean)`` two-sided, ``+0.5`` for
    "greater" and ``-0.5`` for "less" (0 with ``continuity=False``). These are the statistic and
    p-value of R's ``wilcox.test(treatment, control, exact = FALSE, correct = continuity)``.

    Args:
        summary: Arm sizes, the treatment's rank sum and the tie term.
        alternative: "two-sided" (default), "greater" (treatment values tend to be larger than
            control values, i.e. ``P(T > C) + P(T = C) / 2 > 1/2``) or "less".
        continuity: Apply the continuity correction (default True, as R).

    Returns:
        The statistic, its p-value and the probability of superiority.

    Raises:
        InputError: If ``summary`` is not a `RankSummary`, ``alternative`` is unknown,
            ``continuity`` is not a bool, or every value is tied (the statistic has no variance).

    Examples:
        >>> s = rank_summary_from_arrays([1.1, 2.0, 2.0, 3.5, 0.4], [2.0, 4.2, 5.0, 3.5, 6.1, 2.6])
        >>> r = mann_whitney_test(s)
        >>> (
        ...     r.u_statistic,
        ...     round(r.z, 4),
        ...     round(r.p_value, 4),
        ...     round(r.probability_of_superiority, 3),
        ... )
        (26.5, 2.0315, 0.0422, 0.883)
        >>> round(mann_whitney_test(s, alternative="greater").p_value, 4)
        0.0211
    """
    if not isinstance(summary, RankSummary):
        raise InputError(
            f"summary == {summary!r}, must be a RankSummary (see rank_summary_from_arrays)"
        )
    checked = check_alternative(alternative)
    if not isinstance(continuity, bool | np.bool_):
        raise InputError(f"continuity == {continuity!r}, must be True or False")
    n_c, n_t, n = summary.n_control, summary.n_treatment, summary.n_total
    u = summary.u_statistic
    deviation = u - n_t * n_c / 2.0
    variance = n_t * n_c / 12.0 * ((n + 1) - summary.tie_term / (n * (n - 1)))
    if variance <= 0:
        raise InputError(
            f"tie_term == {summary.tie_term!r} == N^3 - N: all {n} values are equal, so the "
            "rank test has no variance and no test is possible"
        )
    correction = 0.0
    if continuity:
        if checked == "two-sided":
            correction = 0.5 * float(np.sign(deviation))
        else:
            correction = 0.5 if checked == "greater" else -0.5
    z = (deviation - correction) / float(np.sqrt(variance))
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
        probability_of_superiority=u / (n_t * n_c),
        alternative=checked,
        continuity=bool(continuity),
        n_control=n_c,
        n_treatment=n_t,
    )
