"""``record`` end to end through the exchange stand-in, then read back with ``load_dataset``."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from bot.market.errors import MarketError
from bot.market.record import record
from bot.market.replay import load_dataset
from bot.market.source import ReplaySource
from tests.market.conftest import NO_WAIT, NOW, SYMBOL
from tests.standins.exchange_server import HOUR, ExchangeServer


async def test_record_writes_a_dataset_that_round_trips(stand_in: ExchangeServer, tmp_path: Path) -> None:
    out = await record("binanceusdm", "btcusdt", "1h", 2, tmp_path / "rec",
                       exchange_factory=stand_in.factory, now_ms=NOW, retry=NO_WAIT)
    assert out == tmp_path / "rec"
    meta = json.loads((out / "meta.json").read_text())
    assert (meta["exchange"], meta["symbol"], meta["timeframe"], meta["contract"]) == (
        "binanceusdm", SYMBOL, "1h", "linear")
    assert {p.name for p in out.iterdir()} == {"meta.json", "ohlcv.csv", "open_interest.csv", "funding.csv"}
    header = (out / "ohlcv.csv").read_text().splitlines()[0]
    assert header == "timestamp,open,high,low,close,volume,taker_buy_volume"

    s = load_dataset(out)
    assert s.n == 48 and s.last_close_time == (NOW // HOUR) * HOUR
    assert not np.isnan(s.taker_buy_volume).any()
    tape = stand_in.tape
    assert s.close[-1] == float(tape.candle(int(s.timestamp[-1]), HOUR)[3])
    assert s.oi_usd.size and s.funding_rate.size == 6
    replay = ReplaySource(out)
    assert replay.end_ms == s.last_close_time and replay.exchanges == ("binanceusdm",)


async def test_record_of_an_unreachable_exchange_is_one_clear_error(stand_in: ExchangeServer, tmp_path: Path) -> None:
    stand_in.fail("okx", 503)
    with pytest.raises(MarketError, match=r"cannot record BTC/USDT:USDT 1h from okx: ExchangeNotAvailable"):
        await record("okx", SYMBOL, "1h", 1, tmp_path / "x", exchange_factory=stand_in.factory, now_ms=NOW,
                     retry=NO_WAIT)
    assert not (tmp_path / "x").exists()


async def test_record_of_an_unlisted_symbol_names_it(stand_in: ExchangeServer, tmp_path: Path) -> None:
    with pytest.raises(MarketError, match="BadSymbol: ETHUSDT"):
        await record("bybit", "ETHUSDT", "1h", 1, tmp_path / "x", exchange_factory=stand_in.factory, now_ms=NOW,
                     retry=NO_WAIT)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"exchange": "binnance"}, "unknown exchange 'binnance'; did you mean"),
    ({"timeframe": "7m"}, "unknown timeframe '7m'"),
    ({"days": 0}, "--days must be"),
])
async def test_record_rejects_bad_arguments(tmp_path: Path, kwargs: dict[str, object], message: str) -> None:
    args: dict[str, object] = {"exchange": "okx", "symbol": SYMBOL, "timeframe": "1h", "days": 1.0,
                               "out_dir": tmp_path}
    args.update(kwargs)
    with pytest.raises(MarketError, match=message):
        await record(**args)  # type: ignore[arg-type]
