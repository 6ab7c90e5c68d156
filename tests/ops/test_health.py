"""/healthz and /metrics over a real socket, fed by a real AlertJob tick (SQLite + sim source), the dispatcher and a
chat command with a real render."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator

import aiohttp
import pytest

from bot.alerts.dispatcher import Dispatcher
from bot.alerts.job import AlertJob
from bot.chat.reply import ChatRef
from bot.chat.service import ChatService
from bot.config import Settings
from bot.engine import MapEngine
from bot.errors import LiqmapError
from bot.market.source import SimSource
from bot.ops.health import HealthServer, start_health_server
from bot.ops.metrics import Metrics, render_prometheus
from bot.render import RenderCache
from bot.storage.db import Database
from tests.alerts.helpers import EXCHANGES, NOW, Clock, RecordingNotifier, add_sub, settings
from tests.ops.test_metrics import scrape, value

TICK_MS = 60_000


class Stack:
    """The bot's moving parts on one database, sharing one ``Metrics`` and one controllable clock."""

    def __init__(self, db: Database) -> None:
        self.clock = Clock()
        self.metrics = Metrics(self.clock)
        self.db = db
        engine = MapEngine(SimSource(EXCHANGES, seed=7))
        self.job = AlertJob(db, engine, settings(), self.clock, holder="job-ops", metrics=self.metrics)
        self.notifier = RecordingNotifier()
        self.dispatcher = Dispatcher(db, {"telegram": self.notifier}, "d-ops", clock=self.clock, metrics=self.metrics)
        self.service = ChatService(
            db,
            engine,
            settings(),
            render_cache=RenderCache(metrics=self.metrics),
            job=self.job,
            clock=self.clock,
            metrics=self.metrics,
        )
        self.server = HealthServer(self.metrics, db, tick_seconds=TICK_MS / 1000)


@pytest.fixture
async def stack(sqlite_url: str) -> AsyncIterator[Stack]:
    db = Database(sqlite_url)
    st = Stack(db)
    await st.server.start()
    try:
        yield st
    finally:
        await st.server.stop()
        db.dispose()


async def get(server: HealthServer, path: str) -> tuple[int, str, str]:
    async with aiohttp.ClientSession() as http, http.get(f"http://127.0.0.1:{server.port}{path}") as r:
        return r.status, r.headers["Content-Type"], await r.text()


async def get_json(server: HealthServer, path: str = "/healthz") -> tuple[int, dict]:
    async with aiohttp.ClientSession() as http, http.get(f"http://127.0.0.1:{server.port}{path}") as r:
        return r.status, await r.json()


async def test_healthz_and_metrics_after_a_real_tick_send_and_command(stack: Stack) -> None:
    add_sub(stack.db)  # the sim map has a long cluster 0.15% below price: the tick queues one alert
    report = await stack.job.tick()
    assert report.ran and report.alerts_queued == 1
    status, body = await get_json(stack.server)
    assert status == 200 and body["status"] == "ok"
    assert body["last_tick_at"] == NOW
    assert body["outbox"] == {"queued": 1, "sending": 0, "failed": 0}
    assert set(body["exchanges"]) == set(EXCHANGES)
    assert all(isinstance(age, float) and 0 <= age < 3 * 3600 for age in body["exchanges"].values())

    assert (await stack.dispatcher.run_once()).sent == 1 and len(stack.notifier.received) == 1
    chat = ChatRef("telegram", "100")
    assert (await stack.service.liqmap(chat, "BTC", "24h")).png is not None
    assert not (await stack.service.alert_list(chat)).error
    assert (await stack.service.alert_remove(chat, "nope")).error  # a user mistake still counts as a command

    status, ctype, text = await get(stack.server, "/metrics")
    assert status == 200 and ctype.startswith("text/plain") and "version=0.0.4" in ctype
    samples, types = scrape(text)
    assert all(name.startswith("liqmap_") for name, _ in samples)
    assert value(samples, "liqmap_last_tick_success_timestamp_seconds") == NOW / 1000
    assert value(samples, "liqmap_ticks_total") == 1 and value(samples, "liqmap_tick_failures_total") == 0
    assert types["liqmap_tick_duration_seconds"] == "histogram"
    assert value(samples, "liqmap_tick_duration_seconds_count") == 1
    assert value(samples, "liqmap_tick_duration_seconds_bucket", le="+Inf") == 1
    for ex in EXCHANGES:
        assert value(samples, "liqmap_exchange_data_age_seconds", exchange=ex) == body["exchanges"][ex]
        assert value(samples, "liqmap_exchange_up", exchange=ex) == 1
    assert value(samples, "liqmap_outbox_alerts", state="sent") == 1
    assert value(samples, "liqmap_outbox_alerts", state="queued") == 0
    assert value(samples, "liqmap_alerts_sent_total") == 1 and value(samples, "liqmap_alerts_failed_total") == 0
    assert value(samples, "liqmap_commands_total", command="liqmap", platform="telegram") == 1
    assert value(samples, "liqmap_commands_total", command="alert list", platform="telegram") == 1
    assert value(samples, "liqmap_commands_total", command="alert remove", platform="telegram") == 1
    assert value(samples, "liqmap_render_duration_seconds_count", kind="heatmap") == 1
    assert value(samples, "liqmap_render_duration_seconds_sum", kind="heatmap") > 0
    assert value(samples, "liqmap_database_up") == 1


