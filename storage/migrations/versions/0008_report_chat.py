"""issue #14 part B: download links for Word drafts and single-use upload links (kind, used_at);
the signed reports units send back

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-29 20:30:00.000000
"""

import sqlalchemy as sa
from alembic import op

from storage.models import UTCDateTime


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('download_token') as batch_op:
        batch_op.add_column(
            sa.Column('kind', sa.String(length=20), nullable=False, server_default='export')
        )
        batch_op.add_column(sa.Column('used_at', UTCDateTime(), nullable=True))
    op.create_table(
        'signed_report',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('submission_id', sa.Integer(), sa.ForeignKey('submission.id'), nullable=False),
        sa.Column('file_name', sa.String(length=200), nullable=False),
        sa.Column('content_type', sa.String(length=100), nullable=False),
        sa.Column('size', sa.Integer(), nullable=False),
        sa.Column('sha256', sa.String(length=64), nullable=False),
        sa.Column('path', sa.String(length=300), nullable=False),
        sa.Column('contact_id', sa.Integer(), sa.ForeignKey('contact.id'), nullable=True),
        sa.Column('channel', sa.String(length=20), nullable=False),
        sa.Column('received_at', UTCDateTime(), nullable=False),
        sa.UniqueConstraint('submission_id', 'sha256'),
    )
    op.create_index('ix_signed_report_submission_id', 'signed_report', ['submission_id'])


def downgrade() -> None:
    op.drop_index('ix_signed_report_submission_id', table_name='signed_report')
    op.drop_table('signed_report')
    with op.batch_alter_table('download_token') as batch_op:
        batch_op.drop_column('used_at')
        batch_op.drop_column('kind')
