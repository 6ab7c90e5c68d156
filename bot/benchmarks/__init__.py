"""``liqmap bench``: each area contributes a group of figures; this module runs the groups and merges them."""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable, Sequence

log = logging.getLogger(__name__)

# group name -> (module, function). Each function takes ``quick: bool`` and returns {key: figure}.
GROUPS: dict[str, tuple[str, str]] = {
    "model": ("bot.benchmarks.model", "bench_model"),
    "render": ("bot.benchmarks.render", "bench_render"),
    "alerts": ("bot.benchmarks.alerts", "bench_alerts"),
    "telegram": ("bot.benchmarks.telegram", "bench_telegram"),
}


def run_benchmarks(only: Sequence[str] | None = None, quick: bool = False) -> dict[str, float]:
    """Run the benchmark groups (all, or those named in ``only``) and merge their figures into one dict."""
    names = list(only) if only else list(GROUPS)
    unknown = [n for n in names if n not in GROUPS]
    if unknown:
        raise ValueError(f"unknown benchmark group(s) {', '.join(unknown)}; choose from {', '.join(GROUPS)}")
    figures: dict[str, float] = {}
    for name in names:
        module_name, func_name = GROUPS[name]
        func: Callable[..., dict[str, float]] = getattr(importlib.import_module(module_name), func_name)
        log.info("benchmark group %s", name)
        figures.update(func(repeats=3) if quick else func())
    return figures
