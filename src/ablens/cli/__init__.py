"""The ``ablens`` command line (needs ``ablens[cli]``; the demo also ``ablens[duckdb]``).

Data goes to stdout, messages to stderr. Exit codes: 0 ok, 1 a health gate failed (e.g. sample
ratio mismatch), 2 bad input or usage.
"""

from __future__ import annotations

import sys

from ablens.errors import AblensError

__all__ = ["EXIT_HEALTH", "EXIT_OK", "EXIT_USAGE", "main", "run"]

#: Success; 1: a health check failed (or, with ``--fail-on-incomplete``, no decision yet);
#: 2: the command could not run (a bad plan, a missing file, a wrong argument).
EXIT_OK, EXIT_HEALTH, EXIT_USAGE = 0, 1, 2


def main(argv: list[str] | None = None) -> int:
    """Run the command line with ``argv`` (default: ``sys.argv[1:]``); return the exit code."""
    try:
        from ablens.cli.app import app  # noqa: PLC0415 - typer is an extra, imported on use
    except ImportError as error:
        sys.stderr.write(
            f"ablens: the command line needs its extra ({error.name} is missing): "
            "pip install 'ablens[cli]'\n"
        )
        return EXIT_USAGE
    try:
        app(args=argv, prog_name="ablens", standalone_mode=True)
    except SystemExit as exit_:
        code = exit_.code
        return code if isinstance(code, int) else (EXIT_OK if code is None else EXIT_USAGE)
    except AblensError as error:
        from ablens.cli.common import terminal_safe  # noqa: PLC0415 - with typer, like app

        sys.stderr.write(f"ablens: {terminal_safe(str(error))}\n")
        return EXIT_USAGE
    return EXIT_OK


def run() -> None:
    """Console-script entry point: exit with `main`'s code."""
    sys.exit(main())
