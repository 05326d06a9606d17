"""Per-arm sufficient statistics: count, means and centred co-moments, mergeable exactly.

Every analysis in ablens is computed from these few numbers, not from rows. A `Moments` holds, for
one group of units (an arm, or an arm within a segment or a day):

* ``count``: the number of units ``n``;
* ``mean``: the mean of each column;
* ``comoment``: the matrix of centred cross-products
  ``C[a, b] = sum_i (a_i - mean_a)(b_i - mean_b)``.
  Its diagonal gives the variances ``C[a, a] / (n - 1)``; off-diagonal entries give covariances,
  needed by ratio metrics and covariate adjustment. Entries that were not computed are NaN.

Two `Moments` of disjoint groups combine exactly with the pairwise update of Chan, Golub and LeVeque
(1979), so partitions (days, shards, batches) merge without revisiting rows and without the
catastrophic cancellation of ``sum(x**2) - n * mean**2``.

Each mean is kept as an unevaluated sum of two floats, ``mean + mean_low`` (the low part holds
what rounding the mean to a float cut off, by error-free transformations). A merge needs the
difference of two groups' means; near ``1e9`` with a spread of ``1e-3`` a plain float mean has
already lost the digits that difference is made of, while the two-float mean keeps them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ablens._validation import check_count, check_name, check_real
from ablens.errors import InputError

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence

__all__ = ["Moments"]

FloatArray = NDArray[np.float64]


def _two_sum(a: FloatArray, b: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Knuth's error-free sum: ``high + low == a + b`` exactly, ``high`` the rounded sum."""
    high = a + b
    b_virtual = high - a
    low = (a - (high - b_virtual)) + (b - b_virtual)
    return high, low


def _frozen(array: ArrayLike) -> FloatArray:
    result = np.array(array, dtype=np.float64)
    result.flags.writeable = False
    return result


