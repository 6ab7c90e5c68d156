"""Running the rehearsals together: each scenario module registers the coroutine that performs its run(s)
(``@scenario``); the session's ``campaign`` fixture starts the reference run and every *selected* scenario at once,
on an event loop of their own in a background thread (the stand-ins live there too, so they answer whatever pytest
is doing meanwhile), and each test blocks until its scenario's result is there, then judges it.

Why at once: a rehearsal spends most of its real time waiting (ccxt's retry backoff, Telegram's flood limit and
retry-after, a dead process's claims all run in real time), so the runs overlap well on two cores: together they take
little more than the slowest one (one after the other, about three times as long). Runs stay comparable because the
virtual clock makes the alerts independent of the machine's pace. A scenario marked ``exclusive`` (the PostgreSQL
restart, which would hit every other run on that server) starts only after every other scenario that ``needs`` one
of the same things (``"postgresql"``) has finished.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.standins.dataset_exchange import DatasetTape

Run = Callable[["Context"], Awaitable[Any]]


@dataclass(frozen=True)
class Context:
    """What a scenario's run gets: the recorded market and a directory of its own."""

    tape: DatasetTape
    workdir: Path


@dataclass(frozen=True)
class Scenario:
    name: str
    run: Run
    exclusive: bool = False
    needs: tuple[str, ...] = ()


SCENARIOS: dict[str, Scenario] = {}


def scenario(name: str, *, exclusive: bool = False, needs: tuple[str, ...] = ()) -> Callable[[Run], Run]:
    """Register ``run`` as the scenario ``name`` (its test calls ``campaign.result(name)``); ``needs`` names shared
    things it uses (``"postgresql"``); ``exclusive`` ones run alone with respect to those."""

    def register(run: Run) -> Run:
        SCENARIOS[name] = Scenario(name, run, exclusive, needs)
        return run

    return register


def uses(*names: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Mark a test as judging the scenarios ``names`` (the campaign starts only the selected tests' scenarios)."""

    def mark(test: Callable[..., Any]) -> Callable[..., Any]:
        test.rehearsals = names  # type: ignore[attr-defined]
        return test

    return mark


def selected(items: list[Any]) -> list[str]:
    """The scenarios the session's selected tests judge, the reference first, each once."""
    names: list[str] = []
    for item in items:
        for name in getattr(getattr(item, "function", None), "rehearsals", ()):
            if name not in names:
                names.append(name)
    return (["reference"] if names else []) + [n for n in names if n != "reference"]


@dataclass
class Campaign:
    """The scenarios of this session on their own event loop thread, started together (exclusive ones afterwards,
    one at a time)."""

    tape: DatasetTape
    root: Path
    names: list[str]
    futures: dict[str, concurrent.futures.Future[Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="rehearsals", daemon=True)

    def start(self) -> None:
        self.thread.start()
        shared = [n for n in self.names if not SCENARIOS[n].exclusive]
        alone = [n for n in self.names if SCENARIOS[n].exclusive]
        for name in shared:
            self.futures[name] = asyncio.run_coroutine_threadsafe(self._run(name), self.loop)
        if alone:
            needed = {n for name in alone for n in SCENARIOS[name].needs}
            sharing = [f for name, f in self.futures.items() if needed & set(SCENARIOS[name].needs)]
            later = asyncio.run_coroutine_threadsafe(self._after(sharing, alone), self.loop)
            for name in alone:
                self.futures[name] = asyncio.run_coroutine_threadsafe(self._exclusive(later, name), self.loop)

    async def _run(self, name: str) -> Any:
        workdir = self.root / name
        workdir.mkdir(parents=True, exist_ok=True)
        return await SCENARIOS[name].run(Context(self.tape, workdir))

    async def _after(self, others: list[concurrent.futures.Future[Any]], alone: list[str]) -> dict[str, Any]:
        await asyncio.gather(*(asyncio.wrap_future(f) for f in others), return_exceptions=True)
        results: dict[str, Any] = {}
        for name in alone:
            try:
                results[name] = (True, await self._run(name))
            except BaseException as exc:  # handed to the scenario's own test (a skip stays a skip)
                results[name] = (False, exc)
        return results

    @staticmethod
    async def _exclusive(later: concurrent.futures.Future[dict[str, Any]], name: str) -> Any:
        ok, value = (await asyncio.wrap_future(later))[name]
        if not ok:
            raise value
        return value

    def result(self, name: str, timeout_s: float = 900.0) -> Any:
        """The scenario's result, once it is there (its exception, or skip, re-raised in the test that asks)."""
        return self.futures[name].result(timeout=timeout_s)

    def close(self) -> None:
        """Cancel what still runs (a failed session), stop the loop and its thread."""
        for f in self.futures.values():
            f.cancel()

        async def settle() -> None:
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        if self.thread.is_alive():
            asyncio.run_coroutine_threadsafe(settle(), self.loop).result(timeout=60)
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(timeout=30)


def reference_of(campaign: Campaign) -> Any:
    """The fault-free run, once it is there (its figure line is recorded once). A test asks for it after its own
    scenario's result, so that a skipped scenario (no PostgreSQL, no pg_ctlcluster) skips at once."""
    from tests.rehearsal import helpers

    ref = campaign.result("reference")
    line = (f"rehearsal reference: {len(ref.outcome.rows)} alerts, {len(ref.ticks)} ticks, {ref.seconds:.1f} s real"
            + (f" (delivered {ref.duplicated} twice: claim lost, defect D1)" if ref.duplicated else ""))
    if line not in helpers.FIGURES:
        helpers.record(line)
    return ref
