"""Rehearsal plumbing: the stand-ins, the subscribed chats, a real ``liqmap run`` process on the virtual clock with a
/healthz sampler, and what was delivered (Telegram stand-in) and queued (outbox), keyed for comparison."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.storage import chats, migrate, outbox, subscriptions, ticks
from bot.storage.db import Database
from bot.storage.records import AlertRec
from bot.storage.ticks import TickRec
from bot.timeparse import parse_time
from tests.reliability.shipped import exchange_options
from tests.standins.dataset_exchange import DatasetExchangeServer, DatasetTape
from tests.standins.telegram_server import BotApiStandin, Call

ROOT = Path(__file__).resolve().parents[2]
DATASET = "binance-btc-5m-2026-06"
MIN = 60_000
HOUR = 60 * MIN
FROM = parse_time("2026-06-10T10:00Z")  # a busy 12 h of the recording (3.3 % and 2 % ranges), inside its OI
UNTIL = parse_time("2026-06-10T18:00Z")
TICK_S = 300
SPEED = 3000.0
TOKEN = "123456789:AAH-rehearsal-token"
# The exchanges of the rehearsal runs: the three the dataset stand-in serves (Bybit sends open interest in BTC, so it
# also proves that converted OI is valued the same whenever it is fetched; defect D3, docs/reliability.md).
EXCHANGES = ("binanceusdm", "bybit", "okx")
# (proximity %, sides, min USD): six private Telegram chats, one alert each on BTC/USDT:USDT 24h, production
# cooldown (30 min). The last one only wants zones of $25M or more, which a map missing an exchange may not reach.
SUBSCRIPTIONS = ((0.5, "both", 0.0), (1.0, "both", 0.0), (2.0, "both", 0.0), (1.0, "long", 0.0), (3.0, "short", 0.0),
                 (2.0, "both", 25e6))
FIRST_CHAT = 1001
CHAT_IDS = tuple(FIRST_CHAT + i for i in range(len(SUBSCRIPTIONS)))
VIRTUAL_AT = re.compile(r"virtual time (\d{4}-\d\d-\d\d \d\d:\d\d) UTC")

Key = tuple[str, str, int, int]  # (kind, cluster id, virtual ms, Telegram chat id)


def iso(ms: int) -> str:
    """UTC ``HH:MM`` of a virtual instant (the span is one day)."""
    return time.strftime("%H:%M", time.gmtime(ms / 1000))


def prepare(url: str) -> None:
    """Migrate ``url`` and subscribe the rehearsal chats, as a user would before the run."""
    migrate.upgrade(url)
    db = Database(url)
    try:
        with db.session() as s:
            for chat_id, (proximity, sides, min_usd) in zip(CHAT_IDS, SUBSCRIPTIONS, strict=True):
                chat = chats.upsert_chat(s, "telegram", str(chat_id), "private", f"user{chat_id}", at_ms=FROM)
                subscriptions.add_subscription(s, chat.id, symbol="BTC/USDT:USDT", window="24h",
                                               proximity_pct=proximity, sides=sides, min_usd=min_usd, at_ms=FROM)
    finally:
        db.dispose()


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Sample:
    """One /healthz answer: wall time (monotonic), status code, the newest tick with data, the exchanges down."""

    at: float
    code: int
    last_tick_at: int | None
    down: tuple[str, ...]
    now: int | None  # the process's virtual now (last tick with data + its age)


def get_health(port: int) -> Sample | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:
            code, raw = r.status, r.read()
    except urllib.error.HTTPError as exc:
        code, raw = exc.code, exc.read()
    except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
        return None
    try:
        body = json.loads(raw)
    except ValueError:
        return None
    last, age = body.get("last_tick_at"), body.get("last_tick_age_s")
    now = int(last + age * 1000) if last is not None and age is not None else None
    return Sample(time.perf_counter(), code, last, tuple(body.get("down") or ()), now)


@dataclass
class Standins:
    """The exchange stand-in serving the dataset and the Telegram Bot API stand-in, in this event loop."""

    exchange: DatasetExchangeServer
    telegram: BotApiStandin
    exchanges: tuple[str, ...] = EXCHANGES

    def env(self, url: str, data_dir: Path, health_port: int) -> dict[str, str]:
        """The ``liqmap run`` environment: production defaults, ccxt and Telegram pointed at the stand-ins."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("LIQMAP_")}
        env.update(
            PYTHONPATH=str(ROOT),
            LIQMAP_SOURCE="ccxt",
            LIQMAP_EXCHANGES=",".join(self.exchanges),
            LIQMAP_EXCHANGE_OPTIONS=json.dumps(exchange_options(self.exchange, self.exchanges)),
            LIQMAP_DATA_DIR=str(data_dir),
            LIQMAP_DATABASE_URL=url,
            LIQMAP_HEALTH_PORT=str(health_port),
            LIQMAP_TICK_SECONDS=str(TICK_S),
            LIQMAP_TELEGRAM_TOKEN=TOKEN,
            LIQMAP_TELEGRAM_API_URL=self.telegram.base_url,
        )
        return env


