"""The flat public namespace: ``__all__`` is honest, and ``import ablens`` stays light."""

from __future__ import annotations

import json
import subprocess
import sys
import types
from pathlib import Path

import pytest

import ablens

HEAVY_MODULES = ("pandas", "polars", "duckdb", "pyarrow", "typer", "rich", "scipy.stats")


def test_all_is_sorted():
    assert list(ablens.__all__) == sorted(ablens.__all__)


def test_all_has_no_duplicates():
    assert len(set(ablens.__all__)) == len(ablens.__all__)


def test_every_all_entry_exists():
    missing = [name for name in ablens.__all__ if not hasattr(ablens, name)]
    assert missing == []


def test_all_is_complete():
    public = {
        name
        for name, value in vars(ablens).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }
    assert public - set(ablens.__all__) == set()
    # The only private-looking name exported on purpose is the version.
    assert {n for n in ablens.__all__ if n.startswith("_")} == {"__version__"}


def test_all_entries_are_the_documented_objects():
    assert ablens.analyze.__module__ == "ablens.analysis"
    assert issubclass(ablens.InputError, ablens.AblensError)
    assert issubclass(ablens.InputError, ValueError)
    assert issubclass(ablens.ConfigError, ValueError)
    assert issubclass(ablens.DataError, ablens.AblensError)
    assert issubclass(ablens.MissingDependencyError, ImportError)
    assert isinstance(ablens.__version__, str)
    assert ablens.__version__.count(".") >= 1


def test_missing_dependency_error_names_the_extra():
    error = ablens.MissingDependencyError("duckdb", "duckdb")
    assert error.package == "duckdb"
    assert error.extra == "duckdb"
    assert "pip install 'ablens[duckdb]'" in str(error)


def test_import_does_not_load_optional_or_heavy_modules():
    code = (
        "import json, sys, time\n"
        "start = time.perf_counter()\n"
        "import ablens\n"
        "elapsed = time.perf_counter() - start\n"
        f"heavy = {list(HEAVY_MODULES)!r}\n"
        "print(json.dumps({'loaded': [m for m in heavy if m in sys.modules],"
        " 'seconds': elapsed, 'version': ablens.__version__}))\n"
    )
    completed = subprocess.run(  # noqa: S603 - fixed interpreter and code
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    report = json.loads(completed.stdout)
    # Information only: the import time is reported, never asserted.
    print(f"import ablens took {report['seconds'] * 1000:.0f} ms")  # noqa: T201
    assert report["loaded"] == []
    assert report["version"] == ablens.__version__


def test_package_is_typed():
    marker = Path(ablens.__file__).parent / "py.typed"
    assert marker.is_file()


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("plan", "power_plan"),
        ("Plan", "PowerPlan"),
        ("PlanDay", "PowerPlanDay"),
        ("PlanSequential", "PowerPlanSequential"),
        ("plan_from_history", "power_plan_from_history"),
    ],
)
def test_the_power_plans_old_names_work_for_one_release_with_a_warning(old: str, new: str):
    import ablens.planning  # noqa: PLC0415

    for home in (ablens, ablens.planning):
        with pytest.warns(DeprecationWarning, match=rf"\.{old} is deprecated and will be removed"):
            value = getattr(home, old)
        assert value is getattr(ablens, new)
    assert old not in ablens.__all__
    assert new in ablens.__all__
