"""Engine replies as SMS: plain text with numbered choices, wrapped in TwiML.

An SMS has no buttons, so a reply's options become a line saying which number to send
back ("回覆 1 確認，2 取消"); the engine already reads "1" and "2" at the confirmation
step. Telegram's share-contact offer (``ask_contact``) means nothing here: an SMS
sender's number is known from the message itself. No reply is longer than
``MAX_REPLY_SEGMENTS`` (3) segments.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from xml.sax.saxutils import escape

from core import messages
from core.conversation.state import Option, Reply
from core.verification.sms_text import MAX_REPLY_SEGMENTS, cut_to_segments, segments

log = logging.getLogger(__name__)

_CONFIRM_PAIR = ("confirm", "cancel")


def options_hint(options: Sequence[Option], language: str) -> str:
    """How to answer a question with options, by number."""
    if tuple(option.action for option in options) == _CONFIRM_PAIR:
        return messages.text("conv.confirm_hint", language)
    # Any other set of options: number them in order, so nothing offered is dropped.
    return "\n".join(f"{number} {option.label}" for number, option in enumerate(options, 1))


def sms_text(reply: Reply, language: str) -> str:
    """The reply as one SMS of at most :data:`MAX_REPLY_SEGMENTS` segments. The engine
    pages what can be long (STATUS), so a cut here is a bug to fix, and is logged."""
    text = reply.text
    if reply.options:
        text = f"{text}\n{options_hint(reply.options, language)}"
    cut = cut_to_segments(text, MAX_REPLY_SEGMENTS)
    if cut != text:
        log.warning(
            "an SMS reply of %d segments was cut to %d", segments(text).count, MAX_REPLY_SEGMENTS
        )
    return cut


_XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>'
_EMPTY = f"{_XML_DECLARATION}<Response />"


def twiml(texts: Sequence[str]) -> str:
    """One ``<Message>`` per text; an empty ``<Response/>`` tells Twilio to send nothing.

    The same document, character for character, as the ``twilio`` package's
    ``MessagingResponse`` makes (a unit test compares them), written directly: that
    class builds an ElementTree and serialises it, about 3% of a code reply's time
    (``benchmarks/verify_bench.py``)."""
    if not texts:
        return _EMPTY
    body = "".join(
        f"<Message>{escape(text)}</Message>" if text else "<Message />" for text in texts
    )
    return f"{_XML_DECLARATION}<Response>{body}</Response>"


def replies_twiml(replies: Sequence[Reply], language: str) -> str:
    return twiml([sms_text(reply, language) for reply in replies])


def bilingual(key: str) -> str:
    """A catalogue text in Chinese and English, for a sender whose language we cannot
    know (four languages would take more segments than most of them read)."""
    return "\n".join(messages.text(key, language) for language in messages.BILINGUAL)
