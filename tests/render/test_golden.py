"""Golden-image comparison (``matplotlib.testing.compare``) of both chart kinds and the empty-map image.

Baselines live in tests/render/baseline/; regenerate them after an intended visual change with
``LIQMAP_REGEN_BASELINES=1 .venv/bin/pytest tests/render/test_golden.py`` and look at them before committing.
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable
from pathlib import Path

import matplotlib.style
import numpy as np
import numpy.typing as npt
import pytest
from matplotlib.testing.compare import calculate_rms, compare_images
from PIL import Image

from bot.model.types import LiqMap
from bot.render import render_png
from bot.render.png import Kind
from tests.render.synthetic import empty_map, make_map

BASELINE_DIR = Path(__file__).parent / "baseline"
TOLERANCE = 3.0  # RMS on 0..255 pixel values: anti-aliasing noise passes, a moved label or colour change fails
REGEN = os.environ.get("LIQMAP_REGEN_BASELINES") == "1"

CASES: dict[str, tuple[Callable[[], LiqMap], Kind, str]] = {
    "heatmap": (make_map, "heatmap", "default"),
    "heatmap_viridis": (make_map, "heatmap", "viridis"),
    "map": (make_map, "map", "default"),
    "empty_heatmap": (empty_map, "heatmap", "default"),
}


def _write_baseline(path: Path, png: bytes, tmp_path: Path) -> None:
    """Store ``png`` re-compressed at the highest zlib level (same pixels, smaller file in the repo)."""
    raw = tmp_path / "raw.png"
    raw.write_bytes(png)
    with Image.open(raw) as img:
        img.save(path, optimize=True)


@pytest.mark.parametrize("name", list(CASES))
def test_matches_baseline(name: str, tmp_path: Path) -> None:
    build, kind, palette = CASES[name]
    with matplotlib.style.context("default"):  # immune to rcParams changed by other tests or a matplotlibrc
        png = render_png(build(), kind, palette=palette)
    baseline = BASELINE_DIR / f"{name}.png"
    if REGEN:
        BASELINE_DIR.mkdir(exist_ok=True)
        _write_baseline(baseline, png, tmp_path)
    assert baseline.is_file(), f"missing baseline {baseline}; create it with LIQMAP_REGEN_BASELINES=1"
    actual = tmp_path / f"{name}.png"
    actual.write_bytes(png)
    failure = compare_images(str(baseline), str(actual), tol=TOLERANCE)
    assert failure is None, f"{name} differs from its baseline (diff image in {tmp_path}): {failure}"


def _pixels(png: bytes) -> npt.NDArray[np.int16]:
    with Image.open(io.BytesIO(png)) as img:
        return np.asarray(img.convert("RGB"), dtype=np.int16)


def test_comparison_is_sensitive_to_a_real_change() -> None:
    """The tolerance is tight enough that a palette change or different data fails the comparison."""
    baseline = {name: _pixels((BASELINE_DIR / f"{name}.png").read_bytes()) for name in ("heatmap", "map")}
    assert calculate_rms(baseline["heatmap"], _pixels(render_png(make_map(), "heatmap", palette="viridis"))) > 10
    other = make_map(seed=4)  # another random walk: same layout and text positions, different data
    assert calculate_rms(baseline["map"], _pixels(render_png(other, "map"))) > 2 * TOLERANCE
    assert calculate_rms(baseline["heatmap"], _pixels(render_png(other, "heatmap"))) > 2 * TOLERANCE
