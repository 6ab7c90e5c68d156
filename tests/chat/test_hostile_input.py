"""Hostile chat input through the real ChatService with production defaults (SQLite, the sim market, the real
renderer): huge numbers, non-ASCII digits, exponents/nan/inf, kilobytes of junk, made-up symbols, floods of
/levels. Every answer is one short friendly line; nothing is computed or kept for what does not exist."""

from __future__ import annotations

import logging

import pytest

from bot.caching import BoundedTtlCache, KeyedLocks
from bot.chat.parse import SHOWN_CHARS, CommandError, parse_alert_add, parse_pct, parse_usd, shown
from bot.chat.reply import ChatRef, Reply
from bot.chat.service import SORRY, ChatService
from bot.engine import MAP_CACHE_ENTRIES, MapEngine
from bot.market.source import SimSource
from bot.storage import chats, subscriptions
from bot.storage.db import Database
from bot.timeparse import DurationTooLong, parse_duration
from tests.alerts.helpers import EXCHANGES, NOW, settings

ME = ChatRef("telegram", "42", "private", "me")
MAX_REPLY = 300  # generous: the point is that a 4,000-character input never comes back whole
HUGE = "9" * 400


def production_service(db: Database) -> ChatService:
    """The service as ``run_app`` builds it: every limit and cache size at its default (only the sim's now is
    fixed, so the test does not depend on the day it runs)."""
    return ChatService(db, MapEngine(SimSource(EXCHANGES, seed=7, now_ms=NOW)), settings())


def assert_friendly(reply: Reply, *needles: str) -> None:
    assert reply.error, reply
    assert reply.text != SORRY and "\n" not in reply.text and len(reply.text) <= MAX_REPLY, reply.text
    for needle in needles:
        assert needle in reply.text, (needle, reply.text)


def no_alerts(db: Database) -> bool:
    with db.session() as s:
        chat = chats.find_chat(s, ME.platform, ME.external_id)
        return chat is None or not subscriptions.list_subscriptions(s, chat.id)


async def test_huge_cooldown_answers_the_allowed_range(db: Database, caplog: pytest.LogCaptureFixture) -> None:
    svc = production_service(db)
    with caplog.at_level(logging.WARNING):
        for unit in ("m", "h", "d", "w"):
            reply = await svc.alert_add(ME, f"BTC 1% cooldown {HUGE}{unit}")
            assert_friendly(reply, "between 1m and 7d", "…")
        assert_friendly(await svc.alert_add(ME, "BTC cooldown 1e400m"), "cooldown")
    assert "OverflowError" not in caplog.text and "Traceback" not in caplog.text
    assert no_alerts(db)


@pytest.mark.parametrize(
    "args",
    [
        "BTC ١٢%", "BTC １２%", "BTC ١٢", "BTC 1e400", "BTC 1e2%", "BTC nan", "BTC inf", "BTC NaN%", "BTC -inf",
        f"BTC {HUGE}%", f"BTC {HUGE}", "BTC 0x10%",
        "BTC min ١٢M", "BTC min １２M", "BTC min 1e400", "BTC min nan", "BTC min inf", f"BTC min {HUGE}",
        f"BTC min {HUGE}%", "BTC min ٥%", "BTC min 2000T",
        "BTC cooldown ١٢m", "BTC cooldown １２h", "BTC cooldown nanm", "BTC cooldown infh", "BTC cooldown 1e3m",
    ],
)
async def test_numbers_are_ascii_decimal_only(db: Database, args: str) -> None:
    assert_friendly(await production_service(db).alert_add(ME, args))
    assert no_alerts(db)


def test_parsers_reject_what_is_not_an_ascii_decimal() -> None:
    for text in ("١٢", "１２", "1e400", "nan", "inf", "²", "12\u0663"):
        with pytest.raises(CommandError):
            parse_pct(text)
        with pytest.raises(CommandError):
            parse_usd(text)
    with pytest.raises(CommandError, match="too large"):
        parse_usd(HUGE)
    assert parse_pct("1.5%") == 1.5 and parse_usd("$2.5B") == 2.5e9
    with pytest.raises(DurationTooLong):
        parse_duration(f"{HUGE}d")
    for text in ("١٢m", "１２h", "nanm", "1e3m"):
        with pytest.raises(Exception, match="invalid duration"):
            parse_duration(text)
    assert parse_alert_add("BTC 2% cooldown 7d").cooldown_s == 7 * 86_400


