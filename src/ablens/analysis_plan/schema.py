"""The JSON Schema of an analysis plan, derived from the model and the kinds' declarations.

Editors (VS Code's YAML extension, JetBrains) and CI checks validate plan files against it;
`ablens.analysis_plan.load_plan` checks everything it says and more (control among the arms,
unique metric names, a primary metric, each metric class's own rules). Each metric kind's entry
comes from its class's `ablens.MetricKind` declaration, so a registered kind is in the schema.
"""

from __future__ import annotations

import re
from typing import Any

from ablens.data.checks import ON_MISMATCH
from ablens.data.sources import (
    BACKENDS,
    FILE_SUFFIXES,
    FILTER_OPS,
    WAREHOUSE_PARAMS,
    WAREHOUSE_SECRETS,
    Backend,
)
from ablens.metrics.base import kind_named, metric_kinds, required_keys
from ablens.stats.srm import DEFAULT_SRM_ALPHA, DEFAULT_SRM_METHOD, SRM_METHODS
from ablens.typing import (
    BAYESIAN_PRIORS,
    CORRECTION_METHODS,
    DEFAULT_SPENDING,
    DIRECTIONS,
    FAMILIES,
    ROLES,
    SEQUENTIAL_METHODS,
    SPENDING_NAMES,
)

__all__ = ["plan_json_schema"]

_TEXT = {"type": "string", "minLength": 1}
_UNIT_INTERVAL = {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1}
#: The schema of each plan-key type a metric kind may declare.
_KEY_SCHEMAS: dict[str, dict[str, Any]] = {
    "column": _TEXT,
    "probability": _UNIT_INTERVAL,
    "boolean": {"type": "boolean"},
}


