"""Where a Discord chat's alerts go: DMs to the user, a server's alerts to its alerts channel.

Chat identities (``chats.external_id`` of platform ``discord``):
- ``user:<user id>`` (kind private): a user's personal alerts, delivered in a DM.
- ``guild:<guild id>`` (kind group): a server's alerts, delivered to its alerts channel.
- ``<channel id>`` (kind channel): a channel addressed directly.

A server's alerts channel is the ``deliver_to`` of its ``guild:<guild id>`` chat; clearing it deactivates that
chat (its subscriptions are kept and resume when the channel is set again).
"""

from __future__ import annotations

import asyncio

from bot.chat.reply import ChatRef
from bot.storage import chats
from bot.storage.db import Database

PLATFORM = "discord"


def user_chat(user_id: int, name: str = "") -> ChatRef:
    """The chat of a user's personal (DM) alerts."""
    return ChatRef(PLATFORM, f"user:{user_id}", "private", name)


def guild_chat(guild_id: int, name: str = "") -> ChatRef:
    """The chat of a server's alerts (whichever channel the command was typed in)."""
    return ChatRef(PLATFORM, f"guild:{guild_id}", "group", name)


class RouteBook:
    """Reads and writes servers' alerts channels (blocking DB work runs in a thread)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def _get(self, guild_id: str) -> int | None:
        with self.db.session() as s:
            rec = chats.find_chat(s, PLATFORM, guild_chat(int(guild_id)).external_id)
        if rec is None or not rec.active or not (rec.deliver_to or "").isdigit():
            return None
        return int(rec.deliver_to or 0)

    async def channel_for(self, guild_id: int | str) -> int | None:
        """The alerts channel id of the server, or None when none is set."""
        return await asyncio.to_thread(self._get, str(guild_id))

    async def set(self, guild_id: int, channel_id: int) -> None:
        """Route the server's alerts to ``channel_id`` (also re-enables a route disabled by a 403/404)."""

        def write() -> None:
            with self.db.session() as s:
                server = guild_chat(guild_id)
                rec = chats.upsert_chat(s, PLATFORM, server.external_id, server.kind)
                chats.set_deliver_to(s, rec.id, str(channel_id))

        await asyncio.to_thread(write)

    async def clear(self, guild_id: int) -> bool:
        """Stop the server's alerts: the route is removed and the server's chat deactivated (its subscriptions are
        kept and resume when an alert command or ``/alerts-channel set`` is used again); False when none was set."""

        def write() -> bool:
            with self.db.session() as s:
                server = chats.find_chat(s, PLATFORM, guild_chat(guild_id).external_id)
                if server is None or not server.active or not server.deliver_to:
                    return False
                chats.set_deliver_to(s, server.id, None)
                chats.deactivate_chat(s, server.id, "alerts channel cleared")
                return True

        return await asyncio.to_thread(write)
