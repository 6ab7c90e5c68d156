"""Chats repository: register a chat when it talks to the bot, deactivate it when it blocks/removes the bot, move it
when the platform gives it a new id (a Telegram group upgraded to a supergroup)."""

from __future__ import annotations

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from bot.clock import wall_ms as now_ms
from bot.errors import LiqmapError
from bot.storage.db import upsert_insert
from bot.storage.models import Alert, Chat, Subscription
from bot.storage.records import CHAT_KINDS, PLATFORMS, ChatRec


def _rec(c: Chat) -> ChatRec:
    return ChatRec(
        id=c.id,
        platform=c.platform,
        external_id=c.external_id,
        kind=c.kind,
        title=c.title,
        active=c.active,
        blocked_reason=c.blocked_reason,
        created_at=c.created_at,
        deliver_to=c.deliver_to,
    )


def upsert_chat(
    s: Session, platform: str, external_id: str, kind: str, title: str = "", *, at_ms: int | None = None
) -> ChatRec:
    """Create or refresh the chat (platform, external_id); a chat that talks to us again becomes active again."""
    if platform not in PLATFORMS:
        raise LiqmapError(f"unknown platform {platform!r}; use one of {', '.join(PLATFORMS)}")
    if kind not in CHAT_KINDS:
        raise LiqmapError(f"unknown chat kind {kind!r}; use one of {', '.join(CHAT_KINDS)}")
    external_id = str(external_id)
    title = title[:255]
    stmt = upsert_insert(s, Chat).values(
        platform=platform,
        external_id=external_id,
        kind=kind,
        title=title,
        active=True,
        blocked_reason=None,
        created_at=now_ms() if at_ms is None else at_ms,
    )
    changes: dict[str, object] = {"kind": kind, "active": True, "blocked_reason": None}
    if title:
        changes["title"] = title
    stmt = stmt.on_conflict_do_update(index_elements=[Chat.platform, Chat.external_id], set_=changes)
    s.execute(stmt)
    chat = s.scalars(
        select(Chat)
        .where(Chat.platform == platform, Chat.external_id == external_id)
        .execution_options(populate_existing=True)
    ).one()
    return _rec(chat)


def get_chat(s: Session, chat_id: int) -> ChatRec | None:
    """The chat with this id, or None."""
    chat = s.get(Chat, chat_id)
    return _rec(chat) if chat is not None else None


def get_chats(s: Session, chat_ids: list[int]) -> dict[int, ChatRec]:
    """Chats by id (missing ids are simply absent)."""
    if not chat_ids:
        return {}
    rows = s.scalars(select(Chat).where(Chat.id.in_(sorted(set(chat_ids))))).all()
    return {c.id: _rec(c) for c in rows}


def find_chat(s: Session, platform: str, external_id: str) -> ChatRec | None:
    """The chat (platform, external_id), or None."""
    chat = s.scalars(select(Chat).where(Chat.platform == platform, Chat.external_id == str(external_id))).first()
    return _rec(chat) if chat is not None else None


def deactivate_chat(s: Session, chat_id: int, reason: str) -> int:
    """Mark the chat inactive (it blocked or removed the bot) and fail its still-queued alerts.

    Its subscriptions keep their ``enabled`` flag but are no longer returned by ``subscriptions_for`` or
    ``active_keys`` (they resume if the chat talks to the bot again). Returns the number of queued alerts failed.
    """
    reason = reason[:255]
    s.execute(update(Chat).where(Chat.id == chat_id).values(active=False, blocked_reason=reason))
    result = s.execute(
        update(Alert)
        .where(Alert.chat_id == chat_id, Alert.state == "queued")
        .values(state="failed", last_error=f"chat inactive: {reason}")
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def set_deliver_to(s: Session, chat_id: int, deliver_to: str | None) -> bool:
    """Route the chat's messages to ``deliver_to`` (e.g. a Discord channel id), or back to itself with None."""
    result = s.execute(update(Chat).where(Chat.id == chat_id).values(deliver_to=deliver_to))
    return bool(getattr(result, "rowcount", 0))


def move_chat(s: Session, platform: str, chat_id: int, new_external_id: str) -> ChatRec | None:
    """The chat ``chat_id`` now lives at ``new_external_id`` (Telegram: a group upgraded to a supergroup): its
    subscriptions and outbox rows (pending and past) go with it. Returns the chat at the new id.

    Usually the row just takes the new id. When the new id is registered already (someone used the bot in the
    supergroup first), the old chat merges into it: subscriptions and alerts move over (the per-chat alert limit is
    not applied to a merge) and the old row is deleted. Idempotent, and safe when two workers move the same chat
    (both rows are locked; the later one finds it moved). None when neither chat exists.
    """
    new_external_id = str(new_external_id)
    old = s.scalars(select(Chat).where(Chat.id == chat_id).with_for_update()).first()
    target = s.scalars(
        select(Chat).where(Chat.platform == platform, Chat.external_id == new_external_id).with_for_update()
    ).first()
    if old is None or old.id == (target.id if target is not None else None):
        return _rec(target) if target is not None else None
    if target is None:
        old.external_id = new_external_id
        s.flush()
        return _rec(old)
    s.execute(update(Subscription).where(Subscription.chat_id == old.id).values(chat_id=target.id))
    s.execute(
        update(Alert).where(Alert.chat_id == old.id).values(chat_id=target.id).execution_options(
            synchronize_session=False
        )
    )
    if not target.title and old.title:
        target.title = old.title
    s.execute(delete(Chat).where(Chat.id == old.id))
    s.flush()
    return _rec(target)
