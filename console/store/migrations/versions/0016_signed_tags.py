"""signed tags: each site's signing key, and each tag's issue number (a reprint retires the old label)

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07 12:00:00.000000
"""
import sqlalchemy as sa
from alembic import op

revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('site_keys',
    sa.Column('site', sa.String(length=64), nullable=False),
    sa.Column('secret', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('site', name=op.f('pk_site_keys'))
    )
    op.create_table('tag_issues',
    sa.Column('site', sa.String(length=64), nullable=False),
    sa.Column('tag', sa.String(length=200), nullable=False),
    sa.Column('issue', sa.Integer(), nullable=False),
    sa.Column('issued_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('issued_by', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('site', 'tag', name=op.f('pk_tag_issues'))
    )


def downgrade() -> None:
    op.drop_table('tag_issues')
    op.drop_table('site_keys')
