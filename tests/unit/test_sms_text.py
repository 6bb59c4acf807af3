"""R9: how many segments a text costs, and the verification SMS that must fit one."""

from __future__ import annotations

import pytest

from core import messages
from core.codes import TOKEN_BYTES, SystemSecrets
from core.values import PassNumber
from core.verification.sms_text import (
    cut_to_segments,
    pages,
    segments,
    verification_link,
)
from core.verification.wording import SmsWording, template_problem

TOKEN = "Ab3_Ef6-Hi9K"


def test_the_sample_token_has_the_real_length() -> None:
    assert len(TOKEN) == len(SystemSecrets().token()) == -(-TOKEN_BYTES * 4 // 3)


class TestGsm7:
    @pytest.mark.parametrize(
        ("length", "count"), [(0, 1), (1, 1), (160, 1), (161, 2), (306, 2), (307, 3)]
    )
    def test_160_in_one_then_153_per_part(self, length: int, count: int) -> None:
        result = segments("a" * length)
        assert (result.encoding, result.length, result.count) == ("GSM-7", length, count)

    def test_the_basic_set_includes_digits_punctuation_and_some_accents(self) -> None:
        text = "Port pass 0043: code 123456 @ £$¥ èéùìò ÄÖÑÜ §¿¡ ΔΦΓΛΩ\n\r"
        assert segments(text).encoding == "GSM-7"
        assert segments(text).length == len(text)

    @pytest.mark.parametrize("char", list("^{}\\[~]|€"))
    def test_extended_characters_take_two_septets(self, char: str) -> None:
        assert segments(char).length == 2
        assert segments(char * 80).count == 1  # 160 septets
        assert segments(char * 80 + "a").count == 2  # 161 septets
        assert segments("a" * 159 + char).count == 2


class TestUcs2:
    @pytest.mark.parametrize(("length", "count"), [(1, 1), (70, 1), (71, 2), (134, 2), (135, 3)])
    def test_70_in_one_then_67_per_part(self, length: int, count: int) -> None:
        result = segments("驗" * length)
        assert (result.encoding, result.length, result.count) == ("UCS-2", length, count)

    def test_one_character_outside_gsm7_makes_the_whole_text_ucs2(self) -> None:
        assert segments("a" * 69 + "中").count == 1
        assert segments("a" * 70 + "中").count == 2
        assert segments("a" * 150).count == 1  # the same letters alone: GSM-7

    @pytest.mark.parametrize("char", ["á", "ç", "，", "！", "“", "０"])
    def test_lookalikes_of_gsm7_characters_are_not_gsm7(self, char: str) -> None:
        assert segments("code " + char).encoding == "UCS-2"

    def test_characters_outside_the_bmp_count_two_units(self) -> None:
        assert segments("😀").length == 2
        assert segments("😀" * 35).count == 1
        assert segments("😀" * 36).count == 2


def verification_sms(pass_no: PassNumber, code: str, link: str, language: str) -> str:
    return SmsWording().verification(language, last4=pass_no.last4, code=code, link=link)


class TestVerificationSms:
    pass_no = PassNumber.parse("KHPS113-000043")

    def test_the_link_joins_base_and_token_once(self) -> None:
        assert verification_link("https://pp.tw/", TOKEN) == f"https://pp.tw/v/{TOKEN}"
        assert verification_link("https://pp.tw", TOKEN) == f"https://pp.tw/v/{TOKEN}"

    @pytest.mark.parametrize("language", messages.LANGUAGES)
    def test_it_carries_the_guides_facts(self, language: str) -> None:
        link = verification_link("https://pp.khport.tw", TOKEN)
        body = verification_sms(self.pass_no, "042917", link, language)
        assert "0043" in body and "042917" in body and "24" in body
        assert body.endswith(link)  # nothing after the link that a phone could glue onto it
        assert "000043" not in body  # only the last four digits, as in the guide

    @pytest.mark.parametrize("length", range(12, 27))
    def test_two_segments_in_every_language_up_to_a_26_character_base_url(
        self, length: int
    ) -> None:
        base = "https://" + "p" * (length - 11) + ".tw"
        assert len(base) == length
        for language in messages.LANGUAGES:
            body = verification_sms(
                self.pass_no, "042917", verification_link(base, TOKEN), language
            )
            assert segments(body).count <= 2, (language, base, segments(body))

    def test_the_chinese_text_carries_the_notices_words_and_do_not_share(self) -> None:
        body = verification_sms(self.pass_no, "042917", "https://pp.tw/v/x", messages.ZH)
        assert body == (
            "【港務】港區通行證手機驗證：通行證末四碼0043，驗證碼042917，24小時內有效，"
            "請勿將驗證碼告訴他人。點連結即完成驗證：https://pp.tw/v/x"
        )

    @pytest.mark.parametrize(
        ("kind", "template", "problem"),
        [
            ("verification", "碼{code}{link}", "lacks the placeholder {last4}"),
            ("verification", "{last4}{code}{link}{pass_no}", "unknown placeholder {pass_no}"),
            ("notice", "{last4}{date}", "lacks the placeholder {contact}"),
            ("reminder", "{last4}{code}{link", "is not a valid template"),
            ("verification", "{last4}{code}{link}{}", "placeholder without a name"),
            ("verification", "{last4}{code:>8}{link}", "format or conversion on {code}"),
        ],
    )
    def test_a_template_with_a_wrong_placeholder_says_which(
        self, kind: str, template: str, problem: str
    ) -> None:
        assert problem in (template_problem(kind, template) or "")

    def test_a_template_with_its_placeholders_is_accepted(self) -> None:
        assert template_problem("verification", "{last4} {code} {hours}h {link}") is None
        assert template_problem("sender_name", "【港務】") is None

    def test_the_chinese_text_is_ucs2_and_the_english_gsm7(self) -> None:
        link = verification_link("https://pp.khport.tw", TOKEN)
        assert segments(verification_sms(self.pass_no, "1", link, messages.ZH)).encoding == "UCS-2"
        assert segments(verification_sms(self.pass_no, "1", link, messages.EN)).encoding == "GSM-7"

    def test_the_guides_own_text_takes_two_segments(self) -> None:
        """R9's reason to exist: the guide's wording does not fit one UCS-2 segment."""
        guide = (
            "[港區通行證手機驗證 通行證號碼末四碼 0043，請於24小時內點擊https://pp.khport.tw/Verify/"
            + "8BE015" * 5
            + "完成驗證，或至港區通行證資訊網輸入驗證碼042917]"
        )
        assert segments(guide).count == 2


# --- long replies: pages and the last-guard cut ---------------------------------------------


def footer(page: int, total: int) -> str:
    if page == total:  # shorter than the others: pages are sized for the widest
        return f"Page {page} of {total} (the last)."
    return f"Page {page} of {total}. Send STATUS {page + 1} for the next page."


LINES = [f"KHPS113-**{n:04d}: unverified" for n in range(1, 81)]


def test_a_list_that_fits_is_one_text_without_a_footer() -> None:
    assert pages(LINES[:3], 3, footer) == ["\n".join(LINES[:3])]


def test_a_long_list_comes_in_pages_that_each_fit_and_keep_every_line_once() -> None:
    cut = pages(LINES, 3, footer)
    assert len(cut) > 1
    assert all(segments(page).count <= 3 for page in cut)
    assert all(page.endswith(footer(n, len(cut))) for n, page in enumerate(cut, 1))
    kept = [line for page in cut for line in page.split("\n")[:-1]]
    assert kept == LINES  # in order, none lost, none twice


@pytest.mark.parametrize("budget", [1, 2, 3, 5])
def test_every_budget_is_kept(budget: int) -> None:
    assert all(segments(page).count <= budget for page in pages(LINES, budget, footer))


def test_pages_in_ucs2_fit_too() -> None:
    lines = [f"KHPS113-**{n:04d}：未驗證" for n in range(1, 81)]
    cut = pages(lines, 3, lambda page, total: f"第 {page}/{total} 頁。傳送「狀態 {page + 1}」")
    assert all(segments(page).count <= 3 for page in cut)
    assert len(cut) > 1


def test_a_reply_that_fits_is_not_cut() -> None:
    assert cut_to_segments("短訊", 3) == "短訊"


def test_a_reply_too_long_is_cut_between_lines_and_marked() -> None:
    text = "\n".join(LINES)
    cut = cut_to_segments(text, 3)
    assert segments(cut).count <= 3
    assert cut.endswith("\n…")
    assert text.startswith(cut.removesuffix("…"))


def test_one_long_line_is_cut_between_characters() -> None:
    cut = cut_to_segments("港" * 500, 2)
    assert segments(cut).count <= 2
    assert cut.endswith("…") and len(cut) > 100
