"""The demo experiment, and the moments `compute_moments` computes from its DuckDB file."""

from __future__ import annotations

import math
from pathlib import Path

import duckdb
import numpy as np
import pytest

from ablens import DataError, InputError, Moments, compute_moments, demo

USERS = 20_000
SEED = 2026
COLUMNS = ("user_id", "variant", "platform", "sessions", "orders", "revenue", "converted",
           "pre_revenue", "minutes", "exposure_day")  # fmt: skip
NUMERIC = ["converted", "orders", "revenue", "sessions", "pre_revenue", "minutes"]
PLATFORMS = ("android", "ios", "web")


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    return demo.run(tmp_path_factory.mktemp("demo") / "d.duckdb", users=USERS, seed=SEED)


@pytest.fixture(scope="module")
def frame():
    return demo.generate(USERS, SEED)


@pytest.fixture
def demo_db(demo_run):
    with duckdb.connect(str(demo_run.database), read_only=True) as connection:
        yield connection


def numpy_moments(frame, rows, columns=NUMERIC):
    return Moments.from_columns({c: frame[c][rows].astype(float) for c in columns})


def assert_moments_equal(got, expected, columns=NUMERIC):
    assert got.count == expected.count
    assert got.columns == tuple(columns)
    for column in columns:
        assert got.mean_of(column) == pytest.approx(expected.mean_of(column), rel=1e-12)
        assert got.variance(column) == pytest.approx(expected.variance(column), rel=1e-12)


# --------------------------------------------------------------------------- generate


def test_generate_has_the_documented_columns(frame):
    assert set(frame) == set(COLUMNS)
    assert all(len(values) == USERS for values in frame.values())
    assert frame["user_id"].tolist() == list(range(1, USERS + 1))
    assert set(np.unique(frame["variant"])) == {"control", "new_checkout"}
    assert set(np.unique(frame["platform"])) == set(PLATFORMS)
    assert frame["converted"].dtype == np.bool_
    assert frame["sessions"].min() >= 1
    assert set(np.unique(frame["exposure_day"])) <= set(range(14))
    # Orders and revenue only for converters; every converter orders at least once.
    assert np.all((frame["orders"] > 0) == frame["converted"])
    assert np.all((frame["revenue"] > 0) <= frame["converted"])
    assert np.all(frame["revenue"] >= 0)
    assert np.all(frame["minutes"] > 0)
    treated_share = np.mean(frame["variant"] == "new_checkout")
    assert abs(treated_share - 0.5) < 0.02


def test_generate_is_deterministic_for_a_seed(frame):
    again = demo.generate(USERS, SEED)
    for column in COLUMNS:
        assert np.array_equal(again[column], frame[column]), column
    other = demo.generate(USERS, SEED + 1)
    assert not np.array_equal(other["revenue"], frame["revenue"])
    assert not np.array_equal(other["variant"], frame["variant"])


def test_generate_rejects_too_few_users():
    with pytest.raises(InputError, match=r"users == 99, must be >= 100"):
        demo.generate(99)


def test_demo_metrics_cover_the_true_effects():
    metrics = demo.demo_metrics()
    names = [m.name for m in metrics]
    assert len(set(names)) == len(names)
    # Every metric with a lift has its true lift; only rank tests (no lift) have none.
    assert set(demo.TRUE_EFFECTS) <= set(names)
    for metric in metrics:
        assert metric.name in demo.TRUE_EFFECTS or "rank test" in metric.name, metric.name
    assert [m.name for m in metrics if m.role == "primary"] == ["conversion"]
    assert {m.role for m in metrics} == {"primary", "secondary", "guardrail"}
    assert next(m for m in metrics if m.name == "sessions per user").role == "guardrail"
    assert {c for m in metrics for c in m.required_columns()} <= set(COLUMNS)


# --------------------------------------------------------------------------- run


