"""The power calculator's inputs, read the same way by every face (web page, CLI, notebook).

A calculator form is a mapping of text fields (``"10%"``, ``"0.05"``, ``"10,000"``);
`calculator_plan` parses them, checks each with a message naming the field, and calls
`ablens.power_plan`. The web calculator is this module behind a page; `ablens power` takes the same
inputs as options. Every default is `ablens.power_plan`'s, so one question gets one answer.

Examples:
    >>> from ablens.calculator import calculator_plan
    >>> plan = calculator_plan({"baseline": "10%", "mde": "5%", "arms": "3", "traffic": "10000"})
    >>> plan.n_per_arm, plan.days
    ((57780, 57780, 57780), 18)
    >>> form = {"baseline": "10%", "mde": "5%", "arms": "3", "correction": "bonferroni"}
    >>> calculator_plan(form).n_per_arm[0]
    69971
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Literal, cast
from urllib.parse import urlencode

from ablens.errors import InputError, LimitError
from ablens.planning import power_plan
from ablens.stats.power import POWER_CORRECTIONS
from ablens.typing import SEQUENTIAL_METHODS

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from ablens.planning import PowerPlan
    from ablens.stats.power import PowerCorrection

__all__ = [
    "CALCULATOR_DEFAULTS",
    "CORRECTION_CHOICES",
    "SEQUENTIAL_CHOICES",
    "FieldError",
    "calculator_form",
    "calculator_plan",
    "calculator_query",
]

#: Every field of the calculator with its default (as text, as a form holds it).
CALCULATOR_DEFAULTS: dict[str, str] = {
    "kind": "proportion",
    "baseline": "10%",
    "sd": "",
    "mde": "5%",
    "mde_type": "relative",
    "alpha": "0.05",
    "power": "0.8",
    "sides": "two-sided",
    "arms": "2",
    "traffic": "10000",
    "days": "",
    "sequential": "none",
    "looks": "5",
    "correction": "none",
}
#: How a result is read, in the calculator (`ablens.power_plan`'s ``sequential``) and the readout
#: form (a plan's ``sequential:``); "none" reads it once.
SEQUENTIAL_CHOICES: tuple[str, ...] = SEQUENTIAL_METHODS
#: The calculator's Correction field: none, or `ablens.power_plan`'s corrections of alpha over arms.
CORRECTION_CHOICES: tuple[str, ...] = ("none", *POWER_CORRECTIONS)
_FIELDS = tuple(CALCULATOR_DEFAULTS)


class FieldError(InputError):
    """A form field that cannot be used, with a message for the person who typed it."""


def _number(form: Mapping[str, str], key: str, label: str, *, percent: bool = False) -> float:
    """Parse a number field; ``10%`` is 0.1 when `percent`; raise `FieldError` with a hint."""
    text = form.get(key, "").strip().replace(",", "").replace("_", "")
    scale = 1.0
    if percent and text.endswith("%"):
        text, scale = text[:-1].strip(), 0.01
    if not text:
        raise FieldError(f"{label}: enter a number.")
    try:
        value = float(text) * scale
    except ValueError:
        raise FieldError(f"{label}: {form.get(key, '')!r} is not a number.") from None
    if not math.isfinite(value):
        raise FieldError(f"{label}: must be a finite number.")
    return value


def _optional(form: Mapping[str, str], key: str, label: str) -> float | None:
    return _number(form, key, label) if form.get(key, "").strip() else None


def _whole(form: Mapping[str, str], key: str, label: str, minimum: int) -> int:
    value = _number(form, key, label)
    if value != int(value) or value < minimum:
        raise FieldError(f"{label}: must be a whole number of at least {minimum}.")
    return int(value)


def _choice(form: Mapping[str, str], key: str, allowed: Sequence[str]) -> str:
    value = form.get(key, "").strip() or CALCULATOR_DEFAULTS[key]
    if value not in allowed:
        raise FieldError(f"{key}: {value!r} is not one of {', '.join(allowed)}.")
    return value


def _reading_options(form: Mapping[str, str]) -> dict[str, Any]:
    """`ablens.power_plan`'s ``sequential`` and ``looks`` from the Reading and Looks fields."""
    reading = _choice(form, "sequential", SEQUENTIAL_CHOICES)
    if reading == "none":
        return {}
    looks = _whole(form, "looks", "Looks", 1)  # the most looks is the library's (LimitError)
    # the group-sequential design spends alpha as O'Brien-Fleming, the readout's default
    return {"sequential": reading, "looks": looks}


