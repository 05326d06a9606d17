"""analyze_looks: one engine query, per-look comparisons, and the sequential methods over them."""

from __future__ import annotations

import json
import math
import xml.etree.ElementTree as ET

import duckdb
import numpy as np
import pandas as pd
import polars as pl
import pytest

import ablens
from ablens import (
    EffectLook,
    InputError,
    asymptotic_confidence_sequence,
    cumulative_moments,
    group_sequential_bounds,
    group_sequential_test,
    msprt,
    sequential_srm_test,
)
from ablens.sequential import LooksResult, analyze_looks

N = 8_000
DAYS = 20
PLANNED = 10_000
METHODS = ["group-sequential", "msprt", "confidence-sequence", "fixed"]


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(20261126)
    arm = rng.choice(["control", "treatment"], N)
    treated = arm == "treatment"
    pre = rng.gamma(2.0, 5.0, N)
    x = 0.5 * pre + rng.normal(0.0, 3.0, N)
    return pd.DataFrame(
        {
            "user": np.arange(N),
            "arm": arm,
            "day": rng.integers(1, DAYS + 1, N),
            "x": x,  # A/A: no effect
            "big": x + np.where(treated, 1.5, 0.0),  # a large effect
            "pre": pre,
            "converted": rng.random(N) < np.where(treated, 0.14, 0.10),
            "orders": rng.poisson(2.0, N).astype(float),
            "revenue": rng.gamma(2.0, 10.0, N),
        }
    )


@pytest.fixture(scope="module")
def engines(frame: pd.DataFrame) -> dict[str, object]:
    connection = duckdb.connect()
    connection.register("source", frame)
    connection.execute("CREATE TABLE users AS SELECT * FROM source")
    return {"pandas": frame, "polars": pl.from_pandas(frame), "duckdb": (connection, "users")}


def run(data: object, metric: ablens.Metric, **options: object) -> LooksResult:
    options.setdefault("planned_units", PLANNED)
    return analyze_looks(
        data, metric, control="control", variant="arm", time="day", unit="user", **options
    )


def assert_rows_equal(a: LooksResult, b: LooksResult) -> None:
    assert len(a.rows) == len(b.rows)
    for x, y in zip(a.rows, b.rows, strict=True):
        left, right = x.to_dict(), y.to_dict()
        assert left.keys() == right.keys()
        for key, value in left.items():
            if isinstance(value, float):
                assert right[key] == pytest.approx(value, rel=1e-12, abs=1e-12), key
            else:
                assert right[key] == value, key
    assert a.decision == b.decision
    assert a.stopping_look == b.stopping_look


@pytest.mark.parametrize("method", METHODS)
def test_rows_identical_across_engines(engines, method):
    results = {name: run(data, ablens.Mean("big"), method=method) for name, data in engines.items()}
    assert len(results["pandas"].rows) == DAYS
    assert [row.look for row in results["pandas"].rows] == list(range(1, DAYS + 1))
    assert_rows_equal(results["pandas"], results["polars"])
    assert_rows_equal(results["pandas"], results["duckdb"])


def estimates(engines, column: str):
    looks = cumulative_moments(
        engines["polars"], variant="arm", time="day", columns=[column], unit="user"
    )
    return looks, [
        EffectLook.from_moments(a["control"], a["treatment"], column) for a in looks.values()
    ]


def test_group_sequential_matches_the_bounds_and_the_test(engines):
    result = run(engines["polars"], ablens.Mean("big"), method="group-sequential")
    _, effects = estimates(engines, "big")
    fractions = [min(1.0, (e.count or 0) / PLANNED) for e in effects]
    assert [row.information_fraction for row in result.rows] == pytest.approx(fractions, abs=0)
    bounds = group_sequential_bounds(fractions)
    assert [row.bound for row in result.rows] == pytest.approx(bounds.efficacy_bounds, rel=1e-12)
    direct = group_sequential_test(
        [e.estimate for e in effects], [math.sqrt(e.variance) for e in effects], fractions
    )
    assert direct.stopping_look is not None
    assert result.stopping_index == direct.stopping_look
    assert result.decision == "treatment higher"
    assert isinstance(result.detail, ablens.SequentialResult)
    for row, look in zip(result.rows, direct.looks, strict=True):
        assert row.sequential_lower == pytest.approx(look.ci_lower, rel=1e-12)
        assert row.sequential_upper == pytest.approx(look.ci_upper, rel=1e-12)
        assert row.estimate == pytest.approx(look.estimate, rel=1e-12)


@pytest.mark.parametrize("method", ["msprt", "confidence-sequence"])
def test_always_valid_intervals_equal_the_direct_calls(engines, method):
    result = run(engines["duckdb"], ablens.Mean("big"), method=method)
    _, effects = estimates(engines, "big")
    if method == "msprt":
        assert result.tau is not None
        direct = msprt(effects, tau=result.tau)
        # The default tau is tuned at the planned size from the first look.
        first = effects[0]
        assert result.tau == pytest.approx(
            ablens.default_tau(first.variance * (first.count or 0) / PLANNED), rel=1e-12
        )
    else:
        assert result.planned_count == PLANNED
        direct = asymptotic_confidence_sequence(effects, planned_count=PLANNED)
    for row, look in zip(result.rows, direct.looks, strict=True):
        assert row.sequential_lower == pytest.approx(look.ci_lower, rel=1e-12)
        assert row.sequential_upper == pytest.approx(look.ci_upper, rel=1e-12)
        assert row.sequential_p_value == pytest.approx(look.p_value, rel=1e-12, abs=1e-300)
        assert row.decision == look.decision
    assert result.stopping_index == direct.first_rejection


