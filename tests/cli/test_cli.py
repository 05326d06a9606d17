"""The ``ablens`` command line, through Typer's runner and through `ablens.cli.main`."""

from __future__ import annotations

import json
import sys
from dataclasses import replace

import pytest
from typer.testing import CliRunner

import ablens
from ablens import cli
from ablens.cli.app import app

runner = CliRunner()
USERS = "20000"


def test_version_via_runner():
    outcome = runner.invoke(app, ["--version"])
    assert outcome.exit_code == 0
    assert outcome.stdout == f"ablens {ablens.__version__}\n"


def test_version_via_main(capsys):
    assert cli.main(["--version"]) == cli.EXIT_OK == 0
    assert capsys.readouterr().out == f"ablens {ablens.__version__}\n"


def test_demo_text_via_runner(tmp_path):
    database = tmp_path / "demo.duckdb"
    outcome = runner.invoke(app, ["demo", "--db", str(database), "--users", USERS])
    assert outcome.exit_code == 0, outcome.output
    assert database.is_file()
    for text in ("conversion", "revenue per user", "sessions per user", "new_checkout"):
        assert text in outcome.stdout
    assert "Demo experiment: 20,000 users" in outcome.stdout
    assert "Sample ratio ok" in outcome.stdout
    assert "true lift" in outcome.stdout


def test_demo_fits_a_narrow_terminal_and_pipes_keep_today_s_table(tmp_path, monkeypatch):
    from ablens.cli import app as app_module  # noqa: PLC0415 - the module, not the Typer app

    command = ["demo", "--db", str(tmp_path / "demo.duckdb"), "--users", USERS]
    piped = runner.invoke(app, command, env={"COLUMNS": "80"})
    assert max(len(line) for line in piped.stdout.splitlines()) > 120  # one line per metric
    monkeypatch.setattr(app_module, "_stdout_is_terminal", lambda: True)
    narrow = runner.invoke(app, command, env={"COLUMNS": "80"})
    assert narrow.exit_code == 0, narrow.output
    assert max(len(line) for line in narrow.stdout.splitlines()) <= 80, narrow.stdout
    for text in ("conversion", "p90 minutes on site", "true lift", "Sample ratio ok"):
        assert text in narrow.stdout


def test_demo_json_via_runner(tmp_path):
    database = tmp_path / "demo.duckdb"
    outcome = runner.invoke(
        app, ["demo", "--db", str(database), "--users", USERS, "--seed", "5", "--json"]
    )
    assert outcome.exit_code == 0, outcome.output
    document = json.loads(outcome.stdout)
    assert document["schema_version"] == 1
    assert document["database"] == str(database)
    assert document["true_effects"] == ablens.demo.TRUE_EFFECTS
    assert sum(document["counts"].values()) == 20_000
    assert {c["metric"] for c in document["comparisons"]} == {
        "conversion",
        "revenue per user",
        "revenue per user (CUPED)",
        "orders per user",
        "orders per session",
        "sessions per user",
        "median minutes on site",
        "p90 minutes on site",
        "revenue (rank test)",
    }
    # The same seed through the library gives the same numbers.
    expected = ablens.demo.run(tmp_path / "lib.duckdb", users=20_000, seed=5).result.to_dict()
    assert document["comparisons"] == expected["comparisons"]


def test_demo_via_main(tmp_path, capsys):
    database = tmp_path / "main.duckdb"
    code = cli.main(["demo", "--db", str(database), "--users", USERS])
    assert code == 0
    out = capsys.readouterr().out
    assert "conversion" in out
    assert database.is_file()


@pytest.mark.parametrize("users", ["5", "99", "-1"])
def test_demo_too_few_users_is_a_usage_error(tmp_path, users, capsys):
    database = tmp_path / "never.duckdb"
    outcome = runner.invoke(app, ["demo", "--db", str(database), "--users", users])
    assert outcome.exit_code == 2
    assert "--users" in outcome.output
    assert cli.main(["demo", "--db", str(database), "--users", users]) == cli.EXIT_USAGE == 2
    assert "--users" in capsys.readouterr().err
    assert not database.exists()


def test_unknown_command_is_a_usage_error(capsys):
    assert cli.main(["frobnicate"]) == 2
    assert "frobnicate" in capsys.readouterr().err


def test_ablens_errors_become_exit_code_two(monkeypatch, capsys):
    def broken(*args, **kwargs):
        raise ablens.InputError("users == 1, must be >= 100")

    monkeypatch.setattr(ablens.demo, "run", broken)
    assert cli.main(["demo", "--users", USERS]) == 2
    assert capsys.readouterr().err == "ablens: users == 1, must be >= 100\n"


def test_sample_ratio_mismatch_exits_with_health_code(monkeypatch, tmp_path, capsys):
    real_run = ablens.demo.run

    def skewed(database, users, seed, overwrite):
        outcome = real_run(database, users=users, seed=seed, overwrite=overwrite)
        srm = ablens.srm_test({"control": 9_000, "new_checkout": 11_000})
        assert srm.mismatch
        return replace(outcome, result=replace(outcome.result, srm=srm))

    monkeypatch.setattr(ablens.demo, "run", skewed)
    code = cli.main(["demo", "--db", str(tmp_path / "s.duckdb"), "--users", USERS])
    assert code == cli.EXIT_HEALTH == 1
    captured = capsys.readouterr()
    assert "Sample ratio MISMATCH" in captured.out
    assert "do not trust these results" in captured.err


def test_main_without_typer_prints_the_install_hint(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "typer", None)
    monkeypatch.delitem(sys.modules, "ablens.cli.app", raising=False)
    assert cli.main(["--version"]) == cli.EXIT_USAGE == 2
    err = capsys.readouterr().err
    assert "typer is missing" in err
    assert "pip install 'ablens[cli]'" in err


def test_run_exits_with_main_code(monkeypatch):
    monkeypatch.setattr(sys, "argv", ["ablens", "--version"])
    with pytest.raises(SystemExit) as exit_info:
        cli.run()
    assert exit_info.value.code == 0


def test_serve_passes_its_options_to_the_web_server(monkeypatch):
    pytest.importorskip("fastapi", reason="the web extra is not installed")
    import ablens.web  # noqa: PLC0415
    from ablens.web.app import TimeLimits  # noqa: PLC0415

    calls: list[dict[str, object]] = []
    monkeypatch.setattr(ablens.web, "serve", lambda **options: calls.append(options), raising=False)
    outcome = runner.invoke(app, ["serve", "--demo", "--port", "9001", "--max-upload-mb", "2"])
    assert outcome.exit_code == 0, outcome.output
    assert calls == [
        {
            "plans": (),
            "host": "127.0.0.1",
            "port": 9001,
            "max_upload_bytes": 2 * 1024 * 1024,
            "demo": True,
            "time_limits": TimeLimits(calculator=30.0, readout=300.0),
            "compute_workers": None,
            "body_timeout": 30.0,
        }
    ]
    assert runner.invoke(app, ["serve", "--help"], env={"COLUMNS": "200"}).output.count("--demo")
