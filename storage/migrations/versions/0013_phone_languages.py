"""Phone languages: the language each phone last used with the bot (an SMS holder's
language switch, a holder's code request or verification from any channel), so the SMS
it gets unasked (campaigns, reminders, notices, codes an operator sends) are in it.

Revision ID: 0013_phone_languages
Revises: 0012_participant_attempts
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

UTC_TS = sa.DateTime(timezone=True)

revision = "0013_phone_languages"
down_revision = "0012_participant_attempts"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "phone_languages",
        sa.Column("phone", sa.Text(), nullable=False),
        sa.Column("language", sa.Text(), nullable=False),
        sa.Column("used_at", UTC_TS, nullable=False),
        sa.PrimaryKeyConstraint("phone", name="pk_phone_languages"),
    )


def downgrade() -> None:
    op.drop_table("phone_languages")
