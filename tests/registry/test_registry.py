"""The results registry: runs stored and read back exactly, replaced, migrated, refused."""

from __future__ import annotations

import datetime as dt
import math

import duckdb
import pytest

from ablens.registry import (
    SCHEMA_VERSION,
    RegistryError,
    StoredMoments,
    open_registry,
    store_statements,
)
from ablens.registry.schema import create_statements
from ablens.stats.moments import Moments

DAY = dt.date(2026, 3, 14)


def assert_records_close(stored, original, *, rel=1e-12):
    assert len(stored) == len(original)
    for got, want in zip(stored, original, strict=True):
        assert set(got) == set(want)
        for key, value in want.items():
            if isinstance(value, float) and not isinstance(value, bool):
                assert got[key] == pytest.approx(value, rel=rel, abs=0.0, nan_ok=True), key
            else:
                assert got[key] == value, key


def test_a_stored_readout_reads_back_to_1e_12(registry_url, experiment):
    _, plan, readout, moments = experiment
    registry = open_registry(registry_url)
    record = registry.store(readout, moments, as_of=DAY, catalog_version="abc123")
    assert record.run_id == f"ablens-demo@{DAY}"

    stored = registry.latest("ablens-demo")
    original = readout.to_dict()
    document = stored.to_dict()
    assert_records_close(document["comparisons"], original["comparisons"])
    assert (
        set(document["segments"])
        == set(original["segments"])
        == {
            "platform=android",
            "platform=ios",
            "platform=web",
        }
    )
    for label, segment in original["segments"].items():
        assert_records_close(document["segments"][label]["comparisons"], segment["comparisons"])
    # Not only close: the doubles come back bit for bit.
    assert document["comparisons"][0]["p_value"] == original["comparisons"][0]["p_value"]

    run = stored.run
    assert (run.experiment_id, run.as_of, run.verdict) == (
        "ablens-demo",
        DAY,
        readout.verdict.label,
    )
    assert run.verdict_reason == readout.verdict.reason
    assert run.plan_hash == plan.sha256
    assert len(run.plan_hash) == 64
    assert run.catalog_version == "abc123"
    assert run.counts == tuple(readout.result.counts)
    assert sum(run.counts) == 20_000
    assert run.arms == ("control", "new_checkout")
    assert run.daily
    assert run.srm_p_value == readout.result.srm.p_value

    back = registry.moments("ablens-demo")
    assert not back.whole_period
    assert back.days == moments.days
    assert len(moments.days) == 14
    assert moments.days[:3] == ("0", "1", "2")
    assert set(back.cells) == set(moments.cells)
    for key, value in moments.cells.items():
        assert back.cells[key] == value, key  # exact: count, both parts of each mean, comoments


def test_daily_moments_merge_to_the_analysis_counts_and_means(experiment):
    _, _, readout, moments = experiment
    conversion = readout.result.comparison("conversion")
    for arm, count, value in (
        ("control", conversion.control_count, conversion.result.control_estimate),
        ("new_checkout", conversion.treatment_count, conversion.result.treatment_estimate),
    ):
        total = moments.total(arm)
        assert total.count == count
        assert total.mean_of("converted") == pytest.approx(value, rel=1e-12)
    # The rows of all units of a day are the exact merge of its platforms' rows.
    day = moments.days[5]
    parts = [moments.cells[(day, s, "control")] for s in moments.segments if s]
    merged = Moments.merge_all(parts)
    assert merged == moments.cells[(day, "", "control")]
    ios = readout.result.segments["platform=ios"].comparison("conversion")
    assert moments.total("control", "platform=ios").count == ios.control_count


