"""What became of a verification SMS, in words: for operators (``/pass``, ``portpass
status``) and for the Telegram chat that asked for a code that never arrived.

A verification SMS that the provider refused, that it reported ``undelivered`` or
``failed``, or that a provider outage kept from leaving before its code expired, frees
the R2 lock (the holder may ask again at once). Operators see the last such problem
next to the pass, with the provider's error code when there is one (Twilio's 30003:
unreachable handset), so they can tell a wrong number from a switched-off phone.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from core import messages
from core.masking import mask_phone
from core.values import PassNumber, Phone


class DeliveryState(enum.StrEnum):
    UNDELIVERED = "undelivered"  # the provider sent it; the handset never got it
    FAILED = "failed"  # it never left: refused, or given up when its code expired


@dataclass(frozen=True, slots=True)
class DeliveryProblem:
    """The last verification SMS of a pass did not arrive."""

    state: DeliveryState
    error_code: str | None
    at: datetime

    def describe(self, language: str = messages.ZH) -> str:
        """「簡訊未送達 (30003)」 / "SMS undelivered (30003)"."""
        if self.error_code:
            key = f"delivery.{self.state.value}_code"
            return messages.text(key, language, code=self.error_code)
        return messages.text(f"delivery.{self.state.value}", language)


def failure_notice(
    pass_no: PassNumber, phone: Phone, problem: DeliveryProblem, language: str
) -> str:
    """What the chat that asked for the code is told: which pass, which phone
    (masked), what went wrong, and that they may ask again now."""
    return messages.text(
        "delivery.notice",
        language,
        pass_no=pass_no.value,
        phone=mask_phone(phone),
        problem=problem.describe(language),
    )
