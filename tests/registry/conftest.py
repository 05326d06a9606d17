"""Fixtures of the registry tests: a synthetic experiment and a registry on each backend."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from ablens import demo
from ablens.analysis_plan import load_plan
from ablens.readout import run_readout
from ablens.registry import plan_moments

PLAN = Path(__file__).resolve().parents[2] / "src" / "ablens" / "demo_plan.yaml"
USERS = 20_000
TABLES = (
    "ablens_schema_version",
    "ablens_runs",
    "ablens_comparisons",
    "ablens_moments",
    "ablens_comoments",
)


@pytest.fixture(scope="session")
def experiment(tmp_path_factory):
    """The demo experiment (20,000 users over 14 exposure days, by platform) as parquet, with
    its plan reading it per exposure day, the readout and the per-day moments."""
    folder = tmp_path_factory.mktemp("experiment")
    pl.DataFrame(demo.generate(users=USERS)).write_parquet(folder / "users.parquet")
    text = PLAN.read_text()
    text = text.replace(
        "source:\n  duckdb:\n    file: ablens_demo.duckdb   # relative to this file's folder\n"
        "    table: users\n",
        "source:\n  path: users.parquet\n",
    )
    text = text.replace("sequential: none", "sequential: none\ntime: exposure_day")
    assert "path: users.parquet" in text
    assert "time: exposure_day" in text
    plan_file = folder / "plan.yaml"
    plan_file.write_text(text)
    plan = load_plan(plan_file)
    return plan_file, plan, run_readout(plan), plan_moments(plan)


def drop_tables(url: str) -> None:
    import psycopg  # noqa: PLC0415 - PostgreSQL tests only

    with psycopg.connect(url, autocommit=True) as connection:
        for table in TABLES:
            connection.execute(f"DROP TABLE IF EXISTS {table}")  # fixed names above


@pytest.fixture(params=["duckdb", "postgres"])
def registry_url(request, tmp_path) -> str:
    """A registry URL with no registry in it yet: a new DuckDB file, or a PostgreSQL database
    with the registry's tables dropped."""
    if request.param == "duckdb":
        return str(tmp_path / "registry.duckdb")
    url = request.getfixturevalue("postgres_url")
    drop_tables(url)
    return url


@pytest.fixture
def empty_postgres(postgres_url) -> str:
    """The test PostgreSQL database with the registry's tables dropped."""
    drop_tables(postgres_url)
    return postgres_url
