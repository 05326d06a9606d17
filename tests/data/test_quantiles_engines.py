"""`compute_quantile_summaries` gives the same summaries on every engine as numpy does in memory.

One seeded table (3 arms of unequal sizes, so each arm has its own bracket probabilities; a
heavy-tailed float and an integer count full of ties) is materialised on pandas, polars (eager and
lazy), pyarrow, DuckDB (relation, ``(connection, table)``, parquet and CSV paths), Ibis (memtable,
a DuckDB table, a real PostgreSQL table) and PySpark (``tests/materialize.py``). Every engine's
three quantiles per arm must equal numpy's ``method="linear"`` on the same float64 values to
1e-12 relative (engines round the linear interpolation differently in the last bits), and the
counts exactly. Then: the data checks (NULL, NaN, boolean, too few values, unknown arms) on every
engine, and the SQL each engine received (two statements, both carrying the cost comment).
"""

from __future__ import annotations

import functools
import re
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pytest

from ablens import DataError, InputError
from ablens.data import quantiles as data_quantiles
from ablens.data.quantiles import compute_quantile_summaries
from ablens.stats.quantiles import quantile_summary_from_array, quantile_test
from materialize import ALL_BACKENDS, LOCAL_BACKENDS, Tables

if TYPE_CHECKING:
    from collections.abc import Iterator

    from numpy.typing import NDArray

N = 4_000
ARMS = ("control", "treat_a", "treat_b")
PROBABILITIES = (0.1, 0.5, 0.9, 0.99)
RTOL = 1e-12


@functools.cache
def fixture_columns() -> dict[str, NDArray[np.generic]]:
    rng = np.random.default_rng(20260612)
    variant = rng.choice(np.array(ARMS), size=N, p=[0.5, 0.3, 0.2])
    latency = rng.lognormal(3.0, 1.2, N) * np.where(variant == "treat_b", 0.9, 1.0)
    items = rng.poisson(np.where(variant == "treat_a", 3.3, 3.0)).astype(np.int64)
    return {"variant": variant, "latency": latency, "items": items}


def fixture_table() -> pa.Table:
    return pa.table(fixture_columns())


def values_of(arm: str, column: str) -> NDArray[np.float64]:
    data = fixture_columns()
    return data[column][data["variant"] == arm].astype(np.float64)


@pytest.fixture(scope="module")
def tables(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tables]:
    with Tables(tmp_path_factory.mktemp("quantiles")) as made:
        yield made


def test_fixture_has_unequal_arms_and_ties() -> None:
    sizes = {arm: values_of(arm, "latency").size for arm in ARMS}
    assert len(set(sizes.values())) == 3  # three different bracket probabilities
    assert min(sizes.values()) > 700  # enough for the 0.99 bracket (needs 381)
    items = values_of("control", "items")
    assert np.unique(items).size < 20  # heavy ties


@pytest.mark.parametrize("backend", ALL_BACKENDS)
@pytest.mark.parametrize("column", ["latency", "items"])
def test_summaries_equal_numpy_on_every_backend(
    backend: str, column: str, tables: Tables, request: pytest.FixtureRequest
) -> None:
    data = tables.make(backend, "quantiles", fixture_table(), request)
    for probability in PROBABILITIES:
        got = compute_quantile_summaries(
            data, variant="variant", column=column, probability=probability, arms=ARMS
        )
        assert list(got) == list(ARMS)
        for arm in ARMS:
            want = quantile_summary_from_array(values_of(arm, column), probability)
            where = (backend, column, probability, arm)
            assert got[arm].n == want.n, where
            assert got[arm].probability == want.probability, where
            assert got[arm].bracket_level == want.bracket_level, where
            for field in ("lower_value", "value", "upper_value"):
                assert getattr(got[arm], field) == pytest.approx(
                    getattr(want, field), rel=RTOL, abs=0
                ), (*where, field)


@pytest.mark.parametrize("backend", ALL_BACKENDS)
def test_comparison_is_the_same_on_every_backend(
    backend: str, tables: Tables, request: pytest.FixtureRequest
) -> None:
    data = tables.make(backend, "quantiles", fixture_table(), request)
    got = compute_quantile_summaries(
        data, variant="variant", column="latency", probability=0.5, bracket_level=0.9
    )
    result = quantile_test(got["control"], got["treat_b"])
    want = quantile_test(
        quantile_summary_from_array(values_of("control", "latency"), 0.5, 0.9),
        quantile_summary_from_array(values_of("treat_b", "latency"), 0.5, 0.9),
    )
    for field in ("effect", "standard_error", "effect_ci_lower", "effect_ci_upper", "p_value"):
        assert getattr(result, field) == pytest.approx(getattr(want, field), rel=1e-10), field
    assert result.test == "quantile"


