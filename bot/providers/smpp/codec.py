"""SMPP PDUs in and out, on aiosmpplib's codec: text to ``submit_sm`` segments (GSM-7
where every character fits, else UCS-2; long texts concatenated by UDH or by the
``sar_*`` TLVs) and ``deliver_sm`` to a receipt or a holder's message.

Segment sizes are ours (140 octets per SMS): 160 GSM septets or 70 UCS-2 characters
alone, 153 and 67 with a concatenation header. The header is written by us for UDH;
with ``sar`` the SMSC writes it from the TLVs.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass
from typing import cast

from aiosmpplib import (
    NPI,
    TON,
    DeliverSm,
    GSM7BitCodec,
    OptionalParam,
    PduHeader,
    PhoneNumber,
    SmppCommand,
    SmppCommandStatus,
    SubmitSm,
    UCS2Codec,
)

HEADER = struct.Struct("!IIII")
UDHI = 0x40
GSM7, UCS2 = 0, 8
_ESCAPE = 0x1B
_SAR_REF, _SAR_TOTAL, _SAR_SEQ = 0x020C, 0x020E, 0x020F
_GSM = GSM7BitCodec.get_codec_info()
_UCS2 = UCS2Codec.get_codec_info()


@dataclass(frozen=True, slots=True)
class Segment:
    """One ``submit_sm``'s worth of a text: its octets (UDH included) and how to send them."""

    data: bytes
    data_coding: int
    esm_class: int = 0
    tlvs: tuple[OptionalParam, ...] = ()


def encode_text(text: str) -> tuple[bytes, int]:
    """GSM-7 (one septet per octet, unpacked, as SMPP carries it) when it fits, else UCS-2."""
    if GSM7BitCodec.is_gsm_text(text):
        return _GSM.encode(text)[0], GSM7
    return _UCS2.encode(text)[0], UCS2


def _chunks(data: bytes, size: int, coding: int) -> list[bytes]:
    """``data`` cut into ``size``-octet pieces, never inside a GSM escape or a UTF-16
    surrogate pair (either would show as garbage on the handset)."""
    pieces, start = [], 0
    while start < len(data):
        end = min(start + size, len(data))
        if end < len(data):
            if coding == GSM7 and data[end - 1] == _ESCAPE:
                end -= 1
            elif coding == UCS2 and 0xD8 <= data[end - 2] <= 0xDB:
                end -= 2
        pieces.append(data[start:end])
        start = end
    return pieces


def segments(text: str, *, ref: int, concatenation: str = "udh") -> list[Segment]:
    """The ``submit_sm`` bodies for ``text``; ``ref`` (0-255) ties the parts together."""
    data, coding = encode_text(text)
    single, multi = (160, 153) if coding == GSM7 else (140, 134)
    if len(data) <= single:
        return [Segment(data, coding)]
    parts = _chunks(data, multi, coding)
    total, ref = len(parts), ref & 0xFF
    if concatenation == "sar":
        return [
            Segment(
                part,
                coding,
                tlvs=(
                    OptionalParam(_SAR_REF, ref),
                    OptionalParam(_SAR_TOTAL, total),
                    OptionalParam(_SAR_SEQ, number),
                ),
            )
            for number, part in enumerate(parts, 1)
        ]
    return [
        Segment(bytes((5, 0, 3, ref, total, number)) + part, coding, UDHI)
        for number, part in enumerate(parts, 1)
    ]


def submit_pdu(
    sequence: int, segment: Segment, source: PhoneNumber, to: str, *, receipt: bool
) -> bytes:
    """A ``submit_sm``; ``to`` is E.164, sent international without the ``+``."""
    message = SubmitSm(
        sequence_num=sequence,
        short_message="-",  # aiosmpplib wants text; the octets below replace it
        source=source,
        destination=PhoneNumber(to.removeprefix("+"), TON.INTERNATIONAL, NPI.ISDN),
        esm_class=segment.esm_class,
        registered_delivery=1 if receipt else 0,
        encoding="ucs2" if segment.data_coding == UCS2 else "gsm0338",
        optional_params=list(segment.tlvs),
        auto_message_payload=False,
    )
    message.set_encoded_message(segment.data)
    return bytes(message.pdu())


def header_of(pdu: bytes) -> tuple[int, int, int, int]:
    """``(length, command_id, status, sequence)``; the status as a plain number, since
    an SMSC may answer with a vendor code aiosmpplib's enum does not know."""
    length, command, status, sequence = HEADER.unpack_from(pdu)
    return length, command, status, sequence


def read_deliver(pdu: bytes) -> DeliverSm:
    """A ``deliver_sm`` decoded (UDH parts come back with ``sar_*`` parameters)."""
    length, _, _, sequence = header_of(pdu)
    head = PduHeader(length, SmppCommand.DELIVER_SM, SmppCommandStatus.ESME_ROK, sequence)
    return cast(DeliverSm, DeliverSm.from_pdu(pdu, head, default_encoding="gsm0338"))


def parts_of(message: DeliverSm) -> tuple[int, int, int] | None:
    """``(ref, number, total)`` of a concatenated message's part, else ``None``."""
    if not message.is_segmented():
        return None
    ref, number, total = message.get_segmentation_data()
    return (ref, number, total) if total > 1 else None


def text_of(message: DeliverSm) -> str:
    return str(message.short_message or message.message_payload)


#: What a receipt's ``stat:`` says, as the outbox records delivery (Twilio's words).
RECEIPT_STATUS = {
    "DELIVRD": "delivered",
    "UNDELIV": "undelivered",
    "EXPIRED": "undelivered",
    "REJECTD": "failed",
    "DELETED": "failed",
    "UNKNOWN": "sent",  # the SMSC lost track: still sent, and nothing more is known
    "ENROUTE": "sent",
    "ACCEPTD": "sent",
}
_RECEIPT_FIELD = re.compile(r"(id|stat|err):\s*([^\s]+)", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Receipt:
    message_id: str
    status: str  # one of the outbox's statuses
    error: str | None


def receipt_of(message: DeliverSm) -> Receipt | None:
    """The receipt a ``deliver_sm`` carries, or ``None`` for a holder's message. The
    ``receipted_message_id`` TLV wins over the text's ``id:`` (SMPP 3.4 §5.3.2.12)."""
    if not message.is_receipt():
        return None
    fields = {k.lower(): v for k, v in _RECEIPT_FIELD.findall(text_of(message))}
    message_id = fields.get("id", "")
    for param in message.optional_params or []:
        if param.tag == 0x001E and isinstance(param.value, str):  # receipted_message_id
            message_id = param.value
    stat = fields.get("stat", "UNKNOWN").upper()
    error = fields.get("err")
    return Receipt(message_id, RECEIPT_STATUS.get(stat, "sent"), error if error != "000" else None)
