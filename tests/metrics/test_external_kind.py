"""A metric kind written outside ablens goes through every layer with no change to ablens.

``tests/fixtures/plugin/ablens_net.py`` (the plugin of docs/extending.md) is installed in a
scratch site folder as a distribution whose ``ablens.metric_kinds`` entry point names `Net`.
A fresh process with that folder on its path then: validates and runs a YAML plan with
``kind: net`` (read at every sequential look, with the Bayesian reading), renders the report,
sizes a power plan from history, and the CLI lists the kind in the plan schema. Kinds load once
per process, so each check runs in a subprocess and the test session's registry stays clean.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

polars = pytest.importorskip("polars")
pytest.importorskip("duckdb", reason="plans read their CSV with DuckDB")
pytest.importorskip("yaml", reason="plans are YAML")

PLUGIN = Path(__file__).resolve().parents[1] / "fixtures" / "plugin" / "ablens_net.py"

PLAN = """\
experiment_id: net-value-test
source: {path: users.csv}
variant: variant
unit: user_id
control: control
arms: {control: 50, treatment: 50}
metrics:
  - name: net value per user
    kind: net
    gross: gross
    deductions: refunds
    role: primary
sequential: msprt
time: day
bayesian: true
planned: {sample_size: 8000}
"""


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding the plugin as an installed distribution (module + dist-info)."""
    folder = tmp_path_factory.mktemp("site")
    shutil.copyfile(PLUGIN, folder / "ablens_net.py")
    info = folder / "ablens_net-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: ablens-net\nVersion: 1.0\n", encoding="utf-8"
    )
    (info / "entry_points.txt").write_text(
        "[ablens.metric_kinds]\nnet = ablens_net:Net\n", encoding="utf-8"
    )
    rng = np.random.default_rng(20261206)
    n = 8_000
    arm = rng.integers(0, 2, n)
    gross = rng.gamma(2.0, 10.0, n) * (1 + 0.15 * arm)
    refunds = gross * rng.uniform(0.0, 0.2, n)
    polars.DataFrame(
        {
            "user_id": np.arange(n),
            "variant": np.where(arm == 1, "treatment", "control"),
            "day": rng.integers(1, 15, n),
            "gross": gross,
            "refunds": refunds,
        }
    ).write_csv(folder / "users.csv")
    (folder / "plan.yaml").write_text(PLAN, encoding="utf-8")
    return folder


