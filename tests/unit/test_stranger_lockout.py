"""A stranger who knows a holder's pass, ID and phone cannot lock the holder out.

The stranger asks first (so R2 allows no second code for 24 hours) and types wrong
codes. Their wrong codes lock only the participant that typed them: the holder's link,
the holder's own chat, an SMS reply from the phone and an operator's re-issue still
verify (core.verification.participants; docs/security.md)."""

from __future__ import annotations

import contextlib
import dataclasses
from datetime import timedelta

import pytest

from core import messages
from core.codes import SecretHasher, SystemSecrets
from core.errors import (
    AlreadyRequested,
    AlreadyRequestedElsewhere,
    CodeCrowded,
    CodeLockedHere,
    CodeSuperseded,
    TooManyCodes,
    WrongCode,
)
from core.model import RequestState, Status
from core.operators.accounts import OperatorAccount
from core.status import status_of
from core.verification.service import Policy, VerificationService
from fakes.clock import FakeClock
from fakes.ports import FakeUnitOfWorkFactory, Store
from tests.unit.test_verification import (
    ID43,
    KEY,
    OPERATOR,
    P43,
    PHONE,
    holder,
    i,
    last_code,
    last_token,
    p,
    ph,
)

STRANGER = holder("telegram:666")
HOLDER_CHAT = holder("telegram:100")
HOLDER_PHONE = holder()  # an SMS from the phone on file


@pytest.fixture
def store() -> Store:
    s = Store()
    s.operators[OPERATOR.id] = OperatorAccount(
        OPERATOR.id, OPERATOR.name, OPERATOR.company, is_admin=False, created_at=FakeClock().now()
    )
    s.add_pass(P43, ID43, "檢訊測試三", PHONE)
    return s


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def service(store: Store, clock: FakeClock) -> VerificationService:
    return VerificationService(
        FakeUnitOfWorkFactory(store),
        clock,
        SecretHasher(KEY),
        SystemSecrets(),
        Policy(public_base_url="https://pp.twport.tw"),
    )


def wrong(code: str, n: int = 1) -> str:
    return f"{(int(code) + n) % 1000000:06d}"


async def stranger_asks_and_guesses(service: VerificationService, store: Store) -> str:
    """The stranger asks first, then types five wrong codes; returns the real code."""
    await service.request_as_holder(STRANGER, p(P43), i(ID43), ph(PHONE))
    code = last_code(store)
    for n in range(1, 5):
        with pytest.raises(WrongCode):
            await service.check_code(STRANGER, ph(PHONE), wrong(code, n))
    with pytest.raises(CodeLockedHere):
        await service.check_code(STRANGER, ph(PHONE), wrong(code, 5))
    return code


async def test_a_strangers_wrong_codes_lock_only_the_stranger(service, store):
    code = await stranger_asks_and_guesses(service, store)

    with pytest.raises(CodeLockedHere) as locked:
        await service.check_code(STRANGER, ph(PHONE), code)  # not even the right one now
    with pytest.raises(CodeLockedHere):
        await service.request_as_holder(STRANGER, p(P43), i(ID43), ph(PHONE))  # nor by asking

    [request] = store.requests.values()
    assert request.state is RequestState.LIVE  # the request itself is not spent
    assert request.participants == {STRANGER.key: 5}
    said = messages.render_error(locked.value)
    assert "這裡不能再輸入" in said and "連結" in said and "業者申請人重新發送" in said
    assert "Open the link" in messages.render_error(locked.value, messages.EN)


async def test_the_holders_link_still_verifies_after_a_strangers_wrong_codes(service, store):
    await stranger_asks_and_guesses(service, store)

    details = await service.describe_link(last_token(store))
    verified = await service.confirm_link(holder("web:session"), last_token(store))

    assert details.pass_no == verified.pass_no == p(P43)
    assert status_of(store.record(p(P43))) is Status.VERIFIED


async def test_the_holders_own_chat_verifies_after_a_strangers_wrong_codes(service, store):
    code = await stranger_asks_and_guesses(service, store)

    joined = await service.request_as_holder(HOLDER_CHAT, p(P43), i(ID43), ph(PHONE))
    with pytest.raises(WrongCode) as typo:
        await service.check_code(HOLDER_CHAT, ph(PHONE), wrong(code), joined.request_id)
    verified = await service.check_code(HOLDER_CHAT, ph(PHONE), code, joined.request_id)

    assert joined.joined and len(store.outbox) == 1  # R2: no second SMS
    assert typo.value.remaining == 4  # the holder's own five tries
    assert verified.pass_no == p(P43)
    assert status_of(store.record(p(P43))) is Status.VERIFIED
    assert [e.action for e in store.audit].count("request.joined") == 1


async def test_an_sms_reply_from_the_phone_verifies_after_a_strangers_wrong_codes(service, store):
    code = await stranger_asks_and_guesses(service, store)

    with pytest.raises(AlreadyRequested):  # the phone asks: told to type the code it got
        await service.request_as_holder(HOLDER_PHONE, p(P43), i(ID43), ph(PHONE))
    verified = await service.check_code(HOLDER_PHONE, ph(PHONE), code)

    assert verified.pass_no == p(P43)


