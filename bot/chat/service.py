"""The platform-neutral command service: Telegram and Discord adapters call these and render the ``Reply``.

Every method registers the chat, never raises for user mistakes (a ``Reply(error=True)`` with one friendly line),
and never shows a traceback (unexpected errors are logged and answered with a short apology).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import cast

from bot.alerts.job import AlertJob
from bot.alerts.self_score import self_score_line
from bot.chat.alert_test import alert_test_reply
from bot.chat.context_text import context_fields
from bot.chat.limits import SlidingWindowLimit, try_again_text
from bot.chat.parse import (
    ADD_EXAMPLE,
    ADD_USAGE,
    DEFAULT_POSITION_PROXIMITY_PCT,
    POSITION_EXAMPLE,
    POSITION_USAGE,
    RISK_EXAMPLE,
    RISK_USAGE,
    CommandError,
    PositionSpec,
    parse_alert_add,
    parse_chat_symbol,
    parse_id,
    parse_window,
    shown,
)
from bot.chat.reply import DISCLAIMER, ChatRef, Reply, levels_text, map_buttons, map_caption, sub_line
from bot.chat.risk import DEFAULT_SIZE_USD, RISK_WINDOW, Venue, position_alert_reply, position_png, risk_reply
from bot.clock import Clock, wall_ms
from bot.config import Settings
from bot.engine import MapEngine, MapResult
from bot.errors import LiqmapError
from bot.format import fmt_time_utc, fmt_usd
from bot.market.source import is_listed
from bot.market.symbols import display_symbol
from bot.model.risk import Position
from bot.model.types import LiqMap
from bot.ops.metrics import Metrics
from bot.render import KINDS, Kind, RenderCache, data_version
from bot.storage import chats, subscriptions, ticks
from bot.storage.db import Database
from bot.storage.liquidations import latest_self_score
from bot.storage.records import AlertRec, ChatRec, SubscriptionRec
from bot.storage.subscriptions import PositionFields
from bot.storage.ticks import TickRec

log = logging.getLogger(__name__)
SORRY = "Sorry, something went wrong on our side. Please try again in a minute."
CHAT_TEXT_MAPS = (20, 60.0)  # /levels per chat: at most 20 in any 60 s (images have their own, equal, budget)
MAX_ERROR_CHARS = 300  # an error reply is one short line, whatever the input was
HELP_LINES = (
    "{p}liqmap [symbol] [window] [heatmap|map]: the chart, e.g. {p}liqmap BTC 24h (buttons switch window and kind)",
    "{p}levels [symbol] [window]: nearest and largest clusters as a table, e.g. {p}levels BTC",
    "{p}" + RISK_USAGE + ": your position's liquidation price, e.g. {p}" + RISK_EXAMPLE,
    "    (isolated margin, the exchange's formula: binance or bybit; size $10k unless given): distance, clusters on "
    "the way, 24h chance",
    "{p}" + ADD_USAGE,
    "    e.g. {p}" + ADD_EXAMPLE,
    "{p}alert test <symbol> [proximity%] [min ...]: how that alert would have done over the last 7 days (history)",
    "{p}" + POSITION_USAGE,
    "    e.g. {p}" + POSITION_EXAMPLE + " (alerts near your liquidation price, default 2%)",
    "{p}alert list · {p}alert remove <id> · {p}alert pause [id] · {p}alert resume [id]",
    "{p}settings: your alerts and the defaults · {p}status: data freshness, next run, your active alerts",
)


def help_text(prefix: str = "", extra: tuple[str, ...] = ()) -> str:
    """Every command with an example, written with the platform's command ``prefix`` (Telegram: ``/``): the one
    help text, shared by every platform."""
    head = "liqmap: estimated liquidation clusters for BTC perpetuals. " + DISCLAIMER
    return "\n".join([head, *(line.replace("{p}", prefix) for line in HELP_LINES), *extra])


HELP = help_text()


def status_lines(tick: TickRec | None) -> list[str]:
    """The periodic job's latest outcome, one line per (symbol, window) plus the exchanges left out and the next run."""
    if tick is None:
        return ["No periodic run yet."]
    lines: list[str] = []
    for st in tick.keys:
        state = "fresh" if st.fresh else f"not evaluated: {st.error}"
        synth = " [SYNTHETIC]" if st.synthetic else ""
        lines.append(
            f"{display_symbol(st.symbol)} {st.window}: {', '.join(st.exchanges) or 'no data'} "
            f"as of {fmt_time_utc(st.at) if st.at else 'n/a'} ({state}){synth}"
        )
        if st.missing_exchanges:
            lines.append(f"  missing (down or stale, left out of the map): {', '.join(st.missing_exchanges)}")
    lines.append(f"Last run: {fmt_time_utc(tick.at)} · next run: {fmt_time_utc(tick.next_at)}")
    return lines


