"""The small error tree every ablens failure belongs to.

``AblensError`` is the root, so ``except ablens.AblensError`` catches everything ablens raises on
purpose. ``InputError`` is also a ``ValueError`` and ``ConfigError`` also a ``ValueError``, so code
written against the standard exceptions keeps working.
"""

from __future__ import annotations

__all__ = [
    "AblensError",
    "ConfigError",
    "DataError",
    "InputError",
    "LimitError",
    "MissingDependencyError",
    "ProjectError",
]


class AblensError(Exception):
    """Base class of every error ablens raises on purpose."""


class InputError(AblensError, ValueError):
    """An argument is invalid: wrong type, out of range, non-finite, inconsistent.

    The message names the argument, the value received and what would be accepted.
    """


class LimitError(InputError):
    """An argument beyond what ablens computes in reasonable time, such as too many looks.

    Refused at once, on every face, with the limit and what to do instead.

    Attributes:
        argument: The argument's name (``"looks"``), for a form to mark its field.
        limit: The largest value accepted.
    """

    def __init__(self, message: str, *, argument: str, limit: float) -> None:
        super().__init__(message)
        self.argument = argument
        self.limit = limit


class DataError(AblensError):
    """The data cannot be analyzed as asked (nulls, duplicate units, unknown variants, ...)."""


class ConfigError(AblensError, ValueError):
    """An analysis plan or configuration is invalid."""


class ProjectError(AblensError):
    """An experiment project cannot be created or updated (not empty, not a project, dirty)."""


class MissingDependencyError(AblensError, ImportError):
    """An optional dependency is needed for this feature and is not installed."""

    def __init__(self, package: str, extra: str) -> None:
        super().__init__(
            f"this feature needs the optional package {package!r}; "
            f"install it with: pip install 'ablens[{extra}]'"
        )
        self.package = package
        self.extra = extra
