"""A worker SIGKILLed in the middle of a batch of many alerts, twice, then restarted: every alert is delivered, none
is lost, and a second delivery happens only in the documented window (the one send in flight whose ``mark_sent``
never committed: at most one per kill, and that alert shows a second attempt). ``tests/alerts/test_processes.py``
covers the single-alert kill and two concurrent workers."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from bot.storage.db import Database
from tests.alerts.helpers import NOW
from tests.reliability.helpers import alerts, subscribe

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow
SUBS = 60
LEASE_MS = 30_000


def spawn(db_url: str, out: Path, offset_ms: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.reliability.batch_worker", db_url, str(out), "--offset-ms", str(offset_ms),
         "--lease-ms", str(LEASE_MS)],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )


def lines(out: Path) -> list[str]:
    return out.read_text().splitlines() if out.exists() else []


def kill_after(proc: subprocess.Popen[bytes], out: Path, n_lines: int) -> None:
    """SIGKILL ``proc`` as soon as ``out`` holds ``n_lines`` deliveries (wherever it is at that moment)."""
    deadline = time.monotonic() + 60
    while len(lines(out)) < n_lines:
        assert proc.poll() is None, proc.communicate()[1].decode()[-2000:]
        assert time.monotonic() < deadline, "the worker never got that far"
        time.sleep(0.002)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)


def test_sigkill_in_the_middle_of_a_batch_loses_nothing(db_url: str, tmp_path: Path) -> None:
    db = Database(db_url)
    try:
        subscribe(db, SUBS, at_ms=NOW, cooldown_s=3600)
    finally:
        db.dispose()
    out = tmp_path / "sent.txt"
    kill_after(spawn(db_url, out, 0), out, 15)
    kill_after(spawn(db_url, out, LEASE_MS + 1_000), out, 35)  # restarted once the first one's claims expired
    last = spawn(db_url, out, 2 * (LEASE_MS + 1_000))
    _, err = last.communicate(timeout=90)
    assert last.returncode == 0, err.decode()[-2000:]
    db = Database(db_url)
    try:
        rows = alerts(db)
    finally:
        db.dispose()
    assert len(rows) == SUBS and all(a.state == "sent" for a in rows), Counter(a.state for a in rows)
    delivered = Counter(line.split()[0] for line in lines(out))
    assert set(delivered) == {str(1000 + i) for i in range(SUBS)}  # nothing lost
    twice = [chat for chat, n in delivered.items() if n > 1]
    assert max(delivered.values()) <= 2 and len(twice) <= 2, twice  # at most the one in-flight send per kill
    attempts = {str(1000 + i): a.attempts for i, a in enumerate(sorted(rows, key=lambda a: a.subscription_id or 0))}
    assert all(attempts[chat] >= 2 for chat in twice)
