"""What every CLI command shares: the exit codes and the one translation of errors to them."""

from __future__ import annotations

from contextlib import contextmanager
from typing import TYPE_CHECKING

import typer

from ablens.cli import EXIT_HEALTH, EXIT_USAGE
from ablens.errors import AblensError

if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = ["EXIT_HEALTH", "EXIT_USAGE", "usage_errors"]


@contextmanager
def usage_errors() -> Iterator[None]:
    """Turn ablens' own errors (and unwritable files) into exit code 2 with a message."""
    try:
        yield
    except AblensError as error:
        for line in str(error).splitlines() or [type(error).__name__]:
            typer.echo(f"ablens: {line}", err=True)
        raise typer.Exit(EXIT_USAGE) from None
    except OSError as error:
        typer.echo(f"ablens: {error}", err=True)
        raise typer.Exit(EXIT_USAGE) from None
