"""The renderer never touches pyplot: no global figure manager, no leaked figures, no backend switching."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

RENDER_DIR = Path(__file__).resolve().parents[2] / "bot" / "render"


@pytest.mark.parametrize("path", sorted(RENDER_DIR.glob("*.py")), ids=lambda p: p.name)
def test_render_modules_do_not_import_pyplot(path: Path) -> None:
    for node in ast.walk(ast.parse(path.read_text())):
        modules: list[str] = []
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            modules = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        for name in modules:
            assert "pyplot" not in name and name.split(".")[0] != "pylab", f"{path.name} imports {name}"
            if name.startswith("matplotlib.backends.backend_"):
                assert name.split(".")[2] == "backend_agg", f"{path.name} imports {name}: Agg only"


def test_rendering_loads_no_pyplot_and_leaks_no_figures() -> None:
    """In a fresh interpreter, render both kinds several times and check pyplot never got imported."""
    script = (
        "import sys\n"
        "from bot.render import render_png\n"
        "from tests.render.synthetic import make_map\n"
        "m = make_map(n_times=24, n_bins=120)\n"
        "for _ in range(3):\n"
        "    assert render_png(m, 'heatmap')[:4] == b'\\x89PNG'\n"
        "    assert render_png(m, 'map')[:4] == b'\\x89PNG'\n"
        "print('pyplot' if 'matplotlib.pyplot' in sys.modules else 'clean')\n"
    )
    root = RENDER_DIR.parents[1]
    out = subprocess.run([sys.executable, "-c", script], cwd=root, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "clean"


def test_pyplot_figure_count_unchanged_when_pyplot_is_loaded() -> None:
    """Even in a process that uses pyplot elsewhere, rendering registers no figures with it."""
    plt = pytest.importorskip("matplotlib.pyplot")
    from bot.render import render_png
    from tests.render.synthetic import make_map

    before = plt.get_fignums()
    render_png(make_map(n_times=24, n_bins=120), "heatmap")
    render_png(make_map(n_times=24, n_bins=120), "map")
    assert plt.get_fignums() == before
