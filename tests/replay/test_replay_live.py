"""Replay as live, as a user runs it: real ``liqmap run --source replay:DIR[,DIR...]`` processes on the virtual clock,
with the production defaults (60 s ticks, 30 min cooldowns), alerts to the console notifier.

- the same command on the same data gives the same alerts (cluster id and virtual time), labelled REPLAY;
- a run killed with SIGKILL and started again on the same database resumes within one tick and ends with exactly
  the alerts of an uninterrupted run: none lost, none repeated;
- several directories (one exchange each) aggregate like live exchanges; every shared dataset replays.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest

from bot.market.replay import write_dataset
from bot.market.sim import synthetic_series
from bot.storage import chats, migrate, outbox, subscriptions
from bot.storage.db import Database
from tests.conftest import shared_dataset

pytestmark = pytest.mark.slow
HOUR = 3_600_000
END = 1_780_000_000_000 // HOUR * HOUR  # 2026-05-28 20:00 UTC
FROM, UNTIL = END - 8 * HOUR, END - 2 * HOUR  # six virtual hours: 360 ticks of 60 s


@pytest.fixture(scope="module")
def datasets(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Two exchanges' 5m history (3 days, with open interest), written in the dataset format."""
    root = tmp_path_factory.mktemp("datasets")
    dirs = []
    for seed, exchange in enumerate(("binanceusdm", "bybit"), start=3):
        series = synthetic_series(exchange, "BTC/USDT:USDT", "5m", END, 3 * 24 * 12, seed)
        directory = root / exchange
        write_dataset(replace(series, synthetic=False), directory, "test fixture from the simulator")
        dirs.append(directory)
    return dirs


def prepare(db_dir: Path) -> str:
    """A migrated SQLite database with two chats' alerts (set before the replay, as a user would)."""
    db_dir.mkdir(parents=True, exist_ok=True)
    url = f"sqlite:///{(db_dir / 'liqmap.db').as_posix()}"
    migrate.upgrade(url)
    db = Database(url)
    with db.session() as s:
        for n, proximity in ((1, 3.0), (2, 1.0)):
            chat = chats.upsert_chat(s, "telegram", str(n), "private", "t")
            subscriptions.add_subscription(s, chat.id, symbol="BTC/USDT:USDT", window="24h", proximity_pct=proximity)
    db.dispose()
    return url


def command(dirs: list[Path], speed: float, start: int = FROM, until: int = UNTIL) -> list[str]:
    return [sys.executable, "-m", "bot", "run", "--source", "replay:" + ",".join(str(d) for d in dirs),
            "--speed", str(speed), "--from", str(start), "--until", str(until)]


def env_for(db_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIQMAP_")}
    env.update(LIQMAP_DATA_DIR=str(db_dir), LIQMAP_HEALTH_PORT="0")
    return env


def run(dirs: list[Path], db_dir: Path, speed: float = 1e6, **kw: int) -> str:
    done = subprocess.run(command(dirs, speed, **kw), env=env_for(db_dir), cwd=db_dir, capture_output=True,
                          text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stderr


def delivered(url: str) -> list[tuple[str, str, int, int]]:
    """(kind, cluster id, virtual time, chat) of every outbox row, in order; all must be sent."""
    db = Database(url)
    with db.session() as s:
        rows = outbox.list_alerts(s, limit=100_000)
    db.dispose()
    assert all(a.state == "sent" for a in rows), [(a.id, a.state, a.last_error) for a in rows if a.state != "sent"]
    return sorted((a.kind, a.cluster_id, a.created_at, a.chat_id) for a in rows)


def texts(url: str) -> list[str]:
    db = Database(url)
    with db.session() as s:
        rows = outbox.list_alerts(s, limit=100_000)
    db.dispose()
    return [a.text for a in rows]


@pytest.fixture(scope="module")
def reference(datasets: list[Path], tmp_path_factory: pytest.TempPathFactory) -> tuple[str, list]:
    """One uninterrupted replay: its database URL and its alerts."""
    db_dir = tmp_path_factory.mktemp("reference")
    url = prepare(db_dir)
    log = run(datasets, db_dir)
    assert "REPLAY of binanceusdm, bybit" in log and "REPLAY finished" in log
    alerts = delivered(url)
    assert len(alerts) >= 3, "the fixture must make alerts, else the comparisons below prove nothing"
    return url, alerts


def test_replay_is_deterministic_and_labelled(datasets: list[Path], reference: tuple[str, list],
                                              tmp_path: Path) -> None:
    url = prepare(tmp_path)
    run(datasets, tmp_path, speed=20_000)  # another speed: the virtual clock makes the machine's pace irrelevant
    assert delivered(url) == reference[1]
    for text in texts(url):
        assert "REPLAY of recorded market data · virtual time 2026-05-28" in text
    assert all(FROM <= at <= UNTIL for _, _, at, _ in reference[1])


def test_killed_replay_resumes_and_ends_with_the_uninterrupted_alerts(
    datasets: list[Path], reference: tuple[str, list], tmp_path: Path
) -> None:
    url = prepare(tmp_path)
    proc = subprocess.Popen(command(datasets, 3_600), env=env_for(tmp_path), cwd=tmp_path,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    db = Database(url)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # kill it once it has delivered something: mid-run, mid-outbox
            with db.session() as s:
                if outbox.counts(s).get("sent", 0) >= 1:
                    break
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        with db.session() as s:
            from bot.storage import ticks

            stood = ticks.latest_tick(s)
    finally:
        db.dispose()
    assert stood is not None and FROM <= stood.at < UNTIL, "killed before it started or after it ended"
    log = run(datasets, tmp_path)
    assert "(resumed)" in log
    assert delivered(url) == reference[1]  # none lost, none repeated


@pytest.mark.parametrize("name", ["okx-btc-2026-03", "binance-btc-5m-2026-06", "binance-forceorder-2025-01",
                                  "coinglass-btc-1h-2025-26"])
def test_every_shared_dataset_replays(name: str, tmp_path: Path) -> None:
    """Each real dataset: its last six virtual hours, to the default end (the end of the recording)."""
    from bot.market.source import ReplaySource

    data = shared_dataset(name)
    start = ReplaySource(data).series.last_close_time - 6 * HOUR
    url = prepare(tmp_path)
    done = subprocess.run([sys.executable, "-m", "bot", "run", "--source", f"replay:{data}", "--speed", "1e6",
                           "--from", str(start)], env=env_for(tmp_path), cwd=tmp_path, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "REPLAY finished" in done.stderr and "Traceback" not in done.stderr
    db = Database(url)
    with db.session() as s:
        from bot.storage import ticks

        mapped = ticks.latest_tick(s, ok_only=True)
    db.dispose()
    # it really mapped the recorded market (the forceorder tape has only large trades: some 5m candles are missing,
    # and a tick without a recent candle is a failed tick, as it would be live)
    assert mapped is not None and mapped.keys[0].exchanges
