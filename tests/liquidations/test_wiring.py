"""``LIQMAP_LIQUIDATION_STREAMS``: on by default with live data only; off with the simulator and replays, and when
set false. What ``liqmap run`` builds decides (``build_app``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bot.app import build_app
from bot.config import Settings
from bot.storage import migrate


def settings(tmp_path: Path, **env: Any) -> Settings:
    """Settings with ``env`` and the production defaults for the rest."""
    return Settings(_env_file=None, data_dir=tmp_path, health_port=0, **env)


@pytest.mark.parametrize(("env", "on"), [
    ({"source": "ccxt"}, True),
    ({"source": "ccxt", "liquidation_streams": False}, False),
    ({"source": "sim"}, False),
    ({"source": "sim", "liquidation_streams": True}, False),  # never real prints over a synthetic market
])
async def test_streams_setting(tmp_path: Path, env: dict[str, object], on: bool) -> None:
    s = settings(tmp_path, **env)
    migrate.upgrade(s.resolved_database_url)
    app = build_app(s)
    try:
        assert (app.liquidations is not None) is on
        assert (app.engine.prints_store is not None) is on
    finally:
        await app.close()


def test_the_environment_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIQMAP_SOURCE", "ccxt")
    monkeypatch.setenv("LIQMAP_LIQUIDATION_STREAMS", "false")
    assert not Settings(_env_file=None).listens_to_liquidations  # type: ignore[call-arg]
    monkeypatch.delenv("LIQMAP_LIQUIDATION_STREAMS")
    assert Settings(_env_file=None).listens_to_liquidations  # type: ignore[call-arg]
