"""Rehearsals of process and database faults: a real ``liqmap run --source ccxt`` on the virtual clock (the exchange
stand-in serving the recorded Binance dataset, alerts to the Telegram stand-in) is SIGKILLed during a dispatch and
started again, sees its PostgreSQL server restart during a tick, or is joined by a second replica and then killed.
Each run is compared with the fault-free reference run by the rule of ``tests/rehearsal/matching.py``."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from tests.rehearsal.helpers import (
    FROM,
    HOUR,
    MIN,
    TICK_MS,
    UNTIL,
    Process,
    Reference,
    Standins,
    claim_lost_ids,
    impaired_ticks,
    iso,
    latest_tick_at,
    outcome,
    record,
    repeated_ticks,
    stored_ticks,
    until,
)
from tests.rehearsal.matching import compare, finish

pytestmark = [pytest.mark.slow, pytest.mark.shared_data, pytest.mark.asyncio(loop_scope="session")]
SENDS = ("sendPhoto", "sendMessage")


async def test_sigkill_during_a_dispatch_then_restart(standins: Standins, sqlite_db: str, reference: Reference,
                                                      tmp_path: Path) -> None:
    tg = standins.telegram
    first = Process("sigkill-1", standins, sqlite_db, tmp_path)
    await first.until_tick(FROM + 2 * HOUR + 30 * MIN)
    before = len(tg.calls_of(*SENDS))
    tg.fail("sendPhoto", "timeout", hang_s=60)  # Telegram takes the next photo and does not answer
    await until(lambda: len(tg.calls_of(*SENDS)) > before, 60, "the next alert reaches Telegram")
    hung = tg.calls_of(*SENDS)[before]
    await asyncio.sleep(0.3)  # in the middle of the dispatch: delivered, unanswered, not marked sent
    await first.kill()
    killed = time.perf_counter()
    stood = latest_tick_at(sqlite_db)
    assert stood is not None and FROM < stood < UNTIL
    second = first.again("sigkill-2")
    assert await second.wait() == 0, second.log()[-3000:]
    assert "(resumed)" in second.log() and "Traceback" not in second.log()
    got, ticks = outcome(sqlite_db, tg), stored_ticks(sqlite_db)
    resumed_at = min(t.at for t in ticks if t.at > stood)
    skipped = impaired_ticks(ticks)  # every tick ran with every exchange, unless the restart skipped some
    assert repeated_ticks(ticks) == []
    in_flight = got.key_of(hung)
    assert in_flight is not None and got.rows[in_flight].attempts >= 2  # the documented at-least-once window
    fig = compare(reference.outcome, got, skipped, allowed_duplicates={in_flight},
                  claim_lost=claim_lost_ids(first.log(), second.log()))
    fig.defects += [("D5", at) for at in sorted(skipped)]  # the dead process's recompute lease blocked them
    real = second.ticks_after(stood)
    record(fig.line("sigkill-during-dispatch", (resumed_at - stood) / 1000, None if real is None else real - killed)
           + f" (the in-flight alert sent before the kill and again after; {len(skipped)} ticks skipped)")
    assert all(stood < at < resumed_at for at in skipped), sorted(skipped)  # only right after the restart
    finish(fig, got)


PG_SPEED = 600.0  # a restart of a second or two is a few ticks of virtual time, not an hour
PG_UNTIL = FROM + 5 * HOUR


@pytest.mark.postgres
async def test_postgresql_restart_during_a_tick(standins: Standins, restartable: None, pg_db: str,
                                                reference: Reference, tmp_path: Path) -> None:
    from tests.reliability import pg_server

    run = Process("pg-restart", standins, pg_db, tmp_path, speed=PG_SPEED, until=PG_UNTIL)
    await run.until_tick(FROM + 2 * HOUR)
    stood = max(s.last_tick_at or 0 for s in run.samples)
    started = time.perf_counter()
    done = await asyncio.to_thread(pg_server.ctl, "restart")
    assert done.returncode == 0, done.stderr
    assert await run.wait() == 0, run.log()[-3000:]
    log = run.log()
    assert "alert tick failed" in log, "the restart did not hit a tick"
    got, ticks = outcome(pg_db, standins.telegram), stored_ticks(pg_db)
    assert repeated_ticks(ticks) == []
    impaired = impaired_ticks(ticks, until=PG_UNTIL)
    assert impaired, "no tick failed: the restart was not rehearsed"
    back = min(t.at for t in ticks if t.at > max(impaired))
    fig = compare(reference.outcome.upto(PG_UNTIL), got, impaired, claim_lost=claim_lost_ids(log))
    real = run.ticks_after(max(impaired))
    record(fig.line("postgresql-restart", (back - max(stood, min(impaired) - TICK_MS)) / 1000,
                    None if real is None else real - started)
           + f" ({len(impaired)} ticks failed while the server was down; span {FROM}..{PG_UNTIL} at {PG_SPEED:g}x)")
    finish(fig, got)


REPLICA_SPEED = 600.0  # the Telegram poller hands over in real seconds (lease ttl 20 s): the run must outlast that


@pytest.mark.postgres
async def test_second_replica_joins_then_the_first_is_killed(standins: Standins, pg_db: str, reference: Reference,
                                                             tmp_path: Path) -> None:
    tg = standins.telegram
    a = Process("replica-a", standins, pg_db, tmp_path, speed=REPLICA_SPEED)
    await a.until_tick(FROM + 30 * MIN)
    b = a.again("replica-b")
    await until(lambda: "Telegram bot @" in b.log(), 60, "replica b logged in")
    tg.type_text(2001, "/start")
    await until(lambda: bool(tg.sent(2001)), 30, "/start answered with both replicas up")
    await a.until_tick(FROM + HOUR + 30 * MIN)
    await a.kill()
    killed = time.perf_counter()
    stood = latest_tick_at(pg_db)
    assert stood is not None
    polled = await until(lambda: any(c.at > killed + 0.5 for c in tg.calls_of("getUpdates")), 40,
                         "replica b polls Telegram")
    tg.type_text(2002, "/start")
    await until(lambda: bool(tg.sent(2002)), 30, "/start answered by replica b")
    assert await b.wait(300) == 0, b.log()[-3000:]
    assert tg.poll_conflicts == 0 and tg.max_polls_in_flight == 1, (tg.poll_conflicts, tg.max_polls_in_flight)
    assert len(tg.sent(2001)) == 1 and len(tg.sent(2002)) == 1
    got, ticks = outcome(pg_db, tg), stored_ticks(pg_db)
    holders = [t.holder for t in sorted(ticks, key=lambda t: t.at)]
    assert len(set(holders)) == 2, "the job did not move to replica b"
    assert repeated_ticks(ticks) == [], repeated_ticks(ticks)
    impaired = impaired_ticks(ticks)  # ticks nobody ran: the dead replica's recompute lease kept b out
    took_over = min(t.at for t in ticks if t.at > stood)
    assert all(stood < at < took_over for at in impaired), [
        (iso(at), [(t.holder[-6:], t.ok, [(k.exchanges, k.missing_exchanges, k.error) for k in t.keys])
                   for t in ticks if t.at == at]) for at in sorted(impaired)]
    fig = compare(reference.outcome, got, impaired, claim_lost=claim_lost_ids(a.log(), b.log()))
    fig.defects += [("D5", at) for at in sorted(impaired)]
    record(fig.line("replica-handover", (took_over - stood) / 1000, b.ticks_after(stood) and
                    (b.ticks_after(stood) or 0) - killed)
           + f" (Telegram polling handed over in {polled - killed:.1f} s real, {len(impaired)} ticks not run)")
    finish(fig, got)
