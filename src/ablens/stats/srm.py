"""Sample-ratio mismatch: are units split between arms as the design said?

The check compares the observed arm counts with the declared allocation weights by one of:

* ``"chi2"`` (default): Pearson's chi-square goodness-of-fit test with ``k - 1`` degrees of
  freedom (R: ``chisq.test(counts, p = weights / sum(weights))``);
* ``"binomial"`` (two arms): the exact binomial test of the first arm's count (R:
  ``binom.test(x, n, p)``, two-sided, with R's definition of the two-sided p-value);
* ``"multinomial"``: the exact multinomial test, by enumeration of every split of the units
  (at most `MULTINOMIAL_ENUMERATION_BUDGET` of them);
* ``"auto"``: binomial for two arms, multinomial for more when the enumeration fits the budget,
  chi-square otherwise. The result records the method that ran.

A tiny p-value (ablens flags p < 0.001) means assignment or logging is broken and every effect
estimate is suspect (Fabijan et al., 2019, "Diagnosing Sample Ratio Mismatch"). `srm_power`
gives the chance that the check flags a given true imbalance.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from ablens._validation import (
    check_choice,
    check_count,
    check_open_unit_interval,
    check_positive,
)
from ablens.errors import InputError
from ablens.stats._inference import special_functions

if TYPE_CHECKING:
    from collections.abc import Callable

    import numpy as np
    from numpy.typing import NDArray

__all__ = [
    "DEFAULT_SRM_METHOD",
    "MULTINOMIAL_ENUMERATION_BUDGET",
    "SRM_METHODS",
    "SRMMethod",
    "SRMResult",
    "srm_power",
    "srm_test",
]

DEFAULT_SRM_ALPHA = 0.001

SRMMethod = Literal["auto", "chi2", "binomial", "multinomial"]
#: The methods of the sample-ratio check; "auto" picks one of the other three.
SRM_METHODS: tuple[SRMMethod, ...] = ("auto", "chi2", "binomial", "multinomial")
#: The method of the check unless told otherwise (R's ``chisq.test``).
DEFAULT_SRM_METHOD: SRMMethod = "chi2"
#: The most splits of ``n`` units into ``k`` arms (``C(n + k - 1, k - 1)``) that the exact
#: multinomial test enumerates: about 0.1 s and 50 MB. Three arms reach it at n = 1,412 units,
#: four at n = 180, five at n = 66.
MULTINOMIAL_ENUMERATION_BUDGET = 1_000_000

# R's tolerance for "no more probable than the observed outcome" (binom.test, fisher.test):
# outcomes whose probability ties the observed one up to rounding count as at least as extreme.
_RELATIVE_ERROR = 1 + 1e-7


#: Sample-ratio p-values below this, yet not below the blocking ``alpha``, get a note.
SRM_WATCH_LEVEL = 0.05


@dataclass(frozen=True)
class SRMResult:
    """The sample-ratio mismatch check.

    Attributes:
        arms: Arm labels, in the order of the other tuples.
        observed: Units observed per arm.
        expected: Units expected per arm under the declared weights.
        weights: Declared allocation, normalized to sum to 1.
        statistic: Pearson's chi-square (whichever method computed the p-value).
        df: Degrees of freedom, ``k - 1``.
        p_value: p-value of the method that ran.
        alpha: Threshold below which a mismatch is reported.
        method: The method that computed the p-value: "chi2", "binomial" or "multinomial"
            (never "auto").
    """

    arms: tuple[str, ...]
    observed: tuple[int, ...]
    expected: tuple[float, ...]
    weights: tuple[float, ...]
    statistic: float
    df: int
    p_value: float
    alpha: float = DEFAULT_SRM_ALPHA
    method: SRMMethod = "chi2"

    @property
    def mismatch(self) -> bool:
        """True when the split differs from the design beyond chance (``p_value < alpha``)."""
        return self.p_value < self.alpha

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dictionary."""
        return {
            "arms": list(self.arms),
            "observed": list(self.observed),
            "expected": list(self.expected),
            "weights": list(self.weights),
            "statistic": self.statistic,
            "df": self.df,
            "p_value": self.p_value,
            "alpha": self.alpha,
            "method": self.method,
            "mismatch": self.mismatch,
        }

    def __str__(self) -> str:
        split = ", ".join(
            f"{a}: {o} (expected {e:.1f})"
            for a, o, e in zip(self.arms, self.observed, self.expected, strict=True)
        )
        verdict = "MISMATCH" if self.mismatch else "ok"
        test = "" if self.method == "chi2" else f"exact {self.method} test, "
        text = (
            f"Sample ratio {verdict}: {test}chi2={self.statistic:.3f}, p={self.p_value:.4g}; "
            f"{split}"
        )
        if not self.mismatch and self.p_value < SRM_WATCH_LEVEL:
            # "ok" next to p=0.04 reads as a contradiction: name the threshold that blocks.
            text += (
                f"; p is below {SRM_WATCH_LEVEL:g} but not below the {self.alpha:g} threshold "
                "that declares a mismatch: watch the split"
            )
        return text


