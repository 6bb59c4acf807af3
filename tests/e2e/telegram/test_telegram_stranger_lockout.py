"""A stranger who knows a holder's pass, ID and phone asks first in their own Telegram chat,
then types wrong codes. The holder must still be able to verify: in their own chat, by the
link in the SMS, and by the code their company's operator re-issues. Real Update JSON into
the app's webhook, real HTTP to the link page; the assertions are what people see."""

from __future__ import annotations

import re

from sqlalchemy import select

from fakes.telegram_api import FakeTelegram
from fakes.telegram_updates import UpdateIds
from storage.tables import audit_log
from tests.e2e.conftest import AppClient, services_of
from tests.e2e.telegram.fixtures import (
    PASS_NO,
    TelegramUser,
    latest_code,
    latest_link_token,
    outbox_bodies,
    texts,
)

HOLDER, STRANGER, OPERATOR = 555_000_111, 555_000_666, 710_000_001
CONFIRM_DATA = f"c:confirm:{PASS_NO}"
ZH_PAGE = {"Accept-Language": "zh-TW,zh;q=0.9"}
LOCKED = "驗證碼錯誤次數過多，這裡不能再輸入這個驗證碼。"
VERIFIED = "手機驗證完成！"


def wrong(code: str, n: int) -> str:
    return f"{(int(code) + n) % 1000000:06d}"


async def stranger_locks_the_code(client: AppClient, fake: FakeTelegram, ids: UpdateIds) -> str:
    """The stranger asks first and types six wrong codes; returns the holder's code."""
    stranger = TelegramUser(client, fake, STRANGER, ids=ids)
    await stranger.press(await stranger.verify_until_confirm(), CONFIRM_DATA)
    code = await latest_code(client)
    answers = [texts(await stranger.say(wrong(code, n))) for n in range(1, 7)]
    assert answers[0] == ["驗證碼不正確，還可以再試 4 次。"]
    assert answers[4][0].startswith(LOCKED)
    return code


async def test_a_strangers_wrong_codes_do_not_lock_the_holders_own_chat(
    client: AppClient, fake: FakeTelegram
) -> None:
    ids = UpdateIds()
    code = await stranger_locks_the_code(client, fake, ids)
    holder = TelegramUser(client, fake, HOLDER, ids=ids)

    told = await holder.press(await holder.verify_until_confirm(), CONFIRM_DATA)
    [verified] = await holder.say(code)

    assert "驗證碼已經發送到登記的手機（24小時內只發送一次）" in texts(told)[0]
    assert len(await outbox_bodies(services_of(client))) == 1  # R2: still one SMS
    assert verified["text"].startswith(VERIFIED)


async def test_a_strangers_wrong_codes_do_not_lock_the_holders_link(
    client: AppClient, fake: FakeTelegram
) -> None:
    await stranger_locks_the_code(client, fake, UpdateIds())
    path = f"/v/{await latest_link_token(client)}"

    shown = await client.get(path, headers=ZH_PAGE)
    page = await shown.text()
    tag = re.search(r'name="tag" value="([0-9a-f]+)"', page)
    assert shown.status == 200 and tag is not None, page
    posted = await client.post(path, data={"tag": tag.group(1)}, headers=ZH_PAGE)

    assert posted.status == 200
    assert "手機驗證完成" in await posted.text()


async def test_an_operator_reissues_the_code_a_stranger_locked(
    client: AppClient, fake: FakeTelegram
) -> None:
    ids = UpdateIds()
    await stranger_locks_the_code(client, fake, ids)
    old_link = f"/v/{await latest_link_token(client)}"
    _, link_code = await services_of(client).operator_lifecycle.add_operator(
        "王小明", "高雄港測試業者"
    )
    operator = TelegramUser(client, fake, OPERATOR, ids=ids)
    await operator.say(f"/link {link_code.code}")

    [question] = await operator.say(f"/send {PASS_NO}")
    confirm = question["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
    await operator.press(question, confirm)

    answered = fake.message(OPERATOR, question["message_id"])
    assert answered is not None
    assert answered["text"].startswith("驗證碼已經成功送出。")
    assert (
        "\n先前發送的驗證碼與連結已經失效，請持證人使用這次的簡訊。\n請告訴持證人："
        in answered["text"]
    )
    assert len(await outbox_bodies(services_of(client))) == 2
    old = await client.get(old_link, headers=ZH_PAGE)
    assert old.status == 410
    assert "業者申請人已重新發送驗證簡訊" in await old.text()
    holder = TelegramUser(client, fake, HOLDER, ids=ids)
    await holder.press(await holder.verify_until_confirm(), CONFIRM_DATA)
    [verified] = await holder.say(await latest_code(client))
    assert verified["text"].startswith(VERIFIED)
    query = (
        select(audit_log.c.action)
        .where(audit_log.c.action.like("request.%"))
        .order_by(audit_log.c.id)
    )
    async with services_of(client).engine.connect() as conn:
        actions = list((await conn.execute(query)).scalars())
    assert actions == ["request.holder", "request.superseded", "request.operator", "request.joined"]
