"""The lock files: what `make` and CI install (requirements-dev.lock) pins the same runtime versions as what the
Docker image installs (requirements.lock), and the environment the tests run in is that locked set."""

from __future__ import annotations

import re
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def pins(name: str) -> dict[str, str]:
    """package name (normalised) -> pinned version of one lock file."""
    out = {}
    for line in (REPO / name).read_text(encoding="utf-8").splitlines():
        m = re.match(r"^([A-Za-z0-9_.\-]+)(\[[^\]]*\])?==([^\s;]+)", line)
        if m:
            out[re.sub(r"[-_.]+", "-", m.group(1)).lower()] = m.group(3)
    return out


def test_dev_lock_pins_the_runtime_lock_exactly() -> None:
    runtime, dev = pins("requirements.lock"), pins("requirements-dev.lock")
    assert runtime and set(runtime) <= set(dev)
    assert {k: dev[k] for k in runtime} == runtime


def test_the_test_environment_is_the_locked_one() -> None:
    wrong = {}
    for name, pinned in pins("requirements-dev.lock").items():
        try:
            installed = version(name)
        except PackageNotFoundError:
            continue  # platform-specific extras that this machine does not need
        if installed != pinned:
            wrong[name] = (installed, pinned)
    assert wrong == {}, f"installed vs locked (run `make clean test`, or `make lock` after changing pyproject): {wrong}"
