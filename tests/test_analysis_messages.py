"""Bad data said in the user's terms: the table, the arms, the column; not the moments' internals.

Before: an empty table said "data must be a non-empty mapping of arm label -> Moments", a
metric constant within each arm (but different between them) "the metric does not vary", values
near 1e300 "the diagonal of comoment ... must be >= 0", and more than 366 look times "raise
max_segments", an argument analyze_looks does not have.
"""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
import polars as pl
import pytest

import ablens
from ablens import DataError, InputError
from ablens.analysis_plan import PlanError, load_plan
from ablens.readout import run_readout


def frames(frame: pd.DataFrame) -> dict[str, object]:
    connection = duckdb.connect()
    connection.register("source", frame)
    connection.execute("CREATE TABLE users AS SELECT * FROM source")
    return {"pandas": frame, "polars": pl.from_pandas(frame), "duckdb": (connection, "users")}


ARMS = ["control", "treatment"] * 10


@pytest.mark.parametrize("engine", ["pandas", "polars", "duckdb"])
def test_a_metric_constant_within_each_arm_names_the_arms_values(engine: str) -> None:
    frame = pd.DataFrame({"variant": ARMS, "price": [9.99, 12.5] * 10})
    with pytest.raises(
        InputError,
        match=r"^metric 'price': column 'price' is constant within each arm \(control 9\.99 for "
        r"every unit, treatment 12\.5\): it differs between the arms but not within them",
    ):
        ablens.analyze(frames(frame)[engine], [ablens.Mean("price")], control="control")


def test_a_metric_constant_everywhere_says_so() -> None:
    frame = pd.DataFrame({"variant": ARMS, "price": [4.0] * 20})
    with pytest.raises(
        InputError, match=r"^metric 'price': column 'price' is 4 for every unit of both arms"
    ):
        ablens.analyze(frame, [ablens.Mean("price")], control="control")


def test_a_constant_segment_is_a_note_not_a_failure() -> None:
    frame = pd.DataFrame(
        {
            "variant": ARMS,
            "country": ["DE"] * 10 + ["FR"] * 10,
            "x": [1.0, 2.0] * 5 + [float(i) for i in range(10)],
        }
    )
    result = ablens.analyze(frame, [ablens.Mean("x")], control="control", segments=["country"])
    assert sorted(result.segments) == ["country=FR"]
    assert any(
        note.startswith("segment country=DE not analyzed: metric 'x': column 'x' is constant")
        for note in result.data_report.warnings
    )


@pytest.mark.parametrize("engine", ["pandas", "polars", "duckdb"])
def test_an_empty_table(engine: str) -> None:
    frame = pd.DataFrame({"variant": pd.Series([], dtype=str), "x": pd.Series([], dtype=float)})
    with pytest.raises(DataError, match=r"^the data have no rows: nothing to analyse"):
        ablens.analyze(frames(frame)[engine], [ablens.Mean("x")], control="control")


@pytest.mark.parametrize("engine", ["pandas", "polars", "duckdb"])
def test_an_empty_table_with_the_arms_named(engine: str) -> None:
    # With arms=, the arms' check spoke first: "arm(s) [...] have no rows ... (found [])".
    frame = pd.DataFrame({"variant": pd.Series([], dtype=str), "x": pd.Series([], dtype=float)})
    with pytest.raises(DataError, match=r"^the data have no rows: nothing to analyse"):
        ablens.analyze(
            frames(frame)[engine],
            [ablens.Mean("x")],
            control="control",
            arms=["control", "treatment"],
        )


def test_every_arm_label_null_with_the_arms_named() -> None:
    frame = pd.DataFrame({"variant": [None] * 6, "x": [1.0, 2.0, 3.0] * 2})
    with pytest.raises(DataError, match=r"^all 6 rows have a NULL 'variant': no arm to compare"):
        ablens.analyze(frame, [ablens.Mean("x")], control="control", arms=["control", "b"])


def test_every_arm_label_null() -> None:
    frame = pd.DataFrame({"variant": [None] * 6, "x": [1.0, 2.0, 3.0] * 2})
    with pytest.raises(DataError, match=r"^all 6 rows have a NULL 'variant': no arm to compare"):
        ablens.analyze(frame, [ablens.Mean("x")], control="control")


@pytest.mark.parametrize("engine", ["pandas", "polars", "duckdb"])
def test_one_arm_only(engine: str) -> None:
    frame = pd.DataFrame({"variant": ["control"] * 5, "x": [1.0, 2.0, 3.0, 4.0, 6.0]})
    with pytest.raises(
        DataError,
        match=r"^column 'variant' holds one arm only, 'control' \(5 rows\): a treatment arm is "
        r"needed",
    ):
        ablens.analyze(frames(frame)[engine], [ablens.Mean("x")], control="control")


def test_values_near_1e300_name_the_column() -> None:
    frame = pd.DataFrame({"variant": ARMS, "x": [1e300 * (1 + i % 3) for i in range(20)]})
    with pytest.raises(DataError, match=r"^column 'x' holds values too large for floating-point"):
        ablens.analyze(frame, [ablens.Mean("x")], control="control")


def test_too_many_look_times_is_said_in_terms_of_looks() -> None:
    rng = np.random.default_rng(4)
    n = 800
    frame = pd.DataFrame(
        {
            "variant": rng.choice(["control", "treatment"], n),
            # A timestamp per unit: 800 distinct times, where the day was meant.
            "exposed_at": pd.Timestamp("2024-03-01", tz="UTC")
            + pd.to_timedelta(rng.permutation(n), unit="min"),
            "x": rng.normal(size=n),
        }
    )
    with pytest.raises(DataError) as caught:
        ablens.analyze_looks(
            frame, ablens.Mean("x"), control="control", time="exposed_at", planned_units=n
        )
    message = str(caught.value)
    assert message.startswith(
        "column 'exposed_at' (the look time) has more than 366 distinct values, more looks than "
        "ablens reads (max_looks == 366); use a coarser time: each unit's exposure day"
    )
    assert "max_segments" not in message


def test_a_plan_naming_a_missing_column_of_a_wide_table_lists_the_first_50(tmp_path) -> None:
    # The plan's check listed all 5,000 names (a 60 kB message); the data layer lists 50.
    frame = pd.DataFrame({"variant": ARMS} | {f"c{i}": [1.0] * 20 for i in range(5_000)})
    frame.to_parquet(tmp_path / "wide.parquet")
    (tmp_path / "plan.yaml").write_text(
        "experiment_id: wide\nsource: {path: wide.parquet}\ncontrol: control\n"
        "metrics: [{kind: mean, column: revenu, role: primary}]\n"
    )
    with pytest.raises(PlanError) as caught:
        run_readout(load_plan(tmp_path / "plan.yaml"))
    message = str(caught.value)
    assert (
        "metrics[0].column == 'revenu' is not a column of the data; available columns " in message
    )
    assert "(5,001, the first 50): ['variant', 'c0', " in message
    assert "'c48']" in message
    assert "'c49'" not in message
