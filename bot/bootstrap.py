"""The composition root: the one place a process's engine, unit of work and services
are built from the config.

Every entry point gets them here: ``portpass serve`` (through
:func:`bot.app.create_app`), the CLI commands (:func:`database_for` for those that only
read or write the registry, :func:`services_for` for those that need the server's key
and use cases), the tests (which pass :class:`Overrides`) and the benchmarks. Nothing
else calls :func:`storage.db.create_engine` for the application's database, so every
entry point opens it the same way: migrated to head, with the same key, the same
policies from the config.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.campaigns.dispatcher import CampaignTuning
from bot.config import Config
from bot.config.secret_key import resolve_secret_key
from bot.database import Database, close_database, database_for, open_database
from bot.notices.delivery import NoticeTuning
from bot.providers.console import ConsoleSender
from bot.providers.send_rate import SharedSendRate
from bot.providers.sender import SmsSender
from bot.providers.twilio_sender import TwilioSender
from bot.services import Services
from bot.sms.outbox_worker import OutboxTuning
from core import messages
from core.campaigns.model import Cost
from core.campaigns.service import CampaignPolicy, CampaignService
from core.clock import SystemClock
from core.codes import SecretHasher, SecretSource, SystemSecrets
from core.conversation.engine import ConversationEngine, DialoguePolicy
from core.notices.events import MAX_EVENTS
from core.notices.service import NoticePolicy, NoticeService
from core.notices.texts import NoticeWording
from core.operators.lifecycle import OperatorLifecycle
from core.operators.passes import OperatorService
from core.operators.questions import OperatorQuestions
from core.ports import Clock
from core.verification.service import Policy, VerificationService
from core.verification.sms_preview import sample_sms
from storage.client_hits import SharedHitCounter
from storage.conversation.inbound import InboundLog
from storage.db import create_engine
from storage.outbox.sealing import BodySealer
from storage.outbox.send_rate import SendSchedule
from storage.registry.importer import DEMO_REGISTRY, import_registry
from storage.tables import passes
from storage.turn_order import TurnOrder
from storage.uow import SqlUnitOfWorkFactory

__all__ = [  # the database alone lives in bot.database, light enough for any command
    "Database",
    "Overrides",
    "close_database",
    "close_services",
    "database_for",
    "open_database",
    "open_services",
    "services_for",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Overrides:
    """What tests (and benchmarks) may replace; production passes nothing."""

    clock: Clock | None = None
    secrets: SecretSource | None = None
    sender: SmsSender | None = None
    outbox: OutboxTuning | None = None  # the outbox worker's timings
    notices: NoticeTuning | None = None  # the notice messenger's and digest's timings
    campaigns: CampaignTuning | None = None  # the campaign dispatcher's timings
    campaign_policy: CampaignPolicy | None = None  # its backpressure


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
    if config.sms.sender == "smpp":
        # Imported here: a command that sends nothing should not load aiosmpplib.
        from bot.providers.smpp.settings import make_smpp_sender

        return make_smpp_sender(config)
    return ConsoleSender()


async def open_services(
    config: Config, *, demo: bool = False, overrides: Overrides | None = None
) -> Services:
    """Open the database (migrated to head), and build the core services on it.

    The secret key is resolved first: a configuration that cannot have one fails
    before anything connects.
    """
    extra = overrides or Overrides()
    key = resolve_secret_key(config, demo=demo)
    sealer = BodySealer(key)  # queued SMS bodies: under a key derived from it, not it
    database = await open_database(config, sealer=sealer)
    try:
        if demo:
            await _load_demo_registry(database.engine, config)
    except BaseException:
        await close_database(database)
        raise
    return _use_cases(config, database, SecretHasher(key), sealer, demo=demo, overrides=extra)


def _use_cases(
    config: Config,
    database: Database,
    hasher: SecretHasher,
    sealer: BodySealer,
    *,
    demo: bool = False,
    overrides: Overrides | None = None,
) -> Services:
    """The core use cases over ``database``, with the policies the config sets."""
    extra = overrides or Overrides()
    uow = database.uow
    clock = extra.clock or SystemClock()
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
            wording=config.sms_wording,
            default_language=v.default_language,
            sms_replies_arrive=config.sms.replies_arrive,
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
            contact=contact_lines(config),
        ),
    )
    campaigns = CampaignService(
        uow, clock, verification, extra.campaign_policy or campaign_policy(config)
    )
    services = Services(
        config=config,
        engine=database.engine,
        uow=uow,
        clock=clock,
        hasher=hasher,
        verification=verification,
        conversations=conversations,
        sender=extra.sender or make_sender(config),
        inbound=InboundLog(database.engine),
        operators=OperatorService(uow, clock),
        operator_lifecycle=OperatorLifecycle(uow, clock, hasher, SystemSecrets()),
        send_questions=OperatorQuestions(uow, clock, hasher, SystemSecrets()),
        notices=make_notice_service(config, uow, clock),
        campaigns=campaigns,
        sealer=sealer,
        demo=demo,
        notice_tuning=extra.notices,
        turn_order=turn_order(config, database.engine),
        shared_hits=shared_hits(database.engine),
        shared_send_rate=shared_send_rate(config, database.engine),
    )
    uow.add_audit_listener(services.metrics.audited)  # verifications, codes sent
    return services


#: Connections for Telegram's per-chat locks (storage.turn_order): chats whose turns
#: run at the same moment in one process; a further one waits for a connection.
TURN_LOCK_CONNECTIONS = 10


def shared_hits(engine: AsyncEngine) -> SharedHitCounter | None:
    """Per-address limits counted in the database where several processes may serve
    (PostgreSQL); SQLite is served by one process, whose memory is enough."""
    return SharedHitCounter(engine) if engine.dialect.name == "postgresql" else None


def shared_send_rate(config: Config, engine: AsyncEngine) -> SharedSendRate | None:
    """On PostgreSQL any number of processes and hosts may send: they book the
    provider's rate together in the database. SQLite has one process."""
    if engine.dialect.name != "postgresql":
        return None
    return SharedSendRate(SendSchedule(engine), config.sms.max_per_second)


