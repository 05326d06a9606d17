"""Cumulative moments by look: one grouped query, merged day by day, equal to numpy."""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
import polars as pl
import pytest

import ablens
from ablens import Moments, cumulative_moments


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(30)
    n = 6_000
    return pd.DataFrame(
        {
            "user": np.arange(n),
            "arm": rng.choice(["control", "treatment"], n),
            "day": rng.integers(1, 15, n),
            "revenue": rng.lognormal(1.0, 1.0, n),
            "orders": rng.poisson(1.5, n).astype(float),
        }
    )


def engines(frame: pd.DataFrame) -> dict[str, object]:
    connection = duckdb.connect()
    connection.register("source", frame)
    connection.execute("CREATE TABLE users AS SELECT * FROM source")
    return {
        "pandas": frame,
        "polars": pl.from_pandas(frame),
        "duckdb": (connection, "users"),
    }


@pytest.mark.parametrize("engine", ["pandas", "polars", "duckdb"])
def test_cumulative_moments_equal_numpy_at_every_look(frame, engine):
    looks = cumulative_moments(
        engines(frame)[engine],
        variant="arm",
        time="day",
        columns=["revenue", "orders"],
        pairs=[("revenue", "orders")],
        unit="user",
        experiment_id="looks",
    )
    assert list(looks) == sorted(frame["day"].unique())
    for day, arms in looks.items():
        for arm in ("control", "treatment"):
            rows = (frame["day"] <= day) & (frame["arm"] == arm)
            want = Moments.from_columns(
                {"revenue": frame.loc[rows, "revenue"], "orders": frame.loc[rows, "orders"]}
            )
            got = arms[arm]
            assert got.count == want.count
            np.testing.assert_allclose(got.mean, want.mean, rtol=1e-12)
            np.testing.assert_allclose(got.comoment, want.comoment, rtol=1e-11)


def test_last_look_equals_the_whole_table(frame):
    looks = cumulative_moments(frame, variant="arm", time="day", columns=["revenue"])
    last = looks[max(looks)]
    whole = ablens.compute_moments(frame, variant="arm", columns=["revenue"]).overall
    for arm in ("control", "treatment"):
        assert last[arm].count == whole[arm].count
        assert last[arm].variance("revenue") == pytest.approx(
            whole[arm].variance("revenue"), rel=1e-12
        )


def test_too_many_looks_is_a_data_error(frame):
    # Said in the terms of looks (max_looks, a coarser time), not of segments (max_segments).
    with pytest.raises(
        ablens.DataError,
        match=r"column 'day' \(the look time\) has more than 5 distinct values, more looks than "
        r"ablens reads \(max_looks == 5\); use a coarser time",
    ) as caught:
        cumulative_moments(frame, variant="arm", time="day", columns=["revenue"], max_looks=5)
    assert "max_segments" not in str(caught.value)
