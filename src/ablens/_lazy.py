"""Names of a package loaded on first use (PEP 562), so that importing the package stays light.

A package lists which submodule defines each public name; the first access imports that
submodule and caches the value in the package, so later accesses cost nothing. Deprecated names
warn on every access and point at their new name.
"""

from __future__ import annotations

import importlib
import sys
import warnings
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

__all__ = ["lazy_attributes"]


def lazy_attributes(
    package: str,
    exports: Mapping[str, str],
    deprecated: Mapping[str, tuple[str, str]] | None = None,
    removal: str = "",
) -> tuple[Callable[[str], object], Callable[[], list[str]]]:
    """The ``__getattr__`` and ``__dir__`` of a package whose names load on first use.

    Args:
        package: The package's ``__name__``.
        exports: Public name -> the module that defines it.
        deprecated: Old name -> (module, new name); each access warns (DeprecationWarning).
        removal: The release that removes the deprecated names, for the warning.

    Returns:
        The two functions, to assign to the package's ``__getattr__`` and ``__dir__``.

    Examples:
        >>> import ablens.stats
        >>> ablens.stats.mean_test.__module__
        'ablens.stats.means'
    """
    old_names = dict(deprecated or {})

    def __getattr__(name: str) -> object:  # noqa: N807 - the module hook's name
        if name in old_names:
            module, new = old_names[name]
            until = f" and will be removed in {removal}" if removal else ""
            warnings.warn(
                f"{package}.{name} is deprecated{until}: use {package}.{new}",
                DeprecationWarning,
                stacklevel=2,
            )
            return getattr(importlib.import_module(module), new)
        home = exports.get(name)
        if home is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(home), name)
        setattr(sys.modules[package], name, value)
        return value

    def __dir__() -> list[str]:  # noqa: N807 - the module hook's name
        return sorted({*vars(sys.modules[package]), *exports})

    return __getattr__, __dir__
