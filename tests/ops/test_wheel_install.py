"""``pip install liqmap`` is enough: the wheel carries its Alembic migrations (bot/storage/migrations/), so a fresh
virtualenv outside the checkout can run ``liqmap db upgrade`` and ``liqmap map --source sim`` with no other files.

Slow (about 30-40 s, most of it installing the locked dependencies into the new virtualenv): ``make test-slow``.
The dependencies come from wherever pip is configured to find them (index, ``PIP_FIND_LINKS``, its cache).
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from bot.storage import migrate

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


def _run(cmd: list[str], cwd: Path, env: dict[str, str] | None = None, timeout: float = 240) -> str:
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{' '.join(cmd)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def test_wheel_installs_into_a_fresh_venv_and_migrates_outside_the_repo(tmp_path: Path) -> None:
    # The build reads a copy of what the Dockerfile copies, so build/ and *.egg-info never land in the checkout.
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, src / name)
    shutil.copytree(REPO / "bot", src / "bot", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    dist = tmp_path / "dist"
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(dist), str(src)], cwd=tmp_path)
    (wheel,) = dist.glob("liqmap-*.whl")

    venv = tmp_path / "venv"  # no --system-site-packages: only what is installed below
    _run([sys.executable, "-m", "venv", str(venv)], cwd=tmp_path)
    python, liqmap = venv / "bin" / "python", venv / "bin" / "liqmap"
    install = [str(python), "-m", "pip", "install", "-q", "--no-deps", "-r", str(REPO / "requirements.lock")]
    _run([*install, str(wheel)], cwd=tmp_path)
    _run([str(python), "-m", "pip", "check"], cwd=tmp_path)

    # A working directory with nothing in it, no LIQMAP_* settings but the data directory, nothing from this venv.
    work, data = tmp_path / "work", tmp_path / "data"
    work.mkdir()
    drop = {"PYTHONPATH", "PYTHONHOME", "PYTHONSAFEPATH", "VIRTUAL_ENV"}
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIQMAP_") and k not in drop}
    env |= {"LIQMAP_DATA_DIR": str(data), "PATH": f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"}
    env |= {"MPLBACKEND": "Agg"}

    where = _run([str(python), "-c", "import bot; print(bot.__file__)"], cwd=work, env=env).strip()
    assert Path(where).is_relative_to(venv), where  # the installed copy, not the checkout

    _run([str(liqmap), "db", "upgrade"], cwd=work, env=env, timeout=120)
    with sqlite3.connect(data / "liqmap.db") as conn:
        (revision,) = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    assert revision == migrate.head()
    assert _run([str(liqmap), "db", "current"], cwd=work, env=env, timeout=60).split() == [revision]
    _run([str(liqmap), "db", "check"], cwd=work, env=env, timeout=60)  # the packaged models and migrations agree

    out = _run([str(liqmap), "map", "--source", "sim", "--json"], cwd=work, env=env, timeout=120)
    snapshot = json.loads(out)
    assert snapshot["symbol"] and snapshot["bins"]["price"]
    assert sorted(p.name for p in work.iterdir()) == []  # nothing was needed (or written) in the working directory
