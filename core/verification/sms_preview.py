"""The SMS as holders will get them with a given public base URL and configured words.

The default verification SMS takes two UCS-2 segments in Chinese (as the guide's own
does) with a base URL of up to :data:`BASE_URL_TARGET` characters: it carries the words
of the port company's notice, what the link does and 「請勿將驗證碼告訴他人」, which
holders need to tell it from a scam. A company that prefers cost may configure the
one-segment text (README, "SMS texts"). ``portpass check-config`` shows every SMS
rendered, and ``serve`` warns at start-up (:func:`segment_warning`) when a verification
SMS takes more than :data:`MAX_VERIFICATION_SEGMENTS`.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import date

from core import messages
from core.codes import TOKEN_BYTES
from core.values import PassNumber
from core.verification.sms_text import Segments, segments, verification_link
from core.verification.wording import NOTICE_KINDS, SmsWording

SAMPLE_PASS_NO = "KHPS113-000043"  # noqa: S105 - a port pass number, not a password
SAMPLE_CODE = "042917"
#: A token as long as a real one (``secrets.token_urlsafe(TOKEN_BYTES)``), fixed so the
#: output can be compared between runs.
SAMPLE_TOKEN = base64.urlsafe_b64encode(bytes(range(1, TOKEN_BYTES + 1))).decode().rstrip("=")
#: The longest date a notice can name (two-digit month and day).
SAMPLE_DAY = date(2026, 12, 31)
#: With a base URL of at most this many characters the default zh-TW verification SMS
#: takes two UCS-2 segments, like the guide's own.
BASE_URL_TARGET = 26
#: More than this many segments per verification SMS is warned about at start-up.
MAX_VERIFICATION_SEGMENTS = 2
#: The campaign whose cost ``check-config`` prints: every holder of a large port.
CAMPAIGN_HOLDERS = 100_000


@dataclass(frozen=True, slots=True)
class RenderedSms:
    language: str
    kind: str  # verification, reminder, notice_<kind>
    body: str
    segments: Segments


def sample_sms(public_base_url: str, wording: SmsWording | None = None) -> list[RenderedSms]:
    """The verification SMS in each language, as a holder would receive it (signed)."""
    return [s for s in sample_all(public_base_url, wording) if s.kind == "verification"]


def sample_all(
    public_base_url: str, wording: SmsWording | None = None, contact: dict[str, str] | None = None
) -> list[RenderedSms]:
    """Every SMS the bot sends unasked, in each language, rendered with realistic values:
    verification, reminder and each notice (``contact``: the contact line per language)."""
    wording = wording or SmsWording()
    link = verification_link(public_base_url, SAMPLE_TOKEN)
    last4 = PassNumber.parse(SAMPLE_PASS_NO).last4
    rendered = []
    for language in messages.LANGUAGES:
        bodies = {
            "verification": wording.verification(
                language, last4=last4, code=SAMPLE_CODE, link=link
            ),
            "reminder": wording.verification(
                language, last4=last4, code=SAMPLE_CODE, link=link, reminder=True
            ),
        }
        if contact is not None:
            for kind in NOTICE_KINDS:
                bodies[f"notice_{kind}"] = wording.notice(
                    kind, language, last4=last4, day=SAMPLE_DAY, contact=contact[language]
                )
        rendered += [RenderedSms(language, k, b, segments(b)) for k, b in bodies.items()]
    return rendered


def segment_warning(public_base_url: str, wording: SmsWording | None = None) -> str | None:
    """One line for ``serve`` when a verification SMS takes more segments than
    :data:`MAX_VERIFICATION_SEGMENTS`."""
    long = [
        sms
        for sms in sample_all(public_base_url, wording)
        if sms.segments.count > MAX_VERIFICATION_SEGMENTS
    ]
    if not long:
        return None
    which = ", ".join(f"{sms.language} {sms.kind}: {sms.segments.count} segments" for sms in long)
    base = public_base_url.rstrip("/")
    return (
        f"an SMS takes more than {MAX_VERIFICATION_SEGMENTS} segments ({which}): "
        f"server.public_base_url {base!r} has {len(base)} characters; at most "
        f"{BASE_URL_TARGET} keep the default texts in {MAX_VERIFICATION_SEGMENTS} "
        "(see portpass check-config)"
    )