def _run(site: Path, *command: str) -> subprocess.CompletedProcess[str]:
    path = os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")])
    return subprocess.run(  # noqa: S603 - the test's own interpreter and arguments
        command,
        cwd=site,
        env={**os.environ, "PYTHONPATH": path},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_an_installed_kind_runs_through_plan_readout_report_and_power_plan(site: Path) -> None:
    script = textwrap.dedent(
        """
        import json, math
        import ablens
        from ablens.analysis_plan import load_plan
        from ablens.metrics.base import metric_kinds
        from ablens.readout import run_readout
        from ablens.report import render_readout
        from ablens_net import Net

        assert "net" in metric_kinds()
        plan = load_plan("plan.yaml")
        spec = plan.metrics[0]
        readout = run_readout(plan)
        comparison = readout.result.comparisons[0]
        html = render_readout(readout)
        metric = spec.to_metric()
        moments = ablens.compute_moments(
            "users.csv", variant="variant", columns=list(metric.required_columns()),
            pairs=list(metric.required_pairs()),
        ).overall["control"]
        power = ablens.power_plan(metric=metric, moments=moments, mde=0.05, daily_traffic=500)
        history = ablens.power_plan_from_history(
            "users.csv", metric=metric, date="day", integer_days=True, unit="user_id", mde=0.05
        )
        # A table repeating two users: the kind says nothing of how its columns add up.
        lines = open("users.csv").read().splitlines()
        open("repeated.csv", "w").write("\\n".join([*lines, *lines[1:3]]) + "\\n")
        try:
            ablens.power_plan_from_history(
                "repeated.csv", metric=metric, date="day", integer_days=True, unit="user_id",
                mde=0.05,
            )
            refused = ""
        except ablens.DataError as error:
            refused = str(error)
        print(json.dumps({
            "kind": spec.kind,
            "type": type(metric).__name__,
            "comparison_kind": comparison.kind,
            "estimate": comparison.result.effect,
            "looks": len(readout.sequential[0].looks.rows),
            "chance_to_beat": readout.bayesian[0].probability_better,
            "report_has_title": "z test of the net mean" in html,
            "report_has_metric": "net value per user" in html,
            "plan_kind": power.kind,
            "plan_n": power.n_per_arm[0],
            "plan_baseline": power.baseline,
            "plan_sd": power.sd,
            "moments_sd": math.sqrt(
                moments.variance("gross") + moments.variance("refunds")
                - 2 * moments.covariance("gross", "refunds")
            ),
            "history_n": history.n_per_arm[0],
            "mean_plan_n": ablens.power_plan(
                mean=power.baseline, sd=power.sd, mde=0.05, daily_traffic=500
            ).n_per_arm[0],
            "verdict": readout.verdict.label,
            "refused": refused,
        }))
        """
    )
    done = _run(site, sys.executable, "-c", script)
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout.strip().splitlines()[-1])
    assert answer["kind"] == "net"
    assert answer["type"] == "Net"
    assert answer["comparison_kind"] == "net"
    # The true lift of the net value is +15% of about 18 per user: ~ +2.7.
    assert 1.5 < answer["estimate"] < 4.0
    assert answer["looks"] == 14
    assert answer["chance_to_beat"] > 0.99
    assert answer["report_has_title"]
    assert answer["report_has_metric"]
    assert answer["plan_kind"] == "net"
    assert 15.0 < answer["plan_baseline"] < 21.0
    # The kind's own linearization reaches the planner (sd of gross - refunds), which then
    # sizes it exactly as a mean of that baseline and sd (checked against R elsewhere).
    assert answer["plan_sd"] == pytest.approx(answer["moments_sd"], rel=1e-12)
    assert answer["plan_n"] == answer["mean_plan_n"]
    # From history (both arms pooled, 14 days): the same kind of number, on slightly other data.
    assert answer["history_n"] == pytest.approx(answer["plan_n"], rel=0.1)
    assert answer["verdict"] in ("Ship", "Inconclusive — keep running", "No detectable effect")
    assert "column 'user_id' repeats unit ids (2 rows beyond one per unit)" in answer["refused"]
    assert "no rule to combine them" in answer["refused"]


def test_the_cli_validates_and_analyzes_a_plan_with_the_installed_kind(site: Path) -> None:
    ablens_cli = [str(Path(sys.executable).parent / "ablens")]
    validated = _run(site, *ablens_cli, "validate", "plan.yaml")
    assert validated.returncode == 0, validated.stderr
    assert "valid plan for experiment net-value-test: 1 metrics" in validated.stdout
    schema = json.loads(_run(site, *ablens_cli, "plan-schema").stdout)
    assert "net" in json.dumps(schema)
    analyzed = _run(site, *ablens_cli, "analyze", "plan.yaml", "--json")
    assert analyzed.returncode in (0, 1), analyzed.stderr  # 1: a health gate, still a readout
    document = json.loads(analyzed.stdout)
    assert document["comparisons"][0]["kind"] == "net"
    assert document["sequential"]["readings"][0]["metric"] == "net value per user"
    assert document["plan"]["metrics"][0]["kind"] == "net"


def test_without_the_plugin_the_plan_names_the_unknown_kind(site: Path, tmp_path: Path) -> None:
    shutil.copyfile(site / "plan.yaml", tmp_path / "plan.yaml")
    shutil.copyfile(site / "users.csv", tmp_path / "users.csv")
    done = subprocess.run(  # noqa: S603 - the test's own interpreter's script
        [Path(sys.executable).parent / "ablens", "validate", "plan.yaml"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2
    assert "net" in done.stderr
    assert "mean" in done.stderr  # the known kinds are listed
