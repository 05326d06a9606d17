"""Numerical tests of `Moments`: NIST StRD certified values, exact references, merge properties.

References are independent of the code under test: the certified values printed in the NIST StRD
files, and exact rational arithmetic (`fractions.Fraction`, Python integers) on the very float64
values the code receives.
"""

from __future__ import annotations

import functools
import json
import math
import operator
from fractions import Fraction
from typing import TYPE_CHECKING

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from ablens.errors import InputError
from ablens.stats.moments import Moments
from nist import (
    NIST_SETS,
    NistSet,
    exact_mean_and_comoment,
    exact_variance,
    load_nist,
    nist_directory,
    rel_err,
)

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

    from numpy.typing import NDArray

EPS = float(np.finfo(np.float64).eps)

MEAN_RTOL = 1e-13
STD_RTOL = 1e-9
# NumAcc4 holds 10000000.1, .2, .3: float64 spacing near 1e7 is 2**-29 (1.9e-9), so each value is
# stored with an error up to 9.3e-10, about 1e-8 of the 0.1 deviations. The standard deviation of
# the float64 data therefore differs from the certified 0.1 by 5.6e-9 relative (see
# `test_numacc4_certified_std_is_beyond_float64_input`), whatever the algorithm. The algorithm is
# checked against the exact standard deviation of the stored values instead, to EXACT_RTOL.
STD_RTOL_BY_SET = {"NumAcc4": 1e-8}
# Relative error of a variance against the exact variance of the stored float64 values.
EXACT_RTOL = 1e-13


# ---------------------------------------------------------------------------- reference helpers
@pytest.fixture(name="nist_dir", scope="module")
def nist_dir_fixture(reference_data_dir: Path) -> Path:
    return nist_directory(reference_data_dir)


def shifted_sums_moments(
    columns: dict[str, NDArray[np.float64]], pilot: Sequence[float]
) -> Moments:
    """Moments from one-pass sums of ``x - pilot``, as an engine would compute them."""
    names = list(columns)
    matrix = np.column_stack([columns[c] for c in names])
    shift = np.asarray(pilot, dtype=np.float64)
    d = matrix - shift
    return Moments.from_shifted_sums(len(matrix), names, shift, d.sum(axis=0), d.T @ d)


