"""Operators drive verification from a Telegram chat: real Update JSON into the app's
webhook, real PTB client out to FakeTelegram, the demo registry (19 passes of
高雄港測試業者, 2 of 臺中港測試公司); the assertions are what the operator sees."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from sqlalchemy import select

from core.model import Channel, Requester
from core.values import PassNumber, Phone
from fakes.clock import FakeClock
from fakes.telegram_api import FakeTelegram
from fakes.telegram_updates import UpdateIds, message_update
from storage.tables import audit_log
from tests.e2e.conftest import AppClient, services_of
from tests.e2e.telegram.fixtures import (
    PASS_NO,
    TelegramUser,
    latest_code,
    latest_link_token,
    outbox_bodies,
    post_update,
    texts,
)

JSONDict = dict[str, Any]

_PASS_AT_START = re.compile(r"[A-Z]{2,6}\d{3}-\d{6}(?=　)")

KH, TC = "高雄港測試業者", "臺中港測試公司"
OPERATOR, STRANGER = 710_000_001, 710_000_002

SHORT_HELP = (
    "傳送「驗證」開始手機驗證，或回覆簡訊中的6位數字驗證碼。\n傳送「說明」取得更多說明。\n"
    "English: EN · Tiếng Việt: VI · Bahasa Indonesia: ID"
)
LINK_INVALID = "連結碼無效、已使用或已過期，請向系統管理員索取新的連結碼。"
SENT = "驗證碼已經成功送出。"
NO_PHONE = (
    "此通行證沒有登錄手機號碼，無法發送驗證碼。請在港務系統的人員資料填入手機號碼；"
    "下一次匯入通行證資料後，這裡才會看到新的號碼。"
)
EXPIRED_BUTTON = "此按鈕已失效，請重新開始。"
ON_FILE_E164 = "+886960123411"  # KHPS113-000043's phone on file
NEW_PHONE, NEW_E164 = "0912345678", "+886912345678"


@pytest.fixture
def ids() -> UpdateIds:
    """One sequence for every user of a test: the gate drops a repeated update_id."""
    return UpdateIds()


@pytest.fixture
def stranger(client: AppClient, fake: FakeTelegram, ids: UpdateIds) -> TelegramUser:
    return TelegramUser(client, fake, STRANGER, ids=ids)


Linker = Callable[..., Awaitable[tuple[TelegramUser, str]]]


@pytest.fixture
def linked(client: AppClient, fake: FakeTelegram, ids: UpdateIds) -> Linker:
    """An operator account made as the admin CLI makes it, linked from a chat; returns
    the chat and the operator id."""

    async def link(
        company: str = KH,
        *,
        admin: bool = False,
        user_id: int = OPERATOR,
        language: str = "zh-hant",
    ) -> tuple[TelegramUser, str]:
        lifecycle = services_of(client).operator_lifecycle
        account, code = await lifecycle.add_operator("王小明", company, admin)
        user = TelegramUser(client, fake, user_id, language_code=language, ids=ids)
        [reply] = await user.say(f"/link {code.code}")
        assert reply["text"].startswith("已連結") or reply["text"].startswith("Linked"), reply
        return user, account.id

    return link


async def add_operator(client: AppClient, company: str = KH) -> tuple[str, str]:
    account, code = await services_of(client).operator_lifecycle.add_operator("王小明", company)
    return account.id, code.code


def buttons(message: JSONDict | None) -> list[tuple[str, str]]:
    assert message is not None
    markup = message.get("reply_markup") or {"inline_keyboard": []}
    return [(b["text"], b["callback_data"]) for row in markup["inline_keyboard"] for b in row]


def page_buttons(message: JSONDict | None) -> list[tuple[str, str]]:
    """The ◀ / ▶ buttons of a list (each row's 發送驗證碼 button left out)."""
    return [(text, data) for text, data in buttons(message) if data.startswith("op:p:")]


def shown(fake: FakeTelegram, user: TelegramUser, message: JSONDict) -> JSONDict:
    """The message as the user sees it now, after the bot's edits."""
    current = fake.message(user.user_id, message["message_id"])
    assert current is not None
    return current


def listed(text: str) -> list[str]:
    """The pass numbers a /passes page shows, in order."""
    return [m.group(0) for block in text.split("\n\n") if (m := _PASS_AT_START.match(block))]


async def audit(client: AppClient, action: str) -> list[JSONDict]:
    query = select(audit_log).where(audit_log.c.action == action).order_by(audit_log.c.id)
    async with services_of(client).engine.connect() as conn:
        return [dict(row._mapping) for row in await conn.execute(query)]


async def person_phone(client: AppClient, pass_no: str) -> str | None:
    async with services_of(client).uow() as uow:
        record = await uow.passes.get(PassNumber.parse(pass_no))
    assert record is not None
    return record.phone.e164 if record.phone else None


# --- linking -----------------------------------------------------------------------------------


async def test_link_with_a_valid_code(
    client: AppClient, fake: FakeTelegram, ids: UpdateIds
) -> None:
    _, code = await add_operator(client)
    user = TelegramUser(client, fake, OPERATOR, ids=ids)

    [reply] = await user.say(f"/link {code.lower()}")  # typed in lower case still works

    assert reply["text"].startswith(f"已連結業者申請人帳號：王小明（{KH}）。\n\n業者申請人指令：")
    assert "/passes" in reply["text"] and "/send 通行證號 [新手機號碼]" in reply["text"]
    [entry] = await audit(client, "operator.link")
    assert entry["channel"] == "telegram"


async def test_an_expired_code_does_not_link(
    client: AppClient, fake: FakeTelegram, ids: UpdateIds, clock: FakeClock
) -> None:
    _, code = await add_operator(client)
    clock.advance(hours=25)
    user = TelegramUser(client, fake, OPERATOR, ids=ids)

    [reply] = await user.say(f"/link {code}")
    [after] = await user.say("/passes")

    assert reply["text"] == LINK_INVALID
    assert after["text"] == SHORT_HELP


async def test_a_used_code_does_not_link_again(
    client: AppClient, fake: FakeTelegram, ids: UpdateIds, stranger: TelegramUser
) -> None:
    _, code = await add_operator(client)
    first = TelegramUser(client, fake, OPERATOR, ids=ids)
    await first.say(f"/link {code}")

    [reply] = await stranger.say(f"/link {code}")

    assert reply["text"] == LINK_INVALID
    assert (await stranger.say("/stats"))[0]["text"] == SHORT_HELP
    assert (await first.say("/stats"))[0]["text"].startswith(f"{KH}手機驗證統計")


async def test_unknown_and_missing_codes(stranger: TelegramUser) -> None:
    [unknown] = await stranger.say("/link ABCDEFGHJK")
    [missing] = await stranger.say("/link")

    assert unknown["text"] == LINK_INVALID
    assert missing["text"] == "請在 /link 後面輸入系統管理員提供的連結碼，例：/link K7PQ2MX9RT"


async def test_guessing_codes_cools_down(stranger: TelegramUser) -> None:
    for _ in range(5):
        await stranger.say("/link ABCDEFGHJK")

    [cooling] = await stranger.say("/link ABCDEFGHJK")

    assert cooling["text"].startswith("查詢失敗次數過多，請於 ")


async def test_unlink(linked: Linker) -> None:
    user, _ = await linked()

    [unlinked] = await user.say("/unlink")
    [after] = await user.say("/passes")
    [again] = await user.say("/unlink")

    assert unlinked["text"] == "已解除此 Telegram 帳號與業者申請人帳號的連結。"
    assert after["text"] == SHORT_HELP
    assert again["text"] == SHORT_HELP


# --- no operator data, and no hint, for anyone else -------------------------------------------


COMMANDS = [
    "/passes",
    "/passes 未驗證",
    f"/pass {PASS_NO}",
    f"/send {PASS_NO}",
    "/stats",
    "/export",
]


async def test_a_stranger_gets_what_any_unknown_text_gets(
    stranger: TelegramUser, fake: FakeTelegram
) -> None:
    [unknown] = await stranger.say("/whatever")

    answers = [await stranger.say(command) for command in [*COMMANDS, "/unlink"]]

    assert unknown["text"] == SHORT_HELP
    assert all(texts(answer) == [SHORT_HELP] for answer in answers), answers
    assert fake.documents() == []
    assert all(not message.get("reply_markup") for message in fake.sent_messages(STRANGER))


async def test_a_stranger_mid_conversation_gets_the_conversations_answer(
    stranger: TelegramUser,
) -> None:
    """In the middle of a holder conversation an unknown text is taken as the answer to
    the question asked; an operator command from a stranger is too."""
    await stranger.say("/start")
    [unknown] = await stranger.say("/whatever")

    [passes] = await stranger.say("/passes")

    assert unknown["text"] == "通行證號格式不正確，請輸入如 KHPS113-000043 的通行證號。"
    assert passes["text"] == unknown["text"]


async def test_help_lists_operator_commands_only_to_operators(
    linked: Linker, stranger: TelegramUser
) -> None:
    user, _ = await linked()

    [operator_help] = await user.say("/help")
    [holder_help] = await stranger.say("/help")

    assert holder_help["text"].startswith("港區通行證手機驗證：")
    assert "/passes" not in holder_help["text"]
    assert operator_help["text"].startswith(holder_help["text"] + "\n\n業者申請人指令：")


async def test_a_revoked_operator_loses_access_at_once(
    linked: Linker, client: AppClient, fake: FakeTelegram
) -> None:
    user, operator_id = await linked()
    [page] = await user.say("/passes")
    [question] = await user.say(f"/send {PASS_NO}")

    await services_of(client).operator_lifecycle.revoke(operator_id)
    answers = [await user.say(command) for command in COMMANDS]
    await user.press(page, "op:p:all:1")
    confirm = buttons(question)[0][1]
    await user.press(question, confirm)

    assert all(texts(answer) == [SHORT_HELP] for answer in answers), answers
    assert fake.documents() == []
    assert [a.get("text") for a in fake.callback_answers()] == [EXPIRED_BUTTON, EXPIRED_BUTTON]
    assert "第 2/2 頁" not in shown(fake, user, page)["text"]
    assert buttons(shown(fake, user, question)) == []
    assert await outbox_bodies(services_of(client), ON_FILE_E164) == []


# --- what an operator sees (R10) --------------------------------------------------------------


async def test_an_owned_pass_in_full(linked: Linker) -> None:
    user, _ = await linked()

    [reply] = await user.say("/pass khps113 000043")  # as people type it

    assert reply["text"].split("\n\n")[0].splitlines() == [
        "通行證號：KHPS113-000043",
        "身分證號：QQ12345673",
        "姓名：檢訊測試三",
        "手機號碼：0960-123-411",
        "已驗證手機號碼：—",
        "期限起日：2026/01/05",
        "期限迄日：2027/01/04",
        "是否驗證：未驗證",
        f"公司：{KH}",
    ]
    assert "/send KHPS113-000043" in reply["text"]


async def test_another_companys_pass_is_masked(linked: Linker) -> None:
    user, _ = await linked()

    [reply] = await user.say("/pass TCPS113-000101")

    lines = reply["text"].splitlines()
    assert lines[:5] == [
        "通行證號：TCPS113-000101",
        "身分證號：B22*****80",
        "姓名：臺***甲",
        "手機號碼：0911-***-333",
        "已驗證手機號碼：—",
    ]
    assert "非所屬通行證：身分證號、姓名與手機號碼已遮蔽。" in lines
    assert TC not in reply["text"] and "B223456780" not in reply["text"]


async def test_an_admin_sees_every_company_in_full(linked: Linker) -> None:
    user, _ = await linked("港務公司", admin=True)

    [reply] = await user.say("/pass TCPS113-000101")
    [page] = await user.say("/passes")

    assert "身分證號：B223456780" in reply["text"] and f"公司：{TC}" in reply["text"]
    assert page["text"].startswith("全部公司所屬通行證：共 21 筆")


async def test_unknown_and_mistyped_pass_numbers(linked: Linker) -> None:
    user, _ = await linked()

    [unknown] = await user.say("/pass KHPS113-999999")
    [mistyped] = await user.say("/pass KHPS11-3")
    [missing] = await user.say("/pass")

    assert unknown["text"] == "查無通行證 KHPS113-999999。"
    assert mistyped["text"] == "通行證號格式不正確，請輸入如 KHPS113-000043 的通行證號。"
    assert missing["text"] == "請在 /pass 後面輸入通行證號，例：/pass KHPS113-000043"


async def test_passes_ten_a_page_with_buttons(linked: Linker, fake: FakeTelegram) -> None:
    user, _ = await linked()

    [page] = await user.say("/passes")

    first = listed(page["text"])
    assert page["text"].startswith(f"{KH}所屬通行證：共 19 筆")
    assert page["text"].endswith("第 1/2 頁")
    assert len(first) == 10 and first == sorted(first)
    row = "KHPS113-000037　已驗證\nT12*****89　TEST202206070\n"
    row += "手機 0932-***-411　已驗證手機 0932-***-411"
    assert row in page["text"]
    assert "T123456789" not in page["text"] and "0932-123-411" not in page["text"]
    assert page_buttons(page) == [("▶", "op:p:all:1")]

    assert await user.press(page, "op:p:all:1") == []  # the same message changes
    second = shown(fake, user, page)
    assert second["text"].endswith("第 2/2 頁")
    assert len(listed(second["text"])) == 9
    assert set(listed(second["text"])).isdisjoint(first)
    assert "TCPS113-000101" not in second["text"]
    assert (
        "KHPS113-000043　未驗證\nQQ1*****73　檢訊測試三\n手機 0960-***-411　已驗證手機 —"
        in (second["text"])
    )
    assert page_buttons(second) == [("◀", "op:p:all:0")]

    await user.press(second | {"message_id": page["message_id"]}, "op:p:all:0")
    assert listed(shown(fake, user, page)["text"]) == first
    assert len(fake.callback_answers()) == 2


async def test_passes_by_status(linked: Linker) -> None:
    user, _ = await linked()

    [verified] = await user.say("/passes 已驗證")
    [unverified] = await user.say("/passes unverified")
    [pending] = await user.say("/passes 待驗證")
    [wrong] = await user.say("/passes 全部")

    assert verified["text"].startswith(f"{KH}所屬通行證（已驗證）：共 8 筆")
    assert unverified["text"].startswith(f"{KH}所屬通行證（未驗證）：共 10 筆")
    assert page_buttons(unverified) == []  # exactly one page
    assert listed(pending["text"]) == ["KHPS111-000014"]
    assert "KHPS111-000014　待驗證" in pending["text"]
    assert wrong["text"].startswith("請輸入 /passes，或加上狀態")


async def test_pages_keep_their_status(linked: Linker, fake: FakeTelegram) -> None:
    user, _ = await linked("港務公司", admin=True)

    [page] = await user.say("/passes 未驗證")  # 10 of 高雄 and 2 of 臺中
    await user.press(page, "op:p:unverified:1")

    assert page_buttons(page) == [("▶", "op:p:unverified:1")]
    assert listed(shown(fake, user, page)["text"]) == ["TCPS113-000101", "TCPS113-000102"]
    assert shown(fake, user, page)["text"].endswith("第 2/2 頁")


async def test_an_english_operator(linked: Linker) -> None:
    user, _ = await linked(language="en")

    [page] = await user.say("/passes pending")

    assert page["text"].startswith(f"Passes of {KH} (pending re-verification): 1")
    assert "KHPS111-000014  pending re-verification" in page["text"]
    assert page["text"].endswith("Page 1 of 1")


# --- /send (R4, R5, R6) ------------------------------------------------------------------------


async def test_send_to_the_phone_on_file(
    linked: Linker, client: AppClient, fake: FakeTelegram
) -> None:
    user, operator_id = await linked()

    [question] = await user.say(f"/send {PASS_NO}")

    assert question["text"] == f"確定要取得{PASS_NO}人員通行證手機(0960-123-411)驗證碼??"
    confirm = buttons(question)[0][1]
    assert buttons(question) == [("確定", confirm), ("取消", "op:x")]
    assert confirm.startswith("op:s:") and len(confirm.encode()) <= 64

    assert await user.press(question, confirm) == []

    answered = shown(fake, user, question)
    assert answered["text"].startswith(
        f"{SENT}\n通行證 {PASS_NO}，手機 0960-123-411，驗證碼有效至 "
    )
    # What to tell the holder, since the operator is the one they will ask.
    assert answered["text"].endswith(
        "請告訴持證人：簡訊24小時內有效，回覆簡訊中的6位數字驗證碼或點簡訊中的連結即完成驗證；"
        "請勿將驗證碼告訴他人。"
    )
    assert buttons(answered) == []
    [sms] = await outbox_bodies(services_of(client), ON_FILE_E164)
    assert "0043" in sms
    [entry] = await audit(client, "request.operator")
    assert (entry["actor"], entry["channel"]) == (f"operator:{operator_id}", "telegram")
    assert json.loads(entry["detail"])["new_phone"] == "no"
    [look] = await audit(client, "operator.view_pass")  # asking showed the pass's phone
    assert look["actor"] == f"operator:{operator_id}"


async def test_send_to_a_new_phone_updates_the_person_after_the_code(
    linked: Linker, client: AppClient, fake: FakeTelegram
) -> None:
    user, _ = await linked()

    [question] = await user.say(f"/send {PASS_NO} 0912-345-678")
    assert question["text"] == f"確定要取得{PASS_NO}人員通行證手機(0912-345-678)驗證碼??"
    await user.press(question, buttons(question)[0][1])

    assert shown(fake, user, question)["text"].startswith(SENT)
    assert await outbox_bodies(services_of(client), ON_FILE_E164) == []
    assert await person_phone(client, PASS_NO) == ON_FILE_E164  # not before verification

    holder = Requester(
        key=f"sms:{NEW_E164}", channel=Channel.SMS, actor="sms:***678", phone=Phone(NEW_E164)
    )
    code = await latest_code(client, NEW_E164)
    verified = await services_of(client).verification.check_code(
        holder, Phone.parse(NEW_PHONE), code
    )

    assert verified.person_phone_updated
    assert await person_phone(client, PASS_NO) == NEW_E164
    [view] = await user.say(f"/pass {PASS_NO}")
    assert "手機號碼：0912-345-678\n已驗證手機號碼：0912-345-678" in view["text"]
    assert "是否驗證：已驗證" in view["text"]


async def test_send_to_a_new_phone_confirmed_by_the_link(linked: Linker, client: AppClient) -> None:
    user, _ = await linked()
    [question] = await user.say(f"/send KHPS113-000030 {NEW_PHONE}")
    await user.press(question, buttons(question)[0][1])

    token = await latest_link_token(client, NEW_E164)
    web = Requester(key="web:test", channel=Channel.WEB, actor="web")
    await services_of(client).verification.confirm_link(web, token)

    assert await person_phone(client, "KHPS113-000030") == NEW_E164


async def test_send_to_a_blank_phone_says_to_add_the_person_first(linked: Linker) -> None:
    user, _ = await linked()

    [blank] = await user.say("/send KHPS113-000034")
    [blank_with_new] = await user.say(f"/send KHPS113-000034 {NEW_PHONE}")

    assert blank["text"] == NO_PHONE
    assert blank_with_new["text"] == NO_PHONE
    assert buttons(blank) == [] and buttons(blank_with_new) == []


async def test_send_input_errors(linked: Linker) -> None:
    user, _ = await linked()

    [unknown] = await user.say("/send KHPS113-999999")
    [bad_pass] = await user.say("/send 12345")
    [bad_phone] = await user.say(f"/send {PASS_NO} 12345")
    [missing] = await user.say("/send")

    assert unknown["text"] == "查無通行證 KHPS113-999999。"
    assert bad_pass["text"] == "通行證號格式不正確，請輸入如 KHPS113-000043 的通行證號。"
    assert bad_phone["text"] == "手機號碼格式不正確，請輸入如 0912345678 的臺灣手機號碼。"
    assert missing["text"].startswith("請在 /send 後面輸入通行證號")


async def test_cancel_sends_nothing(linked: Linker, client: AppClient, fake: FakeTelegram) -> None:
    user, _ = await linked()
    [question] = await user.say(f"/send {PASS_NO}")

    await user.press(question, "op:x")

    answered = shown(fake, user, question)
    assert answered["text"] == "已取消，未發送驗證碼。"
    assert buttons(answered) == []
    assert await outbox_bodies(services_of(client), ON_FILE_E164) == []


async def test_a_second_tap_sends_no_second_code(
    linked: Linker, client: AppClient, fake: FakeTelegram
) -> None:
    user, _ = await linked()
    [question] = await user.say(f"/send {PASS_NO}")
    confirm = buttons(question)[0][1]

    await user.press(question, confirm)
    await user.press(question, confirm)

    assert shown(fake, user, question)["text"].startswith(SENT)
    assert len(await outbox_bodies(services_of(client), ON_FILE_E164)) == 1


async def test_the_same_pass_and_phone_twice_within_a_day_reissues_the_code(
    linked: Linker, client: AppClient, fake: FakeTelegram
) -> None:
    user, _ = await linked()
    [first] = await user.say(f"/send {PASS_NO}")
    await user.press(first, buttons(first)[0][1])

    [second] = await user.say(f"/send {PASS_NO}")
    await user.press(second, buttons(second)[0][1])

    answered = shown(fake, user, second)["text"]
    assert answered.startswith(SENT)
    assert "\n先前發送的驗證碼與連結已經失效，請持證人使用這次的簡訊。\n請告訴持證人：" in answered
    assert len(await outbox_bodies(services_of(client), ON_FILE_E164)) == 2
    assert len(await audit(client, "request.superseded")) == 1


async def test_a_new_phone_twice_within_a_day_gets_one_code(
    linked: Linker, client: AppClient, fake: FakeTelegram
) -> None:
    user, _ = await linked()
    for _ in range(2):
        [question] = await user.say(f"/send {PASS_NO} {NEW_PHONE}")
        await user.press(question, buttons(question)[0][1])

    assert shown(fake, user, question)["text"].startswith(
        "這張通行證24小時內已送過驗證碼到 0912-***-678（"
    )
    assert len(await outbox_bodies(services_of(client), NEW_E164)) == 1


async def test_send_for_another_companys_pass_shows_the_phone_masked(
    linked: Linker, client: AppClient, fake: FakeTelegram
) -> None:
    user, _ = await linked()

    [question] = await user.say("/send TCPS113-000101")
    await user.press(question, buttons(question)[0][1])

    assert question["text"] == "確定要取得TCPS113-000101人員通行證手機(0911-***-333)驗證碼??"
    assert "0911-***-333" in shown(fake, user, question)["text"]
    assert len(await outbox_bodies(services_of(client), "+886911222333")) == 1


async def test_a_phone_changed_after_the_question_is_not_texted(
    linked: Linker, client: AppClient, fake: FakeTelegram
) -> None:
    user, _ = await linked()
    [question] = await user.say(f"/send {PASS_NO}")
    services = services_of(client)
    async with services.uow() as uow:  # the registry is corrected meanwhile
        record = await uow.passes.get(PassNumber.parse(PASS_NO))
        assert record is not None
        await uow.passes.set_person_phone(
            record.id_no, Phone.parse("0933123456"), services.clock.now()
        )
        await uow.commit()

    await user.press(question, buttons(question)[0][1])

    assert shown(fake, user, question)["text"] == (
        f"{PASS_NO} 的預設手機號碼已經變更，請重新傳送 /send {PASS_NO}。"
    )
    assert await outbox_bodies(services, ON_FILE_E164) == []
    assert await outbox_bodies(services, "+886933123456") == []


async def test_a_question_asked_for_another_account_expires(
    linked: Linker, client: AppClient, fake: FakeTelegram
) -> None:
    user, _ = await linked()
    [question] = await user.say(f"/send {PASS_NO}")
    _, code = await add_operator(client, TC)
    await user.say(f"/link {code}")  # the chat now acts for another account

    await user.press(question, buttons(question)[0][1])

    assert shown(fake, user, question)["text"] == EXPIRED_BUTTON
    assert await outbox_bodies(services_of(client), ON_FILE_E164) == []


# --- /stats and /export --------------------------------------------------------------------------


async def test_stats(linked: Linker) -> None:
    user, _ = await linked()

    [before] = await user.say("/stats")
    [question] = await user.say(f"/send {PASS_NO}")
    await user.press(question, buttons(question)[0][1])
    [after] = await user.say("/stats")

    assert before["text"].splitlines() == [
        f"{KH}手機驗證統計",
        "已驗證：8",
        "未驗證：10",
        "待驗證：1",
        "合計：19",
        "等待輸入的驗證碼：0",
        "已退訂簡訊的手機（驗證碼與通知都送不到）：0",
    ]
    assert "等待輸入的驗證碼：1" in after["text"].splitlines()


async def test_stats_for_an_admin(linked: Linker) -> None:
    user, _ = await linked("港務公司", admin=True)

    [stats] = await user.say("/stats")

    assert "未驗證：12" in stats["text"] and "合計：21" in stats["text"]
    assert stats["text"].startswith("全部公司手機驗證統計")


async def test_export_is_the_companys_table_as_excel_ready_csv(
    linked: Linker, client: AppClient, fake: FakeTelegram
) -> None:
    user, _ = await linked()

    assert await user.say("/export") == []  # a document, not a message

    [document] = fake.documents(OPERATOR)
    assert document["file_name"] == "portpass-status-2026-11-27.csv"
    assert document["caption"] == f"{KH}手機驗證狀態表，共 19 筆。"
    content: bytes = document["content"]
    assert content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))
    assert rows[0] == [
        "通行證號",
        "身分證號",
        "姓名",
        "手機號碼",
        "已驗證手機號碼",
        "是否驗證",
        "期限起日",
        "期限迄日",
        "公司",
    ]
    assert len(rows) == 20
    assert {row[8] for row in rows[1:]} == {KH}
    by_pass = {row[0]: row for row in rows[1:]}
    expected = [PASS_NO, "QQ12345673", "檢訊測試三", "0960-123-411", "", "未驗證"]
    assert by_pass[PASS_NO][:6] == expected
    [entry] = await audit(client, "operator.export")
    assert json.loads(entry["detail"]) == {"rows": "19"}


