"""Operator accounts, linking, and what an operator may read (R10), on fakes.

The registry is the sample one (``storage/demo/passes.csv``): 19 passes of 高雄港測試業者
and 2 of 臺中港測試公司, so an operator has two pages of ten and an admin three.
"""

from __future__ import annotations

import csv
import dataclasses
import io
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from core import messages
from core.codes import LINK_CODE_ALPHABET, LINK_CODE_LENGTH, SecretHasher, SystemSecrets
from core.errors import (
    InvalidLinkCode,
    InvalidOperatorDetails,
    NotAnOperator,
    OperatorNotFound,
    OperatorRevoked,
    PassNotFound,
    TooManyFailures,
)
from core.masking import mask_id, mask_phone
from core.model import Channel, Operator, Status
from core.operator_accounts import normalise_link_code
from core.operator_views import export_csv
from core.operators import OperatorService, operator_requester
from core.status import status_of
from core.values import PassNumber
from core.verification import Policy, VerificationService
from fakes.clock import FakeClock
from fakes.ports import FakeUnitOfWorkFactory, Store

KEY = b"k" * 32
SAMPLE = Path(__file__).resolve().parents[2] / "storage" / "demo" / "passes.csv"
KH, TC = "高雄港測試業者", "臺中港測試公司"
USER, OTHER_USER = "700000001", "700000002"


def load_sample(store: Store) -> None:
    with SAMPLE.open(encoding="utf-8") as file:
        for row in csv.DictReader(file):
            store.add_pass(
                row["pass_no"],
                row["id_no"],
                row["name"],
                row["phone"] or None,
                company=row["company"],
                verified_phone=row["verified_phone"] or None,
                valid_from=_date(row["valid_from"]),
                valid_to=_date(row["valid_to"]),
            )


def _date(value: str) -> date:
    return datetime.strptime(value, "%Y/%m/%d").date()


@pytest.fixture
def store() -> Store:
    s = Store()
    load_sample(s)
    return s


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def service(store: Store, clock: FakeClock) -> OperatorService:
    return OperatorService(FakeUnitOfWorkFactory(store), clock, SecretHasher(KEY), SystemSecrets())


async def linked(service: OperatorService, company: str = KH, *, admin: bool = False) -> Operator:
    account, code = await service.add_operator("王小明", company, is_admin=admin)
    return await service.link(f"tg-{account.id}", code.code)


def p(value: str) -> PassNumber:
    return PassNumber.parse(value)


# --- accounts ---------------------------------------------------------------------------------


async def test_add_operator_issues_a_one_time_code_and_stores_only_its_hash(service, store, clock):
    account, link = await service.add_operator(" 王小明 ", f" {KH} ")
    assert (account.name, account.company, account.is_admin) == ("王小明", KH, False)
    assert len(link.code) == LINK_CODE_LENGTH >= 8
    assert set(link.code) <= set(LINK_CODE_ALPHABET)
    assert not set(link.code) & set("0O1I")
    assert link.expires_at == clock.now() + timedelta(hours=24)
    stored = store.operators[account.id]
    assert stored.link_code_hash == SecretHasher(KEY).link_code_hash(link.code)
    assert link.code not in repr(stored)
    assert stored.telegram_user_id is None and stored.revoked_at is None


async def test_codes_differ_between_operators(service):
    codes = {(await service.add_operator(f"op{n}", KH))[1].code for n in range(20)}
    assert len(codes) == 20


@pytest.mark.parametrize(("name", "company"), [("", KH), ("王小明", "  "), (" ", "")])
async def test_an_operator_needs_a_name_and_a_company(service, store, name, company):
    with pytest.raises(InvalidOperatorDetails):
        await service.add_operator(name, company)
    assert store.operators == {}


