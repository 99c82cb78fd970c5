"""unit: ký hiệu (symbol) of the unit's documents, as in "Số …-BC/HU" (optional unit-list column)

Revision ID: 0012
Revises: 0010
Create Date: 2026-12-07 05:30:00.000000
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision = '0012'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('unit') as batch:
        batch.add_column(
            sa.Column('symbol', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table('unit') as batch:
        batch.drop_column('symbol')
