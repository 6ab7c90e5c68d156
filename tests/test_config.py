"""Settings: LIQMAP_ environment variables, CSV lists, secrets kept secret, clear errors."""

from __future__ import annotations

import pytest

from bot.config import load_settings
from bot.errors import LiqmapError


def test_defaults_are_offline_and_sqlite(monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> None:
    monkeypatch.chdir(tmp_path)  # no .env from the developer's checkout
    for name in ("LIQMAP_SOURCE", "LIQMAP_DATABASE_URL", "LIQMAP_EXCHANGES", "LIQMAP_TELEGRAM_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    s = load_settings()
    assert s.source == "sim"
    assert s.exchanges == ["binanceusdm", "bybit", "okx"]
    assert s.resolved_database_url.startswith("sqlite:///")
    assert s.telegram_token is None and s.discord_token is None


def test_environment_and_csv_lists(monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LIQMAP_EXCHANGES", "okx, bybit")
    monkeypatch.setenv("LIQMAP_SOURCE", "ccxt")
    monkeypatch.setenv("LIQMAP_DATABASE_URL", "postgresql+psycopg://127.0.0.1/test")
    monkeypatch.setenv("LIQMAP_TELEGRAM_TOKEN", "123:secret-token")
    monkeypatch.setenv("LIQMAP_TELEGRAM_API_URL", "http://127.0.0.1:9/bot")
    monkeypatch.setenv("LIQMAP_DISCORD_TOKEN", "discord-secret")
    s = load_settings()
    assert s.exchanges == ["okx", "bybit"]
    assert s.source == "ccxt"
    assert s.resolved_database_url == "postgresql+psycopg://127.0.0.1/test"
    assert s.telegram_api_url == "http://127.0.0.1:9/bot"
    assert s.telegram_token is not None and s.telegram_token.get_secret_value() == "123:secret-token"
    assert "secret-token" not in repr(s) and "discord-secret" not in repr(s)


def test_dotenv_file_is_read(monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> None:
    from pathlib import Path

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("LIQMAP_SYMBOLS", raising=False)
    Path("./.env").write_text("LIQMAP_SYMBOLS=BTC/USDT:USDT,BTC/USD:BTC\n", encoding="utf-8")
    assert load_settings().symbols == ["BTC/USDT:USDT", "BTC/USD:BTC"]


def test_overrides_win_over_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIQMAP_SOURCE", "ccxt")
    assert load_settings(source="sim").source == "sim"


def test_invalid_value_is_one_clear_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIQMAP_TICK_SECONDS", "often")
    with pytest.raises(LiqmapError) as info:
        load_settings()
    message = str(info.value)
    assert "LIQMAP_TICK_SECONDS" in message and "\n" not in message
