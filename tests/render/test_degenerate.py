"""Empty, degenerate and invalid maps: a clear image that says so, or one clear error line, never a traceback."""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np
import pytest
from matplotlib.figure import Figure

from bot.errors import LiqmapError
from bot.model.types import LiqMap
from bot.render import build_figure, build_heatmap_figure, build_map_figure, render_png
from bot.render.png import PNG_MAGIC, Kind
from bot.render.theme import texts_by_gid
from tests.render.synthetic import empty_map

KINDS: tuple[Kind, Kind] = ("heatmap", "map")


def _message(fig: Figure) -> str:
    return " ".join(t.get_text() for t in texts_by_gid(fig, "message") + texts_by_gid(fig, "message-detail"))


@pytest.mark.parametrize("kind", ["heatmap", "map"])
def test_empty_map_renders_a_message(liqmap: LiqMap, kind: Kind) -> None:
    m = empty_map(liqmap)
    fig = build_figure(m, kind)
    assert fig.axes == []
    assert "No open-interest data yet" in _message(fig)
    assert texts_by_gid(fig, "title") and texts_by_gid(fig, "synthetic")
    assert render_png(m, kind).startswith(PNG_MAGIC)


def test_empty_map_message_carries_the_model_notes(liqmap: LiqMap) -> None:
    m = dataclasses.replace(empty_map(liqmap), notes=("okx: no open-interest history",))
    assert "okx: no open-interest history" in _message(build_map_figure(m))


@pytest.mark.parametrize("price", [float("nan"), 0.0, -5.0])
def test_missing_price_renders_a_message(liqmap: LiqMap, price: float) -> None:
    for fig in (build_heatmap_figure(dataclasses.replace(liqmap, price=price)),
                build_map_figure(dataclasses.replace(liqmap, price=price))):
        assert "No price data yet" in _message(fig)


def test_all_exchanges_down_renders_a_message(liqmap: LiqMap) -> None:
    m = dataclasses.replace(empty_map(liqmap), exchanges=(), missing_exchanges=("binanceusdm", "bybit"))
    msg = _message(build_heatmap_figure(m))
    assert "No exchange data" in msg and "binanceusdm, bybit" in msg


def test_no_bins_renders_a_message(liqmap: LiqMap) -> None:
    e = np.empty(0)
    m = dataclasses.replace(
        liqmap, bin_price=e, long_usd=e, short_usd=e, long_by_lev=np.empty((5, 0)), short_by_lev=np.empty((5, 0)),
        heat_long=np.empty((liqmap.heat_time.size, 0)), heat_short=np.empty((liqmap.heat_time.size, 0)), clusters=(),
    )
    assert "No price grid" in _message(build_heatmap_figure(m))
    assert "No price grid" in _message(build_map_figure(m))


def test_no_heat_history_heatmap_says_so_but_map_draws(liqmap: LiqMap) -> None:
    b = liqmap.bin_price.size
    m = dataclasses.replace(liqmap, heat_time=np.empty(0, dtype=np.int64), heat_long=np.empty((0, b)),
                            heat_short=np.empty((0, b)), close_time=np.empty(0, dtype=np.int64), close=np.empty(0))
    assert "No heatmap history yet" in _message(build_heatmap_figure(m))
    fig = build_map_figure(m)
    assert _message(fig) == "" and len(fig.axes) == 2


def test_nan_cells_are_drawn_as_empty_without_warnings(liqmap: LiqMap) -> None:
    heat = liqmap.heat_long.copy()
    heat[::7, ::5] = np.nan
    long_usd = liqmap.long_usd.copy()
    long_usd[::9] = np.nan
    by_lev = liqmap.long_by_lev.copy()
    by_lev[:, ::11] = np.inf
    close = liqmap.close.copy()
    close[5:9] = np.nan
    m = dataclasses.replace(liqmap, heat_long=heat, long_usd=long_usd, long_by_lev=by_lev, close=close)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for kind in KINDS:
            assert render_png(m, kind).startswith(PNG_MAGIC)
    assert _message(build_map_figure(m)) == ""


def test_flat_market_and_single_column(liqmap: LiqMap) -> None:
    flat = dataclasses.replace(liqmap, close=np.full_like(liqmap.close, liqmap.price))
    one = dataclasses.replace(liqmap, heat_time=liqmap.heat_time[-1:], heat_long=liqmap.heat_long[-1:],
                              heat_short=liqmap.heat_short[-1:], close_time=liqmap.close_time[-1:],
                              close=liqmap.close[-1:])
    for m in (flat, one):
        fig = build_heatmap_figure(m)
        assert len(fig.axes) == 1 and _message(fig) == ""
        assert render_png(m).startswith(PNG_MAGIC)


def test_price_outside_the_grid_still_draws(liqmap: LiqMap) -> None:
    m = dataclasses.replace(liqmap, price=float(liqmap.bin_price[-1]) * 1.5)
    for kind in KINDS:
        assert render_png(m, kind).startswith(PNG_MAGIC)


def test_no_leverage_split_draws_one_bucket(liqmap: LiqMap) -> None:
    b = liqmap.bin_price.size
    m = dataclasses.replace(liqmap, leverages=np.empty(0), long_by_lev=np.empty((0, b)),
                            short_by_lev=np.empty((0, b)))
    fig = build_map_figure(m)
    assert [p.get_gid() for p in fig.axes[0].patches] == ["lev-all"]


@pytest.mark.parametrize(("field", "value", "says"), [
    ("long_usd", np.zeros(3), "long_usd has shape (3,), expected (400,)"),
    ("heat_short", np.zeros((2, 400)), "heat_short has shape (2, 400), expected (168, 400)"),
    ("bin_price", np.linspace(1.0, 0.0, 400), "bin_price must be finite and strictly ascending"),
])
def test_inconsistent_arrays_raise_one_clear_error(liqmap: LiqMap, field: str, value: np.ndarray, says: str) -> None:
    m = dataclasses.replace(liqmap, **{field: value})  # type: ignore[arg-type]
    for kind in KINDS:
        with pytest.raises(LiqmapError) as info:
            render_png(m, kind)
        assert says in str(info.value) and "\n" not in str(info.value)


def test_unknown_kind_and_palette_raise_value_error(liqmap: LiqMap) -> None:
    with pytest.raises(ValueError, match=r"unknown chart kind 'bars'; use one of heatmap, map"):
        render_png(liqmap, "bars")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"unknown palette 'rainbow'; use one of default, viridis"):
        render_png(liqmap, "heatmap", palette="rainbow")
    with pytest.raises(ValueError, match=r"unknown palette"):
        render_png(liqmap, "map", palette="rainbow")
