"""The JSON Schema of a catalog file, for editors and CI checks.

Source locations and filters are taken from the analysis plan's schema (`plan_json_schema`),
so both spell them alike. `ablens.catalog.load_catalog` checks everything the schema says and
more: names defined twice, unknown references, ratio cycles, windows longer than the maximum,
columns a fact table does not offer.
"""

from __future__ import annotations

from typing import Any

from ablens.analysis_plan.schema import plan_json_schema
from ablens.catalog.loader import CATALOG_KEYS, METRIC_KEYS, RATIO_ONLY_REFUSED, SOURCE_KEYS
from ablens.catalog.model import AGGREGATIONS, COLUMN_AGGREGATIONS, FORMATS, NO_EVENTS
from ablens.typing import DIRECTIONS, ROLES

__all__ = ["catalog_json_schema"]

_NAME_PATTERN = "^[A-Za-z][A-Za-z0-9_-]*$"


def catalog_json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of one catalog file.

    The same file ships as ``ablens/schema/catalog.schema.json`` (a test keeps them equal) and
    is printed by ``ablens catalog schema``.

    Examples:
        >>> schema = catalog_json_schema()
        >>> sorted(schema["properties"])
        ['catalog', 'metrics', 'sources']
        >>> schema["$defs"]["metric"]["properties"]["aggregation"]["enum"][:3]
        ['sum', 'count', 'count_distinct']
    """
    text = {"type": "string", "minLength": 1}
    plan_source = plan_json_schema()["properties"]["source"]["oneOf"]
    locations: dict[str, Any] = {
        "table": {**text, "description": "A table (or view) on the connection a run is given."}
    }
    row_filter: Any = None
    for entry in plan_source:
        for key, value in entry["properties"].items():
            if key == "filter":
                row_filter = value
            elif key != "sql":
                locations[key] = value
    number = {"type": "number"}
    window = {
        "type": "array",
        "prefixItems": [number, {"type": ["number", "null"]}],
        "minItems": 2,
        "maxItems": 2,
    }
    columns = {"experiment": text, "unit": text, "arm": text, "time": text}

    def source(kind: str, required: list[str]) -> dict[str, Any]:
        properties: dict[str, Any] = {
            "kind": {"const": kind},
            "description": {"type": "string"},
            "owner": text,
            **locations,
            "filter": row_filter,
        }
        for key in SOURCE_KEYS[kind]:
            if key in columns:
                properties[key] = columns[key]
        if kind == "facts":
            properties["columns"] = {
                "description": "Columns metrics may aggregate or filter on.",
                "type": "array",
                "items": text,
                "minItems": 1,
                "uniqueItems": True,
            }
        return {
            "type": "object",
            "properties": properties,
            "required": ["kind", *required],
            "oneOf": [{"required": [key]} for key in locations],
            "additionalProperties": False,
        }

    metric_properties: dict[str, Any] = {
        "description": {"type": "string"},
        "owner": {**text, "description": "Who answers for the definition."},
        "source": {**text, "description": "A source of kind facts."},
        "aggregation": {"enum": list(AGGREGATIONS)},
        "column": {**text, "description": "Needed by sum, count_distinct, mean and max."},
        "filter": row_filter,
        "window": {
            **window,
            "description": "[start, end) in days after first exposure; end null: to the "
            "end of the analysis.",
            "default": [0, None],
        },
        "ratio": {
            "type": "object",
            "properties": {"numerator": text, "denominator": text},
            "required": ["numerator", "denominator"],
            "additionalProperties": False,
        },
        "direction": {"enum": list(DIRECTIONS), "default": "increase"},
        "format": {"enum": list(FORMATS)},
        "currency": {"type": "string", "pattern": "^[A-Z]{3}$"},
        "cuped_window": {
            **window,
            "description": "[start, end] in days before first exposure (end <= 0): the same "
            "metric measured then is the default CUPED covariate.",
        },
        "role": {"enum": list(ROLES)},
        "margin": {
            "type": "number",
            "exclusiveMinimum": 0,
            "exclusiveMaximum": 1,
            "description": "A guardrail's non-inferiority margin, relative to control.",
        },
        "no_events": {
            "enum": list(NO_EVENTS),
            "description": "What an exposed unit without events counts as (default: zero, "
            "missing for mean and max).",
        },
    }
    assert tuple(metric_properties) == METRIC_KEYS  # noqa: S101 - one list of keys
    settings = {"name": text, "max_window_days": {"type": "number", "exclusiveMinimum": 0}}
    assert tuple(settings) == CATALOG_KEYS  # noqa: S101
    metric = {
        "type": "object",
        "properties": metric_properties,
        "required": ["owner"],
        "additionalProperties": False,
        "if": {"required": ["ratio"]},
        "then": {"not": {"anyOf": [{"required": [key]} for key in RATIO_ONLY_REFUSED]}},
        "else": {
            "required": ["source", "aggregation"],
            "allOf": [
                {
                    "if": {
                        "properties": {"aggregation": {"enum": list(COLUMN_AGGREGATIONS)}},
                    },
                    "then": {"required": ["column"]},
                    "else": {"not": {"required": ["column"]}},
                }
            ],
        },
    }
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "ablens metric catalog file",
        "description": "One YAML file of a metric catalog folder read by `ablens catalog "
        "validate DIR`.",
        "type": "object",
        "properties": {
            "catalog": {
                "type": "object",
                "properties": settings,
                "additionalProperties": False,
            },
            "sources": {
                "type": "object",
                "propertyNames": {"pattern": _NAME_PATTERN},
                "additionalProperties": {
                    "oneOf": [
                        {"$ref": "#/$defs/exposure_source"},
                        {"$ref": "#/$defs/fact_table"},
                    ]
                },
            },
            "metrics": {
                "type": "object",
                "propertyNames": {"pattern": _NAME_PATTERN},
                "additionalProperties": {"$ref": "#/$defs/metric"},
            },
        },
        "additionalProperties": False,
        "$defs": {
            "exposure_source": source("exposure", ["experiment", "unit", "arm", "time"]),
            "fact_table": source("facts", ["unit", "time", "columns"]),
            "metric": metric,
        },
    }
