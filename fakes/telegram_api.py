"""A local HTTP server speaking the Telegram Bot API, for tests.

Point a real client at it::

    async with FakeTelegram() as fake:
        async with Bot(fake.token, base_url=fake.base_url) as bot:
            await bot.send_message(42, "hi")
        assert fake.last_message(42)["text"] == "hi"

PTB appends the token to ``base_url`` and then ``/method``, so ``base_url`` ends in ``/bot``.
Requests arrive as PTB sends them: ``application/x-www-form-urlencoded`` (every non-string
value JSON-encoded, so ``reply_markup`` is a JSON string), or ``multipart/form-data`` when a file
is uploaded; JSON bodies and GET query strings are accepted too.

Where the real API refuses a request the fake refuses it the same way (status, ``error_code`` and
``description``): empty or too long text, an edit that changes nothing, callback data over 64
bytes, an invalid webhook secret or a non-HTTPS webhook URL, invalid command names,
``getUpdates`` while a webhook is set. Messages the fake never sent (say, the message under a
button in an update a test built) are treated as existing, so they can be edited.

Why one module: it is one fake server, whose methods share the chats, messages and
webhook state a test inspects.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import re
import time
from collections import defaultdict, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, NamedTuple, Self

import aiohttp
from aiohttp import web

from fakes.telegram_updates import DEFAULT_BOT_USERNAME, DEFAULT_TOKEN, bot_user

JSONDict = dict[str, Any]
ChatKey = int | str

NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup are "
    "exactly the same as a current content and reply markup of the message"
)
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"

# Parameters PTB sends as plain strings; every other form value is JSON (numbers, bools, objects).
_STRING_PARAMS = frozenset(
    {
        "text", "caption", "url", "secret_token", "callback_query_id", "inline_message_id",
        "parse_mode", "language_code", "ip_address", "message_effect_id", "business_connection_id",
        "document", "photo", "thumbnail", "description", "short_description", "name",
        "phone_number", "first_name", "last_name", "vcard", "emoji", "title", "action",
    }
)  # fmt: skip
_SECRET_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,256}")
_COMMAND = re.compile(r"[a-z0-9_]{1,32}")


class Call(NamedTuple):
    method: str
    params: JSONDict


@dataclass(frozen=True)
class UploadedFile:
    """A file received as a multipart part."""

    filename: str | None
    content: bytes
    content_type: str | None


@dataclass
class WebhookState:
    url: str = ""
    secret_token: str | None = None
    allowed_updates: list[str] | None = None
    max_connections: int | None = None


@dataclass
class _Failure:
    error_code: int
    description: str
    parameters: JSONDict = field(default_factory=dict)


class ApiError(Exception):
    """A Bot API refusal: becomes ``{"ok": false, "error_code": ..., "description": ...}``."""

    def __init__(self, error_code: int, description: str, parameters: JSONDict | None = None):
        super().__init__(description)
        self.error_code = error_code
        self.description = description
        self.parameters = parameters or {}


class UpdateNotAllowedError(Exception):
    """``deliver`` was asked for an update type the webhook's ``allowed_updates`` excludes."""


