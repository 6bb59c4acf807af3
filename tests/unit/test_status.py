"""R7: a pass's status is derived from the phone on file and the verified phone.
R8: verification is per pass, so one person's passes can differ."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime

import pytest

from core.model import PassRecord, Status
from core.status import derive_status, status_of
from core.values import IdNumber, PassNumber, Phone

ON_FILE = Phone.parse("0960123411")
OTHER = Phone.parse("0912345678")


def record(
    pass_no: str,
    *,
    id_no: str = "QQ12345671",
    name: str | None = "檢訊測試一",
    phone: Phone | None = ON_FILE,
    verified_phone: Phone | None = None,
) -> PassRecord:
    return PassRecord(
        pass_no=PassNumber.parse(pass_no),
        id_no=IdNumber.parse(id_no),
        company="高雄港測試業者",
        valid_from=date(2026, 1, 5),
        valid_to=date(2027, 1, 4),
        name=name,
        phone=phone,
        verified_phone=verified_phone,
        verified_at=None if verified_phone is None else datetime(2026, 2, 1, tzinfo=UTC),
    )


class TestDeriveStatus:
    def test_verified_when_the_verified_phone_is_the_phone_on_file(self) -> None:
        assert derive_status(ON_FILE, ON_FILE) is Status.VERIFIED

    def test_verified_compares_numbers_not_how_they_were_typed(self) -> None:
        assert derive_status(Phone.parse("0960-123-411"), Phone.parse("+886960123411")) is (
            Status.VERIFIED
        )

    def test_unverified_when_never_verified(self) -> None:
        assert derive_status(ON_FILE, None) is Status.UNVERIFIED

    def test_unverified_when_never_verified_and_no_phone_on_file(self) -> None:
        assert derive_status(None, None) is Status.UNVERIFIED

    def test_pending_when_the_phone_on_file_changed_since(self) -> None:
        assert derive_status(OTHER, ON_FILE) is Status.PENDING

    def test_pending_when_the_person_record_was_deleted(self) -> None:
        assert derive_status(None, ON_FILE) is Status.PENDING

    def test_the_three_states_are_the_guides_three(self) -> None:
        assert {s.value for s in Status} == {"verified", "unverified", "pending"}


class TestStatusOfRecord:
    @pytest.mark.parametrize(
        ("phone", "verified_phone", "status"),
        [
            (ON_FILE, ON_FILE, Status.VERIFIED),
            (ON_FILE, None, Status.UNVERIFIED),
            (OTHER, ON_FILE, Status.PENDING),
            (None, ON_FILE, Status.PENDING),
            (None, None, Status.UNVERIFIED),
        ],
    )
    def test_status_of_a_record_follows_its_two_phones(
        self, phone: Phone | None, verified_phone: Phone | None, status: Status
    ) -> None:
        assert status_of(record("KHPS113-000040", phone=phone, verified_phone=verified_phone)) is (
            status
        )

    def test_a_deleted_person_record_makes_a_verified_pass_pending(self) -> None:
        verified = record("KHPS113-000038", verified_phone=ON_FILE)
        deleted = dataclasses.replace(verified, name=None, phone=None)

        assert status_of(verified) is Status.VERIFIED
        assert status_of(deleted) is Status.PENDING

    def test_changing_the_phone_on_file_makes_a_verified_pass_pending(self) -> None:
        verified = record("KHPS113-000038", verified_phone=ON_FILE)

        assert status_of(dataclasses.replace(verified, phone=OTHER)) is Status.PENDING
        # ...and verifying the new number makes it verified again
        assert status_of(dataclasses.replace(verified, phone=OTHER, verified_phone=OTHER)) is (
            Status.VERIFIED
        )

    def test_the_record_carries_no_status_flag_that_could_drift(self) -> None:
        names = {f.name for f in dataclasses.fields(PassRecord)}
        assert not names & {"status", "verified", "is_verified"}


class TestPerPass:
    def test_one_person_can_hold_a_verified_and_an_unverified_pass(self) -> None:
        # The guide's QQ12345671 (檢訊測試一) holds KHPS113-000038, verified, and
        # KHPS113-000040, not verified, with the same phone on file.
        verified = record("KHPS113-000038", verified_phone=ON_FILE)
        unverified = record("KHPS113-000040")

        assert verified.id_no == unverified.id_no
        assert verified.phone == unverified.phone
        assert status_of(verified) is Status.VERIFIED
        assert status_of(unverified) is Status.UNVERIFIED

    def test_one_person_can_hold_a_verified_and_a_pending_pass(self) -> None:
        # Pass 38 verified the number now on file; pass 40 verified an older one.
        current = record("KHPS113-000038", verified_phone=ON_FILE)
        stale = record("KHPS113-000040", verified_phone=OTHER)

        assert current.id_no == stale.id_no
        assert status_of(current) is Status.VERIFIED
        assert status_of(stale) is Status.PENDING