async def test_failed_sends_are_counted(stack: Stack) -> None:
    add_sub(stack.db)
    await stack.job.tick()
    stack.notifier.fail = ["blocked"]
    report = await stack.dispatcher.run_once()
    assert report.failed == 1
    samples, _ = scrape(render_prometheus(stack.metrics, {"failed": 1}))
    assert value(samples, "liqmap_alerts_failed_total") == 1 and value(samples, "liqmap_alerts_sent_total") == 0
    assert (await get_json(stack.server))[1]["outbox"]["failed"] == 1


async def test_healthz_turns_503_when_the_last_tick_is_older_than_3_intervals(stack: Stack) -> None:
    await stack.job.tick()
    stack.clock.advance(3 * TICK_MS)
    assert (await get_json(stack.server))[0] == 200  # exactly 3 intervals: still fine
    stack.clock.advance(1)
    status, body = await get_json(stack.server)
    assert status == 503 and body["status"] == "stale" and body["last_tick_at"] == NOW
    assert body["last_tick_age_s"] == pytest.approx(3 * TICK_MS / 1000 + 0.001)
    await stack.job.tick()  # the next tick heals it
    status, body = await get_json(stack.server)
    assert status == 200 and body["last_tick_at"] == stack.clock.now


async def test_before_the_first_tick_it_is_healthy_only_for_3_intervals(stack: Stack) -> None:
    status, body = await get_json(stack.server)
    assert status == 200 and body["last_tick_at"] is None and body["exchanges"] == {}
    stack.clock.advance(3 * TICK_MS + 1)
    assert (await get_json(stack.server))[0] == 503


async def test_a_tick_that_raises_is_counted_and_does_not_refresh_health(sqlite_url: str) -> None:
    db = Database(sqlite_url)
    st = Stack(db)
    db.dispose()
    st.job.db = Database("sqlite:////nonexistent-dir/liqmap.db")  # every query fails
    with pytest.raises(Exception):  # noqa: B017 - whatever SQLAlchemy raises
        await st.job.tick()
    assert st.metrics.tick_failures == 1 and st.metrics.last_tick_ok_ms is None


async def test_unreadable_database_is_503(empty_sqlite_url: str) -> None:
    db = Database(empty_sqlite_url)  # no migrations: the outbox table does not exist
    server = HealthServer(Metrics(Clock()), db, tick_seconds=60)
    await server.start()
    try:
        status, body = await get_json(server)
        assert status == 503 and body["status"] == "db_error" and body["outbox"] is None
        _, _, text = await get(server, "/metrics")
        samples, _ = scrape(text)
        assert value(samples, "liqmap_database_up") == 0
    finally:
        await server.stop()
        db.dispose()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_start_health_server_uses_the_settings_and_port_0_is_off(sqlite_url: str) -> None:
    db = Database(sqlite_url)
    try:
        off = Settings(health_port=0, _env_file=None)  # type: ignore[call-arg]
        assert await start_health_server(off, Metrics(), db) is None
        port = free_port()
        on = Settings(health_port=port, health_host="127.0.0.1", _env_file=None)  # type: ignore[call-arg]
        server = await start_health_server(on, Metrics(), db)
        assert server is not None and server.port == port
        try:
            assert (await get_json(server))[0] == 200
            with pytest.raises(LiqmapError, match=f"cannot listen on 127.0.0.1:{port}: .*LIQMAP_HEALTH_PORT"):
                await start_health_server(on, Metrics(), db)  # the port is taken: one clear line
        finally:
            await server.stop()
    finally:
        db.dispose()


async def test_container_healthcheck_command_follows_healthz(
    stack: Stack, monkeypatch: pytest.MonkeyPatch, tmp_path: object, capsys: pytest.CaptureFixture[str]
) -> None:
    from bot.ops import healthcheck

    monkeypatch.chdir(tmp_path)  # type: ignore[arg-type]  # no .env
    monkeypatch.setenv("LIQMAP_HEALTH_HOST", "0.0.0.0")  # a wildcard bind is checked on 127.0.0.1
    monkeypatch.setenv("LIQMAP_HEALTH_PORT", str(stack.server.port))
    await stack.job.tick()
    assert await asyncio.to_thread(healthcheck.main) == 0
    stack.clock.advance(3 * TICK_MS + 1)
    assert await asyncio.to_thread(healthcheck.main) == 1
    assert '"status": "stale"' in capsys.readouterr().out
    monkeypatch.setenv("LIQMAP_HEALTH_PORT", str(free_port()))
    assert await asyncio.to_thread(healthcheck.main) == 1  # nothing listening
    monkeypatch.setenv("LIQMAP_HEALTH_PORT", "0")
    assert await asyncio.to_thread(healthcheck.main) == 0  # server off: nothing to check
