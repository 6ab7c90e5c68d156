"""The platform-neutral chat service on a real database, the sim market and the real renderer."""

from __future__ import annotations

import pytest

from bot.chat.reply import ChatRef, parse_action
from bot.chat.service import ChatService
from bot.engine import MapEngine
from bot.market.source import SimSource
from bot.render import RenderCache
from bot.storage import chats, subscriptions
from bot.storage.db import Database
from tests.alerts.helpers import EXCHANGES, NOW, Clock, make_job, settings

ME = ChatRef("telegram", "42", "private", "me")


def service(db: Database, **kw: object) -> ChatService:
    engine = MapEngine(SimSource(EXCHANGES, seed=7, now_ms=NOW))
    return ChatService(db, engine, settings(), clock=Clock(), **kw)  # type: ignore[arg-type]


async def test_alert_commands_round_trip(db: Database) -> None:
    svc = service(db)
    r = await svc.alert_add(ME, "BTC")
    assert not r.error and r.text.startswith("Alert #") and "BTCUSDT 24h within 1.00%" in r.text
    r = await svc.alert_add(ME, "btcusd 0.5% min 50M side short window 3d cooldown 1h")
    assert "BTCUSD 3d within 0.50% · min $50M · short · cooldown 60m" in r.text
    listed = (await svc.alert_list(ME)).text
    ids = [int(line.split()[0][1:]) for line in listed.splitlines()[1:]]
    assert len(ids) == 2
    assert (await svc.alert_pause(ME, str(ids[0]))).text == f"Alert #{ids[0]} paused."
    assert "paused" in (await svc.alert_list(ME)).text
    assert (await svc.alert_resume(ME)).text == "All 2 alerts resumed."
    assert (await svc.alert_pause(ME, "all")).text == "All 2 alerts paused."
    assert (await svc.alert_remove(ME, f"#{ids[1]}")).text == f"Alert #{ids[1]} removed."
    missing = await svc.alert_remove(ME, str(ids[1]))
    assert missing.error and "no alert" in missing.text
    other = ChatRef("discord", "42", "channel")  # same external id on another platform: a different chat
    assert (await svc.alert_list(other)).text.startswith("No alerts yet")
    with db.session() as s:
        chat = chats.find_chat(s, "telegram", "42")
        assert chat is not None and len(subscriptions.list_subscriptions(s, chat.id)) == 1


@pytest.mark.parametrize(
    ("call", "hint"),
    [
        ("alert_add:BTC 1.5 lots", "e.g. alert add BTC 1.5% min 50M"),
        ("alert_add:BTC min huge", "like 50M, 2.5B, 750k"),
        ("alert_remove:abc", "alert remove <id>"),
        ("alert_remove:", "alert remove <id>"),
        ("alert_pause:x", "alert pause [id]"),
    ],
)
async def test_invalid_input_gets_one_friendly_line(db: Database, call: str, hint: str) -> None:
    name, args = call.split(":", 1)
    r = await getattr(service(db), name)(ME, args)
    assert r.error and hint in r.text and "\n" not in r.text


async def test_subscription_limit_protects_the_service(db: Database) -> None:
    svc = service(db, limit_per_chat=3)
    for _ in range(3):
        assert not (await svc.alert_add(ME, "BTC")).error
    r = await svc.alert_add(ME, "BTC 2%")
    assert r.error and "limit is 3" in r.text


async def test_liqmap_png_caption_buttons_and_shared_render(db: Database) -> None:
    svc = service(db, render_cache=RenderCache())
    r = await svc.liqmap(ME, "BTC", "24h")
    assert not r.error and r.png is not None and r.png.startswith(b"\x89PNG")
    assert "BTCUSDT 24h liquidation map" in r.text and "SYNTHETIC" in r.text and "Below (longs)" in r.text
    actions = [parse_action(b.action) for row in r.buttons for b in row]
    assert ("BTC/USDT:USDT", "7d", "heatmap") in actions and ("BTC/USDT:USDT", "24h", "map") in actions
    assert all(len(b.action.encode()) <= 64 for row in r.buttons for b in row)
    again = await svc.liqmap(ME, "BTCUSDT")
    assert again.png == r.png and svc.renders.renders == 1
    bad = await svc.liqmap(ME, "BTC", "2h")
    assert bad.error and "12h, 24h" in bad.text
    bad = await svc.liqmap(ME, "BTC", "24h", kind="pie")
    assert bad.error and "heatmap or map" in bad.text


async def test_levels_and_settings_and_status(db: Database) -> None:
    svc = service(db)
    levels = (await svc.levels(ME)).text
    assert levels.startswith("BTCUSDT 24h") and "Nearest:" in levels and "Largest:" in levels
    await svc.alert_add(ME, "BTC 1%")
    assert "Alerts: 1 of 20 (1 active, 0 paused)" in (await svc.settings(ME)).text
    assert "No periodic run yet." in (await svc.status(ME)).text
    job = make_job(db, Clock())
    await job.tick()
    svc.job = job
    status = (await svc.status(ME)).text
    assert "BTCUSDT 24h: binanceusdm, bybit, okx" in status and "(fresh)" in status
    assert "Your active alerts: 1" in status


async def test_help_lists_every_command() -> None:
    text = ChatService.help().text
    for word in (
        "liqmap",
        "levels",
        "alert add",
        "alert list",
        "alert remove",
        "pause",
        "resume",
        "settings",
        "status",
    ):
        assert word in text


async def test_alert_image_for_the_dispatcher(db: Database) -> None:
    from bot.alerts.dispatcher import Dispatcher
    from tests.alerts.helpers import RecordingNotifier, add_sub

    add_sub(db)
    await make_job(db, Clock()).tick()
    svc = service(db)

    class PhotoNotifier(RecordingNotifier):
        pngs: list[bytes | None]

        async def send(
        self, chat_external_id: str, text: str, png: bytes | None, *, side: str | None = None
    ) -> str:
            self.pngs = [*getattr(self, "pngs", []), png]
            return await super().send(chat_external_id, text, png)

    tg = PhotoNotifier()
    report = await Dispatcher(db, {"telegram": tg}, "w1", clock=Clock(), image_for=svc.alert_png).run_once()
    assert report.sent == 1 and tg.pngs[0] is not None and tg.pngs[0].startswith(b"\x89PNG")


async def test_a_chat_has_an_image_budget_of_its_own(db: Database) -> None:
    from bot.chat.limits import SlidingWindowLimit

    svc = service(db, chat_image_limit=SlidingWindowLimit(2, 60.0))
    group = ChatRef("telegram", "-100", "group", "traders")
    first, second, third = [await svc.liqmap(group) for _ in range(3)]
    assert first.png is not None and second.png is not None  # the second is a cache hit, still counted
    assert third.error and third.png is None and "This chat asked for a lot of maps" in third.text
    assert (await svc.liqmap(ME)).png is not None  # another chat is not affected
