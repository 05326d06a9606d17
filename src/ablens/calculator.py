"""The power calculator's inputs, read the same way by every face (web page, CLI, notebook).

A calculator form is a mapping of text fields (``"10%"``, ``"0.05"``, ``"10,000"``, ``"$25"``);
`read_calculator` parses them, checks each with a message naming the field (`FieldError.field`),
and returns `ablens.power_plan`'s arguments with what each field was read as; `calculator_plan`
plans them. The web calculator is this module behind a page; `ablens power` takes the same
inputs as options. Every default is `ablens.power_plan`'s, so one question gets one answer.

Numbers are read one way only: a point is the decimal mark and a comma may only separate
thousands (``20,000``, ``1,234,567.5``). ``"4,5"`` is refused with a hint (``use a point:
4.5``) rather than read as 45. A mean's fields take a currency sign (``$25``, ``25 €``).

The form asks one of two questions (the ``solve`` field): "How long do I need?" (``duration``:
the MDE in, users and days out) or "What can I detect in N days?" (``mde``: the days in, the
MDE out). `applicable_fields` says which fields a question uses, so a face can hide the rest.

`estimate_from_history` reads a past period of the metric (a CSV or parquet file, any input
`ablens.power_plan_from_history` takes) and gives the baseline, sd, daily traffic and CUPED
variance reduction to fill the form with.

Examples:
    >>> from ablens.calculator import calculator_plan, parse_number
    >>> plan = calculator_plan({"baseline": "10%", "mde": "5%", "arms": "3", "traffic": "10000"})
    >>> plan.n_per_arm, plan.days
    ((57780, 57780, 57780), 18)
    >>> form = {"baseline": "10%", "mde": "5%", "arms": "3", "correction": "bonferroni"}
    >>> calculator_plan(form).n_per_arm[0]
    69971
    >>> parse_number("£1,200.50", "Baseline", currency=True)
    1200.5
    >>> parse_number("4,5%", "Baseline", percent=True)
    Traceback (most recent call last):
    ...
    ablens.calculator.FieldError: Baseline: '4,5%' has a comma inside a number; use a point: 4.5%

    What can 14 days detect? The days-in, MDE-out question:

    >>> inverse = calculator_plan({"solve": "mde", "days": "14", "traffic": "10,000"})
    >>> round(inverse.relative_effect, 4)
    0.0454
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, cast
from urllib.parse import urlencode

from ablens.errors import InputError
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
    "FIELD_APPLIES",
    "KIND_EXAMPLES",
    "SEQUENTIAL_CHOICES",
    "SOLVE_CHOICES",
    "CalculatorReading",
    "FieldError",
    "HistoryEstimate",
    "applicable_fields",
    "calculator_form",
    "calculator_plan",
    "calculator_query",
    "estimate_from_history",
    "parse_number",
    "read_calculator",
]

#: Every field of the calculator with its default (as text, as a form holds it).
CALCULATOR_DEFAULTS: dict[str, str] = {
    "solve": "duration",
    "kind": "proportion",
    "baseline": "10%",
    "sd": "",
    "mde": "5%",
    "mde_type": "relative",
    "alpha": "0.05",
    "power": "0.8",
    "sides": "two-sided",
    "arms": "2",
    "split": "",
    "traffic": "10000",
    "days": "14",
    "variance_reduction": "",
    "sequential": "none",
    "looks": "5",
    "correction": "none",
}
#: The two questions: "duration" (how long do I need? the MDE in, days out) and "mde" (what can
#: I detect in N days? the days in, the MDE out).
SOLVE_CHOICES: tuple[str, ...] = ("duration", "mde")
#: Example inputs of each metric kind, put in the form when the kind is switched (a rate's
#: "10%" is no mean, a mean's "25" no rate).
KIND_EXAMPLES: dict[str, dict[str, str]] = {
    "proportion": {"baseline": "10%", "sd": "", "mde": "5%", "mde_type": "relative"},
    "mean": {"baseline": "25", "sd": "40", "mde": "5%", "mde_type": "relative"},
}
#: The fields that apply only to some questions: field -> (the field deciding, its values where
#: the field applies). The others always apply.
FIELD_APPLIES: dict[str, tuple[str, tuple[str, ...]]] = {
    "sd": ("kind", ("mean",)),
    "mde": ("solve", ("duration",)),
    "mde_type": ("solve", ("duration",)),
    "days": ("solve", ("mde",)),
    "looks": ("sequential", tuple(m for m in SEQUENTIAL_METHODS if m != "none")),
}
#: How a result is read, in the calculator (`ablens.power_plan`'s ``sequential``) and the readout
#: form (a plan's ``sequential:``); "none" reads it once.
SEQUENTIAL_CHOICES: tuple[str, ...] = SEQUENTIAL_METHODS
#: The calculator's Correction field: none, or `ablens.power_plan`'s corrections of alpha over arms.
CORRECTION_CHOICES: tuple[str, ...] = ("none", *POWER_CORRECTIONS)
_FIELDS = tuple(CALCULATOR_DEFAULTS)
#: A number whose commas separate thousands: 20,000 or 1,234,567.25 (not 4,5 nor 1,23).
_THOUSANDS = re.compile(r"[+-]?\d{1,3}(?:,\d{3})+(?:\.\d*)?")
#: Currency signs and codes a mean's amount may carry before or after the number.
_CURRENCY = re.compile(r"^(US\$|[$€£¥₹]|USD|EUR|GBP)\s*|\s*([$€£¥₹]|USD|EUR|GBP)$", re.IGNORECASE)


class FieldError(InputError):
    """A form field that cannot be used, with a message for the person who typed it.

    Attributes:
        field: The form field at fault (a key of `CALCULATOR_DEFAULTS`, or of the history
            form), or None when no single field is.
    """

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


def applicable_fields(form: Mapping[str, str]) -> frozenset[str]:
    """The fields the form's question uses (the others can be hidden).

    Examples:
        >>> sorted(set(CALCULATOR_DEFAULTS) - applicable_fields({"solve": "mde"}))
        ['looks', 'mde', 'mde_type', 'sd']
    """
    values = {**CALCULATOR_DEFAULTS, **form}
    return frozenset(
        key
        for key in _FIELDS
        if key not in FIELD_APPLIES or values[FIELD_APPLIES[key][0]] in FIELD_APPLIES[key][1]
    )


def parse_number(
    text: str,
    label: str,
    *,
    percent: bool = False,
    currency: bool = False,
    field: str | None = None,
) -> float:
    """Read a number as a person types it; raise `FieldError` naming `label` with a hint.

    A point is the decimal mark; commas may only separate thousands (``20,000``), so ``4,5``
    (a decimal comma) is refused with ``use a point: 4.5`` rather than read as 45.

    Args:
        text: The field's text.
        label: The field's name in messages.
        percent: Accept ``5%`` as 0.05 (rates, lifts, alpha, power).
        currency: Accept a currency sign or code (``$25``, ``25 €``, ``£1,200.50``).
        field: The form field, carried by the `FieldError`.

    Examples:
        >>> parse_number("20,000", "Daily traffic"), parse_number("4.5%", "Baseline", percent=True)
        (20000.0, 0.045)
        >>> parse_number("25 €", "Baseline", currency=True)
        25.0
    """
    original = text
    body = text.strip().replace("_", "")
    scale = 1.0
    if percent and body.endswith("%"):
        body, scale = body[:-1].strip(), 0.01
    sign = ""
    if body[:1] in "+-" and body:
        sign, body = body[0], body[1:].strip()
    if currency:
        body = _CURRENCY.sub("", body).strip()
        if body[:1] in "+-" and body and not sign:
            sign, body = body[0], body[1:].strip()
    if not body:
        raise FieldError(f"{label}: enter a number.", field)
    if "," in body:
        if not _THOUSANDS.fullmatch(body):
            pointed = original.strip().replace(",", ".")
            hint = (
                f"use a point: {pointed}"
                if body.count(",") == 1 and "." not in body
                else "use a point for decimals, and commas only between thousands (1,234.5)"
            )
            raise FieldError(
                f"{label}: {original.strip()!r} has a comma inside a number; {hint}", field
            )
        body = body.replace(",", "")
    try:
        value = float(sign + body) * scale
    except ValueError:
        if not currency and _CURRENCY.search(body):
            raise FieldError(
                f"{label}: {original!r} is an amount; this field takes a fraction or a percent.",
                field,
            ) from None
        raise FieldError(f"{label}: {original!r} is not a number.", field) from None
    if not math.isfinite(value):
        raise FieldError(f"{label}: must be a finite number.", field)
    return value


def _shown(value: float, *, percent: bool = False, signed: bool = False) -> str:
    """A number as the echo shows it: 4.5%, 20,000, 1,200.5."""
    number = value * 100 if percent else value
    text = format(number, ",.6g" if abs(number) < 1e15 else ".6g")
    if signed and number > 0:
        text = "+" + text
    return text + ("%" if percent else "")


@dataclass(frozen=True)
class CalculatorReading:
    """What a calculator form was read as.

    Attributes:
        arguments: `ablens.power_plan`'s keyword arguments.
        read_as: (field, label, the value as read) for each number typed, in the form's order:
            the echo that lets a person see "4,500" was read as four thousand five hundred.
    """

    arguments: dict[str, Any]
    read_as: tuple[tuple[str, str, str], ...]

    @property
    def sentence(self) -> str:
        """The echo as one line: ``Read as: baseline 4.5%, MDE +5% (relative), ...``."""
        return "Read as: " + "; ".join(f"{label} {text}" for _, label, text in self.read_as) + "."


def _question(form: Mapping[str, Any]) -> str:
    """The question asked: the Solve field, or else what an older form meant by its fields.

    Without a Solve field (a link from before the toggle, a notebook's dict), an empty MDE
    with days asks the MDE, as it always did.
    """
    asked = form.get("solve")
    if isinstance(asked, str) and asked.strip():
        return asked.strip()
    mde, days = (form.get(key) for key in ("mde", "days"))
    empty_mde = not (isinstance(mde, str) and mde.strip()) and "mde" in form
    return "mde" if empty_mde and isinstance(days, str) and days.strip() else "duration"


def _number(
    form: Mapping[str, str],
    key: str,
    label: str,
    *,
    percent: bool = False,
    currency: bool = False,
) -> float:
    return parse_number(form.get(key, ""), label, percent=percent, currency=currency, field=key)


def _whole(form: Mapping[str, str], key: str, label: str, minimum: int) -> int:
    value = _number(form, key, label)
    if value != int(value) or value < minimum:
        raise FieldError(f"{label}: must be a whole number of at least {minimum}.", key)
    return int(value)


def _choice(form: Mapping[str, str], key: str, allowed: Sequence[str]) -> str:
    value = form.get(key, "").strip() or CALCULATOR_DEFAULTS[key]
    if value not in allowed:
        raise FieldError(f"{key}: {value!r} is not one of {', '.join(allowed)}.", key)
    return value


def _reading_options(form: Mapping[str, str]) -> dict[str, Any]:
    """`ablens.power_plan`'s ``sequential`` and ``looks`` from the Reading and Looks fields."""
    reading = _choice(form, "sequential", SEQUENTIAL_CHOICES)
    if reading == "none":
        return {}
    looks = _whole(form, "looks", "Looks", 1)
    if looks > 1000:
        raise FieldError(
            "Looks: at most 1,000 looks (a daily read for almost three years).", "looks"
        )
    # the group-sequential design spends alpha as O'Brien-Fleming, the readout's default
    return {"sequential": reading, "looks": looks}


def _split(form: Mapping[str, str], arms: int) -> tuple[float, ...] | None:
    """The Split field (``90/10``, ``50/25/25``; percents or fractions) as shares, or None."""
    text = form.get("split", "").strip()
    if not text:
        return None
    parts = [part for part in re.split(r"\s*[/:;]\s*|\s+", text) if part]
    shares = [parse_number(part, "Split", percent=True, field="split") for part in parts]
    if len(shares) != arms:
        raise FieldError(
            f"Split: {len(shares)} share(s) for {arms} arms; give one share per arm, control "
            f"first ({' / '.join([str(round(100 / arms))] * arms)} for an equal split).",
            "split",
        )
    if any(share <= 0 for share in shares):
        raise FieldError("Split: every arm needs a share above zero.", "split")
    total = sum(shares)
    # "90/10" adds up to 100, "0.9/0.1" and "90%/10%" to 1
    if not (math.isclose(total, 1.0, abs_tol=0.005) or math.isclose(total, 100.0, abs_tol=0.5)):
        raise FieldError(
            f"Split: the shares add up to {total:g}; they must add up to 100% (such as 50/50, "
            "or 90/10).",
            "split",
        )
    return tuple(share / total for share in shares)


def read_calculator(form: Mapping[str, str]) -> CalculatorReading:  # noqa: PLR0912, PLR0915
    """Read the calculator's fields into `ablens.power_plan` arguments, with what was read.

    Rates, MDEs, alpha and power take a fraction (``0.05``) or a percent (``5%``); a mean's
    baseline, sd and absolute MDE take an amount with or without a currency sign.

    Raises:
        FieldError: A field is empty, not a number, or out of range (``error.field`` names it).

    Examples:
        >>> reading = read_calculator({"baseline": "4.5%", "traffic": "20,000"})
        >>> reading.arguments["baseline_rate"], reading.arguments["daily_traffic"]
        (0.045, 20000.0)
        >>> print(reading.sentence)
        Read as: baseline 4.5%; MDE +5% (relative); daily traffic 20,000 users.
    """
    form = {
        **CALCULATOR_DEFAULTS,
        **{k: v for k, v in form.items() if isinstance(v, str)},
        "solve": _question(form),
    }
    read: list[tuple[str, str, str]] = []
    solve = _choice(form, "solve", SOLVE_CHOICES)
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
    mde_text = form.get("mde", "").strip()
    days_text = form.get("days", "").strip()
    options: dict[str, Any] = {}
    if kind == "proportion":
        baseline = _number(form, "baseline", "Baseline", percent=True)
        if not 0 < baseline < 1:
            raise FieldError(
                "Baseline: a conversion rate must be between 0 and 1 (0.1 or 10% for ten percent).",
                "baseline",
            )
        options["baseline_rate"] = baseline
        read.append(("baseline", "baseline", _shown(baseline, percent=True)))
    else:
        if form.get("baseline", "").strip().endswith("%"):
            raise FieldError(
                f"Baseline: {form['baseline'].strip()!r} is a percent; a mean is an amount per "
                "user, such as 25 or $25 (for a conversion rate, choose 'a rate').",
                "baseline",
            )
        baseline = _number(form, "baseline", "Baseline", currency=True)
        options["mean"] = baseline
        read.append(("baseline", "baseline", _shown(baseline)))
        if not form.get("sd", "").strip():
            raise FieldError(
                "Standard deviation: a mean needs the per-user standard deviation (estimate it "
                "from past data below, if you do not know it).",
                "sd",
            )
        sd = _number(form, "sd", "Standard deviation", currency=True)
        if sd <= 0:
            raise FieldError("Standard deviation: must be above zero.", "sd")
        options["sd"] = sd
        read.append(("sd", "standard deviation", _shown(sd)))
    mde: float | None = None
    days: int | None = None
    if solve == "duration":
        if not mde_text:
            raise FieldError(
                'MDE: enter the smallest change worth detecting, or ask "What can I detect in '
                'N days?" instead.',
                "mde",
            )
        relative = mde_type == "relative"
        mde = _number(
            form,
            "mde",
            "MDE",
            percent=relative or kind == "proportion",
            currency=not relative and kind == "mean",
        )
        text = (
            _shown(mde, percent=True, signed=True) + " (relative)"
            if relative
            else (
                f"{_shown(mde * 100, signed=True)} points (absolute)"
                if kind == "proportion"
                else f"{_shown(mde, signed=True)} (absolute)"
            )
        )
        read.append(("mde", "MDE", text))
    alpha = _number(form, "alpha", "Significance level (alpha)", percent=True)
    if not 0 < alpha < 1:
        raise FieldError(
            "Significance level (alpha): must be between 0 and 1, such as 0.05.", "alpha"
        )
    power = _number(form, "power", "Power", percent=True)
    if not 0 < power < 1:
        raise FieldError("Power: must be between 0 and 1, such as 0.8.", "power")
    arms = _whole(form, "arms", "Arms", 2)
    if arms > 20:
        raise FieldError("Arms: at most 20 arms (control included).", "arms")
    split = _split(form, arms)
    if split is not None:
        read.append(("split", "split", " / ".join(_shown(s, percent=True) for s in split)))
    traffic = None
    if form.get("traffic", "").strip():
        traffic = _number(form, "traffic", "Daily traffic")
        if traffic <= 0:
            raise FieldError(
                "Daily traffic: must be above zero (users a day, all arms together).", "traffic"
            )
        read.append(("traffic", "daily traffic", f"{_shown(traffic)} users"))
    if solve == "mde":
        if not days_text:
            raise FieldError("Days: enter how many days you can run the test.", "days")
        days = _whole(form, "days", "Days", 1)
        if traffic is None:
            raise FieldError(
                "Daily traffic: needed to find what a number of days can detect.", "traffic"
            )
        read.append(("days", "days", f"{days:,}"))
    reduction = None
    if form.get("variance_reduction", "").strip():
        reduction = _number(form, "variance_reduction", "Variance reduction", percent=True)
        if not 0 <= reduction < 1:
            raise FieldError(
                "Variance reduction: must be from 0% up to (not including) 100%, such as 30%.",
                "variance_reduction",
            )
        read.append(("variance_reduction", "variance reduction", _shown(reduction, percent=True)))
    correction = _choice(form, "correction", CORRECTION_CHOICES)
    options.update(_reading_options(form))
    options.update(
        mde=mde,
        mde_type=mde_type,
        alpha=alpha,
        power=power,
        alternative=alternative,
        arms=arms,
        split=split,
        correction=None if correction == "none" else cast("PowerCorrection", correction),
        daily_traffic=traffic,
        days=days,
        variance_reduction=reduction,
    )
    return CalculatorReading(arguments=options, read_as=tuple(read))


def calculator_plan(form: Mapping[str, str]) -> PowerPlan:
    """Read the calculator's fields (`read_calculator`) and plan them with `ablens.power_plan`.

    The web calculator and ``ablens power`` read the same inputs the same way: every default is
    `ablens.power_plan`'s (no correction over arms unless the Correction field asks for one).

    Raises:
        FieldError: A field is empty, not a number, or out of range.
        ablens.errors.InputError: `ablens.power_plan` rejects the combination.
    """
    return power_plan(**read_calculator(form).arguments)


def _figures(value: float, significant: int = 4) -> str:
    """A number with `significant` figures and no exponent, as a form field shows it."""
    if value == 0 or not math.isfinite(value):
        return "0" if value == 0 else str(value)
    decimals = max(0, significant - 1 - math.floor(math.log10(abs(value))))
    text = f"{value:.{decimals}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


@dataclass(frozen=True)
class HistoryEstimate:
    """A metric's baseline, sd, daily traffic and CUPED reduction, read from past data.

    Attributes:
        column: The metric column.
        kind: "proportion" (a column of 0/1 or booleans) or "mean".
        baseline: The metric's rate or mean over the period.
        sd: Its per-user standard deviation (a rate's: ``sqrt(p (1 - p))``).
        daily_traffic: Users first seen per day, on average over the period.
        variance_reduction: Share of the variance the covariate removes (CUPED), 0 without one.
        covariate: The pre-period covariate column, or None.
        units: Users (or rows, without a unit column) in the period.
        days: Days in the period.
        first_day: The period's first day.
        last_day: Its last day.
        source: Where the numbers came from (the file's name), for the sentence.
    """

    column: str
    kind: Literal["proportion", "mean"]
    baseline: float
    sd: float
    daily_traffic: float
    variance_reduction: float
    covariate: str | None
    units: int
    days: int
    first_day: object
    last_day: object
    source: str

    def form_values(self) -> dict[str, str]:
        """The calculator fields these numbers fill: kind, baseline, sd, traffic, CUPED."""
        rate = self.kind == "proportion"
        return {
            "kind": self.kind,
            "baseline": _figures(self.baseline * 100) + "%" if rate else _figures(self.baseline),
            "sd": "" if rate else _figures(self.sd),
            "traffic": str(max(1, round(self.daily_traffic))),
            "variance_reduction": (
                _figures(self.variance_reduction * 100, 3) + "%" if self.covariate else ""
            ),
        }

    @property
    def sentence(self) -> str:
        """Where the numbers came from, in a sentence."""
        values = self.form_values()
        what = (
            f"the rate of {self.column!r} is {values['baseline']}"
            if self.kind == "proportion"
            else f"the mean of {self.column!r} is {values['baseline']} (standard deviation "
            f"{values['sd']} per user)"
        )
        text = (
            f"From {self.source}: {self.units:,} users over {self.days} days ({self.first_day} "
            f"to {self.last_day}), about {values['traffic']} new users a day; {what}."
        )
        if self.covariate:
            text += (
                f" Adjusting for {self.covariate!r} (CUPED) is expected to remove "
                f"{values['variance_reduction']} of the variance."
            )
        return text


def _history_columns(
    data: object, names: Mapping[str, tuple[str, str | None]]
) -> tuple[dict[str, Any], str]:
    """Profile the file's columns; check each named one exists (a message naming the field)."""
    from ablens.data.profile import profile_columns  # noqa: PLC0415 - needs narwhals

    metric = names["history_column"][1]
    profiles = profile_columns(data, binary_of=[metric] if metric else [])
    available = ", ".join(profiles)
    for field, (label, column) in names.items():
        if column is not None and column not in profiles:
            raise FieldError(
                f"{label}: {column!r} is not a column of the file; its columns are {available}.",
                field,
            )
    return profiles, available


def estimate_from_history(
    data: object,
    *,
    column: str,
    date: str,
    unit: str | None = None,
    covariate: str | None = None,
    source: str = "the past data",
) -> HistoryEstimate:
    """The calculator's baseline, sd, daily traffic and CUPED reduction from past data.

    Reads the period with `ablens.power_plan_from_history` (one query for the metric's moments,
    one for the users first seen each day): a column of 0/1 values or booleans is planned as a
    rate, any other numeric column as a mean.

    Args:
        data: One row per user (or per event, with ``unit``): a CSV or parquet path, or any
            input `ablens.power_plan_from_history` takes.
        column: The metric column.
        date: The column of each row's day (a date or timestamp): it counts the daily traffic.
        unit: The user id column; a user's rows count once (summed; a rate: converted on any).
        covariate: A pre-period column of each user (last month's value) for CUPED.
        source: The data's name in the sentence (the uploaded file's name).

    Raises:
        FieldError: A column is missing or of the wrong type; ``error.field`` is
            "history_column", "history_date", "history_unit" or "history_covariate".
        ablens.errors.DataError: The data cannot be planned from (empty, constant, NULLs).

    Examples:
        >>> import datetime as dt, polars as pl
        >>> past = pl.DataFrame(
        ...     {
        ...         "day": [dt.date(2024, 1, 1 + i % 14) for i in range(280)],
        ...         "revenue": [float(i % 7) for i in range(280)],
        ...     }
        ... )
        >>> estimate = estimate_from_history(past, column="revenue", date="day")
        >>> estimate.form_values()
        {'kind': 'mean', 'baseline': '3', 'sd': '2.004', 'traffic': '20', 'variance_reduction': ''}
    """
    from ablens.metrics import Mean, Proportion  # noqa: PLC0415
    from ablens.planning import power_plan_from_history  # noqa: PLC0415

    column, date = column.strip(), date.strip()
    unit = (unit or "").strip() or None
    covariate = (covariate or "").strip() or None
    if not column:
        raise FieldError(
            "Metric column: enter the column to plan (such as revenue).", "history_column"
        )
    if not date:
        raise FieldError(
            "Time column: enter the column of each row's day (a date such as 2024-01-31); it "
            "gives the users a day.",
            "history_date",
        )
    profiles, _ = _history_columns(
        data,
        {
            "history_column": ("Metric column", column),
            "history_date": ("Time column", date),
            "history_unit": ("User column", unit),
            "history_covariate": ("Covariate", covariate),
        },
    )
    for field, label, name in (
        ("history_column", "Metric column", column),
        ("history_covariate", "Covariate", covariate),
    ):
        if name is not None and not profiles[name].numeric:
            raise FieldError(
                f"{label}: {name!r} holds {profiles[name].dtype} values, not numbers.", field
            )
    day_type = profiles[date].dtype
    if not day_type.startswith(("Date", "Datetime")):
        written = "numbers" if profiles[date].numeric else "text that is not a date"
        raise FieldError(
            f"Time column: {date!r} holds {written} ({day_type}); it must hold dates such as "
            "2024-01-31 (or date and time).",
            "history_date",
        )
    covariates = (covariate,) if covariate else ()
    if covariate == column:
        raise FieldError(
            "Covariate: the metric's own column; choose a pre-period column (last month's "
            "value of each user).",
            "history_covariate",
        )
    binary = profiles[column].binary
    metric = (
        Proportion(column, covariates=covariates) if binary else Mean(column, covariates=covariates)
    )
    plan = power_plan_from_history(data, metric=metric, date=date, unit=unit, mde=0.05)
    history = plan.history
    assert history is not None  # noqa: S101 - power_plan_from_history always sets it
    return HistoryEstimate(
        column=column,
        kind="proportion" if binary else "mean",
        baseline=plan.baseline,
        sd=plan.sd,
        daily_traffic=history.units / history.days,
        variance_reduction=plan.variance_reduction,
        covariate=covariate,
        units=history.units,
        days=history.days,
        first_day=history.first_day,
        last_day=history.last_day,
        source=source,
    )


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
    values["solve"] = _question(source)[:64]
    # A kind switched without the page's script (the form submitted as is): the other kind's
    # untouched examples ("10%" is no mean) become this kind's.
    for other, examples in KIND_EXAMPLES.items():
        untouched = all(values[k] == examples[k] for k in ("baseline", "sd"))
        if other != values["kind"] and values["kind"] in KIND_EXAMPLES and untouched:
            values.update(KIND_EXAMPLES[values["kind"]])
    return values
