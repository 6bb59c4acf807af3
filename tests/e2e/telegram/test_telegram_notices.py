"""Notices on Telegram: operators read their company's recent notices (``/notices``) and
get a daily digest; the app talks to FakeTelegram through the real PTB client.

The demo registry: KHPS113-000047 verified (0960123411), KHPS113-000043 unverified,
KHPS111-000014 pending, TCPS113-000101 of another company (unverified)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from bot.config import Config
from bot.notices.delivery import NOTICE_MESSENGER as MESSENGER
from bot.notices.delivery import NoticeTuning
from bot.telegram.notices import DIGESTS
from core.model import Channel
from core.notices.records import Source
from core.opt_outs.model import OptOut, OptOutSource
from core.values import Phone
from fakes.clock import FakeClock
from fakes.telegram_api import FakeTelegram
from fakes.telegram_updates import UpdateIds
from storage.tables import notice_digests, outbox, persons
from tests.e2e.conftest import AppClient, services_of
from tests.e2e.telegram.fixtures import (
    ID_NO,
    PASS_NO,
    PHONE_E164,
    TelegramUser,
    latest_code,
    outbox_bodies,
)

JSONDict = dict[str, Any]
KH, TC = "高雄港測試業者", "臺中港測試公司"
OPERATOR, ADMIN, OTHER, STRANGER = 720_000_001, 720_000_002, 720_000_003, 720_000_004
HOLDER = 720_000_005


@pytest.fixture
async def client(make_client: Callable[..., Awaitable[AppClient]], config: Config) -> AppClient:
    # The digest loop looks once an hour here: the tests run the digest themselves.
    return await make_client(config, notices=NoticeTuning(digest_interval=3600))


@pytest.fixture
def ids() -> UpdateIds:
    return UpdateIds()


async def link(
    client: AppClient,
    fake: FakeTelegram,
    ids: UpdateIds,
    user_id: int,
    company: str = KH,
    *,
    admin: bool = False,
    language: str = "zh-hant",
) -> TelegramUser:
    _, code = await services_of(client).operator_lifecycle.add_operator("王小明", company, admin)
    user = TelegramUser(client, fake, user_id, language_code=language, ids=ids)
    [reply] = await user.say(f"/link {code.code}")
    assert reply["text"].startswith(("已連結", "Linked")), reply
    return user


def event(event_id: str, pass_no: str, kind: str = "suspended_inactive") -> JSONDict:
    return {
        "event_id": event_id,
        "pass_no": pass_no,
        "kind": kind,
        "occurred_at": "2026-11-26T08:30:00+08:00",
    }


async def receive(client: AppClient, *events: JSONDict) -> None:
    await services_of(client).notices.receive(
        list(events), source=Source.API, actor="api:notices", channel=Channel.WEB
    )


async def messages_to(fake: FakeTelegram, chat: int, count: int) -> list[JSONDict]:
    """Wait (a few seconds at most) until ``chat`` has ``count`` messages."""
    async with asyncio.timeout(5):
        while len(sent := fake.sent_messages(chat)) < count:
            await fake.wait_for("sendMessage", len(fake.calls_to("sendMessage")) + 1)
    return sent


# --- the holder's chat ----------------------------------------------------------------------


async def verify_in_chat(holder: TelegramUser) -> None:
    """The holder verifies KHPS113-000043 (0960123411) from this chat with the code."""
    question = await holder.verify_until_confirm()
    await holder.press(question, f"c:confirm:{PASS_NO}")
    [done] = await holder.say(await latest_code(holder.client))
    assert done["text"].startswith("手機驗證完成！")


async def test_the_chat_that_verified_the_pass_is_told_on_telegram_too(
    client: AppClient, fake: FakeTelegram, ids: UpdateIds
) -> None:
    holder = TelegramUser(client, fake, HOLDER, ids=ids)
    await verify_in_chat(holder)
    before = len(fake.sent_messages(HOLDER))
    results = await services_of(client).notices.receive(
        [event("e1", PASS_NO, "suspended_abnormal")],
        source=Source.API,
        actor="api:notices",
        channel=Channel.WEB,
    )
    assert (results[0].reach.value, results[0].telegram_chats) == ("sms", 1)
    assert await client.app[MESSENGER].deliver_due() in (0, 1)  # or the running loop sent it
    sent = await messages_to(fake, HOLDER, before + 1)
    assert sent[-1]["text"] == (
        "港區通行證 KHPS113-**0043 通知：一個月內兩筆異常進出紀錄，已停用（2026/11/26）。\n"
        "如有疑問請洽所屬公司業者申請人。"
    )
    bodies = await outbox_bodies(services_of(client), PHONE_E164)
    assert bodies[-1] == (
        "港區通行證末四碼0043因一個月內兩筆異常進出紀錄，已於2026/11/26停用。請洽所屬公司業者申請人"
    )


async def test_an_opted_out_phone_is_not_texted_but_the_chat_is_told(
    client: AppClient, fake: FakeTelegram, ids: UpdateIds, clock: FakeClock
) -> None:
    holder = TelegramUser(client, fake, HOLDER, ids=ids)
    await verify_in_chat(holder)
    sms_before = len(await outbox_bodies(services_of(client), PHONE_E164))
    async with services_of(client).uow() as uow:
        await uow.opt_outs.add(OptOut(Phone(PHONE_E164), clock.now(), OptOutSource.KEYWORD, "STOP"))
        await uow.commit()
    before = len(fake.sent_messages(HOLDER))
    [result] = await services_of(client).notices.receive(
        [event("e1", PASS_NO, "reinstated")],
        source=Source.API,
        actor="api:notices",
        channel=Channel.WEB,
    )
    assert (result.reach.value, result.reason.value if result.reason else None) == (
        "unreachable",
        "opted_out",
    )
    assert len(await outbox_bodies(services_of(client), PHONE_E164)) == sms_before
    await client.app[MESSENGER].deliver_due()
    sent = await messages_to(fake, HOLDER, before + 1)
    assert "已恢復使用" in sent[-1]["text"]


async def test_a_chat_that_verified_a_phone_since_replaced_is_not_told(
    client: AppClient, fake: FakeTelegram, ids: UpdateIds
) -> None:
    """The verification must stand: after the phone on file changed (pending, R7), the
    chat that proved the old number hears nothing, and nothing is texted."""
    holder = TelegramUser(client, fake, HOLDER, ids=ids)
    await verify_in_chat(holder)
    async with services_of(client).engine.begin() as conn:
        await conn.execute(
            persons.update().where(persons.c.id_no == ID_NO).values(phone="+886912345678")
        )
    [result] = await services_of(client).notices.receive(
        [event("e1", PASS_NO)], source=Source.API, actor="api:notices", channel=Channel.WEB
    )
    assert (result.reason.value if result.reason else None, result.telegram_chats) == (
        "pending",
        0,
    )


# --- /notices ---------------------------------------------------------------------------------


async def test_notices_lists_the_companys_recent_notices_with_why_unreachable(
    client: AppClient, fake: FakeTelegram, ids: UpdateIds
) -> None:
    user = await link(client, fake, ids, OPERATOR)
    await receive(
        client,
        event("e1", "KHPS113-000047"),
        event("e2", "KHPS113-000043", "abnormal_record"),
        event("e3", "KHPS111-000014", "suspended_abnormal"),
        event("e4", "TCPS113-000101"),  # another company's: not shown
    )
    # The outbox worker runs in this app and may already have sent the notice SMS; the
    # list shows the SMS state as stored, so pin it to "still to send" (not due for a day).
    async with services_of(client).engine.begin() as conn:
        later = services_of(client).clock.now() + timedelta(days=1)
        await conn.execute(outbox.update().values(state="pending", next_attempt_at=later))
    [reply] = await user.say("/notices")
    assert reply["text"] == (
        f"{KH}最近 30 天的通知：3 則\n"
        "2026/11/26 KHPS111-000014 一個月內兩筆異常進出紀錄，已停用\n　無法通知：手機待重新驗證\n"
        "2026/11/26 KHPS113-000043 一筆異常進出紀錄（一個月內兩筆將停用）\n　無法通知：手機未驗證\n"
        "2026/11/26 KHPS113-000047 逾六個月未進出，已停用\n　簡訊待發送"
    )
    [only] = await user.say("/notices 無法通知")
    assert only["text"].startswith(f"{KH}最近 30 天無法通知的通知：2 則\n")
    assert "KHPS113-000047" not in only["text"]


async def test_an_admin_sees_every_company_and_an_sms_state_as_it_changes(
    client: AppClient, fake: FakeTelegram, ids: UpdateIds
) -> None:
    admin = await link(client, fake, ids, ADMIN, admin=True, language="en")
    await receive(client, event("e1", "KHPS113-000047"), event("e4", "TCPS113-000101"))
    async with services_of(client).engine.begin() as conn:
        await conn.execute(outbox.update().values(state="delivered"))
    [reply] = await admin.say("/notices")
    assert reply["text"] == (
        "Notices of all companies in the last 30 days: 2\n"
        f"2026/11/26 TCPS113-000101 ({TC}) suspended: no gate passage for six months\n"
        "  not reachable: phone not verified\n"
        f"2026/11/26 KHPS113-000047 ({KH}) suspended: no gate passage for six months\n"
        "  SMS delivered"
    )


async def test_notices_with_an_unknown_word_says_how_to_use_it(
    client: AppClient, fake: FakeTelegram, ids: UpdateIds
) -> None:
    user = await link(client, fake, ids, OPERATOR)
    [reply] = await user.say("/notices everything")
    assert reply["text"] == "請輸入 /notices，或 /notices 無法通知 只列出無法通知的通知。"


async def test_a_non_operator_learns_nothing_from_notices(
    client: AppClient, fake: FakeTelegram, ids: UpdateIds
) -> None:
    await receive(client, event("e1", "KHPS113-000047"))
    stranger = TelegramUser(client, fake, STRANGER, ids=ids)
    [unknown] = await stranger.say("/whatever")
    [reply] = await stranger.say("/notices")
    assert reply["text"] == unknown["text"]
    assert "KHPS" not in reply["text"]


# --- the daily digest -------------------------------------------------------------------------


async def test_each_operator_gets_the_days_digest_once(
    client: AppClient, fake: FakeTelegram, ids: UpdateIds, clock: FakeClock
) -> None:
    await link(client, fake, ids, OPERATOR)
    await link(client, fake, ids, OTHER, TC)
    before, other_before = len(fake.sent_messages(OPERATOR)), len(fake.sent_messages(OTHER))
    await receive(
        client,
        event("e1", "KHPS113-000047"),
        event("e2", "KHPS113-000043", "abnormal_record"),
    )
    clock.current = datetime(2026, 11, 28, 0, 5, tzinfo=UTC)  # 08:05 the next day, Taipei
    digests = client.app[DIGESTS]
    outcome = await digests.run()
    assert (outcome.queued, outcome.empty) == (1, 1)  # the other company had no notices
    await client.app[MESSENGER].deliver_due()
    sent = await messages_to(fake, OPERATOR, before + 1)
    assert sent[-1]["text"] == (
        f"港區通行證通知日報 2026/11/28（{KH}）\n"
        "2026/11/27 08:00 至 2026/11/28 08:00 共 2 則：已發簡訊 1 則，無法以簡訊通知 1 則。\n"
        "\n"
        "無法以簡訊通知（請協助持證人完成手機驗證）：\n"
        "2026/11/26 KHPS113-000043 一筆異常進出紀錄（一個月內兩筆將停用）\n　無法通知：手機未驗證\n"
        "\n"
        "已發簡訊：\n"
        "2026/11/26 KHPS113-000047 逾六個月未進出，已停用\n　簡訊待發送"
    )
    # Later the same day, and from a second instance on the same database: nothing more.
    clock.advance(hours=3)
    again = await digests.run()
    assert (again.queued, again.already) == (0, 2)
    await client.app[MESSENGER].deliver_due()
    assert len(fake.sent_messages(OPERATOR)) == before + 1
    assert len(fake.sent_messages(OTHER)) == other_before


async def test_a_restarted_server_does_not_send_the_digest_again(
    make_client: Callable[..., Awaitable[AppClient]],
    config: Config,
    fake: FakeTelegram,
    ids: UpdateIds,
    clock: FakeClock,
) -> None:
    first = await make_client(config, notices=NoticeTuning(digest_interval=3600))
    await link(first, fake, ids, OPERATOR)
    await receive(first, event("e1", "KHPS113-000043"))
    clock.current = datetime(2026, 11, 28, 1, 0, tzinfo=UTC)
    assert (await first.app[DIGESTS].run()).queued == 1
    await first.close()  # serve stops (the digest row stays), then starts again
    second = await make_client(config, notices=NoticeTuning(digest_interval=3600))
    assert (await second.app[DIGESTS].run()).already == 1
    async with services_of(second).engine.connect() as conn:
        rows = (await conn.execute(select(notice_digests.c.day))).scalars().all()
    assert [day.isoformat() for day in rows] == ["2026-11-28"]
