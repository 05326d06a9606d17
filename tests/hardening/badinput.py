"""The bad-input harness: one `Case` describes a kind of bad input once; `run_cell` runs it on
one face (the Python API on pandas, polars or DuckDB, the CLI, the web) under a time limit and
checks what every face owes the user: no traceback, a named error (`AblensError` on the API,
exit code 2 on the CLI, a message in the page on the web) whose text names the column or
argument, and an answer in bounded time.

The table of cases is ``CASES`` in ``test_bad_input_matrix.py``.
"""

from __future__ import annotations

import html
import json
import re
import subprocess
import sys
import tempfile
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal

import duckdb
import numpy as np
import pandas as pd
import polars as pl
import yaml
from typer.testing import CliRunner

import ablens
from ablens.analysis_plan import load_plan, plan_from_dict
from ablens.cli.app import app as cli_app
from ablens.errors import AblensError
from ablens.readout import run_readout
from helpers import within  # tests/ is on sys.path (see tests/conftest.py)

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # starlette asks for httpx2 over httpx; either works
    from fastapi.testclient import TestClient

from ablens.web import create_app

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

    from ablens.analysis_plan import AnalysisPlan

#: Every face a case can run on. A case runs on the faces that accept its kind of input
#: (`Case.faces`): data on the API engines, ``analyze``/``check`` and the web readout; a plan's
#: text on `load_plan`, ``analyze``/``check`` and a server offering the plan; calculator inputs
#: on `ablens.power_plan`, ``ablens power`` and the web calculator.
API_FACES = ("api-pandas", "api-polars", "api-duckdb")
DATA_FACES = (*API_FACES, "cli-analyze", "web-readout")
CHECKED_DATA_FACES = (*DATA_FACES, "cli-check")
PLAN_FACES = ("api-plan", "cli-analyze", "cli-check", "web-plan")
POWER_FACES = ("api-power", "cli-power", "web-calculator")
#: A data file given by path: `ablens.analyze` on the path, a plan's ``source.path`` run by
#: `run_readout` and by ``ablens analyze``, ``ablens analyze --data FILE`` and a web upload.
FILE_FACES = ("api-path", "api-readout", "cli-analyze", "cli-data", "web-readout")
#: Seconds one cell may take: generous for a loaded 2-core machine; a hang fails the cell.
CELL_SECONDS = 20.0

Rows = dict[str, list[Any]]


