"""Hypothesis fuzzing of the dataset reader (``bot.market.replay.load_dataset``) on generated ``meta.json`` and CSV
files in temporary directories: every rejection is a ``DatasetError`` (a ``LiqmapError``) with one line; every
accepted dataset is sane (ascending times, positive prices) and survives ``write_dataset`` → ``load_dataset``."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from hypothesis import example, given, settings
from hypothesis import strategies as st

from bot.errors import LiqmapError
from bot.market.replay import load_dataset, write_dataset
from bot.market.types import MarketSeries

FUZZ = settings(max_examples=200, deadline=None)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=6,
)
good_meta = st.fixed_dictionaries(
    {"exchange": st.sampled_from(["okx", "bybit", ""]), "symbol": st.sampled_from(["BTC/USDT:USDT", "", "x"])},
    optional={
        "timeframe": st.sampled_from(["1m", "5m", "1h", "7m", None])
        | st.lists(st.just("1m"), max_size=1)
        | json_values,
        "contract": st.sampled_from(["linear", "inverse", "spot"]) | json_values,
        "synthetic": json_values,
        "notes": json_values,
    },
)
meta_text = st.one_of(good_meta.map(json.dumps), json_values.map(json.dumps), st.text(max_size=40))
CELLS = ["1767225600000", "1767225900000", "1767225660000", "1.7672256e12", "60000", "60100.5", "59900", "-1", "0",
         "", "nan", "inf", "1e400", "abc", "buy", "sell", "long", "short", "BUY", "9" * 30, " 5 "]
cell = st.one_of(st.sampled_from(CELLS), st.text(max_size=6))
OHLCV = ["timestamp", "open", "high", "low", "close", "volume", "taker_buy_volume"]
TRADES = ["timestamp", "price", "amount", "side"]


def table(columns: list[str]) -> st.SearchStrategy[str]:
    """A CSV text: the header (columns maybe dropped or shuffled) and up to 6 rows of fuzzed cells."""
    header = st.lists(st.sampled_from([*columns, "extra"]), min_size=0, max_size=len(columns) + 1, unique=True)
    header = st.one_of(st.just(columns), header)
    return header.flatmap(
        lambda h: st.lists(st.lists(cell, min_size=len(h), max_size=len(h)) | st.lists(cell, max_size=3), max_size=6)
        .map(lambda rows: "\n".join([",".join(h)] + [",".join(r) for r in rows]) + "\n")
    )


def ohlcv_rows(n: int) -> str:
    """A valid 1m ohlcv.csv with ``n`` rows (so that other files have something to attach to)."""
    t0 = 1_767_225_600_000
    rows = [f"{t0 + 60_000 * i},60000,60100,59900,60050,12.5,6" for i in range(n)]
    return "\n".join([",".join(OHLCV), *rows]) + "\n"


files = st.fixed_dictionaries(
    {"meta.json": meta_text},
    optional={
        "ohlcv.csv": st.one_of(table(OHLCV), st.integers(1, 5).map(ohlcv_rows)),
        "trades.csv": table(TRADES),
        "open_interest.csv": table(["timestamp", "open_interest_usd"]),
        "funding.csv": table(["timestamp", "funding_rate"]),
        "liquidations.csv": table(["timestamp", "price", "amount", "side"]),
    },
)


def same(a: MarketSeries, b: MarketSeries) -> None:
    for name in ("timestamp", "open", "high", "low", "close", "volume", "oi_timestamp", "funding_rate"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
    assert (a.exchange, a.symbol, a.timeframe, a.contract) == (b.exchange, b.symbol, b.timeframe, b.contract)


GOOD_META = '{"exchange": "okx", "symbol": "BTC/USDT:USDT", "timeframe": "1m"}'


@FUZZ
@given(files, st.booleans())
@example({"meta.json": GOOD_META, "ohlcv.csv": ohlcv_rows(3), "funding.csv": "timestamp,funding_rate\n1,1e-4\n"}, False)
@example({"meta.json": GOOD_META.replace('"1m"', '["1m"]'), "ohlcv.csv": ohlcv_rows(2)}, False)  # was a TypeError
def test_dataset_reader_rejects_cleanly_or_loads_something_sane(contents: dict[str, Any], binary: bool) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp) / "ds"
        directory.mkdir()
        for name, text in contents.items():
            data = str(text).encode("utf-8")
            (directory / name).write_bytes(b"\xff\xfe" + data if binary and name.endswith(".csv") else data)
        try:
            series = load_dataset(directory)
        except LiqmapError as exc:
            assert str(exc) and "\n" not in str(exc), str(exc)
            return
        assert series.n > 0 and np.all(np.diff(series.timestamp) > 0)
        assert np.all(series.low > 0) and np.all(series.close > 0)
        write_dataset(series, Path(tmp) / "again", "fuzz round trip")
        same(series, load_dataset(Path(tmp) / "again"))
