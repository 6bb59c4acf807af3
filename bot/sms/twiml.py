"""Engine replies as SMS: plain text with numbered choices, wrapped in TwiML.

An SMS has no buttons, so a reply's options become a line saying which number to send
back ("回覆 1 確認，2 取消"); the engine already reads "1" and "2" at the confirmation
step. Telegram's share-contact offer (``ask_contact``) means nothing here: an SMS
sender's number is known from the message itself.
"""

from __future__ import annotations

from collections.abc import Sequence

from twilio.twiml.messaging_response import MessagingResponse

from core import messages
from core.conversation import Option, Reply

_CONFIRM_PAIR = ("confirm", "cancel")


def options_hint(options: Sequence[Option], language: str) -> str:
    """How to answer a question with options, by number."""
    if tuple(option.action for option in options) == _CONFIRM_PAIR:
        return messages.text("conv.confirm_hint", language)
    # Any other set of options: number them in order, so nothing offered is dropped.
    return "\n".join(f"{number} {option.label}" for number, option in enumerate(options, 1))


def sms_text(reply: Reply, language: str) -> str:
    if not reply.options:
        return reply.text
    return f"{reply.text}\n{options_hint(reply.options, language)}"


def twiml(texts: Sequence[str]) -> str:
    """One ``<Message>`` per text; an empty ``<Response/>`` tells Twilio to send nothing."""
    response = MessagingResponse()
    for text in texts:
        response.message(text)
    return str(response)


def replies_twiml(replies: Sequence[Reply], language: str) -> str:
    return twiml([sms_text(reply, language) for reply in replies])


def bilingual(key: str) -> str:
    """A catalogue text in both languages, for a sender whose language we cannot know."""
    return "\n".join(messages.text(key, language) for language in messages.LANGUAGES)
