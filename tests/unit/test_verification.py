"""The guide's rules (R1–R9) as the verification service enforces them, on fakes."""

from __future__ import annotations

import dataclasses
import re
from datetime import date, timedelta

import pytest

from core import messages
from core.codes import SecretHasher, SystemSecrets
from core.errors import (
    AlreadyRequested,
    AlreadyRequestedElsewhere,
    AlreadyVerified,
    CodeExpired,
    CodeLockedHere,
    NewPhoneNotOwned,
    NoMatch,
    NoOpenRequest,
    NoPhoneOnFile,
    NotAnOperator,
    PassNotFound,
    PassNotValid,
    PhoneOptedOut,
    RequestStale,
    TooManyFailures,
    UnknownLink,
    WrongCode,
)
from core.model import Channel, Operator, Requester, RequestState, Status
from core.operators.accounts import OperatorAccount
from core.opt_outs.model import OptOut, OptOutSource
from core.status import status_of
from core.values import IdNumber, PassNumber, Phone
from core.verification.service import Policy, VerificationService
from core.verification.sms_text import segments
from fakes.clock import FakeClock
from fakes.ports import FakeUnitOfWorkFactory, Person, Store

KEY = b"k" * 32
P43, ID43, PHONE = "KHPS113-000043", "QQ12345673", "0960123411"


def holder(key: str = "sms:+886960123411") -> Requester:
    """An SMS sender (``sms:+886…``: the channel vouches for the number) or a chat."""
    channel, _, address = key.partition(":")
    if channel == "sms":
        return Requester(key=key, channel=Channel.SMS, actor="sms", phone=Phone(address))
    return Requester(key=key, channel=Channel(channel), actor=channel)


OPERATOR = Operator(id="op1", name="王小明", company="高雄港測試業者")


@pytest.fixture
def store() -> Store:
    s = Store()
    s.operators[OPERATOR.id] = OperatorAccount(
        OPERATOR.id, OPERATOR.name, OPERATOR.company, is_admin=False, created_at=FakeClock().now()
    )
    s.add_pass(P43, ID43, "檢訊測試三", PHONE)
    s.add_pass("KHPS113-000040", "QQ12345671", "檢訊測試一", PHONE)
    s.add_pass("KHPS113-000038", "QQ12345671", "檢訊測試一", PHONE, verified_phone=PHONE)
    s.add_pass("KHPS113-000034", "X123456789", "測試三", None)
    s.add_pass(
        "TCPS113-000102",
        "C123456781",
        "臺中測試乙",
        "0955666777",
        company="臺中港測試公司",
        valid_from=date(2024, 2, 1),
        valid_to=date(2024, 8, 31),
    )
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


def p(value: str) -> PassNumber:
    return PassNumber.parse(value)


def i(value: str) -> IdNumber:
    return IdNumber.parse(value, trust_check_digit=False)


def ph(value: str) -> Phone:
    return Phone.parse(value)


def last_code(store: Store) -> str:
    match = re.search(r"驗證碼(\d{6})", store.outbox[-1][0].body)
    assert match, store.outbox[-1][0].body
    return match.group(1)


def last_token(store: Store) -> str:
    match = re.search(r"/v/([A-Za-z0-9_-]+)", store.outbox[-1][0].body)
    assert match
    return match.group(1)


async def request43(service: VerificationService) -> None:
    await service.request_as_holder(holder(), p(P43), i(ID43), ph(PHONE))


# --- R1 -------------------------------------------------------------------------------------


async def test_r1_code_sent_when_pass_id_and_phone_match(service, store):
    sent = await service.request_as_holder(holder(), p(P43), i(ID43), ph("+886 960-123-411"))
    assert sent.pass_no == p(P43)
    assert len(store.outbox) == 1
    sms, _ = store.outbox[0]
    assert sms.to == ph(PHONE)
    assert sms.request_id == sent.request_id
    assert re.search(r"驗證碼\d{6}", sms.body)


