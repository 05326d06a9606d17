"""Reading a catalog folder: the example, and every validation error at its file and line."""

from __future__ import annotations

from pathlib import Path

import pytest
from catalog_helpers import EXAMPLE, SOURCES, errors, metrics_errors, write

from ablens.analysis_plan import DuckDBSource, PathSource, RowFilter
from ablens.catalog import (
    Catalog,
    CatalogError,
    CatalogMetric,
    ExposureSource,
    FactTable,
    Location,
    Ratio,
    TableRef,
    Window,
    load_catalog,
)
from ablens.errors import ConfigError


# ----------------------------------------------------------------------------- the example
def test_the_example_catalog_loads_with_every_definition():
    catalog = load_catalog(EXAMPLE)
    assert isinstance(catalog, Catalog)
    assert catalog.name == "shop"
    assert catalog.max_window_days == 28
    assert catalog.files == (
        "catalog.yaml",
        "metrics/commerce.yaml",
        "metrics/engagement.yaml",
        "sources.yaml",
    )
    assert list(catalog.metrics) == [
        "revenue_7d",
        "orders_7d",
        "buyers_7d",
        "average_order_value_7d",
        "largest_order_7d",
        "sessions_14d",
        "session_length_14d",
        "refund_rate_28d",
    ]
    assert catalog.metric("revenue_7d") == CatalogMetric(
        name="revenue_7d",
        owner="growth-analytics",
        description="Revenue of paid orders in the 7 days after first exposure, per exposed user.",
        source="orders",
        aggregation="sum",
        column="revenue",
        filter=(RowFilter("status", "==", "paid"),),
        window=Window(0, 7),
        direction="increase",
        format="currency",
        currency="EUR",
        cuped_window=Window(-14, 0),
        role="primary",
        no_events="zero",
    )
    assert catalog.metric("revenue_7d").defined_at == Location(
        str(EXAMPLE / "metrics" / "commerce.yaml"), 2
    )
    ratio = catalog.metric("average_order_value_7d")
    assert ratio.ratio == Ratio("revenue_7d", "orders_7d")
    assert (ratio.plan_kind, ratio.no_events, ratio.format) == ("ratio", None, "currency")
    assert catalog.metric("buyers_7d").plan_kind == "proportion"
    assert catalog.metric("buyers_7d").format == "percent"
    assert catalog.metric("sessions_14d").format == "count"
    # a unit without events: zero by default, missing for mean and max
    assert catalog.metric("largest_order_7d").no_events == "missing"
    assert catalog.metric("orders_7d").no_events == "zero"
    guard = catalog.metric("refund_rate_28d")
    assert (guard.role, guard.margin, guard.direction) == ("guardrail", 0.05, "decrease")
    assert guard.window.length_days == 28.0


def test_the_example_sources_keep_their_location_and_columns():
    catalog = load_catalog(EXAMPLE)
    exposures = catalog.source("exposures")
    assert isinstance(exposures, ExposureSource)
    assert (exposures.experiment, exposures.unit, exposures.arm, exposures.time) == (
        "experiment_id",
        "user_id",
        "variant",
        "exposed_at",
    )
    assert exposures.location == TableRef("analytics.exposures")
    orders = catalog.source("orders")
    assert isinstance(orders, FactTable)
    assert orders.location == TableRef(
        "analytics.orders", (RowFilter("is_test", "==", value=False),)
    )
    assert orders.offered == ("order_id", "revenue", "status", "country", "user_id", "ordered_at")
    sessions = catalog.source("sessions")
    assert sessions.location == PathSource("events/sessions/*.parquet")
    assert catalog.exposure_sources == (exposures,)
    assert catalog.fact_tables == (orders, sessions)


def test_requires_replaces_ratios_by_their_parts_once():
    catalog = load_catalog(EXAMPLE)
    needed = catalog.requires(["revenue_7d", "average_order_value_7d", "buyers_7d"])
    assert [m.name for m in needed] == ["revenue_7d", "orders_7d", "buyers_7d"]


