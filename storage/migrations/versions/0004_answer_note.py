"""a note on each answer («ghi chú: …») and in its history

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29 19:30:00.000000
"""

import sqlalchemy as sa
from alembic import op


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('answer') as batch_op:
        batch_op.add_column(sa.Column('note', sa.Text(), nullable=True))
    with op.batch_alter_table('answer_history') as batch_op:
        batch_op.add_column(sa.Column('note', sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('answer_history') as batch_op:
        batch_op.drop_column('note')
    with op.batch_alter_table('answer') as batch_op:
        batch_op.drop_column('note')
