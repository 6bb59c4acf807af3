"""How much one client address may ask of the form (docs/security.md, The web form).

The form texts only the phone on file, so it cannot spam arbitrary numbers; it can
still be used to probe the registry, to spend holders' 24-hour allowance and to cost
SMS. Per address (an IPv4 address, an IPv6 /64: :func:`bot.web.client_limits.address_key`):

- every ``/verify`` request: :data:`PAGE_REQUESTS_PER_MINUTE`, as the link page;
- lookups (a confirmed request, each one a registry lookup that may send an SMS):
  :data:`LOOKUPS_PER_MINUTE`, and the core's failed-lookup cool-down (five mismatches an
  hour, as on SMS) counted against the address, not the throw-away session;
- codes sent: :data:`SENDS_PER_HOUR`, counted in the database.

On PostgreSQL every count lives in the database, so all ``serve`` processes share them;
on SQLite (one process) the per-minute ones are counted in memory.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta

from aiohttp import web

from bot.services import SERVICES
from bot.web.client_limits import AddressLimiter, per_minute
from core.ports import UnitOfWork

#: A holder loads three or four pages and submits three forms; this leaves room for
#: mistakes, reloads and a shared NAT (a dormitory, a company's network).
PAGE_REQUESTS_PER_MINUTE = 60
#: Confirmed requests (each a registry lookup) per address per minute: above the
#: failed-lookup cool-down (5 an hour), which says more and so should speak first.
LOOKUPS_PER_MINUTE = 10
#: Codes the form may send for one address in an hour: a dormitory's evening, not a
#: script's. R2 already limits each pass, ID and phone to one code a day.
SENDS_PER_HOUR = 20

PAGE_LIMITER: web.AppKey[AddressLimiter] = web.AppKey("form_page_limiter")
LOOKUP_LIMITER: web.AppKey[AddressLimiter] = web.AppKey("form_lookup_limiter")
#: The name each limiter counts under (one table holds every count on PostgreSQL).
LIMIT_NAMES = {PAGE_LIMITER: "form", LOOKUP_LIMITER: "form-lookup"}


async def limiters_ctx(app: web.Application) -> AsyncIterator[None]:
    services = app[SERVICES]
    app[PAGE_LIMITER] = per_minute(services, PAGE_REQUESTS_PER_MINUTE)
    app[LOOKUP_LIMITER] = per_minute(services, LOOKUPS_PER_MINUTE)
    yield


def _sends_key(address: str) -> str:
    return f"form-sent:{address}"


async def sends_left(uow: UnitOfWork, address: str, now: datetime) -> float | None:
    """``None`` if the address may have another code sent; else seconds to wait. The
    sends are kept as timestamps beside the failed lookups (same table, own key), so
    the window slides and housekeeping prunes them with the failures."""
    sent = await uow.failures.since(_sends_key(address), now - timedelta(hours=1))
    if len(sent) < SENDS_PER_HOUR:
        return None
    oldest = sent[-SENDS_PER_HOUR]
    return max(1.0, (oldest + timedelta(hours=1) - now).total_seconds())


async def count_send(uow: UnitOfWork, address: str, now: datetime) -> None:
    await uow.failures.record(_sends_key(address), now)
