"""Running the ``liqmap`` command line in process: ``run`` and the autouse ``clean_cli_env`` fixture (import both
into a test module)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.cli import main


@pytest.fixture(autouse=True)
def clean_cli_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No .env or LIQMAP_ variables of the developer's leak into these tests."""
    monkeypatch.chdir(tmp_path)
    for name in ("LIQMAP_SOURCE", "LIQMAP_EXCHANGES", "LIQMAP_TELEGRAM_TOKEN", "LIQMAP_DISCORD_TOKEN"):
        monkeypatch.delenv(name, raising=False)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of ``liqmap ARGV``."""
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err
