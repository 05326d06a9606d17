"""Plans carry their cleaning: ``source.filter``, ``source.sql``, ``${VAR}`` paths, ``--data``.

The reference for every number is `ablens.analyze` on the same rows cleaned by hand in pandas:
a plan that cleans where the data live must reproduce it.
"""

from __future__ import annotations

import math
import textwrap

import numpy as np
import pytest
from typer.testing import CliRunner

import ablens
from ablens.analysis_plan import PlanError, load_plan, parse_plan, plan_json_schema, run_plan
from ablens.analysis_plan.run import with_data_file
from ablens.cli.app import app
from ablens.data.sources import RowFilter

pd = pytest.importorskip("pandas")
duckdb = pytest.importorskip("duckdb")
pytest.importorskip("pyarrow")

METRICS = textwrap.dedent(
    """\
    variant: variant
    unit: user_id
    control: control
    arms: [control, treatment]
    metrics:
      - {kind: mean, column: revenue, name: revenue}
      - {kind: proportion, column: converted, name: conversion, role: secondary}
    """
)
FILTER = (
    "  filter:\n"
    "    - {column: is_bot, value: false}\n"
    "    - {column: country, op: not-in, value: [XX]}\n"
    "    - {column: revenue, op: not-null}\n"
)


@pytest.fixture(scope="module")
def raw() -> pd.DataFrame:
    """Users with the dirt a plan cleans: bots, an internal test country, NULL revenue."""
    rng = np.random.default_rng(15)
    n = 3_000
    frame = pd.DataFrame(
        {
            "user_id": np.arange(n),
            "variant": rng.choice(["control", "treatment"], n),
            "country": rng.choice(["DE", "FR", "US", "XX"], n, p=[0.3, 0.3, 0.3, 0.1]),
            "is_bot": rng.random(n) < 0.05,
            "revenue": rng.gamma(2.0, 10.0, n).round(2),
            "converted": (rng.random(n) < 0.2).astype(np.int64),
        }
    )
    # Bots spend wildly and the test country converts always: left in, they move the result.
    frame.loc[frame["is_bot"], "revenue"] *= 50
    frame.loc[frame["country"] == "XX", "converted"] = 1
    frame["revenue"] = frame["revenue"].astype(object)
    frame.loc[rng.choice(n, 40, replace=False), "revenue"] = None
    frame["revenue"] = frame["revenue"].astype("float64")
    return frame


@pytest.fixture(scope="module")
def clean(raw) -> pd.DataFrame:
    """The hand-cleaned frame: the reference."""
    keep = (~raw["is_bot"]) & (raw["country"] != "XX") & raw["revenue"].notna()
    return raw[keep].reset_index(drop=True)


@pytest.fixture(scope="module")
def files(raw, tmp_path_factory):
    folder = tmp_path_factory.mktemp("cleaning")
    raw.to_parquet(folder / "users.parquet", index=False)
    with duckdb.connect(str(folder / "shop.duckdb")) as connection:
        connection.register("raw_frame", raw)
        connection.execute("CREATE TABLE users AS SELECT * FROM raw_frame")
        # One row per event: the sql source aggregates them to one row per user.
        connection.execute(
            "CREATE TABLE events AS SELECT user_id, variant, country, is_bot, "
            "revenue / 2 AS amount FROM raw_frame UNION ALL SELECT user_id, variant, country, "
            "is_bot, revenue / 2 AS amount FROM raw_frame"
        )
    return folder


def reference(clean: pd.DataFrame) -> dict:
    plan = parse_plan(f"experiment_id: e\nsource: {{path: x.parquet}}\n{METRICS}")
    return ablens.analyze(
        clean,
        plan.metric_objects(),
        control="control",
        unit="user_id",
        arms=["control", "treatment"],
    ).to_dict()["comparisons"]


def assert_same_numbers(got: list, want: list) -> float:
    """Equal structure and numbers (to 1e-12 relative: engines sum in their own order)."""
    worst = 0.0
    assert len(got) == len(want)
    for left, right in zip(got, want, strict=True):
        assert left.keys() == right.keys()
        for key in left:
            a, b = left[key], right[key]
            if isinstance(a, float) and isinstance(b, float) and math.isfinite(b):
                assert a == pytest.approx(b, rel=1e-12, abs=1e-15), key
                if b:
                    worst = max(worst, abs(a - b) / abs(b))
            elif isinstance(a, float) and isinstance(b, float):
                assert (math.isnan(a) and math.isnan(b)) or a == b, key
            else:
                assert a == b, key
    return worst


