"""`import ablens` and the CLI's `analyze --json` load only what they use (issue 19).

Each check runs a fresh interpreter and reads its ``sys.modules`` at the end, so a module that
starts importing a heavy one at module level fails here instead of slowing every start-up
silently. The timings themselves are measured by `benchmarks/import_time.py` and
`benchmarks/cli_startup.py`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

SRC = Path(__file__).resolve().parent.parent / "src"

#: Never loaded by `import ablens`: engines, faces, and the statistics a table's analysis of
#: means, proportions and ratios does not run.
NOT_ON_IMPORT = (
    "scipy",
    "duckdb",
    "narwhals",
    "pandas",
    "polars",
    "pyarrow",
    "yaml",
    "typer",
    "rich",
    "pydantic",
    "jinja2",
    "fastapi",
    "hashlib",
    "secrets",
    "ablens.analysis_plan",
    "ablens.catalog",
    "ablens.cli",
    "ablens.data.checks",
    "ablens.data.events",
    "ablens.data.history",
    "ablens.data.looks",
    "ablens.data.profile",
    "ablens.data.quantiles",
    "ablens.data.ranks",
    "ablens.data.sandwich",
    "ablens.decision",
    "ablens.planning",
    "ablens.readout",
    "ablens.registry",
    "ablens.report",
    "ablens.sequential",
    "ablens.stats._linearized",
    "ablens.stats.always_valid",
    "ablens.stats.bayesian",
    "ablens.stats.group_sequential",
    "ablens.stats.nonparametric",
    "ablens.stats.power",
    "ablens.stats.quantiles",
    "ablens.stats.resampling",
    "ablens.stats.stratified",
    "ablens.web",
)

#: Never loaded by `ablens analyze plan.yaml --json` on a fixed-horizon plan of moment metrics.
NOT_IN_ANALYZE_JSON = (
    "rich",
    "scipy.optimize",
    "scipy.stats",
    "pandas",
    "polars",
    "jinja2",
    "fastapi",
    "ablens.calculator",
    "ablens.catalog",
    "ablens.data.history",
    "ablens.planning",
    "ablens.registry",
    "ablens.report",
    "ablens.sequential",
    "ablens.stats.always_valid",
    "ablens.stats.group_sequential",
    "ablens.stats.nonparametric",
    "ablens.stats.quantiles",
    "ablens.web",
)

PLAN = """\
experiment_id: lazy-imports
source:
  path: {path}
variant: variant
control: control
metrics:
  - name: conversion
    kind: proportion
    column: converted
    role: primary
  - name: revenue (CUPED)
    kind: mean
    column: revenue
    covariates: [pre_revenue]
    adjustment: cuped
  - name: orders per session
    kind: ratio
    numerator: orders
    denominator: sessions
"""

REPORT_MODULES = """
import atexit, json, sys
atexit.register(lambda: print(json.dumps(sorted(sys.modules)), file=sys.stderr))
"""


def _modules(code: str, *args: str) -> tuple[set[str], str]:
    env = {**os.environ, "PYTHONPATH": f"{SRC}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    done = subprocess.run(  # noqa: S603 - our own interpreter and code
        [sys.executable, "-c", REPORT_MODULES + code, *args],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=120,
    )
    last = done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "[]"
    assert done.returncode == 0, done.stderr
    return set(json.loads(last)), done.stdout


def _loaded(modules: set[str], names: tuple[str, ...]) -> list[str]:
    return [name for name in names if name in modules]


def test_import_ablens_loads_no_heavy_module():
    modules, _ = _modules("import ablens")
    assert "ablens.analysis" in modules  # the check sees what was imported
    assert _loaded(modules, NOT_ON_IMPORT) == []


def test_lazy_names_still_load_on_first_use():
    modules, out = _modules(
        "import ablens\n"
        "from ablens.data import read_history, compute_rank_summary\n"
        "from ablens.readout import SequentialReading\n"
        "from ablens.report import data_fingerprint\n"
        "print(ablens.cumulative_moments.__module__, SequentialReading.__module__,"
        " data_fingerprint is ablens.data_fingerprint)"
    )
    assert out.split() == ["ablens.data.looks", "ablens.sequential", "True"]
    assert {"ablens.data.history", "ablens.data.ranks", "ablens.sequential"} <= modules


@pytest.fixture(scope="module")
def plan_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("lazy")
    data = folder / "users.parquet"
    duckdb.sql(
        "SELECT CASE WHEN i % 2 = 0 THEN 'control' ELSE 'treatment' END AS variant,"
        " (i % 7 = 0)::INTEGER AS converted, (i % 13) * 1.5 AS revenue,"
        " (i % 11) * 1.0 AS pre_revenue, i % 3 AS orders, 1 + i % 4 AS sessions"
        " FROM range(2000) t(i)"
    ).write_parquet(str(data))
    plan = folder / "plan.yaml"
    plan.write_text(PLAN.format(path=data))
    return plan


def test_cli_analyze_json_loads_no_heavy_module(plan_file: Path):
    modules, out = _modules(
        "import sys\nfrom ablens.cli import main\nsys.exit(main(sys.argv[1:]))",
        "analyze",
        str(plan_file),
        "--json",
    )
    document = json.loads(out)
    assert document["counts"] == {"control": 1000, "treatment": 1000}
    assert len(document["comparisons"]) == 3
    assert "ablens.readout" in modules  # the check sees the readout's imports
    assert _loaded(modules, NOT_IN_ANALYZE_JSON) == []