async def test_list_operators_oldest_first_with_revoked_ones(service, clock):
    first, _ = await service.add_operator("甲", KH)
    clock.advance(minutes=1)
    second, _ = await service.add_operator("乙", TC, is_admin=True)
    await service.revoke(first.id)
    listed = await service.list_operators()
    assert [a.id for a in listed] == [first.id, second.id]
    assert listed[0].is_revoked and not listed[1].is_revoked
    assert listed[1].is_admin


async def test_unknown_operator_ids_are_reported(service):
    with pytest.raises(OperatorNotFound) as caught:
        await service.new_link_code("nosuchid")
    assert "nosuchid" in messages.render_error(caught.value, messages.EN)
    with pytest.raises(OperatorNotFound):
        await service.revoke("nosuchid")


# --- linking ----------------------------------------------------------------------------------


async def test_a_valid_code_links_the_telegram_user(service, store):
    account, link = await service.add_operator("王小明", KH)
    operator = await service.link(USER, link.code)
    assert operator == Operator(account.id, "王小明", KH, is_admin=False)
    assert await service.operator_for(USER) == operator
    assert await service.operator_for(OTHER_USER) is None
    assert store.operators[account.id].link_code_hash is None  # spent


@pytest.mark.parametrize("typed", ["{c}", "{l}", " {c} ", "{a}-{b}", "{a} {b}", "{w}"])
async def test_the_code_may_be_typed_loosely(service, typed):
    account, link = await service.add_operator("王小明", KH)
    code = link.code
    wide = "".join(chr(ord(c) + 0xFEE0) for c in code)  # full-width forms
    raw = typed.format(c=code, l=code.lower(), a=code[:5], b=code[5:], w=wide)
    assert (await service.link(USER, raw)).id == account.id


async def test_a_code_links_once(service):
    _, link = await service.add_operator("王小明", KH)
    await service.link(USER, link.code)
    with pytest.raises(InvalidLinkCode):
        await service.link(OTHER_USER, link.code)
    assert await service.operator_for(OTHER_USER) is None


async def test_a_code_expires_after_24_hours(service, clock):
    _, first = await service.add_operator("甲", KH)
    _, second = await service.add_operator("乙", KH)
    clock.advance(hours=23, minutes=59)
    await service.link(USER, first.code)
    clock.advance(minutes=1)
    with pytest.raises(InvalidLinkCode):
        await service.link(OTHER_USER, second.code)


@pytest.mark.parametrize("code", ["ABCDEFGHJK", "not a code", "", "ABCDEFGHJKL", "0O1IABCDEF"])
async def test_unknown_and_malformed_codes_are_the_same_error(service, code):
    with pytest.raises(InvalidLinkCode) as caught:
        await service.link(USER, code)
    assert messages.render_error(caught.value).startswith("連結碼無效、已使用或已過期")


async def test_expired_reused_and_unknown_codes_give_one_message(service, clock):
    _, reused = await service.add_operator("甲", KH)
    _, expired = await service.add_operator("乙", KH)
    await service.link(USER, reused.code)
    texts = set()
    for code, advance in ((reused.code, 0), ("ABCDEFGHJK", 0), (expired.code, 25)):
        clock.advance(hours=advance)
        with pytest.raises(InvalidLinkCode) as caught:
            await service.link(OTHER_USER, code)
        texts.add(messages.render_error(caught.value, messages.EN))
    assert len(texts) == 1


async def test_guesses_are_limited_per_telegram_user(service, clock):
    _, link = await service.add_operator("王小明", KH)
    for _ in range(5):
        with pytest.raises(InvalidLinkCode):
            await service.link(USER, "ABCDEFGHJK")
    start = clock.now()
    clock.advance(minutes=10)
    with pytest.raises(TooManyFailures) as caught:
        await service.link(USER, link.code)  # even the right code: no oracle while cooling
    assert caught.value.retry_at == start + timedelta(hours=1)
    assert (await service.link(OTHER_USER, link.code)).name == "王小明"  # others unaffected


