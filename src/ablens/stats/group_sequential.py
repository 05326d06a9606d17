"""Group-sequential tests: Lan-DeMets error spending for any metric with a z statistic.

An experiment analysed at several looks, each time with the data gathered so far, tests at each
look against a stricter bound so that the chance of a false rejection over *all* looks stays at
``alpha``. The bounds come from an error-spending function (Lan and DeMets, 1983): by the
information fraction ``t`` (the share of the maximum information, e.g. of the planned sample
size) at most ``alpha(t)`` of the type I error has been spent, whatever the number and timing of
the looks.

The z statistics ``Z_1, ..., Z_K`` of the looks follow the canonical joint distribution
(Jennison and Turnbull, 2000, ch. 3): ``Z_k ~ N(drift * sqrt(t_k), 1)`` with
``Cov(Z_j, Z_k) = sqrt(t_j / t_k)`` for ``j <= k``, i.e. ``Z_k sqrt(t_k)`` is a Brownian motion
with drift observed at the fractions ``t_k``. The bound at look ``k`` solves

    P(no crossing at looks 1 .. k-1, crossing at look k) = alpha(t_k) - alpha(t_{k-1})

under ``H0`` (``drift = 0``). The probability is computed by the recursive numerical integration
of Armitage, McPherson and Rowe (1969), as in Jennison and Turnbull (2000, ch. 19): the
sub-density of ``Z_k`` on the continuation region is carried from look to look through the normal
transition density. Where Jennison and Turnbull use Simpson's rule, this module integrates with a
composite 16-point Gauss-Legendre rule on panels no wider than 2 and than 4 times the smaller of
the conditional standard deviations of ``Z_k`` given ``Z_{k-1}`` and of ``Z_{k+1}`` given
``Z_k``; the sub-densities are analytic inside the continuation region, so the rule converges
fast: bounds agree with an adaptive one-dimensional quadrature of the two-look case to about
1e-14 and do not move when the grid is refined, and agree with rpact (whose own bisection
tolerance is at best 1e-10, on a coarser grid) to better than 1e-7.

Two things keep many looks fast (1,000 looks well under a second). The transition kernel is
evaluated only within 12 of its sds of each node (beyond, it is below 1e-31 of its peak), so a
look costs a band of the full matrix. And the exit probabilities at any drift come from one
recursion by tilting: under drift ``d`` the density of a path is that under ``d0`` times the
likelihood ratio ``exp((d - d0) S_k - (d^2 - d0^2) t_k / 2)``, ``S_k = Z_k sqrt(t_k)``, so the
search for the drift of a given power reuses the quadrature masses of one recursion.

Futility bounds are optional and *non-binding*: the efficacy bounds are computed as if the
futility bounds did not exist, so the type I error stays at or below ``alpha`` whether or not the
trial stops when a futility bound is crossed. They come from a beta-spending function
(Pampallona, Tsiatis and Kim, 2001): under the alternative the study is powered for, at most
``beta(t)`` of the type II error is spent by fraction ``t``; the drift of that alternative is
solved so that the last futility bound meets the last efficacy bound (as rpact's
``typeBetaSpending``). The resulting design then has power exactly ``1 - beta`` when the futility
bounds are obeyed.

References:
    Armitage, McPherson and Rowe (1969), "Repeated significance tests on accumulating data",
    JRSS A 132, 235-244. Lan and DeMets (1983), "Discrete sequential boundaries for clinical
    trials", Biometrika 70, 659-663. O'Brien and Fleming (1979), Biometrics 35, 549-556.
    Pocock (1977), Biometrika 64, 191-199. Kim and DeMets (1987), Biometrika 74, 149-154.
    Hwang, Shih and DeCani (1990), Statistics in Medicine 9, 1439-1445. Jennison and Turnbull
    (2000), "Group Sequential Methods with Applications to Clinical Trials", Chapman & Hall.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import math
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Literal, cast

import numpy as np

from ablens._validation import check_choice, check_open_unit_interval, check_positive, check_real
from ablens.errors import InputError, LimitError
from ablens.stats._inference import Alternative, check_alternative, special_functions
from ablens.typing import SPENDING_NAMES, SpendingName

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from numpy.typing import ArrayLike, NDArray

__all__ = [
    "SequentialBounds",
    "SequentialDecision",
    "SequentialLook",
    "SequentialResult",
    "SpendingFunction",
    "SpendingName",
    "group_sequential_bounds",
    "group_sequential_test",
    "sample_size_inflation",
    "spending_function",
]

#: Each spending family as written in sentences and reports (default parameters).
SPENDING_TITLES: dict[SpendingName, str] = {
    "obrien-fleming": "O'Brien-Fleming",
    "pocock": "Pocock",
    "hsd": "Hwang-Shih-DeCani (gamma = -4)",
    "power": "Kim-DeMets power (rho = 3)",
}
SequentialDecision = Literal["continue", "stop for efficacy", "stop for futility"]

# The parameter each family takes, its default, and its admissible range.
_PARAMETERS: dict[str, tuple[str, float]] = {"hsd": ("gamma", -4.0), "power": ("rho", 3.0)}
_HSD_GAMMA_LIMIT = 40.0  # exp(40) is still exact enough; gsDesign uses the same range
_MAX_ALPHA = 0.5
# Repeated p-values are searched in this range (rpact: [tolerance, 0.5]).
_REPEATED_P_RANGE = (1e-10, 0.5)
#: A repeated p-value at this cap means "at least 0.5": faces show it as such.
REPEATED_P_VALUE_CAP = _REPEATED_P_RANGE[1]
#: The most looks a sequential design takes (group-sequential and always-valid alike): a daily
#: read for almost three years. Its bounds and power take well under a second there, and the
#: recursion's cost grows as looks^1.5 beyond.
MAX_LOOKS = 1_000


def check_looks(looks: int, *, method: str = "group-sequential") -> int:
    """Refuse more than `MAX_LOOKS` looks with a `LimitError` that says what to do instead.

    Args:
        looks: The number of looks of a sequential design.
        method: "group-sequential", "msprt" or "confidence-sequence": the advice differs.

    Returns:
        ``looks``, when it is within the limit.

    Raises:
        LimitError: Above `MAX_LOOKS`.

    Examples:
        >>> check_looks(365)
        365
    """
    if looks <= MAX_LOOKS:
        return looks
    if method == "group-sequential":
        weeks = math.ceil(looks / 7)
        weekly = f" (looks={weeks:,} for as many weeks)" if weeks <= MAX_LOOKS else ""
        fix = (
            f"read less often, e.g. weekly{weekly}, or use an always-valid reading (msprt or "
            "confidence-sequence), which may be read as often as you like"
        )
    else:
        fix = (
            f"plan with looks={MAX_LOOKS:,}: an always-valid test stays valid however often it "
            "is read, and beyond 1,000 looks its plan barely changes"
        )
    raise LimitError(
        f"looks == {looks:,}, at most {MAX_LOOKS:,} looks for a sequential design: {fix}",
        argument="looks",
        limit=MAX_LOOKS,
    )


# ---------------------------------------------------------------------------------------------
# Spending functions
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SpendingFunction:
    """An error-spending function: ``f(t)`` is the error spent by information fraction ``t``.

    Every family rises from ``f(0) = 0`` to ``f(1) = total``:

    - ``"obrien-fleming"`` (Lan and DeMets, 1983): ``2 - 2 Phi(z_{1 - total/2} / sqrt(t))``;
    - ``"pocock"`` (Lan and DeMets, 1983): ``total * ln(1 + (e - 1) t)``;
    - ``"hsd"`` (Hwang, Shih and DeCani, 1990):
      ``total * (1 - exp(-gamma t)) / (1 - exp(-gamma))``, ``total * t`` at ``gamma == 0``;
    - ``"power"`` (Kim and DeMets, 1987): ``total * t^rho``.

    Attributes:
        name: The family.
        total: The error spent by ``t = 1`` (alpha, or beta for futility bounds).
        parameter: ``gamma`` for ``"hsd"``, ``rho`` for ``"power"``; None for the others.

    Examples:
        >>> f = spending_function("pocock", 0.05)
        >>> round(f(0.5), 6), f(1.0)
        (0.031006, 0.05)
    """

    name: SpendingName
    total: float
    parameter: float | None = None

    def __call__(self, fraction: float) -> float:
        """The error spent by information fraction ``fraction`` (clipped to [0, 1])."""
        t = min(max(float(fraction), 0.0), 1.0)
        if t == 0.0:
            return 0.0
        if t == 1.0:
            return self.total
        if self.name == "obrien-fleming":
            special = special_functions()
            return float(2.0 * special.ndtr(special.ndtri(self.total / 2.0) / math.sqrt(t)))
        if self.name == "pocock":
            return self.total * math.log1p((math.e - 1.0) * t)
        parameter = cast("float", self.parameter)
        if self.name == "hsd":
            if parameter == 0.0:
                return self.total * t
            return self.total * math.expm1(-parameter * t) / math.expm1(-parameter)
        return self.total * math.pow(t, parameter)


def spending_function(name: SpendingName, alpha: float, **params: float) -> SpendingFunction:
    """An error-spending function of the named family, spending ``alpha`` in all.

    Args:
        name: ``"obrien-fleming"``, ``"pocock"``, ``"hsd"`` (Hwang-Shih-DeCani) or ``"power"``
            (Kim-DeMets).
        alpha: The total error spent by information fraction 1.
        **params: ``gamma=`` for ``"hsd"`` (default -4, close to O'Brien-Fleming; 1 is close to
            Pocock) or ``rho=`` for ``"power"`` (default 3, close to O'Brien-Fleming; 1 spends
            linearly). The other families take none.

    Returns:
        A callable `SpendingFunction`.

    Raises:
        InputError: On an unknown family, an ``alpha`` outside (0, 1) or a parameter that the
            family does not take or out of range.

    Examples:
        >>> of = spending_function("obrien-fleming", 0.025)
        >>> [round(of(t), 8) for t in (0.25, 0.5, 0.75, 1.0)]
        [7.37e-06, 0.00152532, 0.00964932, 0.025]
        >>> spending_function("hsd", 0.025, gamma=-4).parameter
        -4.0
    """
    check_choice("name", name, SPENDING_NAMES)
    total = check_open_unit_interval("alpha", alpha)
    expected = _PARAMETERS.get(name)
    unknown = set(params) - ({expected[0]} if expected else set())
    if unknown:
        takes = f"takes only {expected[0]}=" if expected else "takes no parameter"
        raise InputError(f"spending function {name!r} {takes}; got {sorted(unknown)!r}")
    if expected is None:
        return SpendingFunction(name, total)
    key, default = expected
    return SpendingFunction(name, total, _check_parameter(name, params.get(key, default)))


def _check_parameter(name: str, value: object) -> float:
    if name == "hsd":
        gamma = check_real("gamma", value)
        if abs(gamma) > _HSD_GAMMA_LIMIT:
            raise InputError(f"gamma == {value!r}, must be in [-40, 40]")
        return gamma
    return check_positive("rho", value)


def _spending(name: str, total: float, parameter: float | None, role: str) -> SpendingFunction:
    """A spending function from ``group_sequential_bounds``-style arguments."""
    check_choice(role, name, SPENDING_NAMES)
    if name in _PARAMETERS:
        default = _PARAMETERS[name][1]
        value = default if parameter is None else parameter
        return SpendingFunction(cast("SpendingName", name), total, _check_parameter(name, value))
    if parameter is not None:
        raise InputError(f"{role}_parameter == {parameter!r}, must be None for {name!r}")
    return SpendingFunction(cast("SpendingName", name), total)


# ---------------------------------------------------------------------------------------------
# Recursive numerical integration of the canonical joint distribution
# ---------------------------------------------------------------------------------------------

_NODES_PER_PANEL = 16
_MAX_PANEL = 2.0  # panel width, at most, and at most _SD_PER_PANEL conditional sds
_SD_PER_PANEL = 4.0
_TAIL = 9.0  # the grid covers mean +/- 9 sd at most: Phi(-9) = 1.1e-19 of the mass is dropped
_MAX_MATRIX = 2_000_000  # entries of one block of the transition matrix (memory bound)
_BAND = 12.0  # kernel entries beyond 12 sd: exp(-72) = 5e-32 of the peak, dropped
_BAND_ROWS = 32  # nodes per block of the banded transition (two panels)


@functools.cache
def _gauss_legendre() -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    nodes, weights = np.polynomial.legendre.leggauss(_NODES_PER_PANEL)
    return nodes, weights


def _panels(lower: float, upper: float, width: float) -> tuple[NDArray[np.float64], ...]:
    """Composite Gauss-Legendre nodes and weights on [lower, upper], panels <= width wide."""
    count = max(1, math.ceil((upper - lower) / width - 1e-9))
    edges = np.linspace(lower, upper, count + 1)
    half = np.diff(edges) / 2.0
    middle = edges[:-1] + half
    x, w = _gauss_legendre()
    return (middle[:, None] + half[:, None] * x).ravel(), (half[:, None] * w).ravel()


@dataclass(frozen=True)
class _Stage:
    """The sub-density of ``Z_k`` on look k's continuation region, as quadrature masses.

    ``mass[i]`` is the quadrature weight times the density of (continued through look k,
    ``Z_k = nodes[i]``). The start (look 0) is a point mass at 0 with ``t = 0``.
    """

    t: float
    nodes: NDArray[np.float64]
    mass: NDArray[np.float64]


_START = _Stage(0.0, np.zeros(1), np.ones(1))


def _upper_tail(stage: _Stage, t: float, drift: float, bound: float) -> float:
    """P(continued through the previous looks, Z_k >= bound) at fraction ``t``."""
    if bound == math.inf or stage.mass.size == 0:
        return 0.0
    step = t - stage.t
    arg = (stage.nodes * math.sqrt(stage.t) + drift * step - bound * math.sqrt(t)) / math.sqrt(step)
    return float(stage.mass @ special_functions().ndtr(arg))


def _lower_tail(stage: _Stage, t: float, drift: float, bound: float) -> float:
    """P(continued through the previous looks, Z_k <= bound) at fraction ``t``."""
    if bound == -math.inf or stage.mass.size == 0:
        return 0.0
    step = t - stage.t
    arg = (bound * math.sqrt(t) - stage.nodes * math.sqrt(stage.t) - drift * step) / math.sqrt(step)
    return float(stage.mass @ special_functions().ndtr(arg))


def _advance(
    stage: _Stage,
    t: float,
    drift: float,
    lower: float,
    upper: float,
    t_next: float,
    *,
    clip: bool = False,
    means: tuple[float, float] | None = None,
) -> _Stage:
    """The sub-density at fraction ``t`` on (lower, upper), ready for a next look at t_next.

    With ``clip``, the grid stops at ``mean +/- 9`` even where a bound lies farther out: the
    sub-density is at most the N(mean, 1) density of ``Z_k``, so at most ``2 Phi(-9) = 2e-19``
    of the mass is dropped per look, which is harmless for probabilities that are not tiny
    (power, a total type I error) and keeps the grid small when bounds run far out.

    ``means`` widens the grid (where a bound is infinite or clipped) to cover every drift in
    that range, so the stage can be tilted to any of them (see `ExitPath`).
    """
    # Without clip, a finite bound ends the grid, however far out: tiny early spending
    # (O'Brien-Fleming at a small fraction) gives bounds beyond mean + 9 whose crossing
    # probabilities, though tiny, must be right relative to the tiny targets of the next looks.
    low_drift, high_drift = (drift, drift) if means is None else means
    low_mean, high_mean = low_drift * math.sqrt(t), high_drift * math.sqrt(t)
    low = lower if math.isfinite(lower) else low_mean - _TAIL
    high = upper if math.isfinite(upper) else high_mean + _TAIL
    if clip:
        low, high = max(low, low_mean - _TAIL), min(high, high_mean + _TAIL)
    if not low < high or stage.mass.size == 0:
        empty = np.zeros(0)
        return _Stage(t, empty, empty)
    step = t - stage.t
    # Panels a few times narrower than the scale on which the sub-density varies (the sd of
    # Z_k given Z_{k-1}) and than the transition kernel to the next look (the sd of Z_{k+1}
    # given Z_k): 16 nodes per 4 sd integrate both to about machine precision.
    scale_in, scale_out = math.sqrt(step / t), math.sqrt((t_next - t) / t)
    width = min(_MAX_PANEL, _SD_PER_PANEL * min(scale_in, scale_out))
    nodes, weights = _panels(low, high, width)
    return _Stage(t, nodes, weights * _transition(stage, t, drift, nodes))


def _transition(
    stage: _Stage, t: float, drift: float, nodes: NDArray[np.float64]
) -> NDArray[np.float64]:
    """The density of (continued through the previous looks, ``Z_k = nodes``).

    The normal transition kernel is evaluated only within `_BAND` of its sd of each node:
    beyond, ``exp(-_BAND^2 / 2)`` is below 1e-31 of its peak. Both grids are increasing, so
    each block of nodes needs one contiguous range of the previous grid's nodes; with many
    looks the kernel is narrow and the band a small part of the full matrix.
    """
    step = t - stage.t
    scale = math.sqrt(step)
    root_t = math.sqrt(t)
    # On the scale of the kernel's sd, so that the kernel is exp(-(x - s)^2 / 2).
    shift = (stage.nodes * math.sqrt(stage.t) + drift * step) / scale
    position = nodes * (root_t / scale)
    density = np.zeros(nodes.size)
    rows = max(1, min(_BAND_ROWS, _MAX_MATRIX // max(shift.size, 1)))
    starts = np.arange(0, nodes.size, rows)
    stops = np.minimum(starts + rows, nodes.size)
    firsts = np.searchsorted(shift, position[starts] - _BAND, side="left").tolist()
    lasts = np.searchsorted(shift, position[stops - 1] + _BAND, side="right").tolist()
    blocks = zip(starts.tolist(), stops.tolist(), firsts, lasts, strict=True)
    for start, stop, first, last in blocks:
        if first >= last:
            continue
        arg = np.subtract.outer(position[start:stop], shift[first:last])
        np.square(arg, out=arg)
        arg *= -0.5
        np.exp(arg, out=arg)
        density[start:stop] = arg @ stage.mass[first:last]
    density *= root_t / (scale * math.sqrt(2.0 * math.pi))
    return density


@dataclass(frozen=True)
class ExitPath:
    """The sub-densities of one set of bounds at a reference drift, tilted to any other.

    Under drift ``d`` the density of the path ``Z_1 .. Z_k`` is that under ``d0`` times the
    likelihood ratio ``exp((d - d0) S_k - (d^2 - d0^2) t_k / 2)`` with ``S_k = Z_k sqrt(t_k)``
    (Brownian motion with drift; the ratio depends on the last point only). So the quadrature
    masses of every look, computed once at ``d0``, give the exit probabilities at any drift
    in O(nodes) per look instead of a new O(nodes^2) recursion: the same quadrature, hence the
    same numbers, up to rounding. The grids cover the drifts in ``means`` (see `_advance`);
    ``d`` should stay within a few units of ``d0`` so that no mass underflows.
    """

    fractions: tuple[float, ...]
    lower: tuple[float, ...]
    upper: tuple[float, ...]
    drift: float
    means: tuple[float, float]  # the drifts the grids cover
    stages: tuple[_Stage, ...]  # before each look: _START, then the grid of look k - 1

    @classmethod
    def build(
        cls,
        fractions: Sequence[float],
        lower: Sequence[float],
        upper: Sequence[float],
        drift: float,
        *,
        clip: bool = False,
        means: tuple[float, float] | None = None,
    ) -> ExitPath:
        stages = [_START]
        for k, t in enumerate(fractions[:-1]):
            stages.append(
                _advance(
                    stages[-1],
                    t,
                    drift,
                    lower[k],
                    upper[k],
                    fractions[k + 1],
                    clip=clip,
                    means=None if means is None else (min(means[0], drift), max(means[1], drift)),
                )
            )
        covered = (drift, drift) if means is None else (min(means[0], drift), max(means[1], drift))
        return cls(tuple(fractions), tuple(lower), tuple(upper), drift, covered, tuple(stages))

    @functools.cached_property
    def _tails(self) -> tuple[_Tail, _Tail]:
        """The nodes that can reach the upper and the lower bound of their next look."""
        sizes = [stage.nodes.size for stage in self.stages]
        before = np.array([stage.t for stage in self.stages])
        look = np.repeat(np.arange(len(self.stages)), sizes)
        position = np.concatenate([stage.nodes for stage in self.stages]) * np.sqrt(before)[look]
        mass = np.concatenate([stage.mass for stage in self.stages])
        step = (np.asarray(self.fractions) - before)[look]
        root_step = np.sqrt(step)
        root_t = np.sqrt(self.fractions)
        upper = (np.asarray(self.upper) * root_t)[look]
        lower = (np.asarray(self.lower) * root_t)[look]
        # Drifts a tilt may reach (_TILT_SPAN around the path's, within the grids' cover).
        low = max(self.means[0], self.drift - _TILT_SPAN)
        high = min(self.means[1], self.drift + _TILT_SPAN)
        with np.errstate(invalid="ignore"):
            reach_up = (position + high * step - upper) / root_step > -_TAIL_CUT
            reach_down = (lower - position - low * step) / root_step > -_TAIL_CUT

        def tail(keep: NDArray[np.bool_], bound: NDArray[np.float64]) -> _Tail:
            return _Tail(
                look[keep],
                position[keep],
                mass[keep],
                step[keep],
                root_step[keep],
                bound[keep],
                before[look][keep],
            )

        return tail(reach_up, upper), tail(reach_down, lower)

    def exits(self, drift: float) -> tuple[list[float], list[float]]:
        """P_drift(first exit at look k above upper_k) and (below lower_k), per look."""
        ndtr = special_functions().ndtr
        count = len(self.fractions)
        change = drift - self.drift
        totals = []
        for sign, tail in zip((1.0, -1.0), self._tails, strict=True):
            mass = tail.mass
            if change != 0.0:
                mass = mass * np.exp(
                    change * tail.position - 0.5 * change * (drift + self.drift) * tail.before
                )
            arg = sign * (tail.position + drift * tail.step - tail.bound) / tail.root_step
            totals.append(np.bincount(tail.look, weights=mass * ndtr(arg), minlength=count))
        return totals[0].tolist(), totals[1].tolist()


_TAIL_CUT = 12.0  # a node more than 12 sd from a bound adds at most Phi(-12) = 2e-33 of its mass


@dataclass(frozen=True)
class _Tail:
    """The nodes of every look that can reach one bound, end to end (see `ExitPath`)."""

    look: NDArray[np.intp]
    position: NDArray[np.float64]  # S = Z sqrt(t) of the previous look
    mass: NDArray[np.float64]
    step: NDArray[np.float64]
    root_step: NDArray[np.float64]
    bound: NDArray[np.float64]  # the bound on the S scale of the look
    before: NDArray[np.float64]  # the previous look's fraction


def _solve(function: Callable[[float], float], low: float, high: float) -> float:
    """The root of a monotone function on [low, high], to about 1e-14."""
    from scipy.optimize import brentq  # noqa: PLC0415 - deliberate lazy import

    return float(brentq(function, low, high, xtol=1e-14, rtol=4e-15, maxiter=200))


_BOUND_RANGE = 40.0


def _monotone_root(
    function: Callable[[float], float], start: float, *, increasing: bool, low: float, high: float
) -> float:
    """The root of a monotone function in [low, high], searched outward from ``start``.

    Steps of 1, 2, 4, ... from ``start`` bracket the root; a root beyond ``low`` or ``high``
    returns that limit.
    """
    value = function(start)
    if value == 0.0:
        return start
    down = (value > 0.0) == increasing
    width = 1.0
    while True:
        other = max(start - width, low) if down else min(start + width, high)
        other_value = function(other)
        if other_value == 0.0 or (other_value > 0.0) != (value > 0.0):
            return _solve(function, min(start, other), max(start, other))
        if other in (low, high):
            return other
        width *= 2.0


def _efficacy_bounds(fractions: Sequence[float], spent: Sequence[float], sides: int) -> list[float]:
    """Upper bounds b_k with P0(first crossing at look k) = spent[k] - spent[k - 1].

    One-sided: the continuation region is (-inf, b_k); two-sided: (-b_k, b_k), and ``spent`` is
    the total of both sides. Under H0 (drift 0).
    """
    return list(_efficacy_path(fractions, spent, sides).upper)


def _crossing_excess(
    stage: _Stage, t: float, target: float, sides: int
) -> Callable[[float], float]:
    """``u -> P0(continued, |Z_k| >= u (or Z_k >= u)) - target``, as `_upper_tail` computes it."""
    ndtr = special_functions().ndtr
    root_step = math.sqrt(t - stage.t)
    centre = stage.nodes * math.sqrt(stage.t) / root_step
    slope = math.sqrt(t) / root_step
    mass = stage.mass
    if mass.size == 0:
        return lambda u: -target

    def excess(u: float) -> float:
        crossing = float(mass @ ndtr(centre - u * slope))
        if sides == 2:
            crossing += float(mass @ ndtr(-u * slope - centre))
        return crossing - target

    return excess


def _efficacy_path(fractions: Sequence[float], spent: Sequence[float], sides: int) -> ExitPath:
    """The efficacy bounds (see `_efficacy_bounds`) with the null recursion that found them."""
    bounds: list[float] = []
    stages = [_START]
    stage = _START
    previous = 0.0
    for k, t in enumerate(fractions):
        target = spent[k] - previous
        previous = spent[k]
        if target <= 0.0:
            bound = math.inf
        elif k == 0:
            bound = -float(special_functions().ndtri(target / sides))
        else:
            excess = _crossing_excess(stage, t, target, sides)
            # P(continued, crossing) <= P(crossing): the bound is at most the one-look quantile.
            high = -float(special_functions().ndtri(target / sides))
            low = 0.0 if sides == 2 else -_BOUND_RANGE
            bound = _monotone_root(excess, high, increasing=False, low=low, high=_BOUND_RANGE)
        bounds.append(bound)
        if k + 1 < len(fractions):
            lower = -bound if sides == 2 else -math.inf
            stage = _advance(stage, t, 0.0, lower, bound, fractions[k + 1])
            stages.append(stage)
    lowers = [-b for b in bounds] if sides == 2 else [-math.inf] * len(bounds)
    return ExitPath(tuple(fractions), tuple(lowers), tuple(bounds), 0.0, (0.0, 0.0), tuple(stages))


def _futility_bounds(
    fractions: Sequence[float],
    efficacy: Sequence[float],
    beta_spent: Sequence[float],
    drift: float,
) -> tuple[list[float], bool]:
    """One-sided futility bounds a_k: P_drift(first exit at k, below a_k) = beta increment.

    The continuation region of look k is (a_k, b_k). Returns the bounds and whether every
    interim look kept a non-empty continuation region (a_k < b_k).
    """
    bounds: list[float] = []
    stage = _START
    previous = 0.0
    last = len(fractions) - 1
    for k, t in enumerate(fractions):
        target = beta_spent[k] - previous
        previous = beta_spent[k]
        mean = drift * math.sqrt(t)
        if target <= 0.0:
            bound = -math.inf
        elif k == 0:
            bound = mean + float(special_functions().ndtri(target))
        else:

            def excess(
                a: float, stage: _Stage = stage, t: float = t, target: float = target
            ) -> float:
                return _lower_tail(stage, t, drift, a) - target

            # P(continued, below a) <= P(below a): the bound is at least the one-look quantile.
            low = mean + float(special_functions().ndtri(target))
            bound = _monotone_root(
                excess, low, increasing=True, low=mean - _BOUND_RANGE, high=mean + _BOUND_RANGE
            )
        bounds.append(bound)
        if k < last:
            if bound >= efficacy[k]:
                return bounds, False
            stage = _advance(stage, t, drift, bound, efficacy[k], fractions[k + 1])
    return bounds, True


def exit_probabilities(
    fractions: Sequence[float],
    lower: Sequence[float],
    upper: Sequence[float],
    drift: float,
    *,
    clip: bool = False,
) -> tuple[list[float], list[float]]:
    """P_drift(first exit at look k above upper_k) and (below lower_k), per look.

    ``clip`` bounds the grids at ``mean +/- 9`` (see `_advance`).
    """
    return ExitPath.build(fractions, lower, upper, drift, clip=clip).exits(drift)


_TILT_SPAN = 12.0  # drifts searched by tilting one path: at most this far from its drift


def required_drift(
    fractions: Sequence[float],
    lower: Sequence[float],
    upper: Sequence[float],
    power: float,
    low: float,
    high: float,
    *,
    clip: bool = False,
    path: ExitPath | None = None,
) -> float:
    """The drift at which the first exit is above ``upper`` with probability ``power``.

    The exit probability above rises with the drift, so the root is bracketed from ``low``
    (where it must fall short of ``power``) by doubling ``high`` until it is reached. ``clip``
    bounds the grids at ``mean +/- 9`` (see `_advance`). One recursion (``path``, or one built
    at drift ``low``) serves every drift of the search by tilting (see `ExitPath`); a bracket
    wider than `_TILT_SPAN` gets a path of its own.
    """
    if path is None or not _covers(path, low, high):
        path = ExitPath.build(fractions, lower, upper, low, clip=clip, means=(low, high))
    paths = [path]  # the latest path serves the search

    def shortfall(drift: float) -> float:
        latest = paths[-1]
        if _covers(latest, drift, drift):
            above, _ = latest.exits(drift)
        else:
            above, _ = exit_probabilities(fractions, lower, upper, drift, clip=clip)
        return sum(above) - power

    while shortfall(high) < 0.0:
        low, high = high, 2.0 * high
        if not _covers(paths[-1], low, high):
            paths.append(ExitPath.build(fractions, lower, upper, low, clip=clip, means=(low, high)))
    return _solve(shortfall, low, high)


def _covers(path: ExitPath, low: float, high: float) -> bool:
    """Whether ``path`` was built for every drift in [low, high] (grids and tilt span)."""
    return (
        path.means[0] <= low
        and high <= path.means[1]
        and max(abs(low - path.drift), abs(high - path.drift)) <= _TILT_SPAN
    )


def _normal_quantile(probability: float) -> float:
    return float(special_functions().ndtri(probability))


# ---------------------------------------------------------------------------------------------
# Bounds
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SequentialBounds:
    """The stopping bounds of a group-sequential design, on the z scale, one entry per look.

    Orientation: with ``alternative="greater"`` stop for efficacy when ``z >= efficacy_bound``
    and for futility when ``z < futility_bound``; with ``"less"`` the bounds are mirrored
    (``z <= efficacy_bound``, a negative number; ``z > futility_bound``); with ``"two-sided"``
    stop for efficacy when ``|z| >= efficacy_bound``. Without a futility bound at a look the
    futility bound is ``-inf`` (``"greater"``), ``inf`` (``"less"``) or 0 (``"two-sided"``,
    ``|z| < 0`` never happens). At the final analysis (information fraction 1) the futility
    bound equals the efficacy bound: the trial ends there either way.

    Attributes:
        information_fractions: ``t_k``, the share of the maximum information at each look.
        alpha: Type I error of the whole design (two-sided total for ``"two-sided"``).
        alternative: "two-sided", "greater" or "less".
        spending: The alpha-spending family.
        spending_parameter: Its ``gamma`` (``"hsd"``) or ``rho`` (``"power"``), else None.
        efficacy_bounds: Critical values ``b_k`` of the z statistic.
        futility_bounds: Non-binding futility bounds ``a_k`` (see above when there are none).
        nominal_alpha: The p-value threshold at each look: ``1 - Phi(|b_k|)``, doubled when
            two-sided.
        alpha_spent: Cumulative type I error spent by each look, ``alpha(t_k)`` (two-sided: both
            sides together).
        futility_spending: The beta-spending family, or None without futility bounds.
        futility_spending_parameter: Its parameter, else None.
        beta: Type II error spent by the futility bounds (None without them).
        beta_spent: Cumulative type II error spent by each look under ``drift`` (None without
            futility bounds).
        drift: Expected z statistic at information fraction 1 under the alternative the futility
            bounds are computed for (None without futility bounds).
        power: Cumulative probability of stopping for efficacy by each look under ``drift``,
            with the futility bounds obeyed (None without futility bounds).
    """

    information_fractions: tuple[float, ...]
    alpha: float
    alternative: Alternative
    spending: SpendingName
    spending_parameter: float | None
    efficacy_bounds: tuple[float, ...]
    futility_bounds: tuple[float, ...]
    nominal_alpha: tuple[float, ...]
    alpha_spent: tuple[float, ...]
    futility_spending: SpendingName | None = None
    futility_spending_parameter: float | None = None
    beta: float | None = None
    beta_spent: tuple[float, ...] | None = None
    drift: float | None = None
    power: tuple[float, ...] | None = None

    @property
    def looks(self) -> int:
        """The number of looks."""
        return len(self.information_fractions)

    def to_dict(self) -> dict[str, Any]:
        """A flat dictionary of every field (tuples become lists)."""
        return {
            key: list(value) if isinstance(value, tuple) else value
            for key, value in asdict(self).items()
        }


@dataclass(frozen=True)
class _Design:
    """Validated design arguments, oriented so that large z means efficacy."""

    fractions: tuple[float, ...]
    alpha: float
    alternative: Alternative
    efficacy: SpendingFunction  # spends per side for two-sided designs
    futility: SpendingFunction | None
    drift: float | None  # oriented (positive), when given

    @property
    def sides(self) -> int:
        return 2 if self.alternative == "two-sided" else 1

    @property
    def sign(self) -> float:
        return -1.0 if self.alternative == "less" else 1.0

    def spent(self, fractions: Sequence[float]) -> list[float]:
        """Cumulative alpha spent (both sides together) at the given fractions."""
        return [self.sides * self.efficacy(t) for t in fractions]


def _check_fractions(information_fractions: ArrayLike) -> tuple[float, ...]:
    values = np.asarray(information_fractions, dtype=np.float64)
    if values.ndim != 1 or values.size == 0:
        raise InputError(
            f"information_fractions == {information_fractions!r}, must be a non-empty flat sequence"
        )
    check_looks(values.size)
    fractions = tuple(float(v) for v in values)
    if not all(math.isfinite(t) and 0.0 < t <= 1.0 for t in fractions):
        raise InputError(f"information_fractions == {list(fractions)!r}, must all be in (0, 1]")
    if any(b <= a for a, b in itertools.pairwise(fractions)):
        raise InputError(
            f"information_fractions == {list(fractions)!r}, must be strictly increasing"
        )
    return fractions


def _check_design(
    information_fractions: ArrayLike,
    alpha: float,
    alternative: str,
    spending: str,
    spending_parameter: float | None,
    futility_spending: str | None,
    futility_spending_parameter: float | None,
    beta: float,
    drift: float | None,
) -> _Design:
    fractions = _check_fractions(information_fractions)
    alpha = check_open_unit_interval("alpha", alpha)
    if alpha > _MAX_ALPHA:
        raise InputError(f"alpha == {alpha!r}, must be <= 0.5")
    alternative = check_alternative(alternative)
    sides = 2 if alternative == "two-sided" else 1
    efficacy = _spending(spending, alpha / sides, spending_parameter, "spending")
    futility = None
    oriented_drift = None
    if futility_spending is not None:
        if sides == 2:
            raise InputError(
                "futility_spending is supported for one-sided designs only; for a two-sided "
                "test whose futility rule concerns one direction, use the one-sided design at "
                "alpha / 2 (its efficacy bounds are nearly the same)"
            )
        beta = check_open_unit_interval("beta", beta)
        if alpha + beta >= 1.0:
            raise InputError(f"beta == {beta!r}, must be < 1 - alpha")
        futility = _spending(
            futility_spending, beta, futility_spending_parameter, "futility_spending"
        )
        if drift is not None:
            oriented_drift = check_real("drift", drift) * (-1.0 if alternative == "less" else 1.0)
            if oriented_drift <= 0.0:
                side = "< 0" if alternative == "less" else "> 0"
                raise InputError(
                    f"drift == {drift!r}, must be {side} (in the direction of the alternative)"
                )
    elif futility_spending_parameter is not None or drift is not None:
        raise InputError("futility_spending_parameter and drift need futility_spending")
    return _Design(fractions, alpha, alternative, efficacy, futility, oriented_drift)


def _solve_drift(
    fractions: Sequence[float], efficacy: Sequence[float], beta_spent: Sequence[float]
) -> float:
    """The drift at which the last futility bound meets the last efficacy bound."""

    def gap(drift: float) -> float:
        bounds, open_ = _futility_bounds(fractions, efficacy, beta_spent, drift)
        # An interim futility bound at or above the efficacy bound: the drift is too large.
        return bounds[-1] - efficacy[-1] if open_ else 1.0

    if gap(0.0) >= 0.0:
        raise InputError("beta is too large for a futility design: the bounds meet under H0")
    high = 2.0 * (_normal_quantile(1.0 - beta_spent[-1]) + max(efficacy[-1], 0.0)) + 1.0
    while gap(high) < 0.0:
        high *= 2.0
    return _solve(gap, 0.0, high)


def _bounds(design: _Design) -> SequentialBounds:
    return _bounds_and_path(design)[0]


def _bounds_and_path(design: _Design) -> tuple[SequentialBounds, ExitPath]:
    """The bounds, and the null recursion of the efficacy bounds (see `_efficacy_path`)."""
    fractions = design.fractions
    sides, sign = design.sides, design.sign
    spent = design.spent(fractions)
    path = _efficacy_path(fractions, spent, sides)
    efficacy = list(path.upper)
    final = fractions[-1] == 1.0
    futility: list[float]
    drift: float | None = None
    beta_spent: tuple[float, ...] | None = None
    power: tuple[float, ...] | None = None
    if design.futility is None:
        nothing = 0.0 if sides == 2 else -math.inf
        futility = [nothing] * len(fractions)
    else:
        # The drift comes from the complete design: the looks so far, and a final analysis at
        # fraction 1 when they stop short of it.
        planned = fractions if final else (*fractions, 1.0)
        planned_efficacy = (
            efficacy if final else _efficacy_bounds(planned, design.spent(planned), 1)
        )
        planned_beta = [design.futility(t) for t in planned]
        drift = design.drift
        if drift is None:
            drift = _solve_drift(planned, planned_efficacy, planned_beta)
        futility, _ = _futility_bounds(fractions, efficacy, planned_beta, drift)
        futility += [math.inf] * (len(fractions) - len(futility))  # after an empty region
        futility = [min(a, b) for a, b in zip(futility, efficacy, strict=True)]
    if final:  # the trial ends at the final analysis: not rejecting is stopping
        futility[-1] = efficacy[-1]
    if drift is not None:
        above, below = exit_probabilities(fractions, futility, efficacy, drift)
        power = tuple(np.cumsum(above).tolist())
        beta_spent = tuple(np.cumsum(below).tolist())
    nominal = [sides * float(special_functions().ndtr(-b)) for b in efficacy]
    bounds = SequentialBounds(
        information_fractions=fractions,
        alpha=design.alpha,
        alternative=design.alternative,
        spending=design.efficacy.name,
        spending_parameter=design.efficacy.parameter,
        efficacy_bounds=tuple(sign * b for b in efficacy),
        futility_bounds=tuple(sign * a for a in futility),
        nominal_alpha=tuple(nominal),
        alpha_spent=tuple(spent),
        futility_spending=None if design.futility is None else design.futility.name,
        futility_spending_parameter=None if design.futility is None else design.futility.parameter,
        beta=None if design.futility is None else design.futility.total,
        beta_spent=beta_spent,
        drift=None if drift is None else sign * drift,
        power=power,
    )
    return bounds, path


def group_sequential_bounds(
    information_fractions: ArrayLike,
    *,
    alpha: float = 0.05,
    alternative: Alternative = "two-sided",
    spending: SpendingName = "obrien-fleming",
    spending_parameter: float | None = None,
    futility_spending: SpendingName | None = None,
    futility_spending_parameter: float | None = None,
    beta: float = 0.2,
    drift: float | None = None,
) -> SequentialBounds:
    """Efficacy (and optional futility) bounds of a group-sequential design with alpha spending.

    The looks may be the planned ones or the ones that actually happened: the bound at each
    look depends only on the fractions up to it, so pass the fractions observed so far (for
    example ``[0.2, 0.45, 0.7]`` of the planned maximum information). A two-sided design at level
    ``alpha`` spends ``alpha / 2`` on each side with the one-sided function (as rpact
    ``sided = 2``, gsDesign and EAST do); only O'Brien-Fleming spending differs from spending
    ``alpha`` with the function itself.

    Args:
        information_fractions: Strictly increasing fractions in (0, 1] of the maximum
            information (``n_k / n_max`` when the variance per unit is constant).
        alpha: Type I error of the design (the two-sided total for ``"two-sided"``), at most 0.5.
        alternative: "two-sided" (symmetric bounds), "greater" or "less".
        spending: Alpha-spending family: "obrien-fleming", "pocock", "hsd" or "power".
        spending_parameter: ``gamma`` for "hsd" (default -4) or ``rho`` for "power" (default 3).
        futility_spending: Beta-spending family for non-binding futility bounds (one-sided
            designs only), or None for none.
        futility_spending_parameter: Its ``gamma`` / ``rho``.
        beta: Type II error spent by the futility bounds (``1 - power``).
        drift: Expected z statistic at information fraction 1 under the alternative the study is
            powered for. Default: the drift at which the design with its futility bounds has
            power ``1 - beta`` (when the fractions stop short of 1, of the design completed by a
            final analysis at 1). Pass the planned design's ``drift`` to keep the planned
            futility bounds when the actual looks differ from the plan.

    Returns:
        The `SequentialBounds`.

    Raises:
        InputError: On invalid fractions, levels or spending parameters, or futility spending
            with a two-sided design.

    Examples:
        >>> b = group_sequential_bounds([0.25, 0.5, 0.75, 1.0], alpha=0.025, alternative="greater")
        >>> [round(z, 4) for z in b.efficacy_bounds]
        [4.3326, 2.9631, 2.3590, 2.0141]
        >>> [round(a, 5) for a in b.alpha_spent]
        [1e-05, 0.00153, 0.00965, 0.025]
    """
    design = _check_design(
        information_fractions,
        alpha,
        alternative,
        spending,
        spending_parameter,
        futility_spending,
        futility_spending_parameter,
        beta,
        drift,
    )
    return _bounds(design)


def sample_size_inflation(
    information_fractions: ArrayLike,
    *,
    alpha: float = 0.05,
    beta: float = 0.2,
    alternative: Alternative = "two-sided",
    spending: SpendingName = "obrien-fleming",
    spending_parameter: float | None = None,
    futility_spending: SpendingName | None = None,
    futility_spending_parameter: float | None = None,
) -> float:
    """Maximum information of a group-sequential design over that of the fixed design.

    The inflation factor ``(drift / (z_{1 - alpha/s} + z_{1 - beta}))^2`` (``s`` = 2 for
    two-sided, else 1), where ``drift`` is the expected z statistic at full information under
    which the sequential design has power ``1 - beta`` (with its futility bounds obeyed, if any;
    two-sided power counts rejections in the direction of the effect only, as rpact's default).
    Multiply the fixed-design sample size by it to get the maximum sample size of the
    sequential design (rpact: ``getDesignCharacteristics(design)$inflationFactor``).

    Args:
        information_fractions: The planned looks; the last must be 1.
        alpha: Type I error (two-sided total for ``"two-sided"``).
        beta: Type II error, ``1 - power``.
        alternative: "two-sided", "greater" or "less".
        spending: Alpha-spending family.
        spending_parameter: Its ``gamma`` / ``rho``.
        futility_spending: Beta-spending family of non-binding futility bounds, or None.
        futility_spending_parameter: Its ``gamma`` / ``rho``.

    Returns:
        The inflation factor, at least 1.

    Examples:
        >>> round(sample_size_inflation([0.5, 1.0], alpha=0.025, alternative="greater"), 6)
        1.003725
        >>> round(sample_size_inflation([1 / 3, 2 / 3, 1.0], spending="pocock"), 4)
        1.1704
    """
    design = _check_design(
        information_fractions,
        alpha,
        alternative,
        spending,
        spending_parameter,
        futility_spending,
        futility_spending_parameter,
        beta,
        None,
    )
    beta = check_open_unit_interval("beta", beta)
    if alpha / design.sides + beta >= 1.0:
        raise InputError(f"beta == {beta!r}, must be < 1 - alpha")
    if design.fractions[-1] != 1.0:
        raise InputError(
            f"information_fractions == {list(design.fractions)!r}, the last must be 1 (the "
            "maximum information of the design)"
        )
    fixed = _normal_quantile(1.0 - alpha / design.sides) + _normal_quantile(1.0 - beta)
    bounds, path = _bounds_and_path(design)
    if bounds.drift is not None:
        return (bounds.drift / fixed) ** 2
    # The null recursion of the efficacy bounds, tilted, gives the power at any drift (see
    # ExitPath): its grids end at the bounds, and at -9 below a one-sided design, which covers
    # every positive drift. A look that spends nothing (so early that its bound is infinite)
    # ends its grid at 9: drifts up to 0.5 / sqrt(t) there lose at most Phi(-8.5) = 1e-17.
    unbounded = [
        t for t, b in zip(path.fractions[:-1], path.upper[:-1], strict=True) if math.isinf(b)
    ]
    reach = min((0.5 / math.sqrt(t) for t in unbounded), default=math.inf)
    path = dataclasses.replace(path, means=(0.0, reach))
    return (
        required_drift(
            path.fractions, path.lower, path.upper, 1.0 - beta, 0.0, 2.0 * fixed, path=path
        )
        / fixed
    ) ** 2


# ---------------------------------------------------------------------------------------------
# The test
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SequentialLook:
    """One look of a group-sequential test.

    Attributes:
        look: 1-based index of the look.
        information_fraction: ``t_k``.
        estimate: The effect estimate at this look (cumulative data).
        standard_error: Its standard error.
        statistic: ``z = (estimate - margin) / standard_error``.
        efficacy_bound: Critical value of ``z`` (see `SequentialBounds` for the orientation).
        futility_bound: Non-binding futility bound of ``z``.
        nominal_alpha: The p-value threshold at this look.
        alpha_spent: Cumulative alpha spent by this look.
        p_value: The naive fixed-horizon p-value of ``z`` (not adjusted for the looks; shown
            for reference: compare it with ``nominal_alpha``, not with ``alpha``).
        ci_lower: Lower end of the repeated confidence interval ``estimate - bound * se``.
        ci_upper: Upper end (``estimate + bound * se``).
        decision: What the bounds say at this look: "continue", "stop for efficacy" or
            "stop for futility" (at the final analysis, "stop for futility" means that H0 is not
            rejected).
    """

    look: int
    information_fraction: float
    estimate: float
    standard_error: float
    statistic: float
    efficacy_bound: float
    futility_bound: float
    nominal_alpha: float
    alpha_spent: float
    p_value: float
    ci_lower: float
    ci_upper: float
    decision: SequentialDecision

    @property
    def ci(self) -> tuple[float, float]:
        """The repeated confidence interval of the effect at this look."""
        return self.ci_lower, self.ci_upper


@dataclass(frozen=True)
class SequentialResult:
    """A group-sequential test: the looks so far, the decision and the adjusted p-value.

    The repeated confidence intervals (Jennison and Turnbull, 1989) cover the effect at all
    looks simultaneously with probability ``1 - alpha``, whatever the stopping rule, so they may
    be reported at any look. The adjusted p-value follows the stage-wise ordering of the sample
    space (Jennison and Turnbull, 2000, sec. 8.4): at the look ``k*`` where the trial stops with
    statistic ``z*``, ``p = P0(crossing the efficacy bound before k*) + P0(reaching k*,
    Z_{k*} >= z*)``, computed without the non-binding futility bounds; it is below ``alpha``
    exactly when the trial stops for efficacy. It is NaN while the trial continues.

    Attributes:
        bounds: The design's bounds at the looks.
        looks: One `SequentialLook` per look.
        decision: "stop for efficacy", "stop for futility" or "continue".
        stopping_look: 1-based look at which the trial stopped, None while it continues.
        adjusted_p_value: Stage-wise ordering p-value at the stopping look (NaN if none).
        margin: The null value of the effect.
        notes: Remarks, e.g. a futility bound crossed and overridden, or looks after a stop.
    """

    bounds: SequentialBounds
    looks: tuple[SequentialLook, ...]
    decision: SequentialDecision
    stopping_look: int | None
    adjusted_p_value: float
    margin: float = 0.0
    notes: tuple[str, ...] = field(default=())

    @property
    def alternative(self) -> Alternative:
        """The alternative of the design."""
        return self.bounds.alternative

    @property
    def alpha(self) -> float:
        """The type I error of the design."""
        return self.bounds.alpha

    @property
    def current(self) -> SequentialLook:
        """The look that decides: the stopping look, else the latest one."""
        index = self.looks[-1].look if self.stopping_look is None else self.stopping_look
        return self.looks[index - 1]

    def repeated_p_values(self) -> tuple[float, ...]:
        """Repeated p-values, one per look (Jennison and Turnbull, 2000, sec. 9.1).

        The repeated p-value of look ``k`` is the smallest alpha at which the same spending
        design (same family, parameter and looks) rejects at look ``k``: the level at which the
        repeated confidence interval just reaches the margin. Like those intervals they are valid
        at every look, whatever the stopping rule, and the trial may stop at any look where one
        is at most ``alpha``. The futility bounds play no part (they are non-binding).

        They are searched in [1e-10, 0.5]; values outside are reported as the nearest end
        (rpact's range is [1e-6, 0.5)). Computed on request: each is a root search over alpha,
        recomputing the bounds of the looks up to it (about a millisecond per look and
        iteration), so many looks take a while.

        Examples:
            >>> r = group_sequential_test([0.9, 0.62], [0.4, 0.25], [0.5, 1.0])
            >>> [round(p, 5) for p in r.repeated_p_values()]
            [0.15288, 0.01322]
        """
        bounds = self.bounds
        sides = 2 if bounds.alternative == "two-sided" else 1
        spending = SpendingFunction(
            bounds.spending, bounds.alpha / sides, bounds.spending_parameter
        )
        design = _Design(
            bounds.information_fractions, bounds.alpha, bounds.alternative, spending, None, None
        )
        return tuple(
            _repeated_p_value(design, k, design.sign * look.statistic)
            for k, look in enumerate(self.looks)
        )

    def to_dict(self) -> dict[str, Any]:
        """A nested dictionary: ``bounds``, a list of ``looks``, and the decision."""
        return {
            "bounds": self.bounds.to_dict(),
            "looks": [asdict(look) for look in self.looks],
            "decision": self.decision,
            "stopping_look": self.stopping_look,
            "adjusted_p_value": self.adjusted_p_value,
            "margin": self.margin,
            "notes": list(self.notes),
        }


def _check_values(name: str, values: ArrayLike, count: int, *, positive: bool) -> list[float]:
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 1 or array.size != count:
        raise InputError(
            f"{name} == {values!r}, must be a flat sequence with one value per look ({count})"
        )
    for index, value in enumerate(array.tolist()):
        if not math.isfinite(value) or (positive and value <= 0.0):
            rule = "finite and > 0" if positive else "finite"
            raise InputError(f"{name}[{index}] == {value!r}, must be {rule}")
    return [float(v) for v in array]


def _stagewise_p_value(
    design: _Design, efficacy: Sequence[float], look: int, statistic: float
) -> float:
    """Stage-wise ordering p-value at ``look`` (0-based) for an oriented statistic."""
    sides = design.sides
    z = abs(statistic) if sides == 2 else statistic
    fractions = design.fractions[: look + 1]
    upper = [*efficacy[:look], z]
    lower = [-u for u in upper] if sides == 2 else [-math.inf] * len(upper)
    above, below = exit_probabilities(fractions, lower, upper, 0.0)
    return min(1.0, sum(above) + sum(below))


def _repeated_p_value(design: _Design, look: int, statistic: float) -> float:
    """The smallest alpha at which the same spending design rejects at ``look``.

    It is at least the look's nominal p-value ``p``: no look can spend more than the whole
    alpha, so ``b_k(alpha) >= z_{1 - alpha/s}`` and ``b_k(p) >= |z|``. The search runs on
    log alpha over [max(p, 1e-10), 0.5].
    """
    z = abs(statistic) if design.sides == 2 else statistic
    fractions = design.fractions[: look + 1]
    floor, cap = _REPEATED_P_RANGE
    nominal = design.sides * float(special_functions().ndtr(-z))
    if nominal >= cap:
        return cap

    def excess(log_alpha: float) -> float:
        spending = SpendingFunction(
            design.efficacy.name, math.exp(log_alpha) / design.sides, design.efficacy.parameter
        )
        spent = [design.sides * spending(t) for t in fractions]
        return _efficacy_bounds(fractions, spent, design.sides)[-1] - z

    high = math.log(cap)
    if excess(high) >= 0.0:
        return cap
    smallest = max(nominal, floor)
    low = math.log(smallest)
    if excess(low) <= 0.0:
        return smallest
    return math.exp(_solve(excess, low, high))


def group_sequential_test(
    estimates: ArrayLike,
    standard_errors: ArrayLike,
    information_fractions: ArrayLike,
    *,
    alpha: float = 0.05,
    alternative: Alternative = "two-sided",
    spending: SpendingName = "obrien-fleming",
    spending_parameter: float | None = None,
    futility_spending: SpendingName | None = None,
    futility_spending_parameter: float | None = None,
    beta: float = 0.2,
    drift: float | None = None,
    margin: float = 0.0,
) -> SequentialResult:
    """A group-sequential test of ``effect == margin`` from the estimates at each look.

    Works for any metric whose estimate is approximately normal with a known standard error
    (a difference of means or proportions, a ratio metric, a CUPED-adjusted mean, ...): at look
    ``k`` the statistic ``z_k = (estimate_k - margin) / se_k`` is compared with the bounds of
    `group_sequential_bounds`. The estimates are cumulative: each uses all data up to its look.

    The trial stops at the first look whose efficacy bound is crossed. A crossed futility bound
    stops it too, unless later looks are given: futility bounds are non-binding, so continuing
    past one is allowed and the result notes it. Looks after an efficacy stop do not change the
    decision (a note says so).

    Args:
        estimates: The effect estimate at each look (e.g. ``TestResult.effect``).
        standard_errors: Its standard error at each look (e.g. ``TestResult.standard_error``).
        information_fractions: Share of the maximum information at each look; see
            `group_sequential_bounds`.
        alpha: Type I error of the design.
        alternative: "two-sided", "greater" or "less".
        spending: Alpha-spending family.
        spending_parameter: Its ``gamma`` / ``rho``.
        futility_spending: Beta-spending family of non-binding futility bounds, or None.
        futility_spending_parameter: Its ``gamma`` / ``rho``.
        beta: Type II error spent by the futility bounds.
        drift: Drift of the futility bounds' alternative; see `group_sequential_bounds`.
        margin: Null value of the effect (0 tests no effect).

    Returns:
        A `SequentialResult`.

    Examples:
        >>> r = group_sequential_test(
        ...     [0.9, 0.62, 0.55], [0.4, 0.25, 0.2], [1 / 3, 2 / 3, 1.0], alternative="greater"
        ... )
        >>> r.decision, r.stopping_look
        ('stop for efficacy', 2)
        >>> r.notes
        ('the trial stopped at look 2; look 3 does not change the decision',)
        >>> [round(look.efficacy_bound, 4) for look in r.looks]
        [3.2001, 2.1408, 1.6948]
        >>> round(r.adjusted_p_value, 5), [round(x, 4) for x in r.current.ci]
        (0.00692, [0.0848, inf])
    """
    design = _check_design(
        information_fractions,
        alpha,
        alternative,
        spending,
        spending_parameter,
        futility_spending,
        futility_spending_parameter,
        beta,
        drift,
    )
    count = len(design.fractions)
    values = _check_values("estimates", estimates, count, positive=False)
    errors = _check_values("standard_errors", standard_errors, count, positive=True)
    margin = check_real("margin", margin)
    bounds = _bounds(design)
    sign, sides = design.sign, design.sides
    oriented_efficacy = [sign * b for b in bounds.efficacy_bounds]
    special = special_functions()
    looks: list[SequentialLook] = []
    notes: list[str] = []
    stopping: int | None = None
    decision: SequentialDecision = "continue"
    for k in range(count):
        z = (values[k] - margin) / errors[k]
        oriented = sign * z
        b = oriented_efficacy[k]
        a = sign * bounds.futility_bounds[k]
        if sides == 2:
            crossed = abs(z) >= b
            futile = abs(z) < a
            p_value = min(1.0, 2.0 * float(special.ndtr(-abs(z))))
        else:
            crossed = oriented >= b
            futile = oriented < a
            p_value = float(special.ndtr(-oriented))
        look_decision: SequentialDecision = (
            "stop for efficacy" if crossed else "stop for futility" if futile else "continue"
        )
        half = b * errors[k]
        lower = values[k] - half if design.alternative != "less" else -math.inf
        upper = values[k] + half if design.alternative != "greater" else math.inf
        looks.append(
            SequentialLook(
                look=k + 1,
                information_fraction=design.fractions[k],
                estimate=values[k],
                standard_error=errors[k],
                statistic=z,
                efficacy_bound=bounds.efficacy_bounds[k],
                futility_bound=bounds.futility_bounds[k],
                nominal_alpha=bounds.nominal_alpha[k],
                alpha_spent=bounds.alpha_spent[k],
                p_value=p_value,
                ci_lower=lower,
                ci_upper=upper,
                decision=look_decision,
            )
        )
        if stopping is not None or look_decision == "continue":
            continue
        if look_decision == "stop for futility" and k + 1 < count:
            notes.append(
                f"look {k + 1} crossed the futility bound and the trial continued (allowed: the "
                "futility bounds are non-binding)"
            )
            continue
        stopping, decision = k + 1, look_decision
    adjusted = math.nan
    if stopping is not None:
        statistic = sign * looks[stopping - 1].statistic
        adjusted = _stagewise_p_value(design, oriented_efficacy, stopping - 1, statistic)
        if stopping < count:
            later = (
                f"look {count} does not"
                if count == stopping + 1
                else f"looks {stopping + 1} to {count} do not"
            )
            notes.append(f"the trial stopped at look {stopping}; {later} change the decision")
    return SequentialResult(
        bounds=bounds,
        looks=tuple(looks),
        decision=decision,
        stopping_look=stopping,
        adjusted_p_value=adjusted,
        margin=margin,
        notes=tuple(notes),
    )
