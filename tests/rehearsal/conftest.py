"""Rehearsal fixtures: the recorded dataset as an exchange stand-in, the Telegram stand-in, and the one fault-free
reference run every scenario is compared with (once per session). Each scenario prints one line of figures; they
are repeated at the end of the session (terminal summary), with or without ``-s``."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio

from tests.conftest import shared_dataset
from tests.conftest_db import pg_schema
from tests.rehearsal import helpers
from tests.rehearsal.helpers import DATASET, TOKEN, Process, Reference, Standins, outcome, prepare, stored_ticks
from tests.standins.dataset_exchange import DatasetExchangeServer, DatasetTape
from tests.standins.telegram_server import BotApiStandin


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if helpers.FIGURES:
        terminalreporter.section("rehearsal figures")
        for line in helpers.FIGURES:
            terminalreporter.write_line(line)


@pytest.fixture(scope="session")
def tape() -> DatasetTape:
    """The recorded market (skipped, with the reason, when ../shared/data is absent)."""
    return DatasetTape.load(shared_dataset(DATASET))


async def start_standins(tape: DatasetTape) -> Standins:
    exchange = DatasetExchangeServer(tape)
    await exchange.start()
    telegram = BotApiStandin(TOKEN)
    await telegram.start()
    return Standins(exchange, telegram)


async def stop_standins(standins: Standins) -> None:
    await standins.telegram.close()
    await standins.exchange.close()


@pytest_asyncio.fixture(loop_scope="session")
async def standins(tape: DatasetTape) -> AsyncIterator[Standins]:
    """Fresh stand-ins for one scenario (their logs and scripted faults are its own)."""
    s = await start_standins(tape)
    try:
        yield s
    finally:
        await stop_standins(s)


@pytest.fixture
def sqlite_db(tmp_path: Path) -> str:
    """The scenario's database: a new SQLite file, migrated and subscribed."""
    url = f"sqlite:///{(tmp_path / 'liqmap.db').as_posix()}"
    prepare(url)
    return url


@pytest.fixture
def pg_db() -> Iterator[str]:
    """The scenario's database on PostgreSQL: a fresh schema, migrated and subscribed (skipped when unreachable)."""
    with pg_schema(migrated=False) as url:
        prepare(url)
        yield url


@pytest.fixture
def restartable() -> Iterator[None]:
    """This host can restart the test PostgreSQL with pg_ctlcluster (else a skip naming why); it is left running."""
    from tests.reliability import pg_server

    reason = pg_server.restart_reason()
    if reason:
        print(f"skipping the PostgreSQL restart rehearsal: {reason}")
        pytest.skip(reason)
    try:
        yield
    finally:
        pg_server.ensure_running()


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def reference(tape: DatasetTape, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Reference]:
    """The same run without any fault, on SQLite: what every scenario is compared with."""
    workdir = tmp_path_factory.mktemp("reference")
    url = f"sqlite:///{(workdir / 'liqmap.db').as_posix()}"
    prepare(url)
    s = await start_standins(tape)
    try:
        started = time.monotonic()
        run = Process("reference", s, url, workdir)
        assert await run.wait() == 0, run.log()[-3000:]
        ref = Reference(outcome(url, s.telegram), stored_ticks(url), time.monotonic() - started)
    finally:
        await stop_standins(s)
    assert "Traceback" not in run.log(), run.log()[-3000:]
    got = ref.outcome
    assert len(got.rows) >= 20, "the span must raise alerts, else the comparisons prove nothing"
    assert all(r.state == "sent" for r in got.rows.values()), [(r.id, r.state, r.last_error) for r in got.rows.values()]
    assert not got.unmatched and set(got.delivered) == set(got.rows), "the fault-free run lost or invented alerts"
    lost_claims = helpers.claim_lost_ids(run.log())
    doubled = {k: n for k, n in got.delivered.items() if n != 1}
    assert all(n == 2 and got.rows[k].id in lost_claims for k, n in doubled.items()), (
        f"the fault-free run delivered alerts twice: {doubled}\n{run.log()[-2000:]}")
    ref.duplicated = sum(n - 1 for n in doubled.values())
    helpers.record(f"rehearsal reference: {len(got.rows)} alerts, {len(ref.ticks)} ticks, {ref.seconds:.1f} s real"
                   + (f" (delivered {ref.duplicated} twice: claim lost, defect D1)" if ref.duplicated else ""))
    yield ref
