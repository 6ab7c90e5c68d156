"""Hypothesis fuzzing of every chat command parser and of the ChatService entry points with arbitrary text: nothing
but ``LiqmapError`` (a ``ValueError``) with a one-line message ever escapes a parser, the service never raises and
never apologises (no unexpected error) for user input, and accepted inputs round-trip to the same values."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.chat.parse import (
    MAX_COOLDOWN_S,
    MAX_PROXIMITY_PCT,
    MIN_COOLDOWN_S,
    MIN_PROXIMITY_PCT,
    AlertSpec,
    parse_alert_add,
    parse_chat_symbol,
    parse_id,
    parse_pct,
    parse_usd,
    parse_window,
)
from bot.chat.reply import ChatRef
from bot.chat.service import SORRY, ChatService
from bot.engine import MapEngine
from bot.errors import LiqmapError
from bot.market.source import SimSource
from bot.model.types import WINDOWS
from bot.storage.db import Database
from bot.storage.records import SIDES
from tests.alerts.helpers import EXCHANGES, NOW, Clock
from tests.alerts.helpers import settings as app_settings

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
WORDS = ["alert", "add", "BTC", "btcusdt", "BTC/USDT:USDT", "BTCUSD", "XBT", "1.5%", "2", "0%", "21%", "min", "50M",
         "$1.2m", "1,000,000", "5%", "100%", "side", "long", "shorts", "both", "window", "24h", "7d", "3m", "cooldown",
         "30m", "0m", "8d", "1.5h", "=", "#12", "-1", "0", "9" * 30, "²", "٣", "%", "$", "NaN", "inf", "1e9", ""]
tokens = st.lists(st.one_of(st.sampled_from(WORDS), st.text(max_size=8)), max_size=8).map(" ".join)
any_text = st.one_of(st.text(max_size=60), tokens)


def rejected_cleanly(fn: Callable[[str], object], text: str) -> object:
    """``fn(text)``; a rejection must be a LiqmapError with a non-empty one-line message."""
    try:
        return fn(text)
    except LiqmapError as exc:
        msg = str(exc)
        assert msg and "\n" not in msg and "\r" not in msg, msg
        return None


@FUZZ
@given(any_text)
def test_scalar_parsers_accept_or_reject_cleanly(text: str) -> None:
    usd = rejected_cleanly(parse_usd, text)
    if usd is not None:
        assert isinstance(usd, float) and 0 <= usd < float("inf")
        assert parse_usd(repr(usd)) == usd if "e" not in repr(usd) else True
    pct = rejected_cleanly(parse_pct, text)
    if pct is not None:
        assert isinstance(pct, float) and pct >= 0
    window = rejected_cleanly(parse_window, text)
    assert window is None or window in WINDOWS
    symbol = rejected_cleanly(parse_chat_symbol, text)
    if symbol is not None:
        assert parse_chat_symbol(str(symbol)) == symbol  # the unified form parses to itself
    alert_id = rejected_cleanly(lambda t: parse_id(t, "alert remove <id>"), text)
    if alert_id is not None:
        assert isinstance(alert_id, int) and 0 < alert_id < 2**63
        assert parse_id(str(alert_id), "x") == alert_id


def command_of(spec: AlertSpec) -> str:
    """An ``alert add`` argument string that states every field of ``spec``."""
    minimum = f"min {spec.min_share * 100!r}%" if spec.min_share else f"min {spec.min_usd!r}"
    return (f"{spec.symbol} {spec.proximity_pct!r}% {minimum} side {spec.sides} window {spec.window} "
            f"cooldown {spec.cooldown_s // 60}m")


@FUZZ
@given(any_text)
def test_alert_add_accepts_only_valid_specs_and_they_round_trip(text: str) -> None:
    spec = rejected_cleanly(parse_alert_add, text)
    if spec is None:
        return
    assert isinstance(spec, AlertSpec)
    assert MIN_PROXIMITY_PCT <= spec.proximity_pct <= MAX_PROXIMITY_PCT
    assert spec.window in WINDOWS and spec.sides in SIDES
    assert 0 <= spec.min_share < 1 and spec.min_usd >= 0
    assert spec.cooldown_s == 1800 or MIN_COOLDOWN_S <= spec.cooldown_s <= MAX_COOLDOWN_S
    again = parse_alert_add(command_of(spec))
    assert again.symbol == spec.symbol and again.window == spec.window and again.sides == spec.sides
    assert again.proximity_pct == spec.proximity_pct and again.cooldown_s // 60 == spec.cooldown_s // 60


@pytest.fixture
def service(sqlite_url: str) -> Iterator[ChatService]:
    db = Database(sqlite_url)
    engine = MapEngine(SimSource(EXCHANGES, seed=7, now_ms=NOW))
    yield ChatService(db, engine, app_settings(), clock=Clock())
    db.dispose()


@FUZZ
@given(args=any_text, chat_id=st.integers(min_value=-(2**40), max_value=2**40))
def test_chat_service_answers_any_text_without_raising(service: ChatService, args: str, chat_id: int) -> None:
    chat = ChatRef("telegram", str(chat_id), "private" if chat_id > 0 else "group")

    async def all_entry_points() -> None:
        for call in (
            service.alert_add(chat, args),
            service.alert_remove(chat, args),
            service.alert_pause(chat, args),
            service.alert_resume(chat, args),
            service.levels(chat, args, ""),
            service.levels(chat, "BTC", args),
            service.liqmap(chat, args, "", "heatmap"),
            service.liqmap(chat, "", args, "nope"),
        ):
            reply = await call
            assert reply.text != SORRY, (args, reply)  # user input never reaches the "unexpected error" path
            assert reply.text.strip()
            if reply.error:
                assert "\n" not in reply.text, reply.text

    asyncio.run(all_entry_points())
