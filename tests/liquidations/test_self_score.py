"""Self-score: once a day one replica scores the bot's own maps of the last 7 days, hour by hour, against the
liquidations it recorded (the traded-range score of ``liqmap backtest``), stores the figure, and ``/status`` and
``/metrics`` show it with the hours it covers. Runs on the shipped app against the exchange stand-in."""

from __future__ import annotations

import numpy as np
import pytest

from bot.alerts.self_score import LEASE, self_score_line
from bot.app import App
from bot.ops.metrics import render_prometheus
from bot.storage import leases
from bot.storage.liquidations import LiqRow, SelfScoreRec, insert_events, latest_self_score
from tests.market.conftest import NOW
from tests.reliability.shipped import chat
from tests.standins.exchange_server import HOUR, MIN

SYMBOL = "BTC/USDT:USDT"
FIRST = NOW - 8 * HOUR  # the feed ran from here (07:00:00.123 - 8 h) to a minute ago


def recorded(app: App) -> None:
    """Liquidations every 10 minutes over the last 8 hours, varied sizes and sides, around the tape's price."""
    rng = np.random.default_rng(3)
    rows = []
    for ts in range(FIRST, NOW - MIN, 10 * MIN):
        side = "long" if rng.random() < 0.5 else "short"
        price = float(60_000 + rng.normal(0, 800))
        amount = float(rng.lognormal(0, 1.2))
        rows.append(LiqRow("bybit", SYMBOL, ts, side, price, amount, price * amount))
    insert_events(app.db, rows)


async def test_daily_self_score_is_stored_and_shown(app: App) -> None:
    assert app.self_score is not None
    recorded(app)
    rec = await app.self_score.run_once()
    assert rec is not None
    # scorable bars: whole hours t with FIRST <= t and t + 1 h <= the last event (06:50:00.123): 00:00 .. 05:00
    assert rec.hours == 6 and rec.n == 12 and (rec.symbol, rec.window) == (SYMBOL, "24h")
    assert latest_self_score(app.db) == rec
    status = (await app.service.status(chat(1))).text
    assert "Self-score (7d, 6 h of recorded liquidations): range partial" in status
    exposition = render_prometheus(app.metrics, {})
    assert "liqmap_self_score_hours 6.0" in exposition
    partial = app.metrics.registry.get_sample_value("liqmap_self_score_range_partial")
    assert partial is not None
    assert (np.isnan(partial) and rec.range_partial is None) or partial == pytest.approx(rec.range_partial)
    again = await app.self_score.run_once()  # the same day: the stored figure, not a new computation
    assert again == rec


async def test_another_replica_holding_the_lease_scores_instead(app: App) -> None:
    assert app.self_score is not None
    recorded(app)
    assert leases.try_acquire(app.db, LEASE, "score-other-replica", 60 * MIN, app.clock())
    assert await app.self_score.run_once() is None
    assert latest_self_score(app.db) is None


async def test_without_recorded_liquidations_it_says_not_yet(app: App) -> None:
    assert app.self_score is not None
    rec = await app.self_score.run_once()
    assert rec is not None and rec.hours == 0 and rec.range_partial is None
    assert "Self-score (7d of maps vs recorded liquidations): not yet" in (await app.service.status(chat(1))).text


def test_status_line_formats() -> None:
    rec = SelfScoreRec(NOW, SYMBOL, "24h", 43.0, 86, 0.52, 0.3, 0.41)
    assert self_score_line(rec) == ("Self-score (7d, 43 h of recorded liquidations): range partial +0.41, "
                                    "map ρ +0.52 vs reach ρ +0.30 (n=86)")
    assert self_score_line(None).endswith("not yet")
