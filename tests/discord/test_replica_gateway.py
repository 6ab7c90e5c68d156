"""Discord on several replicas sharing one database: the real ``DiscordRunner`` (discord.py) with production lease
defaults against the Discord stand-in whose gateway opens sessions (HELLO, IDENTIFY → READY). Only the lease holder
holds a gateway session; a standby replica still posts alerts over REST with its logged-in sender; a graceful stop
hands the gateway over within one renew interval; a holder that loses the lease closes its session."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest

from bot.alerts.messages import approach_text
from bot.chat.discord import LEASE_NAME, DiscordRunner
from bot.chat.gateway_lease import LeaseTiming
from bot.chat.service import ChatService
from bot.clock import wall_ms as now_ms
from bot.config import Settings
from bot.storage import leases
from tests.reliability.test_replica_gateway import GatewayRest

CHANNEL = 555_000_000_000_000_009
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
RENEW_S = LeaseTiming().renew_s


@pytest.fixture
async def rest() -> AsyncIterator[GatewayRest]:
    server = GatewayRest()
    await server.start()
    try:
        with server.pointed():
            yield server
    finally:
        await server.close()


def runner(service: ChatService) -> DiscordRunner:
    settings = Settings(source="sim", discord_token="test-token", _env_file=None)
    return DiscordRunner(settings, service)


async def wait_until(predicate: object, timeout_s: float) -> float:
    start = time.monotonic()
    while not predicate():  # type: ignore[operator]
        assert time.monotonic() - start < timeout_s, f"not within {timeout_s} s"
        await asyncio.sleep(0.02)
    return time.monotonic() - start


def alert_text() -> str:
    return approach_text(symbol="BTC/USDT:USDT", window="24h", side="long", low=60_000, high=60_800, usd=193e6,
                         price=60_919, distance_pct=0.15, score=71, reasons=["18% of pending longs"], synthetic=True)


async def test_one_gateway_session_the_standby_sends_alerts_and_takes_over_on_stop(
    rest: GatewayRest, service: ChatService
) -> None:
    first, second = runner(service), runner(service)
    try:
        await first.start()
        await wait_until(lambda: rest.sessions_open == 1, 10)
        await second.start()
        assert await second.wait_logged_in(10)
        assert first.running and not second.running
        message_id = await second.notifier.send(str(CHANNEL), alert_text(), PNG, side="long")  # no gateway
        [posted] = rest.sent(CHANNEL)
        assert message_id.isdigit() and posted.files[0].data == PNG
        await asyncio.sleep(RENEW_S + 1)  # the standby has retried the lease at least once
        assert rest.max_sessions_open == 1 and len(rest.identified) == 1 and not second.running

        await first.stop()  # closes the session, then releases the lease
        took = await wait_until(lambda: len(rest.identified) == 2 and rest.sessions_open == 1, RENEW_S + 3)
        assert took <= RENEW_S + 2 and second.running
        assert rest.max_sessions_open == 1
        assert leases.lease_holder(service.db, LEASE_NAME, now_ms()) == second.lease.holder
    finally:
        await second.stop()
        await first.stop()
    assert rest.sessions_open == 0


async def test_holder_that_loses_the_lease_closes_its_gateway_session(
    rest: GatewayRest, service: ChatService
) -> None:
    holder = runner(service)
    try:
        await holder.start()
        await wait_until(lambda: rest.sessions_open == 1, 10)
        leases.try_acquire(service.db, LEASE_NAME, "another-replica", 20_000, now_ms() + 21_000)
        took = await wait_until(lambda: rest.sessions_open == 0, RENEW_S + 2)
        assert took <= RENEW_S + 1 and not holder.running
        assert await holder.wait_logged_in(1)  # the sender stays logged in: alerts still go out
        await holder.notifier.send(str(CHANNEL), alert_text(), None, side="long")
        assert len(rest.sent(CHANNEL)) == 1
    finally:
        await holder.stop()