async def test_operator_commands_in_a_group_get_the_private_chat_pointer(
    linked: Linker, client: AppClient, fake: FakeTelegram, ids: UpdateIds
) -> None:
    await linked()
    group = -1_001_234_567_891
    update = message_update(ids.next(), OPERATOR, "/passes", chat_id=group, chat_type="group")

    assert await post_update(client, update) == 200

    assert texts(fake.sent_messages(group)) == [
        "為保護您的個人資料，請在與本機器人的私人對話中進行手機驗證。"
    ]


# --- a new phone only for an owned pass -------------------------------------

NEW_PHONE_NOT_OWNED = (
    "TCPS113-000101 不是貴公司的所屬通行證，不能改用新的手機號碼，只能發送到預設手機號碼："
    "/send TCPS113-000101。若需修改手機號碼，請洽該通行證的業者申請人。"
)


async def test_a_new_phone_for_another_companys_pass_is_refused(
    linked: Linker, client: AppClient
) -> None:
    user, _ = await linked()

    [refused] = await user.say(f"/send TCPS113-000101 {NEW_PHONE}")

    assert refused["text"] == NEW_PHONE_NOT_OWNED
    assert buttons(refused) == []  # nothing to confirm
    assert await outbox_bodies(services_of(client), NEW_E164) == []
    assert await person_phone(client, "TCPS113-000101") == "+886911222333"


