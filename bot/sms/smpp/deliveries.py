"""What an SMSC delivers to us over SMPP (``deliver_sm``): delivery receipts and
holders' messages, for the app with ``sms.sender = "smpp"``.

A receipt updates its outbox row as Twilio's status callback does
(:mod:`bot.sms.status`); one that outruns its ``submit_sm_resp`` (the row does not
hold the message id yet) is kept and tried again for ``early_receipt_seconds``.

A holder's message takes the path of ``POST /sms/inbound`` (:mod:`bot.sms.inbound`):
the same sender filter (mobiles of ``phone.allowed_regions`` only, others dropped with
no reply), the same conversation engine with its opt-out words, languages and
de-duplication; its replies are queued in the outbox and go out as SMS. SMPP gives an
incoming message no id, so the de-duplication key is the sender, the text and the
minute: an SMSC that delivers a message again (our answer was lost) gets the first
turn back, and nothing is sent twice. Concatenated messages are put together first.

Answers to the SMSC: ESME_ROK once a message is handled or kept; ESME_RSYSERR when
the database could not take it, so the SMSC delivers it again. Logs carry masked
phones only, never texts.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging

from aiohttp import web

from bot.background.failure_notices import FAILURE_NOTICES
from bot.providers.smpp.codec import Receipt, parts_of, read_deliver, receipt_of, text_of
from bot.providers.smpp.sender import SmppSender
from bot.services import SERVICES, Services
from bot.sms.sender_filter import DroppedSenders
from bot.sms.smpp.reassembly import Reassembly
from bot.sms.twiml import sms_text
from core import messages
from core.conversation.state import Participant, Text
from core.errors import InvalidInput
from core.masking import mask_phone
from core.model import OutgoingSms, Priority
from core.values import Phone
from core.verification.sms_text import MAX_REPLY_SEGMENTS
from storage.errors import is_storage_failure
from storage.outbox.queue import NOT_DELIVERED, OutboxQueue

log = logging.getLogger(__name__)

CHANNEL = "sms"
OK, RETRY = 0x00, 0x08  # ESME_ROK; ESME_RSYSERR asks the SMSC to deliver it again


class SmscDeliveries:
    """Handles each ``deliver_sm`` PDU; answers its command status."""

    def __init__(
        self, app: web.Application, sender: SmppSender, *, early_receipt_seconds: float = 60.0
    ) -> None:
        self._app, self._sender = app, sender
        self.sender = sender
        self._early = early_receipt_seconds
        self.dropped = DroppedSenders()
        self._parts = Reassembly()
        self._kept: set[asyncio.Task[None]] = set()

    @property
    def services(self) -> Services:
        return self._app[SERVICES]

    async def __call__(self, pdu: bytes) -> int:
        message = read_deliver(pdu)
        receipt = receipt_of(message)
        try:
            if receipt is not None:
                self._sender.counters.receipts += 1
                return await self._receipt(receipt)
            self._sender.counters.messages += 1
            number = message.source.number
            sender = f"+{number}" if message.source.ton == 1 else number
            text = text_of(message)
            parts = parts_of(message)
            if parts is not None:
                whole = self._parts.add(sender, *parts, text)
                if whole is None:
                    return OK
                text = whole
            return await self._message(sender, text)
        except Exception as error:
            if not is_storage_failure(error):
                raise
            log.error("deliver_sm not stored, the SMSC will retry: %s", type(error).__name__)
            return RETRY

    async def stop(self) -> None:
        for task in list(self._kept):
            task.cancel()
        await asyncio.gather(*self._kept, return_exceptions=True)

    # --- receipts -------------------------------------------------------------------

    async def _receipt(self, receipt: Receipt) -> int:
        if not await self._record(receipt):
            task = asyncio.create_task(self._record_later(receipt))
            self._kept.add(task)
            task.add_done_callback(self._kept.discard)
        return OK

    async def _record(self, receipt: Receipt) -> bool:
        services = self.services
        sid = self._sender.row_sid(receipt.message_id)
        queue = OutboxQueue(services.engine)
        known = await queue.record_status(sid, receipt.status, receipt.error, services.clock.now())
        if not known:
            return False
        services.metrics.delivery_status(receipt.status, receipt.error)
        log.info("sms %s: %s (receipt)", sid, receipt.status)
        notices = self._app.get(FAILURE_NOTICES)
        if receipt.status in NOT_DELIVERED and notices is not None:
            notices.wake()
        return True

    async def _record_later(self, receipt: Receipt) -> None:
        """A receipt ahead of its ``submit_sm_resp``: try again as the row gets its id."""
        delay, waited = 0.05, 0.0
        while waited < self._early:
            await asyncio.sleep(delay)
            waited += delay
            try:
                if await self._record(receipt):
                    return
            except Exception:
                log.exception("receipt for %s not recorded", receipt.message_id)
            delay = min(delay * 2, 5.0)
        log.warning("receipt for unknown message %s (%s)", receipt.message_id, receipt.status)

    # --- holders' messages -----------------------------------------------------------

    async def _message(self, sender: str, text: str) -> int:
        services = self.services
        digest = hashlib.sha256(
            f"{sender}\0{text}\0{int(services.clock.now().timestamp() // 60)}".encode()
        ).hexdigest()
        sid = f"smpp-{digest[:32]}"
        try:
            phone = Phone.parse(sender, regions=services.config.phone.allowed_regions)
        except InvalidInput as why:  # no SMS back: see bot/sms/sender_filter.py
            self.dropped.drop(sid, sender, why)
            services.metrics.note_inbound("refused_region")
            return OK
        who = Participant(
            key=f"{CHANNEL}:{phone.e164}",
            channel=CHANNEL,
            actor=mask_phone(phone),
            phone=phone.e164,
            max_segments=MAX_REPLY_SEGMENTS,
        )
        try:
            turn = await services.conversations.handle(who, Text(text), message_id=sid)
        except Exception as error:
            if is_storage_failure(error):
                raise
            log.error("SMPP message %s failed: %s", sid, type(error).__name__)
            log.debug("SMPP message %s failed", sid, exc_info=True)
            default = services.config.verification.default_language
            await self._queue(phone, [messages.text("error.generic", default)])
            return OK
        if turn.repeated:
            services.metrics.note_inbound("duplicate")
            return OK
        await self._queue(phone, [sms_text(reply, turn.language) for reply in turn.replies])
        log.info("SMPP message %s from %s: %d replies", sid, mask_phone(phone), len(turn.replies))
        return OK

    async def _queue(self, phone: Phone, texts: list[str]) -> None:
        if not texts:
            return
        services = self.services
        batch = [OutgoingSms(to=phone, body=text, kind="reply") for text in texts]
        async with services.uow() as uow:
            await uow.outbox.add_many(batch, services.clock.now(), priority=Priority.OWN)
            await uow.commit()
