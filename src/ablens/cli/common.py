"""What every CLI command shares: exit codes, the translation of errors, terminal-safe text."""

from __future__ import annotations

import json
import re
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import typer

from ablens.cli import EXIT_HEALTH, EXIT_USAGE
from ablens.errors import AblensError

if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = ["EXIT_HEALTH", "EXIT_USAGE", "echo", "json_text", "terminal_safe", "usage_errors"]

# Characters a terminal acts on rather than shows: C0 controls but tab and newline (ESC starts
# the sequences that clear the screen or retitle the window, CR overwrites a line), DEL, the C1
# controls (U+009B is a one-character ESC [), and the bidirectional overrides that reorder text.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _escaped(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def terminal_safe(text: str) -> str:
    r"""``text`` with every control character shown as its escape (``\x1b``).

    Labels come from data (arm names, metric and column names) and must not drive the terminal.
    Newlines and tabs stay: they lay out the text.

    Examples:
        >>> terminal_safe("arm \x1b[2J\r")
        'arm \\x1b[2J\\x0d'
        >>> terminal_safe("two\nlines\tand a tab")
        'two\nlines\tand a tab'
    """
    return _CONTROL.sub(_escaped, text)


def json_text(document: Any) -> str:  # noqa: ANN401 - any JSON value
    r"""``document`` as indented JSON: every string exact, no control character raw.

    JSON escapes C0 controls itself; DEL, C1 and bidirectional controls are written as
    ``\uXXXX`` escapes (the same string once parsed).

    Examples:
        >>> json_text({"arm": "\x1b[2J\x9b"})
        '{\n  "arm": "\\u001b[2J\\u009b"\n}'
        >>> json.loads(json_text({"arm": "\x1b[2J\x9b"}))["arm"] == "\x1b[2J\x9b"
        True
    """
    text = json.dumps(document, indent=2, ensure_ascii=False)
    return _CONTROL.sub(lambda match: f"\\u{ord(match.group()):04x}", text)


def echo(text: str, *, err: bool = False) -> None:
    """`typer.echo` of plain text made `terminal_safe`."""
    typer.echo(terminal_safe(text), err=err)


@contextmanager
def usage_errors() -> Iterator[None]:
    """Turn ablens' own errors (and unwritable files) into exit code 2 with a message."""
    try:
        yield
    except AblensError as error:
        for line in str(error).splitlines() or [type(error).__name__]:
            echo(f"ablens: {line}", err=True)
        raise typer.Exit(EXIT_USAGE) from None
    except OSError as error:
        echo(f"ablens: {error}", err=True)
        raise typer.Exit(EXIT_USAGE) from None
