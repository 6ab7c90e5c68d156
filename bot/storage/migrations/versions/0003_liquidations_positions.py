"""Real liquidation events from the exchanges' streams, the bot's daily self-score, and position alerts
(subscriptions of kind 'position' with the user's entry, leverage, size and exchange).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30 20:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('liquidation_events',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('exchange', sa.String(length=32), nullable=False),
    sa.Column('symbol', sa.String(length=64), nullable=False),
    sa.Column('ts', sa.BigInteger(), nullable=False),
    sa.Column('side', sa.String(length=8), nullable=False),
    sa.Column('price', sa.Float(), nullable=False),
    sa.Column('amount', sa.Float(), nullable=False),
    sa.Column('usd', sa.Float(), nullable=False),
    sa.Column('lower_bound', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_liquidation_events')),
    sa.UniqueConstraint('exchange', 'symbol', 'ts', 'side', 'price', 'amount',
                        name=op.f('uq_liquidation_events_exchange_symbol_ts_side_price_amount'))
    )
    op.create_index('ix_liquidation_events_symbol_ts', 'liquidation_events', ['symbol', 'ts'], unique=False)
    op.create_table('self_scores',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('at', sa.BigInteger(), nullable=False),
    sa.Column('symbol', sa.String(length=64), nullable=False),
    sa.Column('window', sa.String(length=8), nullable=False),
    sa.Column('hours', sa.Float(), nullable=False),
    sa.Column('n', sa.Integer(), nullable=False),
    sa.Column('range_spearman_map', sa.Float(), nullable=True),
    sa.Column('range_spearman_reach', sa.Float(), nullable=True),
    sa.Column('range_partial', sa.Float(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_self_scores'))
    )
    op.create_index('ix_self_scores_at', 'self_scores', ['at'], unique=False)
    with op.batch_alter_table('subscriptions') as batch:
        batch.add_column(sa.Column('kind', sa.String(length=16), server_default='zone', nullable=False))
        batch.add_column(sa.Column('entry_price', sa.Float(), nullable=True))
        batch.add_column(sa.Column('leverage', sa.Float(), nullable=True))
        batch.add_column(sa.Column('size_usd', sa.Float(), nullable=True))
        batch.add_column(sa.Column('exchange', sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('subscriptions') as batch:
        for column in ('exchange', 'size_usd', 'leverage', 'entry_price', 'kind'):
            batch.drop_column(column)
    op.drop_index('ix_self_scores_at', table_name='self_scores')
    op.drop_table('self_scores')
    op.drop_index('ix_liquidation_events_symbol_ts', table_name='liquidation_events')
    op.drop_table('liquidation_events')
