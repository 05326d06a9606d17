"""Formatting shared by every face: numbers, intervals, and tables as text, markdown and HTML.

Results turn themselves into rows of strings once (``_display_rows``); these helpers lay the
rows out. Nothing here computes statistics.
"""

from __future__ import annotations

import html
import math
import re
import textwrap
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = [
    "format_interval",
    "format_number",
    "format_percent",
    "format_points",
    "format_pvalue",
    "format_pvalue_plain",
    "format_relative_set",
    "format_share",
    "table_blocks",
    "table_html",
    "table_markdown",
    "table_text",
    "unit_words",
    "wrap_lines",
]


def format_number(value: float | None, digits: int = 4, *, signed: bool = False) -> str:
    """A number with ``digits`` significant digits; ``inf`` as ``∞``; None and NaN as ``—``.

    Examples:
        >>> format_number(0.0123456), format_number(1234567.0), format_number(-math.inf)
        ('0.01235', '1.235e+06', '-∞')
    """
    if value is None or math.isnan(value):
        return "—"
    if math.isinf(value):
        return "∞" if value > 0 else "-∞"
    return f"{value:+.{digits}g}" if signed else f"{value:.{digits}g}"


#: Percentages (and percentage points) smaller than this in magnitude, but not zero, print as
#: ``<0.001%``: a lift of 3.24e-115 % is zero for every reader, and exponent form hides it.
SMALLEST_PERCENT = 0.001


def format_percent(value: float | None, digits: int = 3, *, signed: bool = True) -> str:
    """A fraction as a percentage with ``digits`` significant digits (0.0312 -> '+3.12%').

    A value under 0.001 % in magnitude (not zero) prints as ``<0.001%``, its sign in front when
    ``signed`` or negative; p-values keep their own floor (`format_pvalue`: ``<1e-10``).

    Examples:
        >>> format_percent(0.0312), format_percent(-0.5, signed=False)
        ('+3.12%', '-50%')
        >>> format_percent(3.24e-117), format_percent(-2e-9), format_percent(0.0)
        ('+<0.001%', '-<0.001%', '+0%')
    """
    if value is None or math.isnan(value):
        return "—"
    if math.isinf(value):
        return "∞" if value > 0 else "-∞"
    percent = 100 * value
    if percent != 0 and abs(percent) < SMALLEST_PERCENT:
        sign = "-" if percent < 0 else ("+" if signed else "")
        return f"{sign}<{SMALLEST_PERCENT:g}%"
    return format_number(percent, digits, signed=signed) + "%"


def format_share(value: float | None, digits: int = 2) -> str:
    """A share (0.004, 0.5) in percent with ``digits`` significant digits, never in exponent form.

    Shares of 10 % and more keep whole percents unless that would round a share below 100 % up
    to 100 % (or one above 0 down to 0), so a small variance reduction never reads "0%".

    Examples:
        >>> format_share(0.004), format_share(0.0123), format_share(0.503), format_share(0.9996)
        ('0.4%', '1.2%', '50%', '99.96%')
        >>> format_share(0.0), format_share(-0.031), format_share(None)
        ('0%', '-3.1%', '—')
    """
    if value is None or math.isnan(value):
        return "—"
    if math.isinf(value):
        return "∞" if value > 0 else "-∞"
    percent = 100 * value
    if percent == 0:
        return "0%"
    magnitude = abs(percent)
    decimals = max(0, digits - 1 - math.floor(math.log10(magnitude)))
    # Keep adding digits while rounding would claim all (100 %) or nothing (0 %).
    while decimals < 12 and (
        (magnitude < 100 and round(magnitude, decimals) >= 100) or round(magnitude, decimals) == 0
    ):
        decimals += 1
    return f"{percent:.{decimals}f}%"


def format_points(value: float | None, digits: int = 3) -> str:
    """A difference of proportions in percentage points (0.0123 -> '+1.23pp').

    Examples:
        >>> format_points(0.0123), format_points(-0.004), format_points(3.24e-117)
        ('+1.23pp', '-0.4pp', '+<0.001pp')
    """
    text = format_percent(value, digits)
    return text[:-1] + "pp" if text.endswith("%") else text


def format_interval(lower: float | None, upper: float | None, *, percent: bool = False) -> str:
    """An interval ``[lower, upper]`` in the same style as its estimate.

    Examples:
        >>> format_interval(-0.01, 0.05, percent=True)
        '[-1%, +5%]'
    """
    if percent:
        return f"[{format_percent(lower)}, {format_percent(upper)}]"
    return f"[{format_number(lower, signed=True)}, {format_number(upper, signed=True)}]"


