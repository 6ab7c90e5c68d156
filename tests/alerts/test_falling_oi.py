"""Open interest that only falls over a whole window (a deleveraging day) leaves nothing pending. That is a market
state, not missing data: the map names the exchange that delivered it and the periodic job's tick is ok (before,
such a map listed no exchange, so the tick counted as an outage, /healthz went 503 and /liqmap said "no market
data")."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from bot.alerts.job import AlertJob
from bot.engine import MapEngine
from bot.market.replay import write_dataset
from bot.market.source import ReplaySource
from bot.model.build import build_map
from bot.storage.db import Database
from tests.alerts.helpers import Clock, add_sub, settings
from tests.model.series import random_series


def deleveraging(n: int = 400):
    """5m candles whose open interest (USD) falls at every sample."""
    s = random_series(9, n=n, tf_ms=300_000)
    oi = 5e9 * np.exp(-0.001 * np.arange(n))
    return dataclasses.replace(s, exchange="binanceusdm", oi_timestamp=s.timestamp + s.timeframe_ms, oi_usd=oi)


def test_the_map_names_the_exchange_and_holds_nothing() -> None:
    m = build_map([deleveraging()], window="24h")
    assert m.exchanges == ("binanceusdm",) and m.is_empty
    assert "nothing pending" in " ".join(m.notes)


async def test_the_tick_is_ok_and_nothing_is_alerted(db: Database, tmp_path: Path) -> None:
    series = deleveraging()
    write_dataset(series, tmp_path / "d", "test: falling open interest")
    clock = Clock(int(series.last_close_time))
    add_sub(db, "100", proximity_pct=20.0)
    job = AlertJob(db, MapEngine(ReplaySource(tmp_path / "d"), clock=clock), settings(), clock, holder="t")
    report = await job.tick()
    assert report.ok and report.alerts_queued == 0, report
    assert all(k.fresh and not k.error for k in report.keys), report.keys