async def test_the_guess_limit_lifts_after_an_hour(service, clock):
    _, link = await service.add_operator("王小明", KH)
    for _ in range(5):
        with pytest.raises(InvalidLinkCode):
            await service.link(USER, "ABCDEFGHJK")
    clock.advance(hours=1, seconds=1)
    assert (await service.link(USER, link.code)).name == "王小明"


async def test_failures_are_recorded_under_the_link_key(service, store):
    with pytest.raises(InvalidLinkCode):
        await service.link(USER, "ABCDEFGHJK")
    assert [key for key, _ in store.failures] == [f"link:{USER}"]


async def test_a_reissued_code_replaces_the_old_one(service):
    account, old = await service.add_operator("王小明", KH)
    new = await service.new_link_code(account.id)
    assert new.code != old.code
    with pytest.raises(InvalidLinkCode):
        await service.link(USER, old.code)
    assert (await service.link(USER, new.code)).id == account.id


async def test_linking_an_already_linked_user_moves_them_to_the_new_account(service, store):
    """Decision: rebind, not refuse. The code is the newer, explicit intent."""
    first, first_code = await service.add_operator("甲", KH)
    second, second_code = await service.add_operator("乙", TC)
    await service.link(USER, first_code.code)
    assert (await service.link(USER, second_code.code)).id == second.id
    assert await service.operator_for(USER) == second.operator
    assert store.operators[first.id].telegram_user_id is None
    link_entry = [e for e in store.audit if e.action == "operator.link"][-1]
    assert link_entry.detail["moved_from"] == f"operator:{first.id}"


async def test_a_new_code_moves_the_account_to_a_new_telegram_user(service):
    account, link = await service.add_operator("王小明", KH)
    await service.link(USER, link.code)
    again = await service.new_link_code(account.id)
    assert await service.operator_for(USER) is not None  # reissuing alone unbinds nobody
    await service.link(OTHER_USER, again.code)
    assert await service.operator_for(USER) is None
    assert (await service.operator_for(OTHER_USER)) == account.operator


async def test_unlink(service):
    _, link = await service.add_operator("王小明", KH)
    operator = await service.link(USER, link.code)
    assert await service.unlink(USER) == operator
    assert await service.operator_for(USER) is None
    assert await service.unlink(USER) is None


# --- revoking ---------------------------------------------------------------------------------


async def test_a_revoked_operator_is_unlinked_and_cannot_act(service, store, clock):
    account, link = await service.add_operator("王小明", KH)
    operator = await service.link(USER, link.code)
    revoked = await service.revoke(account.id)
    assert revoked.revoked_at == clock.now() and revoked.telegram_user_id is None
    assert store.operators[account.id] == revoked
    assert await service.operator_for(USER) is None
    with pytest.raises(NotAnOperator):
        await service.list_passes(operator)  # a chat that asked before the revocation
    with pytest.raises(NotAnOperator):
        await service.get_pass(operator, p("KHPS113-000043"))
    with pytest.raises(NotAnOperator):
        await service.stats(operator)
    with pytest.raises(NotAnOperator):
        await service.export_rows(operator)


async def test_a_revoked_operator_cannot_link(service):
    account, link = await service.add_operator("王小明", KH)
    await service.revoke(account.id)
    with pytest.raises(InvalidLinkCode):
        await service.link(USER, link.code)
    with pytest.raises(OperatorRevoked):
        await service.new_link_code(account.id)


async def test_revoking_twice_keeps_the_first_time(service, clock):
    account, _ = await service.add_operator("王小明", KH)
    first = await service.revoke(account.id)
    clock.advance(hours=1)
    assert (await service.revoke(account.id)).revoked_at == first.revoked_at


async def test_an_unknown_operator_cannot_act(service):
    ghost = Operator(id="ghost", name="x", company=KH, is_admin=True)
    with pytest.raises(NotAnOperator):
        await service.list_passes(ghost)


