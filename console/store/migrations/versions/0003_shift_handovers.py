"""shift handovers

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 18:00:44.827507
"""
import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('handovers',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('site', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.String(length=64), nullable=False),
    sa.Column('task_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('notes', sa.Text(), nullable=False),
    sa.Column('snapshot', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['task_id'], ['tasks.id'], name=op.f('fk_handovers_task_id_tasks')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_handovers'))
    )
    with op.batch_alter_table('handovers', schema=None) as batch_op:
        batch_op.create_index('ix_handovers_created', ['created_at'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('handovers', schema=None) as batch_op:
        batch_op.drop_index('ix_handovers_created')

    op.drop_table('handovers')
