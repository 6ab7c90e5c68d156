"""Fixtures for the renderer tests: seeded synthetic maps (built once per session; LiqMap is immutable)."""

from __future__ import annotations

import pytest

from bot.model.types import LiqMap
from tests.render.synthetic import make_map


@pytest.fixture(scope="session")
def liqmap() -> LiqMap:
    """The standard 7d synthetic map (168 x 400, 3 clusters per side)."""
    return make_map()
