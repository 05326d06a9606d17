"""The Typer application behind ``ablens``; only `ablens.cli.main` imports it.

Data go to stdout, messages to stderr. Exit codes: 0 ok (also while the planned sample is still
being collected: "keep running" is not an error, unless ``--fail-on-incomplete``), 1 a health
gate failed (sample-ratio mismatch, guardrail worse) or the verdict is one ``--fail-on`` names
(``--fail-on roll-back``), 2 bad input (unreadable or invalid plan,
unknown column, data that fail the checks). Rich tables only when stdout is a terminal and
``NO_COLOR`` is unset; progress (on stderr) only when stderr is a terminal.
"""

from __future__ import annotations

import functools
import json
import math
import os
import shutil
import sys
from contextlib import nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ablens._version import __version__
from ablens.cli.common import (
    EXIT_HEALTH,
    EXIT_USAGE,
    echo,
    json_text,
    terminal_safe,
    usage_errors,
)
from ablens.errors import AblensError, ConfigError, DataError
from ablens.typing import DEFAULT_SPENDING

if TYPE_CHECKING:
    from collections.abc import Sequence
    from contextlib import AbstractContextManager

    from ablens.analysis_plan import AnalysisPlan
    from ablens.decision import Verdict
    from ablens.readout import Readout
    from ablens.results import AnalysisResult


app = typer.Typer(
    name="ablens",
    help="A/B-test analysis and power analysis on per-arm moments.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version_callback(value: bool) -> None:
    if value:
        echo(f"ablens {__version__}")
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
        Path,
        typer.Option(
            "--db",
            help="DuckDB file to create with the demo data; an existing file is replaced only "
            "when the demo wrote it (or with --overwrite).",
        ),
    ] = Path("ablens_demo.duckdb"),
    users: Annotated[int, typer.Option(min=100, help="Number of simulated users.")] = 200_000,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 2026,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON document.")] = False,
    overwrite: Annotated[
        bool,
        typer.Option(
            "--overwrite",
            help="Replace the --db file even when it is not a demo database (its data are lost).",
        ),
    ] = False,
) -> None:
    """Simulate a checkout experiment into DuckDB, analyze it and print the readout.

    Also writes the demo's analysis plan as ``plan.yaml`` beside the database (unless a
    different ``plan.yaml`` is there), so ``ablens analyze``, ``report`` and ``serve`` have a
    plan to read.
    """
    from ablens.demo import DEMO_PLAN, TRUE_EFFECTS, demo_plan_text, run  # noqa: PLC0415

    with usage_errors():
        plan_text = demo_plan_text(database.name)
        outcome = run(database, users=users, seed=seed, overwrite=overwrite)
    result = outcome.result
    plan_file = database.parent / DEMO_PLAN
    # Never overwrite a plan someone wrote or edited; the demo's own is replaced freely.
    plan_written = not plan_file.exists() or plan_file.read_text(encoding="utf-8") == plan_text
    if plan_written:
        plan_file.write_text(plan_text, encoding="utf-8")
    else:
        echo(
            f"ablens: kept {plan_file}: it is not the demo's plan; the demo's plan is "
            "examples/plan.yaml in the ablens repository.",
            err=True,
        )
    if as_json:
        document = result.to_dict()
        document["database"] = str(outcome.database)
        document["plan_file"] = str(plan_file) if plan_written else None
        document["next_plan"] = outcome.plan.to_dict()
        document["true_effects"] = TRUE_EFFECTS
        echo(json.dumps(document, indent=2))
    else:
        from ablens.render import wrap_lines  # noqa: PLC0415 - keeps --help fast

        width = _text_width()
        echo(
            wrap_lines(
                f"Demo experiment: {outcome.users:,} users of an online shop, randomized 50/50 "
                f"between control and new_checkout.\nData: {outcome.database} (table 'users'); "
                "per-arm moments computed in one DuckDB query.\n",
                width,
            )
        )
        echo(result.to_text(width))
        echo("\nThe simulation's true effects, for comparison:")
        echo(wrap_lines(outcome.true_effects_text(), width))
        echo(
            wrap_lines(
                "\nPlanning the next test on this traffic (from the same table as history):",
                width,
            )
        )
        echo(wrap_lines(outcome.plan.sentence, width))
        if plan_written:
            echo(
                wrap_lines(
                    f"\nThe demo's analysis plan: {plan_file}. Next: `ablens analyze {plan_file}` "
                    f"(verdict and health gates), `ablens report {plan_file} -o report.html`.",
                    width,
                )
            )
    if result.srm.mismatch:
        echo("Sample ratio mismatch: do not trust these results.", err=True)
        raise typer.Exit(EXIT_HEALTH)


