"""``ablens registry list|show|history``: the runs a results registry keeps.

Registered on the application in `ablens.cli.app`; the work is in `ablens.registry`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from ablens import render
from ablens.cli.common import echo, json_text, usage_errors

if TYPE_CHECKING:
    from ablens.readout import Readout
    from ablens.registry import Registry, RunRecord

__all__ = ["registry_app", "store_readout"]

registry_app = typer.Typer(
    name="registry",
    help="Read a results registry: experiments, their latest readout, their runs over time.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

UrlArgument = Annotated[
    str,
    typer.Argument(
        help="The registry: a DuckDB file or postgresql://user@host/database.",
        show_default=False,
    ),
]
ExperimentArgument = Annotated[str, typer.Argument(help="Experiment id.", show_default=False)]
JsonOption = Annotated[
    bool, typer.Option("--json", help="Print one JSON document (with schema_version).")
]


def _open(url: str | None) -> Registry:
    from ablens.registry import open_registry  # noqa: PLC0415 - keeps --help fast

    # Reading never creates a registry: a mistyped path is an error, not an empty registry.
    return open_registry(url, create=False)


def store_readout(readout: Readout, url: str) -> RunRecord:
    """Store ``readout`` (and its plan's per-day moments) in the registry at ``url``."""
    from ablens.registry import open_registry, plan_moments  # noqa: PLC0415 - on use only

    if readout.plan is None:  # run_readout always has one; guard for other callers
        raise typer.BadParameter("a readout without a plan cannot be stored")
    moments = plan_moments(readout.plan)
    registry = open_registry(url)
    record = registry.store(readout, moments)
    echo(f"ablens: stored run {record.run_id} in registry {registry.name}", err=True)
    return record


def _run_cells(run: RunRecord) -> list[str]:
    return [
        run.as_of.isoformat(),
        f"{run.run_at:%Y-%m-%d %H:%M}",
        run.verdict,
        f"{sum(run.counts):,}",
        (run.plan_hash or "—")[:12],
        run.catalog_version or "—",
        run.ablens_version,
    ]


@registry_app.command("list")
def list_command(
    url: Annotated[
        str | None,
        typer.Argument(
            help="The registry (default: $ABLENS_REGISTRY, else ablens-registry.duckdb).",
            show_default=False,
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Every experiment in the registry with its number of runs, last run and verdict."""
    with usage_errors():
        experiments = _open(url).experiments()
    if as_json:
        echo(json_text({"schema_version": 1, "experiments": [e.to_dict() for e in experiments]}))
        return
    if not experiments:
        echo("ablens: the registry holds no runs yet", err=True)
        return
    headers = ["experiment", "runs", "last day", "stored (UTC)", "verdict"]
    rows = [
        [
            e.experiment_id,
            str(e.runs),
            e.latest.as_of.isoformat(),
            f"{e.latest.run_at:%Y-%m-%d %H:%M}",
            e.latest.verdict,
        ]
        for e in experiments
    ]
    echo(render.table_text(headers, rows))


@registry_app.command("show")
def show_command(
    url: UrlArgument, experiment: ExperimentArgument, as_json: JsonOption = False
) -> None:
    """The latest stored readout of an experiment, from the stored numbers."""
    with usage_errors():
        stored = _open(url).latest(experiment)
    echo(json_text(stored.to_dict()) if as_json else stored.to_text())


@registry_app.command("history")
def history_command(
    url: UrlArgument, experiment: ExperimentArgument, as_json: JsonOption = False
) -> None:
    """Every stored run of an experiment, oldest first: day, verdict, units."""
    with usage_errors():
        registry = _open(url)
        runs = registry.runs(experiment)
        if not runs:
            registry.latest(experiment)  # raises, naming the experiments stored
    if as_json:
        echo(
            json_text(
                {
                    "schema_version": 1,
                    "experiment_id": experiment,
                    "runs": [r.to_dict() for r in runs],
                }
            )
        )
        return
    headers = ["day", "stored (UTC)", "verdict", "units", "plan", "catalog", "ablens"]
    echo(render.table_text(headers, [_run_cells(run) for run in runs]))
