"""``portpass chat --from 0960123411``: text the running server from a terminal.

A newcomer can walk the whole SMS flow without Twilio: each line typed is posted to
``/sms/inbound`` exactly as Twilio would post it, signed with the same token the server
checks (it loads the same configuration: ``twilio.auth_token``, or in demo mode the
token derived from the secret key), and the TwiML answers are printed as plain text.
The SMS the server sends to that phone are read from the demo inbox
(``/dev/inbox.json``) and printed as they arrive, so the code can be typed back.

Each message is signed for the URL it is posted to (``--url``, by default
``server.host`` and ``server.port``) + ``/sms/inbound``: a server whose
``server.public_base_url`` is left at its default checks signatures over the address
it serves (:func:`bot.server.served_base_url`), whatever port it was given. When
``server.public_base_url`` is set, the server checks that URL, as Twilio signs the
public URL (behind a reverse proxy it is not where the server listens), so the chat
signs it instead. A refused signature names the URL signed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import threading
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TextIO

import aiohttp
from twilio.request_validator import SIGNATURE_HEADER, RequestValidator

from bot.config import Config, ServerConfig
from bot.sms.inbound import PATH
from bot.sms.signature import webhook_auth_token
from core.errors import InvalidInput
from core.values import Phone

LineReader = Callable[[], Awaitable[str | None]]
_DEMO_ACCOUNT = "AC" + "0" * 32
_TIMEOUT = aiohttp.ClientTimeout(total=10)


class ChatError(Exception):
    """Ends the session with one line: the server is missing or will not listen."""


@dataclass(frozen=True, slots=True)
class ChatTarget:
    server_url: str  # where requests go (--url)
    signed_url: str  # what the signature covers: the public URL Twilio would call
    token: str
    sender: str  # E.164, as Twilio sends From
    account_sid: str
    to: str
    poll_interval: float = 0.5  # how often the demo inbox is read
    settle: float = 1.5  # how long to wait for SMS after the input ends

    @property
    def shown_sender(self) -> str:
        try:
            return Phone(self.sender).display
        except Exception:  # a number phonenumbers cannot format: show it as given
            return self.sender


def target_from(config: Config, phone: str, url: str | None) -> ChatTarget:
    """Where and how to post, from the same configuration the server loaded."""
    if (
        not config.twilio.auth_token
        and not config.security.secret_key
        and config.sqlite_path is None
    ):
        # The server would sign with a key of its own process that nobody else can know.
        raise ChatError(
            "set twilio.auth_token or security.secret_key (for the server too): without "
            "either, a demo server on PostgreSQL signs with a key only it knows"
        )
    token = webhook_auth_token(config, demo=True)
    if token is None:  # cannot happen with demo=True; says so rather than posting unsigned
        raise ChatError("no token to sign with: set twilio.auth_token")
    server_url = (url or _default_url(config)).rstrip("/")
    return ChatTarget(
        server_url=server_url,
        signed_url=signed_base(config, server_url) + PATH,
        token=token,
        sender=_sender(phone, config.phone.allowed_regions),
        account_sid=config.twilio.account_sid or _DEMO_ACCOUNT,
        to=config.twilio.from_number or "+886900000000",
    )


def signed_base(config: Config, server_url: str) -> str:
    """The base of the URL the server checks signatures over: ``public_base_url`` when
    set, else the address posted to (the server follows its own address then)."""
    if config.server.public_base_url != ServerConfig().public_base_url:
        return config.server.public_base_url
    return server_url


def _default_url(config: Config) -> str:
    host = config.server.host
    if host in ("0.0.0.0", "::", ""):  # noqa: S104 (compared, not bound)
        host = "127.0.0.1"
    return f"http://{host}:{config.server.port}"


def _sender(raw: str, regions: tuple[str, ...]) -> str:
    """The phone as Twilio would give it. A foreign ``+`` number is sent as typed, so
    what the server does with numbers it cannot verify (it answers nothing) can be
    tried too."""
    try:
        return Phone.parse(raw, regions=regions).e164
    except InvalidInput:
        compact = "".join(raw.split())
        if compact.startswith("+") and compact[1:].isdigit():
            return compact
        raise ChatError(f"--from {raw!r} is not a mobile number, e.g. 0960123411") from None


# --- one message ------------------------------------------------------------------------


def signed_form(target: ChatTarget, body: str) -> tuple[dict[str, str], str]:
    """The fields Twilio posts for an incoming SMS, and their signature."""
    form = {
        "MessageSid": f"SM{uuid.uuid4().hex}",
        "AccountSid": target.account_sid,
        "From": target.sender,
        "To": target.to,
        "Body": body,
        "NumMedia": "0",
        "NumSegments": "1",
    }
    return form, RequestValidator(target.token).compute_signature(target.signed_url, form)


def replies_in(twiml: str) -> list[str]:
    root = ET.fromstring(twiml)  # noqa: S314 (TwiML from the server this user runs)
    return [message.text or "" for message in root.iter("Message")]


def refusal(target: ChatTarget, status: int) -> str | None:
    """What a refused message means, in one line; ``None`` if it was not refused."""
    if status == 403:
        return (
            f"the server refused the signature for {target.signed_url}: it checks "
            "signatures over server.public_base_url (when left unset, the address it "
            "serves: pass that as --url) with twilio.auth_token or, in demo mode, "
            "security.secret_key; run portpass chat with the server's configuration "
            "and working directory"
        )
    if status == 503:
        return (
            "the server takes no inbound SMS: set twilio.auth_token, or run portpass serve --demo"
        )
    return None


async def send(session: aiohttp.ClientSession, target: ChatTarget, body: str) -> list[str]:
    form, signature = signed_form(target, body)
    async with session.post(
        target.server_url + PATH, data=form, headers={SIGNATURE_HEADER: signature}
    ) as response:
        refused = refusal(target, response.status)
        if refused is not None:
            raise ChatError(refused)
        if response.status != 200:
            return [f"(the server answered HTTP {response.status})"]
        return replies_in(await response.text())


# --- the demo inbox ------------------------------------------------------------------------


class Inbox:
    """Polls ``/dev/inbox.json`` for SMS to the chat's phone, newer than the last seen."""

    def __init__(self, session: aiohttp.ClientSession, target: ChatTarget) -> None:
        self._session, self._target = session, target
        self._after = 0

    async def start(self) -> bool:
        """Skip what was sent before this session; ``False`` if there is no inbox."""
        found = await self._fetch()
        if found is None:
            return False
        self._after = max((m["id"] for m in found), default=0)
        return True

    async def new(self) -> list[dict[str, Any]]:
        found = await self._fetch() or []
        if found:
            self._after = max(m["id"] for m in found)
        return found

    async def _fetch(self) -> list[dict[str, Any]] | None:
        query = {"to": self._target.sender, "after": str(self._after)}
        url = self._target.server_url + "/dev/inbox.json"
        async with self._session.get(url, params=query) as response:
            if response.status != 200:
                return None
            found: list[dict[str, Any]] = await response.json()
            return found


