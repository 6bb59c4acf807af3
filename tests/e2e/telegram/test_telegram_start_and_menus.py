"""What a newcomer meets first on Telegram: the ``/start`` greeting, deep
links, ``/help`` naming the slash commands, and the command menus (holders' for every
private chat, operators' only in a linked operator's chat)."""

from __future__ import annotations

import asyncio
import logging

import pytest
from telegram import Bot

from bot.cli.main import main
from bot.telegram.menus import REMEMBER_SECONDS, OperatorMenus
from fakes.telegram_api import FakeTelegram
from fakes.telegram_updates import UpdateIds, deep_link_update
from tests.e2e.conftest import AppClient, services_of
from tests.e2e.telegram.fixtures import ID_NO, PASS_NO, TelegramUser, post_update, texts

USER, OPERATOR = 556_000_111, 556_000_222
KEPT_DAYS = 30  # not the default (90): the greeting must follow the configuration

GREETING_ZH = (
    "您好，這裡是港區人員通行證手機驗證。驗證通行證登錄的手機號碼後，通行證停用或進出紀錄"
    "異常時，港務公司會以簡訊通知這支手機。\n"
    "接下來會請您輸入：通行證號、身分證號、手機號碼（可按按鈕分享）。\n"
    f"隱私：資料只用來核對港務公司的通行證資料；驗證紀錄在驗證碼到期後保存 {KEPT_DAYS} 天，"
    "之後刪除；紀錄檔中的身分證號與手機號碼一律遮蔽。"
)
ASK_PASS = "請輸入通行證號（例：KHPS113-000043）。"
ASK_ID = "請輸入身分證號（例：A123456789）。"

HOLDER_MENU = ["start", "verify", "status", "cancel", "lang", "help"]
OPERATOR_MENU = [*HOLDER_MENU, "passes", "pass", "send", "stats", "export", "notices", "unlink"]


@pytest.fixture
def env(env: dict[str, str]) -> dict[str, str]:
    return env | {"PORTPASS_RETENTION_VERIFICATION_REQUESTS_DAYS": str(KEPT_DAYS)}


@pytest.fixture
def ids() -> UpdateIds:
    return UpdateIds()


@pytest.fixture
def user(client: AppClient, fake: FakeTelegram, ids: UpdateIds) -> TelegramUser:
    return TelegramUser(client, fake, USER, ids=ids)


async def open_deep_link(user: TelegramUser, payload: str) -> list[dict[str, object]]:
    """The user opens ``t.me/<bot>?start=<payload>`` and taps Start."""
    before = len(user.fake.sent_messages(user.user_id))
    update = deep_link_update(user.ids.next(), user.user_id, payload, language_code="zh-hant")
    assert await post_update(user.client, update) == 200
    return user.fake.sent_messages(user.user_id)[before:]


# --- /start greets, then asks ------------------------------------------------------------------


async def test_start_greets_with_purpose_questions_and_privacy_then_asks_the_pass(
    user: TelegramUser,
) -> None:
    greeting, ask = await user.say("/start")

    assert greeting["text"] == GREETING_ZH
    assert ask["text"] == ASK_PASS
    [ask_id] = await user.say(PASS_NO)  # the flow goes on as before
    assert ask_id["text"] == ASK_ID


async def test_start_greets_an_english_telegram_user_in_english(
    client: AppClient, fake: FakeTelegram
) -> None:
    user = TelegramUser(client, fake, USER + 1, language_code="en-US")

    greeting, ask = await user.say("/start")

    assert greeting["text"].startswith("Hello, this is port pass phone verification.")
    assert (
        "You will be asked for: your pass number, your ID number, your mobile number"
        in greeting["text"]
    )
    assert f"kept for {KEPT_DAYS} days after the code expires" in greeting["text"]
    assert ask["text"] == "Please type your pass number (for example KHPS113-000043)."


# --- deep links ---------------------------------------------------------------------------------


async def test_deep_link_verify_starts_the_flow(user: TelegramUser) -> None:
    assert texts(await open_deep_link(user, "verify")) == [GREETING_ZH, ASK_PASS]


async def test_deep_link_with_a_pass_number_takes_it_as_the_first_answer(
    user: TelegramUser,
) -> None:
    greeting, ask_id = await open_deep_link(user, PASS_NO)

    assert (greeting["text"], ask_id["text"]) == (GREETING_ZH, ASK_ID)
    [ask_phone] = await user.say(ID_NO)
    assert ask_phone["text"].startswith("請輸入通行證登錄的手機號碼")


