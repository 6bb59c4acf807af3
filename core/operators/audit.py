"""How operator actions are audited: the actor names (``operator:<id>``, ``cli``, a
Telegram user masked to its last four digits) and the helper that writes one entry.

Shared by the account lifecycle (:mod:`core.operators.lifecycle`) and the read use cases
(:mod:`core.operators.passes`), so both name the same operator the same way in the log.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from core.model import AuditEntry, Channel
from core.ports import UnitOfWork

CLI_ACTOR = "cli"


def operator_actor(operator_id: str) -> str:
    return f"operator:{operator_id}"


def mask_telegram(telegram_user_id: str) -> str:
    """Enough to tell two users apart in the audit log, not to find them."""
    return "telegram:*" + telegram_user_id[-4:]


@dataclass(frozen=True, slots=True)
class AuditActor:
    """Who acts, through which channel, and when: the fixed half of the audit entries
    one use case writes."""

    name: str
    channel: Channel
    at: datetime

    async def audit(self, uow: UnitOfWork, action: str, subject: str, **detail: str) -> None:
        await uow.audit.add(
            AuditEntry(self.at, self.name, self.channel, action, subject, detail=detail)
        )
