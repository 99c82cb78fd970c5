"""issue #22: a campaign's state (draft, open, closed, archived); campaigns already stored are open

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 05:20:00.000000
"""

import sqlalchemy as sa
from alembic import op


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('campaign') as batch_op:
        batch_op.add_column(
            sa.Column('state', sa.String(length=20), nullable=False, server_default='open')
        )


def downgrade() -> None:
    with op.batch_alter_table('campaign') as batch_op:
        batch_op.drop_column('state')