async def test_deep_link_with_a_bad_pass_number_says_what_is_expected(user: TelegramUser) -> None:
    assert texts(await open_deep_link(user, "hello")) == [
        GREETING_ZH,
        "通行證號格式不正確，請輸入如 KHPS113-000043 的通行證號。",
    ]
    [ask_id] = await user.say(PASS_NO)  # still at the first question
    assert ask_id["text"] == ASK_ID


# --- /help names the slash commands -----------------------------------------------------------


async def test_help_names_the_slash_commands(user: TelegramUser) -> None:
    [help_] = await user.say("/help")

    assert help_["text"].startswith("港區通行證手機驗證：傳送「驗證」開始")
    for command in ("/start", "/verify", "/status", "/cancel", "/lang", "/help"):
        assert command in help_["text"]
    assert "/passes" not in help_["text"]


async def test_help_in_the_middle_keeps_the_question(user: TelegramUser) -> None:
    await user.say("/start")

    await user.say("/help")
    [ask_id] = await user.say(PASS_NO)

    assert ask_id["text"] == ASK_ID


# --- the command menus ----------------------------------------------------------------------------


async def test_holders_get_a_menu_in_chinese_and_english_at_start_up(
    client: AppClient, fake: FakeTelegram
) -> None:
    private = {"type": "all_private_chats"}

    zh = {c["command"]: c["description"] for c in fake.commands(private)}
    en = {c["command"]: c["description"] for c in fake.commands(private, "en")}

    assert list(zh) == HOLDER_MENU and list(en) == HOLDER_MENU
    assert (zh["start"], en["start"]) == ("開始手機驗證", "Start phone verification")
    assert (zh["status"], en["status"]) == ("查詢驗證狀態", "Your verification status")
    assert fake.menu(USER, "zh-hant") == HOLDER_MENU
    assert fake.commands() == []  # nothing in groups (the default scope)


async def test_operator_menu_only_in_a_linked_chat_and_gone_after_unlink(
    client: AppClient, fake: FakeTelegram, ids: UpdateIds, user: TelegramUser
) -> None:
    _, code = await services_of(client).operator_lifecycle.add_operator("王小明", "高雄港測試業者")
    operator = TelegramUser(client, fake, OPERATOR, ids=ids)

    await operator.say(f"/link {code.code}")

    chat = {"type": "chat", "chat_id": OPERATOR}
    assert fake.menu(OPERATOR, "zh-hant") == OPERATOR_MENU
    assert fake.menu(OPERATOR, "en") == OPERATOR_MENU
    assert {c["command"]: c["description"] for c in fake.commands(chat)}["send"] == "發送驗證碼"
    assert {c["command"]: c["description"] for c in fake.commands(chat, "en")}["send"] == (
        "Send a verification code"
    )
    assert fake.menu(USER, "zh-hant") == HOLDER_MENU  # a stranger sees no operator command

    await operator.say("/unlink")

    assert fake.menu(OPERATOR, "zh-hant") == HOLDER_MENU
    assert fake.menu(OPERATOR, "en") == HOLDER_MENU
    deleted = fake.calls_to("deleteMyCommands")
    assert [(c["scope"], c.get("language_code")) for c in deleted] == [
        (chat, None),
        (chat, "en"),
        (chat, "vi"),
        (chat, "id"),
    ]


async def test_a_revoked_operators_menu_goes_at_their_next_operator_command(
    client: AppClient, fake: FakeTelegram, ids: UpdateIds
) -> None:
    """Revoked from the CLI while Telegram was out of reach: the menu still shows the
    operator commands; the first one typed takes them away (and answers as for anyone)."""
    lifecycle = services_of(client).operator_lifecycle
    account, code = await lifecycle.add_operator("王小明", "高雄港測試業者")
    operator = TelegramUser(client, fake, OPERATOR, ids=ids)
    await operator.say(f"/link {code.code}")
    await lifecycle.revoke(account.id)

    [answer] = await operator.say("/passes")

    assert answer["text"].startswith("傳送「驗證」開始手機驗證")
    assert fake.menu(OPERATOR, "zh-hant") == HOLDER_MENU