class FakeTelegram:
    """The Bot API on ``127.0.0.1`` at a free port; records every call it receives."""

    def __init__(
        self,
        token: str = DEFAULT_TOKEN,
        *,
        bot_username: str = DEFAULT_BOT_USERNAME,
        max_poll_seconds: float = 0.5,
    ) -> None:
        self.token = token
        bot_id, _, _ = token.partition(":")
        self.bot_user = bot_user(int(bot_id) if bot_id.isdigit() else 1, bot_username)
        self.max_poll_seconds = max_poll_seconds
        self.calls: list[Call] = []
        self.errors: list[tuple[Call, ApiError]] = []
        self.rejected_tokens: list[str] = []
        self.webhook = WebhookState()
        self._updates: list[JSONDict] = []
        self._failures: dict[str, deque[_Failure]] = defaultdict(deque)
        self._blocked: set[ChatKey] = set()
        self._next_id: dict[ChatKey, itertools.count[int]] = {}
        self._messages: dict[tuple[ChatKey, int], JSONDict] = {}
        self._deleted: set[tuple[ChatKey, int]] = set()
        self._sent: list[JSONDict] = []
        self._documents: list[JSONDict] = []
        self._edits: list[JSONDict] = []
        self._commands: dict[tuple[str, str], list[JSONDict]] = {}
        self._file_ids = itertools.count(1)
        self._changed = asyncio.Event()
        self._closing = False
        self._runner: web.AppRunner | None = None
        self._port: int | None = None
        self._methods: dict[str, Callable[[JSONDict], Any]] = {
            "getMe": lambda _p: self.bot_user,
            "sendMessage": self._send_message,
            "editMessageText": self._edit_message_text,
            "editMessageReplyMarkup": self._edit_message_reply_markup,
            "deleteMessage": self._delete_message,
            "answerCallbackQuery": self._answer_callback_query,
            "sendDocument": self._send_document,
            "setWebhook": self._set_webhook,
            "deleteWebhook": self._delete_webhook,
            "getWebhookInfo": self._get_webhook_info,
            "getUpdates": self._get_updates,
            "setMyCommands": self._set_my_commands,
            "getMyCommands": self._get_my_commands,
            "deleteMyCommands": self._delete_my_commands,
        }
        self._by_lower = {name.lower(): name for name in self._methods}

    # -- lifecycle --------------------------------------------------------------------------

    async def start(self) -> Self:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("GET", "/bot{token}/{method}", self._handle)
        app.router.add_route("POST", "/bot{token}/{method}", self._handle)
        self._runner = web.AppRunner(app, shutdown_timeout=1.0, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self._port = self._runner.addresses[0][1]
        return self

    async def close(self) -> None:
        self._closing = True
        self._notify()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("FakeTelegram is not started")
        return self._port

    @property
    def base_url(self) -> str:
        """For ``Bot(token, base_url=...)`` / ``ApplicationBuilder().base_url(...)``."""
        return f"http://127.0.0.1:{self.port}/bot"

    @property
    def base_file_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/file/bot"

    # -- what tests arrange -----------------------------------------------------------------

    def queue_update(self, *updates: JSONDict) -> None:
        """Queue updates for ``getUpdates`` (in update_id order, as Telegram serves them)."""
        self._updates.extend(updates)
        self._updates.sort(key=lambda u: u["update_id"])
        self._notify()

    def fail_next(
        self,
        method: str,
        error_code: int = 500,
        description: str = "Internal Server Error",
        *,
        retry_after: int | None = None,
        times: int = 1,
    ) -> None:
        """Make the next ``times`` calls of ``method`` fail; ``retry_after`` gives a 429."""
        parameters: JSONDict = {}
        if retry_after is not None:
            error_code = 429
            description = f"Too Many Requests: retry after {retry_after}"
            parameters = {"retry_after": retry_after}
        for _ in range(times):
            self._failures[self._canonical(method)].append(
                _Failure(error_code, description, parameters)
            )

    def block(self, chat_id: ChatKey) -> None:
        """The user blocked the bot: sends to ``chat_id`` get 403."""
        self._blocked.add(_chat_key(chat_id))

    async def deliver(self, update: JSONDict, *, url: str | None = None) -> int:
        """POST ``update`` as Telegram does to the webhook (or ``url``); return the HTTP status.

        Sends the secret header set by ``setWebhook`` and honours its ``allowed_updates``.
        """
        target = url or self.webhook.url
        if not target:
            raise RuntimeError("no webhook set and no url given")
        kind = next(key for key in update if key != "update_id")
        allowed = self.webhook.allowed_updates
        if allowed and kind not in allowed:
            raise UpdateNotAllowedError(f"{kind!r} not in allowed_updates {allowed}")
        headers = {SECRET_HEADER: self.webhook.secret_token} if self.webhook.secret_token else {}
        async with (
            aiohttp.ClientSession() as session,
            session.post(target, json=update, headers=headers) as response,
        ):
            await response.read()
            return response.status

    # -- what tests inspect -----------------------------------------------------------------

    def calls_to(self, method: str) -> list[JSONDict]:
        name = self._canonical(method)
        return [call.params for call in self.calls if call.method == name]

    async def wait_for(
        self,
        method: str,
        count: int = 1,
        timeout: float = 5.0,  # noqa: ASYNC109 - a deadline per call reads better in tests
    ) -> list[JSONDict]:
        """Wait until ``method`` has been called ``count`` times (failed calls count too)."""
        try:
            async with asyncio.timeout(timeout):
                while len(found := self.calls_to(method)) < count:
                    await self._wait_change()
        except TimeoutError:
            seen = [call.method for call in self.calls]
            raise TimeoutError(
                f"{method} called {len(self.calls_to(method))} times, wanted {count}; "
                f"calls so far: {seen}"
            ) from None
        return found

    def sent_messages(self, chat_id: ChatKey | None = None) -> list[JSONDict]:
        """Accepted ``sendMessage`` calls: their params plus ``message_id``; ``reply_markup``
        decoded to a dict whatever its kind."""
        return _for_chat(self._sent, chat_id)

    def last_message(self, chat_id: ChatKey) -> JSONDict | None:
        sent = self.sent_messages(chat_id)
        return sent[-1] if sent else None

    def documents(self, chat_id: ChatKey | None = None) -> list[JSONDict]:
        """Accepted ``sendDocument`` calls: ``file_name``, ``content`` (bytes), ``mime_type``,
        ``caption``, ``message_id``, ``chat_id``."""
        return _for_chat(self._documents, chat_id)

    def edits(self, chat_id: ChatKey | None = None) -> list[JSONDict]:
        """Accepted ``editMessageText`` / ``editMessageReplyMarkup`` calls, with ``method``."""
        return _for_chat(self._edits, chat_id)

    def message(self, chat_id: ChatKey, message_id: int) -> JSONDict | None:
        """The current state (after edits) of a message the bot sent; ``None`` if unknown."""
        return self._messages.get((_chat_key(chat_id), message_id))

    def callback_answers(self) -> list[JSONDict]:
        return self.calls_to("answerCallbackQuery")

    def commands(self, scope: JSONDict | None = None, language_code: str = "") -> list[JSONDict]:
        return self._commands.get((_scope_key(scope), language_code), [])

    def menu(self, chat_id: ChatKey, language_code: str | None = None) -> list[str]:
        """The command names a user sees in the menu of their private chat with the bot,
        chosen as Telegram does (Bot API, "Determining list of commands"): the chat's own
        scope, then all private chats, then the default scope; within each, the user's
        language (the two-letter code: ``en-US`` reads ``en``) before no language."""
        language = (language_code or "")[:2].lower()
        scopes: list[JSONDict] = [
            {"type": "chat", "chat_id": _chat_key(chat_id)},
            {"type": "all_private_chats"},
            {"type": "default"},
        ]
        for scope in scopes:
            for code in ([language] if language else []) + [""]:
                found = self._commands.get((_scope_key(scope), code))
                if found:
                    return [str(command["command"]) for command in found]
        return []

    # -- HTTP -------------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            self.rejected_tokens.append(request.match_info["token"])
            return _error(ApiError(401, "Unauthorized"))
        try:
            params = await _read_params(request)
        except ValueError as exc:
            return _error(ApiError(400, f"Bad Request: {exc}"))
        name = self._canonical(request.match_info["method"])
        call = Call(name, params)
        self.calls.append(call)
        self._notify()
        try:
            handler = self._methods.get(name)
            if handler is None:
                raise ApiError(404, "Not Found")
            if self._failures[name]:
                failure = self._failures[name].popleft()
                raise ApiError(failure.error_code, failure.description, failure.parameters)
            result = handler(params)
            if asyncio.iscoroutine(result):
                result = await result
        except ApiError as exc:
            self.errors.append((call, exc))
            return _error(exc)
        return web.json_response({"ok": True, "result": result})

    def _canonical(self, method: str) -> str:
        return self._by_lower.get(method.lower(), method)

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def _wait_change(self, within: float | None = None) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._changed.wait(), within)

    # -- messages ---------------------------------------------------------------------------

    def _send_message(self, p: JSONDict) -> JSONDict:
        chat = self._chat(p)
        text = _text(p)
        markup = _markup(p)
        message_id = self._store(chat, {"text": text, "reply_markup": markup})
        self._sent.append({**p, "chat_id": chat, "message_id": message_id, "reply_markup": markup})
        return self._message_json(chat, message_id)

    def _send_document(self, p: JSONDict) -> JSONDict:
        chat = self._chat(p)
        document = p.get("document")
        if not document:
            raise ApiError(400, "Bad Request: there is no document in the request")
        caption = p.get("caption")
        if isinstance(document, UploadedFile):
            name, content, mime = document.filename, document.content, document.content_type
        else:  # a file_id or URL
            name, content, mime = None, b"", None
        file_no = next(self._file_ids)
        doc: JSONDict = {
            "file_id": f"BQACAgUAAxkDAAI{file_no:06d}",
            "file_unique_id": f"AgAD{file_no:06d}",
            "file_size": len(content),
        }
        doc |= {"file_name": name} if name else {}
        doc |= {"mime_type": mime} if mime else {}
        content_fields: JSONDict = {"document": doc, "reply_markup": _markup(p)}
        content_fields |= {"caption": caption} if caption else {}
        message_id = self._store(chat, content_fields)
        self._documents.append(
            {
                **{k: v for k, v in p.items() if k != "document"},
                "chat_id": chat,
                "message_id": message_id,
                "file_name": name,
                "content": content,
                "mime_type": mime,
                "caption": caption,
            }
        )
        return self._message_json(chat, message_id)

    def _edit_message_text(self, p: JSONDict) -> JSONDict | bool:
        return self._edit(p, "editMessageText", {"text": _text(p), "reply_markup": _markup(p)})

    def _edit_message_reply_markup(self, p: JSONDict) -> JSONDict | bool:
        return self._edit(p, "editMessageReplyMarkup", {"reply_markup": _markup(p)})

    def _edit(self, p: JSONDict, method: str, change: JSONDict) -> JSONDict | bool:
        if p.get("inline_message_id"):
            self._edits.append({**p, **change, "method": method, "chat_id": None})
            return True
        chat, message_id = self._message_ref(p, "Bad Request: message to edit not found")
        stored = self._messages.setdefault((chat, message_id), {})
        same_text = all(stored.get(k) == v for k, v in change.items() if k != "reply_markup")
        same_markup = _inline(stored.get("reply_markup")) == _inline(change["reply_markup"])
        if stored and same_text and same_markup:
            raise ApiError(400, NOT_MODIFIED)
        stored.update(change)
        stored["edit_date"] = int(time.time())
        self._edits.append({**p, **change, "method": method, "chat_id": chat})
        return self._message_json(chat, message_id)

    def _delete_message(self, p: JSONDict) -> bool:
        ref = self._message_ref(p, "Bad Request: message to delete not found")
        self._messages.pop(ref, None)
        self._deleted.add(ref)
        return True

    def _answer_callback_query(self, p: JSONDict) -> bool:
        if not p.get("callback_query_id"):
            raise ApiError(400, "Bad Request: QUERY_ID_INVALID")
        if len(str(p.get("text", ""))) > 200:
            raise ApiError(400, "Bad Request: MESSAGE_TOO_LONG")
        return True

    def _chat(self, p: JSONDict) -> ChatKey:
        if p.get("chat_id") in (None, ""):
            raise ApiError(400, "Bad Request: chat_id is empty")
        chat = _chat_key(p["chat_id"])
        if chat in self._blocked:
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        return chat

    def _message_ref(self, p: JSONDict, not_found: str) -> tuple[ChatKey, int]:
        chat = self._chat(p)
        message_id = p.get("message_id")
        if not isinstance(message_id, int):
            raise ApiError(400, "Bad Request: message identifier is not specified")
        if (chat, message_id) in self._deleted:
            raise ApiError(400, not_found)
        return chat, message_id

    def _store(self, chat: ChatKey, content: JSONDict) -> int:
        message_id = next(self._next_id.setdefault(chat, itertools.count(1)))
        self._messages[(chat, message_id)] = {"date": int(time.time()), **content}
        return message_id

    def _message_json(self, chat: ChatKey, message_id: int) -> JSONDict:
        stored = dict(self._messages[(chat, message_id)])
        markup = _inline(stored.pop("reply_markup", None))  # only inline keyboards come back
        message: JSONDict = {
            "message_id": message_id,
            "from": self.bot_user,
            "chat": _chat_json(chat),
            "date": stored.pop("date", int(time.time())),
            **stored,
        }
        if markup:
            message["reply_markup"] = markup
        return message

    # -- webhook, updates, commands ---------------------------------------------------------

    def _set_webhook(self, p: JSONDict) -> bool:
        url = p.get("url") or ""
        if not url:
            return self._delete_webhook(p)
        if not url.startswith("https://"):
            raise ApiError(
                400, "Bad Request: bad webhook: An HTTPS URL must be provided for webhook"
            )
        secret = p.get("secret_token")
        if secret is not None and not _SECRET_TOKEN.fullmatch(secret):
            raise ApiError(400, "Bad Request: secret token contains unallowed characters")
        self.webhook = WebhookState(
            url=url,
            secret_token=secret,
            allowed_updates=p.get("allowed_updates"),
            max_connections=p.get("max_connections"),
        )
        if p.get("drop_pending_updates"):
            self._updates.clear()
        return True

    def _delete_webhook(self, p: JSONDict) -> bool:
        self.webhook = WebhookState()
        if p.get("drop_pending_updates"):
            self._updates.clear()
        return True

    def _get_webhook_info(self, _p: JSONDict) -> JSONDict:
        info: JSONDict = {
            "url": self.webhook.url,
            "has_custom_certificate": False,
            "pending_update_count": len(self._updates),
        }
        if self.webhook.url and self.webhook.max_connections:
            info["max_connections"] = self.webhook.max_connections
        if self.webhook.url and self.webhook.allowed_updates:
            info["allowed_updates"] = self.webhook.allowed_updates
        return info

    async def _get_updates(self, p: JSONDict) -> list[JSONDict]:
        if self.webhook.url:
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        offset = int(p.get("offset") or 0)
        if offset > 0:  # confirms every update below offset
            self._updates = [u for u in self._updates if u["update_id"] >= offset]
        allowed = p.get("allowed_updates") or []
        limit = int(p.get("limit") or 100)
        wait = min(float(p.get("timeout") or 0), self.max_poll_seconds)
        deadline = asyncio.get_running_loop().time() + wait
        while True:
            ready = [u for u in self._updates if not allowed or _kind(u) in allowed][:limit]
            remaining = deadline - asyncio.get_running_loop().time()
            if ready or remaining <= 0 or self._closing:
                return ready
            await self._wait_change(remaining)

    def _set_my_commands(self, p: JSONDict) -> bool:
        commands = p.get("commands")
        if not isinstance(commands, list):
            raise ApiError(400, "Bad Request: commands is not an array")
        for command in commands:
            if not _COMMAND.fullmatch(str(command.get("command", ""))):
                raise ApiError(400, "Bad Request: BOT_COMMAND_INVALID")
            if not 1 <= len(str(command.get("description", ""))) <= 256:
                raise ApiError(400, "Bad Request: BOT_COMMAND_DESCRIPTION_INVALID")
        self._commands[(_scope_key(p.get("scope")), p.get("language_code", ""))] = commands
        return True

    def _get_my_commands(self, p: JSONDict) -> list[JSONDict]:
        return self.commands(p.get("scope"), p.get("language_code", ""))

    def _delete_my_commands(self, p: JSONDict) -> bool:
        self._commands.pop((_scope_key(p.get("scope")), p.get("language_code", "")), None)
        return True