def calculator_plan(form: Mapping[str, str]) -> PowerPlan:
    """Turn the calculator's fields into `ablens.power_plan` arguments and plan.

    The web calculator and ``ablens power`` read the same inputs the same way: every default is
    `ablens.power_plan`'s (no correction over arms unless the Correction field asks for one).

    Rates, MDEs, alpha and power take a fraction (``0.05``) or a percent (``5%``).

    Raises:
        FieldError: A field is empty, not a number, or out of range.
        ablens.errors.InputError: `ablens.power_plan` rejects the combination.
    """
    form = {**CALCULATOR_DEFAULTS, **form}  # a missing field takes its default
    kind = _choice(form, "kind", ("proportion", "mean"))
    mde_type: Literal["relative", "absolute"] = (
        "absolute"
        if _choice(form, "mde_type", ("relative", "absolute")) == "absolute"
        else "relative"
    )
    sides = _choice(form, "sides", ("two-sided", "greater", "less"))
    alternative: Literal["two-sided", "greater", "less"] = (
        "greater" if sides == "greater" else "less" if sides == "less" else "two-sided"
    )
    baseline = _number(form, "baseline", "Baseline", percent=kind == "proportion")
    if kind == "proportion" and not 0 < baseline < 1:
        raise FieldError(
            "Baseline: a conversion rate must be between 0 and 1 (0.1 or 10% for ten percent)."
        )
    alpha = _number(form, "alpha", "Significance level (alpha)", percent=True)
    if not 0 < alpha < 1:
        raise FieldError("Significance level (alpha): must be between 0 and 1, such as 0.05.")
    power = _number(form, "power", "Power", percent=True)
    if not 0 < power < 1:
        raise FieldError("Power: must be between 0 and 1, such as 0.8.")
    text = form.get("mde", "").strip()
    mde = (
        _number(form, "mde", "MDE", percent=mde_type == "relative" or kind == "proportion")
        if text
        else math.nan
    )
    arms = _whole(form, "arms", "Arms", 2)
    if arms > 20:
        raise FieldError("Arms: at most 20 arms (control included).")
    traffic = _optional(form, "traffic", "Daily traffic")
    if traffic is not None and traffic <= 0:
        raise FieldError("Daily traffic: must be above zero (users a day, all arms together).")
    days = None if not form.get("days", "").strip() else _whole(form, "days", "Days", 1)
    if not text and days is None:
        raise FieldError("Enter an MDE, or leave it empty and give the days you can run.")
    if not text and traffic is None:
        raise FieldError("Daily traffic: needed to find the MDE of a given number of days.")
    correction = _choice(form, "correction", CORRECTION_CHOICES)
    options = _reading_options(form)
    if kind == "proportion":
        options["baseline_rate"] = baseline
    else:
        options["mean"] = baseline
        sd = _optional(form, "sd", "Standard deviation")
        if sd is None or sd <= 0:
            raise FieldError("Standard deviation: a mean needs the per-user sd, above zero.")
        options["sd"] = sd
    try:
        return power_plan(
            **options,
            mde=None if not text else mde,
            mde_type=mde_type,
            alpha=alpha,
            power=power,
            alternative=alternative,
            arms=arms,
            correction=None if correction == "none" else cast("PowerCorrection", correction),
            daily_traffic=traffic,
            days=None if text else days,
        )
    except LimitError as error:  # a limit of ablens.power_plan, shown at its field
        label = {"looks": "Looks"}.get(error.argument, error.argument)
        raise FieldError(f"{label}: {error}") from None


def calculator_query(form: Mapping[str, str]) -> str:
    """The calculator's fields as a query string (the shareable link), defaults left out."""
    always = {"baseline", "mde"}
    pairs = [
        (key, form.get(key, "").strip())
        for key in _FIELDS
        if key in always or form.get(key, "").strip() != CALCULATOR_DEFAULTS[key]
    ]
    return urlencode(pairs)


def calculator_form(source: Mapping[str, Any]) -> dict[str, str]:
    """The calculator fields from a query or form, defaults filled in, truncated."""
    values = dict(CALCULATOR_DEFAULTS)
    for key in _FIELDS:
        value = source.get(key)
        if isinstance(value, str):
            values[key] = value[:64]
    return values
