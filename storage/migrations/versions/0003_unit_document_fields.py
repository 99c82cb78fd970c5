"""unit: heading and signer of the unit's printed Phụ lục (optional unit-list columns)

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29 19:30:00.000000
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None

COLUMNS = (
    ('superior', 200),
    ('heading_name', 200),
    ('place', 100),
    ('signer_for', 100),
    ('signer_title', 100),
)


def upgrade() -> None:
    with op.batch_alter_table('unit') as batch:
        for name, length in COLUMNS:
            batch.add_column(
                sa.Column(name, sqlmodel.sql.sqltypes.AutoString(length=length), nullable=True)
            )


def downgrade() -> None:
    with op.batch_alter_table('unit') as batch:
        for name, _ in reversed(COLUMNS):
            batch.drop_column(name)
