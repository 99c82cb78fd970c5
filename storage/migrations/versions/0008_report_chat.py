"""download links for Word draft reports as well as Excel exports (issue #14 part B)

Revision ID: 0008
Revises: 0004
Create Date: 2026-11-29 20:30:00.000000
"""

import sqlalchemy as sa
from alembic import op


revision = '0008'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('download_token') as batch_op:
        batch_op.add_column(
            sa.Column('kind', sa.String(length=20), nullable=False, server_default='export')
        )


def downgrade() -> None:
    with op.batch_alter_table('download_token') as batch_op:
        batch_op.drop_column('kind')
