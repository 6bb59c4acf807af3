"""Pruning of logs that only matter for a while: inbound message ids (retries come within
minutes) and failed lookups (the cool-down looks back one hour). Without it both tables
grow with every message the bot ever received."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncEngine

from storage.tables import inbound_messages, lookup_failures

#: Twilio and Telegram retry within minutes; a day leaves a wide margin.
INBOUND_KEPT = timedelta(days=1)
#: The cool-down counts failures in the last hour; a day keeps them for investigation.
FAILURES_KEPT = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class Pruned:
    inbound_messages: int
    lookup_failures: int


async def prune(engine: AsyncEngine, now: datetime) -> Pruned:
    async with engine.begin() as conn:
        inbound = await conn.execute(
            delete(inbound_messages).where(inbound_messages.c.received_at < now - INBOUND_KEPT)
        )
        failures = await conn.execute(
            delete(lookup_failures).where(lookup_failures.c.at < now - FAILURES_KEPT)
        )
    return Pruned(inbound.rowcount, failures.rowcount)
