"""Shared fixtures: the real-market datasets beside the repo (skipped when absent)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import settings

# Property tests and fuzzers are derandomized by default, so `make test` is repeatable and CI never fails on a case
# that a different random draw happened to find. Explore new cases with HYPOTHESIS_PROFILE=explore (random, more
# examples); fix what it finds and the default run keeps checking the rest.
settings.register_profile("repeatable", derandomize=True, print_blob=True)
settings.register_profile("explore", max_examples=1000, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "repeatable"))

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