def test_run_analyzes_every_metric(demo_run, frame):
    result = demo_run.result
    names = {m.name for m in demo.demo_metrics()}
    assert demo_run.users == USERS
    assert demo_run.database.is_file()
    assert {c.metric for c in result.comparisons} == names
    assert len(result.comparisons) == len(names)
    assert result.arms == ("control", "new_checkout")
    treated = int(np.sum(frame["variant"] == "new_checkout"))
    assert result.counts == (USERS - treated, treated)
    conversion = result.comparison("conversion")
    assert conversion.kind == "proportion"
    control = frame["variant"] == "control"
    assert conversion.result.control_estimate == pytest.approx(
        frame["converted"][control].mean(), rel=1e-12
    )
    text = demo_run.true_effects_text()
    for name in demo.TRUE_EFFECTS:
        assert name in text
    assert text.count("true lift") == len(demo.TRUE_EFFECTS)


def test_run_has_platform_segments_and_a_data_report(demo_run, frame):
    result = demo_run.result
    assert sorted(result.segments) == [f"platform={p}" for p in PLATFORMS]
    for platform in PLATFORMS:
        segment = result.segments[f"platform={platform}"]
        rows = frame["platform"] == platform
        treated = int(np.sum(rows & (frame["variant"] == "new_checkout")))
        assert segment.counts == (int(rows.sum()) - treated, treated)
        conversion = segment.comparison("conversion")
        in_control = rows & (frame["variant"] == "control")
        assert conversion.result.control_estimate == pytest.approx(
            frame["converted"][in_control].mean(), rel=1e-12
        )
    report = result.data_report
    assert report is not None
    assert report.rows == USERS
    assert (report.null_variant, report.null_unit, report.repeated_units) == (0, 0, 0)
    assert report.units_in_several_arms == 0
    assert sum(report.arm_rows.values()) == USERS


def test_run_replaces_its_own_database(tmp_path):
    path = tmp_path / "again.duckdb"
    demo.run(path, users=2_000, seed=3)
    assert demo.is_demo_database(path)
    outcome = demo.run(path, users=1_000, seed=3)
    assert outcome.result.counts[0] + outcome.result.counts[1] == 1_000
    with duckdb.connect(str(path), read_only=True) as connection:
        assert connection.execute("SELECT count(*) FROM users").fetchall() == [(1_000,)]


def test_run_keeps_a_file_it_did_not_write_unless_told_to_overwrite(tmp_path):
    path = tmp_path / "notes.duckdb"
    path.write_text("not a database")
    with pytest.raises(InputError) as caught:
        demo.run(path, users=1_000, seed=3)
    assert str(caught.value) == (
        f"database == '{path}' exists and is not a DuckDB database; the demo replaces its "
        "file, so it leaves this one alone: choose another file (--db), or replace it anyway "
        "with --overwrite (overwrite=True in Python)"
    )
    assert path.read_text() == "not a database"
    outcome = demo.run(path, users=1_000, seed=3, overwrite=True)
    assert sum(outcome.result.counts) == 1_000
    assert demo.is_demo_database(path)


def test_run_keeps_a_duckdb_database_without_the_demo_s_mark(tmp_path):
    path = tmp_path / "shop.duckdb"
    with duckdb.connect(str(path)) as connection:
        connection.execute("CREATE TABLE users AS SELECT 42 AS precious")
    with pytest.raises(InputError, match="is a DuckDB database the demo did not write"):
        demo.run(path, users=1_000)
    with duckdb.connect(str(path), read_only=True) as connection:
        assert connection.execute("SELECT * FROM users").fetchall() == [(42,)]
    assert not demo.is_demo_database(path)
    # write_demo writes ablens_demo.duckdb into its folder: the same rule.
    path.rename(tmp_path / demo.DEMO_DATABASE)
    with pytest.raises(InputError, match="the demo did not write"):
        demo.write_demo(tmp_path, users=1_000)
    assert demo.write_demo(tmp_path, users=1_000, overwrite=True).is_file()
    assert demo.is_demo_database(tmp_path / demo.DEMO_DATABASE)


def test_run_refuses_a_folder_and_a_bad_user_count_before_touching_the_file(tmp_path):
    with pytest.raises(InputError, match="is a folder, must be a DuckDB file"):
        demo.run(tmp_path, users=1_000, overwrite=True)
    path = tmp_path / "kept.duckdb"
    demo.run(path, users=1_000)
    with pytest.raises(InputError, match="users"):
        demo.run(path, users=5)
    assert demo.is_demo_database(path)


