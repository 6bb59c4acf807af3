"""The services a process runs on, as handlers see them: one :class:`Services` per
process, read from the app under :data:`SERVICES`.

They are built in one place, the composition root :mod:`bot.bootstrap`; channel modules
import only this module, so they depend on what the services are, never on how they
were made.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.config import Config
from bot.metrics.registry import Metrics
from bot.notices.delivery import NoticeTuning
from bot.providers.send_rate import SharedSendRate
from bot.providers.sender import SmsSender
from core.campaigns.service import CampaignService
from core.codes import SecretHasher
from core.conversation.engine import ConversationEngine
from core.notices.service import NoticeService
from core.operators.lifecycle import OperatorLifecycle
from core.operators.passes import OperatorService
from core.operators.questions import OperatorQuestions
from core.ports import Clock
from core.verification.service import VerificationService
from storage.client_hits import SharedHitCounter
from storage.conversation.inbound import InboundLog
from storage.outbox.sealing import BodySealer
from storage.turn_order import TurnOrder
from storage.uow import SqlUnitOfWorkFactory


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
    send_questions: OperatorQuestions  # /send questions behind their buttons' handles
    notices: NoticeService
    campaigns: CampaignService
    sealer: BodySealer  # opens queued SMS bodies: the outbox worker's, at send time
    demo: bool = False
    notice_tuning: NoticeTuning | None = None  # tests: the notice messenger's timings
    metrics: Metrics = field(default_factory=Metrics)  # this app's, never global
    #: One Telegram turn at a time per chat across processes (PostgreSQL); a no-op on SQLite.
    turn_order: TurnOrder = field(default_factory=TurnOrder)
    #: Per-address counts that every serve process shares (PostgreSQL); None: one
    #: process (SQLite), which counts in memory.
    shared_hits: SharedHitCounter | None = None
    #: The provider's send rate booked in the database by every process (PostgreSQL);
    #: None: one process (SQLite), whose outbox worker keeps a bucket in memory.
    shared_send_rate: SharedSendRate | None = None


@dataclass(frozen=True)
class Worker:
    """Which of ``portpass serve --workers N``'s processes this is. What must happen once
    per deployment and has no database claim of its own (Telegram polling, registering
    the webhook and the command menu) happens in the leader, worker 0, only."""

    index: int = 0
    count: int = 1

    @property
    def leader(self) -> bool:
        return self.index == 0


CONFIG = web.AppKey("config", Config)
WORKER = web.AppKey("worker", Worker)
SERVICES = web.AppKey("services", Services)
