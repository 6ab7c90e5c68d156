"""Hypothesis fuzzing of the /risk and /alert position grammar and service entry points: only ``CommandError`` (one
line) leaves the parser, accepted inputs are in range, and the service never raises nor apologises for user input."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.chat.limits import SlidingWindowLimit
from bot.chat.parse import MAX_LEVERAGE, CommandError, parse_position
from bot.chat.reply import ChatRef
from bot.chat.service import SORRY, ChatService
from bot.engine import MapEngine
from bot.market.source import SimSource
from bot.storage.db import Database
from tests.alerts.helpers import EXCHANGES, NOW, Clock
from tests.alerts.helpers import settings as app_settings

FUZZ = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
WORDS = ["long", "short", "shorts", "longs", "62000", "62k", "$62,000", "0", "-1", "20x", "20", "1x", "0.5x", "126x",
         "1000x", "1e5", "size", "10k", "5M", "1" + "0" * 40, "BTC", "BTCUSD", "ETH", "DOGE/EUR", "binanceusdm",
         "binancecoinm", "binance", "bybit", "2%", "0%", "25%", "cooldown", "30m", "9d", "x", "%", "$", "١٢", "nan",
         "inf", "size", "٣x"]
TEXT = st.one_of(st.lists(st.sampled_from(WORDS), max_size=8).map(" ".join), st.text(max_size=60))


@given(TEXT, st.booleans())
@FUZZ
def test_parser_accepts_in_range_or_says_one_line(text: str, alert: bool) -> None:
    try:
        spec = parse_position(text, alert=alert)
    except CommandError as exc:
        assert "\n" not in str(exc) and len(str(exc)) < 400
        return
    assert spec.side in ("long", "short") and spec.entry > 0 and math.isfinite(spec.entry)
    assert 1.0 <= spec.leverage <= MAX_LEVERAGE
    assert spec.size_usd is None or 0 < spec.size_usd <= 1e15


@pytest.fixture(scope="module")
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    lp = asyncio.new_event_loop()
    yield lp
    lp.close()


@pytest.fixture
def service(db: Database) -> ChatService:
    engine = MapEngine(SimSource(EXCHANGES, seed=7, now_ms=NOW))
    return ChatService(db, engine, app_settings(), clock=Clock(), limit_per_chat=10_000,
                       chat_image_limit=SlidingWindowLimit(10_000, 60.0))  # every answer computed, none refused


HEADS = st.tuples(st.sampled_from(["long", "short", "up"]), st.sampled_from(["62000", "1", "0", "9e9", "1000000000"]),
                  st.sampled_from(["20x", "125x", "1x", "3", "1000x"])).map(" ".join)
STRUCTURED = st.tuples(HEADS, st.lists(st.sampled_from(WORDS), max_size=4).map(" ".join)).map(" ".join)


@given(STRUCTURED, st.booleans())
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_service_never_apologises(service: ChatService, loop: asyncio.AbstractEventLoop, args: str,
                                  alert: bool) -> None:
    chat = ChatRef("telegram", "31337")
    call = service.alert_position(chat, args) if alert else service.risk(chat, args)
    reply = loop.run_until_complete(call)
    assert reply.text != SORRY, args
    if reply.error:
        assert "\n" not in reply.text
