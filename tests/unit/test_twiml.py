"""The TwiML answers to inbound SMS are the documents the ``twilio`` package would write:
Twilio reads them, so a message with ``&``, ``<`` or a line break must reach the holder
as typed, and an answer with no message must send nothing."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from twilio.twiml.messaging_response import MessagingResponse

from bot.sms.twiml import twiml

# Any text but lone surrogates, which no SMS (nor UTF-8) can carry.
TEXTS = st.lists(st.text(st.characters(blacklist_categories=["Cs"])), max_size=4)


def by_the_package(texts: list[str]) -> str:
    response = MessagingResponse()
    for text in texts:
        response.message(text)
    return str(response)


@given(TEXTS)
def test_twiml_is_what_the_twilio_package_writes(texts: list[str]) -> None:
    assert twiml(texts) == by_the_package(texts)


def test_markup_in_a_reply_is_text_not_xml() -> None:
    document = twiml(["A&B <b>1</b>\n]]>", "二"])
    assert document == by_the_package(["A&B <b>1</b>\n]]>", "二"])
    assert "<b>" not in document


def test_no_reply_is_an_empty_response() -> None:
    assert twiml([]) == '<?xml version="1.0" encoding="UTF-8"?><Response />'
