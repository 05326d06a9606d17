"""Holm-Šidák, BKY and the per-hypothesis thresholds, against R and statsmodels.

``tests/fixtures/r/multiplicity.json`` is written by ``Rscript tests/fixtures/r/multiplicity.R``
(the definitions written in plain R); ``tests/fixtures/peers/statsmodels_multiplicity.json`` by
``tests/fixtures/peers/statsmodels_multiplicity.py`` (statsmodels' ``multipletests``). The
p.adjust methods themselves are checked in test_r_reference.py.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ablens.errors import InputError
from ablens.stats.multiplicity import (
    CORRECTION_METHODS,
    adjust_pvalues,
    adjusted_alphas,
    adjusted_confidence_level,
)
from rfixtures import load_r_fixture

RTOL = 1e-12
ATOL = 1e-15
R_CASES: list[dict[str, Any]] = load_r_fixture("multiplicity.json")["cases"]
PEER_DIR = Path(__file__).resolve().parents[1] / "fixtures" / "peers"
PEER_FILE = PEER_DIR / "statsmodels_multiplicity.json"
PEER_CASES: list[dict[str, Any]] = json.loads(PEER_FILE.read_text(encoding="utf-8"))["cases"]


def _ids(case: dict[str, Any]) -> str:
    return str(case["id"])


# ------------------------------------------------------------------------------------------ R
@pytest.mark.parametrize("case", R_CASES, ids=_ids)
def test_holm_sidak_matches_r(case: dict[str, Any]) -> None:
    got = adjust_pvalues(case["pvalues"], "holm-sidak")
    assert got.tolist() == pytest.approx(case["holm_sidak"], rel=RTOL, abs=ATOL)


@pytest.mark.parametrize("case", R_CASES, ids=_ids)
def test_bky_adjusted_matches_r_brute_force(case: dict[str, Any]) -> None:
    got = adjust_pvalues(case["pvalues"], "bky")
    assert got.tolist() == pytest.approx(case["bky"], rel=RTOL, abs=ATOL)


@pytest.mark.parametrize("case", R_CASES, ids=_ids)
def test_bky_adjusted_decides_as_definition_6(case: dict[str, Any]) -> None:
    adjusted = adjust_pvalues(case["pvalues"], "bky")
    for level in case["bky_rejections"]:
        assert (adjusted <= level["q"]).tolist() == level["rejected"]


@pytest.mark.parametrize("case", R_CASES, ids=_ids)
def test_adjusted_alphas_match_r(case: dict[str, Any]) -> None:
    for level in case["adjusted_alphas"]:
        for method, expected in level["thresholds"].items():
            got = adjusted_alphas(case["pvalues"], method, level["alpha"])
            assert got.tolist() == pytest.approx(expected, rel=RTOL, abs=ATOL), method


# -------------------------------------------------------------------------------- statsmodels
@pytest.mark.parametrize("case", PEER_CASES, ids=_ids)
def test_holm_sidak_matches_statsmodels(case: dict[str, Any]) -> None:
    got = adjust_pvalues(case["pvalues"], "holm-sidak")
    assert got.tolist() == pytest.approx(case["holm_sidak"], rel=RTOL, abs=ATOL)


@pytest.mark.parametrize("case", PEER_CASES, ids=_ids)
def test_bky_rejections_match_statsmodels(case: dict[str, Any]) -> None:
    alpha = case["alpha"]
    adjusted = adjust_pvalues(case["pvalues"], "bky")
    assert (adjusted <= alpha).tolist() == case["bky_rejected"]
    # statsmodels' values are BH's times (1 + alpha) (m - r1) / m: level-dependent.
    m = len(case["pvalues"])
    bh = adjust_pvalues(case["pvalues"], "bh")
    r1 = int(np.sum(bh <= alpha / (1 + alpha)))
    factor = (1 + alpha) * (1.0 if r1 in (0, m) else (m - r1) / m)
    expected = np.minimum(bh * factor, 1.0)
    assert expected.tolist() == pytest.approx(case["bky_corrected"], rel=RTOL, abs=ATOL)


# -------------------------------------------------------------------------------- properties
def _families() -> list[np.ndarray]:
    rng = np.random.default_rng(14)
    families = []
    for m in (1, 2, 3, 6, 15, 60):
        for power in (1.0, 4.0, 12.0):
            p = rng.uniform(size=m) ** power
            # Ties by repeating values (rounding to decimals would put some BH values exactly
            # on alpha / (1 + alpha), where the last bit decides).
            families += [p, np.repeat(p[: (m + 1) // 2], 2)[:m]]
    return families


@pytest.mark.parametrize("family", _families())
@pytest.mark.parametrize("alpha", [0.01, 0.05, 0.2])
def test_thresholds_reproduce_the_adjusted_decisions(family: np.ndarray, alpha: float) -> None:
    """Each method's thresholds, read as that method reads them, give its adjusted decisions."""
    order = np.argsort(family, kind="stable")
    for method in CORRECTION_METHODS:
        decided = adjust_pvalues(family, method) <= alpha
        thresholds = adjusted_alphas(family, method, alpha)
        passes = (family <= thresholds)[order]
        if method in ("holm", "holm-sidak"):  # step-down: every smaller one passed too
            sorted_rejected = np.logical_and.accumulate(passes)
        elif method in ("hochberg", "bh", "by", "bky"):  # step-up: some larger one passed
            sorted_rejected = np.logical_or.accumulate(passes[::-1])[::-1]
        else:  # single-step and Hommel: its own threshold
            sorted_rejected = passes
        if method == "bky" and np.all(adjust_pvalues(family, "bh") <= alpha / (1 + alpha)):
            sorted_rejected = np.ones_like(sorted_rejected)  # stage one rejected everything
        rejected = np.empty_like(sorted_rejected)
        rejected[order] = sorted_rejected
        assert rejected.tolist() == decided.tolist(), method


