"""SMS opt-outs: a phone that said STOP gets no SMS from us until it says START.

Twilio handles these words itself on a long code: after STOP (or STOPALL, UNSUBSCRIBE,
CANCEL, END, QUIT, REVOKE, OPTOUT) it refuses every message to that phone (error 21610)
and still forwards the word to our webhook; START, UNSTOP or YES lift the block. We keep
our own record of it, so that nothing is queued for a phone that would only be refused,
a code request to it is refused with a message saying how to opt back in, operators see
who opted out, and campaigns can leave those phones out.

An opt-out is recorded from the word (``source`` keyword) or from the provider refusing
a message with its opt-out error (``source`` provider, e.g. after a STOP sent while our
webhook was down).
"""

from __future__ import annotations

import enum
import unicodedata
from dataclasses import dataclass
from datetime import datetime

from core.values import Phone

#: Twilio's default opt-out, opt-in and help words on long codes and toll-free numbers.
OPT_OUT_WORDS = frozenset(
    {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"}
)
OPT_IN_WORDS = frozenset({"START", "UNSTOP", "YES"})
HELP_WORDS = frozenset({"HELP", "INFO"})
#: Words the provider acts on by itself: the conversation must never ask for one of them.
PROVIDER_WORDS = OPT_OUT_WORDS | OPT_IN_WORDS | HELP_WORDS
#: The provider's error for a message to a recipient who opted out (Twilio's 21610).
PROVIDER_OPT_OUT_ERRORS = frozenset({"21610"})


class OptOutSource(enum.StrEnum):
    KEYWORD = "keyword"  # the holder texted an opt-out word
    PROVIDER = "provider"  # the provider refused a message: the recipient opted out


@dataclass(frozen=True, slots=True)
class OptOut:
    """``reason``: the word as matched (``STOP``) or the provider's error code
    (``21610``); never anything personal."""

    phone: Phone
    opted_out_at: datetime
    source: OptOutSource
    reason: str


def keyword(text: str) -> str:
    """An SMS body as the provider and the carriers read an opt-out: NFKC (so
    full-width ＳＴＯＰ counts), upper case, without invisible format characters (a
    zero-width space or a BOM a phone keyboard added), and, for a body that starts
    with a letter or digit, only its letters and digits: ``STOP.``, ``Stop!`` and
    ``OPT-OUT`` are the word. The whole body must still be the word: ``STOP PLEASE``
    is ``STOPPLEASE``, no word of theirs. A body led by anything else is left as it
    is: ``/cancel`` is our own command to end a conversation, not an opt-out.

    Why so lenient: a holder who typed ``STOP.`` meant it, and a carrier may well have
    honoured it; an opt-out we miss is an SMS sent against a person's wish (or refused
    with error 21610), while one we record too many is lifted by texting START, which
    the answer to a code request says."""
    normal = unicodedata.normalize("NFKC", text).upper()
    normal = "".join(c for c in normal if unicodedata.category(c) != "Cf").strip()
    if not normal[:1].isalnum():
        return normal
    return "".join(c for c in normal if unicodedata.category(c)[0] in _KEPT_CATEGORIES)


#: Unicode categories a keyword keeps: letters and digits. Punctuation, symbols and
#: spaces are dropped.
_KEPT_CATEGORIES = frozenset("LN")


def is_opt_out_word(text: str) -> bool:
    return keyword(text) in OPT_OUT_WORDS


def is_opt_in_word(text: str) -> bool:
    return keyword(text) in OPT_IN_WORDS