@dataclass(frozen=True, eq=False)
class Moments:
    """Count, means and centred co-moments of a few columns over one group of units.

    Build one with `Moments.from_columns` (from raw values, two-pass and exact),
    `Moments.from_summary` (from reported means and variances) or `Moments.from_shifted_sums`
    (from the sums an engine computes in one pass); combine groups with `merge` or ``+``.

    Attributes:
        count: Number of units ``n``.
        columns: Names of the columns, in the order of ``mean`` and ``comoment``.
        mean: Mean of each column, shape ``(k,)``.
        comoment: Centred cross-products, shape ``(k, k)``; NaN where not computed.
        mean_low: Low-order part of each mean (``mean + mean_low`` is the mean to about twice
            float precision); zeros when not known.

    Examples:
        >>> a = Moments.from_columns({"x": [1.0, 2.0, 3.0]})
        >>> b = Moments.from_columns({"x": [4.0, 5.0]})
        >>> merged = a + b
        >>> merged.count, merged.mean_of("x"), merged.variance("x")
        (5, 3.0, 2.5)
    """

    count: int
    columns: tuple[str, ...]
    mean: FloatArray = field(repr=False)
    comoment: FloatArray = field(repr=False)
    mean_low: FloatArray = field(default_factory=lambda: _frozen([]), repr=False)

    def __post_init__(self) -> None:
        count = check_count("count", self.count)
        object.__setattr__(self, "count", count)
        if len(set(self.columns)) != len(self.columns):
            raise InputError(f"columns == {self.columns!r}, must not repeat a name")
        for column in self.columns:
            check_name("column name", column)
        k = len(self.columns)
        mean = _frozen(self.mean)
        comoment = _frozen(self.comoment)
        if mean.shape != (k,):
            raise InputError(f"mean has shape {mean.shape}, must be ({k},) to match columns")
        if comoment.shape != (k, k):
            raise InputError(
                f"comoment has shape {comoment.shape}, must be ({k}, {k}) to match columns"
            )
        if count > 0 and not np.all(np.isfinite(mean)):
            bad = [
                name
                for name, value in zip(self.columns, mean, strict=True)
                if not np.isfinite(value)
            ]
            raise InputError(
                f"column(s) {bad} hold NaN or infinite values (the mean is not finite); drop or "
                "fill those rows before analysis"
            )
        diagonal = np.diag(comoment)
        unsquared = [(c, d) for c, d in zip(self.columns, diagonal, strict=True) if not d >= 0]
        if unsquared:
            column, value = unsquared[0]
            why = (
                "a sum of squared deviations cannot be negative"
                if value < 0
                else "its values are too large to square in floating point (beyond about 1e154) "
                "or hold NaN or infinity; rescale the column (e.g. divide by 1e6) or remove the "
                "bad values"
            )
            raise InputError(
                f"the sum of squares of column {column!r} is {value}, must be >= 0: {why}"
            )
        if not np.allclose(comoment, comoment.T, equal_nan=True, rtol=1e-12, atol=0.0):
            raise InputError("comoment must be symmetric")
        # An empty mean_low (the default) means "no low-order part known": zeros.
        mean_low = _frozen(self.mean_low) if np.size(self.mean_low) else _frozen(np.zeros(k))
        if mean_low.shape != (k,):
            raise InputError(f"mean_low has shape {mean_low.shape}, must be ({k},)")
        object.__setattr__(self, "mean", mean)
        object.__setattr__(self, "mean_low", mean_low)
        object.__setattr__(self, "comoment", comoment)

    # ------------------------------------------------------------------ constructors
    @classmethod
    def empty(cls, columns: Sequence[str]) -> Moments:
        """Moments of no units: the identity of `merge`."""
        k = len(columns)
        return cls(0, tuple(columns), np.zeros(k), np.zeros((k, k)))

    @classmethod
    def from_columns(cls, columns: Mapping[str, ArrayLike]) -> Moments:
        """Exact moments of raw values, by the corrected two-pass algorithm.

        The first pass computes the means; the second sums centred products and subtracts the
        tiny residual mean of the centred values (Chan, Golub and LeVeque, 1983, eq. 1.7), which
        keeps full precision on data such as ``1e9 + small noise``.

        Args:
            columns: Column name to a one-dimensional array of values; all of the same length.

        Returns:
            The moments of the rows.

        Raises:
            InputError: If a column holds NaN or infinite values, or lengths differ.

        Examples:
            >>> m = Moments.from_columns({"x": [1.0, 2.0, 4.0], "y": [2.0, 4.0, 9.0]})
            >>> round(m.covariance("x", "y"), 12)
            5.5
        """
        names = tuple(columns)
        if not names:
            raise InputError("columns is empty, must name at least one column")
        arrays = []
        for name in names:
            values = np.asarray(columns[name], dtype=np.float64)
            if values.ndim != 1:
                raise InputError(f"column {name!r} has {values.ndim} dimensions, must be 1")
            if not np.all(np.isfinite(values)):
                bad = int(np.count_nonzero(~np.isfinite(values)))
                raise InputError(
                    f"column {name!r} holds {bad} NaN or infinite value(s); "
                    "drop or impute them before analysis"
                )
            arrays.append(values)
        lengths = {len(a) for a in arrays}
        if len(lengths) != 1:
            raise InputError(f"columns have different lengths {sorted(lengths)}, must be equal")
        n = lengths.pop()
        if n == 0:
            return cls.empty(names)
        matrix = np.column_stack(arrays)
        first_mean = matrix.mean(axis=0)
        centred = matrix - first_mean
        residual = centred.mean(axis=0)
        comoment = centred.T @ centred - n * np.outer(residual, residual)
        comoment = (comoment + comoment.T) / 2.0
        np.fill_diagonal(comoment, np.maximum(np.diag(comoment), 0.0))
        high, low = _two_sum(first_mean, residual)
        return cls(n, names, high, comoment, low)

    @classmethod
    def from_summary(
        cls,
        count: int,
        mean: Mapping[str, float],
        variance: Mapping[str, float],
        covariance: Mapping[tuple[str, str], float] | None = None,
        *,
        ddof: int = 1,
    ) -> Moments:
        """Moments from reported summary statistics (means, variances, covariances).

        Args:
            count: Number of units.
            mean: Column name to mean.
            variance: Column name to variance, with ``ddof`` degrees of freedom removed.
            covariance: Optional ``(a, b)`` pair to covariance, same ``ddof``.
            ddof: Delta degrees of freedom of the variances given (1 for sample variance).

        Returns:
            The equivalent moments; covariances not given are NaN.

        Examples:
            >>> m = Moments.from_summary(100, mean={"x": 2.0}, variance={"x": 4.0})
            >>> m.comoment_of("x", "x")
            396.0
        """
        n = check_count("count", count)
        names = tuple(mean)
        if set(variance) != set(names):
            raise InputError(
                f"variance has columns {sorted(variance)}, must match mean's {sorted(names)}"
            )
        k = len(names)
        comoment = np.full((k, k), np.nan)
        for i, name in enumerate(names):
            value = check_real(f"variance[{name!r}]", variance[name])
            if value < 0:
                raise InputError(f"variance[{name!r}] == {value!r}, must be >= 0")
            comoment[i, i] = value * (n - ddof)
        for (a, b), value in (covariance or {}).items():
            if a not in names or b not in names:
                raise InputError(f"covariance names ({a!r}, {b!r}), must be among {names}")
            i, j = names.index(a), names.index(b)
            comoment[i, j] = comoment[j, i] = check_real(f"covariance[{(a, b)!r}]", value) * (
                n - ddof
            )
        means = [check_real(f"mean[{name!r}]", mean[name]) for name in names]
        return cls(n, names, np.array(means), comoment)

    @classmethod
    def from_shifted_sums(
        cls,
        count: int,
        columns: Sequence[str],
        shift: ArrayLike,
        sums: ArrayLike,
        cross_sums: ArrayLike,
    ) -> Moments:
        """Moments from one-pass sums of shifted values, as a database computes them.

        With a shift (pilot value) ``K`` per column, an engine sums ``x - K`` and products
        ``(x - Kx)(y - Ky)``. Then ``mean = K + S / n`` and ``C = P - S S^T / n``. The rounding
        error grows with ``((mean - K) / sd)^2``, so a pilot near the mean (any one value, or the
        mean of a small sample) keeps full precision where unshifted sums would lose every digit.

        Args:
            count: Number of rows summed.
            columns: Column names, in the order of the arrays.
            shift: The pilot ``K`` of each column, shape ``(k,)``.
            sums: ``sum(x - Kx)`` per column, shape ``(k,)``.
            cross_sums: ``sum((x - Kx)(y - Ky))``, shape ``(k, k)``; NaN where not computed.

        Returns:
            The moments.

        Examples:
            >>> import numpy as np
            >>> x = np.array([1e9 + 1, 1e9 + 2, 1e9 + 3])
            >>> d = x - 1e9
            >>> m = Moments.from_shifted_sums(3, ["x"], [1e9], [d.sum()], [[d @ d]])
            >>> m.variance("x")
            1.0
        """
        n = check_count("count", count)
        names = tuple(columns)
        k = len(names)
        try:
            shift_arr = np.asarray(shift, dtype=np.float64).reshape(k)
            sums_arr = np.asarray(sums, dtype=np.float64).reshape(k)
            cross = np.asarray(cross_sums, dtype=np.float64).reshape(k, k)
        except ValueError as error:
            raise InputError(
                f"shift, sums and cross_sums must have shapes ({k},), ({k},) and ({k}, {k}) "
                f"for {k} columns: {error}"
            ) from None
        if n == 0:
            return cls.empty(names)
        finite = np.isfinite(shift_arr) & np.isfinite(sums_arr)
        if not np.all(finite):  # before any arithmetic on them (it would warn)
            bad = [name for name, ok in zip(names, finite, strict=True) if not ok]
            raise InputError(
                f"column(s) {bad} hold NaN or infinite values (the mean is not finite); drop or "
                "fill those rows before analysis"
            )
        comoment = cross - np.outer(sums_arr, sums_arr) / n
        comoment = (comoment + comoment.T) / 2.0
        # Rounding can leave a tiny negative sum of squares for a constant column.
        diagonal = np.diag(comoment).copy()
        diagonal[(diagonal < 0) & (diagonal > -1e-9 * np.abs(np.diag(cross)) - 1e-300)] = 0.0
        np.fill_diagonal(comoment, diagonal)
        high, low = _two_sum(shift_arr, sums_arr / n)
        return cls(n, names, high, comoment, low)

    # ------------------------------------------------------------------ combination
    def merge(self, other: Moments) -> Moments:
        """Moments of the union of two disjoint groups (Chan, Golub and LeVeque, 1979).

        ``n = na + nb``, ``d = mean_b - mean_a``, ``mean = mean_a + d nb / n`` and
        ``C = Ca + Cb + d d^T na nb / n``. The difference ``d`` is taken on the two-float means, so
        it keeps its digits even when the means are large and ``d`` is tiny.

        Raises:
            InputError: If the two hold different columns.
        """
        if self.columns != other.columns:
            raise InputError(
                f"cannot merge moments of columns {self.columns} with {other.columns}; "
                "select the same columns first"
            )
        if other.count == 0:
            return self
        if self.count == 0:
            return other
        n = self.count + other.count
        # High parts of nearby means subtract exactly (Sterbenz); low parts add what they cut off.
        delta = (other.mean - self.mean) + (other.mean_low - self.mean_low)
        high, low = _two_sum(self.mean, delta * (other.count / n))
        comoment = (
            self.comoment + other.comoment + np.outer(delta, delta) * (self.count * other.count / n)
        )
        return Moments(n, self.columns, high, comoment, low + self.mean_low)

    def __add__(self, other: object) -> Moments:
        if not isinstance(other, Moments):
            return NotImplemented
        return self.merge(other)

    @classmethod
    def merge_all(cls, parts: Iterable[Moments]) -> Moments:
        """Merge any number of disjoint groups, pairwise (a balanced tree keeps rounding low)."""
        items = list(parts)
        if not items:
            raise InputError("parts is empty, must hold at least one Moments")
        while len(items) > 1:
            paired = [items[i].merge(items[i + 1]) for i in range(0, len(items) - 1, 2)]
            if len(items) % 2:
                paired.append(items[-1])
            items = paired
        return items[0]

    def select(self, columns: Sequence[str]) -> Moments:
        """The moments of a subset of columns, in the given order."""
        index = [self._index(c) for c in columns]
        return Moments(
            self.count,
            tuple(columns),
            self.mean[index],
            self.comoment[np.ix_(index, index)],
            self.mean_low[index],
        )

    # ------------------------------------------------------------------ accessors
    def _index(self, column: str) -> int:
        try:
            return self.columns.index(column)
        except ValueError:
            raise InputError(
                f"column == {column!r}, must be one of {self.columns} (the columns these "
                "moments were computed for)"
            ) from None

    def mean_of(self, column: str) -> float:
        """The mean of ``column``."""
        return float(self.mean[self._index(column)])

    def mean_minus(self, other: Moments, column: str) -> float:
        """``self``'s mean of ``column`` minus ``other``'s, using both parts of each mean.

        Near ``1e9`` the float means differ from the true ones by up to 6e-8, which can be a
        large share of a small difference; the two-float means keep it exact.

        Examples:
            >>> a = Moments.from_columns({"x": [1e9 + 1e-6, 1e9 + 3e-6]})
            >>> b = Moments.from_columns({"x": [1e9, 1e9]})
            >>> round(a.mean_minus(b, "x"), 10)
            2e-06
        """
        i, j = self._index(column), other._index(column)
        return float((self.mean[i] - other.mean[j]) + (self.mean_low[i] - other.mean_low[j]))

    def comoment_of(self, a: str, b: str) -> float:
        """The centred cross-product sum of ``a`` and ``b`` (sum of squares if equal)."""
        value = float(self.comoment[self._index(a), self._index(b)])
        if math.isnan(value):
            raise InputError(
                f"the cross-moment of {a!r} and {b!r} was not computed; request the pair "
                "when computing the moments"
            )
        return value

    def covariance(self, a: str, b: str, *, ddof: int = 1) -> float:
        """Covariance of ``a`` and ``b`` with ``ddof`` delta degrees of freedom."""
        if self.count - ddof <= 0:
            raise InputError(
                f"count == {self.count}, must exceed ddof == {ddof} to estimate a (co)variance"
            )
        return self.comoment_of(a, b) / (self.count - ddof)

    def variance(self, column: str, *, ddof: int = 1) -> float:
        """Variance of ``column`` (sample variance by default)."""
        return self.covariance(column, column, ddof=ddof)

    def std(self, column: str, *, ddof: int = 1) -> float:
        """Standard deviation of ``column``."""
        return math.sqrt(self.variance(column, ddof=ddof))

    def sum_of(self, column: str) -> float:
        """The sum of ``column`` (count times mean)."""
        return self.count * self.mean_of(column)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dictionary; `Moments.from_dict` reads it back."""
        return {
            "count": self.count,
            "columns": list(self.columns),
            "mean": self.mean.tolist(),
            "mean_low": self.mean_low.tolist(),
            "comoment": [
                [None if math.isnan(v) else float(v) for v in row] for row in self.comoment
            ],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Moments:
        """Read back the output of `to_dict`."""
        comoment = [[math.nan if v is None else v for v in row] for row in data["comoment"]]
        return cls(
            int(data["count"]),
            tuple(data["columns"]),
            np.asarray(data["mean"], dtype=np.float64),
            np.asarray(comoment, dtype=np.float64),
            np.asarray(data.get("mean_low", []), dtype=np.float64),
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Moments):
            return NotImplemented
        return (
            self.count == other.count
            and self.columns == other.columns
            and bool(np.array_equal(self.mean, other.mean))
            and bool(np.array_equal(self.mean_low, other.mean_low))
            and bool(np.array_equal(self.comoment, other.comoment, equal_nan=True))
        )

    __hash__ = None  # type: ignore[assignment]  # mutable-looking arrays inside: not hashable

    def __repr__(self) -> str:
        means = ", ".join(f"{c}={m:.6g}" for c, m in zip(self.columns, self.mean, strict=True))
        return f"Moments(count={self.count}, {means})"
