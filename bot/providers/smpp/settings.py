"""The SMPP sender and its link as ``[smpp]`` configures them (docs/smpp.md).

Imported only when ``sms.sender = "smpp"`` or ``check-config --probe`` needs it, so no
other command loads aiosmpplib."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiosmpplib import NPI, TON, PhoneNumber

from bot.providers.smpp.link import Link
from bot.providers.smpp.sender import SmppSender

if TYPE_CHECKING:
    from bot.config import Config


def smpp_link(config: Config) -> Link:
    """The SMPP account of ``[smpp]``."""
    smpp = config.smpp
    return Link(
        smpp.host,
        smpp.port,
        smpp.system_id,
        smpp.password.reveal(),
        system_type=smpp.system_type,
        tls=smpp.tls,
        window=smpp.window,
        enquire_link_seconds=smpp.enquire_link_seconds,
        response_timeout=smpp.response_timeout_seconds,
    )


def make_smpp_sender(config: Config) -> SmppSender:
    """The SMPP sender; it binds when the app starts it (:mod:`bot.sms.smpp.wiring`)."""
    smpp = config.smpp
    return SmppSender(
        smpp_link(config),
        source=PhoneNumber(smpp.source_addr, TON(smpp.source_addr_ton), NPI(smpp.source_addr_npi)),
        bind_mode="transceiver" if smpp.bind_mode == "transceiver" else "split",
        max_per_second=smpp.max_per_second,
        concatenation=smpp.concatenation,
        receipts=smpp.delivery_receipts,
    )
