"""``ablens analyze --registry`` and ``ablens registry list|show|history``."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from ablens.cli.app import app

runner = CliRunner()


def analyze(plan_file, registry, *extra, env=None):
    outcome = runner.invoke(
        app,
        [
            "analyze",
            str(plan_file),
            "--json",
            *(["--registry", str(registry)] if registry else []),
            *extra,
        ],
        env=env,
    )
    assert outcome.exit_code == 0, outcome.output
    return json.loads(outcome.stdout)


def test_analyze_stores_the_run_and_show_gives_its_numbers_back(tmp_path, experiment):
    plan_file, _, _, _ = experiment
    registry = tmp_path / "results.duckdb"
    document = analyze(plan_file, registry)
    assert (
        "ablens: stored run ablens-demo@"
        in runner.invoke(app, ["analyze", str(plan_file), "--registry", str(registry)]).stderr
    )

    shown = runner.invoke(app, ["registry", "show", str(registry), "ablens-demo", "--json"])
    assert shown.exit_code == 0, shown.output
    stored = json.loads(shown.stdout)
    assert len(stored["comparisons"]) == len(document["comparisons"]) == 6
    for got, want in zip(stored["comparisons"], document["comparisons"], strict=True):
        for key, value in want.items():
            if isinstance(value, float):
                assert got[key] == pytest.approx(value, rel=1e-12, abs=0.0), key
            else:
                assert got[key] == value, key
    for label, segment in document["segments"].items():
        assert len(stored["segments"][label]["comparisons"]) == len(segment["comparisons"])
    assert stored["run"]["verdict"] == document["verdict"]["label"]
    assert stored["run"]["daily"] is True

    text = runner.invoke(app, ["registry", "show", str(registry), "ablens-demo"])
    assert text.exit_code == 0
    assert text.stdout.startswith(f"ablens-demo: {document['verdict']['label']}\n")
    conversion = document["comparisons"][0]
    assert conversion["metric"] == "conversion"
    assert f"(n={conversion['control_count']:,})" in text.stdout
    assert "Segment platform=ios:" in text.stdout


def test_list_and_history(tmp_path, experiment, monkeypatch):
    plan_file, _, _, _ = experiment
    registry = tmp_path / "results.duckdb"
    analyze(plan_file, registry)
    analyze(plan_file, registry)  # the same day again: replaced, still one run
    listed = runner.invoke(app, ["registry", "list", str(registry), "--json"])
    assert listed.exit_code == 0, listed.output
    (entry,) = json.loads(listed.stdout)["experiments"]
    assert (entry["experiment_id"], entry["runs"]) == ("ablens-demo", 1)

    # ABLENS_REGISTRY names the registry for analyze and list alike.
    monkeypatch.chdir(tmp_path)
    other = tmp_path / "env.duckdb"
    analyze(plan_file, None, env={"ABLENS_REGISTRY": str(other)})
    plain = runner.invoke(app, ["registry", "list"], env={"ABLENS_REGISTRY": str(other)})
    assert plain.exit_code == 0, plain.output
    lines = plain.stdout.splitlines()
    assert lines[0].split() == ["experiment", "runs", "last", "day", "stored", "(UTC)", "verdict"]
    assert lines[2].split()[:2] == ["ablens-demo", "1"]

    history = runner.invoke(app, ["registry", "history", str(registry), "ablens-demo", "--json"])
    assert history.exit_code == 0, history.output
    runs = json.loads(history.stdout)["runs"]
    assert len(runs) == 1
    assert runs[0]["counts"] == {"control": 10_010, "new_checkout": 9_990}
    text = runner.invoke(app, ["registry", "history", str(registry), "ablens-demo"])
    assert text.stdout.splitlines()[0].split()[:4] == ["day", "stored", "(UTC)", "verdict"]


def test_without_registry_analyze_stores_nothing(tmp_path, experiment, monkeypatch):
    plan_file, _, _, _ = experiment
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("ABLENS_REGISTRY", raising=False)
    analyze(plan_file, None)
    assert list(tmp_path.iterdir()) == []


def test_registry_errors_are_usage_errors(tmp_path, experiment):
    missing = runner.invoke(app, ["registry", "list", str(tmp_path / "typo.duckdb")])
    assert missing.exit_code == 2
    assert "typo.duckdb does not exist" in missing.stderr
    assert not (tmp_path / "typo.duckdb").exists()

    plan_file, _, _, _ = experiment
    registry = tmp_path / "results.duckdb"
    analyze(plan_file, registry)
    unknown = runner.invoke(app, ["registry", "show", str(registry), "nope"])
    assert unknown.exit_code == 2
    assert "'nope' has no run" in unknown.stderr
    assert "ablens-demo" in unknown.stderr
    history = runner.invoke(app, ["registry", "history", str(registry), "nope"])
    assert history.exit_code == 2
    assert "'nope' has no run" in history.stderr