# --- the session -----------------------------------------------------------------------------


def _print(out: TextIO, first: str, text: str) -> None:
    lines = text.splitlines() or [""]
    print(f"{first}{lines[0]}", file=out)
    for line in lines[1:]:
        print(f"{' ' * len(first)}{line}", file=out)
    out.flush()


async def _watch(inbox: Inbox, target: ChatTarget, out: TextIO) -> None:
    while True:
        with contextlib.suppress(TimeoutError, aiohttp.ClientError):
            for sms in await inbox.new():
                _print(out, f"[SMS to {target.shown_sender}] ", str(sms["body"]))
        await asyncio.sleep(target.poll_interval)


async def run_chat(target: ChatTarget, read_line: LineReader, out: TextIO) -> None:
    """Until ``read_line`` gives ``None`` (end of input). Raises :class:`ChatError`."""
    async with aiohttp.ClientSession(timeout=_TIMEOUT) as session:
        try:
            async with session.get(target.server_url + "/healthz"):
                pass
            inbox = Inbox(session, target)
            has_inbox = await inbox.start()
        except (TimeoutError, aiohttp.ClientError):
            raise ChatError(
                f"no server at {target.server_url}: start one with portpass serve --demo"
            ) from None
        print(
            f"Texting {target.server_url} as {target.shown_sender}. "
            "Type 驗證 (or VERIFY) to start; Ctrl-D quits.",
            file=out,
        )
        if not has_inbox:
            print("(no demo inbox on this server: the SMS it sends are not shown)", file=out)
        watcher = asyncio.create_task(_watch(inbox, target, out)) if has_inbox else None
        try:
            while (line := await read_line()) is not None:
                if not line.strip():
                    continue
                try:
                    replies = await send(session, target, line.strip())
                except (TimeoutError, aiohttp.ClientError):
                    raise ChatError(f"lost the server at {target.server_url}") from None
                for reply in replies or ["(no reply)"]:
                    _print(out, "< ", reply)
            if watcher is not None:
                # Input may end (a pipe) before the SMS it asked for is sent: wait a moment.
                await asyncio.sleep(target.settle)
        finally:
            if watcher is not None:
                watcher.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await watcher


def stdin_reader(stream: TextIO | None = None) -> LineReader:
    """Lines from ``stream`` (default: ``sys.stdin``) without blocking the loop. A daemon
    thread, not the default executor: at Ctrl-C, Python would otherwise wait for a read
    that never ends."""
    source = sys.stdin if stream is None else stream
    loop = asyncio.get_running_loop()
    lines: asyncio.Queue[str | None] = asyncio.Queue()

    def put(line: str | None) -> None:
        with contextlib.suppress(RuntimeError):  # the session is over and its loop closed
            loop.call_soon_threadsafe(lines.put_nowait, line)

    def pump() -> None:
        with contextlib.suppress(OSError, ValueError):  # unreadable or closed input
            for line in source:
                put(line)
        put(None)  # end of input, however it came: the session ends

    threading.Thread(target=pump, name="portpass-chat-stdin", daemon=True).start()
    return lines.get


async def chat_command(args: argparse.Namespace, config: Config) -> int:
    """``portpass chat``: the session on stdin and stdout; problems as one line."""
    try:
        target = target_from(config, args.sender, args.url)
        await run_chat(target, stdin_reader(), sys.stdout)
    except ChatError as error:
        print(f"portpass chat: {error}", file=sys.stderr)
        return 1
    return 0
