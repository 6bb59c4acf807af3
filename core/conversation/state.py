"""What a conversation is made of: its stored state, what comes in, what goes out.

Kept apart from the engine so channels can build inputs and render replies without
knowing the rules, and storage can save the state as JSON without knowing the engine.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any


class Step(enum.StrEnum):
    IDLE = "idle"
    ASK_PASS = "ask_pass"  # noqa: S105 (a step name, not a password)
    ASK_ID = "ask_id"
    ASK_PHONE = "ask_phone"
    CONFIRM = "confirm"
    AWAIT_CODE = "await_code"
    #: Verified; only the web form stops here, so a reload shows the done page again
    #: (a chat says so in its reply and goes back to idle).
    DONE = "done"


@dataclass(frozen=True, slots=True)
class Conversation:
    """The stored state of one chat or one SMS sender; plain values only, so it
    survives a restart and can be picked up by a second process."""

    step: Step = Step.IDLE
    language: str | None = None
    pass_no: str | None = None
    id_no: str | None = None
    phone: str | None = None
    unconfirmed_id: str | None = None  # an ID with a bad check digit, typed once
    request_id: str | None = None
    # Passes this participant proved to hold (pass, ID and phone matched and a code
    # was sent): what /status may show them, whichever way they then verified.
    own_passes: tuple[str, ...] = ()
    updated_at: datetime | None = None

    def restart(self) -> Conversation:
        """Back to idle, keeping what outlives one verification."""
        return Conversation(language=self.language, own_passes=self.own_passes)

    def with_(self, **changes: Any) -> Conversation:
        return replace(self, **changes)

    def to_json(self) -> dict[str, Any]:
        return {
            "step": self.step.value,
            "language": self.language,
            "pass_no": self.pass_no,
            "id_no": self.id_no,
            "phone": self.phone,
            "unconfirmed_id": self.unconfirmed_id,
            "request_id": self.request_id,
            "own_passes": list(self.own_passes),
            "updated_at": self.updated_at.isoformat() if self.updated_at else None,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Conversation:
        updated = data.get("updated_at")
        return cls(
            step=Step(data.get("step", Step.IDLE.value)),
            language=data.get("language"),
            pass_no=data.get("pass_no"),
            id_no=data.get("id_no"),
            phone=data.get("phone"),
            unconfirmed_id=data.get("unconfirmed_id"),
            request_id=data.get("request_id"),
            own_passes=tuple(data.get("own_passes", ())),
            updated_at=datetime.fromisoformat(updated) if updated else None,
        )


# --- inputs: what a channel hands the engine --------------------------------------------


@dataclass(frozen=True, slots=True)
class Text:
    """Anything typed: an SMS body or a Telegram message (commands included)."""

    text: str


@dataclass(frozen=True, slots=True)
class Choice:
    """A button pressed (Telegram's inline keyboard); SMS sends numbers as Text."""

    value: str


@dataclass(frozen=True, slots=True)
class SharedContact:
    """Telegram's share-contact button. ``own`` is whether the contact's user id is the
    sender's: only your own number may be offered as yours."""

    phone: str
    own: bool


Input = Text | Choice | SharedContact


@dataclass(frozen=True, slots=True)
class Participant:
    """Who the engine talks to. ``phone`` is known for SMS (the sender's number) and
    unknown for Telegram, where the holder types or shares it. ``key`` becomes the
    :class:`core.model.Requester` key: the participant that failed lookups and wrong
    codes count against (:mod:`core.verification.participants`)."""

    key: str  # "sms:+886912345678", "telegram:12345"
    channel: str
    actor: str  # masked, for the audit log
    phone: str | None = None
    language_hint: str | None = None
    # SMS: the most segments one reply may take; a longer list (STATUS) comes in pages.
    max_segments: int | None = None


# --- replies: what the engine hands back -------------------------------------------------


@dataclass(frozen=True, slots=True)
class Option:
    """``value`` is ``action`` or ``action:about``: the confirmation's buttons name the
    pass they are about, so a tap on an older question's button is recognised."""

    value: str
    label: str

    @property
    def action(self) -> str:
        return choice_action(self.value)


def choice_action(value: str) -> str:
    return value.partition(":")[0]


@dataclass(frozen=True, slots=True)
class Reply:
    """One message to the participant. Telegram shows ``options`` as buttons; SMS as
    numbered choices. ``ask_contact`` offers Telegram's share-my-number button."""

    text: str
    options: tuple[Option, ...] = field(default=())
    ask_contact: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "options": [[o.value, o.label] for o in self.options],
            "ask_contact": self.ask_contact,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Reply:
        return cls(
            text=data["text"],
            options=tuple(Option(value, label) for value, label in data.get("options", ())),
            ask_contact=bool(data.get("ask_contact", False)),
        )


# --- a turn: everything one message did, for the channel to render ------------------------


@dataclass(frozen=True, slots=True)
class Turn:
    """What one message did, all a channel needs to answer it: the replies, the language
    they are written in (an SMS options hint must match it) and the step before and
    after (Telegram takes its share-my-number keyboard away when the step leaves the
    phone question). A channel renders the turn from this alone and never reads the
    conversation again, so a turn costs one transaction.

    Also what a retried message gets back: it is stored with the MessageSid."""

    replies: tuple[Reply, ...]
    language: str
    step: Step = Step.IDLE
    previous_step: Step = Step.IDLE
    #: A retried delivery answered from the inbound log: nothing happened this time.
    #: Not part of the answer: a repeated turn equals the first.
    repeated: bool = field(default=False, compare=False)

    def to_json(self) -> dict[str, Any]:
        return {
            "replies": [reply.to_json() for reply in self.replies],
            "language": self.language,
            "step": self.step.value,
            "previous_step": self.previous_step.value,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any] | list[Any], default_language: str) -> Turn:
        """A stored turn; a bare list is a reply stored before turns were (its
        language was not kept, so it is the default)."""
        if isinstance(data, list):
            return cls(tuple(Reply.from_json(item) for item in data), default_language)
        return cls(
            replies=tuple(Reply.from_json(item) for item in data.get("replies", ())),
            language=data.get("language") or default_language,
            step=Step(data.get("step", Step.IDLE.value)),
            previous_step=Step(data.get("previous_step", Step.IDLE.value)),
        )