def test_storing_the_same_experiment_and_day_again_replaces_it(registry_url, experiment):
    _, _, readout, moments = experiment
    registry = open_registry(registry_url)
    registry.store(readout, moments, as_of=DAY)
    counts = {t: len(registry.rows(t)) for t in ("runs", "comparisons", "moments", "comoments")}
    assert counts["runs"] == 1
    assert counts["comparisons"] == 6 + 3 * 4

    # The same day again, with one day's moments changed: replaced, nothing doubled.
    day = moments.days[0]
    changed = dict(moments.cells)
    changed[(day, "", "control")] = Moments.from_columns(
        {c: [1.0, 2.0] for c in moments.cells[(day, "", "control")].columns}
    )
    later = dt.datetime(2026, 3, 14, 23, 0)
    registry.store(readout, StoredMoments(changed), as_of=DAY, run_at=later)
    assert {t: len(registry.rows(t)) for t in counts} == counts
    assert registry.runs("ablens-demo")[0].run_at == later
    assert registry.moments("ablens-demo").cells[(day, "", "control")].count == 2

    # Only the days a run brings are replaced; the other stored days stay.
    one_day = {k: v for k, v in moments.cells.items() if k[0] == day}
    registry.store(readout, StoredMoments(one_day), as_of=DAY)
    back = registry.moments("ablens-demo")
    assert back.cells == moments.cells or all(back.cells[k] == v for k, v in moments.cells.items())

    # Another day is another run.
    registry.store(readout, moments, as_of=DAY + dt.timedelta(days=1))
    assert [r.as_of for r in registry.runs("ablens-demo")] == [DAY, DAY + dt.timedelta(days=1)]
    assert len(registry.rows("comparisons")) == 2 * counts["comparisons"]
    assert len(registry.rows("moments")) == counts["moments"]
    (summary,) = registry.experiments()
    assert (summary.runs, summary.latest.as_of) == (2, DAY + dt.timedelta(days=1))


def test_whole_period_moments_have_a_marker_and_replace_the_days(tmp_path, experiment):
    _, _, readout, moments = experiment
    whole = StoredMoments(
        {
            (None, segment, arm): moments.total(arm, segment)
            for segment in moments.segments
            for arm in moments.arms
        },
        whole_period=True,
    )
    registry = open_registry(tmp_path / "r.duckdb")
    registry.store(readout, moments, as_of=DAY)
    registry.store(readout, whole, as_of=DAY)
    rows = registry.rows("moments")
    assert {row["day"] for row in rows} == {None}
    assert all(row["whole_period"] for row in rows)
    back = registry.moments("ablens-demo")
    assert back.whole_period
    assert back.cells == whole.cells
    assert not registry.runs("ablens-demo")[0].daily


def test_a_newer_registry_is_refused_naming_it_and_both_versions(tmp_path, experiment):
    path = tmp_path / "future.duckdb"
    open_registry(path)
    with duckdb.connect(str(path)) as connection:
        connection.execute(
            "INSERT INTO ablens_schema_version VALUES (?, now()::TIMESTAMP, '9.0')",
            [SCHEMA_VERSION + 1],
        )
    with pytest.raises(RegistryError) as caught:
        open_registry(path)
    message = str(caught.value)
    assert str(path) in message
    assert f"schema version {SCHEMA_VERSION + 1}, newer than version {SCHEMA_VERSION}" in message
    assert "upgrade ablens" in message


def test_a_version_1_registry_is_migrated_to_version_2(tmp_path, experiment):
    _, _, readout, moments = experiment
    path = tmp_path / "old.duckdb"
    with duckdb.connect(str(path)) as connection:
        for statement in create_statements(version=1):
            connection.execute(statement.sql("duckdb"))
        connection.execute("INSERT INTO ablens_schema_version VALUES (1, now()::TIMESTAMP, '0.0')")
        columns = [r[0] for r in connection.execute("DESCRIBE ablens_runs").fetchall()]
        assert "catalog_version" not in columns
        connection.execute(
            "INSERT INTO ablens_runs VALUES ('old@2026-01-01', 'old', DATE '2026-01-01', "
            "TIMESTAMP '2026-01-01 10:00:00', NULL, '0.0', 'Ship', 'because', true, true, "
            "'a', '[\"a\", \"b\"]', '[10, 12]', 0.05, NULL, 'metric', 0.5, false)"
        )
    registry = open_registry(path)
    versions = sorted(row["version"] for row in registry.rows("schema_version"))
    assert versions == [1, 2] == list(range(1, SCHEMA_VERSION + 1))
    (old,) = registry.runs("old")
    assert (old.verdict, old.counts, old.catalog_version) == ("Ship", (10, 12), None)
    registry.store(readout, moments, as_of=DAY, catalog_version="v7")
    assert registry.runs("ablens-demo")[0].catalog_version == "v7"
    open_registry(path)  # opening again migrates nothing more
    assert len(registry.rows("schema_version")) == 2


