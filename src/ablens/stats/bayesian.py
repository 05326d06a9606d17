"""Bayesian A/B analysis: posteriors, probability to beat control, expected loss, best arm.

Everything here is deterministic: closed forms where they exist, adaptive quadrature
(``scipy.integrate.quad`` at tight tolerances, on intervals split where the integrand changes)
where they do not. No Monte Carlo, so the same data always give the same numbers.

* `normal_posterior` and `bayesian_mean_test`: the conjugate normal model on the absolute effect
  ``treatment - control`` or on the relative effect (through the log ratio ``log(t / c)`` and its
  delta-method variance). Priors: flat, informative (`NormalPrior`), or estimated from past
  experiments (`empirical_prior`).
* `bayesian_proportion_test`: the beta-binomial model, a ``Beta(a, b)`` prior on each arm's
  rate; ``P(p_t > p_c)`` by Evan Miller's closed-form sum and the expected losses by its
  extension (Stucchio, 2015), or by quadrature when no closed form applies.
* `normal_best_arm` and `beta_best_arm`: the probability that each of ``k`` arms is best, and
  the expected loss ``E[max_j theta_j - theta_i]`` of shipping each.

The expected loss of a decision is what it costs on average, in units of the effect, when it
turns out to be the wrong one: shipping a treatment that is in fact worse loses
``E[max(0, -effect)]``, keeping the control when the treatment is better loses
``E[max(0, effect)]`` (for a metric where higher is better). See docs/methodology/bayesian.md.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Literal, cast

import numpy as np

from ablens._validation import (
    check_choice,
    check_count,
    check_open_unit_interval,
    check_positive,
    check_real,
)
from ablens.errors import InputError
from ablens.stats._inference import special_functions
from ablens.stats.relative import log_ratio_standard_error

if TYPE_CHECKING:
    from numpy.typing import ArrayLike, NDArray

__all__ = [
    "BayesianResult",
    "BestArmResult",
    "BetaBinomialResult",
    "NormalPrior",
    "bayesian_mean_test",
    "bayesian_proportion_test",
    "beta_best_arm",
    "empirical_prior",
    "normal_best_arm",
    "normal_posterior",
]

Direction = Literal["increase", "decrease"]
DIRECTIONS: tuple[Direction, ...] = ("increase", "decrease")
Scale = Literal["absolute", "relative"]
SCALES: tuple[Scale, ...] = ("absolute", "relative")
BetaMethod = Literal["auto", "closed-form", "quadrature"]
BETA_METHODS: tuple[BetaMethod, ...] = ("auto", "closed-form", "quadrature")

# Quadrature: tolerances, the tail mass left out of each integration range, and the largest
# number of terms a closed-form sum may take before quadrature is cheaper.
EPSABS = 1e-14
EPSREL = 1e-12
QUAD_LIMIT = 200
TAIL = 1e-15
MAX_TERMS = 500_000
# Standard-normal integrals run over [-Z_RANGE, Z_RANGE]: the mass outside is 1.5e-23.
Z_RANGE = 10.0
SQRT_2PI = math.sqrt(2.0 * math.pi)


def _integrate(function: Callable[[float], float], breaks: Sequence[float]) -> float:
    """``quad`` over consecutive pieces between the sorted ``breaks``, from first to last.

    Breaks closer than ``1e-12`` of the whole range are merged: a sliver of a piece only makes
    quad's error estimate meaningless.
    """
    from scipy import integrate  # noqa: PLC0415 - deliberate lazy import, keeps ablens light

    ordered = sorted(breaks)
    gap = 1e-12 * (ordered[-1] - ordered[0])
    points = [ordered[0]]
    for point in ordered[1:-1]:
        if point - points[-1] > gap and ordered[-1] - point > gap:
            points.append(point)
    points.append(ordered[-1])
    total = 0.0
    for lo, hi in itertools.pairwise(points):
        # full_output: QUADPACK's verdict is returned, not warned. Its only complaint on these
        # smooth integrands is round-off at the 1e-12 relative tolerance, where the result is
        # as accurate as the integrand (tested to 1e-9 against independent integrals).
        value = integrate.quad(
            function, lo, hi, epsabs=EPSABS, epsrel=EPSREL, limit=QUAD_LIMIT, full_output=1
        )[0]
        total += value
    return total


def _check_direction(direction: str) -> Direction:
    return cast("Direction", check_choice("direction", direction, DIRECTIONS))


# --------------------------------------------------------------------------------------- priors
@dataclass(frozen=True)
class NormalPrior:
    """A normal prior ``N(mean, sd^2)`` on the effect; ``sd = inf`` is the flat prior.

    On the relative scale the prior is on the log ratio ``log(t / c) = log(1 + lift)``, which is
    close to the lift itself for lifts of a few percent.

    Attributes:
        mean: Prior mean of the effect.
        sd: Prior standard deviation; ``math.inf`` (the default) for a flat prior, 0 for a point
            mass (the posterior then ignores the data).

    Examples:
        >>> NormalPrior().flat, NormalPrior(0.0, 0.02).flat
        (True, False)
    """

    mean: float = 0.0
    sd: float = math.inf

    def __post_init__(self) -> None:
        object.__setattr__(self, "mean", check_real("mean", self.mean))
        sd = self.sd
        if (
            isinstance(sd, bool | np.bool_)
            or not isinstance(sd, int | float | np.integer | np.floating)
            or math.isnan(sd)
            or sd < 0
        ):
            raise InputError(f"sd == {sd!r}, must be a number >= 0 (math.inf for a flat prior)")
        object.__setattr__(self, "sd", float(sd))

    @property
    def flat(self) -> bool:
        """True for the flat (improper uniform) prior."""
        return math.isinf(self.sd)


def empirical_prior(effects: ArrayLike, standard_errors: ArrayLike) -> NormalPrior:
    """A normal prior for the next experiment from the effects of past ones (method of moments).

    Each past estimate ``e_i`` is the true effect ``theta_i`` plus noise of variance ``se_i^2``,
    and the true effects spread with a between-experiment variance ``tau^2`` around a mean
    ``mu``. Then ``Var(e) = tau^2 + mean(se^2)``, whence

    ``mu = mean(e)``,  ``tau^2 = max(0, var(e) - mean(se^2))``  (``var`` with ddof=1, unbiased).

    Use effects on the scale the prior will serve: absolute differences, or log ratios for the
    relative scale. With few experiments the estimate of ``tau^2`` is noisy and often 0; a 0
    gives a point-mass prior that overrides the data (the result says so in its notes).

    Args:
        effects: Effect estimates of past, comparable experiments (at least 2).
        standard_errors: Their standard errors.

    Returns:
        The prior ``N(mu, tau^2)``.

    Examples:
        >>> prior = empirical_prior([0.02, -0.01, 0.035, 0.0, -0.02], [0.01] * 5)
        >>> round(prior.mean, 4), round(prior.sd, 4)
        (0.005, 0.02)
    """
    e = np.asarray(effects, dtype=np.float64)
    s = np.asarray(standard_errors, dtype=np.float64)
    if e.ndim != 1 or s.shape != e.shape:
        raise InputError(
            f"effects and standard_errors have shapes {e.shape} and {s.shape}, must be equal "
            "and one-dimensional"
        )
    if len(e) < 2:
        raise InputError(f"effects has {len(e)} value(s), must have at least 2")
    if not (np.all(np.isfinite(e)) and np.all(np.isfinite(s))):
        raise InputError("effects and standard_errors must be finite")
    if np.any(s < 0):
        raise InputError("standard_errors must be >= 0")
    between = float(np.var(e, ddof=1) - np.mean(s**2))
    return NormalPrior(float(np.mean(e)), math.sqrt(max(0.0, between)))


# --------------------------------------------------------------------------------------- normal
@dataclass(frozen=True)
class BayesianResult:
    """The posterior of an effect under the conjugate normal model.

    The model: the estimate ``e`` of the effect on the model scale (the difference, or the log
    ratio ``log(t / c)`` for the relative scale) is ``N(theta, se^2)``; the prior is
    ``N(m0, s0^2)`` or flat; the posterior ``N(model_mean, model_sd^2)``. On the relative scale
    the reported quantities are those of the lift ``exp(theta) - 1``.

    Attributes:
        scale: "absolute" or "relative".
        direction: "increase" or "decrease": which way is good.
        credible_level: Probability of the equal-tailed credible interval.
        estimate: The data's estimate: the difference, or the lift ``t / c - 1``.
        standard_error: Standard error of the estimate on the model scale.
        prior_mean: Prior mean on the model scale.
        prior_sd: Prior standard deviation (``inf`` when flat).
        model_mean: Posterior mean on the model scale.
        model_sd: Posterior standard deviation on the model scale.
        posterior_mean: Posterior mean of the effect (difference or lift).
        posterior_sd: Posterior standard deviation of the effect (difference or lift).
        ci_lower: Lower bound of the credible interval of the effect.
        ci_upper: Upper bound of the credible interval of the effect.
        probability_better: Posterior probability that the treatment is better than control:
            ``P(effect > 0)``, or ``P(effect < 0)`` when a decrease is good.
        expected_loss_ship: Expected loss of shipping the treatment, ``E[max(0, -effect)]``
            (``E[max(0, effect)]`` when a decrease is good).
        expected_loss_keep: Expected loss of keeping the control, ``E[max(0, effect)]``
            (``E[max(0, -effect)]`` when a decrease is good).
        notes: Warnings about the analysis (e.g. a point-mass prior).
    """

    scale: Scale
    direction: Direction
    credible_level: float
    estimate: float
    standard_error: float
    prior_mean: float
    prior_sd: float
    model_mean: float
    model_sd: float
    posterior_mean: float
    posterior_sd: float
    ci_lower: float
    ci_upper: float
    probability_better: float
    expected_loss_ship: float
    expected_loss_keep: float
    notes: tuple[str, ...] = ()

    @property
    def ci(self) -> tuple[float, float]:
        """The credible interval of the effect."""
        return self.ci_lower, self.ci_upper

    def to_dict(self) -> dict[str, Any]:
        """A flat, JSON-ready dictionary of every field."""
        return {
            "scale": self.scale,
            "direction": self.direction,
            "credible_level": self.credible_level,
            "estimate": self.estimate,
            "standard_error": self.standard_error,
            "prior_mean": self.prior_mean,
            "prior_sd": self.prior_sd,
            "model_mean": self.model_mean,
            "model_sd": self.model_sd,
            "posterior_mean": self.posterior_mean,
            "posterior_sd": self.posterior_sd,
            "ci_lower": self.ci_lower,
            "ci_upper": self.ci_upper,
            "probability_better": self.probability_better,
            "expected_loss_ship": self.expected_loss_ship,
            "expected_loss_keep": self.expected_loss_keep,
            "notes": list(self.notes),
        }


def _normal_pdf(x: float) -> float:
    return math.exp(-0.5 * x * x) / SQRT_2PI


def _update(estimate: float, standard_error: float, prior: NormalPrior) -> tuple[float, float]:
    """Posterior mean and sd of ``theta`` from ``e ~ N(theta, se^2)`` and the prior."""
    if prior.flat:
        return estimate, standard_error
    if prior.sd == 0:
        return prior.mean, 0.0
    v, v0 = standard_error**2, prior.sd**2
    # The precision-weighted mean, written as a shrinkage of the estimate toward the prior mean.
    mean = estimate + (prior.mean - estimate) * (v / (v + v0))
    return mean, standard_error * prior.sd / math.hypot(standard_error, prior.sd)


def _summaries(
    mean: float, sd: float, scale: Scale, q: float
) -> tuple[float, float, float, float, float, float, float, float]:
    """Mean, sd, interval, P(> 0), P(< 0), E[max(0, effect)], E[max(0, -effect)] of the effect.

    ``theta ~ N(mean, sd^2)``; the effect is ``theta`` (absolute) or ``exp(theta) - 1``.
    """
    ndtr = special_functions().ndtr
    if sd == 0:
        effect = mean if scale == "absolute" else math.expm1(mean)
        return (
            effect,
            0.0,
            effect,
            effect,
            float(effect > 0),
            float(effect < 0),
            max(effect, 0.0),
            max(-effect, 0.0),
        )
    u = mean / sd
    p_pos, p_neg = float(ndtr(u)), float(ndtr(-u))
    if scale == "absolute":
        density = _normal_pdf(u)
        gain = mean * p_pos + sd * density  # E[max(0, X)] for X ~ N(mean, sd^2)
        loss = -mean * p_neg + sd * density  # E[max(0, -X)]
        return (
            mean,
            sd,
            mean - q * sd,
            mean + q * sd,
            p_pos,
            p_neg,
            max(gain, 0.0),
            max(loss, 0.0),
        )
    # Lognormal partial expectations: E[exp(L) 1{L > 0}] = exp(m + s^2/2) Phi((m + s^2) / s).
    half_var = 0.5 * sd * sd
    growth = math.exp(mean + half_var)
    gain = growth * float(ndtr(u + sd)) - p_pos  # E[max(0, exp(L) - 1)]
    loss = p_neg - growth * float(ndtr(-u - sd))  # E[max(0, 1 - exp(L))]
    return (
        math.expm1(mean + half_var),
        growth * math.sqrt(math.expm1(sd * sd)),
        math.expm1(mean - q * sd),
        math.expm1(mean + q * sd),
        p_pos,
        p_neg,
        max(gain, 0.0),
        max(loss, 0.0),
    )


def normal_posterior(
    estimate: float,
    standard_error: float,
    *,
    prior: NormalPrior | None = None,
    scale: Scale = "absolute",
    credible_level: float = 0.95,
    direction: Direction = "increase",
) -> BayesianResult:
    """Posterior of an effect from its estimate and standard error, under a normal prior.

    With ``e ~ N(theta, se^2)`` and the prior ``N(m0, s0^2)``, the posterior is normal with

    ``precision = 1 / se^2 + 1 / s0^2``,  ``mean = (e / se^2 + m0 / s0^2) / precision``

    (the flat prior: mean ``e``, sd ``se``). For ``X ~ N(m, s^2)``, ``P(X > 0) = Phi(m / s)``,
    ``E[max(0, X)] = m Phi(m / s) + s phi(m / s)`` and ``E[max(0, -X)] = -m Phi(-m / s) +
    s phi(m / s)``.

    Args:
        estimate: The effect estimate on the model scale: the difference for the absolute
            scale, the log ratio ``log(t / c)`` for the relative scale (any estimator works:
            a CUPED or ratio-metric effect with its standard error, for instance).
        standard_error: Its standard error (> 0).
        prior: The prior on the model scale; flat if omitted.
        scale: "absolute", or "relative" to report the lift ``exp(theta) - 1``.
        credible_level: Probability of the equal-tailed credible interval.
        direction: "increase" (default) or "decrease": which way is good.

    Returns:
        The posterior summaries.

    Examples:
        >>> r = normal_posterior(0.3, 0.1)
        >>> round(r.probability_better, 6), [round(b, 4) for b in r.ci]
        (0.99865, [0.104, 0.496])
        >>> round(r.expected_loss_ship, 8), round(r.expected_loss_keep, 6)
        (3.82e-05, 0.300038)
        >>> r = normal_posterior(0.3, 0.1, prior=NormalPrior(0.0, 0.1))
        >>> round(r.posterior_mean, 6), round(r.posterior_sd, 6)
        (0.15, 0.070711)
    """
    estimate = check_real("estimate", estimate)
    standard_error = check_positive("standard_error", standard_error)
    prior = NormalPrior() if prior is None else prior
    if not isinstance(prior, NormalPrior):
        raise InputError(f"prior == {prior!r}, must be a NormalPrior (or None for flat)")
    scale = check_choice("scale", scale, SCALES)
    credible_level = check_open_unit_interval("credible_level", credible_level)
    direction = _check_direction(direction)
    q = float(special_functions().ndtri(0.5 + credible_level / 2.0))
    mean, sd = _update(estimate, standard_error, prior)
    post_mean, post_sd, lower, upper, p_pos, p_neg, gain, loss = _summaries(mean, sd, scale, q)
    notes = []
    if prior.sd == 0:
        notes.append(
            "the prior's sd is 0: the posterior is the prior and ignores the data; an empirical "
            "prior from few experiments often estimates a zero spread, so consider a positive sd"
        )
    increase = direction == "increase"
    return BayesianResult(
        scale=scale,
        direction=direction,
        credible_level=credible_level,
        estimate=estimate if scale == "absolute" else math.expm1(estimate),
        standard_error=standard_error,
        prior_mean=prior.mean,
        prior_sd=prior.sd,
        model_mean=mean,
        model_sd=sd,
        posterior_mean=post_mean,
        posterior_sd=post_sd,
        ci_lower=lower,
        ci_upper=upper,
        probability_better=p_pos if increase else p_neg,
        expected_loss_ship=loss if increase else gain,
        expected_loss_keep=gain if increase else loss,
        notes=tuple(notes),
    )


def _check_mean_arm(
    prefix: str, count: object, mean: object, variance: object
) -> tuple[int, float, float]:
    n = check_count(f"{prefix}_count", count, minimum=2)
    m = check_real(f"{prefix}_mean", mean)
    v = check_real(f"{prefix}_variance", variance)
    if v < 0:
        raise InputError(f"{prefix}_variance == {v!r}, must be >= 0")
    return n, m, v


def bayesian_mean_test(
    control_count: int,
    control_mean: float,
    control_variance: float,
    treatment_count: int,
    treatment_mean: float,
    treatment_variance: float,
    *,
    scale: Scale = "absolute",
    prior: NormalPrior | None = None,
    credible_level: float = 0.95,
    direction: Direction = "increase",
    mean_difference: float | None = None,
) -> BayesianResult:
    """Bayesian comparison of two means from counts, means and sample variances (ddof=1).

    The likelihood is the large-sample normal one: on the absolute scale the difference
    ``m_t - m_c`` with variance ``v_t / n_t + v_c / n_c``; on the relative scale the log ratio
    ``log(m_t / m_c)`` with the delta-method variance ``v_t / (n_t m_t^2) + v_c / (n_c m_c^2)``
    (both means must be positive). See `normal_posterior` for the update and the summaries.

    Args:
        control_count: Units in the control arm (>= 2).
        control_mean: Control mean.
        control_variance: Control sample variance.
        treatment_count: Units in the treatment arm (>= 2).
        treatment_mean: Treatment mean.
        treatment_variance: Treatment sample variance.
        scale: "absolute" (the difference) or "relative" (the lift).
        prior: Prior on the difference, or on the log ratio for the relative scale; flat if
            omitted.
        credible_level: Probability of the credible interval.
        direction: "increase" (default) or "decrease": which way is good.
        mean_difference: ``treatment_mean - control_mean`` when known more precisely than the
            subtraction (absolute scale only).

    Returns:
        The posterior summaries.

    Examples:
        >>> r = bayesian_mean_test(1000, 10.0, 4.0, 1000, 10.3, 4.0)
        >>> round(r.posterior_mean, 6), round(r.probability_better, 6)
        (0.3, 0.999602)
        >>> r = bayesian_mean_test(1000, 10.0, 4.0, 1000, 10.3, 4.0, scale="relative")
        >>> round(r.estimate, 6), round(r.posterior_mean, 6), [round(b, 4) for b in r.ci]
        (0.03, 0.03004, [0.0124, 0.0479])
    """
    n_c, m_c, v_c = _check_mean_arm("control", control_count, control_mean, control_variance)
    n_t, m_t, v_t = _check_mean_arm(
        "treatment", treatment_count, treatment_mean, treatment_variance
    )
    scale = check_choice("scale", scale, SCALES)
    if v_c == 0 and v_t == 0:
        raise InputError(
            "control_variance and treatment_variance are both 0: the metric does not vary"
        )
    if scale == "absolute":
        estimate = (
            m_t - m_c if mean_difference is None else check_real("mean_difference", mean_difference)
        )
        standard_error = math.sqrt(v_t / n_t + v_c / n_c)
    else:
        if m_t <= 0 or m_c <= 0:
            # exp(theta) - 1 is the lift only for positive means; a prior on log(t / c) is
            # not a prior on the lift of a negative metric.
            raise InputError(
                f"scale='relative' needs positive means, got control_mean == {m_c!r} and "
                f"treatment_mean == {m_t!r}; use scale='absolute'"
            )
        standard_error = log_ratio_standard_error(m_t, m_c, v_t / n_t, v_c / n_c)
        estimate = math.log(m_t / m_c)
        if standard_error == 0:
            raise InputError("the log ratio has zero variance; the relative scale is undefined")
    return normal_posterior(
        estimate,
        standard_error,
        prior=prior,
        scale=scale,
        credible_level=credible_level,
        direction=direction,
    )


# --------------------------------------------------------------------------------------- beta
def _is_whole(value: float) -> bool:
    return float(value).is_integer()


# lgamma(x) = (x - 1/2) log(x) - x + log(2 pi) / 2 + sum_k c_k / x^(2k - 1): Stirling's series,
# whose first omitted term is below 1e-15 for x >= STIRLING_MIN.
STIRLING_MIN = 8.0
_STIRLING = (1 / 12, -1 / 360, 1 / 1260, -1 / 1680, 1 / 1188, -691 / 360360, 1 / 156)
HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)
MILLER_BLOCK = 65_536


def _stirling_remainder(x: NDArray[np.float64]) -> NDArray[np.float64]:
    """``lgamma(x) - ((x - 1/2) log x - x + log(2 pi) / 2)`` for ``x >= STIRLING_MIN``."""
    inverse = 1.0 / x
    square = inverse * inverse
    total = np.zeros_like(x)
    for coefficient in reversed(_STIRLING):
        total = total * square + coefficient
    return total * inverse


def _log_beta(a: ArrayLike, b: ArrayLike) -> NDArray[np.float64]:
    """``log B(a, b)`` to about 1e-16 of its magnitude, also for parameters in the millions.

    ``scipy.special.betaln`` subtracts log-gammas of the size of ``b log b``: at ``b = 1e6`` it
    can be off by 2e-9, which Miller's sum would pass on to the probability. Here, with ``D`` the
    remainder of Stirling's series:

    * both parameters >= 8: ``log(2 pi) / 2 - (a - 1/2) log1p(b / a) - (b - 1/2) log1p(a / b)
      - log(a + b) / 2 + D(a) + D(b) - D(a + b)``;
    * one below 8 (``s``) and one above (``l``): ``lgamma(s) - [(l - 1/2) log1p(s / l)
      + s log(s + l) - s + D(s + l) - D(l)]``, the bracket being ``lgamma(s + l) - lgamma(l)``;
    * both below 8: ``betaln``, exact enough for small arguments.
    """
    special = special_functions()
    first, second = np.broadcast_arrays(
        np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    )
    small, large = np.minimum(first, second), np.maximum(first, second)
    result = np.array(special.betaln(first, second), dtype=np.float64)
    both = small >= STIRLING_MIN
    if np.any(both):
        s, big = small[both], large[both]
        result[both] = (
            HALF_LOG_2PI
            - (s - 0.5) * np.log1p(big / s)
            - (big - 0.5) * np.log1p(s / big)
            - 0.5 * np.log(s + big)
            + _stirling_remainder(s)
            + _stirling_remainder(big)
            - _stirling_remainder(s + big)
        )
    one = ~both & (large >= STIRLING_MIN)
    if np.any(one):
        s, big = small[one], large[one]
        ratio = (
            (big - 0.5) * np.log1p(s / big)
            + s * np.log(s + big)
            - s
            + _stirling_remainder(s + big)
            - _stirling_remainder(big)
        )
        result[one] = special.gammaln(s) - ratio
    return result


def _miller_sum(a_a: float, b_a: float, a_b: float, b_b: float) -> float:
    """``P(p_B > p_A)`` for ``p_A ~ Beta(a_a, b_a)``, ``p_B ~ Beta(a_b, b_b)``, ``a_b`` whole.

    Evan Miller's sum ``sum_{i < a_b} B(a_a + i, b_a + b_b) / ((b_b + i) B(1 + i, b_b)
    B(a_a, b_a))``, each term in log space (`_log_beta`), summed in blocks after factoring out
    the largest term so far.
    """
    constant = float(_log_beta(a_a, b_a))
    top, total = -math.inf, 0.0
    for start in range(0, int(a_b), MILLER_BLOCK):
        i = np.arange(start, min(start + MILLER_BLOCK, int(a_b)), dtype=np.float64)
        log_terms = (
            _log_beta(a_a + i, b_a + b_b) - np.log(b_b + i) - _log_beta(1.0 + i, b_b) - constant
        )
        block_top = float(np.max(log_terms))
        if block_top > top:
            total *= math.exp(top - block_top)
            top = block_top
        total += float(np.sum(np.exp(log_terms - top)))
    return min(1.0, max(0.0, math.exp(top) * total))


def _greater_closed(a1: float, b1: float, a2: float, b2: float) -> float | None:
    """``P(X1 > X2)`` in closed form, or None when no parameter allows a short enough sum.

    Four equivalent sums exist (swap the arms, or reflect ``p -> 1 - p``); each needs one
    parameter to be a whole number and takes that many terms: the shortest is used.
    """
    options: list[tuple[float, Callable[[], float]]] = []
    if _is_whole(a1):
        options.append((a1, lambda: _miller_sum(a2, b2, a1, b1)))
    if _is_whole(a2):
        options.append((a2, lambda: 1.0 - _miller_sum(a1, b1, a2, b2)))
    if _is_whole(b2):  # P(1 - X2 > 1 - X1)
        options.append((b2, lambda: _miller_sum(b1, a1, b2, a2)))
    if _is_whole(b1):  # 1 - P(1 - X1 > 1 - X2)
        options.append((b1, lambda: 1.0 - _miller_sum(b2, a2, b1, a1)))
    if not options:
        return None
    terms, compute = min(options, key=lambda option: option[0])
    if terms > MAX_TERMS:
        return None
    return min(1.0, max(0.0, compute()))


def _beta_breaks(a: float, b: float) -> list[float]:
    """Quantiles of ``Beta(a, b)`` where quadrature should split, from ``TAIL`` to ``1 - TAIL``."""
    special = special_functions()
    lower = [float(special.betaincinv(a, b, p)) for p in (TAIL, 1e-9, 1e-5, 0.01, 0.5)]
    upper = [float(special.betainccinv(a, b, p)) for p in (0.01, 1e-5, 1e-9, TAIL)]
    return lower + upper


def _beta_kernel(a: float, b: float) -> Callable[[float], float]:
    """A multiple of the ``Beta(a, b)`` density, accurate for parameters in the millions.

    With an interior mode ``m`` the kernel is ``exp((a - 1) log1p((x - m) / m) + (b - 1)
    log1p(-(x - m) / (1 - m)))``, 1 at the mode: the log-density relative to its peak, free of the
    cancellation between ``(a - 1) log x``, ``(b - 1) log(1 - x)`` and ``log B(a, b)``, each of
    the order of ``a log a``. Callers divide by the kernel's integral, so no normalizing constant
    is needed. Otherwise (``a <= 1`` or ``b <= 1``) it is the density itself.
    """
    if a > 1 and b > 1:
        mode = (a - 1.0) / (a + b - 2.0)
        complement = (b - 1.0) / (a + b - 2.0)

        def centred(x: float) -> float:
            step = x - mode
            lower = step / mode
            upper = -step / complement
            if lower <= -1.0 or upper <= -1.0:
                return 0.0
            return math.exp((a - 1.0) * math.log1p(lower) + (b - 1.0) * math.log1p(upper))

        return centred
    special = special_functions()
    log_norm = float(_log_beta(a, b))

    def density(x: float) -> float:
        return math.exp(float(special.xlogy(a - 1.0, x) + special.xlog1py(b - 1.0, -x)) - log_norm)

    return density


def _within(points: Sequence[float], lo: float, hi: float) -> list[float]:
    return [lo, hi] + [p for p in points if lo < p < hi]


@dataclass(frozen=True)
class _BetaIntegrator:
    """Expectations under ``Beta(a, b)`` by quadrature.

    ``E[function(X)]`` is the integral of the kernel times the function over the kernel's own
    integral, both on the range holding all but ``2 TAIL`` of the mass.
    """

    a: float
    b: float

    @property
    def breaks(self) -> list[float]:
        return _beta_breaks(self.a, self.b)

    def mass(self) -> float:
        return _integrate(_beta_kernel(self.a, self.b), self.breaks)

    def expect(
        self, function: Callable[[float], float], extra: Sequence[float], mass: float | None = None
    ) -> float:
        kernel = _beta_kernel(self.a, self.b)
        own = self.breaks

        def integrand(x: float) -> float:
            return kernel(x) * function(x)

        value = _integrate(integrand, _within(own + list(extra), own[0], own[-1]))
        return value / (self.mass() if mass is None else mass)


def _greater_quadrature(a1: float, b1: float, a2: float, b2: float) -> float:
    """``P(X1 > X2) = E[F2(X1)] = integral of f1(x) F2(x) dx``."""
    betainc = special_functions().betainc

    def cdf(x: float) -> float:
        return float(betainc(a2, b2, x))

    value = _BetaIntegrator(a1, b1).expect(cdf, _beta_breaks(a2, b2))
    return min(1.0, max(0.0, value))


def _excess_closed(a1: float, b1: float, a2: float, b2: float) -> float | None:
    """``E[max(0, X1 - X2)]`` in closed form (Stucchio, 2015), or None.

    ``E[X1 1{X1 > X2}] = m1 P(X1' > X2)`` with ``X1' ~ Beta(a1 + 1, b1)`` (since
    ``x f(x; a, b) = m f(x; a + 1, b)``), and likewise for ``X2``.
    """
    first = _greater_closed(a1 + 1.0, b1, a2, b2)
    second = _greater_closed(a1, b1, a2 + 1.0, b2)
    if first is None or second is None:
        return None
    m1, m2 = a1 / (a1 + b1), a2 / (a2 + b2)
    return max(0.0, m1 * first - m2 * second)


def _excess_quadrature(a1: float, b1: float, a2: float, b2: float) -> float:
    """``E[max(0, X1 - X2)] = E[g(X2)]`` with ``g(y) = E[(X1 - y)+]``.

    ``g(y) = m1 (1 - I_y(a1 + 1, b1)) - y (1 - I_y(a1, b1))``, with ``I`` the regularized
    incomplete beta function.
    """
    betaincc = special_functions().betaincc
    m1 = a1 / (a1 + b1)

    def excess(y: float) -> float:
        return max(0.0, m1 * float(betaincc(a1 + 1.0, b1, y)) - y * float(betaincc(a1, b1, y)))

    return max(0.0, _BetaIntegrator(a2, b2).expect(excess, _beta_breaks(a1, b1)))


def _difference_quantiles(
    a_c: float, b_c: float, a_t: float, b_t: float, probabilities: Sequence[float]
) -> list[float]:
    """Quantiles of ``p_t - p_c`` by root-finding on its CDF, itself a quadrature.

    ``P(p_t - p_c <= d) = E[I_{p_c + d}(a_t, b_t)] = integral of f_c(x) I_{x + d}(a_t, b_t) dx``.
    """
    from scipy import optimize  # noqa: PLC0415 - deliberate lazy import, keeps ablens light

    betainc = special_functions().betainc
    control = _BetaIntegrator(a_c, b_c)
    mass = control.mass()
    breaks_c, breaks_t = control.breaks, _beta_breaks(a_t, b_t)

    def cdf(d: float) -> float:
        def shifted_cdf(x: float) -> float:
            return float(betainc(a_t, b_t, min(max(x + d, 0.0), 1.0)))

        return control.expect(shifted_cdf, [p - d for p in breaks_t], mass)

    lo, hi = breaks_t[0] - breaks_c[-1], breaks_t[-1] - breaks_c[0]
    quantiles = []
    for probability in probabilities:
        root = optimize.brentq(
            lambda d, p=probability: cdf(d) - p, lo, hi, xtol=1e-14, rtol=1e-13, maxiter=200
        )
        quantiles.append(float(root))
    return quantiles


@dataclass(frozen=True)
class BetaBinomialResult:
    """The beta-binomial comparison of two proportions.

    Attributes:
        direction: "increase" or "decrease": which way is good.
        credible_level: Probability of the credible interval.
        method: How ``P(p_t > p_c)`` and the losses were computed: "closed-form" or
            "quadrature".
        prior_alpha: Prior ``a`` of each arm's ``Beta(a, b)``.
        prior_beta: Prior ``b`` of each arm.
        control_alpha: Posterior ``a`` of control, ``a + successes``.
        control_beta: Posterior ``b`` of control, ``b + failures``.
        treatment_alpha: Posterior ``a`` of treatment.
        treatment_beta: Posterior ``b`` of treatment.
        control_mean: Posterior mean of the control rate.
        treatment_mean: Posterior mean of the treatment rate.
        effect: Posterior mean of ``p_t - p_c``.
        ci_lower: Lower bound of the equal-tailed credible interval of ``p_t - p_c``.
        ci_upper: Upper bound of the credible interval of ``p_t - p_c``.
        probability_treatment_higher: ``P(p_t > p_c)``.
        probability_better: ``P(p_t > p_c)``, or ``P(p_t < p_c)`` when a decrease is good.
        expected_loss_ship: Expected loss of shipping the treatment, ``E[max(0, p_c - p_t)]``
            (``E[max(0, p_t - p_c)]`` when a decrease is good).
        expected_loss_keep: Expected loss of keeping the control, the opposite.
    """

    direction: Direction
    credible_level: float
    method: Literal["closed-form", "quadrature"]
    prior_alpha: float
    prior_beta: float
    control_alpha: float
    control_beta: float
    treatment_alpha: float
    treatment_beta: float
    control_mean: float
    treatment_mean: float
    effect: float
    ci_lower: float
    ci_upper: float
    probability_treatment_higher: float
    probability_better: float
    expected_loss_ship: float
    expected_loss_keep: float

    @property
    def ci(self) -> tuple[float, float]:
        """The credible interval of ``p_t - p_c``."""
        return self.ci_lower, self.ci_upper

    def to_dict(self) -> dict[str, Any]:
        """A flat, JSON-ready dictionary of every field."""
        return asdict(self)


def _check_beta_prior(prior: tuple[float, float]) -> tuple[float, float]:
    if not isinstance(prior, tuple | list) or len(prior) != 2:
        raise InputError(f"prior == {prior!r}, must be a pair (a, b) of a Beta(a, b) prior")
    return check_positive("prior[0]", prior[0]), check_positive("prior[1]", prior[1])


def _check_proportion_arm(prefix: str, successes: object, count: object) -> tuple[int, int]:
    x = check_count(f"{prefix}_successes", successes)
    n = check_count(f"{prefix}_count", count)
    if x > n:
        raise InputError(f"{prefix}_successes == {x}, must be <= {prefix}_count == {n}")
    return x, n


def bayesian_proportion_test(
    control_successes: int,
    control_count: int,
    treatment_successes: int,
    treatment_count: int,
    *,
    prior: tuple[float, float] = (1.0, 1.0),
    credible_level: float = 0.95,
    direction: Direction = "increase",
    method: BetaMethod = "auto",
) -> BetaBinomialResult:
    """Beta-binomial comparison of two proportions.

    Each arm's rate has the prior ``Beta(a, b)`` and, after ``x`` successes in ``n`` units, the
    posterior ``Beta(a + x, b + n - x)``. With ``p_c ~ Beta(a_c, b_c)``, ``p_t ~ Beta(a_t, b_t)``
    and ``a_t`` a whole number (Miller, 2015):

    ``P(p_t > p_c) = sum_{i=0}^{a_t - 1} B(a_c + i, b_c + b_t) / ((b_t + i) B(1 + i, b_t)
    B(a_c, b_c))``,

    computed term by term in log space (with a log-beta function accurate for parameters in the
    millions, where ``scipy.special.betaln`` loses digits); by symmetry any whole parameter will
    do and the shortest sum is used. The expected loss follows from the same sum (Stucchio,
    2015): ``E[max(0, p_t - p_c)] = m_t P(p_t' > p_c) - m_c P(p_t > p_c')`` with ``p'`` the rate
    with ``a + 1``. When no parameter is whole (a non-integer prior) or every sum would exceed
    500,000 terms, or with ``method="quadrature"``, both are one-dimensional integrals by
    ``scipy.integrate.quad``. The credible interval of ``p_t - p_c`` inverts its CDF, also a
    one-dimensional integral.

    Args:
        control_successes: Units with the outcome in control.
        control_count: Units in control.
        treatment_successes: Units with the outcome in treatment.
        treatment_count: Units in treatment.
        prior: ``(a, b)`` of the ``Beta(a, b)`` prior on each arm's rate; uniform by default.
        credible_level: Probability of the credible interval of the difference.
        direction: "increase" (default) or "decrease": which way is good.
        method: "auto" (closed form when available), "closed-form" or "quadrature".

    Returns:
        The posterior comparison.

    Raises:
        InputError: On invalid counts or prior, or ``method="closed-form"`` when no closed form
            applies.

    Examples:
        >>> r = bayesian_proportion_test(100, 1000, 130, 1000)
        >>> r.method, round(r.probability_better, 6)
        ('closed-form', 0.982165)
        >>> round(r.expected_loss_ship, 8), round(r.expected_loss_keep, 6)
        (9.237e-05, 0.030032)
        >>> [round(b, 4) for b in r.ci]
        [0.002, 0.058]
    """
    x_c, n_c = _check_proportion_arm("control", control_successes, control_count)
    x_t, n_t = _check_proportion_arm("treatment", treatment_successes, treatment_count)
    a, b = _check_beta_prior(prior)
    credible_level = check_open_unit_interval("credible_level", credible_level)
    direction = _check_direction(direction)
    method = check_choice("method", method, BETA_METHODS)
    a_c, b_c, a_t, b_t = a + x_c, b + n_c - x_c, a + x_t, b + n_t - x_t
    higher: float | None = None
    gain: float | None = None
    loss: float | None = None
    if method != "quadrature":
        higher = _greater_closed(a_t, b_t, a_c, b_c)
        gain = _excess_closed(a_t, b_t, a_c, b_c)
        loss = _excess_closed(a_c, b_c, a_t, b_t)
    used: Literal["closed-form", "quadrature"] = "closed-form"
    if higher is None or gain is None or loss is None:
        if method == "closed-form":
            raise InputError(
                "method == 'closed-form' but no posterior parameter is a whole number of at "
                f"most {MAX_TERMS} (the sum's length); use method='auto' or 'quadrature'"
            )
        used = "quadrature"
        higher = _greater_quadrature(a_t, b_t, a_c, b_c)
        gain = _excess_quadrature(a_t, b_t, a_c, b_c)
        loss = _excess_quadrature(a_c, b_c, a_t, b_t)
    tail = (1.0 - credible_level) / 2.0
    lower, upper = _difference_quantiles(a_c, b_c, a_t, b_t, (tail, 1.0 - tail))
    m_c, m_t = a_c / (a_c + b_c), a_t / (a_t + b_t)
    increase = direction == "increase"
    return BetaBinomialResult(
        direction=direction,
        credible_level=credible_level,
        method=used,
        prior_alpha=a,
        prior_beta=b,
        control_alpha=a_c,
        control_beta=b_c,
        treatment_alpha=a_t,
        treatment_beta=b_t,
        control_mean=m_c,
        treatment_mean=m_t,
        effect=m_t - m_c,
        ci_lower=lower,
        ci_upper=upper,
        probability_treatment_higher=higher,
        probability_better=higher if increase else 1.0 - higher,
        expected_loss_ship=loss if increase else gain,
        expected_loss_keep=gain if increase else loss,
    )


# --------------------------------------------------------------------------------------- k arms
@dataclass(frozen=True)
class BestArmResult:
    """Which of ``k`` arms is best, and what shipping each would cost.

    Attributes:
        model: "normal" or "beta".
        direction: "increase" or "decrease": which way is good.
        arms: Arm labels.
        posterior_means: Posterior mean of each arm's metric.
        probability_best: Posterior probability that each arm is the best (sums to 1).
        expected_loss: Expected loss of shipping each arm, ``E[max_j theta_j - theta_i]``
            (``E[theta_i - min_j theta_j]`` when a decrease is good).
    """

    model: Literal["normal", "beta"]
    direction: Direction
    arms: tuple[str, ...]
    posterior_means: tuple[float, ...]
    probability_best: tuple[float, ...]
    expected_loss: tuple[float, ...]

    @property
    def best(self) -> str:
        """The arm most likely to be best."""
        return self.arms[int(np.argmax(self.probability_best))]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dictionary, one entry per arm in each list."""
        return {
            "model": self.model,
            "direction": self.direction,
            "arms": list(self.arms),
            "posterior_means": list(self.posterior_means),
            "probability_best": list(self.probability_best),
            "expected_loss": list(self.expected_loss),
            "best": self.best,
        }


def _labelled(
    name: str, values: Mapping[str, float] | Sequence[float], labels: tuple[str, ...] | None
) -> tuple[tuple[str, ...], list[object]]:
    raw: object = values  # checked at run time
    items: list[object]
    if isinstance(raw, Mapping):
        found = tuple(str(a) for a in raw)
        items = list(raw.values())
    elif isinstance(raw, Sequence) and not isinstance(raw, str):
        found = tuple(f"arm {i}" for i in range(len(raw)))
        items = list(raw)
    else:
        raise InputError(f"{name} == {values!r}, must be a mapping label -> value or a sequence")
    if labels is not None and found != labels:
        raise InputError(f"{name} has arms {found}, must have the same arms as before: {labels}")
    if len(items) < 2:
        raise InputError(f"{name} has {len(items)} arm(s), must have at least 2")
    return found, items


def _best_integrands(
    shift: NDArray[np.float64], scale: NDArray[np.float64]
) -> tuple[Callable[[float], float], Callable[[float], float]]:
    """``phi(z) prod_j Phi(shift_j + scale_j z)`` and the same times ``z``."""
    ndtr = special_functions().ndtr

    def weight(z: float) -> float:
        return _normal_pdf(z) * float(np.prod(ndtr(shift + scale * z)))

    def weighted_z(z: float) -> float:
        return z * weight(z)

    return weight, weighted_z


def _product_of_cdfs(
    other_a: NDArray[np.float64], other_b: NDArray[np.float64]
) -> Callable[[float], float]:
    """``prod_j F(x; other_a_j, other_b_j)``."""
    betainc = special_functions().betainc

    def product(x: float) -> float:
        return float(np.prod(betainc(other_a, other_b, x)))

    return product


def _normal_best(means: NDArray[np.float64], sds: NDArray[np.float64]) -> tuple[list[float], float]:
    """P(arm i is the maximum) for independent normals, and the expected maximum.

    ``P_i = integral of phi(z) prod_{j != i} Phi((mu_i + s_i z - mu_j) / s_j) dz``, and
    ``E[max] = sum_i (mu_i P_i + s_i integral of z phi(z) prod_{j != i} Phi(...) dz)``.
    """
    k = len(means)
    probabilities, expected_max = [], 0.0
    for i in range(k):
        others = np.arange(k) != i
        scale = sds[i] / sds[others]
        shift = (means[i] - means[others]) / sds[others]
        centres = -shift / scale  # where each factor Phi(shift + scale z) crosses 1/2
        breaks = [-Z_RANGE, Z_RANGE, 0.0, -3.0, 3.0]
        for centre, width in zip(centres, 1.0 / scale, strict=True):
            breaks += [centre + width * m for m in (-8.0, -3.0, -1.0, 0.0, 1.0, 3.0, 8.0)]
        breaks = _within(breaks, -Z_RANGE, Z_RANGE)

        weight, weighted_z = _best_integrands(shift, scale)
        probability = _integrate(weight, breaks)
        moment = _integrate(weighted_z, breaks)
        probabilities.append(probability)
        expected_max += float(means[i]) * probability + float(sds[i]) * moment
    return probabilities, expected_max


def normal_best_arm(
    means: Mapping[str, float] | Sequence[float],
    standard_errors: Mapping[str, float] | Sequence[float],
    *,
    direction: Direction = "increase",
) -> BestArmResult:
    """Probability that each arm is best, and expected loss of shipping it (normal posteriors).

    Each arm's metric has an independent posterior ``N(mu_i, s_i^2)``: with a flat prior, the arm
    mean and its standard error ``sqrt(v / n)``. Then

    ``P(i best) = integral of phi(z) prod_{j != i} Phi((mu_i + s_i z - mu_j) / s_j) dz``

    and the expected loss of shipping ``i`` is ``E[max_j theta_j] - mu_i``, both by quadrature
    on ``z`` split where each factor changes.

    Args:
        means: Posterior mean per arm (mapping label -> mean, or a sequence).
        standard_errors: Posterior standard deviation per arm (> 0), same arms.
        direction: "increase" (default) or "decrease": which way is good.

    Returns:
        The probabilities and losses per arm.

    Examples:
        >>> r = normal_best_arm({"a": 10.0, "b": 10.2, "c": 10.25}, {"a": 0.1, "b": 0.1, "c": 0.1})
        >>> r.best, [round(p, 4) for p in r.probability_best]
        ('c', [0.0136, 0.3561, 0.6303])
        >>> [round(x, 4) for x in r.expected_loss]
        [0.2855, 0.0855, 0.0355]
    """
    direction = _check_direction(direction)
    arms, raw_means = _labelled("means", means, None)
    _, raw_sds = _labelled("standard_errors", standard_errors, arms)
    mu = np.array([check_real(f"means[{a!r}]", m) for a, m in zip(arms, raw_means, strict=True)])
    sd = np.array(
        [check_positive(f"standard_errors[{a!r}]", s) for a, s in zip(arms, raw_sds, strict=True)]
    )
    sign = 1.0 if direction == "increase" else -1.0
    probabilities, expected_max = _normal_best(sign * mu, sd)
    losses = [max(0.0, expected_max - sign * float(m)) for m in mu]
    return BestArmResult(
        model="normal",
        direction=direction,
        arms=arms,
        posterior_means=tuple(float(m) for m in mu),
        probability_best=tuple(probabilities),
        expected_loss=tuple(losses),
    )


def beta_best_arm(
    successes: Mapping[str, int] | Sequence[int],
    counts: Mapping[str, int] | Sequence[int],
    *,
    prior: tuple[float, float] = (1.0, 1.0),
    direction: Direction = "increase",
) -> BestArmResult:
    """Probability that each arm has the best rate, and expected loss of shipping it.

    Each rate has the posterior ``Beta(a + x_i, b + n_i - x_i)``. Then

    ``P(i best) = integral of f_i(x) prod_{j != i} F_j(x) dx``,
    ``E[max_j p_j] = integral from 0 to 1 of (1 - prod_j F_j(x)) dx``,

    and the expected loss of shipping ``i`` is ``E[max_j p_j] - E[p_i]``; each integral by
    quadrature split at the arms' quantiles. When a decrease is good, the rates are reflected
    (``1 - p ~ Beta(b, a)``).

    Args:
        successes: Successes per arm (mapping label -> count, or a sequence).
        counts: Units per arm, same arms.
        prior: ``(a, b)`` of the ``Beta(a, b)`` prior on each arm's rate.
        direction: "increase" (default) or "decrease": which way is good.

    Returns:
        The probabilities and losses per arm.

    Examples:
        >>> r = beta_best_arm({"a": 100, "b": 120, "c": 130}, {"a": 1000, "b": 1000, "c": 1000})
        >>> r.best, [round(p, 4) for p in r.probability_best]
        ('c', [0.0076, 0.2472, 0.7452])
        >>> [round(x, 5) for x in r.expected_loss]
        [0.03218, 0.01222, 0.00224]
    """
    direction = _check_direction(direction)
    arms, raw_x = _labelled("successes", successes, None)
    _, raw_n = _labelled("counts", counts, arms)
    a, b = _check_beta_prior(prior)
    params = []
    for arm, x, n in zip(arms, raw_x, raw_n, strict=True):
        x_i, n_i = _check_proportion_arm(f"arm {arm!r}", x, n)
        params.append((a + x_i, b + n_i - x_i))
    means = tuple(alpha / (alpha + beta) for alpha, beta in params)
    if direction == "decrease":
        params = [(beta, alpha) for alpha, beta in params]
    special = special_functions()
    breaks_all = [p for alpha, beta in params for p in _beta_breaks(alpha, beta)]
    probabilities = []
    for i, (alpha_i, beta_i) in enumerate(params):
        others = [params[j] for j in range(len(params)) if j != i]
        product = _product_of_cdfs(
            np.array([p[0] for p in others]), np.array([p[1] for p in others])
        )
        probabilities.append(_BetaIntegrator(alpha_i, beta_i).expect(product, breaks_all))
    all_a = np.array([p[0] for p in params])
    all_b = np.array([p[1] for p in params])
    lo, hi = min(breaks_all), max(breaks_all)

    def exceed(x: float) -> float:
        return 1.0 - float(np.prod(special.betainc(all_a, all_b, x)))

    expected_max = lo + _integrate(exceed, _within(breaks_all, lo, hi))
    reflected = means if direction == "increase" else tuple(1.0 - m for m in means)
    losses = tuple(max(0.0, expected_max - m) for m in reflected)
    return BestArmResult(
        model="beta",
        direction=direction,
        arms=arms,
        posterior_means=means,
        probability_best=tuple(probabilities),
        expected_loss=losses,
    )
