"""Implementations of the CLI subcommands (argument parsing lives in ``bot.cli``)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from bot.cli_output import print_json, settings_from_args
from bot.config import Settings, load_settings
from bot.engine import MapEngine, MapResult
from bot.errors import LiqmapError
from bot.market.source import is_listed, source_from_settings
from bot.market.symbols import parse_symbol
from bot.model.types import LiqMap, window_ms
from bot.report import format_map_summary
from bot.timeparse import parse_duration, parse_time

if TYPE_CHECKING:
    from bot.chat.risk import RiskAnswer
    from bot.market.replay import LiquidationBars
    from bot.market.types import MarketSeries


async def compute_map(settings: Settings, symbol: str, window: str, at_ms: int | None) -> MapResult:
    """Open the configured source, compute one map, close the source."""
    source = source_from_settings(settings)
    try:
        result = await MapEngine(source).compute(symbol, window, at_ms)
    finally:
        await source.close()
    if not result.map.exchanges:
        reasons = "; ".join(f"{f.exchange}: {f.error or 'no data'}" for f in result.freshness)
        raise LiqmapError(f"no market data for {symbol}: {reasons or 'the source returned nothing'}")
    return result


def cmd_map(args: argparse.Namespace) -> int:
    """``liqmap map``: one map as text, JSON and/or a PNG."""
    settings = settings_from_args(args)
    symbol = parse_symbol(args.symbol)
    window_ms(args.window)  # validates the window with a clear message
    at_ms = parse_time(args.at) if args.at else None
    result = asyncio.run(compute_map(settings, symbol, args.window, at_ms))
    if args.out:
        from bot.render import render_png

        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_bytes(render_png(result.map, args.kind, palette=args.palette))
    if args.json:
        print_json(result.map.to_json())
    else:
        print(format_map_summary(result.map, result.freshness))
        if args.out:
            print(f"image written to {args.out}")
    return 0


def cmd_backtest(args: argparse.Namespace) -> int:
    """``liqmap backtest``: score maps against a dataset's real liquidations (events and/or per-bar totals), or with
    ``--alerts`` replay an alert spec through the job's alert code and score the alerts."""
    from bot.backtest import run_backtest
    from bot.market.replay import load_dataset, load_liquidation_bars

    for value in (args.step or "1h", args.horizon, args.bar):
        parse_duration(value)
    window_ms(args.window)
    if not args.alerts and args.spec:
        raise LiqmapError("--spec describes an alert: use it with --alerts")
    if args.alerts and args.estimate_prices:
        raise LiqmapError("--estimate-prices scores the map's capture, not the alerts: use it without --alerts")
    since = parse_time(args.since) if args.since else None
    until = parse_time(args.until) if args.until else None
    series = load_dataset(args.data)
    bars = load_liquidation_bars(args.data)
    if args.alerts:
        return _backtest_alerts(args, series, bars, since, until)
    report = run_backtest(
        series, bars=bars, step=args.step or "1h", window=args.window, horizon=args.horizon, bar=args.bar,
        since=since, until=until, halves=args.halves, dump=args.dump, estimate_prices=args.estimate_prices,
    )
    if args.json:
        print_json(report.to_json())
    else:
        print(report.format_table())
    return 0


def _backtest_alerts(
    args: argparse.Namespace, series: MarketSeries, bars: LiquidationBars | None, since: int | None, until: int | None
) -> int:
    """``liqmap backtest --alerts``: ``--spec`` is parsed as the arguments of chat's ``alert add`` after the symbol
    (``--window`` applies unless the spec names a window)."""
    from dataclasses import replace

    from bot.backtest_alerts import run_alert_backtest
    from bot.chat.parse import CommandError, parse_alert_add

    try:
        spec = parse_alert_add(f"BTC window {args.window} {args.spec}")
    except CommandError as exc:
        raise LiqmapError(f"--spec {args.spec!r}: {exc}") from None
    report = run_alert_backtest(
        series, replace(spec, symbol=series.symbol), bars=bars, step=args.step, horizon=args.horizon, since=since,
        until=until, halves=args.halves, seed=args.seed, dump=args.dump,
    )
    if args.json:
        print_json(report.to_json())
    else:
        print(report.format_table())
    return 0


def cmd_record(args: argparse.Namespace) -> int:
    """``liqmap record``: write live ccxt data in the dataset format."""
    from bot.market.record import record
    from bot.storage.db import Database

    if args.days <= 0:
        raise LiqmapError("--days must be positive, e.g. --days 7")
    symbol = parse_symbol(args.symbol)
    settings = load_settings()
    db = Database(settings.resolved_database_url)  # the liquidations a running bot recorded go to liquidations.csv
    try:
        out = asyncio.run(record(args.exchange, symbol, args.timeframe, args.days, args.out, db=db,
                                 listen_s=max(0.0, float(getattr(args, "listen", 0.0))),
                                 ws_options=settings.exchange_options.get(args.exchange)))
    finally:
        db.dispose()
    print(f"dataset written to {out}")
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    """``liqmap bench``: run the benchmark groups and print their figures."""
    from bot.benchmarks import run_benchmarks

    if args.soak:
        from bot.benchmarks.soak import bench_soak

        figures = bench_soak(ticks=5 if args.quick else 30)
    else:
        only = [part.strip() for part in args.only.split(",")] if args.only else None
        figures = run_benchmarks(only=only, quick=args.quick)
    if args.json:
        print_json(figures)
    else:
        for key, value in figures.items():
            print(f"{key:32s} {value}")
    return 0