def test_a_missing_metric_name_suggests_the_closest():
    catalog = load_catalog(EXAMPLE)
    with pytest.raises(
        CatalogError,
        match=r"metric 'revenue7d' is not in the catalog; did you "
        r"mean 'revenue_7d'\?",
    ):
        catalog.metric("revenue7d")
    with pytest.raises(CatalogError, match=r"source 'order' .* did you mean 'orders'\?"):
        catalog.source("order")
    with pytest.raises(CatalogError, match=r"metric 'revenue7d' is not in the catalog"):
        catalog.requires(["revenue7d"])


def test_a_plan_style_source_is_read_by_the_plans_reader(tmp_path):
    write(
        tmp_path,
        {
            "s.yaml": """\
            sources:
              events:
                kind: facts
                duckdb: {file: shop.duckdb, table: events}
                filter: [{column: country, op: in, value: [DE, FR]}]
                unit: user_id
                time: at
                columns: [country]
            """
        },
    )
    source = load_catalog(tmp_path).source("events")
    assert source.location == DuckDBSource(
        "shop.duckdb", "events", filter=(RowFilter("country", "in", ("DE", "FR")),)
    )


def test_a_single_file_is_a_catalog(tmp_path):
    write(tmp_path, {"one.yaml": SOURCES})
    catalog = load_catalog(tmp_path / "one.yaml")
    assert list(catalog.sources) == ["exposures", "orders"]
    assert catalog.version.startswith("sha256:")


# ----------------------------------------------------------------------------- files
def test_a_missing_folder_or_one_without_yaml_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match=r"no such catalog folder or file"):
        load_catalog(tmp_path / "nope")
    (tmp_path / "README.md").write_text("# not yaml\n")
    with pytest.raises(ConfigError, match=r"holds no \.yaml or \.yml file"):
        load_catalog(tmp_path)


def test_hidden_folders_and_other_files_are_skipped(tmp_path):
    write(tmp_path, {"s.yml": SOURCES, ".git/x.yaml": "not: [valid", "notes.txt": "x: ["})
    assert load_catalog(tmp_path).files == ("s.yml",)


def test_invalid_yaml_names_the_file_and_line(tmp_path):
    write(tmp_path, {"s.yaml": SOURCES, "m.yaml": "metrics:\n  a: [unclosed\n"})
    (message,) = errors(tmp_path)
    assert message.startswith(f"{tmp_path / 'm.yaml'}:2: invalid YAML: expected ',' or ']'")