@pytest.mark.parametrize(
    ("pass_no", "id_no", "phone"),
    [
        ("KHPS113-000099", ID43, PHONE),  # no such pass
        (P43, "QQ12345671", PHONE),  # someone else's ID
        (P43, ID43, "0912345678"),  # not the phone on file
        ("KHPS113-000034", "X123456789", PHONE),  # no phone on file
    ],
)
async def test_r1_any_mismatch_gets_the_same_message_and_no_sms(
    service, store, pass_no, id_no, phone
):
    with pytest.raises(NoMatch) as caught:
        await service.request_as_holder(holder(), p(pass_no), i(id_no), ph(phone))
    assert messages.render_error(caught.value).startswith(
        "查無人員通行證或手機資料，無法取得驗證碼！"
    )
    assert store.outbox == []
    assert store.requests == {}


# --- R2 -------------------------------------------------------------------------------------


async def test_r2_same_combination_gets_one_code_per_24_hours(service, store, clock):
    await request43(service)
    clock.advance(hours=23, minutes=59)
    with pytest.raises(AlreadyRequested) as caught:
        await request43(service)
    assert caught.value.retry_at == store.outbox[0][1] + timedelta(hours=24)
    assert "2026/11/28 10:00" in messages.render_error(caught.value)  # Taipei time
    assert len(store.outbox) == 1
    clock.advance(minutes=1)
    await request43(service)
    assert len(store.outbox) == 2


async def test_r2_another_pass_of_the_same_phone_is_a_different_combination(service, store):
    await request43(service)
    await service.request_as_holder(holder(), p("KHPS113-000040"), i("QQ12345671"), ph(PHONE))
    assert len(store.outbox) == 2


async def test_r2_a_released_request_frees_the_lock(service, store):
    sent = await service.request_as_holder(holder(), p(P43), i(ID43), ph(PHONE))
    store.requests[sent.request_id] = store.requests[sent.request_id].__class__(
        **{**_fields(store.requests[sent.request_id]), "state": RequestState.RELEASED}
    )
    await request43(service)
    assert len(store.outbox) == 2


def _fields(obj: object) -> dict[str, object]:
    return {name: getattr(obj, name) for name in obj.__slots__}  # type: ignore[attr-defined]


# --- R3 and R9 ------------------------------------------------------------------------------


async def test_r3_right_code_verifies_and_is_valid_for_24_hours(service, store, clock):
    await request43(service)
    code = last_code(store)
    assert re.fullmatch(r"\d{6}", code)
    clock.advance(hours=23, minutes=59)
    verified = await service.check_code(holder(), ph(PHONE), code)
    assert verified.pass_no == p(P43)
    assert status_of(store.record(p(P43))) is Status.VERIFIED


async def test_r3_code_expires_after_24_hours(service, store, clock):
    await request43(service)
    code = last_code(store)
    clock.advance(hours=24)
    with pytest.raises(CodeExpired):
        await service.check_code(holder(), ph(PHONE), code)
    assert status_of(store.record(p(P43))) is Status.UNVERIFIED


async def test_r3_link_confirmation_verifies_like_the_code(service, store):
    await request43(service)
    token = last_token(store)
    details = await service.describe_link(token)
    assert details.pass_no == p(P43)
    assert status_of(store.record(p(P43))) is Status.UNVERIFIED  # looking does not verify
    await service.confirm_link(holder(), token)
    assert status_of(store.record(p(P43))) is Status.VERIFIED
    with pytest.raises(AlreadyVerified):
        await service.confirm_link(holder(), token)
    with pytest.raises(AlreadyVerified):
        await service.check_code(holder(), ph(PHONE), last_code(store))


async def test_unknown_link_token(service):
    with pytest.raises(UnknownLink):
        await service.describe_link("nonexistent-token")
    with pytest.raises(UnknownLink):
        await service.confirm_link(holder(), "nonexistent-token")