def test_reading_a_missing_registry_does_not_create_one(tmp_path):
    path = tmp_path / "typo.duckdb"
    with pytest.raises(RegistryError, match="does not exist"):
        open_registry(path, create=False)
    assert not path.exists()


def test_an_unknown_experiment_names_the_stored_ones(tmp_path, experiment):
    _, _, readout, moments = experiment
    registry = open_registry(tmp_path / "r.duckdb")
    registry.store(readout, moments, as_of=DAY)
    with pytest.raises(
        RegistryError, match=r"'nope' has no run .* stored experiments: \['ablens-demo'\]"
    ):
        registry.latest("nope")


def test_unsupported_urls_are_refused_with_the_way_out(tmp_path):
    with pytest.raises(RegistryError, match="store_statements"):
        open_registry("bigquery://project/dataset")
    with pytest.raises(RegistryError, match="'mysql' is not supported"):
        open_registry("mysql://localhost/db")
    text = tmp_path / "not-a-database.duckdb"
    text.write_text("hello")
    with pytest.raises(RegistryError, match="cannot be opened as a DuckDB file"):
        open_registry(text)


def test_an_unreachable_postgres_registry_is_named_without_its_password():
    with pytest.raises(RegistryError) as caught:
        open_registry("postgresql://ablens:secret@127.0.0.1:1/results")
    message = str(caught.value)
    assert message.startswith(
        "registry postgresql://ablens:***@127.0.0.1:1/results cannot be reached: "
    )
    assert "secret" not in message


def test_tables_as_pandas_and_polars(tmp_path, experiment):
    _, _, readout, moments = experiment
    registry = open_registry(tmp_path / "r.duckdb")
    registry.store(readout, moments, as_of=DAY)
    runs = registry.to_pandas("runs")
    assert list(runs["run_id"]) == [f"ablens-demo@{DAY}"]
    comparisons = registry.to_polars("comparisons")
    assert comparisons.height == 18
    conversion = comparisons.filter(
        (comparisons["metric"] == "conversion") & (comparisons["segment"] == "")
    )
    assert conversion["p_value"].item() == readout.result.comparison("conversion").result.p_value
    frame = registry.latest("ablens-demo").to_pandas()
    assert len(frame) == 18
    assert set(frame["segment"]) == {
        "",
        "platform=android",
        "platform=ios",
        "platform=web",
    }
    assert registry.to_polars("moments").height == len(registry.rows("moments"))


def test_bigquery_statements_compile_with_exact_literals(experiment):
    _, _, readout, moments = experiment
    statements = store_statements(
        readout,
        moments,
        dialect="bigquery",
        dataset="experiments",
        run_at=dt.datetime(2026, 3, 14, 9, 30),
        as_of=DAY,
    )
    assert statements[1].startswith(
        "CREATE TABLE IF NOT EXISTS experiments.ablens_runs (`run_id` STRING, "
        "`experiment_id` STRING, `as_of` DATE, `run_at` DATETIME, "
    )
    assert "`alpha` FLOAT64" in statements[1]
    assert "`catalog_version` STRING)" in statements[1]
    run_key = f"'ablens-demo@{DAY}'"
    delete_run = "DELETE FROM experiments.ablens_runs WHERE `run_id` = " + run_key  # noqa: S608
    assert delete_run in statements
    assert (
        "DELETE FROM experiments.ablens_moments WHERE `experiment_id` = 'ablens-demo' AND "
        "`day` IN ('0', '1', '2', '3', '4', '5', '6', '7', '8', '9', '10', '11', '12', '13')"
    ) in statements
    (runs,) = [s for s in statements if s.startswith("INSERT INTO experiments.ablens_runs")]
    assert "CAST('2026-03-14' AS DATE), CAST('2026-03-14 09:30:00' AS DATETIME)" in runs
    (comparisons,) = [
        s for s in statements if s.startswith("INSERT INTO experiments.ablens_comparisons")
    ]
    p_value = readout.result.comparison("conversion").result.p_value
    assert repr(p_value) in comparisons  # the shortest text that reads back to the same double
    assert float(repr(p_value)) == p_value
    assert comparisons.count("), (") == 17  # 18 rows


