"""The container's ``HEALTHCHECK``: ``python -m bot.ops.healthcheck`` exits 0 when ``/healthz`` answers 200.

It reads ``LIQMAP_HEALTH_HOST``/``LIQMAP_HEALTH_PORT`` like the bot (a wildcard bind address is reached on
127.0.0.1). With the health server off (port 0) there is nothing to check and it exits 0.
"""

from __future__ import annotations

import sys
import urllib.error
import urllib.request

from bot.config import load_settings
from bot.errors import LiqmapError

WILDCARDS = {"0.0.0.0", "::", ""}


def health_url() -> str | None:
    """The ``/healthz`` URL of this container's bot, or None when the health server is off."""
    settings = load_settings()
    if settings.health_port == 0:
        return None
    host = "127.0.0.1" if settings.health_host in WILDCARDS else settings.health_host
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{settings.health_port}/healthz"


def main() -> int:
    """0 healthy (or health server off), 1 unhealthy or unreachable; prints one line."""
    try:
        url = health_url()
    except LiqmapError as exc:
        print(f"unhealthy: {exc}")
        return 1
    if url is None:
        print("health server off (LIQMAP_HEALTH_PORT=0): nothing to check")
        return 0
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            print(f"healthy: {response.status}")
            return 0
    except urllib.error.HTTPError as exc:
        print(f"unhealthy: {exc.code} {exc.read(500).decode(errors='replace')}")
    except OSError as exc:
        print(f"unhealthy: {url} unreachable: {exc}")
    return 1


if __name__ == "__main__":
    sys.exit(main())
