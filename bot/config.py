"""Settings read from the environment or ``.env`` (prefix ``LIQMAP_``); one object, passed down explicitly."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from bot.errors import LiqmapError

DEFAULT_EXCHANGES: tuple[str, ...] = ("binanceusdm", "bybit", "okx")


def _split_csv(value: object) -> object:
    """Accept ``"a,b"`` as well as a JSON list for list-valued settings."""
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


class Settings(BaseSettings):
    """Every setting liqmap reads. Names map to ``LIQMAP_<NAME>`` environment variables."""

    model_config = SettingsConfigDict(
        env_prefix="LIQMAP_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
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
    tick_seconds: float = Field(60.0, description="Interval of the periodic job, seconds.")
    sim_seed: int = Field(7, description="Seed of the synthetic market.")

    exchange_api_keys: dict[str, SecretStr] = Field(
        default_factory=dict, description="Optional per-exchange API keys (JSON: {exchange: key}) for live tiers."
    )
    exchange_api_secrets: dict[str, SecretStr] = Field(
        default_factory=dict, description="Optional per-exchange API secrets (JSON: {exchange: secret})."
    )

    telegram_token: SecretStr | None = Field(None, description="Telegram bot token from @BotFather.")
    telegram_api_url: str = Field(
        "https://api.telegram.org/bot", description="Bot API base URL (for a self-hosted telegram-bot-api)."
    )
    telegram_mode: Literal["polling", "webhook"] = Field("polling", description="How updates arrive.")
    telegram_webhook_url: str = Field("", description="Public URL for webhook mode.")
    telegram_webhook_secret: SecretStr | None = Field(None, description="Secret token for webhook mode.")

    discord_token: SecretStr | None = Field(None, description="Discord application bot token.")
    discord_dev_guild: int | None = Field(None, description="Guild id for guild-scoped command sync.")

    health_host: str = Field("127.0.0.1", description="Health/metrics server bind address.")
    health_port: int = Field(8787, description="Health/metrics server port (0 disables).")
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
    def is_synthetic(self) -> bool:
        """True when the market source is the synthetic simulator."""
        return self.source == "sim"


def load_settings(**overrides: object) -> Settings:
    """Build settings from the environment, with explicit overrides winning (used by the CLI).

    An invalid value raises ``LiqmapError`` naming the ``LIQMAP_`` variable, never a multi-line dump.
    """
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = "; ".join(
            f"LIQMAP_{'_'.join(str(p) for p in err['loc']).upper()}: {err['msg']}" for err in exc.errors()
        )
        raise LiqmapError(f"invalid setting: {problems}") from None
