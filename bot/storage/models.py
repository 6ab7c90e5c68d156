"""ORM tables (SQLAlchemy 2 typed). Times are BigInteger UTC ms, money Float USD. Alembic makes the schema."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# Deterministic constraint names: needed by SQLite batch migrations and stable across dialects.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base whose metadata Alembic compares against."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Chat(Base):
    """A Telegram or Discord chat that talked to the bot; ``active`` False once it blocked/removed the bot."""

    __tablename__ = "chats"
    __table_args__ = (UniqueConstraint("platform", "external_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    platform: Mapped[str] = mapped_column(String(16))  # 'telegram' | 'discord'
    external_id: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))  # 'private' | 'group' | 'channel'
    title: Mapped[str] = mapped_column(String(255), default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    blocked_reason: Mapped[str | None] = mapped_column(String(255), nullable=True)
    # Where this chat's messages go when that is not the chat itself (a Discord server's alerts channel id).
    deliver_to: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[int] = mapped_column(BigInteger)


class Subscription(Base):
    """One chat's alert rule for one (symbol, window)."""

    __tablename__ = "subscriptions"
    __table_args__ = (Index("ix_subscriptions_symbol_window", "symbol", "window"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    chat_id: Mapped[int] = mapped_column(ForeignKey("chats.id", ondelete="CASCADE"), index=True)
    symbol: Mapped[str] = mapped_column(String(64))
    window: Mapped[str] = mapped_column(String(8))
    proximity_pct: Mapped[float] = mapped_column(Float)
    min_usd: Mapped[float] = mapped_column(Float, default=0.0)
    min_share: Mapped[float] = mapped_column(Float, default=0.0)
    sides: Mapped[str] = mapped_column(String(8), default="both")  # 'long' | 'short' | 'both'
    cooldown_s: Mapped[int] = mapped_column(Integer, default=1800)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[int] = mapped_column(BigInteger)
    # 'zone' (near a dense cluster) | 'position' (near the user's own liquidation price, or a dense cluster between
    # price and it). A position alert's ``sides`` is the position's side ('long' | 'short').
    kind: Mapped[str] = mapped_column(String(16), default="zone", server_default="zone")
    entry_price: Mapped[float | None] = mapped_column(Float, nullable=True)  # USD, position alerts only
    leverage: Mapped[float | None] = mapped_column(Float, nullable=True)  # position alerts only
    size_usd: Mapped[float | None] = mapped_column(Float, nullable=True)  # notional USD, position alerts only
    exchange: Mapped[str | None] = mapped_column(String(32), nullable=True)  # whose formula and tiers
    liq_price: Mapped[float | None] = mapped_column(Float, nullable=True)  # USD, as computed at creation


class SubClusterState(Base):
    """Hysteresis and sweep memory of one (subscription, cluster) pair."""

    __tablename__ = "sub_cluster_state"

    subscription_id: Mapped[int] = mapped_column(ForeignKey("subscriptions.id", ondelete="CASCADE"), primary_key=True)
    cluster_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    side: Mapped[str] = mapped_column(String(8))
    armed: Mapped[bool] = mapped_column(Boolean, default=True)
    swept: Mapped[bool] = mapped_column(Boolean, default=False)
    last_alert_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    last_price: Mapped[float | None] = mapped_column(Float, nullable=True)
    alerted_low: Mapped[float | None] = mapped_column(Float, nullable=True)
    alerted_high: Mapped[float | None] = mapped_column(Float, nullable=True)
    alerted_usd: Mapped[float | None] = mapped_column(Float, nullable=True)
    arm_epoch: Mapped[int] = mapped_column(Integer, default=0)


class Alert(Base):
    """The outbox: one message to deliver, with its delivery state ('queued'|'sending'|'sent'|'failed')."""

    __tablename__ = "alerts"
    __table_args__ = (Index("ix_alerts_state_next_attempt_at", "state", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    subscription_id: Mapped[int | None] = mapped_column(
        ForeignKey("subscriptions.id", ondelete="SET NULL"), nullable=True, index=True
    )
    chat_id: Mapped[int] = mapped_column(ForeignKey("chats.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # 'approach' | 'sweep'
    cluster_id: Mapped[str] = mapped_column(String(64))
    side: Mapped[str] = mapped_column(String(8))
    low: Mapped[float] = mapped_column(Float)
    high: Mapped[float] = mapped_column(Float)
    usd: Mapped[float] = mapped_column(Float)
    price: Mapped[float] = mapped_column(Float)
    distance_pct: Mapped[float] = mapped_column(Float)
    score: Mapped[int] = mapped_column(Integer)
    reasons: Mapped[str] = mapped_column(Text, default="")
    text: Mapped[str] = mapped_column(Text)
    dedupe_key: Mapped[str] = mapped_column(String(200), unique=True)
    state: Mapped[str] = mapped_column(String(16), default="queued")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[int] = mapped_column(BigInteger)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    message_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    claimed_by: Mapped[str | None] = mapped_column(String(128), nullable=True)
    claimed_until: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    created_at: Mapped[int] = mapped_column(BigInteger)
    sent_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


class MarketCandle(Base):
    """Cached OHLCV candle (open time ``ts``); volumes BTC, NULL when unknown."""

    __tablename__ = "market_candles"

    exchange: Mapped[str] = mapped_column(String(32), primary_key=True)
    symbol: Mapped[str] = mapped_column(String(64), primary_key=True)
    timeframe: Mapped[str] = mapped_column(String(8), primary_key=True)
    ts: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    open: Mapped[float] = mapped_column(Float)
    high: Mapped[float] = mapped_column(Float)
    low: Mapped[float] = mapped_column(Float)
    close: Mapped[float] = mapped_column(Float)
    volume: Mapped[float | None] = mapped_column(Float, nullable=True)
    taker_buy_volume: Mapped[float | None] = mapped_column(Float, nullable=True)


class MarketOpenInterest(Base):
    """Cached open-interest sample, USD."""

    __tablename__ = "market_open_interest"

    exchange: Mapped[str] = mapped_column(String(32), primary_key=True)
    symbol: Mapped[str] = mapped_column(String(64), primary_key=True)
    ts: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    usd: Mapped[float | None] = mapped_column(Float, nullable=True)


class MarketFunding(Base):
    """Cached funding settlement, rate as a fraction."""

    __tablename__ = "market_funding"

    exchange: Mapped[str] = mapped_column(String(32), primary_key=True)
    symbol: Mapped[str] = mapped_column(String(64), primary_key=True)
    ts: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    rate: Mapped[float | None] = mapped_column(Float, nullable=True)


class MarketSeriesMeta(Base):
    """Per (exchange, symbol, timeframe) facts of a cached series that are not per row."""

    __tablename__ = "market_series_meta"

    exchange: Mapped[str] = mapped_column(String(32), primary_key=True)
    symbol: Mapped[str] = mapped_column(String(64), primary_key=True)
    timeframe: Mapped[str] = mapped_column(String(8), primary_key=True)
    contract: Mapped[str] = mapped_column(String(16), default="linear")
    synthetic: Mapped[bool] = mapped_column(Boolean, default=False)
    fetched_at: Mapped[int] = mapped_column(BigInteger, default=0)


class ClusterSnapshot(Base):
    """The clusters of one computed map, kept so alert history stays explainable. ``clusters`` is JSON text."""

    __tablename__ = "cluster_snapshots"
    __table_args__ = (Index("ix_cluster_snapshots_symbol_window_at", "symbol", "window", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    symbol: Mapped[str] = mapped_column(String(64))
    window: Mapped[str] = mapped_column(String(8))
    at: Mapped[int] = mapped_column(BigInteger)
    price: Mapped[float] = mapped_column(Float)
    exchanges: Mapped[str] = mapped_column(String(255))  # comma separated
    clusters: Mapped[str] = mapped_column(Text)  # JSON list of Cluster.to_json()
    synthetic: Mapped[bool] = mapped_column(Boolean, default=False)
    oi_usd: Mapped[float | None] = mapped_column(Float, nullable=True)
    funding_rate: Mapped[float | None] = mapped_column(Float, nullable=True)
    oi_change_pct: Mapped[float | None] = mapped_column(Float, nullable=True)
    total_long_usd: Mapped[float] = mapped_column(Float, default=0.0)
    total_short_usd: Mapped[float] = mapped_column(Float, default=0.0)


class JobTick(Base):
    """One run of the periodic job by the replica that held the lease: ``ok`` False when no exchange delivered
    data; ``keys`` is JSON (one object per (symbol, window)). ``/status`` and ``/healthz`` on every replica read it."""

    __tablename__ = "job_ticks"
    __table_args__ = (Index("ix_job_ticks_at", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[int] = mapped_column(BigInteger)
    next_at: Mapped[int] = mapped_column(BigInteger)
    holder: Mapped[str] = mapped_column(String(128))
    ok: Mapped[bool] = mapped_column(Boolean)
    keys: Mapped[str] = mapped_column(Text)


class LiquidationEvent(Base):
    """One real liquidation print from an exchange's stream: ``side`` is the side of the liquidated position
    ('long' | 'short'), ``amount`` in the base coin, ``usd`` its notional. ``lower_bound`` marks feeds that are
    throttled (Binance ``forceOrder``: one per symbol per second), whose totals are lower bounds. The unique key
    drops the repeats a reconnect may deliver."""

    __tablename__ = "liquidation_events"
    __table_args__ = (
        UniqueConstraint("exchange", "symbol", "ts", "side", "price", "amount"),
        Index("ix_liquidation_events_symbol_ts", "symbol", "ts"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    exchange: Mapped[str] = mapped_column(String(32))
    symbol: Mapped[str] = mapped_column(String(64))
    ts: Mapped[int] = mapped_column(BigInteger)
    side: Mapped[str] = mapped_column(String(8))
    price: Mapped[float] = mapped_column(Float)
    amount: Mapped[float] = mapped_column(Float)
    usd: Mapped[float] = mapped_column(Float)
    lower_bound: Mapped[bool] = mapped_column(Boolean, default=False)


class SelfScore(Base):
    """The bot's daily score of its own maps against the liquidations it recorded (the traded-range score): when
    it was computed, over which (symbol, window), how many hours of recorded liquidations it covers, and the
    figures (null when too few observations)."""

    __tablename__ = "self_scores"
    __table_args__ = (Index("ix_self_scores_at", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[int] = mapped_column(BigInteger)
    symbol: Mapped[str] = mapped_column(String(64))
    window: Mapped[str] = mapped_column(String(8))
    hours: Mapped[float] = mapped_column(Float)
    n: Mapped[int] = mapped_column(Integer)
    range_spearman_map: Mapped[float | None] = mapped_column(Float, nullable=True)
    range_spearman_reach: Mapped[float | None] = mapped_column(Float, nullable=True)
    range_partial: Mapped[float | None] = mapped_column(Float, nullable=True)


class Lease(Base):
    """A named, expiring lock row (e.g. 'recompute': one replica per tick)."""

    __tablename__ = "leases"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(128))
    until: Mapped[int] = mapped_column(BigInteger)


def table_of(entity: type[Base]) -> Table:
    """The Core ``Table`` of an ORM class (typed), for bulk statements that skip the ORM."""
    table = entity.__table__
    assert isinstance(table, Table)
    return table