async def test_a_forged_button_cannot_send_another_companys_code_to_a_new_phone(
    linked: Linker, client: AppClient, fake: FakeTelegram
) -> None:
    """Callback data comes from the client: a button made up with a new number for a pass
    the operator does not own names no question this server asked, so it has expired
    (and the use case would refuse the new number anyway)."""
    user, operator_id = await linked()
    [question] = await user.say("/send TCPS113-000101")  # allowed: the phone on file
    forged_data = f"op:s:{operator_id}:TCPS113-000101:n{NEW_E164}"
    forged = {
        **question,
        "reply_markup": {"inline_keyboard": [[{"text": "確定", "callback_data": forged_data}]]},
    }

    await user.press(forged, forged_data)

    assert shown(fake, user, question)["text"] == EXPIRED_BUTTON
    assert await outbox_bodies(services_of(client), NEW_E164) == []
    assert await outbox_bodies(services_of(client), "+886911222333") == []
    [entry] = await audit(client, "operator.bad_press")
    assert entry["actor"] == f"operator:{operator_id}"


async def test_an_admin_may_send_to_a_new_phone_for_any_pass(
    linked: Linker, client: AppClient, fake: FakeTelegram
) -> None:
    user, _ = await linked("港務公司", admin=True)

    [question] = await user.say(f"/send TCPS113-000101 {NEW_PHONE}")
    await user.press(question, buttons(question)[0][1])

    assert shown(fake, user, question)["text"].startswith(SENT)
    assert len(await outbox_bodies(services_of(client), NEW_E164)) == 1


