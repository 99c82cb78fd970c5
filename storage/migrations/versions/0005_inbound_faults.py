"""inbound updates set aside, the secretariat's alert log, wrong invite guesses per chat

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29 20:20:00.000000
"""

import sqlalchemy as sa
from alembic import op

from storage.models import UTCDateTime

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'set_aside_inbound',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('channel', sa.String(length=20), nullable=False),
        sa.Column('inbound_id', sa.String(length=80), nullable=False),
        sa.Column('chat_id', sa.String(length=80), nullable=False),
        sa.Column('payload', sa.JSON(none_as_null=True), nullable=False),
        sa.Column('inbound', sa.JSON(none_as_null=True), nullable=False),
        sa.Column('error_type', sa.String(length=120), nullable=False),
        sa.Column('error', sa.Text(), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('set_aside_at', UTCDateTime(), nullable=False),
        sa.Column('last_failed_at', UTCDateTime(), nullable=False),
        sa.UniqueConstraint('channel', 'inbound_id'),
    )
    op.create_table(
        'alert_log',
        sa.Column('kind', sa.String(length=40), primary_key=True),
        sa.Column('notified_at', UTCDateTime(), nullable=False),
    )
    op.create_table(
        'invite_guesses',
        sa.Column('channel', sa.String(length=20), primary_key=True),
        sa.Column('chat_id', sa.String(length=80), primary_key=True),
        sa.Column('misses', sa.Integer(), nullable=False),
        sa.Column('window_started_at', UTCDateTime(), nullable=False),
        sa.Column('refused_until', UTCDateTime(), nullable=True),
    )


def downgrade() -> None:
    op.drop_table('invite_guesses')
    op.drop_table('alert_log')
    op.drop_table('set_aside_inbound')