async def test_r9_sms_carries_the_facts_in_two_segments(service, store):
    await request43(service)
    body = store.outbox[0][0].body
    assert "0043" in body
    assert "24" in body
    assert re.search(r"https://pp\.twport\.tw/v/[A-Za-z0-9_-]{10,}", body)
    assert "港區通行證手機驗證" in body and "請勿將驗證碼告訴他人" in body
    assert segments(body).count == 2


async def test_secrets_are_stored_only_as_hashes(service, store):
    await request43(service)
    request = next(iter(store.requests.values()))
    code, token = last_code(store), last_token(store)
    assert code not in request.code_hash
    assert token not in request.token_hash


# --- wrong codes ----------------------------------------------------------------------------


async def test_wrong_codes_count_down_then_lock_out_the_participant(service, store):
    await request43(service)
    code = last_code(store)
    wrong = f"{(int(code) + 1) % 1000000:06d}"
    for remaining in (4, 3, 2, 1):
        with pytest.raises(WrongCode) as caught:
            await service.check_code(holder(), ph(PHONE), wrong)
        assert caught.value.remaining == remaining
    with pytest.raises(CodeLockedHere) as locked:
        await service.check_code(holder(), ph(PHONE), wrong)
    assert "這裡不能再輸入" in messages.render_error(locked.value)
    with pytest.raises(CodeLockedHere):
        await service.check_code(holder(), ph(PHONE), code)  # even the right one, from here
    assert status_of(store.record(p(P43))) is Status.UNVERIFIED
    [request] = store.requests.values()
    assert request.state is RequestState.LIVE  # the link still works


async def test_code_with_nothing_waiting(service):
    with pytest.raises(NoOpenRequest):
        await service.check_code(holder(), ph(PHONE), "123456")


async def test_one_phone_several_passes_the_code_picks_the_request(service, store):
    await request43(service)
    code43 = last_code(store)
    await service.request_as_holder(holder(), p("KHPS113-000040"), i("QQ12345671"), ph(PHONE))
    verified = await service.check_code(holder(), ph(PHONE), code43)
    assert verified.pass_no == p(P43)
    # R8: verification is per pass.
    assert status_of(store.record(p(P43))) is Status.VERIFIED
    assert status_of(store.record(p("KHPS113-000040"))) is Status.UNVERIFIED


# --- cool-down and validity -----------------------------------------------------------------


async def test_five_failed_lookups_an_hour_then_cool_down(service, store, clock):
    for _ in range(5):
        with pytest.raises(NoMatch):
            await service.request_as_holder(holder(), p(P43), i("A123456789"), ph(PHONE))
        clock.advance(minutes=1)
    with pytest.raises(TooManyFailures) as caught:
        await request43(service)  # even the right data waits
    assert caught.value.retry_at == store.failures[0][1] + timedelta(hours=1)
    other = holder("sms:+886912345678")
    await service.request_as_holder(other, p(P43), i(ID43), ph(PHONE))  # others unaffected
    clock.advance(minutes=56)
    await service.request_as_holder(holder(), p("KHPS113-000040"), i("QQ12345671"), ph(PHONE))


async def test_pass_outside_validity_is_refused_only_after_a_match(service, store):
    with pytest.raises(PassNotValid) as caught:
        await service.request_as_holder(
            holder(), p("TCPS113-000102"), i("C123456781"), ph("0955666777")
        )
    assert "2024/02/01" in messages.render_error(caught.value)
    with pytest.raises(NoMatch):
        await service.request_as_holder(
            holder(), p("TCPS113-000102"), i("C123456781"), ph("0955666778")
        )
    assert store.outbox == []


# --- operators: R5, R6 ----------------------------------------------------------------------


async def test_r5_operator_sends_to_the_phone_on_file(service, store):
    await service.request_as_operator(OPERATOR, holder("telegram:1"), p(P43))
    assert store.outbox[0][0].to == ph(PHONE)
    await service.check_code(holder(), ph(PHONE), last_code(store))
    assert status_of(store.record(p(P43))) is Status.VERIFIED