# ------------------------------------------------------------------------------- plan commands
PlanArgument = Annotated[
    Path,
    typer.Argument(
        help="The analysis plan (YAML).", exists=True, dir_okay=False, show_default=False
    ),
]


def _stdout_is_terminal() -> bool:
    return sys.stdout.isatty()


def _text_width() -> int | None:
    """The terminal's width (``COLUMNS`` first) for text on a terminal; None when piped.

    Piped or redirected text keeps one line per table row, however wide, for scripts.
    """
    if not _stdout_is_terminal():
        return None
    return shutil.get_terminal_size().columns


def _stderr_is_terminal() -> bool:
    return sys.stderr.isatty()


def _no_color() -> bool:
    return bool(os.environ.get("NO_COLOR")) or os.environ.get("TERM") == "dumb"


def _use_rich() -> bool:
    """Rich output only for a person at a terminal who has not asked for plain text."""
    return _stdout_is_terminal() and not _no_color()


def _progress(message: str) -> AbstractContextManager[Any]:
    if not _stderr_is_terminal():
        return nullcontext()
    from rich.console import Console  # noqa: PLC0415 - only for interactive use

    return Console(stderr=True, no_color=_no_color()).status(message)


DataOption = Annotated[
    Path | None,
    typer.Option(
        "--data",
        help="Read this parquet/CSV file instead of the plan's source (the plan's filter, and a "
        "path source's sql, still apply).",
        exists=True,
        dir_okay=False,
        show_default=False,
    ),
]


def _load(plan_file: Path, data: Path | None) -> AnalysisPlan:
    from ablens.analysis_plan import load_plan  # noqa: PLC0415 - keeps --help fast
    from ablens.analysis_plan.run import with_data_file  # noqa: PLC0415

    plan = load_plan(plan_file)
    return plan if data is None else with_data_file(plan, data)


def _run(plan: AnalysisPlan) -> Readout:
    from ablens.readout import run_readout  # noqa: PLC0415 - keeps --help fast

    with _progress(f"Analyzing {plan.experiment_id} where its data live ..."):
        return run_readout(plan)


def _analyze(plan_file: Path, data: Path | None = None) -> Readout:
    return _run(_load(plan_file, data))


def _data_problems(error: DataError, plan: AnalysisPlan) -> list[str]:
    """Every problem of the data, one sentence each: what `ablens check` finds, all at once.

    The error the analysis raised names the first problem only; when the checks themselves
    cannot run (a column missing, say), its message is the list.
    """
    from ablens.analysis_plan import check_plan  # noqa: PLC0415 - keeps --help fast

    try:
        found = [message for _, message in check_plan(plan).problems()]
    except AblensError:
        found = []
    return found or [line for line in str(error).splitlines() if line.strip()] or [str(error)]


