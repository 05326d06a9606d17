"""One place for argument checks, so every message reads the same way.

Messages follow one pattern: ``<name> == <value>, must be <rule>``, optionally followed by a hint.
"""

from __future__ import annotations

import importlib
import math
from typing import TYPE_CHECKING, TypeVar

import numpy as np

from ablens.errors import InputError, MissingDependencyError

if TYPE_CHECKING:
    from collections.abc import Collection
    from types import ModuleType

T = TypeVar("T")


def _fail(name: str, value: object, rule: str, hint: str = "") -> InputError:
    message = f"{name} == {value!r}, must be {rule}"
    if hint:
        message += f"; {hint}"
    return InputError(message)


def check_real(name: str, value: object) -> float:
    """Return ``value`` as a finite float, or raise an `InputError` naming ``name``."""
    if isinstance(value, bool | np.bool_) or not isinstance(
        value, int | float | np.integer | np.floating
    ):
        raise _fail(name, value, "a real number")
    result = float(value)
    if not math.isfinite(result):
        raise _fail(name, value, "finite (not NaN or infinite)")
    return result


def check_open_unit_interval(name: str, value: object) -> float:
    """Check that ``value`` lies strictly between 0 and 1 (alpha, power, confidence level)."""
    result = check_real(name, value)
    if not 0.0 < result < 1.0:
        raise _fail(name, value, "in (0, 1)")
    return result


def check_positive(name: str, value: object) -> float:
    """Check that ``value`` is a finite number greater than zero."""
    result = check_real(name, value)
    if result <= 0.0:
        raise _fail(name, value, "> 0")
    return result


def check_nonnegative(name: str, value: object) -> float:
    """Check that ``value`` is a finite number at least zero."""
    result = check_real(name, value)
    if result < 0.0:
        raise _fail(name, value, ">= 0")
    return result


def check_count(name: str, value: object, *, minimum: int = 0) -> int:
    """Check that ``value`` is a whole number (an int, or a float with no fraction) >= minimum."""
    result = check_real(name, value)
    if result != math.floor(result):
        raise _fail(name, value, "a whole number (a count)")
    if result < minimum:
        raise _fail(name, value, f">= {minimum}")
    return int(result)


def check_choice(name: str, value: T, choices: Collection[T]) -> T:
    """Check that ``value`` is one of ``choices`` (used for ``Literal`` string options)."""
    if value not in choices:
        options = ", ".join(repr(c) for c in choices)
        raise _fail(name, value, f"one of {options}")
    return value


def check_name(name: str, value: object) -> str:
    """Check that ``value`` is a non-empty string (labels, column names)."""
    if not isinstance(value, str) or not value:
        raise _fail(name, value, "a non-empty string")
    return value


def optional_import(module: str, extra: str) -> ModuleType:
    """Import an optional dependency, or explain which extra installs it."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise MissingDependencyError(module.split(".", 1)[0], extra) from None


def check_arm_label(name: str, value: object) -> str | int | float:
    """Check an arm label: a non-empty string, or a finite number for a numeric variant column.

    Examples:
        >>> check_arm_label("control", "control"), check_arm_label("control", 1)
        ('control', 1)
    """
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise _fail(
            name, value, "an arm label", "a string, or a number when the variant column is numeric"
        )
    if isinstance(value, str):
        return check_name(name, value)
    if not math.isfinite(value):
        raise _fail(name, value, "an arm label", "a finite number or a string")
    return value


def resolve_arm(name: str, value: object, labels: Collection[str]) -> str:
    """The arm among ``labels`` (text, as the data name them) that ``value`` designates.

    A string is looked up as is. A number (``control=1`` for a numeric variant column), or a
    string that is one and is not a label, is compared with each label read as a number, as
    the column's own values compare: ``1`` and ``"1"`` find ``"1"`` or ``"1.0"``.

    Raises:
        InputError: No arm, or more than one, matches.

    Examples:
        >>> resolve_arm("control", 1, ["1", "2"]), resolve_arm("control", 2, ["1.0", "2.0"])
        ('1', '2.0')
        >>> resolve_arm("control", "a", ["a", "b"]), resolve_arm("control", "1", ["1.0", "2.0"])
        ('a', '1.0')
    """
    label = check_arm_label(name, value)
    arms = sorted(labels)
    if isinstance(label, str) and label in labels:
        return label
    number = _as_number(label) if isinstance(label, str) else label
    listed = ", ".join(repr(arm) for arm in arms)
    if number is None or math.isnan(number):
        raise InputError(
            f"the {name} arm {label!r} is not an arm of the data, whose arms are {listed}; "
            "use one of these labels"
        )
    matches = [arm for arm in labels if _as_number(arm) == number]
    if len(matches) != 1:
        found = "no arm" if not matches else f"the arms {sorted(matches)}"
        raise InputError(
            f"the {name} arm {label!r} matches {found} of the data, whose arms are {listed}; "
            "use one of these labels as the data spell it"
        )
    return matches[0]


def _as_number(label: str) -> float | None:
    try:
        return float(label)
    except ValueError:
        return None
