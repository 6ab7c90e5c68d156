"""Logs: plain or JSON lines, and no configured secret ever shows, whoever logs it (our code or a library)."""

from __future__ import annotations

import io
import json
import logging
import sys
from collections.abc import Iterator

import pytest

from bot.config import Settings
from bot.errors import LiqmapError
from bot.ops.logging import JsonFormatter, protect_settings, quiet_libraries, redact, setup_logging

TG_TOKEN = "7700112233:AAH-ops-test-telegram-token-xyz"
DISCORD_TOKEN = "MTAxOps.discord-test-token.QWERTY123"
API_KEY = "binance-ops-key-0f9e8d7c"
API_SECRET = "binance-ops-secret-a1b2c3d4"
WEBHOOK_SECRET = "webhook-ops-secret-5566"
DB_PASSWORD = "pg-ops-pa$$word/with:chars"
DB_URL = "postgresql+psycopg://liqmap:pg-ops-pa%24%24word%2Fwith%3Achars@db:5432/liqmap"
SECRETS = (TG_TOKEN, DISCORD_TOKEN, API_KEY, API_SECRET, WEBHOOK_SECRET, DB_PASSWORD, "pg-ops-pa%24%24word")


def secret_settings(log_json: bool) -> Settings:
    return Settings(  # type: ignore[call-arg]
        _env_file=None,
        telegram_token=TG_TOKEN,
        telegram_webhook_secret=WEBHOOK_SECRET,
        discord_token=DISCORD_TOKEN,
        exchange_api_keys={"binanceusdm": API_KEY},
        exchange_api_secrets={"binanceusdm": API_SECRET},
        database_url=DB_URL,
        log_json=log_json,
    )


@pytest.fixture
def restore_root() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for h in list(root.handlers):
        if h not in handlers:
            root.removeHandler(h)
            h.close()
    root.setLevel(level)


def emit_everything() -> None:
    """What our code and libraries might log: tokens in messages and args, URLs, exceptions, stack info."""
    logging.getLogger("bot.chat.telegram").warning("starting with token %s", TG_TOKEN)
    logging.getLogger("httpx").warning(  # library INFO is quiet by default; its warnings are shown (and redacted)
        'HTTP Request: POST %s "HTTP/1.1 200 OK"', f"https://api.telegram.org/bot{TG_TOKEN}/getUpdates"
    )
    logging.getLogger("discord.http").debug("Authorization: Bot " + DISCORD_TOKEN)
    logging.getLogger("ccxt.base.exchange").info("headers {'X-MBX-APIKEY': '%s'} secret=%s", API_KEY, API_SECRET)
    logging.getLogger("telegram.ext").info("webhook secret_token=%s", WEBHOOK_SECRET)
    try:
        raise ConnectionError(f"could not connect to {DB_URL} (password {DB_PASSWORD})")
    except ConnectionError:
        logging.getLogger("sqlalchemy.pool").exception("connection failed")
    logging.getLogger("bot.alerts.job").error("tick failed: %r", RuntimeError(DB_URL), stack_info=True)
    logging.getLogger("bot.app").info("database at %s", "postgresql://other:short@otherhost/x")


@pytest.mark.parametrize("log_json", [False, True], ids=["plain", "json"])
def test_no_secret_reaches_the_log_output(log_json: bool, restore_root: None, caplog: pytest.LogCaptureFixture) -> None:
    stream = io.StringIO()
    setup_logging(secret_settings(log_json), stream=stream)
    logging.getLogger().setLevel(logging.DEBUG)
    quiet_libraries(logging.DEBUG)  # as with LIQMAP_LOG_LEVEL=DEBUG: every library record reaches the handler
    caplog.set_level(logging.DEBUG)
    emit_everything()
    out = stream.getvalue()
    captured = caplog.text + "".join(str(r.exc_text or "") + str(r.stack_info or "") for r in caplog.records)
    assert "HTTP Request: POST https://api.telegram.org/bot<telegram-token>/getUpdates" in out
    for secret in (*SECRETS, "short@"):
        assert secret not in out, f"{secret!r} leaked into the log output"
        assert secret not in captured, f"{secret!r} leaked into another handler's records"
    for mask in (
        "<telegram-token>",
        "<discord-token>",
        "<binanceusdm-api-key>",
        "<binanceusdm-api-secret>",
        "<telegram-webhook-secret>",
        "<db-password>",
        "<password>@otherhost",
    ):
        assert mask in out, mask
    assert "ConnectionError: could not connect to postgresql+psycopg://liqmap:" in out  # the traceback is kept
    assert "Stack (most recent call last)" in out
    if log_json:
        records = [json.loads(line) for line in out.splitlines()]
        assert len(records) == 8
        for rec in records:
            assert {"ts", "level", "logger", "message"} <= set(rec)
        assert records[1]["logger"] == "httpx" and records[1]["level"] == "WARNING"
        assert records[5]["level"] == "ERROR" and "ConnectionError" in records[5]["exc"]
        assert "stack" in records[6]
    else:
        assert out.splitlines()[0].endswith("WARNING bot.chat.telegram: starting with token <telegram-token>")