def _finite(value: Any) -> Any:  # noqa: ANN401 - any JSON value
    """NaN and infinities as null, so the document is strict JSON."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(item) for item in value]
    return value


def _document(readout: Readout) -> dict[str, Any]:
    from ablens.results import data_fingerprint  # noqa: PLC0415 - keeps --help fast

    plan, result = readout.plan, readout.result
    document = readout.to_dict()  # starts with schema_version; verdict, sequential, bayesian
    document["plan"] = (
        None if plan is None else {"path": plan.name, "sha256": plan.sha256, **plan.to_dict()}
    )
    document["data_fingerprint"] = data_fingerprint(result)
    document["ablens_version"] = __version__
    return _finite(document)  # type: ignore[no-any-return]


def _provenance(plan: AnalysisPlan | None, result: AnalysisResult) -> str:
    from ablens.results import data_fingerprint  # noqa: PLC0415 - keeps --help fast

    fingerprint = data_fingerprint(result)["sha256"][:12]
    source = "" if plan is None else f"Plan {plan.name} (sha256 {plan.sha256[:12]}); "
    return f"{source}data fingerprint {fingerprint}; ablens {__version__}."


def _plain(readout: Readout, width: int | None = None) -> str:
    from ablens.render import wrap_lines  # noqa: PLC0415 - keeps --help fast

    provenance = wrap_lines(_provenance(readout.plan, readout.result), width)
    return terminal_safe(f"{readout.to_text(width)}\n\n{provenance}")


def _print_rich(readout: Readout) -> None:
    from rich.console import Console  # noqa: PLC0415 - only for interactive use
    from rich.panel import Panel  # noqa: PLC0415
    from rich.table import Table  # noqa: PLC0415
    from rich.text import Text  # noqa: PLC0415

    from ablens.decision import FIX_DATA, ROLL_BACK, SHIP  # noqa: PLC0415

    plan, result, decision = readout.plan, readout.result, readout.verdict
    console = Console(file=sys.stdout, force_terminal=True, highlight=False)
    style = {SHIP: "bold green", ROLL_BACK: "bold red", FIX_DATA: "bold red"}.get(
        decision.label, "bold yellow"
    )
    console.print(
        Panel(
            Text(terminal_safe(decision.reason)),
            title=Text(decision.label, style=style),
            title_align="left",
            subtitle=Text(terminal_safe(readout.title)),
            subtitle_align="right",
            border_style=style.removeprefix("bold "),
        )
    )
    marks = {
        "passed": ("ok   ", "green"),
        "failed": ("FAIL ", "bold red"),
        "incomplete": ("wait ", "bold yellow"),
        "warning": ("warn ", "bold yellow"),
    }
    for check in decision.checks:
        mark = marks[check.status]
        console.print(
            Text.assemble(mark, (f"{check.name}: ", "bold"), terminal_safe(check.message))
        )
    for note in decision.notes:
        console.print(Text.assemble(("note ", "yellow"), terminal_safe(note)))
    table = Table(show_edge=False, header_style="bold")
    headers = _safe_row(result.display_headers())
    for index, header in enumerate(headers):
        table.add_column(Text(header), justify="left" if index == 0 else "right")
    colours = {"better": "green", "worse": "red", "inconclusive": ""}
    rows = [_safe_row(comparison.display_row()) for comparison in result.comparisons]
    for comparison, row in zip(result.comparisons, rows, strict=True):
        table.add_row(*map(Text, row), style=colours[comparison.outcome])
    console.print()
    styles = [colours[comparison.outcome] for comparison in result.comparisons]
    _print_fitting(console, table, headers, rows, styles)
    for line in result.summary_lines():
        console.print(Text(terminal_safe(line), style="dim"))
    if result.segments:
        headers, rows = result.segment_table()
        rows = [_safe_row(row) for row in rows]
        segments = Table(title=result._SEGMENT_NOTE, show_edge=False, header_style="bold")
        for index, header in enumerate(headers):
            segments.add_column(header, justify="left" if index < 3 else "right")
        for row in rows:
            segments.add_row(*map(Text, row))
        console.print()
        if _natural_width(console, segments) > console.width:
            console.print(Text(result._SEGMENT_NOTE, style="bold"))
        _print_fitting(console, segments, headers, rows, [""] * len(rows))
    _print_rich_extras(console, readout)
    console.print()
    console.print(Text(terminal_safe(_provenance(plan, result)), style="dim"))


def _safe_row(row: Sequence[str]) -> list[str]:
    """A table row's cells `terminal_safe` (labels come from the data)."""
    return [terminal_safe(cell) for cell in row]


def _natural_width(console: Any, table: Any) -> int:  # noqa: ANN401 - rich objects
    """The width ``table`` takes unfolded (rich's own measure stops at the console's width)."""
    from rich.measure import Measurement  # noqa: PLC0415 - only for interactive use

    unbounded = console.options.update(width=1_000_000)
    return Measurement.get(console, unbounded, table).maximum


