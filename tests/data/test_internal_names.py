"""ablens' own working columns never collide with the user's, whatever the user named theirs.

Every query names its intermediate columns (``__n``, ``__arm``, ``__d0``, ...); a table whose
columns take those very names (as the variant, metric, covariate, unit, segment, time or
exposure column) must give exactly the numbers of the same table with plain names, on every
engine (pandas, polars, DuckDB, PostgreSQL, Spark). Before, a segment named ``__n`` failed with
"cannot insert __n, already exists".
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pytest

import ablens
from ablens.data import ExposureCheck, aggregate_events, check_data, cumulative_moments
from ablens.data._source import InternalNames
from materialize import Tables

if TYPE_CHECKING:
    from collections.abc import Iterator

LOCAL_ENGINES = ("pandas", "polars", "duckdb-table")
ENGINES = (*LOCAL_ENGINES, "postgres", "spark")
ROWS = 40

#: User column -> the plain name of the same column in the reference table. The hostile names
#: are those ablens uses itself, each in the role where it would collide.
HOSTILE = {
    "__arm": "variant",  # the arm label (aliased as __arm in every grouped query)
    "__n": "revenue",  # the metric (the row count is __n)
    "__s0": "pre",  # the covariate (sums are __s{i})
    "__unit_nn": "user",  # the unit id (its non-null count is __unit_nn)
    "__rows": "platform",  # a segment (per-unit rows are __rows)
    "__d0": "day",  # the look time (shifted values are __d{i})
    "__mismatch": "page",  # the exposure column (mismatches are __mismatch)
    "__t": "score",  # ranked column (tie groups are counted as __t)
    "__x": "amount",  # quantile column (values cast as __x)
}


def columns(names: dict[str, str]) -> dict[str, list[Any]]:
    return {
        names["__arm"]: ["a" if i % 2 == 0 else "b" for i in range(ROWS)],
        names["__n"]: [float((i * 7) % 11) + 0.25 * (i % 2) for i in range(ROWS)],
        names["__s0"]: [float((i * 3) % 7) for i in range(ROWS)],
        names["__unit_nn"]: list(range(1, ROWS + 1)),
        names["__rows"]: ["ios" if i % 3 == 0 else "web" for i in range(ROWS)],
        names["__d0"]: [1 + i // 8 for i in range(ROWS)],
        names["__mismatch"]: ["old" if i % 2 == 0 else "new" for i in range(ROWS)],
        names["__t"]: [float(i % 6) for i in range(ROWS)],
        names["__x"]: [float((i * 13) % 17) for i in range(ROWS)],
    }


@pytest.fixture(scope="module")
def tables(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tables]:
    with Tables(tmp_path_factory.mktemp("internal-names")) as made:
        yield made


@pytest.fixture
def pair(tables: Tables, request: pytest.FixtureRequest) -> Any:
    """``pair(engine)``: the hostile-named table and the plain-named one, on that engine."""

    def build(engine: str) -> tuple[object, object]:
        # Short keys: PostgreSQL cuts table names at 63 characters.
        key = re.sub(r"[^a-z0-9]+", "_", request.node.name.lower()).strip("_")[-30:]
        hostile = pa.table(columns({name: name for name in HOSTILE}))
        plain = pa.table(columns(HOSTILE))
        return (
            tables.make(engine, f"hostile_{key}", hostile, request),
            tables.make(engine, f"plain_{key}", plain, request),
        )

    return build


def test_the_prefix_avoids_every_column() -> None:
    assert InternalNames(["variant", "x"])("n") == "__n"
    assert InternalNames(["variant", "__n"])("n") == "___n"
    assert InternalNames(["__n", "___arm", "____"])("arm") == "_____arm"
    wide = InternalNames([f"__{i}" for i in range(1000)])
    assert wide("n") == "___n"


@pytest.mark.parametrize("engine", ENGINES)
def test_analysis_with_internal_names_matches_plain_names(engine: str, pair: Any) -> None:
    hostile, plain = pair(engine)

    def run(data: object, name: dict[str, str]) -> ablens.AnalysisResult:
        metrics = [
            ablens.Mean(name["__n"], name="revenue"),
            ablens.Mean(name["__n"], name="revenue (CUPED)", covariates=(name["__s0"],)),
            ablens.Mean(
                name["__n"],
                name="revenue (HC1)",
                covariates=(name["__s0"],),
                adjustment="regression",
                vcov="HC1",
            ),
            ablens.Quantile(name["__x"], 0.5, name="median"),
            ablens.MannWhitney(name["__t"], name="score"),
        ]
        return ablens.analyze(
            data,
            metrics,
            control="a",
            variant=name["__arm"],
            unit=name["__unit_nn"],
            segments=[name["__rows"]],
        )

    got = run(hostile, {n: n for n in HOSTILE})
    want = run(plain, HOSTILE)
    assert got.counts == want.counts == (20, 20)
    for a, b in zip(got.comparisons, want.comparisons, strict=True):
        assert a.result.effect == pytest.approx(b.result.effect, rel=1e-12)
        assert a.result.p_value == pytest.approx(b.result.p_value, rel=1e-9)
    assert sorted(got.segments) == ["__rows=ios", "__rows=web"]
    assert [s.counts for s in got.segments.values()] == [s.counts for s in want.segments.values()]


@pytest.mark.parametrize("engine", ENGINES)
def test_data_check_with_internal_names_matches_plain_names(engine: str, pair: Any) -> None:
    hostile, plain = pair(engine)

    def run(data: object, name: dict[str, str]) -> ablens.DataCheck:
        return check_data(
            data,
            variant=name["__arm"],
            unit=name["__unit_nn"],
            columns=[name["__n"]],
            segments=[name["__rows"]],
            exposure=ExposureCheck(name["__mismatch"], {"a": "old", "b": "old"}),
        )

    got, want = run(hostile, {n: n for n in HOSTILE}), run(plain, HOSTILE)
    assert dict(got.arm_rows) == dict(want.arm_rows) == {"a": 20, "b": 20}
    assert dict(got.exposure_mismatches) == dict(want.exposure_mismatches) == {"a": 0, "b": 20}
    assert dict(got.repeated_rows) == {"a": 0, "b": 0}
    assert {k: dict(v) for k, v in got.segment_rows.items()} == {
        k: dict(v) for k, v in want.segment_rows.items()
    }


@pytest.mark.parametrize("engine", ENGINES)
def test_looks_with_internal_names_match_plain_names(engine: str, pair: Any) -> None:
    hostile, plain = pair(engine)
    got = cumulative_moments(hostile, variant="__arm", time="__d0", columns=["__n"])
    want = cumulative_moments(plain, variant="variant", time="day", columns=["revenue"])
    assert list(got) == list(want) == [1, 2, 3, 4, 5]
    for look in got:
        for arm in ("a", "b"):
            assert got[look][arm].count == want[look][arm].count
            assert got[look][arm].mean_of("__n") == pytest.approx(
                want[look][arm].mean_of("revenue"), rel=1e-14
            )


@pytest.mark.parametrize("engine", LOCAL_ENGINES)
def test_event_aggregation_with_internal_names(engine: str, pair: Any) -> None:
    hostile, _ = pair(engine)
    per_unit = aggregate_events(
        hostile,
        unit="__unit_nn",
        variant="__arm",
        metrics={"__events": ("count", "__n"), "__any_x": ("any", "__s0")},
    )
    import narwhals as nw  # noqa: PLC0415

    frame = nw.from_native(per_unit)
    if isinstance(frame, nw.LazyFrame):
        frame = frame.collect()
    rows = sorted(frame.rows(named=True), key=lambda r: r["__unit_nn"])
    assert len(rows) == ROWS
    assert [r["__events"] for r in rows] == [1] * ROWS
    assert [r["__any_x"] for r in rows[:8]] == [0, 1, 1, 1, 1, 1, 1, 0]