# --------------------------------------------------------------------------- compute_moments


def test_duckdb_moments_equal_numpy_moments(demo_db, frame):
    result = compute_moments((demo_db, demo.TABLE), variant="variant", columns=NUMERIC)
    assert sorted(result.overall) == ["control", "new_checkout"]
    for arm, got in result.overall.items():
        rows = frame["variant"] == arm
        expected = numpy_moments(frame, rows)
        assert got.count == int(rows.sum())
        assert_moments_equal(got, expected)
    assert result.report.rows == USERS
    assert len(result.statements) == 1  # the grouped moments, their pilot a subquery
    assert all(s.startswith("/* ablens */\n") for s in result.statements)


def test_duckdb_moments_per_platform_and_pairs(demo_db, frame):
    pairs = [("revenue", "pre_revenue"), ("orders", "sessions")]
    result = compute_moments(
        (demo_db, demo.TABLE),
        variant="variant",
        columns=NUMERIC,
        pairs=pairs,
        segments=["platform"],
        unit="user_id",
        arms=demo.ARMS,
        experiment_id="demo-test",
    )
    assert sorted(result.segments) == [(p,) for p in PLATFORMS]
    for (platform,), by_arm in result.segments.items():
        assert list(by_arm) == list(demo.ARMS)
        for arm, got in by_arm.items():
            rows = (frame["variant"] == arm) & (frame["platform"] == platform)
            expected = numpy_moments(frame, rows)
            assert_moments_equal(got, expected)
            for a, b in pairs:
                scale = math.sqrt(expected.variance(a) * expected.variance(b))
                assert abs(got.covariance(a, b) - expected.covariance(a, b)) <= 1e-12 * scale
            # Only the requested cross-moments are computed.
            with pytest.raises(InputError, match=r"cross-moment of 'orders' and 'revenue'"):
                got.covariance("orders", "revenue")
    for arm in demo.ARMS:
        rows = frame["variant"] == arm
        assert_moments_equal(result.overall[arm], numpy_moments(frame, rows))
    assert len(result.statements) == 2  # moments (their pilot a subquery), unit checks
    assert all(s.startswith("/* ablens experiment=demo-test */\n") for s in result.statements)
    (moments_sql,) = [s for s in result.statements if "__c0_0" in s]
    assert "__c0_1" not in moments_sql  # converted x orders was not asked for
    assert '"__c2_4"' in moments_sql  # revenue x pre_revenue was


@pytest.fixture
def tiny():
    connection = duckdb.connect()
    connection.execute("CREATE TABLE t (arm VARCHAR, x DOUBLE, flag BOOLEAN)")
    connection.execute(
        "INSERT INTO t VALUES ('a', 1, true), ('a', 2, false), ('a', 4, true), "
        "('b', 3, false), ('b', 5, false)"
    )
    yield connection
    connection.close()


def test_compute_moments_on_a_tiny_table(tiny):
    moments = compute_moments(
        (tiny, "t"), variant="arm", columns=["x", "flag"], pairs=[("x", "flag")]
    ).overall
    assert moments["a"].count == 3
    assert moments["a"].mean_of("x") == pytest.approx(7 / 3, rel=1e-15)
    assert moments["a"].variance("x") == pytest.approx(7 / 3, rel=1e-14)
    assert moments["a"].mean_of("flag") == pytest.approx(2 / 3, rel=1e-15)
    assert moments["b"].variance("x") == pytest.approx(2.0, rel=1e-14)
    assert moments["b"].variance("flag") == 0.0
    assert moments["a"].covariance("x", "flag") == pytest.approx(1 / 6, rel=1e-13)


def test_null_variant_is_left_out_with_a_warning(tiny):
    tiny.execute("INSERT INTO t VALUES (NULL, 6, true), (NULL, 7, false)")
    result = compute_moments((tiny, "t"), variant="arm", columns=["x"])
    assert result.report.null_variant == 2
    assert result.report.warnings == ("2 row(s) have a NULL 'arm' and were left out of every arm",)
    assert result.overall["a"].count == 3
    assert result.overall["b"].count == 2


