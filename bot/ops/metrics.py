"""In-process metrics with a hand-rolled Prometheus text exposition (format 0.0.4); every name starts ``liqmap_``.

The job, dispatcher, chat service and render cache take an optional ``Metrics`` and call its ``record_*`` methods;
``render_prometheus`` turns a snapshot (plus the outbox depth read at scrape time) into the ``/metrics`` text.
Times are UTC ms internally and seconds in the exposition. Use from one event loop.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from bot.market.types import Freshness

RENDER_BUCKETS_S: tuple[float, ...] = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
TICK_BUCKETS_S: tuple[float, ...] = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


def wall_ms() -> int:
    """Now, UTC ms."""
    return int(time.time() * 1000)


@dataclass
class Histogram:
    """Cumulative-bucket histogram of seconds: ``counts[i]`` observations <= ``buckets[i]``, plus sum and count."""

    buckets: tuple[float, ...]
    counts: list[int] = field(default_factory=list)
    total: float = 0.0
    count: int = 0

    def __post_init__(self) -> None:
        self.counts = [0] * len(self.buckets)

    def observe(self, seconds: float) -> None:
        """Add one observation (seconds)."""
        for i, bound in enumerate(self.buckets):
            if seconds <= bound:
                self.counts[i] += 1
        self.total += seconds
        self.count += 1


@dataclass
class ExchangeData:
    """Newest data seen from one exchange: last closed candle (UTC ms, 0 = none) and whether its refresh worked."""

    last_close_ms: int
    ok: bool


class Metrics:
    """Counters and gauges of one process. ``clock`` gives now in UTC ms (tests pass the job's clock)."""

    def __init__(self, clock: Callable[[], int] = wall_ms) -> None:
        self.clock = clock
        self.started_at_ms = clock()
        self.last_tick_ok_ms: int | None = None
        self.ticks = 0
        self.ticks_skipped = 0  # another replica held the recompute lease
        self.tick_failures = 0
        self.tick_seconds = Histogram(TICK_BUCKETS_S)
        self.exchanges: dict[str, ExchangeData] = {}
        self.alerts_sent = 0
        self.alerts_failed = 0
        self.alerts_retried = 0
        self.commands: dict[tuple[str, str], int] = {}
        self.command_errors: dict[tuple[str, str], int] = {}
        self.render_seconds: dict[str, Histogram] = {}

    # ---- recording (called by the job, dispatcher, chat service and render cache) ---------------------------
    def record_tick(self, at_ms: int, seconds: float, *, ran: bool) -> None:
        """A tick that finished without raising at ``at_ms`` (``ran`` False: another replica had the lease)."""
        self.last_tick_ok_ms = at_ms
        self.ticks += 1
        self.ticks_skipped += 0 if ran else 1
        self.tick_seconds.observe(seconds)

    def record_tick_failure(self) -> None:
        """A tick that raised."""
        self.tick_failures += 1

    def record_freshness(self, freshness: Iterable[Freshness]) -> None:
        """Per-exchange freshness of one computed map; the newest last-closed candle per exchange wins."""
        for f in freshness:
            seen = self.exchanges.get(f.exchange)
            newest = max(f.last_candle_close_ms, seen.last_close_ms if seen else 0)
            self.exchanges[f.exchange] = ExchangeData(newest, f.ok)

    def record_dispatch(self, sent: int, failed: int, retried: int) -> None:
        """Outcomes of one dispatcher pass."""
        self.alerts_sent += sent
        self.alerts_failed += failed
        self.alerts_retried += retried

    def record_command(self, command: str, platform: str, *, error: bool = False) -> None:
        """One chat command; ``error`` when it failed unexpectedly (not a user mistake)."""
        key = (command, platform)
        self.commands[key] = self.commands.get(key, 0) + 1
        if error:
            self.command_errors[key] = self.command_errors.get(key, 0) + 1

    def observe_render(self, kind: str, seconds: float) -> None:
        """One finished PNG render of ``kind`` that took ``seconds``."""
        self.render_seconds.setdefault(kind, Histogram(RENDER_BUCKETS_S)).observe(seconds)

    # ---- reading ---------------------------------------------------------------------------------------------
    def data_age_s(self, now_ms: int | None = None) -> dict[str, float | None]:
        """Seconds since each exchange's newest closed candle (None when none was ever seen)."""
        now = self.clock() if now_ms is None else now_ms
        return {
            name: (now - d.last_close_ms) / 1000 if d.last_close_ms > 0 else None
            for name, d in sorted(self.exchanges.items())
        }


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _num(value: float) -> str:
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if math.isnan(value):
        return "NaN"
    return repr(float(value)) if not float(value).is_integer() else str(int(value))


class _Text:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def family(self, name: str, kind: str, help_text: str) -> None:
        self.lines.append(f"# HELP {name} {help_text}")
        self.lines.append(f"# TYPE {name} {kind}")

    def sample(self, name: str, value: float, labels: Mapping[str, str] | None = None) -> None:
        label_text = ",".join(f'{k}="{_escape(v)}"' for k, v in (labels or {}).items())
        self.lines.append(f"{name}{{{label_text}}} {_num(value)}" if label_text else f"{name} {_num(value)}")

    def scalar(self, name: str, kind: str, help_text: str, value: float) -> None:
        """A family with one unlabelled sample."""
        self.family(name, kind, help_text)
        self.sample(name, value)

    def histogram(self, name: str, h: Histogram, labels: Mapping[str, str] | None = None) -> None:
        base = dict(labels or {})
        for bound, n in zip(h.buckets, h.counts, strict=True):
            self.sample(f"{name}_bucket", n, {**base, "le": _num(bound)})
        self.sample(f"{name}_bucket", h.count, {**base, "le": "+Inf"})
        self.sample(f"{name}_sum", h.total, base)
        self.sample(f"{name}_count", h.count, base)


def render_prometheus(m: Metrics, outbox: Mapping[str, int] | None) -> str:
    """The Prometheus text exposition of ``m``; ``outbox`` is rows per delivery state (None: database unreachable)."""
    t = _Text()
    now = m.clock()
    t.scalar("liqmap_start_time_seconds", "gauge", "Process start time (Unix seconds).", m.started_at_ms / 1000)
    t.scalar(
        "liqmap_last_tick_success_timestamp_seconds",
        "gauge",
        "End of the last tick that did not fail.",
        (m.last_tick_ok_ms or 0) / 1000,
    )
    t.scalar(
        "liqmap_ticks_total", "counter", "Ticks that finished (including ones skipped for another replica).", m.ticks
    )
    t.scalar(
        "liqmap_ticks_skipped_total",
        "counter",
        "Ticks skipped because another replica held the lease.",
        m.ticks_skipped,
    )
    t.scalar("liqmap_tick_failures_total", "counter", "Ticks that raised.", m.tick_failures)
    t.family("liqmap_tick_duration_seconds", "histogram", "Duration of the periodic map and alert job's ticks.")
    t.histogram("liqmap_tick_duration_seconds", m.tick_seconds)
    t.family("liqmap_exchange_data_age_seconds", "gauge", "Seconds since the exchange's newest closed candle.")
    for name, age in m.data_age_s(now).items():
        if age is not None:
            t.sample("liqmap_exchange_data_age_seconds", age, {"exchange": name})
    t.family("liqmap_exchange_up", "gauge", "1 when the exchange's last refresh succeeded.")
    for name, d in sorted(m.exchanges.items()):
        t.sample("liqmap_exchange_up", 1 if d.ok else 0, {"exchange": name})
    t.scalar(
        "liqmap_database_up", "gauge", "1 when the outbox could be read at this scrape.", 0 if outbox is None else 1
    )
    t.family("liqmap_outbox_alerts", "gauge", "Alerts in the outbox by delivery state.")
    for state, n in sorted((outbox or {}).items()):
        t.sample("liqmap_outbox_alerts", n, {"state": state})
    t.scalar("liqmap_alerts_sent_total", "counter", "Alerts delivered by this process.", m.alerts_sent)
    t.scalar(
        "liqmap_alerts_failed_total",
        "counter",
        "Alerts given up on by this process (blocked, expired, ...).",
        m.alerts_failed,
    )
    t.scalar("liqmap_alerts_retried_total", "counter", "Send attempts that will be retried.", m.alerts_retried)
    t.family("liqmap_commands_total", "counter", "Chat commands handled, by command and platform.")
    for (command, platform), n in sorted(m.commands.items()):
        t.sample("liqmap_commands_total", n, {"command": command, "platform": platform})
    t.family("liqmap_command_errors_total", "counter", "Chat commands that failed unexpectedly.")
    for (command, platform), n in sorted(m.command_errors.items()):
        t.sample("liqmap_command_errors_total", n, {"command": command, "platform": platform})
    t.family("liqmap_render_duration_seconds", "histogram", "PNG render time by chart kind (cache misses only).")
    for kind, h in sorted(m.render_seconds.items()):
        t.histogram("liqmap_render_duration_seconds", h, {"kind": kind})
    return "\n".join(t.lines) + "\n"
