"""In-process metrics on the official ``prometheus_client``, one ``CollectorRegistry`` per ``Metrics`` (never the
global one); every name starts ``liqmap_``.

The app builds one ``Metrics`` and passes it to the job, dispatcher, chat service and render cache, which call its
``record_*`` methods; ``render_prometheus`` turns it (plus the outbox depth read at scrape time) into the ``/metrics``
text (format 0.0.4, ``prometheus_client.generate_latest``). Values that depend on the scrape time (data ages, the
outbox depth, whether the database answered) come from collectors evaluated while rendering. ``_created`` samples
are left out of the exposition (they were never part of it). Times are UTC ms internally and seconds in the
exposition. Use from one event loop.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.metrics_core import GaugeMetricFamily, Metric

from bot.clock import wall_ms
from bot.market.types import Freshness

RENDER_BUCKETS_S: tuple[float, ...] = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
TICK_BUCKETS_S: tuple[float, ...] = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


@dataclass
class ExchangeData:
    """Newest data seen from one exchange: last closed candle (UTC ms, 0 = none) and whether its refresh worked."""

    last_close_ms: int
    ok: bool


class _Scraped:
    """A collector whose one family is computed when the registry is collected (at scrape time)."""

    def __init__(self, family: Callable[[], Metric]) -> None:
        self._family = family

    def collect(self) -> Iterator[Metric]:
        yield self._family()


class _WithoutCreated:
    """A view of a registry without the ``_created`` samples of counters and histograms (per registry; the global
    ``prometheus_client.disable_created_metrics`` switch is left alone)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self._registry = registry

    def collect(self) -> Iterator[Metric]:
        for family in self._registry.collect():
            created = family.name + "_created"
            family.samples = [s for s in family.samples if s.name != created]
            yield family


