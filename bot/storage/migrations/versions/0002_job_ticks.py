"""Job ticks: the periodic job's outcome per tick, read by /status and /healthz on every replica.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30 17:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('job_ticks',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('at', sa.BigInteger(), nullable=False),
    sa.Column('next_at', sa.BigInteger(), nullable=False),
    sa.Column('holder', sa.String(length=128), nullable=False),
    sa.Column('ok', sa.Boolean(), nullable=False),
    sa.Column('keys', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_job_ticks'))
    )
    op.create_index('ix_job_ticks_at', 'job_ticks', ['at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_job_ticks_at', table_name='job_ticks')
    op.drop_table('job_ticks')