def _labelled_counts(
    counts: Mapping[str, int] | Sequence[int],
) -> tuple[tuple[str, ...], tuple[int, ...]]:
    if isinstance(counts, Mapping):
        arms = tuple(str(a) for a in counts)
        observed = tuple(check_count(f"counts[{a!r}]", counts[a]) for a in counts)
    else:
        arms = tuple(f"arm {i}" for i in range(len(counts)))
        observed = tuple(check_count(f"counts[{i}]", c) for i, c in enumerate(counts))
    if len(observed) < 2:
        raise InputError(f"counts has {len(observed)} arm(s), must have at least 2")
    return arms, observed


def _normalized_weights(
    arms: tuple[str, ...],
    labels: Mapping[str, object] | None,
    weights: Mapping[str, float] | Sequence[float] | None,
    *,
    against: str = "counts",
) -> tuple[float, ...]:
    """Weights in the order of ``arms``, checked positive and normalized to sum to 1.

    ``labels`` is the mapping the arms came from (None when they came from a sequence).
    """
    if weights is None:
        raw = [1.0] * len(arms)
    elif isinstance(weights, Mapping):
        if labels is None:
            raise InputError(
                f"weights is a mapping of arm labels but {against} is a sequence; pass "
                f"{against} as a mapping label -> value too, or weights as a sequence"
            )
        if set(weights) != set(labels):
            raise InputError(
                f"weights has arms {sorted(weights)}, must match {against}' arms {sorted(labels)}"
            )
        raw = [check_positive(f"weights[{a!r}]", weights[a]) for a in arms]
    else:
        if len(weights) != len(arms):
            raise InputError(f"weights has {len(weights)} entries, must have {len(arms)}")
        raw = [check_positive(f"weights[{i}]", w) for i, w in enumerate(weights)]
    total_weight = sum(raw)
    return tuple(w / total_weight for w in raw)


def _outcome_count(total: int, arms: int) -> int:
    """How many ways ``total`` units split into ``arms`` arms: ``C(total + arms - 1, arms - 1)``."""
    return math.comb(total + arms - 1, arms - 1)


def _resolve_method(method: SRMMethod, arms: int, total: int) -> SRMMethod:
    """The method that runs: "auto" resolved, and the exact methods checked to apply."""
    if method == "binomial" and arms != 2:
        raise InputError(
            f"method == 'binomial' with {arms} arms; the binomial test needs exactly 2 arms, "
            "use method='multinomial' (small experiments), 'chi2' or 'auto'"
        )
    outcomes = _outcome_count(total, arms)
    if method == "multinomial" and outcomes > MULTINOMIAL_ENUMERATION_BUDGET:
        raise InputError(
            f"method == 'multinomial' with {total} units in {arms} arms needs {outcomes:,} "
            f"outcomes enumerated, more than MULTINOMIAL_ENUMERATION_BUDGET == "
            f"{MULTINOMIAL_ENUMERATION_BUDGET:,}; use method='auto' (falls back to chi-square) "
            "or 'chi2'"
        )
    if method != "auto":
        return method
    if arms == 2:
        return "binomial"
    return "multinomial" if outcomes <= MULTINOMIAL_ENUMERATION_BUDGET else "chi2"