async def test_the_stored_account_decides_company_and_admin(service, store):
    """A chat holding an old ``Operator`` cannot widen its own view."""
    operator = await linked(service)
    forged = dataclasses.replace(operator, is_admin=True, company=TC)
    page = await service.list_passes(forged)
    assert page.total == 19


# --- R10: lists -------------------------------------------------------------------------------


async def test_an_operator_lists_only_owned_passes_ten_a_page(service, store):
    operator = await linked(service)
    first = await service.list_passes(operator)
    assert (first.total, first.page, first.pages, len(first.rows)) == (19, 0, 2, 10)
    assert first.has_next and not first.has_prev
    second = await service.list_passes(operator, page=1)
    assert len(second.rows) == 9 and second.has_prev and not second.has_next
    listed = [r.pass_no for r in (*first.rows, *second.rows)]
    assert listed == sorted(listed)
    assert {store.record(n).company for n in listed} == {KH}
    assert len(set(listed)) == 19


async def test_an_admin_lists_every_company(service):
    admin = await linked(service, TC, admin=True)
    pages = [await service.list_passes(admin, page=n) for n in range(3)]
    assert [len(page.rows) for page in pages] == [10, 10, 1]
    assert pages[0].total == 21 and pages[0].pages == 3
    assert not pages[2].has_next
    assert any(r.pass_no.value.startswith("TCPS") for page in pages for r in page.rows)


async def test_a_page_past_the_end_shows_the_last_page(service):
    operator = await linked(service)
    page = await service.list_passes(operator, page=7)
    assert page.page == 1 and len(page.rows) == 9
    assert (await service.list_passes(operator, page=-3)).page == 0


async def test_a_company_without_passes_has_one_empty_page(service):
    operator = await linked(service, "無此公司")
    page = await service.list_passes(operator)
    assert (page.total, page.rows, page.pages, page.has_next, page.has_prev) == (
        0,
        (),
        1,
        False,
        False,
    )


@pytest.mark.parametrize("status", list(Status))
async def test_lists_filter_by_status(service, store, status):
    operator = await linked(service)
    page = await service.list_passes(operator, status=status, page_size=50)
    expected = sorted(
        n
        for n in store.passes
        if store.record(n).company == KH and status_of(store.record(n)) is status
    )
    assert [r.pass_no for r in page.rows] == expected
    assert page.total == len(expected) and all(r.status is status for r in page.rows)


async def test_lists_mask_id_numbers_and_phones_but_show_names(service, store):
    operator = await linked(service)
    page = await service.list_passes(operator, page_size=50)
    for row in page.rows:
        record = store.record(row.pass_no)
        assert row.id_no == mask_id(record.id_no) != record.id_no.value
        assert row.phone == mask_phone(record.phone)
        assert row.verified_phone == mask_phone(record.verified_phone)
        assert row.name == (record.name or "")
        shown = " ".join((row.id_no, row.phone, row.verified_phone))
        assert record.id_no.value not in shown
        for phone in (record.phone, record.verified_phone):
            if phone is not None:
                assert phone.national not in shown and phone.display not in shown
    row43 = next(r for r in page.rows if r.pass_no == p("KHPS113-000043"))
    assert (row43.id_no, row43.phone, row43.status) == (
        "QQ1*****73",
        "0960-***-411",
        Status.UNVERIFIED,
    )


# --- R10: one pass ----------------------------------------------------------------------------


async def test_an_owned_pass_is_shown_in_full(service):
    operator = await linked(service)
    view = await service.get_pass(operator, p("KHPS111-000014"))
    assert view.owned
    assert (view.id_no, view.name, view.phone, view.verified_phone) == (
        "Z123456789",
        "測試一",
        "0922-123-422",
        "0960-123-411",
    )
    assert (view.valid_from, view.valid_to) == (date(2022, 3, 1), date(2027, 2, 28))
    assert view.status is Status.PENDING and view.company == KH


