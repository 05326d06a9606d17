"""`check_data`, ``ablens check`` and the plan's exposure rule, on one seeded dirty fixture.

The fixture is built from a clean table with every problem planted a known number of times, so
the expected counts are known by construction; a second, independent count in plain Python
(`collections.Counter` over the rows) must agree with them before the engines are asked.
Each engine (pandas, polars, DuckDB through a ``(connection, "table")`` pair) must report every
problem, with the exact counts, in one call.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import polars as pl
import pytest
from typer.testing import CliRunner

import ablens
from ablens import DataError, ExposureCheck, InputError, Mean, check_data
from ablens.analysis_plan import PlanError, check_plan, parse_plan
from ablens.cli.app import app

CLEAN_UNITS = 200
PAGES = {"control": "old_page", "treatment": "new_page"}
# What is planted, by construction.
IN_BOTH_ARMS = 7  # units with a second row in the other arm
REPEATED = {"control": 4, "treatment": 3}  # units with extra rows within their arm ...
EXTRA_ROWS_EACH = 2  # ... two extra rows each
MISMATCH = {"control": 3, "treatment": 6}  # rows served the other arm's page
NULL_PAGE = {"control": 0, "treatment": 1}  # a NULL exposure also disagrees
NULL_VARIANT = 2
NULL_REVENUE = {"control": 0, "treatment": 4}
NULL_UNIT = {"control": 1, "treatment": 0}
UNKNOWN = {"treatmnet": 3}  # a typo'd label
SKEWED_SEGMENT = "android"  # 80% of its units in treatment


def dirty_rows(seed: int = 15) -> list[dict[str, Any]]:
    """The dirty fixture: 200 clean units, then each problem planted its stated number of times."""
    rng = np.random.default_rng(seed)
    rows: list[dict[str, Any]] = []
    for user in range(1, CLEAN_UNITS + 1):
        platform = str(rng.choice(["ios", "web", SKEWED_SEGMENT]))
        share = 0.8 if platform == SKEWED_SEGMENT else 0.5
        arm = "treatment" if rng.random() < share else "control"
        revenue = float(np.round(rng.exponential(10.0), 2))
        rows.append(
            {
                "user": user,
                "variant": arm,
                "page": PAGES[arm],
                "platform": platform,
                "revenue": revenue,
            }
        )
    by_arm = {arm: [r for r in rows if r["variant"] == arm] for arm in PAGES}
    other = {"control": "treatment", "treatment": "control"}
    # Units in both arms: the first units of control get a row in treatment (right page).
    rows.extend(
        {**r, "variant": "treatment", "page": PAGES["treatment"]}
        for r in by_arm["control"][:IN_BOTH_ARMS]
    )
    # Repeats within an arm: later units (disjoint from the above), two extra rows each.
    for arm, count in REPEATED.items():
        rows.extend(dict(r) for r in by_arm[arm][20 : 20 + count] for _ in range(EXTRA_ROWS_EACH))
    # Exposure mismatches on fresh clean units (rows 40.. of each arm), then a NULL page.
    for arm, count in MISMATCH.items():
        for r in by_arm[arm][40 : 40 + count]:
            r["page"] = PAGES[other[arm]]
    for arm, count in NULL_PAGE.items():
        for r in by_arm[arm][50 : 50 + count]:
            r["page"] = None
    for arm, count in NULL_REVENUE.items():
        for r in by_arm[arm][60 : 60 + count]:
            r["revenue"] = None
    return rows + unlabelled_and_null_rows()


def unlabelled_and_null_rows() -> list[dict[str, Any]]:
    """Rows with a NULL unit id, a typo'd arm label or a NULL variant."""

    def row(user: int | None, variant: str | None, page: str | None) -> dict[str, Any]:
        return {"user": user, "variant": variant, "page": page, "platform": "web", "revenue": 1.0}

    rows = [row(None, arm, PAGES[arm]) for arm, n in NULL_UNIT.items() for _ in range(n)]
    labels = [label for label, n in UNKNOWN.items() for _ in range(n)]
    labels += [None] * NULL_VARIANT
    rows += [row(CLEAN_UNITS + 1 + i, label, None) for i, label in enumerate(labels)]
    return rows