# -- request parsing and validation helpers ---------------------------------------------------


async def _read_params(request: web.Request) -> JSONDict:
    if request.content_type == "application/json":
        body = await request.json()
        if not isinstance(body, dict):
            raise ValueError("JSON body must be an object")
        return {key: _from_json_body(key, value) for key, value in body.items()}
    params: JSONDict = {key: _from_form(key, value) for key, value in request.query.items()}
    if request.method == "POST" and request.can_read_body:
        for key, value in (await request.post()).items():
            if isinstance(value, web.FileField):
                params[key] = UploadedFile(value.filename, value.file.read(), value.content_type)
            else:
                params[key] = _from_form(key, value)
    return params


def _from_form(key: str, value: str | bytes | bytearray) -> Any:
    if not isinstance(value, str):
        value = value.decode()
    if key in _STRING_PARAMS:
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


def _from_json_body(key: str, value: Any) -> Any:
    if isinstance(value, str) and key not in _STRING_PARAMS:
        with contextlib.suppress(ValueError):
            decoded = json.loads(value)
            if isinstance(decoded, dict | list) or key.endswith("_id"):
                return decoded
    return value


def _error(exc: ApiError) -> web.Response:
    body: JSONDict = {"ok": False, "error_code": exc.error_code, "description": exc.description}
    if exc.parameters:
        body["parameters"] = exc.parameters
    return web.json_response(body, status=exc.error_code)