async def test_an_operator_reissues_a_code_within_24_hours_of_a_strangers_request(
    service, store, clock
):
    old_code = await stranger_asks_and_guesses(service, store)
    old_token = last_token(store)
    clock.advance(hours=1)

    sent = await service.request_as_operator(OPERATOR, holder("telegram:1"), p(P43))

    assert sent.replaced and not sent.joined
    assert len(store.outbox) == 2 and store.outbox[-1][0].to == ph(PHONE)
    with pytest.raises(CodeSuperseded):
        await service.describe_link(old_token)
    with pytest.raises(CodeSuperseded):
        await service.check_code(HOLDER_PHONE, ph(PHONE), old_code)
    actions = [e.action for e in store.audit]
    assert "request.superseded" in actions
    [reissue] = [e for e in store.audit if e.action == "request.operator"]
    assert reissue.detail["replaces"] == "yes"
    verified = await service.check_code(HOLDER_PHONE, ph(PHONE), last_code(store))
    assert verified.pass_no == p(P43)


async def test_an_operators_reissue_works_even_after_the_holder_verified(service, store):
    await service.request_as_holder(HOLDER_PHONE, p(P43), i(ID43), ph(PHONE))
    await service.check_code(HOLDER_PHONE, ph(PHONE), last_code(store))

    sent = await service.request_as_operator(OPERATOR, holder("telegram:1"), p(P43))

    assert not sent.replaced  # nothing live to replace; the verification stands
    states = sorted(r.state.value for r in store.requests.values())
    assert states == ["live", "verified"]


async def test_operator_reissues_are_bounded_so_a_phone_is_not_flooded(service, store, clock):
    await service.request_as_holder(STRANGER, p(P43), i(ID43), ph(PHONE))
    first_at = clock.now()
    for _ in range(3):
        clock.advance(minutes=10)
        await service.request_as_operator(OPERATOR, holder("telegram:1"), p(P43))

    with pytest.raises(TooManyCodes) as refused:
        await service.request_as_operator(OPERATOR, holder("telegram:1"), p(P43))

    assert len(store.outbox) == 4
    assert refused.value.retry_at == first_at + timedelta(hours=24)
    assert "24小時內已經發送太多次驗證碼" in messages.render_error(refused.value)
    clock.advance(hours=24, minutes=-29)  # the first code leaves the window
    await service.request_as_operator(OPERATOR, holder("telegram:1"), p(P43))


async def test_another_companys_operator_cannot_replace_the_holders_code(service, store):
    other = dataclasses.replace(OPERATOR, id="op2", company="臺中港測試公司")
    store.operators[other.id] = OperatorAccount(
        other.id, other.name, other.company, is_admin=False, created_at=FakeClock().now()
    )
    await service.request_as_holder(HOLDER_PHONE, p(P43), i(ID43), ph(PHONE))

    with pytest.raises(AlreadyRequested):  # R2 as before: only the pass's company re-issues
        await service.request_as_operator(other, holder("telegram:2"), p(P43))

    assert len(store.outbox) == 1
    await service.check_code(HOLDER_PHONE, ph(PHONE), last_code(store))


async def test_a_new_number_still_gets_one_code_a_day(service, store):
    new = ph("0912345678")
    await service.request_as_operator(OPERATOR, holder("telegram:1"), p(P43), new)
    with pytest.raises(AlreadyRequested):  # the re-issue is for the phone on file only
        await service.request_as_operator(OPERATOR, holder("telegram:1"), p(P43), new)


async def test_joining_a_code_is_bounded_and_then_the_link_still_works(service, store):
    await service.request_as_holder(STRANGER, p(P43), i(ID43), ph(PHONE))
    code = last_code(store)
    for n in range(4):
        await service.request_as_holder(holder(f"telegram:{700 + n}"), p(P43), i(ID43), ph(PHONE))

    with pytest.raises(CodeCrowded) as crowded:
        await service.request_as_holder(HOLDER_CHAT, p(P43), i(ID43), ph(PHONE))
    with pytest.raises(AlreadyRequestedElsewhere):
        await service.check_code(HOLDER_CHAT, ph(PHONE), code)  # never joined

    said = messages.render_error(crowded.value)
    assert "連結" in said and "業者申請人重新發送" in said
    assert "request.join_refused" in [e.action for e in store.audit]
    await service.confirm_link(holder("web:session"), last_token(store))
    assert status_of(store.record(p(P43))) is Status.VERIFIED


async def test_guesses_on_one_code_are_bounded_however_many_chats_try(service, store):
    await service.request_as_holder(STRANGER, p(P43), i(ID43), ph(PHONE))
    code = last_code(store)
    chats = [STRANGER, HOLDER_PHONE] + [holder(f"telegram:{700 + n}") for n in range(10)]
    for chat in chats:  # everyone proves R1 first, taking every place there is
        with contextlib.suppress(AlreadyRequested, CodeCrowded):
            await service.request_as_holder(chat, p(P43), i(ID43), ph(PHONE))
    guesses = 0
    for chat in chats:
        for n in range(1, 8):
            try:
                await service.check_code(chat, ph(PHONE), wrong(code, n))
            except WrongCode:
                guesses += 1
            except CodeLockedHere:
                guesses += 1 if n == 5 else 0  # the fifth counts; later ones are refused
            except AlreadyRequestedElsewhere:
                break

    [request] = store.requests.values()
    assert guesses == request.failed_attempts == (4 + 2) * 5  # max_joined + asker + phone
    assert request.state is RequestState.LIVE
