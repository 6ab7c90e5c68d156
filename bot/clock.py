"""The one clock: every part that asks "what time is it?" gets a ``Clock`` passed down (UTC milliseconds).

``wall_ms`` is the production clock. Tests and replays pass another callable with the same shape.
"""

from __future__ import annotations

import time
from collections.abc import Callable

Clock = Callable[[], int]


def wall_ms() -> int:
    """Current UTC time in milliseconds."""
    return int(time.time() * 1000)