async def test_r5_new_phone_replaces_the_phone_on_file_only_when_verified(service, store):
    new = "0912345678"
    await service.request_as_operator(OPERATOR, holder("telegram:1"), p(P43), ph(new))
    assert store.outbox[0][0].to == ph(new)
    assert store.record(p(P43)).phone == ph(PHONE)  # not yet
    await service.check_code(holder("sms:+886912345678"), ph(new), last_code(store))
    record = store.record(p(P43))
    assert record.phone == ph(new)
    assert record.verified_phone == ph(new)
    assert status_of(record) is Status.VERIFIED


async def test_r6_blank_phone_on_file_cannot_be_sent(service, store):
    with pytest.raises(NoPhoneOnFile) as caught:
        await service.request_as_operator(
            OPERATOR, holder("telegram:1"), p("KHPS113-000034"), ph("0912345678")
        )
    assert "下一次匯入" in messages.render_error(caught.value)
    assert store.outbox == []


async def test_operator_unknown_pass(service):
    with pytest.raises(PassNotFound):
        await service.request_as_operator(OPERATOR, holder("telegram:1"), p("KHPS113-999999"))


# --- R7, R8 ---------------------------------------------------------------------------------


async def test_r7_verified_pass_becomes_pending_when_phone_on_file_changes(service, store):
    # KHPS113-000038 and -000040 belong to the same person; -000038 is verified.
    assert status_of(store.record(p("KHPS113-000038"))) is Status.VERIFIED
    new = "0912345678"
    await service.request_as_operator(OPERATOR, holder("telegram:1"), p("KHPS113-000040"), ph(new))
    await service.check_code(holder("sms:+886912345678"), ph(new), last_code(store))
    assert status_of(store.record(p("KHPS113-000040"))) is Status.VERIFIED
    # The person's phone changed, so the other pass verified with the old one is pending.
    assert status_of(store.record(p("KHPS113-000038"))) is Status.PENDING


# --- audit -----------------------------------------------------------------------------------


async def test_audit_records_actions_with_personal_data_masked(service, store):
    await request43(service)
    with pytest.raises(NoMatch):
        await service.request_as_holder(holder(), p(P43), i("A123456789"), ph(PHONE))
    await service.check_code(holder(), ph(PHONE), last_code(store))
    actions = [e.action for e in store.audit]
    assert actions == ["request.holder", "request.no_match", "verified"]
    dump = repr(store.audit)
    assert "0960123411" not in dump and "+886960123411" not in dump
    assert ID43 not in dump and P43 not in dump


# --- a code is guessed only where it was asked for, or from its phone ---


async def test_a_chat_that_did_not_ask_cannot_guess_someone_elses_code(service, store):
    holder_chat, stranger = holder("telegram:100"), holder("telegram:666")
    await service.request_as_holder(holder_chat, p(P43), i(ID43), ph(PHONE))
    code = last_code(store)
    wrong = f"{(int(code) + 1) % 1000000:06d}"

    for _ in range(10):
        with pytest.raises(AlreadyRequestedElsewhere):
            await service.check_code(stranger, ph(PHONE), wrong)
    with pytest.raises(AlreadyRequestedElsewhere) as told:
        await service.check_code(stranger, ph(PHONE), code)  # not even the right one

    assert "點擊該簡訊中的連結" in messages.render_error(told.value)
    assert "Open the link" in messages.render_error(told.value, messages.EN)
    assert "送到 0960-***-411" in messages.render_error(told.value)  # where it went
    assert [r.failed_attempts for r in store.requests.values()] == [0]
    assert [e.action for e in store.audit].count("check.wrong_code") == 0
    verified = await service.check_code(holder_chat, ph(PHONE), code)
    assert verified.pass_no == p(P43)