@pytest.mark.parametrize("method", ["group-sequential", "msprt", "confidence-sequence"])
def test_a_over_a_does_not_stop_and_a_big_effect_stops_early(engines, method):
    aa = run(engines["pandas"], ablens.Mean("x"), method=method)
    assert aa.decision in {"continue", "not significant"}
    assert all(row.decision in ("continue", "not significant") for row in aa.rows)
    big = run(engines["pandas"], ablens.Mean("big"), method=method)
    assert big.decision == "treatment higher"
    assert big.stopping_index is not None
    assert big.stopping_index < DAYS // 2


def test_srm_per_look_equals_the_sequential_check(engines, frame):
    result = run(engines["pandas"], ablens.Mean("x"), method="msprt")
    counts = [
        {
            arm: int(((frame["day"] <= day) & (frame["arm"] == arm)).sum())
            for arm in ("control", "treatment")
        }
        for day in range(1, DAYS + 1)
    ]
    direct = sequential_srm_test(counts)
    assert [row.srm_p_value for row in result.rows] == pytest.approx(
        [look.p_value for look in direct.looks], rel=1e-12
    )
    assert [(row.control_units, row.treatment_units) for row in result.rows] == [
        (c["control"], c["treatment"]) for c in counts
    ]
    assert not result.srm.mismatch


@pytest.mark.parametrize(
    "metric",
    [
        ablens.Proportion("converted"),
        ablens.Ratio("revenue", "orders"),
        ablens.Mean("x", covariates=["pre"]),
    ],
    ids=["proportion", "ratio", "adjusted"],
)
def test_every_moment_metric_compares_at_each_look(engines, metric):
    result = run(engines["polars"], metric, method="confidence-sequence")
    looks = cumulative_moments(
        engines["polars"],
        variant="arm",
        time="day",
        columns=metric.required_columns(),
        pairs=metric.required_pairs(),
    )
    for row, arms in zip(result.rows, looks.values(), strict=True):
        want = metric.compare(arms["control"], arms["treatment"], confidence_level=0.95)
        assert row.estimate == pytest.approx(want.effect, rel=1e-12)
        assert row.standard_error == pytest.approx(want.standard_error, rel=1e-12)
        assert (row.ci_lower, row.ci_upper, row.p_value) == pytest.approx(
            (want.effect_ci_lower, want.effect_ci_upper, want.p_value), rel=1e-12
        )
        assert row.sequential_lower <= row.estimate <= row.sequential_upper


def test_fixed_reads_the_naive_test_and_warns(engines):
    result = run(engines["pandas"], ablens.Mean("big"), method="fixed", planned_units=None)
    for row in result.rows:
        assert (row.sequential_lower, row.sequential_upper) == (row.ci_lower, row.ci_upper)
        assert row.sequential_p_value == row.p_value
    assert any("fixed-horizon" in note for note in result.notes)


def test_rendering(engines):
    result = run(engines["pandas"], ablens.Mean("big"), method="group-sequential")
    text = str(result)
    assert "sequential CI" in text
    assert "treatment higher" in text
    assert result.to_markdown().startswith("| look |")
    assert '<div class="ablens-looks">' in result.to_html()
    json.dumps(result.to_dict(), allow_nan=False)
    svg = result.to_svg(width=500, height=200)
    root = ET.fromstring(svg)  # noqa: S314 - our own output, not untrusted
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert root.get("width") == "500"
    assert "href" not in svg
    assert svg.count("http") == 1  # the namespace only
    assert len(root.findall("{http://www.w3.org/2000/svg}polygon")) >= 2
    with pytest.raises(InputError, match="width"):
        result.to_svg(width=10)


def test_bad_input_names_the_argument(engines):
    data = engines["pandas"]
    with pytest.raises(InputError, match="method"):
        run(data, ablens.Mean("x"), method="bayes")
    with pytest.raises(InputError, match="planned_units"):
        run(data, ablens.Mean("x"), method="group-sequential", planned_units=None)
    with pytest.raises(InputError, match="planned_units"):
        run(data, ablens.Mean("x"), planned_units=0)
    with pytest.raises(InputError, match="metric"):
        run(data, ablens.Quantile("x", 0.5))
    with pytest.raises(InputError, match="metric"):
        run(data, "x")
    with pytest.raises(InputError, match="alternative"):
        run(data, ablens.Mean("x"), method="msprt", alternative="greater")
    with pytest.raises(InputError, match="treatment"):
        run(data, ablens.Mean("x"), treatment="nope")
    with pytest.raises(InputError, match="control"):
        analyze_looks(
            data, ablens.Mean("x"), control="nope", variant="arm", time="day", method="msprt"
        )


@pytest.mark.parametrize("backend", ["postgres", "spark"])
def test_rows_identical_on_the_server_engines(frame, engines, backend, request, tmp_path):
    # The same looks through PostgreSQL (ibis) and PySpark: every sequential method reads the
    # moments from one grouped query there too.
    import pyarrow as pa  # noqa: PLC0415 - only this test builds server tables

    from materialize import Tables  # noqa: PLC0415 - tests/ helper, as in tests/data

    with Tables(tmp_path) as tables:
        data = tables.make(backend, "looks", pa.Table.from_pandas(frame), request)
        for method in ("group-sequential", "msprt"):
            expected = run(engines["pandas"], ablens.Mean("big"), method=method)
            assert_rows_equal(expected, run(data, ablens.Mean("big"), method=method))
