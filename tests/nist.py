"""NIST StRD univariate reference data and exact-arithmetic references, shared by the tests.

`load_nist` parses one ``<name>.dat`` file of ``tests/fixtures/reference-data/nist-strd``
(checking it against ``SHA256SUMS`` first); `exact_mean_and_comoment` and `exact_variance` give
the exact values of the float64 numbers a test hands to the code, in integer arithmetic;
`rel_err` compares a float to any exact reference without rounding the reference first.
"""

from __future__ import annotations

import functools
import hashlib
import re
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import TYPE_CHECKING

import numpy as np
import pytest

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

    from numpy.typing import NDArray

NIST_SETS = ("Lew", "Lottery", "Mavro", "Michelso", "NumAcc1", "NumAcc2", "NumAcc3", "NumAcc4")


@dataclass(frozen=True)
class NistSet:
    """One NIST StRD univariate data set: its values and certified statistics."""

    name: str
    values: NDArray[np.float64]
    certified_mean: Decimal
    certified_std: Decimal


_CERTIFIED_MEAN = re.compile(r"^Sample Mean\b.*:\s*(\S+)\s*$")
_CERTIFIED_STD = re.compile(r"^Sample Standard Deviation\b.*:\s*(\S+)\s*$")
_OBSERVATIONS = re.compile(r"^Number of Observations:\s*(\d+)\s*$")
_DATA_HEADER = re.compile(r"^Data:\s*Y\s*$")


def _one_match(pattern: re.Pattern[str], lines: Sequence[str], name: str) -> str:
    found = [m.group(1) for m in map(pattern.match, lines) if m]
    assert len(found) == 1, f"{name}: expected one line matching {pattern.pattern!r}, got {found}"
    return found[0]


def nist_directory(reference_data_dir: Path, names: Sequence[str] = NIST_SETS) -> Path:
    """``<reference_data_dir>/nist-strd``; fails the calling test when files are missing."""
    path = reference_data_dir / "nist-strd"
    missing = [n for n in names if not (path / f"{n}.dat").is_file()]
    if missing or not (path / "SHA256SUMS").is_file():
        pytest.fail(f"NIST StRD files missing from {path}: {missing or ['SHA256SUMS']}")
    return path


@functools.cache
def load_nist(directory: Path, name: str) -> NistSet:
    """Read one NIST StRD univariate file: certified mean and std from the header, then the data.

    The file's SHA-256 is checked against ``SHA256SUMS`` first, so a damaged copy fails loudly.
    """
    path = directory / f"{name}.dat"
    sums = dict(
        reversed(line.split())
        for line in (directory / "SHA256SUMS").read_text().splitlines()
        if line.strip()
    )
    assert hashlib.sha256(path.read_bytes()).hexdigest() == sums[path.name], f"{path} is damaged"
    lines = path.read_text().splitlines()
    mean = Decimal(_one_match(_CERTIFIED_MEAN, lines, name))
    std = Decimal(_one_match(_CERTIFIED_STD, lines, name))
    count = int(_one_match(_OBSERVATIONS, lines, name))
    (start,) = [i for i, line in enumerate(lines) if _DATA_HEADER.match(line)]
    assert set(lines[start + 1].strip()) == {"-"}, f"{name}: no dashes under 'Data: Y'"
    values = np.array([float(line) for line in lines[start + 2 :] if line.strip()])
    assert len(values) == count, f"{name}: {len(values)} values, header says {count}"
    return NistSet(name, values, mean, std)


def exact_mean_and_comoment(values: NDArray[np.float64]) -> tuple[Fraction, Fraction]:
    """Exact mean and sum of squared deviations of float64 values, in integer arithmetic.

    Every float is an integer over a power of two; scaled to the largest denominator, all values are
    integers ``a_i`` and ``C = (n sum a^2 - (sum a)^2) / (n scale^2)`` holds exactly.
    """
    ratios = [float(v).as_integer_ratio() for v in values]
    scale = max(den for _, den in ratios)
    ints = [num * (scale // den) for num, den in ratios]
    n = len(ints)
    total = sum(ints)
    squares = sum(a * a for a in ints)
    return Fraction(total, n * scale), Fraction(n * squares - total * total, n * scale * scale)


def exact_variance(values: NDArray[np.float64]) -> Fraction:
    """Exact sample variance (``n - 1`` denominator) of float64 values."""
    _, comoment = exact_mean_and_comoment(values)
    return comoment / (len(values) - 1)


def rel_err(got: float, want: float | Decimal | Fraction) -> float:
    """Relative error of ``got`` against ``want``, computed exactly, then rounded to a float."""
    reference = Fraction(want)
    return float(abs(Fraction(got) - reference) / abs(reference))