def uneven_chunks(values: NDArray[np.float64]) -> list[NDArray[np.float64]]:
    """Three non-empty chunks of unequal sizes (for n >= 3)."""
    n = len(values)
    cuts = [max(1, n // 7), max(2, 3 * n // 5)]
    return np.split(values, cuts)


def merged_chunks(values: NDArray[np.float64]) -> Moments:
    a, b, c = (Moments.from_columns({"y": chunk}) for chunk in uneven_chunks(values))
    return a + b + c


def single_rows_merged(values: NDArray[np.float64]) -> Moments:
    return Moments.merge_all(
        Moments.from_columns({"y": values[i : i + 1]}) for i in range(len(values))
    )


def nist_moments(data: NistSet, method: str) -> Moments:
    if method == "from_columns":
        return Moments.from_columns({"y": data.values})
    if method == "shifted_sums":
        return shifted_sums_moments({"y": data.values}, [data.values[0]])
    if method == "merged_chunks":
        return merged_chunks(data.values)
    assert method == "merge_all_rows"
    return single_rows_merged(data.values)


METHODS = ("from_columns", "shifted_sums", "merged_chunks", "merge_all_rows")


# ---------------------------------------------------------------------------- 1. NIST StRD
def test_reference_data_dir_is_inside_the_repository(reference_data_dir: Path) -> None:
    assert reference_data_dir.name == "reference-data"
    assert reference_data_dir.parent.name == "fixtures"
    assert (reference_data_dir / "nist-strd").is_dir()


@pytest.mark.parametrize("name", NIST_SETS)
def test_nist_file_parses(nist_dir: Path, name: str) -> None:
    data = load_nist(nist_dir, name)
    assert len(data.values) >= 3
    assert np.all(np.isfinite(data.values))
    assert data.certified_std > 0


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("name", NIST_SETS)
def test_nist_certified_mean_and_std(nist_dir: Path, name: str, method: str) -> None:
    data = load_nist(nist_dir, name)
    moments = nist_moments(data, method)
    assert moments.count == len(data.values)
    assert rel_err(moments.mean_of("y"), data.certified_mean) <= MEAN_RTOL
    assert rel_err(moments.std("y"), data.certified_std) <= STD_RTOL_BY_SET.get(name, STD_RTOL)


@pytest.mark.parametrize("method", ["from_columns", "shifted_sums"])
@pytest.mark.parametrize("name", NIST_SETS)
def test_nist_variance_matches_exact_variance_of_stored_values(
    nist_dir: Path, name: str, method: str
) -> None:
    # One pass over all rows: the only rounding left is that of the sums themselves.
    data = load_nist(nist_dir, name)
    moments = nist_moments(data, method)
    exact_mean, _ = exact_mean_and_comoment(data.values)
    assert rel_err(moments.mean_of("y"), exact_mean) <= 4 * EPS
    assert rel_err(moments.variance("y"), exact_variance(data.values)) <= EXACT_RTOL


@pytest.mark.parametrize("method", ["merged_chunks", "merge_all_rows"])
@pytest.mark.parametrize("name", NIST_SETS)
def test_nist_merges_match_whole_to_the_scale_of_the_data(
    nist_dir: Path, name: str, method: str
) -> None:
    # A merge multiplies differences of float64 means, so it is exact only relative to the size
    # of the values (see `assert_close_to_scale`), not to the variance: on NumAcc4 (mean/sd = 1e8)
    # merging 1001 single rows is 3e-11 off the exact variance, a one-pass method 1e-16.
    data = load_nist(nist_dir, name)
    whole = Moments.from_columns({"y": data.values})
    assert_close_to_scale(nist_moments(data, method), whole, data.values[:, None])


def test_numacc4_certified_std_is_beyond_float64_input(nist_dir: Path) -> None:
    # Why NumAcc4 gets 1e-8: the exact std of the values as stored in float64 already misses the
    # certified 0.1 by more than 1e-9. No algorithm working on float64 input can do better.
    data = load_nist(nist_dir, "NumAcc4")
    exact_std = math.sqrt(exact_variance(data.values))  # rounding here is ~1e-16, far below
    assert 1e-9 < rel_err(exact_std, data.certified_std) < 1e-8


def test_naive_formula_fails_on_numacc4(nist_dir: Path) -> None:
    # The textbook one-pass formula loses every digit where the tested methods keep all of them.
    x = load_nist(nist_dir, "NumAcc4").values
    n = len(x)
    naive = (np.sum(x * x) - n * np.mean(x) ** 2) / (n - 1)
    assert rel_err(float(naive), exact_variance(x)) > 1e-3


# ---------------------------------------------------------------------------- 2. 1e9 + noise
@functools.cache
def big_offset_data(noise_sd: float) -> NDArray[np.float64]:
    rng = np.random.default_rng(20240611)
    return 1e9 + rng.normal(0.0, noise_sd, 100_000)


NOISE_SDS = (1e-3, 1.0)


def big_offset_chunks(x: NDArray[np.float64]) -> list[NDArray[np.float64]]:
    return np.split(x, [1, 17, 5_000, 33_333, 70_001])


@pytest.mark.parametrize("noise_sd", NOISE_SDS)
def test_big_offset_one_pass_variance_is_exact(noise_sd: float) -> None:
    x = big_offset_data(noise_sd)
    exact = exact_variance(x)
    exact_mean, _ = exact_mean_and_comoment(x)
    for moments in (
        Moments.from_columns({"x": x}),
        shifted_sums_moments({"x": x}, [x[0]]),
    ):
        assert moments.count == len(x)
        assert rel_err(moments.variance("x"), exact) <= 1e-9
        assert rel_err(moments.mean_of("x"), exact_mean) <= 4 * EPS


@pytest.mark.parametrize("noise_sd", NOISE_SDS)
def test_big_offset_merged_variance_is_exact(noise_sd: float) -> None:
    # With noise 1e-3 on 1e9 a float64 chunk mean is off by up to 6e-8, about 1e-2 of the ~1e-5
    # differences between chunk means that a merge squares: merging plain float means gave a
    # variance 1.4e-7 off. Moments keep each mean as two floats, so merges stay at ~1e-16.
    x = big_offset_data(noise_sd)
    exact = exact_variance(x)
    parts = [Moments.from_columns({"x": c}) for c in big_offset_chunks(x)]
    for moments in (functools.reduce(operator.add, parts), Moments.merge_all(parts)):
        assert moments.count == len(x)
        assert rel_err(moments.variance("x"), exact) <= 1e-12


@pytest.mark.parametrize("noise_sd", NOISE_SDS)
def test_big_offset_merge_of_single_rows_is_exact(noise_sd: float) -> None:
    x = big_offset_data(noise_sd)[:5_000]
    rows = [Moments.from_columns({"x": x[i : i + 1]}) for i in range(len(x))]
    assert rel_err(Moments.merge_all(rows).variance("x"), exact_variance(x)) <= 1e-12


@pytest.mark.parametrize("noise_sd", NOISE_SDS)
def test_big_offset_merge_is_exact_to_the_scale_of_the_data(noise_sd: float) -> None:
    x = big_offset_data(noise_sd)
    parts = [Moments.from_columns({"x": c}) for c in big_offset_chunks(x)]
    whole = Moments.from_columns({"x": x})
    assert_close_to_scale(functools.reduce(operator.add, parts), whole, x[:, None])
    assert_close_to_scale(Moments.merge_all(parts), whole, x[:, None])


def test_corrected_two_pass_repairs_the_rounded_mean() -> None:
    # Two neighbouring floats a and a + u (u = 1 ulp at 1e9), in proportion 1 : 2. The exact mean
    # a + 2u/3 rounds to a + u, so deviations from the stored mean are -u and 0 and a plain two-pass
    # sum of squares is 50% too large; the correction term n * residual^2 removes the error.
    a = 1e9
    u = np.nextafter(a, np.inf) - a
    x = np.repeat([a, a + u], [300, 600])
    exact = exact_variance(x)
    plain = np.sum((x - x.mean()) ** 2) / (len(x) - 1)
    assert rel_err(float(plain), exact) > 0.1
    assert rel_err(Moments.from_columns({"x": x}).variance("x"), exact) <= EXACT_RTOL
    assert rel_err(shifted_sums_moments({"x": x}, [a]).variance("x"), exact) <= EXACT_RTOL


@pytest.mark.parametrize("noise_sd", NOISE_SDS)
def test_naive_sum_of_squares_fails_on_big_offset(noise_sd: float) -> None:
    # Documents why Moments never uses sum(x*x) - n*mean^2: at 1e9 the sum of squares is ~1e23,
    # whose rounding (~1e7) swamps the sum of squared deviations (0.1 or 1e5).
    x = big_offset_data(noise_sd)
    n = len(x)
    naive = (np.sum(x * x) - n * np.mean(x) ** 2) / (n - 1)
    assert rel_err(float(naive), exact_variance(x)) > 1e-3


# ---------------------------------------------------------------------------- 3. cross-moments
@pytest.fixture(name="correlated")
def correlated_fixture() -> dict[str, NDArray[np.float64]]:
    rng = np.random.default_rng(7)
    x = rng.normal(50.0, 3.0, 2_000)
    y = 1e4 + 0.6 * (x - 50.0) + rng.normal(0.0, 2.0, 2_000)
    z = rng.exponential(1.0, 2_000)
    return {"x": x, "y": y, "z": z}


def test_covariance_matches_numpy(correlated: dict[str, NDArray[np.float64]]) -> None:
    expected = np.cov(np.vstack(list(correlated.values())))
    names = list(correlated)
    chunked = [{c: v[i : i + 300] for c, v in correlated.items()} for i in range(0, 2_000, 300)]
    assert expected[0, 1] > 0.5 * math.sqrt(expected[0, 0] * expected[1, 1])  # really correlated
    for moments in (
        Moments.from_columns(correlated),
        Moments.merge_all(Moments.from_columns(part) for part in chunked),
        shifted_sums_moments(correlated, [v[0] for v in correlated.values()]),
    ):
        assert rel_err(moments.covariance("x", "y"), expected[0, 1]) <= 1e-12
        assert moments.covariance("x", "y") == moments.covariance("y", "x")
        assert (
            rel_err(moments.covariance("x", "y", ddof=0), expected[0, 1] * 1_999 / 2_000) <= 1e-12
        )
        # Nearly uncorrelated pairs (y, z: correlation -0.006) are checked relative to the scale
        # sd_a * sd_b, as a covariance near zero has no relative precision to speak of.
        for i, a in enumerate(names):
            for j, b in enumerate(names):
                scale = math.sqrt(expected[i, i] * expected[j, j])
                assert abs(moments.covariance(a, b) - expected[i, j]) <= 1e-12 * scale, (a, b)


def test_covariance_matches_exact_rational(correlated: dict[str, NDArray[np.float64]]) -> None:
    m = Moments.from_columns(correlated)
    for a, b in [("x", "y"), ("y", "z"), ("x", "z")]:
        xa = [Fraction(v) for v in correlated[a]]
        xb = [Fraction(v) for v in correlated[b]]
        ma, mb = sum(xa) / len(xa), sum(xb) / len(xb)
        exact = sum((p - ma) * (q - mb) for p, q in zip(xa, xb, strict=True))
        assert rel_err(m.comoment_of(a, b), exact) <= 1e-14, (a, b)


def test_covariance_of_exact_small_example() -> None:
    m = Moments.from_columns({"x": [1.0, 2.0, 4.0], "y": [2.0, 4.0, 9.0]})
    # means 7/3 and 5; C_xy = sum (x - 7/3)(y - 5) = 11; C_xx = 14/3; C_yy = 26
    assert m.comoment_of("x", "y") == pytest.approx(11.0, rel=1e-15)
    assert m.comoment_of("x", "x") == pytest.approx(14 / 3, rel=1e-15)
    assert m.comoment_of("y", "y") == pytest.approx(26.0, rel=1e-15)
    assert m.covariance("x", "y") == pytest.approx(5.5, rel=1e-15)
    assert m.sum_of("y") == pytest.approx(15.0, rel=1e-15)


def test_select_reorders(correlated: dict[str, NDArray[np.float64]]) -> None:
    m = Moments.from_columns(correlated)
    s = m.select(["z", "x"])
    assert s.columns == ("z", "x")
    assert s.count == m.count
    np.testing.assert_array_equal(s.mean, [m.mean_of("z"), m.mean_of("x")])
    expected = [
        [m.comoment_of("z", "z"), m.comoment_of("z", "x")],
        [m.comoment_of("x", "z"), m.comoment_of("x", "x")],
    ]
    np.testing.assert_array_equal(s.comoment, expected)
    assert s.covariance("x", "z") == m.covariance("x", "z")
    assert m.select(["y", "x", "z"]).select(["x", "y", "z"]) == m.select(["x", "y", "z"])
    with pytest.raises(InputError, match=r"column == 'w', must be one of \('x', 'y', 'z'\)"):
        m.select(["x", "w"])
    with pytest.raises(InputError, match="must not repeat a name"):
        m.select(["x", "x"])


def test_covariance_not_given_in_summary_is_nan_and_raises() -> None:
    m = Moments.from_summary(10, mean={"x": 1.0, "y": 2.0}, variance={"x": 1.0, "y": 4.0})
    assert math.isnan(m.comoment[0, 1])
    assert m.variance("y") == pytest.approx(4.0, rel=1e-15)
    with pytest.raises(InputError, match="cross-moment of 'x' and 'y' was not computed"):
        m.comoment_of("x", "y")
    with pytest.raises(InputError, match="cross-moment of 'y' and 'x' was not computed"):
        m.covariance("y", "x")
    # NaN survives merging: the pair stays unknown rather than silently becoming a number.
    merged = m + Moments.from_summary(5, mean={"x": 0.0, "y": 0.0}, variance={"x": 2.0, "y": 1.0})
    with pytest.raises(InputError, match="cross-moment of 'x' and 'y' was not computed"):
        merged.comoment_of("x", "y")
    assert merged.comoment_of("x", "x") == pytest.approx(9 + 8 + 1 * 10 * 5 / 15, rel=1e-15)


def test_summary_with_covariance_and_ddof() -> None:
    m = Moments.from_summary(
        11, mean={"x": 1.0, "y": 2.0}, variance={"x": 2.0, "y": 3.0}, covariance={("y", "x"): 0.5}
    )
    assert m.comoment_of("x", "y") == 5.0
    assert m.covariance("x", "y") == 0.5
    p = Moments.from_summary(10, mean={"x": 1.0}, variance={"x": 2.0}, ddof=0)
    assert p.comoment_of("x", "x") == 20.0
    assert p.variance("x", ddof=0) == 2.0


# ---------------------------------------------------------------------------- 4. properties
PROPERTIES = settings(max_examples=100, deadline=None, derandomize=True, database=None)


@st.composite
def split_columns(draw: st.DrawFn) -> tuple[dict[str, NDArray[np.float64]], list[int]]:
    """1-3 columns of up to 60 rows, offsets up to 1e6, cut at random points (may leave empties)."""
    n = draw(st.integers(0, 60))
    k = draw(st.integers(1, 3))
    unit = st.floats(-1.0, 1.0, allow_nan=False, allow_infinity=False, allow_subnormal=False)
    base = draw(arrays(np.float64, (n, k), elements=unit))
    offsets = np.array(draw(st.lists(st.floats(-1e6, 1e6), min_size=k, max_size=k)))
    scales = np.array(draw(st.lists(st.sampled_from([1e-3, 1.0, 1e3]), min_size=k, max_size=k)))
    matrix = offsets + scales * base
    cuts = sorted(draw(st.lists(st.integers(0, n), max_size=4)))
    columns = {f"c{j}": matrix[:, j] for j in range(k)}
    return columns, cuts


def assert_close_to_scale(got: Moments, want: Moments, data: NDArray[np.float64]) -> None:
    """Equal up to rounding, relative to the size of the data rather than of each result.

    Means are stored to float64, so a mean carries an error ~eps * max|x|; a merge multiplies a
    difference of means by deviations, so a co-moment carries ~eps * n * max|x| * max|x - mean|.
    """
    assert got.count == want.count
    assert got.columns == want.columns
    if want.count == 0:
        return
    size = np.max(np.abs(data), axis=0)
    spread = np.max(np.abs(data - want.mean), axis=0)
    n = want.count
    mean_tol = 8 * EPS * size
    assert np.all(np.abs(got.mean - want.mean) <= mean_tol), (got.mean, want.mean)
    co_tol = (
        8 * EPS * n * (np.outer(size, spread) + np.outer(spread, size) + EPS * np.outer(size, size))
    )
    assert np.all(np.abs(got.comoment - want.comoment) <= co_tol), (got.comoment, want.comoment)


@PROPERTIES
@given(split_columns())
def test_merged_chunks_equal_whole(case: tuple[dict[str, NDArray[np.float64]], list[int]]) -> None:
    columns, cuts = case
    whole = Moments.from_columns(columns)
    parts = [
        Moments.from_columns(dict(zip(columns, chunk.T, strict=True)))
        for chunk in np.split(np.column_stack(list(columns.values())), cuts)
    ]
    data = np.column_stack(list(columns.values()))
    assert_close_to_scale(functools.reduce(operator.add, parts), whole, data)
    assert_close_to_scale(Moments.merge_all(parts), whole, data)
    assert_close_to_scale(Moments.merge_all(reversed(parts)), whole, data)


@PROPERTIES
@given(split_columns())
def test_merge_is_commutative(case: tuple[dict[str, NDArray[np.float64]], list[int]]) -> None:
    columns, cuts = case
    cut = cuts[0] if cuts else 0
    a = Moments.from_columns({c: v[:cut] for c, v in columns.items()})
    b = Moments.from_columns({c: v[cut:] for c, v in columns.items()})
    data = np.column_stack(list(columns.values()))
    assert_close_to_scale(a + b, b + a, data)
    np.testing.assert_array_equal((a + b).comoment, (b + a).comoment)


@PROPERTIES
@given(split_columns())
def test_empty_is_identity(case: tuple[dict[str, NDArray[np.float64]], list[int]]) -> None:
    columns, _ = case
    m = Moments.from_columns(columns)
    empty = Moments.empty(list(columns))
    assert m + empty == m
    assert empty + m == m
    assert Moments.merge_all([empty, m, empty]) == m
    assert empty.count == 0


@PROPERTIES
@given(split_columns())
def test_dict_round_trip_is_exact(case: tuple[dict[str, NDArray[np.float64]], list[int]]) -> None:
    columns, _ = case
    m = Moments.from_columns(columns)
    assert Moments.from_dict(m.to_dict()) == m
    assert Moments.from_dict(json.loads(json.dumps(m.to_dict(), allow_nan=False))) == m


def test_dict_round_trip_keeps_missing_covariance() -> None:
    m = Moments.from_summary(10, mean={"x": 0.1, "y": 1e9 + 0.3}, variance={"x": 1 / 3, "y": 2.0})
    document = m.to_dict()
    assert document["comoment"][0][1] is None
    back = Moments.from_dict(json.loads(json.dumps(document, allow_nan=False)))
    assert back == m
    with pytest.raises(InputError, match="cross-moment of 'x' and 'y'"):
        back.comoment_of("x", "y")


# ---------------------------------------------------------------------------- 5. bad input
@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_from_columns_rejects_non_finite(bad: float) -> None:
    with pytest.raises(InputError, match=r"column 'y' holds 1 NaN or infinite value\(s\)"):
        Moments.from_columns({"x": [1.0, 2.0, 3.0], "y": [1.0, bad, 3.0]})
    with pytest.raises(InputError, match=r"column 'x' holds 2 NaN or infinite value\(s\)"):
        Moments.from_columns({"x": [bad, 2.0, bad]})


def test_from_columns_rejects_different_lengths() -> None:
    with pytest.raises(InputError, match=r"columns have different lengths \[2, 3\]"):
        Moments.from_columns({"x": [1.0, 2.0, 3.0], "y": [1.0, 2.0]})


def test_from_columns_rejects_empty_mapping() -> None:
    with pytest.raises(InputError, match="columns is empty, must name at least one column"):
        Moments.from_columns({})


def test_from_columns_rejects_two_dimensional_column() -> None:
    with pytest.raises(InputError, match="column 'x' has 2 dimensions, must be 1"):
        Moments.from_columns({"x": [[1.0, 2.0]]})


def test_from_columns_of_no_rows_is_empty() -> None:
    assert Moments.from_columns({"x": [], "y": []}) == Moments.empty(["x", "y"])


@pytest.mark.parametrize(
    "build",
    [
        lambda: Moments(-1, ("x",), [0.0], [[0.0]]),
        lambda: Moments.from_summary(-1, mean={"x": 0.0}, variance={"x": 1.0}),
        lambda: Moments.from_shifted_sums(-1, ["x"], [0.0], [0.0], [[0.0]]),
    ],
)
def test_negative_count_is_rejected(build: object) -> None:
    with pytest.raises(InputError, match=r"count == -1, must be >= 0"):
        build()  # type: ignore[operator]


def test_fractional_count_is_rejected() -> None:
    with pytest.raises(InputError, match=r"count == 2.5, must be a whole number"):
        Moments(2.5, ("x",), [0.0], [[0.0]])  # type: ignore[arg-type]


def test_merge_of_different_columns_is_rejected() -> None:
    a = Moments.from_columns({"x": [1.0, 2.0]})
    b = Moments.from_columns({"y": [1.0, 2.0]})
    with pytest.raises(InputError, match=r"cannot merge moments of columns \('x',\) with \('y',\)"):
        a.merge(b)
    with pytest.raises(InputError, match="cannot merge moments of columns"):
        _ = a + b
    ab = Moments.from_columns({"x": [1.0], "y": [2.0]})
    ba = Moments.from_columns({"y": [2.0], "x": [1.0]})
    with pytest.raises(InputError, match="select the same columns first"):
        ab.merge(ba)
    assert ab.merge(ba.select(["x", "y"])).count == 2


def test_add_of_non_moments_is_type_error() -> None:
    with pytest.raises(TypeError, match="unsupported operand"):
        _ = Moments.from_columns({"x": [1.0]}) + 1.0


def test_merge_all_of_nothing_is_rejected() -> None:
    with pytest.raises(InputError, match="parts is empty"):
        Moments.merge_all([])


@pytest.mark.parametrize("values", [[], [3.0]])
def test_variance_needs_more_rows_than_ddof(values: list[float]) -> None:
    m = Moments.from_columns({"x": values})
    with pytest.raises(InputError, match=rf"count == {len(values)}, must exceed ddof == 1"):
        m.variance("x")
    with pytest.raises(InputError, match=rf"count == {len(values)}, must exceed ddof == 1"):
        m.std("x")
    if values:
        assert m.variance("x", ddof=0) == 0.0


def test_unknown_column_is_rejected() -> None:
    m = Moments.from_columns({"x": [1.0, 2.0]})
    with pytest.raises(InputError, match=r"column == 'y', must be one of \('x',\)"):
        m.mean_of("y")


def test_inconsistent_shapes_and_values_are_rejected() -> None:
    with pytest.raises(InputError, match=r"mean has shape \(2,\), must be \(1,\)"):
        Moments(2, ("x",), [0.0, 1.0], [[0.0]])
    with pytest.raises(InputError, match=r"comoment has shape \(1, 1\), must be \(2, 2\)"):
        Moments(2, ("x", "y"), [0.0, 1.0], [[0.0]])
    with pytest.raises(InputError, match="comoment must be symmetric"):
        Moments(2, ("x", "y"), [0.0, 1.0], [[1.0, 0.5], [0.4, 1.0]])
    with pytest.raises(
        InputError, match=r"the sum of squares of column 'x' is -1.0, must be >= 0: a sum of"
    ):
        Moments(2, ("x",), [0.0], [[-1.0]])
    with pytest.raises(
        InputError, match=r"column 'y' is nan, must be >= 0: its values are too large to square"
    ):
        Moments(2, ("x", "y"), [0.0, 0.0], [[1.0, 0.0], [0.0, np.nan]])
    with pytest.raises(InputError, match="must not repeat a name"):
        Moments(2, ("x", "x"), [0.0, 0.0], [[0.0, 0.0], [0.0, 0.0]])
    with pytest.raises(InputError, match=r"variance\['x'\] == -1.0, must be >= 0"):
        Moments.from_summary(3, mean={"x": 0.0}, variance={"x": -1.0})
    with pytest.raises(InputError, match=r"variance has columns \['y'\], must match"):
        Moments.from_summary(3, mean={"x": 0.0}, variance={"y": 1.0})
    with pytest.raises(InputError, match=r"mean\['x'\] == nan, must be finite"):
        Moments.from_summary(3, mean={"x": math.nan}, variance={"x": 1.0})
