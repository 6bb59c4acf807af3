"""How people type: the words that start a verification or say yes, and a code in a sentence.

Holders do not type commands. They paste the SMS's 「驗證碼726473」, answer 好 or có to
"get a code?", and write 「我要驗證手機」 to begin. The words are language, so they live
with each language's catalogue (``core/locale/<lang>/LC_MESSAGES/words.toml``, edited by
the same translators) and are read here once, at import. Every language's words are
accepted whatever language the conversation is in: a holder who chose English may still
answer 好, and no word of one list means something else in another.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass

from core import messages
from core.values import normalise

# Trailing marks people add to a one-word answer: 「好！」, "ok.", "có ạ" is not one.
_TRAILING = " .!?,;:~。！？，、…"
# A run of exactly six digits that is not part of a longer number or a pass/ID number:
# 「驗證碼726473」, "code 123456", "mã: 684384", but not KHPS113-000043's 000043.
_CODE_IN_TEXT = re.compile(r"(?<![0-9A-Za-z\-])[0-9]{6}(?![0-9A-Za-z])")


def key(text: str) -> str:
    """``text`` as the lists are compared: normalised as every value is (NFKC, digits of
    any script in ASCII, invisible marks gone), upper case, trailing punctuation off."""
    return normalise(text).upper().strip().rstrip(_TRAILING).strip()


@dataclass(frozen=True, slots=True)
class Words:
    start: tuple[str, ...]
    yes: frozenset[str]
    no: frozenset[str]

    def starts(self, text: str) -> bool:
        """True if ``text`` contains a start word; a Latin-script word must stand alone
        ("verify", not "verifying"), a Chinese one may sit in a sentence (我要驗證手機)."""
        upper = key(text)
        return any(_contains(upper, word) for word in self.start)


def _contains(text: str, word: str) -> bool:
    if word.isascii():
        return re.search(rf"(?<![A-Z]){re.escape(word)}(?![A-Z])", text) is not None
    return word in text


def _load() -> Words:
    start: list[str] = []
    yes: set[str] = set()
    no: set[str] = set()
    for language in messages.LANGUAGES:
        path = messages.catalogue_path(language).with_name("words.toml")
        with path.open("rb") as file:
            data = tomllib.load(file)
        start += [key(w) for w in data["start"]]
        yes |= {key(w) for w in data["yes"]}
        no |= {key(w) for w in data["no"]}
    return Words(start=tuple(dict.fromkeys(start)), yes=frozenset(yes), no=frozenset(no))


WORDS = _load()


def find_code(text: str) -> str | None:
    """The code in ``text``: the message's only run of exactly six digits, in ASCII, or
    ``None`` if it holds none or several (``123456 654321`` is not guessed between)."""
    found = _CODE_IN_TEXT.findall(normalise(text))
    return found[0] if len(found) == 1 else None