# --- 發送驗證碼 buttons on /pass and /passes -----------------------------------


async def test_pass_has_a_send_code_button_that_asks_the_send_question(
    linked: Linker, client: AppClient, fake: FakeTelegram
) -> None:
    user, _ = await linked()
    [shown_pass] = await user.say(f"/pass {PASS_NO}")

    assert buttons(shown_pass) == [("發送驗證碼", f"op:a:{PASS_NO}")]
    assert shown_pass["text"].endswith(
        "按「發送驗證碼」以預設手機號碼發送驗證碼；"
        f"要改用新號碼，請傳送 /send {PASS_NO} 0912345678。"
    )

    [question] = await user.press(shown_pass, f"op:a:{PASS_NO}")

    [typed] = await user.say(f"/send {PASS_NO}")
    assert question["text"] == typed["text"]
    assert question["text"] == f"確定要取得{PASS_NO}人員通行證手機(0960-123-411)驗證碼??"
    confirm = buttons(question)[0][1]
    assert buttons(question) == [("確定", confirm), ("取消", "op:x")]
    assert [text for text, _ in buttons(typed)] == ["確定", "取消"]  # its own question
    assert buttons(shown(fake, user, shown_pass)) == [("發送驗證碼", f"op:a:{PASS_NO}")]
    assert await outbox_bodies(services_of(client), ON_FILE_E164) == []  # asked, not sent

    await user.press(question, confirm)

    assert shown(fake, user, question)["text"].startswith(f"{SENT}\n通行證 {PASS_NO}")
    assert len(await outbox_bodies(services_of(client), ON_FILE_E164)) == 1


