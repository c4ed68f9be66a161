"""hub changes: the numbered changes every console instance of a cluster sends to its WebSocket clients

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-07 18:30:00.000000
"""
import sqlalchemy as sa
from alembic import op

revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('hub_changes',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('origin', sa.String(length=64), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_hub_changes'))
    )
    op.create_index(op.f('ix_hub_changes_at'), 'hub_changes', ['at'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_hub_changes_at'), table_name='hub_changes')
    op.drop_table('hub_changes')
