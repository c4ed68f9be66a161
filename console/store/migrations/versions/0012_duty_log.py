"""the duty log (值班记录): entries due every two hours, pre-filled, signed by two people

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 08:00:00.000000
"""
import sqlalchemy as sa
from alembic import op

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table('duty_log',
    sa.Column('id', BIG_ID, autoincrement=True, nullable=False),
    sa.Column('site', sa.String(length=64), nullable=False),
    sa.Column('slot_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('sequence', sa.Integer(), nullable=False),
    sa.Column('corrects_id', BIG_ID, nullable=True),
    sa.Column('opened_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('prefill', sa.JSON(), nullable=False),
    sa.Column('observed', sa.JSON(), nullable=False),
    sa.Column('remarks', sa.Text(), nullable=False),
    sa.Column('edited_by', sa.String(length=64), nullable=True),
    sa.Column('first_by', sa.String(length=64), nullable=True),
    sa.Column('first_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('second_by', sa.String(length=64), nullable=True),
    sa.Column('second_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('content_hash', sa.String(length=64), nullable=True),
    sa.Column('finding', sa.String(length=16), nullable=True),
    sa.Column('reviewed_by', sa.String(length=64), nullable=True),
    sa.Column('reviewed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('review_comment', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['corrects_id'], ['duty_log.id'], name=op.f('fk_duty_log_corrects_id_duty_log')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_duty_log')),
    sa.UniqueConstraint('site', 'slot_at', 'sequence', name='uq_duty_log_slot')
    )
    with op.batch_alter_table('duty_log', schema=None) as batch_op:
        batch_op.create_index('ix_duty_log_finding', ['finding', 'reviewed_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('duty_log', schema=None) as batch_op:
        batch_op.drop_index('ix_duty_log_finding')
    op.drop_table('duty_log')
