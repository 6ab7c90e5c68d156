"""Turns a platform-neutral ``Reply`` into Telegram messages: a photo with caption and inline keyboard, plain text,
or a monospace table; button presses edit the same message in place (``editMessageMedia``)."""

from __future__ import annotations

import html
import logging

from telegram import Bot, CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, InputMediaPhoto, Message
from telegram.constants import ParseMode
from telegram.error import BadRequest

from bot.chat.reply import ChatRef, Reply
from bot.chat.telegram.notifier import CAPTION_MAX, TEXT_MAX, clip

log = logging.getLogger(__name__)
TOAST_MAX = 200  # answerCallbackQuery text limit


def keyboard(reply: Reply) -> InlineKeyboardMarkup | None:
    """The reply's button rows as an inline keyboard (callback data = the button's action), or None."""
    if not reply.buttons:
        return None
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(b.label, callback_data=b.action) for b in row] for row in reply.buttons]
    )


def chat_ref(chat_id: int, chat_type: str, title: str | None) -> ChatRef:
    """The service's view of a Telegram chat: groups and supergroups are 'group'."""
    kind = "group" if chat_type in ("group", "supergroup") else chat_type
    kind = kind if kind in ("private", "group", "channel") else "private"
    return ChatRef("telegram", str(chat_id), kind, title or "")


async def send_reply(bot: Bot, chat_id: int, reply: Reply, *, monospace: bool = False) -> Message:
    """Post ``reply``: the PNG as a photo with the text as caption and the buttons, else a text message
    (``monospace``: the text as a ``<pre>`` block, for tables)."""
    markup = keyboard(reply)
    if reply.png is not None:
        caption = clip(reply.text, CAPTION_MAX)
        return await bot.send_photo(chat_id, photo=reply.png, caption=caption, reply_markup=markup)
    if monospace:
        body = f"<pre>{html.escape(clip(reply.text, TEXT_MAX - 20))}</pre>"
        return await bot.send_message(chat_id, body, parse_mode=ParseMode.HTML, reply_markup=markup)
    return await bot.send_message(chat_id, clip(reply.text, TEXT_MAX), reply_markup=markup)


async def edit_with_reply(query: CallbackQuery, reply: Reply) -> None:
    """Replace the pressed message's photo, caption and keyboard with ``reply`` (a refresh that changed nothing
    is fine: Telegram's "message is not modified" is ignored)."""
    if reply.png is None:
        await query.answer(clip(reply.text, TOAST_MAX), show_alert=reply.error)
        return
    media = InputMediaPhoto(media=reply.png, caption=clip(reply.text, CAPTION_MAX))
    try:
        await query.edit_message_media(media=media, reply_markup=keyboard(reply))
    except BadRequest as exc:
        if "not modified" not in exc.message.lower():
            raise
    await query.answer()