def _text(p: JSONDict) -> str:
    text = p.get("text")
    if not isinstance(text, str) or not text.strip():
        raise ApiError(400, "Bad Request: message text is empty")
    if len(text.encode("utf-16-le")) // 2 > 4096:
        raise ApiError(400, "Bad Request: message is too long")
    return text


def _markup(p: JSONDict) -> JSONDict | None:
    markup = p.get("reply_markup")
    if markup is None:
        return None
    if not isinstance(markup, dict):
        raise ApiError(400, "Bad Request: can't parse reply keyboard markup JSON object")
    for row in markup.get("inline_keyboard", []):
        for button in row:
            data = button.get("callback_data")
            if data is not None and not 1 <= len(str(data).encode()) <= 64:
                raise ApiError(400, "Bad Request: BUTTON_DATA_INVALID")
    return markup


def _inline(markup: JSONDict | None) -> JSONDict | None:
    return markup if markup and "inline_keyboard" in markup else None


def _chat_key(chat_id: Any) -> ChatKey:
    if isinstance(chat_id, int):
        return chat_id
    text = str(chat_id)
    return int(text) if text.lstrip("-").isdigit() else text


def _chat_json(chat: ChatKey) -> JSONDict:
    if isinstance(chat, str):
        return {"id": -1_009_999_999_999, "type": "channel", "username": chat.lstrip("@")}
    if chat > 0:
        return {"id": chat, "type": "private", "first_name": "測試"}
    kind = "supergroup" if str(chat).startswith("-100") else "group"
    return {"id": chat, "type": kind, "title": "PortPass test group"}


def _for_chat(records: Iterable[JSONDict], chat_id: ChatKey | None) -> list[JSONDict]:
    if chat_id is None:
        return list(records)
    key = _chat_key(chat_id)
    return [record for record in records if record["chat_id"] == key]


def _scope_key(scope: JSONDict | None) -> str:
    return json.dumps(scope or {"type": "default"}, sort_keys=True)


def _kind(update: JSONDict) -> str:
    return next(key for key in update if key != "update_id")