def _print_fitting(
    console: Any,  # noqa: ANN401 - rich Console
    table: Any,  # noqa: ANN401 - rich Table
    headers: list[str],
    rows: list[list[str]],
    styles: list[str],
) -> None:
    """The table when it fits the terminal, else one block per row (each in its row's style).

    Rich would fold every cell into a narrow column; a block per row reads better.
    """
    from rich.text import Text  # noqa: PLC0415 - only for interactive use

    from ablens import render  # noqa: PLC0415

    if _natural_width(console, table) <= console.width:
        console.print(table)
        return
    for index, (row, style) in enumerate(zip(rows, styles, strict=True)):
        if index:
            console.print()
        console.print(Text(render.table_blocks(headers, [row], width=console.width), style=style))


def _print_rich_extras(console: Any, readout: Readout) -> None:  # noqa: ANN401 - rich Console
    """The sequential looks and the Bayesian tables, when the plan asks for them."""
    from rich.table import Table  # noqa: PLC0415 - only for interactive use
    from rich.text import Text  # noqa: PLC0415

    from ablens.readout import bayesian_table, best_arm_table  # noqa: PLC0415

    sequential = readout.sequential_lines()
    if sequential:
        console.print()
        console.print(Text(terminal_safe(sequential[0]), style="bold"))
        for reading in readout.sequential:
            colour = {"better": "green", "worse": "red"}.get(reading.outcome, "")
            console.print()
            console.print(Text(terminal_safe(str(reading)), style=colour))
    if readout.has_bayesian:
        headers, rows = bayesian_table(readout.bayesian)
        bayes = Table(
            title=Text(terminal_safe(readout.bayesian_lines()[0])),
            show_edge=False,
            header_style="bold",
        )
        for index, header in enumerate(headers):
            bayes.add_column(header, justify="left" if index in (0, 1, 5) else "right")
        for row in rows:
            bayes.add_row(*map(Text, _safe_row(row)))
        console.print()
        console.print(bayes)
    if readout.best_arm:
        headers, rows = best_arm_table(readout.best_arm)
        best = Table(
            title=Text(terminal_safe(readout.bayesian_lines()[-2])),
            show_edge=False,
            header_style="bold",
        )
        for index, header in enumerate(headers):
            best.add_column(header, justify="left" if index < 2 else "right")
        for row in rows:
            style = "bold" if row[1].endswith("(best)") else ""
            best.add_row(*map(Text, _safe_row(row)), style=style)
        console.print()
        console.print(best)


def _fail_on_keys(values: list[str] | None) -> tuple[str, ...]:
    """``--fail-on roll-back,keep-running`` (repeatable) as verdict keys, checked."""
    from ablens.decision import VERDICT_KEYS  # noqa: PLC0415 - keeps --help fast

    keys = tuple(
        key.strip().removeprefix("verdict=")
        for value in values or ()
        for key in value.split(",")
        if key.strip()
    )
    for key in keys:
        if key not in VERDICT_KEYS:
            raise ConfigError(
                f"--fail-on {key!r}: must be one or more of {', '.join(VERDICT_KEYS)} "
                "(comma-separated), e.g. --fail-on roll-back,fix-data"
            )
    return keys


def _health_exit(
    decision: Verdict, *, fail_on_incomplete: bool = False, fail_on: tuple[str, ...] = ()
) -> None:
    """Exit 1 when a gate failed or the verdict is unwanted (``--fail-on``).

    An incomplete sample exits 1 only with ``--fail-on-incomplete``.
    """
    if decision.key in fail_on:
        echo(f"ablens: verdict {decision.label} ({decision.key}) is in --fail-on", err=True)
    failed = ", ".join(c.name for c in decision.checks if c.status == "failed")
    waiting = ", ".join(c.name for c in decision.checks if c.status == "incomplete")
    warned = ", ".join(c.name for c in decision.checks if c.status == "warning")
    if warned:
        echo(f"ablens: warning ({warned}): see the health checks", err=True)
    if failed:
        echo(f"ablens: health gate failed ({failed}): {decision.label}", err=True)
    elif waiting:
        hint = "" if fail_on_incomplete else " (exit 0; --fail-on-incomplete makes this exit 1)"
        echo(f"ablens: not complete yet ({waiting}): {decision.label}{hint}", err=True)
    if decision.exit_code(fail_on_incomplete=fail_on_incomplete, fail_on=fail_on):
        raise typer.Exit(EXIT_HEALTH)


