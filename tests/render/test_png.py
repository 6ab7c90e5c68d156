"""PNG output: signature, 1280x720, sane size, byte-stable (no timestamps), same bytes sync and async."""

from __future__ import annotations

import asyncio
import io

import pytest
from PIL import Image

from bot.model.types import LiqMap
from bot.render import render_png, render_png_async
from bot.render.png import PNG_MAGIC
from tests.render.synthetic import empty_map


@pytest.mark.parametrize("kind", ["heatmap", "map"])
def test_png_signature_size_and_bounds(liqmap: LiqMap, kind: str) -> None:
    png = render_png(liqmap, kind)  # type: ignore[arg-type]
    assert png[:8] == PNG_MAGIC
    assert 20_000 < len(png) < 1_500_000
    with Image.open(io.BytesIO(png)) as img:
        assert img.size == (1280, 720)
        assert img.mode == "RGBA"
        assert "Software" not in img.info and "Creation Time" not in img.info
        left, top, right, bottom = img.convert("RGB").getbbox() or (0, 0, 0, 0)
        assert right - left > 1200 and bottom - top > 650  # drawn across the whole canvas


def test_empty_map_png_is_small_but_valid(liqmap: LiqMap) -> None:
    png = render_png(empty_map(liqmap), "heatmap")
    assert png[:8] == PNG_MAGIC and 5_000 < len(png) < 300_000


@pytest.mark.parametrize("kind", ["heatmap", "map"])
def test_rendering_is_byte_stable(liqmap: LiqMap, kind: str) -> None:
    assert render_png(liqmap, kind) == render_png(liqmap, kind)  # type: ignore[arg-type]


async def test_async_render_matches_sync_and_keeps_the_loop_free(liqmap: LiqMap) -> None:
    """While the render runs, other coroutines keep running (it is off the event loop)."""
    ticks = 0
    done = False

    async def ticker() -> None:
        nonlocal ticks
        while not done:
            ticks += 1
            await asyncio.sleep(0)

    task = asyncio.create_task(ticker())
    png = await render_png_async(liqmap, "map")
    done = True
    await task
    assert ticks > 0  # a blocking render would finish before the ticker ever ran
    assert png == render_png(liqmap, "map")


async def test_async_render_rejects_bad_arguments_before_threading(liqmap: LiqMap) -> None:
    with pytest.raises(ValueError, match="unknown chart kind"):
        await render_png_async(liqmap, "pie")  # type: ignore[arg-type]