# --------------------------------------------------------------------------- data checks
def _with_value(table: pa.Table, column: str, rows: list[int], value: Any) -> pa.Table:
    values = table.column(column).to_pylist()
    for row in rows:
        values[row] = value
    index = table.column_names.index(column)
    return table.set_column(index, column, pa.array(values, type=pa.float64()))


def _first_rows_of(arm: str, count: int) -> list[int]:
    return [int(i) for i in np.flatnonzero(fixture_columns()["variant"] == arm)[:count]]


@pytest.mark.parametrize("backend", ALL_BACKENDS)
def test_nulls_are_a_data_error_naming_column_arm_and_count(
    backend: str, tables: Tables, request: pytest.FixtureRequest
) -> None:
    table = _with_value(fixture_table(), "latency", _first_rows_of("treat_a", 3), None)
    data = tables.make(backend, "with_nulls", table, request)
    with pytest.raises(DataError, match=r"column 'latency' has 3 NULL value\(s\) in arm 'treat_a'"):
        compute_quantile_summaries(data, variant="variant", column="latency", probability=0.5)


@pytest.mark.parametrize("backend", [b for b in ALL_BACKENDS if b != "csv"])
def test_nan_and_infinity_are_a_data_error(
    backend: str, tables: Tables, request: pytest.FixtureRequest
) -> None:
    rows = _first_rows_of("control", 2)
    table = _with_value(fixture_table(), "latency", rows[:1], float("nan"))
    table = _with_value(table, "latency", rows[1:], float("inf"))
    data = tables.make(backend, "with_nan", table, request)
    # pandas stores a missing float as NaN, so there NaN counts as NULL.
    pattern = r"column 'latency' has (2 NaN or infinite|1 NULL) value\(s\) in arm 'control'"
    with pytest.raises(DataError, match=pattern):
        compute_quantile_summaries(data, variant="variant", column="latency", probability=0.5)


@pytest.mark.parametrize("backend", ALL_BACKENDS)
def test_null_variant_rows_are_left_out(
    backend: str, tables: Tables, request: pytest.FixtureRequest
) -> None:
    columns = dict(fixture_columns())
    variant = columns["variant"].astype(object)
    dropped = _first_rows_of("treat_b", 5)
    variant[dropped] = None
    table = pa.table({**columns, "variant": pa.array(variant.tolist(), type=pa.string())})
    data = tables.make(backend, "null_variant", table, request)
    got = compute_quantile_summaries(data, variant="variant", column="latency", probability=0.9)
    assert list(got) == list(ARMS)
    kept = np.delete(np.arange(N), dropped)
    values = fixture_columns()["latency"][kept][fixture_columns()["variant"][kept] == "treat_b"]
    want = quantile_summary_from_array(values, 0.9)
    assert got["treat_b"].n == want.n == values_of("treat_b", "latency").size - 5
    assert got["treat_b"].value == pytest.approx(want.value, rel=RTOL)


@pytest.mark.parametrize("backend", LOCAL_BACKENDS)
def test_column_problems_are_data_errors(
    backend: str, tables: Tables, request: pytest.FixtureRequest
) -> None:
    table = fixture_table().append_column("flag", pa.array(fixture_columns()["items"] > 3))
    data = tables.make(backend, "with_flag", table, request)
    with pytest.raises(DataError, match=r"column 'missing' is not in the data"):
        compute_quantile_summaries(data, variant="variant", column="missing", probability=0.5)
    with pytest.raises(DataError, match=r"column 'flag' is boolean, must be numeric"):
        compute_quantile_summaries(data, variant="variant", column="flag", probability=0.5)
    with pytest.raises(DataError, match=r"column 'variant' has type .*, must be numeric"):
        compute_quantile_summaries(data, variant="items", column="variant", probability=0.5)
    with pytest.raises(DataError, match=r"labels not in the plan's arms .*'treat_b'"):
        compute_quantile_summaries(
            data, variant="variant", column="latency", probability=0.5, arms=ARMS[:2]
        )
    with pytest.raises(DataError, match=r"arm\(s\) \['treat_c'\] have no rows"):
        compute_quantile_summaries(
            data, variant="variant", column="latency", probability=0.5, arms=[*ARMS, "treat_c"]
        )


