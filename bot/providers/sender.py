"""What a provider answers when the outbox worker hands it one SMS, and the port it sends through.

A sender never raises for what the network or the provider does; it answers with one
of three outcomes, because each needs a different move from the worker:

- :class:`Sent`: the provider took the message; record its id and wait for status
  callbacks.
- :class:`TransientFailure`: try again later (timeouts, connection errors, 5xx, 429),
  no sooner than ``retry_after`` when the provider said so.
- :class:`PermanentFailure`: retrying cannot help (a number Twilio will not text). With
  ``config_error`` set the fault is ours, not the recipient's (rejected credentials):
  the worker should stop and alert rather than fail every queued message.

Phones appear in logs only masked, and bodies (which carry codes) never at INFO.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from core.masking import mask_phone
from core.values import Phone


@dataclass(frozen=True, slots=True)
class Sent:
    provider_sid: str
    status: str  # the provider's first status: "queued", "accepted", ...


@dataclass(frozen=True, slots=True)
class TransientFailure:
    reason: str
    retry_after: float | None = None  # seconds, when the provider asked for a pause


@dataclass(frozen=True, slots=True)
class PermanentFailure:
    code: int | None  # Twilio's error code (21211, 21610, 20003, ...) when there is one
    reason: str
    config_error: bool = False  # our credentials or account, not this recipient


SendResult = Sent | TransientFailure | PermanentFailure


class SmsSender(Protocol):
    """The port the outbox worker sends through; ``to`` is E.164."""

    async def send(self, to: str, body: str) -> SendResult: ...

    async def close(self) -> None: ...


def masked(to: str) -> str:
    """``0912-***-678`` for logs; a malformed number still shows only its tail."""
    try:
        return mask_phone(Phone(to))
    except Exception:  # phonenumbers cannot format it: mask by hand, never echo it
        return "***" + to[-3:]
