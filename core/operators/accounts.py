"""Operator accounts: who may use the operator commands, and how a chat gets linked.

:class:`core.model.Operator` is what a use case needs to decide visibility (company,
admin). An :class:`OperatorAccount` is the stored record behind it: the Telegram user it
is bound to, the hash of its one-time link code, and whether it was revoked. Core never
holds a link code itself beyond handing it out once; storage keeps only its keyed hash.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from core.codes import LINK_CODE_ALPHABET, LINK_CODE_LENGTH
from core.model import Operator
from core.values import normalise

_SEPARATORS = re.compile(r"[\s\-‐‑‒–—―−ー_.]+")
_LINK_CODE = re.compile(rf"[{LINK_CODE_ALPHABET}]{{{LINK_CODE_LENGTH}}}")


@dataclass(frozen=True, slots=True)
class OperatorAccount:
    """One 業者申請人 account, as stored.

    ``telegram_user_id`` is ``None`` until a link code is used; ``link_code_hash`` is
    ``None`` once the code is spent (or the account revoked). A revoked account keeps
    its row, so the audit log's ``operator:<id>`` still names someone.
    """

    id: str
    name: str
    company: str
    is_admin: bool
    created_at: datetime
    telegram_user_id: str | None = None
    link_code_hash: str | None = None
    link_code_expires_at: datetime | None = None
    revoked_at: datetime | None = None

    @property
    def operator(self) -> Operator:
        return Operator(id=self.id, name=self.name, company=self.company, is_admin=self.is_admin)

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None

    @property
    def is_linked(self) -> bool:
        return self.telegram_user_id is not None

    def link_code_open(self, now: datetime) -> bool:
        """A code was issued, is not spent and has not expired."""
        return (
            not self.is_revoked
            and self.link_code_hash is not None
            and self.link_code_expires_at is not None
            and now < self.link_code_expires_at
        )


@dataclass(frozen=True, slots=True)
class LinkCode:
    """A freshly issued link code: shown once (by the admin CLI), never stored."""

    operator_id: str
    code: str
    expires_at: datetime

    def __str__(self) -> str:
        return self.code


def normalise_link_code(raw: str) -> str | None:
    """The code as issued, from what someone typed (lower case, full-width, spaces or
    dashes, invisible marks that copy-paste leaves, as :func:`core.values.normalise` drops
    from every typed value); ``None`` when it cannot be a link code at all."""
    text = _SEPARATORS.sub("", normalise(raw).upper())
    return text if _LINK_CODE.fullmatch(text) else None
