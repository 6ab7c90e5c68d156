"""The traded-range score through ``run_backtest`` and ``liqmap backtest``: bars-only datasets end to end, the
skipping rules inside a run, --from/--until/--halves, the --dump fields, and the shared datasets."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bot.backtest import run_backtest
from bot.backtest_range import FEED_GAP_MS
from bot.cli import main
from bot.market.errors import DatasetError
from bot.market.replay import load_dataset, load_liquidation_bars, write_dataset
from bot.market.types import MarketSeries
from bot.model.scoring import partial_spearman
from bot.timeparse import iso_utc
from tests.conftest import shared_dataset
from tests.model.series import T0, random_series

H = 3_600_000
HOURS = 240  # ten days of 1h candles


def _bars_dataset(directory: Path, seed: int = 11, hours: int = HOURS) -> MarketSeries:
    """A bars-only dataset: 1h candles (``ohlcv.csv``) and ``liquidation_bars.csv`` whose per-hour USD grows with
    how far the hour traded below / above its open; no ``liquidations.csv``."""
    series = random_series(seed, n=hours, tf_ms=H, with_oi=False)
    write_dataset(series, directory, "test fixture")
    meta = json.loads((directory / "meta.json").read_text())
    meta["liquidation_bar_ms"] = H
    (directory / "meta.json").write_text(json.dumps(meta))
    rng = np.random.default_rng(seed)
    down = (series.open - series.low) / series.open
    up = (series.high - series.open) / series.open
    long_usd = 1e8 * down * rng.lognormal(0.0, 0.5, hours)
    short_usd = 1e8 * up * rng.lognormal(0.0, 0.5, hours)
    columns = (series.timestamp.tolist(), long_usd.tolist(), short_usd.tolist())
    rows = [f"{t},{lu!r},{su!r}" for t, lu, su in zip(*columns, strict=True)]
    (directory / "liquidation_bars.csv").write_text("timestamp,long_usd,short_usd\n" + "\n".join(rows) + "\n")
    return series


def _cli_json(capsys: pytest.CaptureFixture[str], *argv: str) -> dict[str, Any]:
    code = main(["backtest", *argv, "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    return dict(json.loads(out))


def test_bars_only_dataset_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "bars"
    _bars_dataset(data)
    assert not (data / "liquidations.csv").exists()
    dump = tmp_path / "steps.jsonl"
    j = _cli_json(capsys, "--data", str(data), "--dump", str(dump))
    # steps from one 24h window of history to the last whole bar: hours 24..239
    assert j["range_source"] == "bars" and j["range_bar_ms"] == H
    assert j["range_steps"] == HOURS - 24 and j["range_n"] == 2 * (HOURS - 24)
    assert j["range_skipped_record"] == j["range_skipped_candles"] == j["range_stale"] == 0
    for key in ("range_spearman_map", "range_spearman_reach", "range_partial"):
        assert isinstance(j[key], float) and -1.0 <= j[key] <= 1.0
    assert j["range_spearman_reach"] > 0.5  # realized grows with reach by construction
    assert j["capture_scored"] is False and j["snapshots"] == 0 and j["capture_map"] is None
    assert any("liquidation_bars.csv" in n for n in j["notes"])
    rows = [json.loads(x) for x in dump.read_text().splitlines()]
    assert len(rows) == j["range_steps"]
    r = rows[0]["range"]
    assert set(r) == {
        "t", "p", "bar_ms", "low", "high", "predicted_long_usd", "predicted_short_usd", "realized_long_usd",
        "realized_short_usd", "reach_long", "reach_short", "notional_24h_usd",
    }
    assert r["t"] == T0 + 24 * H and r["low"] <= r["p"] <= r["high"]
    assert r["reach_long"] == pytest.approx((r["p"] - r["low"]) / r["p"])
    # the dump is enough to recompute the score outside liqmap
    pred = [x["range"]["predicted_long_usd"] for x in rows] + [x["range"]["predicted_short_usd"] for x in rows]
    real = [x["range"]["realized_long_usd"] for x in rows] + [x["range"]["realized_short_usd"] for x in rows]
    reach = [x["range"]["reach_long"] for x in rows] + [x["range"]["reach_short"] for x in rows]
    notional = [x["range"]["notional_24h_usd"] for x in rows] * 2
    again = partial_spearman(np.array(pred), np.array(real), np.column_stack([reach, notional]))
    assert again == pytest.approx(j["range_partial"])

    code = main(["backtest", "--data", str(data)])
    text = capsys.readouterr().out
    assert code == 0 and "traded-range score" in text and "partial" in text
    assert "not scored" in text and "nearest" not in text  # no capture table without liquidation prices


def test_from_until_and_halves(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "bars"
    _bars_dataset(data)
    whole = _cli_json(capsys, "--data", str(data), "--halves")
    halves = whole["range_halves"]
    assert isinstance(halves, dict)
    split = halves["split_ms"]
    assert split == T0 + (24 + 108) * H  # 216 steps: 108 in each half
    assert halves["first"]["range_n"] == halves["second"]["range_n"] == 216
    first = _cli_json(capsys, "--data", str(data), "--until", iso_utc(split))
    second = _cli_json(capsys, "--data", str(data), "--from", str(split))
    assert first["range_n"] == second["range_n"] == 216
    assert first["range_partial"] == pytest.approx(halves["first"]["range_partial"])
    assert second["range_partial"] == pytest.approx(halves["second"]["range_partial"])
    assert first["until"] == iso_utc(split) and second["from"] == iso_utc(split)
    code = main(["backtest", "--data", str(data), "--from", iso_utc(split), "--until", iso_utc(split)])
    assert code == 2 and "--from" in capsys.readouterr().err


def test_bars_dataset_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "bars"
    _bars_dataset(data)
    assert main(["backtest", "--data", str(data), "--bar", "90m"]) == 2
    assert "whole number" in capsys.readouterr().err
    assert main(["backtest", "--data", str(data), "--step", "0h"]) == 2
    assert "positive" in capsys.readouterr().err
    meta = json.loads((data / "meta.json").read_text())
    del meta["liquidation_bar_ms"]
    (data / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(DatasetError, match="liquidation_bar_ms"):
        load_liquidation_bars(data)
    meta["liquidation_bar_ms"] = -5
    (data / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(DatasetError, match="positive integer"):
        load_liquidation_bars(data)
    meta["liquidation_bar_ms"] = H
    (data / "meta.json").write_text(json.dumps(meta))
    (data / "liquidation_bars.csv").write_text("timestamp,long_usd,short_usd\n1750000000000,-1,2\n")
    assert main(["backtest", "--data", str(data)]) == 2
    err = capsys.readouterr().err
    assert "liquidation_bars.csv" in err and "negative" in err and err.count("\n") == 1


def test_run_skips_bars_with_missing_candles_or_in_feed_gaps() -> None:
    series = random_series(6, n=900, liq_every=6)  # 5m candles, one liquidation every 30 minutes
    base = run_backtest(series, step="1h", window="12h", horizon="2h")
    assert base.range is not None and base.range.source == "events"
    assert base.range.skipped_record == base.range.skipped_candles == 0
    # a 13 h silence in the liquidation feed: the hours it overlaps are unknown, not zero
    lt = series.liq_timestamp
    quiet = (lt > lt[0] + 30 * H) & (lt < lt[0] + 30 * H + FEED_GAP_MS + H)
    gapped = replace(
        series, liq_timestamp=lt[~quiet], liq_side=series.liq_side[~quiet], liq_price=series.liq_price[~quiet],
        liq_amount=series.liq_amount[~quiet],
    )
    rep = run_backtest(gapped, step="1h", window="12h", horizon="2h").range
    assert rep is not None and rep.skipped_record in (13, 14)
    assert len(rep.steps) == len(base.range.steps) - rep.skipped_record
    assert not any(lt[0] + 31 * H <= s.t < lt[0] + 42 * H for s in rep.steps)
    # one missing 5m candle removes its hour's bar (and nothing else: the map at the next step is not stale)
    keep = np.ones(series.n, dtype=bool)
    keep[500] = False
    holed = replace(
        series, timestamp=series.timestamp[keep], open=series.open[keep], high=series.high[keep],
        low=series.low[keep], close=series.close[keep], volume=series.volume[keep],
        taker_buy_volume=series.taker_buy_volume[keep],
    )
    rep2 = run_backtest(holed, step="1h", window="12h", horizon="2h").range
    assert rep2 is not None and rep2.skipped_candles == 1 and len(rep2.steps) == len(base.range.steps) - 1
    hour = int(series.timestamp[500]) // H * H
    assert hour not in {s.t for s in rep2.steps} and hour in {s.t for s in base.range.steps}


def test_range_score_on_okx_shared_data() -> None:
    """okx-btc-2026-03: the feed covers 12.5 h, so 12 whole hourly bars (24 observations) are scored: too few to
    mean much, but every one of them must be there."""
    report = run_backtest(load_dataset(shared_dataset("okx-btc-2026-03"))).to_json()
    assert report["range_source"] == "events" and report["range_n"] == 24
    assert report["range_skipped_record"] == report["range_skipped_candles"] == 0
    assert report["snapshots"] == 13  # the capture score is untouched by the range score


def test_range_score_on_coinglass_shared_data() -> None:
    """coinglass-btc-1h-2025-26 (161 days of hourly liquidated USD by side, no prices): today's map at window 24h
    carries information beyond how far price moved and how busy the market was. 0.2 is a sanity floor on real
    data, not a tuned number (the run gives ~0.47, docs/model.md "Traded-range score")."""
    data = shared_dataset("coinglass-btc-1h-2025-26")
    report = run_backtest(load_dataset(data), bars=load_liquidation_bars(data), halves=True).to_json()
    for key in ("range_spearman_map", "range_spearman_reach", "range_partial", "range_n", "range_halves"):
        assert key in report
    assert report["capture_scored"] is False and report["range_source"] == "bars"
    assert 3_000 <= report["range_n"] // 2 <= 4_000
    assert report["range_partial"] > 0.2
    halves = report["range_halves"]
    assert halves["first"]["range_n"] > 3_000 and halves["second"]["range_n"] > 3_000
