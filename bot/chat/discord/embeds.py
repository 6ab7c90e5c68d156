"""How a ``Reply`` and an alert text look on Discord: embeds (coloured by side), the PNG attachment, map buttons.

Pure formatting: no network, no business logic (the texts come from ``bot.chat.reply`` and ``bot.alerts.messages``).
"""

from __future__ import annotations

import io
import re
from typing import Any

import discord

from bot.chat.reply import Reply

IMAGE_NAME = "liqmap.png"
CONTENT_LIMIT = 2000  # characters of a Discord message's content
TITLE_LIMIT = 256
DESCRIPTION_LIMIT = 4096
FIELD_COUNT_LIMIT = 25  # fields per embed
FIELD_NAME_LIMIT = 256
FIELD_VALUE_LIMIT = 1024
LONG_COLOUR = discord.Colour.red()  # long clusters sit below price: a sweep liquidates longs
SHORT_COLOUR = discord.Colour.green()
NEUTRAL_COLOUR = discord.Colour.blurple()


def clip(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters (with an ellipsis when cut)."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def side_colour(side: str | None) -> discord.Colour:
    """Red for long clusters, green for short clusters, blurple otherwise."""
    return {"long": LONG_COLOUR, "short": SHORT_COLOUR}.get(side or "", NEUTRAL_COLOUR)


def png_file(png: bytes) -> discord.File:
    """The PNG as an upload named ``liqmap.png`` (referenced by embeds as ``attachment://liqmap.png``)."""
    return discord.File(io.BytesIO(png), filename=IMAGE_NAME)


def text_embed(text: str, colour: discord.Colour, *, with_image: bool) -> discord.Embed:
    """First line as the title, the rest as the description; the attached image when ``with_image``."""
    head, _, rest = text.partition("\n")
    embed = discord.Embed(
        title=clip(head, TITLE_LIMIT), description=clip(rest, DESCRIPTION_LIMIT) or None, colour=colour
    )
    if with_image:
        embed.set_image(url=f"attachment://{IMAGE_NAME}")
    return embed


def alert_embed(text: str, side: str | None, *, with_image: bool) -> discord.Embed:
    """An alert (zone, USD, distance, squeeze-risk score and reasons) coloured by the cluster's ``side``."""
    return text_embed(text, side_colour(side), with_image=with_image)


def map_embed(reply: Reply) -> discord.Embed:
    """The ``/liqmap`` answer: the caption (top clusters, context, exchanges, time) above the heatmap image, and the
    context (open interest, funding per exchange, long/short ratio, realized liquidations) as fields."""
    embed = text_embed(reply.text, NEUTRAL_COLOUR, with_image=reply.png is not None)
    for name, value in reply.fields[:FIELD_COUNT_LIMIT]:
        embed.add_field(name=clip(name, FIELD_NAME_LIMIT), value=clip(value, FIELD_VALUE_LIMIT), inline=True)
    return embed


def code_block(text: str) -> str:
    """Monospaced text (the ``/levels`` table keeps its columns), within the content limit."""
    return f"```\n{clip(text, CONTENT_LIMIT - 8)}\n```"


BUTTON_TEMPLATE = r"(?P<action>liqmap\|[^|]+\|[^|]+\|[^|]+)(?:\|\d+)?"  # an action, made unique by |n


class MapButton(discord.ui.DynamicItem[discord.ui.Button[discord.ui.View]], template=BUTTON_TEMPLATE):
    """A persistent window/kind/refresh button; its ``custom_id`` is the ``Reply`` button's action string, plus
    ``|<n>`` when the same action appears twice in one message (Discord wants unique ids: "24h" and "refresh").

    The bot registers this class with ``add_dynamic_items``, so buttons keep working after a restart.
    """

    def __init__(self, label: str, action: str, custom_id: str = "") -> None:
        button: discord.ui.Button[discord.ui.View] = discord.ui.Button(
            label=label, custom_id=custom_id or action, style=discord.ButtonStyle.secondary
        )
        super().__init__(button)
        self.action = action

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> MapButton:
        return cls(str(getattr(item, "label", "") or ""), match.group("action"), match.group(0))

    async def callback(self, interaction: discord.Interaction) -> None:
        handler = getattr(interaction.client, "on_map_button", None)
        if handler is not None:
            await handler(interaction, self.action)


def map_view(reply: Reply) -> discord.ui.View | None:
    """Rows of ``MapButton`` for the reply's buttons, or None when it has none."""
    if not reply.buttons:
        return None
    view = discord.ui.View(timeout=None)
    used: set[str] = set()
    for row_index, row in enumerate(reply.buttons[:5]):
        for button in row[:5]:
            custom_id = button.action
            while custom_id in used:
                custom_id = f"{button.action}|{len(used)}"
            used.add(custom_id)
            item = MapButton(button.label, button.action, custom_id)
            item.item.row = row_index
            view.add_item(item)
    return view
