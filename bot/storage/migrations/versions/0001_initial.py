"""Initial schema: chats, subscriptions, cluster state, alert outbox, market cache, snapshots, leases.

Revision ID: 0001
Revises:
Create Date: 2026-11-24 13:49:15.898298
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = '0001'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('chats',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('platform', sa.String(length=16), nullable=False),
    sa.Column('external_id', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('title', sa.String(length=255), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('blocked_reason', sa.String(length=255), nullable=True),
    sa.Column('deliver_to', sa.String(length=64), nullable=True),
    sa.Column('created_at', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_chats')),
    sa.UniqueConstraint('platform', 'external_id', name=op.f('uq_chats_platform_external_id'))
    )
    op.create_table('cluster_snapshots',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('symbol', sa.String(length=64), nullable=False),
    sa.Column('window', sa.String(length=8), nullable=False),
    sa.Column('at', sa.BigInteger(), nullable=False),
    sa.Column('price', sa.Float(), nullable=False),
    sa.Column('exchanges', sa.String(length=255), nullable=False),
    sa.Column('clusters', sa.Text(), nullable=False),
    sa.Column('synthetic', sa.Boolean(), nullable=False),
    sa.Column('oi_usd', sa.Float(), nullable=True),
    sa.Column('funding_rate', sa.Float(), nullable=True),
    sa.Column('oi_change_pct', sa.Float(), nullable=True),
    sa.Column('total_long_usd', sa.Float(), nullable=False),
    sa.Column('total_short_usd', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cluster_snapshots'))
    )
    op.create_index('ix_cluster_snapshots_symbol_window_at', 'cluster_snapshots', ['symbol', 'window', 'at'], unique=False)

    op.create_table('leases',
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('holder', sa.String(length=128), nullable=False),
    sa.Column('until', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_leases'))
    )
    op.create_table('market_candles',
    sa.Column('exchange', sa.String(length=32), nullable=False),
    sa.Column('symbol', sa.String(length=64), nullable=False),
    sa.Column('timeframe', sa.String(length=8), nullable=False),
    sa.Column('ts', sa.BigInteger(), nullable=False),
    sa.Column('open', sa.Float(), nullable=False),
    sa.Column('high', sa.Float(), nullable=False),
    sa.Column('low', sa.Float(), nullable=False),
    sa.Column('close', sa.Float(), nullable=False),
    sa.Column('volume', sa.Float(), nullable=True),
    sa.Column('taker_buy_volume', sa.Float(), nullable=True),
    sa.PrimaryKeyConstraint('exchange', 'symbol', 'timeframe', 'ts', name=op.f('pk_market_candles'))
    )
    op.create_table('market_funding',
    sa.Column('exchange', sa.String(length=32), nullable=False),
    sa.Column('symbol', sa.String(length=64), nullable=False),
    sa.Column('ts', sa.BigInteger(), nullable=False),
    sa.Column('rate', sa.Float(), nullable=True),
    sa.PrimaryKeyConstraint('exchange', 'symbol', 'ts', name=op.f('pk_market_funding'))
    )
    op.create_table('market_open_interest',
    sa.Column('exchange', sa.String(length=32), nullable=False),
    sa.Column('symbol', sa.String(length=64), nullable=False),
    sa.Column('ts', sa.BigInteger(), nullable=False),
    sa.Column('usd', sa.Float(), nullable=True),
    sa.PrimaryKeyConstraint('exchange', 'symbol', 'ts', name=op.f('pk_market_open_interest'))
    )
    op.create_table('market_series_meta',
    sa.Column('exchange', sa.String(length=32), nullable=False),
    sa.Column('symbol', sa.String(length=64), nullable=False),
    sa.Column('timeframe', sa.String(length=8), nullable=False),
    sa.Column('contract', sa.String(length=16), nullable=False),
    sa.Column('synthetic', sa.Boolean(), nullable=False),
    sa.Column('fetched_at', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('exchange', 'symbol', 'timeframe', name=op.f('pk_market_series_meta'))
    )
    op.create_table('subscriptions',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('chat_id', sa.Integer(), nullable=False),
    sa.Column('symbol', sa.String(length=64), nullable=False),
    sa.Column('window', sa.String(length=8), nullable=False),
    sa.Column('proximity_pct', sa.Float(), nullable=False),
    sa.Column('min_usd', sa.Float(), nullable=False),
    sa.Column('min_share', sa.Float(), nullable=False),
    sa.Column('sides', sa.String(length=8), nullable=False),
    sa.Column('cooldown_s', sa.Integer(), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.BigInteger(), nullable=False),
    sa.Column('updated_at', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['chat_id'], ['chats.id'], name=op.f('fk_subscriptions_chat_id_chats'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_subscriptions'))
    )
    op.create_index(op.f('ix_subscriptions_chat_id'), 'subscriptions', ['chat_id'], unique=False)
    op.create_index('ix_subscriptions_symbol_window', 'subscriptions', ['symbol', 'window'], unique=False)

    op.create_table('alerts',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('subscription_id', sa.Integer(), nullable=True),
    sa.Column('chat_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('cluster_id', sa.String(length=64), nullable=False),
    sa.Column('side', sa.String(length=8), nullable=False),
    sa.Column('low', sa.Float(), nullable=False),
    sa.Column('high', sa.Float(), nullable=False),
    sa.Column('usd', sa.Float(), nullable=False),
    sa.Column('price', sa.Float(), nullable=False),
    sa.Column('distance_pct', sa.Float(), nullable=False),
    sa.Column('score', sa.Integer(), nullable=False),
    sa.Column('reasons', sa.Text(), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('dedupe_key', sa.String(length=200), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', sa.BigInteger(), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('message_id', sa.String(length=64), nullable=True),
    sa.Column('claimed_by', sa.String(length=128), nullable=True),
    sa.Column('claimed_until', sa.BigInteger(), nullable=True),
    sa.Column('created_at', sa.BigInteger(), nullable=False),
    sa.Column('sent_at', sa.BigInteger(), nullable=True),
    sa.ForeignKeyConstraint(['chat_id'], ['chats.id'], name=op.f('fk_alerts_chat_id_chats'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['subscription_id'], ['subscriptions.id'], name=op.f('fk_alerts_subscription_id_subscriptions'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_alerts')),
    sa.UniqueConstraint('dedupe_key', name=op.f('uq_alerts_dedupe_key'))
    )
    op.create_index(op.f('ix_alerts_chat_id'), 'alerts', ['chat_id'], unique=False)
    op.create_index('ix_alerts_state_next_attempt_at', 'alerts', ['state', 'next_attempt_at'], unique=False)
    op.create_index(op.f('ix_alerts_subscription_id'), 'alerts', ['subscription_id'], unique=False)

    op.create_table('sub_cluster_state',
    sa.Column('subscription_id', sa.Integer(), nullable=False),
    sa.Column('cluster_id', sa.String(length=64), nullable=False),
    sa.Column('side', sa.String(length=8), nullable=False),
    sa.Column('armed', sa.Boolean(), nullable=False),
    sa.Column('swept', sa.Boolean(), nullable=False),
    sa.Column('last_alert_at', sa.BigInteger(), nullable=True),
    sa.Column('last_price', sa.Float(), nullable=True),
    sa.Column('alerted_low', sa.Float(), nullable=True),
    sa.Column('alerted_high', sa.Float(), nullable=True),
    sa.Column('alerted_usd', sa.Float(), nullable=True),
    sa.Column('arm_epoch', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['subscription_id'], ['subscriptions.id'], name=op.f('fk_sub_cluster_state_subscription_id_subscriptions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('subscription_id', 'cluster_id', name=op.f('pk_sub_cluster_state'))
    )


def downgrade() -> None:
    op.drop_table('sub_cluster_state')
    op.drop_table('alerts')
    op.drop_table('subscriptions')
    op.drop_table('market_series_meta')
    op.drop_table('market_open_interest')
    op.drop_table('market_funding')
    op.drop_table('market_candles')
    op.drop_table('leases')
    op.drop_table('cluster_snapshots')
    op.drop_table('chats')
