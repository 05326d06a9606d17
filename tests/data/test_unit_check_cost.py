"""The unit checks at the cost of the check: one exact COUNT(DISTINCT), bounded memory.

With ``unit=``, a clean table (one row per unit) is ruled out of repeats and of units in
several arms by comparing its rows with its distinct unit ids; the query grouping every unit
with its arms runs only when that comparison fails, and then counts exactly. The DuckDB
connection ablens opens for a file gets a memory limit and a private spill directory; a
connection the caller passes keeps its own settings.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import ablens.data.checks as checks_module
from ablens import compute_moments
from ablens.data import check_data
from ablens.data._source import MEMORY_LIMIT_VARIABLE, resolve
from ablens.errors import DataError

N = 2_000


def users(path: Path, unit: list[int], variant: list[str]) -> Path:
    rng = np.random.default_rng(19)
    table = pa.table(
        {
            "user_id": pa.array(unit, pa.int64()),
            "variant": pa.array(variant, pa.string()),
            "revenue": rng.gamma(2.0, 10.0, len(unit)),
        }
    )
    pq.write_table(table, path)
    return path


def clean(tmp_path: Path) -> Path:
    return users(
        tmp_path / "clean.parquet",
        list(range(N)),
        ["control" if i % 2 else "treatment" for i in range(N)],
    )


def test_clean_units_cost_one_distinct_count_and_no_per_unit_grouping(tmp_path: Path) -> None:
    result = compute_moments(
        clean(tmp_path), variant="variant", columns=["revenue"], unit="user_id"
    )
    assert result.report.repeated_units == 0
    assert result.report.units_in_several_arms == 0
    unit_statements = [s for s in result.statements if "user_id" in s]
    # The moments query counts non-NULL unit ids; the check is the one other statement.
    checks = [s for s in unit_statements if "count(distinct" in s.lower()]
    assert len(checks) == 1
    assert "__lo" not in "\n".join(result.statements)  # the grouping by unit did not run
    assert "group by" not in checks[0].lower().replace("group by all", "")


def test_repeats_and_units_in_two_arms_are_counted_exactly(tmp_path: Path) -> None:
    # Even units 0..18 (treatment) once more in treatment: 10 extra rows; unit 1 (control)
    # also in treatment: one unit in two arms.
    base = ["control" if i % 2 else "treatment" for i in range(N)]
    path = users(
        tmp_path / "dirty.parquet",
        [*range(N), *range(0, 20, 2), 1],
        [*base, *["treatment"] * 10, "treatment"],
    )
    with pytest.raises(DataError, match=r"^1 unit\(s\) in column 'user_id'"):
        compute_moments(path, variant="variant", columns=["revenue"], unit="user_id")
    only_repeats = users(
        tmp_path / "repeats.parquet", [*range(N), *range(0, 20, 2)], [*base, *["treatment"] * 10]
    )
    with pytest.raises(DataError, match=r"repeats unit ids: 10 row\(s\) beyond one per unit"):
        compute_moments(only_repeats, variant="variant", columns=["revenue"], unit="user_id")
    report = check_data(path, unit="user_id")
    assert report.units_in_several_arms == 1
    assert dict(report.repeated_rows) == {"control": 0, "treatment": 10}
    assert dict(report.repeated_units) == {"control": 0, "treatment": 10}


def test_check_data_sends_the_grouped_unit_queries_only_when_a_unit_repeats(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sent: list[str] = []
    original = checks_module.collect

    def counting(source: Any, query: Any, *args: Any) -> Any:
        rows, statements = original(source, query, *args)
        sent.extend(statements)
        return rows, statements

    monkeypatch.setattr(checks_module, "collect", counting)
    report = check_data(clean(tmp_path), unit="user_id")
    assert report.ok
    assert dict(report.repeated_rows) == {"control": 0, "treatment": 0}
    assert len(sent) == 2  # rows per arm, and the distinct count
    sent.clear()
    dirty = users(tmp_path / "d.parquet", [1, 1, 2], ["a", "a", "b"])
    report = check_data(dirty, unit="user_id")
    assert dict(report.repeated_rows) == {"a": 1, "b": 0}
    assert len(sent) == 4  # ... and the two grouped queries that count the repeats


def test_owned_connection_has_a_memory_limit_and_a_private_spill_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(MEMORY_LIMIT_VARIABLE, "300MB")
    source = resolve(clean(tmp_path))
    ((limit, spill, progress),) = source.duckdb_connection.sql(
        "SELECT current_setting('memory_limit'), current_setting('temp_directory'), "
        "current_setting('enable_progress_bar')"
    ).fetchall()
    assert limit == "286.1 MiB"  # 300 MB
    assert Path(spill).parent == Path(tempfile.gettempdir())
    assert Path(spill).name.startswith("ablens-duckdb-")
    assert progress is False
    monkeypatch.delenv(MEMORY_LIMIT_VARIABLE)
    source = resolve(clean(tmp_path))
    ((limit,),) = source.duckdb_connection.sql("SELECT current_setting('memory_limit')").fetchall()
    assert limit == "953.6 MiB"  # the 1GB default


def test_a_callers_connection_keeps_its_settings(tmp_path: Path) -> None:
    connection = duckdb.connect()
    connection.read_parquet(str(clean(tmp_path))).create("users")
    before = connection.sql(
        "SELECT current_setting('memory_limit'), current_setting('temp_directory')"
    ).fetchall()
    result = compute_moments(
        (connection, "users"), variant="variant", columns=["revenue"], unit="user_id"
    )
    assert result.overall["control"].count == N // 2
    after = connection.sql(
        "SELECT current_setting('memory_limit'), current_setting('temp_directory')"
    ).fetchall()
    assert after == before


def test_the_distinct_count_spills_under_a_small_memory_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = 3_000_000
    path = tmp_path / "many.parquet"
    duckdb.connect().sql("SELECT range FROM range(3000000)").select(
        "range AS user_id, CASE WHEN range % 2 = 0 THEN 'a' ELSE 'b' END AS variant, "
        "(range % 7)::DOUBLE AS revenue"
    ).write_parquet(str(path))
    monkeypatch.setenv(MEMORY_LIMIT_VARIABLE, "40MB")
    result = compute_moments(path, variant="variant", columns=["revenue"], unit="user_id")
    assert result.report.rows == rows
    assert result.report.repeated_units == 0
    assert result.overall["a"].count == rows // 2
