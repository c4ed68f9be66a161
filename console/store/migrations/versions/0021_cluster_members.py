"""cluster members: each instance and its MQTT session, so another can take the session up while it is down

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-07 19:00:00.000000
"""
import sqlalchemy as sa
from alembic import op

revision = '0021'
down_revision = '0020'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('cluster_members',
    sa.Column('instance', sa.String(length=64), nullable=False),
    sa.Column('client_id', sa.String(length=128), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('instance', name=op.f('pk_cluster_members'))
    )


def downgrade() -> None:
    op.drop_table('cluster_members')
