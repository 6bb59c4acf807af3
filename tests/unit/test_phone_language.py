"""Every SMS in the holder's language: the language a phone last used (an SMS language
switch, a holder's own request on any channel) is remembered, and the SMS that phone gets
unasked (an operator's send, a campaign and its reminders) are in it, signed with that
language's sender name; a phone never seen gets the default language."""

from __future__ import annotations

import pytest

from core.codes import SecretHasher, SystemSecrets
from core.conversation.engine import ConversationEngine, DialoguePolicy
from core.conversation.state import Participant, Text
from core.model import Channel, Operator, Requester
from core.operators.accounts import OperatorAccount
from core.values import IdNumber, PassNumber, Phone
from core.verification.service import Policy, VerificationService
from fakes.clock import FakeClock
from fakes.ports import FakeUnitOfWorkFactory, Store

PHONE = "0960123411"
E164 = "+886960123411"
OPERATOR = Operator(id="op1", name="王小明", company="高雄港測試業者")
SMS = Participant(key=f"sms:{E164}", channel="sms", actor="sms:0960-***-411", phone=E164)
CAMPAIGN = Requester(key="campaign:1", channel=Channel.CLI, actor="campaign:1")


@pytest.fixture
def store() -> Store:
    s = Store()
    s.operators[OPERATOR.id] = OperatorAccount(
        OPERATOR.id, OPERATOR.name, OPERATOR.company, is_admin=False, created_at=FakeClock().now()
    )
    s.add_pass("KHPS113-000043", "QQ12345673", "檢訊測試三", PHONE)
    s.add_pass("KHPS113-000040", "QQ12345671", "檢訊測試一", PHONE)
    s.add_pass("KHPS113-000030", "A123456789", "阿金", "0912345618")
    return s


def service_for(store: Store, default_language: str = "zh-TW") -> VerificationService:
    return VerificationService(
        FakeUnitOfWorkFactory(store),
        FakeClock(),
        SecretHasher(b"k" * 32),
        SystemSecrets(),
        Policy("https://pp.twport.tw", default_language=default_language),
    )


def operator_chat() -> Requester:
    """The operator's own chat, in Chinese: the holder's SMS must not follow it."""
    return Requester(key="telegram:9", channel=Channel.TELEGRAM, actor="op1", language="zh-TW")


def last_sms(store: Store) -> str:
    return store.outbox[-1][0].body


async def test_a_holder_who_asked_in_vietnamese_gets_the_operators_send_in_vietnamese(
    store: Store,
) -> None:
    service = service_for(store)
    vi_chat = Requester(key="telegram:5", channel=Channel.TELEGRAM, actor="tg", language="vi")
    pass_43 = PassNumber.parse("KHPS113-000043")
    id_43 = IdNumber.parse("QQ12345673")
    await service.request_as_holder(vi_chat, pass_43, id_43, Phone.parse(PHONE))
    assert last_sms(store).startswith("[Cang Dai Loan] Xac minh dien thoai")

    await service.request_as_operator(OPERATOR, operator_chat(), PassNumber.parse("KHPS113-000040"))
    body = last_sms(store)
    assert body.startswith("[Cang Dai Loan] Xac minh dien thoai the ra vao cang: the so cuoi 0040")
    assert "港" not in body  # no Chinese: GSM-7, not UCS-2


async def test_a_phone_never_seen_gets_the_default_language(store: Store) -> None:
    await service_for(store).request_as_operator(
        OPERATOR, operator_chat(), PassNumber.parse("KHPS113-000030")
    )
    assert last_sms(store).startswith("【港務】港區通行證手機驗證")
    await service_for(store, default_language="en").request_as_operator(
        OPERATOR, operator_chat(), PassNumber.parse("KHPS113-000043")
    )
    assert last_sms(store).startswith("[Taiwan Ports] Port pass phone verification")


async def test_an_sms_language_switch_is_remembered_for_campaigns_and_reminders(
    store: Store,
) -> None:
    service = service_for(store)
    engine = ConversationEngine(
        FakeUnitOfWorkFactory(store), FakeClock(), service, DialoguePolicy()
    )
    await engine.handle(SMS, Text("ID"))  # Indonesian, typed alone: a language word
    async with FakeUnitOfWorkFactory(store)() as uow:
        record = await uow.passes.get(PassNumber.parse("KHPS113-000043"))
        assert record is not None
        await service.request_for_campaign(CAMPAIGN, record, uow=uow, now=FakeClock().now())
        await uow.commit()
    assert last_sms(store).startswith("[Pelabuhan Taiwan] Verifikasi HP kartu pas pelabuhan")

    async with FakeUnitOfWorkFactory(store)() as uow:
        other = await uow.passes.get(PassNumber.parse("KHPS113-000040"))
        assert other is not None
        await service.request_for_campaign(
            CAMPAIGN, other, uow=uow, now=FakeClock().now(), reminder=True
        )
        await uow.commit()
    assert last_sms(store).startswith("[Pelabuhan Taiwan] Pengingat verifikasi HP")


async def test_a_later_choice_replaces_the_earlier_one(store: Store) -> None:
    service = service_for(store)
    engine = ConversationEngine(
        FakeUnitOfWorkFactory(store), FakeClock(), service, DialoguePolicy()
    )
    await engine.handle(SMS, Text("VI"))
    await engine.handle(SMS, Text("EN"))
    await service.request_as_operator(OPERATOR, operator_chat(), PassNumber.parse("KHPS113-000043"))
    assert last_sms(store).startswith("[Taiwan Ports] Port pass phone verification")


async def test_every_help_reply_ends_with_the_contact_a_holder_can_check(store: Store) -> None:
    contact = {
        "zh-TW": "臺灣港務股份有限公司，客服電話 07-5612311",
        "vi": "Công ty Cổ phần Cảng Quốc tế Đài Loan · Điện thoại 07-5612311",
    }
    engine = ConversationEngine(
        FakeUnitOfWorkFactory(store),
        FakeClock(),
        service_for(store),
        DialoguePolicy(contact=contact),
    )
    help_, line = (await engine.handle(SMS, Text("?"))).replies
    assert help_.text.startswith("港區通行證手機驗證") and line.text == contact["zh-TW"]
    await engine.handle(SMS, Text("VI"))
    *_, line = (await engine.handle(SMS, Text("?"))).replies
    assert line.text == contact["vi"]
