"""Notices: gate events told to verified phones, Telegram messages to send, digests.

Revision ID: 0008
Revises: 0005
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0005"
branch_labels = None
depends_on = None

UTC_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "notices",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("event_id", sa.Text(), nullable=False),
        sa.Column("pass_no", sa.Text(), nullable=False),
        sa.Column("company", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("occurred_at", UTC_TS, nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("received_at", UTC_TS, nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("reach", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("telegram_chats", sa.Integer(), nullable=False, server_default=sa.text("0")),
        sa.Column("outbox_id", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_notices"),
        sa.UniqueConstraint("event_id", name="uq_notices_event_id"),
    )
    op.create_index("ix_notices_received_at", "notices", ["received_at"])
    op.create_index("ix_notices_company_received_at", "notices", ["company", "received_at"])
    op.create_table(
        "notice_messages",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("notice_id", sa.Integer(), nullable=True),
        sa.Column("chat_id", sa.Text(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("state", sa.Text(), nullable=False, server_default=sa.text("'pending'")),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default=sa.text("0")),
        sa.Column("next_attempt_at", UTC_TS, nullable=False),
        sa.Column("lease_until", UTC_TS, nullable=True),
        sa.Column("claimed_by", sa.Text(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", UTC_TS, nullable=False),
        sa.Column("updated_at", UTC_TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_notice_messages"),
    )
    op.create_index(
        "ix_notice_messages_state_next_attempt_at",
        "notice_messages",
        ["state", "next_attempt_at"],
    )
    op.create_table(
        "notice_digests",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("operator_id", sa.Text(), nullable=False),
        sa.Column("since", UTC_TS, nullable=False),
        sa.Column("until", UTC_TS, nullable=False),
        sa.Column("notices", sa.Integer(), nullable=False),
        sa.Column("created_at", UTC_TS, nullable=False),
        sa.PrimaryKeyConstraint("day", "operator_id", name="pk_notice_digests"),
    )


def downgrade() -> None:
    op.drop_table("notice_digests")
    op.drop_index("ix_notice_messages_state_next_attempt_at", table_name="notice_messages")
    op.drop_table("notice_messages")
    op.drop_index("ix_notices_company_received_at", table_name="notices")
    op.drop_index("ix_notices_received_at", table_name="notices")
    op.drop_table("notices")