def srm_test(
    counts: Mapping[str, int] | Sequence[int],
    weights: Mapping[str, float] | Sequence[float] | None = None,
    *,
    alpha: float = DEFAULT_SRM_ALPHA,
    method: SRMMethod = DEFAULT_SRM_METHOD,
) -> SRMResult:
    """Test arm counts against allocation weights (chi-square, or an exact test).

    Args:
        counts: Units per arm, as a mapping label -> count or a sequence.
        weights: Declared allocation per arm (any positive scale); equal split if omitted.
        alpha: Threshold for flagging a mismatch (default 0.001).
        method: "chi2" (default, Pearson's chi-square), "binomial" (exact, two arms; the
            first arm's count against its weight, as ``binom.test``), "multinomial" (exact,
            by enumeration within `MULTINOMIAL_ENUMERATION_BUDGET` outcomes) or "auto"
            (binomial for two arms, else multinomial when within the budget, else chi2).

    Returns:
        The test result; ``result.mismatch`` says whether to distrust the experiment and
        ``result.method`` which method ran.

    Raises:
        InputError: On negative or fractional counts, fewer than two arms, no units, weights
            that are not positive or do not match the arms, an unknown method, "binomial" with
            more than two arms, or "multinomial" beyond the enumeration budget.

    Examples:
        >>> r = srm_test({"control": 50_000, "treatment": 50_600})
        >>> round(r.statistic, 4), round(r.p_value, 6), r.mismatch
        (3.5785, 0.058531, False)
        >>> r = srm_test({"control": 40, "treatment": 62}, method="auto")
        >>> r.method, round(r.p_value, 6)
        ('binomial', 0.037067)
        >>> srm_test([30, 12, 18], method="auto").method
        'multinomial'
    """
    alpha = check_open_unit_interval("alpha", alpha)
    check_choice("method", method, SRM_METHODS)
    arms, observed = _labelled_counts(counts)
    labels = counts if isinstance(counts, Mapping) else None
    normalized = _normalized_weights(arms, labels, weights)
    total = sum(observed)
    if total == 0:
        raise InputError("counts are all 0; there are no units to check")
    expected = tuple(total * w for w in normalized)
    statistic = sum((o - e) ** 2 / e for o, e in zip(observed, expected, strict=True))
    df = len(arms) - 1
    used = _resolve_method(method, len(arms), total)
    if used == "binomial":
        p_value = _binomial_p_value(observed[0], total, normalized[0])
    elif used == "multinomial":
        p_value = _multinomial_p_value(observed, normalized)
    else:
        p_value = float(special_functions().chdtrc(df, statistic))
    return SRMResult(arms, observed, expected, normalized, statistic, df, p_value, alpha, used)


# ------------------------------------------------------------------------------ exact binomial


class _Binomial:
    """Binomial(n, p): R's two-sided ``binom.test`` p-value, and its rejection region."""

    def __init__(self, n: int, p: float) -> None:
        from scipy import stats  # noqa: PLC0415 - scipy.stats is slow to import; only here

        self.n, self.p, self.mean = n, p, n * p
        # scipy.stats' binomial (Boost) agrees with R's pbinom to ~1e-13 at n = 1e8, where
        # scipy.special.bdtr (Cephes) is off by ~3e-7.
        self._law = stats.binom(n, p)

    def pmf(self, x: int) -> float:
        return float(self._law.pmf(x))

    def cdf(self, x: int) -> float:
        """P(X <= x)."""
        if x < 0:
            return 0.0
        return 1.0 if x >= self.n else float(self._law.cdf(x))

    def sf(self, x: int) -> float:
        """P(X > x)."""
        if x < 0:
            return 1.0
        return 0.0 if x >= self.n else float(self._law.sf(x))

    def p_value(self, x: int) -> float:
        """``binom.test(x, n, p)$p.value``, two-sided.

        The probability of the outcomes no more likely than ``x`` (up to R's relative tolerance
        1e-7). The pmf does not increase away from the mean on either side, so the count of such
        outcomes on the far side is found by bisection instead of R's full scan.
        """
        n, m = self.n, self.mean
        if x == m:
            return 1.0
        threshold = self.pmf(x) * _RELATIVE_ERROR
        if x < m:
            # First i in [ceil(m), n] with pmf(i) <= threshold; every later one is too.
            first = _first_true(math.ceil(m), n + 1, lambda i: self.pmf(i) <= threshold)
            count = n + 1 - first
            return min(1.0, self.cdf(x) + self.sf(n - count))
        # Last i in [0, floor(m)] with pmf(i) <= threshold, plus one: how many there are.
        count = _first_true(0, math.floor(m) + 1, lambda i: self.pmf(i) > threshold)
        return min(1.0, self.cdf(count - 1) + self.sf(x - 1))

    def rejection_region(self, alpha: float) -> tuple[int, int]:
        """``(a, b)``: the test rejects (p < alpha) exactly when ``x <= a`` or ``x >= b``.

        The p-value grows towards the mean on each side, so both edges come by bisection.
        """
        n, m = self.n, self.mean
        below = math.ceil(m)  # x in [0, below) lies below the mean
        a = _first_true(0, below, lambda x: self.p_value(x) >= alpha) - 1
        b = _first_true(math.floor(m) + 1, n + 1, lambda x: self.p_value(x) < alpha)
        return a, b


