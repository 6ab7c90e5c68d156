"""The periodic job's outcome per tick, stored so that every replica's ``/status`` and ``/healthz`` tell the truth
(not only the replica that holds the job lease)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.storage.models import JobTick, table_of

TICKS = table_of(JobTick)


@dataclass(frozen=True)
class KeyStatus:
    """Outcome of one tick for one (symbol, window): as-of ms, price USD, the exchanges in the map and those left
    out (failed or stale, with no data of theirs in the map), alerts queued, and an error when nothing could be
    evaluated."""

    symbol: str
    window: str
    at: int
    price: float
    exchanges: tuple[str, ...]
    missing_exchanges: tuple[str, ...]
    alerts_queued: int
    synthetic: bool
    error: str = ""

    @property
    def fresh(self) -> bool:
        """True when alerts were evaluated from this map (live data of at least one exchange)."""
        return not self.error

    def to_json(self) -> dict[str, Any]:
        """A JSON-safe dict (NaN price as null)."""
        out = asdict(self)
        out["price"] = self.price if self.price == self.price else None
        return out

    @staticmethod
    def from_json(d: dict[str, Any]) -> KeyStatus:
        """Inverse of ``to_json``."""
        return KeyStatus(
            symbol=d["symbol"], window=d["window"], at=int(d["at"]),
            price=float("nan") if d.get("price") is None else float(d["price"]),
            exchanges=tuple(d["exchanges"]), missing_exchanges=tuple(d["missing_exchanges"]),
            alerts_queued=int(d["alerts_queued"]), synthetic=bool(d["synthetic"]), error=str(d.get("error", "")),
        )


@dataclass(frozen=True)
class TickRec:
    """One stored tick: when it ran (UTC ms), when the next one is due, who ran it, whether any data arrived."""

    at: int
    next_at: int
    holder: str
    ok: bool
    keys: tuple[KeyStatus, ...]


def save_tick(s: Session, tick: TickRec) -> None:
    """Store one tick."""
    s.execute(
        TICKS.insert().values(
            at=tick.at, next_at=tick.next_at, holder=tick.holder, ok=tick.ok,
            keys=json.dumps([k.to_json() for k in tick.keys], separators=(",", ":")),
        )
    )


def _rec(row: Any) -> TickRec:
    r = row._mapping
    keys = tuple(KeyStatus.from_json(k) for k in json.loads(r["keys"]))
    return TickRec(at=int(r["at"]), next_at=int(r["next_at"]), holder=str(r["holder"]), ok=bool(r["ok"]), keys=keys)


def tick_stored(s: Session, at: int) -> bool:
    """True when some replica stored a tick at exactly ``at`` (UTC ms)."""
    return s.execute(select(TICKS.c.id).where(TICKS.c.at == at).limit(1)).first() is not None


def latest_tick(s: Session, *, ok_only: bool = False) -> TickRec | None:
    """The newest stored tick (or the newest in which market data arrived)."""
    q = select(TICKS)
    if ok_only:
        q = q.where(TICKS.c.ok.is_(True))
    row = s.execute(q.order_by(TICKS.c.at.desc(), TICKS.c.id.desc()).limit(1)).first()
    return None if row is None else _rec(row)