def test_an_alias_bomb_is_refused_by_the_plans_limits(tmp_path):
    lines = ['x0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    lines += [f"x{i}: &a{i} [{','.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 9)]
    write(tmp_path, {"bomb.yaml": "\n".join(lines) + "\n"})
    (message,) = errors(tmp_path)
    assert message == (
        f"{tmp_path / 'bomb.yaml'}:6: the file uses YAML aliases that expand to more than "
        "100,000 keys and values (aliases inside aliases multiply); write the values out or "
        "use fewer nested aliases"
    )


def test_a_key_given_twice_in_one_file_names_both_lines(tmp_path):
    text = SOURCES + "  orders:\n    kind: facts\n"
    write(tmp_path, {"s.yaml": text})
    assert errors(tmp_path) == [
        f"{tmp_path / 's.yaml'}:15: sources.orders is given twice (first on line 9)"
    ]


def test_unknown_keys_suggest_the_closest(tmp_path):
    messages = metrics_errors(
        tmp_path,
        """\
        metrics:
          revenue:
            owner: a
            source: orders
            aggregation: sum
            column: revenue
            windw: [0, 7]
        """,
    )
    file = tmp_path / "metrics.yaml"
    assert len(messages) == 1
    assert messages[0].startswith(
        f"{file}:7: metrics.revenue.windw is not a key of a catalog metric; "
        "did you mean 'window'? (keys: description, owner, source,"
    )
    write(tmp_path, {"top.yaml": "metric: {}\n"})
    assert (
        f"{tmp_path / 'top.yaml'}:1: metric is not a key of a catalog file; did you mean "
        "'metrics'?" in "\n".join(errors(tmp_path))
    )


# ----------------------------------------------------------------------------- across files
def test_a_metric_defined_in_two_files_names_both_files_and_lines(tmp_path):
    metric = "metrics:\n  revenue:\n    owner: a\n    source: orders\n    aggregation: count\n"
    write(tmp_path, {"s.yaml": SOURCES, "a/one.yaml": metric, "b/two.yaml": "\n\n" + metric})
    assert errors(tmp_path) == [
        (
            f"{tmp_path / 'b' / 'two.yaml'}:4: metric 'revenue' is defined twice: here and in "
            f"{tmp_path / 'a' / 'one.yaml'}:2; keep one definition (or rename one metric)"
        )
    ]


def test_a_source_defined_in_two_files_names_both(tmp_path):
    write(tmp_path, {"a.yaml": SOURCES, "b.yaml": SOURCES})
    messages = errors(tmp_path)
    assert messages == [
        (
            f"{tmp_path / 'b.yaml'}:2: source 'exposures' is defined twice: here and in "
            f"{tmp_path / 'a.yaml'}:2; keep one definition (or rename one source)"
        ),
        (
            f"{tmp_path / 'b.yaml'}:9: source 'orders' is defined twice: here and in "
            f"{tmp_path / 'a.yaml'}:9; keep one definition (or rename one source)"
        ),
    ]


def test_two_catalog_blocks_are_refused(tmp_path):
    write(tmp_path, {"a.yaml": "catalog: {name: x}\n", "b.yaml": "catalog: {name: y}\n"})
    assert errors(tmp_path) == [
        (
            f"{tmp_path / 'b.yaml'}:1: catalog: is also given in {tmp_path / 'a.yaml'}:1; keep one "
            "catalog: block in one file"
        )
    ]


def test_an_unknown_source_suggests_the_closest(tmp_path):
    messages = metrics_errors(
        tmp_path, "metrics:\n  n:\n    owner: a\n    source: order\n    aggregation: count\n"
    )
    assert messages == [
        (
            f"{tmp_path / 'metrics.yaml'}:4: metrics.n.source == 'order' is not a source of the "
            "catalog (did you mean 'orders'?); its sources: exposures, orders; define it or fix "
            "the name"
        )
    ]


def test_a_metric_on_an_exposure_source_is_refused(tmp_path):
    messages = metrics_errors(
        tmp_path, "metrics:\n  n:\n    owner: a\n    source: exposures\n    aggregation: count\n"
    )
    assert messages == [
        (
            f"{tmp_path / 'metrics.yaml'}:4: metrics.n.source == 'exposures' is an exposure "
            "source; "
            "a metric aggregates a fact table (kind: facts): name one"
        )
    ]


RATIO = (
    "  {name}:\n    owner: a\n    ratio: {{numerator: {numerator}, denominator: {denominator}}}\n"
)
COUNT = "  n:\n    owner: a\n    source: orders\n    aggregation: count\n"


def test_an_unknown_ratio_part_suggests_the_closest(tmp_path):
    text = "metrics:\n" + COUNT + RATIO.format(name="r", numerator="nn", denominator="n")
    assert metrics_errors(tmp_path, text) == [
        (
            f"{tmp_path / 'metrics.yaml'}:8: metrics.r.ratio.numerator == 'nn' is not a metric of "
            "the catalog (did you mean 'n'?); its metrics: n, r; define it or fix the name"
        )
    ]


def test_ratio_cycles_are_named(tmp_path):
    text = (
        "metrics:\n"
        + COUNT
        + RATIO.format(name="a", numerator="b", denominator="n")
        + RATIO.format(name="b", numerator="n", denominator="a")
        + RATIO.format(name="c", numerator="c", denominator="n")
    )
    file = tmp_path / "metrics.yaml"
    assert metrics_errors(tmp_path, text) == [
        (
            f"{file}:8: metrics.a.ratio refers back to itself: a -> b -> a; a ratio's numerator "
            "and "
            "denominator must be simple metrics (source and aggregation), so break the loop"
        ),
        (
            f"{file}:14: metrics.c.ratio refers back to itself: c -> c; a ratio's numerator and "
            "denominator must be simple metrics (source and aggregation), so break the loop"
        ),
    ]


def test_a_ratio_of_ratios_is_refused(tmp_path):
    text = (
        "metrics:\n"
        + COUNT
        + RATIO.format(name="a", numerator="n", denominator="n")
        + RATIO.format(name="b", numerator="a", denominator="n")
    )
    (message,) = metrics_errors(tmp_path, text)
    assert message.startswith(
        f"{tmp_path / 'metrics.yaml'}:11: metrics.b.ratio.numerator == 'a' is a ratio metric; "
    )


def test_a_window_longer_than_the_declared_maximum(tmp_path):
    write(tmp_path, {"catalog.yaml": "catalog:\n  max_window_days: 14\n"})
    text = "metrics:\n" + COUNT + "    window: [0, 28]\n    cuped_window: [-30, 0]\n"
    file, settings = tmp_path / "metrics.yaml", tmp_path / "catalog.yaml"
    assert metrics_errors(tmp_path, text) == [
        (
            f"{file}:6: metrics.n.window == [0, 28] lasts 28 days, longer than "
            f"catalog.max_window_days == 14 ({settings}:1); shorten the window or raise the maximum"
        ),
        (
            f"{file}:7: metrics.n.cuped_window == [-30, 0] lasts 30 days, longer than "
            f"catalog.max_window_days == 14 ({settings}:1); shorten the window or raise the maximum"
        ),
    ]


def test_columns_a_fact_table_does_not_offer(tmp_path):
    text = """\
    metrics:
      n:
        owner: a
        source: orders
        aggregation: sum
        column: revenu
        filter:
          - {column: status, op: "==", value: paid}
          - {column: country, op: "==", value: DE}
    """
    file = tmp_path / "metrics.yaml"
    offered = "revenue, status, user_id, ordered_at"
    assert metrics_errors(tmp_path, text) == [
        (
            f"{file}:6: metrics.n.column == 'revenu' is not a column fact table 'orders' "
            f"({tmp_path / 'sources.yaml'}:9) offers (did you mean 'revenue'?); its columns: "
            f"{offered}; fix the name or add the column to its columns:"
        ),
        (
            f"{file}:9: metrics.n.filter[1].column == 'country' is not a column fact table "
            "'orders' "
            f"({tmp_path / 'sources.yaml'}:9) offers; its columns: {offered}; fix the name or add "
            "the column to its columns:"
        ),
    ]


# ----------------------------------------------------------------------------- sources
def test_a_fact_table_without_its_unit_column(tmp_path):
    write(
        tmp_path,
        {
            "s.yaml": "sources:\n  t:\n    kind: facts\n    table: t\n    time: at\n"
            "    columns: [x]\n"
        },
    )
    assert errors(tmp_path) == [
        (
            f"{tmp_path / 's.yaml'}:2: sources.t.unit is missing; add unit: <the column "
            "identifying "
            "the unit (user, device, ...)>; a fact table joins exposures on it"
        )
    ]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            "    table: e\n    experiment: e\n    unit: u\n    time: t\n",
            ":4: sources.s.arm is missing; add arm: <the column holding the arm label>",
        ),
        (
            (
                "    table: e\n    sql: SELECT 1\n    experiment: e\n    unit: u\n    arm: a\n"
                "    time: t\n"
            ),
            ":7: sources.s.sql is refused: catalog sources are SQL-free",
        ),
        (
            "    experiment: e\n    unit: u\n    arm: a\n    time: t\n",
            (
                ":4: sources.s has no location; give exactly one of table, path, duckdb, "
                "warehouse, "
                "spark"
            ),
        ),
        (
            (
                "    table: e\n    path: e.parquet\n    experiment: e\n    unit: u\n    arm: a\n"
                "    time: t\n"
            ),
            ":4: sources.s has table and path; give exactly one of",
        ),
        (
            (
                "    warehouse: {backend: postgres, table: e, password: hunter2}\n"
                "    experiment: e\n    unit: u\n    arm: a\n    time: t\n"
            ),
            ":6: sources.s.warehouse.password is a literal secret and is refused",
        ),
        (
            "    path: exposures.json\n    experiment: e\n    unit: u\n    arm: a\n    time: t\n",
            ":6: sources.s.path == 'exposures.json', must end in one of .parquet",
        ),
        (
            (
                "    table: e\n    experiment: e\n    unit: u\n    arm: a\n    time: t\n"
                "    columns: [x]\n"
            ),
            ":11: sources.s.columns is not a key of an exposure source",
        ),
    ],
)
def test_exposure_source_errors(tmp_path, body, expected):
    write(tmp_path, {"s.yaml": "\n\nsources:\n  s:\n    kind: exposure\n" + body})
    # two blank lines first: the numbers below count them
    messages = errors(tmp_path)
    assert len(messages) == 1, messages
    assert messages[0].startswith(f"{tmp_path / 's.yaml'}{expected}"), messages[0]