def test_null_metric_values_are_an_error(tiny):
    tiny.execute("INSERT INTO t VALUES ('b', NULL, true)")
    with pytest.raises(DataError, match=r"column 'x' has 1 NULL value\(s\) in arm 'b'"):
        compute_moments((tiny, "t"), variant="arm", columns=["flag", "x"])
    # A column without NULLs is still fine.
    assert compute_moments((tiny, "t"), variant="arm", columns=["flag"]).overall["b"].count == 3


def test_hostile_experiment_id_cannot_close_the_comment(tiny):
    result = compute_moments(
        (tiny, "t"), variant="arm", columns=["x"], experiment_id="exp */ DROP TABLE t; --"
    )
    header = result.statements[0].splitlines()[0]
    assert header.startswith("/* ablens experiment=exp")
    assert header.endswith(" */")
    assert header.count("*/") == 1
    assert result.overall["a"].count == 3
    assert tiny.execute("SELECT count(*) FROM t").fetchall() == [(5,)]
    opened = compute_moments((tiny, "t"), variant="arm", columns=["x"], team="see /* ticket 7")
    assert opened.overall["a"].count == 3


def test_odd_identifiers_are_quoted(tiny):
    # Column names are quoted by ablens; the table of a (connection, table) pair is a SQL name
    # (DuckDB's connection.table): schema-qualified, and quoted by the caller when odd.
    tiny.execute('CREATE TABLE "odd ""name""" AS SELECT arm AS "the arm", x AS "x""y" FROM t')
    result = compute_moments((tiny, '"odd ""name"""'), variant="the arm", columns=['x"y'])
    assert result.overall["b"].mean_of('x"y') == pytest.approx(4.0)
    assert result.overall["a"].variance('x"y') == pytest.approx(7 / 3, rel=1e-14)
    tiny.execute("CREATE SCHEMA s; CREATE TABLE s.t AS SELECT * FROM t WHERE arm = 'a'")
    qualified = compute_moments((tiny, "s.t"), variant="arm", columns=["x"])
    assert list(qualified.overall) == ["a"]
    assert qualified.overall["a"].mean_of("x") == pytest.approx(7 / 3, rel=1e-15)


def test_unknown_or_empty_table_name_is_an_ablens_error(tiny):
    with pytest.raises(DataError, match=r"^table 'nope' cannot be read from the DuckDB connection"):
        compute_moments((tiny, "nope"), variant="arm", columns=["x"])
    with pytest.raises(InputError, match=r"^table == '', must name a table or view"):
        compute_moments((tiny, ""), variant="arm", columns=["x"])


def test_the_packaged_demo_plan_is_the_example_plan():
    example = Path(__file__).resolve().parents[1] / "examples" / "plan.yaml"
    assert demo.demo_plan_text() == example.read_text(encoding="utf-8")


def test_write_demo_writes_data_and_plan_that_read_as_they_are(tmp_path):
    pytest.importorskip("yaml", reason="plans need PyYAML")
    from ablens.analysis_plan import load_plan  # noqa: PLC0415 - needs PyYAML
    from ablens.readout import run_readout  # noqa: PLC0415

    path = demo.write_demo(tmp_path / "new", users=20_000)
    assert path == tmp_path / "new" / "plan.yaml"
    assert sorted(p.name for p in path.parent.iterdir()) == ["ablens_demo.duckdb", "plan.yaml"]
    readout = run_readout(load_plan(path))
    assert sum(readout.result.counts) == 20_000
    assert readout.plan.experiment_id == "ablens-demo"
    # 20,000 users is the plan's sample, too few for the demo's +5% lift in conversion: the
    # sample is in, so the flat result is final.
    assert readout.verdict.label == "No detectable effect"
    assert readout.verdict.reason.startswith(
        "At the planned size no primary metric moved beyond chance: conversion"
    )
    with pytest.raises(InputError, match="users"):
        demo.write_demo(tmp_path / "none", users=1)
