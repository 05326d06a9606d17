"""The catalog file's JSON Schema: the committed file, and agreement with the loader."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from catalog_helpers import EXAMPLE

from ablens.catalog import catalog_json_schema

SCHEMA_FILE = (
    Path(__file__).resolve().parents[2] / "src" / "ablens" / "schema" / "catalog.schema.json"
)


def test_committed_schema_is_the_generated_one():
    generated = json.dumps(catalog_json_schema(), indent=2, ensure_ascii=False) + "\n"
    assert SCHEMA_FILE.read_text(encoding="utf-8") == generated, (
        "regenerate it: ablens catalog schema > src/ablens/schema/catalog.schema.json"
    )


def _validator():
    jsonschema = pytest.importorskip("jsonschema")
    jsonschema.Draft202012Validator.check_schema(catalog_json_schema())
    return jsonschema.Draft202012Validator(catalog_json_schema())


def _load(path):
    yaml = pytest.importorskip("yaml")
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def test_every_example_file_meets_the_schema():
    validator = _validator()
    files = sorted(EXAMPLE.rglob("*.yaml"))
    assert len(files) == 4
    for file in files:
        assert list(validator.iter_errors(_load(file))) == [], file


@pytest.mark.parametrize(
    "document",
    [
        {"metrics": {"m": {"owner": "a", "source": "s", "aggregation": "median"}}},
        {"metrics": {"m": {"owner": "a", "source": "s", "aggregation": "sum"}}},  # no column
        {"metrics": {"m": {"owner": "a", "source": "s", "aggregation": "count", "column": "x"}}},
        {"metrics": {"m": {"source": "s", "aggregation": "count"}}},  # no owner
        {
            "metrics": {
                "m": {
                    "owner": "a",
                    "ratio": {"numerator": "x", "denominator": "y"},
                    "window": [0, 7],
                }
            }
        },
        {"metrics": {"m": {"owner": "a", "source": "s", "aggregation": "count", "windw": [0]}}},
        {"metrics": {"2m": {"owner": "a", "source": "s", "aggregation": "count"}}},
        {"sources": {"s": {"kind": "facts", "table": "t", "time": "t", "columns": ["x"]}}},
        {
            "sources": {
                "s": {
                    "kind": "facts",
                    "table": "t",
                    "path": "t.parquet",
                    "unit": "u",
                    "time": "t",
                    "columns": ["x"],
                }
            }
        },
        {
            "sources": {
                "s": {
                    "kind": "exposure",
                    "table": "t",
                    "sql": "SELECT 1",
                    "experiment": "e",
                    "unit": "u",
                    "arm": "a",
                    "time": "t",
                }
            }
        },
        {"catalog": {"max_window_days": 0}},
        {"metric": {}},
    ],
)
def test_the_schema_refuses_what_the_loader_refuses(document):
    assert list(_validator().iter_errors(document)) != []