def test_a_source_without_kind_and_a_bad_name(tmp_path):
    write(tmp_path, {"s.yaml": "sources:\n  t:\n    table: t\n  2bad: {}\n"})
    file = tmp_path / "s.yaml"
    messages = errors(tmp_path)
    assert messages[0] == (
        f"{file}:2: sources.t.kind is missing; write kind: exposure (an assignment table) or "
        "kind: facts (an event table)"
    )
    assert f"{file}:4: sources.2bad: the name '2bad' must start with a letter" in messages[-1]


# ----------------------------------------------------------------------------- metrics
@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("    source: orders\n    aggregation: count\n", ":2: metrics.m.owner is missing"),
        (
            "    owner: a\n    source: orders\n    aggregation: sum\n",
            ":2: metrics.m.column is missing; aggregation sum reads a column",
        ),
        (
            "    owner: a\n    source: orders\n    aggregation: count\n    column: revenue\n",
            (
                ":6: metrics.m.column is given, but aggregation count counts the rows that meet "
                "the filter; remove column (to skip NULLs add filter: [{column: revenue, op: "
                "not-null}])"
            ),
        ),
        (
            "    owner: a\n    source: orders\n    aggregation: median\n",
            (
                ":5: metrics.m.aggregation == 'median', must be one of 'sum', 'count', "
                "'count_distinct', 'mean', 'any', 'max'"
            ),
        ),
        ("    owner: a\n    aggregation: count\n", ":2: metrics.m.source is missing"),
        (
            "    owner: a\n    source: orders\n    aggregation: count\n    margin: 0.02\n",
            (
                ":6: metrics.m.margin is a guardrail's non-inferiority margin, and the metric's "
                "role "
                "is not set; add role: guardrail or remove margin"
            ),
        ),
        (
            (
                "    owner: a\n    source: orders\n    aggregation: count\n    role: guardrail\n"
                "    margin: 2\n"
            ),
            ":7: metrics.m.margin == 2, must be a relative margin in (0, 1)",
        ),
        (
            "    owner: a\n    source: orders\n    aggregation: count\n    currency: euro\n",
            ":6: metrics.m.currency == 'euro', must be an ISO 4217 code like EUR or USD",
        ),
        (
            "    owner: a\n    source: orders\n    aggregation: count\n    format: currency\n",
            ":2: metrics.m.currency is missing; format: currency needs e.g. currency: EUR",
        ),
        (
            (
                "    owner: a\n    source: orders\n    aggregation: count\n    format: percent\n"
                "    currency: EUR\n"
            ),
            ":7: metrics.m.currency is given with format: percent",
        ),
        (
            "    owner: a\n    source: orders\n    aggregation: count\n    window: [7, 0]\n",
            ":6: metrics.m.window == [7, 0] ends before it starts",
        ),
        (
            "    owner: a\n    source: orders\n    aggregation: count\n    window: [-1, 7]\n",
            ":6: metrics.m.window == [-1, 7] starts before exposure",
        ),
        (
            "    owner: a\n    source: orders\n    aggregation: count\n    window: 7\n",
            (
                ":6: metrics.m.window == 7, must be [start, end] in days from first exposure, "
                "e.g. [0, 7]"
            ),
        ),
        (
            "    owner: a\n    source: orders\n    aggregation: count\n    cuped_window: [-7, 1]\n",
            ":6: metrics.m.cuped_window == [-7, 1] reaches after exposure",
        ),
        (
            "    owner: a\n    source: orders\n    aggregation: count\n    no_events: nan\n",
            ":6: metrics.m.no_events == 'nan', must be one of 'zero', 'missing'",
        ),
        (
            "    owner: a\n    source: orders\n    aggregation: count\n    direction: up\n",
            ":6: metrics.m.direction == 'up', must be one of 'increase', 'decrease'",
        ),
        (
            "    owner: a\n    ratio: {numerator: m, denominator: m}\n    window: [0, 7]\n",
            (
                ":5: metrics.m.window is given, but a ratio metric takes it from its numerator and "
                "denominator metrics"
            ),
        ),
        (
            "    owner: a\n    ratio: {numerator: m}\n",
            ":4: metrics.m.ratio.denominator is missing; name a metric of the catalog",
        ),
        (
            (
                "    owner: a\n    source: orders\n    aggregation: count\n"
                "    filter: [{column: status, op: like, value: p}]\n"
            ),
            ":6: metrics.m.filter[0].op == 'like', must be one of '==', '!='",
        ),
    ],
)
def test_metric_errors(tmp_path, body, expected):
    messages = metrics_errors(tmp_path, "metrics:\n  m:\n" + body)
    assert len(messages) == 1, messages
    assert messages[0].startswith(f"{tmp_path / 'metrics.yaml'}{expected}"), messages[0]


