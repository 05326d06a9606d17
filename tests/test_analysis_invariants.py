"""Invariants of `ablens.analyze`, checked by hypothesis on generated experiments (issue 20).

For Mean, Proportion, Ratio and CUPED (a Mean with a covariate), through the whole path (data
checks, moments in the engine, the test): swapping the arms negates the effect and keeps the
p-value; shifting a metric moves no effect; scaling it scales the effect and keeps the p-value
and the lift; a 0/1 outcome's complement negates the effect; pandas and DuckDB agree to
rounding. Seeded (``derandomize=True``) and small, so CI runs the same examples every time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import duckdb
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import ablens
from ablens import Mean, Proportion, Ratio

if TYPE_CHECKING:
    from ablens.metrics import Metric
    from ablens.stats.result import TestResult

INVARIANTS = settings(
    max_examples=10,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
METRICS: dict[str, Metric] = {
    "mean": Mean("revenue"),
    "proportion": Proportion("converted"),
    "ratio": Ratio("orders", "sessions"),
    "cuped": Mean("revenue", covariates=("pre_revenue",)),
}
#: The column each kind's shift and scale invariants transform.
VALUE_COLUMN = {"mean": "revenue", "ratio": "orders", "cuped": "revenue"}
TIGHT = {"rel": 1e-9, "abs": 1e-12}


@dataclass(frozen=True)
class Experiment:
    """A generated experiment's settings (the data follow from them)."""

    seed: int
    control_units: int
    treatment_units: int
    lift: float
    rate: float


experiments = st.builds(
    Experiment,
    seed=st.integers(0, 2**32 - 1),
    control_units=st.integers(12, 80),
    treatment_units=st.integers(12, 80),
    lift=st.floats(-0.3, 0.3),
    rate=st.floats(0.15, 0.6),
)


def frame(e: Experiment) -> pd.DataFrame:
    rng = np.random.default_rng(e.seed)
    n = e.control_units + e.treatment_units
    treated = np.arange(n) >= e.control_units
    pre = rng.lognormal(3.0, 0.5, n)
    revenue = pre * rng.lognormal(0.0, 0.3, n) * np.where(treated, 1 + e.lift, 1.0)
    sessions = 1 + rng.poisson(3.0, n)
    orders = rng.binomial(sessions, np.where(treated, e.rate * (1 + e.lift / 2), e.rate))
    converted = (rng.random(n) < np.where(treated, e.rate * (1 + e.lift / 2), e.rate)).astype(int)
    return pd.DataFrame(
        {
            "user_id": np.arange(n),
            "variant": np.where(treated, "treatment", "control"),
            "revenue": revenue,
            "pre_revenue": pre,
            "orders": orders.astype(float),
            "sessions": sessions.astype(float),
            "converted": converted,
        }
    )


def varies(data: pd.DataFrame, columns: tuple[str, ...]) -> bool:
    """Every column varies within each arm (else there is no test to compare)."""
    groups = data.groupby("variant")[list(columns)]
    return bool((groups.std() > 0).all().all())


def compare(data: object, kind: str, control: str = "control") -> TestResult:
    result = ablens.analyze(data, [METRICS[kind]], control=control, unit="user_id")
    (comparison,) = result.comparisons
    return comparison.result


def in_duckdb(data: pd.DataFrame) -> tuple[duckdb.DuckDBPyConnection, str]:
    connection = duckdb.connect()
    connection.register("frame", data)
    connection.execute("CREATE TABLE units AS SELECT * FROM frame")
    return connection, "units"


COLUMNS = {
    "mean": ("revenue",),
    "proportion": ("converted",),
    "ratio": ("orders", "sessions"),
    "cuped": ("revenue", "pre_revenue"),
}


@pytest.mark.parametrize("kind", list(METRICS))
@INVARIANTS
@given(e=experiments)
def test_pandas_and_duckdb_agree(kind, e):
    data = frame(e)
    assume(varies(data, COLUMNS[kind]))
    on_pandas, on_duckdb = compare(data, kind), compare(in_duckdb(data), kind)
    assert on_duckdb.effect == pytest.approx(on_pandas.effect, **TIGHT)
    assert on_duckdb.effect_ci == pytest.approx(on_pandas.effect_ci, **TIGHT)
    assert on_duckdb.p_value == pytest.approx(on_pandas.p_value, rel=1e-8, abs=1e-300)
    assert on_duckdb.relative_effect == pytest.approx(on_pandas.relative_effect, **TIGHT)


@pytest.mark.parametrize("kind", list(METRICS))
@INVARIANTS
@given(e=experiments)
def test_swapping_the_arms_negates_the_effect_and_keeps_the_p_value(kind, e):
    data = frame(e)
    assume(varies(data, COLUMNS[kind]))
    forward = compare(data, kind)
    swapped = data.assign(
        variant=data["variant"].map({"control": "treatment", "treatment": "control"})
    )
    backward = compare(in_duckdb(swapped), kind)
    assert backward.effect == pytest.approx(-forward.effect, **TIGHT)
    assert backward.effect_ci == pytest.approx(
        (-forward.effect_ci[1], -forward.effect_ci[0]), **TIGHT
    )
    assert backward.p_value == pytest.approx(forward.p_value, rel=1e-8, abs=1e-300)


@pytest.mark.parametrize("kind", ["mean", "cuped"])
@INVARIANTS
@given(e=experiments, shift=st.floats(-1e4, 1e4))
def test_shifting_the_metric_moves_no_effect(kind, e, shift):
    data = frame(e)
    assume(varies(data, COLUMNS[kind]))
    before = compare(data, kind)
    column = VALUE_COLUMN[kind]
    after = compare(in_duckdb(data.assign(**{column: data[column] + shift})), kind)
    # The shift's rounding (about 1e-16 of the shift per value) is what the tolerance allows.
    scale = 1e-9 * (1 + abs(shift))
    assert after.effect == pytest.approx(before.effect, rel=1e-7, abs=scale)
    assert after.standard_error == pytest.approx(before.standard_error, rel=1e-7, abs=scale)
    assert after.p_value == pytest.approx(before.p_value, rel=1e-6, abs=1e-12)


@pytest.mark.parametrize("kind", ["mean", "ratio", "cuped"])
@INVARIANTS
@given(e=experiments, factor=st.floats(1e-3, 1e3))
def test_scaling_the_metric_scales_the_effect_and_keeps_p_and_lift(kind, e, factor):
    data = frame(e)
    assume(varies(data, COLUMNS[kind]))
    before = compare(data, kind)
    column = VALUE_COLUMN[kind]
    after = compare(in_duckdb(data.assign(**{column: data[column] * factor})), kind)
    assert after.effect == pytest.approx(before.effect * factor, rel=1e-9, abs=1e-12 * factor)
    assert after.effect_ci == pytest.approx(
        (before.effect_ci[0] * factor, before.effect_ci[1] * factor), rel=1e-9, abs=1e-12
    )
    assert after.relative_effect == pytest.approx(before.relative_effect, rel=1e-9, abs=1e-12)
    assert after.p_value == pytest.approx(before.p_value, rel=1e-8, abs=1e-300)


@INVARIANTS
@given(e=experiments)
def test_the_complement_of_a_proportion_negates_the_effect(e):
    data = frame(e)
    assume(varies(data, COLUMNS["proportion"]))
    before = compare(data, "proportion")
    after = compare(in_duckdb(data.assign(converted=1 - data["converted"])), "proportion")
    assert after.effect == pytest.approx(-before.effect, **TIGHT)
    assert after.p_value == pytest.approx(before.p_value, rel=1e-8, abs=1e-300)