async def test_a_non_owned_pass_is_shown_masked_by_its_exact_number(service):
    operator = await linked(service)
    view = await service.get_pass(operator, p("TCPS113-000101"))
    assert not view.owned
    assert (view.id_no, view.name, view.phone, view.verified_phone) == (
        "B22*****80",
        "臺***甲",
        "0911-***-333",
        "",
    )
    assert view.company is None and view.status is Status.UNVERIFIED


async def test_an_admin_sees_any_pass_in_full(service):
    admin = await linked(service, KH, admin=True)
    view = await service.get_pass(admin, p("TCPS113-000101"))
    assert view.owned and view.id_no == "B223456780" and view.company == TC


async def test_an_unknown_pass_is_not_found(service, store):
    operator = await linked(service)
    with pytest.raises(PassNotFound):
        await service.get_pass(operator, p("KHPS113-999999"))
    assert store.audit[-1].detail == {"result": "not_found"}


async def test_a_pass_without_a_person_record_shows_blanks(service):
    operator = await linked(service)
    view = await service.get_pass(operator, p("KHPS113-000034"))
    assert (view.phone, view.verified_phone, view.status) == ("", "", Status.UNVERIFIED)


# --- stats --------------------------------------------------------------------------------------


async def test_stats_count_statuses_and_waiting_codes_per_company(service, store, clock):
    operator = await linked(service)
    admin = await linked(service, KH, admin=True)
    verification = VerificationService(
        FakeUnitOfWorkFactory(store),
        clock,
        SecretHasher(KEY),
        SystemSecrets(),
        Policy(public_base_url="https://pp.twport.tw"),
    )
    requester = operator_requester(admin)
    await verification.request_as_operator(admin, requester, p("KHPS113-000043"))
    await verification.request_as_operator(admin, requester, p("TCPS113-000101"))
    stats = await service.stats(operator)
    kh = [store.record(n) for n in store.passes if store.record(n).company == KH]
    assert stats.counts == {s: sum(1 for r in kh if status_of(r) is s) for s in Status}
    assert stats.counts[Status.VERIFIED] == 8 and stats.counts[Status.PENDING] == 1
    assert stats.total == 19 and stats.open_codes == 1
    everything = await service.stats(admin)
    assert everything.total == 21 and everything.open_codes == 2
    clock.advance(hours=24)
    assert (await service.stats(admin)).open_codes == 0


# --- export -------------------------------------------------------------------------------------


async def test_export_has_every_company_row_in_full_and_nothing_else(service, store):
    operator = await linked(service)
    rows = await service.export_rows(operator)
    assert len(rows) == 19 and {r["company"] for r in rows} == {KH}
    row43 = next(r for r in rows if r["pass_no"] == "KHPS113-000043")
    assert row43 == {
        "pass_no": "KHPS113-000043",
        "id_no": "QQ12345673",
        "name": "檢訊測試三",
        "phone": "0960-123-411",
        "verified_phone": "",
        "status": "unverified",
        "valid_from": "2026/01/05",
        "valid_to": "2027/01/04",
        "company": KH,
    }


async def test_export_csv_opens_in_excel(service):
    operator = await linked(service)
    data = export_csv(await service.export_rows(operator))
    assert data.startswith(b"\xef\xbb\xbf")
    text = data.decode("utf-8-sig")
    assert "\r\n" in text
    table = list(csv.reader(io.StringIO(text)))
    assert table[0] == [
        "通行證號",
        "身分證號",
        "姓名",
        "手機號碼",
        "已驗證手機號碼",
        "是否驗證",
        "期限起日",
        "期限迄日",
        "公司",
    ]
    assert len(table) == 1 + 19
    assert {line[0] for line in table[1:]} >= {"KHPS113-000043", "KHPS111-000014"}
    assert not any(line[0].startswith("TCPS") for line in table[1:])
    assert "臺中" not in text
    line43 = next(line for line in table if line[0] == "KHPS113-000043")
    assert line43[1:6] == ["QQ12345673", "檢訊測試三", "0960-123-411", "", "未驗證"]


