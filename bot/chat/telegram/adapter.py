"""Telegram handlers: each command or button press becomes one ``ChatService`` call whose ``Reply`` is posted back.

No business logic lives here. The adapter adds only what is Telegram's own: the command menu, ``@botname``
suffixes (PTB's ``CommandHandler``), the per-user image rate limit, the group-admin check for alert changes, and an
apology instead of a traceback when something unexpected fails.
"""

from __future__ import annotations

import logging
from typing import Any

from telegram import BotCommand, Update
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, ContextTypes

from bot.chat.limits import try_again_text
from bot.chat.parse import ADD_EXAMPLE, shown
from bot.chat.reply import DISCLAIMER, ChatRef, Reply, parse_action
from bot.chat.service import SORRY, ChatService
from bot.chat.telegram.limits import AdminCheck, UserRateLimit
from bot.chat.telegram.replies import chat_ref, edit_with_reply, send_reply
from bot.model.types import WINDOWS
from bot.render import KINDS

log = logging.getLogger(__name__)
Context = ContextTypes.DEFAULT_TYPE
INTRO = (
    "Hi! I'm liqmap: I estimate where leveraged BTC perpetual positions would be liquidated and draw it as a "
    "heatmap. Try /liqmap, /levels or /alert add BTC 1.5%. /help lists everything.\n" + DISCLAIMER
)
GROUP_NOTE = ("In groups only admins may change the group's alerts.",)
COMMANDS = (
    ("liqmap", "Liquidation heatmap: /liqmap BTC 24h"),
    ("levels", "Nearest and largest clusters as text"),
    ("risk", "Your position's liquidation risk: /risk long 62000 20x"),
    ("alert", "Alerts: add, test, list, remove, pause, resume"),
    ("settings", "Your alert settings"),
    ("status", "Data freshness and next run"),
    ("help", "All commands with examples"),
    ("start", "Introduction"),
)
ALERT_CHANGES = ("add", "position", "remove", "pause", "resume")
ALERT_USAGE = "use /alert add|position|test|list|remove|pause|resume, e.g. /" + ADD_EXAMPLE
ADMIN_ONLY = "Only this group's admins can change its alerts."


def rate_limited_text(wait_s: int) -> str:
    """The friendly answer to a user over their image limit."""
    return try_again_text(wait_s)


def split_map_args(args: list[str]) -> tuple[str, str, str]:
    """``/liqmap`` arguments in any order → (symbol, window, kind); '' means the default."""
    symbol, window, kind = "", "", "heatmap"
    for token in args:
        low = token.lower()
        if low in WINDOWS:
            window = low
        elif low in KINDS:
            kind = low
        elif not symbol:
            symbol = token
        else:
            symbol = f"{symbol} {token}"  # the service rejects it with a friendly line
    return symbol, window, kind


