"""display pairings: a wall signs in by a code an admin approves, never by a token in its URL

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07 15:00:00.000000
"""
import sqlalchemy as sa
from alembic import op

revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('display_pairings',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('secret_hash', sa.String(length=64), nullable=False),
    sa.Column('code', sa.String(length=16), nullable=False),
    sa.Column('client', sa.String(length=64), nullable=False),
    sa.Column('requested_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('approved_by', sa.String(length=64), nullable=False),
    sa.Column('approved_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_display_pairings_user_id_users'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_display_pairings')),
    sa.UniqueConstraint('secret_hash', name=op.f('uq_display_pairings_secret_hash'))
    )
    op.create_index(op.f('ix_display_pairings_code'), 'display_pairings', ['code'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_display_pairings_code'), table_name='display_pairings')
    op.drop_table('display_pairings')
