"""Bootstrap intervals and permutation tests for any statistic of the two arms' raw values.

Unlike the rest of `ablens.stats`, these methods need every unit's value in memory (8 bytes per
value), plus working arrays of ``batch_size`` resamples at a time; each result states the size of
those working arrays in ``memory_bytes``.

The statistic is a function of the two samples, ``statistic(control, treatment)``. It is
*vectorized* by default: it receives two 2-D arrays holding one resample per row (the arm's
values along the last axis) and returns one value per row, e.g.
``lambda c, t: t.mean(axis=-1) - c.mean(axis=-1)``. With ``vectorized=False`` it receives two
1-D arrays and returns one number, and is called once per resample. It must not modify its
arguments (the jackknife passes read-only views).

For a given ``seed`` and ``batch_size`` the resamples are those `scipy.stats.bootstrap` and
`scipy.stats.permutation_test` draw with ``rng=numpy.random.default_rng(seed)`` and
``batch=batch_size``, so their results agree to rounding.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import Any, Literal, cast

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ablens._validation import check_choice, check_count
from ablens.errors import DataError, InputError
from ablens.stats._inference import (
    Alternative,
    check_alternative,
    check_confidence_level,
    special_functions,
)
from ablens.stats.nonparametric import check_sample

__all__ = [
    "BootstrapMethod",
    "BootstrapResult",
    "PermutationResult",
    "TwoSampleStatistic",
    "bootstrap",
    "permutation_test",
]

FloatArray = NDArray[np.float64]
TwoSampleStatistic = Callable[[FloatArray, FloatArray], ArrayLike]
"""``statistic(control, treatment)``: 2-D in, one value per row out (or 1-D in, a number out)."""

BootstrapMethod = Literal["bca", "percentile"]
BOOTSTRAP_METHODS: tuple[BootstrapMethod, ...] = ("bca", "percentile")

MIN_RESAMPLES = 100
DEFAULT_BATCH_BYTES = 4 * 2**20
"""Working-memory budget that sets ``batch_size`` when it is not given: 4 MiB.

Small batches stay in the processor's cache, which makes them faster than large ones as well as
lighter; a batch always holds at least one resample, whatever its size.
"""
_TIE_TOLERANCE = 100 * float(np.finfo(np.float64).eps)


@dataclass(frozen=True)
class BootstrapResult:
    """A bootstrap confidence interval of a two-sample statistic.

    Attributes:
        estimate: The statistic on the data.
        ci_lower: Lower bound (``-inf`` for ``alternative="less"``).
        ci_upper: Upper bound (``inf`` for ``alternative="greater"``).
        standard_error: Standard deviation (``ddof=1``) of the bootstrap replicates.
        method: "bca" or "percentile".
        confidence_level: Coverage of the interval.
        alternative: "two-sided", "greater" or "less": which bounds are finite.
        n_resamples: Bootstrap replicates drawn.
        seed: Seed of ``numpy.random.default_rng`` (drawn fresh, and recorded, when not given).
        batch_size: Resamples drawn and evaluated at a time.
        memory_bytes: Size of the per-batch working arrays: the int64 resample indices and the
            float64 values they gather, ``batch_size * (n_control + n_treatment) * 16`` bytes,
            on top of the data themselves and whatever the statistic allocates.
        bias_correction: BCa's ``z0`` (None for the percentile method).
        acceleration: BCa's ``a`` (None for the percentile method).
        distribution: The bootstrap replicates, in the order drawn (read-only).
    """

    estimate: float
    ci_lower: float
    ci_upper: float
    standard_error: float
    method: BootstrapMethod
    confidence_level: float
    alternative: Alternative
    n_resamples: int
    seed: int
    batch_size: int
    memory_bytes: int
    bias_correction: float | None = None
    acceleration: float | None = None
    distribution: FloatArray = field(default_factory=lambda: np.empty(0), repr=False, compare=False)

    @property
    def ci(self) -> tuple[float, float]:
        """The interval ``(ci_lower, ci_upper)``."""
        return self.ci_lower, self.ci_upper

    def to_dict(self) -> dict[str, Any]:
        """Every field but the replicates, as a flat dictionary."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "distribution"}


