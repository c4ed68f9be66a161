"""camera snapshots of alarms and parking events

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 10:00:00.000000
"""
import sqlalchemy as sa
from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table('snapshots',
    sa.Column('id', BigId, autoincrement=True, nullable=False),
    sa.Column('alarm_id', BigId, nullable=True),
    sa.Column('event_id', BigId, nullable=True),
    sa.Column('camera_id', sa.String(length=64), nullable=False),
    sa.Column('taken_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('offset', sa.Float(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('content_type', sa.String(length=32), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('image', sa.LargeBinary(), nullable=False),
    sa.ForeignKeyConstraint(['alarm_id'], ['alarms.id'], name=op.f('fk_snapshots_alarm_id_alarms')),
    sa.ForeignKeyConstraint(['event_id'], ['events.id'], name=op.f('fk_snapshots_event_id_events')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_snapshots'))
    )
    with op.batch_alter_table('snapshots', schema=None) as batch_op:
        batch_op.create_index('ix_snapshots_alarm', ['alarm_id'], unique=False)
        batch_op.create_index('ix_snapshots_event', ['event_id'], unique=False)
    with op.batch_alter_table('alarms', schema=None) as batch_op:
        batch_op.add_column(sa.Column('snapshots', sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('alarms', schema=None) as batch_op:
        batch_op.drop_column('snapshots')
    with op.batch_alter_table('snapshots', schema=None) as batch_op:
        batch_op.drop_index('ix_snapshots_event')
        batch_op.drop_index('ix_snapshots_alarm')
    op.drop_table('snapshots')
