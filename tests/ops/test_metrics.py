"""``/metrics`` text from ``Metrics`` (prometheus_client), read back with the official parser
(``prometheus_client.parser``): known events give known values, the names users scrape are kept, values that depend on
the scrape are computed at scrape time, and two ``Metrics`` never share state."""

from __future__ import annotations

import pytest
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from bot.market.types import Freshness
from bot.ops.metrics import Metrics, render_prometheus

Labels = tuple[tuple[str, str], ...]
Samples = dict[tuple[str, Labels], float]
T0 = 1_700_000_000_000

# Every family of the hand-written exposition this replaced (name as scraped, type): users may scrape them all.
SCRAPED_FAMILIES = {
    "liqmap_start_time_seconds": "gauge",
    "liqmap_last_tick_success_timestamp_seconds": "gauge",
    "liqmap_ticks_total": "counter",
    "liqmap_ticks_skipped_total": "counter",
    "liqmap_tick_failures_total": "counter",
    "liqmap_tick_duration_seconds": "histogram",
    "liqmap_exchange_data_age_seconds": "gauge",
    "liqmap_exchange_up": "gauge",
    "liqmap_database_up": "gauge",
    "liqmap_outbox_alerts": "gauge",
    "liqmap_alerts_sent_total": "counter",
    "liqmap_alerts_failed_total": "counter",
    "liqmap_alerts_retried_total": "counter",
    "liqmap_commands_total": "counter",
    "liqmap_command_errors_total": "counter",
    "liqmap_render_duration_seconds": "histogram",
    "liqmap_liquidations_stored_total": "counter",
    "liqmap_liquidation_stream_reconnects_total": "counter",
    "liqmap_self_score_range_partial": "gauge",
    "liqmap_self_score_hours": "gauge",
}


def scrape(text: str) -> tuple[Samples, dict[str, str]]:
    """(samples keyed by (name, sorted labels), family types) as ``prometheus_client.parser`` reads ``text``; a
    duplicate sample fails."""
    samples: Samples = {}
    types: dict[str, str] = {}
    for family in text_string_to_metric_families(text):
        types[family.name] = family.type
        for s in family.samples:
            key = (s.name, tuple(sorted(s.labels.items())))
            assert key not in samples, f"duplicate sample {key}"
            samples[key] = s.value
    return samples, types


def value(samples: Samples, name: str, **labels: str) -> float:
    """The value of one sample (KeyError naming it when absent)."""
    return samples[(name, tuple(sorted(labels.items())))]


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> int:
        return self.now


def populated() -> tuple[Metrics, Clock]:
    clock = Clock()
    m = Metrics(clock)
    m.record_tick(T0, 0.3, ran=True)
    m.record_tick(T0 + 1000, 12.0, ran=False)
    m.record_tick_failure()
    m.record_freshness([
        Freshness("okx", True, T0 - 60_000, T0),
        Freshness("bybit", False, 0, T0),
        Freshness("binance", True, T0 - 90_500, T0),
    ])
    m.record_freshness([Freshness("okx", False, T0 - 120_000, T0)])  # older candle: the newest one is kept
    m.record_dispatch(2, 1, 3)
    m.record_dispatch(1, 0, 0)
    m.record_command("liqmap", "telegram")
    m.record_command("liqmap", "telegram", error=True)
    m.record_command('alert "x"\\\n', "discord")  # quotes, a backslash and a newline survive escaping
    m.observe_render("heatmap", 0.07)
    m.observe_render("heatmap", 3.0)
    m.observe_render("levels", 0.01)
    clock.now += 5000
    return m, clock


