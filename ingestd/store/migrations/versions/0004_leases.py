# ruff: noqa
"""source leases: several workers on one register (issue 9, item 5)

Revision ID: 0004
Revises: 0003
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel
import ingestd.store.types


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('source_leases',
    sa.Column('source_id', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
    sa.Column('holder', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('acquired_at', ingestd.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('renewed_at', ingestd.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', ingestd.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('source_id')
    )
    op.create_index('ix_source_leases_expires_at', 'source_leases', ['expires_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_source_leases_expires_at', table_name='source_leases')
    op.drop_table('source_leases')