@pytest.mark.parametrize("backend", ["pandas", "duckdb-relation"])
def test_an_arm_too_small_for_the_bracket_is_a_data_error(
    backend: str, tables: Tables, request: pytest.FixtureRequest
) -> None:
    small = pa.table({"variant": ["a"] * 300 + ["b"] * 500, "x": np.arange(800.0)})
    data = tables.make(backend, "small_arm", small, request)
    with pytest.raises(
        DataError,
        match=r"arm 'a' has 300 value\(s\) in column 'x', too few to bracket the 0\.99 quantile"
        r" at bracket_level 0\.95: needs >= 381",
    ):
        compute_quantile_summaries(data, variant="variant", column="x", probability=0.99)
    got = compute_quantile_summaries(data, variant="variant", column="x", probability=0.98)
    assert got["a"].n == 300


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"probability": 0}, r"probability == 0, must be in \(0, 1\)"),
        ({"probability": 1.5}, r"probability == 1\.5, must be in \(0, 1\)"),
        ({"probability": float("nan")}, r"probability == nan, must be finite"),
        ({"probability": 0.5, "bracket_level": 1}, r"bracket_level == 1, must be in \(0, 1\)"),
        ({"probability": 0.5, "column": ""}, r"column == '', must be a non-empty string"),
        ({"probability": 0.5, "variant": None}, r"variant == None, must be a non-empty string"),
    ],
)
def test_bad_arguments_are_input_errors(kwargs: dict[str, Any], match: str) -> None:
    arguments = {"variant": "variant", "column": "latency", **kwargs}
    with pytest.raises(InputError, match=match):
        compute_quantile_summaries(fixture_table().to_pandas(), **arguments)


def test_unsupported_data_is_an_input_error() -> None:
    with pytest.raises(InputError, match=r"data is a builtins\.list"):
        compute_quantile_summaries([1, 2], variant="v", column="x", probability=0.5)


def test_an_ibis_backend_without_exact_quantiles_is_an_input_error(
    tables: Tables, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    # BigQuery and Trino: Ibis has no compilation rule for an exact quantile. Simulated on a
    # DuckDB-backed Ibis table by raising Ibis's own error from the quantile query.
    from ibis.common.exceptions import OperationNotDefinedError  # noqa: PLC0415

    data = tables.make("ibis-duckdb", "quantiles", fixture_table(), request)
    collect = data_quantiles.collect
    calls: list[int] = []

    def failing(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) == 2:  # the counts run; the quantiles do not compile
            raise OperationNotDefinedError(
                "Compilation rule for 'Quantile' operation is not defined"
            )
        return collect(*args, **kwargs)

    monkeypatch.setattr(data_quantiles, "collect", failing)
    with pytest.raises(InputError, match=r"Ibis table on a backend with no exact quantile"):
        compute_quantile_summaries(data, variant="variant", column="latency", probability=0.5)


# --------------------------------------------------------------------------- the SQL sent
@pytest.mark.parametrize(
    ("backend", "function"),
    [
        ("duckdb-table", "quantile_cont"),
        ("parquet", "quantile_cont"),
        ("postgres", "percentile_cont"),
    ],
)
def test_two_commented_statements_with_three_quantiles_per_arm(
    backend: str,
    function: str,
    tables: Tables,
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    data = tables.make(backend, "quantiles", fixture_table(), request)
    sent: list[str] = []
    collect = data_quantiles.collect

    def recording(*args: Any, **kwargs: Any) -> Any:
        rows, statements = collect(*args, **kwargs)
        sent.extend(statements)
        return rows, statements

    monkeypatch.setattr(data_quantiles, "collect", recording)
    compute_quantile_summaries(
        data,
        variant="variant",
        column="latency",
        probability=0.9,
        experiment_id="checkout-7",
        team="growth */ DROP",
    )
    assert len(sent) == 2  # the counts, then the quantiles
    for statement in sent:
        assert statement.startswith("/* ablens experiment=checkout-7 team=growth * / DROP */\n")
    counts, quantiles = sent
    assert "GROUP BY" in counts.upper()
    assert len(re.findall(function, quantiles, flags=re.IGNORECASE)) == 3 * len(ARMS)


def test_spark_jobs_run_in_the_experiments_job_group(
    tables: Tables, request: pytest.FixtureRequest
) -> None:
    data = tables.make("spark", "quantiles", fixture_table(), request)
    tracker = request.getfixturevalue("spark").sparkContext.statusTracker()
    assert tracker.getJobIdsForGroup("ablens-exp-9") == []
    compute_quantile_summaries(
        data, variant="variant", column="latency", probability=0.5, experiment_id="exp-9"
    )
    assert len(tracker.getJobIdsForGroup("ablens-exp-9")) >= 2  # the counts and the quantiles
