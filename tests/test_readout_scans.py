"""One scan per readout: the engine's own statistics count what a plan's readout ran.

A plan with segments, a post-stratified metric, a CUPED metric and sequential looks reads the
table in one grouped query, whose shifts (the pilot) come from a ``LIMIT 10000`` subquery of the
same statement; a quantile or rank metric adds its own queries. DuckDB's ``QueryLog`` lists the
statements it ran; PostgreSQL's ``pg_stat_user_tables`` counts the sequential scans of the table
and the rows they read. The readout's numbers are those of a direct per-piece computation
(`ablens.analyze` and `ablens.analyze_looks`, each with its own queries) to 1e-12.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import duckdb
import numpy as np
import pyarrow as pa
import pytest

from ablens import demo
from ablens.analysis_plan import load_plan, plan_from_dict
from ablens.analysis_plan.run import run_plan
from ablens.data.looks import TimeColumnError
from ablens.errors import DataError
from ablens.readout import run_readout
from ablens.sequential import analyze_looks
from helpers import same_numbers

if TYPE_CHECKING:
    from ablens.analysis_plan import AnalysisPlan

ROWS = 50_000


def _table(rows: int = ROWS) -> pa.Table:
    columns = demo.generate(rows, seed=19)
    columns["region"] = np.array(["north", "south", "east"])[columns["user_id"] % 3]
    return pa.table(columns)


def _plan(source: dict[str, Any], *, quantile: bool = False) -> AnalysisPlan:
    metrics: list[dict[str, Any]] = [
        {"name": "conversion", "kind": "proportion", "column": "converted", "role": "primary"},
        {
            "name": "revenue (CUPED)",
            "kind": "mean",
            "column": "revenue",
            "covariates": ["pre_revenue"],
            "adjustment": "cuped",
            "role": "primary",
        },
        {
            "name": "revenue by platform",
            "kind": "post-stratified",
            "column": "revenue",
            "stratum": "platform",
        },
        {"kind": "ratio", "numerator": "orders", "denominator": "sessions", "role": "guardrail"},
    ]
    if quantile:
        metrics.append({"kind": "quantile", "column": "minutes", "probability": 0.9})
    return plan_from_dict(
        {
            "experiment_id": "one-scan",
            "source": source,
            "control": "control",
            "metrics": metrics,
            "segments": ["region"],
            "sequential": "group-sequential",
            "time": "exposure_day",
            "planned": {"sample_size": ROWS},
        }
    )


def _duckdb_statements(connection: duckdb.DuckDBPyConnection) -> list[str]:
    """Statements DuckDB ran that read the table ``users`` (its own query log)."""
    rows = connection.sql(
        "SELECT message FROM duckdb_logs WHERE type = 'QueryLog' ORDER BY timestamp"
    ).fetchall()
    return [m for (m,) in rows if "users" in m and "duckdb_logs" not in m]


@pytest.fixture
def logged() -> duckdb.DuckDBPyConnection:
    connection = duckdb.connect()
    connection.register("arrow_users", _table())
    connection.sql("CREATE TABLE users AS SELECT * FROM arrow_users")
    connection.unregister("arrow_users")
    connection.sql("CALL enable_logging('QueryLog')")
    return connection


@pytest.mark.parametrize("quantile", [False, True])
def test_a_readout_reads_a_duckdb_table_once(logged: duckdb.DuckDBPyConnection, quantile: bool):
    plan = _plan({"path": "unused.parquet"}, quantile=quantile)
    readout = run_readout(plan, data=(logged, "users"))
    statements = _duckdb_statements(logged)
    moments = [s for s in statements if '"__s0"' in s]
    others = [s for s in statements if s not in moments]
    # One grouped scan for every moment, by look, segment and stratum, its pilot inside.
    assert len(moments) == 1, statements
    assert all(f'"{key}"' in moments[0] for key in ("exposure_day", "region", "platform"))
    assert "LIMIT 10000" in moments[0]
    # The quantile's own queries (its counts, then its order statistics) read only its column.
    assert len(others) == (2 if quantile else 0), others
    assert all('"minutes"' in s and '"revenue"' not in s for s in others)
    # The readout says how it read the table, and why the quantile has its own queries.
    reads = readout.to_dict()["reads"]
    assert reads[0].startswith("One grouped scan of the table by (exposure_day, region, platform")
    assert len(reads) == 1 + quantile
    assert not quantile or reads[1].startswith("minutes p90 (quantile): its own queries")
    assert [r.looks is not None for r in readout.sequential] == [True, True, False, True]


def test_the_direct_per_piece_readout_needs_many_queries(logged: duckdb.DuckDBPyConnection):
    """What the one scan replaces: each piece (analysis, strata, each look) its own query."""
    plan = _plan({"path": "unused.parquet"})
    run_plan(plan, data=(logged, "users"))
    analysis = len(_duckdb_statements(logged))
    assert analysis == 2  # the moments, then the strata


def _direct(plan: AnalysisPlan, data: object) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The analysis and every sequential reading's looks, each piece with its own queries."""
    result = run_plan(plan, data=data)
    looks = []
    specs = {spec.name: spec for spec in plan.metrics}
    for c in result.comparisons:
        if c.role not in ("primary", "guardrail") or c.kind == "post-stratified":
            continue
        alpha = plan.alpha / c.family_size if c.correction is not None else plan.alpha
        direct = analyze_looks(
            data,
            specs[c.metric].to_metric(),
            control=plan.control,
            treatment=c.treatment,
            variant=plan.variant,
            time="exposure_day",
            method="group-sequential",
            alpha=alpha,
            planned_units=ROWS,
        )
        looks.append(direct.to_dict())
    return result.to_dict(), looks


