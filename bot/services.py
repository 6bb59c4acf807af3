"""The services a process runs on, built once from the config: the composition of
core's use cases over real adapters (database, SMS sender, clock, secrets).

``open_services`` is shared by the web app (``bot.app.create_app``), the CLI commands
that need the same services, and the tests (which pass :class:`Overrides`). Channel
modules read the services from the app under :data:`SERVICES`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from aiohttp import web
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.config import Config
from bot.config.secret_key import resolve_secret_key
from bot.providers.console import ConsoleSender
from bot.providers.sender import SmsSender
from bot.providers.twilio_sender import TwilioSender
from core.clock import SystemClock
from core.codes import SecretHasher, SecretSource, SystemSecrets
from core.conversation_engine import ConversationEngine, DialoguePolicy
from core.operator_lifecycle import OperatorLifecycle
from core.operators import OperatorService
from core.ports import Clock
from core.verification import Policy, VerificationService
from storage.db import create_engine
from storage.importer import DEMO_REGISTRY, import_registry
from storage.inbound import InboundLog
from storage.migrate import upgrade
from storage.tables import passes
from storage.uow import SqlUnitOfWorkFactory

if TYPE_CHECKING:  # for Overrides only: bot.sms.outbox_worker imports this module
    from bot.sms.outbox_worker import OutboxTuning

log = logging.getLogger(__name__)


@dataclass
class Services:
    """Everything a handler may need, built once per process."""

    config: Config
    engine: AsyncEngine
    uow: SqlUnitOfWorkFactory
    clock: Clock
    hasher: SecretHasher
    verification: VerificationService
    conversations: ConversationEngine
    sender: SmsSender
    inbound: InboundLog
    operators: OperatorService
    operator_lifecycle: OperatorLifecycle
    demo: bool = False


@dataclass(frozen=True)
class Overrides:
    """What tests (and benchmarks) may replace; production passes nothing."""

    clock: Clock | None = None
    secrets: SecretSource | None = None
    sender: SmsSender | None = None
    outbox: OutboxTuning | None = None  # the outbox worker's timings


CONFIG = web.AppKey("config", Config)
SERVICES = web.AppKey("services", Services)


def make_sender(config: Config) -> SmsSender:
    if config.sms.sender == "twilio":
        return TwilioSender(
            config.twilio.account_sid,
            config.twilio.auth_token.reveal(),
            from_number=config.twilio.from_number or None,
            messaging_service_sid=config.twilio.messaging_service_sid or None,
            status_callback_url=f"{config.server.public_base_url}/sms/status",
            api_base_url=config.twilio.api_base_url,
        )
    return ConsoleSender()


async def open_services(
    config: Config, *, demo: bool = False, overrides: Overrides | None = None
) -> Services:
    """Open the database (migrated to head), and build the core services on it."""
    extra = overrides or Overrides()
    engine = create_engine(config.database.url)
    try:
        await upgrade(engine)
        if demo:
            await _load_demo_registry(engine, config)
    except BaseException:
        await engine.dispose()
        raise
    uow = SqlUnitOfWorkFactory(engine)
    clock = extra.clock or SystemClock()
    hasher = SecretHasher(resolve_secret_key(config, demo=demo))
    v = config.verification
    verification = VerificationService(
        uow,
        clock,
        hasher,
        extra.secrets or SystemSecrets(),
        Policy(
            public_base_url=config.server.public_base_url,
            code_ttl=timedelta(hours=v.code_ttl_hours),
            max_code_attempts=v.max_code_attempts,
            lookup_failures_per_hour=v.lookup_failures_per_hour,
        ),
    )
    conversations = ConversationEngine(
        uow,
        clock,
        verification,
        DialoguePolicy(
            idle_timeout=timedelta(minutes=v.conversation_idle_minutes),
            allowed_regions=config.phone.allowed_regions,
            default_language=v.default_language,
        ),
    )
    return Services(
        config=config,
        engine=engine,
        uow=uow,
        clock=clock,
        hasher=hasher,
        verification=verification,
        conversations=conversations,
        sender=extra.sender or make_sender(config),
        inbound=InboundLog(engine),
        operators=OperatorService(uow, clock),
        operator_lifecycle=OperatorLifecycle(uow, clock, hasher, SystemSecrets()),
        demo=demo,
    )


async def close_services(services: Services) -> None:
    await services.sender.close()
    await services.engine.dispose()


async def _load_demo_registry(engine: AsyncEngine, config: Config) -> None:
    """The demo starts with the guide's test holders, once."""
    async with engine.connect() as conn:
        count = (await conn.execute(select(func.count()).select_from(passes))).scalar_one()
    if count == 0:
        report = await import_registry(engine, DEMO_REGISTRY, regions=config.phone.allowed_regions)
        log.info("demo registry loaded: %d passes", report.passes.new)
