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

import gzip
import io
import json
import math
import re
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pytest
from badinput import (
    API_FACES,
    CHECKED_DATA_FACES,
    DATA_FACES,
    FILE_FACES,
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


PNG = b"\x89PNG\r\n\x1a\n" + bytes(64)


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


WIDE = 5_000  # columns; the 10^5-column tests are in tests/data/test_wide_tables.py
#: Names ablens' internal columns take (`ablens.data._source.InternalNames`), as the user's.
INTERNAL = {"__n": "Q_n", "__arm": "Q_arm", "__x": "Q_x"}
ARMS5 = ["control", "a", "b", "c", "d"]
ESCAPING_ARM = "treat\x1b]0;pwned\x07ment\x1b[2J"  # retitles the window, clears the screen


def wide(columns: int = WIDE) -> dict[str, list[object]]:
    """`units` and 5,000 more columns: one metric named among them."""
    return units() | {f"c{i}": [float(i)] * N for i in range(columns)}


def with_days(days: list[object], n: int = N) -> dict[str, list[object]]:
    """`units` of ``n`` and a time column ``day`` (a sequential reading's looks)."""
    return units(n) | {"day": days}


def no_rows() -> dict[str, Any]:
    """`units`' columns, typed as there (int, text, float, int), without a row."""
    return {column: np.array(values[:0]) for column, values in units().items()}


def csv_bytes() -> bytes:
    return pd.DataFrame(units()).to_csv(index=False).encode()


def parquet_bytes() -> bytes:
    buffer = io.BytesIO()
    pd.DataFrame(units()).to_parquet(buffer)
    return buffer.getvalue()


def zipped_csv() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("data.csv", csv_bytes())
    return buffer.getvalue()


def latin1_csv() -> bytes:
    rows = units() | {"variant": ["contrôle", "traitement é"] * (N // 2)}
    return pd.DataFrame(rows).to_csv(index=False).encode("latin-1")


def a_users_database() -> bytes:
    """A DuckDB database someone else made (not the demo's)."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "shop.duckdb"
        with duckdb.connect(str(path)) as connection:
            connection.execute("CREATE TABLE orders AS SELECT range AS id FROM range(10)")
        return path.read_bytes()


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
    # --- issue 20, item 2: a wide table, one metric named (in memory, parquet, CSV) ----------
    Case(
        "5000-columns-one-metric-named", rows=wide, faces=(*API_FACES, "cli-analyze"), outcome="ok"
    ),
    Case(
        # DuckDB sniffs a CSV again for every query: 5,000 columns take ~20 s (see KNOWN_SLOW)
        "1000-columns-csv-one-metric-named",
        rows=lambda: wide(1_000),
        data_format="csv",
        faces=("api-path", "api-readout", "cli-analyze"),
        outcome="ok",
    ),
    Case(
        "5000-columns-metric-missing",
        ("revenu", "5,00"),
        rows=wide,
        metrics=({"kind": "mean", "column": "revenu"},),
        faces=(*API_FACES, "cli-analyze"),
    ),
    # --- item 6: the user's columns named like ablens' internal ones work, with equal numbers
    Case(
        "metrics-named-like-internal-columns",
        rows=lambda: units() | {"__n": units()["revenue"], "__x": units()["converted"]},
        metrics=({"kind": "mean", "column": "__n"}, {"kind": "proportion", "column": "__x"}),
        renamed=INTERNAL,
        outcome="ok",
    ),
    Case(
        "segment-named-like-an-internal-column",
        rows=lambda: units() | {"__arm": ["ios", "ios", "web", "web"] * (N // 4)},
        options={"segments": ["__arm"]},
        renamed=INTERNAL,
        faces=(*API_FACES, "cli-analyze"),  # the web form has no segments
        outcome="ok",
    ),
    # --- items 5, 8, 15: the time column of a sequential reading -------------------------------
    Case(
        "null-in-the-time-column",
        ("day", "NULL"),
        rows=lambda: with_days([None, *[i % 14 + 1 for i in range(1, N)]]),
        time="day",
    ),
    Case(
        "time-as-text-day-1-to-14",
        ("day", "text"),
        rows=lambda: with_days([f"day {i % 14 + 1}" for i in range(N)]),
        time="day",
    ),
    Case(
        "time-as-iso-text-with-mixed-offsets",
        ("day", "text"),
        rows=lambda: with_days(
            [
                f"2026-03-{i % 14 + 1:02d}T23:30:00{'+05:00' if i % 3 else '-08:00'}"
                for i in range(N)
            ]
        ),
        time="day",
    ),
    Case(
        "more-than-366-time-values",
        ("day", "366"),
        rows=lambda: with_days(list(range(400)), n=400),
        time="day",
    ),
    # --- item 9: an arm column mixing 1 and "1" (only pandas holds such a column) -------------
    Case(
        "arm-column-mixing-1-and-text-1",
        ("variant", "mixes kinds"),
        rows=with_columns(variant=["control", 1, "control", "1"] * (N // 4)),
        options={"arms": ("control", "1")},
        faces=("api-pandas",),
    ),
    # --- item 10: a NULL arm with unit=: the same warning and numbers on every engine ----------
    Case(
        "null-arm-with-a-unit-column",
        rows=with_columns(variant=[None, *units()["variant"][1:]]),
        says=("1 row", "NULL"),
        faces=API_FACES,
        outcome="ok",
    ),
    # --- item 11: many arms are corrected for, on every face -----------------------------------
    Case(
        "five-arms-are-corrected",
        rows=with_columns(variant=ARMS5 * (N // 5)),
        options={"arms": ARMS5},
        says=("holm",),
        outcome="ok",
    ),
    # --- item 14: terminal escapes in an arm label (the CLI cells refuse raw control codes) ----
    Case(
        "escape-sequences-in-an-arm-label",
        rows=with_columns(variant=["control", ESCAPING_ARM] * (N // 2)),
        options={"arms": ["control", ESCAPING_ARM]},
        outcome="ok",
    ),
    # --- item 15: messages in the user's terms -------------------------------------------------
    Case(
        "values-near-1e300",
        ("revenue", "too large"),
        rows=with_columns(revenue=[1e300 * (1 + i / N) for i in range(N)]),
    ),
    Case("an-empty-table", ("no rows",), rows=no_rows),
    # --- item 7: files that are not what their name says, a database locked by a writer -------
    # The web refuses binary uploads itself, in fewer words (src/ablens/web/readout.py).
    Case(
        "png-named-csv",
        ("data.csv", "PNG"),
        file=("data.csv", lambda: PNG),
        web_expect=("data.csv", "binary"),
    ),
    Case("zip-named-csv", ("data.csv", "zip"), file=("data.csv", zipped_csv)),
    Case(
        "gzip-named-csv",
        ("data.csv", "gzip"),
        file=("data.csv", lambda: gzip.compress(csv_bytes())),
        web_expect=("data.csv", "binary"),
    ),
    Case("latin-1-csv", ("data.csv", "UTF-8"), file=("data.csv", latin1_csv)),
    Case("empty-csv", ("data.csv", "empty"), file=("data.csv", lambda: b"")),
    Case(
        "truncated-parquet",
        ("data.parquet", "truncated"),
        file=("data.parquet", lambda: parquet_bytes()[: len(parquet_bytes()) // 2]),
    ),
    Case(
        "parquet-with-a-bad-footer",
        ("data.parquet", "footer"),
        file=("data.parquet", lambda: parquet_bytes()[:-4] + b"XXXX"),
    ),
    Case("csv-named-parquet", ("data.parquet", "not a parquet"), file=("data.parquet", csv_bytes)),
    Case("duckdb-locked-by-a-writer", ("data.duckdb", "locked"), rows=units, locked_duckdb=True),
    # --- item 13: `ablens demo --db` on a file the demo did not make ---------------------------
    Case(
        "demo-over-a-users-database",
        ("shop.duckdb", "--overwrite"),
        file=("shop.duckdb", a_users_database),
        faces=("cli-demo",),
    ),
    Case(
        "demo-over-a-text-file",
        ("notes.txt", "--overwrite"),
        file=("notes.txt", lambda: b"my notes\n"),
        faces=("cli-demo",),
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
        says=("more than almost any product has users", "test a larger MDE"),
        outcome="ok",
    ),
    Case(
        "a-negative-relative-mde",
        (),
        power={"baseline_rate": 0.1, "mde": -0.05, "daily_traffic": 10_000},
        outcome="ok",
    ),
]

#: Cells that fail on a known bug outside this suite's reach, each with its reason: strict, so
#: the cell must pass (and leave this table) once the bug is fixed.
KNOWN_BUGS: dict[tuple[str, str], str] = {}

CELLS = [
    pytest.param(
        case,
        face,
        id=f"{case.id}[{face}]",
        marks=[pytest.mark.xfail(strict=True, reason=KNOWN_BUGS[case.id, face])]
        if (case.id, face) in KNOWN_BUGS
        else [],
    )
    for case in CASES
    for face in case.all_faces()
]


@pytest.fixture(scope="module")
def web_client() -> TestClient:
    return TestClient(create_app())


@pytest.mark.parametrize(("case", "face"), CELLS)
def test_bad_input(case: Case, face: str, tmp_path, web_client) -> None:
    (tmp_path / "plain").mkdir()
    answer = run_cell(case, face, tmp_path, web_client)
    assert not answer.traceback, f"{face} crashed ({answer.detail}):\n{answer.text}"
    assert not answer.wrong, f"{face}: {answer.wrong} ({answer.detail}):\n{answer.text}"
    if case.outcome == "ok":
        assert not answer.named_error, (
            f"{face} refused valid input ({answer.detail}): {answer.text}"
        )
        if face.startswith("web-"):
            assert answer.detail == "status 200", answer.text
        missing = [text for text in case.says if text.casefold() not in answer.text.casefold()]
        assert not missing, f"{face}: the answer does not say {missing}:\n{answer.text}"
        if case.renamed:
            plain = run_cell(case.with_plain_names(), face, tmp_path / "plain", web_client)
            expected = plain.text
            for odd, name in case.renamed.items():
                expected = expected.replace(name, odd)
            # The provenance line names the plan's path and the hashes, which differ by design.
            provenance = re.compile(r"^\s*Plan\b.*sha256.*$", re.MULTILINE)
            assert provenance.sub("", answer.text) == provenance.sub("", expected), (
                f"{face}: the numbers changed with the names"
            )
        return
    assert answer.named_error, f"{face} gave no named error ({answer.detail}):\n{answer.text}"
    expect = case.expect
    if face.startswith("web-") and case.web_expect is not None:
        expect = case.web_expect
    missing = [text for text in expect if text.casefold() not in answer.text.casefold()]
    assert not missing, f"{face}: the message does not name {missing}:\n{answer.text}"


def test_cases_are_well_formed() -> None:
    ids = [case.id for case in CASES]
    assert len(ids) == len(set(ids)), "case ids repeat"
    faces = set(
        DATA_FACES + CHECKED_DATA_FACES + PLAN_FACES + POWER_FACES + FILE_FACES + ("cli-demo",)
    )
    for case in CASES:
        inputs = [
            case.rows is not None,
            case.plan_yaml is not None,
            case.power is not None,
            case.file is not None,
        ]
        assert sum(inputs) == 1, f"{case.id}: give exactly one of rows, plan_yaml, power, file"
        assert set(case.all_faces()) <= faces, case.id
        assert (case.outcome == "ok") == (not case.expect), f"{case.id}: expect what it names"


AGREEING = [
    pytest.param(case, id=case.id)
    for case in CASES
    if case.outcome == "ok"
    and set(API_FACES) <= set(case.all_faces())
    and case.rows is not None
    and len(case.rows()) < 100  # the wide table's cells are the matrix's slowest already
]


@pytest.mark.parametrize("case", AGREEING)
def test_engines_agree(case: Case, tmp_path, web_client) -> None:
    """Valid odd input gives the same warnings and numbers on pandas, polars and DuckDB."""
    said = {}
    results = {}
    for face in API_FACES:
        *warned, result = run_cell(case, face, tmp_path, web_client).text.splitlines()
        said[face], results[face] = warned, json.loads(result)
    for face in ("api-polars", "api-duckdb"):
        assert said[face] == said["api-pandas"], face
        # Engines sum in their own order: equal to the last few bits.
        got, want = flat(results[face]), flat(results["api-pandas"])
        assert got.keys() == want.keys(), face
        numbers = [k for k, v in want.items() if isinstance(v, float)]
        assert {k: got[k] for k in numbers} == pytest.approx(
            {k: want[k] for k in numbers}, rel=1e-9, nan_ok=True
        ), face
        assert {k: v for k, v in got.items() if k not in numbers} == {
            k: v for k, v in want.items() if k not in numbers
        }, face


def flat(value: Any, key: str = "") -> dict[str, Any]:
    """A JSON document as path -> leaf, so that `pytest.approx` compares its numbers."""
    if isinstance(value, dict):
        return {
            k: v for name, item in value.items() for k, v in flat(item, f"{key}.{name}").items()
        }
    if isinstance(value, list):
        return {k: v for i, item in enumerate(value) for k, v in flat(item, f"{key}[{i}]").items()}
    return {key: value}
