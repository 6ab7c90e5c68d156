"""The rendering benchmark reports real figures: the PNG sizes are those of the rendered map, the timings are
finite and positive, and a cache hit is cheaper than a render. (Absolute speed is measured by ``liqmap bench``.)"""

from __future__ import annotations

import math

from bot.benchmarks import render as bench
from bot.render.png import PNG_MAGIC, render_png


def test_bench_sample_map_is_a_synthetic_7d_map() -> None:
    m = bench.sample_liqmap(seed=1, n_times=48, n_bins=300)
    assert m.synthetic and m.window == "7d"
    assert m.heat_long.shape == (48, 300) and m.long_by_lev.shape == (6, 300)
    assert {c.side for c in m.clusters} == {"long", "short"}
    assert render_png(m).startswith(PNG_MAGIC)


def test_bench_render_figures_are_real() -> None:
    figures = bench.bench_render(repeats=1, rss_renders=2, n_times=48, n_bins=300)  # small: keep the test fast
    assert set(figures) == {"render_heatmap_ms", "render_map_ms", "render_heatmap_kb", "render_map_kb",
                            "render_cache_hit_ms", "render_rss_growth_mb"}
    assert all(math.isfinite(v) for v in figures.values()), figures
    # The sizes are those of the benchmarked map's PNGs (rendering is deterministic), in kB.
    m = bench.sample_liqmap(n_times=48, n_bins=300)
    for kind in bench.KINDS:
        assert figures[f"render_{kind}_kb"] == round(len(render_png(m, kind)) / 1000, 2), kind
    assert figures["render_heatmap_ms"] > 0 and figures["render_map_ms"] > 0
    # A hit hashes the map and looks it up: orders of magnitude cheaper than drawing it, on any machine.
    assert 0 <= figures["render_cache_hit_ms"] < figures["render_heatmap_ms"]