def demo_replay(directory: Path, hours: float) -> int:
    """``liqmap demo --replay DIR``: the last ``hours`` of a recorded dataset replayed as live, as fast as the
    machine goes, into a throwaway database with one demo alert (1%, both sides), alerts printed to the console."""
    import tempfile

    from bot.app import run_app
    from bot.market.source import ReplaySource
    from bot.replay_run import ReplayOptions
    from bot.storage import chats, migrate, subscriptions
    from bot.storage.db import Database

    if hours <= 0:
        raise LiqmapError("--hours must be positive, e.g. --hours 12")
    end = ReplaySource(directory).series.last_close_time
    with tempfile.TemporaryDirectory(prefix="liqmap-demo-") as tmp:
        settings = load_settings(source=f"replay:{directory}", data_dir=Path(tmp), health_port=0)
        migrate.upgrade(settings.resolved_database_url)
        db = Database(settings.resolved_database_url)
        with db.session() as s:
            chat = chats.upsert_chat(s, "telegram", "demo", "private", "demo")
            subscriptions.add_subscription(s, chat.id, symbol=ReplaySource(directory).series.symbol, window="24h",
                                           proximity_pct=1.0)
        db.dispose()
        options = ReplayOptions(speed=1e6, from_ms=end - int(hours * 3_600_000), given=True)
        return asyncio.run(run_app(settings, replay=options))


def cmd_demo(args: argparse.Namespace) -> int:
    """``liqmap demo``: offline end-to-end run on the seeded synthetic market; writes both images. With
    ``--replay DIR``: a short replay of a recorded dataset to the console instead."""
    if args.replay is not None:
        return demo_replay(args.replay, args.hours)
    overrides: dict[str, object] = {"source": "sim"}
    if args.seed is not None:
        overrides["sim_seed"] = args.seed
    settings = load_settings(**overrides)
    at_ms = parse_time(args.at) if args.at else None
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    symbol = settings.symbols[0]
    for window in ("24h", "7d"):
        result = asyncio.run(compute_map(settings, symbol, window, at_ms))
        print(format_map_summary(result.map, result.freshness))
        print()
        try:
            from bot.render import render_png
        except ImportError:  # rendering not installed in a trimmed build
            continue
        for kind in ("heatmap", "map"):
            path = out / f"{kind}-{window}.png"
            path.write_bytes(render_png(result.map, kind))
            print(f"wrote {path}")
    sys.stdout.flush()
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    """``liqmap run``: the long-running bot."""
    from bot.app import run_app
    from bot.replay_run import ReplayOptions

    settings = settings_from_args(args)
    replay = ReplayOptions.from_args(args.speed, args.from_time, args.until)
    return asyncio.run(run_app(settings, once=args.once, replay=replay))


def cmd_db(args: argparse.Namespace) -> int:
    """``liqmap db``: apply, revert, show or check the Alembic migrations of the configured database."""
    from bot.storage import migrate

    url = load_settings().resolved_database_url
    if args.action == "upgrade":
        migrate.upgrade(url, args.revision or "head")
        print(f"database at revision {migrate.current(url)}")
    elif args.action == "downgrade":
        migrate.downgrade(url, args.revision or "-1")
        print(f"database at revision {migrate.current(url) or 'base (empty)'}")
    elif args.action == "current":
        print(migrate.current(url) or "base (no migrations applied)")
    else:
        migrate.check(url)
        print("models and migrations agree")
    return 0


async def _risk(settings: Settings, words: str, at_ms: int | None, want_png: bool) -> tuple[RiskAnswer, bytes | None]:
    """Open the configured source, answer one risk check (and render its image when ``want_png``), close it."""
    from bot.chat.parse import parse_position
    from bot.chat.risk import risk_png, run_risk

    spec = parse_position(words)  # a mistake in the arguments fails before any data is loaded
    source = source_from_settings(settings)
    try:
        engine = MapEngine(source)

        async def map_of(symbol: str, window: str) -> LiqMap:
            if not await is_listed(source, symbol):
                raise LiqmapError(f"unknown symbol {symbol}: not listed on {', '.join(source.exchanges)}")
            result = await engine.compute(symbol, window, at_ms)
            if not result.map.exchanges:
                reasons = "; ".join(f"{f.exchange}: {f.error or 'no data'}" for f in result.freshness)
                raise LiqmapError(f"no market data for {symbol}: {reasons or 'the source returned nothing'}")
            return result.map

        answer = await run_risk(spec, map_of, source)
        return answer, (await risk_png(answer) if want_png else None)
    finally:
        await source.close()


def cmd_risk(args: argparse.Namespace) -> int:
    """``liqmap risk long 62000 20x [--size 10k] [--symbol BTC] [--exchange binanceusdm] [--json] [--out PNG]``:
    the chat's /risk answer as text or JSON (offline on the simulator unless --source says otherwise)."""
    from bot.chat.risk import risk_json, risk_text

    words = list(args.position)
    if args.size:
        words += ["size", args.size]
    words += [w for w in (args.symbol, args.exchange) if w]
    at_ms = parse_time(args.at) if args.at else None
    answer, png = asyncio.run(_risk(settings_from_args(args), " ".join(words), at_ms, args.out is not None))
    if args.out and png is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_bytes(png)
    if args.json:
        print_json(risk_json(answer))
    else:
        print(risk_text(answer))
        if args.out:
            print(f"image written to {args.out}")
    return 0
