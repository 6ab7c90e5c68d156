"""The ``liqmap`` command line: run, map, risk, backtest, record, bench, demo, db.

Every user mistake ends as one clear line on stderr and exit status 2, never a traceback
(``LIQMAP_DEBUG=1`` shows the traceback for unexpected errors).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from bot.errors import LiqmapError
from bot.ops.logging import setup_logging

log = logging.getLogger("liqmap")


def _add_source_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--source", help="ccxt | sim | replay:DIR[,DIR...] (default: LIQMAP_SOURCE, else sim)")
    p.add_argument("--exchanges", help="comma-separated ccxt ids (default: LIQMAP_EXCHANGES)")


def _add_run_args(p_run: argparse.ArgumentParser) -> None:
    """``liqmap run``: the data source, --once and the virtual clock (--speed, --from, --until)."""
    _add_source_args(p_run)
    p_run.add_argument("--once", action="store_true", help="run one tick and exit")
    p_run.add_argument("--speed", type=float, default=None,
                       help="virtual clock (a replay, or any source with --from and --until): virtual seconds per "
                       "real second (default 1, real time)")
    p_run.add_argument("--from", dest="from_time",
                       help="virtual clock: virtual start, ISO 8601 or ms (default: once one longest window of history "
                       "exists)")
    p_run.add_argument("--until", help="virtual clock: virtual end (default: the end of the recordings); at the end "
                       "the bot drains the outbox and exits 0")


def _add_map_args(p_map: argparse.ArgumentParser) -> None:
    """``liqmap map``: symbol, window, data source, as-of time and the output (JSON or a PNG image)."""
    p_map.add_argument("--symbol", default="BTC/USDT:USDT")
    p_map.add_argument("--window", default="24h", help="12h | 24h | 3d | 7d | 30d")
    _add_source_args(p_map)
    p_map.add_argument("--at", help="as-of time (ISO 8601 or ms); only candles closed by then are used")
    p_map.add_argument("--json", action="store_true", help="print the map as one JSON object")
    p_map.add_argument("--out", type=Path, help="write a PNG image to this file")
    p_map.add_argument("--kind", choices=["heatmap", "map"], default="heatmap", help="image kind for --out")
    p_map.add_argument(
        "--palette", choices=["default", "viridis"], default="default",
        help="heatmap colours: red/green by side (default) or a perceptual single-hue scale",
    )


def _add_backtest_args(p_bt: argparse.ArgumentParser) -> None:
    """``liqmap backtest``: dataset, step/window/horizon/bar, the scored span, output, and the --alerts mode."""
    p_bt.add_argument("--data", required=True, type=Path, help="dataset directory (see docs/datasets.md)")
    p_bt.add_argument(
        "--step", help="default 1h; with --alerts the window's candle timeframe, never finer than the dataset's"
    )
    p_bt.add_argument("--window", default="24h")
    p_bt.add_argument("--horizon", default="24h")
    p_bt.add_argument("--bar", default="1h", help="traded-range score: the bar after each step (default 1h)")
    p_bt.add_argument("--from", dest="since", help="score only steps at or after this time (ISO 8601 or ms)")
    p_bt.add_argument("--until", help="score only steps before this time (ISO 8601 or ms)")
    p_bt.add_argument(
        "--halves", action="store_true", help="also score the traded range on each half of the scored span"
    )
    p_bt.add_argument(
        "--estimate-prices", action="store_true",
        help="a dataset with only liquidation_bars.csv: also score capture and the visited Spearman, with each "
             "bar's liquidations placed over the lower (longs) / upper (shorts) half of its range (an estimate)",
    )
    p_bt.add_argument("--json", action="store_true")
    p_bt.add_argument("--dump", type=Path, help="write each scored step (with --alerts: each alert) as a JSON line")
    p_bt.add_argument(
        "--alerts", action="store_true", help="score the alerts: replay an alert spec through the job's alert code"
    )
    p_bt.add_argument(
        "--spec", default="", help="with --alerts: the alert as in chat, e.g. \"1.5%% min 50M side long cooldown 30m\""
    )
    p_bt.add_argument("--seed", type=int, default=0, help="with --alerts: seed of the random baseline")


def _add_record_args(p_rec: argparse.ArgumentParser) -> None:
    """``liqmap record``: exchange, symbol, timeframe, days of history and the output dataset directory."""
    p_rec.add_argument("--exchange", required=True)
    p_rec.add_argument("--symbol", default="BTC/USDT:USDT")
    p_rec.add_argument("--timeframe", default="5m")
    p_rec.add_argument("--days", type=float, default=7.0)
    p_rec.add_argument("--out", required=True, type=Path)
    p_rec.add_argument("--listen", type=float, default=0.0, metavar="SECONDS",
                       help="also listen to the exchange's liquidation stream this long (liquidations.csv holds "
                       "these plus what a running bot recorded in its database over the window)")


def _add_bench_args(p_bench: argparse.ArgumentParser) -> None:
    """``liqmap bench``: output format, repeats, groups and the soak run."""
    p_bench.add_argument("--json", action="store_true")
    p_bench.add_argument("--quick", action="store_true", help="fewer repeats")
    p_bench.add_argument("--only", help="comma-separated groups to run")
    p_bench.add_argument(
        "--soak", action="store_true", help="soak run: many ticks x 10,000 subscriptions + a /liqmap load"
    )


def _add_db_args(p_db: argparse.ArgumentParser) -> None:
    """``liqmap db``: the migration action and an optional target revision."""
    p_db.add_argument("action", choices=["upgrade", "downgrade", "current", "check"])
    p_db.add_argument("revision", nargs="?", help="target revision (upgrade: head; downgrade: -1 or base)")


def _add_demo_args(p_demo: argparse.ArgumentParser) -> None:
    """``liqmap demo``: output directory, seed, as-of time, or a replay of a recorded dataset."""
    p_demo.add_argument("--out", type=Path, default=Path("out"))
    p_demo.add_argument("--seed", type=int)
    p_demo.add_argument("--at", help="as-of time of the synthetic market (default: now)")
    p_demo.add_argument("--replay", type=Path, metavar="DIR",
                        help="instead: replay the last --hours of a recorded dataset to the console, alerts included")
    p_demo.add_argument("--hours", type=float, default=12.0, help="with --replay: virtual hours to replay")


def _add_risk_args(p_risk: argparse.ArgumentParser) -> None:
    """``liqmap risk``: the position (as in chat: SIDE ENTRY LEVERAGE [size] [symbol] [exchange]) and options."""
    p_risk.add_argument("position", nargs="+", metavar="ARG",
                        help="long|short ENTRY LEVERAGE, e.g. long 62000 20x (chat's /risk words also work)")
    p_risk.add_argument("--size", help="notional USD, e.g. 10000 or 50k (default $10k)")
    p_risk.add_argument("--symbol", help="e.g. BTC (default BTCUSDT) or BTCUSD (COIN-M)")
    p_risk.add_argument("--exchange", help="binanceusdm (default) or binancecoinm")
    _add_source_args(p_risk)
    p_risk.add_argument("--at", help="as-of time (ISO 8601 or ms) of the map read")
    p_risk.add_argument("--json", action="store_true", help="print the answer as one JSON object")
    p_risk.add_argument("--out", type=Path, help="write the map image with the entry and liquidation lines here")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    parser = argparse.ArgumentParser(prog="liqmap", description="Bitcoin liquidation maps and alerts.")
    sub = parser.add_subparsers(dest="command", required=True)
    _add_run_args(sub.add_parser("run", help="run the bot: periodic job, Telegram, Discord, health server"))
    _add_map_args(sub.add_parser("map", help="compute one liquidation map"))
    _add_risk_args(sub.add_parser("risk", help="a position's liquidation price and risk against the map"))
    _add_backtest_args(
        sub.add_parser("backtest", help="score maps against a dataset's real liquidations (no lookahead)")
    )
    _add_record_args(sub.add_parser("record", help="record live ccxt data into the dataset format"))
    _add_bench_args(sub.add_parser("bench", help="benchmarks (model, rendering, alerts, chat)"))
    _add_db_args(sub.add_parser("db", help="database migrations (Alembic): upgrade, downgrade, current, check"))
    _add_demo_args(sub.add_parser("demo", help="offline end-to-end run on a seeded synthetic market"))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``liqmap`` console script; returns the process exit status."""
    args = build_parser().parse_args(argv)
    live = args.command == "run" or (args.command == "demo" and getattr(args, "replay", None) is not None)
    default_level = "INFO" if live else "WARNING"  # one-shot commands print results, not logs
    try:
        # JSON when LIQMAP_LOG_JSON; LIQMAP_LOG_LEVEL else default_level; every configured secret redacted
        setup_logging(default_level=default_level)
        logging.getLogger("alembic").setLevel(logging.WARNING)  # migrations report through `liqmap db`
        return _dispatch(args)
    except (LiqmapError, ValueError) as exc:
        print(f"liqmap: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # e.g. `liqmap backtest ... | head`
        with contextlib.suppress(OSError):
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - silence the interpreter's flush at exit
        return 0
    except Exception as exc:
        if os.environ.get("LIQMAP_DEBUG"):
            raise
        print(f"liqmap: unexpected error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1


def _dispatch(args: argparse.Namespace) -> int:
    from bot import commands

    handlers = {
        "run": commands.cmd_run,
        "map": commands.cmd_map,
        "risk": commands.cmd_risk,
        "backtest": commands.cmd_backtest,
        "record": commands.cmd_record,
        "bench": commands.cmd_bench,
        "demo": commands.cmd_demo,
        "db": commands.cmd_db,
    }
    return handlers[args.command](args)


if __name__ == "__main__":
    sys.exit(main())