async def test_each_passes_row_has_a_send_code_button(linked: Linker, fake: FakeTelegram) -> None:
    user, _ = await linked()
    [page] = await user.say("/passes 未驗證")

    rows = listed(page["text"])
    send_buttons = [(t, d) for t, d in buttons(page) if d.startswith("op:a:")]
    with_phone = [p for p in rows if p != "KHPS113-000034"]  # the demo's pass with no phone
    assert send_buttons == [(f"發送驗證碼 {p}", f"op:a:{p}") for p in with_phone]
    assert PASS_NO in rows

    [question] = await user.press(page, f"op:a:{PASS_NO}")

    assert question["text"] == f"確定要取得{PASS_NO}人員通行證手機(0960-123-411)驗證碼??"
    assert buttons(question)[0][0] == "確定" and buttons(question)[0][1].startswith("op:s:")
    assert shown(fake, user, page)["text"] == page["text"]  # the list stays


async def test_send_code_buttons_in_english(linked: Linker) -> None:
    user, _ = await linked(language="en")

    [shown_pass] = await user.say(f"/pass {PASS_NO}")
    [page] = await user.say("/passes unverified")

    assert buttons(shown_pass) == [("Send code", f"op:a:{PASS_NO}")]
    assert ("Send code " + PASS_NO, f"op:a:{PASS_NO}") in buttons(page)
    [question] = await user.press(shown_pass, f"op:a:{PASS_NO}")
    assert question["text"] == f"Send a verification code for pass {PASS_NO} to 0960-123-411?"