def format_relative_set(
    lower: float, upper: float, shape: str = "bounded", gap: tuple[float, float] | None = None
) -> str:
    """A lift's confidence set: an interval, or what an unbounded Fieller set excludes.

    Examples:
        >>> format_relative_set(-0.01, 0.05)
        '[-1%, +5%]'
        >>> format_relative_set(-math.inf, math.inf, "two-rays", (-7.08, 0.86))
        '[any lift outside -708% to +86%]'
        >>> format_relative_set(-math.inf, math.inf, "real-line")
        '[any lift: unbounded]'
    """
    if shape == "two-rays" and gap is not None:
        return f"[any lift outside {format_percent(gap[0])} to {format_percent(gap[1])}]"
    if shape == "real-line":
        return "[any lift: unbounded]"
    return format_interval(lower, upper, percent=True)


def format_pvalue(value: float | None, *, at_least: bool = False) -> str:
    """A p-value: 4 significant digits, and ``<1e-10`` below that.

    Args:
        value: The p-value (None or NaN: a dash).
        at_least: The value is a bound, the p-value being at least it (a repeated p-value
            searched only up to 0.5, say): shown as ``≥0.5``, never as the p-value itself.

    Examples:
        >>> format_pvalue(0.0123456), format_pvalue(1e-14), format_pvalue(0.5, at_least=True)
        ('0.01235', '<1e-10', '≥0.5')
    """
    if value is None or math.isnan(value):
        return "—"
    if at_least:
        return f"≥{format_number(value)}"
    if value < 1e-10:
        return "<1e-10"
    return format_number(value)


#: Below this a p-value reads ``< 0.001`` for people (`format_pvalue_plain`).
SMALLEST_PLAIN_PVALUE = 0.001


def format_pvalue_plain(value: float | None, *, alpha: float | None = None) -> str:
    """A p-value for people: ``< 0.001`` below 0.001, else at most 2 significant digits.

    The analyst's faces keep 4 digits (`format_pvalue`); the report and the web show this one.
    When rounding to 2 digits would carry the value across ``alpha`` or onto it (0.0496 and
    0.0504 would both read 0.05 at alpha 0.05), digits are added until the shown value falls on
    the same side as the real one.

    Args:
        value: The p-value (None or NaN: a dash).
        alpha: The significance level the p-value is compared with, if any.

    Examples:
        >>> format_pvalue_plain(0.0003375), format_pvalue_plain(0.6052), format_pvalue_plain(0.0123)
        ('< 0.001', '0.61', '0.012')
        >>> format_pvalue_plain(0.0496, alpha=0.05), format_pvalue_plain(0.0496)
        ('0.0496', '0.05')
        >>> format_pvalue_plain(1.0), format_pvalue_plain(0.001), format_pvalue_plain(None)
        ('1', '0.001', '—')
    """
    if value is None or math.isnan(value):
        return "—"
    if value < SMALLEST_PLAIN_PVALUE:
        return f"< {SMALLEST_PLAIN_PVALUE:g}"
    digits = 2
    text = f"{value:.{digits}g}"
    while alpha is not None and digits < 6 and _misleads(float(text), value, alpha):
        digits += 1
        text = f"{value:.{digits}g}"
    return text


def _misleads(shown: float, value: float, alpha: float) -> bool:
    """A rounded p-value on the other side of alpha than the real one, or on alpha itself."""
    return (shown < alpha) != (value < alpha) or (shown == alpha and value != alpha)


_ID_SUFFIX = re.compile(r"[_\-. ]*(ids?|keys?|uuids?|guids?|hash)$")
_NOT_NOUNS = frozenset({"anonymous", "anon", "unit", "units", "entity", "row", "rows", "primary"})


def unit_words(column: str | None) -> tuple[str, str]:
    """The word for one unit and for several, from the unit id column's name (default users).

    ``user_id`` gives ``("user", "users")``, ``session_id`` ``("session", "sessions")``,
    ``account`` ``("account", "accounts")``; a name that holds no plain word (``uid``, ``id``,
    ``anonymous_id``) and no column at all give ``("user", "users")``, the usual unit.

    Examples:
        >>> unit_words("user_id"), unit_words("device-id"), unit_words("companyKey")
        (('user', 'users'), ('device', 'devices'), ('company', 'companies'))
        >>> unit_words("uid"), unit_words(None), unit_words("visitors")
        (('user', 'users'), ('user', 'users'), ('visitor', 'visitors'))
    """
    default = ("user", "users")
    if not column:
        return default
    spaced = re.sub(r"([a-z])([A-Z])", r"\1_\2", column).lower()
    stem = _ID_SUFFIX.sub("", spaced)
    words = re.findall(r"[a-z]+", stem)
    if not words or len(words[-1]) < 3 or words[-1] in _NOT_NOUNS:
        return default
    word = words[-1]
    if word.endswith("s") and not word.endswith(("ss", "us")):
        word = word[:-1]
    if word.endswith(("s", "x", "ch", "sh")):
        return word, word + "es"
    if word.endswith("y") and word[-2:-1] not in ("a", "e", "i", "o", "u"):
        return word, word[:-1] + "ies"
    return word, word + "s"


