"""Shared limits: the link page's per-address counter, kept in the database so that
every ``serve`` process counts the same hits (several processes: docs/operations.md#processes).

Revision ID: 0009_shared_limits
Revises: 0007
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_shared_limits"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "client_hits",
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("slot", sa.BigInteger(), nullable=False),
        sa.Column("hits", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("key", "slot", name="pk_client_hits"),
    )
    op.create_index("ix_client_hits_slot", "client_hits", ["slot"])


def downgrade() -> None:
    op.drop_index("ix_client_hits_slot", table_name="client_hits")
    op.drop_table("client_hits")
