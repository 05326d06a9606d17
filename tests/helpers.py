"""Helpers shared by the test modules (tests/ is on the path, as for engines.py)."""

from __future__ import annotations

from scipy import stats


def binomial_range(n: int, rate: float, coverage: float = 0.999) -> tuple[int, int]:
    """Central range of Binomial(n, rate) holding ``coverage`` of its mass.

    Simulations count rejections (or misses) out of ``n`` runs; a count outside this range means
    the error rate is not ``rate``, with a chance of ``1 - coverage`` of a false alarm.
    """
    tail = (1 - coverage) / 2
    return int(stats.binom.ppf(tail, n, rate)), int(stats.binom.isf(tail, n, rate))
