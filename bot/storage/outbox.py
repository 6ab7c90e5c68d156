"""The alert outbox: enqueue once (unique ``dedupe_key``), claim rows for one worker, record the outcome.

Delivery states: ``queued`` → (claim) ``sending`` → ``sent`` | ``queued`` (retry later) | ``failed``.
A claim is a lease: ``claimed_by`` = worker id, ``claimed_until`` = ms UTC after which another worker may
reclaim the row (the first one crashed). Only the claim holder can move a ``sending`` row on, so nothing
is marked sent unless the worker that sent it says so.

Claiming is race-free on both dialects: PostgreSQL locks candidate rows with ``FOR UPDATE SKIP LOCKED``
inside one ``UPDATE ... RETURNING``; SQLite runs the same ``UPDATE ... RETURNING`` in a ``BEGIN IMMEDIATE``
transaction, so claims are serialised by the database write lock.
"""

from __future__ import annotations

from dataclasses import asdict

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm import Session

from bot.storage.db import Database, upsert_insert
from bot.storage.models import Alert, table_of
from bot.storage.records import ALERT_STATES, AlertRec, NewAlert

ALERTS = table_of(Alert)
ERROR_MAX_CHARS = 2000


def enqueue(s: Session, alerts: list[NewAlert]) -> int:
    """Insert the alerts as ``queued``; a ``dedupe_key`` already present (or repeated) is skipped.

    Returns the number of rows actually inserted.
    """
    if not alerts:
        return 0
    rows = []
    for a in alerts:
        row = asdict(a)
        if row["next_attempt_at"] is None:
            row["next_attempt_at"] = a.created_at
        row.update(state="queued", attempts=0)
        rows.append(row)
    stmt = upsert_insert(s, ALERTS).on_conflict_do_nothing(index_elements=[ALERTS.c.dedupe_key]).returning(ALERTS.c.id)
    return len(s.execute(stmt, rows).all())


def claim(db: Database, worker_id: str, limit: int, now_ms: int, lease_ms: int) -> list[AlertRec]:
    """Claim up to ``limit`` due alerts for ``worker_id`` in their own committed transaction.

    Due = ``queued`` with ``next_attempt_at <= now_ms``, or ``sending`` whose claim expired
    (``claimed_until < now_ms``: its worker crashed). Claimed rows become ``sending`` with
    ``claimed_by=worker_id``, ``claimed_until=now_ms + lease_ms`` and ``attempts + 1``.
    Two workers never get the same row. Returned oldest first.
    """
    if limit <= 0:
        return []
    due = or_(
        and_(ALERTS.c.state == "queued", ALERTS.c.next_attempt_at <= now_ms),
        and_(ALERTS.c.state == "sending", ALERTS.c.claimed_until < now_ms),
    )
    pick = select(ALERTS.c.id).where(due).order_by(ALERTS.c.next_attempt_at, ALERTS.c.id).limit(limit)
    if db.dialect == "postgresql":
        pick = pick.with_for_update(skip_locked=True)
    picked = pick.cte("picked")
    stmt = (
        update(ALERTS)
        # ``due`` again in the outer WHERE: under READ COMMITTED, a row another worker claimed and committed meanwhile
        # is re-checked against its new version (state 'sending') and skipped, so no row is ever claimed twice.
        .where(ALERTS.c.id == picked.c.id, due)
        .values(
            state="sending",
            claimed_by=worker_id,
            claimed_until=now_ms + lease_ms,
            attempts=ALERTS.c.attempts + 1,
        )
        .returning(*ALERTS.c)
    )
    with db.session() as s:
        rows = s.execute(stmt).all()
    recs = [AlertRec(**row._mapping) for row in rows]
    recs.sort(key=lambda r: (r.next_attempt_at, r.id))
    return recs


def _finish(s: Session, alert_id: int, worker_id: str, **values: object) -> bool:
    result = s.execute(
        update(ALERTS)
        .where(ALERTS.c.id == alert_id, ALERTS.c.state == "sending", ALERTS.c.claimed_by == worker_id)
        .values(**values)
    )
    return bool(getattr(result, "rowcount", 0))


def mark_sent(s: Session, alert_id: int, worker_id: str, message_id: str, now: int) -> bool:
    """``sending`` → ``sent`` with the platform message id, only if ``worker_id`` still holds the claim.

    Returns False (and changes nothing) when the claim was lost (expired and reclaimed by another worker).
    """
    return _finish(s, alert_id, worker_id, state="sent", message_id=str(message_id), sent_at=now, claimed_until=None)


def mark_retry(s: Session, alert_id: int, worker_id: str, error: str, next_attempt_at: int) -> bool:
    """``sending`` → ``queued`` again, due at ``next_attempt_at`` (ms UTC), remembering the error."""
    return _finish(
        s,
        alert_id,
        worker_id,
        state="queued",
        last_error=error[:ERROR_MAX_CHARS],
        next_attempt_at=next_attempt_at,
        claimed_by=None,
        claimed_until=None,
    )


def mark_failed(s: Session, alert_id: int, worker_id: str, error: str) -> bool:
    """``sending`` → ``failed`` (no more attempts), remembering the error."""
    return _finish(s, alert_id, worker_id, state="failed", last_error=error[:ERROR_MAX_CHARS], claimed_until=None)


def get_alert(s: Session, alert_id: int) -> AlertRec | None:
    """One outbox row, or None."""
    row = s.execute(select(ALERTS).where(ALERTS.c.id == alert_id)).first()
    return AlertRec(**row._mapping) if row is not None else None


def list_alerts(
    s: Session, *, chat_id: int | None = None, state: str | None = None, limit: int = 100
) -> list[AlertRec]:
    """Newest outbox rows first, optionally for one chat and/or state."""
    q = select(ALERTS).order_by(ALERTS.c.id.desc()).limit(limit)
    if chat_id is not None:
        q = q.where(ALERTS.c.chat_id == chat_id)
    if state is not None:
        q = q.where(ALERTS.c.state == state)
    return [AlertRec(**row._mapping) for row in s.execute(q).all()]


def counts(s: Session) -> dict[str, int]:
    """Rows per delivery state; every state is present (0 when none)."""
    out = dict.fromkeys(ALERT_STATES, 0)
    for state, n in s.execute(select(ALERTS.c.state, func.count()).group_by(ALERTS.c.state)).all():
        out[str(state)] = int(n)
    return out


def next_due_ms(s: Session) -> int | None:
    """When the next queued alert is due, or the next claim expires (UTC ms); None when nothing is pending."""
    queued = s.execute(select(func.min(ALERTS.c.next_attempt_at)).where(ALERTS.c.state == "queued")).scalar()
    claimed = s.execute(select(func.min(ALERTS.c.claimed_until)).where(ALERTS.c.state == "sending")).scalar()
    times = [int(t) for t in (queued, claimed) if t is not None]
    return min(times) if times else None
