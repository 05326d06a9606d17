"""Cost attribution: every query ablens sends is tagged with the experiment and team.

SQL engines get a leading comment ``/* ablens experiment=... team=... */`` (checked in DuckDB's
own query log and in PostgreSQL's ``pg_stat_activity``); BigQuery and Snowflake SQL is compiled
from an unbound Ibis table (no account needed); BigQuery jobs get labels; Spark jobs run in the
job group ``ablens-<experiment>``. A tag holding ``*/`` or ``/*`` cannot end the comment early.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import ibis
import narwhals as nw
import numpy as np
import pyarrow as pa
import pytest
import sqlglot

from ablens import Moments, compute_moments
from ablens.data import bigquery_labels
from ablens.data._source import ibis_sql, query_comment
from ablens.data.engine import moments_query
from materialize import Tables

if TYPE_CHECKING:
    from collections.abc import Iterator

EXPERIMENT = "checkout-42"
TEAM = "growth"
COMMENT = "/* ablens experiment=checkout-42 team=growth */"
N = 300


def table_columns() -> dict[str, Any]:
    rng = np.random.default_rng(5)
    return {
        "user_id": np.arange(N, dtype=np.int64),
        "variant": np.where(np.arange(N) % 3 == 0, "control", "treatment"),
        "country": np.where(np.arange(N) % 2 == 0, "de", "fr"),
        "revenue": rng.gamma(2.0, 10.0, N),
        "orders": rng.poisson(1.5, N).astype(np.int64),
    }


def assert_correct(result: Any) -> None:
    data = table_columns()
    for arm in ("control", "treatment"):
        rows = data["variant"] == arm
        want = Moments.from_columns({c: data[c][rows].astype(float) for c in ("revenue", "orders")})
        got = result.overall[arm]
        assert got.count == want.count
        for column in ("revenue", "orders"):
            assert got.mean_of(column) == pytest.approx(want.mean_of(column), rel=1e-12)
            assert got.variance(column) == pytest.approx(want.variance(column), rel=1e-12)


def run(data: object, **tags: Any) -> Any:
    return compute_moments(
        data,
        variant="variant",
        columns=["revenue", "orders"],
        segments=["country"],
        unit="user_id",
        **({"experiment_id": EXPERIMENT, "team": TEAM} | tags),
    )


@pytest.fixture(scope="module")
def tables(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tables]:
    with Tables(tmp_path_factory.mktemp("cost")) as made:
        yield made


def make(backend: str, tables: Tables, request: pytest.FixtureRequest) -> object:
    return tables.make(backend, "cost", pa.table(table_columns()), request)


# ---------------------------------------------------------------------------- the comment
def test_comment_format() -> None:
    assert query_comment(EXPERIMENT, TEAM) == COMMENT
    assert query_comment(EXPERIMENT, None) == "/* ablens experiment=checkout-42 */"
    assert query_comment(None, None) == "/* ablens */"


@pytest.mark.parametrize(
    ("experiment", "team"),
    [
        ("x */ DROP TABLE cost; --", None),
        ("see /* ticket 7", "a*/b"),
        ("**/*/**", "/*/"),
        ("line\nbreak */", "--"),
    ],
)
def test_comment_cannot_be_closed_or_nested(experiment: str, team: str | None) -> None:
    comment = query_comment(experiment, team)
    assert comment.startswith("/* ablens experiment=")
    assert comment.endswith(" */")
    body = comment[2:-2]
    assert "*/" not in body
    assert "/*" not in body
    # A SQL parser sees exactly one comment and the statement after it.
    parsed = sqlglot.parse_one(f"{comment}\nSELECT 1 AS one", read="postgres")
    assert parsed.sql(comments=False) == "SELECT 1 AS one"
    assert parsed.comments == [comment[2:-2]]


# ---------------------------------------------------------------------------- DuckDB
def duckdb_query_log(connection: Any) -> list[str]:
    rows = connection.sql("SELECT message FROM duckdb_logs WHERE type = 'QueryLog'").fetchall()
    return [message for (message,) in rows if "duckdb_logs" not in message]


def test_duckdb_every_query_sent_is_commented_and_listed(
    tables: Tables, request: pytest.FixtureRequest
) -> None:
    connection, name = make("duckdb-table", tables, request)
    connection.execute("CALL enable_logging('QueryLog')")
    try:
        result = run((connection, name))
        sent = duckdb_query_log(connection)
    finally:
        connection.execute("CALL disable_logging()")
        connection.execute("CALL truncate_duckdb_logs()")
    assert_correct(result)
    # Grouped moments (with the pilot inside) and unit checks: two statements, all tagged, none
    # untagged, and MomentsByArm.statements lists exactly what DuckDB ran.
    assert len(sent) == 2
    for statement in sent:
        assert statement.startswith(COMMENT + "\n"), statement[:80]
    assert sorted(result.statements) == sorted(sent)
    for marker in ('"__c0_0"', '"__distinct_units"'):  # moments, unit check
        assert sum(marker in s for s in result.statements) == 1, marker
    # The pilot is a subquery of the moments' statement, not a round trip of its own.
    assert sum("LIMIT 10000" in s for s in result.statements) == 1
    assert "LIMIT 10000" in next(s for s in result.statements if '"__c0_0"' in s)


def test_parquet_path_statements_are_commented(
    tables: Tables, request: pytest.FixtureRequest
) -> None:
    result = run(make("parquet", tables, request))
    assert_correct(result)
    assert result.statements
    for statement in result.statements:
        assert statement.startswith(COMMENT + "\n")
        assert "read_parquet" in statement or ".parquet" in statement


def test_hostile_tags_run_harmlessly_on_duckdb(
    tables: Tables, request: pytest.FixtureRequest
) -> None:
    connection, name = make("duckdb-table", tables, request)
    result = run((connection, name), experiment_id=f"x */ DROP TABLE {name}; --", team="/* t")
    assert_correct(result)
    assert len(result.statements) == 2  # moments (with their pilot) and unit checks
    for statement in result.statements:
        header = statement.splitlines()[0]
        assert header == f"/* ablens experiment=x * / DROP TABLE {name}; -- team=/ * t */"
    assert connection.execute(f'SELECT count(*) FROM "{name}"').fetchall() == [(N,)]  # noqa: S608


def test_untagged_queries_carry_the_bare_comment(
    tables: Tables, request: pytest.FixtureRequest
) -> None:
    connection, name = make("duckdb-table", tables, request)
    result = compute_moments((connection, name), variant="variant", columns=["revenue"])
    assert all(s.startswith("/* ablens */\n") for s in result.statements)


# ---------------------------------------------------------------------------- PostgreSQL
def test_postgres_statements_are_commented_and_reach_the_server(
    tables: Tables, request: pytest.FixtureRequest, postgres_url: str
) -> None:
    import psycopg  # noqa: PLC0415 - optional engine driver

    table = make("postgres", tables, request)
    backend = request.getfixturevalue("ibis_postgres")
    result = compute_moments(
        table,
        variant="variant",
        columns=["revenue", "orders"],
        segments=["country"],
        experiment_id=EXPERIMENT,
        team=TEAM,
    )
    assert_correct(result)
    (statement,) = result.statements  # the pilot is a subquery of it
    assert "LIMIT 10000" in statement
    assert statement.startswith(COMMENT + "\n")
    assert re.search(r"GROUP BY", statement)
    # The grouped query was the last one on ibis' connection: the server saw it, comment first.
    pid = backend.con.info.backend_pid
    with psycopg.connect(postgres_url, autocommit=True) as other:
        (query,) = other.execute(
            "SELECT query FROM pg_stat_activity WHERE pid = %s", [pid]
        ).fetchone()
    assert query.startswith(COMMENT + "\n")
    assert statement.startswith(query) or query == statement


def test_hostile_tags_run_harmlessly_on_postgres(
    tables: Tables, request: pytest.FixtureRequest
) -> None:
    table = make("postgres", tables, request)
    name = table.get_name()
    result = run(table, experiment_id=f"x */ DROP TABLE {name}; --", team="/* t")
    assert_correct(result)
    assert len(result.statements) == 2  # moments (with their pilot) and unit checks
    for statement in result.statements:
        assert statement.splitlines()[0] == (
            f"/* ablens experiment=x * / DROP TABLE {name}; -- team=/ * t */"
        )
    backend = request.getfixturevalue("ibis_postgres")
    assert name in backend.list_tables()
    cursor = backend.raw_sql(f'SELECT count(*) FROM "{name}"')  # noqa: S608
    try:
        assert cursor.fetchall() == [(N,)]
    finally:
        cursor.close()


# ---------------------------------------------------------------------------- BigQuery, Snowflake
PILOTS = (12.5, 1e-07, 1000000000.125)


@pytest.mark.parametrize("dialect", ["bigquery", "snowflake"])
def test_warehouse_sql_from_an_unbound_table(dialect: str) -> None:
    events = ibis.table(
        {
            "variant": "string",
            "country": "string",
            "revenue": "float64",
            "orders": "int64",
            "clicked": "boolean",
        },
        name="events",
    )
    query = moments_query(
        nw.from_native(events),
        variant="variant",
        columns=["revenue", "orders", "clicked"],
        pairs=[("revenue", "orders")],
        pilots=PILOTS,
        segments=["country"],
    )
    sql = ibis_sql(nw.to_native(query), dialect)
    flat = " ".join(sql.split())
    quote = "`" if dialect == "bigquery" else '"'

    def q(name: str) -> str:
        return f"{quote}{name}{quote}"

    # The shifted values, with the pilots as exact literals.
    assert re.search(rf"{q('revenue')} - 12\.5 AS {q('__d0')}", flat)
    assert re.search(rf"{q('orders')} AS \w+\) - 1e-0?7 AS {q('__d1')}", flat, re.IGNORECASE)
    assert re.search(rf"{q('clicked')} AS \w+\) AS \w+\) - 1000000000\.125 AS {q('__d2')}", flat)
    # Sums of shifted values and of the requested products only; counts; grouping.
    for alias in ("__s0", "__s1", "__s2", "__c0_0", "__c0_1", "__c1_1", "__c2_2"):
        assert re.search(rf"SUM\([^)]*\){'(, 0)?'}\)? AS {q(alias)}", flat), alias
    for alias in ("__c0_2", "__c1_2"):
        assert q(alias) not in flat
    assert f"COUNT(*) AS {q('__n')}" in flat
    assert "GROUP BY" in flat
    assert re.search(rf"{q('variant')} AS {q('__arm')}", flat)
    assert f"FROM {q('events')}" in flat
    # The literals parse back to the very floats: the shift is exact.
    literals = [
        float(node.this)
        for node in sqlglot.parse_one(sql, read=dialect).find_all(sqlglot.exp.Literal)
        if not node.is_string and ("." in node.this or "e" in node.this.lower())
    ]
    assert set(PILOTS) <= set(literals)
    # The comment prefix keeps the statement valid and is the only comment.
    statement = f"{query_comment(EXPERIMENT, TEAM)}\n{sql}"
    parsed = sqlglot.parse(statement, read=dialect)
    assert len(parsed) == 1
    assert parsed[0].comments == [" ablens experiment=checkout-42 team=growth "]
    assert parsed[0].sql(dialect, comments=False) == sqlglot.parse_one(sql, read=dialect).sql(
        dialect
    )


LABEL = re.compile(r"^[a-z0-9_-]{0,63}$")
KEY = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")


@pytest.mark.parametrize(
    ("experiment", "team", "expected"),
    [
        (
            "Checkout Test #7",
            "Growth",
            {"ablens_experiment": "checkout_test__7", "ablens_team": "growth"},
        ),
        ("exp-42_b", None, {"ablens_experiment": "exp-42_b"}),
        (None, None, {"ablens_experiment": "analysis"}),
        ("", "", {"ablens_experiment": "analysis"}),
        ("A" * 200, "Team.Name/With:Stuff", None),
        ("spaces and\ttabs\n", "UPPER", None),
    ],
)
def test_bigquery_labels_obey_the_label_rules(
    experiment: str | None, team: str | None, expected: dict[str, str] | None
) -> None:
    labels = bigquery_labels(experiment, team)
    if expected is not None:
        assert labels == expected
    assert len(labels) <= 64
    for key, value in labels.items():
        assert KEY.match(key), key
        assert LABEL.match(value), value
    if experiment and len(experiment) > 63:
        assert labels["ablens_experiment"] == "a" * 63


def test_bigquery_labels_of_international_text_stay_lowercase() -> None:
    # BigQuery allows international characters in labels, lowercase only, at most 63.
    labels = bigquery_labels("Ünïcode Tést ✓" * 10, "Équipe")
    for value in labels.values():
        assert value == value.lower()
        assert len(value) <= 63
        assert all(ch.isalnum() or ch in "_-" for ch in value)
    assert labels["ablens_team"] == "équipe"


# ---------------------------------------------------------------------------- Spark
def test_spark_jobs_run_in_the_experiment_job_group(
    tables: Tables, request: pytest.FixtureRequest
) -> None:
    frame = make("spark", tables, request)
    context = frame.sparkSession.sparkContext
    tracker = context.statusTracker()
    group = "ablens-spark-cost-7"
    untagged_before = set(tracker.getJobIdsForGroup(None))
    analysis_before = set(tracker.getJobIdsForGroup("ablens-analysis"))
    result = run(frame, experiment_id="spark-cost-7")
    assert_correct(result)
    assert result.statements == ()
    tagged = set(tracker.getJobIdsForGroup(group))
    assert tagged  # the pilot, the grouped moments and the unit checks
    # No job of this analysis ran untagged or under another group.
    assert set(tracker.getJobIdsForGroup(None)) == untagged_before
    assert set(tracker.getJobIdsForGroup("ablens-analysis")) == analysis_before
    # The thread's job group is restored: the next job is not billed to the experiment.
    assert context.getLocalProperty("spark.jobGroup.id") is None
    assert frame.select("user_id").distinct().count() == N
    assert set(tracker.getJobIdsForGroup(group)) == tagged
