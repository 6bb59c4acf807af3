"""Verification requests remember who asked and the phone on file when they were made.

``requester_key``: the participant who asked ("telegram:12345", "sms:+886…",
"operator:<id>"), so only they, or an SMS from the phone the code went to, may type the
code. ``phone_on_file``: the person's phone when the code was sent, so
verifying can tell whether the registry changed since.

Existing rows are filled in as well as can be known: an operator's requests get
``operator:<id>``; a request a stored conversation is waiting on gets that
conversation's key; a request to the phone on file (no new number) had that phone on
file; a request to an operator's new number gets the phone on file now (a change before
this upgrade cannot be seen any more). Rows nothing is known about keep NULL: their code
can still be sent back by SMS from the phone or confirmed by the link.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_requests = sa.table(
    "verification_requests",
    sa.column("id", sa.Text()),
    sa.column("id_no", sa.Text()),
    sa.column("phone", sa.Text()),
    sa.column("update_person_phone", sa.Boolean()),
    sa.column("operator_id", sa.Text()),
    sa.column("requester_key", sa.Text()),
    sa.column("phone_on_file", sa.Text()),
)
_persons = sa.table("persons", sa.column("id_no", sa.Text()), sa.column("phone", sa.Text()))
_conversations = sa.table(
    "conversations", sa.column("key", sa.Text()), sa.column("state", sa.Text())
)


def upgrade() -> None:
    with op.batch_alter_table("verification_requests") as batch:
        batch.add_column(sa.Column("requester_key", sa.Text(), nullable=True))
        batch.add_column(sa.Column("phone_on_file", sa.Text(), nullable=True))
    op.execute(
        _requests.update()
        .where(_requests.c.operator_id.is_not(None))
        .values(requester_key=sa.literal("operator:") + _requests.c.operator_id)
    )
    op.execute(
        _requests.update()
        .where(_requests.c.update_person_phone == sa.false())
        .values(phone_on_file=_requests.c.phone)
    )
    on_file_now = (
        sa.select(_persons.c.phone).where(_persons.c.id_no == _requests.c.id_no).scalar_subquery()
    )
    op.execute(
        _requests.update()
        .where(_requests.c.update_person_phone == sa.true())
        .values(phone_on_file=on_file_now)
    )
    _requester_keys_from_conversations()


def _requester_keys_from_conversations() -> None:
    """The state is JSON text; reading it in Python works the same on both backends,
    and only conversations waiting on a request mention one."""
    bind = op.get_bind()
    rows = bind.execute(
        sa.select(_conversations.c.key, _conversations.c.state).where(
            _conversations.c.state.like('%"request_id": "%')
        )
    )
    for key, state in rows.all():
        try:
            request_id = json.loads(state).get("request_id")
        except (ValueError, AttributeError):
            continue
        if isinstance(request_id, str):
            bind.execute(
                _requests.update()
                .where(_requests.c.id == request_id, _requests.c.requester_key.is_(None))
                .values(requester_key=key)
            )


def downgrade() -> None:
    with op.batch_alter_table("verification_requests") as batch:
        batch.drop_column("phone_on_file")
        batch.drop_column("requester_key")
