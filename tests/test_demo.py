"""The demo experiment and the DuckDB adapter that computes its moments."""

from __future__ import annotations

import math

import duckdb
import numpy as np
import pytest

from ablens import DataError, InputError, Moments, demo
from ablens.data.duckdb import moments_by_arm, moments_sql

USERS = 20_000
SEED = 2026
COLUMNS = ("user_id", "variant", "platform", "sessions", "orders", "revenue", "converted",
           "pre_revenue", "exposure_day")  # fmt: skip
METRIC_NAMES = {"conversion", "revenue per user", "orders per user", "sessions per user"}
NUMERIC = ["converted", "orders", "revenue", "sessions", "pre_revenue"]


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    return demo.run(tmp_path_factory.mktemp("demo") / "d.duckdb", users=USERS, seed=SEED)


@pytest.fixture(scope="module")
def frame():
    return demo.generate(USERS, SEED)


# --------------------------------------------------------------------------- generate


def test_generate_has_the_documented_columns(frame):
    assert set(frame) == set(COLUMNS)
    assert all(len(values) == USERS for values in frame.values())
    assert frame["user_id"].tolist() == list(range(1, USERS + 1))
    assert set(np.unique(frame["variant"])) == {"control", "new_checkout"}
    assert set(np.unique(frame["platform"])) == {"ios", "android", "web"}
    assert frame["converted"].dtype == np.bool_
    assert frame["sessions"].min() >= 1
    assert set(np.unique(frame["exposure_day"])) <= set(range(14))
    # Orders and revenue only for converters; every converter orders at least once.
    assert np.all((frame["orders"] > 0) == frame["converted"])
    assert np.all((frame["revenue"] > 0) <= frame["converted"])
    assert np.all(frame["revenue"] >= 0)
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
    assert {m.name for m in metrics} == METRIC_NAMES
    assert {m.required_columns()[0] for m in metrics} == set(demo.TRUE_EFFECTS)
    assert [m.role for m in metrics] == ["primary", "secondary", "secondary", "guardrail"]


# --------------------------------------------------------------------------- run


def test_run_analyzes_the_four_metrics(demo_run, frame):
    result = demo_run.result
    assert demo_run.users == USERS
    assert demo_run.database.is_file()
    assert {c.metric for c in result.comparisons} == METRIC_NAMES
    assert len(result.comparisons) == 4
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
    for name in METRIC_NAMES:
        assert name in text
    assert text.count("true lift") == 4


def test_run_replaces_an_existing_database(tmp_path):
    path = tmp_path / "again.duckdb"
    path.write_text("not a database")
    outcome = demo.run(path, users=1_000, seed=3)
    assert outcome.result.counts[0] + outcome.result.counts[1] == 1_000
    with duckdb.connect(str(path), read_only=True) as connection:
        assert connection.execute("SELECT count(*) FROM users").fetchone() == (1_000,)


# --------------------------------------------------------------------------- moments_by_arm


def test_duckdb_moments_equal_numpy_moments(demo_run, frame):
    with duckdb.connect(str(demo_run.database), read_only=True) as connection:
        moments = moments_by_arm(connection, demo.TABLE, "variant", NUMERIC)
    assert set(moments) == {"control", "new_checkout"}
    for arm, got in moments.items():
        rows = frame["variant"] == arm
        expected = Moments.from_columns({c: frame[c][rows].astype(float) for c in NUMERIC})
        assert got.count == expected.count == int(rows.sum())
        assert got.columns == tuple(NUMERIC)
        for column in NUMERIC:
            assert got.mean_of(column) == pytest.approx(expected.mean_of(column), rel=1e-12)
            assert got.variance(column) == pytest.approx(expected.variance(column), rel=1e-12)
        for i, a in enumerate(NUMERIC):
            for b in NUMERIC[i + 1 :]:
                scale = math.sqrt(expected.variance(a) * expected.variance(b))
                assert got.covariance(a, b) == pytest.approx(
                    expected.covariance(a, b), abs=1e-12 * scale
                )


def test_duckdb_moments_only_compute_requested_pairs(demo_run):
    with duckdb.connect(str(demo_run.database), read_only=True) as connection:
        moments = moments_by_arm(
            connection, demo.TABLE, "variant", ["orders", "revenue", "sessions"],
            pairs=[("revenue", "orders")],
        )  # fmt: skip
    m = moments["control"]
    assert math.isfinite(m.covariance("orders", "revenue"))
    assert m.covariance("orders", "revenue") > 0
    with pytest.raises(InputError, match=r"cross-moment of 'orders' and 'sessions'"):
        m.covariance("orders", "sessions")


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


