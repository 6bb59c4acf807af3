"""Notices on real SQLite and PostgreSQL: stored once per event, texted to the verified
phone only and in the same transaction, unreachable with the reason otherwise, nothing
stored from a batch with any invalid item, and one digest per operator and day."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, time, timedelta

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from core.model import Channel, RequestState
from core.notices.digest import DigestPolicy, DigestService, due_day
from core.notices.events import InvalidEvents
from core.notices.records import Reach, Source, Unreachable
from core.notices.service import NoticePolicy, NoticeService
from core.notices.texts import NoticeWording
from core.operators.accounts import OperatorAccount
from core.opt_outs.model import OptOut, OptOutSource
from fakes.clock import FakeClock
from storage.notices.queue import TelegramQueue
from storage.tables import audit_log, notice_messages, notices, outbox
from storage.uow import SqlUnitOfWorkFactory
from tests.integration.builders import PHONE_A, PHONE_B, add_pass, add_person, request

WORDING = NoticeWording("所屬公司業者申請人", "your company's pass administrator")
NOW = datetime(2026, 11, 27, 2, 0, tzinfo=UTC)  # 10:00 in Taipei
KH, TC = "高雄港測試業者", "臺中港測試公司"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(NOW)


@pytest.fixture
def service(uow_factory: SqlUnitOfWorkFactory, clock: FakeClock) -> NoticeService:
    return NoticeService(uow_factory, clock, NoticePolicy(WORDING))


@pytest.fixture
async def registry(engine: AsyncEngine) -> None:
    """Verified (PHONE_A), unverified, pending (verified at PHONE_B, PHONE_A on file),
    and a pass of another company."""
    await add_person(engine, "A123456789", phone=PHONE_A)
    await add_pass(engine, "KHPS113-000047", "A123456789", verified_phone=PHONE_A)
    await add_pass(engine, "KHPS113-000043", "A123456789")
    await add_pass(engine, "KHPS111-000014", "A123456789", verified_phone=PHONE_B)
    await add_pass(engine, "TCPS113-000101", "A123456789", company=TC)


def event(event_id: str, pass_no: str = "KHPS113-000047", kind: str = "suspended_inactive"):  # noqa: S107
    return {
        "event_id": event_id,
        "pass_no": pass_no,
        "kind": kind,
        "occurred_at": "2026-11-26T08:30:00+08:00",
    }


async def receive(service: NoticeService, *items: object):
    return await service.receive(list(items), source=Source.API, actor="api", channel=Channel.WEB)


async def count(engine: AsyncEngine, table) -> int:
    async with engine.connect() as conn:
        return (await conn.execute(select(func.count()).select_from(table))).scalar_one()


async def test_the_notice_sms_is_in_the_language_the_phone_last_used(
    engine, registry, service, uow_factory
) -> None:
    async with uow_factory() as uow:
        await uow.phone_languages.remember(PHONE_A, "vi", NOW)
        await uow.phone_languages.remember(PHONE_A, "id", NOW)  # the last choice counts
        await uow.commit()
    await receive(service, event("e1"))
    async with engine.connect() as conn:
        sms = (await conn.execute(select(outbox))).one()
    assert sms.body == (
        "[Pelabuhan Taiwan] Pas pelabuhan akhiran 0047 dinonaktifkan sejak 2026/11/26: 6 bulan "
        "tidak keluar-masuk. Hubungi your company's pass administrator"
    )


async def test_a_verified_pass_is_texted_at_its_verified_phone_with_the_notice(
    engine, registry, service
) -> None:
    [result] = await receive(service, event("e1"))
    assert (result.reach, result.reason, result.duplicate) == (Reach.SMS, None, False)
    async with engine.connect() as conn:
        sms = (await conn.execute(select(outbox))).one()
        stored = (await conn.execute(select(notices))).one()
        audit = (await conn.execute(select(audit_log))).one()
    assert (sms.to_phone, sms.kind, sms.priority) == (PHONE_A.e164, "notice", 1)  # after own
    assert sms.body == (
        "【港務】港區通行證末四碼0047因逾六個月未進出，已於2026/11/26停用。請洽所屬公司業者申請人"
    )
    assert (stored.outbox_id, stored.company, stored.id) == (sms.id, KH, result.notice_id)
    assert (audit.action, audit.subject, audit.actor) == ("notice", "KHPS113-**0047", "api")
    assert "0912" not in audit.detail and "A123" not in audit.detail


@pytest.mark.parametrize(
    ("pass_no", "reason"),
    [("KHPS113-000043", Unreachable.UNVERIFIED), ("KHPS111-000014", Unreachable.PENDING)],
)
async def test_a_pass_without_a_standing_verification_is_not_texted(
    engine, registry, service, pass_no, reason
) -> None:
    [result] = await receive(service, event("e1", pass_no))
    assert (result.reach, result.reason) == (Reach.UNREACHABLE, reason)
    assert await count(engine, outbox) == 0
    [stored] = await service.list_all()
    assert (stored.reach, stored.reason, stored.sms_state) == (Reach.UNREACHABLE, reason, None)


async def test_the_same_event_twice_is_one_notice_and_one_sms(engine, registry, service) -> None:
    [first] = await receive(service, event("e1"))
    [again, other] = await receive(service, event("e1", kind="reinstated"), event("e2"))
    assert again.duplicate and not other.duplicate
    assert (again.notice_id, again.kind, again.reach) == (first.notice_id, first.kind, first.reach)
    assert await count(engine, notices) == 2
    assert await count(engine, outbox) == 2


async def test_an_event_repeated_within_one_batch_is_stored_once(engine, registry, service) -> None:
    results = await receive(service, event("e1"), event("e1"), event("e1", "KHPS113-000043"))
    assert [r.duplicate for r in results] == [False, True, True]
    assert {r.notice_id for r in results} == {results[0].notice_id}
    assert await count(engine, outbox) == 1


async def test_a_batch_with_an_unknown_pass_stores_nothing(engine, registry, service) -> None:
    with pytest.raises(InvalidEvents) as caught:
        await receive(service, event("e1"), event("e2", "KHPS113-999999"), {"event_id": "e3"})
    listed = [(r.position, r.event_id, [p.key for p in r.problems]) for r in caught.value.rejected]
    assert listed == [
        (1, "e2", ["notice.error.unknown_pass"]),
        (
            2,
            "e3",
            ["notice.error.missing", "notice.error.missing", "notice.error.missing"],
        ),
    ]
    for table in (notices, outbox, audit_log, notice_messages):
        assert await count(engine, table) == 0


async def test_concurrent_requests_with_one_event_store_it_once(
    engine, registry, uow_factory, clock
) -> None:
    """Two requests (the gate system retrying while the first is still running): one
    notice, one SMS, and both answers name it."""
    services = [NoticeService(uow_factory, clock, NoticePolicy(WORDING)) for _ in range(2)]
    batch = [event(f"e{n}") for n in range(20)]
    first, second = await asyncio.gather(*(receive(s, *batch) for s in services))
    assert [r.notice_id for r in first] == [r.notice_id for r in second]
    assert all(a.duplicate != b.duplicate for a, b in zip(first, second, strict=True))
    assert await count(engine, notices) == 20
    assert await count(engine, outbox) == 20


async def test_the_list_shows_what_became_of_each_sms(engine, registry, service) -> None:
    await receive(
        service, event("e1"), event("e2", "KHPS113-000043"), event("e3", "TCPS113-000101")
    )
    async with engine.begin() as conn:
        await conn.execute(update(outbox).values(state="delivered"))
    everything = await service.list_all()
    assert [(n.event_id, n.sms_state) for n in everything] == [
        ("e3", None),
        ("e2", None),
        ("e1", "delivered"),
    ]
    unreachable = await service.list_all(company=KH, unreachable_only=True)
    assert [n.event_id for n in unreachable] == ["e2"]


# --- the daily digest ------------------------------------------------------------------------


async def add_operator(
    uow_factory: SqlUnitOfWorkFactory, operator_id: str, company: str, telegram: str | None
) -> None:
    async with uow_factory() as uow:
        await uow.operators.add(
            OperatorAccount(
                id=operator_id,
                name="王小明",
                company=company,
                is_admin=False,
                created_at=NOW,
                telegram_user_id=telegram,
            )
        )
        await uow.commit()


def digests(uow_factory: SqlUnitOfWorkFactory, clock: FakeClock) -> DigestService:
    return DigestService(uow_factory, clock, DigestPolicy(at=time(8, 0)))


def test_the_due_day_is_the_latest_whose_digest_time_has_passed() -> None:
    taipei = timedelta(hours=8)
    before = datetime(2026, 11, 27, 7, 59, tzinfo=UTC) - taipei
    after = datetime(2026, 11, 27, 8, 0, tzinfo=UTC) - taipei
    assert due_day(before, time(8, 0))[0].isoformat() == "2026-11-26"
    assert due_day(after, time(8, 0))[0].isoformat() == "2026-11-27"


async def test_each_operator_gets_one_digest_a_day_however_often_it_runs(
    engine, registry, service, uow_factory, clock
) -> None:
    await add_operator(uow_factory, "op-kh", KH, "7001")
    await add_operator(uow_factory, "op-tc", TC, "7002")
    await add_operator(uow_factory, "op-unlinked", KH, None)
    clock.current = datetime(2026, 11, 26, 3, 0, tzinfo=UTC)  # 11:00 on the 26th, Taipei
    await receive(service, event("e1"), event("e2", "KHPS113-000043"))
    clock.current = datetime(2026, 11, 27, 0, 0, tzinfo=UTC)  # 08:00 on the 27th
    # Two instances (or a restart) at once: one digest each, for the operators with news.
    outcomes = await asyncio.gather(
        digests(uow_factory, clock).run(), digests(uow_factory, clock).run()
    )
    # Which instance makes which digest is a race; between them each is made once.
    totals = [sum(getattr(o, name) for o in outcomes) for name in ("queued", "empty", "already")]
    assert totals == [1, 1, 2]
    again = await digests(uow_factory, clock).run()
    assert (again.queued, again.already) == (0, 2)
    async with engine.connect() as conn:
        [row] = (await conn.execute(select(notice_messages))).all()
    assert (row.chat_id, row.notice_id, row.state) == ("7001", None, "pending")
    assert row.text.startswith("港區通行證通知日報 2026/11/27（高雄港測試業者）\n")
    assert "KHPS113-000043" in row.text and "KHPS113-000047" in row.text


async def test_the_next_digest_starts_where_the_last_ended(
    engine, registry, service, uow_factory, clock
) -> None:
    await add_operator(uow_factory, "op-kh", KH, "7001")
    clock.current = datetime(2026, 11, 27, 0, 30, tzinfo=UTC)  # 08:30 on the 27th
    await digests(uow_factory, clock).run()  # nothing to tell yet
    await receive(service, event("late"))  # after 08:00: tomorrow's digest
    clock.advance(days=2)  # the server was down all of the 28th
    outcome = await digests(uow_factory, clock).run()
    assert (outcome.day.isoformat(), outcome.queued) == ("2026-11-29", 1)
    async with engine.connect() as conn:
        [text] = (await conn.execute(select(notice_messages.c.text))).scalars()
    assert "2026/11/27 08:00 至 2026/11/29 08:00 共 1 則" in text


# --- the Telegram queue ----------------------------------------------------------------------


async def test_two_workers_never_hold_one_message(engine, uow_factory) -> None:
    async with uow_factory() as uow:
        for n in range(10):
            await uow.notices.queue_telegram(None, str(n), f"text {n}", NOW)
        await uow.commit()
    queue = TelegramQueue(engine)
    lease = timedelta(minutes=2)
    first, second = await asyncio.gather(
        queue.claim("a", NOW, lease, 6), queue.claim("b", NOW, lease, 6)
    )
    ids = [c.message.id for c in first] + [c.message.id for c in second]
    assert len(ids) == len(set(ids)) == 10
    # A worker whose lease ran out loses the row to the next, and cannot mark it.
    stale = first[0]
    [taken] = [
        c
        for c in await queue.claim("c", NOW + lease, lease, 10)
        if c.message.id == stale.message.id
    ]
    assert taken.message.attempts == 1  # the lost try counts
    assert not await queue.mark_sent(stale, NOW + lease)
    assert await queue.mark_sent(taken, NOW + lease)


async def test_only_telegram_chats_whose_verification_stands_are_told(
    engine, registry, service, uow_factory
) -> None:
    """KHPS113-000047 is verified at PHONE_A: the chat that verified PHONE_A is told; a
    chat that verified an older number, one still waiting for its code and an
    operator's request are not."""
    async with uow_factory() as uow:
        for request_id, key, phone, state in (
            ("r1", "telegram:5001", PHONE_A, RequestState.VERIFIED),
            ("r2", "telegram:5002", PHONE_B, RequestState.VERIFIED),  # an older number
            ("r3", "telegram:5003", PHONE_A, RequestState.LIVE),
            ("r4", "operator:op-1", PHONE_A, RequestState.VERIFIED),
            ("r5", "telegram:5001", PHONE_A, RequestState.VERIFIED),  # the same chat again
        ):
            await uow.requests.add(
                request(
                    request_id,
                    pass_no="KHPS113-000047",
                    id_no="A123456789",
                    phone=phone,
                    state=state,
                    requester_key=key,
                )
            )
        await uow.commit()
    [result] = await receive(service, event("e1"))
    assert result.telegram_chats == 1
    async with engine.connect() as conn:
        rows = (await conn.execute(select(notice_messages.c.chat_id, notice_messages.c.text))).all()
    assert [chat for chat, _ in rows] == ["5001"]
    assert rows[0][1].startswith("港區通行證 KHPS113-**0047 通知：逾六個月未進出，已停用")


async def test_a_verified_phone_that_opted_out_is_not_texted(
    engine, registry, service, uow_factory
) -> None:
    async with uow_factory() as uow:
        await uow.opt_outs.add(OptOut(PHONE_A, NOW, OptOutSource.KEYWORD, "STOP"))
        await uow.commit()
    [result] = await receive(service, event("e1"))
    assert (result.reach, result.reason) == (Reach.UNREACHABLE, Unreachable.OPTED_OUT)
    assert await count(engine, outbox) == 0
    async with engine.connect() as conn:
        detail = (await conn.execute(select(audit_log.c.detail))).scalar_one()
    assert '"reason": "opted_out"' in detail
