"""The bad-input matrix (issue 20): every kind of bad input on every face that accepts it.

Each cell runs one `Case` on one face under a time limit and asserts no traceback (CLI stderr,
web page), no hang, a named error (`AblensError`, exit code 2, a message in the page) naming the
column or argument, or, for odd but valid input (``outcome="ok"``), an answer. The harness is in
``badinput.py`` beside this file.

How to add a case: append one `Case` to ``CASES`` below. Give it an ``id``, the texts its message
must hold on every face (``expect``: the column or argument, e.g. ``("revenue",)``) and its input:
``rows`` (data: `units` with columns replaced, `with_columns(revenue=[...])`, plus ``metrics`` and
``options``), ``plan_yaml`` (a plan's text; ``{data}`` is a clean data file beside it) or
``power`` (`ablens.power_plan` arguments). It then runs on every face that takes that input; set
``faces`` to narrow it (e.g. a table polars cannot hold, a form field the web does not have).
"""

from __future__ import annotations

import math

import pytest
from badinput import (
    API_FACES,
    CHECKED_DATA_FACES,
    DATA_FACES,
    PLAN_FACES,
    POWER_FACES,
    Case,
    TestClient,
    create_app,
    run_cell,
    units,
    with_columns,
)

N = 40  # units in `units()`
PLAN = """experiment_id: hardening
source: {path: {data}}
control: control
unit: user_id
arms: [control, treatment]
metrics: [{kind: mean, column: revenue, role: primary}]
"""
HOSTILE_NAME = '"; DROP TABLE units; --'
UNICODE_NAME = "收入 💰 € ñ"
ESCAPING_NAME = "rev\r\x1b[2Jenue\x9b"  # a carriage return, clear-screen, a C1 escape


def only_control() -> dict[str, list[object]]:
    rows = units()
    keep = [i for i, arm in enumerate(rows["variant"]) if arm == "control"]
    return {column: [values[i] for i in keep] for column, values in rows.items()}


def one_treated_unit() -> dict[str, list[object]]:
    rows = units()
    keep = [i for i, arm in enumerate(rows["variant"]) if arm == "control" or i == 1]
    return {column: [values[i] for i in keep] for column, values in rows.items()}


