"""The analysis plan: parsing, line-located validation, the JSON Schema, running, the verdict."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import textwrap
from pathlib import Path

import pytest

import ablens
from ablens import demo
from ablens.analysis_plan import (
    DuckDBSource,
    PathSource,
    PlanError,
    Planned,
    SparkSource,
    WarehouseSource,
    check_source,
    load_plan,
    parse_plan,
    plan_from_dict,
    plan_json_schema,
    run_plan,
)
from rfixtures import load_r_fixture

REPO = Path(__file__).resolve().parents[2]
SCHEMA_FILE = REPO / "src" / "ablens" / "schema" / "plan.schema.json"
EXAMPLE = REPO / "examples" / "plan.yaml"

MINIMAL = """\
experiment_id: checkout
source:
  path: users.parquet
control: control
metrics:
  - kind: mean
    column: revenue
"""


def errors_of(text: str, name: str = "plan.yaml") -> list[str]:
    with pytest.raises(PlanError) as info:
        parse_plan(textwrap.dedent(text), name=name)
    assert isinstance(info.value, ablens.ConfigError)
    assert str(info.value) == "\n".join(info.value.messages)
    return list(info.value.messages)


# ----------------------------------------------------------------------------- parsing
def test_minimal_plan_takes_the_defaults():
    plan = parse_plan(MINIMAL)
    assert plan.experiment_id == "checkout"
    assert plan.source == PathSource("users.parquet")
    assert plan.variant == "variant"
    assert plan.unit is None
    assert plan.arms is None
    assert plan.weights is None
    assert plan.alpha == 0.05
    assert plan.correction == "auto"
    assert plan.family == "metric"
    assert plan.sequential == "none"
    assert plan.srm_alpha == 0.001
    assert plan.planned == Planned()
    (metric,) = plan.metrics
    assert (metric.kind, metric.name, metric.role, metric.direction) == (
        "mean",
        "revenue",
        "primary",
        "increase",
    )


def test_example_plan_loads_with_every_kind_of_key():
    plan = load_plan(EXAMPLE)
    assert plan.experiment_id == "ablens-demo"
    assert plan.team == "growth"
    assert plan.source == DuckDBSource("ablens_demo.duckdb", "users")
    assert plan.arms == ("control", "new_checkout")
    assert plan.weights == {"control": 50.0, "new_checkout": 50.0}
    assert plan.segments == ("platform",)
    assert (plan.correction, plan.family) == ("holm", "primary")
    assert plan.planned.sample_size == 20_000
    assert plan.planned.duration_days == 14
    assert {m.kind for m in plan.metrics} == {
        "proportion",
        "mean",
        "ratio",
        "quantile",
        "mann-whitney",
    }
    assert plan.path == EXAMPLE
    assert plan.sha256 == hashlib.sha256(EXAMPLE.read_bytes()).hexdigest()
    assert plan.where("metrics[1].covariates") == f"{EXAMPLE}:34"


def test_plan_is_frozen():
    plan = parse_plan(MINIMAL)
    with pytest.raises(AttributeError):
        plan.alpha = 0.1  # type: ignore[misc]


def test_metric_specs_build_the_library_metrics():
    plan = parse_plan(
        MINIMAL.replace(
            "  - kind: mean\n    column: revenue\n",
            textwrap.dedent(
                """\
                  - {kind: proportion, column: converted, test: fisher, name: conversion}
                  - {kind: mean, column: revenue, covariates: pre_revenue, test: z}
                  - {kind: ratio, numerator: orders, denominator: sessions, direction: decrease}
                  - {kind: quantile, column: minutes, probability: 0.9}
                  - {kind: mann-whitney, column: minutes, role: guardrail}
                  - {kind: post-stratified, column: revenue, stratum: platform}
                """
            ),
        )
    )
    metrics = plan.metric_objects()
    assert [type(m).__name__ for m in metrics] == [
        "Proportion",
        "Mean",
        "Ratio",
        "Quantile",
        "MannWhitney",
        "PostStratified",
    ]
    assert [m.name for m in metrics] == [
        "conversion",
        "revenue",
        "orders / sessions",
        "minutes p90",
        "minutes (rank)",
        "revenue | platform",
    ]
    assert metrics[0].test == "fisher"
    assert metrics[1].covariates == ("pre_revenue",)
    assert metrics[2].direction == "decrease"
    # Quantile and rank metrics default to secondary, like their classes.
    assert [m.role for m in metrics] == [
        "primary",
        "primary",
        "primary",
        "secondary",
        "guardrail",
        "primary",
    ]
    assert plan.metrics[5].columns() == ("revenue", "platform")


def test_plan_round_trips_through_to_dict():
    plan = load_plan(EXAMPLE)
    again = plan_from_dict(json.loads(json.dumps(plan.to_dict())))
    assert again == plan


def test_plan_from_dict_has_no_line_numbers():
    with pytest.raises(PlanError, match=r"^<plan>: alpha == 2, must be a number in \(0, 1\)$"):
        plan_from_dict({**parse_plan(MINIMAL).to_dict(), "alpha": 2})


# ----------------------------------------------------------------------------- errors
def test_wrong_kind_points_at_its_line():
    text = MINIMAL + "  - kind: avg\n    column: x\n"
    assert errors_of(text) == [
        (
            "plan.yaml:8: metrics[1].kind == 'avg', must be one of 'mean', 'proportion', 'ratio', "
            "'post-stratified', 'post-stratified-ratio', 'quantile', 'mann-whitney'"
        )
    ]


def test_every_error_is_reported_in_file_order():
    text = """\
    experiment_id: 7
    source: {path: users.parquet}
    control: control
    alpha: 1.5
    metrics:
      - kind: mean
        colum: revenue
      - kind: proportion
        column: converted
        test: welch
    correction: holmes
    """
    assert errors_of(text) == [
        "plan.yaml:1: experiment_id == 7, must be a non-empty string; quote it",
        "plan.yaml:4: alpha == 1.5, must be a number in (0, 1)",
        "plan.yaml:6: metrics[0].column is missing; a 'mean' metric needs it",
        (
            "plan.yaml:7: metrics[0].colum is not a key of a 'mean' metric; did you mean 'column'? "
            "(keys: kind, name, role, direction, column, test, covariates, adjustment, vcov, "
            "reference)"
        ),
        (
            "plan.yaml:10: metrics[1].test == 'welch', must be one of 'z', 'chi2', 'chi2-yates', "
            "'fisher', 'z-unpooled'"
        ),
        (
            "plan.yaml:11: correction == 'holmes', must be one of 'bonferroni', 'sidak', 'holm', "
            "'holm-sidak', 'hochberg', 'hommel', 'bh', 'by', 'bky', 'auto', 'none'"
        ),
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "experiment_id: [unclosed\n",
            (
                "plan.yaml:1: invalid YAML: expected ',' or ']', but got '<stream end>' (while "
                "parsing a flow sequence on line 1)"
            ),
        ),
        ("a: 1\n  b: 2\n", "plan.yaml:2: invalid YAML: mapping values are not allowed here"),
        ("a:\n\t- x\n", "plan.yaml:2: invalid YAML: found character '\\t'"),
        ("- just\n- a list\n", "plan.yaml:1: the plan must be a mapping of keys"),
        ("", "plan.yaml: the plan must be a mapping of keys"),
    ],
)
def test_malformed_yaml_names_the_line(text, message):
    (error,) = errors_of(text)
    assert error.startswith(message)


def test_unsafe_yaml_tags_are_refused():
    (error,) = errors_of("experiment_id: !!python/object/apply:os.system ['true']\n")
    assert error.startswith("plan.yaml:1: invalid YAML: could not determine a constructor")


def test_duplicate_keys_are_refused():
    (error,) = errors_of(MINIMAL + "alpha: 0.1\nalpha: 0.2\n")
    assert error == "plan.yaml:9: alpha is given twice (first on line 8)"


def test_unknown_top_level_key_suggests_the_right_one():
    (error,) = errors_of(MINIMAL + "segment: [platform]\n")
    assert error.startswith("plan.yaml:8: segment is not a key of a plan; did you mean 'segments'?")


def test_missing_required_keys():
    assert errors_of("team: growth\n") == [
        "plan.yaml:1: experiment_id is missing; it is required",
        "plan.yaml:1: source is missing; give one of: path, duckdb, warehouse, spark",
        "plan.yaml:1: control is missing; it is required",
        "plan.yaml:1: metrics is missing; list at least one metric",
    ]


def test_arms_must_contain_the_control_and_be_labels():
    text = MINIMAL + "arms: {treatment: 50, on: 50, other: 0}\n"
    assert errors_of(text) == [
        "plan.yaml:4: control == 'control', must be one of arms ['treatment', 'other']",
        "plan.yaml:8: arms has the label True, must be a string; quote it",
        "plan.yaml:8: arms.other == 0, must be a planned share > 0",
    ]


def test_metric_class_checks_are_located():
    text = MINIMAL.replace("column: revenue", "column: revenue\n    covariates: [revenue]")
    assert errors_of(text) == [
        "plan.yaml:6: metrics[0]: covariates has 'revenue', which is the metric's own column"
    ]


def test_metric_names_must_be_unique_and_one_primary():
    text = MINIMAL + "  - {kind: mean, column: revenue, role: guardrail}\n"
    (error,) = errors_of(text)
    assert error.startswith("plan.yaml:8: metrics[1] is named 'revenue' like metrics[0]")
    text = MINIMAL.replace("column: revenue", "column: revenue\n    role: secondary")
    (error,) = errors_of(text)
    assert error.startswith("plan.yaml:5: metrics has no primary metric")


def test_sequential_method_is_validated_and_stored():
    plan = parse_plan(MINIMAL + "sequential: msprt\ntime: day\n")
    assert (plan.sequential, plan.time) == ("msprt", "day")
    assert plan.to_dict()["time"] == "day"
    assert plan_from_dict(plan.to_dict()) == plan
    (error,) = errors_of(MINIMAL + "sequential: bayes\n")
    assert error == (
        "plan.yaml:8: sequential == 'bayes', must be one of 'none', 'group-sequential', "
        "'msprt', 'confidence-sequence'"
    )


def test_a_sequential_method_needs_a_time_column_at_its_line():
    (error,) = errors_of(MINIMAL + "alpha: 0.05\nsequential: msprt\n")
    assert error == (
        "plan.yaml:9: sequential == 'msprt' needs time: the column giving each unit's look "
        "(its exposure day or date), so that every look can be read; add e.g. "
        "time: exposure_day, or set sequential: none"
    )
    assert errors_of(MINIMAL + "sequential: group-sequential\n") == [
        (
            "plan.yaml:8: sequential == 'group-sequential' needs time: the column giving each "
            "unit's look (its exposure day or date), so that every look can be read; add e.g. "
            "time: exposure_day, or set sequential: none"
        ),
        (
            "plan.yaml:8: sequential == 'group-sequential' needs planned.sample_size: the "
            "information fraction at a look is its units / the planned units"
        ),
    ]
    group = parse_plan(
        MINIMAL + "sequential: group-sequential\ntime: day\nplanned: {sample_size: 1000}\n"
    )
    assert (group.sequential, group.time, group.planned.sample_size) == (
        "group-sequential",
        "day",
        1000,
    )
    # A time column alone is accepted (and unused); it must not be the arm or unit column.
    assert parse_plan(MINIMAL + "time: day\n").sequential == "none"
    assert errors_of(MINIMAL + "unit: user_id\ntime: user_id\n") == [
        (
            "plan.yaml:9: time == 'user_id' is the variant or unit column, must be the column "
            "giving each unit's look (its exposure day or date)"
        )
    ]
    assert errors_of(MINIMAL + "sequential: msprt\ntime: 3\n") == [
        "plan.yaml:9: time == 3, must be a non-empty string; quote it"
    ]
    with pytest.raises(PlanError, match=r"^<plan>: sequential == 'msprt' needs time"):
        plan_from_dict({**parse_plan(MINIMAL).to_dict(), "sequential": "msprt"})


def test_spending_belongs_to_the_group_sequential_method():
    group = MINIMAL + "sequential: group-sequential\ntime: day\nplanned: {sample_size: 1000}\n"
    assert parse_plan(group).spending == "obrien-fleming"
    pocock = parse_plan(group + "spending: pocock\n")
    assert pocock.spending == "pocock"
    assert pocock.to_dict()["spending"] == "pocock"
    assert plan_from_dict(pocock.to_dict()) == pocock
    # a plan without a group-sequential method has no spending, in the file or the dict
    assert "spending" not in parse_plan(MINIMAL).to_dict()
    assert plan_from_dict(parse_plan(MINIMAL).to_dict()) == parse_plan(MINIMAL)
    assert errors_of(group + "spending: linear\n") == [
        (
            "plan.yaml:11: spending == 'linear', must be one of 'obrien-fleming', 'pocock', 'hsd', "
            "'power'"
        )
    ]
    assert errors_of(MINIMAL + "sequential: msprt\ntime: day\nspending: pocock\n") == [
        (
            "plan.yaml:10: spending == 'pocock' applies to sequential: group-sequential only, and "
            "the plan's method is 'msprt'; remove spending or set sequential: group-sequential"
        )
    ]


@pytest.mark.parametrize(
    "text", ["bayesian: true\n", "bayesian: flat\n", "bayesian: {prior: flat}\n", "bayesian: {}\n"]
)
def test_bayesian_key_turns_on_the_flat_prior(text):
    plan = parse_plan(MINIMAL + text)
    assert plan.bayesian == "flat"
    assert plan.to_dict()["bayesian"] == {"prior": "flat"}
    assert plan_from_dict(plan.to_dict()).bayesian == "flat"


def test_bayesian_key_off_and_errors():
    assert parse_plan(MINIMAL).bayesian is None
    assert parse_plan(MINIMAL + "bayesian: false\n").bayesian is None
    assert parse_plan(MINIMAL).to_dict()["bayesian"] is None
    assert errors_of(MINIMAL + "bayesian: {prior: jeffreys}\n") == [
        "plan.yaml:8: bayesian.prior == 'jeffreys', must be one of 'flat'"
    ]
    assert errors_of(MINIMAL + "bayesian:\n  prior: flat\n  priors: flat\n") == [
        (
            "plan.yaml:10: bayesian.priors is not a key of bayesian; did you mean 'prior'? "
            "(keys: prior)"
        )
    ]
    assert errors_of(MINIMAL + "bayesian: 3\n") == [
        "plan.yaml:8: bayesian must be a mapping of keys (prior), or true / false, found 3"
    ]
    assert errors_of(MINIMAL + "bayesian: beta\n") == [
        "plan.yaml:8: bayesian == 'beta', must be one of 'flat'"
    ]


def test_planned_block():
    plan = parse_plan(
        MINIMAL + "planned: {sample_size: 40_000, duration_days: 14, start_date: 2026-03-02}\n"
    )
    assert plan.planned == Planned(40_000, 14.0, dt.date(2026, 3, 2), 0.8)
    assert errors_of(
        MINIMAL + "planned:\n  sample_size: 1.5\n  start_date: soon\n  weeks: 2\n"
    ) == [
        "plan.yaml:9: planned.sample_size == 1.5, must be a whole number of units >= 2",
        "plan.yaml:10: planned.start_date == 'soon', must be a date like 2026-03-02",
        (
            "plan.yaml:11: planned.weeks is not a key of planned (keys: sample_size, "
            "duration_days, start_date, power)"
        ),
    ]


# ----------------------------------------------------------------------------- sources
def test_duckdb_and_spark_sources():
    duck = parse_plan(MINIMAL.replace("path: users.parquet", "duckdb: {file: a.db, table: t}"))
    assert duck.source == DuckDBSource("a.db", "t")
    spark = parse_plan(MINIMAL.replace("path: users.parquet", "spark: {table: db.users}"))
    assert spark.source == SparkSource("db.users")


def test_source_needs_exactly_one_kind_and_a_known_suffix():
    (error,) = errors_of(MINIMAL.replace("path: users.parquet", "path: users.xlsx"))
    assert error.startswith("plan.yaml:3: source.path == 'users.xlsx', must end in one of")
    text = MINIMAL.replace("path: users.parquet", "path: a.csv\n  spark: {table: t}")
    (error,) = errors_of(text)
    assert error == (
        "plan.yaml:2: source has path, spark, must have exactly one of: path, duckdb, "
        "warehouse, spark"
    )


WAREHOUSE = MINIMAL.replace(
    "  path: users.parquet\n",
    "  warehouse:\n"
    "    backend: postgres\n"
    "    host: db.internal\n"
    "    port: 5432\n"
    "    user: analyst\n"
    "    database: shop\n"
    "    password_env: ABLENS_TEST_PGPASSWORD\n"
    "    table: users\n",
)


def test_warehouse_source_keeps_secrets_in_the_environment():
    plan = parse_plan(WAREHOUSE)
    assert plan.source == WarehouseSource(
        "postgres",
        "users",
        {"host": "db.internal", "port": 5432, "user": "analyst", "database": "shop"},
        {"password": "ABLENS_TEST_PGPASSWORD"},
    )
    assert plan.to_dict()["source"]["warehouse"]["password_env"] == (
        "ABLENS_TEST_PGPASSWORD"  # noqa: S105 - the name of a variable, not a password
    )


def test_literal_password_is_refused():
    text = WAREHOUSE.replace("password_env: ABLENS_TEST_PGPASSWORD", "password: hunter2")
    (error,) = errors_of(text)
    assert error == (
        "plan.yaml:9: source.warehouse.password is a literal secret and is refused: plans are "
        "shared and committed; write password_env: PGPASSWORD and set that environment "
        "variable instead"
    )
    assert "hunter2" not in error


@pytest.mark.parametrize("key", ["token", "api_key", "private_key", "secret", "credentials"])
def test_other_literal_secrets_are_refused(key):
    text = WAREHOUSE.replace("    table: users\n", f"    table: users\n    {key}: abc\n")
    (error,) = errors_of(text)
    assert f"source.warehouse.{key} is a literal secret and is refused" in error


def test_warehouse_keys_are_checked_per_backend():
    text = WAREHOUSE.replace("backend: postgres", "backend: bigquery")
    messages = errors_of(text)
    assert messages[0].startswith("plan.yaml:5: source.warehouse.host is not a key of a bigquery")
    assert any("password_env is not a key of a bigquery" in m for m in messages)
    (error,) = errors_of(WAREHOUSE.replace("backend: postgres", "backend: oracle"))
    assert error == (
        "plan.yaml:4: source.warehouse.backend == 'oracle', must be one of 'postgres', "
        "'bigquery', 'snowflake'"
    )
    (error,) = errors_of(WAREHOUSE.replace("ABLENS_TEST_PGPASSWORD", "'not a name'"))
    assert "source.warehouse.password_env == 'not a name', must be an environment" in error


def test_warehouse_connects_with_the_secret_from_the_environment(monkeypatch):
    ibis = pytest.importorskip("ibis")
    seen = {}

    class Backend:
        def table(self, name):
            raise RuntimeError(f"stop after connecting ({name})")

        def disconnect(self):
            seen["disconnected"] = True

    def connect(**kwargs):
        seen.update(kwargs)
        return Backend()

    monkeypatch.setattr(ibis.postgres, "connect", connect)
    plan = parse_plan(WAREHOUSE)
    monkeypatch.delenv("ABLENS_TEST_PGPASSWORD", raising=False)
    with pytest.raises(PlanError, match=r"^<plan>:9: source.warehouse.password_env names "):
        run_plan(plan)
    monkeypatch.setenv("ABLENS_TEST_PGPASSWORD", "s3cret")
    with pytest.raises(
        PlanError,
        match=r"^<plan>:10: source.warehouse.table == 'users' cannot be read: stop after "
        r"connecting \(users\)$",
    ):
        run_plan(plan)
    assert seen == {
        "host": "db.internal",
        "port": 5432,
        "user": "analyst",
        "database": "shop",
        "password": "s3cret",
        "disconnected": True,
    }


def test_snowflake_database_and_schema_join(monkeypatch):
    ibis = pytest.importorskip("ibis")
    seen = {}

    def connect(**kwargs):
        seen.update(kwargs)
        raise ConnectionRefusedError("no route\nmore detail")

    monkeypatch.setattr(ibis, "snowflake", type("M", (), {"connect": staticmethod(connect)}))
    monkeypatch.setenv("ABLENS_TEST_SNOW", "pw")
    text = MINIMAL.replace(
        "  path: users.parquet\n",
        "  warehouse: {backend: snowflake, account: acme, user: me, database: DB, schema: S,"
        " password_env: ABLENS_TEST_SNOW, table: USERS}\n",
    )
    with pytest.raises(
        ablens.DataError, match=r"^<plan>:3: cannot connect to snowflake: no route$"
    ):
        run_plan(parse_plan(text))
    assert seen == {"account": "acme", "user": "me", "database": "DB/S", "password": "pw"}


# ----------------------------------------------------------------------------- switches
# R's wilcox.test(treatment, control, exact = ..., correct = ...) on seeded samples: the fixture
# tests/fixtures/r/rank_shift.json, written by `Rscript tests/fixtures/r/rank_shift.R`.
RANK_SHIFT = load_r_fixture("rank_shift.json")
RANK_PLAN = """\
experiment_id: ranks
source: {path: users.parquet}
control: control
metrics:
  - kind: mann-whitney
    column: x
    role: primary