def write(folder, source: str, name: str = "plan.yaml"):
    path = folder / name
    path.write_text(f"experiment_id: cleaning\n{source}{METRICS}")
    return path


def test_the_dirt_matters(raw, clean):
    """Without cleaning the result differs: the equality below is not vacuous."""
    assert len(clean) < len(raw) - 300
    dirty = reference(raw.dropna(subset=["revenue"]))
    assert dirty[0]["effect"] != pytest.approx(reference(clean)[0]["effect"], rel=1e-3)


def test_filter_on_parquet_reproduces_the_hand_cleaned_analysis(files, clean, tmp_path):
    plan = load_plan(write(files, f"source:\n  path: users.parquet\n{FILTER}"))
    assert plan.source.filter == (
        RowFilter("is_bot", "==", value=False),
        RowFilter("country", "not-in", ("XX",)),
        RowFilter("revenue", "not-null"),
    )
    result = run_plan(plan)
    assert sum(result.counts) == len(clean)
    assert_same_numbers(result.to_dict()["comparisons"], reference(clean))


def test_filter_on_a_duckdb_table_reproduces_it_and_stays_commented(files, clean):
    plan = load_plan(
        write(files, f"source:\n  duckdb: {{file: shop.duckdb, table: users}}\n{FILTER}")
    )
    assert_same_numbers(run_plan(plan).to_dict()["comparisons"], reference(clean))
    from ablens.analysis_plan.run import open_plan_source  # noqa: PLC0415

    with open_plan_source(plan) as opened:  # a view of the connection: queries keep comments
        connection, view = opened.table
        assert connection.table(view).count("*").fetchall()[0][0] == len(clean)


def test_sql_on_parquet_reads_the_file_as_data(files, clean):
    sql = "SELECT * FROM data WHERE NOT is_bot AND country <> 'XX' AND revenue IS NOT NULL"
    plan = load_plan(write(files, f"source:\n  path: users.parquet\n  sql: {sql}\n"))
    assert_same_numbers(run_plan(plan).to_dict()["comparisons"], reference(clean))


def test_sql_on_duckdb_aggregates_events_then_the_filter_applies(files, raw, clean):
    source = textwrap.dedent(
        """\
        source:
          duckdb: {file: shop.duckdb}
          sql: |
            SELECT e.user_id, any_value(e.variant) AS variant, any_value(e.country) AS country,
                   bool_or(e.is_bot) AS is_bot, sum(e.amount) AS revenue,
                   any_value(u.converted) AS converted
            FROM events AS e JOIN users AS u USING (user_id)
            GROUP BY e.user_id
          filter:
            - {column: is_bot, op: "!=", value: true}
            - {column: country, op: in, value: [DE, FR, US]}
            - {column: revenue, op: not-null}
        """
    )
    plan = load_plan(write(files, source))
    assert plan.source.table is None
    # by hand: two events of half the revenue each sum back to the user's revenue
    assert_same_numbers(run_plan(plan).to_dict()["comparisons"], reference(clean))


def test_filter_applies_to_a_table_passed_as_data(raw, clean):
    plan = parse_plan(f"experiment_id: e\nsource:\n  path: x.parquet\n{FILTER}{METRICS}")
    assert_same_numbers(run_plan(plan, data=raw).to_dict()["comparisons"], reference(clean))


def test_each_op_keeps_what_pandas_keeps(raw):
    cases = {
        ("revenue", ">", 20): raw["revenue"] > 20,
        ("revenue", ">=", 20.5): raw["revenue"] >= 20.5,
        ("revenue", "<", 20): raw["revenue"] < 20,
        ("revenue", "<=", 20.5): raw["revenue"] <= 20.5,
        ("country", "==", "DE"): raw["country"] == "DE",
        ("revenue", "!=", 0): raw["revenue"].notna() & (raw["revenue"] != 0),
        ("country", "in", ("DE", "US")): raw["country"].isin(["DE", "US"]),
        ("country", "not-in", ("DE",)): raw["country"] != "DE",
        ("revenue", "is-null", None): raw["revenue"].isna(),
        ("revenue", "not-null", None): raw["revenue"].notna(),
    }
    from ablens.data.sources import filter_rows  # noqa: PLC0415

    with duckdb.connect() as connection:
        relation = connection.from_df(raw)
        for (column, op, value), want in cases.items():
            condition = [RowFilter(column, op, value)]
            in_duckdb = filter_rows(relation, condition).df()["user_id"].tolist()
            in_pandas = filter_rows(raw, condition)["user_id"].tolist()
            expected = raw.loc[want, "user_id"].tolist()
            assert sorted(in_duckdb) == expected, op
            assert in_pandas == expected, op
            assert 0 < len(expected) < len(raw), op


