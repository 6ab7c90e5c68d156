"""The dataset reader on the shared real datasets (skipped when absent) and on malformed tmp datasets."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from bot.market.errors import DatasetError, MarketError
from bot.market.replay import load_dataset, write_dataset
from bot.market.sim import synthetic_series
from bot.market.source import ReplaySource, make_source
from tests.conftest import shared_dataset

HOUR = 3_600_000
OHLCV_HEADER = "timestamp,open,high,low,close,volume,taker_buy_volume\n"


def test_okx_dataset() -> None:
    s = load_dataset(shared_dataset("okx-btc-2026-03"))
    assert (s.exchange, s.symbol, s.timeframe, s.contract) == ("okx", "BTC/USDT:USDT", "1h", "linear")
    assert s.n == 349 and np.all(np.diff(s.timestamp) == HOUR)
    assert np.all(s.high >= np.maximum(s.open, s.close)) and np.all(np.isnan(s.taker_buy_volume))
    assert s.liq_timestamp.size == 1611 and set(np.unique(s.liq_side).tolist()) == {-1, 1}
    assert int((s.liq_side == -1).sum()) == 1000
    assert s.funding_rate.size == 44 and s.oi_usd.size == 0
    assert s.fetched_at == int(s.liq_timestamp[-1])  # the last liquidations come after the last candle


def test_binance_5m_dataset_keeps_the_oi_gap() -> None:
    s = load_dataset(shared_dataset("binance-btc-5m-2026-06"))
    assert s.timeframe == "5m" and s.n == 4406 and np.all(np.isnan(s.volume))
    assert s.oi_usd.size == 2727 and np.all(s.oi_usd > 0)
    assert int(np.max(np.diff(s.oi_timestamp))) > 5 * 24 * HOUR  # the documented gap is not papered over
    assert s.funding_rate.size == 47 and s.liq_timestamp.size == 0


def test_forceorder_dataset_builds_5m_candles_from_trades() -> None:
    path = shared_dataset("binance-forceorder-2025-01")
    s = load_dataset(path)
    lines = (path / "trades.csv").read_text().splitlines()[1:]
    stamps = np.array([int(line.split(",")[0]) for line in lines])
    amounts = np.array([float(line.split(",")[2]) for line in lines])
    assert s.timeframe == "5m" and s.n == np.unique(stamps // 300_000).size  # one candle per bucket with trades
    assert float(s.volume.sum()) == pytest.approx(float(amounts.sum()))
    assert np.all(s.timestamp % (5 * 60_000) == 0) and np.all(np.diff(s.timestamp) > 0)
    assert np.all(s.low <= np.minimum(s.open, s.close)) and np.all(s.high >= np.maximum(s.open, s.close))
    assert np.all(s.taker_buy_volume <= s.volume + 1e-12) and float(s.volume.sum()) > 0
    assert s.liq_timestamp.size == 31 and int((s.liq_side == 1).sum()) == 26


async def test_replay_source_cuts_and_resamples() -> None:
    path = shared_dataset("binance-btc-5m-2026-06")
    source = make_source(f"replay:{path}", ["ignored"])
    assert isinstance(source, ReplaySource) and source.exchanges == ("binanceusdm",) and not source.synthetic
    end = source.end_ms
    assert end is not None
    at = end - 10 * HOUR
    result = await source.load("BTCUSDT", "1h", at - 24 * HOUR, at)
    (s,) = result.series
    assert s.timeframe == "1h" and s.n == 23 and s.last_close_time <= at  # whole hours closed in the window
    assert s.oi_timestamp[-1] <= at
    other = await source.load("ETH/USDT:USDT", "5m", at - HOUR, at)
    assert other.series == [] and "holds BTC/USDT:USDT" in other.freshness[0].error
    latest = await source.load("BTC/USDT:USDT", "1h", end - 5 * HOUR)
    assert latest.series[0].last_close_time <= end  # no partial hour at the dataset's end


# ---- malformed datasets --------------------------------------------------------------------------------------

def make_dataset(root: Path, ohlcv: str | None, meta: dict[str, object] | None = None) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    if meta is not False:
        (root / "meta.json").write_text(json.dumps(meta or {"exchange": "okx", "symbol": "BTC/USDT:USDT",
                                                            "timeframe": "1h", "contract": "linear"}))
    if ohlcv is not None:
        (root / "ohlcv.csv").write_text(ohlcv)
    return root


GOOD_ROWS = "1700000000000,100,110,90,105,1.5,\n1700003600000,105,112,100,111,2,1\n"


def test_good_minimal_dataset_loads(tmp_path: Path) -> None:
    s = load_dataset(make_dataset(tmp_path / "d", OHLCV_HEADER + GOOD_ROWS))
    assert s.n == 2 and np.isnan(s.taker_buy_volume[0]) and s.taker_buy_volume[1] == 1.0


@pytest.mark.parametrize(("ohlcv", "message"), [
    (OHLCV_HEADER + "1700000000000,100,110,abc,105,1,\n", r"ohlcv.csv line 2 column low: 'abc' is not a number"),
    (OHLCV_HEADER + "1700003600000,100,110,90,105,1,\n1700000000000,100,110,90,105,1,\n",
     r"ohlcv.csv: unsorted timestamp 1700000000000 on data row 2"),
    (OHLCV_HEADER + "1700000000000,100,110,90,105,1,\n1700000000000,100,110,90,105,1,\n",
     r"ohlcv.csv: duplicate timestamp"),
    (OHLCV_HEADER, r"ohlcv.csv in .*: no data rows"),
    ("", r"ohlcv.csv: the file is empty"),
    ("timestamp,open,high,low\n1,2,3,4\n", r"ohlcv.csv: missing column\(s\) close, volume, taker_buy_volume"),
    (OHLCV_HEADER + "1700000000000,100,110,90\n", r"ohlcv.csv line 2: 4 fields, expected 7"),
    (OHLCV_HEADER + "17e,100,110,90,105,1,\n", r"ohlcv.csv line 2 column timestamp: '17e' is not an integer"),
    (OHLCV_HEADER + "1700000000000,-5,110,90,105,1,\n", r"ohlcv.csv data row 1: open must be a positive price"),
])
def test_malformed_ohlcv_names_file_and_line(tmp_path: Path, ohlcv: str, message: str) -> None:
    with pytest.raises(DatasetError, match=message):
        load_dataset(make_dataset(tmp_path / "d", ohlcv))


def test_missing_meta_json(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "ohlcv.csv").write_text(OHLCV_HEADER + GOOD_ROWS)
    with pytest.raises(DatasetError, match=r"no meta.json"):
        load_dataset(tmp_path / "d")


@pytest.mark.parametrize(("meta", "message"), [
    ({"exchange": "okx", "symbol": "BTC/USDT:USDT", "timeframe": "7m"}, "timeframe '7m' is not one of"),
    ({"symbol": "BTC/USDT:USDT", "timeframe": "1h"}, "'exchange' must be a non-empty string"),
    ({"exchange": "okx", "symbol": "BTC/USDT:USDT", "timeframe": "1h", "contract": "spot"}, "contract 'spot'"),
])
def test_bad_meta_json(tmp_path: Path, meta: dict[str, object], message: str) -> None:
    with pytest.raises(DatasetError, match=message):
        load_dataset(make_dataset(tmp_path / "d", OHLCV_HEADER + GOOD_ROWS, meta))


def test_invalid_json_and_missing_directory(tmp_path: Path) -> None:
    d = make_dataset(tmp_path / "d", OHLCV_HEADER + GOOD_ROWS)
    (d / "meta.json").write_text("{not json")
    with pytest.raises(DatasetError, match=r"meta.json in .*: not valid JSON"):
        load_dataset(d)
    with pytest.raises(DatasetError, match="does not exist"):
        load_dataset(tmp_path / "nope")
    with pytest.raises(DatasetError, match="does not exist"):
        make_source(f"replay:{tmp_path / 'nope'}", [])


def test_bad_optional_files(tmp_path: Path) -> None:
    d = make_dataset(tmp_path / "d", OHLCV_HEADER + GOOD_ROWS)
    (d / "funding.csv").write_text("timestamp,funding_rate\n1700000000000,x\n")
    with pytest.raises(DatasetError, match=r"funding.csv line 2 column funding_rate"):
        load_dataset(d)
    (d / "funding.csv").unlink()
    (d / "liquidations.csv").write_text("timestamp,side,price,amount\n1700000000000,up,100,1\n")
    with pytest.raises(DatasetError, match=r"liquidations.csv data row 1: side must be 'long' or 'short'"):
        load_dataset(d)


def test_no_market_series_at_all(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match=r"no ohlcv.csv or trades.csv"):
        load_dataset(make_dataset(tmp_path / "d", None))


def test_dataset_errors_are_one_line_market_errors(tmp_path: Path) -> None:
    with pytest.raises(MarketError) as info:
        load_dataset(make_dataset(tmp_path / "d", OHLCV_HEADER + "1,2\n"))
    assert "\n" not in str(info.value)


def test_write_then_load_round_trips_exactly(tmp_path: Path) -> None:
    s = synthetic_series("okx", "BTC/USDT:USDT", "15m", 1_767_225_600_000, 200, seed=3)
    write_dataset(s, tmp_path / "d", "test")
    back = load_dataset(tmp_path / "d")
    assert back.synthetic and back.n == 200
    for name in ("timestamp", "open", "high", "low", "close", "volume", "taker_buy_volume", "oi_timestamp",
                 "oi_usd", "funding_timestamp", "funding_rate"):
        np.testing.assert_array_equal(getattr(back, name), getattr(s, name), err_msg=name)