async def test_the_phone_a_code_went_to_may_enter_it_whoever_asked(service, store):
    await service.request_as_holder(holder("telegram:100"), p(P43), i(ID43), ph(PHONE))
    with pytest.raises(AlreadyRequested) as again:
        await request43(service)  # the phone itself asks: told to enter the code it got
    assert not isinstance(again.value, AlreadyRequestedElsewhere)
    await service.check_code(holder(), ph(PHONE), last_code(store))
    assert status_of(store.record(p(P43))) is Status.VERIFIED


async def test_wrong_guesses_from_the_chat_that_asked_still_count(service, store):
    chat = holder("telegram:100")
    await service.request_as_holder(chat, p(P43), i(ID43), ph(PHONE))
    wrong = f"{(int(last_code(store)) + 1) % 1000000:06d}"
    with pytest.raises(WrongCode) as caught:
        await service.check_code(chat, ph(PHONE), wrong)
    assert caught.value.remaining == 4


async def test_an_operators_code_is_entered_from_the_phone_not_from_a_chat(service, store):
    await service.request_as_operator(OPERATOR, holder("telegram:1"), p(P43))
    with pytest.raises(AlreadyRequestedElsewhere):
        await service.check_code(holder("telegram:100"), ph(PHONE), last_code(store))
    await service.check_code(holder(), ph(PHONE), last_code(store))
    assert status_of(store.record(p(P43))) is Status.VERIFIED


# --- a new phone only for an owned pass -----------------------------------

TC_PASS = "TCPS113-000101"


def add_other_company_pass(store: Store) -> None:
    store.add_pass(TC_PASS, "B223456780", "臺中測試甲", "0911222333", company="臺中港測試公司")


async def test_r5_a_new_phone_for_another_companys_pass_is_refused(service, store):
    add_other_company_pass(store)
    for typed in ("0912345678", "0911222333"):  # even its phone on file, typed in full
        with pytest.raises(NewPhoneNotOwned) as caught:
            await service.request_as_operator(OPERATOR, holder("telegram:1"), p(TC_PASS), ph(typed))
        assert "不是貴公司的所屬通行證" in messages.render_error(caught.value)
        assert "not one of your company's passes" in messages.render_error(
            caught.value, messages.EN
        )
    assert store.outbox == [] and store.requests == {}
    assert [e.action for e in store.audit] == ["request.new_phone_refused"] * 2
    await service.request_as_operator(OPERATOR, holder("telegram:1"), p(TC_PASS))
    assert store.outbox[0][0].to == ph("0911222333")  # the phone on file: allowed


async def test_r5_an_admin_may_give_a_new_phone_for_any_pass(service, store, clock):
    add_other_company_pass(store)
    store.operators["adm"] = OperatorAccount(
        "adm", "管理員", "港務公司", is_admin=True, created_at=clock.now()
    )
    admin = Operator(id="adm", name="管理員", company="港務公司", is_admin=True)
    await service.request_as_operator(admin, holder("telegram:2"), p(TC_PASS), ph("0912345678"))
    assert store.outbox[0][0].to == ph("0912345678")


async def test_r5_ownership_is_judged_on_the_stored_account(service, store):
    add_other_company_pass(store)
    # A stale Operator value claiming admin rights (or another company) changes nothing.
    claimed = Operator(id=OPERATOR.id, name=OPERATOR.name, company="港務公司", is_admin=True)
    with pytest.raises(NewPhoneNotOwned):
        await service.request_as_operator(claimed, holder("telegram:1"), p(TC_PASS), ph(PHONE))
    store.operators[OPERATOR.id] = dataclasses.replace(
        store.operators[OPERATOR.id], revoked_at=store.operators[OPERATOR.id].created_at
    )
    with pytest.raises(NotAnOperator):
        await service.request_as_operator(OPERATOR, holder("telegram:1"), p(P43))
    assert store.outbox == []


