"""The Typer application behind ``ablens``; only `ablens.cli.main` imports it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from ablens._version import __version__

EXIT_HEALTH = 1

app = typer.Typer(
    name="ablens",
    help="A/B-test analysis and power analysis on per-arm moments.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"ablens {__version__}")
        raise typer.Exit


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version_callback, is_eager=True, help="Print the version."
        ),
    ] = False,
) -> None:
    """A/B-test analysis and power analysis on per-arm moments."""


@app.command()
def demo(
    database: Annotated[
        Path, typer.Option("--db", help="DuckDB file to (re)create with the demo data.")
    ] = Path("ablens_demo.duckdb"),
    users: Annotated[int, typer.Option(min=100, help="Number of simulated users.")] = 200_000,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 2026,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON document.")] = False,
) -> None:
    """Simulate a checkout experiment into DuckDB, analyze it and print the readout."""
    from ablens.demo import TRUE_EFFECTS, run  # noqa: PLC0415 - keeps --help fast

    outcome = run(database, users=users, seed=seed)
    result = outcome.result
    if as_json:
        document = result.to_dict()
        document["database"] = str(outcome.database)
        document["true_effects"] = TRUE_EFFECTS
        typer.echo(json.dumps(document, indent=2))
    else:
        typer.echo(
            f"Demo experiment: {outcome.users:,} users of an online shop, randomized 50/50 "
            f"between control and new_checkout.\nData: {outcome.database} (table 'users'); "
            "per-arm moments computed in one DuckDB query.\n"
        )
        typer.echo(str(result))
        typer.echo("\nThe simulation's true effects, for comparison:")
        typer.echo(outcome.true_effects_text())
    if result.srm.mismatch:
        typer.echo("Sample ratio mismatch: do not trust these results.", err=True)
        raise typer.Exit(EXIT_HEALTH)
