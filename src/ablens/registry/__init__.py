"""The results registry: every run's readout, comparisons and per-day moments, kept.

>>> import tempfile, pathlib
>>> from ablens.registry import open_registry
>>> registry = open_registry(pathlib.Path(tempfile.mkdtemp()) / "results.duckdb")
>>> registry.experiments()
()

See `open_registry`, `Registry.store` and `plan_moments`; the tables and their migrations are
in `ablens.registry.schema`. Needs ``ablens[registry]`` (DuckDB and sqlglot); a PostgreSQL
registry also ``ablens[postgres]``.
"""

from ablens.registry.moments import OVERALL, StoredMoments, day_label, plan_moments
from ablens.registry.schema import SCHEMA_VERSION
from ablens.registry.store import (
    DEFAULT_REGISTRY,
    REGISTRY_VARIABLE,
    ExperimentSummary,
    Registry,
    RegistryError,
    RunRecord,
    StoredReadout,
    open_registry,
    store_statements,
)

__all__ = [
    "DEFAULT_REGISTRY",
    "OVERALL",
    "REGISTRY_VARIABLE",
    "SCHEMA_VERSION",
    "ExperimentSummary",
    "Registry",
    "RegistryError",
    "RunRecord",
    "StoredMoments",
    "StoredReadout",
    "day_label",
    "open_registry",
    "plan_moments",
    "store_statements",
]
