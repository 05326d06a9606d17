"""``ablens catalog validate|list|show|schema``: the metric catalog on the command line.

Each command reads the catalog through `ablens.catalog.load_catalog` and lays out its answer;
the rules live in the catalog package. Exit 0 when the catalog is valid, 2 when it is not (every
problem on stderr, ``file:line: ...``) or a name is not in it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ablens.cli.common import EXIT_USAGE, echo, json_text, usage_errors
from ablens.errors import AblensError
from ablens.render import table_text

if TYPE_CHECKING:
    from ablens.catalog import Catalog, CatalogMetric

__all__ = ["catalog_app"]

catalog_app = typer.Typer(
    name="catalog",
    help="The metric catalog: validate, list and show its definitions, print its schema.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

CatalogArgument = Annotated[
    Path, typer.Argument(help="The catalog folder (YAML files with sources: and metrics:).")
]
JsonOption = Annotated[
    bool, typer.Option("--json", help="Print one JSON document (with schema_version).")
]
#: The ``schema_version`` of the JSON documents these commands print.
SCHEMA_VERSION = 1


def _load(folder: Path) -> Catalog:
    from ablens.catalog import load_catalog  # noqa: PLC0415 - keeps --help fast

    return load_catalog(folder)


@catalog_app.command("validate")
def validate_command(folder: CatalogArgument, as_json: JsonOption = False) -> None:
    """Check every file of a catalog (exit 0 valid, 2 invalid, with file:line messages)."""
    from ablens.catalog import CatalogError  # noqa: PLC0415

    if not as_json:
        with usage_errors():
            catalog = _load(folder)
        echo(
            f"{folder}: valid catalog{_named(catalog)}: {len(catalog.metrics)} metrics, "
            f"{len(catalog.sources)} sources in {len(catalog.files)} files; "
            f"version {catalog.version}"
        )
        return
    try:
        catalog = _load(folder)
    except AblensError as error:
        messages = list(error.messages) if isinstance(error, CatalogError) else [str(error)]
        document = {
            "schema_version": SCHEMA_VERSION,
            "valid": False,
            "path": str(folder),
            "errors": messages,
        }
        echo(json_text(document))
        raise typer.Exit(EXIT_USAGE) from None
    echo(json_text({"schema_version": SCHEMA_VERSION, "valid": True, **catalog.to_dict()}))


def _named(catalog: Catalog) -> str:
    return "" if catalog.name is None else f" {catalog.name!r}"


def _summary_row(metric: CatalogMetric) -> list[str]:
    if metric.ratio is not None:
        source = f"{metric.ratio.numerator} / {metric.ratio.denominator}"
        return [metric.name, metric.owner, source, "ratio", "(its parts')", metric.direction]
    return [
        metric.name,
        metric.owner,
        metric.source or "",
        metric.aggregation or "",
        str(metric.window),
        metric.direction,
    ]


_LIST_HEADERS = ["name", "owner", "source", "aggregation", "window", "direction"]


@catalog_app.command("list")
def list_command(folder: CatalogArgument, as_json: JsonOption = False) -> None:
    """List the catalog's metrics: name, owner, source, aggregation, window, direction."""
    with usage_errors():
        catalog = _load(folder)
    rows = [_summary_row(metric) for metric in catalog.metrics.values()]
    if as_json:
        document = {
            "schema_version": SCHEMA_VERSION,
            "version": catalog.version,
            "metrics": [dict(zip(_LIST_HEADERS, row, strict=True)) for row in rows],
        }
        echo(json_text(document))
        return
    echo(table_text(_LIST_HEADERS, rows))


@catalog_app.command("show")
def show_command(
    folder: CatalogArgument,
    name: Annotated[str, typer.Argument(help="A metric's (or a source's) name.")],
    as_json: JsonOption = False,
) -> None:
    """Show one metric's (or source's) definition, its owner and where it is defined."""
    with usage_errors():
        catalog = _load(folder)
        definition = (
            catalog.sources[name]
            if name in catalog.sources and name not in catalog.metrics
            else catalog.metric(name)
        )
    what = "source" if name in catalog.sources and name not in catalog.metrics else "metric"
    body = definition.to_dict()
    if as_json:
        document = {
            "schema_version": SCHEMA_VERSION,
            "version": catalog.version,
            what: name,
            "defined_at": str(definition.defined_at),
            "definition": body,
        }
        echo(json_text(document))
        return
    echo(f"{what} {name}  (defined at {definition.defined_at}; catalog version {catalog.version})")
    for key, value in body.items():
        echo(f"  {key}: {_plain(value)}")


def _plain(value: object) -> str:
    if isinstance(value, list) and value and isinstance(value[0], dict):
        return "; ".join(" ".join(str(v) for v in item.values()) for item in value)
    if isinstance(value, dict):
        return ", ".join(f"{k}: {v}" for k, v in value.items())
    if isinstance(value, list):
        return "[" + ", ".join("null" if v is None else str(v) for v in value) + "]"
    return str(value)


@catalog_app.command("schema")
def schema_command() -> None:
    """Print the JSON Schema of catalog files (for editors and CI checks)."""
    from ablens.catalog import catalog_json_schema  # noqa: PLC0415

    echo(json_text(catalog_json_schema()))