class ChatService:
    """Commands shared by all chat platforms. ``job`` (optional) supplies freshness for ``status``."""

    def __init__(
        self,
        db: Database,
        engine: MapEngine,
        settings: Settings,
        *,
        render_cache: RenderCache | None = None,
        job: AlertJob | None = None,
        clock: Clock = wall_ms,
        limit_per_chat: int = 20,
        map_ttl_s: float | None = None,
        metrics: Metrics | None = None,
        chat_image_limit: SlidingWindowLimit | None = None,
        chat_text_limit: SlidingWindowLimit | None = None,
    ) -> None:
        self.db = db
        self.engine = engine
        self.config = settings
        self.renders = render_cache if render_cache is not None else RenderCache()  # an empty cache is falsy
        self.job = job
        self.clock = clock
        self.limit_per_chat = limit_per_chat
        self.metrics = metrics
        # Images per chat (a busy group shares one budget; each platform adapter also limits per user).
        self.chat_images = chat_image_limit if chat_image_limit is not None else SlidingWindowLimit(20, 60.0)
        # Text answers that need a map (/levels) per chat: computing is the expensive part, not the image.
        self.chat_texts = chat_text_limit if chat_text_limit is not None else SlidingWindowLimit(*CHAT_TEXT_MAPS)
        self.map_ttl_ms = int(1000 * (map_ttl_s if map_ttl_s is not None else min(settings.tick_seconds, 60.0)))
        self._tracked = frozenset(self._tracked_symbols(settings))

    # ---- plumbing -------------------------------------------------------------------------------------------
    @staticmethod
    def _tracked_symbols(settings: Settings) -> list[str]:
        out = []
        for text in settings.symbols:
            try:
                out.append(parse_chat_symbol(text))
            except CommandError:
                log.warning("LIQMAP_SYMBOLS: %r is not a symbol; ignored by the chat commands", text)
        return out

    async def _guard(self, what: str, chat: ChatRef, action: Callable[[], Awaitable[Reply]]) -> Reply:
        try:
            reply = await action()
        except LiqmapError as exc:
            text = " ".join(str(exc).split())  # one line, whatever a message quoted
            if len(text) > MAX_ERROR_CHARS:
                text = text[: MAX_ERROR_CHARS - 1] + "…"
            reply = Reply(text, error=True)
        except Exception:
            log.exception("%s failed for %s chat %s", what, chat.platform, chat.external_id)
            if self.metrics is not None:
                self.metrics.record_command(what, chat.platform, error=True)
            return Reply(SORRY, error=True)
        if self.metrics is not None:
            self.metrics.record_command(what, chat.platform)
        return reply

    async def _db(self, fn: Callable[..., object], *args: object) -> object:
        def run() -> object:
            with self.db.session() as s:
                return fn(s, *args)

        return await asyncio.to_thread(run)

    async def register(self, chat: ChatRef) -> ChatRec:
        """Create or refresh the chat (a chat that talks to the bot again becomes active again)."""
        rec = await self._db(lambda s: chats.upsert_chat(s, chat.platform, chat.external_id, chat.kind, chat.title))
        return cast(ChatRec, rec)

    async def check_listed(self, symbol: str) -> None:
        """Raise ``CommandError`` when no configured exchange lists the unified ``symbol`` (from the market lists
        alone: nothing is fetched or computed for a made-up symbol). The tracked symbols always pass."""
        if symbol in self._tracked or await is_listed(self.engine.source, symbol):
            return
        where = ", ".join(self.engine.source.exchanges) or "any exchange"
        raise CommandError(f"unknown symbol {display_symbol(symbol)}: not listed on {where}")

    async def map_for(self, symbol: str, window: str) -> tuple[MapResult, str]:
        """The current map of (symbol, window) from the engine's one map cache (the periodic job's map of this tick
        when there is one; at most ``map_ttl_s`` old), with its data version (the render cache key). A symbol no
        exchange lists raises ``CommandError`` before anything is computed."""
        await self.check_listed(symbol)
        result = await self.engine.current(symbol, window, self.map_ttl_ms)
        if not result.map.exchanges:
            why = "; ".join(f"{f.exchange}: {f.error or 'no data'}" for f in result.freshness)
            raise LiqmapError(f"no market data for {display_symbol(symbol)} right now ({why or 'no source'})")
        return result, data_version(result.map)

    def _symbol_window(self, symbol: str, window: str) -> tuple[str, str]:
        sym = parse_chat_symbol(symbol) if symbol.strip() else parse_chat_symbol(self.config.symbols[0])
        return sym, parse_window(window) if window.strip() else parse_window(self.config.default_window)

    # ---- maps -----------------------------------------------------------------------------------------------
    async def liqmap(
        self, chat: ChatRef, symbol: str = "", window: str = "", kind: str = "heatmap", palette: str = "default"
    ) -> Reply:
        """The heatmap (or map) image with a caption of the top clusters, plus window/kind/refresh buttons."""

        async def run() -> Reply:
            wait = self.chat_images.wait_s((chat.platform, chat.external_id))
            if wait:
                return Reply(try_again_text(wait, "This chat"), error=True)
            await self.register(chat)
            sym, win = self._symbol_window(symbol, window)
            if kind not in KINDS:
                raise CommandError(f"unknown chart kind {shown(kind)}: use {' or '.join(KINDS)}")
            result, version = await self.map_for(sym, win)
            png = await self.renders.get_or_render(result.map, cast(Kind, kind), palette, version=version)
            return Reply(map_caption(result.map), png=png, buttons=map_buttons(sym, win, kind),
                         fields=context_fields(result.map.context))

        return await self._guard("liqmap", chat, run)

    async def levels(self, chat: ChatRef, symbol: str = "", window: str = "") -> Reply:
        """Nearest and largest clusters as a compact text table."""

        async def run() -> Reply:
            wait = self.chat_texts.wait_s((chat.platform, chat.external_id))
            if wait:
                return Reply(try_again_text(wait, "This chat"), error=True)
            await self.register(chat)
            sym, win = self._symbol_window(symbol, window)
            result, _ = await self.map_for(sym, win)
            return Reply(levels_text(result.map))

        return await self._guard("levels", chat, run)

    async def current_map(self, symbol: str, window: str) -> LiqMap:
        """The current map of (symbol, window) (``map_for``: the symbol must be listed)."""
        return (await self.map_for(symbol, window))[0].map

    async def risk(self, chat: ChatRef, args: str) -> Reply:
        """``risk long|short ENTRY LEVERAGE [size] [symbol] [exchange]``: the position against the map, with the
        marked map image (``bot.chat.risk``)."""

        async def run() -> Reply:
            wait = self.chat_images.wait_s((chat.platform, chat.external_id))
            if wait:
                return Reply(try_again_text(wait, "This chat"), error=True)
            await self.register(chat)
            return await risk_reply(args, self.current_map, self.engine.source)

        return await self._guard("risk", chat, run)

    # ---- alerts ---------------------------------------------------------------------------------------------
    async def alert_position(self, chat: ChatRef, args: str) -> Reply:
        """``alert position long|short ENTRY LEVERAGE [size] [within%] ...``: alert near the liquidation price."""

        async def store(spec: PositionSpec, venue: Venue, pos: Position, liq: float) -> SubscriptionRec:
            rec = await self.register(chat)
            fields = PositionFields(pos.entry, pos.leverage, pos.size_usd, venue.exchange, liq)
            return cast(SubscriptionRec, await self._db(lambda s: subscriptions.add_subscription(
                s, rec.id, symbol=venue.symbol, window=RISK_WINDOW, proximity_pct=spec.proximity_pct,
                sides=spec.side, cooldown_s=spec.cooldown_s, limit_per_chat=self.limit_per_chat, position=fields)))

        return await self._guard("alert position", chat,
                                 lambda: position_alert_reply(args, self.current_map, self.engine.source, store))

    async def alert_test(self, chat: ChatRef, args: str) -> Reply:
        """``alert test <symbol> [proximity%] ...``: how that alert would have done over the last 7 days (history)."""

        async def run() -> Reply:
            wait = self.chat_texts.wait_s((chat.platform, chat.external_id))
            if wait:
                return Reply(try_again_text(wait, "This chat"), error=True)
            await self.register(chat)
            return await alert_test_reply(self.db, self.engine, args, self.clock)

        return await self._guard("alert test", chat, run)

    async def alert_add(self, chat: ChatRef, args: str) -> Reply:
        """``alert add <symbol> [proximity%] [min <usd>] [side ...] [window ...] [cooldown ...]``."""

        async def run() -> Reply:
            spec = parse_alert_add(args)
            await self.check_listed(spec.symbol)  # the periodic job would compute a made-up symbol every tick
            rec = await self.register(chat)
            sub = cast(
                SubscriptionRec,
                await self._db(
                    lambda s: subscriptions.add_subscription(
                        s,
                        rec.id,
                        symbol=spec.symbol,
                        window=spec.window,
                        proximity_pct=spec.proximity_pct,
                        min_usd=spec.min_usd,
                        min_share=spec.min_share,
                        sides=spec.sides,
                        cooldown_s=spec.cooldown_s,
                        limit_per_chat=self.limit_per_chat,
                    ),  # count-then-insert is safe: the session holds the write lock / the chat row lock
                ),
            )
            return Reply(f"Alert #{sub.id} added: {sub_line(sub)}")

        return await self._guard("alert add", chat, run)

    async def alert_list(self, chat: ChatRef) -> Reply:
        """The chat's alerts with their ids."""

        async def run() -> Reply:
            subs = await self._subs(chat)
            if not subs:
                return Reply("No alerts yet. Add one with: alert add BTC 1.5%")
            return Reply("Your alerts:\n" + "\n".join(f"#{s.id} {sub_line(s)}" for s in subs))

        return await self._guard("alert list", chat, run)

    async def alert_remove(self, chat: ChatRef, args: str) -> Reply:
        """``alert remove <id>``."""

        async def run() -> Reply:
            sub_id = parse_id(args, "alert remove <id>")
            rec = await self.register(chat)
            if not await self._db(subscriptions.remove_subscription, rec.id, sub_id):
                raise CommandError(f"you have no alert #{sub_id}; see alert list")
            return Reply(f"Alert #{sub_id} removed.")

        return await self._guard("alert remove", chat, run)

    async def alert_pause(self, chat: ChatRef, args: str = "") -> Reply:
        """``alert pause [id]`` (all of the chat's alerts without an id)."""
        return await self._guard("alert pause", chat, lambda: self._set_enabled(chat, args, False))

    async def alert_resume(self, chat: ChatRef, args: str = "") -> Reply:
        """``alert resume [id]`` (all of the chat's alerts without an id)."""
        return await self._guard("alert resume", chat, lambda: self._set_enabled(chat, args, True))

    async def _set_enabled(self, chat: ChatRef, args: str, enabled: bool) -> Reply:
        verb = "resume" if enabled else "pause"
        one = args.strip() not in ("", "all")
        sub_id = parse_id(args, f"alert {verb} [id]") if one else None
        rec = await self.register(chat)
        subs = cast(list[SubscriptionRec], await self._db(subscriptions.list_subscriptions, rec.id))
        if sub_id is not None and sub_id not in {s.id for s in subs}:
            raise CommandError(f"you have no alert #{sub_id}; see alert list")
        await self._db(subscriptions.set_enabled, rec.id, sub_id, enabled)
        what = f"Alert #{sub_id}" if sub_id is not None else f"All {len(subs)} alerts"
        return Reply(f"{what} {'resumed' if enabled else 'paused'}.")

    async def _subs(self, chat: ChatRef) -> list[SubscriptionRec]:
        rec = await self.register(chat)
        return cast(list[SubscriptionRec], await self._db(subscriptions.list_subscriptions, rec.id))

    async def settings(self, chat: ChatRef) -> Reply:
        """The chat's alert settings, the defaults and the limits."""

        async def run() -> Reply:
            subs = await self._subs(chat)
            lines = [
                f"Alerts: {len(subs)} of {self.limit_per_chat} "
                f"({sum(s.enabled for s in subs)} active, {sum(not s.enabled for s in subs)} paused)"
            ]
            lines += [f"#{s.id} {sub_line(s)}" for s in subs]
            lines.append("Defaults for alert add: proximity 1%, any size, both sides, window 24h, cooldown 30m.")
            lines.append(f"Defaults for alert position: size {fmt_usd(DEFAULT_SIZE_USD)} notional, within "
                         f"{DEFAULT_POSITION_PROXIMITY_PCT:g}%, binanceusdm (BTCUSD: binancecoinm), cooldown 30m.")
            lines.append("Change one: alert remove <id>, then alert add with new values.")
            return Reply("\n".join(lines))

        return await self._guard("settings", chat, run)

    async def status(self, chat: ChatRef) -> Reply:
        """Data freshness per exchange and the next run, from the newest stored tick (whichever replica ran it),
        and the chat's active alerts."""

        async def run() -> Reply:
            subs = await self._subs(chat)
            tick = cast(TickRec | None, await self._db(ticks.latest_tick))
            lines = status_lines(tick)
            if self.config.listens_to_liquidations and self.config.symbols:
                lines.append(self_score_line(await asyncio.to_thread(latest_self_score, self.db,
                                                                     self.config.symbols[0])))
            active = [s for s in subs if s.enabled]
            lines.append(
                f"Your active alerts: {len(active)}"
                + (f" (paused: {len(subs) - len(active)})" if len(subs) > len(active) else "")
            )
            lines += [f"#{s.id} {sub_line(s)}" for s in active]
            return Reply("\n".join(lines))

        return await self._guard("status", chat, run)

    async def alert_png(self, alert: AlertRec) -> bytes | None:
        """The current heatmap of the alert's (symbol, window), for ``Dispatcher(image_for=...)`` (a position alert:
        the map chart with its entry and liquidation lines); None when the subscription is gone or the map cannot
        be made (the alert then goes out as text)."""
        if alert.subscription_id is None:
            return None
        sub = cast(SubscriptionRec | None, await self._db(subscriptions.get_subscription, alert.subscription_id))
        if sub is None:
            return None
        try:
            result, version = await self.map_for(sub.symbol, sub.window)
            if sub.kind == "position":
                return await position_png(result.map, sub)
            return await self.renders.get_or_render(result.map, "heatmap", "default", version=version)
        except LiqmapError as exc:  # e.g. every exchange down right now: expected, no traceback
            log.warning("alert %d: no image (%s); sending text only", alert.id, exc)
            return None
        except Exception:
            log.exception("alert %d: image failed; sending text only", alert.id)
            return None

    @staticmethod
    def help(prefix: str = "", extra: tuple[str, ...] = ()) -> Reply:
        """Every command with an example."""
        return Reply(help_text(prefix, extra))
