"""Named expiring leases: "recompute" (exactly one replica runs the periodic job per tick), "telegram-updates" and
"discord-gateway" (exactly one replica receives the platform's updates; see ``bot.chat.gateway_lease``).

One atomic statement on both dialects: ``INSERT ... ON CONFLICT (name) DO UPDATE ... WHERE leases.until < now
OR leases.holder = me RETURNING holder``. A row comes back only when the caller now holds the lease.
"""

from __future__ import annotations

from sqlalchemy import delete, or_, select

from bot.storage.db import Database, upsert_insert
from bot.storage.models import Lease, table_of

LEASES = table_of(Lease)


def try_acquire(db: Database, name: str, holder: str, ttl_ms: int, now_ms: int) -> bool:
    """Take or renew the lease ``name`` for ``holder`` until ``now_ms + ttl_ms``.

    True when ``holder`` holds it afterwards: it was free, expired (``until < now_ms``) or already ours.
    """
    with db.session() as s:
        ins = upsert_insert(s, LEASES).values(name=name, holder=holder, until=now_ms + ttl_ms)
        stmt = ins.on_conflict_do_update(
            index_elements=[LEASES.c.name],
            set_={"holder": ins.excluded.holder, "until": ins.excluded.until},
            where=or_(LEASES.c.until < now_ms, LEASES.c.holder == holder),
        ).returning(LEASES.c.holder)
        return s.execute(stmt).first() is not None


def release(db: Database, name: str, holder: str) -> bool:
    """Give the lease up if ``holder`` holds it (so another replica need not wait for expiry)."""
    with db.session() as s:
        result = s.execute(delete(LEASES).where(LEASES.c.name == name, LEASES.c.holder == holder))
        return bool(getattr(result, "rowcount", 0))


def lease_holder(db: Database, name: str, now_ms: int) -> str | None:
    """Who holds ``name`` right now (None when free or expired)."""
    with db.session() as s:
        row = s.execute(select(LEASES.c.holder, LEASES.c.until).where(LEASES.c.name == name)).first()
    if row is None or row.until < now_ms:
        return None
    return str(row.holder)
