"""The SMS send rate shared by every ``serve`` process on PostgreSQL: one row per rate
(``storage/outbox/send_rate.py``), so separate instances and ``--workers`` together
stay within the provider account's ``sms.max_per_second``.

Revision ID: 0011_send_rate
Revises: 0010_send_questions
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011_send_rate"
down_revision = "0010_send_questions"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "send_rates",
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("next_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_send_rates"),
    )


def downgrade() -> None:
    op.drop_table("send_rates")