@dataclass(frozen=True)
class PermutationResult:
    """A permutation test of a two-sample statistic.

    Attributes:
        statistic: The statistic on the data.
        p_value: Monte Carlo p-value ``(count + 1) / (n_resamples + 1)``, where ``count`` is the
            number of permutations whose statistic is at least as extreme as the observed one;
            two-sided, twice the smaller one-sided p-value, at most 1.
        alternative: "two-sided", "greater" (the statistic tends to be larger than under the
            null) or "less".
        n_resamples: Random permutations drawn.
        seed: Seed of ``numpy.random.default_rng`` (drawn fresh, and recorded, when not given).
        batch_size: Permutations drawn and evaluated at a time.
        memory_bytes: Size of the per-batch working array of permuted float64 values,
            ``batch_size * (n_control + n_treatment) * 8`` bytes.
        null_mean: Mean of the statistic over the permutations.
        null_standard_deviation: Its standard deviation (``ddof=1``).
        null_distribution: The statistic on each permutation, in the order drawn (read-only).
    """

    statistic: float
    p_value: float
    alternative: Alternative
    n_resamples: int
    seed: int
    batch_size: int
    memory_bytes: int
    null_mean: float
    null_standard_deviation: float
    null_distribution: FloatArray = field(
        default_factory=lambda: np.empty(0), repr=False, compare=False
    )

    def to_dict(self) -> dict[str, Any]:
        """Every field but the null distribution, as a flat dictionary."""
        return {
            f.name: getattr(self, f.name) for f in fields(self) if f.name != "null_distribution"
        }


# ---------------------------------------------------------------------------------------------
# Argument checks and evaluation


def _check_seed(seed: object) -> int:
    if seed is None:
        # Fresh entropy, recorded in the result so that the run can be repeated.
        return int(cast("int", np.random.SeedSequence().entropy))
    if isinstance(seed, bool | np.bool_) or not isinstance(seed, int | np.integer) or seed < 0:
        raise InputError(f"seed == {seed!r}, must be None or a non-negative integer")
    return int(seed)