def test_one_scan_gives_the_numbers_of_a_direct_per_piece_computation(
    logged: duckdb.DuckDBPyConnection,
):
    plan = _plan({"path": "unused.parquet"}, quantile=True)
    readout = run_readout(plan, data=(logged, "users"))
    analysis, looks = _direct(plan, (logged, "users"))
    same_numbers(readout.result.to_dict(), analysis, rel=1e-12)
    got = [r.looks.to_dict() for r in readout.sequential if r.looks is not None]
    same_numbers(got, looks, rel=1e-12)
    assert len(got) == 3  # conversion, CUPED revenue, the ratio guardrail
    assert set(readout.result.segments) == {"region=east", "region=north", "region=south"}


def test_the_demo_readout_is_unchanged(tmp_path):
    """The demo plan (segments, CUPED, a quantile and a rank test, a unit check) to 1e-12."""
    database = tmp_path / demo.DEMO_DATABASE
    demo.run(database, users=20_000, seed=5)
    text = demo.demo_plan_text().replace(
        "sequential: none", "sequential: msprt\ntime: exposure_day"
    )
    (tmp_path / "plan.yaml").write_text(text, encoding="utf-8")
    plan = load_plan(tmp_path / "plan.yaml")
    assert plan.time == "exposure_day"
    readout = run_readout(plan)
    direct = run_plan(plan)
    same_numbers(readout.result.to_dict(), direct.to_dict(), rel=1e-12)
    with duckdb.connect(str(database), read_only=True) as connection:
        for reading in readout.sequential:
            if reading.looks is None:
                continue
            specs = {spec.name: spec for spec in plan.metrics}
            want = analyze_looks(
                (connection, "users"),
                specs[reading.metric].to_metric(),
                control=plan.control,
                treatment=reading.treatment,
                time="exposure_day",
                method="msprt",
                alpha=reading.alpha,
                planned_units=plan.planned.sample_size,
                unit=plan.unit,
            )
            same_numbers(reading.looks.to_dict(), want.to_dict(), rel=1e-12)


def _table_stats(backend: Any, table: str) -> tuple[int, int]:
    """(sequential scans, rows they read) of ``table``, from PostgreSQL's own statistics."""
    # Each backend sends its counters at most once a second after a transaction: wait for them.
    time.sleep(1.5)
    with backend.con.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")
    query = "SELECT seq_scan, seq_tup_read FROM pg_stat_user_tables WHERE relname = %s"
    with backend.con.cursor() as cursor:
        cursor.execute(query, (table,))
        ((scans, rows),) = cursor.fetchall()
    return int(scans), int(rows)


def test_a_readout_reads_a_postgresql_table_once(ibis_postgres, postgres_url):
    table = _table()
    ibis_postgres.create_table("one_scan_users", table, overwrite=True)
    plan = _plan({"path": "unused.parquet"})
    data = ibis_postgres.table("one_scan_users")
    before = _table_stats(ibis_postgres, "one_scan_users")
    readout = run_readout(plan, data=data)
    after = _table_stats(ibis_postgres, "one_scan_users")
    scans, rows = after[0] - before[0], after[1] - before[1]
    # One statement: the grouped scan reads every row, its pilot subquery at most 10,000 more
    # (PostgreSQL counts that subquery as a sequential scan of its own).
    assert scans == 2, (scans, rows)
    assert ROWS <= rows <= ROWS + 10_000, rows
    assert [r.looks is not None for r in readout.sequential] == [True, True, False, True]


def test_too_many_cells_for_one_scan_falls_back_to_the_per_piece_queries(monkeypatch):
    """More (time, segment, stratum) cells than one scan holds: each piece runs its own query."""
    import ablens.data.scan  # noqa: PLC0415

    table = _table(5_000)
    plan = _plan({"path": "unused.parquet"})
    one_scan = run_readout(plan, data=table)
    original = ablens.data.scan.scan_moments
    monkeypatch.setattr(
        ablens.data.scan,
        "scan_moments",
        lambda *args, **kwargs: original(*args, **{**kwargs, "max_cells": 3}),
    )
    readout = run_readout(plan, data=table)
    assert readout.reads[0].startswith("The moments ran as separate queries")
    direct = run_plan(plan, data=table)
    same_numbers(readout.result.to_dict(), direct.to_dict(), rel=1e-12)
    assert [r.reason for r in readout.sequential] == [r.reason for r in one_scan.sequential]
    for fallback, scanned in zip(readout.sequential, one_scan.sequential, strict=True):
        if scanned.looks is not None:
            assert fallback.looks is not None
            assert fallback.looks.rows[-1].sequential_p_value == pytest.approx(
                scanned.looks.rows[-1].sequential_p_value, rel=1e-12
            )


def test_a_timestamp_like_look_column_is_refused_whichever_way_it_is_read():
    """More look values than ablens reads is bad data in the plan's time column: refused."""
    rows = 30_000
    table = _table(rows).set_column(
        _table(rows).schema.get_field_index("exposure_day"),
        "exposure_day",
        pa.array(np.arange(rows)),
    )
    plan = _plan({"path": "unused.parquet"})
    with pytest.raises(TimeColumnError, match="more than 366 distinct values"):
        run_readout(plan, data=table)


def test_a_segment_with_too_many_values_is_refused_as_before():
    table = _table(5_000)
    plan = plan_from_dict(
        {
            "experiment_id": "many",
            "source": {"path": "unused.parquet"},
            "control": "control",
            "metrics": [{"kind": "mean", "column": "revenue"}],
            "segments": ["user_id"],
        }
    )
    with pytest.raises(DataError, match=r"segments \['user_id'\] have more than max_segments"):
        run_readout(plan, data=table)
