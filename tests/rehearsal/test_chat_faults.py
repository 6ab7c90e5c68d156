"""Rehearsal of chat API faults: while a real ``liqmap run --source ccxt`` replays the recorded market on the virtual
clock, the Telegram stand-in answers alert uploads with 429 (``retry_after``), a 502, a 403 (the user blocked the
bot) and a timeout after the upload. Compared with the fault-free reference run by the rule of
``tests/rehearsal/matching.py``, plus: the blocked chat is owed nothing from the moment it blocked the bot, and the
timed-out upload arrived once and was never resent."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.rehearsal.helpers import FROM, HOUR, Process, Reference, Standins, claim_lost_ids, outcome, record
from tests.rehearsal.matching import compare, finish

pytestmark = [pytest.mark.slow, pytest.mark.shared_data, pytest.mark.asyncio(loop_scope="session")]
FAULTS = (("429", 2), ("502", 1), ("403", 1), ("timeout", 1))  # in this order, on the next uploads
RETRY_AFTER_S = 30
HANG_S = 25  # the alert upload's read timeout is 20 s


async def test_chat_api_429_502_403_and_timeout(standins: Standins, sqlite_db: str, reference: Reference,
                                               tmp_path: Path) -> None:
    tg = standins.telegram
    run = Process("chat-faults", standins, sqlite_db, tmp_path)
    await run.until_tick(FROM + HOUR)
    first = len(tg.calls_of("sendPhoto"))
    for kind, times in FAULTS:
        tg.fail("sendPhoto", kind, times=times, retry_after=RETRY_AFTER_S, hang_s=HANG_S)
    assert await run.wait() == 0, run.log()[-3000:]
    assert "Traceback" not in run.log()
    got = outcome(sqlite_db, tg)
    faulted = tg.calls_of("sendPhoto")[first : first + sum(n for _, n in FAULTS)]
    assert [c.status for c in faulted] == [429, 429, 502, 403, 200], [(c.status, c.params["chat_id"]) for c in faulted]
    blocked_chat = int(faulted[3].params["chat_id"])
    timed_out = got.key_of(faulted[4])
    assert timed_out is not None
    sends_of = {k: [c for c in tg.calls_of("sendPhoto") if got.key_of(c) == k] for k in got.rows}
    # the timed-out upload arrived once and must never be resent; a resend while it still hung is defect D1
    resent = [c for c in sends_of[timed_out] if c.at > faulted[4].at]
    assert all(c.at < faulted[4].at + HANG_S for c in resent), "resent after the upload timed out"
    if not resent:
        assert "not resent" in (got.rows[timed_out].last_error or "")
    failed = {k for k, r in got.rows.items() if r.state == "failed"}
    blocked_from = min(k[2] for k in failed if k[3] == blocked_chat)
    assert failed - {timed_out} == {k for k in failed if k[3] == blocked_chat}
    assert all("blocked" in (got.rows[k].last_error or "") for k in failed if k[3] == blocked_chat)
    retried = [r for k, r in got.rows.items() if r.state == "sent" and r.attempts > 1 and k != timed_out]
    assert len(retried) >= 2  # the 429s (one alert may take both) and the 502 were retried, then delivered
    fig = compare(reference.outcome, got, set(), blocked={blocked_chat: blocked_from},
                  claim_lost=claim_lost_ids(run.log()), allowed_duplicates={timed_out} if resent else set())
    assert {why for why, _ in fig.explained} <= {"blocked"}
    fig.defects += [("D1", timed_out)] if resent else []
    # Telegram's "retry after 30 s" is real time; a retry sooner than that is defect D2 (backoff in virtual time)
    for call in faulted[:2]:
        key = got.key_of(call) or next(k for k, r in got.rows.items() if k[3] == call.params["chat_id"]
                                       and r.text == call.params.get("caption"))
        text = got.rows[key].text
        again = [c.at - call.at for c in tg.calls_of("sendPhoto") if c.at > call.at
                 and c.params.get("chat_id") == call.params["chat_id"] and c.params.get("caption") == text]
        if again and again[0] < RETRY_AFTER_S:
            fig.defects.append(("D2", key))
    late = max((r.sent_at or 0) - r.created_at for r in retried)
    last_retry = max(c.at for c in tg.calls_of("sendPhoto") if got.key_of(c) in
                     {k for k, r in got.rows.items() if r in retried} and c.status == 200)
    record(fig.line("chat-api-faults", late / 1000, last_retry - faulted[0].at)
           + f" (retried {len(retried)}; chat {blocked_chat} blocked the bot; the timed-out upload "
           + ("was resent while it hung)" if resent else "arrived once, not resent)"))
    finish(fig, got, states=("sent", "failed"))
