"""What an operator may read (R10), on fakes, and the audit of every operator action.

The registry is the sample one (``storage/demo/passes.csv``): 19 passes of 高雄港測試業者
and 2 of 臺中港測試公司, so an operator has two pages of ten and an admin three.
"""

from __future__ import annotations

import csv
import dataclasses
import io
from datetime import date

import pytest

from core import messages
from core.codes import SecretHasher, SystemSecrets
from core.errors import InvalidLinkCode, NotAnOperator, PassNotFound
from core.masking import mask_id, mask_phone
from core.model import Channel, Operator, Status
from core.operators.passes import operator_requester
from core.operators.views import export_csv
from core.status import status_of
from core.verification.delivery import DeliveryProblem, DeliveryState
from core.verification.service import Policy, VerificationService
from fakes.ports import FakeUnitOfWorkFactory
from tests.unit.sample_registry import KEY, KH, OTHER_USER, TC, USER, linked, p


async def test_an_unknown_operator_cannot_act(service):
    ghost = Operator(id="ghost", name="x", company=KH, is_admin=True)
    with pytest.raises(NotAnOperator):
        await service.list_passes(ghost)


async def test_the_stored_account_decides_company_and_admin(accounts, service, store):
    """A chat holding an old ``Operator`` cannot widen its own view."""
    operator = await linked(accounts)
    forged = dataclasses.replace(operator, is_admin=True, company=TC)
    page = await service.list_passes(forged)
    assert page.total == 19


# --- R10: lists -------------------------------------------------------------------------------


async def test_an_operator_lists_only_owned_passes_ten_a_page(accounts, service, store):
    operator = await linked(accounts)
    first = await service.list_passes(operator)
    assert (first.total, first.page, first.pages, len(first.rows)) == (19, 0, 2, 10)
    assert first.has_next and not first.has_prev
    second = await service.list_passes(operator, page=1)
    assert len(second.rows) == 9 and second.has_prev and not second.has_next
    listed = [r.pass_no for r in (*first.rows, *second.rows)]
    assert listed == sorted(listed)
    assert {store.record(n).company for n in listed} == {KH}
    assert len(set(listed)) == 19


async def test_an_admin_lists_every_company(accounts, service):
    admin = await linked(accounts, TC, admin=True)
    pages = [await service.list_passes(admin, page=n) for n in range(3)]
    assert [len(page.rows) for page in pages] == [10, 10, 1]
    assert pages[0].total == 21 and pages[0].pages == 3
    assert not pages[2].has_next
    assert any(r.pass_no.value.startswith("TCPS") for page in pages for r in page.rows)


async def test_a_page_past_the_end_shows_the_last_page(accounts, service):
    operator = await linked(accounts)
    page = await service.list_passes(operator, page=7)
    assert page.page == 1 and len(page.rows) == 9
    assert (await service.list_passes(operator, page=-3)).page == 0


async def test_a_company_without_passes_has_one_empty_page(accounts, service):
    operator = await linked(accounts, "無此公司")
    page = await service.list_passes(operator)
    assert (page.total, page.rows, page.pages, page.has_next, page.has_prev) == (
        0,
        (),
        1,
        False,
        False,
    )


@pytest.mark.parametrize("status", list(Status))
async def test_lists_filter_by_status(accounts, service, store, status):
    operator = await linked(accounts)
    page = await service.list_passes(operator, status=status, page_size=50)
    expected = sorted(
        n
        for n in store.passes
        if store.record(n).company == KH and status_of(store.record(n)) is status
    )
    assert [r.pass_no for r in page.rows] == expected
    assert page.total == len(expected) and all(r.status is status for r in page.rows)


async def test_lists_mask_id_numbers_and_phones_but_show_names(accounts, service, store):
    operator = await linked(accounts)
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


async def test_an_owned_pass_is_shown_in_full(accounts, service):
    operator = await linked(accounts)
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


async def test_a_non_owned_pass_is_shown_masked_by_its_exact_number(accounts, service):
    operator = await linked(accounts)
    view = await service.get_pass(operator, p("TCPS113-000101"))
    assert not view.owned
    assert (view.id_no, view.name, view.phone, view.verified_phone) == (
        "B22*****80",
        "臺***甲",
        "0911-***-333",
        "",
    )
    assert view.company is None and view.status is Status.UNVERIFIED


async def test_an_admin_sees_any_pass_in_full(accounts, service):
    admin = await linked(accounts, KH, admin=True)
    view = await service.get_pass(admin, p("TCPS113-000101"))
    assert view.owned and view.id_no == "B223456780" and view.company == TC


async def test_an_unknown_pass_is_not_found(accounts, service, store):
    operator = await linked(accounts)
    with pytest.raises(PassNotFound):
        await service.get_pass(operator, p("KHPS113-999999"))
    assert store.audit[-1].detail == {"result": "not_found"}


async def test_a_pass_without_a_person_record_shows_blanks(accounts, service):
    operator = await linked(accounts)
    view = await service.get_pass(operator, p("KHPS113-000034"))
    assert (view.phone, view.verified_phone, view.status) == ("", "", Status.UNVERIFIED)


async def test_a_pass_shows_the_last_delivery_problem_of_its_code(accounts, service, store, clock):
    """/pass says when the latest verification SMS did not arrive."""
    operator = await linked(accounts)
    problem = DeliveryProblem(DeliveryState.UNDELIVERED, "30003", clock.now())
    store.delivery_problems[p("KHPS113-000043")] = problem

    shown = await service.get_pass(operator, p("KHPS113-000043"))
    other = await service.get_pass(operator, p("KHPS111-000014"))

    assert shown.delivery == problem and other.delivery is None
    assert shown.delivery.describe() == "簡訊未送達 (30003)"


# --- stats --------------------------------------------------------------------------------------


async def test_stats_count_statuses_and_waiting_codes_per_company(accounts, service, store, clock):
    operator = await linked(accounts)
    admin = await linked(accounts, KH, admin=True)
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


async def test_export_has_every_company_row_in_full_and_nothing_else(accounts, service, store):
    operator = await linked(accounts)
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
        "opted_out": "no",
    }


async def test_export_csv_opens_in_excel(accounts, service):
    operator = await linked(accounts)
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


async def test_an_admin_export_has_every_company(accounts, service):
    admin = await linked(accounts, KH, admin=True)
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


async def test_every_operator_action_is_audited_with_personal_data_masked(accounts, service, store):
    account, link = await accounts.add_operator("王小明", KH)
    operator = await accounts.link(USER, link.code)
    await service.list_passes(operator, status=Status.VERIFIED)
    await service.get_pass(operator, p("KHPS113-000043"))
    await service.get_pass(operator, p("TCPS113-000101"))
    await service.stats(operator)
    await service.export_rows(operator)
    await accounts.new_link_code(account.id)
    await accounts.unlink(USER)
    await accounts.revoke(account.id)
    with pytest.raises(InvalidLinkCode):
        await accounts.link(OTHER_USER, "ABCDEFGHJK")
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
