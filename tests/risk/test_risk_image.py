"""The /risk image (bot/render/risk_marks.py): the map chart widened to show the entry and liquidation lines."""

from __future__ import annotations

import math

import numpy as np
import pytest
from matplotlib.text import Text

from bot.engine import MapEngine
from bot.market.source import SimSource
from bot.model.types import LiqMap
from bot.render.png import release
from bot.render.risk_marks import RiskMarks, build_risk_figure, render_risk_png, risk_view
from tests.alerts.helpers import EXCHANGES, NOW


@pytest.fixture
async def sim_map() -> LiqMap:
    return (await MapEngine(SimSource(EXCHANGES, seed=7, now_ms=NOW)).compute("BTC/USDT:USDT", "24h")).map


def _texts(fig: object, gid: str) -> list[str]:
    return [t.get_text() for t in fig.findobj(Text) if t.get_gid() == gid]  # type: ignore[attr-defined]


def test_entry_and_liquidation_lines_are_drawn_inside_the_view(sim_map: LiqMap) -> None:
    marks = RiskMarks(entry=sim_map.price * 1.01, liq=sim_map.price * 0.85, side="long")
    fig = build_risk_figure(sim_map, marks)
    try:
        [ax] = [a for a in fig.axes if a.get_label() == "map"]
        lo, hi = ax.get_xlim()
        assert lo < marks.liq < marks.entry < hi  # widened to hold the liquidation price 15% below
        marked = [ln for ln in ax.get_lines() if ln.get_gid() in ("risk-entry", "risk-liq")]
        lines = {ln.get_gid(): float(np.asarray(ln.get_xdata())[0]) for ln in marked}
        assert lines == {"risk-entry": pytest.approx(marks.entry), "risk-liq": pytest.approx(marks.liq)}
        assert _texts(fig, "risk-liq-tag")[0].startswith("your long liq ")
        assert _texts(fig, "risk-entry-tag")[0].startswith("entry ")
    finally:
        release(fig)


def test_a_level_beyond_the_grid_is_labelled_off_chart(sim_map: LiqMap) -> None:
    far = float(sim_map.bin_price[0]) * 0.5
    lo, _ = risk_view(sim_map, RiskMarks(sim_map.price, far, "long"))
    assert lo >= float(sim_map.bin_price[0]) - sim_map.bin_width  # clipped to the grid
    fig = build_risk_figure(sim_map, RiskMarks(sim_map.price, far, "long"))
    try:
        assert "(off chart)" in _texts(fig, "risk-liq-tag")[0]
    finally:
        release(fig)
    assert render_risk_png(sim_map, RiskMarks(sim_map.price, math.nan, "long")).startswith(b"\x89PNG")
