"""Campaigns: the verification SMS to every holder, and their targets.

Revision ID: 0007
Revises: 0008
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0008"
branch_labels = None
depends_on = None

UTC_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "campaigns",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("state", sa.Text(), nullable=False),
        sa.Column("selection", sa.Text(), nullable=False),
        sa.Column("window_start", sa.Integer(), nullable=False),
        sa.Column("window_end", sa.Integer(), nullable=False),
        sa.Column("rate", sa.Float(), nullable=False),
        sa.Column("remind_after_seconds", sa.Integer(), nullable=True),
        sa.Column("reminders", sa.Integer(), nullable=False, server_default=sa.text("0")),
        sa.Column("valid_on", sa.Date(), nullable=False),
        sa.Column("created_at", UTC_TS, nullable=False),
        sa.Column("started_at", UTC_TS, nullable=True),
        sa.Column("finished_at", UTC_TS, nullable=True),
        sa.Column("paced_until", UTC_TS, nullable=True),
        sa.Column("updated_at", UTC_TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_campaigns"),
    )
    op.create_table(
        "campaign_targets",
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("pass_no", sa.Text(), nullable=False),
        sa.Column("company", sa.Text(), nullable=False),
        sa.Column("state", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("due_at", UTC_TS, nullable=True),
        sa.Column("request_id", sa.Text(), nullable=True),
        sa.Column("outbox_id", sa.Integer(), nullable=True),
        sa.Column("sends", sa.Integer(), nullable=False, server_default=sa.text("0")),
        sa.Column("first_sent_at", UTC_TS, nullable=True),
        sa.Column("last_sent_at", UTC_TS, nullable=True),
        sa.PrimaryKeyConstraint("campaign_id", "pass_no", name="pk_campaign_targets"),
    )
    op.create_index(
        "ix_campaign_targets_campaign_id_due_at_pass_no",
        "campaign_targets",
        ["campaign_id", "due_at", "pass_no"],
    )


def downgrade() -> None:
    op.drop_index("ix_campaign_targets_campaign_id_due_at_pass_no", table_name="campaign_targets")
    op.drop_table("campaign_targets")
    op.drop_table("campaigns")
