"""Chart images: heatmap and liquidation-map figures -> PNG bytes, rendered off the loop and cached."""

from bot.render.cache import RenderCache, data_version
from bot.render.checks import KINDS
from bot.render.heatmap import build_heatmap_figure
from bot.render.liqmap_chart import build_map_figure
from bot.render.palette import PALETTES
from bot.render.png import Kind, build_figure, render_png, render_png_async

__all__ = [
    "KINDS",
    "PALETTES",
    "Kind",
    "RenderCache",
    "build_figure",
    "build_heatmap_figure",
    "build_map_figure",
    "data_version",
    "render_png",
    "render_png_async",
]