def test_recorded_events_are_scraped_with_their_values() -> None:
    m, _ = populated()
    text = render_prometheus(m, {"queued": 1, "sent": 4, "failed": 0})
    samples, types = scrape(text)
    assert all(name.startswith("liqmap_") for name, _ in samples)
    assert not any(name.endswith("_created") for name, _ in samples)
    assert value(samples, "liqmap_start_time_seconds") == T0 / 1000
    assert value(samples, "liqmap_last_tick_success_timestamp_seconds") == (T0 + 1000) / 1000
    assert value(samples, "liqmap_ticks_total") == 2
    assert value(samples, "liqmap_ticks_skipped_total") == 1
    assert value(samples, "liqmap_tick_failures_total") == 1
    assert types["liqmap_tick_duration_seconds"] == "histogram"
    tick_buckets = {float(dict(labels)["le"]): v for (name, labels), v in samples.items()
                    if name == "liqmap_tick_duration_seconds_bucket"}
    assert tick_buckets == {0.1: 0, 0.25: 0, 0.5: 1, 1: 1, 2.5: 1, 5: 1, 10: 1, 30: 2, float("inf"): 2}
    assert value(samples, "liqmap_tick_duration_seconds_count") == 2
    assert value(samples, "liqmap_tick_duration_seconds_sum") == pytest.approx(12.3)
    assert value(samples, "liqmap_exchange_data_age_seconds", exchange="okx") == 65
    assert value(samples, "liqmap_exchange_data_age_seconds", exchange="binance") == 95.5
    assert ("liqmap_exchange_data_age_seconds", (("exchange", "bybit"),)) not in samples  # no candle ever
    assert value(samples, "liqmap_exchange_up", exchange="okx") == 0  # the latest refresh failed
    assert value(samples, "liqmap_exchange_up", exchange="bybit") == 0
    assert value(samples, "liqmap_exchange_up", exchange="binance") == 1
    assert value(samples, "liqmap_database_up") == 1
    assert value(samples, "liqmap_outbox_alerts", state="queued") == 1
    assert value(samples, "liqmap_outbox_alerts", state="sent") == 4
    assert value(samples, "liqmap_outbox_alerts", state="failed") == 0
    assert value(samples, "liqmap_alerts_sent_total") == 3
    assert value(samples, "liqmap_alerts_failed_total") == 1
    assert value(samples, "liqmap_alerts_retried_total") == 3
    assert value(samples, "liqmap_commands_total", command="liqmap", platform="telegram") == 2
    assert value(samples, "liqmap_commands_total", command='alert "x"\\\n', platform="discord") == 1
    assert value(samples, "liqmap_command_errors_total", command="liqmap", platform="telegram") == 1
    assert ("liqmap_command_errors_total", (("command", 'alert "x"\\\n'), ("platform", "discord"))) not in samples
    assert value(samples, "liqmap_render_duration_seconds_count", kind="heatmap") == 2
    assert value(samples, "liqmap_render_duration_seconds_sum", kind="heatmap") == pytest.approx(3.07)
    assert value(samples, "liqmap_render_duration_seconds_bucket", kind="heatmap", le="0.1") == 1
    assert value(samples, "liqmap_render_duration_seconds_bucket", kind="heatmap", le="+Inf") == 2
    assert value(samples, "liqmap_render_duration_seconds_count", kind="levels") == 1
    # the recording API's readers agree with the exposition
    assert (m.ticks, m.ticks_skipped, m.tick_failures) == (2, 1, 1)
    assert (m.alerts_sent, m.alerts_failed, m.alerts_retried) == (3, 1, 3)
    assert m.last_tick_ok_ms == T0 + 1000 and m.started_at_ms == T0
    assert not m.exchanges["okx"].ok and m.exchanges["okx"].last_close_ms == T0 - 60_000


def test_the_names_users_scrape_are_kept() -> None:
    for m in (Metrics(Clock()), populated()[0]):  # fresh (empty families still announced) and populated
        text = render_prometheus(m, {"queued": 0})
        declared = {line.split(" ")[2]: line.split(" ")[3] for line in text.splitlines() if line.startswith("# TYPE ")}
        assert declared == SCRAPED_FAMILIES


def test_data_ages_are_computed_at_each_scrape() -> None:
    m, clock = populated()
    first, _ = scrape(render_prometheus(m, {}))
    clock.now += 30_000
    second, _ = scrape(render_prometheus(m, {}))
    assert value(first, "liqmap_exchange_data_age_seconds", exchange="okx") == 65
    assert value(second, "liqmap_exchange_data_age_seconds", exchange="okx") == 95
    assert m.data_age_s() == {"binance": 125.5, "bybit": None, "okx": 95.0}


def test_database_down_reports_0_and_no_outbox_depth_and_nothing_sticks_between_scrapes() -> None:
    m = Metrics(Clock())
    down, _ = scrape(render_prometheus(m, None))
    assert value(down, "liqmap_database_up") == 0
    assert not any(name == "liqmap_outbox_alerts" for name, _ in down)
    up, _ = scrape(render_prometheus(m, {"queued": 2}))
    assert value(up, "liqmap_database_up") == 1 and value(up, "liqmap_outbox_alerts", state="queued") == 2
    again, _ = scrape(render_prometheus(m, None))
    assert value(again, "liqmap_database_up") == 0
    assert not any(name == "liqmap_outbox_alerts" for name, _ in again)


def test_two_metrics_do_not_share_state_nor_use_the_global_registry() -> None:
    a, _ = populated()
    b = Metrics(Clock())
    assert a.registry is not b.registry
    sa, _ = scrape(render_prometheus(a, {}))
    sb, _ = scrape(render_prometheus(b, {}))
    assert value(sa, "liqmap_ticks_total") == 2 and value(sb, "liqmap_ticks_total") == 0
    assert value(sb, "liqmap_alerts_sent_total") == 0 and value(sb, "liqmap_tick_duration_seconds_count") == 0
    assert not any(name.startswith(("liqmap_commands", "liqmap_render", "liqmap_exchange")) for name, _ in sb)
    b.record_tick_failure()
    assert (a.tick_failures, b.tick_failures) == (1, 1)
    assert REGISTRY.get_sample_value("liqmap_ticks_total") is None
