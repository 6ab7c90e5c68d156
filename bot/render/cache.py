"""An LRU cache of rendered PNGs; concurrent identical requests share one in-flight render."""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

import numpy as np

from bot.model.types import LiqMap
from bot.render.checks import check_kind
from bot.render.palette import check_palette
from bot.render.png import Kind, render_png_async

if TYPE_CHECKING:
    from bot.ops.metrics import Metrics

CacheKey = tuple[str, str, str, str, str]
Renderer = Callable[[LiqMap, Kind, str], Awaitable[bytes]]


def data_version(m: LiqMap) -> str:
    """``<at>-<hash>``: the as-of time plus a cheap content hash (bins, totals, heat row sums, clusters)."""
    h = hashlib.blake2b(digest_size=12)
    for arr in (m.bin_price, m.long_usd, m.short_usd, m.close, m.close_time, m.heat_time, m.leverages):
        h.update(np.ascontiguousarray(arr).tobytes())
    for heat in (m.heat_long, m.heat_short, m.long_by_lev, m.short_by_lev):
        h.update(np.ascontiguousarray(heat.sum(axis=-1)).tobytes() if heat.size else b"-")
    meta = (m.price, m.exchanges, m.missing_exchanges, m.synthetic, m.replay, m.notes,
            [c.to_json() for c in m.clusters])
    h.update(repr(meta).encode())
    return f"{m.at}-{h.hexdigest()}"


async def _default_render(m: LiqMap, kind: Kind, palette: str) -> bytes:
    return await render_png_async(m, kind, palette=palette)


def _retrieve_error(task: asyncio.Task[bytes]) -> None:
    if not task.cancelled():
        task.exception()


class RenderCache:
    """PNG cache keyed on (symbol, window, kind, palette, data version), bounded to ``max_entries`` (LRU).

    Counters: ``hits`` (served from the cache or by joining an in-flight render), ``misses`` (a new
    render had to start) and ``renders`` (renders that finished successfully). Use from one event loop.
    """

    def __init__(
        self, max_entries: int = 32, renderer: Renderer = _default_render, *, metrics: Metrics | None = None
    ) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self.max_entries = max_entries
        self._renderer = renderer
        self.metrics = metrics
        self._done: OrderedDict[CacheKey, bytes] = OrderedDict()
        self._inflight: dict[CacheKey, asyncio.Task[bytes]] = {}
        self.hits = 0
        self.misses = 0
        self.renders = 0

    @staticmethod
    def key(m: LiqMap, kind: str, palette: str = "default", version: str | None = None) -> CacheKey:
        """The cache key of one image; ``version`` defaults to ``data_version(m)``."""
        return (m.symbol, m.window, kind, palette, version if version is not None else data_version(m))

    def __len__(self) -> int:
        return len(self._done)

    def stats(self) -> dict[str, int]:
        """Counters for metrics: hits, misses, renders, entries, inflight."""
        return {"hits": self.hits, "misses": self.misses, "renders": self.renders,
                "entries": len(self._done), "inflight": len(self._inflight)}

    async def get_or_render(self, m: LiqMap, kind: Kind = "heatmap", palette: str = "default",
                            version: str | None = None) -> bytes:
        """PNG bytes for ``m``: cached, joined to an identical in-flight render, or rendered now.

        ``version`` is the caller's data version of ``m`` (e.g. the store's update counter); when omitted
        a content hash of the map is used, so a changed map never gets a stale image. A failed render
        is not cached; every waiter sees its error. Cancelling one waiter does not cancel the render
        the others are waiting for.
        """
        check_kind(kind)
        check_palette(palette)
        key = self.key(m, kind, palette, version)
        png = self._done.get(key)
        if png is not None:
            self._done.move_to_end(key)
            self.hits += 1
            return png
        task = self._inflight.get(key)
        if task is not None:
            self.hits += 1
        else:
            self.misses += 1
            task = asyncio.ensure_future(self._render(key, m, kind, palette))
            task.add_done_callback(_retrieve_error)  # no "exception never retrieved" if every waiter left
            self._inflight[key] = task
        return await asyncio.shield(task)

    async def _render(self, key: CacheKey, m: LiqMap, kind: Kind, palette: str) -> bytes:
        started = time.perf_counter()
        try:
            png = await self._renderer(m, kind, palette)
        finally:
            self._inflight.pop(key, None)
        if self.metrics is not None:
            self.metrics.observe_render(kind, time.perf_counter() - started)
        self.renders += 1
        self._done[key] = png
        self._done.move_to_end(key)
        while len(self._done) > self.max_entries:
            self._done.popitem(last=False)
        return png
