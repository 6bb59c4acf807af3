"""R7: the status of a pass is derived from two phones, never stored as a flag."""

from __future__ import annotations

from core import messages
from core.model import PassRecord, Status
from core.values import Phone, normalise


def derive_status(phone_on_file: Phone | None, verified_phone: Phone | None) -> Status:
    """已驗證 when the verified phone is the phone on file; 未驗證 when never verified;
    待驗證 when verified once but the phone on file changed or the person was deleted."""
    if verified_phone is None:
        return Status.UNVERIFIED
    if phone_on_file == verified_phone:
        return Status.VERIFIED
    return Status.PENDING


def status_of(record: PassRecord) -> Status:
    return derive_status(record.phone, record.verified_phone)


#: ``verified`` and the labels people see in either language (已驗證, pending re-…), as
#: operators type them after ``/passes`` and admins after ``portpass status --state``.
_WORDS: dict[str, Status] = {
    normalise(word).casefold(): status
    for status in Status
    for word in (
        status.value,
        *(messages.text(f"status.{status.value}", lang) for lang in messages.LANGUAGES),
    )
}


def status_from_word(word: str) -> Status | None:
    """The status a word names, in any case, width or language; ``None`` if none."""
    return _WORDS.get(normalise(word).casefold())


def status_words() -> list[str]:
    """What :func:`status_from_word` accepts, for the admin CLI's help and errors: in
    Chinese and English, as the rest of the CLI speaks (the Vietnamese and Indonesian
    labels are accepted too)."""
    return [
        f"{s.value} / "
        + " / ".join(messages.text(f"status.{s.value}", lang) for lang in messages.BILINGUAL)
        for s in Status
    ]