@pytest.mark.parametrize("family", _families())
def test_bky_rejections_grow_with_the_level(family: np.ndarray) -> None:
    adjusted = adjust_pvalues(family, "bky")
    bh = adjust_pvalues(family, "bh")
    # BKY rejects at least what BH rejects at q / (1 + q), and is monotone in the raw p-value.
    for q in (0.01, 0.05, 0.1, 0.3):
        assert np.all((adjusted <= q) >= (bh <= q / (1 + q)))
    order = np.argsort(family, kind="stable")
    assert np.all(np.diff(adjusted[order]) >= 0)
    assert np.all((adjusted >= 0) & (adjusted <= 1))


def test_holm_sidak_lies_between_sidak_and_holm() -> None:
    p = [0.001, 0.012, 0.019, 0.04, 0.3]
    holm_sidak = adjust_pvalues(p, "holm-sidak")
    assert np.all(holm_sidak <= adjust_pvalues(p, "holm"))
    assert np.all(holm_sidak <= adjust_pvalues(p, "sidak"))


def test_bky_worked_example() -> None:
    # m = 5, p = (0.01, 0.02, 0.03, 0.04, 0.5): BH values (0.05, 0.05, 0.05, 0.05, 0.5). Stage
    # one at q' = 0.05 (q = 0.05 / 0.95) rejects 4, so q* = 0.05 * 5 / 1 = 0.25 rejects the same
    # four; the fifth needs q* >= 0.5, i.e. q' = 0.1 (q = 1/9). Below q' = 0.05 nothing is
    # rejected at stage one.
    got = adjust_pvalues([0.01, 0.02, 0.03, 0.04, 0.5], "bky")
    assert got.tolist() == pytest.approx([1 / 19] * 4 + [1 / 9], rel=1e-14)


@pytest.mark.parametrize("method", ["holm-sidak", "bky"])
def test_new_methods_define_no_interval(method: str) -> None:
    assert adjusted_confidence_level(0.95, 4, method) is None  # type: ignore[arg-type]


def test_empty_family() -> None:
    assert adjust_pvalues([], "bky").tolist() == []
    assert adjusted_alphas([], "holm-sidak").tolist() == []


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: adjusted_alphas([0.1, 0.2], "holmes"), "method == 'holmes', must be one of"),
        (lambda: adjusted_alphas([0.1, 0.2], "bky", alpha=1.0), "alpha == 1.0"),
        (lambda: adjusted_alphas([0.1, 0.2], "bky", alpha=0.0), "alpha == 0.0"),
        (lambda: adjusted_alphas([0.1, 1.2], "holm-sidak"), "must all be finite and in [0, 1]"),
        (lambda: adjusted_alphas([[0.1]], "holm"), "must be a flat sequence"),
        (lambda: adjust_pvalues([0.1, float("nan")], "bky"), "must all be finite"),
        (lambda: adjust_pvalues([-0.1], "holm-sidak"), "must all be finite and in [0, 1]"),
    ],
)
def test_bad_input(call: Any, message: str) -> None:
    with pytest.raises(InputError, match=re.escape(message)):
        call()
