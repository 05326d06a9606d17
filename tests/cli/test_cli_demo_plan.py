"""``ablens demo`` leaves a plan beside its data, so the commands of docs/cli.md work as written."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

import ablens
from ablens.analysis_plan import load_plan
from ablens.cli.app import app
from ablens.demo import demo_plan_text
from ablens.errors import InputError

pytest.importorskip("duckdb", reason="the demo writes a DuckDB file")

runner = CliRunner()
CLI_PAGE = Path(__file__).resolve().parents[2] / "docs" / "cli.md"


def _first_console_block(page: Path) -> list[str]:
    text = page.read_text(encoding="utf-8")
    block = re.search(r"```console\n(.*?)```", text, re.DOTALL)
    assert block is not None
    return [line.removeprefix("$ ") for line in block.group(1).splitlines()]


@pytest.mark.slow
def test_the_commands_of_the_cli_page_work_in_an_empty_folder(tmp_path: Path):
    """What a reader types after ``pip install 'ablens[cli,duckdb]'``: no repository needed."""
    commands = _first_console_block(CLI_PAGE)
    assert commands[1].startswith("ablens demo --db examples/")
    assert "ablens analyze examples/plan.yaml" in commands
    # The console script of this environment first on PATH, as pip installs it.
    environment = os.environ | {"PATH": f"{Path(sys.executable).parent}{os.pathsep}"}
    environment["PATH"] += os.environ.get("PATH", "")
    # This ablens (not another checkout) however the tests were started.
    environment["PYTHONPATH"] = str(Path(ablens.__file__).resolve().parents[1])
    for command in commands:
        completed = subprocess.run(  # noqa: S602 - the page's own commands, redirections included
            command,
            shell=True,
            cwd=tmp_path,
            env=environment,
            capture_output=True,
            text=True,
            check=False,
        )
        assert completed.returncode == 0, f"{command}\n{completed.stdout}\n{completed.stderr}"
    assert json.loads((tmp_path / "readout.json").read_text("utf-8"))["verdict"]["label"]
    assert (tmp_path / "report.html").read_text("utf-8").startswith("<!DOCTYPE html>")
    assert json.loads((tmp_path / "plan.schema.json").read_text("utf-8"))["type"] == "object"


def test_demo_writes_the_plan_beside_its_database_naming_it(tmp_path: Path):
    database = tmp_path / "new" / "shop.duckdb"  # a folder that does not exist yet
    outcome = runner.invoke(app, ["demo", "--db", str(database), "--users", "20000", "--json"])
    assert outcome.exit_code == 0, outcome.output
    plan_file = tmp_path / "new" / "plan.yaml"
    assert json.loads(outcome.stdout)["plan_file"] == str(plan_file)
    plan = load_plan(plan_file)
    assert plan.source.to_dict()["duckdb"]["file"] == "shop.duckdb"
    assert plan.experiment_id == "ablens-demo"
    # Run again: the demo's own plan is replaced; the text output names it and the next steps.
    again = runner.invoke(app, ["demo", "--db", str(database), "--users", "20000"])
    assert again.exit_code == 0, again.output
    assert f"The demo's analysis plan: {plan_file}. Next: `ablens analyze {plan_file}`" in (
        again.stdout
    )


def test_demo_keeps_a_plan_it_did_not_write(tmp_path: Path):
    plan_file = tmp_path / "plan.yaml"
    plan_file.write_text("experiment_id: mine\n", encoding="utf-8")
    database = tmp_path / "ablens_demo.duckdb"
    outcome = runner.invoke(app, ["demo", "--db", str(database), "--users", "20000", "--json"])
    assert outcome.exit_code == 0, outcome.output
    assert plan_file.read_text(encoding="utf-8") == "experiment_id: mine\n"
    assert json.loads(outcome.stdout)["plan_file"] is None
    assert f"ablens: kept {plan_file}: it is not the demo's plan" in outcome.stderr
    assert database.is_file()


def test_demo_plan_text_names_any_database_file_and_refuses_paths():
    odd = 'shop "2026": #1.duckdb'
    assert load_plan_text(demo_plan_text(odd)) == odd
    for bad in ("", "data/shop.duckdb"):
        with pytest.raises(InputError, match=r"database == .*, must be a file name"):
            demo_plan_text(bad)


def load_plan_text(text: str) -> str:
    from ablens.analysis_plan import parse_plan  # noqa: PLC0415

    return str(parse_plan(text).source.to_dict()["duckdb"]["file"])
