"""``alert test <symbol> [proximity%] [min ...] [side ...] [window ...] [cooldown ...]``: how that alert would have
done over the last days, as history and not as a promise.

The rule is parsed by ``parse_alert_add`` and replayed through the periodic job's own alert code
(``bot.backtest_alerts.replay_alerts``: ``evaluate_map`` with hysteresis, cooldown, sweeps and the score) at hourly
steps over the last ``TEST_DAYS`` days, on the candles the bot has stored in its database (``market_cache``; no
exchange is asked; a synthetic source, which is never stored, is loaded instead). Each alert is judged on whether
a candle's wick reached the zone's near edge within 24 h, against the zone mirrored to the other side of price at
the same distance. The steps are capped (``MAX_STEPS``) and the work runs in a worker thread, at most
``MAX_RUNNING`` at a time, so a test never blocks the bot.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from dataclasses import dataclass

from bot.backtest_alerts import replay_alerts, score_replay, subscription_for
from bot.chat.parse import CommandError, parse_alert_add
from bot.chat.reply import DISCLAIMER, Reply, sub_line
from bot.clock import Clock
from bot.engine import MapEngine
from bot.market.source import is_listed
from bot.market.symbols import display_symbol
from bot.market.types import MarketSeries
from bot.model.params import DEFAULT_PARAMS, ModelParams
from bot.model.types import WINDOWS, window_ms
from bot.storage import market_cache
from bot.storage.db import Database
from bot.storage.records import SubscriptionRec
from bot.timeparse import parse_duration

HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS
TEST_DAYS = 7
MAX_STEPS = TEST_DAYS * 24  # hourly steps over a week; longer spans or coarser candles step further apart
HORIZON_MS = DAY_MS
MAX_RUNNING = 2  # alert tests computing at once (the machine's cores); more get "busy, try again"
BUSY = "Another alert test is running right now; please try again in a few seconds."
_running = threading.BoundedSemaphore(MAX_RUNNING)


@dataclass(frozen=True)
class AlertTestResult:
    """What the replay found: ``checks`` evaluated steps ``step_ms`` apart spanning ``span_ms``; ``fired`` alerts,
    ``judged`` of them at least 24 h old, ``reached`` / ``mirrored`` of those whose zone / mirrored zone price
    reached within 24 h."""

    checks: int
    step_ms: int
    span_ms: int
    fired: int
    judged: int
    reached: int
    mirrored: int
    synthetic: bool


def alert_test_step_ms(window: str, days: float = TEST_DAYS) -> int:
    """Hourly, never finer than the window's candles, and at most ``MAX_STEPS`` steps over ``days``."""
    per_step = -(-int(days * DAY_MS) // MAX_STEPS)
    per_step = -(-per_step // HOUR_MS) * HOUR_MS
    return max(HOUR_MS, parse_duration(WINDOWS[window][1]), per_step)


def run_alert_test(
    series: Sequence[MarketSeries], sub: SubscriptionRec, now_ms: int, *, days: float = TEST_DAYS,
    params: ModelParams | None = None,
) -> AlertTestResult:
    """Replay ``sub`` on ``series`` (one per exchange) over the ``days`` before ``now_ms`` and judge the alerts
    (pure computation: call it in a worker thread)."""
    step = alert_test_step_ms(sub.window, days)
    replay = replay_alerts(
        series, sub, step_ms=step, since=now_ms - int(days * DAY_MS), until=now_ms + 1, params=params or DEFAULT_PARAMS
    )
    reference = max(series, key=lambda s: (s.n, s.last_close_time))
    records = score_replay(replay, reference, None, HORIZON_MS)
    judged = [r for r in records if r.outcome.reached is not None]
    span = replay.last - replay.first + step if replay.first is not None and replay.last is not None else 0
    return AlertTestResult(
        checks=replay.steps, step_ms=step, span_ms=span, fired=len(records), judged=len(judged),
        reached=sum(bool(r.outcome.reached) for r in judged), mirrored=sum(bool(r.mirrored.reached) for r in judged),
        synthetic=any(s.synthetic for s in series),
    )


def _of(k: int, n: int) -> str:
    return f"{round(100 * k / n)}% ({k} of {n})"


def alert_test_text(sub: SubscriptionRec, r: AlertTestResult, days: float = TEST_DAYS) -> str:
    """The reply: how often the alert would have fired and how often its zone was then reached, beside the mirrored
    zones; labelled as history."""
    span_days = r.span_ms / DAY_MS
    every = "hourly" if r.step_ms == HOUR_MS else f"{r.step_ms // HOUR_MS}-hourly"
    data = "the synthetic market" if r.synthetic else "the stored candles"
    if span_days >= days - 1 / 24:
        when = f"the last {days:g} days ({r.checks} {every} checks on {data})"
    else:
        when = f"the last {span_days:.1f} days ({r.checks} {every} checks on {data}: all the stored history allows)"
    lines = [f"Alert test, history and not a promise: {sub_line(sub)}"]
    times = {0: "0 times", 1: "once"}.get(r.fired, f"{r.fired} times")
    lines.append(f"Over {when} this alert would have fired {times}.")
    if r.judged:
        lines.append(
            f"The zone was reached within 24h in {_of(r.reached, r.judged)}; "
            f"at zones the same distance away on the other side: {_of(r.mirrored, r.judged)}."
        )
    waiting = r.fired - r.judged
    if waiting:
        what = "alert is" if waiting == 1 else "alerts are"
        lines.append(f"{waiting} {what} less than 24h old: too recent to judge.")
    if r.synthetic:
        lines.append("SYNTHETIC market data (simulator).")
    lines.append("Past alerts say nothing certain about the next one. " + DISCLAIMER)
    return "\n".join(lines)


def _stored(db: Database, exchanges: Sequence[str], symbol: str, tf: str, since: int, until: int) -> list[MarketSeries]:
    with db.session() as s:
        found = [market_cache.load_series(s, ex, symbol, tf, since, until) for ex in exchanges]
    return [x for x in found if x is not None and x.n]


async def alert_test_reply(
    db: Database, engine: MapEngine, args: str, clock: Clock, *, days: float = TEST_DAYS
) -> Reply:
    """Answer ``alert test <args>`` (the arguments of ``alert add``). Bad input gets the parser's one line (with
    ``alert test`` in its examples); no stored candles, too little history or a busy bot get a short answer."""
    try:
        spec = parse_alert_add(args)
    except CommandError as exc:
        return Reply(str(exc).replace("alert add", "alert test"), error=True)
    sub = subscription_for(spec)
    source = engine.source
    now = source.end_ms if source.end_ms is not None else clock()
    tf, span = WINDOWS[spec.window][1], window_ms(spec.window)
    since = now - int(days * DAY_MS) - span
    name = f"{display_symbol(spec.symbol)} {spec.window}"
    if not _running.acquire(blocking=False):
        return Reply(BUSY, error=True)
    try:
        series = await asyncio.to_thread(_stored, db, source.exchanges, spec.symbol, tf, since, now)
        if not series and source.synthetic and await is_listed(source, spec.symbol):
            series = [s for s in (await source.load(spec.symbol, tf, since, now)).series if s.n]
        if not series:
            return Reply(
                f"No stored market data for {name} yet: the bot keeps the candles of the maps it computes. "
                f"Try again once it has watched {display_symbol(spec.symbol)} for a while (e.g. after liqmap "
                f"{display_symbol(spec.symbol)} {spec.window}).",
                error=True,
            )
        result = await asyncio.to_thread(run_alert_test, series, sub, now, days=days, params=engine.params)
    finally:
        _running.release()
    if result.checks == 0:
        return Reply(
            f"Not enough stored history for {name} yet: a {spec.window} map needs {spec.window} of candles before "
            "the first check.",
            error=True,
        )
    return Reply(alert_test_text(sub, result, days))