def billion_laughs() -> str:
    lines = [
        PLAN.rstrip("\n"),
        'description: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]',
    ]
    lines += [f"x{i}: &a{i} [{','.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 9)]
    return "\n".join(lines) + "\n"


CASES: list[Case] = [
    # --- data: each runs on the API (pandas, polars, DuckDB), `ablens analyze`, the web readout
    # (and `ablens check` when the data checks find it) ---------------------------------------
    Case(
        "nan-in-metric",
        ("revenue",),
        rows=with_columns(revenue=[math.nan, *units()["revenue"][1:]]),
        faces=CHECKED_DATA_FACES,
    ),
    Case(
        "inf-in-metric",
        ("revenue",),
        rows=with_columns(revenue=[math.inf, *units()["revenue"][1:]]),
    ),
    Case("empty-arm", ("treatment",), rows=only_control, faces=CHECKED_DATA_FACES),
    Case("single-unit-arm", ("revenue", "treatment"), rows=one_treated_unit),
    Case(
        "zero-variance",
        ("revenue", "for every unit", "nothing to compare"),
        rows=with_columns(revenue=[5.0] * N),
    ),
    Case(
        "constant-within-each-arm",
        ("revenue", "constant within each arm"),
        rows=with_columns(revenue=[5.0, 6.0] * (N // 2)),
    ),
    Case(
        "duplicate-units",
        ("user_id",),
        rows=with_columns(user_id=[0, 1, 0, *range(3, N)]),
        faces=CHECKED_DATA_FACES,
    ),
    Case(
        "unit-in-two-arms",
        ("user_id", "more than one arm"),
        rows=with_columns(user_id=[0, 0, *range(2, N)]),
        faces=CHECKED_DATA_FACES,
    ),
    Case(
        "missing-hostile-column",
        (HOSTILE_NAME,),
        metrics=({"kind": "mean", "column": HOSTILE_NAME},),
        rows=units,
    ),
    Case(
        "hostile-column-name-works",
        rows=lambda: units() | {HOSTILE_NAME: units()["revenue"]},
        metrics=({"kind": "mean", "column": HOSTILE_NAME},),
        outcome="ok",
    ),
    Case(
        "unicode-column-name-works",
        rows=lambda: units() | {UNICODE_NAME: units()["revenue"]},
        metrics=({"kind": "mean", "column": UNICODE_NAME},),
        outcome="ok",
    ),
    Case(
        # Works everywhere; the CLI cells also fail on any raw control character in their output.
        "escape-sequences-in-a-column-name",
        rows=lambda: units() | {ESCAPING_NAME: units()["revenue"]},
        metrics=({"kind": "mean", "column": ESCAPING_NAME},),
        outcome="ok",
    ),
    Case(
        "alpha-out-of-range",
        ("alpha", "1.5"),
        rows=units,
        options={"alpha": 1.5},
        faces=(*API_FACES, "cli-analyze", "cli-check"),  # the web form has no alpha field
    ),
    # --- uploads (the web only) --------------------------------------------------------------
    Case(
        "oversized-upload",
        ("upload limit",),
        rows=units,
        max_upload_bytes=1_024,
        faces=("web-readout",),
    ),
    Case(
        "upload-of-the-wrong-type",
        ("data.exe",),
        rows=units,
        upload_name="data.exe",
        faces=("web-readout",),
    ),
    Case(
        "path-traversal-in-upload-name",
        rows=units,
        upload_name="../../../../tmp/evil.parquet",
        faces=("web-readout",),
        outcome="ok",
    ),
    # --- plans: `load_plan`, `ablens analyze` and `check`, a server offering the plan ----------
    Case(
        "yaml-python-tag",
        ("plan.yaml:1", "python/object/apply"),
        plan_yaml='experiment_id: !!python/object/apply:os.system ["echo hi"]\n'
        + PLAN.split("\n", 1)[1],
    ),
    Case(
        "path-traversal-in-source-path",
        ("source.path", "../../../../etc/passwd"),
        plan_yaml=PLAN.replace("{path: {data}}", "{path: ../../../../etc/passwd}"),
    ),
    Case("billion-laughs", ("plan.yaml:12", "YAML aliases", "100,000"), plan_yaml=billion_laughs()),
    Case("recursive-anchor", ("plan.yaml:7", "*r", "&r"), plan_yaml=PLAN + "extra: &r [*r]\n"),
    Case(
        "deeply-nested-plan",
        ("plan.yaml:7", "more than 50 levels"),
        plan_yaml=PLAN + "extra: " + "[" * 20_000 + "]" * 20_000 + "\n",
    ),
    # --- calculator inputs: `ablens.power_plan`, `ablens power`, the web calculator ------------
    Case("alpha-above-one", ("alpha",), power={"baseline_rate": 0.1, "mde": 0.05, "alpha": 1.5}),
    Case("power-above-one", ("power",), power={"baseline_rate": 0.1, "mde": 0.05, "power": 1.5}),
    Case("baseline-rate-above-one", ("baseline",), power={"baseline_rate": 1.5, "mde": 0.05}),
    Case("a-single-arm", ("arms",), power={"baseline_rate": 0.1, "mde": 0.05, "arms": 1}),
    # 100,000 looks hung every face (issue 20): refused at once, naming looks and the limit
    *(
        Case(
            f"100000-looks-{method}",
            ("looks", "100,000", "at most 1,000 looks"),
            power={"baseline_rate": 0.1, "mde": 0.05, "sequential": method, "looks": 100_000},
        )
        for method in ("group-sequential", "msprt", "confidence-sequence")
    ),
    # An absurd MDE is valid input: an answer, with warnings (`PowerPlan.warnings`)
    Case(
        "an-mde-of-1e-9",
        (),
        power={"baseline_rate": 0.1, "mde": 1e-9, "daily_traffic": 10_000},
        outcome="ok",
    ),
    Case(
        "a-negative-relative-mde",
        (),
        power={"baseline_rate": 0.1, "mde": -0.05, "daily_traffic": 10_000},
        outcome="ok",
    ),
]

CELLS = [
    pytest.param(case, face, id=f"{case.id}[{face}]") for case in CASES for face in case.all_faces()
]


@pytest.fixture(scope="module")
def web_client() -> TestClient:
    return TestClient(create_app())


@pytest.mark.parametrize(("case", "face"), CELLS)
def test_bad_input(case: Case, face: str, tmp_path, web_client) -> None:
    answer = run_cell(case, face, tmp_path, web_client)
    assert not answer.traceback, f"{face} crashed ({answer.detail}):\n{answer.text}"
    if case.outcome == "ok":
        assert not answer.named_error, (
            f"{face} refused valid input ({answer.detail}): {answer.text}"
        )
        if face.startswith("web-"):
            assert answer.detail == "status 200", answer.text
        return
    assert answer.named_error, f"{face} gave no named error ({answer.detail}):\n{answer.text}"
    missing = [text for text in case.expect if text.casefold() not in answer.text.casefold()]
    assert not missing, f"{face}: the message does not name {missing}:\n{answer.text}"


def test_cases_are_well_formed() -> None:
    ids = [case.id for case in CASES]
    assert len(ids) == len(set(ids)), "case ids repeat"
    faces = set(DATA_FACES + CHECKED_DATA_FACES + PLAN_FACES + POWER_FACES)
    for case in CASES:
        inputs = [case.rows is not None, case.plan_yaml is not None, case.power is not None]
        assert sum(inputs) == 1, f"{case.id}: give exactly one of rows, plan_yaml, power"
        assert set(case.all_faces()) <= faces, case.id
        assert (case.outcome == "ok") == (not case.expect), f"{case.id}: expect what it names"