def table_text(
    headers: Sequence[str], rows: Sequence[Sequence[str]], *, width: int | None = None
) -> str:
    """A plain-text table with aligned columns (left for the first, right for the rest).

    Args:
        headers: The column headers.
        rows: The cells, one sequence per row.
        width: The terminal's width, or None (no limit). A table wider than this is laid out
            as one block per row instead (`table_blocks`), each line wrapped to fit.

    Examples:
        >>> print(table_text(["metric", "lift"], [["spend", "+3%"]]))
        metric  lift
        ------  ----
        spend    +3%
        >>> print(table_text(["metric", "lift"], [["spend", "+3%"]], width=10))
        spend
          lift  +3%
    """
    table = _aligned_table(headers, rows)
    if width is not None and max(len(line) for line in table.splitlines()) > width:
        return table_blocks(headers, rows, width=width)
    return table


def table_blocks(headers: Sequence[str], rows: Sequence[Sequence[str]], *, width: int) -> str:
    """A table too wide for the terminal, as one block per row: its first cell, then the rest.

    Each further cell is on its own line after its header; lines longer than ``width`` wrap,
    indented under the cell. Blocks are separated by a blank line.

    Examples:
        >>> print(table_blocks(["metric", "arm", "lift"], [["spend", "b", "+3%"]], width=40))
        spend
          arm   b
          lift  +3%
    """
    label_width = max((len(h) for h in headers[1:]), default=0)
    blocks = []
    for row in rows:
        lines = [_wrap(row[0], width, "")]
        for header, cell in zip(headers[1:], row[1:], strict=True):
            prefix = f"  {header.ljust(label_width)}  "
            lines.append(_wrap(prefix + cell.strip(), width, " " * len(prefix)))
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def wrap_lines(text: str, width: int | None) -> str:
    """Every line of ``text`` wrapped to ``width`` (unchanged when ``width`` is None).

    A wrapped line keeps its indentation on its continuation lines.

    Examples:
        >>> print(wrap_lines("  ok  the split matches the plan", 20))
          ok  the split
          matches the plan
    """
    if width is None:
        return text
    out = []
    for line in text.splitlines():
        indent = " " * (len(line) - len(line.lstrip(" ")))
        out.append(_wrap(line, width, indent))
    return "\n".join(out)


def _wrap(line: str, width: int, indent: str) -> str:
    if len(line) <= width:
        return line
    return textwrap.fill(
        line,
        width=width,
        subsequent_indent=indent,
        break_long_words=False,
        break_on_hyphens=False,
        drop_whitespace=True,
    )


def _aligned_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [len(h) for h in headers]
    for row in rows:
        widths = [max(w, len(cell)) for w, cell in zip(widths, row, strict=True)]

    def line(cells: Sequence[str]) -> str:
        parts = [
            cell.ljust(width) if i == 0 else cell.rjust(width)
            for i, (cell, width) in enumerate(zip(cells, widths, strict=True))
        ]
        return "  ".join(parts).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(headers), rule, *(line(r) for r in rows)])


def table_markdown(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A GitHub-flavoured markdown table."""

    def line(cells: Sequence[str]) -> str:
        # Markdown passes raw HTML through: escape it, and the cell separator.
        return "| " + " | ".join(html.escape(c).replace("|", "\\|") for c in cells) + " |"

    align = "| " + " | ".join(["---"] + ["---:"] * (len(headers) - 1)) + " |"
    return "\n".join([line(headers), align, *(line(r) for r in rows)])


def table_html(
    headers: Sequence[str],
    rows: Sequence[Sequence[str]],
    *,
    row_classes: Sequence[str] | None = None,
    caption: str = "",
    titles: Sequence[str] | None = None,
) -> str:
    """An HTML table; every cell escaped. ``row_classes`` tag rows (e.g. 'better', 'worse').

    ``titles`` explain the headers, one per header: each header becomes an ``<abbr>`` with the
    explanation as its title, focusable (``tabindex="0"``) so a keyboard reaches it too.

    Examples:
        >>> table_html(["p"], [["0.5"]], titles=["the p-value"])[33:96]
        '<th><abbr class="tip" tabindex="0" title="the p-value">p</abbr>'
    """
    if titles is not None and len(titles) != len(headers):
        raise ValueError(f"titles has {len(titles)} entries for {len(headers)} headers")
    if titles is None:
        head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    else:
        head = "".join(
            f'<th><abbr class="tip" tabindex="0" title="{html.escape(t)}">{html.escape(h)}'
            "</abbr></th>"
            for h, t in zip(headers, titles, strict=True)
        )
    body = []
    for i, row in enumerate(rows):
        cls = f' class="{html.escape(row_classes[i])}"' if row_classes and row_classes[i] else ""
        cells = "".join(f"<td>{html.escape(c)}</td>" for c in row)
        body.append(f"<tr{cls}>{cells}</tr>")
    cap = f"<caption>{html.escape(caption)}</caption>" if caption else ""
    return (
        f'<table class="ablens">{cap}<thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table>"
    )