async def test_operator_target_refuses_a_new_phone_before_asking(service, store):
    add_other_company_pass(store)
    with pytest.raises(NewPhoneNotOwned):
        await service.operator_target(p(TC_PASS), ph("0912345678"), operator=OPERATOR)
    _, phone = await service.operator_target(p(P43), ph("0912345678"), operator=OPERATOR)
    assert phone == ph("0912345678")


# --- verifying re-checks the registry -----------------------------------


def change_phone_on_file(store: Store, id_no: str, phone: str | None) -> None:
    store.persons[i(id_no)].phone = ph(phone) if phone else None


def give_pass_to(store: Store, pass_no: str, id_no: str, name: str, phone: str) -> None:
    store.persons[i(id_no)] = Person(name, ph(phone))
    store.passes[p(pass_no)] = dataclasses.replace(store.passes[p(pass_no)], id_no=i(id_no))


@pytest.mark.parametrize("by", ["code", "link"])
async def test_a_code_sent_before_the_phone_on_file_changed_no_longer_verifies(service, store, by):
    await request43(service)
    code, token = last_code(store), last_token(store)
    change_phone_on_file(store, ID43, "0933123456")

    with pytest.raises(RequestStale) as caught:
        if by == "code":
            await service.check_code(holder(), ph(PHONE), code)
        else:
            await service.confirm_link(holder(), token)

    assert "請以目前的資料重新取得驗證碼" in messages.render_error(caught.value)
    assert "ask for a new code" in messages.render_error(caught.value, messages.EN)
    record = store.record(p(P43))
    assert record.verified_phone is None and status_of(record) is Status.UNVERIFIED
    [request] = store.requests.values()
    assert request.state is RequestState.STALE
    with pytest.raises(RequestStale):  # closed: says so again, never verifies later
        await service.check_code(holder(), ph(PHONE), code)
    change_phone_on_file(store, ID43, PHONE)  # changed back: still closed
    with pytest.raises(RequestStale):
        await service.confirm_link(holder(), token)


async def test_a_code_sent_before_the_pass_changed_holder_no_longer_verifies(service, store):
    await request43(service)
    code = last_code(store)
    give_pass_to(store, P43, "A123456789", "新持證人", PHONE)  # same phone, another person

    with pytest.raises(RequestStale):
        await service.check_code(holder(), ph(PHONE), code)
    assert store.record(p(P43)).verified_phone is None


async def test_the_link_page_says_the_data_changed_without_closing_anything(service, store):
    await request43(service)
    token = last_token(store)
    change_phone_on_file(store, ID43, "0933123456")
    with pytest.raises(RequestStale):
        await service.describe_link(token)
    [request] = store.requests.values()
    assert request.state is RequestState.LIVE  # a GET writes nothing


async def test_a_closed_stale_request_no_longer_holds_the_r2_lock(service, store):
    await service.request_as_operator(OPERATOR, holder("telegram:1"), p(P43), ph("0912345678"))
    first = last_code(store)
    change_phone_on_file(store, ID43, "0933123456")  # the registry moves on meanwhile
    new_holder = holder("sms:+886912345678")
    with pytest.raises(RequestStale):
        await service.check_code(new_holder, ph("0912345678"), first)
    assert store.record(p(P43)).phone == ph("0933123456")  # R5 did not overwrite it

    await service.request_as_operator(OPERATOR, holder("telegram:1"), p(P43), ph("0912345678"))
    await service.check_code(new_holder, ph("0912345678"), last_code(store))
    assert store.record(p(P43)).phone == ph("0912345678")


async def test_a_stale_request_is_closed_when_the_same_combination_asks_again(service, store):
    await service.request_as_operator(OPERATOR, holder("telegram:1"), p(P43), ph("0912345678"))
    change_phone_on_file(store, ID43, "0912345678")  # the registry now has that number
    await service.request_as_holder(holder("sms:+886912345678"), p(P43), i(ID43), ph("0912345678"))
    states = sorted(r.state.value for r in store.requests.values())
    assert states == ["live", "stale"]


