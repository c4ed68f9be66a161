"""index for the latest events of a kind at a device

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-26 19:25:34.923635
"""
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.create_index('ix_events_device_kind_id', ['device_id', 'kind', 'id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.drop_index('ix_events_device_kind_id')