async def test_send_code_button_for_another_companys_pass_keeps_it_masked(
    linked: Linker, client: AppClient, fake: FakeTelegram
) -> None:
    """R10: another company's pass is reached only by its exact number (``/pass``), and
    the button's question shows its phone masked, as ``/send`` does."""
    user, _ = await linked()
    [other] = await user.say("/pass TCPS113-000101")

    [question] = await user.press(other, "op:a:TCPS113-000101")
    await user.press(question, buttons(question)[0][1])

    assert question["text"] == "確定要取得TCPS113-000101人員通行證手機(0911-***-333)驗證碼??"
    assert "0911-***-333" in shown(fake, user, question)["text"]
    assert "0911-222-333" not in str(fake.sent_messages(OPERATOR))
    assert len(await outbox_bodies(services_of(client), "+886911222333")) == 1


async def test_send_code_button_problem_is_said_below_and_the_pass_stays(
    linked: Linker, fake: FakeTelegram
) -> None:
    user, _ = await linked()
    [blank] = await user.say("/pass KHPS113-000034")
    # /pass offers no button for a pass without a phone; a message from before the
    # phone was removed (a later registry import) still has one.
    older = {
        **blank,
        "reply_markup": {
            "inline_keyboard": [[{"text": "x", "callback_data": "op:a:KHPS113-000034"}]]
        },
    }

    [refused] = await user.press(older, "op:a:KHPS113-000034")

    assert refused["text"] == NO_PHONE
    assert shown(fake, user, blank)["text"] == blank["text"]


