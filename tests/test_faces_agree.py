"""One question, one answer: the web calculator, ``ablens power`` and `ablens.power_plan` agree.

Each row of the grid is asked of the three faces in their own language (form fields as a person
types them, CLI options, Python arguments); units per arm and days must be identical. The first
row is the question that once got two answers (the web split alpha over the arms on its own).
"""

from __future__ import annotations

import itertools
import json
import re
import warnings
from typing import Any

import pytest

pytest.importorskip("fastapi", reason="the web extra is not installed (pip install 'ablens[web]')")
pytest.importorskip("python_multipart", reason="python-multipart is not installed")
pytest.importorskip("typer", reason="the cli extra is not installed (pip install 'ablens[cli]')")

with warnings.catch_warnings():
    # starlette asks for httpx2 over httpx; either works for these tests.
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

from typer.testing import CliRunner

import ablens
from ablens.cli.app import app
from ablens.web import create_app

#: (web form fields, CLI options, power_plan() arguments, units per arm, days): the last two
#: pin the rows the issue reported.
GRID: list[tuple[dict[str, str], list[str], dict[str, Any], int, int]] = [
    (
        {"baseline": "10%", "mde": "5%", "arms": "3", "traffic": "10000"},
        ["--baseline-rate", "0.1", "--mde", "0.05", "--arms", "3", "--daily-traffic", "10000"],
        {"baseline_rate": 0.1, "mde": 0.05, "arms": 3, "daily_traffic": 10_000},
        57_780,
        18,
    ),
    (
        {"baseline": "10%", "mde": "5%", "arms": "3", "traffic": "10000",
         "correction": "bonferroni"},
        ["--baseline-rate", "0.1", "--mde", "0.05", "--arms", "3", "--daily-traffic", "10000",
         "--correction", "bonferroni"],
        {"baseline_rate": 0.1, "mde": 0.05, "arms": 3, "daily_traffic": 10_000,
         "correction": "bonferroni"},
        69_971,
        21,
    ),
    (
        {"baseline": "4%", "mde": "10%", "arms": "4", "traffic": "25,000", "correction": "sidak",
         "sides": "greater", "power": "90%"},
        ["--baseline-rate", "0.04", "--mde", "0.1", "--arms", "4", "--daily-traffic", "25000",
         "--correction", "sidak", "--alternative", "greater", "--power", "0.9"],
        {"baseline_rate": 0.04, "mde": 0.1, "arms": 4, "daily_traffic": 25_000,
         "correction": "sidak", "alternative": "greater", "power": 0.9},
        0,
        0,
    ),
    (
        {"kind": "mean", "baseline": "25", "sd": "40", "mde": "2%", "mde_type": "relative",
         "traffic": "3000", "alpha": "1%"},
        ["--mean", "25", "--sd", "40", "--mde", "0.02", "--daily-traffic", "3000",
         "--alpha", "0.01"],
        {"mean": 25.0, "sd": 40.0, "mde": 0.02, "daily_traffic": 3_000, "alpha": 0.01},
        0,
        0,
    ),
    (
        {"baseline": "10%", "mde": "5%", "traffic": "10000", "sequential": "group-sequential",
         "looks": "5", "arms": "3", "correction": "bonferroni"},
        ["--baseline-rate", "0.1", "--mde", "0.05", "--daily-traffic", "10000",
         "--sequential", "group-sequential", "--looks", "5", "--arms", "3",
         "--correction", "bonferroni"],
        {"baseline_rate": 0.1, "mde": 0.05, "daily_traffic": 10_000,
         "sequential": "group-sequential", "looks": 5, "arms": 3, "correction": "bonferroni"},
        0,
        0,
    ),
]  # fmt: skip


def _generated_grid() -> list[tuple[dict[str, str], list[str], dict[str, Any], int, int]]:
    """Metric kinds x arms 2-5 x sides, the readings and corrections cycled through the rows."""
    readings = ("none", "group-sequential", "msprt", "confidence-sequence")
    corrections = ("none", "bonferroni", "sidak")
    rows = []
    for index, (kind, arms, sides) in enumerate(
        itertools.product(("proportion", "mean"), (2, 3, 4, 5), ("two-sided", "greater", "less"))
    ):
        reading, correction = readings[index % 4], corrections[index % 3]
        lift = "-0.08" if sides == "less" else "0.08"
        fields = {"arms": str(arms), "sides": sides, "mde": lift, "traffic": "7,500"}
        options = ["--arms", str(arms), "--alternative", sides, "--mde", lift]
        arguments: dict[str, Any] = {"arms": arms, "alternative": sides, "mde": float(lift)}
        options += ["--daily-traffic", "7500"]
        arguments["daily_traffic"] = 7_500
        if kind == "proportion":
            fields["baseline"] = "6%"
            options += ["--baseline-rate", "0.06"]
            arguments["baseline_rate"] = 0.06
        else:
            fields |= {"kind": "mean", "baseline": "40", "sd": "55"}
            options += ["--mean", "40", "--sd", "55"]
            arguments |= {"mean": 40.0, "sd": 55.0}
        fields |= {"sequential": reading, "looks": "10", "correction": correction}
        if reading != "none":
            options += ["--sequential", reading, "--looks", "10"]
            arguments |= {"sequential": reading, "looks": 10}
        options += ["--correction", correction]
        if correction != "none":
            arguments["correction"] = correction
        rows.append((fields, options, arguments, 0, 0))
    return rows


GRID += _generated_grid()


@pytest.fixture(scope="module")
def client() -> TestClient:
    return TestClient(create_app())


def _web(client: TestClient, fields: dict[str, str]) -> tuple[int, int]:
    page = client.post("/calculator/result", data=fields).text
    per_arm = re.search(r'id="n-per-arm">([\d,]+)<', page)
    days = re.search(r'id="days">(\d+)<', page)
    assert per_arm is not None, page
    assert days is not None, page
    return int(per_arm.group(1).replace(",", "")), int(days.group(1))


def _cli(options: list[str]) -> tuple[int, int]:
    outcome = CliRunner().invoke(app, ["power", *options, "--json"])
    assert outcome.exit_code == 0, outcome.output
    answer = json.loads(outcome.stdout)
    return int(answer["n_per_arm"][0]), int(answer["days"])


@pytest.mark.parametrize(("fields", "options", "arguments", "per_arm", "days"), GRID)
def test_the_three_faces_give_one_answer(
    client: TestClient,
    fields: dict[str, str],
    options: list[str],
    arguments: dict[str, Any],
    per_arm: int,
    days: int,
) -> None:
    planned = ablens.power_plan(**arguments)
    library = (planned.n_per_arm[0], planned.days)
    if per_arm:  # the rows the issue reported, pinned to their numbers
        assert library == (per_arm, days)
    assert _web(client, fields) == library
    assert _cli(options) == library


def test_an_unknown_correction_is_refused_by_both_faces_naming_the_choices(client: TestClient):
    outcome = CliRunner().invoke(app, ["power", "--baseline-rate", "0.1", "--correction", "holm"])
    assert outcome.exit_code == 2
    assert "--correction 'holm': must be one of none, bonferroni, sidak" in outcome.output
    page = client.post("/calculator/result", data={"correction": "holm"}).text
    assert "correction: &#39;holm&#39; is not one of none, bonferroni, sidak." in page