def _first_true(low: int, high: int, condition: Callable[[int], bool]) -> int:
    """The first integer in ``[low, high)`` where ``condition`` holds (``high`` if none).

    ``condition`` must be monotone on the range: False, then True.
    """
    while low < high:
        middle = (low + high) // 2
        if condition(middle):
            high = middle
        else:
            low = middle + 1
    return low


def _binomial_p_value(x: int, n: int, p: float) -> float:
    return _Binomial(n, p).p_value(x)


# --------------------------------------------------------------------------- exact multinomial


def _log_probabilities(
    total: int, probability_vectors: Sequence[Sequence[float]]
) -> list[NDArray[np.float64]]:
    """Multinomial log-probabilities of every split of ``total`` units, one array per vector.

    Every vector sees the splits in the same order. Built arm by arm: each partial split
    (units left to place) grows into one row per count of the next arm; the last arm takes the
    rest.
    """
    import numpy as np  # noqa: PLC0415 - only the exact test needs arrays

    special = special_functions()
    log_factorial = special.gammaln(np.arange(total + 1, dtype=float) + 1)
    arms = len(probability_vectors[0])
    remaining = np.array([total], dtype=np.int64)
    sums = [np.zeros(1) for _ in probability_vectors]
    for arm in range(arms - 1):
        repeats = remaining + 1
        parent = np.repeat(np.arange(len(remaining)), repeats)
        starts = np.cumsum(repeats) - repeats
        count = np.arange(int(repeats.sum())) - np.repeat(starts, repeats)
        remaining = remaining[parent] - count
        for j, vector in enumerate(probability_vectors):
            sums[j] = sums[j][parent] + count * math.log(vector[arm]) - log_factorial[count]
    for j, vector in enumerate(probability_vectors):
        sums[j] += remaining * math.log(vector[-1]) - log_factorial[remaining]
        sums[j] += log_factorial[total]
    return sums


def _log_probability(observed: Sequence[int], probabilities: Sequence[float]) -> float:
    special = special_functions()
    total = sum(observed)
    value = float(special.gammaln(total + 1))
    for o, p in zip(observed, probabilities, strict=True):
        value += o * math.log(p) - float(special.gammaln(o + 1))
    return value


def _multinomial_p_value(observed: Sequence[int], probabilities: Sequence[float]) -> float:
    """Sum of the probabilities of every split no more likely than the observed one."""
    import numpy as np  # noqa: PLC0415 - only the exact test needs arrays

    (log_null,) = _log_probabilities(sum(observed), [probabilities])
    null = np.exp(log_null)
    threshold = math.exp(_log_probability(observed, probabilities)) * _RELATIVE_ERROR
    return min(1.0, float(null[null <= threshold].sum()))


# ------------------------------------------------------------------------------------- power


