"""Tests of a difference in means from per-arm count, mean and variance.

* ``"welch"`` (default): Welch's t with Welch-Satterthwaite degrees of freedom
  ``(v_t/n_t + v_c/n_c)^2 / ((v_t/n_t)^2/(n_t-1) + (v_c/n_c)^2/(n_c-1))``; no equal-variance
  assumption (Welch, 1947).
* ``"student"``: Student's t with the pooled variance and ``n_t + n_c - 2`` degrees of freedom.
* ``"z"``: the large-sample normal test with unpooled variances.

R equivalents: ``t.test(y, x, var.equal = FALSE / TRUE, mu = margin)``; the z test has no base-R
function and is checked against its formula.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from ablens._validation import check_choice, check_count, check_real
from ablens.errors import InputError
from ablens.stats._inference import NORMAL, Reference
from ablens.stats.result import MarginType, TestResult, difference_test

if TYPE_CHECKING:
    from ablens.stats.relative import RelativeMethod

__all__ = ["MeanTest", "mean_test"]

MeanTest = Literal["welch", "student", "z"]
MEAN_TESTS: tuple[MeanTest, ...] = ("welch", "student", "z")


def _check_arm(
    prefix: str, count: object, mean: object, variance: object
) -> tuple[int, float, float]:
    n = check_count(f"{prefix}_count", count)
    if n < 2:
        raise InputError(
            f"{prefix}_count == {n}, must be >= 2 to estimate a variance; the arm needs more units"
        )
    m = check_real(f"{prefix}_mean", mean)
    v = check_real(f"{prefix}_variance", variance)
    if v < 0:
        raise InputError(f"{prefix}_variance == {v!r}, must be >= 0")
    return n, m, v


def mean_test(
    control_count: int,
    control_mean: float,
    control_variance: float,
    treatment_count: int,
    treatment_mean: float,
    treatment_variance: float,
    *,
    test: MeanTest = "welch",
    alternative: str = "two-sided",
    confidence_level: float = 0.95,
    margin: float = 0.0,
    margin_type: MarginType = "absolute",
    relative_method: RelativeMethod = "delta-log",
    mean_difference: float | None = None,
) -> TestResult:
    """Compare two means from their counts, means and sample variances (ddof=1).

    Args:
        control_count: Units in the control arm (>= 2).
        control_mean: Control mean.
        control_variance: Control sample variance.
        treatment_count: Units in the treatment arm (>= 2).
        treatment_mean: Treatment mean.
        treatment_variance: Treatment sample variance.
        test: "welch" (default), "student" or "z".
        alternative: "two-sided", "greater" (treatment above control + margin) or "less".
        confidence_level: Coverage of the intervals, in (0, 1).
        margin: Null value of the effect (non-inferiority / superiority margin).
        margin_type: Whether ``margin`` is absolute or relative (a lift, e.g. -0.02).
        relative_method: "delta-log" (default), "delta" or "fieller" interval for the lift.
        mean_difference: ``treatment_mean - control_mean`` when known more precisely than the
            subtraction of the two rounded means (`ablens.Moments` keeps each mean as two
            floats); defaults to the subtraction.

    Returns:
        The comparison of treatment with control.

    Raises:
        InputError: On non-finite inputs, arms with fewer than 2 units, zero variance in both
            arms, or unknown options.

    Examples:
        >>> r = mean_test(50, 10.0, 4.0, 50, 11.0, 5.0)
        >>> round(r.effect, 3), round(r.statistic, 4), round(r.df, 2), round(r.p_value, 6)
        (1.0, 2.357, 96.8, 0.020436)
    """
    check_choice("test", test, MEAN_TESTS)
    check_choice("margin_type", margin_type, ("absolute", "relative"))
    n_c, m_c, v_c = _check_arm("control", control_count, control_mean, control_variance)
    n_t, m_t, v_t = _check_arm("treatment", treatment_count, treatment_mean, treatment_variance)
    if v_c == 0 and v_t == 0:
        raise InputError(
            "control_variance and treatment_variance are both 0: the metric does not vary, so "
            "no test is possible; check that the right column was chosen"
        )
    if test == "student":
        pooled = ((n_c - 1) * v_c + (n_t - 1) * v_t) / (n_c + n_t - 2)
        var_c, var_t = pooled / n_c, pooled / n_t
        reference = Reference(df=float(n_c + n_t - 2))
    else:
        var_c, var_t = v_c / n_c, v_t / n_t
        if test == "z":
            reference = NORMAL
        else:
            df = (var_c + var_t) ** 2 / (var_c**2 / (n_c - 1) + var_t**2 / (n_t - 1))
            reference = Reference(df=df)
    return difference_test(
        test=test,
        control=m_c,
        treatment=m_t,
        var_control=var_c,
        var_treatment=var_t,
        reference=reference,
        alternative=alternative,
        confidence_level=confidence_level,
        margin=margin,
        margin_type=margin_type,
        relative_method=relative_method,
        effect=None if mean_difference is None else check_real("mean_difference", mean_difference),
    )