def plan_json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a plan file, for editors and CI checks.

    The same file ships as ``ablens/schema/plan.schema.json`` (a test keeps them equal) and is
    printed by ``ablens plan-schema``. `load_plan` checks everything the schema says and more
    (control among the arms, unique metric names, a primary metric, the metric's own rules).

    Examples:
        >>> schema = plan_json_schema()
        >>> schema["required"], schema["properties"]["sequential"]["enum"][:2]
        (['experiment_id', 'source', 'control', 'metrics'], ['none', 'group-sequential'])
    """
    text = {"type": "string", "minLength": 1}
    unit_interval = {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1}
    columns = {
        "description": "One column name, or a list of them.",
        "oneOf": [text, {"type": "array", "items": text}],
    }
    env_name = {"type": "string", "pattern": "^[A-Za-z_][A-Za-z0-9_]*$"}

    def metric(kind: str, cls: type) -> dict[str, Any]:
        properties: dict[str, Any] = {
            "kind": {"const": kind},
            "name": {**text, "description": "Label in results."},
            "role": {"enum": list(ROLES)},
            "direction": {"enum": list(DIRECTIONS), "description": "Which way is good."},
        }
        for key in kind_named(kind).plan_keys:
            if key.type == "choice":
                entry: dict[str, Any] = {"enum": list(key.choices)}
            elif key.type == "boolean-or-choice":
                entry = {"enum": [True, False, *key.choices]}
            elif key.type == "columns":
                entry = columns
            else:
                entry = _KEY_SCHEMAS[key.type]
            if key.description and key.type != "columns":
                entry = {**entry, "description": key.description}
            properties[key.name] = entry
        return {
            "type": "object",
            "properties": properties,
            "required": ["kind", *required_keys(cls)],
            "additionalProperties": False,
        }

    def warehouse(backend: Backend) -> dict[str, Any]:
        properties: dict[str, Any] = {"backend": {"const": backend}, "table": text}
        for param in WAREHOUSE_PARAMS[backend]:
            properties[param] = {"type": ["string", "integer"]}
            properties[f"{param}_env"] = env_name
        for secret in WAREHOUSE_SECRETS[backend]:
            properties[f"{secret}_env"] = {
                **env_name,
                "description": "Environment variable holding the secret (never the secret).",
            }
        return {
            "type": "object",
            "properties": properties,
            "required": ["backend"],
            "additionalProperties": False,
        }

    scalar = {"type": ["string", "number", "boolean"]}
    cleaning = {
        "sql": {
            **text,
            "description": "A query in the source's own engine, in place of its table (a path "
            "source's query reads the file as the table data); DuckDB takes one SELECT.",
        },
        "filter": {
            "description": "Conditions every analyzed row meets, run in the source's engine.",
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "column": text,
                    "op": {"enum": list(FILTER_OPS), "default": "=="},
                    "value": {"oneOf": [scalar, {"type": "array", "items": scalar, "minItems": 1}]},
                },
                "required": ["column"],
                "additionalProperties": False,
            },
        },
    }

    def one_key(key: str, value: dict[str, Any]) -> dict[str, Any]:
        return {
            "type": "object",
            "properties": {key: value, **cleaning},
            "required": [key],
            "additionalProperties": False,
        }

    suffixes = "|".join(re.escape(s) for s in FILE_SUFFIXES)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "ablens analysis plan",
        "description": "An A/B-test analysis plan read by `ablens analyze PLAN`.",
        "type": "object",
        "properties": {
            "experiment_id": {**text, "description": "Tags every query for cost attribution."},
            "team": text,
            "description": {"type": "string"},
            "source": {
                "description": "Where the data live: one of path, duckdb, warehouse, spark.",
                "oneOf": [
                    one_key("path", {"type": "string", "pattern": f"(?i)({suffixes})$"}),
                    one_key(
                        "duckdb",
                        {
                            "type": "object",
                            "properties": {"file": text, "table": text},
                            "required": ["file"],
                            "additionalProperties": False,
                        },
                    ),
                    one_key("warehouse", {"oneOf": [warehouse(b) for b in BACKENDS]}),
                    one_key(
                        "spark",
                        {
                            "type": "object",
                            "properties": {"table": text},
                            "additionalProperties": False,
                        },
                    ),
                ],
            },
            "variant": {**text, "default": "variant"},
            "unit": text,
            "control": text,
            "arms": {
                "description": "Arm labels (equal split) or label -> planned share.",
                "oneOf": [
                    {"type": "array", "items": text, "minItems": 2, "uniqueItems": True},
                    {
                        "type": "object",
                        "additionalProperties": {"type": "number", "exclusiveMinimum": 0},
                        "minProperties": 2,
                    },
                ],
            },
            "metrics": {
                "type": "array",
                "minItems": 1,
                "items": {"oneOf": [metric(k, cls) for k, cls in metric_kinds().items()]},
            },
            "segments": columns,
            "alpha": {**unit_interval, "default": 0.05},
            "correction": {
                "enum": [*CORRECTION_METHODS, "auto", "none", None],
                "default": "auto",
                "description": "auto: Holm's method with more than two arms, none with two; "
                "none (or null): no correction.",
            },
            "family": {"enum": list(FAMILIES), "default": "metric"},
            "sequential": {
                "enum": list(SEQUENTIAL_METHODS),
                "default": "none",
                "description": "Sequential method; any but none needs time (and "
                "group-sequential needs planned.sample_size).",
            },
            "spending": {
                "enum": list(SPENDING_NAMES),
                "default": DEFAULT_SPENDING,
                "description": "Alpha-spending family of sequential: group-sequential.",
            },
            "time": {
                **text,
                "description": "Column giving each unit's look (exposure day or date), for "
                "the sequential method.",
            },
            "bayesian": {
                "description": "Add the Bayesian reading (chance to beat control, expected "
                "loss): true for the flat prior, or {prior: flat}.",
                "oneOf": [
                    {"type": "boolean"},
                    {"enum": list(BAYESIAN_PRIORS)},
                    {
                        "type": "object",
                        "properties": {"prior": {"enum": list(BAYESIAN_PRIORS), "default": "flat"}},
                        "additionalProperties": False,
                    },
                ],
            },
            "srm_alpha": {**unit_interval, "default": DEFAULT_SRM_ALPHA},
            "srm_method": {
                "description": "Method of the sample-ratio check: chi2 (Pearson), binomial "
                "(exact, two arms), multinomial (exact, small experiments) or auto.",
                "enum": list(SRM_METHODS),
                "default": DEFAULT_SRM_METHOD,
            },
            "exposure": {
                "description": "A column that must agree with the arm (the page or flag "
                "actually served): rows that disagree are dropped (and counted) or stop the "
                "analysis.",
                "type": "object",
                "properties": {
                    "column": text,
                    "expected": {
                        "description": "Arm label -> the value the column holds in that arm.",
                        "type": "object",
                        "additionalProperties": {"type": ["string", "number", "boolean"]},
                        "minProperties": 1,
                    },
                    "on_mismatch": {"enum": list(ON_MISMATCH), "default": "stop"},
                },
                "required": ["column", "expected"],
                "additionalProperties": False,
            },
            "planned": {
                "type": "object",
                "properties": {
                    "sample_size": {"type": "integer", "minimum": 2},
                    "duration_days": {"type": "number", "exclusiveMinimum": 0},
                    "start_date": {"type": "string", "format": "date"},
                    "power": {**unit_interval, "default": 0.8},
                },
                "additionalProperties": False,
            },
        },
        "required": ["experiment_id", "source", "control", "metrics"],
        "additionalProperties": False,
        "allOf": [
            {
                "if": {
                    "properties": {"sequential": {"enum": list(SEQUENTIAL_METHODS[1:])}},
                    "required": ["sequential"],
                },
                "then": {"required": ["time"]},
            },
            {
                "if": {
                    "properties": {"sequential": {"const": "group-sequential"}},
                    "required": ["sequential"],
                },
                "then": {
                    "required": ["planned"],
                    "properties": {"planned": {"required": ["sample_size"]}},
                },
            },
            {
                "if": {"required": ["spending"]},
                "then": {
                    "required": ["sequential"],
                    "properties": {"sequential": {"const": "group-sequential"}},
                },
            },
        ],
    }