def srm_power(
    count: int,
    shares: float | Mapping[str, float] | Sequence[float],
    weights: Mapping[str, float] | Sequence[float] | None = None,
    *,
    alpha: float = DEFAULT_SRM_ALPHA,
    method: SRMMethod = DEFAULT_SRM_METHOD,
) -> float:
    """The chance that the sample-ratio check flags a given true imbalance.

    With ``count`` units assigned to the arms with the true probabilities ``shares`` while the
    design declares ``weights``, this is the probability that `srm_test` (same ``alpha`` and
    ``method``) reports a mismatch. For "chi2" it is the noncentral chi-square approximation
    ``P(chi2(k - 1, ncp) > q)``, with ``q`` the test's critical value and
    ``ncp = count * sum((s_i - w_i)^2 / w_i)``; for the exact methods it is exact: the true
    probability of the outcomes the test rejects.

    Args:
        count: Total units in the experiment (``n >= 1``).
        shares: True share of units per arm, each in (0, 1) and summing to 1, as a mapping
            label -> share or a sequence; a single number ``s`` means two arms ``(s, 1 - s)``.
        weights: Declared allocation (any positive scale), in the order or with the labels of
            ``shares``; equal split if omitted.
        alpha: Threshold of the check (default 0.001).
        method: "chi2" (default), "binomial", "multinomial" or "auto", as in `srm_test`
            ("auto" resolves for ``count`` units as the test would).

    Returns:
        The power, in [0, 1]; equal shares and weights give the false-alarm rate.

    Raises:
        InputError: On a count below 1, shares outside (0, 1) or not summing to 1, weights
            that do not match, an unknown method, or an exact method that does not apply.

    Examples:
        >>> round(srm_power(100_000, 0.495), 4)  # a 49.5 / 50.5 split of 100,000 units
        0.449
        >>> round(srm_power(200_000, 0.495), 4)
        0.8813
        >>> round(srm_power(2_000, [0.45, 0.55], method="binomial"), 4)
        0.8741
    """
    alpha = check_open_unit_interval("alpha", alpha)
    check_choice("method", method, SRM_METHODS)
    count = check_count("count", count, minimum=1)
    if isinstance(shares, Mapping):
        arms = tuple(str(a) for a in shares)
        true = [check_open_unit_interval(f"shares[{a!r}]", shares[a]) for a in shares]
        labels: Mapping[str, object] | None = shares
    elif isinstance(shares, Sequence):
        arms = tuple(f"arm {i}" for i in range(len(shares)))
        true = [check_open_unit_interval(f"shares[{i}]", s) for i, s in enumerate(shares)]
        labels = None
    else:
        first = check_open_unit_interval("shares", shares)
        arms, true, labels = ("arm 0", "arm 1"), [first, 1 - first], None
    if len(true) < 2:
        raise InputError(f"shares has {len(true)} arm(s), must have at least 2")
    if abs(math.fsum(true) - 1) > 1e-9:
        raise InputError(
            f"shares sum to {math.fsum(true)!r}, must sum to 1 (they are the true probability "
            "of each arm; give planned allocations as weights)"
        )
    total_share = math.fsum(true)
    true = [s / total_share for s in true]
    null = _normalized_weights(arms, labels, weights, against="shares")
    used = _resolve_method(method, len(arms), count)
    if used == "binomial":
        binomial = _Binomial(count, null[0])
        a, b = binomial.rejection_region(alpha)
        actual = _Binomial(count, true[0])
        return min(1.0, actual.cdf(a) + actual.sf(b - 1))
    if used == "multinomial":
        return _multinomial_power(count, true, null, alpha)
    special = special_functions()
    df = len(arms) - 1
    noncentrality = count * math.fsum((s - w) ** 2 / w for s, w in zip(true, null, strict=True))
    critical = float(special.chdtri(df, alpha))
    if noncentrality == 0:
        return float(special.chdtrc(df, critical))
    return float(1 - special.chndtr(critical, df, noncentrality))


def _multinomial_power(
    count: int, true: Sequence[float], null: Sequence[float], alpha: float
) -> float:
    """True probability of the splits whose exact multinomial p-value is below ``alpha``."""
    import numpy as np  # noqa: PLC0415 - only the exact test needs arrays

    log_null, log_true = _log_probabilities(count, [null, true])
    null_probability = np.exp(log_null)
    ordered = np.sort(null_probability)
    cumulative = np.cumsum(ordered)
    # Each split's p-value: the null mass of the splits no more likely than it (R's tolerance).
    position = np.searchsorted(ordered, null_probability * _RELATIVE_ERROR, side="right")
    p_values = np.minimum(cumulative[position - 1], 1.0)
    return min(1.0, float(np.exp(log_true[p_values < alpha]).sum()))
