"""What became of an inbound message: the outcome label of ``portpass_inbound_messages``.

Most outcomes are the webhook's HTTP answer (403: the signature or secret was wrong,
413: too large, 503: the database could not store the turn...), which the request
middleware (:mod:`bot.metrics.http`) reads. The few a status cannot tell apart (a
retried delivery answered from the inbound log, a sender from outside the allowed
regions answered with empty TwiML, a bug answered with an apology) are noted by the
channel where it knows them, with one call::

    note_inbound("duplicate")

The note is held in a context variable the middleware sets for the inbound routes
only, so a channel module needs neither the request nor the metrics to note it, and a
note made outside such a request (Telegram polling, a test calling a handler) is a
no-op.
"""

from __future__ import annotations

from contextvars import ContextVar, Token
from dataclasses import dataclass

#: ``(method, route as declared)`` of the routes that receive messages -> their channel.
#: The link page's GET only shows a page; its POST is the holder's answer.
INBOUND_ROUTES = {
    ("POST", "/sms/inbound"): "sms",
    ("POST", "/telegram/webhook"): "telegram",
    ("POST", "/v/{token}"): "web",
}

#: A 403 means a different refusal on each channel.
_FORBIDDEN = {"sms": "refused_signature", "telegram": "refused_secret", "web": "refused_origin"}
_BY_STATUS = {
    400: "bad_request",
    404: "not_found",
    410: "expired",
    413: "refused_size",
    429: "rate_limited",
    503: "unavailable",
}


@dataclass(slots=True)
class InboundNote:
    """The outcome a channel noted for the message being handled, if any."""

    outcome: str | None = None


_NOTE: ContextVar[InboundNote | None] = ContextVar("portpass_inbound_note", default=None)


def note_inbound(outcome: str) -> None:
    """Say what became of the inbound message being handled (a name from our code:
    ``duplicate``, ``refused_region``, ``error``...). The last note wins."""
    note = _NOTE.get()
    if note is not None:
        note.outcome = outcome


def begin_note() -> tuple[InboundNote, Token[InboundNote | None]]:
    """Start noting for one request; returns the note and the token to :func:`end_note`."""
    note = InboundNote()
    return note, _NOTE.set(note)


def end_note(token: Token[InboundNote | None]) -> None:
    _NOTE.reset(token)


def outcome(channel: str, status: int, note: InboundNote) -> str:
    """The outcome of an inbound request: the channel's note, else its HTTP status."""
    if note.outcome is not None:
        return note.outcome
    if 200 <= status < 300:
        return "replied"
    if status == 403:
        return _FORBIDDEN.get(channel, "refused")
    if status in _BY_STATUS:
        return _BY_STATUS[status]
    return "error" if status >= 500 else "refused"
