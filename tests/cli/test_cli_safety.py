"""The CLI cannot be turned against its user (issue 20): labels from data cannot drive the
terminal, and ``ablens demo`` does not delete a file it did not write."""

from __future__ import annotations

import json

import duckdb
import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from ablens import cli
from ablens.cli import app as app_module
from ablens.cli.app import app
from ablens.cli.common import json_text, terminal_safe

runner = CliRunner()
CLEAR_SCREEN = "\x1b[2J"
# YAML's double-quoted escapes: \e is ESC, \r a carriage return, \a a bell.
PLAN = """experiment_id: "esc\\e]0;pwned\\a"
source: {path: data.parquet}
control: control
unit: user_id
arms: [control, "\\e[2J"]
metrics:
  - {kind: mean, column: x, name: "rev\\renue", role: primary}
  - {kind: mean, column: "[/x]", name: "[/bold] markup", role: secondary}
"""


@pytest.fixture
def hostile_plan(tmp_path):
    """A plan whose treatment arm is ``"\\x1b[2J"`` and whose metric is named ``"rev\\renue"``."""
    rng = np.random.default_rng(7)
    n = 400
    pd.DataFrame(
        {
            "user_id": np.arange(n),
            "variant": np.where(np.arange(n) % 2 == 1, CLEAR_SCREEN, "control"),
            "x": rng.normal(10, 2, n),
            "[/x]": rng.normal(5, 1, n),
        }
    ).to_parquet(tmp_path / "data.parquet")
    path = tmp_path / "plan.yaml"
    path.write_text(PLAN, encoding="utf-8")
    return path


def raw_controls(text: str) -> list[str]:
    """The control characters in ``text`` besides newline and tab."""
    return sorted({c for c in text if (ord(c) < 32 and c not in "\n\t") or 0x7F <= ord(c) <= 0x9F})


def test_terminal_safe_escapes_controls_and_keeps_layout():
    assert terminal_safe("a\x1b[2Jb\rc\x07d\x9be\u202ef\x7f") == (
        "a\\x1b[2Jb\\x0dc\\x07d\\x9be\\u202ef\\x7f"
    )
    assert terminal_safe("line one\n\tline two — ünïcode 🙂") == "line one\n\tline two — ünïcode 🙂"


def test_json_text_keeps_strings_exact_without_raw_controls():
    document = {"arm": "\x1b[2J", "metric": "rev\renue", "c1": "\x9b31m", "bidi": "\u202e"}
    text = json_text(document)
    assert raw_controls(text) == []
    assert "\u202e" not in text
    assert json.loads(text) == document


def test_analyze_text_shows_escape_sequences_escaped(hostile_plan):
    outcome = runner.invoke(app, ["analyze", str(hostile_plan)])
    assert outcome.exit_code == 0, outcome.output
    assert raw_controls(outcome.stdout) == []
    assert "\\x1b[2J" in outcome.stdout
    assert "rev\\x0denue" in outcome.stdout
    assert "esc\\x1b]0;pwned\\x07: " in outcome.stdout
    assert "[/bold] markup" in outcome.stdout  # text, not rich markup
    assert "Plan " in outcome.stdout.splitlines()[-1]  # provenance: "Plan plan.yaml (sha256 ..."


def test_analyze_rich_tables_escape_labels_and_take_no_markup(hostile_plan, monkeypatch):
    monkeypatch.setattr(app_module, "_stdout_is_terminal", lambda: True)
    monkeypatch.delenv("NO_COLOR", raising=False)
    outcome = runner.invoke(app, ["analyze", str(hostile_plan)], env={"TERM": "xterm"})
    assert outcome.exit_code == 0, outcome.output
    assert "\x1b[1m" in outcome.stdout  # rich's own styling is there ...
    assert CLEAR_SCREEN not in outcome.stdout  # ... the label's sequence is not
    assert "\r" not in outcome.stdout
    assert "\x07" not in outcome.stdout
    assert "\\x1b[2J" in outcome.stdout
    assert "[/bold] markup" in outcome.stdout