async def test_an_admin_export_has_every_company(service):
    admin = await linked(service, KH, admin=True)
    rows = await service.export_rows(admin)
    assert len(rows) == 21 and {r["company"] for r in rows} == {KH, TC}


def test_export_csv_in_english_and_formulas_stay_text():
    row = {
        "pass_no": "KHPS113-000001",
        "id_no": "A123456789",
        "name": '=HYPERLINK("http://x")',
        "phone": "",
        "verified_phone": "",
        "status": "pending",
        "valid_from": "2026/01/05",
        "valid_to": "2027/01/04",
        "company": "@corp",
    }
    table = list(csv.reader(io.StringIO(export_csv([row], messages.EN).decode("utf-8-sig"))))
    assert table[0][:2] == ["Pass number", "ID number"]
    assert table[1][2] == '\'=HYPERLINK("http://x")'
    assert table[1][5] == "pending re-verification"
    assert table[1][8] == "'@corp"


# --- audit --------------------------------------------------------------------------------------


async def test_every_operator_action_is_audited_with_personal_data_masked(service, store):
    account, link = await service.add_operator("王小明", KH)
    operator = await service.link(USER, link.code)
    await service.list_passes(operator, status=Status.VERIFIED)
    await service.get_pass(operator, p("KHPS113-000043"))
    await service.get_pass(operator, p("TCPS113-000101"))
    await service.stats(operator)
    await service.export_rows(operator)
    await service.new_link_code(account.id)
    await service.unlink(USER)
    await service.revoke(account.id)
    with pytest.raises(InvalidLinkCode):
        await service.link(OTHER_USER, "ABCDEFGHJK")
    actor = f"operator:{account.id}"
    assert [(e.actor, e.action, e.subject) for e in store.audit] == [
        ("cli", "operator.add", actor),
        (actor, "operator.link", actor),
        (actor, "operator.list_passes", f"company:{KH}"),
        (actor, "operator.view_pass", "KHPS113-**0043"),
        (actor, "operator.view_pass", "TCPS113-**0101"),
        (actor, "operator.stats", f"company:{KH}"),
        (actor, "operator.export", f"company:{KH}"),
        ("cli", "operator.new_code", actor),
        (actor, "operator.unlink", actor),
        ("cli", "operator.revoke", actor),
        ("telegram:*0002", "operator.link_failed", "link_code"),
    ]
    assert store.audit[1].channel is Channel.TELEGRAM and store.audit[0].channel is Channel.CLI
    assert store.audit[1].detail == {"telegram": "telegram:*0001"}
    assert store.audit[2].detail == {"status": "verified", "page": "0"}
    assert store.audit[3].detail == {"result": "owned"}
    assert store.audit[4].detail == {"result": "not_owned"}
    assert store.audit[6].detail == {"rows": "19"}
    dump = repr(store.audit)
    for secret in (USER, link.code, "QQ12345673", "+886960123411", "0960123411"):
        assert secret not in dump


def test_operator_requester_is_audited_as_the_operator():
    requester = operator_requester(Operator("ab12cd34", "王小明", KH), language="en")
    assert (requester.actor, requester.key, requester.channel, requester.language) == (
        "operator:ab12cd34",
        "operator:ab12cd34",
        Channel.TELEGRAM,
        "en",
    )


# --- the code format ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("abcde fghjk", "ABCDEFGHJK"),
        ("ABCDE-FGHJK", "ABCDEFGHJK"),
        ("ＡＢＣＤＥＦＧＨＪＫ", "ABCDEFGHJK"),
        ("ABCDEFGHJ", None),
        ("ABCDEFGHJ0", None),
        ("ABCDEFGHJI", None),
        ("", None),
    ],
)
def test_normalise_link_code(raw, expected):
    assert normalise_link_code(raw) == expected
