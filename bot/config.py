"""Settings read from the environment or ``.env`` (prefix ``LIQMAP_``); one object, passed down explicitly."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict, SettingsError

from bot.errors import LiqmapError

DEFAULT_EXCHANGES: tuple[str, ...] = ("binanceusdm", "bybit", "okx")


def _split_csv(value: object) -> object:
    """Accept ``"a,b"`` as well as a JSON list for list-valued settings."""
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


class Settings(BaseSettings):
    """Every setting liqmap reads. Names map to ``LIQMAP_<NAME>`` environment variables."""

    # An empty value (``LIQMAP_TELEGRAM_TOKEN=`` as in many .env templates) means "unset": the default applies.
    model_config = SettingsConfigDict(
        env_prefix="LIQMAP_", env_file=".env", env_file_encoding="utf-8", extra="ignore", env_ignore_empty=True
    )

    data_dir: Path = Field(Path("data"), description="Directory for the SQLite file and caches.")
    database_url: str = Field(
        "", description="SQLAlchemy URL. Empty means SQLite at <data_dir>/liqmap.db."
    )
    source: str = Field(
        "sim", description="Market data source: 'ccxt' (live), 'sim' (synthetic, offline) or 'replay:DIR'."
    )
    exchanges: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: list(DEFAULT_EXCHANGES),
        description="ccxt exchange ids to aggregate (comma separated).",
    )
    symbols: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["BTC/USDT:USDT"], description="Symbols the periodic job tracks."
    )
    default_window: str = Field("24h", description="Window used when a command names none.")
    tick_seconds: float = Field(
        60.0, gt=0, le=86_400, allow_inf_nan=False, description="Interval of the periodic job, seconds."
    )
    sim_seed: int = Field(7, description="Seed of the synthetic market.")
    retention_days: int = Field(
        30, ge=1, description="Days of alert history and cluster snapshots kept (market data: 45 days, ticks: 2)."
    )

    exchange_api_keys: dict[str, SecretStr] = Field(
        default_factory=dict, description="Optional per-exchange API keys (JSON: {exchange: key}) for live tiers."
    )
    exchange_options: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="Extra ccxt options per exchange (JSON: {exchange: {option: value}}), e.g. other API URLs "
        "for a proxy or regional endpoint.",
    )
    exchange_api_secrets: dict[str, SecretStr] = Field(
        default_factory=dict, description="Optional per-exchange API secrets (JSON: {exchange: secret})."
    )
    liquidation_streams: bool | None = Field(
        None,
        description="Listen to the exchanges' liquidation websockets (bybit, binanceusdm, okx) and store every "
        "event: true or false, and only ever with LIQMAP_SOURCE=ccxt (unset: on there).",
    )

    telegram_token: SecretStr | None = Field(None, description="Telegram bot token from @BotFather.")
    telegram_api_url: str = Field(
        "https://api.telegram.org/bot", description="Bot API base URL (for a self-hosted telegram-bot-api)."
    )
    telegram_mode: Literal["polling", "webhook"] = Field("polling", description="How updates arrive.")
    telegram_webhook_url: str = Field("", description="Public URL for webhook mode.")
    telegram_webhook_secret: SecretStr | None = Field(None, description="Secret token for webhook mode.")

    discord_token: SecretStr | None = Field(None, description="Discord application bot token.")
    discord_dev_guild: int | None = Field(None, gt=0, description="Guild id for guild-scoped command sync.")

    health_host: str = Field("127.0.0.1", description="Health/metrics server bind address.")
    health_port: int = Field(8787, ge=0, le=65_535, description="Health/metrics server port (0 disables).")
    log_json: bool = Field(False, description="Structured JSON logs.")
    log_level: str = Field("INFO", description="Log level.")

    @field_validator("exchanges", "symbols", mode="before")
    @classmethod
    def _csv(cls, value: object) -> object:
        return _split_csv(value)

    @property
    def resolved_database_url(self) -> str:
        """The database URL, defaulting to a SQLite file under ``data_dir``."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'liqmap.db').as_posix()}"

    @property
    def listens_to_liquidations(self) -> bool:
        """Whether ``liqmap run`` listens to the liquidation streams (``liquidation_streams``, default: live only)."""
        if self.liquidation_streams is not None:
            return self.liquidation_streams and self.source.lower() == "ccxt"
        return self.source.lower() == "ccxt"

    @property
    def is_synthetic(self) -> bool:
        """True when the market source is the synthetic simulator."""
        return self.source == "sim"


_JSON_HINTS = {
    "exchange_api_keys": 'a JSON object such as {"binanceusdm": "KEY"}',
    "exchange_api_secrets": 'a JSON object such as {"binanceusdm": "SECRET"}',
    "exchange_options": 'a JSON object such as {"okx": {"hostname": "okx.com"}}',
}
_FIELD_IN_SETTINGS_ERROR = re.compile(r'field "([A-Za-z0-9_]+)"')


def env_var(field: str) -> str:
    """``LIQMAP_<FIELD>``: the environment variable of one ``Settings`` field."""
    return f"LIQMAP_{field.upper()}"


def _validation_problems(exc: ValidationError) -> str:
    """One ``LIQMAP_<VAR>: why`` per error; the value itself is never shown (it may be a secret)."""
    problems = []
    for err in exc.errors():
        loc = [str(p) for p in err["loc"]]
        where = env_var(loc[0]) if loc else "settings"
        detail = f" (key {'.'.join(loc[1:])!r})" if len(loc) > 1 else ""
        problems.append(f"{where}{detail}: {' '.join(str(err['msg']).split())}")
    return "; ".join(problems)


def load_settings(**overrides: object) -> Settings:
    """Build settings from the environment and ``.env``, with explicit overrides winning (used by the CLI).

    Empty values count as unset. An invalid value raises ``LiqmapError`` naming the ``LIQMAP_`` variable, on one
    line, never a multi-line dump and never the value itself.
    """
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        raise LiqmapError(f"invalid setting: {_validation_problems(exc)}") from None
    except SettingsError as exc:  # a value pydantic-settings could not decode before validation (JSON fields)
        m = _FIELD_IN_SETTINGS_ERROR.search(str(exc))
        field = m.group(1) if m else ""
        want = _JSON_HINTS.get(field, "valid JSON")
        where = env_var(field) if field else "a LIQMAP_ variable"
        raise LiqmapError(f"invalid setting: {where}: not {want}") from None
    except UnicodeDecodeError:
        raise LiqmapError("invalid setting: the .env file is not UTF-8 text") from None
