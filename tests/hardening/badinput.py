"""The bad-input harness: one `Case` describes a kind of bad input once; `run_cell` runs it on
one face (the Python API on pandas, polars or DuckDB, the CLI, the web) under a time limit and
checks what every face owes the user: no traceback, a named error (`AblensError` on the API,
exit code 2 on the CLI, a message in the page on the web) whose text names the column or
argument, and an answer in bounded time.

The table of cases is ``CASES`` in ``test_bad_input_matrix.py``.
"""

from __future__ import annotations

import html
import re
import warnings
from dataclasses import dataclass, field
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
from helpers import within  # tests/ is on sys.path (see tests/conftest.py)

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # starlette asks for httpx2 over httpx; either works
    from fastapi.testclient import TestClient

from ablens.web import create_app

if TYPE_CHECKING:
    from collections.abc import Callable
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

    def all_faces(self) -> tuple[str, ...]:
        if self.faces:
            return self.faces
        if self.plan_yaml is not None:
            return PLAN_FACES
        if self.power is not None:
            return POWER_FACES
        return DATA_FACES


@dataclass
class Answer:
    """What one face answered: its message text, and whether it was a named error."""

    text: str
    named_error: bool
    traceback: bool = False
    detail: str = ""


# ------------------------------------------------------------------------------- inputs
def plan_spec(case: Case, source: dict[str, Any]) -> dict[str, Any]:
    metrics = [
        {"role": "primary" if index == 0 else "secondary", **metric}
        for index, metric in enumerate(case.metrics)
    ]
    return {
        "experiment_id": "hardening",
        "source": source,
        "control": "control",
        "unit": "user_id",
        "arms": ["control", "treatment"],
        "metrics": metrics,
        **case.options,
    }


def write_inputs(case: Case, folder: Path) -> tuple[Path, Path]:
    """The case's data (parquet) and plan (YAML) files in ``folder``."""
    data = folder / "data.parquet"
    rows = case.rows() if case.rows is not None else units()
    pd.DataFrame(rows).to_parquet(data)
    plan = folder / "plan.yaml"
    if case.plan_yaml is not None:
        plan.write_text(case.plan_yaml.replace("{data}", data.name), encoding="utf-8")
    else:
        text = yaml.safe_dump(plan_spec(case, {"path": data.name}), allow_unicode=True)
        plan.write_text(text, encoding="utf-8")
    return data, plan


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
    try:
        ablens.analyze(
            data,
            plan.metric_objects(),
            control="control",
            unit="user_id",
            arms=("control", "treatment"),
            **case.options,
        )
    except AblensError as error:
        return Answer(str(error), named_error=True)
    except Exception as error:
        return Answer(f"{type(error).__name__}: {error}", named_error=False, traceback=True)
    return Answer("", named_error=False)


def _valid_plan(case: Case) -> AnalysisPlan:
    """The case's metrics as objects (the options go to `ablens.analyze` itself)."""
    spec = plan_spec(case, {"path": "unused.parquet"})
    for key in case.options:
        spec.pop(key)
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
    try:
        ablens.power_plan(**case.power)
    except AblensError as error:
        return Answer(str(error), named_error=True)
    except Exception as error:
        return Answer(f"{type(error).__name__}: {error}", named_error=False, traceback=True)
    return Answer("", named_error=False)


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
    data, _ = write_inputs(case, folder)
    if case.max_upload_bytes is not None:
        client = TestClient(create_app(max_upload_bytes=case.max_upload_bytes))
    columns = ",".join(m["column"] for m in case.metrics)
    with data.open("rb") as handle:
        response = client.post(
            "/readout",
            files={"file": (case.upload_name, handle, "application/octet-stream")},
            data={
                "variant": "variant",
                "control": "control",
                "unit": "user_id",
                "metrics": columns,
            },
        )
    return web_answer(response, error_status=True)


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
        if face.startswith("api-") and face not in {"api-plan", "api-power"}:
            return run_api(case, face.removeprefix("api-"), folder)
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
