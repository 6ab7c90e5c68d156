"""Rehearsals of exchange faults in market time: a real ``liqmap run --source ccxt`` on the virtual clock against the
exchange stand-in serving the recorded Binance dataset on all three exchanges, alerts to the Telegram stand-in,
compared with the fault-free reference run by the rule of ``tests/rehearsal/matching.py``."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.rehearsal.helpers import (
    CANDLE_MS,
    EXCHANGES,
    FROM,
    HOUR,
    MIN,
    Process,
    Reference,
    Standins,
    claim_lost_ids,
    first_clean_after,
    impaired_ticks,
    outcome,
    record,
    recovery,
    repeated_ticks,
    stored_ticks,
)
from tests.rehearsal.matching import compare, finish

pytestmark = [pytest.mark.slow, pytest.mark.shared_data, pytest.mark.asyncio(loop_scope="session")]


async def run_with(standins: Standins, url: str, tmp_path: Path, name: str) -> Process:
    run = Process(name, standins, url, tmp_path)
    assert await run.wait() == 0, run.log()[-3000:]
    assert "Traceback" not in run.log(), run.log()[-3000:]
    return run


async def test_one_exchange_down_for_two_hours(standins: Standins, sqlite_db: str, reference: Reference,
                                               tmp_path: Path) -> None:
    lo, hi = FROM + HOUR, FROM + 3 * HOUR
    standins.exchange.outage(("binanceusdm",), lo, hi)
    run = await run_with(standins, sqlite_db, tmp_path, "one-exchange-down")
    got, ticks = outcome(sqlite_db, standins.telegram), stored_ticks(sqlite_db)
    assert repeated_ticks(ticks) == []
    # binanceusdm really was down and named missing; the others kept mapping (no tick without data)
    during = [t for t in ticks if lo + CANDLE_MS <= t.at < hi]
    assert during and all(t.ok and k.missing_exchanges == ("binanceusdm",) for t in during for k in t.keys)
    assert all(k.exchanges == ("okx",) for t in during for k in t.keys)
    back = first_clean_after(ticks, hi)
    assert back is not None and back.at <= hi + CANDLE_MS + 5 * MIN
    fig = compare(reference.outcome, got, impaired_ticks(ticks, windows=((lo, hi),)),
                  claim_lost=claim_lost_ids(run.log()))
    record(fig.line("one-exchange-down", (back.at - hi) / 1000, recovery(run.samples, hi, back.at)))
    finish(fig, got)


async def test_all_exchanges_down_for_thirty_minutes(standins: Standins, sqlite_db: str, reference: Reference,
                                                     tmp_path: Path) -> None:
    lo, hi = FROM + 3 * HOUR + 30 * MIN, FROM + 4 * HOUR
    standins.exchange.outage(EXCHANGES, lo, hi)
    run = await run_with(standins, sqlite_db, tmp_path, "all-exchanges-down")
    got, ticks = outcome(sqlite_db, standins.telegram), stored_ticks(sqlite_db)
    assert repeated_ticks(ticks) == []
    failed = [t for t in ticks if not t.ok]
    assert failed and all(lo <= t.at < hi + CANDLE_MS for t in failed)
    # /healthz went 503 naming every exchange, then 200 again
    stale = [s for s in run.samples if s.code == 503]
    assert stale and any(set(s.down) == set(EXCHANGES) for s in stale), [(s.code, s.down) for s in run.samples[-50:]]
    assert run.samples[-1].code == 200 or any(s.code == 200 and s.at > stale[-1].at for s in run.samples)
    back = first_clean_after(ticks, hi)
    assert back is not None
    fig = compare(reference.outcome, got, impaired_ticks(ticks, windows=((lo, hi),)),
                  claim_lost=claim_lost_ids(run.log()))
    real = recovery(run.samples, hi, back.at)
    record(fig.line("all-exchanges-down", (back.at - hi) / 1000, real)
           + f" (503 for {stale[-1].at - stale[0].at:.1f} s real)")
    finish(fig, got)


async def test_429_storm(standins: Standins, sqlite_db: str, reference: Reference, tmp_path: Path) -> None:
    lo, hi = FROM + 2 * HOUR, FROM + 2 * HOUR + 45 * MIN
    standins.exchange.storm(lo, hi, first=2)
    run = await run_with(standins, sqlite_db, tmp_path, "429-storm")
    got, ticks = outcome(sqlite_db, standins.telegram), stored_ticks(sqlite_db)
    storm = [a for a in standins.exchange.answers if a.status == 429]
    assert {a.exchange for a in storm} == set(EXCHANGES)
    impaired = impaired_ticks(ticks)
    assert impaired == set(), sorted(impaired)  # retries rode the storm: every tick mapped every exchange
    fig = compare(reference.outcome, got, impaired, claim_lost=claim_lost_ids(run.log()))
    record(fig.line("429-storm", 0.0, recovery(run.samples, hi, hi)) + f" ({len(storm)} answers 429)")
    assert not fig.explained
    finish(fig, got)
