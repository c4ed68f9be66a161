"""tasks, dispatches, guards, evidence

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 17:50:44.426184
"""
import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None
ACTIVE = "state IN ('assigned', 'accepted', 'en_route', 'on_scene')"


def upgrade() -> None:
    op.create_table('guards',
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('on_shift', sa.Boolean(), nullable=False),
    sa.Column('shift_started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('shift_ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('building', sa.String(length=64), nullable=False),
    sa.Column('floor', sa.String(length=16), nullable=False),
    sa.Column('zone', sa.String(length=64), nullable=False),
    sa.Column('location_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('username', name=op.f('pk_guards'))
    )
    op.create_table('tasks',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('site', sa.String(length=64), nullable=False),
    sa.Column('sop_id', sa.String(length=64), nullable=False),
    sa.Column('alarm_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('alarm_kind', sa.String(length=48), nullable=False),
    sa.Column('device_id', sa.String(length=128), nullable=False),
    sa.Column('point', sa.String(length=64), nullable=False),
    sa.Column('severity_rank', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('drill', sa.Boolean(), nullable=False),
    sa.Column('opened_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('closed_by', sa.String(length=64), nullable=True),
    sa.Column('close_reason', sa.Text(), nullable=True),
    sa.Column('steps', sa.JSON(), nullable=False),
    sa.Column('repeats', sa.Integer(), nullable=False),
    sa.Column('next_due_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('assignee', sa.String(length=64), nullable=True),
    sa.Column('dispatch_state', sa.String(length=16), nullable=True),
    sa.Column('revision', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['alarm_id'], ['alarms.id'], name=op.f('fk_tasks_alarm_id_alarms')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tasks'))
    )
    with op.batch_alter_table('tasks', schema=None) as batch_op:
        batch_op.create_index('ix_tasks_alarm', ['alarm_id'], unique=False)
        batch_op.create_index('ix_tasks_opened', ['opened_at'], unique=False)
        batch_op.create_index('ix_tasks_state_due', ['state', 'next_due_at'], unique=False)

    op.create_table('dispatches',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('task_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('guard', sa.String(length=64), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('assigned_by', sa.String(length=64), nullable=False),
    sa.Column('assigned_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('accept_due_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('accepted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('en_route_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('on_scene_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('arrival_proof', sa.String(length=200), nullable=True),
    sa.Column('reported_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('report', sa.Text(), nullable=True),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['task_id'], ['tasks.id'], name=op.f('fk_dispatches_task_id_tasks')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_dispatches'))
    )
    with op.batch_alter_table('dispatches', schema=None) as batch_op:
        batch_op.create_index('ix_dispatches_guard_state', ['guard', 'state'], unique=False)
        batch_op.create_index('ix_dispatches_task', ['task_id'], unique=False)
        batch_op.create_index('uq_dispatches_guard_active', ['guard'], unique=True,
                              sqlite_where=sa.text(ACTIVE), postgresql_where=sa.text(ACTIVE))

    op.create_table('evidence',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('task_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('step', sa.String(length=48), nullable=True),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('content_type', sa.String(length=64), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('uploaded_by', sa.String(length=64), nullable=False),
    sa.Column('uploaded_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['task_id'], ['tasks.id'], name=op.f('fk_evidence_task_id_tasks')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_evidence')),
    sa.UniqueConstraint('task_id', 'sha256', name='uq_evidence_task_sha256')
    )
    op.create_table('task_log',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('task_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor', sa.String(length=64), nullable=False),
    sa.Column('action', sa.String(length=32), nullable=False),
    sa.Column('step', sa.String(length=48), nullable=True),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.Column('action_key', sa.String(length=80), nullable=True),
    sa.ForeignKeyConstraint(['task_id'], ['tasks.id'], name=op.f('fk_task_log_task_id_tasks')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_task_log')),
    sa.UniqueConstraint('action_key', name=op.f('uq_task_log_action_key'))
    )
    with op.batch_alter_table('task_log', schema=None) as batch_op:
        batch_op.create_index('ix_task_log_task', ['task_id', 'id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('task_log', schema=None) as batch_op:
        batch_op.drop_index('ix_task_log_task')

    op.drop_table('task_log')
    op.drop_table('evidence')
    with op.batch_alter_table('dispatches', schema=None) as batch_op:
        batch_op.drop_index('uq_dispatches_guard_active')
        batch_op.drop_index('ix_dispatches_task')
        batch_op.drop_index('ix_dispatches_guard_state')

    op.drop_table('dispatches')
    with op.batch_alter_table('tasks', schema=None) as batch_op:
        batch_op.drop_index('ix_tasks_state_due')
        batch_op.drop_index('ix_tasks_opened')
        batch_op.drop_index('ix_tasks_alarm')

    op.drop_table('tasks')
    op.drop_table('guards')
