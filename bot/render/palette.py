"""Heatmap colours: USD intensities -> RGBA pixels via lookup tables, plus the matching USD colour bar.

Long liquidations (below price) use a dark-red -> orange -> amber ramp, shorts (above price) a
dark-green -> green -> mint ramp; ``palette="viridis"`` maps the combined USD onto viridis instead.
A power norm (gamma < 1) keeps thin levels faint but visible; zero stays the background colour.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
from matplotlib import colormaps
from matplotlib.colors import LinearSegmentedColormap, to_rgba_array
from matplotlib.figure import Figure
from matplotlib.text import Text
from matplotlib.transforms import Bbox

from bot.format import fmt_usd
from bot.render.theme import BG, MUTED, SMALL_SIZE, text_kw

Palette = Literal["default", "viridis"]
PALETTES: tuple[str, ...] = ("default", "viridis")
U8 = npt.NDArray[np.uint8]
F64 = npt.NDArray[np.float64]

GAMMA = 0.5
SATURATE_PCTL = 99.5  # values above this percentile of non-zero cells saturate (one hot cell cannot wash out)
MIN_INDEX = 10  # the faintest non-zero level still differs visibly from the background

_LONG_STOPS = (BG, "#3b0d0d", "#8e1b12", "#d7351d", "#ff6b3d", "#ffa53d", "#ffe08a")
_SHORT_STOPS = (BG, "#0a2e1c", "#0f5c33", "#169452", "#35d07f", "#7cf0ae", "#d4ffe6")


def _lut_from(stops: tuple[str, ...]) -> U8:
    cmap = LinearSegmentedColormap.from_list("ramp", list(stops), N=256)
    return np.asarray(cmap(np.linspace(0.0, 1.0, 256), bytes=True), dtype=np.uint8)


def _viridis_lut() -> U8:
    lut = np.asarray(colormaps["viridis"](np.linspace(0.0, 1.0, 256), bytes=True), dtype=np.uint8)
    lut[0] = (to_rgba_array(BG)[0] * 255).round().astype(np.uint8)
    return lut


LONG_LUT: U8 = _lut_from(_LONG_STOPS)
SHORT_LUT: U8 = _lut_from(_SHORT_STOPS)
VIRIDIS_LUT: U8 = _viridis_lut()


def check_palette(palette: str) -> None:
    """Raise ``ValueError`` naming the valid palettes when ``palette`` is unknown."""
    if palette not in PALETTES:
        raise ValueError(f"unknown palette {palette!r}; use one of {', '.join(PALETTES)}")


_LEVELS = 4095  # linear quantisation of usd / vmax before the gamma lookup (cheaper than a power per cell)


@functools.lru_cache(maxsize=8)
def _gamma_table(gamma: float) -> U8:
    """(_LEVELS + 1,) uint8: linear level -> LUT index ``round(255 * (level / _LEVELS) ** gamma)``."""
    return np.asarray(np.round(255.0 * np.linspace(0.0, 1.0, _LEVELS + 1) ** gamma), dtype=np.uint8)


@dataclass(frozen=True)
class HeatNorm:
    """Power norm from USD to [0, 1]: ``(clip(usd / vmax, 0, 1)) ** gamma``."""

    vmax: float
    gamma: float = GAMMA

    def index(self, usd: F64) -> U8:
        """(…) USD -> (…) LUT index 0..255; 0 only for zero/negative USD, positives at least ``MIN_INDEX``."""
        lin = np.clip(usd * (_LEVELS / self.vmax), 0.0, _LEVELS).astype(np.uint16)
        idx = _gamma_table(self.gamma)[lin]
        np.maximum(idx, MIN_INDEX, out=idx, where=usd > 0)
        return idx

    def position(self, usd: float) -> float:
        """Where ``usd`` sits on the colour bar, 0..1."""
        return float(min(max(usd / self.vmax, 0.0), 1.0) ** self.gamma)


def heat_norm(*arrays: F64) -> HeatNorm:
    """A norm saturating at the ``SATURATE_PCTL`` percentile of the non-zero cells of ``arrays`` (USD)."""
    positives = [a[a > 0] for a in arrays if a.size]
    values = np.concatenate(positives) if positives else np.empty(0)
    if values.size == 0:
        return HeatNorm(vmax=1.0)
    if values.size > 200_000:  # a strided sample is plenty for a percentile and much cheaper
        values = values[:: values.size // 100_000]
    vmax = float(np.percentile(values, SATURATE_PCTL))
    return HeatNorm(vmax=vmax if vmax > 0 else float(values.max()))


def heat_rgba(heat_long: F64, heat_short: F64, norm: HeatNorm, palette: Palette = "default") -> U8:
    """(t, b) long USD and (t, b) short USD -> (b, t, 4) RGBA uint8 image (rows = price, ascending).

    In the default palette each cell takes the colour of its larger side.
    """
    if palette == "viridis":
        return VIRIDIS_LUT[norm.index(np.ascontiguousarray((heat_long + heat_short).T))]
    il = norm.index(np.ascontiguousarray(heat_long.T))
    ish = norm.index(np.ascontiguousarray(heat_short.T))
    out = LONG_LUT[il]
    mask = ish > il
    out[mask] = SHORT_LUT[ish[mask]]
    return out


def colorbar_ticks(norm: HeatNorm, count: int = 3) -> list[float]:
    """``count`` round USD values spread evenly along the colour bar (the last one is ``vmax``)."""
    ticks: list[float] = []
    for pos in np.linspace(0.0, 1.0, count + 1)[1:-1]:
        raw = norm.vmax * float(pos) ** (1.0 / norm.gamma)
        magnitude = 10 ** np.floor(np.log10(raw)) if raw > 0 else 1.0
        ticks.append(float(np.round(raw / magnitude) * magnitude))
    ticks.append(norm.vmax)
    return ticks


TICK_GAP_PX = 6.0  # at least this much space between two colour-bar tick labels


def _tick_texts(fig: Figure) -> list[Text]:
    return [t for t in fig.texts if t.get_gid() == "colorbar-tick"]


def add_colorbar(fig: Figure, norm: HeatNorm, palette: Palette, rect: tuple[float, float, float, float],
                 caption: str) -> None:
    """A horizontal USD colour bar at ``rect`` (figure fractions): rows 'short' over 'long', or one row.

    Drawn as a figure image plus a few texts (gid ``colorbar`` / ``colorbar-tick``), cheaper than an axes.
    """
    x, y, w, h = rect
    fw, fh = fig.bbox.width, fig.bbox.height
    width_px, height_px = round(w * fw), round(h * fh)
    idx = norm.index(np.linspace(0.0, 1.0, width_px) ** (1.0 / norm.gamma) * norm.vmax)
    luts = [VIRIDIS_LUT] if palette == "viridis" else [SHORT_LUT, LONG_LUT]
    gap = 2
    row_px = (height_px - gap * (len(luts) - 1)) // len(luts)
    rows: list[U8] = []
    for i, lut in enumerate(luts):
        if i:
            rows.append(np.zeros((gap, width_px, 4), dtype=np.uint8))
        rows.append(np.repeat(lut[idx][None, :, :], row_px, axis=0))
    fig.figimage(np.concatenate(rows), xo=round(x * fw), yo=round(y * fh), origin="upper", gid="colorbar")
    top = y + (row_px * len(luts) + gap * (len(luts) - 1)) / fh
    fig.text(x + w, top + 0.006, caption, ha="right", va="bottom", **text_kw(SMALL_SIZE, MUTED),
             gid="colorbar-caption")
    if len(luts) == 2:
        for i, name in enumerate(("short", "long")):
            row_mid = top - (i * (row_px + gap) + row_px / 2) / fh
            fig.text(x - 0.004, row_mid, name, ha="right", va="center", **text_kw(SMALL_SIZE, MUTED),
                     gid="colorbar-row")
    ticks = colorbar_ticks(norm)
    placed: list[Bbox] = []
    renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]
    for i, tick in reversed(list(enumerate(ticks))):  # the saturation value first: it is always shown
        last = i == len(ticks) - 1  # it sits at the bar's right end: keep it inside the image
        label = fig.text(x + norm.position(tick) * w, y - 0.006, fmt_usd(tick), ha="right" if last else "center",
                         va="top", **text_kw(SMALL_SIZE, MUTED), gid="colorbar-tick")
        box = label.get_window_extent(renderer).expanded(1.0, 1.0).padded(TICK_GAP_PX / 2)
        if fmt_usd(tick) in {t.get_text() for t in _tick_texts(fig) if t is not label} or any(
                box.overlaps(b) for b in placed):
            label.remove()  # would overlap (or repeat) a label already placed: e.g. "$400k$837k"
            continue
        placed.append(box)
