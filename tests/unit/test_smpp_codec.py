"""Our SMPP PDUs (aiosmpplib's codec, our segmentation) read by smpplib's codec, which
the fake SMSC uses, and smpplib's PDUs read by ours: the two must agree on every field
the bot relies on."""

from __future__ import annotations

import pytest
from aiosmpplib import NPI, TON, PhoneNumber

from bot.providers.smpp.codec import (
    GSM7,
    UCS2,
    parts_of,
    read_deliver,
    receipt_of,
    segments,
    submit_pdu,
    text_of,
)
from fakes.smsc import decode, make, parse

SOURCE = PhoneNumber("PortPass", TON.ALPHANUMERIC, NPI.UNKNOWN)
TO = "+886912345678"


def theirs(text: str, concatenation: str = "udh") -> list[tuple[str, object]]:
    """``text`` as we send it, each part as smpplib reads it: (text, pdu)."""
    out = []
    for number, segment in enumerate(segments(text, ref=42, concatenation=concatenation), 1):
        pdu = parse(submit_pdu(number, segment, SOURCE, TO, receipt=True))
        data = pdu.short_message
        if pdu.esm_class & 0x40:
            assert data[:6] == bytes((5, 0, 3, 42, data[4], number))
            data = data[6:]
        out.append((decode(data, pdu.data_coding), pdu))
    return out


def test_a_chinese_sms_is_ucs2_to_an_international_number_with_a_receipt():
    [(text, pdu)] = theirs("【港務】驗證碼123456")
    assert text == "【港務】驗證碼123456"
    assert pdu.data_coding == UCS2
    assert pdu.destination_addr == b"886912345678"
    assert (pdu.dest_addr_ton, pdu.dest_addr_npi) == (1, 1)
    assert pdu.source_addr == b"PortPass"
    assert pdu.source_addr_ton == 5
    assert pdu.registered_delivery == 1


@pytest.mark.parametrize(
    ("text", "parts", "coding"),
    [
        ("a" * 160, 1, GSM7),
        ("a" * 161, 2, GSM7),
        ("a" * 153 * 3, 3, GSM7),
        ("港" * 70, 1, UCS2),
        ("港" * 71, 2, UCS2),
        ("港" * 67 * 3, 3, UCS2),
    ],
)
def test_long_texts_are_cut_into_parts_that_join_again(text, parts, coding):
    read = theirs(text)
    assert len(read) == parts
    assert "".join(t for t, _ in read) == text
    assert {pdu.data_coding for _, pdu in read} == {coding}


def test_sar_parts_carry_the_tlvs_instead_of_a_header():
    read = theirs("港" * 100, concatenation="sar")
    assert [(p.sar_msg_ref_num, p.sar_segment_seqnum, p.sar_total_segments) for _, p in read] == [
        (42, 1, 2),
        (42, 2, 2),
    ]
    assert all(p.esm_class & 0x40 == 0 for _, p in read)
    assert "".join(t for t, _ in read) == "港" * 100


def test_a_cut_never_splits_a_surrogate_pair_nor_a_gsm_escape():
    emoji = "港" * 66 + "😀" + "港" * 10  # the pair would straddle octets 134/135
    assert "".join(t for t, _ in theirs(emoji)) == emoji
    euro = "a" * 152 + "€" + "a" * 10  # € is two septets: ESC then e
    assert "".join(t for t, _ in theirs(euro)) == euro


def test_their_holder_message_reads_as_ours():
    part = "驗證".encode("utf-16-be")
    pdu = make(
        "deliver_sm",
        7,
        source_addr="886960123411",
        source_addr_ton=1,
        destination_addr="PortPass",
        esm_class=0x40,
        data_coding=8,
        short_message=bytes((5, 0, 3, 9, 2, 1)) + part,
    )
    message = read_deliver(pdu)
    assert receipt_of(message) is None
    assert (message.source.number, int(message.source.ton)) == ("886960123411", 1)
    assert text_of(message) == "驗證"
    assert parts_of(message) == (9, 1, 2)


def test_their_gsm7_message_reads_as_ours():
    pdu = make("deliver_sm", 8, source_addr="0960123411", data_coding=0, short_message=b"VERIFY")
    assert text_of(read_deliver(pdu)) == "VERIFY"


@pytest.mark.parametrize(
    ("stat", "status"),
    [
        ("DELIVRD", "delivered"),
        ("UNDELIV", "undelivered"),
        ("EXPIRED", "undelivered"),
        ("REJECTD", "failed"),
        ("UNKNOWN", "sent"),
    ],
)
def test_their_receipt_reads_as_ours(stat, status):
    text = (
        "id:abc123 sub:001 dlvrd:001 submit date:2612062100 done date:2612062101 "
        f"stat:{stat} err:042 text:"
    )
    pdu = make(
        "deliver_sm",
        9,
        source_addr="886960123411",
        esm_class=0x04,
        short_message=text.encode(),
        receipted_message_id="abc123",
    )
    receipt = receipt_of(read_deliver(pdu))
    assert receipt is not None
    assert (receipt.message_id, receipt.status, receipt.error) == ("abc123", status, "042")
