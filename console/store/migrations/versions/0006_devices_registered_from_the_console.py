"""devices registered from the console

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26 19:15:52.872772
"""
import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('registered_devices',
    sa.Column('site', sa.String(length=64), nullable=False),
    sa.Column('device_id', sa.String(length=128), nullable=False),
    sa.Column('entry', sa.JSON(), nullable=False),
    sa.Column('registered_by', sa.String(length=64), nullable=False),
    sa.Column('registered_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('site', 'device_id', name=op.f('pk_registered_devices'))
    )


def downgrade() -> None:
    op.drop_table('registered_devices')