@asynccontextmanager
async def standins_for(tape: DatasetTape) -> AsyncIterator[Standins]:
    """Fresh stand-ins for one run (their logs and scripted faults are its own), in this event loop."""
    exchange = DatasetExchangeServer(tape)
    await exchange.start()
    telegram = BotApiStandin(TOKEN)
    await telegram.start()
    try:
        yield Standins(exchange, telegram)
    finally:
        await telegram.close()
        await exchange.close()


def sqlite_db(workdir: Path) -> str:
    """A new SQLite database in ``workdir``, migrated and subscribed."""
    url = f"sqlite:///{(workdir / 'liqmap.db').as_posix()}"
    prepare(url)
    return url


@contextmanager
def pg_db() -> Iterator[str]:
    """A fresh PostgreSQL schema, migrated and subscribed, dropped afterwards (a skip when unreachable)."""
    from tests.conftest_db import pg_schema

    with pg_schema(migrated=False) as url:
        prepare(url)
        yield url


def command(speed: float = SPEED, start: int = FROM, until: int = UNTIL) -> list[str]:
    """``liqmap run --source ccxt --speed N --from T --until T`` (the same command for a restart)."""
    return [sys.executable, "-m", "bot", "run", "--source", "ccxt", "--speed", f"{speed:g}", "--from", str(start),
            "--until", str(until)]


LIVE: list[subprocess.Popen[str]] = []  # every liqmap process a rehearsal started


def kill_leftovers() -> None:
    """SIGKILL the rehearsal processes still running (a scenario that failed or was cancelled half-way)."""
    for proc in LIVE:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@dataclass
