"""outbox claims carry the claiming process (a short lease renewed while it lives)

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29 20:20:00.000000
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('outbox') as batch_op:
        batch_op.add_column(
            sa.Column('claimed_by', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table('outbox') as batch_op:
        batch_op.drop_column('claimed_by')
