"""A liqmap-like worker process for the SIGKILL-mid-batch test: one job tick, then dispatch until the outbox is done.

``python -m tests.reliability.batch_worker <db_url> <outfile> [--offset-ms MS] [--lease-ms MS] [--batch N]``

The notifier appends ``<chat id> <alert id> <pid>`` to ``outfile`` per delivered message (O_APPEND), then takes a
few ms (so a SIGKILL from the test lands anywhere: before a send, between a send and its ``mark_sent``, or after).
The clock is a fixed start + real elapsed time + ``--offset-ms`` (a restart after the dead worker's claims expired).
"""

from __future__ import annotations

import argparse
import asyncio
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

NOW = 1_780_000_000_000


class LineNotifier:
    """One line per delivered message (the "platform")."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.n = 0

    async def send(
        self, chat_external_id: str, text: str, png: bytes | None, *, side: str | None = None
    ) -> str:
        self.n += 1
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, f"{chat_external_id} {os.getpid()}\n".encode())
        finally:
            os.close(fd)
        await asyncio.sleep(0.003)
        return f"{os.getpid()}-{self.n}"


async def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("db_url")
    p.add_argument("outfile", type=Path)
    p.add_argument("--offset-ms", type=int, default=0)
    p.add_argument("--lease-ms", type=int, default=30_000)
    p.add_argument("--batch", type=int, default=5)
    args = p.parse_args()
    start = time.monotonic()

    def clock() -> int:
        return NOW + args.offset_ms + int((time.monotonic() - start) * 1000)

    db = Database(args.db_url)
    settings = Settings(tick_seconds=60, source="sim", _env_file=None)
    job = AlertJob(db, MapEngine(SimSource(("binanceusdm", "bybit", "okx"), seed=7)), settings, clock,
                   holder=f"job-{os.getpid()}")
    dispatcher = Dispatcher(db, {"telegram": LineNotifier(args.outfile)}, f"w-{os.getpid()}", clock=clock,
                            batch=args.batch, lease_ms=args.lease_ms)
    await job.tick()
    while time.monotonic() - start < 60:
        if (await dispatcher.run_once()).claimed:
            continue
        with db.session() as s:
            c = outbox.counts(s)
        if c["queued"] == 0 and c["sending"] == 0:
            break
        await asyncio.sleep(0.02)
    db.dispose()


if __name__ == "__main__":
    asyncio.run(main())