async def test_a_revoke_from_the_cli_removes_the_operators_menu_at_once(
    client: AppClient,
    fake: FakeTelegram,
    ids: UpdateIds,
    env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    account, code = await services_of(client).operator_lifecycle.add_operator(
        "王小明", "高雄港測試業者"
    )
    operator = TelegramUser(client, fake, OPERATOR, ids=ids)
    await operator.say(f"/link {code.code}")
    assert fake.menu(OPERATOR, "zh-hant") == OPERATOR_MENU
    for name, value in env.items():  # the CLI reads the server's configuration
        monkeypatch.setenv(name, value)

    # The CLI runs its own event loop, as from a shell; the fake answers on this one.
    status = await asyncio.to_thread(main, ["operator", "revoke", account.id])

    assert status == 0
    out = capsys.readouterr().out
    assert "their Telegram command menu no longer shows operator commands" in out
    assert fake.menu(OPERATOR, "zh-hant") == HOLDER_MENU
    assert fake.menu(OPERATOR, "en") == HOLDER_MENU


async def test_a_menu_telegram_refuses_does_not_stop_the_link_and_logs_no_token(
    client: AppClient,
    fake: FakeTelegram,
    ids: UpdateIds,
    caplog: pytest.LogCaptureFixture,
) -> None:
    _, code = await services_of(client).operator_lifecycle.add_operator("王小明", "高雄港測試業者")
    operator = TelegramUser(client, fake, OPERATOR, ids=ids)
    fake.fail_next("setMyCommands", 401, "Unauthorized")

    with caplog.at_level(logging.WARNING, logger="bot"):
        [linked] = await operator.say(f"/link {code.code}")

    assert linked["text"].startswith("已連結")
    assert "Telegram operator menu not set: InvalidToken" in caplog.text
    assert fake.token not in caplog.text and fake.token.split(":")[1] not in caplog.text
    [page] = await operator.say("/passes")  # the commands work typed
    assert page["text"].startswith("高雄港測試業者所屬通行證")


async def test_a_strangers_commands_do_not_delete_menus_every_time(
    client: AppClient, fake: FakeTelegram, user: TelegramUser
) -> None:
    """Someone who never was an operator types operator commands: their chat is cleared
    of a possible stale operator menu once, not with four Bot API calls per command."""
    for command in ("/passes", "/pass KHPS113-000043", "/send KHPS113-000043", "/stats"):
        await user.say(command)

    assert len(fake.calls_to("deleteMyCommands")) <= 4  # one clean-up, one call a language
    assert fake.menu(USER, "zh-hant") == HOLDER_MENU


async def test_a_menu_set_after_the_clean_up_is_removed_again(
    client: AppClient, fake: FakeTelegram, ids: UpdateIds
) -> None:
    """What was remembered follows what was set: a chat that got the operator menu after
    its clean-up (linked, then revoked while Telegram was unreachable from the CLI) has it
    removed at its next operator command."""
    lifecycle = services_of(client).operator_lifecycle
    operator = TelegramUser(client, fake, OPERATOR, ids=ids)
    await operator.say("/passes")  # a stranger yet: the clean-up
    account, code = await lifecycle.add_operator("王小明", "高雄港測試業者")
    await operator.say(f"/link {code.code}")
    await lifecycle.revoke(account.id)

    await operator.say("/passes")
    await operator.say("/stats")

    assert fake.menu(OPERATOR, "zh-hant") == HOLDER_MENU
    assert len(fake.calls_to("deleteMyCommands")) == 8  # the first clean-up and this one


async def test_a_cleared_chat_is_checked_again_after_an_hour(fake: FakeTelegram) -> None:
    """Another ``serve`` process may have set a menu since: the memory lasts an hour, and
    a clean-up Telegram refused is not remembered."""
    now = [0.0]
    menus = OperatorMenus(clock=lambda: now[0])
    async with Bot(fake.token, base_url=fake.base_url) as bot:
        fake.fail_next("deleteMyCommands", 500, "Internal Server Error")
        await menus.remove_stale(bot, USER)  # refused: not remembered
        await menus.remove_stale(bot, USER)
        await menus.remove_stale(bot, USER)  # remembered
        now[0] = REMEMBER_SECONDS + 1
        await menus.remove_stale(bot, USER)

    assert len(fake.calls_to("deleteMyCommands")) == 1 + 4 + 4
