"""A fake SMSC (SMPP 3.4 server) for tests and benchmarks, over real TCP.

Every PDU it reads or writes goes through smpplib's codec (``smpplib.smpp``), not ours,
so a test against it also checks that the two agree. It accepts binds, answers
``submit_sm`` with message ids, sends delivery receipts, injects holders' messages
(``deliver_sm``, UCS-2 or GSM-7, long ones concatenated with a UDH), and misbehaves on
command: refuses binds, throttles, answers ``generic_nack``, delays or withholds
responses, sends a receipt before the response, drops the connection mid-window.

Why one module: the faults are decisions inside the server's own handling of each PDU
(which answer, when, or none), so the protocol loop and what it can be told to get
wrong only read right together.

Run alone (the campaign benchmark does): ``python -m benchmarks.smsc_process --port 2775``.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import struct
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from smpplib import gsm, smpp

_HEADER = struct.Struct(">LLLL")
_RESPONSE = 0x80000000
_GSM_TABLE = gsm.GSM_CHARACTER_TABLE


class _Sequences:
    """smpplib's PDUs ask their client for sequence numbers."""

    sequence = 0

    def next_sequence(self) -> int:
        self.sequence += 1
        return self.sequence


def parse(data: bytes) -> Any:
    """A PDU read by smpplib's codec."""
    return smpp.parse_pdu(data, client=_Sequences(), allow_unknown_opt_params=True)


def make(command: str, sequence: int, status: int = 0, **fields: Any) -> bytes:
    pdu = smpp.make_pdu(command, client=_Sequences(), **fields)
    pdu.sequence, pdu.status = sequence, status
    return bytes(pdu.generate())


def decode(data: bytes, data_coding: int) -> str:
    """A ``short_message`` as text: UCS-2, else GSM-7 unpacked (smpplib's table)."""
    if data_coding == 8:
        return data.decode("utf-16-be")
    out, escaped = [], False
    for octet in data:
        if octet == 0x1B:
            escaped = True
            continue
        out.append(_GSM_TABLE[octet + 0x80 if escaped else octet])
        escaped = False
    return "".join(out)


@dataclass
class Submitted:
    """One ``submit_sm`` taken (an answered ok), as smpplib read it."""

    message_id: str
    to: str
    source: str
    text: str
    data_coding: int
    esm_class: int
    registered_delivery: int
    part: tuple[int, int, int] | None  # (ref, number, total)


@dataclass
class Faults:
    """What goes wrong next; each count is used up one PDU at a time."""

    refuse_binds: int = 0  # bind answered ESME_RINVPASWD
    throttle: int = 0  # submit_sm answered ESME_RTHROTTLED
    nack: int = 0  # submit_sm answered generic_nack
    reject: int = 0  # submit_sm answered ESME_RINVDSTADR (permanent)
    silent: int = 0  # submit_sm taken, never answered (the at-least-once case)
    drop_on_submit: int = 0  # the connection closed on receiving a submit_sm
    receipt_first: bool = False  # the receipt goes out before the submit_sm_resp
    delay: float = 0.0  # seconds before each submit_sm_resp
    receipt_status: str | None = "DELIVRD"  # None: no receipts
    answer_enquire_link: bool = True