async def test_error_replies_quote_a_short_prefix_of_the_input(db: Database) -> None:
    svc = production_service(db)
    junk = "Z" * 4_000
    replies = [
        await svc.alert_add(ME, junk),
        await svc.alert_add(ME, f"BTC {junk}"),
        await svc.alert_add(ME, f"BTC 1% side {junk}"),
        await svc.alert_add(ME, f"BTC window {junk}"),
        await svc.alert_add(ME, f"BTC min {junk}"),
        await svc.alert_add(ME, f"BTC min 1{junk}%"),
        await svc.alert_add(ME, f"BTC cooldown {junk}"),
        await svc.alert_add(ME, f"BTC 1{junk}%"),
        await svc.alert_remove(ME, junk),
        await svc.alert_pause(ME, junk),
        await svc.alert_resume(ME, "1" * 4_000),
        await svc.levels(ME, junk),
        await svc.levels(ME, "BTC", junk),
        await svc.liqmap(ME, junk),
        await svc.liqmap(ME, "BTC", "24h", junk),
    ]
    for reply in replies:
        assert_friendly(reply, "…")
        assert "Z" * (SHOWN_CHARS + 1) not in reply.text and "1" * (SHOWN_CHARS + 1) not in reply.text
    assert shown("short") == "'short'" and shown("x" * 100) == repr("x" * SHOWN_CHARS + "…")
    assert shown("a\nb") == "'a\\nb'"  # still one line


async def test_made_up_symbols_are_never_computed_nor_kept(db: Database) -> None:
    svc = production_service(db)
    invented = [f"Q{i:02d}ZZ" for i in range(45)]
    for i, sym in enumerate(invented):
        chat = ChatRef("telegram", str(1000 + i))  # many chats: no rate limit hides the problem
        assert_friendly(await svc.levels(chat, sym), f"unknown symbol {sym}USDT: not listed on binanceusdm, bybit, okx")
        assert_friendly(await svc.liqmap(chat, f"{sym}USD", "7d"), f"unknown symbol {sym}USD: not listed on")
        assert_friendly(await svc.alert_add(chat, f"{sym} 1%"), "not listed on")
    assert len(svc.engine._current) == 0 and len(svc.engine._locks) == 0
    assert len(svc.renders) == 0
    ok = await svc.levels(ME, "ETH", "24h")  # a coin the synthetic market has still works
    assert not ok.error and len(svc.engine._current) == 1


async def test_the_map_cache_and_its_locks_stay_bounded(db: Database) -> None:
    svc = production_service(db)
    keys = [(sym, window) for sym in ("BTC", "ETH", "BTCUSD", "ETHUSD", "BTCUSDC", "ETHUSDC")
            for window in ("12h", "24h", "3d", "7d", "30d")]
    assert len(keys) > MAP_CACHE_ENTRIES
    for i, (sym, window) in enumerate(keys):
        reply = await svc.levels(ChatRef("telegram", str(2000 + i)), sym, window)
        assert not reply.error, (sym, window, reply.text)
        assert len(svc.engine._current) <= MAP_CACHE_ENTRIES
    assert len(svc.engine._current) == MAP_CACHE_ENTRIES and len(svc.engine._locks) == 0


async def test_levels_is_rate_limited_per_chat(db: Database) -> None:
    svc = production_service(db)
    answers = [await svc.levels(ME, "BTC") for _ in range(25)]
    assert all(not a.error for a in answers[:20])
    for limited in answers[20:]:
        assert_friendly(limited, "try again in")
    other = await svc.levels(ChatRef("telegram", "43"), "BTC")  # another chat has its own budget
    assert not other.error


def test_bounded_ttl_cache_expires_and_evicts_least_recent() -> None:
    cache: BoundedTtlCache[str, int] = BoundedTtlCache(2)
    cache.put("a", 1, expires_at=100, now=0)
    cache.put("b", 2, expires_at=100, now=0)
    assert cache.get("a", now=1) == 1  # "a" is now the most recent
    cache.put("c", 3, expires_at=100, now=2)
    assert "b" not in cache and cache.get("a", now=3) == 1 and cache.get("c", now=3) == 3
    assert cache.get("a", now=100) is None and len(cache) == 1  # expired entries are dropped when read
    cache.put("d", 4, expires_at=300, now=200)  # ... and when anything is stored
    assert len(cache) == 1


async def test_keyed_locks_forget_idle_keys() -> None:
    locks: KeyedLocks[str] = KeyedLocks()
    async with locks.hold("a"):
        assert len(locks) == 1
    with pytest.raises(RuntimeError):
        async with locks.hold("b"):
            raise RuntimeError("boom")
    assert len(locks) == 0
