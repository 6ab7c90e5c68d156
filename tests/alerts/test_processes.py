"""Two real worker processes on one PostgreSQL database send every alert exactly once; a SIGKILLed worker's alert
is sent exactly once after restart (SQLite for the crash case too)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from bot.storage import outbox
from bot.storage.db import Database
from tests.alerts.helpers import add_sub

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def spawn(db_url: str, out: Path, *extra: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.alerts.worker_proc", db_url, str(out), *extra],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def finish(proc: subprocess.Popen[bytes]) -> None:
    _, err = proc.communicate(timeout=90)
    assert proc.returncode == 0, err.decode()[-2000:]


@pytest.mark.postgres
def test_two_processes_send_every_alert_exactly_once(pg_url: str, tmp_path: Path) -> None:
    db = Database(pg_url)
    try:
        for i in range(40):
            add_sub(db, str(1000 + i))
    finally:
        db.dispose()
    out, barrier = tmp_path / "sent.txt", tmp_path / "barrier"
    procs = [spawn(pg_url, out, "--expect", "40", "--barrier", str(barrier)) for _ in range(2)]
    deadline = time.monotonic() + 60  # both set up (imports, database) before either starts: a fair race
    while len(list(tmp_path.glob("barrier.ready.*"))) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    (tmp_path / "barrier.go").write_text("")
    for p in procs:
        finish(p)
    lines = out.read_text().splitlines()
    chats = Counter(line.split()[1] for line in lines)
    assert len(lines) == 40 and set(chats.values()) == {1}
    db = Database(pg_url)
    try:
        with db.session() as s:
            assert outbox.counts(s) == {"queued": 0, "sending": 0, "sent": 40, "failed": 0}
            senders = {a.claimed_by for a in outbox.list_alerts(s, state="sent")}
    finally:
        db.dispose()
    assert len(senders) == 2, senders  # both workers delivered part of the batch, and no alert twice


def test_killed_before_send_is_sent_once_after_restart(db_url: str, tmp_path: Path) -> None:
    db = Database(db_url)
    try:
        add_sub(db, "555")
    finally:
        db.dispose()
    out, block = tmp_path / "sent.txt", tmp_path / "block"
    block.mkdir()
    victim = spawn(db_url, out, "--block", str(block), "--lease-ms", "30000")
    deadline = time.monotonic() + 60
    while not (block / "entered").exists():
        assert victim.poll() is None, victim.communicate()[1].decode()[-2000:]
        assert time.monotonic() < deadline, "the worker never reached send"
        time.sleep(0.02)
    os.kill(victim.pid, signal.SIGKILL)
    victim.wait(timeout=10)
    db = Database(db_url)
    try:
        with db.session() as s:
            [a] = outbox.list_alerts(s)
        assert a.state == "sending" and not out.exists()  # enqueued and claimed, never sent
    finally:
        db.dispose()
    # the restarted worker runs after the dead one's claim expired (its clock is 31 s later)
    finish(spawn(db_url, out, "--offset-ms", "31000"))
    lines = out.read_text().splitlines()
    assert len(lines) == 1 and lines[0].split()[1] == "555"
    db = Database(db_url)
    try:
        with db.session() as s:
            done = outbox.get_alert(s, a.id)
            assert outbox.counts(s)["sent"] == 1
    finally:
        db.dispose()
    assert done is not None and done.state == "sent" and done.attempts == 2
