"""``liqmap backtest --alerts``: the job's alert code replayed over a constructed market whose outcome is known, no
lookahead, the baselines, the CLI's JSON, and the shared coinglass set."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bot.backtest_alerts import (
    BarZones,
    replay_alerts,
    run_alert_backtest,
    score_replay,
    subscription_for,
    zone_record,
)
from bot.chat.parse import parse_alert_add
from bot.cli import main
from bot.errors import LiqmapError
from bot.market.replay import LiquidationBars, load_dataset, load_liquidation_bars, write_dataset
from bot.market.types import MarketSeries
from bot.model.alert_score import Candles, Zone, shuffled_zones, zone_at
from bot.model.params import ModelParams
from tests.conftest import shared_dataset
from tests.model.series import T0, random_series

H = 3_600_000
FLAT_H = 80  # hours of flat price; positions open (OI rises, all taker buys: longs) in its last 20 hours
# Two leverage buckets: the 20x levels (90% of the notional) are the one dense long zone, ~57.06k..57.41k.
PARAMS = ModelParams(leverages=(5.0, 20.0), leverage_weights=(0.1, 0.9))
# Price: flat at 60k, down 0.5%/h into the zone (hour 89) and rests inside it (no sweep: its low is not reached),
# rallies to ~59.8k (more than 2 x 1% away: the pair re-arms), then down 0.65%/h into the zone again and rests.
LEGS = ((9, -0.005), (6, 0.0), (6, 0.007), (4, 0.0), (7, -0.0065))  # after the flat hours, then a rest
FAR_SHORTS = tuple(80.5 + 6 * k for k in range(8))  # short liquidations at 61k every 6 h: the feed is live
IN_ZONE = ((89.5, 57_300.0), (113.5, 57_200.0))  # one long liquidation in the zone per approach


def walk_into_zone(
    with_liquidations: bool = True, flat_h: int = FLAT_H, rest_h: int = 12, exchange: str = "testex"
) -> MarketSeries:
    """1h candles of the market above (``flat_h`` flat hours, the ``LEGS``, ``rest_h`` hours at rest), with OI.
    Liquidations of 1 BTC each (only for the default ``flat_h``): ``IN_ZONE`` longs inside the zone while price is
    there, ``FAR_SHORTS`` far above (61k) so that the feed covers the whole span (no 12 h silence)."""
    close = [60_000.0]
    for hours, rate in ((flat_h, 0.0), *LEGS, (rest_h, 0.0)):
        close += [close[-1] * (1 + rate) ** (k + 1) for k in range(hours)]
    c = np.array(close[1:])
    n = c.size
    o = np.concatenate(([60_000.0], c[:-1]))
    wick = np.where(np.arange(n) < flat_h, 0.004, 0.0003)
    ts = T0 + H * np.arange(n, dtype=np.int64)
    oi = 1e9 + 5e7 * np.clip(np.arange(n) + 1.0 - (flat_h - 20), 0, 20).astype(np.float64)
    vol = np.full(n, 100.0)
    extra: dict[str, Any] = {}
    if with_liquidations and flat_h == FLAT_H:
        events = sorted([(h, 1, p) for h, p in IN_ZONE] + [(h, -1, 61_000.0) for h in FAR_SHORTS])
        extra = {
            "liq_timestamp": np.array([T0 + int(h * H) for h, _, _ in events], dtype=np.int64),
            "liq_side": np.array([side for _, side, _ in events], dtype=np.int8),
            "liq_price": np.array([p for _, _, p in events]),
            "liq_amount": np.ones(len(events)),
        }
    return MarketSeries(
        exchange=exchange, symbol="BTC/USDT:USDT", timeframe="1h", timestamp=ts, open=o,
        high=np.maximum(o, c) * (1 + wick), low=np.minimum(o, c) * (1 - wick), close=c, volume=vol,
        taker_buy_volume=vol.copy(), oi_timestamp=ts + H, oi_usd=oi, **extra,
    )


def _hour(t: int) -> int:
    return (t - T0) // H


def test_price_walks_into_a_dense_long_zone() -> None:
    series = walk_into_zone()
    report = run_alert_backtest(series, parse_alert_add("BTC window 3d"), params=PARAMS, horizon="6h")
    recs = report.records
    # one alert per arming: price sits within 1% of the zone for hours (the 30 min cooldown passes every step)
    # without another alert until the rally re-arms it; never a sweep (price stops inside the zone both times)
    assert [_hour(r.t) for r in recs] == [87, 111]
    assert len({r.cluster_id for r in recs}) == 1 and report.sweeps == 0
    assert all(r.zone.side == "long" and 0 < r.distance_pct <= 1.0 for r in recs)
    assert all(0 <= r.score <= 100 for r in recs)
    j = report.to_json()
    assert j["alerts"] == 2 and j["reach_n"] == 2
    assert j["reached_share"] == 1.0 and j["baseline_reached_share"] == 0.0  # price only fell after each alert
    assert [r.outcome.minutes for r in recs] == [120.0, 60.0]  # the wick of the 2nd / 1st candle after the alert
    assert j["median_minutes_to_reach"] == 90.0
    assert j["usd_n"] == 2 and j["liquidation_source"] == "events"
    assert j["liquidated_usd_per_alert"] == pytest.approx((57_300.0 + 57_200.0) / 2)
    assert j["baseline_liquidated_usd_per_alert"] == 0.0

    # the cooldown is the subscription's: a 7-day one keeps the second arming silent
    quiet = run_alert_backtest(series, parse_alert_add("BTC window 3d cooldown 7d"), params=PARAMS, horizon="6h")
    assert [_hour(r.t) for r in quiet.records] == [87]
    # side filter: a shorts-only subscription never fires here (there are no short clusters)
    assert run_alert_backtest(series, parse_alert_add("BTC window 3d side short"), params=PARAMS).records == ()


def test_bars_only_outcome_counts_the_bars_overlapping_the_zone() -> None:
    series = walk_into_zone(with_liquidations=False)
    hours = series.timestamp
    bars = LiquidationBars(H, hours.copy(), np.full(hours.size, 1e6), np.full(hours.size, 3e6))
    report = run_alert_backtest(series, parse_alert_add("BTC window 3d"), bars=bars, params=PARAMS, horizon="6h")
    assert report.liquidation_source == "bars" and len(report.records) == 2
    for r in report.records:
        z = r.zone
        in_horizon = (series.timestamp >= r.t) & (series.timestamp + H <= r.t + 6 * H)
        overlap = (series.low <= z.high) & (series.high >= z.low)
        assert r.outcome.liquidated_usd == pytest.approx(1e6 * int((in_horizon & overlap).sum()))
        assert (r.outcome.liquidated_usd or 0.0) > 0 and r.mirrored.liquidated_usd == 0.0  # price never went there
    record = zone_record(series, bars)
    assert isinstance(record, BarZones) and record.covers(int(hours[0]), int(hours[0]) + H)
    assert not record.covers(int(hours[-1]) + H, int(hours[-1]) + 2 * H)


def test_no_lookahead_truncating_after_t_changes_nothing_before_t() -> None:
    series = random_series(21, n=24 * 8, tf_ms=H, liq_every=2)
    sub = subscription_for(parse_alert_add("BTC 1% cooldown 1h"))
    full = replay_alerts([series], sub, step_ms=H)
    assert len(full.fired) >= 5
    cut_at = full.fired[len(full.fired) // 2].t
    early = replay_alerts([series.upto(cut_at)], sub, step_ms=H)
    assert [(f.t, f.alert) for f in early.fired] == [(f.t, f.alert) for f in full.fired if f.t <= cut_at]
    # outcomes whose horizon ended by then are the same too; later ones are unknown, never guessed
    horizon = 6 * H
    rec_full = score_replay(full, series, zone_record(series, None), horizon)
    truncated = series.upto(cut_at)
    rec_cut = score_replay(early, truncated, zone_record(truncated, None), horizon)
    for a, b in zip(rec_full, rec_cut, strict=False):
        if b.t + horizon <= cut_at:
            assert a.outcome == b.outcome and a.mirrored == b.mirrored
        else:
            assert b.outcome.reached is None


def test_zone_geometry_and_reach() -> None:
    z = Zone("long", 99.0, 99.5)
    assert z.near == 99.5 and z.distance_pct(100.0) == pytest.approx(0.5)
    m = z.mirrored(100.0)
    assert m == Zone("short", 100.5, 101.0) and m.distance_pct(100.0) == pytest.approx(0.5)
    z2 = zone_at("short", 100.0, 0.5, 0.5)
    assert z2.side == "short" and (z2.low, z2.high) == pytest.approx((100.5, 101.0))
    shuffled = shuffled_zones([z, m], [100.0, 100.0], seed=3)
    assert all(math.isclose(s.high - s.low, 0.5) and math.isclose(s.distance_pct(100.0), 0.5) for s in shuffled)
    ts = np.arange(4, dtype=np.int64) * H
    candles = Candles(ts, H, np.array([99.8, 99.6, 99.4, 99.9]), np.array([100.1, 100.2, 100.3, 100.4]))
    assert candles.minutes_to_reach(z, 0, 100.0, 3 * H) == 180.0  # third candle's wick (99.4) reaches 99.5
    assert candles.minutes_to_reach(z, 0, 100.0, 2 * H) == math.inf
    assert candles.minutes_to_reach(z, 0, 100.0, 5 * H) is None  # the candles end before the horizon
    assert candles.minutes_to_reach(z, 0, 99.4, 2 * H) == 0.0  # already there


def _cli_json(capsys: pytest.CaptureFixture[str], *argv: str) -> dict[str, Any]:
    code = main(["backtest", "--alerts", *argv, "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    return dict(json.loads(out))


KEYS = (
    "alerts", "reached_share", "baseline_reached_share", "liquidated_usd_per_alert",
    "baseline_liquidated_usd_per_alert", "score_spearman", "median_minutes_to_reach", "baseline_random_reached_share",
    "baseline_random_liquidated_usd_per_alert", "reach_n", "usd_n", "score_spearman_reached", "spec", "sweeps",
)


def test_cli_json_keys_halves_dump_and_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "walk"
    write_dataset(random_series(5, n=24 * 6, tf_ms=H, liq_every=2), data, "test fixture")
    dump = tmp_path / "alerts.jsonl"
    j = _cli_json(capsys, "--data", str(data), "--spec", "0.8% side both cooldown 1h", "--halves", "--dump", str(dump))
    for key in KEYS:
        assert key in j
    assert j["spec"] == {
        "proximity_pct": 0.8, "min_usd": 0.0, "min_share": 0.0, "sides": "both", "window": "24h", "cooldown_s": 3600,
    }
    assert j["step_ms"] == H and j["alerts"] > 0 and j["liquidation_source"] == "events"
    assert 0.0 <= j["reached_share"] <= 1.0 and 0.0 <= j["baseline_reached_share"] <= 1.0
    halves = j["halves"]
    assert halves["first"]["alerts"] + halves["second"]["alerts"] == j["alerts"]
    rows = [json.loads(line) for line in dump.read_text().splitlines()]
    assert len(rows) == j["alerts"] and {"t", "side", "low", "high", "score", "outcome", "mirrored"} <= set(rows[0])
    # the same run as a table; --from/--until keep the steps in between (a fresh subscription at --from)
    assert main(["backtest", "--alerts", "--data", str(data), "--spec", "0.8%"]) == 0
    assert "alert backtest" in capsys.readouterr().out
    later = _cli_json(capsys, "--data", str(data), "--from", str(T0 + 72 * H), "--until", str(T0 + 120 * H))
    assert later["from"] is not None and later["steps"] == 48
    # bad input: one line, exit 2
    for argv, words in (
        (["--spec", "1.5% sid long"], "sid"),
        (["--spec", "1.5%", "--step", "5m"], "finer"),
        (["--horizon", "0h"], "positive"),
    ):
        assert main(["backtest", "--alerts", "--data", str(data), *argv]) == 2
        err = capsys.readouterr().err
        assert words in err and err.count("\n") == 1
    assert main(["backtest", "--data", str(data), "--spec", "1%"]) == 2
    assert "--alerts" in capsys.readouterr().err


def test_run_rejects_bad_input() -> None:
    series = walk_into_zone()
    spec = parse_alert_add("BTC")
    with pytest.raises(LiqmapError, match="--from"):
        run_alert_backtest(series, spec, since=T0 + 10 * H, until=T0 + 10 * H)
    with pytest.raises(LiqmapError, match="no candles"):
        run_alert_backtest(replace(series, timestamp=series.timestamp[:0]), spec)


def test_alerts_on_coinglass_shared_data() -> None:
    """161 days of hourly bars (no prices): the default alert (1%, both sides, 30m cooldown) fires hundreds of
    times at hourly steps; every key is there and each half has its share (numbers in docs/alerts.md)."""
    data = shared_dataset("coinglass-btc-1h-2025-26")
    report = run_alert_backtest(
        load_dataset(data), parse_alert_add("BTC"), bars=load_liquidation_bars(data), halves=True
    ).to_json()
    for key in KEYS:
        assert key in report
    assert report["liquidation_source"] == "bars" and report["step_ms"] == H
    assert report["alerts"] > 200 and report["usd_n"] > 200
    assert report["liquidated_usd_per_alert"] > 0 and report["baseline_liquidated_usd_per_alert"] > 0
    assert -1.0 <= report["score_spearman"] <= 1.0
    assert report["halves"]["first"]["alerts"] > 100 and report["halves"]["second"]["alerts"] > 100
