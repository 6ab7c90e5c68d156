"""Real liquidation events (table ``liquidation_events``): insert ignoring the repeats a reconnect delivers, read the
prints of a (symbol, interval) for maps, sweep alerts, ``liqmap record`` and the self-score (``bot.storage.retention``
prunes old ones).

Units: UTC ms, USD, amounts in the base coin. ``side`` is the side of the liquidated position ('long' | 'short').
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass

import numpy as np
from sqlalchemy import func, select

from bot.model.context import LiquidationPrints
from bot.storage.db import Database, upsert_insert
from bot.storage.models import LiquidationEvent, SelfScore, table_of

EVENTS = table_of(LiquidationEvent)
INSERT_CHUNK = 500  # rows per INSERT statement (9 bound values each: well under SQLite's variable limit)
HOUR_MS = 3_600_000


@dataclass(frozen=True)
class LiqRow:
    """One liquidation as stored: ``ts`` UTC ms, ``price`` USD, ``amount`` base coin, ``usd`` notional USD."""

    exchange: str
    symbol: str
    ts: int
    side: str  # 'long' | 'short': the liquidated position
    price: float
    amount: float
    usd: float
    lower_bound: bool = False


def insert_events(db: Database, rows: Sequence[LiqRow]) -> int:
    """Insert ``rows``, skipping any already stored (same exchange, symbol, ts, side, price, amount); returns how
    many were new. One transaction, ``INSERT ... ON CONFLICT DO NOTHING`` on SQLite and PostgreSQL alike."""
    if not rows:
        return 0
    added = 0
    with db.session() as s:
        for start in range(0, len(rows), INSERT_CHUNK):
            chunk = [asdict(r) for r in rows[start:start + INSERT_CHUNK]]
            stmt = upsert_insert(s, EVENTS).values(chunk).on_conflict_do_nothing().returning(EVENTS.c.id)
            added += len(s.execute(stmt).all())  # RETURNING: rowcount is -1 for this on psycopg
    return added


def _select(symbol: str, since_ms: int, until_ms: int, exchanges: Iterable[str] | None = None) -> object:
    wanted = [EVENTS.c.symbol == symbol, EVENTS.c.ts > since_ms, EVENTS.c.ts <= until_ms]
    if exchanges is not None:
        wanted.append(EVENTS.c.exchange.in_(tuple(exchanges)))
    return select(EVENTS.c.ts, EVENTS.c.price, EVENTS.c.usd, EVENTS.c.side, EVENTS.c.exchange,
                  EVENTS.c.lower_bound, EVENTS.c.amount).where(*wanted).order_by(EVENTS.c.ts, EVENTS.c.id)


def load_prints(db: Database, symbol: str, since_ms: int, until_ms: int,
                exchanges: Iterable[str] | None = None) -> LiquidationPrints:
    """The stored events of ``symbol`` with ``since_ms < ts <= until_ms`` (of ``exchanges`` only, when given), time
    ascending, as ``LiquidationPrints`` (k,) arrays; ``lower_bound`` when any came from a throttled feed."""
    with db.session() as s:
        rows = s.execute(_select(symbol, since_ms, until_ms, exchanges)).all()  # type: ignore[call-overload]
    return prints_of(rows)


def prints_of(rows: Sequence[Sequence[object]]) -> LiquidationPrints:
    """``LiquidationPrints`` from (ts, price, usd, side, exchange, lower_bound, ...) rows."""
    k = len(rows)
    return LiquidationPrints(
        time_ms=np.fromiter((int(r[0]) for r in rows), np.int64, k),  # type: ignore[call-overload]
        price=np.fromiter((float(r[1]) for r in rows), np.float64, k),  # type: ignore[arg-type]
        usd=np.fromiter((float(r[2]) for r in rows), np.float64, k),  # type: ignore[arg-type]
        is_long=np.fromiter((r[3] == "long" for r in rows), np.bool_, k),
        exchanges=tuple(sorted({str(r[4]) for r in rows})),
        lower_bound=any(bool(r[5]) for r in rows),
        source="stream",
    )


def load_rows(db: Database, exchange: str, symbol: str, since_ms: int, until_ms: int) -> list[LiqRow]:
    """The stored events of one exchange and symbol with ``since_ms < ts <= until_ms``, time ascending."""
    with db.session() as s:
        rows = s.execute(_select(symbol, since_ms, until_ms, [exchange])).all()  # type: ignore[call-overload]
    return [LiqRow(str(r[4]), symbol, int(r[0]), str(r[3]), float(r[1]), float(r[6]), float(r[2]), bool(r[5]))
            for r in rows]


def hours_covered(db: Database, symbol: str, since_ms: int, until_ms: int) -> list[int]:
    """Start (UTC ms) of every clock hour in ``(since_ms, until_ms]`` holding at least one stored event of
    ``symbol``, ascending: the hours a self-score can use."""
    with db.session() as s:
        rows = s.execute(
            select((EVENTS.c.ts / HOUR_MS).label("h")).where(
                EVENTS.c.symbol == symbol, EVENTS.c.ts > since_ms, EVENTS.c.ts <= until_ms
            ).distinct()
        ).scalars().all()
    return sorted({int(h) * HOUR_MS for h in rows})


def count_events(db: Database, symbol: str | None = None) -> int:
    """How many events are stored (of ``symbol`` when given)."""
    with db.session() as s:
        q = select(func.count()).select_from(EVENTS)
        if symbol is not None:
            q = q.where(EVENTS.c.symbol == symbol)
        return int(s.execute(q).scalar_one())



@dataclass(frozen=True)
class SelfScoreRec:
    """One daily self-score (see ``bot.alerts.self_score``): figures None when too few observations."""

    at: int
    symbol: str
    window: str
    hours: float
    n: int
    range_spearman_map: float | None
    range_spearman_reach: float | None
    range_partial: float | None


def save_self_score(db: Database, rec: SelfScoreRec) -> None:
    """Store one self-score row."""
    with db.session() as s:
        s.add(SelfScore(**asdict(rec)))


def latest_self_score(db: Database, symbol: str | None = None) -> SelfScoreRec | None:
    """The newest self-score (of ``symbol`` when given), or None."""
    with db.session() as s:
        q = select(SelfScore).order_by(SelfScore.at.desc(), SelfScore.id.desc()).limit(1)
        if symbol is not None:
            q = q.where(SelfScore.symbol == symbol)
        row = s.execute(q).scalar_one_or_none()
        if row is None:
            return None
        return SelfScoreRec(row.at, row.symbol, row.window, row.hours, row.n, row.range_spearman_map,
                            row.range_spearman_reach, row.range_partial)