def counted_in_python(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The same counts, independently, in plain Python over the rows."""
    labelled = [r for r in rows if r["variant"] is not None]
    per_unit_arm = Counter((r["user"], r["variant"]) for r in labelled if r["user"] is not None)
    arms_of = Counter(user for user, _ in per_unit_arm)
    return {
        "arm_rows": dict(Counter(r["variant"] for r in labelled)),
        "null_variant": sum(r["variant"] is None for r in rows),
        "revenue": dict(Counter(r["variant"] for r in labelled if r["revenue"] is None)),
        "user": dict(Counter(r["variant"] for r in labelled if r["user"] is None)),
        "repeated_rows": dict(
            sum((Counter({arm: n - 1}) for (_, arm), n in per_unit_arm.items() if n > 1), Counter())
        ),
        "repeated_units": dict(Counter(arm for (_, arm), n in per_unit_arm.items() if n > 1)),
        "several": sum(n > 1 for n in arms_of.values()),
        "mismatch": dict(
            Counter(
                r["variant"]
                for r in labelled
                if r["variant"] in PAGES and r["page"] != PAGES[r["variant"]]
            )
        ),
    }


ROWS = dirty_rows()
FRAME = pd.DataFrame(ROWS)
EXPOSURE = ExposureCheck("page", PAGES, "drop")
ARMS = ("control", "treatment", "treatment_b")


def test_the_fixture_holds_what_was_planted() -> None:
    counted = counted_in_python(ROWS)
    assert counted["null_variant"] == NULL_VARIANT
    assert counted["revenue"] == {a: n for a, n in NULL_REVENUE.items() if n}
    assert counted["user"] == {a: n for a, n in NULL_UNIT.items() if n}
    assert counted["several"] == IN_BOTH_ARMS
    assert counted["repeated_units"] == REPEATED
    assert counted["repeated_rows"] == {a: n * EXTRA_ROWS_EACH for a, n in REPEATED.items()}
    assert counted["mismatch"] == {a: MISMATCH[a] + NULL_PAGE[a] for a in PAGES}
    skewed = Counter(r["variant"] for r in ROWS[:CLEAN_UNITS] if r["platform"] == SKEWED_SEGMENT)
    assert skewed["treatment"] > 2 * skewed["control"]


def as_engine(engine: str) -> object:
    if engine == "pandas":
        return FRAME
    if engine == "polars":
        return pl.DataFrame(ROWS, infer_schema_length=None)
    connection = duckdb.connect()
    connection.register("dirty_view", FRAME)
    connection.sql("CREATE TABLE dirty AS SELECT * FROM dirty_view")
    connection.unregister("dirty_view")
    return (connection, "dirty")


@pytest.mark.parametrize("engine", ["pandas", "polars", "duckdb-table"])
def test_every_problem_is_counted_in_one_call(engine: str) -> None:
    counted = counted_in_python(ROWS)
    report = check_data(
        as_engine(engine),
        variant="variant",
        unit="user",
        columns=["revenue"],
        arms=ARMS,
        exposure=EXPOSURE,
        segments=["platform"],
    )
    assert report.rows == len(ROWS)
    assert dict(report.arm_rows) == counted["arm_rows"]
    assert report.null_variant == NULL_VARIANT
    assert report.null_values == {"revenue": counted["revenue"], "user": counted["user"]}
    known = dict.fromkeys(counted["arm_rows"], 0)
    assert dict(report.repeated_rows) == known | counted["repeated_rows"]
    assert dict(report.repeated_units) == known | counted["repeated_units"]
    assert report.units_in_several_arms == IN_BOTH_ARMS
    assert dict(report.unknown_arms) == UNKNOWN
    assert report.missing_arms == ("treatment_b",)
    assert dict(report.exposure_mismatches) == counted["mismatch"]
    by_segment = Counter((r["platform"], r["variant"]) for r in ROWS if r["variant"] is not None)
    assert {
        (key[0], arm): n
        for key, per_arm in report.segment_rows.items()
        for arm, n in per_arm.items()
    } == dict(by_segment)
    skewed = report.segment_rows[(SKEWED_SEGMENT,)]
    assert skewed["treatment"] > 2 * skewed["control"]
    assert not report.too_many_segments
    assert not report.ok
    # unknown, missing, NULL variant, NULL revenue, NULL user, repeats, several, exposure, and
    # the skewed segment's split (a warning, as analyze's segment-ratio health check)
    problems = report.problems()
    assert len(problems) == 9
    [(key, srm)] = report.segment_mismatches()
    assert key == (SKEWED_SEGMENT,)
    assert srm.alpha == pytest.approx(0.001 / len(report.segment_rows), rel=1e-15)
    assert problems[-1][0] == "warning"
    assert problems[-1][1].startswith(f"segment platform={SKEWED_SEGMENT}: the split ")
    document = json.loads(json.dumps(report.to_dict()))
    assert document["exposure_mismatches"] == counted["mismatch"]
    assert document["units_in_several_arms"] == IN_BOTH_ARMS


def test_problems_list_each_kind_once_with_its_severity() -> None:
    report = check_data(FRAME, unit="user", columns=["revenue"], arms=ARMS, exposure=EXPOSURE)
    severities = [s for s, _ in report.problems()]
    # unknown, missing, NULL revenue, NULL user, repeats, several arms: errors; NULL variant and
    # the dropped exposure mismatches: warnings.
    assert severities.count("error") == 6
    assert severities.count("warning") == 2
    text = str(report)
    assert "treatmnet (unknown)" in text
    assert "treatment_b (missing)" in text
    assert "units in more than one arm: 7" in text


PLAN = """
experiment_id: dirty-1
source: {path: dirty.parquet}
control: control
arms: [control, treatment, treatment_b]
unit: user
segments: [platform]
metrics: [{kind: mean, column: revenue}]
exposure:
  column: page
  expected: {control: old_page, treatment: new_page, treatment_b: new_page}
  on_mismatch: drop
"""


def test_ablens_check_reports_everything_as_json_and_text(tmp_path) -> None:
    FRAME.to_parquet(tmp_path / "dirty.parquet")
    (tmp_path / "plan.yaml").write_text(PLAN)
    counted = counted_in_python(ROWS)
    runner = CliRunner()
    outcome = runner.invoke(app, ["check", str(tmp_path / "plan.yaml"), "--json"])
    assert outcome.exit_code == 2
    document = json.loads(outcome.stdout)
    assert document["schema_version"] == 1
    assert document["null_values"] == {"revenue": counted["revenue"], "user": counted["user"]}
    assert document["units_in_several_arms"] == IN_BOTH_ARMS
    assert document["repeated_units"] == {"control": 4, "treatment": 3, "treatmnet": 0}
    assert document["repeated_rows"] == {"control": 8, "treatment": 6, "treatmnet": 0}
    assert document["exposure_mismatches"] == {"control": 3, "treatment": 7}
    assert document["unknown_arms"] == UNKNOWN
    assert document["missing_arms"] == ["treatment_b"]
    assert document["null_variant"] == NULL_VARIANT
    android = next(s for s in document["segment_rows"] if s["segment"]["platform"] == "android")
    assert android["arm_rows"]["treatment"] > 2 * android["arm_rows"]["control"]
    text = runner.invoke(app, ["check", str(tmp_path / "plan.yaml")])
    assert text.exit_code == 2
    assert "page mismatches" in text.stdout
    assert "treatmnet (unknown)" in text.stdout


def clean_of_all_but_exposure() -> pd.DataFrame:
    rows = [r for r in ROWS[:CLEAN_UNITS] if r["revenue"] is not None]
    return pd.DataFrame(rows)


@pytest.mark.parametrize("engine", ["pandas", "duckdb"])
def test_analyze_drops_or_stops_on_exposure_mismatches(engine: str) -> None:
    frame = clean_of_all_but_exposure()
    data: object = frame
    if engine == "duckdb":
        connection = duckdb.connect()
        connection.register("clean_view", frame)
        connection.sql("CREATE TABLE clean AS SELECT * FROM clean_view")
        data = (connection, "clean")
    expected = {a: MISMATCH[a] + NULL_PAGE[a] for a in PAGES}
    result = ablens.analyze(
        data, [Mean("revenue")], control="control", unit="user", exposure=EXPOSURE
    )
    assert result.data_report is not None
    assert dict(result.data_report.exposure_mismatches) == expected
    assert result.data_report.rows == len(frame) - sum(expected.values())
    kept = frame[frame["page"] == frame["variant"].map(PAGES)]
    reference = ablens.analyze(kept, [Mean("revenue")], control="control", unit="user")
    assert result.comparison("revenue").result.effect == pytest.approx(
        reference.comparison("revenue").result.effect, rel=1e-12
    )
    assert "were dropped (control 3, treatment 7)" in result.data_report.warnings[0]
    stop = ExposureCheck("page", PAGES, "stop")
    with pytest.raises(DataError, match=r"rows per arm: control 3, treatment 7"):
        ablens.analyze(data, [Mean("revenue")], control="control", exposure=stop)


def test_plan_exposure_is_parsed_round_tripped_and_checked() -> None:
    plan = parse_plan(PLAN, name="plan.yaml")
    assert plan.exposure == ExposureCheck(
        "page", {"control": "old_page", "treatment": "new_page", "treatment_b": "new_page"}, "drop"
    )
    assert plan.to_dict()["exposure"]["on_mismatch"] == "drop"
    assert "exposure" not in parse_plan(PLAN.split("exposure:", maxsplit=1)[0]).to_dict()
    report = check_plan(plan, data=FRAME)
    assert report.units_in_several_arms == IN_BOTH_ARMS


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        ("on_mismatch: drop", "on_mismatch: skip"),
        ("column: page", "column: variant"),
        ("treatment_b: new_page", "treatment_c: new_page"),
        ("  on_mismatch: drop", "  on_mismatch: drop\n  colour: red"),
    ],
)
def test_bad_exposure_keys_are_plan_errors_at_their_line(edit: str, message: str) -> None:
    with pytest.raises(PlanError, match=r"plan.yaml:\d+: exposure"):
        parse_plan(PLAN.replace(edit, message), name="plan.yaml")


def test_bad_exposure_arguments_are_input_errors() -> None:
    with pytest.raises(InputError, match=r"exposure\.on_mismatch"):
        ExposureCheck("page", PAGES, "skip")  # type: ignore[arg-type]
    with pytest.raises(InputError, match=r"exposure\.expected is empty"):
        ExposureCheck("page", {})
    with pytest.raises(InputError, match="exposure is a dict"):
        check_data(FRAME, exposure={"column": "page"})  # type: ignore[arg-type]
    with pytest.raises(DataError, match="'pages' is not in the data"):
        check_data(FRAME, exposure=ExposureCheck("pages", PAGES))


def test_ablens_analyze_reports_the_dropped_rows_in_its_data_report(tmp_path) -> None:
    clean_of_all_but_exposure().to_parquet(tmp_path / "clean.parquet")
    plan = (
        PLAN.replace("dirty.parquet", "clean.parquet")
        .replace(", treatment_b]", "]")
        .replace(", treatment_b: new_page", "")
    )
    (tmp_path / "plan.yaml").write_text(plan)
    runner = CliRunner()
    checked = runner.invoke(app, ["check", str(tmp_path / "plan.yaml"), "--json"])
    assert checked.exit_code == 0  # only the mismatches, which the plan drops: a warning
    assert json.loads(checked.stdout)["exposure_mismatches"] == {"control": 3, "treatment": 7}
    outcome = runner.invoke(app, ["analyze", str(tmp_path / "plan.yaml"), "--json"])
    assert outcome.exit_code in (0, 1)  # 1 only if a health gate fails on this small sample
    document = json.loads(outcome.stdout)
    report = document["data_report"]
    assert report["exposure_mismatches"] == {"control": 3, "treatment": 7}
    stop = tmp_path / "stop.yaml"
    stop.write_text(plan.replace("on_mismatch: drop", "on_mismatch: stop"))
    stopped = runner.invoke(app, ["analyze", str(stop)])
    assert stopped.exit_code == 2
    assert "rows per arm: control 3, treatment 7" in stopped.stderr


@pytest.mark.parametrize("engine", ["pandas", "duckdb-table"])
def test_expected_values_of_another_type_than_the_column_are_a_data_error(engine: str) -> None:
    data = as_engine(engine)
    numbers = ExposureCheck("revenue", {"control": "old_page", "treatment": "new_page"})
    with pytest.raises(DataError, match=r"column 'revenue' has type Float64.*quote text"):
        check_data(data, exposure=numbers)
    with pytest.raises(DataError, match=r"column 'page' has type String"):
        ablens.analyze(
            data,
            [Mean("revenue")],
            control="control",
            exposure=ExposureCheck("page", {"control": 1, "treatment": 2}),
        )


def test_too_many_segments_is_reported_not_raised() -> None:
    report = check_data(FRAME, segments=["revenue"], max_segments=5)
    assert report.too_many_segments
    assert report.segment_rows == {}
    assert not report.ok
    with pytest.raises(InputError, match="max_segments"):
        check_data(FRAME, segments=["platform"], max_segments=0)


def test_the_dirty_fixture_in_html_names_every_problem_with_its_counts() -> None:
    """The report page for data that fail the checks lists what `ablens check` found."""
    import html  # noqa: PLC0415

    from ablens.report import render_data_problems  # noqa: PLC0415

    report = check_data(
        FRAME,
        variant="variant",
        unit="user",
        columns=["revenue"],
        arms=ARMS,
        exposure=EXPOSURE,
        segments=["platform"],
    )
    messages = [message for _, message in report.problems()]
    page = render_data_problems(messages)
    for message in messages:
        # The page writes p-values for people ("p < 0.001" for "p=2.43e-06"); the rest is verbatim.
        assert html.escape(message.split(" (p=")[0]) in page
    assert "the split 16 / 56 is off (p &lt; 0.001, checked at 0.000333)" in page
    assert html.escape(f"{IN_BOTH_ARMS:,} units of 'user' are in more than one arm") in page
    assert html.escape("'treatmnet' (3 rows)") in page
    assert page.count('<div class="banner fail" role="alert">') == len(messages)
