"""issue #22: the campaign an officer chose to fill in while several campaigns are open

Revision ID: 0016
Revises: 0012
Create Date: 2026-12-07 05:30:00.000000
"""

import sqlalchemy as sa
from alembic import op


revision = '0016'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('contact') as batch_op:
        batch_op.add_column(sa.Column('campaign_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            'fk_contact_campaign_id_campaign', 'campaign', ['campaign_id'], ['id']
        )


def downgrade() -> None:
    with op.batch_alter_table('contact') as batch_op:
        batch_op.drop_constraint('fk_contact_campaign_id_campaign', type_='foreignkey')
        batch_op.drop_column('campaign_id')
