"""How many segments a text costs, the verification link, and SMS replies cut to fit.

The words of the verification SMS (R9) are :mod:`core.verification.wording`'s. Operators
see each SMS's segment count in ``portpass check-config`` and a warning at start-up.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

_GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM7_EXTENDED = frozenset("^{}\\[~]|€\f")

#: The most segments one SMS reply may take. Twilio refuses a body over 1,600
#: characters, and every segment is paid for; a longer reply is cut into pages
#: (:func:`pages`) or, as a last guard, cut short (:func:`cut_to_segments`).
MAX_REPLY_SEGMENTS = 2


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


def form_url(public_base_url: str) -> str:
    """The web form's address (``/verify``): where a holder asks for a code by
    themselves when SMS replies cannot reach us."""
    return f"{public_base_url.rstrip('/')}/verify"


def verification_link(public_base_url: str, token: str) -> str:
    return f"{public_base_url.rstrip('/')}/v/{token}"


def pages(lines: Sequence[str], budget: int, footer: Callable[[int, int], str]) -> list[str]:
    """``lines`` as texts of at most ``budget`` segments each, cut between lines. One
    text if all fits; otherwise each page ends with ``footer(page, pages)``, which says
    how to see the rest. Pages are filled as if each footer were the widest one (the
    highest page numbers, last page or not), so a page never overflows once its own
    footer is added."""
    whole = "\n".join(lines)
    if segments(whole).count <= budget:
        return [whole]
    most = len(lines)
    widest = max(footer(most - 1, most), footer(most, most), key=lambda t: segments(t).length)
    chunks: list[list[str]] = [[]]
    for line in lines:
        if chunks[-1] and segments("\n".join([*chunks[-1], line, widest])).count > budget:
            chunks.append([])
        chunks[-1].append(line)
    total = len(chunks)
    return ["\n".join([*chunk, footer(n, total)]) for n, chunk in enumerate(chunks, 1)]


def cut_to_segments(text: str, budget: int, mark: str = "…") -> str:
    """``text`` if it fits ``budget`` segments, else as many whole lines as fit with
    ``mark`` after them (characters, if not even the first line fits)."""
    if segments(text).count <= budget:
        return text
    lines = text.split("\n")
    while len(lines) > 1 and segments("\n".join([*lines[:-1], mark])).count > budget:
        lines.pop()
    if len(lines) > 1:
        return "\n".join([*lines[:-1], mark])
    cut = text
    while cut and segments(cut + mark).count > budget:
        cut = cut[: -max(1, len(cut) // 20)]
    return cut + mark
