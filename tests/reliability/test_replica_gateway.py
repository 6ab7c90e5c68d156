"""Two replicas (two real ``liqmap run`` processes) on one database share the chat platforms' inbound side: at
every moment only one of them long-polls Telegram and only one holds a Discord gateway session. The Telegram
stand-in answers a second concurrent getUpdates the way Telegram does (the waiting one gets 409 Conflict), and the
Discord stand-in here speaks enough of the gateway protocol (HELLO, IDENTIFY → READY, heartbeat ACK) to count
sessions. SIGKILL of the holder hands both over to the other replica within about 30 s, and commands are answered
before and after, once each. Production defaults throughout (lease ttl, renew interval, poll timeout).

Run as a module, this file is one replica: ``liqmap run`` with discord.py pointed at the Discord stand-in
(``python -m tests.reliability.test_replica_gateway <rest base> <gateway url>``); liqmap has no setting for
Discord's API base, Telegram's comes from ``LIQMAP_TELEGRAM_API_URL``.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import WSMsgType, web

from tests.standins.discord_rest import APP_ID, DiscordRest, bot_user
from tests.standins.telegram_server import BotApiStandin

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "123456789:AAH-replica-test-token"
DISCORD_TOKEN = "MTIzNDU2.replica-test.discord-token"
TAKEOVER_S = 30.0  # ttl 20 s after the dead holder's last renewal + one 5 s renew interval, with slack


class GatewayRest(DiscordRest):
    """The Discord REST stand-in with a gateway that opens sessions: HELLO, IDENTIFY → READY, heartbeat → ACK.

    ``sessions_open`` counts identified websockets that are still open, ``max_sessions_open`` its peak and
    ``identified`` the time (``perf_counter``) of every IDENTIFY."""

    def __init__(self) -> None:
        super().__init__()
        self.sessions_open = 0
        self.max_sessions_open = 0
        self.identified: list[float] = []

    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self._sockets.append(ws)
        await ws.send_str(json.dumps({"op": 10, "d": {"heartbeat_interval": 41_250}, "s": None, "t": None}))
        identified = False
        try:
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    continue
                op = json.loads(msg.data).get("op")
                if op == 1:
                    await ws.send_str(json.dumps({"op": 11, "d": None, "s": None, "t": None}))
                elif op == 2 and not identified:
                    identified = True
                    self.identified.append(time.perf_counter())
                    self.sessions_open += 1
                    self.max_sessions_open = max(self.max_sessions_open, self.sessions_open)
                    ready = {"v": 10, "user": bot_user(), "guilds": [], "session_id": f"s{len(self.identified)}",
                             "resume_gateway_url": self.gateway_url, "shard": [0, 1],
                             "application": {"id": str(APP_ID), "flags": 0}}
                    await ws.send_str(json.dumps({"op": 0, "t": "READY", "s": 1, "d": ready}))
        finally:
            if identified:
                self.sessions_open -= 1
        return ws


class Replica:
    """One ``liqmap run`` process; its stderr goes to a file (``log()``)."""

    def __init__(self, name: str, tmp: Path, db_url: str, tg: BotApiStandin, dc: GatewayRest) -> None:
        self.log_path = tmp / f"{name}.log"
        env = {k: v for k, v in os.environ.items() if not k.startswith("LIQMAP_")}
        env.update(
            PYTHONPATH=str(ROOT),
            LIQMAP_SOURCE="sim",
            LIQMAP_DATA_DIR=str(tmp / name),
            LIQMAP_DATABASE_URL=db_url,
            LIQMAP_HEALTH_PORT="0",
            LIQMAP_TELEGRAM_TOKEN=TOKEN,
            LIQMAP_TELEGRAM_API_URL=tg.base_url,
            LIQMAP_DISCORD_TOKEN=DISCORD_TOKEN,
        )
        (tmp / name).mkdir()
        with self.log_path.open("w") as err:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "tests.reliability.test_replica_gateway", dc.base, dc.gateway_url],
                cwd=tmp / name, env=env, stdout=subprocess.DEVNULL, stderr=err, text=True,
            )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    async def wait_log(self, needle: str, timeout_s: float = 90.0) -> None:
        deadline = time.monotonic() + timeout_s
        while needle not in self.log():
            assert self.proc.poll() is None, f"replica exited early:\n{self.log()[-3000:]}"
            assert time.monotonic() < deadline, f"{needle!r} not logged within {timeout_s} s:\n{self.log()[-3000:]}"
            await asyncio.sleep(0.1)

    async def terminate(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        for _ in range(300):
            if self.proc.poll() is not None:
                break
            await asyncio.sleep(0.1)
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
            return -9
        return int(self.proc.returncode)


@pytest.fixture
async def tg() -> AsyncIterator[BotApiStandin]:
    standin = BotApiStandin(TOKEN)
    await standin.start()
    yield standin
    await standin.close()


@pytest.fixture
async def dc() -> AsyncIterator[GatewayRest]:
    standin = GatewayRest()
    await standin.start()
    yield standin
    await standin.close()


async def until(predicate: object, timeout_s: float, what: str) -> float:
    """Wait (yielding to the stand-ins) until ``predicate()``; returns the seconds it took."""
    start = time.monotonic()
    while not predicate():  # type: ignore[operator]
        assert time.monotonic() - start < timeout_s, f"{what}: not within {timeout_s} s"
        await asyncio.sleep(0.02)
    return time.monotonic() - start


async def answered_once(tg: BotApiStandin, chat_id: int) -> None:
    """A user in ``chat_id`` sends /start: exactly one replica answers it, once."""
    tg.type_text(chat_id, "/start")
    await until(lambda: bool(tg.sent(chat_id)), 20.0, f"/start in chat {chat_id} answered")
    await asyncio.sleep(1.0)
    assert len(tg.sent(chat_id)) == 1, [c.params.get("text", "")[:40] for c in tg.sent(chat_id)]
    assert tg.sent(chat_id)[0].params["text"].startswith("Hi! I'm liqmap")


def polls_since(tg: BotApiStandin, t: float) -> int:
    return sum(1 for c in tg.calls_of("getUpdates") if c.at > t)


@pytest.mark.slow
async def test_one_replica_polls_and_holds_the_gateway_and_hands_over_on_sigkill(
    db_url: str, tmp_path: Path, tg: BotApiStandin, dc: GatewayRest
) -> None:
    a = Replica("a", tmp_path, db_url, tg, dc)
    b: Replica | None = None
    try:
        await until(lambda: bool(tg.calls_of("getUpdates")) and len(dc.identified) == 1, 90.0, "replica a up")
        b = Replica("b", tmp_path, db_url, tg, dc)
        await b.wait_log("Telegram bot @")
        await answered_once(tg, 11)
        await asyncio.sleep(7.0)  # more than one renew interval with both replicas up
        assert tg.poll_conflicts == 0 and tg.max_polls_in_flight == 1
        assert dc.max_sessions_open == 1 and len(dc.identified) == 1

        a.proc.kill()  # SIGKILL: no release, the lease has to expire
        killed = time.perf_counter()
        a.proc.wait()
        tg_took = await until(lambda: polls_since(tg, killed + 0.5) > 0, TAKEOVER_S + 5, "b polls Telegram")
        dc_took = await until(lambda: len(dc.identified) == 2, TAKEOVER_S + 5, "b opens a gateway session")
        assert tg_took <= TAKEOVER_S and tg_took + dc_took <= TAKEOVER_S + 1, (tg_took, dc_took)
        await answered_once(tg, 12)

        assert tg.poll_conflicts == 0 and tg.max_polls_in_flight == 1
        assert [c for c in tg.calls if c.status == 409] == []
        assert dc.max_sessions_open == 1 and len(dc.identified) == 2
        assert await b.terminate() == 0, b.log()[-3000:]
    finally:
        await a.terminate()
        if b is not None:
            await b.terminate()
    for replica in (a, b):
        assert replica is not None
        log = replica.log()
        assert "Conflict" not in log and "terminated by other getUpdates" not in log, log[-3000:]


if __name__ == "__main__":  # one replica: `liqmap run` with discord.py pointed at the Discord stand-in
    import discord
    import yarl
    from discord.gateway import DiscordWebSocket

    from bot.cli import main

    discord.http.Route.BASE = sys.argv[1]
    DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(sys.argv[2])
    raise SystemExit(main(["run"]))