def _check_batch_size(batch_size: object, n_resamples: int, bytes_per_row: int) -> int:
    if batch_size is None:
        return max(1, min(n_resamples, DEFAULT_BATCH_BYTES // bytes_per_row))
    return min(check_count("batch_size", batch_size, minimum=1), n_resamples)


def _vectorize(statistic: object, vectorized: object) -> Callable[[FloatArray, FloatArray], object]:
    if not callable(statistic):
        raise InputError(f"statistic == {statistic!r}, must be callable")
    if not isinstance(vectorized, bool | np.bool_):
        raise InputError(f"vectorized == {vectorized!r}, must be True or False")
    if vectorized:
        return cast("Callable[[FloatArray, FloatArray], object]", statistic)

    def looped(control: FloatArray, treatment: FloatArray) -> FloatArray:
        values = [_scalar(statistic(c, t)) for c, t in zip(control, treatment, strict=True)]
        return np.array(values, dtype=np.float64)

    return looped


def _scalar(value: object) -> float:
    array = np.asarray(value, dtype=np.float64)
    if array.size != 1:
        raise InputError(
            f"statistic returned an array of shape {array.shape}, must return one number when "
            "vectorized=False"
        )
    return float(array.reshape(()))


def _evaluate(
    statistic: Callable[[FloatArray, FloatArray], object],
    control: FloatArray,
    treatment: FloatArray,
) -> FloatArray:
    """The statistic on each row of ``control`` / ``treatment``, checked for shape."""
    rows = control.shape[0]
    try:
        values = np.asarray(statistic(control, treatment), dtype=np.float64)
    except InputError:
        raise
    except (TypeError, ValueError) as error:
        raise InputError(f"statistic failed on {rows} resample(s): {error}") from error
    if values.shape != (rows,):
        raise InputError(
            f"statistic returned shape {values.shape} for {rows} resample(s), must return "
            f"shape ({rows},): one value per row, reducing along the last axis (axis=-1); "
            "pass vectorized=False for a statistic of two 1-D arrays"
        )
    return values


def _observed(
    statistic: Callable[[FloatArray, FloatArray], object],
    control: FloatArray,
    treatment: FloatArray,
) -> float:
    value = float(_evaluate(statistic, control[np.newaxis, :], treatment[np.newaxis, :])[0])
    if not math.isfinite(value):
        raise InputError(f"statistic returned {value!r} on the data, must return a finite number")
    return value


def _check_finite(values: FloatArray, what: str) -> None:
    bad = int(np.count_nonzero(~np.isfinite(values)))
    if bad:
        raise InputError(
            f"statistic returned {bad} NaN or infinite value(s) over {values.size} {what}, "
            "must be finite on every resample (e.g. guard a ratio against a zero denominator)"
        )


def _read_only(values: FloatArray) -> FloatArray:
    values.flags.writeable = False
    return values


# ---------------------------------------------------------------------------------------------
# Bootstrap


def bootstrap(
    statistic: TwoSampleStatistic,
    control: ArrayLike,
    treatment: ArrayLike,
    *,
    n_resamples: int = 10_000,
    confidence_level: float = 0.95,
    method: BootstrapMethod = "bca",
    alternative: str = "two-sided",
    seed: int | None = None,
    batch_size: int | None = None,
    vectorized: bool = True,
) -> BootstrapResult:
    """Bootstrap confidence interval of ``statistic(control, treatment)``.

    Each replicate resamples each arm independently, with replacement and at its own size (a
    bootstrap stratified by arm, as the randomization fixed the arm sizes). The percentile
    interval takes the ``alpha`` and ``1 - alpha`` quantiles of the replicates (linear
    interpolation). BCa (Efron, 1987) shifts those quantile levels to::

        alpha_adj = Phi(z0 + (z0 + z_alpha) / (1 - a (z0 + z_alpha)))

        z0 = Phi^-1((#{replicates < estimate} + #{replicates <= estimate}) / (2 B))
        a  = sum_j sum_i U_ji^3 / n_j^3 / (6 (sum_j sum_i U_ji^2 / n_j^2)^(3/2))
        U_ji = (n_j - 1) (mean_i theta_j(-i) - theta_j(-i))

    where ``theta_j(-i)`` is the statistic with unit ``i`` of arm ``j`` left out (a jackknife
    over both arms, ``n_c + n_t`` evaluations, each arm weighted by its own size), the form of
    `scipy.stats.bootstrap`. ``alpha = (1 - confidence_level) / 2`` two-sided and
    ``1 - confidence_level`` one-sided, with the other bound infinite.

    Replicates are drawn ``batch_size`` at a time from ``numpy.random.default_rng(seed)``: per
    batch, the control's indices (``batch_size x n_c``), then the treatment's. The draws, so the
    result, depend on both ``seed`` and ``batch_size``; both are recorded in the result. The
    jackknife runs in the same batches.

    Args:
        statistic: ``statistic(control, treatment)``; see the module documentation.
        control: Control values, a 1-D sequence of at least 2 finite numbers.
        treatment: Treatment values, likewise.
        n_resamples: Bootstrap replicates, at least 100 (at least 1,000 for a 95% interval,
            10,000 for stable bounds).
        confidence_level: Coverage, in (0, 1).
        method: "bca" (default) or "percentile".
        alternative: "two-sided" (default), "greater" (``[lower, inf)``) or "less"
            (``(-inf, upper]``).
        seed: Seed for ``numpy.random.default_rng``; None draws fresh entropy (recorded).
        batch_size: Resamples per batch; by default as many as fit in 4 MiB of working arrays
            (`DEFAULT_BATCH_BYTES`), and at least one.
        vectorized: Whether ``statistic`` takes 2-D arrays of resamples (default) or two 1-D
            arrays.

    Returns:
        The estimate, the interval, the bootstrap standard error and the replicates.

    Raises:
        InputError: On empty or one-value arms, NaN or infinite values, ``n_resamples < 100``, a
            confidence level outside (0, 1), an unknown method or alternative, a bad seed or
            batch size, or a statistic of the wrong shape or with non-finite values.
        DataError: When BCa is undefined: every replicate lies strictly on one side of the
            estimate, or the acceleration is too large for the level.

    Examples:
        >>> import numpy as np
        >>> rng = np.random.default_rng(1)
        >>> control, treatment = rng.exponential(1.0, 200), rng.exponential(1.3, 200)
        >>> def diff_in_means(c, t):
        ...     return t.mean(axis=-1) - c.mean(axis=-1)
        >>> r = bootstrap(diff_in_means, control, treatment, n_resamples=2000, seed=7)
        >>> round(r.estimate, 3), [round(b, 3) for b in r.ci], round(r.standard_error, 3)
        (0.125, [-0.103, 0.346], 0.115)
        >>> r.batch_size, r.memory_bytes  # 655 resamples x 400 values x (8-byte index + value)
        (655, 4192000)
    """
    c = check_sample("control", control, minimum=2)
    t = check_sample("treatment", treatment, minimum=2)
    n_resamples = check_count("n_resamples", n_resamples, minimum=MIN_RESAMPLES)
    confidence_level = check_confidence_level(confidence_level)
    method = check_choice("method", method, BOOTSTRAP_METHODS)
    checked_alternative = check_alternative(alternative)
    seed = _check_seed(seed)
    evaluate = _vectorize(statistic, vectorized)
    n_c, n_t = c.size, t.size
    bytes_per_row = (n_c + n_t) * 16  # int64 index + float64 value per resampled unit
    batch = _check_batch_size(batch_size, n_resamples, bytes_per_row)

    estimate = _observed(evaluate, c, t)
    rng = np.random.default_rng(seed)
    replicates = np.empty(n_resamples, dtype=np.float64)
    for start in range(0, n_resamples, batch):
        rows = min(batch, n_resamples - start)
        index_c = rng.integers(0, n_c, size=(rows, n_c))
        index_t = rng.integers(0, n_t, size=(rows, n_t))
        replicates[start : start + rows] = _evaluate(evaluate, c[index_c], t[index_t])
    _check_finite(replicates, "bootstrap resamples")

    special = special_functions()
    alpha = (
        (1 - confidence_level) / 2 if checked_alternative == "two-sided" else 1 - confidence_level
    )
    z0: float | None = None
    a: float | None = None
    if method == "percentile":
        levels = (alpha, 1 - alpha)
    else:
        below = np.count_nonzero(replicates < estimate) + np.count_nonzero(replicates <= estimate)
        z0 = float(special.ndtri(below / (2 * n_resamples)))
        if not math.isfinite(z0):
            raise DataError(
                "every bootstrap replicate lies strictly on one side of the estimate (as for a "
                "count of distinct values, which resampling can only lower), so the BCa bias "
                "correction is infinite; use method='percentile'"
            )
        a = _acceleration(evaluate, c, t, batch)
        z_alpha = float(special.ndtri(alpha))
        adjusted = []
        for z in (z_alpha, -z_alpha):
            denominator = 1 - a * (z0 + z)
            if denominator <= 0:
                raise DataError(
                    f"the BCa acceleration a == {a:.4g} is too large for confidence_level == "
                    f"{confidence_level!r} (1 - a (z0 + z) <= 0); use method='percentile'"
                )
            adjusted.append(float(special.ndtr(z0 + (z0 + z) / denominator)))
        levels = (adjusted[0], adjusted[1])
    lower, upper = (float(q) for q in np.quantile(replicates, levels))
    if checked_alternative == "less":
        lower = -math.inf
    elif checked_alternative == "greater":
        upper = math.inf
    return BootstrapResult(
        estimate=estimate,
        ci_lower=lower,
        ci_upper=upper,
        standard_error=float(np.std(replicates, ddof=1)),
        method=method,
        confidence_level=confidence_level,
        alternative=checked_alternative,
        n_resamples=n_resamples,
        seed=seed,
        batch_size=batch,
        memory_bytes=batch * bytes_per_row,
        bias_correction=z0,
        acceleration=a,
        distribution=_read_only(replicates),
    )


def _leave_one_out(values: FloatArray, start: int, stop: int) -> FloatArray:
    """Rows ``start .. stop - 1`` of the jackknife: row ``i`` is ``values`` without entry ``i``."""
    keep = np.arange(values.size - 1)
    left_out = np.arange(start, stop)[:, np.newaxis]
    return values[keep + (keep >= left_out)]


def _acceleration(
    statistic: Callable[[FloatArray, FloatArray], object],
    control: FloatArray,
    treatment: FloatArray,
    batch: int,
) -> float:
    """BCa acceleration from the jackknife over both arms, each arm weighted by its size."""
    numerator = 0.0
    denominator = 0.0
    for arm, values in enumerate((control, treatment)):
        n = values.size
        jackknife = np.empty(n, dtype=np.float64)
        for start in range(0, n, batch):
            stop = min(n, start + batch)
            reduced = _leave_one_out(values, start, stop)
            if arm == 0:
                other = np.broadcast_to(treatment, (stop - start, treatment.size))
                jackknife[start:stop] = _evaluate(statistic, reduced, other)
            else:
                other = np.broadcast_to(control, (stop - start, control.size))
                jackknife[start:stop] = _evaluate(statistic, other, reduced)
        _check_finite(jackknife, "leave-one-out samples")
        u = (n - 1) * (jackknife.mean() - jackknife)
        numerator += float(np.sum(u**3)) / n**3
        denominator += float(np.sum(u**2)) / n**2
    if denominator == 0:
        # No leave-one-out sample moves the statistic: the jackknife sees no skewness.
        return 0.0
    return float(numerator / (6 * denominator**1.5))


# ---------------------------------------------------------------------------------------------
# Permutation test


def permutation_test(
    statistic: TwoSampleStatistic,
    control: ArrayLike,
    treatment: ArrayLike,
    *,
    n_resamples: int = 10_000,
    alternative: str = "two-sided",
    seed: int | None = None,
    batch_size: int | None = None,
    vectorized: bool = True,
) -> PermutationResult:
    """Monte Carlo permutation test of ``statistic(control, treatment)``.

    Under the null hypothesis that the treatment has no effect at all (the arms' values are
    exchangeable), every reassignment of the pooled values to arms of the observed sizes is
    equally likely. Each of ``n_resamples`` random permutations of the pooled values gives the
    first ``n_c`` to control and the rest to treatment. With ``count`` the permutations whose
    statistic is at least as extreme as the observed one::

        p = (count + 1) / (n_resamples + 1)

    which counts the observed assignment as one of the permutations, so ``p`` is never 0 and the
    test never rejects more often than its level (Phipson and Smyth, 2010). "greater" counts
    statistics ``>= observed``, "less" ``<= observed``; two-sided doubles the smaller of the two
    (capped at 1), which stays valid when the null distribution is not symmetric. Values within
    ``100 * eps * |observed|`` of the observed statistic count as equal to it, so that rounding
    does not split ties (as in `scipy.stats.permutation_test`).

    Permutations are drawn ``batch_size`` at a time by ``Generator.permuted`` (row by row) from
    ``numpy.random.default_rng(seed)``.

    Args:
        statistic: ``statistic(control, treatment)``; see the module documentation.
        control: Control values, a 1-D sequence of finite numbers.
        treatment: Treatment values, likewise.
        n_resamples: Random permutations, at least 100.
        alternative: "two-sided" (default), "greater" or "less".
        seed: Seed for ``numpy.random.default_rng``; None draws fresh entropy (recorded).
        batch_size: Permutations per batch; by default as many as fit in 4 MiB, and at
            least one.
        vectorized: Whether ``statistic`` takes 2-D arrays (default) or two 1-D arrays.

    Returns:
        The observed statistic, the p-value and the null distribution.

    Raises:
        InputError: On empty arms, NaN or infinite values, ``n_resamples < 100``, an unknown
            alternative, a bad seed or batch size, or a statistic of the wrong shape or with
            non-finite values.

    Examples:
        >>> def diff_in_means(c, t):
        ...     return t.mean(axis=-1) - c.mean(axis=-1)
        >>> control = [3.1, 2.2, 4.0, 2.9, 3.3, 2.5, 3.8, 2.7]
        >>> treatment = [3.9, 4.4, 3.0, 4.8, 3.6, 4.1, 5.0, 3.4]
        >>> r = permutation_test(diff_in_means, control, treatment, n_resamples=9999, seed=3)
        >>> round(r.statistic, 4), round(r.p_value, 4)
        (0.9625, 0.0128)
    """
    c = check_sample("control", control)
    t = check_sample("treatment", treatment)
    n_resamples = check_count("n_resamples", n_resamples, minimum=MIN_RESAMPLES)
    checked_alternative = check_alternative(alternative)
    seed = _check_seed(seed)
    evaluate = _vectorize(statistic, vectorized)
    n_c = c.size
    pooled = np.concatenate([c, t])
    bytes_per_row = pooled.size * 8
    batch = _check_batch_size(batch_size, n_resamples, bytes_per_row)

    observed = _observed(evaluate, c, t)
    rng = np.random.default_rng(seed)
    null = np.empty(n_resamples, dtype=np.float64)
    for start in range(0, n_resamples, batch):
        rows = min(batch, n_resamples - start)
        block = np.tile(pooled, (rows, 1))
        rng.permuted(block, axis=1, out=block)
        null[start : start + rows] = _evaluate(evaluate, block[:, :n_c], block[:, n_c:])
    _check_finite(null, "permutations")

    tolerance = _TIE_TOLERANCE * abs(observed)
    p_less = (np.count_nonzero(null <= observed + tolerance) + 1) / (n_resamples + 1)
    p_greater = (np.count_nonzero(null >= observed - tolerance) + 1) / (n_resamples + 1)
    if checked_alternative == "less":
        p = float(p_less)
    elif checked_alternative == "greater":
        p = float(p_greater)
    else:
        p = min(1.0, 2 * float(min(p_less, p_greater)))
    return PermutationResult(
        statistic=observed,
        p_value=p,
        alternative=checked_alternative,
        n_resamples=n_resamples,
        seed=seed,
        batch_size=batch,
        memory_bytes=batch * bytes_per_row,
        null_mean=float(null.mean()),
        null_standard_deviation=float(np.std(null, ddof=1)),
        null_distribution=_read_only(null),
    )
