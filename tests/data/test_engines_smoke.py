"""Smoke tests of the engine fixtures: each engine really runs and returns real numbers.

Under CI these must pass, never skip (see tests/engines.py).
"""

from __future__ import annotations

import uuid

import pandas as pd
import pyarrow as pa
import pytest


def test_postgres_through_ibis_round_trip_and_aggregate(ibis_postgres):
    assert "PostgreSQL" in ibis_postgres.raw_sql("SELECT version()").fetchone()[0]
    data = pa.table(
        {
            "arm": ["control", "control", "control", "treatment", "treatment"],
            "revenue": [1.0, 2.0, 6.0, 4.0, 8.0],
        }
    )
    name = f"ablens_smoke_{uuid.uuid4().hex[:12]}"
    table = ibis_postgres.create_table(name, data)
    try:
        back = ibis_postgres.table(name).order_by(["arm", "revenue"]).to_pyarrow()
        per_arm = (
            table.group_by("arm")
            .aggregate(
                n=table.count(),
                mean=table.revenue.mean(),
                variance=table.revenue.var(),
            )
            .order_by("arm")
            .to_pyarrow()
            .to_pylist()
        )
    finally:
        ibis_postgres.drop_table(name)
    assert back.column("revenue").to_pylist() == [1.0, 2.0, 6.0, 4.0, 8.0]
    assert per_arm == [
        {"arm": "control", "n": 3, "mean": pytest.approx(3.0), "variance": pytest.approx(7.0)},
        {"arm": "treatment", "n": 2, "mean": pytest.approx(6.0), "variance": pytest.approx(8.0)},
    ]
    assert name not in ibis_postgres.list_tables()


def test_spark_group_by_from_pandas(spark):
    from pyspark.sql import functions as sf  # noqa: PLC0415 - keep collection free of pyspark

    assert spark.conf.get("spark.sql.session.timeZone") == "UTC"
    frame = spark.createDataFrame(
        pd.DataFrame(
            {
                "arm": ["control", "control", "control", "treatment", "treatment"],
                "revenue": [1.0, 2.0, 6.0, 4.0, 8.0],
            }
        )
    )
    per_arm = (
        frame.groupBy("arm")
        .agg(
            sf.count("*").alias("n"),
            sf.avg("revenue").alias("mean"),
            sf.var_samp("revenue").alias("variance"),
        )
        .orderBy("arm")
    )
    rows = [row.asDict() for row in per_arm.collect()]
    assert rows == [
        {"arm": "control", "n": 3, "mean": pytest.approx(3.0), "variance": pytest.approx(7.0)},
        {"arm": "treatment", "n": 2, "mean": pytest.approx(6.0), "variance": pytest.approx(8.0)},
    ]
    back = per_arm.toPandas()
    assert back["n"].tolist() == [3, 2]
    assert back["mean"].tolist() == pytest.approx([3.0, 6.0])
