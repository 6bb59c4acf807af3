"""Wrong codes lock the participant who typed them, not the request.

``verification_requests.participants``: a JSON object, participant key -> wrong codes
it typed for the request (a key with 0 joined it: passed R1 in its own chat while the
code was live). See ``core.verification.participants``.

Requests that wrong codes had spent are made live again, with their wrong codes put
on the participant who asked (the only one who could type them, apart from the phone):
a holder locked out by a stranger's five guesses gets the use of their link and their
own chat back at the upgrade, while the stranger stays locked out. Requests past their
24 hours stay closed all the same, as expired.

Revision ID: 0012_participant_attempts
Revises: 0011_send_rate
Create Date: 2026-12-06
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op

revision = "0012_participant_attempts"
down_revision = "0011_send_rate"
branch_labels = None
depends_on = None

_requests = sa.table(
    "verification_requests",
    sa.column("id", sa.Text()),
    sa.column("state", sa.Text()),
    sa.column("failed_attempts", sa.Integer()),
    sa.column("finished_at", sa.DateTime()),
    sa.column("requester_key", sa.Text()),
    sa.column("participants", sa.Text()),
)


def upgrade() -> None:
    with op.batch_alter_table("verification_requests") as batch:
        batch.add_column(
            sa.Column("participants", sa.Text(), server_default=sa.text("'{}'"), nullable=False)
        )
    bind = op.get_bind()
    spent = bind.execute(
        sa.select(_requests.c.id, _requests.c.failed_attempts, _requests.c.requester_key).where(
            _requests.c.state == "spent"
        )
    )
    for request_id, attempts, requester_key in spent.all():
        participants = {requester_key: attempts} if requester_key else {}
        bind.execute(
            _requests.update()
            .where(_requests.c.id == request_id)
            .values(state="live", finished_at=None, participants=json.dumps(participants))
        )


def downgrade() -> None:
    with op.batch_alter_table("verification_requests") as batch:
        batch.drop_column("participants")
