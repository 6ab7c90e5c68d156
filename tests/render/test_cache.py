"""RenderCache: hits and misses, invalidation when the data changes, one render for a burst, errors not cached."""

from __future__ import annotations

import asyncio
import dataclasses

import numpy as np
import pytest

from bot.errors import LiqmapError
from bot.model.types import LiqMap
from bot.render import RenderCache, data_version, render_png
from bot.render.png import PNG_MAGIC


async def test_second_request_is_a_hit(liqmap: LiqMap) -> None:
    cache = RenderCache()
    first = await cache.get_or_render(liqmap, "heatmap")
    second = await cache.get_or_render(liqmap, "heatmap")
    assert first is second and first.startswith(PNG_MAGIC)
    assert cache.stats() == {"hits": 1, "misses": 1, "renders": 1, "entries": 1, "inflight": 0}


async def test_kind_and_palette_are_part_of_the_key(liqmap: LiqMap) -> None:
    cache = RenderCache()
    heat = await cache.get_or_render(liqmap, "heatmap")
    viridis = await cache.get_or_render(liqmap, "heatmap", "viridis")
    chart = await cache.get_or_render(liqmap, "map")
    assert len({heat, viridis, chart}) == 3
    assert (cache.misses, cache.hits, len(cache)) == (3, 0, 3)


async def test_changed_data_is_a_miss(liqmap: LiqMap) -> None:
    cache = RenderCache()
    await cache.get_or_render(liqmap, "map")
    bumped = liqmap.short_usd.copy()
    bumped[-1] += 1e6
    newer = dataclasses.replace(liqmap, short_usd=bumped)
    assert data_version(newer) != data_version(liqmap)
    await cache.get_or_render(newer, "map")
    later = dataclasses.replace(liqmap, at=liqmap.at + 60_000)
    await cache.get_or_render(later, "map")
    assert (cache.misses, cache.hits, cache.renders) == (3, 0, 3)
    await cache.get_or_render(dataclasses.replace(liqmap), "map")  # equal content, another object: a hit
    assert cache.hits == 1


async def test_heat_change_changes_the_version(liqmap: LiqMap) -> None:
    heat = liqmap.heat_long.copy()
    heat[10, 20] += 5e5
    assert data_version(dataclasses.replace(liqmap, heat_long=heat)) != data_version(liqmap)
    assert data_version(dataclasses.replace(liqmap, synthetic=False)) != data_version(liqmap)


async def test_explicit_version_is_the_key(liqmap: LiqMap) -> None:
    cache = RenderCache()
    await cache.get_or_render(liqmap, "map", version="store-41")
    await cache.get_or_render(liqmap, "map", version="store-41")
    await cache.get_or_render(liqmap, "map", version="store-42")
    assert (cache.hits, cache.misses) == (1, 2)


async def test_burst_of_identical_requests_renders_once(liqmap: LiqMap) -> None:
    cache = RenderCache()
    results = await asyncio.gather(*(cache.get_or_render(liqmap, "heatmap") for _ in range(8)))
    assert cache.renders == 1 and cache.misses == 1 and cache.hits == 7
    assert all(r is results[0] for r in results)
    assert results[0] == render_png(liqmap, "heatmap")


async def test_lru_eviction(liqmap: LiqMap) -> None:
    cache = RenderCache(max_entries=2)
    maps = [dataclasses.replace(liqmap, at=liqmap.at + i) for i in range(3)]
    for m in maps:
        await cache.get_or_render(m, "map")
    assert len(cache) == 2
    await cache.get_or_render(maps[0], "map")  # evicted: rendered again
    assert cache.renders == 4
    with pytest.raises(ValueError, match="max_entries"):
        RenderCache(max_entries=0)


async def test_failed_render_is_not_cached_and_every_waiter_sees_it(liqmap: LiqMap) -> None:
    broken = dataclasses.replace(liqmap, long_usd=np.zeros(3))
    cache = RenderCache()
    results = await asyncio.gather(*(cache.get_or_render(broken, "map") for _ in range(3)), return_exceptions=True)
    assert all(isinstance(r, LiqmapError) and "long_usd has shape" in str(r) for r in results)
    assert (cache.renders, len(cache), cache.stats()["inflight"]) == (0, 0, 0)
    with pytest.raises(LiqmapError):
        await cache.get_or_render(broken, "map")
    assert cache.misses == 2  # tried again, not served from a cached failure


async def test_cancelling_one_waiter_keeps_the_render_for_the_others(liqmap: LiqMap) -> None:
    cache = RenderCache()
    first = asyncio.create_task(cache.get_or_render(liqmap, "map"))
    second = asyncio.create_task(cache.get_or_render(liqmap, "map"))
    await asyncio.sleep(0)
    first.cancel()
    png = await second
    assert png.startswith(PNG_MAGIC) and cache.renders == 1
    with pytest.raises(asyncio.CancelledError):
        await first


async def test_bad_kind_or_palette_fails_before_rendering(liqmap: LiqMap) -> None:
    cache = RenderCache()
    with pytest.raises(ValueError, match="unknown chart kind 'pie'"):
        await cache.get_or_render(liqmap, "pie")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown palette 'neon'"):
        await cache.get_or_render(liqmap, "map", "neon")
    assert cache.stats()["misses"] == 0
