"""Rehearsal fixtures: the recorded dataset as an exchange stand-in, the Telegram stand-in, and the one fault-free
reference run every scenario is compared with (once per session). Each scenario prints one line of figures; they
are repeated at the end of the session (terminal summary), with or without ``-s``."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from tests.conftest import shared_dataset
from tests.rehearsal import helpers
from tests.rehearsal.campaign import Campaign, Context, scenario, selected
from tests.rehearsal.helpers import DATASET, Process, Reference, outcome, prepare, standins_for, stored_ticks
from tests.standins.dataset_exchange import DatasetTape


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if helpers.FIGURES:
        terminalreporter.section("rehearsal figures")
        for line in helpers.FIGURES:
            terminalreporter.write_line(line)


@pytest.fixture(scope="session")
def tape() -> DatasetTape:
    """The recorded market (skipped, with the reason, when ../shared/data is absent)."""
    return DatasetTape.load(shared_dataset(DATASET))


@scenario("reference")
async def run_reference(ctx: Context) -> Reference:
    """The same run without any fault, on SQLite: what every scenario is compared with."""
    url = f"sqlite:///{(ctx.workdir / 'liqmap.db').as_posix()}"
    prepare(url)
    async with standins_for(ctx.tape) as s:
        started = time.perf_counter()
        run = Process("reference", s, url, ctx.workdir)
        assert await run.wait() == 0, run.log()[-3000:]
        ref = Reference(outcome(url, s.telegram), stored_ticks(url), time.perf_counter() - started)
    assert "Traceback" not in run.log(), run.log()[-3000:]
    got = ref.outcome
    assert len(got.rows) >= 20, "the span must raise alerts, else the comparisons prove nothing"
    assert all(r.state == "sent" for r in got.rows.values()), [(r.id, r.state, r.last_error) for r in got.rows.values()]
    assert not got.unmatched and set(got.delivered) == set(got.rows), "the fault-free run lost or invented alerts"
    assert helpers.impaired_ticks(ref.ticks) == set() and helpers.repeated_ticks(ref.ticks) == []
    lost_claims = helpers.claim_lost_ids(run.log())
    doubled = {k: n for k, n in got.delivered.items() if n != 1}
    assert all(n == 2 and got.rows[k].id in lost_claims for k, n in doubled.items()), (
        f"the fault-free run delivered alerts twice: {doubled}\n{run.log()[-2000:]}")
    ref.duplicated = sum(n - 1 for n in doubled.values())
    return ref


@pytest.fixture(scope="session")
def campaign(request: pytest.FixtureRequest, tape: DatasetTape,
             tmp_path_factory: pytest.TempPathFactory) -> Iterator[Campaign]:
    """Every selected scenario and the reference run, started together on their own thread (see ``campaign.py``)."""
    c = Campaign(tape, tmp_path_factory.mktemp("rehearsal"), selected(request.session.items))
    c.start()
    try:
        yield c
    finally:
        c.close()
        helpers.kill_leftovers()