# ----------------------------------------------------------------------------- ${VAR} paths
def test_environment_variables_expand_in_paths(files, clean, monkeypatch):
    monkeypatch.setenv("ABLENS_TEST_DATA", str(files))
    plan = load_plan(
        write(files, f"source:\n  path: ${{ABLENS_TEST_DATA}}/users.parquet\n{FILTER}")
    )
    assert plan.source.path == "${ABLENS_TEST_DATA}/users.parquet"  # as written: plans are shared
    assert_same_numbers(run_plan(plan).to_dict()["comparisons"], reference(clean))
    plan = load_plan(
        write(
            files,
            "source:\n  duckdb: {file: '${ABLENS_TEST_DATA}/shop.duckdb', table: users}\n" + FILTER,
        )
    )
    assert_same_numbers(run_plan(plan).to_dict()["comparisons"], reference(clean))


def test_an_unset_variable_is_a_plan_error_at_its_line(files, monkeypatch):
    monkeypatch.delenv("ABLENS_TEST_UNSET", raising=False)
    plan = load_plan(write(files, "source:\n  path: ${ABLENS_TEST_UNSET}/users.parquet\n"))
    with pytest.raises(PlanError, match=r"plan.yaml:3: source.path names \$\{ABLENS_TEST_UNSET\}"):
        run_plan(plan)
    plan = load_plan(
        write(files, "source:\n  duckdb:\n    file: ${ABLENS_TEST_UNSET}.duckdb\n    table: t\n")
    )
    with pytest.raises(PlanError, match=r"plan.yaml:4: source.duckdb.file names .*not set"):
        run_plan(plan)


def test_a_malformed_reference_is_refused_when_read():
    with pytest.raises(PlanError, match=r"plan.yaml:3: source.path == .*not an environment"):
        parse_plan(
            f"experiment_id: e\nsource:\n  path: ${{1 bad}}/x.parquet\n{METRICS}", name="plan.yaml"
        )


# ----------------------------------------------------------------------------- bad input
def test_unknown_filter_column_is_reported_at_its_line(files):
    source = "source:\n  path: users.parquet\n  filter:\n    - {column: bot, value: true}\n"
    with pytest.raises(PlanError) as info:
        run_plan(load_plan(write(files, source)))
    assert "plan.yaml:5: source.filter[0].column == 'bot' is not a column" in str(info.value)
    assert "'is_bot'" in str(info.value)


def test_sql_errors_are_reported_at_the_sql_line(files):
    plan = load_plan(
        write(files, "source:\n  duckdb: {file: shop.duckdb}\n  sql: SELECT * FROM nowhere\n")
    )
    with pytest.raises(PlanError, match=r"plan.yaml:4: source.sql cannot be run: .*nowhere"):
        run_plan(plan)
    plan = load_plan(write(files, "source:\n  path: users.parquet\n  sql: SELEC * FROM data\n"))
    with pytest.raises(PlanError, match=r"plan.yaml:4: source.sql cannot be run: Parser Error"):
        run_plan(plan)


@pytest.mark.parametrize(
    "sql",
    ["CREATE TABLE x AS SELECT 1", "COPY users TO 'out.csv'", "SELECT 1; SELECT 2"],
)
def test_sql_must_be_one_select(files, sql):
    plan = load_plan(write(files, f'source:\n  path: users.parquet\n  sql: "{sql}"\n'))
    with pytest.raises(PlanError, match=r"plan.yaml:4: source.sql must be one SELECT query"):
        run_plan(plan)
    assert not (files / "out.csv").exists()


@pytest.mark.parametrize(
    ("condition", "message"),
    [
        ("{column: revenue, op: '>', value: abc}", r"value == 'abc', must be a number"),
        ("{column: is_bot, value: 'no'}", r"value == 'no', must be true or false"),
        ("{column: country, op: in, value: [DE, 1]}", r"value == \['DE', 1\], must be a string"),
    ],
)
def test_a_filter_value_of_the_wrong_type_is_located(files, condition, message):
    source = f"source:\n  path: users.parquet\n  filter:\n    - {condition}\n"
    with pytest.raises(PlanError, match=r"plan.yaml:5: source.filter\[0\]." + message):
        run_plan(load_plan(write(files, source)))


