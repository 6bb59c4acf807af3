"""On both backends: verifying re-checks the registry, with a real
re-import between the request and the check. The operator's new number (R5) is the
case that needs the phone on file stored with the request: the code legitimately went
to a number that differs from it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from core.codes import SecretHasher, SystemSecrets
from core.errors import AlreadyRequested, RequestStale
from core.model import Channel, Operator, Requester, RequestState
from core.operators.lifecycle import OperatorLifecycle
from core.values import IdNumber, PassNumber, Phone
from core.verification.service import Policy, VerificationService
from fakes.clock import FakeClock
from storage.registry.importer import DEMO_REGISTRY, import_registry
from storage.uow import SqlUnitOfWorkFactory

PASS = PassNumber("KHPS113-000043")
ROW = "KHPS113-000043,QQ12345673,檢訊測試三,0960123411,"
ON_FILE, NEW, OTHER = Phone("+886960123411"), Phone("+886912345678"), Phone("+886933123456")


class Secrets:
    """Known codes, so the test can type them without reading the SMS."""

    def __init__(self) -> None:
        self.n = 0

    def code(self) -> str:
        self.n += 1
        return f"{self.n:06d}"

    def token(self) -> str:
        return f"token-{self.n:06d}"


def sms_from(phone: Phone) -> Requester:
    return Requester(key=f"sms:{phone.e164}", channel=Channel.SMS, actor="sms", phone=phone)


async def reimport(uow_factory: SqlUnitOfWorkFactory, tmp_path: Path, new_row: str) -> None:
    edited = tmp_path / "edited.csv"
    edited.write_text(
        DEMO_REGISTRY.read_text(encoding="utf-8").replace(ROW, new_row), encoding="utf-8"
    )
    assert (await import_registry(uow_factory.engine, edited)).committed


@dataclass(frozen=True)
class Setup:
    service: VerificationService
    operator: Operator


@pytest.fixture
async def setup(uow_factory: SqlUnitOfWorkFactory) -> Setup:
    """The demo registry, imported for real, and an operator of its company."""
    assert (await import_registry(uow_factory.engine, DEMO_REGISTRY)).committed
    clock, hasher = FakeClock(), SecretHasher(b"i" * 32)
    operators = OperatorLifecycle(uow_factory, clock, hasher, SystemSecrets())
    account, _ = await operators.add_operator("王小明", "高雄港測試業者")
    service = VerificationService(
        uow_factory, clock, hasher, Secrets(), Policy("https://pp.example.tw")
    )
    return Setup(service, account.operator)


async def request_state(uow_factory: SqlUnitOfWorkFactory, phone: Phone) -> list[RequestState]:
    async with uow_factory() as uow:
        return [r.state for r in await uow.requests.for_phone(phone, FakeClock().now())]


async def test_a_holders_code_sent_before_the_phone_changed_is_closed_at_the_check(
    setup: Setup, uow_factory: SqlUnitOfWorkFactory, tmp_path: Path
) -> None:
    await setup.service.request_as_holder(sms_from(ON_FILE), PASS, IdNumber("QQ12345673"), ON_FILE)
    await reimport(uow_factory, tmp_path, ROW.replace("0960123411", "0933123456"))

    with pytest.raises(RequestStale):
        await setup.service.check_code(sms_from(ON_FILE), ON_FILE, "000001")

    assert await request_state(uow_factory, ON_FILE) == [RequestState.STALE]
    async with uow_factory() as uow:
        record = await uow.passes.get(PASS)
    assert record is not None and record.verified_phone is None


async def test_r5_a_new_number_is_not_written_over_a_phone_on_file_changed_since(
    setup: Setup, uow_factory: SqlUnitOfWorkFactory, tmp_path: Path
) -> None:
    cli = Requester(key="cli:test", channel=Channel.CLI, actor="test")
    await setup.service.request_as_operator(setup.operator, cli, PASS, NEW)
    await reimport(uow_factory, tmp_path, ROW.replace("0960123411", "0933123456"))

    with pytest.raises(RequestStale):
        await setup.service.check_code(sms_from(NEW), NEW, "000001")

    async with uow_factory() as uow:
        record = await uow.passes.get(PASS)
    assert record is not None and record.phone == OTHER  # the registry's, not R5's
    # Closed, so it holds no R2 lock: the operator can send to the new number again.
    await setup.service.request_as_operator(setup.operator, cli, PASS, NEW)
    await setup.service.check_code(sms_from(NEW), NEW, "000002")
    async with uow_factory() as uow:
        record = await uow.passes.get(PASS)
    assert record is not None and record.phone == NEW and record.verified_phone == NEW


async def test_r5_a_new_number_still_verifies_after_an_import_that_left_the_pass_alone(
    setup: Setup, uow_factory: SqlUnitOfWorkFactory, tmp_path: Path
) -> None:
    cli = Requester(key="cli:test", channel=Channel.CLI, actor="test")
    await setup.service.request_as_operator(setup.operator, cli, PASS, NEW)
    await reimport(uow_factory, tmp_path, ROW)

    verified = await setup.service.check_code(sms_from(NEW), NEW, "000001")

    assert verified.person_phone_updated
    with pytest.raises(AlreadyRequested):  # a verified request keeps its R2 lock
        await setup.service.request_as_holder(sms_from(NEW), PASS, IdNumber("QQ12345673"), NEW)
