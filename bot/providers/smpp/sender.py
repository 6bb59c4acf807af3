"""The SMPP sender: one SMS as one or more ``submit_sm``, its answers sorted into the
three outcomes of :mod:`bot.providers.sender`, and the SMSC's ``deliver_sm`` (receipts
and holders' messages) handed to whoever the app sets as :attr:`SmppSender.deliveries`.

An outbox row is tied to the SMSC message id of its first part; the ids of the other
parts are remembered (for a while, in this process) so their receipts find the row too.
A lost ``submit_sm_resp`` (timeout, dropped link) is a transient failure: the row is sent
again, the at-least-once case of :mod:`bot.sms.outbox_worker`. A multi-part SMS whose
later part fails is sent again whole.
"""

from __future__ import annotations

import itertools
import logging
from collections import OrderedDict
from dataclasses import dataclass, field
from functools import partial

from aiosmpplib import PhoneNumber

from bot.providers.sender import PermanentFailure, SendResult, Sent, TransientFailure, masked
from bot.providers.smpp.codec import Segment, header_of, segments, submit_pdu
from bot.providers.smpp.link import Link, NotBound
from bot.providers.smpp.session import GENERIC_NACK, DeliverHandler, Session
from bot.providers.token_bucket import TokenBucket

log = logging.getLogger(__name__)

#: Statuses worth another try later (the SMSC is busy or broken, not the message).
TRANSIENT = {
    0x58: "ESME_RTHROTTLED",
    0x14: "ESME_RMSGQFUL",
    0x08: "ESME_RSYSERR",
    0x45: "ESME_RSUBMITFAIL",
    0x04: "ESME_RINVBNDSTS",
    0x64: "ESME_RX_T_APPN",
}
PERMANENT = {
    0x0B: "invalid destination address",
    0x0A: "invalid source address",
    0x01: "invalid message length",
    0x43: "invalid esm_class",
    0x48: "invalid source TON",
    0x49: "invalid source NPI",
    0x50: "invalid destination TON",
    0x51: "invalid destination NPI",
}
_KEEP_ALIASES = 10_000


@dataclass
class SmppCounters:
    submits: int = 0
    receipts: int = 0
    messages: int = 0
    by_status: dict[str, int] = field(default_factory=dict)


class SmppSender:
    """Sends through an SMPP account: one transceiver bind, or a transmitter and a
    receiver (``bind_mode``). :meth:`start` connects; :meth:`close` unbinds."""

    def __init__(
        self,
        link: Link,
        *,
        source: PhoneNumber,
        bind_mode: str = "transceiver",
        max_per_second: float = 50.0,
        concatenation: str = "udh",
        receipts: bool = True,
    ) -> None:
        self.link, self.source = link, source
        self.concatenation, self.receipts = concatenation, receipts
        self.deliveries: DeliverHandler | None = None
        self.counters = SmppCounters()
        if bind_mode == "transceiver":
            self.sessions = [Session(link, "transceiver", self._deliver)]
        else:
            self.sessions = [
                Session(link, "transmitter"),
                Session(link, "receiver", self._deliver),
            ]
        self._tx = self.sessions[0]
        self._bucket = TokenBucket(max_per_second)
        self._refs = itertools.count(1)
        self._aliases: OrderedDict[str, str] = OrderedDict()

    def __repr__(self) -> str:
        return f"SmppSender({self.link!r}, binds={len(self.sessions)})"

    def start(self) -> None:
        for session in self.sessions:
            session.start()

    @property
    def bound(self) -> bool:
        return all(s.bound.is_set() for s in self.sessions)

    @property
    def in_window(self) -> int:
        return sum(s.in_window for s in self.sessions)

    def row_sid(self, message_id: str) -> str:
        """The id the outbox row holds for a part's SMSC ``message_id``."""
        return self._aliases.get(message_id, message_id)

    async def _deliver(self, pdu: bytes) -> int:
        if self.deliveries is None:
            return 0x08  # not ready to take it: the SMSC delivers it again
        return await self.deliveries(pdu)

    async def send(self, to: str, body: str) -> SendResult:
        ref = next(self._refs) & 0xFF
        ids: list[str] = []
        for segment in segments(body, ref=ref, concatenation=self.concatenation):
            await self._bucket.acquire()

            build = partial(
                _submit, segment=segment, source=self.source, to=to, receipt=self.receipts
            )
            try:
                answer = await self._tx.request(build)
            except NotBound as error:
                if error.refused is not None:
                    return PermanentFailure(
                        None,
                        f"config error: the SMSC refused the bind: {error.refused}",
                        config_error=True,
                    )
                return self._transient(to, "not bound to the SMSC")
            except TimeoutError:
                return self._transient(to, "no submit_sm_resp in time (it may have been sent)")
            except ConnectionError:
                return self._transient(to, "the SMPP link dropped before the answer")
            _, command, status, _ = header_of(answer)
            self.counters.submits += 1
            if command == GENERIC_NACK:
                return self._transient(to, f"generic_nack 0x{status:02X} from the SMSC")
            if status in TRANSIENT:
                retry = 1.0 if status == 0x58 else None
                return self._transient(to, f"SMSC answered {TRANSIENT[status]}", retry)
            if status != 0:
                reason = PERMANENT.get(status, f"SMSC refused the message (0x{status:08X})")
                log.warning("sms to %s refused by the SMSC: %s", masked(to), reason)
                return PermanentFailure(status, reason)
            ids.append(answer[16:].split(b"\0", 1)[0].decode("ascii", "replace"))
        for part in ids[1:]:
            self._aliases[part] = ids[0]
        while len(self._aliases) > _KEEP_ALIASES:
            self._aliases.popitem(last=False)
        log.info("sms %s to %s accepted by the SMSC (%d parts)", ids[0], masked(to), len(ids))
        return Sent(ids[0], "accepted")

    def _transient(self, to: str, reason: str, retry: float | None = None) -> TransientFailure:
        log.warning("sms to %s not sent: %s", masked(to), reason)
        return TransientFailure(reason, retry)

    async def close(self) -> None:
        """``unbind`` every session and close its connection."""
        for session in self.sessions:
            await session.stop()


def _submit(
    sequence: int, *, segment: Segment, source: PhoneNumber, to: str, receipt: bool
) -> bytes:
    return submit_pdu(sequence, segment, source, to, receipt=receipt)
