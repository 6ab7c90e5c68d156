"""Rehearsals of exchange faults in market time: a real ``liqmap run --source ccxt`` on the virtual clock against the
exchange stand-in serving the recorded Binance dataset, alerts to the Telegram stand-in, compared with the
fault-free reference run by the rule of ``tests/rehearsal/matching.py``."""

from __future__ import annotations

import pytest

from tests.rehearsal.campaign import Campaign, Context, reference_of, scenario, uses
from tests.rehearsal.helpers import (
    CANDLE_MS,
    EXCHANGES,
    FROM,
    HOUR,
    MIN,
    UNTIL,
    Process,
    Ran,
    collect,
    first_clean_after,
    impaired_ticks,
    record,
    recovery,
    repeated_ticks,
    sqlite_db,
    standins_for,
)
from tests.rehearsal.matching import compare, finish

pytestmark = [pytest.mark.slow, pytest.mark.shared_data, pytest.mark.timeout(900)]
ONE_DOWN = (FROM + HOUR, FROM + 3 * HOUR)  # binanceusdm, 11:00-13:00 of market time
ALL_DOWN = (FROM + 3 * HOUR + 30 * MIN, FROM + 4 * HOUR)  # every exchange, 13:30-14:00
STORM = (FROM + 2 * HOUR, FROM + 3 * HOUR)  # 12:00-13:00: every request answered 429 once, then served


async def faulty_run(ctx: Context, name: str, fault: str) -> Ran:
    url = sqlite_db(ctx.workdir)
    async with standins_for(ctx.tape) as s:
        if fault == "one-down":
            s.exchange.outage(("binanceusdm",), *ONE_DOWN)
        elif fault == "all-down":
            s.exchange.outage(EXCHANGES, *ALL_DOWN)
        else:
            s.exchange.storm(*STORM, first=1)
        run = Process(name, s, url, ctx.workdir)
        assert await run.wait() == 0, run.log()[-3000:]
    return collect(url, s, run)


@scenario("one-exchange-down")
async def run_one_exchange_down(ctx: Context) -> Ran:
    return await faulty_run(ctx, "one-exchange-down", "one-down")


@scenario("all-exchanges-down")
async def run_all_exchanges_down(ctx: Context) -> Ran:
    return await faulty_run(ctx, "all-exchanges-down", "all-down")


@scenario("429-storm")
async def run_429_storm(ctx: Context) -> Ran:
    return await faulty_run(ctx, "429-storm", "storm")


@uses("one-exchange-down")
def test_one_exchange_down_for_two_hours(campaign: Campaign) -> None:
    ran: Ran = campaign.result("one-exchange-down")
    reference = reference_of(campaign)
    lo, hi = ONE_DOWN
    assert repeated_ticks(ran.ticks) == []
    # binanceusdm really was down and named missing; the others kept the map and the alerts going (no tick without
    # data)
    during = [t for t in ran.ticks if lo + CANDLE_MS <= t.at < hi]
    assert during and all(t.ok and k.missing_exchanges == ("binanceusdm",) for t in during for k in t.keys)
    assert all(k.exchanges == tuple(e for e in EXCHANGES if e != "binanceusdm") for t in during for k in t.keys)
    back = first_clean_after(ran.ticks, hi)
    assert back is not None and back.at <= hi + CANDLE_MS + 5 * MIN
    fig = compare(reference.outcome, ran.outcome, impaired_ticks(ran.ticks, windows=(ONE_DOWN,)),
                  claim_lost=ran.claim_lost)
    record(fig.line("one-exchange-down", (back.at - hi) / 1000, recovery(ran.processes[0].samples, hi, back.at)))
    assert {why for why, _ in fig.explained} <= {"impaired", "twin", "follow-up", "carried"}
    finish(fig, ran.outcome)


@uses("all-exchanges-down")
def test_all_exchanges_down_for_thirty_minutes(campaign: Campaign) -> None:
    ran: Ran = campaign.result("all-exchanges-down")
    reference = reference_of(campaign)
    lo, hi = ALL_DOWN
    # the ticking part of the run (after --until the drain lets virtual time flow without ticks: stale by design)
    samples = [s for s in ran.processes[0].samples if s.now is None or s.now <= UNTIL]
    assert repeated_ticks(ran.ticks) == []
    failed = [t for t in ran.ticks if not t.ok]
    assert failed and all(lo <= t.at < hi + CANDLE_MS for t in failed)
    # /healthz went 503 naming every exchange, then 200 again
    stale = [s for s in samples if s.code == 503]
    assert stale and any(set(s.down) == set(EXCHANGES) for s in stale), [(s.code, s.down) for s in samples[-50:]]
    assert any(s.code == 200 and s.at > stale[-1].at for s in samples)
    back = first_clean_after(ran.ticks, hi)
    assert back is not None
    fig = compare(reference.outcome, ran.outcome, impaired_ticks(ran.ticks, windows=(ALL_DOWN,)),
                  claim_lost=ran.claim_lost)
    record(fig.line("all-exchanges-down", (back.at - hi) / 1000, recovery(samples, hi, back.at))
           + f" (/healthz 503 for {stale[-1].at - stale[0].at:.1f} s real, naming every exchange)")
    finish(fig, ran.outcome)


@uses("429-storm")
def test_429_storm(campaign: Campaign) -> None:
    ran: Ran = campaign.result("429-storm")
    reference = reference_of(campaign)
    hi = STORM[1]
    storm = [a for a in ran.standins.exchange.answers if a.status == 429]
    assert {a.exchange for a in storm} == set(EXCHANGES)
    impaired = impaired_ticks(ran.ticks)
    assert impaired == set(), sorted(impaired)  # retries rode the storm: every tick mapped every exchange
    fig = compare(reference.outcome, ran.outcome, impaired, claim_lost=ran.claim_lost)
    record(fig.line("429-storm", 0.0, recovery(ran.processes[0].samples, hi, hi))
           + f" ({len(storm)} answers 429, every one retried; no tick lost an exchange)")
    assert not fig.explained
    finish(fig, ran.outcome)
