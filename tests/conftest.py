"""Fixtures shared by the whole test suite."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


def reference_data_dir() -> Path:
    """The shared reference data, ``<repo>/../shared/reference-data``.

    The data sit beside the repository, not inside it. A missing folder fails the calling test:
    a test that cannot check its numbers must not pass silently, nor be skipped.
    """
    path = (REPO_ROOT / ".." / "shared" / "reference-data").resolve()
    if not path.is_dir():
        pytest.fail(
            f"reference data not found at {path}: the tests expect the shared folder "
            f"(holding reference-data/nist-strd/*.dat) beside the repository {REPO_ROOT}, "
            "as ../shared",
            pytrace=False,
        )
    return path


@pytest.fixture(name="reference_data_dir", scope="session")
def reference_data_dir_fixture() -> Path:
    """`reference_data_dir` as a fixture."""
    return reference_data_dir()