def test_every_problem_is_reported_at_once_in_file_and_line_order(tmp_path):
    write(
        tmp_path,
        {
            "b.yaml": "metrics:\n  m:\n    owner: a\n    source: nope\n    aggregation: count\n",
            "a.yaml": SOURCES + "  bad:\n    kind: facts\n    table: t\n    time: at\n"
            "    columns: [x]\n",
        },
    )
    messages = errors(tmp_path)
    assert [m.split(": ")[0] for m in messages] == [
        f"{tmp_path / 'a.yaml'}:15",
        f"{tmp_path / 'b.yaml'}:4",
    ]
    assert all("\n" not in m for m in messages)
    with pytest.raises(CatalogError) as caught:
        load_catalog(tmp_path)
    assert str(caught.value) == "\n".join(messages)
    assert isinstance(caught.value, ConfigError)


def test_an_empty_file_defines_nothing(tmp_path):
    write(tmp_path, {"s.yaml": SOURCES, "empty.yaml": "# nothing yet\n"})
    assert list(load_catalog(tmp_path).sources) == ["exposures", "orders"]
    assert Path(tmp_path / "empty.yaml").is_file()


# ----------------------------------------------------------------------------- the data
def test_a_table_without_the_declared_unit_column_names_the_definition(tmp_path):
    duckdb = pytest.importorskip("duckdb")
    database = tmp_path / "shop.duckdb"
    with duckdb.connect(str(database)) as connection:
        connection.sql("CREATE TABLE orders (uid INT, ordered_at TIMESTAMP, revenue DOUBLE)")
        columns = [row[0] for row in connection.sql("DESCRIBE orders").fetchall()]
    write(tmp_path, {"sources.yaml": SOURCES})
    catalog = load_catalog(tmp_path)
    with pytest.raises(CatalogError) as caught:
        catalog.check_columns("orders", columns, table="orders")
    file = tmp_path / "sources.yaml"
    found = "(its columns: uid, ordered_at, revenue); fix the catalog or the table"
    assert caught.value.messages == (
        f"{file}:9: sources.orders.unit == 'user_id' is not a column of the table orders {found}",
        f"{file}:9: sources.orders.columns[1] == 'status' is not a column of the table orders "
        + found,
    )
    catalog.check_columns("orders", ["user_id", "ordered_at", "revenue", "status"], table="o")
    with pytest.raises(CatalogError, match=r"sources.exposures.arm == 'variant' is not a column"):
        catalog.check_columns(
            "exposures", ["experiment_id", "user_id", "exposed_at"], table="exposures"
        )


def test_an_invalid_metric_still_has_its_references_checked(tmp_path):
    text = """\
    metrics:
      m:
        owner: a
        source: order
        aggregation: sum
        windw: [0, 7]
      r:
        ratio: {numerator: mm, denominator: m}
    """
    file = tmp_path / "metrics.yaml"
    messages = metrics_errors(tmp_path, text)
    assert [message.split(" ==")[0].split(" is ")[0] for message in messages] == [
        f"{file}:2: metrics.m.column",
        f"{file}:4: metrics.m.source",
        f"{file}:6: metrics.m.windw",
        f"{file}:7: metrics.r.owner",
        f"{file}:8: metrics.r.ratio.numerator",
    ]
    assert "(did you mean 'orders'?)" in messages[1]
    assert "(did you mean 'm'?)" in messages[4]


def test_a_loaded_catalog_is_read_only():
    catalog = load_catalog(EXAMPLE)
    with pytest.raises(TypeError):
        catalog.metrics["new"] = catalog.metric("revenue_7d")  # type: ignore[index]
    with pytest.raises(AttributeError):
        catalog.metric("revenue_7d").window = Window(0, 1)  # type: ignore[misc]
