"""alarm flood windows and shelving

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26 18:52:14.031273
"""
import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('shelves',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('site', sa.String(length=64), nullable=False),
    sa.Column('device_id', sa.String(length=128), nullable=False),
    sa.Column('point', sa.String(length=64), nullable=True),
    sa.Column('kind', sa.String(length=48), nullable=True),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('created_by', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('removed_by', sa.String(length=64), nullable=True),
    sa.Column('removed_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_shelves'))
    )
    with op.batch_alter_table('shelves', schema=None) as batch_op:
        batch_op.create_index('ix_shelves_active', ['site', 'device_id', 'expires_at'], unique=False)

    with op.batch_alter_table('alarms', schema=None) as batch_op:
        batch_op.add_column(sa.Column('window_start', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('window_count', sa.Integer(), nullable=False, server_default='1'))
        batch_op.add_column(sa.Column('shelved_until', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('shelf_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('alarms', schema=None) as batch_op:
        batch_op.drop_column('shelf_id')
        batch_op.drop_column('shelved_until')
        batch_op.drop_column('window_count')
        batch_op.drop_column('window_start')

    with op.batch_alter_table('shelves', schema=None) as batch_op:
        batch_op.drop_index('ix_shelves_active')

    op.drop_table('shelves')
