"""gb links heard: when each GB/T 26875.3 source was last heard, so one instance of a cluster supervises every link

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-07 19:20:00.000000
"""
import sqlalchemy as sa
from alembic import op

revision = '0022'
down_revision = '0021'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('gb_links_heard',
    sa.Column('site', sa.String(length=64), nullable=False),
    sa.Column('source', sa.String(length=32), nullable=False),
    sa.Column('heard_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('instance', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('site', 'source', name=op.f('pk_gb_links_heard'))
    )


def downgrade() -> None:
    op.drop_table('gb_links_heard')