class Process:
    """One real ``liqmap run`` process, its log in a file, /healthz sampled every ``sample_s`` while it runs."""

    name: str
    standins: Standins
    url: str
    workdir: Path
    speed: float = SPEED
    until: int = UNTIL
    sample_s: float = 0.1
    samples: list[Sample] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.log_path = self.workdir / f"{self.name}.log"
        self.started = time.perf_counter()
        self.ended: float | None = None
        with self.log_path.open("w") as out:  # a file, not a pipe: a full pipe would block the process
            self.proc = subprocess.Popen(command(self.speed, until=self.until), cwd=self.workdir, stdout=out,
                                         stderr=subprocess.STDOUT, text=True,
                                         env=self.standins.env(self.url, self.workdir, self.port))
        self._sampler = asyncio.ensure_future(self._sample())
        LIVE.append(self.proc)

    def again(self, name: str) -> Process:
        """The same command on the same database, as a new process (a restart, or another replica)."""
        return Process(name, self.standins, self.url, self.workdir, self.speed, self.until, self.sample_s)

    async def _sample(self) -> None:
        while self.proc.poll() is None:
            got = await asyncio.to_thread(get_health, self.port)
            if got is not None:
                self.samples.append(got)
            await asyncio.sleep(self.sample_s)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def alive(self) -> bool:
        return self.proc.poll() is None

    async def wait(self, timeout_s: float = 600.0) -> int:
        """Wait for the process to end by itself (``--until`` reached, outbox drained); its exit status."""
        deadline = time.perf_counter() + timeout_s
        while self.proc.poll() is None:
            if time.perf_counter() > deadline:
                self.proc.kill()
                raise AssertionError(f"{self.name} did not finish within {timeout_s} s:\n{self.log()[-3000:]}")
            await asyncio.sleep(0.05)
        self.ended = time.perf_counter()
        await self._sampler
        return int(self.proc.returncode)

    async def kill(self) -> None:
        """SIGKILL: no shutdown, no release of leases or claims."""
        self.proc.send_signal(signal.SIGKILL)
        await asyncio.to_thread(self.proc.wait)
        self.ended = time.perf_counter()
        await self._sampler

    async def terminate(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(asyncio.to_thread(self.proc.wait), timeout=30)
        except TimeoutError:
            self.proc.kill()
            await asyncio.to_thread(self.proc.wait)
        if not self._sampler.done():
            await self._sampler
        return int(self.proc.returncode)

    def ticks_after(self, at_ms: int) -> float | None:
        """Wall time (perf_counter) at which /healthz first showed a tick after virtual ``at_ms``."""
        return wall_when(self.samples, lambda s: s.last_tick_at is not None and s.last_tick_at > at_ms)

    async def until_tick(self, at_ms: int, timeout_s: float = 120.0) -> float:
        """Wait until /healthz shows a tick at or after virtual ``at_ms``; returns the wall time (monotonic)."""
        deadline = time.perf_counter() + timeout_s
        while True:
            s = self.samples[-1] if self.samples else None
            if s is not None and s.last_tick_at is not None and s.last_tick_at >= at_ms:
                return s.at
            assert self.alive(), f"{self.name} ended early:\n{self.log()[-3000:]}"
            assert time.perf_counter() < deadline, f"{self.name}: no tick at {iso(at_ms)} within {timeout_s} s"
            await asyncio.sleep(0.02)


# ---- what was queued and delivered ------------------------------------------------------------------------------

def outbox_rows(url: str) -> list[AlertRec]:
    db = Database(url)
    try:
        with db.session() as s:
            return outbox.list_alerts(s, limit=100_000)
    finally:
        db.dispose()


def stored_ticks(url: str) -> list[TickRec]:
    """Every stored job tick, oldest first (whichever replica ran it)."""
    from sqlalchemy import select

    db = Database(url)
    try:
        with db.session() as s:
            rows = s.execute(select(ticks.TICKS).order_by(ticks.TICKS.c.at, ticks.TICKS.c.id)).all()
            return [ticks._rec(r) for r in rows]
    finally:
        db.dispose()


@dataclass
class Outcome:
    """One run's alerts: outbox rows by key, and the Telegram sends matched to them (by chat and text)."""

    rows: dict[Key, AlertRec]
    delivered: Counter[Key]
    unmatched: list[Call]  # sends to a subscribed chat that match no outbox row: false deliveries
    chat_ids: dict[int, int]  # outbox chat row id -> Telegram chat id

    @property
    def keys(self) -> set[Key]:
        return set(self.rows)

    def upto(self, until: int) -> Outcome:
        """The alerts raised at or before virtual ``until`` (a run that ends earlier is compared with this)."""
        keep = {k: r for k, r in self.rows.items() if k[2] <= until}
        return Outcome(keep, Counter({k: n for k, n in self.delivered.items() if k in keep}), [], self.chat_ids)

    def key_of(self, call: Call) -> Key | None:
        """The outbox key a Telegram send delivered (by chat and text)."""
        chat, text = int(call.params.get("chat_id", 0)), text_of(call)
        return next((k for k, r in self.rows.items() if k[3] == chat and r.text == text), None)


def alert_sends(tg: BotApiStandin, since: int = 0) -> list[Call]:
    """Successful sendPhoto/sendMessage calls to the rehearsal chats from call index ``since`` on."""
    return [c for c in tg.calls[since:] if c.method in ("sendPhoto", "sendMessage") and c.status == 200
            and int(c.params.get("chat_id", 0)) in CHAT_IDS]


def text_of(call: Call) -> str:
    return str(call.params.get("caption") or call.params.get("text") or "")


def outcome(url: str, tg: BotApiStandin, since: int = 0) -> Outcome:
    """Key every outbox row ``(kind, cluster id, created_at, Telegram chat)`` and match each Telegram send (from
    call ``since`` on) to the row with the same chat and text."""
    rows = outbox_rows(url)
    db = Database(url)
    try:
        with db.session() as s:
            ext = {c.id: int(c.external_id) for c in chats.get_chats(s, sorted({r.chat_id for r in rows})).values()}
    finally:
        db.dispose()
    by_key: dict[Key, AlertRec] = {}
    by_text: dict[tuple[int, str], Key] = {}
    for r in rows:
        key = (r.kind, r.cluster_id, r.created_at, ext[r.chat_id])
        assert key not in by_key, f"two outbox rows with one key {key}"
        by_key[key] = r
        by_text[(ext[r.chat_id], r.text)] = key
    delivered: Counter[Key] = Counter()
    unmatched: list[Call] = []
    for call in alert_sends(tg, since):
        found = by_text.get((int(call.params["chat_id"]), text_of(call)))
        if found is None:
            unmatched.append(call)
        else:
            delivered[found] += 1
    return Outcome(by_key, delivered, unmatched, ext)


# ---- ticks: which were impaired, when the run recovered ---------------------------------------------------------

TICK_MS = TICK_S * 1000
CANDLE_MS = 5 * MIN


def clean(tick: TickRec) -> bool:
    """A tick that mapped every exchange: ok, and no key missing an exchange."""
    return tick.ok and all(k.fresh and not k.missing_exchanges for k in tick.keys)


def impaired_ticks(ticks_: list[TickRec], *, start: int = FROM, until: int = UNTIL,
                   windows: tuple[tuple[int, int], ...] = ()) -> set[int]:
    """Virtual ms of the grid ticks that could not see all the data: stored without every exchange or without data,
    never run (no row), or asking for market time inside a data-fault window ``[lo, hi)`` (a tick at T asks up to T,
    its newest candle opening at T - 5 min, so ticks in ``[lo, hi + 5 min)``)."""
    by_at: dict[int, list[TickRec]] = {}
    for t in ticks_:
        by_at.setdefault(t.at, []).append(t)
    out: set[int] = set()
    for at in range(start, until + 1, TICK_MS):
        rows = by_at.get(at)
        if not rows or not all(clean(t) for t in rows):
            out.add(at)
        if any(lo <= at < hi + CANDLE_MS for lo, hi in windows):
            out.add(at)
    return out


def repeated_ticks(ticks_: list[TickRec]) -> list[int]:
    """Grid instants stored more than once (two replicas, or a resumed run, computed the same tick)."""
    seen = Counter(t.at for t in ticks_)
    return sorted(at for at, n in seen.items() if n > 1)


def first_clean_after(ticks_: list[TickRec], at: int) -> TickRec | None:
    """The first tick at or after virtual ``at`` that mapped every exchange."""
    return next((t for t in sorted(ticks_, key=lambda t: t.at) if t.at >= at and clean(t)), None)


def wall_when(samples: list[Sample], pred: Callable[[Sample], bool]) -> float | None:
    """Wall time (monotonic) of the first /healthz sample satisfying ``pred``."""
    return next((s.at for s in samples if pred(s)), None)


@dataclass
class Reference:
    """The fault-free run shared by every scenario: its alerts, ticks and real duration."""

    outcome: Outcome
    ticks: list[TickRec]
    seconds: float
    duplicated: int = 0


FIGURES: list[str] = []  # one line per scenario, repeated in the session's terminal summary


def record(line: str) -> None:
    """Print a scenario's figure line (visible with ``-s``) and keep it for the summary."""
    print(line)
    FIGURES.append(line)


def recovery(samples: list[Sample], fault_end: int, recovered_at: int) -> float | None:
    """Real seconds from the moment the process's virtual clock passed ``fault_end`` to the moment /healthz showed
    the tick at ``recovered_at`` with nothing down (None when the sampler missed either)."""
    ended = wall_when(samples, lambda s: s.now is not None and s.now >= fault_end)
    back = wall_when(samples, lambda s: s.code == 200 and s.last_tick_at is not None
                     and s.last_tick_at >= recovered_at and not s.down)
    return None if ended is None or back is None else max(back - ended, 0.0)


CLAIM_LOST = re.compile(r"alert (\d+) sent \(message \S+\) but its claim was lost")


def claim_lost_ids(*logs: str) -> set[int]:
    """Outbox ids a process logged as "sent but its claim was lost: it may be sent twice"."""
    return {int(m.group(1)) for log in logs for m in CLAIM_LOST.finditer(log)}


async def until(predicate: Callable[[], bool], timeout_s: float, what: str) -> float:
    """Wait (letting the stand-ins run) until ``predicate()``; returns the wall time (perf_counter) it held."""
    deadline = time.perf_counter() + timeout_s
    while not predicate():
        assert time.perf_counter() < deadline, f"{what}: not within {timeout_s} s"
        await asyncio.sleep(0.01)
    return time.perf_counter()


def latest_tick_at(url: str) -> int | None:
    ts = stored_ticks(url)
    return max(t.at for t in ts) if ts else None


@dataclass
class Ran:
    """What one scenario's run(s) left behind, for its test to judge (the stand-ins are closed, their records kept)."""

    url: str
    standins: Standins
    processes: list[Process]
    outcome: Outcome
    ticks: list[TickRec]
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def claim_lost(self) -> set[int]:
        return claim_lost_ids(*(p.log() for p in self.processes))


def tracebacks(log: str) -> list[str]:
    """The exception line ending each traceback in ``log``."""
    lines, out = log.splitlines(), []
    for i, line in enumerate(lines):
        if line.startswith("Traceback (most recent call last):"):
            j = i + 1
            while j < len(lines) and (lines[j].startswith((" ", "\t")) or not lines[j].strip()):
                j += 1
            out.append(lines[j] if j < len(lines) else "")
    return out


def collect(url: str, standins: Standins, *processes: Process, db_down: bool = False, **extra: Any) -> Ran:
    """The scenario's outcome: outbox and Telegram deliveries keyed, stored ticks. No process logged a traceback,
    except, with ``db_down``, the logged failures of passes that hit the stopped database server."""
    for p in processes:
        unexpected = [t for t in tracebacks(p.log()) if not (db_down and t.startswith(("sqlalchemy.exc.", "psycopg.")))]
        assert not unexpected, f"{p.name}: {unexpected}\n{p.log()[-3000:]}"
    return Ran(url, standins, list(processes), outcome(url, standins.telegram), stored_ticks(url), dict(extra))
