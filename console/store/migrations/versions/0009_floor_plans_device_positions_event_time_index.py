"""floor plans, device positions, event time index

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-27 09:30:00.000000
"""
import sqlalchemy as sa
from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('floor_plans',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('site', sa.String(length=64), nullable=False),
    sa.Column('building', sa.String(length=64), nullable=False),
    sa.Column('floor', sa.String(length=16), nullable=False),
    sa.Column('name', sa.String(length=128), nullable=False),
    sa.Column('image', sa.LargeBinary(), nullable=False),
    sa.Column('content_type', sa.String(length=32), nullable=False),
    sa.Column('width', sa.Integer(), nullable=False),
    sa.Column('height', sa.Integer(), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('revision', sa.Integer(), nullable=False),
    sa.Column('uploaded_by', sa.String(length=64), nullable=False),
    sa.Column('uploaded_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_floor_plans')),
    sa.UniqueConstraint('site', 'building', 'floor', name='uq_floor_plans_place')
    )
    op.create_table('device_positions',
    sa.Column('floorplan_id', sa.Integer(), nullable=False),
    sa.Column('device_id', sa.String(length=128), nullable=False),
    sa.Column('point', sa.String(length=64), nullable=False),
    sa.Column('x', sa.Float(), nullable=False),
    sa.Column('y', sa.Float(), nullable=False),
    sa.Column('placed_by', sa.String(length=64), nullable=False),
    sa.Column('placed_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['floorplan_id'], ['floor_plans.id'], name=op.f('fk_device_positions_floorplan_id_floor_plans'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('floorplan_id', 'device_id', 'point', name=op.f('pk_device_positions'))
    )
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.create_index('ix_events_received', ['received_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.drop_index('ix_events_received')
    op.drop_table('device_positions')
    op.drop_table('floor_plans')
