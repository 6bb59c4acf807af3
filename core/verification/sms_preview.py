"""The verification SMS as holders will get it with a given public base URL.

R9 asks for one segment: a second one doubles what a campaign to every holder costs, and
the guide's own text takes two. ``portpass check-config`` shows the rendered SMS, and
``serve`` warns at start-up (:func:`segment_warning`) when the base URL is too long.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

from core import messages
from core.codes import TOKEN_BYTES
from core.values import PassNumber
from core.verification.sms_text import (
    Segments,
    SenderName,
    segments,
    verification_link,
    verification_sms,
)

SAMPLE_PASS_NO = "KHPS113-000043"  # noqa: S105 - a port pass number, not a password
SAMPLE_CODE = "042917"
#: A token as long as a real one (``secrets.token_urlsafe(TOKEN_BYTES)``), fixed so the
#: output can be compared between runs.
SAMPLE_TOKEN = base64.urlsafe_b64encode(bytes(range(1, TOKEN_BYTES + 1))).decode().rstrip("=")
#: R9: at most this many characters of base URL keep the zh-TW SMS in one UCS-2 segment.
BASE_URL_TARGET = 20


@dataclass(frozen=True, slots=True)
class RenderedSms:
    language: str
    body: str
    segments: Segments


def sample_sms(public_base_url: str, sender_name: SenderName | None = None) -> list[RenderedSms]:
    """The verification SMS in each language, as a holder would receive it (the sender
    name first, as the outbox sends it)."""
    link = verification_link(public_base_url, SAMPLE_TOKEN)
    pass_no = PassNumber.parse(SAMPLE_PASS_NO)
    rendered = []
    for language in messages.LANGUAGES:
        body = (sender_name or SenderName()).sign(
            verification_sms(pass_no, SAMPLE_CODE, link, language)
        )
        rendered.append(RenderedSms(language, body, segments(body)))
    return rendered


def segment_warning(public_base_url: str, sender_name: SenderName | None = None) -> str | None:
    """One line for ``serve`` when a verification SMS takes more than one segment."""
    long = [sms for sms in sample_sms(public_base_url, sender_name) if sms.segments.count > 1]
    if not long:
        return None
    which = ", ".join(f"{sms.language}: {sms.segments.count} segments" for sms in long)
    base = public_base_url.rstrip("/")
    return (
        f"the verification SMS takes more than one segment ({which}): "
        f"server.public_base_url {base!r} has {len(base)} characters; at most "
        f"{BASE_URL_TARGET} keep it in one segment (see portpass check-config)"
    )
