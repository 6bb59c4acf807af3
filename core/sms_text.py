"""The verification SMS (R9) and how many segments a text costs.

The guide's own SMS takes two UCS-2 segments; ours carries the same facts (last four
digits of the pass number, the code, the 24-hour validity, the link) in one segment of
70 UCS-2 characters when the public base URL is at most 20 characters. Operators see
the segment count in ``portpass check-config`` and a warning at start-up.
"""

from __future__ import annotations

from dataclasses import dataclass

from core import messages
from core.values import PassNumber

_GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM7_EXTENDED = frozenset("^{}\\[~]|€\f")


@dataclass(frozen=True, slots=True)
class Segments:
    encoding: str  # "GSM-7" or "UCS-2"
    length: int  # in the encoding's units (septets or UTF-16 code units)
    count: int


def segments(body: str) -> Segments:
    """GSM-7 fits 160 (153 per part when split); anything else is UCS-2, 70 (67)."""
    if all(c in _GSM7_BASIC or c in _GSM7_EXTENDED for c in body):
        length = sum(2 if c in _GSM7_EXTENDED else 1 for c in body)
        single, part, encoding = 160, 153, "GSM-7"
    else:
        length = len(body.encode("utf-16-le")) // 2
        single, part, encoding = 70, 67, "UCS-2"
    count = 1 if length <= single else -(-length // part)
    return Segments(encoding, length, count)


def verification_link(public_base_url: str, token: str) -> str:
    return f"{public_base_url.rstrip('/')}/v/{token}"


def verification_sms(pass_no: PassNumber, code: str, link: str, language: str = messages.ZH) -> str:
    return messages.text("sms.verification", language, last4=pass_no.last4, code=code, link=link)


@dataclass(frozen=True, slots=True)
class SenderName:
    """Who is writing, put at the start of every SMS (``sms.sender_name``). A Chinese
    name in an English SMS would turn it from GSM-7 (160 characters) into UCS-2 (70) and
    double its cost, so a GSM-7 body gets the plain ``latin`` name instead."""

    chinese: str = ""
    latin: str = ""

    def sign(self, body: str) -> str:
        if segments(body).encoding == "GSM-7":
            return f"{self.latin} {body}" if self.latin else body
        return f"{self.chinese}{body}"
