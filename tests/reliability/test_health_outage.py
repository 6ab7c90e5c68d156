"""Defect 7 as a black box: a real ``liqmap run`` process on live (stand-in) exchanges. During a total data outage
``/healthz`` goes 503 within 3 tick intervals, names the exchanges that are down, and the failed ticks are counted;
when the exchanges answer again it goes back to 200."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.ops.test_run_process import free_port
from tests.reliability.faulty_exchange import FaultyExchangeServer
from tests.reliability.shipped import ALL, shipped_env, shipped_settings
from tests.standins.exchange_server import DAY, Tape


def get(port: int, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


@pytest.fixture
async def live_server() -> AsyncIterator[FaultyExchangeServer]:
    """The stand-in, its tape following the wall clock (a real process uses the wall clock)."""
    now = int(time.time() * 1000)
    standin = FaultyExchangeServer(Tape(start_ms=now - 3 * DAY, now_ms=now))
    await standin.start()

    async def follow() -> None:
        while True:
            standin.tape.now_ms = int(time.time() * 1000)
            await asyncio.sleep(0.2)

    task = asyncio.create_task(follow())
    try:
        yield standin
    finally:
        task.cancel()
        await standin.close()


async def wait_for(port: int, proc: subprocess.Popen[str], want: int, deadline_s: float, down: int = 0) -> dict:
    """Poll /healthz until it answers ``want`` naming ``down`` exchanges as down; returns its body."""
    end = time.monotonic() + deadline_s
    last: tuple[int, str] = (0, "")
    while time.monotonic() < end:
        assert proc.poll() is None, "liqmap run exited early (see run.log)"
        try:
            last = await asyncio.to_thread(get, port, "/healthz")
            body = json.loads(last[1])
            if last[0] == want and body.get("last_tick_at") is not None and len(body.get("down", ())) == down:
                return dict(json.loads(last[1]))
        except (urllib.error.URLError, ConnectionError):
            pass
        await asyncio.sleep(0.3)
    raise AssertionError(f"/healthz never answered {want}; last: {last}")


async def test_total_outage_turns_health_503_naming_the_exchanges_and_recovers(
    tmp_path: Path, live_server: FaultyExchangeServer
) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIQMAP_")}
    env.update(shipped_env(shipped_settings(tmp_path, live_server)))
    env.update(LIQMAP_TICK_SECONDS="1", LIQMAP_HEALTH_PORT=str(port))
    log = (tmp_path / "run.log").open("w")  # a file, not a pipe: a full pipe would block the process
    proc = subprocess.Popen([sys.executable, "-m", "bot", "run"], cwd=tmp_path, env=env, text=True,  # noqa: ASYNC220
                            stdout=log, stderr=subprocess.STDOUT)
    try:
        body = await wait_for(port, proc, 200, 60)
        assert body["down"] == []
        for ex in ALL:
            live_server.fail(ex, 503)
        body = await wait_for(port, proc, 503, 60, down=3)  # the failing tick retries for a few seconds first
        assert body["status"] == "stale" and body["down"] == sorted(ALL)
        _, metrics = await asyncio.to_thread(get, port, "/metrics")
        failures = [line for line in metrics.splitlines() if line.startswith("liqmap_tick_failures_total")]
        assert failures and float(failures[0].split()[-1]) >= 1, failures
        live_server.failures.clear()
        body = await wait_for(port, proc, 200, 60)
        assert body["down"] == []
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
    assert proc.returncode == 0, (tmp_path / "run.log").read_text()[-3000:]
