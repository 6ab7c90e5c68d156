"""Cached market data (candles, open interest, funding) so a restart does not refetch a week of history.

Rows are immutable once stored (closed candles): saving a series inserts only the rows not yet present.
NaN values are stored as NULL and read back as NaN.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from bot.market.types import MarketSeries
from bot.storage.db import upsert_insert
from bot.storage.models import MarketCandle, MarketFunding, MarketOpenInterest, MarketSeriesMeta, table_of

CANDLES = table_of(MarketCandle)
OI = table_of(MarketOpenInterest)
FUNDING = table_of(MarketFunding)
META = table_of(MarketSeriesMeta)
BATCH = 5000
_CANDLE_FIELDS = ("open", "high", "low", "close", "volume", "taker_buy_volume")


def _opt(values: np.ndarray) -> list[float | None]:
    """(n,) float64 → Python floats with NaN as None."""
    return [None if v != v else v for v in values.astype(np.float64).tolist()]


def _existing(s: Session, table: Table, key: dict[str, str], lo: int, hi: int) -> set[int]:
    cond = [table.c[k] == v for k, v in key.items()]
    rows = s.execute(select(table.c.ts).where(*cond, table.c.ts >= lo, table.c.ts <= hi)).scalars().all()
    return {int(t) for t in rows}


def _insert_new(s: Session, table: Table, key: dict[str, str], ts: np.ndarray, cols: dict[str, np.ndarray]) -> int:
    """Insert rows whose ``ts`` is not stored yet for ``key``. ``ts``: (n,) int64 ms; cols: (n,) each."""
    if ts.size == 0:
        return 0
    have = _existing(s, table, key, int(ts.min()), int(ts.max()))
    stamps = ts.astype(np.int64).tolist()
    values = {name: _opt(arr) for name, arr in cols.items()}
    rows: list[dict[str, Any]] = []
    for i, t in enumerate(stamps):
        if t in have:
            continue
        row: dict[str, Any] = {**key, "ts": t}
        for name, vals in values.items():
            row[name] = vals[i]
        rows.append(row)
    for i in range(0, len(rows), BATCH):
        stmt = upsert_insert(s, table).on_conflict_do_nothing()
        s.execute(stmt, rows[i : i + BATCH])
    return len(rows)


def save_series(s: Session, series: MarketSeries) -> int:
    """Store candles, OI and funding of ``series`` that are not cached yet. Returns new candle rows."""
    key = {"exchange": series.exchange, "symbol": series.symbol}
    n = _insert_new(
        s,
        CANDLES,
        {**key, "timeframe": series.timeframe},
        series.timestamp,
        {name: getattr(series, name) for name in _CANDLE_FIELDS},
    )
    _insert_new(s, OI, key, series.oi_timestamp, {"usd": series.oi_usd})
    _insert_new(s, FUNDING, key, series.funding_timestamp, {"rate": series.funding_rate})
    meta = upsert_insert(s, META).values(
        **key,
        timeframe=series.timeframe,
        contract=series.contract,
        synthetic=series.synthetic,
        fetched_at=int(series.fetched_at),
    )
    s.execute(
        meta.on_conflict_do_update(
            index_elements=[META.c.exchange, META.c.symbol, META.c.timeframe],
            set_={"contract": series.contract, "synthetic": series.synthetic, "fetched_at": int(series.fetched_at)},
        )
    )
    return n


def _arrays(rows: Sequence[Any], n_cols: int) -> tuple[np.ndarray, list[np.ndarray]]:
    ts = np.array([r[0] for r in rows], dtype=np.int64)
    cols = [np.array([r[j] for r in rows], dtype=np.float64) for j in range(1, n_cols + 1)]
    return ts, cols


def load_series(
    s: Session, exchange: str, symbol: str, timeframe: str, since_ms: int, until_ms: int
) -> MarketSeries | None:
    """Cached rows with ``since_ms <= ts < until_ms`` (candle open times, ms UTC), or None when no candle is cached.

    Tiers and liquidations are not cached (empty); ``contract``, ``synthetic`` and ``fetched_at`` come from the
    last ``save_series`` of this (exchange, symbol, timeframe).
    """
    c = CANDLES.c
    rows = s.execute(
        select(c.ts, *(c[name] for name in _CANDLE_FIELDS))
        .where(c.exchange == exchange, c.symbol == symbol, c.timeframe == timeframe, c.ts >= since_ms, c.ts < until_ms)
        .order_by(c.ts)
    ).all()
    if not rows:
        return None
    ts, (o, h, lo, cl, vol, tbv) = _arrays(rows, len(_CANDLE_FIELDS))
    window = (since_ms, until_ms)
    oi_ts, (oi_usd,) = _arrays(_side_rows(s, OI, "usd", exchange, symbol, window), 1)
    f_ts, (rate,) = _arrays(_side_rows(s, FUNDING, "rate", exchange, symbol, window), 1)
    meta = s.execute(
        select(META.c.contract, META.c.synthetic, META.c.fetched_at).where(
            META.c.exchange == exchange, META.c.symbol == symbol, META.c.timeframe == timeframe
        )
    ).first()
    return MarketSeries(
        exchange=exchange,
        symbol=symbol,
        timeframe=timeframe,
        timestamp=ts,
        open=o,
        high=h,
        low=lo,
        close=cl,
        volume=vol,
        taker_buy_volume=tbv,
        contract=str(meta.contract) if meta else "linear",
        oi_timestamp=oi_ts,
        oi_usd=oi_usd,
        funding_timestamp=f_ts,
        funding_rate=rate,
        synthetic=bool(meta.synthetic) if meta else False,
        fetched_at=int(meta.fetched_at) if meta else 0,
    )


def _side_rows(
    s: Session, table: Table, col: str, exchange: str, symbol: str, window: tuple[int, int]
) -> Sequence[Any]:
    return s.execute(
        select(table.c.ts, table.c[col])
        .where(table.c.exchange == exchange, table.c.symbol == symbol, table.c.ts >= window[0], table.c.ts < window[1])
        .order_by(table.c.ts)
    ).all()


def latest_candle_ts(s: Session, exchange: str, symbol: str, timeframe: str) -> int | None:
    """Open time (ms UTC) of the newest cached candle, or None — where an incremental fetch should resume."""
    c = CANDLES.c
    return s.execute(
        select(c.ts)
        .where(c.exchange == exchange, c.symbol == symbol, c.timeframe == timeframe)
        .order_by(c.ts.desc())
        .limit(1)
    ).scalar()
