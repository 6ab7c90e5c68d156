"""Rehearsal of chat API faults: while a real ``liqmap run --source ccxt`` replays the recorded market on the virtual
clock, the Telegram stand-in answers the next alert uploads with 429 (``retry_after`` 30 s) twice, a 502, a 403 (the
user blocked the bot) and a timeout after the upload. Compared with the fault-free reference run by the rule of
``tests/rehearsal/matching.py``, plus: the blocked chat is owed nothing from the moment it blocked the bot, the
timed-out upload arrived once and is never resent, and Telegram's ``retry_after`` is waited out in real time."""

from __future__ import annotations

import pytest

from tests.rehearsal.campaign import Campaign, Context, reference_of, scenario, uses
from tests.rehearsal.helpers import FROM, HOUR, Process, Ran, collect, record, sqlite_db, standins_for
from tests.rehearsal.matching import compare, finish

pytestmark = [pytest.mark.slow, pytest.mark.shared_data, pytest.mark.timeout(900)]
FAULTS = (("429", 2), ("502", 1), ("403", 1), ("timeout", 1))  # in this order, on the next uploads
RETRY_AFTER_S = 30
HANG_S = 25  # the alert upload's read timeout is 20 s


@scenario("chat-api-faults")
async def run_chat_faults(ctx: Context) -> Ran:
    url = sqlite_db(ctx.workdir)
    async with standins_for(ctx.tape) as s:
        run = Process("chat-faults", s, url, ctx.workdir)
        await run.until_tick(FROM + HOUR)
        first = len(s.telegram.calls_of("sendPhoto"))
        for kind, times in FAULTS:
            s.telegram.fail("sendPhoto", kind, times=times, retry_after=RETRY_AFTER_S, hang_s=HANG_S)
        assert await run.wait() == 0, run.log()[-3000:]
    return collect(url, s, run, first=first)


@uses("chat-api-faults")
def test_chat_api_429_502_403_and_timeout(campaign: Campaign) -> None:
    ran: Ran = campaign.result("chat-api-faults")
    reference = reference_of(campaign)
    tg, got = ran.standins.telegram, ran.outcome
    first = ran.extra["first"]
    faulted = tg.calls_of("sendPhoto")[first : first + sum(n for _, n in FAULTS)]
    assert [c.status for c in faulted] == [429, 429, 502, 403, 200], [(c.status, c.params["chat_id"]) for c in faulted]
    blocked_chat = int(faulted[3].params["chat_id"])
    timed_out = got.key_of(faulted[4])
    assert timed_out is not None
    # the timed-out upload arrived once and must never be resent; a resend while it still hung is defect D1
    resent = [c for c in tg.calls_of("sendPhoto") if c.at > faulted[4].at and got.key_of(c) == timed_out]
    assert all(c.at < faulted[4].at + HANG_S for c in resent), "resent after the upload timed out"
    if not resent:
        assert "not resent" in (got.rows[timed_out].last_error or "")
    failed = {k for k, r in got.rows.items() if r.state == "failed"}
    blocked_from = min(k[2] for k in failed if k[3] == blocked_chat)
    assert failed - {timed_out} == {k for k in failed if k[3] == blocked_chat}
    assert all("blocked" in (got.rows[k].last_error or "") for k in failed if k[3] == blocked_chat)
    retried = [r for k, r in got.rows.items() if r.state == "sent" and r.attempts > 1 and k != timed_out]
    assert len(retried) >= 2  # the 429s (one alert may take both) and the 502 were retried, then delivered
    fig = compare(reference.outcome, got, set(), blocked={blocked_chat: blocked_from}, claim_lost=ran.claim_lost,
                  allowed_duplicates={timed_out} if resent else set())
    assert {why for why, _ in fig.explained} <= {"blocked"}
    fig.defects += [("D1", timed_out)] if resent else []
    # Telegram's "retry after 30 s" is real time; an alert retried sooner is defect D2 (delays in virtual time)
    for call in faulted[:2]:
        text = call.params.get("caption")
        again = [c.at - call.at for c in tg.calls_of("sendPhoto") if c.at > call.at
                 and c.params.get("chat_id") == call.params["chat_id"] and c.params.get("caption") == text]
        if again and again[0] < RETRY_AFTER_S:
            fig.defects.append(("D2", (call.params["chat_id"], round(again[0], 1))))
    retried_keys = {k for k, r in got.rows.items() if r in retried}
    late = max((r.sent_at or 0) - r.created_at for r in retried)
    last_retry = max(c.at for c in tg.calls_of("sendPhoto") if c.status == 200 and got.key_of(c) in retried_keys)
    record(fig.line("chat-api-faults", late / 1000, last_retry - faulted[0].at)
           + f" (retried {len(retried)}; chat {blocked_chat} blocked the bot: owed nothing after; the timed-out"
           + (" upload was resent while it hung)" if resent else " upload arrived once, not resent)"))
    finish(fig, got, states=("sent", "failed"))
