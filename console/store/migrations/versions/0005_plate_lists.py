"""plate lists

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26 19:11:35.350884
"""
import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('plates',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('plate', sa.String(length=16), nullable=False),
    sa.Column('list_name', sa.String(length=8), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('added_by', sa.String(length=64), nullable=False),
    sa.Column('added_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('removed_by', sa.String(length=64), nullable=True),
    sa.Column('removed_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_plates'))
    )
    with op.batch_alter_table('plates', schema=None) as batch_op:
        batch_op.create_index('ix_plates_plate', ['plate', 'list_name'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('plates', schema=None) as batch_op:
        batch_op.drop_index('ix_plates_plate')

    op.drop_table('plates')
