"""``ablens catalog validate|list|show|schema`` and ``ablens catalog-schema``."""

from __future__ import annotations

import json
from pathlib import Path

from catalog_helpers import EXAMPLE, SOURCES, write
from typer.testing import CliRunner

from ablens import cli
from ablens.catalog import catalog_json_schema, load_catalog
from ablens.cli.app import app

runner = CliRunner()
SCHEMA_FILE = (
    Path(__file__).resolve().parents[2] / "src" / "ablens" / "schema" / "catalog.schema.json"
)


def test_validate_a_valid_catalog_exits_0():
    outcome = runner.invoke(app, ["catalog", "validate", str(EXAMPLE)])
    assert outcome.exit_code == 0, outcome.output
    version = load_catalog(EXAMPLE).version
    assert outcome.stdout == (
        f"{EXAMPLE}: valid catalog 'shop': 8 metrics, 3 sources in 4 files; version {version}\n"
    )


def test_validate_json_of_a_valid_catalog():
    outcome = runner.invoke(app, ["catalog", "validate", str(EXAMPLE), "--json"])
    assert outcome.exit_code == 0, outcome.output
    document = json.loads(outcome.stdout)
    assert document["schema_version"] == 1
    assert document["valid"] is True
    assert document["version"] == load_catalog(EXAMPLE).version
    assert document["metrics"]["revenue_7d"]["window"] == [0, 7]
    assert document["metrics"]["revenue_7d"]["defined_at"] == f"{EXAMPLE}/metrics/commerce.yaml:2"
    assert document["sources"]["orders"]["filter"] == [
        {"column": "is_test", "op": "==", "value": False}
    ]


def test_validate_an_invalid_catalog_exits_2_with_every_message(tmp_path, capsys):
    write(
        tmp_path,
        {
            "sources.yaml": SOURCES,
            "m.yaml": "metrics:\n  a:\n    owner: x\n    source: order\n    aggregation: count\n"
            "  b:\n    source: orders\n    aggregation: count\n",
        },
    )
    assert cli.main(["catalog", "validate", str(tmp_path)]) == cli.EXIT_USAGE == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    file = tmp_path / "m.yaml"
    assert lines[0].startswith(f"ablens: {file}:4: metrics.a.source == 'order' is not a source")
    assert lines[1] == (
        f"ablens: {file}:6: metrics.b.owner is missing; name who answers for the definition "
        "(a team or a person), e.g. owner: growth-analytics"
    )
    assert len(lines) == 2


def test_validate_json_of_an_invalid_catalog_exits_2(tmp_path):
    write(tmp_path, {"s.yaml": SOURCES.replace("    unit: user_id\n    time: ordered_at\n", "")})
    outcome = runner.invoke(app, ["catalog", "validate", str(tmp_path), "--json"])
    assert outcome.exit_code == 2
    document = json.loads(outcome.stdout)
    assert document == {
        "schema_version": 1,
        "valid": False,
        "path": str(tmp_path),
        "errors": [
            (
                f"{tmp_path / 's.yaml'}:9: sources.orders.unit is missing; add unit: <the column "
                "identifying the unit (user, device, ...)>; a fact table joins exposures on it"
            ),
            (
                f"{tmp_path / 's.yaml'}:9: sources.orders.time is missing; add time: <the column "
                "of "
                "each event's time (windows count from first exposure)>"
            ),
        ],
    }


def test_validate_a_missing_folder_exits_2(tmp_path):
    outcome = runner.invoke(app, ["catalog", "validate", str(tmp_path / "nope"), "--json"])
    assert outcome.exit_code == 2
    assert "no such catalog folder or file" in json.loads(outcome.stdout)["errors"][0]
    outcome = runner.invoke(app, ["catalog", "list", str(tmp_path / "nope")])
    assert outcome.exit_code == 2
    assert "no such catalog folder or file" in outcome.stderr


def test_list_prints_one_row_per_metric():
    outcome = runner.invoke(app, ["catalog", "list", str(EXAMPLE)])
    assert outcome.exit_code == 0, outcome.output
    lines = outcome.stdout.splitlines()
    assert lines[0].split() == ["name", "owner", "source", "aggregation", "window", "direction"]
    assert len(lines) == 2 + 8
    assert lines[2].split() == [
        "revenue_7d",
        "growth-analytics",
        "orders",
        "sum",
        "days",
        "0-7",
        "increase",
    ]
    ratio = next(line for line in lines if line.startswith("average_order_value_7d"))
    assert "revenue_7d / orders_7d" in ratio
    assert "ratio" in ratio


def test_list_json():
    outcome = runner.invoke(app, ["catalog", "list", str(EXAMPLE), "--json"])
    assert outcome.exit_code == 0, outcome.output
    document = json.loads(outcome.stdout)
    assert document["metrics"][-1] == {
        "name": "refund_rate_28d",
        "owner": "commerce-data",
        "source": "orders",
        "aggregation": "any",
        "window": "days 0-28",
        "direction": "decrease",
    }


def test_show_a_metric_with_its_owner_and_place():
    outcome = runner.invoke(app, ["catalog", "show", str(EXAMPLE), "refund_rate_28d"])
    assert outcome.exit_code == 0, outcome.output
    lines = outcome.stdout.splitlines()
    assert lines[0].startswith(
        f"metric refund_rate_28d  (defined at {EXAMPLE}/metrics/engagement.yaml:20; "
    )
    assert "  owner: commerce-data" in lines
    assert "  filter: status == refunded" in lines
    assert "  window: [0, 28]" in lines
    assert "  margin: 0.05" in lines


def test_show_json_of_a_metric_and_of_a_source():
    outcome = runner.invoke(app, ["catalog", "show", str(EXAMPLE), "orders_7d", "--json"])
    document = json.loads(outcome.stdout)
    assert document["metric"] == "orders_7d"
    assert document["definition"]["aggregation"] == "count"
    assert document["definition"]["cuped_window"] == [-14, 0]
    outcome = runner.invoke(app, ["catalog", "show", str(EXAMPLE), "sessions", "--json"])
    document = json.loads(outcome.stdout)
    assert document["source"] == "sessions"
    assert document["defined_at"] == f"{EXAMPLE}/sources.yaml:26"
    assert document["definition"]["path"] == "events/sessions/*.parquet"


def test_show_an_unknown_name_exits_2_with_a_suggestion():
    outcome = runner.invoke(app, ["catalog", "show", str(EXAMPLE), "buyers7d"])
    assert outcome.exit_code == 2
    assert "metric 'buyers7d' is not in the catalog; did you mean 'buyers_7d'?" in outcome.stderr


def test_schema_commands_print_the_committed_schema():
    for args in (["catalog", "schema"], ["catalog-schema"]):
        outcome = runner.invoke(app, args)
        assert outcome.exit_code == 0, outcome.output
        assert json.loads(outcome.stdout) == catalog_json_schema()
        assert outcome.stdout == SCHEMA_FILE.read_text(encoding="utf-8")