def units(n: int = 40, seed: int = 1) -> Rows:
    """A clean table: ``n`` units alternating control/treatment, a metric and a 0/1 column."""
    rng = np.random.default_rng(seed)
    return {
        "user_id": list(range(n)),
        "variant": ["control", "treatment"] * (n // 2),
        "revenue": [float(v) for v in rng.normal(10.0, 2.0, n)],
        "converted": [int(v) for v in rng.random(n) < 0.3],
    }


def with_columns(**columns: list[Any]) -> Callable[[], Rows]:
    """`units` with some columns replaced or added (a case's ``rows``)."""
    return lambda: units() | columns


@dataclass(frozen=True)
class Case:
    """One kind of bad input, written once for every face that takes it.

    Exactly one of ``rows``, ``plan_yaml`` and ``power`` says what the input is.

    Attributes:
        id: Short name, shown in the test id (``nan-in-metric[api-polars]``).
        expect: Texts the message must hold on every face: the column or argument it is about
            (and, where the wording is shared, the problem). Empty with ``outcome="ok"``.
        rows: The data, one row per unit (columns ``user_id``, ``variant`` and the metrics').
        metrics: The metrics, as a plan spells them; the first is the primary.
        options: More plan keys, which are also `ablens.analyze` arguments (``alpha``, ...).
        plan_yaml: A whole plan's text; ``{data}`` stands for a data file of `units` beside it.
        power: `ablens.power_plan` arguments (the CLI's flags and the calculator's fields are
            derived from them).
        faces: The faces to run on (default: all that take the kind of input).
        outcome: "error" (a named error) or "ok" (an answer: odd but valid input).
        upload_name: The uploaded file's name on the web (default ``data.parquet``).
        max_upload_bytes: The web server's upload limit for this case.
        time: A sequential reading over this time column (``sequential`` the method): the API
            cells call `ablens.analyze_looks`, the plan gets ``sequential:`` and ``time:``, the
            web form the reading and the time column.
        data_format: How ``rows`` are written for the CLI, the web and path faces: ``parquet``
            or ``csv``.
        file: A data file of raw bytes instead of ``rows``: its name and its content (on
            `FILE_FACES`, and ``cli-demo``: ``ablens demo --db FILE`` on it).
        locked_duckdb: The data sit in a DuckDB file that another process holds open for
            writing (``rows`` in table ``units``; plan ``source.duckdb.file``).
        says: Texts an ``ok`` answer must hold (a warning, a correction).
        web_expect: Texts the web's message must hold, when the web words it apart (default
            ``expect``).
        renamed: For an ``ok`` case, column name -> a plain name of the same length: the cell is
            run again on the data with the columns renamed, and both answers must be equal
            (with the names put back), so an odd name cannot change a number silently.
    """

    id: str
    expect: tuple[str, ...] = ()
    rows: Callable[[], Rows] | None = None
    metrics: tuple[dict[str, Any], ...] = ({"kind": "mean", "column": "revenue"},)
    options: dict[str, Any] = field(default_factory=dict)
    plan_yaml: str | None = None
    power: dict[str, Any] | None = None
    faces: tuple[str, ...] = ()
    outcome: Literal["error", "ok"] = "error"
    upload_name: str = "data.parquet"
    max_upload_bytes: int | None = None
    time: str | None = None
    sequential: str = "msprt"
    data_format: Literal["parquet", "csv"] = "parquet"
    file: tuple[str, Callable[[], bytes]] | None = None
    locked_duckdb: bool = False
    says: tuple[str, ...] = ()
    web_expect: tuple[str, ...] | None = None
    renamed: dict[str, str] = field(default_factory=dict)

    def all_faces(self) -> tuple[str, ...]:
        if self.faces:
            return self.faces
        if self.plan_yaml is not None:
            return PLAN_FACES
        if self.power is not None:
            return POWER_FACES
        if self.file is not None:
            return FILE_FACES
        if self.locked_duckdb:
            return ("api-readout", "cli-analyze")
        return DATA_FACES

    def with_plain_names(self) -> Case:
        """The case with its `renamed` columns given their plain names (in data and metrics)."""

        def rename(text: str) -> str:
            for odd, plain in self.renamed.items():
                text = text.replace(json.dumps(odd), json.dumps(plain))
            return text

        rows = self.rows
        assert rows is not None
        return replace(
            self,
            rows=lambda: {self.renamed.get(k, k): v for k, v in rows().items()},
            metrics=tuple(json.loads(rename(json.dumps(m))) for m in self.metrics),
            options=json.loads(rename(json.dumps(self.options))),
            renamed={},
        )


@dataclass
class Answer:
    """What one face answered: its message text, and whether it was a named error."""

    text: str
    named_error: bool
    traceback: bool = False
    detail: str = ""
    #: A wrong answer that is not a traceback (a file destroyed, numbers that changed).
    wrong: str = ""


# ------------------------------------------------------------------------------- inputs
def plan_spec(case: Case, source: dict[str, Any]) -> dict[str, Any]:
    metrics = [
        {"role": "primary" if index == 0 else "secondary", **metric}
        for index, metric in enumerate(case.metrics)
    ]
    reading = {} if case.time is None else {"sequential": case.sequential, "time": case.time}
    return {
        "experiment_id": "hardening",
        "source": source,
        "control": "control",
        "unit": "user_id",
        "arms": ["control", "treatment"],
        "metrics": metrics,
        **reading,
        **case.options,
    }


def write_data(case: Case, folder: Path) -> tuple[Path, dict[str, Any]]:
    """The case's data file in ``folder``, and the plan's ``source`` that reads it."""
    if case.file is not None:
        name, content = case.file
        data = folder / name
        data.write_bytes(content())
        return data, {"path": name}
    frame = pd.DataFrame(case.rows() if case.rows is not None else units())
    if case.locked_duckdb:
        data = folder / "data.duckdb"
        if data.exists():  # written once, before the writer locks it
            return data, {"duckdb": {"file": data.name, "table": "units"}}
        with duckdb.connect(str(data)) as connection:
            connection.register("frame", frame)
            connection.execute("CREATE TABLE units AS SELECT * FROM frame")
        return data, {"duckdb": {"file": data.name, "table": "units"}}
    if case.data_format == "csv":
        data = folder / "data.csv"
        frame.to_csv(data, index=False)
    else:
        data = folder / "data.parquet"
        frame.to_parquet(data)
    return data, {"path": data.name}


def write_inputs(case: Case, folder: Path) -> tuple[Path, Path]:
    """The case's data file and plan (YAML) in ``folder``."""
    data, source = write_data(case, folder)
    plan = folder / "plan.yaml"
    if case.plan_yaml is not None:
        plan.write_text(case.plan_yaml.replace("{data}", data.name), encoding="utf-8")
    else:
        text = yaml.safe_dump(plan_spec(case, source), allow_unicode=True)
        plan.write_text(text, encoding="utf-8")
    return data, plan


@contextmanager
def writer_holding(database: Path) -> Iterator[None]:
    """Another process holding ``database`` open for writing (DuckDB locks the file)."""
    code = (
        "import sys, time, duckdb\n"
        "connection = duckdb.connect(sys.argv[1])\n"
        "print('ready', flush=True)\n"
        "time.sleep(120)\n"
    )
    writer = subprocess.Popen(  # noqa: S603 - this interpreter, a fixed script
        [sys.executable, "-c", code, str(database)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert writer.stdout is not None
        assert writer.stdout.readline().strip() == "ready"
        yield
    finally:
        writer.kill()
        writer.wait()
        if writer.stdout is not None:
            writer.stdout.close()


def result_text(result: Any) -> str:
    return json.dumps(result.to_dict(), sort_keys=True, default=str)


def _api_answer(call: Callable[[], Any]) -> Answer:
    """Run an API call: a named error, a traceback, or the answer with its warnings."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            result = call()
        except AblensError as error:
            return Answer(str(error), named_error=True)
        except Exception as error:
            return Answer(f"{type(error).__name__}: {error}", named_error=False, traceback=True)
    said = [str(w.message) for w in caught]
    return Answer("\n".join([*said, result_text(result)]), named_error=False)


# ------------------------------------------------------------------------------- faces
def run_api(case: Case, engine: str, folder: Path) -> Answer:
    assert case.rows is not None
    rows = case.rows()
    plan = _valid_plan(case)
    data: object
    if engine == "pandas":
        data = pd.DataFrame(rows)
    elif engine == "polars":
        data = pl.DataFrame(rows, strict=False)
    else:
        connection = duckdb.connect()
        connection.register("frame", pd.DataFrame(rows))
        connection.execute("CREATE TABLE units AS SELECT * FROM frame")
        data = (connection, "units")
    arguments: dict[str, Any] = {"control": "control", "unit": "user_id", **case.options}
    if case.time is not None:
        arguments.pop("arms", None)
        return _api_answer(
            lambda: ablens.analyze_looks(
                data,
                plan.metric_objects()[0],
                time=case.time,
                method=case.sequential,
                **arguments,
            )
        )
    arguments.setdefault("arms", ("control", "treatment"))
    return _api_answer(lambda: ablens.analyze(data, plan.metric_objects(), **arguments))


def run_api_path(case: Case, folder: Path) -> Answer:
    """`ablens.analyze` on the data file's path."""
    data, _ = write_data(case, folder)
    metrics = _valid_plan(case).metric_objects()
    return _api_answer(
        lambda: ablens.analyze(
            str(data), metrics, control="control", unit="user_id", arms=("control", "treatment")
        )
    )


def run_api_readout(case: Case, folder: Path) -> Answer:
    """`run_readout` on the plan (its source the data file or DuckDB database)."""
    _, plan = write_inputs(case, folder)
    return _api_answer(lambda: run_readout(load_plan(plan)))


def run_cli_data(case: Case, folder: Path) -> Answer:
    """``ablens analyze plan.yaml --data FILE``: a clean plan, the case's file given instead."""
    data, _ = write_data(case, folder)
    clean = folder / "clean.parquet"
    pd.DataFrame(units()).to_parquet(clean)
    plan = folder / "clean-plan.yaml"
    plan.write_text(yaml.safe_dump(plan_spec(case, {"path": clean.name})), encoding="utf-8")
    return run_cli(["analyze", str(plan), "--data", str(data)])


def run_cli_demo(case: Case, folder: Path) -> Answer:
    """``ablens demo --db FILE`` on a file the demo did not make: the file must survive."""
    data, _ = write_data(case, folder)
    before = data.read_bytes()
    answer = run_cli(["demo", "--db", str(data), "--users", "1000"])
    if not data.exists() or data.read_bytes() != before:
        answer.wrong = f"{data.name} was replaced or removed"
    return answer


def _valid_plan(case: Case) -> AnalysisPlan:
    """The case's metrics as objects (the options go to `ablens.analyze` itself)."""
    spec = plan_spec(case, {"path": "unused.parquet"})
    for key in case.options:
        spec.pop(key)
    spec.update(control="control", arms=["control", "treatment"])
    spec.pop("sequential", None)
    spec.pop("time", None)
    return plan_from_dict(spec)


def run_api_plan(case: Case, folder: Path) -> Answer:
    _, plan = write_inputs(case, folder)
    try:
        load_plan(plan)
    except AblensError as error:
        return Answer(str(error), named_error=True)
    except Exception as error:
        return Answer(f"{type(error).__name__}: {error}", named_error=False, traceback=True)
    return Answer("", named_error=False)


def run_api_power(case: Case) -> Answer:
    assert case.power is not None
    power = case.power
    answer = _api_answer(lambda: ablens.power_plan(**power))
    if not answer.named_error and not answer.traceback:
        # PowerPlan's own warnings are part of what the user reads.
        answer.text += "\n" + "\n".join(ablens.power_plan(**power).warnings)
    return answer


def run_cli(arguments: list[str]) -> Answer:
    outcome = CliRunner().invoke(cli_app, arguments)
    text = outcome.stdout + outcome.stderr
    crashed = outcome.exception is not None and not isinstance(outcome.exception, SystemExit)
    # Labels come from data: a raw control character in the output could drive the terminal.
    controls = [c for c in text if (ord(c) < 32 and c not in "\n\t") or 0x7F <= ord(c) <= 0x9F]
    return Answer(
        text,
        named_error=outcome.exit_code == 2,
        traceback=crashed or "Traceback" in text or bool(controls),
        detail=f"exit {outcome.exit_code}; exception {outcome.exception!r}; controls {controls}",
    )


def power_arguments(power: dict[str, Any]) -> list[str]:
    """``ablens power``'s flags for `ablens.power_plan` arguments."""
    arguments = ["power"]
    for key, value in power.items():
        arguments += [f"--{key.replace('_', '-')}", str(value)]
    return arguments


#: The calculator's field for each `ablens.power_plan` argument.
CALCULATOR_FIELDS = {
    "baseline_rate": "baseline",
    "mde": "mde",
    "alpha": "alpha",
    "power": "power",
    "arms": "arms",
    "daily_traffic": "traffic",
    "days": "days",
    "sequential": "sequential",
    "looks": "looks",
}


def page_text(page: str) -> str:
    """The words of an HTML page (tags dropped, entities decoded)."""
    return html.unescape(re.sub(r"<[^>]+>", " ", page))


def alert(page: str) -> str:
    found = re.search(r'role="alert"[^>]*>(.*?)</(?:p|div)>', page, re.DOTALL)
    return "" if found is None else page_text(found.group(1))


def web_answer(response: Any, *, error_status: bool) -> Answer:
    text = response.text
    return Answer(
        alert(text) or page_text(text),
        named_error=bool(alert(text)) and (response.status_code >= 400 or not error_status),
        traceback=response.status_code >= 500 or "Traceback" in text,
        detail=f"status {response.status_code}",
    )


def run_web_readout(case: Case, folder: Path, client: TestClient) -> Answer:
    data, _ = write_data(case, folder)
    if case.max_upload_bytes is not None:
        client = TestClient(create_app(max_upload_bytes=case.max_upload_bytes))
    columns = ",".join(m["column"] for m in case.metrics)
    fields = {"variant": "variant", "control": "control", "unit": "user_id", "metrics": columns}
    if case.time is not None:
        fields |= {"sequential": case.sequential, "time": case.time}
    name = case.upload_name
    if case.file is not None or case.data_format != "parquet":
        name = data.name
    with data.open("rb") as handle:
        response = client.post(
            "/readout",
            files={"file": (name, handle, "application/octet-stream")},
            data=fields,
        )
    answer = web_answer(response, error_status=True)
    if tempfile.gettempdir() + "/" in response.text:
        answer.wrong = "the page shows a server path"
    report = re.search(r'src="(/readout/report/[^"?]+)"', response.text)
    if report is not None and not answer.named_error:
        # The readout itself is the report the page frames: that is what the user reads.
        answer.text = page_text(client.get(report.group(1)).text)
    return answer


def run_web_plan(case: Case, folder: Path) -> Answer:
    _, plan = write_inputs(case, folder)
    client = TestClient(create_app(plans=[plan]))
    page = client.get("/readout")
    if page.status_code >= 500 or "Traceback" in page.text:
        return Answer(
            page.text, named_error=False, traceback=True, detail=f"GET {page.status_code}"
        )
    response = client.post(
        "/readout", data={"plan": "0", "variant": "variant", "control": "control"}
    )
    answer = web_answer(response, error_status=True)
    # The page offering the plan says what is wrong with it too.
    answer.text += "\n" + page_text(page.text)
    return answer


def run_web_calculator(case: Case, client: TestClient) -> Answer:
    assert case.power is not None
    fields = {CALCULATOR_FIELDS[key]: str(value) for key, value in case.power.items()}
    response = client.post("/calculator/result", data=fields)
    return web_answer(response, error_status=False)


def run_cell(case: Case, face: str, folder: Path, client: TestClient) -> Answer:
    """Run ``case`` on ``face`` under `CELL_SECONDS` (a hang fails the test)."""

    def call() -> Answer:
        if case.locked_duckdb:
            database, _ = write_data(case, folder)
            with writer_holding(database):
                return dispatch()
        return dispatch()

    def dispatch() -> Answer:
        if face in API_FACES:
            return run_api(case, face.removeprefix("api-"), folder)
        if face == "api-path":
            return run_api_path(case, folder)
        if face == "api-readout":
            return run_api_readout(case, folder)
        if face == "cli-data":
            return run_cli_data(case, folder)
        if face == "cli-demo":
            return run_cli_demo(case, folder)
        if face == "api-plan":
            return run_api_plan(case, folder)
        if face == "api-power":
            return run_api_power(case)
        if face in ("cli-analyze", "cli-check"):
            _, plan = write_inputs(case, folder)
            return run_cli([face.removeprefix("cli-"), str(plan)])
        if face == "cli-power":
            assert case.power is not None
            return run_cli(power_arguments(case.power))
        if face == "web-readout":
            return run_web_readout(case, folder, client)
        if face == "web-plan":
            return run_web_plan(case, folder)
        if face == "web-calculator":
            return run_web_calculator(case, client)
        raise AssertionError(f"unknown face {face!r}")

    return within(CELL_SECONDS, call, f"{case.id} on {face}")