@dataclass
class FakeSmsc:
    system_id: str = "portpass"
    password: str = "secret12"
    host: str = "127.0.0.1"
    port: int = 0
    faults: Faults = field(default_factory=Faults)
    submitted: list[Submitted] = field(default_factory=list)
    deliver_answers: list[int] = field(default_factory=list)
    binds: list[str] = field(default_factory=list)
    unbinds: int = 0
    outstanding: int = 0  # submits taken and not yet answered
    most_outstanding: int = 0
    enquire_links: int = 0
    _server: asyncio.Server | None = None
    _ids: Any = field(default_factory=lambda: itertools.count(1))
    _receivers: list[asyncio.StreamWriter] = field(default_factory=list)
    _writers: list[asyncio.StreamWriter] = field(default_factory=list)
    _waiting: dict[int, asyncio.Future[int]] = field(default_factory=dict)
    _sequences: Any = field(default_factory=lambda: itertools.count(1))
    _changed: asyncio.Condition | None = None
    on_submit: Callable[[Submitted], None] | None = None
    _tasks: set[asyncio.Task[Any]] = field(default_factory=set)

    def _later(self, work: Coroutine[Any, Any, Any]) -> None:
        """Run ``work`` beside the connection (a receipt); a failed one is only lost."""
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def __aenter__(self) -> FakeSmsc:
        self._changed = asyncio.Condition()
        self._server = await asyncio.start_server(self._client, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.drop_all()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def drop_all(self) -> None:
        """Close every connection (the SMSC restarts, the network fails)."""
        for writer in list(self._writers):
            writer.close()
        self._writers.clear()
        self._receivers.clear()

    @property
    def bound(self) -> int:
        return len(self._writers)

    # --- what tests wait for --------------------------------------------------------

    async def _notify(self) -> None:
        assert self._changed is not None
        async with self._changed:
            self._changed.notify_all()

    async def wait_for(self, check: Callable[[], bool], seconds: float = 5.0) -> None:
        assert self._changed is not None
        async with asyncio.timeout(seconds), self._changed:
            await self._changed.wait_for(check)

    def texts_to(self, to: str) -> list[str]:
        """Whole messages sent to ``to`` (E.164), parts joined by their reference."""
        number = to.removeprefix("+")
        out: list[str] = []
        parts: dict[int, dict[int, str]] = {}
        for item in self.submitted:
            if item.to != number:
                continue
            if item.part is None:
                out.append(item.text)
                continue
            ref, seq, total = item.part
            parts.setdefault(ref, {})[seq] = item.text
            if len(parts[ref]) == total:
                whole = parts.pop(ref)
                out.append("".join(whole[i] for i in range(1, total + 1)))
        return out

    # --- a holder texts us ----------------------------------------------------------

    async def send_mo(self, source: str, text: str, *, to: str = "PortPass") -> list[int]:
        """A holder's SMS as deliver_sm (concatenated with a UDH when long); the
        command status each part was answered with."""
        parts, encoding, esm_class = gsm.make_parts(text)
        answers = []
        for part in parts:
            answers.append(
                await self._deliver(
                    source_addr=source.removeprefix("+"),
                    source_addr_ton=1 if source.startswith("+") else 2,
                    source_addr_npi=1,
                    destination_addr=to,
                    esm_class=esm_class,
                    data_coding=encoding,
                    short_message=part,
                )
            )
        return answers

    async def send_receipt(self, message_id: str, stat: str = "DELIVRD", err: str = "000") -> int:
        text = (
            f"id:{message_id} sub:001 dlvrd:001 submit date:2612062100 "
            f"done date:2612062101 stat:{stat} err:{err} text:"
        )
        return await self._deliver(
            source_addr="886900000000",
            destination_addr="PortPass",
            esm_class=0x04,
            data_coding=0,
            short_message=text.encode("ascii"),
            receipted_message_id=message_id,
        )

    async def _deliver(self, **fields: Any) -> int:
        if not self._receivers:
            raise ConnectionError("no receiver is bound")
        writer = self._receivers[-1]
        sequence = next(self._sequences)
        answer: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._waiting[sequence] = answer
        writer.write(make("deliver_sm", sequence, **fields))
        try:
            async with asyncio.timeout(5.0):
                status = await answer
        finally:
            self._waiting.pop(sequence, None)
        self.deliver_answers.append(status)
        await self._notify()
        return status

    # --- a client -------------------------------------------------------------------

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readexactly(16)
                length = _HEADER.unpack(head)[0]
                data = head + await reader.readexactly(length - 16)
                if not await self._handle(parse(data), writer):
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            with contextlib.suppress(ValueError):
                self._writers.remove(writer)
            with contextlib.suppress(ValueError):
                self._receivers.remove(writer)
            writer.close()
            await self._notify()

    async def _handle(self, pdu: Any, writer: asyncio.StreamWriter) -> bool:
        command, sequence = pdu.command, pdu.sequence
        faults = self.faults
        if command.startswith("bind_"):
            if faults.refuse_binds > 0 or pdu.password.decode() != self.password:
                faults.refuse_binds = max(0, faults.refuse_binds - 1)
                writer.write(make(f"{command}_resp", sequence, 0x0E, system_id="fake"))
                self.binds.append("refused")
                await self._notify()
                return True
            writer.write(make(f"{command}_resp", sequence, system_id="fake"))
            self._writers.append(writer)
            if command != "bind_transmitter":
                self._receivers.append(writer)
            self.binds.append(command.removeprefix("bind_"))
            await self._notify()
        elif command == "submit_sm":
            await self._submit(pdu, writer)
        elif command == "enquire_link":
            self.enquire_links += 1
            if faults.answer_enquire_link:
                writer.write(make("enquire_link_resp", sequence))
            await self._notify()
        elif command == "unbind":
            self.unbinds += 1
            writer.write(make("unbind_resp", sequence))
            await self._notify()
            return False
        elif command == "deliver_sm_resp":
            waiting = self._waiting.get(sequence)
            if waiting is not None and not waiting.done():
                waiting.set_result(pdu.status)
        return True

    async def _submit(self, pdu: Any, writer: asyncio.StreamWriter) -> None:
        faults, sequence = self.faults, pdu.sequence
        if faults.drop_on_submit > 0:
            faults.drop_on_submit -= 1
            writer.close()
            return
        if faults.nack > 0:
            faults.nack -= 1
            writer.write(make("generic_nack", sequence, 0x03))
            return
        for name, status in (("throttle", 0x58), ("reject", 0x0B)):
            if getattr(faults, name) > 0:
                setattr(faults, name, getattr(faults, name) - 1)
                writer.write(make("submit_sm_resp", sequence, status, message_id=""))
                return
        message_id = f"fake{next(self._ids):08d}"
        data = pdu.short_message or b""
        part = None
        if pdu.esm_class & 0x40:
            part, data = (data[3], data[5], data[4]), data[6:]
        elif pdu.sar_total_segments:
            part = (pdu.sar_msg_ref_num, pdu.sar_segment_seqnum, pdu.sar_total_segments)
        item = Submitted(
            message_id,
            pdu.destination_addr.decode(),
            pdu.source_addr.decode(),
            decode(data, pdu.data_coding),
            pdu.data_coding,
            pdu.esm_class,
            pdu.registered_delivery,
            part,
        )
        receipt = pdu.registered_delivery & 1 and faults.receipt_status is not None
        if receipt and faults.receipt_first:
            self._later(self.send_receipt(message_id, faults.receipt_status or ""))
            await asyncio.sleep(0.05)
        self.outstanding += 1
        self.most_outstanding = max(self.most_outstanding, self.outstanding)
        if faults.silent > 0:
            faults.silent -= 1
            self.outstanding -= 1
        elif faults.delay:
            self._later(self._answer_late(writer, sequence, message_id, faults.delay))
        else:
            self._answer(writer, sequence, message_id)
        self.submitted.append(item)
        if self.on_submit is not None:
            self.on_submit(item)
        if receipt and not faults.receipt_first:
            self._later(self.send_receipt(message_id, faults.receipt_status or ""))
        await self._notify()

    def _answer(self, writer: asyncio.StreamWriter, sequence: int, message_id: str) -> None:
        self.outstanding -= 1
        if not writer.is_closing():
            writer.write(make("submit_sm_resp", sequence, message_id=message_id))

    async def _answer_late(
        self, writer: asyncio.StreamWriter, sequence: int, message_id: str, delay: float
    ) -> None:
        """A slow SMSC: the answer after ``delay``, other submits read meanwhile."""
        await asyncio.sleep(delay)
        self._answer(writer, sequence, message_id)
