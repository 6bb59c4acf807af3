"""What a notice says: the holder's SMS (one UCS-2 segment for every kind, with the
configured contact), the Telegram message, and what operators read."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from bot.config import ConfigError, NoticesConfig, load_config
from core import messages
from core.notices.events import NoticeEvent, NoticeKind
from core.notices.records import Notice, Reach, Source, Unreachable
from core.notices.texts import (
    NoticeWording,
    digest_text,
    list_text,
    notice_sms,
    sms_lengths,
    telegram_notice,
)
from core.values import PassNumber
from core.verification.sms_text import segments

TAIPEI = messages.TAIPEI
WORDING = NoticeWording("所屬公司業者申請人", "your company's pass administrator")


def event(kind: NoticeKind, pass_no: str = "KHPS113-000047") -> NoticeEvent:  # noqa: S107
    # 23:30 UTC on the 25th is the 26th in Taipei: the holder is told the Taipei date.
    at = datetime(2026, 11, 25, 23, 30, tzinfo=UTC)
    return NoticeEvent("e1", PassNumber(pass_no), kind, at)


@pytest.mark.parametrize(
    ("kind", "text"),
    [
        (
            NoticeKind.SUSPENDED_INACTIVE,
            "港區通行證末四碼0047因逾六個月未進出，已於2026/11/26停用。請洽所屬公司業者申請人",
        ),
        (
            NoticeKind.ABNORMAL_RECORD,
            "港區通行證末四碼0047於2026/11/26有一筆異常進出紀錄，一個月內兩筆將停用。"
            "請洽所屬公司業者申請人",
        ),
        (
            NoticeKind.SUSPENDED_ABNORMAL,
            "港區通行證末四碼0047因一個月內兩筆異常進出紀錄，已於2026/11/26停用。"
            "請洽所屬公司業者申請人",
        ),
        (
            NoticeKind.REINSTATED,
            "港區通行證末四碼0047已於2026/11/26恢復使用。如有疑問請洽所屬公司業者申請人",
        ),
    ],
)
def test_each_kind_is_one_ucs2_segment_with_last4_what_date_and_contact(
    kind: NoticeKind, text: str
) -> None:
    body = notice_sms(event(kind), WORDING)
    assert body == "【港務】" + text  # signed: the sender name is the language's own
    assert segments(body).encoding == "UCS-2"
    assert segments(body).count == 1


def test_the_contact_may_use_what_is_left_of_the_segment() -> None:
    longest = max(s.length for s in sms_lengths(NoticeWording("", "")).values())
    room = 70 - longest
    assert room == 21  # 【港務】 first
    assert all(s.count == 1 for s in sms_lengths(NoticeWording("高" * room, "")).values())
    too_long = sms_lengths(NoticeWording("高" * (room + 1), ""))
    assert max(s.count for s in too_long.values()) == 2


def test_a_contact_line_that_would_split_a_notice_stops_start_up() -> None:
    long_contact = "高雄港務分公司港區通行證辦公室（07）5612311轉1234"
    with pytest.raises(ConfigError) as caught:
        load_config(None, {"PORTPASS_NOTICES_CONTACT": long_contact})
    assert caught.value.key == "notices.contact"
    assert "abnormal_record notice SMS 76 characters (2 segments)" in str(caught.value)
    assert NoticesConfig(contact="港務公司 07-5612311").contact == "港務公司 07-5612311"


def test_the_api_token_digest_must_be_a_sha256() -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(None, {"PORTPASS_NOTICES_API_TOKEN_SHA256": "my-token"})
    assert caught.value.key == "notices.api_token_sha256"
    assert "my-token" not in str(caught.value)  # what was given may be the token itself
    digest = "AB" * 32
    config = load_config(None, {"PORTPASS_NOTICES_API_TOKEN_SHA256": f"{digest}, {digest}"})
    assert config.notices.api_token_sha256 == ("ab" * 32,)


@pytest.mark.parametrize(("raw", "stored"), [("8:05", "08:05"), ("23:59", "23:59"), ("", "")])
def test_the_digest_time_is_a_taipei_time_of_day_or_off(raw: str, stored: str) -> None:
    assert NoticesConfig(digest_time=raw).digest_time == stored


def test_a_digest_time_that_is_no_time_is_refused() -> None:
    with pytest.raises(ConfigError, match="HH:MM"):
        NoticesConfig(digest_time="8am")


def test_the_telegram_message_masks_the_pass_and_speaks_the_chats_language() -> None:
    zh = telegram_notice(event(NoticeKind.SUSPENDED_ABNORMAL), WORDING, messages.ZH)
    assert zh == (
        "港區通行證 KHPS113-**0047 通知：一個月內兩筆異常進出紀錄，已停用（2026/11/26）。\n"
        "如有疑問請洽所屬公司業者申請人。"
    )
    en = telegram_notice(event(NoticeKind.REINSTATED), WORDING, messages.EN)
    assert en == (
        "Port pass KHPS113-**0047: reinstated (2026/11/26).\n"
        "Questions: contact your company's pass administrator."
    )


def notice(
    number: int,
    *,
    reach: Reach = Reach.SMS,
    reason: Unreachable | None = None,
    sms_state: str | None = "delivered",
    company: str = "高雄港測試業者",
    kind: NoticeKind = NoticeKind.SUSPENDED_INACTIVE,
    telegram_chats: int = 0,
) -> Notice:
    return Notice(
        id=number,
        event_id=f"e{number}",
        pass_no=PassNumber(f"KHPS113-{number:06d}"),
        company=company,
        kind=kind,
        occurred_at=datetime(2026, 11, 26, 8, 0, tzinfo=TAIPEI),
        detail=None,
        received_at=datetime(2026, 11, 26, 9, 0, tzinfo=TAIPEI),
        source=Source.API,
        reach=reach,
        reason=reason,
        telegram_chats=telegram_chats,
        sms_state=sms_state if reach is Reach.SMS else None,
    )


def test_the_digest_lists_the_unreachable_first_then_the_texted() -> None:
    text = digest_text(
        [
            notice(47),
            notice(43, reach=Reach.UNREACHABLE, reason=Unreachable.UNVERIFIED),
            notice(14, reach=Reach.UNREACHABLE, reason=Unreachable.PENDING),
            notice(
                46,
                reach=Reach.UNREACHABLE,
                reason=Unreachable.OPTED_OUT,
                kind=NoticeKind.REINSTATED,
                telegram_chats=1,
            ),
            notice(45, sms_state="failed", kind=NoticeKind.ABNORMAL_RECORD),
        ],
        day=date(2026, 11, 27),
        since=datetime(2026, 11, 26, 8, 0, tzinfo=TAIPEI),
        until=datetime(2026, 11, 27, 8, 0, tzinfo=TAIPEI),
        scope="高雄港測試業者",
        with_company=False,
        language=messages.ZH,
    )
    assert text == (
        "港區通行證通知日報 2026/11/27（高雄港測試業者）\n"
        "2026/11/26 08:00 至 2026/11/27 08:00 共 5 則：已發簡訊 2 則，無法以簡訊通知 3 則。\n"
        "\n"
        "無法以簡訊通知（請協助持證人完成手機驗證）：\n"
        "2026/11/26 KHPS113-000043 逾六個月未進出，已停用\n　無法通知：手機未驗證\n"
        "2026/11/26 KHPS113-000014 逾六個月未進出，已停用\n　無法通知：手機待重新驗證\n"
        "2026/11/26 KHPS113-000046 已恢復使用\n　無法通知：已退訂簡訊；已以 Telegram 通知\n"
        "\n"
        "已發簡訊：\n"
        "2026/11/26 KHPS113-000047 逾六個月未進出，已停用\n　簡訊已送達\n"
        "2026/11/26 KHPS113-000045 一筆異常進出紀錄（一個月內兩筆將停用）\n　簡訊發送失敗"
    )


def test_a_long_digest_says_how_many_more_there_are() -> None:
    many = [notice(n) for n in range(1, 61)]
    text = digest_text(
        many,
        day=date(2026, 11, 27),
        since=datetime(2026, 11, 26, 8, 0, tzinfo=TAIPEI),
        until=datetime(2026, 11, 27, 8, 0, tzinfo=TAIPEI),
        scope="全部公司",
        with_company=True,
        language=messages.EN,
    )
    assert text.count("KHPS113-") == 40
    assert "(高雄港測試業者)" in text
    assert text.endswith("… and 20 more: send /notices to see them.")
    assert len(text) < 4096  # one Telegram message


def test_the_operators_list_says_when_nothing_matches() -> None:
    text = list_text(
        [],
        0,
        scope="高雄港測試業者",
        days=30,
        unreachable_only=True,
        with_company=False,
        language=messages.ZH,
    )
    assert text == "高雄港測試業者最近 30 天無法通知的通知：0 則\n沒有符合的通知。"


def test_the_sender_name_counts_against_the_notice_sms(tmp_path) -> None:
    """【港務】 comes first: a contact line that fits alone may not fit after it."""
    from bot.config import ConfigError, load_config

    fits_alone = "高" * 25
    with pytest.raises(
        ConfigError, match=r"notices\.contact with texts_zh_tw\.sender_name '【港務】'"
    ):
        load_config(None, {"PORTPASS_NOTICES_CONTACT": fits_alone}, cwd=tmp_path)
    unsigned = tmp_path / "config.toml"
    unsigned.write_text('[texts_zh_tw]\nsender_name = ""\n', encoding="utf-8")
    config = load_config(unsigned, {"PORTPASS_NOTICES_CONTACT": fits_alone}, cwd=tmp_path)
    assert config.notices.contact == fits_alone


def test_each_language_notice_is_in_its_own_words_and_sender(tmp_path) -> None:
    body = notice_sms(event(NoticeKind.REINSTATED), WORDING, "vi")
    assert body.startswith("[Cang Dai Loan] The ra vao cang")
    assert segments(body).count == 1


def test_a_configured_notice_with_an_unknown_placeholder_stops_start_up(tmp_path) -> None:
    from bot.config import ConfigError, load_config

    with pytest.raises(ConfigError) as caught:
        load_config(
            None,
            {"PORTPASS_TEXTS_VI_NOTICE_REINSTATED": "{last4} {date} {contact} {name}"},
            cwd=tmp_path,
        )
    assert caught.value.key == "texts_vi.notice_reinstated"
    assert "unknown placeholder {name}" in str(caught.value)
