"""Deliberately slow stand-ins for the web server's CPU work, for the server's own tests.

They are module-level functions in a module of their own because the server sends its work to
worker processes by name: a worker imports this module (the tests' folder is on its path).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from ablens.calculator import calculator_plan

if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path

#: A design read at this many looks or more takes `SLOW_SECONDS` of CPU here.
SLOW_LOOKS = 900
SLOW_SECONDS = 60.0
#: With this daily traffic it takes `A_WHILE_SECONDS`, then answers.
A_WHILE_TRAFFIC = "12345"
A_WHILE_SECONDS = 2.5
#: A readout here takes this long before it starts.
SLOW_READOUT_SECONDS = 2.5


def burn(seconds: float) -> None:
    """Hold the CPU (and this process's GIL) for `seconds`, as a heavy calculation does."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        sum(range(1000))


def plan_slowly_at_many_looks(values: Mapping[str, str]) -> Any:
    """The calculator, except that a design read at 900+ looks burns a minute of CPU first.

    Before the sequential planner was made fast, 1,000 looks took 39-90 s; this keeps the
    server's tests independent of the planner's speed. With a daily traffic of 12345 it takes
    2.5 s.
    """
    looks = int(values.get("looks") or 0) if values.get("sequential", "none") != "none" else 0
    if looks >= SLOW_LOOKS:
        burn(SLOW_SECONDS)
    elif values.get("traffic") == A_WHILE_TRAFFIC:
        burn(A_WHILE_SECONDS)
    return calculator_plan(values)


def analyze_slowly(plan: Any, data: Path | None) -> tuple[str, str]:
    """The readout (`ablens.web.readout._run`), `SLOW_READOUT_SECONDS` slower."""
    from ablens.web.readout import _run  # noqa: PLC0415

    burn(SLOW_READOUT_SECONDS)
    return _run(plan, data)


def analyze_for_a_minute(plan: Any, data: Path | None) -> tuple[str, str]:
    """The readout, `SLOW_SECONDS` slower."""
    burn(SLOW_SECONDS)
    return analyze_slowly(plan, data)


def fail_with_a_plan_error() -> None:
    """Raise an error whose class takes a list of messages (it must come back intact)."""
    from ablens.analysis_plan import PlanError  # noqa: PLC0415

    raise PlanError(["plan.yaml:3: metrics: first problem", "plan.yaml:7: alpha: second"])
