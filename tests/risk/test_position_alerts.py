"""Position alerts through the real periodic job (``AlertJob``, production cooldown 30m and hysteresis) on a
recorded-format dataset whose price we script: fire once near the liquidation price, not again while disarmed or
within the cooldown, re-arm after moving away; and the clusters-between target on the sim market."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from bot.alerts.job import AlertJob
from bot.alerts.position import LIQ_TARGET, evaluate_positions, sub_liq_price
from bot.chat.parse import DEFAULT_COOLDOWN_S
from bot.chat.reply import ChatRef
from bot.chat.service import ChatService
from bot.engine import MapEngine
from bot.market.replay_source import ReplaySource
from bot.market.source import SimSource
from bot.model.risk import Position, liq_price
from bot.render import RenderCache
from bot.storage import chats, outbox, subscriptions
from bot.storage.db import Database
from bot.storage.records import SubscriptionRec
from bot.storage.subscriptions import PositionFields
from tests.alerts.helpers import EXCHANGES, NEAREST, NOW, Clock, settings

TF = 300_000
START = NOW - 40 * 3_600_000
FAR, NEAR = 60_000.0, 58_000.0
# Long 60,000 20x $10k → liquidation 57,228.9; 2% proximity fires at or below ~58,397, re-arms above ~59,613.
ENTRY, LEV, SIZE, PROX = 60_000.0, 20.0, 10_000.0, 2.0


def _dataset(root: Path, near_closes: set[int]) -> Path:
    """5m BTCUSDT candles at FAR, except those closing at ``near_closes`` (ms) at NEAR."""
    root.mkdir()
    (root / "meta.json").write_text(json.dumps({"exchange": "binanceusdm", "symbol": "BTC/USDT:USDT",
                                                "timeframe": "5m", "contract": "linear"}))
    rows = ["timestamp,open,high,low,close,volume,taker_buy_volume"]
    t = START
    while t < NOW + 3 * 3_600_000:
        p = NEAR if t + TF in near_closes else FAR
        rows.append(f"{t},{p},{p},{p},{p},1,")
        t += TF
    (root / "ohlcv.csv").write_text("\n".join(rows) + "\n")
    return root


def _add_position(db: Database, **kw: object) -> SubscriptionRec:
    with db.session() as s:
        chat = chats.upsert_chat(s, "telegram", "700", "private", "t", at_ms=NOW)
        return subscriptions.add_subscription(
            s, chat.id, symbol="BTC/USDT:USDT", window="24h", proximity_pct=PROX, sides="long",
            cooldown_s=DEFAULT_COOLDOWN_S, at_ms=NOW,
            position=PositionFields(ENTRY, LEV, SIZE, "binanceusdm"), **kw)  # type: ignore[arg-type]


def _alerts(db: Database) -> list[tuple[str, str, str]]:
    with db.session() as s:
        return [(a.cluster_id, a.dedupe_key, a.text) for a in reversed(outbox.list_alerts(s))]


async def test_job_fires_near_the_liquidation_price_once_then_cooldown_and_rearm(db: Database,
                                                                                 tmp_path: Path) -> None:
    a = NOW  # tick times: far, near, near, far (re-arm), near within cooldown, near after cooldown
    ticks = [a, a + TF, a + 2 * TF, a + 3 * TF, a + 4 * TF, a + 7 * TF]
    near = {a + TF, a + 2 * TF, a + 4 * TF, a + 5 * TF, a + 6 * TF, a + 7 * TF}
    source = ReplaySource(_dataset(tmp_path / "d", near))
    clock = Clock(a)
    job = AlertJob(db, MapEngine(source, clock=clock), settings(), clock, holder="pos-test")
    sub = _add_position(db)
    assert sub.kind == "position" and sub_liq_price(sub) == pytest.approx(liq_price(Position(1, ENTRY, LEV, SIZE)))
    queued = []
    for t in ticks:
        clock.now = t
        report = await job.tick()
        key = next(k for k in report.keys if k.symbol == "BTC/USDT:USDT" and k.window == "24h")
        assert key.fresh, key.error
        queued.append(key.alerts_queued)
    assert queued == [0, 1, 0, 0, 0, 1]
    got = _alerts(db)
    assert [c for c, _, _ in got] == [LIQ_TARGET, LIQ_TARGET]
    assert got[0][1] == f"{sub.id}:{LIQ_TARGET}:approach:0" and got[1][1] == f"{sub.id}:{LIQ_TARGET}:approach:1"
    assert "from your liquidation price 57,228.9" in got[0][2] and "binanceusdm, isolated" in got[0][2]


async def test_zone_evaluation_ignores_position_rows(db: Database, tmp_path: Path) -> None:
    sub = _add_position(db)
    with db.session() as s:
        assert subscriptions.subscriptions_for(s, "BTC/USDT:USDT", "24h") == []
        assert [x.id for x in subscriptions.subscriptions_for(s, "BTC/USDT:USDT", "24h", kind="position")] == [sub.id]
        assert subscriptions.active_keys(s) == [("BTC/USDT:USDT", "24h")]


async def test_a_cluster_between_price_and_the_level_alerts() -> None:
    m = (await MapEngine(SimSource(EXCHANGES, seed=7, now_ms=NOW)).compute("BTC/USDT:USDT", "24h")).map
    nearest = max((c for c in m.clusters if c.side == "long"), key=lambda c: c.distance_pct)
    sub = SubscriptionRec(id=1, chat_id=1, symbol=m.symbol, window="24h", proximity_pct=1.0, min_usd=0.0,
                          min_share=0.0, sides="long", cooldown_s=1800, enabled=True, created_at=NOW, updated_at=NOW,
                          kind="position", entry_price=m.price, leverage=10.0, size_usd=10_000.0,
                          exchange="binanceusdm")
    assert abs(nearest.distance_pct) <= 1.0 < 9.0  # the level (10x: ~9.6% away) is far, the cluster near
    ev = evaluate_positions(m, [sub], {}, NOW)
    [alert] = ev.alerts
    assert alert.cluster_id == nearest.id and alert.dedupe_key == f"1:{nearest.id}:approach:0"
    assert "between price and your liquidation price" in alert.text
    again = evaluate_positions(m, [sub], {(s.subscription_id, s.cluster_id): s for s in ev.states}, NOW + 60_000)
    assert again.alerts == []  # disarmed (and in its cooldown)


async def test_position_alert_added_in_chat_fires_from_the_job_with_the_marked_image(db: Database) -> None:
    clock = Clock(NOW)
    engine = MapEngine(SimSource(EXCHANGES, seed=7, now_ms=NOW), clock=clock)
    service = ChatService(db, engine, settings(), render_cache=RenderCache(), clock=clock)
    price = (await engine.compute("BTC/USDT:USDT", "24h")).map.price
    added = await service.alert_position(ChatRef("telegram", "900"), f"long {price:.0f} 10x 1%")
    assert not added.error and added.text.startswith("Position alert #"), added.text
    job = AlertJob(db, engine, settings(), clock, holder="pos-chat")
    assert (await job.tick()).alerts_queued == 1  # the long cluster 0.15% below price sits before the level
    with db.session() as s:
        [alert] = outbox.list_alerts(s)
    assert alert.cluster_id == NEAREST and "between price and your liquidation price" in alert.text
    png = await service.alert_png(alert)
    assert png is not None and png.startswith(b"\x89PNG")
    heat = await service.renders.get_or_render((await engine.current("BTC/USDT:USDT", "24h")).map, "heatmap")
    assert png != heat  # the position's own chart, not the shared heatmap


async def test_a_position_without_a_liquidation_price_is_refused(db: Database) -> None:
    service = ChatService(db, MapEngine(SimSource(EXCHANGES, seed=7, now_ms=NOW)), settings(), clock=Clock(NOW))
    reply = await service.alert_position(ChatRef("telegram", "901"), "long 60000 1x")
    assert reply.error and reply.text.startswith("a 1x long has no liquidation price")


def test_the_alert_says_when_price_has_reached_the_level() -> None:
    from bot.alerts.position import Target, position_text
    from bot.model.types import LiqMap

    sub = SubscriptionRec(id=1, chat_id=1, symbol="BTC/USDT:USDT", window="24h", proximity_pct=2.0, min_usd=0.0,
                          min_share=0.0, sides="long", cooldown_s=1800, enabled=True, created_at=NOW, updated_at=NOW,
                          kind="position", entry_price=ENTRY, leverage=LEV, size_usd=SIZE, exchange="binanceusdm")
    level = sub_liq_price(sub)
    empty = np.zeros(3)
    m = LiqMap("BTC/USDT:USDT", "24h", ("binanceusdm",), NOW, level - 100.0, np.array([1.0, 2.0, 3.0]), empty,
               empty, np.zeros(0), np.zeros((0, 3)), np.zeros((0, 3)), np.zeros(0, dtype=np.int64),
               np.zeros((0, 3)), np.zeros((0, 3)), np.zeros(0, dtype=np.int64), np.zeros(0))
    text = position_text(m, sub, Target(LIQ_TARGET, "long", level, level, 0.0, 0.0))
    assert "has reached your liquidation price 57,228.92" in text
