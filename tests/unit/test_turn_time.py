"""One time per turn: everything a conversation turn writes carries the same ``now``.

A turn is one transaction; if its parts each asked the clock, the request, its SMS, the
audit entry and the conversation would disagree by a few microseconds (three different
"now" in one SMS turn, before), and an audit read ordered by time could put the effect
before its cause. A clock that moves on every reading shows any second reading.
"""

from __future__ import annotations

import pytest

from core.codes import SecretHasher, SystemSecrets
from core.conversation.engine import ConversationEngine, DialoguePolicy
from core.conversation.state import Participant, Text
from core.values import PassNumber
from core.verification.service import Policy, VerificationService
from fakes.clock import TickingClock
from fakes.ports import FakeUnitOfWorkFactory, Store
from tests.unit.test_conversation_engine import code_in

SMS = Participant(
    key="sms:+886960123411", channel="sms", actor="sms:0960-***-411", phone="+886960123411"
)
PASS = PassNumber.parse("KHPS113-000043")


@pytest.fixture
def store() -> Store:
    s = Store()
    s.add_pass(PASS.value, "QQ12345673", "檢訊測試三", "0960123411")
    return s


@pytest.fixture
def engine(store: Store) -> ConversationEngine:
    clock = TickingClock()
    uow = FakeUnitOfWorkFactory(store)
    service = VerificationService(
        uow, clock, SecretHasher(b"s" * 32), SystemSecrets(), Policy("https://pp.twport.tw")
    )
    return ConversationEngine(uow, clock, service, DialoguePolicy())


async def turn(engine: ConversationEngine, text: str, sid: str) -> None:
    await engine.handle(SMS, Text(text), message_id=sid)


async def test_the_confirming_turn_writes_one_time(
    engine: ConversationEngine, store: Store
) -> None:
    for n, text in enumerate(("驗證", PASS.value, "QQ12345673")):
        await turn(engine, text, f"SM{n}")
    await turn(engine, "1", "SM3")

    [request] = store.requests.values()
    [(_, queued_at)] = store.outbox
    [audited] = [e.at for e in store.audit if e.action == "request.holder"]
    saved = store.conversations[SMS.key].updated_at
    assert {request.created_at, queued_at, audited, saved} == {saved}


async def test_the_code_reply_writes_one_time(engine: ConversationEngine, store: Store) -> None:
    for n, text in enumerate(("驗證", PASS.value, "QQ12345673", "1")):
        await turn(engine, text, f"SM{n}")
    await turn(engine, code_in(store), "SM9")

    [request] = store.requests.values()
    [audited] = [e.at for e in store.audit if e.action == "verified"]
    saved = store.conversations[SMS.key].updated_at
    verified_at = store.passes[PASS].verified_at
    assert {request.finished_at, verified_at, audited, saved} == {saved}


async def test_an_opt_out_turn_writes_one_time(engine: ConversationEngine, store: Store) -> None:
    await turn(engine, "STOP", "SM1")

    [opt_out] = store.opt_outs.values()
    assert opt_out.opted_out_at == store.conversations[SMS.key].updated_at
