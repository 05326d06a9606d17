"""A malformed data file or a locked database is bad input on the CLI: exit 2 and the message.

Before, DuckDB's own exception escaped: a traceback and exit 1, the code documented as "a
health gate failed".
"""

from __future__ import annotations

import gzip
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from ablens.cli.app import app

runner = CliRunner()
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "plan.yaml"
CSV = b"variant,converted,revenue\ncontrol,1,2.0\ntreatment,0,1.0\n"


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        (
            "users.csv",
            b"\x89PNG\r\n\x1a\n" + bytes(256),
            "users.csv is not a CSV: it looks like a PNG image",
        ),
        (
            "users.csv",
            gzip.compress(CSV),
            "users.csv is not a CSV: it looks like a gzip-compressed file",
        ),
        ("users.csv", "variant\ncafé\n".encode("latin-1") * 4, "users.csv is not UTF-8 text"),
        ("users.parquet", CSV, "users.parquet is not a parquet file"),
    ],
)
def test_a_malformed_data_file_exits_2_with_the_message(
    name: str, content: bytes, message: str, tmp_path: Path
) -> None:
    data = tmp_path / name
    data.write_bytes(content)
    outcome = runner.invoke(app, ["analyze", str(EXAMPLE), "--data", str(data)])
    assert outcome.exit_code == 2, outcome.output
    assert message in outcome.output
    assert "Traceback" not in outcome.output
    assert outcome.exception is None or isinstance(outcome.exception, SystemExit)


def test_a_locked_database_exits_2_with_the_message(tmp_path: Path) -> None:
    path = tmp_path / "ablens_demo.duckdb"
    with duckdb.connect(str(path)) as connection:
        connection.execute("CREATE TABLE users AS SELECT 'control' AS variant, 1.0 AS revenue")
    plan = tmp_path / "plan.yaml"
    plan.write_text(EXAMPLE.read_text())  # its source: {duckdb: {file: ablens_demo.duckdb}}
    script = (
        "import duckdb, sys; c = duckdb.connect(sys.argv[1]); print('open', flush=True); "
        "sys.stdin.read()"
    )
    with subprocess.Popen(  # noqa: S603 - this interpreter, a fixed script
        [sys.executable, "-c", script, str(path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    ) as writer:
        try:
            assert writer.stdout is not None
            assert writer.stdout.readline().strip() == "open"
            outcome = runner.invoke(app, ["analyze", str(plan)])
        finally:
            writer.kill()
    assert outcome.exit_code == 2, outcome.output
    assert f"the database is locked by another process (pid {writer.pid})" in outcome.output
    assert "plan.yaml:15: source.duckdb.file: ablens_demo.duckdb: the database" in outcome.output
    assert str(path) not in outcome.output  # the plan's name for it, not a resolved path
