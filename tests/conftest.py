"""Shared fixtures: the real-market datasets beside the repo (skipped when absent)."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = (REPO_ROOT / ".." / "shared" / "data").resolve()


def shared_dataset(name: str) -> Path:
    """Path of one dataset under ../shared/data, skipping the test (with the reason) when it is absent."""
    path = SHARED_DATA / name
    if not path.is_dir():
        pytest.skip(f"shared dataset {name!r} not found at {path}")
    return path


@pytest.fixture
def shared_data() -> Path:
    """The ../shared/data directory, or a skip when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared data not found at {SHARED_DATA}")
    return SHARED_DATA
