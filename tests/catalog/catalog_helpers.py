"""Small catalogs written to a temporary folder, and the example catalog's location."""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import pytest

from ablens.catalog import CatalogError, load_catalog

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "catalog"

SOURCES = """\
sources:
  exposures:
    kind: exposure
    table: exposures
    experiment: experiment_id
    unit: user_id
    arm: variant
    time: exposed_at
  orders:
    kind: facts
    table: orders
    unit: user_id
    time: ordered_at
    columns: [revenue, status]
"""


def write(folder: Path, files: dict[str, str]) -> Path:
    """Write ``files`` (relative name -> YAML text, dedented) under ``folder``."""
    for name, text in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
    return folder


def copy_example(folder: Path) -> Path:
    """A copy of the example catalog (outside the repository's git checkout)."""
    target = folder / "catalog"
    shutil.copytree(EXAMPLE, target)
    return target


def errors(folder: Path) -> list[str]:
    """The messages `load_catalog` raises for ``folder`` (fails when it loads)."""
    with pytest.raises(CatalogError) as caught:
        load_catalog(folder)
    return list(caught.value.messages)


def metrics_errors(tmp_path: Path, metrics: str, sources: str = SOURCES) -> list[str]:
    """The messages for a catalog of the standard sources plus ``metrics`` (metrics.yaml)."""
    write(tmp_path, {"sources.yaml": sources, "metrics.yaml": metrics})
    return errors(tmp_path)
