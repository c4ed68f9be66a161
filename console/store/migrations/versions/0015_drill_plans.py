"""drill plans (演练计划): planned, started from the console, their task watched and scored

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07 11:00:00.000000
"""
import sqlalchemy as sa
from alembic import op

revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('drill_plans',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('site', sa.String(length=64), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('planned_for', sa.DateTime(timezone=True), nullable=True),
    sa.Column('device_id', sa.String(length=128), nullable=False),
    sa.Column('point', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=48), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('created_by', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('started_by', sa.String(length=64), nullable=True),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('message_id', sa.String(length=64), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_drill_plans'))
    )
    with op.batch_alter_table('drill_plans', schema=None) as batch_op:
        batch_op.create_index('ix_drill_plans_planned', ['planned_for'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('drill_plans', schema=None) as batch_op:
        batch_op.drop_index('ix_drill_plans_planned')
    op.drop_table('drill_plans')
