"""Outbox: priority, expiry, sealed bodies, failure notices; old codes redacted.

- ``priority``: 0 a holder's own request or reply, 1 notices, 2 campaign traffic;
  rows are claimed in priority order, then oldest first.
- ``expires_at``: when the message is no longer worth sending (a verification SMS:
  when its code expires). Transient provider errors are retried until then.
- ``sealed``: the full body, encrypted (AES-GCM under a key derived from the secret
  key); ``body`` keeps only a redacted copy (codes and link tokens as ●●●●●●).
  Cleared once the provider has accepted the message or it has failed.
- ``notify_to`` / ``notified_at``: who to tell (a Telegram chat) when the SMS finally
  fails, and when they were told.

Bodies written before this revision hold codes and link tokens in clear. The upgrade
redacts those of every verification SMS that is no longer waiting to be sent; one that
is still queued is redacted by the worker once the provider has accepted it.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28
"""

from __future__ import annotations

import re

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

UTC_TS = sa.DateTime(timezone=True)

# The same patterns as storage.outbox.queue.redact_legacy (a migration keeps its own copy:
# later code may change, this revision must not).
_CODE = re.compile(r"(?<!\d)\d{6}(?!\d)")
_TOKEN = re.compile(r"(/v/)[A-Za-z0-9_-]+")


def _redact(body: str) -> str:
    body = _TOKEN.sub(lambda m: m.group(1) + "●" * (len(m.group(0)) - 3), body)
    return _CODE.sub("●●●●●●", body)


def upgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(
            sa.Column("priority", sa.Integer(), server_default=sa.text("0"), nullable=False)
        )
        batch.add_column(sa.Column("expires_at", UTC_TS, nullable=True))
        batch.add_column(sa.Column("sealed", sa.LargeBinary(), nullable=True))
        batch.add_column(sa.Column("notify_to", sa.Text(), nullable=True))
        batch.add_column(sa.Column("notified_at", UTC_TS, nullable=True))
    op.create_index(
        "ix_outbox_state_priority_next_attempt_at",
        "outbox",
        ["state", "priority", "next_attempt_at"],
    )
    op.create_index("ix_outbox_state_notify_to", "outbox", ["state", "notify_to"])
    op.create_index("ix_outbox_request_id", "outbox", ["request_id"])

    outbox = sa.table(
        "outbox",
        sa.column("id", sa.Integer()),
        sa.column("kind", sa.Text()),
        sa.column("state", sa.Text()),
        sa.column("body", sa.Text()),
    )
    connection = op.get_bind()
    done = connection.execute(
        sa.select(outbox.c.id, outbox.c.body).where(
            outbox.c.kind == "verification", outbox.c.state.not_in(("pending", "sending"))
        )
    ).all()
    for row_id, body in done:
        redacted = _redact(body)
        if redacted != body:
            connection.execute(sa.update(outbox).where(outbox.c.id == row_id).values(body=redacted))


def downgrade() -> None:
    op.drop_index("ix_outbox_request_id", table_name="outbox")
    op.drop_index("ix_outbox_state_notify_to", table_name="outbox")
    op.drop_index("ix_outbox_state_priority_next_attempt_at", table_name="outbox")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("notified_at")
        batch.drop_column("notify_to")
        batch.drop_column("sealed")
        batch.drop_column("expires_at")
        batch.drop_column("priority")
