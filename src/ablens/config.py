"""Deprecated: the analysis plan moved to `ablens.analysis_plan`, the verdict to `ablens.decision`.

Every name this module had still works for one release, with a `DeprecationWarning` that says
where it lives now:

>>> import warnings
>>> with warnings.catch_warnings(record=True) as caught:
...     warnings.simplefilter("always")
...     from ablens.config import load_plan
>>> print(caught[0].message)  # doctest: +NORMALIZE_WHITESPACE
ablens.config is deprecated and will be removed in ablens 0.3: import load_plan from
ablens.analysis_plan
"""

from __future__ import annotations

import importlib
import warnings

__all__: list[str] = []  # nothing new is exported from here

#: Old name -> (its new module, its name there).
_MOVED = {
    **{
        name: ("ablens.analysis_plan", name)
        for name in (
            "AnalysisPlan",
            "DataSource",
            "DuckDBSource",
            "MetricSpec",
            "PathSource",
            "PlanError",
            "Planned",
            "SparkSource",
            "WarehouseSource",
            "check_source",
            "load_plan",
            "parse_plan",
            "plan_from_dict",
            "plan_json_schema",
            "run_plan",
        )
    },
    **{
        name: ("ablens.decision", name)
        for name in (
            "CHECK_STATUSES",
            "FIX_DATA",
            "KEEP_RUNNING",
            "NO_EFFECT",
            "ROLL_BACK",
            "SHIP",
            "VERDICTS",
            "HealthCheck",
            "Verdict",
            "verdict",
        )
    },
    "BACKENDS": ("ablens.data.sources", "BACKENDS"),
    "SEQUENTIAL_METHODS": ("ablens.typing", "SEQUENTIAL_METHODS"),
}


def __getattr__(name: str) -> object:
    if name == "METRIC_KINDS":
        warnings.warn(
            "ablens.config is deprecated and will be removed in ablens 0.3: "
            "use tuple(ablens.metrics.metric_kinds())",
            DeprecationWarning,
            stacklevel=2,
        )
        from ablens.metrics import metric_kinds  # noqa: PLC0415 - only for the old name

        return tuple(metric_kinds())
    moved = _MOVED.get(name)
    if moved is None:
        raise AttributeError(f"module 'ablens.config' has no attribute {name!r}")
    module, attribute = moved
    warnings.warn(
        f"ablens.config is deprecated and will be removed in ablens 0.3: import {attribute} "
        f"from {module}",
        DeprecationWarning,
        stacklevel=2,
    )
    return getattr(importlib.import_module(module), attribute)