def test_analyze_json_keeps_the_exact_labels(hostile_plan):
    outcome = runner.invoke(app, ["analyze", str(hostile_plan), "--json"])
    assert outcome.exit_code == 0, outcome.output
    assert raw_controls(outcome.stdout) == []
    document = json.loads(outcome.stdout)
    assert {c["treatment"] for c in document["comparisons"]} == {CLEAR_SCREEN}
    assert [c["metric"] for c in document["comparisons"]] == ["rev\renue", "[/bold] markup"]
    assert document["plan"]["experiment_id"] == "esc\x1b]0;pwned\x07"


def test_output_file_validate_and_check_are_escaped_too(hostile_plan, tmp_path):
    written = tmp_path / "readout.txt"
    outcome = runner.invoke(app, ["analyze", str(hostile_plan), "-o", str(written)])
    assert outcome.exit_code == 0, outcome.output
    assert raw_controls(written.read_text(encoding="utf-8")) == []
    assert "rev\\x0denue" in written.read_text(encoding="utf-8")
    for command in ("validate", "check"):
        outcome = runner.invoke(app, [command, str(hostile_plan)])
        assert outcome.exit_code == 0, outcome.output
        assert raw_controls(outcome.stdout) == [], command
        assert "\\x1b[2J" in outcome.stdout, command


def test_error_messages_are_escaped(hostile_plan, capsys):
    hostile_plan.write_text(PLAN.replace("column: x,", 'column: "x\\e[2J",'), encoding="utf-8")
    outcome = runner.invoke(app, ["analyze", str(hostile_plan)])
    assert outcome.exit_code == 2
    assert raw_controls(outcome.stderr) == []
    assert "x\\x1b[2J" in outcome.stderr
    assert "Traceback" not in outcome.output
    assert cli.main(["analyze", str(hostile_plan)]) == 2
    assert raw_controls(capsys.readouterr().err) == []


# --------------------------------------------------------------------------------- demo --db
def test_demo_refuses_a_file_that_is_not_a_demo_database(tmp_path):
    notes = tmp_path / "notes.duckdb"
    notes.write_text("my notes", encoding="utf-8")
    outcome = runner.invoke(app, ["demo", "--db", str(notes), "--users", "1000"])
    assert outcome.exit_code == 2
    assert outcome.stderr == (
        f"ablens: database == '{notes}' exists and is not a DuckDB database; the demo "
        "replaces its file, so it leaves this one alone: choose another file (--db), or "
        "replace it anyway with --overwrite (overwrite=True in Python)\n"
    )
    assert notes.read_text(encoding="utf-8") == "my notes"
    assert not (tmp_path / "plan.yaml").exists()


def test_demo_refuses_a_duckdb_file_without_the_mark_and_overwrite_replaces_it(tmp_path):
    shop = tmp_path / "shop.duckdb"
    with duckdb.connect(str(shop)) as connection:
        connection.execute("CREATE TABLE orders AS SELECT 1 AS id")
    outcome = runner.invoke(app, ["demo", "--db", str(shop), "--users", "1000"])
    assert outcome.exit_code == 2
    assert "is a DuckDB database the demo did not write" in outcome.stderr
    assert "--overwrite" in outcome.stderr
    with duckdb.connect(str(shop), read_only=True) as connection:
        assert connection.execute("SELECT id FROM orders").fetchall() == [(1,)]
    outcome = runner.invoke(app, ["demo", "--db", str(shop), "--users", "1000", "--overwrite"])
    assert outcome.exit_code == 0, outcome.output
    with duckdb.connect(str(shop), read_only=True) as connection:
        assert connection.execute("SELECT count(*) FROM users").fetchall() == [(1000,)]
    # Now it is the demo's own file: recreated without --overwrite.
    again = runner.invoke(app, ["demo", "--db", str(shop), "--users", "2000"])
    assert again.exit_code == 0, again.output
    with duckdb.connect(str(shop), read_only=True) as connection:
        assert connection.execute("SELECT count(*) FROM users").fetchall() == [(2000,)]


def test_demo_into_a_folder_is_a_usage_error_not_a_traceback(tmp_path):
    outcome = runner.invoke(app, ["demo", "--db", str(tmp_path), "--users", "1000"])
    assert outcome.exit_code == 2
    assert "is a folder, must be a DuckDB file to write" in outcome.stderr
    assert outcome.exception is None or isinstance(outcome.exception, SystemExit)