@pytest.mark.parametrize(
    ("source", "message"),
    [
        (
            "source:\n  path: u.parquet\n  filter: [{column: c, op: like, value: x}]\n",
            "plan.yaml:4: source.filter[0].op == 'like', must be one of '==', ",
        ),
        (
            "source:\n  path: u.parquet\n  filter: [{column: c, op: in, value: x}]\n",
            "plan.yaml:4: source.filter[0].value == 'x', op 'in' needs a non-empty list",
        ),
        (
            "source:\n  path: u.parquet\n  filter: [{column: c, op: '>'}]\n",
            "plan.yaml:4: source.filter[0].value is missing, op '>' compares with a value",
        ),
        (
            "source:\n  path: u.parquet\n  filter: [{column: c, op: is-null, value: 1}]\n",
            "plan.yaml:4: source.filter[0].value is given, but op 'is-null' takes no value",
        ),
        (
            "source:\n  path: u.parquet\n  filter: [{op: '==', value: 1}]\n",
            "plan.yaml:4: source.filter[0].column is missing",
        ),
        (
            "source:\n  path: u.parquet\n  filter: [{column: c, value: 1, colour: red}]\n",
            "plan.yaml:4: source.filter[0].colour is not a key of a filter condition",
        ),
        (
            "source:\n  path: u.parquet\n  filter: [{column: d, value: 2026-03-02}]\n",
            "plan.yaml:4: source.filter[0].value == datetime.date(2026, 3, 2), quote the date",
        ),
        (
            "source:\n  path: u.parquet\n  filter: is_bot = false\n",
            "plan.yaml:4: source.filter == 'is_bot = false', must be a list of conditions",
        ),
        (
            "source:\n  duckdb: {file: s.duckdb, table: users}\n  sql: SELECT 1\n",
            "plan.yaml:3: source.duckdb.table and source.sql are both given",
        ),
        (
            "source:\n  duckdb: {file: s.duckdb}\n",
            "plan.yaml:3: source.duckdb.table is missing",
        ),
        (
            "source:\n  sql: SELECT 1\n",
            "plan.yaml:2: source has nothing, must have exactly one of: path, duckdb",
        ),
    ],
)
def test_bad_cleaning_keys_are_located(source, message):
    with pytest.raises(PlanError) as info:
        parse_plan(f"experiment_id: e\n{source}{METRICS}", name="plan.yaml")
    assert any(m.startswith(message) for m in info.value.messages), info.value.messages


def test_cleaning_round_trips_and_the_schema_takes_it():
    jsonschema = pytest.importorskip("jsonschema")
    warehouse = "  warehouse: {backend: postgres, host: db, password_env: PW}\n"
    query = "  sql: SELECT * FROM users WHERE NOT is_bot\n"
    text = f"experiment_id: e\nsource:\n{warehouse}{query}{FILTER}{METRICS}"
    plan = parse_plan(text)
    document = plan.to_dict()
    assert document["source"] == {
        "warehouse": {"backend": "postgres", "host": "db", "password_env": "PW"},
        "sql": "SELECT * FROM users WHERE NOT is_bot",
        "filter": [
            {"column": "is_bot", "op": "==", "value": False},
            {"column": "country", "op": "not-in", "value": ["XX"]},
            {"column": "revenue", "op": "not-null"},
        ],
    }
    from ablens.analysis_plan import plan_from_dict  # noqa: PLC0415

    assert plan_from_dict(document) == plan
    validator = jsonschema.Draft202012Validator(plan_json_schema())
    document = {key: value for key, value in document.items() if value is not None}
    document["planned"] = {k: v for k, v in document["planned"].items() if v is not None}
    assert not list(validator.iter_errors(document))
    bad = {**document, "source": {**document["source"], "filter": [{"column": "c", "op": "~"}]}}
    assert list(validator.iter_errors(bad))
    # a plan without cleaning writes its source as before (its hash does not move)
    plain = parse_plan(f"experiment_id: e\nsource: {{path: x.parquet}}\n{METRICS}")
    assert plain.to_dict()["source"] == {"path": "x.parquet"}