async def test_r5_an_operators_new_phone_still_verifies_when_the_registry_is_unchanged(
    service, store
):
    await service.request_as_operator(OPERATOR, holder("telegram:1"), p(P43), ph("0912345678"))
    change_phone_on_file(store, "QQ12345671", "0933123456")  # someone else's row changed
    await service.check_code(holder("sms:+886912345678"), ph("0912345678"), last_code(store))
    assert store.record(p(P43)).phone == ph("0912345678")


# --- opted-out phones ------------------------------------------------------------------------


def opt_out(store: Store, phone: str, clock: FakeClock) -> None:
    store.opt_outs[ph(phone)] = OptOut(ph(phone), clock.now(), OptOutSource.KEYWORD, "STOP")


async def test_a_holder_gets_no_code_at_a_phone_that_opted_out(service, store, clock):
    opt_out(store, PHONE, clock)

    with pytest.raises(PhoneOptedOut) as refused:
        await service.request_as_holder(holder(), p(P43), i(ID43), ph(PHONE))

    assert store.outbox == [] and store.requests == {}
    text = messages.render_error(refused.value, messages.EN)
    assert "text START from that phone" in text
    assert "傳送 START" in messages.render_error(refused.value, messages.ZH)


async def test_an_operator_gets_no_code_at_a_phone_that_opted_out(service, store, clock):
    opt_out(store, PHONE, clock)

    with pytest.raises(PhoneOptedOut):
        await service.operator_target(p(P43))  # before R4's question is even asked
    with pytest.raises(PhoneOptedOut):
        await service.request_as_operator(OPERATOR, holder("telegram:1"), p(P43))
    assert store.outbox == []


async def test_an_operator_may_send_to_a_new_phone_when_the_one_on_file_opted_out(
    service, store, clock
):
    opt_out(store, PHONE, clock)

    _, target = await service.operator_target(p(P43), ph("0912345678"))
    await service.request_as_operator(OPERATOR, holder("telegram:1"), p(P43), ph("0912345678"))

    assert target == ph("0912345678")
    assert store.sms_to("0912345678")
    with pytest.raises(PhoneOptedOut):  # and not to a new phone that opted out
        await service.operator_target(p("KHPS113-000040"), ph(PHONE))


async def test_a_phone_that_opted_back_in_gets_its_code(service, store, clock):
    opt_out(store, PHONE, clock)
    store.opt_outs.clear()  # START

    await service.request_as_holder(holder(), p(P43), i(ID43), ph(PHONE))

    assert len(store.sms_to(PHONE)) == 1


# --- the verification SMS as queued ---------------------------------


async def test_the_queued_sms_names_its_secrets_expiry_and_who_to_tell(service, store, clock):
    """Storage seals what ``secrets`` names, retries until ``expires_at`` (the code's
    expiry) and tells ``notify_to`` if the SMS finally fails: a Telegram chat, never an
    SMS sender (another SMS would go where the first could not)."""
    chat = await service.request_as_holder(holder("telegram:555"), p(P43), i(ID43), ph(PHONE))
    by_sms = await service.request_as_holder(
        holder(), p("KHPS113-000040"), i("QQ12345671"), ph(PHONE)
    )

    (first, _), (second, _) = store.outbox
    assert first.secrets == (re.search(r"驗證碼(\d{6})", first.body)[1], last_token_of(first.body))
    assert (first.expires_at, first.notify_to) == (chat.expires_at, "telegram:555")
    assert chat.expires_at == clock.now() + timedelta(hours=24)
    assert (second.expires_at, second.notify_to) == (by_sms.expires_at, None)
    assert store.outbox_priorities == [0, 0]  # a holder's own request goes first


def last_token_of(body: str) -> str:
    match = re.search(r"/v/([A-Za-z0-9_-]+)", body)
    assert match
    return match.group(1)
