"""one open alarm per key

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-26 19:39:55.081712
"""
import sqlalchemy as sa
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('alarms', schema=None) as batch_op:
        batch_op.create_index('uq_alarms_open_key', ['site', 'device_id', 'point', 'kind'], unique=True, sqlite_where=sa.text('closed = 0'), postgresql_where=sa.text('NOT closed'))



def downgrade() -> None:
    with op.batch_alter_table('alarms', schema=None) as batch_op:
        batch_op.drop_index('uq_alarms_open_key', sqlite_where=sa.text('closed = 0'), postgresql_where=sa.text('NOT closed'))

