"""Fixtures shared by the whole test suite."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]

# Scripts that write peer-tool fixtures run in a scratch environment with the peer installed
# (statsmodels, ...); they are not tests and cannot be imported here.
collect_ignore_glob = ["fixtures/peers/*.py"]


def reference_data_dir() -> Path:
    """The reference data committed with the tests, ``tests/fixtures/reference-data``.

    A missing folder fails the calling test: a test that cannot check its numbers must not pass
    silently, nor be skipped.
    """
    path = REPO_ROOT / "tests" / "fixtures" / "reference-data"
    if not path.is_dir():
        pytest.fail(
            f"reference data not found at {path}: restore tests/fixtures/reference-data "
            "(git checkout -- tests/fixtures)",
            pytrace=False,
        )
    return path


@pytest.fixture(name="reference_data_dir", scope="session")
def reference_data_dir_fixture() -> Path:
    """`reference_data_dir` as a fixture."""
    return reference_data_dir()


# ---------------------------------------------------------------------------------------------
# Engines: PostgreSQL (through ibis) and Spark. A missing engine skips the test on a developer's
# machine and fails it under CI; see tests/engines.py.

from typing import TYPE_CHECKING  # noqa: E402

import engines  # noqa: E402 - tests/ is on sys.path (rootdir-relative conftest import)

if TYPE_CHECKING:
    from collections.abc import Iterator

    from ibis.backends.postgres import Backend as PostgresBackend
    from pyspark.sql import SparkSession


@pytest.fixture(scope="session")
def full_demo_database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo experiment at its full 200,000 users in DuckDB (table ``users``), with views
    ``users_day8`` and ``users_day11`` cut at an exposure day, as a daily job would read it.

    Read-only for the tests that share it: a test needing other tables makes its own copy.
    """
    import duckdb  # noqa: PLC0415 - the demo's engine, only for the tests that use it

    from ablens import demo  # noqa: PLC0415

    path = tmp_path_factory.mktemp("full-demo") / "demo.duckdb"
    demo.run(path, users=200_000)
    with duckdb.connect(str(path)) as connection:
        for day in (8, 11):
            connection.sql(
                f"CREATE VIEW users_day{day} AS SELECT * FROM users WHERE exposure_day <= {day}"  # noqa: S608 - fixed test SQL
            )
    return path


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """URL of a writable PostgreSQL database: ``ABLENS_TEST_POSTGRES_URL``, or a temporary one."""
    yield from engines.postgres_url()


@pytest.fixture(scope="session")
def ibis_postgres(postgres_url: str) -> Iterator[PostgresBackend]:
    """An ibis PostgreSQL backend connected to `postgres_url`, shared by the session."""
    try:
        import ibis  # noqa: PLC0415 - optional engine
    except ImportError:
        engines.engine_unavailable("ibis is not installed (pip install 'ablens[postgres]')")
    try:
        backend = ibis.connect(postgres_url)
    except ImportError as error:
        engines.engine_unavailable(f"ibis cannot load its PostgreSQL backend: {error}")
    try:
        yield backend
    finally:
        backend.disconnect()


@pytest.fixture(scope="session")
def spark() -> Iterator[SparkSession]:
    """One local SparkSession (``local[1]``, UTC, no UI) shared by the session, stopped after it."""
    yield from engines.spark_session()


# ---------------------------------------------------------------------------------------------
# Markers, so a contributor can run the fast suite locally (`pytest -m "not slow and not engine"`)
# while CI runs everything: a test is `engine` when it uses a PostgreSQL or Spark fixture (or a
# parameter naming one), `slow` when it lives in a module of simulations or experiment projects.
_ENGINE_FIXTURES = {"postgres_url", "ibis_postgres", "spark"}
_ENGINE_WORDS = ("postgres", "spark")
_SLOW_MODULES = ("simulation", "tests/project/", "test_planning_engines")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))
        call_id = getattr(item, "callspec", None)
        params = " ".join(map(str, call_id.params.values())) if call_id is not None else ""
        if fixtures & _ENGINE_FIXTURES or any(word in params for word in _ENGINE_WORDS):
            item.add_marker(pytest.mark.engine)
        if any(part in item.nodeid for part in _SLOW_MODULES):
            item.add_marker(pytest.mark.slow)
