"""organization currency

Revision ID: 0006
Revises: 0001
Create Date: 2026-12-05 00:52:00

The Autotask currency an organization is billed in, so that invoices in a currency other
than the internal one are held back instead of being paid as if they were not.
"""
from alembic import op
import sqlalchemy as sa


revision = '0006'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('organizations') as batch:
        batch.add_column(sa.Column('currency_id', sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('organizations') as batch:
        batch.drop_column('currency_id')
