"""Reading the JSON fixtures the R scripts in tests/fixtures/r/ write."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "r"

# The R scripts write non-finite doubles as jsonlite does with na = "string".
_NON_FINITE = {"Inf": math.inf, "-Inf": -math.inf, "NaN": math.nan}


def _decode(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _decode(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_decode(item) for item in value]
    if isinstance(value, str) and value in _NON_FINITE:
        return _NON_FINITE[value]
    return value


def load_r_fixture(name: str) -> Any:
    """The fixture ``name`` (e.g. "fixed_horizon.json"), with "Inf"/"-Inf"/"NaN" as floats."""
    return _decode(json.loads((FIXTURES / name).read_text(encoding="utf-8")))
