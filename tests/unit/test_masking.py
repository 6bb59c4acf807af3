"""Masks for logs, the audit trail and views: enough to recognise, never the whole value."""

from __future__ import annotations

import string

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from core.masking import mask_id, mask_name, mask_pass, mask_phone, mask_sender
from core.values import _PASS_RE, IdNumber, PassNumber, Phone


class TestMaskPhone:
    def test_a_taiwanese_mobile_keeps_its_prefix_and_last_three_digits(self) -> None:
        assert mask_phone(Phone.parse("0912345678")) == "0912-***-678"

    def test_no_phone_masks_to_nothing(self) -> None:
        assert mask_phone(None) == ""

    @pytest.mark.parametrize(
        ("raw", "region", "masked"),
        [("+1 650 253 0000", "US", "***000"), ("+81 90-1234-5678", "JP", "***678")],
    )
    def test_a_foreign_mobile_shows_only_its_last_three_digits(
        self, raw: str, region: str, masked: str
    ) -> None:
        assert mask_phone(Phone.parse(raw, regions=(region,))) == masked

    @given(
        prefix=st.integers(min_value=0, max_value=8),
        rest=st.text(alphabet=string.digits, min_size=7, max_size=7),
    )
    def test_the_middle_digits_never_show(self, prefix: int, rest: str) -> None:
        phone = Phone.parse(f"09{prefix}{rest}")
        masked = mask_phone(phone)
        digits = "".join(c for c in masked if c.isdigit())

        assert masked == f"{phone.national[:4]}-***-{phone.national[-3:]}"
        assert phone.national not in masked
        assert phone.e164 not in masked
        assert phone.display not in masked
        assert len(digits) == 7  # three of the ten digits are hidden


class TestMaskId:
    @pytest.mark.parametrize(
        ("raw", "masked"),
        [
            ("A123456789", "A12*****89"),
            ("A800000014", "A80*****14"),
            ("AK00000001", "AK0*****01"),
            ("TEST0521", "TES***21"),
            ("123456", "123*56"),
            ("12345", "1****"),
            ("1234", "1***"),
        ],
    )
    def test_first_three_and_last_two_characters(self, raw: str, masked: str) -> None:
        # As the registry holds them: a holder typing digits alone is refused, but a
        # registry's legacy all-digit code is kept, and masked like any other.
        assert mask_id(IdNumber.parse(raw, trust_check_digit=False)) == masked

    def test_no_id_masks_to_nothing(self) -> None:
        assert mask_id(None) == ""

    @given(
        st.from_regex(r"[A-Z0-9]{4,20}", fullmatch=True).filter(
            lambda raw: any(c.isdigit() for c in raw)
        )
    )
    def test_never_the_whole_id(self, raw: str) -> None:
        # A value shaped like a pass number (AA000000000) is refused as an ID number.
        assume(not _PASS_RE.fullmatch(raw))
        id_no = IdNumber.parse(raw, trust_check_digit=False)
        masked = mask_id(id_no)

        assert masked != id_no.value
        assert id_no.value not in masked
        assert len(masked) == len(id_no.value)
        assert "*" in masked
        if len(id_no.value) > 5:
            assert masked[:3] == id_no.value[:3]
            assert masked[-2:] == id_no.value[-2:]


class TestMaskPass:
    def test_prefix_and_last_four_digits_like_the_sms(self) -> None:
        pass_no = PassNumber.parse("KHPS113-000043")
        assert mask_pass(pass_no) == "KHPS113-**0043"
        assert mask_pass(pass_no).endswith(pass_no.last4)

    @given(
        letters=st.text(alphabet=string.ascii_uppercase, min_size=2, max_size=6),
        year=st.integers(min_value=100, max_value=999),
        serial=st.text(alphabet=string.digits, min_size=6, max_size=6),
    )
    def test_never_the_whole_pass_number(self, letters: str, year: int, serial: str) -> None:
        pass_no = PassNumber.parse(f"{letters}{year}-{serial}")
        masked = mask_pass(pass_no)

        assert masked == f"{letters}{year}-**{serial[-4:]}"
        assert str(pass_no) not in masked


class TestMaskName:
    @pytest.mark.parametrize(
        ("name", "masked"),
        [
            ("檢訊測試三", "檢***三"),
            ("王小明", "王*明"),
            ("王小", "王*"),
            ("John Smith", "J********h"),
        ],
    )
    def test_first_and_last_character_kept(self, name: str, masked: str) -> None:
        assert mask_name(name) == masked

    def test_a_one_character_name_is_hidden_entirely(self) -> None:
        # Keeping "the first character" of 王 would show the whole name.
        assert mask_name("王") == "*"

    @pytest.mark.parametrize("name", [None, ""])
    def test_no_name_masks_to_nothing(self, name: str | None) -> None:
        assert mask_name(name) == ""

    @given(st.text(min_size=1, max_size=30))
    def test_never_the_whole_name(self, name: str) -> None:
        masked = mask_name(name)
        hidden = [i for i, c in enumerate(masked) if c == "*" and name[i] != "*"]
        shown = [i for i, c in enumerate(masked) if c != "*"]

        assert len(masked) == len(name)
        assert all(masked[i] == name[i] for i in shown)
        assert len(shown) <= max(len(name) - 1, 0)  # at least one character hidden
        assert len(shown) <= 2
        if len(name) >= 3:
            assert shown in ([0, len(name) - 1], [0], [len(name) - 1], [])
        if "*" not in name:
            assert hidden


class TestMaskSender:
    """Senders we drop (SMS pumping) are logged by country code and last two digits."""

    @pytest.mark.parametrize(
        ("raw", "masked"),
        [
            ("+14155550100", "+1********00"),
            ("+882345678901", "+882*******01"),
            ("+886223456789", "+886*******89"),
            ("12345", "*****"),
            ("TWPORT", "******"),
            ("+999123456", "+9******56"),  # no such country code: its first digit
        ],
    )
    def test_masks(self, raw: str, masked: str) -> None:
        assert mask_sender(raw) == masked

    @given(st.text(max_size=40))
    def test_never_more_than_four_digits_of_the_number(self, raw: str) -> None:
        masked = mask_sender(raw)
        digits = sum(c.isdigit() for c in masked)
        assert digits <= 3 + 2  # a country code of up to 3 digits and the last two
        assert len(masked) <= max(len(raw), 12) + 1