# ----------------------------------------------------------------------------- --data
def test_with_data_file_keeps_the_cleaning_and_refuses_a_database_query(files, clean, tmp_path):
    other = tmp_path / "elsewhere.parquet"
    other.write_bytes((files / "users.parquet").read_bytes())
    plan = load_plan(
        write(files, f"source:\n  duckdb: {{file: shop.duckdb, table: users}}\n{FILTER}")
    )
    moved = with_data_file(plan, other)
    assert moved.source.to_dict()["path"] == str(other)
    assert_same_numbers(run_plan(moved).to_dict()["comparisons"], reference(clean))
    assert_same_numbers(run_plan(plan, data=str(other)).to_dict()["comparisons"], reference(clean))
    query = load_plan(write(files, "source:\n  duckdb: {file: shop.duckdb}\n  sql: SELECT 1\n"))
    with pytest.raises(PlanError, match=r"plan.yaml:4: source.sql queries the plan's database"):
        with_data_file(query, other)
    with pytest.raises(PlanError, match=r"plan.yaml:4: source.sql cannot run on a table"):
        run_plan(query, data=clean)
    with pytest.raises(ablens.InputError, match=r"data == .*must be a file ending in one of"):
        with_data_file(plan, tmp_path / "users.xlsx")


def test_cli_data_option_points_a_plan_at_a_file(files, clean, tmp_path):
    import json  # noqa: PLC0415

    other = tmp_path / "copy.parquet"
    other.write_bytes((files / "users.parquet").read_bytes())
    plan = write(tmp_path, f"source:\n  path: missing.parquet\n{FILTER}")
    runner = CliRunner()
    outcome = runner.invoke(app, ["analyze", str(plan), "--json", "--data", str(other)])
    assert outcome.exit_code in (0, 1), outcome.output
    document = json.loads(outcome.stdout)
    assert_same_numbers(document["comparisons"], reference(clean))
    checked = runner.invoke(app, ["validate", str(plan), "--check-data", "--data", str(other)])
    assert checked.exit_code == 0, checked.output
    page = tmp_path / "r.html"
    report = runner.invoke(app, ["report", str(plan), "-o", str(page), "--data", str(other)])
    assert report.exit_code in (0, 1), report.output
    assert page.read_text().startswith("<!DOCTYPE html>")
    failed = runner.invoke(app, ["analyze", str(plan)])
    assert failed.exit_code == 2
    assert "source.path: no such file" in failed.stderr


# ----------------------------------------------------------------------------- other engines
def test_sql_and_filter_on_postgres(ibis_postgres, postgres_url, monkeypatch, raw, clean):
    from urllib.parse import urlparse  # noqa: PLC0415

    pa = pytest.importorskip("pyarrow")
    ibis_postgres.create_table("cleaning_users", pa.Table.from_pandas(raw), overwrite=True)
    url = urlparse(postgres_url)
    monkeypatch.setenv("ABLENS_TEST_PGPASSWORD", url.password or "")
    source = textwrap.dedent(
        f"""\
        source:
          warehouse:
            backend: postgres
            host: {url.hostname}
            port: {url.port}
            user: {url.username}
            database: {url.path.lstrip("/")}
            password_env: ABLENS_TEST_PGPASSWORD
        """
    )
    source += "  sql: SELECT * FROM cleaning_users WHERE NOT is_bot\n"
    filters = "    - {column: country, op: not-in, value: [XX]}\n"
    filters += "    - {column: revenue, op: not-null}\n"
    plan = parse_plan(f"experiment_id: e\n{source}  filter:\n{filters}{METRICS}")
    assert_same_numbers(run_plan(plan).to_dict()["comparisons"], reference(clean))
    broken = parse_plan(f"experiment_id: e\n{source.replace('cleaning_users', 'nowhere')}{METRICS}")
    with pytest.raises(PlanError, match=r"<plan>:10: source.sql cannot be run: .*nowhere"):
        run_plan(broken)


def test_sql_and_filter_on_spark(spark, raw, clean):
    spark.createDataFrame(
        raw.astype({"revenue": object}).where(raw.notna(), None)
    ).createOrReplaceTempView("cleaning_users")
    source = "source:\n  spark: {}\n  sql: SELECT * FROM cleaning_users WHERE NOT is_bot\n"
    filters = "  filter:\n    - {column: country, op: not-in, value: [XX]}\n"
    filters += "    - {column: revenue, op: not-null}\n"
    plan = parse_plan(f"experiment_id: e\n{source}{filters}{METRICS}")
    assert_same_numbers(run_plan(plan).to_dict()["comparisons"], reference(clean))