class TelegramAdapter:
    """Routes Telegram updates to ``service``. ``user_limit`` applies to image requests (commands and buttons)."""

    def __init__(self, service: ChatService, *, user_limit: UserRateLimit, admins: AdminCheck) -> None:
        self.service = service
        self.user_limit = user_limit
        self.admins = admins

    def install(self, app: Application[Any, Any, Any, Any, Any, Any]) -> None:
        """Register the command and button handlers and the error handler on ``app``."""
        for name, fn in (
            ("start", self.on_start),
            ("help", self.on_help),
            ("liqmap", self.on_liqmap),
            ("levels", self.on_levels),
            ("risk", self.on_risk),
            ("alert", self.on_alert),
            ("alerts", self.on_alert),
            ("settings", self.on_settings),
            ("status", self.on_status),
        ):
            app.add_handler(CommandHandler(name, fn))
        app.add_handler(CallbackQueryHandler(self.on_button))
        app.add_error_handler(self.on_error)

    @staticmethod
    async def register_menu(app: Application[Any, Any, Any, Any, Any, Any]) -> None:
        """Publish the command menu (``setMyCommands``)."""
        await app.bot.set_my_commands([BotCommand(name, text) for name, text in COMMANDS])

    @staticmethod
    def _chat(update: Update) -> ChatRef:
        chat = update.effective_chat
        assert chat is not None  # CommandHandler only fires for messages, which have a chat
        return chat_ref(chat.id, chat.type, chat.title)

    @staticmethod
    async def _answer(update: Update, context: Context, reply: Reply, *, monospace: bool = False) -> None:
        chat = update.effective_chat
        assert chat is not None
        await send_reply(context.bot, chat.id, reply, monospace=monospace and not reply.error)

    def _wait_s(self, update: Update) -> int:
        user = update.effective_user
        return self.user_limit.wait_s(user.id) if user is not None else 0

    async def _may_change_alerts(self, update: Update, context: Context) -> bool:
        chat, message, user = update.effective_chat, update.effective_message, update.effective_user
        if chat is None or chat.type not in ("group", "supergroup"):
            return True
        if message is not None and message.sender_chat is not None:
            return message.sender_chat.id == chat.id  # an anonymous admin posts as the group itself
        return user is not None and await self.admins.is_admin(context.bot, chat.id, user.id)

    # ---- commands -------------------------------------------------------------------------------------------
    async def on_start(self, update: Update, context: Context) -> None:
        """Register the chat and introduce the bot."""
        await self.service.register(self._chat(update))
        await self._answer(update, context, Reply(INTRO))

    async def on_help(self, update: Update, context: Context) -> None:
        """Every command with an example."""
        await self._answer(update, context, self.service.help("/", GROUP_NOTE))

    async def on_liqmap(self, update: Update, context: Context) -> None:
        """``/liqmap [symbol] [window] [kind]``: the chart with caption and buttons."""
        wait = self._wait_s(update)
        if wait:
            await self._answer(update, context, Reply(rate_limited_text(wait), error=True))
            return
        symbol, window, kind = split_map_args(list(context.args or []))
        await self._answer(update, context, await self.service.liqmap(self._chat(update), symbol, window, kind))

    async def on_levels(self, update: Update, context: Context) -> None:
        """``/levels [symbol] [window]``: a monospace table."""
        symbol, window, _ = split_map_args(list(context.args or []))
        reply = await self.service.levels(self._chat(update), symbol, window)
        await self._answer(update, context, reply, monospace=True)

    async def on_risk(self, update: Update, context: Context) -> None:
        """``/risk long|short ENTRY LEVERAGE [size] [symbol] [exchange]``: the text and the marked map image."""
        wait = self._wait_s(update)
        if wait:
            await self._answer(update, context, Reply(rate_limited_text(wait), error=True))
            return
        await self._answer(update, context, await self.service.risk(self._chat(update), " ".join(context.args or [])))

    async def on_alert(self, update: Update, context: Context) -> None:
        """``/alert add|list|remove|pause|resume ...``; changes in groups need an admin."""
        args = list(context.args or [])
        sub = args[0].lower() if args else ""
        rest = " ".join(args[1:])
        chat = self._chat(update)
        if sub in ALERT_CHANGES and not await self._may_change_alerts(update, context):
            reply = Reply(ADMIN_ONLY, error=True)
        elif sub == "add":
            reply = await self.service.alert_add(chat, rest)
        elif sub == "position":
            reply = await self.service.alert_position(chat, rest)
        elif sub == "test":  # reads history only: no admin needed
            reply = await self.service.alert_test(chat, rest)
        elif sub == "list" or sub == "":
            reply = await self.service.alert_list(chat)
        elif sub == "remove":
            reply = await self.service.alert_remove(chat, rest)
        elif sub == "pause":
            reply = await self.service.alert_pause(chat, rest)
        elif sub == "resume":
            reply = await self.service.alert_resume(chat, rest)
        else:
            reply = Reply(f"I don't know /alert {shown(args[0])}: {ALERT_USAGE}", error=True)
        await self._answer(update, context, reply)

    async def on_settings(self, update: Update, context: Context) -> None:
        """The chat's alert settings and defaults."""
        await self._answer(update, context, await self.service.settings(self._chat(update)))

    async def on_status(self, update: Update, context: Context) -> None:
        """Data freshness, the next run and the chat's active alerts."""
        await self._answer(update, context, await self.service.status(self._chat(update)))

    # ---- buttons and errors ---------------------------------------------------------------------------------
    async def on_button(self, update: Update, context: Context) -> None:
        """A window/kind/refresh button: redraw the chart into the same message."""
        query = update.callback_query
        if query is None:
            return
        parsed = parse_action(query.data or "")
        if parsed is None or query.message is None or update.effective_chat is None:
            await query.answer("This button has expired; send /liqmap again.")
            return
        wait = self._wait_s(update)
        if wait:
            await query.answer(rate_limited_text(wait))
            return
        symbol, window, kind = parsed
        reply = await self.service.liqmap(self._chat(update), symbol, window, kind)
        await edit_with_reply(query, reply)

    async def on_error(self, update: object, context: Context) -> None:
        """Log what failed with its context; tell the user a short apology when there is someone to tell."""
        chat_id = update.effective_chat.id if isinstance(update, Update) and update.effective_chat else None
        what = "update"
        if isinstance(update, Update):
            msg = update.effective_message
            if update.callback_query is not None:
                what = f"button {update.callback_query.data!r}"
            elif msg is not None and msg.text:
                what = msg.text.split(" ", 1)[0]
        log.error("Telegram %s in chat %s failed", what, chat_id, exc_info=context.error)
        if chat_id is None:
            return
        try:
            if isinstance(update, Update) and update.callback_query is not None:
                await update.callback_query.answer(SORRY)
            else:
                await context.bot.send_message(chat_id, SORRY)
        except Exception as exc:  # the apology itself failed (blocked, flood limit): nothing more to do
            log.warning("could not send the apology to chat %s: %s", chat_id, exc)
