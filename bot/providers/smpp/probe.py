"""``portpass check-config --probe`` for SMPP: bind once with the configured account,
say what the SMSC answered, unbind. Nothing is sent. The password is never printed."""

from __future__ import annotations

import asyncio
import ssl

from aiosmpplib import BindTransceiver, BindTransmitter, Unbind

from bot.providers.smpp.codec import header_of
from bot.providers.smpp.link import CREDENTIALS_REFUSED, Link, read_pdu


async def probe(link: Link, bind_mode: str) -> tuple[bool, str]:
    """``(ok, what happened)`` for one bind to ``link``."""
    where = f"{link.host}:{link.port}{' (TLS)' if link.tls else ''}"
    kind = BindTransceiver if bind_mode == "transceiver" else BindTransmitter
    try:
        async with asyncio.timeout(link.response_timeout):
            context = ssl.create_default_context() if link.tls else None
            reader, writer = await asyncio.open_connection(link.host, link.port, ssl=context)
            try:
                bind = kind(
                    sequence_num=1,
                    system_id=link.system_id,
                    password=link.password,
                    system_type=link.system_type,
                )
                writer.write(bind.pdu())
                _, _, status, _ = header_of(await read_pdu(reader))
                if status != 0:
                    reason = CREDENTIALS_REFUSED.get(status, f"status 0x{status:08X}")
                    return False, f"{where} refused the bind as {link.system_id!r}: {reason}"
                writer.write(Unbind(sequence_num=2).pdu())
                await read_pdu(reader)
            finally:
                writer.close()
    except TimeoutError:
        return False, f"{where} did not answer within {link.response_timeout:g}s"
    except (OSError, EOFError, ConnectionError) as error:
        return False, f"could not reach {where}: {type(error).__name__}: {error}"
    return True, f"bound to {where} as {link.system_id!r} ({bind.smpp_command.name}), unbound"
