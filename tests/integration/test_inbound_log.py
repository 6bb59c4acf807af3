"""A retried webhook or re-sent update is recognised and answered the first way."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncEngine

from storage.inbound import InboundLog, Seen

AT = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)


async def test_first_claim_acts_and_a_retry_gets_the_stored_reply(engine: AsyncEngine) -> None:
    log = InboundLog(engine)
    assert await log.claim("sms", "SM1", AT) is None
    assert await log.claim("sms", "SM1", AT) == Seen(None)  # still being handled
    await log.remember("sms", "SM1", "驗證碼已經成功送出!!")
    assert await log.claim("sms", "SM1", AT) == Seen("驗證碼已經成功送出!!")
    assert await log.claim("telegram", "SM1", AT) is None  # ids are per channel


async def test_old_entries_are_forgotten(engine: AsyncEngine) -> None:
    log = InboundLog(engine)
    await log.claim("sms", "old", AT - timedelta(days=2))
    await log.claim("sms", "new", AT)
    assert await log.forget_before(AT - timedelta(days=1)) == 1
    assert await log.claim("sms", "old", AT) is None
    assert await log.claim("sms", "new", AT) == Seen(None)


async def test_a_claim_abandoned_by_a_dead_process_is_taken_over(engine: AsyncEngine) -> None:
    log = InboundLog(engine)
    wait = timedelta(seconds=20)
    assert await log.claim("sms", "SM2", AT, abandoned_after=wait) is None
    # A retry while the first delivery may still be running: leave it alone.
    assert await log.claim("sms", "SM2", AT + timedelta(seconds=5), abandoned_after=wait) == Seen(
        None
    )
    # Long past Twilio's 15 s timeout with no reply stored: the first one died.
    assert await log.claim("sms", "SM2", AT + timedelta(seconds=30), abandoned_after=wait) is None
    await log.remember("sms", "SM2", "<Response/>")
    later = AT + timedelta(minutes=5)
    assert await log.claim("sms", "SM2", later, abandoned_after=wait) == Seen("<Response/>")
