"""camera reference frames (a moved camera is told by its scene against the reference)

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-27 00:00:00.000000
"""
import sqlalchemy as sa
from alembic import op

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('camera_references',
    sa.Column('site', sa.String(length=64), nullable=False),
    sa.Column('camera_id', sa.String(length=64), nullable=False),
    sa.Column('taken_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('taken_by', sa.String(length=64), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('image', sa.LargeBinary(), nullable=False),
    sa.PrimaryKeyConstraint('site', 'camera_id', name=op.f('pk_camera_references'))
    )


def downgrade() -> None:
    op.drop_table('camera_references')
