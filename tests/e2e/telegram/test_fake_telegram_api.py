"""Real python-telegram-bot clients against FakeTelegram: the fake is only useful if PTB
accepts its answers and the fake understands PTB's requests."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from telegram import (
    Bot,
    BotCommand,
    BotCommandScopeAllPrivateChats,
    BotCommandScopeChat,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    Message,
    ReplyKeyboardMarkup,
    Update,
)
from telegram.error import BadRequest, Conflict, Forbidden, InvalidToken
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from fakes.telegram_api import SECRET_HEADER, FakeTelegram, UpdateNotAllowedError
from fakes.telegram_updates import (
    UpdateIds,
    callback_update,
    contact_update,
    deep_link_update,
    message_update,
)

USER = 555_000_111


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as server:
        yield server


@pytest.fixture
async def bot(fake: FakeTelegram) -> AsyncIterator[Bot]:
    async with Bot(fake.token, base_url=fake.base_url, base_file_url=fake.base_file_url) as b:
        yield b


def build_app(
    fake: FakeTelegram, *, rate_limiter: AIORateLimiter | None = None
) -> Application[Any, Any, Any, Any, Any, Any]:
    builder = (
        ApplicationBuilder()
        .token(fake.token)
        .base_url(fake.base_url)
        .base_file_url(fake.base_file_url)
        .updater(None)
    )
    if rate_limiter is None:
        return builder.build()
    return builder.rate_limiter(rate_limiter).build()


def inline_keyboard() -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton("確定", callback_data="confirm:yes")],
         [InlineKeyboardButton("取消", callback_data="confirm:no")]]
    )  # fmt: skip


# -- Bot against the fake ------------------------------------------------------------------


async def test_bot_urls_are_base_url_plus_token(fake: FakeTelegram, bot: Bot) -> None:
    assert bot.base_url == f"{fake.base_url}{fake.token}"
    assert bot.base_file_url == f"{fake.base_file_url}{fake.token}"


async def test_get_me(fake: FakeTelegram, bot: Bot) -> None:
    me = await bot.get_me()

    assert me.is_bot
    assert me.username == "portpass_test_bot"
    assert me.id == int(fake.token.split(":")[0])
    assert bot.username == "portpass_test_bot"  # initialize() already called getMe
    assert [method for method, _params in fake.calls] == ["getMe", "getMe"]


async def test_send_message_with_inline_keyboard(fake: FakeTelegram, bot: Bot) -> None:
    first = await bot.send_message(USER, "確定要取得驗證碼??", reply_markup=inline_keyboard())
    second = await bot.send_message(USER, "第二則")
    other_chat = await bot.send_message(USER + 1, "別人")

    assert (first.message_id, second.message_id, other_chat.message_id) == (1, 2, 1)
    assert first.chat.id == USER
    assert first.from_user is not None and first.from_user.username == "portpass_test_bot"
    assert first.reply_markup == inline_keyboard()
    sent = fake.last_message(USER)
    assert sent is not None and sent["text"] == "第二則"
    recorded = fake.sent_messages(USER)[0]
    assert recorded["message_id"] == 1
    assert recorded["reply_markup"] == {
        "inline_keyboard": [
            [{"text": "確定", "callback_data": "confirm:yes"}],
            [{"text": "取消", "callback_data": "confirm:no"}],
        ]
    }
    # PTB form-encodes every non-string parameter as JSON: reply_markup arrives as a string.
    assert isinstance(fake.calls_to("sendMessage")[0]["reply_markup"], dict)


async def test_send_message_with_contact_request_keyboard(fake: FakeTelegram, bot: Bot) -> None:
    keyboard = ReplyKeyboardMarkup(
        [[KeyboardButton("分享手機號碼", request_contact=True)]],
        resize_keyboard=True,
        one_time_keyboard=True,
    )

    message = await bot.send_message(USER, "請分享手機號碼", reply_markup=keyboard)

    assert message.reply_markup is None  # Telegram echoes inline keyboards only
    sent = fake.last_message(USER)
    assert sent is not None
    assert sent["reply_markup"] == {
        "keyboard": [[{"text": "分享手機號碼", "request_contact": True}]],
        "resize_keyboard": True,
        "one_time_keyboard": True,
    }


async def test_edit_message_text(fake: FakeTelegram, bot: Bot) -> None:
    message = await bot.send_message(USER, "確定?", reply_markup=inline_keyboard())

    edited = await bot.edit_message_text("已確定", chat_id=USER, message_id=message.message_id)

    assert isinstance(edited, Message)
    assert edited.text == "已確定"
    assert edited.edit_date is not None
    assert edited.reply_markup is None  # editing without reply_markup drops the keyboard
    assert fake.message(USER, message.message_id) == fake.message(USER, 1)
    assert fake.edits(USER)[0]["text"] == "已確定"
    with pytest.raises(BadRequest, match=r"^Message is not modified"):
        await bot.edit_message_text("已確定", chat_id=USER, message_id=message.message_id)


async def test_edit_reply_markup_and_delete(fake: FakeTelegram, bot: Bot) -> None:
    message = await bot.send_message(USER, "確定?", reply_markup=inline_keyboard())

    edited = await bot.edit_message_reply_markup(USER, message.message_id, reply_markup=None)
    assert await bot.delete_message(USER, message.message_id)

    assert isinstance(edited, Message) and edited.reply_markup is None
    assert fake.edits(USER)[0]["method"] == "editMessageReplyMarkup"
    with pytest.raises(BadRequest, match="Message to edit not found"):
        await bot.edit_message_text("x", chat_id=USER, message_id=message.message_id)
    with pytest.raises(BadRequest, match="Message to delete not found"):
        await bot.delete_message(USER, message.message_id)


async def test_answer_callback_query(fake: FakeTelegram, bot: Bot) -> None:
    assert await bot.answer_callback_query("4300000000000000001", text="已收到")

    assert fake.callback_answers() == [
        {"callback_query_id": "4300000000000000001", "text": "已收到"}
    ]


async def test_send_document_keeps_name_and_bytes(fake: FakeTelegram, bot: Bot) -> None:
    content = "pass_no,status\nKHPS113-000043,已驗證\n".encode()

    message = await bot.send_document(USER, content, filename="status.csv", caption="狀態")

    assert message.document is not None
    assert message.document.file_name == "status.csv"
    assert message.document.file_size == len(content)
    assert message.caption == "狀態"
    [doc] = fake.documents(USER)
    assert (doc["file_name"], doc["content"], doc["caption"]) == ("status.csv", content, "狀態")
    assert doc["mime_type"] == "text/csv"


async def test_set_webhook_records_url_secret_and_allowed_updates(
    fake: FakeTelegram, bot: Bot
) -> None:
    url = "https://portpass.example/telegram/webhook"

    assert await bot.set_webhook(
        url, secret_token="s3cret_TOKEN-1", allowed_updates=["message", "callback_query"]
    )
    info = await bot.get_webhook_info()

    assert fake.webhook.url == url
    assert fake.webhook.secret_token == "s3cret_TOKEN-1"
    assert fake.webhook.allowed_updates == ["message", "callback_query"]
    assert info.url == url
    assert info.allowed_updates == ("message", "callback_query")
    with pytest.raises(Conflict):
        await bot.get_updates()
    assert await bot.delete_webhook()
    assert (await bot.get_webhook_info()).url == ""


async def test_set_webhook_refuses_what_telegram_refuses(bot: Bot) -> None:
    with pytest.raises(BadRequest, match=r"^Bad webhook: an https url must be provided"):
        await bot.set_webhook("http://127.0.0.1:8080/telegram/webhook")
    with pytest.raises(BadRequest, match="unallowed characters"):
        await bot.set_webhook("https://portpass.example/hook", secret_token="has space")


async def test_refusals_map_to_ptb_errors(fake: FakeTelegram, bot: Bot) -> None:
    with pytest.raises(BadRequest, match=r"^Message text is empty$"):
        await bot.send_message(USER, "")
    with pytest.raises(BadRequest, match="Message is too long"):
        await bot.send_message(USER, "驗" * 4097)
    with pytest.raises(BadRequest, match="Button_data_invalid"):
        await bot.send_message(
            USER, "x", reply_markup=InlineKeyboardMarkup.from_button(
                InlineKeyboardButton("x", callback_data="x" * 65)
            )
        )  # fmt: skip
    fake.block(USER)
    with pytest.raises(Forbidden, match="blocked"):
        await bot.send_message(USER, "hi")

    assert fake.sent_messages() == []
    assert [call.method for call, _error in fake.errors] == ["sendMessage"] * 4


async def test_wrong_token_is_invalid_token(fake: FakeTelegram) -> None:
    wrong = Bot("123:wrong", base_url=fake.base_url)
    try:
        with pytest.raises(InvalidToken):
            await wrong.initialize()  # getMe -> 401
    finally:
        await wrong.shutdown()  # closes the HTTP clients initialize() opened
    assert fake.rejected_tokens == ["123:wrong"]
    assert fake.calls == []


async def test_set_my_commands(fake: FakeTelegram, bot: Bot) -> None:
    commands = [BotCommand("start", "開始驗證"), BotCommand("status", "查詢驗證狀態")]

    assert await bot.set_my_commands(commands)

    assert [c["command"] for c in fake.commands()] == ["start", "status"]
    assert await bot.get_my_commands() == tuple(commands)
    with pytest.raises(BadRequest, match="Bot_command_invalid"):
        await bot.set_my_commands([BotCommand("Status", "大寫不行")])


async def test_scoped_commands_and_the_menu_a_user_sees(fake: FakeTelegram, bot: Bot) -> None:
    private = BotCommandScopeAllPrivateChats()
    await bot.set_my_commands([BotCommand("start", "開始")], scope=private)
    await bot.set_my_commands([BotCommand("help", "Help")], scope=private, language_code="en")
    mine = BotCommandScopeChat(USER)
    await bot.set_my_commands([BotCommand("passes", "列表")], scope=mine)

    assert fake.menu(USER, "zh-hant") == ["passes"]
    assert fake.menu(USER + 1, "zh-hant") == ["start"]
    assert fake.menu(USER + 1, "en-US") == ["help"]
    assert fake.menu(USER + 1, None) == ["start"]
    assert await bot.get_my_commands(scope=mine) == (BotCommand("passes", "列表"),)

    assert await bot.delete_my_commands(scope=mine)

    assert fake.menu(USER, "zh-hant") == ["start"]
    assert [c["scope"] for c in fake.calls_to("deleteMyCommands")] == [
        {"type": "chat", "chat_id": USER}
    ]


async def test_get_updates_honours_offset_and_returns_on_timeout(
    fake: FakeTelegram, bot: Bot
) -> None:
    ids = UpdateIds(start=10)
    fake.queue_update(
        message_update(next(ids), USER, "/start"), message_update(next(ids), USER, "hi")
    )

    first = await bot.get_updates(timeout=5)
    rest = await bot.get_updates(offset=first[0].update_id + 1, timeout=5)
    loop = asyncio.get_running_loop()
    started = loop.time()
    empty = await bot.get_updates(offset=rest[-1].update_id + 1, timeout=30)

    assert [u.update_id for u in first] == [10, 11]
    assert first[0].message is not None and first[0].message.text == "/start"
    assert [u.update_id for u in rest] == [11]
    assert empty == ()
    assert loop.time() - started < 2  # long polls are capped at max_poll_seconds


async def test_long_poll_returns_when_an_update_is_queued(fake: FakeTelegram, bot: Bot) -> None:
    poll = asyncio.create_task(bot.get_updates(timeout=30))
    await fake.wait_for("getUpdates")
    fake.queue_update(message_update(1, USER, "hi"))

    updates = await poll

    assert [u.update_id for u in updates] == [1]


async def test_wait_for_times_out_with_what_was_called(fake: FakeTelegram, bot: Bot) -> None:
    with pytest.raises(TimeoutError, match=r"sendMessage called 0 times, wanted 1.*getMe"):
        await fake.wait_for("sendMessage", timeout=0.05)


def test_update_builders_match_what_ptb_parses() -> None:
    bot = Bot("1:x")
    command = Update.de_json(message_update(1, USER, "/start@portpass_test_bot 驗證"), bot)
    contact = Update.de_json(contact_update(2, USER, "+886912345678", USER), bot)
    group = Update.de_json(message_update(3, USER, "hi", chat_type="supergroup"), bot)

    assert command.message is not None
    assert command.message.parse_entities() == {
        command.message.entities[0]: "/start@portpass_test_bot"
    }
    assert command.effective_user is not None
    assert command.effective_user.language_code == "zh-hant"
    assert contact.message is not None and contact.message.contact is not None
    assert contact.message.contact.user_id == USER
    assert group.effective_chat is not None and group.effective_chat.type == "supergroup"
    assert group.effective_chat.id < 0
    ids = UpdateIds(start=5)
    assert [ids.next(), next(ids), ids.next()] == [5, 6, 7]


async def test_raw_http_json_get_401_and_404(fake: FakeTelegram) -> None:
    root = f"{fake.base_url}{fake.token}"
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{root}/sendMessage", json={"chat_id": "42", "text": "hi",
                                "reply_markup": '{"inline_keyboard": []}'}) as resp:  # fmt: skip
            assert resp.status == 200
            assert (await resp.json())["result"]["chat"]["id"] == 42
        async with session.get(f"{root}/getMe") as resp:
            assert (await resp.json())["result"]["username"] == "portpass_test_bot"
        async with session.post(f"{fake.base_url}1:bad/getMe") as resp:
            assert resp.status == 401
            assert await resp.json() == {
                "ok": False, "error_code": 401, "description": "Unauthorized"
            }  # fmt: skip
        async with session.post(f"{root}/sendCarrierPigeon") as resp:
            assert resp.status == 404
            assert await resp.json() == {"ok": False, "error_code": 404, "description": "Not Found"}
        async with session.post(f"{root}/sendMessage", data={"chat_id": "42", "text": ""}) as resp:
            assert resp.status == 400
            assert (await resp.json())["description"] == "Bad Request: message text is empty"

    assert fake.last_message(42) == {
        "chat_id": 42, "text": "hi", "reply_markup": {"inline_keyboard": []}, "message_id": 1
    }  # fmt: skip


async def test_deliver_posts_to_the_webhook_with_the_secret(fake: FakeTelegram, bot: Bot) -> None:
    received: list[tuple[str | None, dict[str, Any]]] = []

    async def hook(request: web.Request) -> web.Response:
        received.append((request.headers.get(SECRET_HEADER), await request.json()))
        return web.Response()

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        port = runner.addresses[0][1]
        await bot.set_webhook("https://portpass.example/hook", secret_token="abc",
                              allowed_updates=["message"])  # fmt: skip
        update = message_update(1, USER, "/start")

        status = await fake.deliver(update, url=f"http://127.0.0.1:{port}/hook")

        assert status == 200
        assert received == [("abc", update)]
        with pytest.raises(UpdateNotAllowedError):
            await fake.deliver(
                callback_update(2, USER, "x", 1), url=f"http://127.0.0.1:{port}/hook"
            )
    finally:
        await runner.cleanup()


# -- Application (no updater) fed by Update.de_json ------------------------------------------


async def test_application_command_handler_reply_is_recorded(fake: FakeTelegram) -> None:
    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.message is not None
        await update.message.reply_text("歡迎", reply_markup=inline_keyboard())

    app = build_app(fake)
    app.add_handler(CommandHandler("start", start))
    await app.initialize()
    try:
        update = Update.de_json(message_update(1, USER, "/start"), app.bot)
        await app.process_update(update)
    finally:
        await app.shutdown()

    reply = fake.last_message(USER)
    assert reply is not None
    assert reply["text"] == "歡迎"
    assert reply["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == "confirm:yes"


async def test_application_command_with_bot_username(fake: FakeTelegram) -> None:
    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_chat is not None
        await context.bot.send_message(update.effective_chat.id, f"args={context.args}")

    app = build_app(fake)
    app.add_handler(CommandHandler("start", start))
    async with app:  # initialize() ... shutdown()
        await app.process_update(
            Update.de_json(message_update(1, USER, "/start@portpass_test_bot abc"), app.bot)
        )
        await app.process_update(
            Update.de_json(message_update(2, USER, "/start@other_bot abc"), app.bot)
        )

    assert [m["text"] for m in fake.sent_messages(USER)] == ["args=['abc']"]


async def test_a_deep_link_start_carries_its_payload_as_the_argument(fake: FakeTelegram) -> None:
    """``t.me/<bot>?start=KHPS113-000043`` arrives as ``/start KHPS113-000043``: PTB's
    CommandHandler sees ``/start`` with the payload as ``context.args``."""

    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_chat is not None
        await context.bot.send_message(update.effective_chat.id, f"args={context.args}")

    app = build_app(fake)
    app.add_handler(CommandHandler("start", start))
    async with app:
        for update_id, payload in enumerate(["verify", "KHPS113-000043"], start=1):
            await app.process_update(
                Update.de_json(deep_link_update(update_id, USER, payload), app.bot)
            )

    assert [m["text"] for m in fake.sent_messages(USER)] == [
        "args=['verify']",
        "args=['KHPS113-000043']",
    ]
    sample = deep_link_update(3, USER, "verify")["message"]
    assert sample["text"] == "/start verify"
    assert sample["entities"] == [{"type": "bot_command", "offset": 0, "length": 6}]
    with pytest.raises(ValueError, match="deep-link payload"):
        deep_link_update(4, USER, "KHPS113 000043")


async def test_application_callback_query_answer_and_edit(fake: FakeTelegram) -> None:
    async def on_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        assert query is not None
        await query.answer()
        await query.edit_message_text(f"你選了 {query.data}")

    app = build_app(fake)
    app.add_handler(CallbackQueryHandler(on_button))
    async with app:
        update = Update.de_json(callback_update(7, USER, "confirm:yes", message_id=3), app.bot)
        await app.process_update(update)

    [answer] = fake.callback_answers()
    assert update.callback_query is not None
    assert answer["callback_query_id"] == update.callback_query.id
    [edit] = fake.edits(USER)
    assert (edit["message_id"], edit["text"]) == (3, "你選了 confirm:yes")


async def test_application_contact_handler(fake: FakeTelegram) -> None:
    async def on_contact(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.message
        assert message is not None and message.contact is not None
        assert message.from_user is not None
        own = message.contact.user_id == message.from_user.id
        await message.reply_text(f"{message.contact.phone_number} own={own}")

    app = build_app(fake)
    app.add_handler(MessageHandler(filters.CONTACT, on_contact))
    async with app:
        await app.process_update(
            Update.de_json(contact_update(1, USER, "+886912345678", USER), app.bot)
        )
        await app.process_update(
            Update.de_json(contact_update(2, USER, "886912000000", None), app.bot)
        )

    assert [m["text"] for m in fake.sent_messages(USER)] == [
        "+886912345678 own=True",
        "886912000000 own=False",
    ]


async def test_application_wait_for_reply_from_background_task(fake: FakeTelegram) -> None:
    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.message is not None
        await update.message.reply_text("稍等")

    app = build_app(fake)
    app.add_handler(CommandHandler("start", start))
    async with app:
        await app.start()
        await app.update_queue.put(Update.de_json(message_update(1, USER, "/start"), app.bot))
        [params] = await fake.wait_for("sendMessage", 1, timeout=5)
        await app.stop()

    assert params["text"] == "稍等"


async def test_application_with_aio_rate_limiter(fake: FakeTelegram) -> None:
    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.message is not None
        for n in range(3):
            await update.message.reply_text(f"第{n}則")

    app = build_app(fake, rate_limiter=AIORateLimiter(max_retries=0))
    app.add_handler(CommandHandler("start", start))
    async with app:
        await app.process_update(Update.de_json(message_update(1, USER, "/start"), app.bot))

    assert [m["text"] for m in fake.sent_messages(USER)] == ["第0則", "第1則", "第2則"]


async def test_aio_rate_limiter_retries_after_429(
    fake: FakeTelegram, monkeypatch: pytest.MonkeyPatch
) -> None:
    # RetryAfter's constructor reads its deprecated int-valued retry_after property, which
    # emits PTBDeprecationWarning (an error under filterwarnings=error) unless PTB_TIMEDELTA.
    monkeypatch.setenv("PTB_TIMEDELTA", "true")
    fake.fail_next("sendMessage", retry_after=1)

    app = build_app(fake, rate_limiter=AIORateLimiter(max_retries=1))
    async with app:
        message = await app.bot.send_message(USER, "重試後送出")

    assert message.message_id == 1
    assert len(fake.calls_to("sendMessage")) == 2
    assert fake.errors[0][1].error_code == 429
    assert [m["text"] for m in fake.sent_messages(USER)] == ["重試後送出"]
