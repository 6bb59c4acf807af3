"""Who gets an answer by SMS: only a mobile number of ``phone.allowed_regions``.

SMS pumping: a fraudster has our number texted from premium-rate, foreign or landline
numbers (or spoofs them) so that our replies earn them termination fees. A reply to
such a sender is money out of our account and no use to anyone, since only a Taiwanese
mobile can be verified. So any other sender gets an empty TwiML response (no SMS at
all) and nothing is stored; each one is counted in a log line that names the
MessageSid, the sender masked (country code and last two digits) and why, with a
running count, so a pumping wave shows in the logs without putting numbers in them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from aiohttp import web

from core.errors import InvalidInput, PhoneRegionNotAllowed
from core.masking import mask_sender

log = logging.getLogger(__name__)


@dataclass
class DroppedSenders:
    """Senders answered with nothing since this process started."""

    count: int = 0

    def drop(self, sid: str, sender: str, why: InvalidInput) -> None:
        self.count += 1
        reason = (
            "outside phone.allowed_regions"
            if isinstance(why, PhoneRegionNotAllowed)
            else ("not a mobile number")
        )
        log.info(
            "inbound SMS %s from %s dropped without a reply: %s (%d dropped since start)",
            sid,
            mask_sender(sender),
            reason,
            self.count,
        )


DROPPED_SENDERS = web.AppKey("sms_dropped_senders", DroppedSenders)
