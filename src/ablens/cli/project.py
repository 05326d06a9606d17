"""``ablens new`` and ``ablens update``: experiment projects from the copier template.

Registered on the application in `ablens.cli.app`; the work is in `ablens.project`.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from ablens.cli.common import usage_errors

__all__ = ["new_command", "update_command"]

EXIT_CONFLICTS = 1


def new_command(
    name: Annotated[
        Path,
        typer.Argument(
            help="Folder to create; its name is the project's (e.g. checkout-redesign).",
            show_default=False,
        ),
    ],
    team: Annotated[
        str | None, typer.Option(help="Team that owns the experiment. [default: growth]")
    ] = None,
    experiment_id: Annotated[
        str | None,
        typer.Option("--experiment-id", help="Experiment id. [default: the project's name]"),
    ] = None,
    source: Annotated[
        str | None,
        typer.Option(
            help="Data source: demo, file, duckdb, postgres or spark. [default: demo]",
        ),
    ] = None,
    metric: Annotated[
        list[str] | None,
        typer.Option(
            help="A starting metric (repeat): conversion, revenue_cuped, orders_per_session, "
            "sessions, p90_minutes. [default: conversion, revenue_cuped, sessions]",
        ),
    ] = None,
    schedule: Annotated[
        str | None,
        typer.Option(help="Production schedule (cron, UTC). [default: 0 6 * * *]"),
    ] = None,
    template: Annotated[
        str | None,
        typer.Option(help="Another copier template (git URL or path) than the packaged one."),
    ] = None,
    ask: Annotated[
        bool | None,
        typer.Option(
            "--ask/--no-ask",
            help="Ask the questions not given as options. [default: when stdin is a terminal]",
            show_default=False,
        ),
    ] = None,
    git: Annotated[
        bool, typer.Option("--git/--no-git", help="Make it a git repository (update needs it).")
    ] = True,
) -> None:
    """Create an experiment project: plan.yaml, a Metaflow flow, tests, Dockerfile, CI, README."""
    from ablens.project import new_project  # noqa: PLC0415 - copier is an extra, loaded on use

    interactive = sys.stdin.isatty() if ask is None else ask
    with usage_errors():
        folder = new_project(
            name,
            team=team,
            experiment_id=experiment_id,
            data_source=source,
            metrics=metric,
            schedule_cron=schedule,
            template=template,
            interactive=interactive,
            git_init=git,
        )
    typer.echo(
        f"Created {folder} (a git repository with one commit). Next:\n"
        f"  cd {name}\n"
        "  uv sync                     # the pinned environment\n"
        "  uv run pytest               # the plan is valid\n"
        "  uv run python flow.py run   # the analysis; the report as a card and an artifact\n"
        "Later, `ablens update` brings it to the newest template, keeping your edits."
    )


def update_command(
    path: Annotated[
        Path,
        typer.Argument(help="The project folder.", file_okay=False, exists=True),
    ] = Path(),
    conflict: Annotated[
        str,
        typer.Option(help="Overlapping changes as 'inline' markers or as '.rej' files."),
    ] = "inline",
) -> None:
    """Bring a project to the newest template, keeping your edits (copier's three-way update).

    Exit code 0 when the update applied cleanly, 1 when files hold conflicts to resolve,
    2 when it could not run (not a project, uncommitted changes).
    """
    from ablens.project import update_project  # noqa: PLC0415 - copier is an extra

    with usage_errors():
        outcome = update_project(path, conflict=conflict)  # type: ignore[arg-type]
    typer.echo(str(outcome))
    if outcome.conflicts:
        raise typer.Exit(EXIT_CONFLICTS)