def test_two_processes_writing_one_duckdb_file(tmp_path, experiment):
    import subprocess  # noqa: PLC0415
    import sys  # noqa: PLC0415
    from pathlib import Path  # noqa: PLC0415

    plan_file, _, _, _ = experiment
    path = tmp_path / "shared.duckdb"
    script = (
        "import datetime as dt, sys\n"
        "from ablens.analysis_plan import load_plan\n"
        "from ablens.readout import run_readout\n"
        "from ablens.registry import open_registry, plan_moments\n"
        "plan = load_plan(sys.argv[1]); readout = run_readout(plan); moments = plan_moments(plan)\n"
        "start = int(sys.argv[3])\n"
        "for i in range(start, start + 8):\n"
        "    day = dt.date(2026, 1, 1) + dt.timedelta(days=i)\n"
        "    open_registry(sys.argv[2]).store(readout, moments, as_of=day)\n"
    )
    src = str(Path(__file__).resolve().parents[2] / "src")
    env = {**__import__("os").environ, "PYTHONPATH": src}
    writers = [
        subprocess.Popen(  # noqa: S603 - this interpreter, a fixed script
            [sys.executable, "-c", script, str(plan_file), str(path), str(start)],
            env=env,
            stderr=subprocess.PIPE,
            text=True,
        )
        for start in (0, 4)  # days 4-7 are written by both
    ]
    for writer in writers:
        _, errors = writer.communicate(timeout=240)
        assert writer.returncode == 0, errors
    registry = open_registry(path)
    runs = registry.runs("ablens-demo")
    assert [r.as_of.day for r in runs] == list(range(1, 13))
    assert len(registry.rows("comparisons")) == 12 * 18
    assert (
        len({(r["run_id"], r["segment"], r["position"]) for r in registry.rows("comparisons")})
        == 12 * 18
    )


def test_a_locked_duckdb_file_is_waited_for_then_refused(tmp_path, experiment):
    import os  # noqa: PLC0415
    import subprocess  # noqa: PLC0415
    import sys  # noqa: PLC0415
    import time  # noqa: PLC0415

    _, _, readout, moments = experiment
    path = tmp_path / "busy.duckdb"
    open_registry(path)
    hold = (
        "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); print('held', flush=True); "
        "time.sleep(1.5); c.close()"
    )
    with subprocess.Popen(  # noqa: S603 - another process holding the file for 1.5 s
        [sys.executable, "-c", hold, str(path)], stdout=subprocess.PIPE, text=True, env=os.environ
    ) as holder:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(RegistryError, match=r"locked by another process \(waited 0.2 s\)"):
            open_registry(path, lock_timeout=0.2)
        started = time.monotonic()
        open_registry(path, lock_timeout=30).store(readout, moments, as_of=DAY)  # waits, writes
        assert time.monotonic() - started > 0.3
    assert len(open_registry(path).runs("ablens-demo")) == 1


def test_two_processes_writing_one_postgres_registry(empty_postgres, experiment):
    import os  # noqa: PLC0415
    import subprocess  # noqa: PLC0415
    import sys  # noqa: PLC0415
    from pathlib import Path  # noqa: PLC0415

    postgres_url = empty_postgres
    plan_file, _, _, _ = experiment
    script = (
        "import datetime as dt, sys\n"
        "from ablens.analysis_plan import load_plan\n"
        "from ablens.readout import run_readout\n"
        "from ablens.registry import open_registry, plan_moments\n"
        "plan = load_plan(sys.argv[1]); readout = run_readout(plan); moments = plan_moments(plan)\n"
        "registry = open_registry(sys.argv[2])\n"
        "for i in range(8):\n"
        "    day = dt.date(2026, 1, 1) + dt.timedelta(days=i % 4)\n"
        "    registry.store(readout, moments, as_of=day)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2] / "src")}
    writers = [
        subprocess.Popen(  # noqa: S603 - this interpreter, a fixed script
            [sys.executable, "-c", script, str(plan_file), postgres_url],
            env=env,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    for writer in writers:
        _, errors = writer.communicate(timeout=240)
        assert writer.returncode == 0, errors
    registry = open_registry(postgres_url)
    assert [r.as_of.day for r in registry.runs("ablens-demo")] == [1, 2, 3, 4]
    assert len(registry.rows("comparisons")) == 4 * 18
    assert len(registry.rows("schema_version")) == 1
    assert not math.isnan(registry.latest("ablens-demo").comparisons[0]["p_value"])
