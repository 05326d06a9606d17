"""The metric catalog: metrics defined once, reviewed, and read by every experiment.

A catalog is a folder of YAML files kept in git. Its *sources* say where exposures (which unit
saw which arm of which experiment, when) and facts (events of a unit at a time) are; its
*metrics* say how a fact table's rows become one value per exposed unit: aggregation, filter,
window after first exposure, desired direction, format, default CUPED pre-window, default role
and non-inferiority margin, and what a unit without events counts as. One module per job:

- `ablens.catalog.model`: the frozen objects (`Catalog`, `ExposureSource`, `FactTable`,
  `CatalogMetric`, `Window`, `Ratio`, `TableRef`) and `CatalogError`;
- `ablens.catalog.loader`: `load_catalog`, every problem at its file and line;
- `ablens.catalog.version`: the version (git commit of a clean checkout, else content hash);
- `ablens.catalog.schema`: `catalog_json_schema`, the JSON Schema of a catalog file.

>>> catalog = load_catalog("examples/catalog")
>>> [m.name for m in catalog.requires(["average_order_value_7d"])]
['revenue_7d', 'orders_7d']
>>> catalog.version.split(":")[0] in ("git", "sha256")
True
"""

from ablens.catalog.loader import load_catalog
from ablens.catalog.model import (
    AGGREGATIONS,
    FORMATS,
    NO_EVENTS,
    Aggregation,
    Catalog,
    CatalogChange,
    CatalogError,
    CatalogMetric,
    ExposureSource,
    FactTable,
    Location,
    MetricFormat,
    NoEvents,
    Ratio,
    Source,
    TableRef,
    Window,
)
from ablens.catalog.schema import catalog_json_schema

__all__ = [
    "AGGREGATIONS",
    "FORMATS",
    "NO_EVENTS",
    "Aggregation",
    "Catalog",
    "CatalogChange",
    "CatalogError",
    "CatalogMetric",
    "ExposureSource",
    "FactTable",
    "Location",
    "MetricFormat",
    "NoEvents",
    "Ratio",
    "Source",
    "TableRef",
    "Window",
    "catalog_json_schema",
    "load_catalog",
]
