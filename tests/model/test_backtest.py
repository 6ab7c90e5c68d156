"""Backtest scoring on hand-computed examples, no lookahead of ``run_backtest``, accuracy on the shared data."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from bot.backtest import run_backtest
from bot.errors import LiqmapError
from bot.market.replay import load_dataset
from bot.model.scoring import (
    bucket_edges,
    capture,
    nearest_buckets,
    score_snapshot,
    spearman,
    to_buckets,
    top_buckets,
    visited_mask,
)
from tests.conftest import shared_dataset
from tests.model.series import random_series


def test_bucket_edges_and_binning() -> None:
    edges = bucket_edges(100.0)
    assert edges.shape == (81,)
    assert edges[0] == pytest.approx(90.0) and edges[40] == pytest.approx(100.0) and edges[-1] == pytest.approx(110.0)
    real = to_buckets(edges, np.array([99.9, 100.1, 100.2, 89.0, 112.0]), np.array([1.0, 2.0, 3.0, 7.0, 7.0]))
    assert real.shape == (80,)
    assert real[39] == 1.0 and real[40] == 5.0 and real.sum() == 6.0  # outside +-10% dropped


def test_capture_and_baselines_by_hand() -> None:
    real = np.zeros(80)
    real[40], real[10] = 3.0, 1.0  # 75% next to price (+0..0.25%), 25% at -7.5%
    assert list(nearest_buckets()) == [36, 37, 38, 39, 40, 41, 42, 43]
    assert capture(real, nearest_buckets()) == pytest.approx(0.75)
    pred = np.zeros(80)
    pred[10] = 5.0
    pred[40] = 4.0
    assert set(top_buckets(pred)[:2]) == {10, 40}
    assert capture(real, top_buckets(pred)) == pytest.approx(1.0)
    # Ties (all zero) go to the buckets nearest price: an empty map scores like the nearest baseline.
    assert sorted(top_buckets(np.zeros(80))) == list(nearest_buckets())
    assert np.isnan(capture(np.zeros(80), nearest_buckets()))


def test_spearman_by_hand() -> None:
    a = np.array([1.0, 2.0, 3.0, 4.0])
    assert spearman(a, np.array([10.0, 20.0, 30.0, 40.0])) == pytest.approx(1.0)
    assert spearman(a, np.array([4.0, 3.0, 2.0, 1.0])) == pytest.approx(-1.0)
    # Ties share the mean rank: ranks (0, 1.5, 1.5, 3) vs (0, 1, 2, 3) -> 0.9487.
    assert spearman(np.array([1.0, 2.0, 2.0, 3.0]), np.array([1.0, 2.0, 3.0, 4.0])) == pytest.approx(
        np.corrcoef([0, 1.5, 1.5, 3], [0, 1, 2, 3])[0, 1]
    )
    assert np.isnan(spearman(a, np.ones(4)))
    assert spearman(np.ones(4), a) == 0.0


def test_visited_mask_and_snapshot_score() -> None:
    edges = bucket_edges(100.0)
    visited = visited_mask(edges, 99.6, 100.6)  # buckets [99.5,99.75) .. [100.5,100.75)
    assert list(np.flatnonzero(visited)) == [38, 39, 40, 41, 42]
    real = np.zeros(80)
    real[[38, 39, 41, 42]] = [4.0, 1.0, 2.0, 8.0]
    pred = np.zeros(80)
    pred[[38, 39, 40, 41, 42]] = [3.0, 1.0, 0.5, 2.0, 5.0]
    s = score_snapshot(0, 100.0, pred, real, visited)
    assert s.realized_usd == 15.0 and s.n_visited == 5
    assert s.capture_map == pytest.approx(1.0) and s.capture_nearest == pytest.approx(1.0)
    assert s.capture_uniform == pytest.approx(0.1)
    assert s.spearman_map == pytest.approx(spearman(pred[38:43], real[38:43]))
    assert s.spearman_map > 0.8 > s.spearman_nearest


def _first_row(path: Path) -> dict[str, object]:
    return dict(json.loads(path.read_text().splitlines()[0]))


def test_run_backtest_has_no_lookahead(tmp_path: Path) -> None:
    series = random_series(21, n=600, liq_every=25)
    first = tmp_path / "a.jsonl"
    report = run_backtest(series, step="1h", window="12h", horizon="6h", dump=first)
    lines = [json.loads(x) for x in first.read_text().splitlines()]
    assert report.snapshots and sum("score" in x for x in lines) == len(report.snapshots)
    assert report.range is not None and sum("range" in x for x in lines) == len(report.range.steps)
    row = _first_row(first)
    t = int(row["at"])  # type: ignore[call-overload]
    future = series.timestamp >= t
    moved = replace(
        series,
        high=np.where(future, series.high * 1.02, series.high),
        low=np.where(future, series.low * 0.97, series.low),
        close=np.where(future, series.close * 0.98, series.close),
        oi_usd=np.where(series.oi_timestamp > t, series.oi_usd * 3.0, series.oi_usd),
    )
    second = tmp_path / "b.jsonl"
    run_backtest(moved, step="1h", window="12h", horizon="6h", dump=second)
    row2 = _first_row(second)
    assert row2["at"] == row["at"] and row2["price"] == row["price"]
    assert row2["bins"] == row["bins"] and row2["forecast_usd"] == row["forecast_usd"]
    assert row2["score"]["capture_map"] == row["score"]["capture_map"]  # type: ignore[index]
    table = report.format_table()
    assert "capture@10%" in table and "visited Spearman" in table
    payload = report.to_json()
    assert payload["notes"] == [] and "range_halves" not in payload
    assert all(isinstance(v, (int, float, str)) or v is None for k, v in payload.items() if k != "notes")


def test_run_backtest_rejects_bad_input() -> None:
    with pytest.raises(LiqmapError, match="no liquidations"):
        run_backtest(random_series(1, n=50))
    with pytest.raises(LiqmapError, match="too little history"):
        run_backtest(random_series(1, n=50, liq_every=10), window="7d")
    with pytest.raises(LiqmapError, match="invalid duration"):
        run_backtest(random_series(1, n=50, liq_every=10), step="soon")
    with pytest.raises(LiqmapError, match="unknown window"):
        run_backtest(random_series(1, n=50, liq_every=10), window="5h")
    with pytest.raises(LiqmapError, match="unknown prediction"):
        run_backtest(random_series(1, n=50, liq_every=10), prediction="oracle")  # type: ignore[arg-type]


def test_stale_snapshots_are_counted_not_scored() -> None:
    series = random_series(4, n=600, liq_every=20)
    keep = np.ones(series.n, dtype=bool)
    keep[400:430] = False  # a 2.5 h hole in the 5m tape: steps inside it, > 3 candles after the last close, are stale
    holed = replace(
        series, timestamp=series.timestamp[keep], open=series.open[keep], high=series.high[keep],
        low=series.low[keep], close=series.close[keep], volume=series.volume[keep],
        taker_buy_volume=series.taker_buy_volume[keep],
    )
    full = run_backtest(series, step="15m", window="12h", horizon="2h")
    report = run_backtest(holed, step="15m", window="12h", horizon="2h")
    assert full.n_stale == 0 and report.n_steps == full.n_steps
    assert report.n_stale == 9  # 15m steps more than 15 minutes after the last close inside the hole
    assert len(report.snapshots) == len(full.snapshots) - report.n_stale


def _shared_report(name: str, prediction: str = "forecast") -> dict[str, object]:
    return run_backtest(load_dataset(shared_dataset(name)), prediction=prediction).to_json()  # type: ignore[arg-type]


def test_snapshots_outside_the_liquidation_feed_are_not_scored() -> None:
    """Realized liquidations are unknown before the feed's first record and after its last one: a snapshot is
    scored only from the first record on, on its horizon clipped to the last record."""
    series = random_series(5, n=600, liq_every=20)
    late = int(series.liq_timestamp[len(series.liq_timestamp) // 2])
    keep = series.liq_timestamp >= late
    clipped = replace(
        series, liq_timestamp=series.liq_timestamp[keep], liq_side=series.liq_side[keep],
        liq_price=series.liq_price[keep], liq_amount=series.liq_amount[keep],
    )
    report = run_backtest(clipped, step="15m", window="12h", horizon="2h")
    assert report.snapshots and all(s.at >= late for s in report.snapshots)


def test_forecast_on_okx_shared_data() -> None:
    """What the forecast achieves on okx-btc-2026-03 (defaults: step 1h, window 24h, horizon 24h).

    The feed covers 12.5 h, so 13 hourly snapshots are scored, with 24 h horizons that overlap almost entirely:
    about one independent observation. The visited-Spearman gap between the map and its baseline on them
    (a few hundredths) is noise, so it is not asserted; what is asserted does not depend on it: the run is
    deterministic, both predictions are scored against the same realized liquidations and baselines, every
    statistic is in its range, and the capture regression pin (the forecast captures far more than the
    uniform baseline and than the raw pending map, which captures nothing here; it does NOT beat nearest, see
    docs/model.md "Accuracy") holds.
    """
    forecast = _shared_report("okx-btc-2026-03")
    assert _shared_report("okx-btc-2026-03") == forecast  # deterministic: same data, same report
    pending = _shared_report("okx-btc-2026-03", "pending")
    assert forecast["snapshots"] == forecast["spearman_snapshots"] == 13 and forecast["stale_skipped"] == 0
    same = ("steps", "snapshots", "realized_usd", "capture_nearest", "capture_uniform", "spearman_baseline")
    assert {k: forecast[k] for k in same} == {k: pending[k] for k in same}  # only the prediction differs
    for report in (forecast, pending):
        for key in ("capture_map", "capture_nearest", "capture_uniform", "beat_nearest_share"):
            assert isinstance(report[key], float) and 0.0 <= report[key] <= 1.0, key  # type: ignore[operator]
        for key in ("spearman_map", "spearman_baseline"):
            assert isinstance(report[key], float) and -1.0 <= report[key] <= 1.0, key  # type: ignore[operator]
    assert forecast["capture_map"] > 4 * forecast["capture_uniform"]  # type: ignore[operator]
    assert forecast["capture_map"] > pending["capture_map"] + 0.3  # type: ignore[operator]
    # the raw map's visited Spearman is reported beside the forecast's, the same as scoring the map itself
    assert forecast["spearman_pending"] == pytest.approx(pending["spearman_map"])
    assert pending["spearman_pending"] == pytest.approx(pending["spearman_map"])
    assert forecast["spearman_pending"] != pytest.approx(forecast["spearman_map"])


def test_forecast_on_binance_forceorder_shared_data() -> None:
    """binance-forceorder-2025-01: all 31 liquidations fall in a 17-minute burst within +-0.7% of price, so nearest
    captures 100% and can at best be tied. With the default 1h step one snapshot is scored; the forecast ranks the
    visited buckets far better than the distance baseline and captures almost all of it."""
    report = _shared_report("binance-forceorder-2025-01")
    assert report["snapshots"] == 1
    assert report["capture_nearest"] == pytest.approx(1.0)
    assert report["capture_map"] > 0.9  # type: ignore[operator]
    assert report["spearman_map"] > report["spearman_baseline"]  # type: ignore[operator]