def turn_order(config: Config, engine: AsyncEngine) -> TurnOrder:
    """Per-chat order across processes on PostgreSQL, on an engine of its own (see
    :mod:`storage.turn_order` for why); SQLite has one process and needs none."""
    if engine.dialect.name != "postgresql":
        return TurnOrder()
    locks = create_engine(
        config.database.url, pool_size=TURN_LOCK_CONNECTIONS, max_overflow=0, pool_timeout=30
    )
    return TurnOrder(locks)


def make_notice_service(
    config: Config, uow: SqlUnitOfWorkFactory, clock: Clock, *, max_events: int = MAX_EVENTS
) -> NoticeService:
    """Notices: the contact line from config, the chat's or default language;
    ``max_events`` per batch (the API's 10,000; the CLI reads a whole file at once)."""
    wording = NoticeWording(config.notices.contact, config.notices.contact_en, config.sms_wording)
    policy = NoticePolicy(
        wording, max_events=max_events, default_language=config.verification.default_language
    )
    return NoticeService(uow, clock, policy)


def contact_lines(config: Config) -> dict[str, str]:
    """What a holder can check the bot with, per language (``[organisation]``): none
    until a phone or a page is configured (the name alone gives nothing to check)."""
    org = config.organisation
    if not (org.phone or org.page_url):
        return {}
    return {language: org.check_line(language) for language in messages.LANGUAGES}


def campaign_policy(config: Config) -> CampaignPolicy:
    """Campaign numbers from config; the cost per SMS from the verification SMS as
    holders get it: this public base URL, the sender name, the default language."""
    language = config.verification.default_language
    samples = sample_sms(config.server.public_base_url, config.sms_wording)
    rendered = next(s for s in samples if s.language == language)
    return CampaignPolicy(
        code_ttl=timedelta(hours=config.verification.code_ttl_hours),
        max_per_second=config.sms.max_per_second,
        cost=Cost(
            segments_per_sms=rendered.segments.count,
            encoding=rendered.segments.encoding,
            price_per_segment=config.sms.price_per_segment,
            currency=config.sms.currency,
        ),
        language=language,
    )


async def close_services(services: Services) -> None:
    try:
        await services.sender.close()
    finally:
        await services.turn_order.close()
        await services.engine.dispose()


@asynccontextmanager
async def services_for(
    config: Config, *, demo: bool = False, overrides: Overrides | None = None
) -> AsyncIterator[Services]:
    """The services for one command or benchmark: opened on entry, closed on exit."""
    services = await open_services(config, demo=demo, overrides=overrides)
    try:
        yield services
    finally:
        await close_services(services)


async def _load_demo_registry(engine: AsyncEngine, config: Config) -> None:
    """The demo starts with the guide's test holders, once."""
    async with engine.connect() as conn:
        count = (await conn.execute(select(func.count()).select_from(passes))).scalar_one()
    if count == 0:
        report = await import_registry(engine, DEMO_REGISTRY, regions=config.phone.allowed_regions)
        log.info("demo registry loaded: %d passes", report.passes.new)
