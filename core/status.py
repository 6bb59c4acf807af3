"""R7: the status of a pass is derived from two phones, never stored as a flag."""

from __future__ import annotations

from core.model import PassRecord, Status
from core.values import Phone


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
