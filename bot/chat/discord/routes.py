"""Where a Discord chat's alerts go: DMs to the user, a server's alerts to its alerts channel.

Chat identities (``chats.external_id`` of platform ``discord``):
- ``user:<user id>`` (kind private): a user's personal alerts, delivered in a DM.
- ``guild:<guild id>`` (kind group): a server's alerts, delivered to its alerts channel.
- ``<channel id>`` (kind channel): a channel addressed directly.

Until storage has a column for it, a server's alerts channel is kept in a chat row of its own:
``route:<guild id>`` (kind channel) whose ``title`` is the channel id; clearing deactivates that row.
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


def route_key(guild_id: int | str) -> str:
    return f"route:{guild_id}"


class RouteBook:
    """Reads and writes servers' alerts channels (blocking DB work runs in a thread)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def _get(self, guild_id: str) -> int | None:
        with self.db.session() as s:
            rec = chats.find_chat(s, PLATFORM, route_key(guild_id))
        if rec is None or not rec.active or not rec.title.isdigit():
            return None
        return int(rec.title)

    async def channel_for(self, guild_id: int | str) -> int | None:
        """The alerts channel id of the server, or None when none is set."""
        return await asyncio.to_thread(self._get, str(guild_id))

    async def set(self, guild_id: int, channel_id: int) -> None:
        """Route the server's alerts to ``channel_id`` (also re-enables a route disabled by a 403/404)."""

        def write() -> None:
            with self.db.session() as s:
                chats.upsert_chat(s, PLATFORM, route_key(guild_id), "channel", str(channel_id))

        await asyncio.to_thread(write)

    async def clear(self, guild_id: int) -> bool:
        """Stop the server's alerts: the route and the server's chat are deactivated (its subscriptions are kept and
        resume when an alert command or ``/alerts-channel set`` is used again); False when no channel was set."""

        def write() -> bool:
            with self.db.session() as s:
                rec = chats.find_chat(s, PLATFORM, route_key(guild_id))
                if rec is None or not rec.active:
                    return False
                chats.deactivate_chat(s, rec.id, "alerts channel cleared")
                server = chats.find_chat(s, PLATFORM, guild_chat(guild_id).external_id)
                if server is not None:
                    chats.deactivate_chat(s, server.id, "alerts channel cleared")
                return True

        return await asyncio.to_thread(write)