"""


@pytest.mark.parametrize(
    ("keys", "options", "case_id"),
    [
        # exact: true above R's automatic limit (90 x 110 units): auto would be the normal test.
        ("exact: true", {"exact": True}, "exact_90_110-two-sided-exact_TRUE-correct-0.95"),
        ("exact: auto", {"exact": "auto"}, "exact_12_15-two-sided-exact_auto-correct-0.95"),
        ("exact: false", {"exact": False}, "exact_6_8-two-sided-exact_FALSE-correct-0.95"),
        (
            "exact: false\n    continuity: false",
            {"exact": False, "continuity": False},
            "exact_6_8-two-sided-exact_FALSE-uncorrected-0.95",
        ),
        (
            "continuity: false",
            {"continuity": False},
            "ties_rating_40_36-two-sided-exact_auto-uncorrected-0.95",
        ),
    ],
)
def test_mann_whitney_switches_in_a_plan_give_the_python_api_and_r_numbers(keys, options, case_id):
    pl = pytest.importorskip("polars")
    case = next(c for c in RANK_SHIFT["cases"] if c["id"] == case_id)
    arms = RANK_SHIFT["data"][case["dataset"]]
    frame = pl.DataFrame(
        {
            "variant": ["control"] * len(arms["control"]) + ["t"] * len(arms["treatment"]),
            "x": [*arms["control"], *arms["treatment"]],
        }
    )
    plan = parse_plan(RANK_PLAN + f"    {keys}\n")
    assert {k: plan.metrics[0].params[k] for k in options} == options
    from_plan = run_plan(plan, data=frame).comparisons[0]
    direct = ablens.analyze(
        frame, [ablens.MannWhitney("x", role="primary", **options)], control="control"
    ).comparisons[0]
    assert from_plan.to_dict() == direct.to_dict()
    expected = case["expected"]
    assert from_plan.result.test == (
        "mann-whitney-exact" if expected["method"] == "exact" else "mann-whitney"
    )
    assert from_plan.result.p_value == pytest.approx(expected["p_value"], rel=1e-9, abs=1e-12)


def test_mann_whitney_switches_default_as_the_class_and_round_trip():
    plan = parse_plan(RANK_PLAN)
    assert plan.metrics[0].params == {"column": "x", "exact": "auto", "continuity": True}
    plan = parse_plan(RANK_PLAN + "    exact: true\n    continuity: false\n")
    assert plan_from_dict(json.loads(json.dumps(plan.to_dict()))) == plan
    assert plan.metrics[0].to_dict()["exact"] is True
    assert plan.metrics[0].to_dict()["continuity"] is False


@pytest.mark.parametrize(
    ("keys", "messages"),
    [
        (
            "exact: maybe",
            ["plan.yaml:8: metrics[0].exact == 'maybe', must be one of true, false, 'auto'"],
        ),
        ("continuity: 3", ["plan.yaml:8: metrics[0].continuity == 3, must be true or false"]),
        (
            "continuity: auto",
            ["plan.yaml:8: metrics[0].continuity == 'auto', must be true or false"],
        ),
        # 1 == True in Python: a number is still not a switch.
        ("exact: 1", ["plan.yaml:8: metrics[0].exact == 1, must be one of true, false, 'auto'"]),
        (
            "exact: 'true'",
            [
                (
                    "plan.yaml:8: metrics[0].exact == 'true', must be one of true, false, "
                    "'auto'; write it without quotes"
                )
            ],
        ),
        (
            "exact: maybe\n    continuity: [x]",
            [
                "plan.yaml:8: metrics[0].exact == 'maybe', must be one of true, false, 'auto'",
                "plan.yaml:9: metrics[0].continuity == ['x'], must be true or false",
            ],
        ),
    ],
)
def test_wrong_switch_values_name_the_line_and_the_allowed_values(keys, messages):
    assert errors_of(RANK_PLAN + f"    {keys}\n") == messages


def test_plan_key_types_are_checked_in_the_declaration():
    from ablens.metrics import PlanKey  # noqa: PLC0415

    with pytest.raises(ablens.InputError, match=r"type == 'bool', must be one of 'column'"):
        PlanKey("x", "bool")  # type: ignore[arg-type]
    with pytest.raises(ablens.InputError, match=r"has no choices; .* beside true and false"):
        PlanKey("exact", "boolean-or-choice")
    with pytest.raises(ablens.InputError, match=r"'x' of type 'boolean' takes no choices"):
        PlanKey("x", "boolean", ("auto",))


# ----------------------------------------------------------------------------- JSON Schema
def test_committed_schema_is_the_generated_one():
    generated = json.dumps(plan_json_schema(), indent=2, ensure_ascii=False) + "\n"
    assert SCHEMA_FILE.read_text(encoding="utf-8") == generated, (
        "regenerate it: ablens plan-schema > src/ablens/schema/plan.schema.json"
    )


def _as_json(value):
    return json.loads(json.dumps(value, default=str))


def test_schema_accepts_the_example_and_rejects_what_the_loader_rejects():
    jsonschema = pytest.importorskip("jsonschema")
    yaml = pytest.importorskip("yaml")
    validator = jsonschema.Draft202012Validator(plan_json_schema())
    jsonschema.Draft202012Validator.check_schema(plan_json_schema())
    example = _as_json(yaml.safe_load(EXAMPLE.read_text()))
    assert list(validator.iter_errors(example)) == []
    bad = [
        MINIMAL + "  - kind: avg\n    column: x\n",
        MINIMAL + "alpha: 1.5\n",
        MINIMAL + "segment: [platform]\n",
        MINIMAL + "sequential: bayes\n",
        MINIMAL + "sequential: msprt\n",
        MINIMAL + "sequential: group-sequential\ntime: day\n",
        MINIMAL + "sequential: msprt\ntime: day\nspending: pocock\n",
        MINIMAL + "spending: pocock\n",
        MINIMAL + "sequential: group-sequential\ntime: day\nplanned: {sample_size: 10}\n"
        "spending: linear\n",
        MINIMAL + "bayesian: {prior: jeffreys}\n",
        MINIMAL + "bayesian: 3\n",
        MINIMAL + "planned: {sample_size: 1.5}\n",
        MINIMAL.replace("column: revenue", "colum: revenue"),
        WAREHOUSE.replace("password_env: ABLENS_TEST_PGPASSWORD", "password: hunter2"),
        WAREHOUSE.replace("backend: postgres", "backend: bigquery"),
        MINIMAL.replace("path: users.parquet", "path: a.csv\n  spark: {table: t}"),
    ]
    for text in bad:
        with pytest.raises(PlanError):
            parse_plan(text)
        assert list(validator.iter_errors(_as_json(yaml.safe_load(text)))), text
    for good in (
        MINIMAL,
        WAREHOUSE,
        MINIMAL + "arms: [control, b]\ncorrection: null\n",
        MINIMAL + "sequential: msprt\ntime: day\nbayesian: true\n",
        MINIMAL + "sequential: group-sequential\ntime: day\nplanned: {sample_size: 10}\n",
        MINIMAL + "sequential: group-sequential\ntime: day\nplanned: {sample_size: 10}\n"
        "spending: hsd\n",
        MINIMAL + "bayesian: {prior: flat}\n",
    ):
        parse_plan(good)
        assert list(validator.iter_errors(_as_json(yaml.safe_load(good)))) == [], good


@pytest.mark.parametrize(
    ("keys", "valid"),
    [
        ("exact: true", True),
        ("exact: false", True),
        ("exact: auto", True),
        ("continuity: false", True),
        ("exact: true\n    continuity: true", True),
        ("exact: maybe", False),
        ("exact: 1", False),
        ("exact: 'true'", False),
        ("continuity: 3", False),
        ("continuity: auto", False),
        ("continuity: 0", False),
    ],
)
def test_schema_and_loader_agree_on_switches(keys, valid):
    jsonschema = pytest.importorskip("jsonschema")
    yaml = pytest.importorskip("yaml")
    validator = jsonschema.Draft202012Validator(plan_json_schema())
    text = RANK_PLAN + f"    {keys}\n"
    document = _as_json(yaml.safe_load(text))
    errors = list(validator.iter_errors(document))
    if valid:
        parse_plan(text)
        assert errors == []
    else:
        with pytest.raises(PlanError):
            parse_plan(text)
        assert errors


# ----------------------------------------------------------------------------- running
@pytest.fixture(scope="module")
def demo_db(tmp_path_factory):
    path = tmp_path_factory.mktemp("demo") / "demo.duckdb"
    demo.run(path, users=20_000)
    return path


def _demo_plan(directory: Path, source: str, extra: str = "") -> Path:
    text = (
        EXAMPLE.read_text().split("source:")[0]
        + source
        + "\n"
        + ("variant" + EXAMPLE.read_text().split("\nvariant", 1)[1])
    )
    plan = directory / "plan.yaml"
    plan.write_text(text + extra)
    return plan


def test_run_plan_on_duckdb_matches_analyze(demo_db, tmp_path):
    plan = load_plan(
        _demo_plan(tmp_path, f"source:\n  duckdb: {{file: {demo_db}, table: users}}\n")
    )
    result = run_plan(plan)
    assert result.arms == ("control", "new_checkout")
    assert sum(result.counts) == 20_000
    assert [c.metric for c in result.comparisons] == [m.name for m in plan.metrics]
    assert result.correction == "holm"
    assert set(result.segments) == {"platform=android", "platform=ios", "platform=web"}
    import duckdb  # noqa: PLC0415

    with duckdb.connect(str(demo_db), read_only=True) as connection:
        direct = ablens.analyze(
            (connection, "users"),
            plan.metric_objects(),
            control="control",
            unit="user_id",
            segments=["platform"],
            arms=["control", "new_checkout"],
            correction="holm",
            family="primary",
            weights={"control": 50, "new_checkout": 50},
        )
    assert result.to_dict()["comparisons"] == direct.to_dict()["comparisons"]


def test_relative_paths_are_relative_to_the_plan_file(demo_db, tmp_path):
    (tmp_path / "data").mkdir()
    copy = tmp_path / "data" / "shop.duckdb"
    copy.write_bytes(demo_db.read_bytes())
    plan = load_plan(
        _demo_plan(tmp_path, "source:\n  duckdb: {file: data/shop.duckdb, table: users}\n")
    )
    assert sum(run_plan(plan).counts) == 20_000


@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
def test_run_plan_on_a_file(demo_db, tmp_path, suffix):
    import duckdb  # noqa: PLC0415

    file = tmp_path / f"users{suffix}"
    with duckdb.connect(str(demo_db), read_only=True) as connection:
        how = "(FORMAT parquet)" if suffix == ".parquet" else "(HEADER)"
        connection.execute(f"COPY users TO '{file}' {how}")
    plan = load_plan(_demo_plan(tmp_path, f"source:\n  path: {file.name}\n"))
    assert sum(run_plan(plan).counts) == 20_000


def test_unknown_columns_are_reported_at_their_lines(demo_db, tmp_path):
    path = _demo_plan(tmp_path, f"source:\n  duckdb: {{file: {demo_db}, table: users}}\n")
    path.write_text(
        path.read_text()
        .replace("column: sessions", "column: sesions")
        .replace("[platform]", "[country]")
    )
    plan = load_plan(path)
    with pytest.raises(PlanError) as info:
        run_plan(plan)
    first, second = info.value.messages
    assert first.startswith(
        f"{path}:{plan.lines['segments[0]']}: segments[0] == 'country' is not a column of the "
        "data; available columns: ['user_id', 'variant', 'platform',"
    )
    assert second.startswith(
        f"{path}:{plan.lines['metrics[3].column']}: metrics[3].column == 'sesions' is not a "
        "column of the data"
    )


def test_missing_file_and_table_are_plan_errors(demo_db, tmp_path):
    plan = load_plan(_demo_plan(tmp_path, "source:\n  duckdb: {file: nowhere.duckdb, table: t}\n"))
    with pytest.raises(PlanError, match=r"source.duckdb.file: no such file"):
        run_plan(plan)
    assert not (tmp_path / "nowhere.duckdb").exists()  # never created by opening it
    plan = load_plan(
        _demo_plan(tmp_path, f"source:\n  duckdb: {{file: {demo_db}, table: orders}}\n")
    )
    with pytest.raises(PlanError, match=r"'orders' is not in .*; tables: \['users'\]"):
        run_plan(plan)
    plan = load_plan(_demo_plan(tmp_path, "source:\n  path: missing.parquet\n"))
    with pytest.raises(PlanError, match=r"plan.yaml:\d+: source.path: no such file"):
        check_source(plan)


def test_run_plan_with_data_override():
    pl = pytest.importorskip("polars")
    frame = pl.DataFrame(
        {"variant": ["control"] * 4 + ["b"] * 4, "revenue": [1.0, 2, 3, 4, 2, 3, 4, 6]}
    )
    result = run_plan(parse_plan(MINIMAL), data=frame)
    assert result.comparison("revenue").result.effect == 1.25


def test_run_plan_on_postgres(ibis_postgres, postgres_url, monkeypatch):
    from urllib.parse import urlparse  # noqa: PLC0415

    frame = demo.generate(2_000, seed=3)
    import pyarrow as pa  # noqa: PLC0415

    ibis_postgres.create_table("plan_users", pa.table(frame), overwrite=True)
    url = urlparse(postgres_url)
    monkeypatch.setenv("ABLENS_TEST_PGPASSWORD", url.password or "")
    text = textwrap.dedent(
        f"""\
        experiment_id: pg-plan
        source:
          warehouse:
            backend: postgres
            host: {url.hostname}
            port: {url.port}
            user: {url.username}
            database: {url.path.lstrip("/")}
            password_env: ABLENS_TEST_PGPASSWORD
            table: plan_users
        control: control
        unit: user_id
        metrics:
          - {{kind: proportion, column: converted}}
          - {{kind: ratio, numerator: orders, denominator: sessions}}
        """
    )
    result = run_plan(parse_plan(text))
    expected = ablens.analyze(
        pa.table(frame),
        parse_plan(text).metric_objects(),
        control="control",
        unit="user_id",
    )
    assert result.counts == expected.counts
    for got, want in zip(result.comparisons, expected.comparisons, strict=True):
        assert got.result.p_value == pytest.approx(want.result.p_value, rel=1e-9)


def test_run_plan_on_spark(spark):
    rows = [("control", 1.0), ("control", 2.0), ("b", 2.0), ("b", 4.0)] * 25
    spark.createDataFrame(rows, ["variant", "revenue"]).createOrReplaceTempView("plan_users")
    text = MINIMAL.replace("path: users.parquet", "spark: {table: plan_users}")
    result = run_plan(parse_plan(text))
    assert result.counts == (50, 50)
    assert result.comparison("revenue").result.effect == pytest.approx(1.5)
    missing = parse_plan(MINIMAL.replace("path: users.parquet", "spark: {table: no_such_view}"))
    with pytest.raises(PlanError, match=r"^<plan>:3: source.spark.table == 'no_such_view' cannot"):
        run_plan(missing)


@pytest.mark.parametrize(("written", "read"), [("none", None), ("null", None), ("auto", "auto")])
def test_correction_none_turns_the_many_arms_default_off(written, read):
    plan = plan_from_dict(
        {
            "experiment_id": "e",
            "source": {"path": "x.parquet"},
            "control": "control",
            "metrics": [{"kind": "mean", "column": "x"}],
            "correction": None if written == "null" else written,
        }
    )
    assert plan.correction == read