def test_json_lines_are_valid_json_for_awkward_messages(restore_root: None) -> None:
    stream = io.StringIO()
    setup_logging(Settings(_env_file=None, log_json=True), stream=stream)  # type: ignore[call-arg]
    log = logging.getLogger("bot.test")
    log.warning('quotes " and \\ backslashes, newline\nsecond line, unicode → ✓, %d%%', 5)
    log.warning("args that are not strings: %s %r", {"a": 1}, b"\x00bytes")
    lines = stream.getvalue().splitlines()
    assert len(lines) == 2
    first, second = (json.loads(line) for line in lines)
    assert first["message"] == 'quotes " and \\ backslashes, newline\nsecond line, unicode → ✓, 5%'
    assert first["level"] == "WARNING" and first["logger"] == "bot.test" and first["ts"].endswith("Z")
    assert second["message"] == "args that are not strings: {'a': 1} b'\\x00bytes'"


def test_setup_logging_replaces_its_own_handler_and_honours_the_level(
    restore_root: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("LIQMAP_LOG_LEVEL", raising=False)
    root = logging.getLogger()
    before = len(root.handlers)
    setup_logging(Settings(_env_file=None), default_level="WARNING", stream=io.StringIO())  # type: ignore[call-arg]
    assert root.level == logging.WARNING  # one-shot commands: quiet unless asked
    setup_logging(Settings(_env_file=None, log_level="debug"), stream=io.StringIO())  # type: ignore[call-arg]
    assert root.level == logging.DEBUG and len(root.handlers) == before + 1
    with pytest.raises(LiqmapError, match="LIQMAP_LOG_LEVEL: unknown level 'loud'"):
        setup_logging(Settings(_env_file=None, log_level="loud"), stream=io.StringIO())  # type: ignore[call-arg]


def test_setup_logging_reads_the_environment(
    restore_root: None, monkeypatch: pytest.MonkeyPatch, tmp_path: object
) -> None:
    monkeypatch.chdir(tmp_path)  # type: ignore[arg-type]
    token = "5566778899:AAE-env-only-token"
    monkeypatch.setenv("LIQMAP_TELEGRAM_TOKEN", token)
    monkeypatch.setenv("LIQMAP_LOG_JSON", "true")
    monkeypatch.setenv("LIQMAP_LOG_LEVEL", "INFO")
    stream = io.StringIO()
    setup_logging(stream=stream)
    logging.getLogger("httpx").warning("GET https://api.telegram.org/bot%s/getMe", token)
    [line] = stream.getvalue().splitlines()
    assert json.loads(line)["message"] == "GET https://api.telegram.org/bot<telegram-token>/getMe"


def test_redact_covers_quoted_forms_and_leaves_short_values_alone() -> None:
    protect_settings(Settings(_env_file=None, exchange_api_keys={"okx": "a/b c+d=key"}))  # type: ignore[call-arg]
    assert redact("k=a%2Fb%20c%2Bd%3Dkey") == "k=<okx-api-key>"
    assert redact("k=a%2Fb+c%2Bd%3Dkey") == "k=<okx-api-key>"
    protect_settings(Settings(_env_file=None, exchange_api_keys={"okx": "ab"}))  # type: ignore[call-arg]
    assert redact("abc tab") == "abc tab"  # a 2-character "secret" is not masked everywhere...
    assert redact("sqlite:///data/x.db and https://host/path") == "sqlite:///data/x.db and https://host/path"
    assert redact("postgresql://u:ab@h/db") == "postgresql://u:<password>@h/db"  # ...but URL passwords always are


def test_json_formatter_alone_keeps_exceptions() -> None:
    try:
        raise ValueError("bad")
    except ValueError:
        record = logging.getLogger("x").makeRecord("x", logging.ERROR, __file__, 1, "oops", None, sys.exc_info())
    out = json.loads(JsonFormatter().format(record))
    assert out["message"] == "oops" and "ValueError: bad" in out["exc"]


def test_library_chatter_stays_at_warning_unless_debug(monkeypatch: pytest.MonkeyPatch) -> None:
    """With Telegram on, httpx logs every long poll at INFO: that line must not reach the log at INFO, and must at
    DEBUG."""
    import io
    import logging

    from bot.ops.logging import setup_logging

    for level, shown in (("INFO", False), ("DEBUG", True)):
        monkeypatch.setenv("LIQMAP_LOG_LEVEL", level)
        out = io.StringIO()
        setup_logging(stream=out)
        logging.getLogger("httpx").info('HTTP Request: POST https://api.telegram.org/bot***/getUpdates "200 OK"')
        logging.getLogger("liqmap.app").info("our own line")
        assert ("getUpdates" in out.getvalue()) is shown and "our own line" in out.getvalue()
    monkeypatch.setenv("LIQMAP_LOG_LEVEL", "INFO")
    setup_logging(stream=io.StringIO())
    quiet_libraries(logging.NOTSET)