def test_moments_by_arm_on_a_tiny_table(tiny):
    moments = moments_by_arm(tiny, "t", "arm", ["x", "flag"])
    assert moments["a"].count == 3
    assert moments["a"].mean_of("x") == pytest.approx(7 / 3, rel=1e-15)
    assert moments["a"].variance("x") == pytest.approx(7 / 3, rel=1e-14)
    assert moments["a"].mean_of("flag") == pytest.approx(2 / 3, rel=1e-15)
    assert moments["b"].variance("x") == pytest.approx(2.0, rel=1e-14)
    assert moments["b"].variance("flag") == 0.0
    assert moments["a"].covariance("x", "flag") == pytest.approx(1 / 6, rel=1e-13)


def test_moments_by_arm_rejects_null_variant(tiny):
    tiny.execute("INSERT INTO t VALUES (NULL, 6, true), (NULL, 7, false)")
    with pytest.raises(DataError, match=r"2 row\(s\) have a NULL 'arm'"):
        moments_by_arm(tiny, "t", "arm", ["x"])


def test_moments_by_arm_rejects_null_metric_values(tiny):
    tiny.execute("INSERT INTO t VALUES ('b', NULL, true)")
    with pytest.raises(DataError, match=r"column 'x' has 1 NULL value\(s\) in arm 'b'"):
        moments_by_arm(tiny, "t", "arm", ["flag", "x"])
    # A column without NULLs is still fine.
    assert moments_by_arm(tiny, "t", "arm", ["flag"])["b"].count == 3


# --------------------------------------------------------------------------- moments_sql


def test_moments_sql_leading_comment_and_requested_pairs_only():
    sql = moments_sql("events", "variant", ["a", "b", "c"], pairs=[("c", "a")], comment="exp-42")
    assert sql.startswith("/* exp-42 */\n")
    # Squares of every column, and only the requested cross pair.
    for alias in ("c0_0", "c1_1", "c2_2", "c0_2"):
        assert f"AS {alias}" in sql
    assert "AS c0_1" not in sql
    assert "AS c1_2" not in sql
    assert 'FROM "events", pilot' in sql
    assert 'GROUP BY "variant"' in sql


def test_moments_sql_defaults():
    sql = moments_sql("events", "variant", ["a", "b", "c"])
    assert not sql.startswith("/*")
    for alias in ("c0_1", "c0_2", "c1_2"):
        assert f"AS {alias}" in sql
    assert "AS c1_0" not in sql
    none = moments_sql("events", "variant", ["a", "b"], pairs=[])
    assert "AS c0_1" not in none
    assert "AS c0_0" in none


def test_moments_sql_comment_cannot_close_early(tiny):
    sql = moments_sql("t", "arm", ["x"], comment="exp */ DROP TABLE t; --")
    header = sql.splitlines()[0]
    assert header.startswith("/* exp")
    assert header.endswith(" */")
    assert header.count("*/") == 1
    assert (
        moments_by_arm(tiny, "t", "arm", ["x"], comment="exp */ DROP TABLE t; --")["a"].count == 3
    )
    assert tiny.execute("SELECT count(*) FROM t").fetchone() == (5,)


def test_moments_sql_quotes_identifiers(tiny):
    tiny.execute('CREATE TABLE "odd ""name""" AS SELECT arm AS "the arm", x AS "x""y" FROM t')
    sql = moments_sql('odd "name"', "the arm", ['x"y'])
    assert '"odd ""name"""' in sql
    moments = moments_by_arm(tiny, 'odd "name"', "the arm", ['x"y'])
    assert moments["b"].mean_of('x"y') == pytest.approx(4.0)


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (("", "v", ["x"]), r"table == '', must be a non-empty string"),
        (("t", "", ["x"]), r"variant == '', must be a non-empty string"),
        (("t", "v", []), r"columns is empty"),
    ],
)
def test_moments_sql_rejects(args, match):
    with pytest.raises(InputError, match=match):
        moments_sql(*args)


def test_moments_sql_rejects_pairs_outside_columns():
    with pytest.raises(InputError, match=r"pairs"):
        moments_sql("t", "v", ["x"], pairs=[("x", "y")])


def test_moments_sql_comment_may_contain_an_opening_marker(tiny):
    moments = moments_by_arm(tiny, "t", "arm", ["x"], comment="see /* ticket 7")
    assert moments["a"].count == 3
