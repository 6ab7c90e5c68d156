"""Read and write the dataset directory format of ``shared/data/README.md`` as a ``MarketSeries``.

A dataset is a directory with ``meta.json``, ``ohlcv.csv`` (or ``trades.csv``, aggregated here into
5m candles) and optional ``open_interest.csv``, ``funding.csv`` and ``liquidations.csv``.
Empty CSV fields are NaN. ``liquidation_bars.csv`` (liquidated USD per side per bar of ``meta.json``
``liquidation_bar_ms``, no prices) is read on its own by ``load_liquidation_bars``.
Any problem raises ``DatasetError`` with one line naming the file and what is wrong.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from bot.market.dataset_csv import check_times, read_table, write_table
from bot.market.errors import DatasetError, SymbolError
from bot.market.symbols import is_inverse, parse_symbol
from bot.market.types import TIMEFRAME_MS, MarketSeries

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]

log = logging.getLogger(__name__)

TRADES_TIMEFRAME = "5m"
CONTRACTS = ("linear", "inverse")


@dataclass(frozen=True)
class DatasetMeta:
    """The parts of ``meta.json`` the reader uses (``timeframe`` is None when there is no ``ohlcv.csv``)."""

    exchange: str
    symbol: str
    timeframe: str | None
    contract: str
    synthetic: bool
    notes: str
    liquidation_bar_ms: int | None = None


@dataclass(frozen=True)
class LiquidationBars:
    """Liquidated USD per side per fixed bar, without prices (``liquidation_bars.csv``).

    timestamp: (r,) int64 ms UTC, each bar's **open**, ascending, unique; a bar covers ``[timestamp, + bar_ms)``.
    long_usd / short_usd: (r,) USD of long / short positions liquidated in the bar (NaN unknown).
    """

    bar_ms: int
    timestamp: I64
    long_usd: F64
    short_usd: F64


def _symbol_is_inverse(symbol: str) -> bool:
    """True for a coin-settled perpetual in any accepted spelling (``BTC/USD:BTC``, ``BTCUSD``)."""
    try:
        return is_inverse(parse_symbol(symbol))
    except SymbolError:
        return is_inverse(symbol)


def read_meta(directory: Path) -> DatasetMeta:
    """Parse and validate ``directory/meta.json``."""
    path = directory / "meta.json"
    if not path.is_file():
        raise DatasetError(f"{directory}: no meta.json (is this a dataset directory?)")
    try:
        raw: Any = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise DatasetError(f"meta.json in {directory}: not valid JSON ({exc})") from None
    if not isinstance(raw, dict):
        raise DatasetError(f"meta.json in {directory}: expected a JSON object")
    for key in ("exchange", "symbol"):
        if not isinstance(raw.get(key), str) or not raw[key]:
            raise DatasetError(f"meta.json in {directory}: {key!r} must be a non-empty string")
    timeframe = raw.get("timeframe")
    if timeframe is not None and (not isinstance(timeframe, str) or timeframe not in TIMEFRAME_MS):
        raise DatasetError(
            f"meta.json in {directory}: timeframe {timeframe!r} is not one of {', '.join(TIMEFRAME_MS)}"
        )
    bar_ms = raw.get("liquidation_bar_ms")
    if bar_ms is not None and (isinstance(bar_ms, bool) or not isinstance(bar_ms, int) or bar_ms <= 0):
        raise DatasetError(f"meta.json in {directory}: liquidation_bar_ms {bar_ms!r} must be a positive integer (ms)")
    contract = raw.get("contract")
    if contract is None:  # not stated: what the symbol says (``BTC/USD:BTC`` is coin-settled, so inverse)
        contract = "inverse" if _symbol_is_inverse(raw["symbol"]) else "linear"
    if contract not in CONTRACTS:
        raise DatasetError(f"meta.json in {directory}: contract {contract!r} must be 'linear' or 'inverse'")
    return DatasetMeta(
        exchange=raw["exchange"],
        symbol=raw["symbol"],
        timeframe=timeframe,
        contract=contract,
        synthetic=bool(raw.get("synthetic", False)),
        notes=str(raw.get("notes", "")),
        liquidation_bar_ms=bar_ms,
    )


def _candles_from_ohlcv(path: Path, timeframe: str) -> dict[str, Any]:
    t = read_table(
        path, ["timestamp"], ["open", "high", "low", "close", "volume", "taker_buy_volume"]
    )
    ts = t["timestamp"]
    check_times("ohlcv.csv", ts)
    for c in ("open", "high", "low", "close"):
        bad = np.flatnonzero(~(t[c] > 0))
        if bad.size:
            raise DatasetError(f"ohlcv.csv data row {int(bad[0]) + 1}: {c} must be a positive price")
    if ts.shape[0] > 1 and int(np.min(np.diff(ts))) < TIMEFRAME_MS[timeframe]:
        raise DatasetError(f"ohlcv.csv: candles closer together than the timeframe {timeframe} in meta.json")
    return t


def aggregate_trades(
    ts: np.ndarray, price: np.ndarray, amount: np.ndarray, is_buy: np.ndarray, timeframe: str
) -> dict[str, np.ndarray]:
    """Trades → candles of ``timeframe``; only buckets that have trades become candles.

    ts: (t,) int64 ms ascending; price: (t,) USD; amount: (t,) BTC; is_buy: (t,) bool (taker side).
    Returns timestamp (n,) bucket open time, open/high/low/close (n,) USD, volume and
    taker_buy_volume (n,) BTC (sum of amounts, and of amounts whose taker bought).
    """
    tf = TIMEFRAME_MS[timeframe]
    bucket = (ts // tf) * tf
    starts = np.flatnonzero(np.r_[True, bucket[1:] != bucket[:-1]])
    ends = np.r_[starts[1:], ts.shape[0]]
    return {
        "timestamp": bucket[starts].astype(np.int64),
        "open": price[starts].astype(np.float64),
        "high": np.maximum.reduceat(price, starts).astype(np.float64),
        "low": np.minimum.reduceat(price, starts).astype(np.float64),
        "close": price[ends - 1].astype(np.float64),
        "volume": np.add.reduceat(amount, starts).astype(np.float64),
        "taker_buy_volume": np.add.reduceat(np.where(is_buy, amount, 0.0), starts).astype(np.float64),
    }


def _candles_from_trades(path: Path) -> dict[str, Any]:
    t = read_table(path, ["timestamp"], ["price", "amount"], ["side"])
    ts, price, amount, side = t["timestamp"], t["price"], t["amount"], t["side"]
    if ts.size == 0:
        raise DatasetError("trades.csv has no rows: nothing to build candles from")
    check_times("trades.csv", ts, strict=False)
    sides = np.char.lower(side.astype(np.str_))
    bad = np.flatnonzero(~np.isin(sides, ["buy", "sell"]))
    if bad.size:
        raise DatasetError(f"trades.csv data row {int(bad[0]) + 1}: side must be 'buy' or 'sell'")
    bad = np.flatnonzero(~(price > 0) | ~(amount >= 0))
    if bad.size:
        raise DatasetError(f"trades.csv data row {int(bad[0]) + 1}: price/amount must be known and positive")
    return aggregate_trades(ts, price, amount, sides == "buy", TRADES_TIMEFRAME)


def _dataset_directory(path: str | Path) -> Path:
    """``path`` as a ``Path``; raises ``DatasetError`` unless it is an existing directory."""
    directory = Path(path)
    if not directory.exists():
        raise DatasetError(f"dataset directory {directory} does not exist")
    if not directory.is_dir():
        raise DatasetError(f"{directory} is not a directory (expected a dataset directory with meta.json)")
    return directory


def _load_candles(directory: Path, meta: DatasetMeta) -> tuple[str, dict[str, Any]]:
    """(timeframe, candle columns) from ``ohlcv.csv``, else aggregated from ``trades.csv`` into 5m candles.

    The columns are (n,) arrays: ``timestamp`` int64 ms UTC (candle open), ``open``/``high``/``low``/``close``
    price, ``volume``/``taker_buy_volume`` base units. Raises ``DatasetError`` when neither file exists, when
    ``meta.json`` has no timeframe for ``ohlcv.csv``, or when the file has no data rows.
    """
    ohlcv, trades = directory / "ohlcv.csv", directory / "trades.csv"
    if ohlcv.is_file():
        if meta.timeframe is None:
            raise DatasetError(f"meta.json in {directory}: timeframe is null but ohlcv.csv exists")
        timeframe = meta.timeframe
        c = _candles_from_ohlcv(ohlcv, timeframe)
    elif trades.is_file():
        timeframe = TRADES_TIMEFRAME
        c = _candles_from_trades(trades)
        log.info("%s: no ohlcv.csv; aggregated trades.csv into %s candles", directory.name, timeframe)
    else:
        raise DatasetError(f"{directory}: no ohlcv.csv or trades.csv, so there is no market series to load")
    if c["timestamp"].shape[0] == 0:
        raise DatasetError(f"{(ohlcv if ohlcv.is_file() else trades).name} in {directory}: no data rows")
    return timeframe, c


def _load_liquidations(path: Path) -> dict[str, Any]:
    """``liquidations.csv`` as ``MarketSeries`` fields, each (m,): ``liq_timestamp`` int64 ms UTC (not strictly
    increasing), ``liq_side`` int8 +1 long / -1 short, ``liq_price`` price, ``liq_amount`` base units."""
    liq = read_table(path, ["timestamp"], ["price", "amount"], ["side"])
    check_times("liquidations.csv", liq["timestamp"], strict=False)
    side = np.char.lower(liq["side"].astype(np.str_))
    bad = np.flatnonzero(~np.isin(side, ["long", "short"]))
    if bad.size:
        raise DatasetError(f"liquidations.csv data row {int(bad[0]) + 1}: side must be 'long' or 'short'")
    return {
        "liq_timestamp": liq["timestamp"],
        "liq_side": np.where(side == "long", 1, -1).astype(np.int8),
        "liq_price": liq["price"],
        "liq_amount": liq["amount"],
    }


def _load_optional_series(directory: Path) -> dict[str, Any]:
    """The ``MarketSeries`` fields of the optional files that exist: ``open_interest.csv`` (``oi_timestamp`` ms UTC,
    ``oi_usd`` USD), ``funding.csv`` (``funding_timestamp`` ms UTC, ``funding_rate`` per period) and
    ``liquidations.csv`` (see ``_load_liquidations``); each array is 1-D, one entry per data row."""
    extra: dict[str, Any] = {}
    oi_path = directory / "open_interest.csv"
    if oi_path.is_file():
        oi = read_table(oi_path, ["timestamp"], ["open_interest_usd"])
        check_times("open_interest.csv", oi["timestamp"])
        extra.update(oi_timestamp=oi["timestamp"], oi_usd=oi["open_interest_usd"])
    f_path = directory / "funding.csv"
    if f_path.is_file():
        f = read_table(f_path, ["timestamp"], ["funding_rate"])
        check_times("funding.csv", f["timestamp"])
        extra.update(funding_timestamp=f["timestamp"], funding_rate=f["funding_rate"])
    l_path = directory / "liquidations.csv"
    if l_path.is_file():
        extra.update(_load_liquidations(l_path))
    return extra


def _covered_until(candle_open: I64, tf_ms: int, extra: dict[str, Any]) -> int:
    """The latest instant (ms UTC) the data covers: the last candle's close or the last OI / funding /
    liquidation record, whichever is later (``candle_open`` is the (n,) candle open times, n > 0)."""
    ends = [int(candle_open[-1]) + tf_ms] + [
        int(extra[k][-1]) for k in ("oi_timestamp", "funding_timestamp", "liq_timestamp") if k in extra
        if extra[k].shape[0]
    ]
    return max(ends)


def load_dataset(path: str | Path) -> MarketSeries:
    """Load one dataset directory as a ``MarketSeries`` (tiers left empty = use the default table).

    Without ``ohlcv.csv`` but with ``trades.csv``, trades are aggregated into 5m candles (logged).
    ``fetched_at`` is the latest instant the data covers.
    """
    directory = _dataset_directory(path)
    meta = read_meta(directory)
    timeframe, c = _load_candles(directory, meta)
    extra = _load_optional_series(directory)
    return MarketSeries(
        exchange=meta.exchange,
        symbol=meta.symbol,
        timeframe=timeframe,
        timestamp=c["timestamp"],
        open=c["open"],
        high=c["high"],
        low=c["low"],
        close=c["close"],
        volume=c["volume"],
        taker_buy_volume=c["taker_buy_volume"],
        contract=meta.contract,
        synthetic=meta.synthetic,
        fetched_at=_covered_until(c["timestamp"], TIMEFRAME_MS[timeframe], extra),
        **extra,
    )


def load_liquidation_bars(path: str | Path) -> LiquidationBars | None:
    """Read ``liquidation_bars.csv`` (``timestamp,long_usd,short_usd``) of a dataset directory, or None when the
    dataset has none. The bar length is ``meta.json`` ``liquidation_bar_ms`` (required with the file)."""
    directory = Path(path)
    meta = read_meta(directory)
    bars_path = directory / "liquidation_bars.csv"
    if not bars_path.is_file():
        return None
    if meta.liquidation_bar_ms is None:
        raise DatasetError(
            f"meta.json in {directory}: liquidation_bars.csv needs liquidation_bar_ms (the bar length in ms)"
        )
    t = read_table(bars_path, ["timestamp"], ["long_usd", "short_usd"])
    check_times("liquidation_bars.csv", t["timestamp"])
    for c in ("long_usd", "short_usd"):
        bad = np.flatnonzero(t[c] < 0)
        if bad.size:
            raise DatasetError(f"liquidation_bars.csv data row {int(bad[0]) + 1}: {c} must not be negative")
    if t["timestamp"].shape[0] == 0:
        raise DatasetError(f"liquidation_bars.csv in {directory}: no data rows")
    return LiquidationBars(meta.liquidation_bar_ms, t["timestamp"], t["long_usd"], t["short_usd"])


def write_dataset(series: MarketSeries, out_dir: str | Path, source_note: str) -> None:
    """Write ``series`` as a dataset directory (created if needed; files overwritten) that ``load_dataset``
    reads back identically (floats written exactly; NaN as empty fields). Optional files are written only
    when the series has such data. ``source_note`` goes to meta.json ``source``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    meta = {
        "exchange": series.exchange,
        "symbol": series.symbol,
        "timeframe": series.timeframe,
        "contract": series.contract,
        "source": source_note,
        "notes": "SYNTHETIC data from the liqmap simulator" if series.synthetic else "",
        "synthetic": series.synthetic,
    }
    (out / "meta.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    write_table(
        out / "ohlcv.csv",
        ["timestamp", "open", "high", "low", "close", "volume", "taker_buy_volume"],
        [series.timestamp, series.open, series.high, series.low, series.close, series.volume,
         series.taker_buy_volume],
    )
    optional = {
        "open_interest.csv": (["timestamp", "open_interest_usd"], [series.oi_timestamp, series.oi_usd]),
        "funding.csv": (["timestamp", "funding_rate"], [series.funding_timestamp, series.funding_rate]),
        "liquidations.csv": (
            ["timestamp", "side", "price", "amount"],
            [series.liq_timestamp, np.where(series.liq_side > 0, "long", "short"), series.liq_price,
             series.liq_amount],
        ),
    }
    for name, (header, cols) in optional.items():
        path = out / name
        if cols[0].shape[0]:
            write_table(path, header, cols)
        elif path.exists():
            path.unlink()  # a stale file from an earlier write would not match the series
