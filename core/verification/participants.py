"""Who may type a request's code, and how many wrong codes each of them may type.

A *participant* is one place codes are typed from, as its channel vouches for it
(:attr:`core.model.Requester.key`): one Telegram chat, one SMS sender, one web session,
one operator. A request's code may be typed by

- the participant who asked for it (``requester_key``);
- whoever texts from the phone it was sent to: the SMS itself proves the phone;
- a participant who *joined* it: passed R1 (pass, ID and phone on file all match) in
  its own chat while the code was live. R2 sends no second code to the combination
  within 24 hours, so the holder, asking in their own chat after a stranger asked in
  another, types the code the stranger's request sent to the holder's phone.

Wrong codes count against the participant who typed them, never against the request.
Someone who knows a holder's pass, ID and phone and types wrong codes locks only their
own chat out of that code; the holder's own chat, an SMS reply from the phone, the link
(which proves the phone) and an operator's re-issue still work (docs/security.md,
"A stranger cannot lock a holder out").

Guessing stays bounded all the same: each participant has ``max_code_attempts`` wrong
codes per request, and at most ``max_joined`` participants may hold a place on one
request (the asker and the phone never need one to type, only to count their own wrong
codes), so a code takes at most ``(max_joined + 2) * max_code_attempts`` guesses: 30 of
a million with the defaults. When the places are taken, joining is refused, and the
holder still has the link and the operator.
"""

from __future__ import annotations

from core.model import Requester, VerificationRequest


def may_enter_code(request: VerificationRequest, requester: Requester) -> bool:
    """Whether ``requester`` may type ``request``'s code: the participant who asked for
    it, one that joined it, or whoever texts from the phone it was sent to. Anyone
    else could otherwise type guesses for a code they never proved anything for. The
    link needs no such check: holding it is holding the SMS."""
    if request.requester_key is not None and request.requester_key == requester.key:
        return True
    if requester.key in request.participants:
        return True
    return requester.phone is not None and requester.phone == request.phone


def wrong_codes(request: VerificationRequest, requester: Requester) -> int:
    """The wrong codes ``requester`` has typed for ``request``."""
    return request.participants.get(requester.key, 0)


def is_locked_out(request: VerificationRequest, requester: Requester, limit: int) -> bool:
    """Whether ``requester`` typed ``limit`` wrong codes for ``request``: they may not
    type its code any more, not even the right one (or the limit would mean nothing)."""
    return wrong_codes(request, requester) >= limit


def after_wrong_code(request: VerificationRequest, requester: Requester) -> dict[str, int]:
    """``request``'s participants once ``requester`` has typed one more wrong code."""
    return {**request.participants, requester.key: wrong_codes(request, requester) + 1}


def has_room(request: VerificationRequest, max_joined: int) -> bool:
    """Whether another participant may join ``request``."""
    return len(request.participants) < max_joined


def after_joining(request: VerificationRequest, requester: Requester) -> dict[str, int]:
    """``request``'s participants with ``requester`` admitted (no wrong codes yet)."""
    return {**request.participants, requester.key: wrong_codes(request, requester)}
