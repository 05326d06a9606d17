"""Helpers shared by the test modules (tests/ is on the path, as for engines.py)."""

from __future__ import annotations

import math
import threading
from typing import TYPE_CHECKING, Any, TypeVar

import pytest
from scipy import stats

if TYPE_CHECKING:
    from collections.abc import Callable

T = TypeVar("T")


def binomial_range(n: int, rate: float, coverage: float = 0.999) -> tuple[int, int]:
    """Central range of Binomial(n, rate) holding ``coverage`` of its mass.

    Simulations count rejections (or misses) out of ``n`` runs; a count outside this range means
    the error rate is not ``rate``, with a chance of ``1 - coverage`` of a false alarm.
    """
    tail = (1 - coverage) / 2
    return int(stats.binom.ppf(tail, n, rate)), int(stats.binom.isf(tail, n, rate))


def within(seconds: float, call: Callable[[], T], what: str = "the call") -> T:
    """``call()``'s value, or a failed test when it runs longer than ``seconds`` (a hang).

    The call runs in a daemon thread so that a hang fails the test instead of stopping the
    suite; its exception, if any, is raised here.
    """
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["value"] = call()
        except BaseException as error:  # handed back to the test's thread
            outcome["error"] = error

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        pytest.fail(f"{what} did not finish within {seconds:g} s: a hang", pytrace=False)
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]  # type: ignore[no-any-return]


def same_numbers(actual: object, expected: object, rel: float = 1e-12, where: str = "") -> None:
    """Assert two JSON-like documents equal, floats to ``rel`` (relative, or absolute near 0).

    A readout merges its pieces from one scan's cells, so its floats may differ from a direct
    per-piece computation in the last bits; anything else (counts, labels, decisions) is exact.
    """
    if isinstance(expected, dict):
        assert isinstance(actual, dict), where
        assert sorted(actual) == sorted(expected), (
            f"{where}: keys {list(actual)} != {list(expected)}"
        )
        for key in expected:
            same_numbers(actual[key], expected[key], rel, f"{where}.{key}")
    elif isinstance(expected, list | tuple):
        assert isinstance(actual, list | tuple), where
        assert len(actual) == len(expected), f"{where}: length {len(actual)} != {len(expected)}"
        for i, (a, e) in enumerate(zip(actual, expected, strict=True)):
            same_numbers(a, e, rel, f"{where}[{i}]")
    elif isinstance(expected, float) and not isinstance(actual, bool):
        assert isinstance(actual, float | int), f"{where}: {actual!r} != {expected!r}"
        if math.isnan(expected):
            assert math.isnan(actual), f"{where}: {actual!r} != nan"
        else:
            assert actual == pytest.approx(expected, rel=rel, abs=rel), f"{where}: {actual!r}"
    else:
        assert actual == expected, f"{where}: {actual!r} != {expected!r}"
