"""Twilio's opt-out, opt-in and help words are Twilio's: the conversation neither reads
them as its own commands nor tells anyone to send them (except START, to opt back in)."""

from __future__ import annotations

import re

import pytest

from core import messages
from core.conversation.engine import COMMAND_WORDS
from core.opt_outs.model import PROVIDER_WORDS, is_opt_in_word, is_opt_out_word, keyword

#: Texts whose job is to say how to opt back in: they name START on purpose.
_OPT_IN_INSTRUCTIONS = frozenset({"request.opted_out"})
_PROVIDER_WORD = re.compile(r"(?<![A-Za-z])(" + "|".join(sorted(PROVIDER_WORDS)) + r")(?![A-Za-z])")


def test_no_conversation_command_is_a_word_twilio_acts_on() -> None:
    assert not COMMAND_WORDS & PROVIDER_WORDS


@pytest.mark.parametrize("key", sorted(messages.keys() - _OPT_IN_INSTRUCTIONS))
def test_no_message_tells_a_holder_to_send_a_word_twilio_acts_on(key: str) -> None:
    for template in messages.templates(key).values():
        assert _PROVIDER_WORD.findall(template) == [], key


@pytest.mark.parametrize(
    ("body", "opt_out", "opt_in"),
    [
        ("STOP", True, False),
        ("stop", True, False),
        (" Stop\n", True, False),
        ("ＳＴＯＰ", True, False),  # full width, as a phone keyboard may type it
        ("Cancel", True, False),
        ("unsubscribe", True, False),
        ("STOP PLEASE", False, False),  # Twilio blocks only on the word alone
        ("STOP.", True, False),  # punctuation is no part of the word
        ("STOP\u200b", True, False),  # nor an invisible mark (zero-width space)
        ("\ufeffstop", True, False),  # nor a byte-order mark
        ("OPT-OUT", True, False),
        ("Yes!", False, True),
        ("1.", False, False),
        ("/cancel", False, False),  # our own command to end a conversation
        ("/stop", False, False),
        ("停止", False, False),
        ("START", False, True),
        ("unstop", False, True),
        ("yes", False, True),
        ("1", False, False),
        ("HELP", False, False),
    ],
)
def test_opt_out_and_opt_in_words_are_matched_as_twilio_matches_them(
    body: str, opt_out: bool, opt_in: bool
) -> None:
    assert (is_opt_out_word(body), is_opt_in_word(body)) == (opt_out, opt_in)


def test_keyword_is_nfkc_upper_case_letters_and_digits_only() -> None:
    assert keyword(" ｏｐｔｏｕｔ\t") == "OPTOUT"
    assert keyword("Opt-Out.\u200b") == "OPTOUT"
