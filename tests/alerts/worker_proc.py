"""A small liqmap-like worker process for the multi-process tests: job ticks + dispatcher on one database.

``python -m tests.alerts.worker_proc <db_url> <outfile> [--now MS] [--offset-ms MS] [--lease-ms MS] [--block DIR]``

Its clock is ``--now`` + the real time elapsed since start + ``--offset-ms``. The notifier is a stand-in platform
that appends ``<alert text hash> <chat id>`` lines to ``outfile``. With ``--block DIR`` the notifier, on its first
send, creates ``DIR/entered`` and then blocks forever (the test SIGKILLs the process there).
It exits once the outbox has nothing queued or in flight (and ``--expect N`` alerts are done).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import time
from pathlib import Path

from bot.alerts.dispatcher import Dispatcher
from bot.alerts.job import AlertJob
from bot.config import Settings
from bot.engine import MapEngine
from bot.market.source import SimSource
from bot.storage import outbox
from bot.storage.db import Database


class FileNotifier:
    """Appends one line per delivered message (O_APPEND: concurrent writers never interleave a line)."""

    def __init__(self, path: Path, block: Path | None) -> None:
        self.path = path
        self.block = block
        self.n = 0

    async def send(
        self, chat_external_id: str, text: str, png: bytes | None, *, side: str | None = None
    ) -> str:
        if self.block is not None:
            (self.block / "entered").write_text(str(os.getpid()))
            await asyncio.Event().wait()  # never set: blocks until the test kills the process
        self.n += 1
        digest = hashlib.sha1(text.encode()).hexdigest()[:12]
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, f"{digest} {chat_external_id} {os.getpid()}\n".encode())
        finally:
            os.close(fd)
        await asyncio.sleep(0.05)  # a chat API's round trip: the other worker claims its share meanwhile
        return f"{os.getpid()}-{self.n}"


def wait_at_barrier(barrier: Path, timeout_s: float) -> None:
    """Say this worker is ready (``BARRIER.ready.<pid>``), then wait for ``BARRIER.go`` (at most ``timeout_s``)."""
    Path(f"{barrier}.ready.{os.getpid()}").write_text("")
    deadline = time.monotonic() + timeout_s
    while not Path(f"{barrier}.go").exists() and time.monotonic() < deadline:
        time.sleep(0.01)


async def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("db_url")
    p.add_argument("outfile", type=Path)
    p.add_argument("--now", type=int, default=1_780_000_000_000)
    p.add_argument("--offset-ms", type=int, default=0)
    p.add_argument("--lease-ms", type=int, default=120_000)
    p.add_argument("--block", type=Path, default=None)
    p.add_argument("--timeout", type=float, default=60.0)
    p.add_argument("--expect", type=int, default=0, help="run until this many alerts are sent or failed")
    p.add_argument("--barrier", type=Path, default=None,
                   help="once set up, create BARRIER.ready.<pid>, then wait for BARRIER.go before working")
    args = p.parse_args()
    start = time.monotonic()

    def clock() -> int:
        return args.now + args.offset_ms + int((time.monotonic() - start) * 1000)

    db = Database(args.db_url)
    settings = Settings(tick_seconds=60, source="sim", _env_file=None)  # type: ignore[call-arg]
    job = AlertJob(
        db, MapEngine(SimSource(("binanceusdm", "bybit", "okx"), seed=7)), settings, clock, holder=f"job-{os.getpid()}"
    )
    notifier = FileNotifier(args.outfile, args.block)
    dispatcher = Dispatcher(
        db, {"telegram": notifier}, f"w-{os.getpid()}", clock=clock, batch=3, lease_ms=args.lease_ms
    )
    await job.tick()  # both workers tick: one holds the job lease and queues the alerts, the other's tick adds none
    if args.barrier is not None:  # dispatch together with the other workers, whatever their set-up and tick times
        await asyncio.to_thread(wait_at_barrier, args.barrier, args.timeout)
    while time.monotonic() - start < args.timeout:
        report = await dispatcher.run_once()
        if report.claimed:
            continue
        with db.session() as s:
            c = outbox.counts(s)
        if c["queued"] == 0 and c["sending"] == 0 and c["sent"] + c["failed"] >= args.expect:
            break
        await asyncio.sleep(0.02)
    db.dispose()


if __name__ == "__main__":
    asyncio.run(main())
