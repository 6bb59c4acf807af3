"""Send questions: an operator's pending /send question, kept on the server behind the
random handle its confirm button carries (core.operators.questions), instead of the
operator, pass and phone in the button's callback data, which the client can forge.

Revision ID: 0010_send_questions
Revises: 0009_shared_limits
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

UTC_TS = sa.DateTime(timezone=True)

revision = "0010_send_questions"
down_revision = "0009_shared_limits"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "send_questions",
        sa.Column("handle_hash", sa.Text(), nullable=False),
        sa.Column("operator_id", sa.Text(), nullable=False),
        sa.Column("pass_no", sa.Text(), nullable=False),
        sa.Column("phone", sa.Text(), nullable=False),
        sa.Column("new_number", sa.Boolean(), nullable=False),
        sa.Column("asked_at", UTC_TS, nullable=False),
        sa.PrimaryKeyConstraint("handle_hash", name="pk_send_questions"),
    )
    op.create_index("ix_send_questions_asked_at", "send_questions", ["asked_at"])


def downgrade() -> None:
    op.drop_index("ix_send_questions_asked_at", table_name="send_questions")
    op.drop_table("send_questions")
