"""patrol rounds: checkpoints, routes, schedules, rounds, their points; the event outbox

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07 11:20:37.946904
"""
import sqlalchemy as sa
from alembic import op

revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('event_outbox',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('site', sa.String(length=64), nullable=False),
    sa.Column('device_id', sa.String(length=128), nullable=False),
    sa.Column('source_id', sa.String(length=128), nullable=False),
    sa.Column('draft', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_event_outbox')),
    sa.UniqueConstraint('site', 'device_id', 'source_id', name='uq_event_outbox_source')
    )
    op.create_table('patrol_checkpoints',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('site', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('building', sa.String(length=64), nullable=False),
    sa.Column('floor', sa.String(length=16), nullable=False),
    sa.Column('zone', sa.String(length=64), nullable=False),
    sa.Column('checklist', sa.JSON(), nullable=False),
    sa.Column('photo_required', sa.Boolean(), nullable=False),
    sa.Column('wand_tag', sa.String(length=64), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_patrol_checkpoints'))
    )
    op.create_table('patrol_routes',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('site', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('ordered', sa.Boolean(), nullable=False),
    sa.Column('points', sa.JSON(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_patrol_routes'))
    )
    op.create_table('patrol_schedules',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('site', sa.String(length=64), nullable=False),
    sa.Column('route_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('times', sa.JSON(), nullable=False),
    sa.Column('every_minutes', sa.Integer(), nullable=True),
    sa.Column('from_time', sa.String(length=5), nullable=False),
    sa.Column('until_time', sa.String(length=5), nullable=False),
    sa.Column('start_window_minutes', sa.Integer(), nullable=False),
    sa.Column('limit_minutes', sa.Integer(), nullable=False),
    sa.Column('guard', sa.String(length=64), nullable=True),
    sa.Column('alarm_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('starts_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ends_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_by', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['alarm_id'], ['alarms.id'], name=op.f('fk_patrol_schedules_alarm_id_alarms')),
    sa.ForeignKeyConstraint(['route_id'], ['patrol_routes.id'], name=op.f('fk_patrol_schedules_route_id_patrol_routes')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_patrol_schedules'))
    )
    with op.batch_alter_table('patrol_schedules', schema=None) as batch_op:
        batch_op.create_index('uq_patrol_schedules_alarm_active', ['alarm_id'], unique=True,
                              sqlite_where=sa.text('active = 1 AND alarm_id IS NOT NULL'),
                              postgresql_where=sa.text('active AND alarm_id IS NOT NULL'))
    op.create_table('patrol_rounds',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('site', sa.String(length=64), nullable=False),
    sa.Column('schedule_id', sa.Integer(), nullable=False),
    sa.Column('route_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('ordered', sa.Boolean(), nullable=False),
    sa.Column('guard', sa.String(length=64), nullable=True),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('due_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('start_by', sa.DateTime(timezone=True), nullable=False),
    sa.Column('limit_minutes', sa.Integer(), nullable=False),
    sa.Column('limit_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('alarm_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['route_id'], ['patrol_routes.id'], name=op.f('fk_patrol_rounds_route_id_patrol_routes')),
    sa.ForeignKeyConstraint(['schedule_id'], ['patrol_schedules.id'], name=op.f('fk_patrol_rounds_schedule_id_patrol_schedules')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_patrol_rounds')),
    sa.UniqueConstraint('schedule_id', 'due_at', name='uq_patrol_rounds_schedule_due')
    )
    with op.batch_alter_table('patrol_rounds', schema=None) as batch_op:
        batch_op.create_index('ix_patrol_rounds_guard', ['guard', 'due_at'], unique=False)
        batch_op.create_index('ix_patrol_rounds_state_due', ['state', 'due_at'], unique=False)

    op.create_table('patrol_round_points',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('round_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('checkpoint_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('offset_minutes', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('due_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('scanned_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('device_time', sa.DateTime(timezone=True), nullable=True),
    sa.Column('scanned_by', sa.String(length=64), nullable=True),
    sa.Column('via', sa.String(length=16), nullable=True),
    sa.Column('missed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('checks', sa.JSON(), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('photo', sa.String(length=64), nullable=True),
    sa.ForeignKeyConstraint(['checkpoint_id'], ['patrol_checkpoints.id'], name=op.f('fk_patrol_round_points_checkpoint_id_patrol_checkpoints')),
    sa.ForeignKeyConstraint(['round_id'], ['patrol_rounds.id'], name=op.f('fk_patrol_round_points_round_id_patrol_rounds')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_patrol_round_points')),
    sa.UniqueConstraint('round_id', 'seq', name='uq_patrol_round_points_seq')
    )
    with op.batch_alter_table('patrol_round_points', schema=None) as batch_op:
        batch_op.create_index('ix_patrol_round_points_state_due', ['state', 'due_at'], unique=False)


    with op.batch_alter_table('guards', schema=None) as batch_op:
        batch_op.add_column(sa.Column('last_scan_action', sa.String(length=80), nullable=True))

def downgrade() -> None:
    with op.batch_alter_table('patrol_schedules', schema=None) as batch_op:
        batch_op.drop_index('uq_patrol_schedules_alarm_active')
    with op.batch_alter_table('guards', schema=None) as batch_op:
        batch_op.drop_column('last_scan_action')
    with op.batch_alter_table('patrol_round_points', schema=None) as batch_op:
        batch_op.drop_index('ix_patrol_round_points_state_due')

    op.drop_table('patrol_round_points')
    with op.batch_alter_table('patrol_rounds', schema=None) as batch_op:
        batch_op.drop_index('ix_patrol_rounds_state_due')
        batch_op.drop_index('ix_patrol_rounds_guard')

    op.drop_table('patrol_rounds')
    op.drop_table('patrol_schedules')
    op.drop_table('patrol_routes')
    op.drop_table('patrol_checkpoints')
    op.drop_table('event_outbox')
