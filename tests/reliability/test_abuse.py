"""Abuse: the per-chat alert limit (also under concurrent adds), ids of other chats' alerts cannot be read or changed
by guessing, through ``ChatService`` on both databases."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from bot.chat.reply import ChatRef
from bot.chat.service import SORRY, ChatService
from bot.engine import MapEngine
from bot.market.source import SimSource
from bot.storage import chats, subscriptions
from bot.storage.db import Database
from bot.storage.records import SubscriptionRec
from tests.alerts.helpers import EXCHANGES, NOW, Clock, settings

VICTIM = ChatRef("telegram", "111", "private")
ATTACKER = ChatRef("telegram", "222", "private")


@pytest.fixture
def service(db: Database) -> Iterator[ChatService]:
    yield ChatService(db, MapEngine(SimSource(EXCHANGES, seed=7, now_ms=NOW)), settings(), clock=Clock())


def subs_of(db: Database, chat: ChatRef) -> list[SubscriptionRec]:
    with db.session() as s:
        rec = chats.find_chat(s, chat.platform, chat.external_id)
        return subscriptions.list_subscriptions(s, rec.id) if rec is not None else []


async def test_a_chat_holds_at_most_20_alerts_paused_ones_count(service: ChatService, db: Database) -> None:
    for i in range(20):
        assert not (await service.alert_add(VICTIM, f"BTC {1 + i / 10}%")).error
    assert not (await service.alert_pause(VICTIM, "")).error
    over = await service.alert_add(VICTIM, "BTC 2%")
    assert over.error and "limit is 20" in over.text and "\n" not in over.text
    assert len(subs_of(db, VICTIM)) == 20
    assert not (await service.alert_add(ATTACKER, "BTC")).error  # the limit is per chat


async def test_concurrent_adds_never_exceed_the_limit(service: ChatService, db: Database) -> None:
    replies = await asyncio.gather(*(service.alert_add(VICTIM, f"BTC {1 + i / 10}%") for i in range(30)))
    assert len(subs_of(db, VICTIM)) <= 20
    assert all(r.text != SORRY for r in replies), [r.text for r in replies if r.error][:3]
    assert sum(not r.error for r in replies) == len(subs_of(db, VICTIM))


async def test_guessed_ids_of_another_chat_are_neither_shown_nor_changed(service: ChatService, db: Database) -> None:
    for spec in ("BTC 1%", "BTC 2% side long", "BTCUSD 3%"):
        assert not (await service.alert_add(VICTIM, spec)).error
    assert not (await service.alert_add(ATTACKER, "BTC 5%")).error
    theirs = subs_of(db, VICTIM)
    mine = subs_of(db, ATTACKER)
    for sub in theirs:
        for verb in (service.alert_remove, service.alert_pause, service.alert_resume):
            reply = await verb(ATTACKER, str(sub.id))
            assert reply.error and reply.text == f"you have no alert #{sub.id}; see alert list", reply.text
        for guess in (f"#{sub.id}", f" {sub.id} ", f"0{sub.id}"):
            assert (await service.alert_remove(ATTACKER, guess)).error
    assert subs_of(db, VICTIM) == theirs  # untouched, still enabled
    for read in (service.alert_list, service.settings, service.status):
        text = (await read(ATTACKER)).text
        assert all(f"#{sub.id} " not in text for sub in theirs), text
        assert f"#{mine[0].id} " in text
    assert (await service.alert_pause(ATTACKER, "")).text == "All 1 alerts paused."  # "all" means all of *mine*
    assert [s.enabled for s in subs_of(db, VICTIM)] == [True, True, True]
    assert not (await service.alert_remove(ATTACKER, str(mine[0].id))).error
    assert subs_of(db, VICTIM) == theirs