async def test_a_pass_without_a_phone_offers_no_send_button(linked: Linker) -> None:
    """R6: the button could only answer "no phone"; /pass says where the phone comes from."""
    user, _ = await linked()
    [blank] = await user.say("/pass KHPS113-000034")
    [with_phone] = await user.say(f"/pass {PASS_NO}")
    [page] = await user.say("/passes 未驗證")

    assert buttons(blank) == [] and blank["text"].endswith(NO_PHONE)
    assert len(buttons(with_phone)) == 1
    labels = [label for label, _ in buttons(page)]
    assert not any("KHPS113-000034" in label for label in labels)
    assert any(PASS_NO in label for label in labels)


async def test_send_code_button_of_a_revoked_operator_expires(
    linked: Linker, client: AppClient, fake: FakeTelegram
) -> None:
    user, operator_id = await linked()
    [shown_pass] = await user.say(f"/pass {PASS_NO}")
    await services_of(client).operator_lifecycle.revoke(operator_id)

    assert await user.press(shown_pass, f"op:a:{PASS_NO}") == []

    assert [a.get("text") for a in fake.callback_answers()] == [EXPIRED_BUTTON]
    assert buttons(shown(fake, user, shown_pass)) == []
    assert await outbox_bodies(services_of(client), ON_FILE_E164) == []
