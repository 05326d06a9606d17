"""Sequential designs at many looks: the same numbers as the full recursion, fast, and capped."""

from __future__ import annotations

import math
import time

import pytest

from ablens.errors import InputError, LimitError
from ablens.stats.always_valid import always_valid_design
from ablens.stats.group_sequential import (
    MAX_LOOKS,
    ExitPath,
    exit_probabilities,
    group_sequential_bounds,
    sample_size_inflation,
)

# Computed with the full-matrix recursion this module had before the banded kernel and the
# tilted search (ablens at commit ab60dbc), 100 and 365 equally spaced looks, default options.
PREVIOUS = {
    100: {
        "obrien-fleming": 1.0547452041117276,
        "pocock-greater": 1.296265545493157,
        "bounds": (22.383142568070188, 3.0641877920894607, 2.1854214542723644),
        "msprt": (1.6746134750150874, 0.014949232813646027),
        "confidence-sequence": (1.6760834582865642, 0.014677624478971094),
    },
    365: {
        "obrien-fleming": 1.056560914401938,
        "pocock-greater": 1.2995910597881464,
        "bounds": (math.inf, 3.1244078625427716, 2.211527495197321),
        "msprt": (1.6463454940432236, 0.01687580758618537),
        "confidence-sequence": (1.6478972480466945, 0.016555800972759528),
    },
}


@pytest.mark.parametrize("looks", sorted(PREVIOUS))
def test_many_looks_give_the_numbers_of_the_full_recursion(looks):
    expected = PREVIOUS[looks]
    fractions = [(k + 1) / looks for k in range(looks)]
    assert sample_size_inflation(fractions) == pytest.approx(expected["obrien-fleming"], rel=1e-9)
    assert sample_size_inflation(
        fractions, alternative="greater", spending="pocock"
    ) == pytest.approx(expected["pocock-greater"], rel=1e-9)
    bounds = group_sequential_bounds(fractions).efficacy_bounds
    first, middle, last = expected["bounds"]
    assert bounds[0] == pytest.approx(first, rel=1e-9)
    assert bounds[looks // 2] == pytest.approx(middle, rel=1e-9)
    assert bounds[-1] == pytest.approx(last, rel=1e-9)
    for method in ("msprt", "confidence-sequence"):
        design = always_valid_design(looks, method=method)
        inflation, type_i = expected[method]
        assert design.inflation == pytest.approx(inflation, rel=1e-9)
        assert design.type_i_error == pytest.approx(type_i, rel=1e-9)


@pytest.mark.parametrize("sides", [1, 2])
def test_a_tilted_recursion_equals_the_recursion_at_that_drift(sides):
    looks = 12
    fractions = [(k + 1) / looks for k in range(looks)]
    upper = [2.8 - 0.05 * k for k in range(looks)]
    lower = [-b for b in upper] if sides == 2 else [-math.inf] * looks
    path = ExitPath.build(fractions, lower, upper, 0.0, means=(0.0, 4.0))
    for drift in (0.0, 1.3, 2.9, 4.0):
        above, below = path.exits(drift)
        direct_above, direct_below = exit_probabilities(fractions, lower, upper, drift)
        assert above == pytest.approx(direct_above, rel=1e-11, abs=1e-16)
        assert below == pytest.approx(direct_below, rel=1e-11, abs=1e-16)
    assert sum(path.exits(2.9)[0]) > 0.5  # a real power, not an empty comparison


@pytest.mark.parametrize("method", ["msprt", "confidence-sequence"])
def test_always_valid_designs_refuse_more_looks_than_the_cap_at_once(method):
    started = time.perf_counter()
    with pytest.raises(LimitError, match=r"looks == 100,000, at most 1,000 looks") as caught:
        always_valid_design(100_000, method=method)
    assert time.perf_counter() - started < 1.0
    assert caught.value.argument == "looks"
    assert caught.value.limit == MAX_LOOKS == 1_000
    assert "plan with looks=1,000" in str(caught.value)
    assert isinstance(caught.value, InputError)
    with pytest.raises(LimitError):
        always_valid_design([(k + 1) / 1_001 for k in range(1_001)], method=method)


def test_group_sequential_designs_refuse_more_looks_than_the_cap():
    fractions = [(k + 1) / 1_001 for k in range(1_001)]
    with pytest.raises(LimitError, match=r"looks == 1,001, at most 1,000 looks") as caught:
        group_sequential_bounds(fractions)
    assert "weekly (looks=143 for as many weeks)" in str(caught.value)
    assert "always-valid" in str(caught.value)
    with pytest.raises(LimitError, match="at most 1,000 looks"):
        sample_size_inflation(fractions)


def test_a_thousand_looks_are_within_the_cap_and_fast():
    # Generous: 1,000 looks took 39-90 s before; well under a second on an idle machine now.
    fractions = [(k + 1) / MAX_LOOKS for k in range(MAX_LOOKS)]
    started = time.perf_counter()
    inflation = sample_size_inflation(fractions)
    design = always_valid_design(MAX_LOOKS)
    assert time.perf_counter() - started < 15.0
    assert 1.056560914401938 < inflation < 1.06  # a little above 365 looks' inflation
    assert 1.6 < design.inflation < 1.6463454940432236  # below 365 looks' (more chances)
