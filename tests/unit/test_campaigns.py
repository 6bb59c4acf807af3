"""Campaign options an admin types, the daily window in Taipei time, and the pacing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from core import messages
from core.campaigns.model import CampaignSpec, is_taiwan_mobile
from core.campaigns.options import (
    InvalidCampaignOption,
    InvalidDuration,
    InvalidPassPrefix,
    InvalidRate,
    InvalidReminders,
    InvalidStates,
    InvalidWindow,
    RemindersNeedDelay,
    check_name,
    format_duration,
    parse_duration,
    parse_pass_prefix,
    parse_rate,
    parse_states,
)
from core.campaigns.schedule import Pacer, Window
from core.clock import TAIPEI
from core.model import Status
from core.values import Phone


def taipei(day: int, hour: int, minute: int = 0, second: float = 0) -> datetime:
    """2026-11-``day`` at ``hour:minute`` Taipei, as UTC."""
    local = datetime(2026, 11, day, hour, minute, tzinfo=TAIPEI)
    return (local + timedelta(seconds=second)).astimezone(UTC)


@pytest.mark.parametrize(
    ("raw", "start", "end"),
    [
        ("09:00-21:00", 540, 1260),
        ("9:00-21:30", 540, 1290),
        ("０９：００－２１：００", 540, 1260),  # full-width, as typed on a zh-TW keyboard
        ("21:00-06:00", 1260, 360),
        ("00:00-24:00", 0, 1440),
    ],
)
def test_window_parses(raw: str, start: int, end: int) -> None:
    assert Window.parse(raw) == Window(start, end)


@pytest.mark.parametrize(
    "raw", ["", "9-21", "09:00", "09:00-09:00", "25:00-26:00", "24:00-06:00", "09:60-10:00"]
)
def test_window_refuses_what_is_not_a_time_range(raw: str) -> None:
    with pytest.raises(InvalidWindow):
        Window.parse(raw)


def test_window_is_taipei_time() -> None:
    window = Window.parse("09:00-21:00")
    assert not window.contains(taipei(27, 8, 59, 59))
    assert window.contains(taipei(27, 9))
    assert window.contains(taipei(27, 20, 59, 59))
    assert not window.contains(taipei(27, 21))
    assert window.next_open(taipei(27, 21, 30)) == taipei(28, 9)
    assert window.next_open(taipei(27, 3)) == taipei(27, 9)
    assert window.closes_at(taipei(27, 10)) == taipei(27, 21)


def test_overnight_window() -> None:
    window = Window.parse("21:00-06:00")
    assert window.contains(taipei(27, 23)) and window.contains(taipei(28, 5, 59))
    assert not window.contains(taipei(27, 12))
    assert window.next_open(taipei(27, 12)) == taipei(27, 21)
    assert window.closes_at(taipei(27, 23)) == taipei(28, 6)
    assert window.closes_at(taipei(28, 1)) == taipei(28, 6)


def test_finish_time_counts_window_hours_only() -> None:
    window = Window.parse("09:00-21:00")
    # 13 hours of sending from 20:00: one hour today, twelve tomorrow.
    assert window.finish_time(taipei(27, 20), 13 * 3600) == taipei(28, 21)
    assert window.finish_time(taipei(27, 22), 3600) == taipei(28, 10)
    assert Window.parse("00:00-24:00").finish_time(taipei(27, 22), 3600) == taipei(27, 23)


def test_pacer_allows_rate_per_second_in_the_long_run() -> None:
    pacer = Pacer.for_rate(10)
    now, paced, sent = taipei(27, 10), None, 0
    for _ in range(1000):  # 10 s in steps of 10 ms
        allowed = pacer.allowance(paced, now)
        if allowed:
            paced, sent = pacer.spend(paced, now, allowed), sent + allowed
        now += timedelta(milliseconds=10)
    assert sent == 100


@pytest.mark.parametrize("rate", [1, 3, 7, 10, 60, 100, 120, 333, 500, 999, 7777])
def test_pacer_never_waits_for_a_token_that_microseconds_round_away(rate: float) -> None:
    """At 120/s a token is 8333.33 µs, stored as 8333 µs: the dispatcher once waited for
    the first token for ever. Whenever next_at says a token is there, it is."""
    pacer = Pacer.for_rate(rate)
    now, paced, sent = taipei(27, 10), None, 0
    assert pacer.allowance(None, now) == 1
    for _ in range(200):
        allowed = pacer.allowance(paced, now)
        assert allowed >= 1, (rate, sent)
        paced, sent = pacer.spend(paced, now, 1), sent + 1
        now = pacer.next_at(paced, now)
    assert sent == 200


def test_pacer_catches_up_a_late_wake_within_its_burst() -> None:
    pacer = Pacer.for_rate(10)  # burst 3
    now = taipei(27, 10)
    paced = pacer.spend(None, now, 1)
    assert pacer.allowance(paced, now) == 0
    assert pacer.next_at(paced, now) == now + timedelta(milliseconds=100)
    late = now + timedelta(milliseconds=250)  # woke 150 ms late: nothing is lost
    assert pacer.allowance(paced, late) == 2
    idle = now + timedelta(hours=1)  # after a pause, never more than the burst
    assert pacer.allowance(paced, idle) == 3


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        ("3d", timedelta(days=3)),
        ("36h", timedelta(hours=36)),
        ("1d12h", timedelta(hours=36)),
        ("90m", timedelta(minutes=90)),
        ("３ｄ", timedelta(days=3)),
    ],
)
def test_durations(raw: str, value: timedelta) -> None:
    assert parse_duration(raw) == value


@pytest.mark.parametrize("raw", ["", "3", "3 days", "10m", "91d", "-1d", "3d x"])
def test_bad_durations_say_what_is_expected(raw: str) -> None:
    with pytest.raises(InvalidDuration) as caught:
        parse_duration(raw)
    zh = messages.render_error(caught.value)
    en = messages.render_error(caught.value, messages.EN)
    assert "3d" in zh and "3d" in en and "--remind-after" in en


def test_format_duration_round_trips() -> None:
    for raw in ("3d", "1d12h", "1h30m"):
        assert format_duration(parse_duration(raw)) == raw


def test_rates_states_prefixes_and_names() -> None:
    assert parse_rate("12.5") == 12.5
    for bad in ("0", "-1", "fast", "nan", "inf", "20000"):
        with pytest.raises(InvalidRate):
            parse_rate(bad)
    assert parse_states("unverified,pending") == (Status.UNVERIFIED, Status.PENDING)
    assert parse_states("待驗證") == (Status.PENDING,)
    for bad in ("verified", "", "unverified,done"):
        with pytest.raises(InvalidStates):
            parse_states(bad)
    assert parse_pass_prefix("khps113") == "KHPS113"
    assert parse_pass_prefix("KHPS113-00") == "KHPS113-00"
    for bad in ("%", "K_PS", "113", "KHPS113-000043x"):
        with pytest.raises(InvalidPassPrefix):
            parse_pass_prefix(bad)
    assert check_name("  秋季驗證 ") == "秋季驗證"
    with pytest.raises(InvalidCampaignOption):
        check_name("   ")


def test_reminders_need_a_delay() -> None:
    with pytest.raises(RemindersNeedDelay):
        CampaignSpec("x", reminders=1)
    with pytest.raises(InvalidReminders):
        CampaignSpec("x", remind_after=timedelta(days=3), reminders=9)
    spec = CampaignSpec("x", remind_after=timedelta(days=3), reminders=2)
    now = taipei(27, 10)
    assert spec.reminder_due(1, now) == now + timedelta(days=3)
    assert spec.reminder_due(2, now) == now + timedelta(days=3)
    assert spec.reminder_due(3, now) is None


def test_every_campaign_error_has_both_languages() -> None:
    for error in (
        InvalidWindow(option="--window", got="9-21"),
        InvalidRate(option="--rate", got="x"),
        InvalidStates(option="--state", got="x"),
        InvalidPassPrefix(option="--pass-prefix", got="x"),
        InvalidReminders(option="--reminders", got="9"),
        RemindersNeedDelay(option="--reminders", got="1"),
    ):
        zh, en = messages.render_error(error), messages.render_error(error, messages.EN)
        assert zh != en and error.option in en


def test_only_taiwanese_mobiles_are_campaign_recipients() -> None:
    assert is_taiwan_mobile(Phone("+886912345678"))
    assert not is_taiwan_mobile(Phone("+85291234567"))


def test_a_finished_campaign_shows_its_real_rate_not_a_burst_over_a_millisecond():
    from datetime import date

    from core.campaigns.model import Campaign, CampaignState
    from core.campaigns.progress import Progress, Tally

    start = taipei(27, 10)
    done = Campaign(
        1,
        CampaignSpec("x"),
        CampaignState.DONE,
        date(2026, 11, 27),
        created_at=start,
        started_at=start,
        finished_at=start + timedelta(seconds=100),
    )
    progress = Progress(done, Tally("", sent=500, recent=500), start + timedelta(days=1), 5.0)
    assert progress.measured_rate == 5.0
    # All queued within a millisecond of the start: at most the count, not 500,000/s.
    running = Campaign(
        1, CampaignSpec("x"), CampaignState.RUNNING, date(2026, 11, 27), start, start
    )
    burst = Progress(
        running, Tally("", sent=500, recent=500), start + timedelta(milliseconds=1), 5.0
    )
    assert burst.measured_rate == 500.0
