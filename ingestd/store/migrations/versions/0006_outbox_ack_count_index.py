# ruff: noqa
"""the per-sender daily count of acknowledgements is answered from one index (to_addr, kind, created_at)

Revision ID: 0006
Revises: 0005
"""
from alembic import op


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_outbox_to_addr_kind_created_at', 'outbox', ['to_addr', 'kind', 'created_at'])
    op.drop_index('ix_outbox_to_addr', table_name='outbox')


def downgrade() -> None:
    op.create_index('ix_outbox_to_addr', 'outbox', ['to_addr'])
    op.drop_index('ix_outbox_to_addr_kind_created_at', table_name='outbox')
