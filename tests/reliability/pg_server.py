"""Restart the local PostgreSQL cluster with ``pg_ctlcluster`` (Debian's wrapper), and always leave it running.

``restart_reason()`` says why a restart test cannot run here (None when it can): no ``pg_ctlcluster``, no cluster
in ``/etc/postgresql``, or the test server unreachable. ``ensure_running()`` starts the cluster when needed and
waits for ``pg_isready``: call it in ``finally`` (other tests and CI share this server).
"""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

from sqlalchemy import make_url

from tests.conftest_db import PG_BASE_URL, pg_unreachable_reason

CLUSTER = "main"


def version() -> str | None:
    """The installed cluster version (the highest one under /etc/postgresql), or None."""
    root = Path("/etc/postgresql")
    found = sorted((p.name for p in root.iterdir() if (p / CLUSTER).is_dir()), key=float) if root.is_dir() else []
    return found[-1] if found else None


def restart_reason() -> str | None:
    """None when this host can restart the test PostgreSQL, else a one-line reason."""
    if shutil.which("pg_ctlcluster") is None:
        return "pg_ctlcluster is not installed (Debian/Ubuntu postgresql-common)"
    if version() is None:
        return f"no PostgreSQL cluster '{CLUSTER}' under /etc/postgresql"
    url = make_url(PG_BASE_URL)
    if url.host not in ("127.0.0.1", "localhost", None):
        return f"the test PostgreSQL at {url.host} is not this host's cluster"
    return pg_unreachable_reason()


def ctl(action: str) -> subprocess.CompletedProcess[str]:
    """``pg_ctlcluster --skip-systemctl-redirect <version> main <action>``."""
    return subprocess.run(
        ["pg_ctlcluster", "--skip-systemctl-redirect", str(version()), CLUSTER, action],
        capture_output=True, text=True, timeout=60, check=False,
    )


def ready() -> bool:
    """``pg_isready`` on the test server's host and port."""
    url = make_url(PG_BASE_URL)
    args = ["pg_isready", "-q", "-h", url.host or "127.0.0.1", "-p", str(url.port or 5432)]
    return subprocess.run(args, check=False, timeout=10).returncode == 0


def wait_ready(timeout_s: float = 60.0) -> bool:
    """Poll ``pg_isready`` until the server accepts connections (True) or ``timeout_s`` passed (False)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if ready():
            return True
        time.sleep(0.1)
    return False


def ensure_running() -> None:
    """Start the cluster if it is not accepting connections, then wait for it (raises if it never comes up)."""
    if ready():
        return
    ctl("start")
    if not wait_ready():
        raise RuntimeError(f"PostgreSQL {version()}/{CLUSTER} did not come back: run pg_ctlcluster ... start")
