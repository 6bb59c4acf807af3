"""Where an SMPP session connects and as whom (:class:`Link`), what a failed bind
means, and reading one PDU off the wire with its length bounded."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from bot.providers.smpp.codec import HEADER

CREDENTIALS_REFUSED = {0x0D: "bind failed", 0x0E: "wrong password", 0x0F: "unknown system_id"}
#: No PDU we take is near this; a bigger length field is garbage or an attack on memory.
_MAX_PDU = 64 * 1024


class NotBound(Exception):
    """No link to the SMSC now; ``refused`` says why when the bind was refused."""

    def __init__(self, refused: str | None = None) -> None:
        super().__init__(refused or "not bound to the SMSC")
        self.refused = refused


@dataclass(frozen=True)
class Link:
    """Where and who: what a carrier's SMPP account gives you (see docs/smpp.md)."""

    host: str
    port: int
    system_id: str
    password: str
    system_type: str = ""
    tls: bool = False
    window: int = 10
    enquire_link_seconds: float = 30.0
    response_timeout: float = 10.0
    reconnect_base: float = 1.0
    reconnect_cap: float = 60.0
    refused_pause: float = 60.0

    def __repr__(self) -> str:
        return f"Link({self.system_id}@{self.host}:{self.port}, tls={self.tls}, password=***)"


async def read_pdu(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readexactly(16)
    length = HEADER.unpack_from(head)[0]
    if not 16 <= length <= _MAX_PDU:
        raise ConnectionError(f"a PDU of {length} octets")
    return head + await reader.readexactly(length - 16)
