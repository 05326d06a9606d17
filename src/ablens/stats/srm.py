"""Sample-ratio mismatch: are units split between arms as the design said?

Pearson's chi-square goodness-of-fit test of the observed arm counts against the declared
allocation weights, with ``k - 1`` degrees of freedom
(R: ``chisq.test(counts, p = weights / sum(weights))``).
A tiny p-value (ablens flags p < 0.001) means assignment or logging is broken and every effect
estimate is suspect (Fabijan et al., 2019, "Diagnosing Sample Ratio Mismatch").
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ablens._validation import check_count, check_open_unit_interval, check_positive
from ablens.errors import InputError
from ablens.stats._inference import special_functions

__all__ = ["SRMResult", "srm_test"]

DEFAULT_SRM_ALPHA = 0.001


@dataclass(frozen=True)
class SRMResult:
    """The sample-ratio mismatch check.

    Attributes:
        arms: Arm labels, in the order of the other tuples.
        observed: Units observed per arm.
        expected: Units expected per arm under the declared weights.
        weights: Declared allocation, normalized to sum to 1.
        statistic: Pearson's chi-square.
        df: Degrees of freedom, ``k - 1``.
        p_value: Upper-tail p-value.
        alpha: Threshold below which a mismatch is reported.
    """

    arms: tuple[str, ...]
    observed: tuple[int, ...]
    expected: tuple[float, ...]
    weights: tuple[float, ...]
    statistic: float
    df: int
    p_value: float
    alpha: float = DEFAULT_SRM_ALPHA

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
            "mismatch": self.mismatch,
        }

    def __str__(self) -> str:
        split = ", ".join(
            f"{a}: {o} (expected {e:.1f})"
            for a, o, e in zip(self.arms, self.observed, self.expected, strict=True)
        )
        verdict = "MISMATCH" if self.mismatch else "ok"
        return f"Sample ratio {verdict}: chi2={self.statistic:.3f}, p={self.p_value:.4g}; {split}"


def srm_test(
    counts: Mapping[str, int] | Sequence[int],
    weights: Mapping[str, float] | Sequence[float] | None = None,
    *,
    alpha: float = DEFAULT_SRM_ALPHA,
) -> SRMResult:
    """Chi-square goodness-of-fit test of arm counts against allocation weights.

    Args:
        counts: Units per arm, as a mapping label -> count or a sequence.
        weights: Declared allocation per arm (any positive scale); equal split if omitted.
        alpha: Threshold for flagging a mismatch (default 0.001).

    Returns:
        The test result; ``result.mismatch`` says whether to distrust the experiment.

    Examples:
        >>> r = srm_test({"control": 50_000, "treatment": 50_600})
        >>> round(r.statistic, 4), round(r.p_value, 6), r.mismatch
        (3.5785, 0.058531, False)
    """
    alpha = check_open_unit_interval("alpha", alpha)
    if isinstance(counts, Mapping):
        arms = tuple(str(a) for a in counts)
        observed = tuple(check_count(f"counts[{a!r}]", counts[a]) for a in counts)
    else:
        arms = tuple(f"arm {i}" for i in range(len(counts)))
        observed = tuple(check_count(f"counts[{i}]", c) for i, c in enumerate(counts))
    if len(observed) < 2:
        raise InputError(f"counts has {len(observed)} arm(s), must have at least 2")
    if weights is None:
        raw = [1.0] * len(arms)
    elif isinstance(weights, Mapping):
        if not isinstance(counts, Mapping):
            raise InputError(
                "weights is a mapping of arm labels but counts is a sequence; pass counts as "
                "a mapping label -> count too, or weights as a sequence"
            )
        if set(weights) != set(counts):
            raise InputError(
                f"weights has arms {sorted(weights)}, must match counts' arms {sorted(counts)}"
            )
        raw = [check_positive(f"weights[{a!r}]", weights[a]) for a in arms]
    else:
        if len(weights) != len(arms):
            raise InputError(f"weights has {len(weights)} entries, must have {len(arms)}")
        raw = [check_positive(f"weights[{i}]", w) for i, w in enumerate(weights)]
    total_weight = sum(raw)
    normalized = tuple(w / total_weight for w in raw)
    total = sum(observed)
    if total == 0:
        raise InputError("counts are all 0; there are no units to check")
    expected = tuple(total * w for w in normalized)
    statistic = sum((o - e) ** 2 / e for o, e in zip(observed, expected, strict=True))
    df = len(arms) - 1
    p_value = float(special_functions().chdtrc(df, statistic))
    return SRMResult(arms, observed, expected, normalized, statistic, df, p_value, alpha)
