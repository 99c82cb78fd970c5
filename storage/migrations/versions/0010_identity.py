"""issue #19: removed members stay removed (contact.removed_at); invite codes kept only as their
SHA-256 (existing plain codes are hashed here, so they keep working)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 05:15:00.000000
"""

import hashlib

import sqlalchemy as sa
from alembic import op

import storage.models


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def _hash(code: str) -> str:
    # The same normalisation as storage.repository.invite_code_hash (frozen here on purpose).
    cleaned = "".join(ch for ch in code.strip().upper() if ch.isalnum())
    return hashlib.sha256(cleaned.encode()).hexdigest()


def upgrade() -> None:
    with op.batch_alter_table('contact') as batch_op:
        batch_op.add_column(
            sa.Column('removed_at', storage.models.UTCDateTime(timezone=True), nullable=True)
        )
    with op.batch_alter_table('invite') as batch_op:
        batch_op.drop_index('ix_invite_code')
        batch_op.alter_column(
            'code',
            new_column_name='code_hash',
            existing_type=sa.String(length=64),
            existing_nullable=False,
        )
    connection = op.get_bind()
    invite = sa.table('invite', sa.column('id', sa.Integer), sa.column('code_hash', sa.String))
    rows = connection.execute(sa.select(invite.c.id, invite.c.code_hash)).all()
    for row_id, code in rows:
        connection.execute(
            invite.update().where(invite.c.id == row_id).values(code_hash=_hash(code))
        )
    with op.batch_alter_table('invite') as batch_op:
        batch_op.create_index('ix_invite_code_hash', ['code_hash'], unique=True)


def downgrade() -> None:
    # The plain codes cannot come back: every unused invite is made unusable.
    with op.batch_alter_table('invite') as batch_op:
        batch_op.drop_index('ix_invite_code_hash')
        batch_op.alter_column(
            'code_hash',
            new_column_name='code',
            existing_type=sa.String(length=64),
            existing_nullable=False,
        )
    with op.batch_alter_table('invite') as batch_op:
        batch_op.create_index('ix_invite_code', ['code'], unique=True)
    with op.batch_alter_table('contact') as batch_op:
        batch_op.drop_column('removed_at')
