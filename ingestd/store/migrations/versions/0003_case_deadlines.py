# ruff: noqa
"""case deadlines, steps and outcome (issue: deadlines, reminders, escalation)

Revision ID: 0003
Revises: 0002
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel
import ingestd.store.types


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None

WHEN = ("routed_at", "ack_due", "answer_due", "resolve_due", "visit_due", "acknowledged_at", "answered_at",
        "replied_at", "visited_at", "closed_at")


def upgrade() -> None:
    with op.batch_alter_table('cases') as batch:
        for name in WHEN:
            batch.add_column(sa.Column(name, ingestd.store.types.UTCDateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column('satisfaction', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True))
        batch.add_column(sa.Column('status_reason', sa.Text(), nullable=True))
        batch.add_column(sa.Column('extensions', sa.Integer(), nullable=False, server_default='0'))
        batch.create_index('ix_cases_answer_due', ['answer_due'])
        batch.create_index('ix_cases_resolve_due', ['resolve_due'])


def downgrade() -> None:
    with op.batch_alter_table('cases') as batch:
        batch.drop_index('ix_cases_resolve_due')
        batch.drop_index('ix_cases_answer_due')
        for name in (*WHEN, 'satisfaction', 'status_reason', 'extensions'):
            batch.drop_column(name)