FailOnIncomplete = Annotated[
    bool,
    typer.Option(
        "--fail-on-incomplete",
        help="Exit 1 also while the planned sample is not in yet (and no sequential boundary "
        "was crossed); by default that is exit 0: keep running is not an error.",
    ),
]
FailOn = Annotated[
    list[str] | None,
    typer.Option(
        "--fail-on",
        help="Exit 1 also when the verdict is one of these (comma-separated or repeated): "
        "ship, roll-back, keep-running, no-effect, fix-data; e.g. --fail-on roll-back.",
        show_default=False,
    ),
]


@app.command("analyze")
def analyze_command(
    plan: PlanArgument,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one JSON document (with schema_version).")
    ] = False,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Write the readout to this file, not stdout."),
    ] = None,
    fail_on_incomplete: FailOnIncomplete = False,
    data: DataOption = None,
    fail_on: FailOn = None,
    registry: Annotated[
        str | None,
        typer.Option(
            "--registry",
            envvar="ABLENS_REGISTRY",
            help="Also store the run (readout, comparisons, per-day moments) in this results "
            "registry: a DuckDB file or postgresql:// URL. Off unless given (or ABLENS_REGISTRY "
            "is set).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Analyze the experiment a plan describes: verdict, health gates and every metric.

    With a sequential method in the plan, also every look of the primary metrics and
    guardrails; with bayesian: true, the chance to beat control and the expected loss.

    Exit code 0 when nothing is wrong, including while the planned sample is still being
    collected ("keep running", said on stderr and in the JSON's verdict.complete); 1 when a
    health gate failed (sample-ratio mismatch, guardrail worse; the readout is still printed),
    when the sample is incomplete and --fail-on-incomplete is given, or when the verdict is one
    --fail-on names (e.g. roll-back); 2 on bad input.
    """
    with usage_errors():
        fail_on_keys = _fail_on_keys(fail_on)
        readout = _analyze(plan, data)
        if as_json:
            text = json_text(_document(readout))
        elif output is None and _use_rich():
            _print_rich(readout)
            text = None
        else:
            text = _plain(readout, _text_width() if output is None else None)
        if text is not None and output is not None:
            output.write_text(text + "\n", encoding="utf-8")
            echo(f"ablens: wrote {output}", err=True)
        elif text is not None:
            echo(text)
        if registry:
            store_readout(readout, registry)
    _health_exit(readout.verdict, fail_on_incomplete=fail_on_incomplete, fail_on=fail_on_keys)


@app.command("validate")
def validate_command(
    plan: PlanArgument,
    check_data: Annotated[
        bool,
        typer.Option(
            "--check-data", help="Also open the data source and check every column it names."
        ),
    ] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the normalized plan as one JSON document.")
    ] = False,
    data: DataOption = None,
) -> None:
    """Check a plan without analyzing it (exit 0 valid, 2 invalid, with file:line messages)."""
    from ablens.analysis_plan import check_source  # noqa: PLC0415 - keeps --help fast

    with usage_errors():
        loaded = _load(plan, data)
        columns = check_source(loaded) if check_data else None
    if as_json:
        document = {
            "schema_version": 1,
            "valid": True,
            "path": loaded.name,
            "sha256": loaded.sha256,
            "plan": loaded.to_dict(),
            "columns": columns,
        }
        echo(json_text(_finite(document)))
        return
    roles = [m.role for m in loaded.metrics]
    counts = ", ".join(f"{roles.count(r)} {r}" for r in ("primary", "secondary", "guardrail"))
    arms = " / ".join(loaded.arms) if loaded.arms else "as found in the data"
    source = json.dumps(loaded.source.to_dict())
    echo(
        f"{loaded.name}: valid plan for experiment {loaded.experiment_id}: "
        f"{len(loaded.metrics)} metrics ({counts}); arms {arms}; source {source}"
        + ("; every column found in the data." if check_data else ".")
    )


@app.command("check")
def check_command(
    plan: PlanArgument,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one JSON document (with schema_version).")
    ] = False,
    data: DataOption = None,
) -> None:
    """List every data problem at once, with counts per arm (no analysis is run).

    Rows per arm, NULL variant, unit and metric values, unit ids repeated within an arm, units
    in more than one arm, labels the plan does not name, named arms without rows, and rows
    whose exposure column disagrees with the arm; counted in the data's engine.

    Exit code 0 when analyze would go on (warnings allowed), 2 when it would stop on the data
    (the report is still printed) or on bad input, as for analyze.
    """
    from ablens.analysis_plan import check_plan  # noqa: PLC0415 - keeps --help fast

    with usage_errors():
        loaded = _load(plan, data)
        with _progress(f"Checking the data of {loaded.experiment_id} ..."):
            report = check_plan(loaded)
    if as_json:
        document = {
            "schema_version": 1,
            "experiment_id": loaded.experiment_id,
            "path": loaded.name,
            **report.to_dict(),
        }
        echo(json_text(_finite(document)))
    else:
        echo(f"{loaded.name}: data of experiment {loaded.experiment_id}")
        echo(str(report))
    if not report.ok:
        errors = sum(severity == "error" for severity, _ in report.problems())
        echo(f"ablens: {errors} data problem(s) would stop the analysis", err=True)
        raise typer.Exit(EXIT_USAGE)


@app.command("report")
def report_command(
    plan: PlanArgument,
    output: Annotated[
        Path, typer.Option("--output", "-o", help="The HTML file to write ('-': stdout).")
    ] = Path("report.html"),
    fail_on_incomplete: FailOnIncomplete = False,
    data: DataOption = None,
    fail_on: FailOn = None,
) -> None:
    """Analyze a plan and write one self-contained HTML report (no external URL).

    Exit codes as for analyze: 0 when nothing is wrong (also while the planned sample is
    still being collected), 1 when a health gate failed (the report is still written), with
    --fail-on-incomplete when the sample is incomplete, or when the verdict is one --fail-on
    names; 2 on bad input. Data that fail the checks (duplicate units, unknown arms, NULL
    values) still get a report, "Don't trust — fix the data" with every problem, and exit 2.
    """
    from ablens.decision import FIX_DATA  # noqa: PLC0415
    from ablens.report import render_data_problems, render_readout  # noqa: PLC0415

    def write(page: str, label: str) -> None:
        if str(output) == "-":
            typer.echo(page, nl=False)  # HTML for a pipe or a file, exact as written to -o
        else:
            output.write_text(page, encoding="utf-8")
            echo(f"ablens: wrote {output} ({label})", err=True)

    with usage_errors():
        fail_on_keys = _fail_on_keys(fail_on)
        loaded = _load(plan, data)
        try:
            readout = _run(loaded)
        except DataError as error:
            write(render_data_problems(_data_problems(error, loaded), loaded), FIX_DATA)
            raise  # still exit 2, with the message: the data are bad input
        write(render_readout(readout), readout.verdict.label)
    _health_exit(readout.verdict, fail_on_incomplete=fail_on_incomplete, fail_on=fail_on_keys)


@app.command("plan-schema")
def plan_schema_command() -> None:
    """Print the JSON Schema of plan files (for editors and CI checks)."""
    from ablens.analysis_plan import plan_json_schema  # noqa: PLC0415 - keeps --help fast

    echo(json_text(plan_json_schema()))


@app.command("serve")
def serve_command(
    plans: Annotated[
        list[Path] | None,
        typer.Argument(help="Analysis plans to offer on the readout page.", show_default=False),
    ] = None,
    host: Annotated[
        str, typer.Option(help="Address to bind; 127.0.0.1 keeps it on this machine.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    max_upload_mb: Annotated[
        int, typer.Option("--max-upload-mb", min=1, help="Largest upload, in MB.")
    ] = 50,
    demo: Annotated[
        bool,
        typer.Option(
            "--demo",
            help="Also offer the demo experiment's plan (simulated into a temporary folder, "
            "removed on exit): a readout with nothing to upload.",
        ),
    ] = False,
    time_limit: Annotated[
        float,
        typer.Option(
            min=0.1,
            help="Seconds a calculator plan may compute before it is stopped with a message.",
        ),
    ] = 30.0,
    readout_time_limit: Annotated[
        float,
        typer.Option(
            min=0.1,
            help="Seconds a readout (analysis and report) may compute before it is stopped.",
        ),
    ] = 300.0,
    compute_workers: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Calculations that may run at once, each in its own process "
            "[default: 2, or one per CPU core].",
            show_default=False,
        ),
    ] = None,
    body_timeout: Annotated[
        float,
        typer.Option(
            min=0.1, help="Seconds to wait for the next part of an upload before giving up (408)."
        ),
    ] = 30.0,
) -> None:
    """Serve the web page (power calculator and readout) until interrupted."""
    with usage_errors():
        from ablens.web import serve  # noqa: PLC0415 - needs the web extra
        from ablens.web.app import TimeLimits  # noqa: PLC0415

        serve(
            plans=plans or (),
            host=host,
            port=port,
            max_upload_bytes=max_upload_mb * 1024 * 1024,
            demo=demo,
            time_limits=TimeLimits(calculator=time_limit, readout=readout_time_limit),
            compute_workers=compute_workers,
            body_timeout=body_timeout,
        )


@app.command("power")
def power_command(
    baseline_rate: Annotated[
        float | None, typer.Option(help="Control conversion rate, e.g. 0.05 (a proportion).")
    ] = None,
    mean: Annotated[float | None, typer.Option(help="Control mean (with --sd).")] = None,
    sd: Annotated[float | None, typer.Option(help="Per-unit standard deviation.")] = None,
    mde: Annotated[
        float | None,
        typer.Option(help="Minimum detectable effect (0.05 = +5% with --mde-type relative)."),
    ] = None,
    mde_type: Annotated[str, typer.Option(help="'relative' or 'absolute'.")] = "relative",
    alpha: Annotated[float, typer.Option(help="Significance level.")] = 0.05,
    power: Annotated[float, typer.Option(help="Power to reach.")] = 0.8,
    alternative: Annotated[
        str, typer.Option(help="'two-sided', 'greater' or 'less'.")
    ] = "two-sided",
    arms: Annotated[int, typer.Option(min=2, help="Number of arms, control included.")] = 2,
    correction: Annotated[
        str,
        typer.Option(
            help="With 3+ arms: 'none' (each arm at --alpha), 'bonferroni' or 'sidak' (alpha "
            "split over the treatment arms), as the web calculator's Correction field."
        ),
    ] = "none",
    daily_traffic: Annotated[
        float | None, typer.Option(help="Units entering the experiment per day.")
    ] = None,
    days: Annotated[
        int | None, typer.Option(help="Planned duration: without --mde, solve for the MDE.")
    ] = None,
    history: Annotated[
        Path | None,
        typer.Option(
            help="Plan from past data (parquet/CSV): needs --column and --date.",
            exists=True,
            dir_okay=False,
        ),
    ] = None,
    column: Annotated[str | None, typer.Option(help="With --history: the metric column.")] = None,
    date: Annotated[
        str | None,
        typer.Option(help="With --history: each unit's first day (a date or timestamp column)."),
    ] = None,
    integer_days: Annotated[
        bool,
        typer.Option(
            "--integer-days",
            help="With --history: --date is an integer column counting consecutive days.",
        ),
    ] = False,
    unit: Annotated[
        str | None,
        typer.Option(
            help="With --history: the unit id column; a unit's repeated rows count once "
            "(summed; --binary: converted on any row)."
        ),
    ] = None,
    variant: Annotated[
        str | None,
        typer.Option(help="With --history and --arm: the arm column of a past experiment."),
    ] = None,
    arm: Annotated[
        str | None,
        typer.Option(help="With --history and --variant: read this arm's units only."),
    ] = None,
    traffic_multiplier: Annotated[
        float,
        typer.Option(
            help="With --history: scale the history's units entering per day (2 when the arm "
            "read had half the traffic); the baseline and sd stay as read."
        ),
    ] = 1.0,
    covariate: Annotated[
        str | None, typer.Option(help="With --history: a pre-period covariate (CUPED).")
    ] = None,
    binary: Annotated[
        bool, typer.Option("--binary", help="With --history: the column is a 0/1 conversion.")
    ] = False,
    sequential: Annotated[
        str,
        typer.Option(
            help="'none' (read once at the end), or a design read at --looks looks that may "
            "stop early: 'group-sequential', 'msprt', 'confidence-sequence'."
        ),
    ] = "none",
    looks: Annotated[
        int, typer.Option(help="With --sequential: the planned looks (e.g. days, read daily).")
    ] = 5,
    spending: Annotated[
        str,
        typer.Option(
            help="With --sequential group-sequential: 'obrien-fleming', 'pocock', 'hsd', 'power'."
        ),
    ] = DEFAULT_SPENDING,
    tau: Annotated[
        float | None,
        typer.Option(
            help="With --sequential msprt: the mixing sd on the difference's scale "
            "[default: ablens' default tau at the maximum size]."
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON document.")] = False,
) -> None:
    """Sample size, duration and minimum detectable effect (the web calculator's inputs).

    With --sequential, the sizes are the maximum sizes of a design that may stop early.

    Exit code 0 on success, 2 on bad input.
    """
    from ablens.calculator import CORRECTION_CHOICES  # noqa: PLC0415 - keeps --help fast
    from ablens.metrics import Mean, Proportion  # noqa: PLC0415 - keeps --help fast
    from ablens.planning import power_plan, power_plan_from_history  # noqa: PLC0415

    with usage_errors():
        if correction not in CORRECTION_CHOICES:
            raise ConfigError(
                f"--correction {correction!r}: must be one of {', '.join(CORRECTION_CHOICES)}"
            )
        common: dict[str, Any] = {
            "mde": mde,
            "mde_type": mde_type,
            "alpha": alpha,
            "power": power,
            "alternative": alternative,
            "arms": arms,
            "correction": None if correction == "none" else correction,
            "days": days,
        }
        if sequential != "none":
            common |= {"sequential": sequential, "looks": looks, "spending": spending, "tau": tau}
        if history is not None:
            if column is None:
                raise ConfigError("--history needs --column (the metric column to plan)")
            covariates = (covariate,) if covariate else ()
            metric = (
                Proportion(column, covariates=covariates)
                if binary
                else Mean(column, covariates=covariates)
            )
            result = power_plan_from_history(
                str(history),
                metric=metric,
                date=date,
                integer_days=integer_days,
                unit=unit,
                variant=variant,
                arm=arm,
                traffic_multiplier=traffic_multiplier,
                **common,
            )
        else:
            result = power_plan(
                baseline_rate=baseline_rate,
                mean=mean,
                sd=sd,
                daily_traffic=daily_traffic,
                **common,
            )
        if as_json:
            echo(json.dumps(result.to_dict(), indent=2, default=str))
        else:
            echo(str(result))


@app.command("plan", hidden=True)
@functools.wraps(power_command)
def plan_command(*args: Any, **kwargs: Any) -> None:  # noqa: ANN401 - power_command's options
    """Deprecated name of `ablens power` (it read like the analysis plan's commands)."""
    echo(
        "ablens: `ablens plan` is deprecated and will be removed in ablens 0.3: use `ablens power`",
        err=True,
    )
    power_command(*args, **kwargs)


# ---------------------------------------------------------------------------- project commands
# Experiment projects (copier template + Metaflow flow); their code is in ablens.cli.project.
from ablens.cli.project import new_command, update_command  # noqa: E402 - registered here

app.command("new")(new_command)
app.command("update")(update_command)

# ---------------------------------------------------------------------------- catalog commands
# The metric catalog (validate, list, show, schema); its code is in ablens.cli.catalog.
from ablens.cli.catalog import catalog_app, schema_command  # noqa: E402 - registered here

app.add_typer(catalog_app, name="catalog")
app.command("catalog-schema")(schema_command)

# ---------------------------------------------------------------------------- registry commands
# The results registry (ablens[registry]); the work is in ablens.registry.
from ablens.cli.registry import registry_app, store_readout  # noqa: E402 - registered here

app.add_typer(registry_app)
