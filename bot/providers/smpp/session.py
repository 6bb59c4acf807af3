"""One SMPP bind: connect (TLS or not), bind, answer the SMSC, ``enquire_link`` while
idle, ``unbind`` on stop, and reconnect with backoff and full jitter when the link
drops. Requests wait for their response by sequence number, at most ``window`` at a time.

A bind refused for its credentials (ESME_RINVPASWD, ESME_RINVSYSID, ESME_RBINDFAIL)
is logged once at ERROR with the reason and retried every ``refused_pause`` seconds,
never in a tight loop; sends meanwhile answer "config error" so the outbox pauses.
Every PDU's fields are read by aiosmpplib; passwords and bodies are never logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import random
import ssl
from collections.abc import Awaitable, Callable

from aiosmpplib import (
    BindReceiver,
    BindTransceiver,
    BindTransmitter,
    EnquireLink,
    Unbind,
)

from bot.providers.smpp.codec import HEADER, header_of
from bot.providers.smpp.link import CREDENTIALS_REFUSED, Link, NotBound, read_pdu

log = logging.getLogger(__name__)

GENERIC_NACK = 0x80000000
DELIVER_SM, ENQUIRE_LINK, UNBIND = 0x00000005, 0x00000015, 0x00000006
_BINDS = {"transceiver": BindTransceiver, "transmitter": BindTransmitter, "receiver": BindReceiver}

DeliverHandler = Callable[[bytes], Awaitable[int]]


class Session:
    """One bind of ``mode`` (transceiver, transmitter or receiver); ``on_deliver`` gets
    each ``deliver_sm`` PDU and answers the command status for its response."""

    def __init__(self, link: Link, mode: str, on_deliver: DeliverHandler | None = None) -> None:
        self.link, self.mode, self.on_deliver = link, mode, on_deliver
        self.bound = asyncio.Event()
        self.refused: str | None = None
        self.binds = 0
        self._window = asyncio.Semaphore(link.window)
        self._pending: dict[int, asyncio.Future[bytes]] = {}
        self._sequence = itertools.count(1)
        self._writer: asyncio.StreamWriter | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self._handlers: set[asyncio.Task[None]] = set()
        self._rng = random.Random()  # noqa: S311 - jitter, not a secret

    @property
    def in_window(self) -> int:
        return len(self._pending)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=f"smpp {self.mode}")

    async def stop(self) -> None:
        """``unbind``, wait briefly for its answer, and close."""
        self._stopping.set()
        if self.bound.is_set():
            with contextlib.suppress(Exception):
                await self.request(lambda seq: Unbind(sequence_num=seq).pdu(), seconds=2.0)
        if self._writer is not None:
            self._writer.close()
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await asyncio.gather(*self._handlers, return_exceptions=True)

    # --- requests -----------------------------------------------------------------

    async def request(
        self, build: Callable[[int], bytes], *, seconds: float | None = None
    ) -> bytes:
        """Send the PDU ``build(sequence)`` makes and return the response PDU. Raises
        :class:`NotBound`, ``TimeoutError`` (no answer: it may have been taken) or
        ``ConnectionError`` (the link dropped while waiting)."""
        wait = seconds if seconds is not None else self.link.response_timeout
        if not self.bound.is_set():
            if self.refused is not None:
                raise NotBound(self.refused)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.bound.wait(), min(wait, 2.0))
            if not self.bound.is_set() or self._writer is None:
                raise NotBound(self.refused)
        async with self._window:
            writer = self._writer
            if writer is None or not self.bound.is_set():
                raise NotBound(self.refused)
            sequence = next(self._sequence) & 0x7FFFFFFF
            future: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
            self._pending[sequence] = future
            try:
                writer.write(build(sequence))
                return await asyncio.wait_for(future, wait)
            finally:
                self._pending.pop(sequence, None)

    # --- the connection -------------------------------------------------------------

    async def _run(self) -> None:
        failures = 0
        while not self._stopping.is_set():
            try:
                await self._connect_and_serve()
                failures = 0 if self.binds else failures
            except (OSError, EOFError, TimeoutError, ConnectionError) as error:
                if not self._stopping.is_set():
                    log.warning(
                        "smpp %s: link to %s:%d lost: %s",
                        self.mode,
                        self.link.host,
                        self.link.port,
                        type(error).__name__,
                    )
            finally:
                self._drop()
            if self._stopping.is_set():
                break
            failures += 1
            if self.refused is not None:
                delay = self.link.refused_pause
            else:
                growth = self.link.reconnect_base * 2.0 ** min(failures, 30)
                ceiling = min(self.link.reconnect_cap, growth)
                delay = self._rng.uniform(ceiling / 2, ceiling)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), delay)

    async def _connect_and_serve(self) -> None:
        link = self.link
        context = ssl.create_default_context() if link.tls else None
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(link.host, link.port, ssl=context), link.response_timeout
        )
        self._writer = writer
        bind = _BINDS[self.mode](
            sequence_num=next(self._sequence),
            system_id=link.system_id,
            password=link.password,
            system_type=link.system_type,
        )
        writer.write(bind.pdu())
        answer = await asyncio.wait_for(read_pdu(reader), link.response_timeout)
        _, command, status, _ = header_of(answer)
        if command != bind.smpp_command | 0x80000000 or status != 0:
            self._refused(status)
            return
        if self.refused is not None:
            log.warning("smpp %s: bound again after the bind was refused", self.mode)
        self.refused = None
        self.binds += 1
        self.bound.set()
        log.info("smpp %s: bound to %s:%d", self.mode, link.host, link.port)
        keeper = asyncio.create_task(self._keep_alive())
        try:
            await self._serve(reader, writer)
        finally:
            keeper.cancel()
            await asyncio.gather(keeper, return_exceptions=True)

    def _refused(self, status: int) -> None:
        reason = CREDENTIALS_REFUSED.get(status, f"bind refused with status 0x{status:08X}")
        if self.refused != reason:  # once per reason, not once per try
            log.error(
                "smpp %s: the SMSC refused the bind as system_id %r: %s; retrying every %gs "
                "until smpp.system_id and smpp.password are fixed",
                self.mode,
                self.link.system_id,
                reason,
                self.link.refused_pause,
            )
        self.refused = reason

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            pdu = await read_pdu(reader)
            _, command, _, sequence = header_of(pdu)
            if command & 0x80000000:
                future = self._pending.get(sequence)
                if future is not None and not future.done():
                    future.set_result(pdu)
            elif command == DELIVER_SM:
                task = asyncio.create_task(self._deliver(pdu, sequence, writer))
                self._handlers.add(task)
                task.add_done_callback(self._handlers.discard)
            elif command == ENQUIRE_LINK:
                writer.write(HEADER.pack(16, ENQUIRE_LINK | 0x80000000, 0, sequence))
            elif command == UNBIND:
                writer.write(HEADER.pack(16, UNBIND | 0x80000000, 0, sequence))
                log.warning("smpp %s: the SMSC unbound us", self.mode)
                return
            else:  # ESME_RINVCMDID: not a command we serve
                writer.write(HEADER.pack(16, GENERIC_NACK, 0x03, sequence))

    async def _deliver(self, pdu: bytes, sequence: int, writer: asyncio.StreamWriter) -> None:
        status = 0x08  # ESME_RSYSERR: the SMSC delivers it again
        try:
            if self.on_deliver is not None:
                status = await self.on_deliver(pdu)
        except Exception:
            log.exception("smpp %s: deliver_sm not handled; the SMSC will send it again", self.mode)
        body = b"\x00"  # message_id: empty C-string
        with contextlib.suppress(Exception):
            writer.write(HEADER.pack(17, DELIVER_SM | 0x80000000, status, sequence) + body)

    async def _keep_alive(self) -> None:
        """``enquire_link`` every ``enquire_link_seconds``; no answer closes the link."""
        while True:
            await asyncio.sleep(self.link.enquire_link_seconds)
            try:
                await self.request(lambda seq: EnquireLink(sequence_num=seq).pdu())
            except (TimeoutError, NotBound, ConnectionError):
                log.warning("smpp %s: no answer to enquire_link; reconnecting", self.mode)
                if self._writer is not None:
                    self._writer.close()
                return

    def _drop(self) -> None:
        self.bound.clear()
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        for future in self._pending.values():
            if not future.done():
                future.set_exception(ConnectionError("the SMPP link dropped"))