class Metrics:
    """Counters and gauges of one process in their own ``registry``. ``clock`` gives now in UTC ms (tests pass the
    job's clock)."""

    def __init__(self, clock: Callable[[], int] = wall_ms, registry: CollectorRegistry | None = None) -> None:
        self.clock = clock
        self.registry = CollectorRegistry() if registry is None else registry
        self.started_at_ms = clock()
        self.last_tick_ok_ms: int | None = None
        self.exchanges: dict[str, ExchangeData] = {}
        self._outbox: Mapping[str, int] | None = None  # set by ``render`` for the scrape in progress
        reg = self.registry
        self._start_time = Gauge("liqmap_start_time_seconds", "Process start time (Unix seconds).", registry=reg)
        self._start_time.set(self.started_at_ms / 1000)
        self._last_tick_ok = Gauge(
            "liqmap_last_tick_success_timestamp_seconds", "End of the last tick that did not fail.", registry=reg
        )
        self._ticks = Counter(
            "liqmap_ticks", "Ticks that finished (including ones skipped for another replica).", registry=reg
        )
        self._ticks_skipped = Counter(
            "liqmap_ticks_skipped", "Ticks skipped because another replica held the lease.", registry=reg
        )
        self._tick_failures = Counter("liqmap_tick_failures", "Ticks that raised.", registry=reg)
        self._tick_seconds = Histogram(
            "liqmap_tick_duration_seconds",
            "Duration of the periodic map and alert job's ticks.",
            buckets=TICK_BUCKETS_S,
            registry=reg,
        )
        reg.register(_Scraped(self._data_age_family))
        self._exchange_up = Gauge(
            "liqmap_exchange_up", "1 when the exchange's last refresh succeeded.", ["exchange"], registry=reg
        )
        self._database_up = Gauge(
            "liqmap_database_up", "1 when the outbox could be read at this scrape.", registry=reg
        )
        self._database_up.set_function(lambda: 0.0 if self._outbox is None else 1.0)
        reg.register(_Scraped(self._outbox_family))
        self._alerts_sent = Counter("liqmap_alerts_sent", "Alerts delivered by this process.", registry=reg)
        self._alerts_failed = Counter(
            "liqmap_alerts_failed", "Alerts given up on by this process (blocked, expired, ...).", registry=reg
        )
        self._alerts_retried = Counter("liqmap_alerts_retried", "Send attempts that will be retried.", registry=reg)
        self._commands = Counter(
            "liqmap_commands", "Chat commands handled, by command and platform.", ["command", "platform"], registry=reg
        )
        self._command_errors = Counter(
            "liqmap_command_errors", "Chat commands that failed unexpectedly.", ["command", "platform"], registry=reg
        )
        self._render_seconds = Histogram(
            "liqmap_render_duration_seconds",
            "PNG render time by chart kind (cache misses only).",
            ["kind"],
            buckets=RENDER_BUCKETS_S,
            registry=reg,
        )

        self._liquidations_stored = Counter(
            "liqmap_liquidations_stored", "Real liquidation events stored from the exchanges' streams (new ones).",
            ["exchange"], registry=reg,
        )
        self._stream_reconnects = Counter(
            "liqmap_liquidation_stream_reconnects", "Liquidation stream errors or drops followed by a reconnect.",
            ["exchange"], registry=reg,
        )
        self._self_score = Gauge(
            "liqmap_self_score_range_partial",
            "The bot's own maps of the last 7 days scored against the liquidations it recorded (traded-range "
            "partial correlation; NaN when too few observations).", registry=reg,
        )
        self._self_score_hours = Gauge(
            "liqmap_self_score_hours", "Hours of recorded liquidations the self-score covers.", registry=reg
        )
        self._self_score.set(float("nan"))  # no self-score yet: unknown, not zero
        self.self_score: tuple[float | None, float] | None = None  # (range partial, hours) of the newest self-score

    # ---- recording (called by the job, dispatcher, chat service and render cache) ---------------------------
    def record_liquidations_stored(self, exchange: str, n: int) -> None:
        """``n`` new liquidation events of ``exchange`` stored (called from the watcher's writer thread)."""
        self._liquidations_stored.labels(exchange=exchange).inc(n)

    def record_stream_reconnect(self, exchange: str) -> None:
        """One error or drop of ``exchange``'s liquidation stream, followed by a reconnect."""
        self._stream_reconnects.labels(exchange=exchange).inc()

    def record_self_score(self, range_partial: float | None, hours: float) -> None:
        """The newest self-score: its traded-range partial correlation (None: too few observations) over
        ``hours`` hours of recorded liquidations."""
        self.self_score = (range_partial, hours)
        self._self_score.set(float("nan") if range_partial is None else range_partial)
        self._self_score_hours.set(hours)

    def record_tick(self, at_ms: int, seconds: float, *, ran: bool) -> None:
        """A tick that finished without raising at ``at_ms`` (``ran`` False: another replica had the lease)."""
        self.last_tick_ok_ms = at_ms
        self._last_tick_ok.set(at_ms / 1000)
        self._ticks.inc()
        if not ran:
            self._ticks_skipped.inc()
        self._tick_seconds.observe(seconds)

    def record_tick_failure(self) -> None:
        """A tick that raised."""
        self._tick_failures.inc()

    def record_freshness(self, freshness: Iterable[Freshness]) -> None:
        """Per-exchange freshness of one computed map; the newest last-closed candle per exchange wins."""
        for f in freshness:
            seen = self.exchanges.get(f.exchange)
            newest = max(f.last_candle_close_ms, seen.last_close_ms if seen else 0)
            self.exchanges[f.exchange] = ExchangeData(newest, f.ok)
            self._exchange_up.labels(exchange=f.exchange).set(1 if f.ok else 0)

    def record_dispatch(self, sent: int, failed: int, retried: int) -> None:
        """Outcomes of one dispatcher pass."""
        self._alerts_sent.inc(sent)
        self._alerts_failed.inc(failed)
        self._alerts_retried.inc(retried)

    def record_command(self, command: str, platform: str, *, error: bool = False) -> None:
        """One chat command; ``error`` when it failed unexpectedly (not a user mistake)."""
        self._commands.labels(command=command, platform=platform).inc()
        if error:
            self._command_errors.labels(command=command, platform=platform).inc()

    def observe_render(self, kind: str, seconds: float) -> None:
        """One finished PNG render of ``kind`` that took ``seconds``."""
        self._render_seconds.labels(kind=kind).observe(seconds)

    # ---- reading ---------------------------------------------------------------------------------------------
    def data_age_s(self, now_ms: int | None = None) -> dict[str, float | None]:
        """Seconds since each exchange's newest closed candle (None when none was ever seen)."""
        now = self.clock() if now_ms is None else now_ms
        return {
            name: (now - d.last_close_ms) / 1000 if d.last_close_ms > 0 else None
            for name, d in sorted(self.exchanges.items())
        }

    def _count(self, name: str) -> int:
        return int(self.registry.get_sample_value(name) or 0)

    @property
    def ticks(self) -> int:
        """Ticks that finished (``liqmap_ticks_total``)."""
        return self._count("liqmap_ticks_total")

    @property
    def ticks_skipped(self) -> int:
        """Ticks skipped for another replica (``liqmap_ticks_skipped_total``)."""
        return self._count("liqmap_ticks_skipped_total")

    @property
    def tick_failures(self) -> int:
        """Ticks that raised (``liqmap_tick_failures_total``)."""
        return self._count("liqmap_tick_failures_total")

    @property
    def alerts_sent(self) -> int:
        """Alerts delivered (``liqmap_alerts_sent_total``)."""
        return self._count("liqmap_alerts_sent_total")

    @property
    def alerts_failed(self) -> int:
        """Alerts given up on (``liqmap_alerts_failed_total``)."""
        return self._count("liqmap_alerts_failed_total")

    @property
    def alerts_retried(self) -> int:
        """Send attempts to be retried (``liqmap_alerts_retried_total``)."""
        return self._count("liqmap_alerts_retried_total")

    # ---- exposition ------------------------------------------------------------------------------------------
    def _data_age_family(self) -> Metric:
        family = GaugeMetricFamily(
            "liqmap_exchange_data_age_seconds",
            "Seconds since the exchange's newest closed candle.",
            labels=["exchange"],
        )
        for name, age in self.data_age_s().items():
            if age is not None:
                family.add_metric([name], age)
        return family

    def _outbox_family(self) -> Metric:
        family = GaugeMetricFamily("liqmap_outbox_alerts", "Alerts in the outbox by delivery state.", labels=["state"])
        for state, n in sorted((self._outbox or {}).items()):
            family.add_metric([state], n)
        return family

    def render(self, outbox: Mapping[str, int] | None) -> str:
        """The Prometheus text exposition (0.0.4); ``outbox`` is rows per delivery state read at this scrape
        (None: database unreachable)."""
        self._outbox = outbox
        try:
            return generate_latest(_WithoutCreated(self.registry)).decode("utf-8")
        finally:
            self._outbox = None


def render_prometheus(m: Metrics, outbox: Mapping[str, int] | None) -> str:
    """The Prometheus text exposition of ``m``; ``outbox`` is rows per delivery state (None: database unreachable)."""
    return m.render(outbox)
