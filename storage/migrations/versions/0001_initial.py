"""Initial schema: persons, passes, verification requests, outbox, audit, failures.

Written out by hand rather than from ``storage.tables`` so that this revision keeps
describing the schema as it was, whatever the tables module becomes later.

Revision ID: 0001
Revises:
Create Date: 2025-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# Same storage type as storage.tables.UtcDateTime's impl.
UTC_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "persons",
        sa.Column("id_no", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("phone", sa.Text(), nullable=True),
        sa.Column("updated_at", UTC_TS, nullable=False),
        sa.PrimaryKeyConstraint("id_no", name="pk_persons"),
    )
    op.create_index("ix_persons_phone", "persons", ["phone"])

    op.create_table(
        "passes",
        sa.Column("pass_no", sa.Text(), nullable=False),
        sa.Column("id_no", sa.Text(), nullable=False),
        sa.Column("company", sa.Text(), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_to", sa.Date(), nullable=False),
        sa.Column("verified_phone", sa.Text(), nullable=True),
        sa.Column("verified_at", UTC_TS, nullable=True),
        sa.Column("updated_at", UTC_TS, nullable=False),
        sa.PrimaryKeyConstraint("pass_no", name="pk_passes"),
    )
    op.create_index("ix_passes_id_no", "passes", ["id_no"])
    op.create_index("ix_passes_company", "passes", ["company"])

    op.create_table(
        "verification_requests",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("pass_no", sa.Text(), nullable=False),
        sa.Column("id_no", sa.Text(), nullable=False),
        sa.Column("phone", sa.Text(), nullable=False),
        sa.Column("code_hash", sa.Text(), nullable=False),
        sa.Column("token_hash", sa.Text(), nullable=False),
        sa.Column("created_at", UTC_TS, nullable=False),
        sa.Column("expires_at", UTC_TS, nullable=False),
        sa.Column("origin", sa.Text(), nullable=False),
        sa.Column("channel", sa.Text(), nullable=False),
        sa.Column("language", sa.Text(), nullable=False),
        sa.Column("state", sa.Text(), nullable=False),
        sa.Column("failed_attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column(
            "update_person_phone", sa.Boolean(), server_default=sa.text("false"), nullable=False
        ),
        sa.Column("operator_id", sa.Text(), nullable=True),
        sa.Column("finished_at", UTC_TS, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_verification_requests"),
        sa.UniqueConstraint("token_hash", name="uq_verification_requests_token_hash"),
    )
    op.create_index(
        "ix_verification_requests_pass_no_id_no_phone_created_at",
        "verification_requests",
        ["pass_no", "id_no", "phone", "created_at"],
    )
    op.create_index(
        "ix_verification_requests_phone_created_at",
        "verification_requests",
        ["phone", "created_at"],
    )

    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("to_phone", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("request_id", sa.Text(), nullable=True),
        sa.Column("created_at", UTC_TS, nullable=False),
        sa.Column("state", sa.Text(), server_default=sa.text("'pending'"), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("next_attempt_at", UTC_TS, nullable=False),
        sa.Column("lease_until", UTC_TS, nullable=True),
        sa.Column("claimed_by", sa.Text(), nullable=True),
        sa.Column("provider_sid", sa.Text(), nullable=True),
        sa.Column("provider_status", sa.Text(), nullable=True),
        sa.Column("error_code", sa.Text(), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("updated_at", UTC_TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_outbox"),
    )
    op.create_index("ix_outbox_state_next_attempt_at", "outbox", ["state", "next_attempt_at"])
    op.create_index("ix_outbox_provider_sid", "outbox", ["provider_sid"], unique=True)

    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at", UTC_TS, nullable=False),
        sa.Column("actor", sa.Text(), nullable=False),
        sa.Column("channel", sa.Text(), nullable=False),
        sa.Column("action", sa.Text(), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_audit_log"),
    )

    op.create_table(
        "lookup_failures",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("at", UTC_TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_lookup_failures"),
    )
    op.create_index("ix_lookup_failures_key_at", "lookup_failures", ["key", "at"])


def downgrade() -> None:
    op.drop_table("lookup_failures")
    op.drop_table("audit_log")
    op.drop_table("outbox")
    op.drop_table("verification_requests")
    op.drop_table("passes")
    op.drop_table("persons")
