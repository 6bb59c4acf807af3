"""Gate events as the gate system (or an admin's spreadsheet) writes them: what is
accepted, and what each wrong field is told, field by field."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import pytest

from core import messages
from core.notices.csv_file import BadHeader, read_event_rows
from core.notices.events import (
    EventProblem,
    NoticeEvent,
    NoticeKind,
    parse_event,
    parse_moment,
)
from core.values import PassNumber

NOW = datetime(2026, 11, 27, 2, 0, tzinfo=UTC)  # 10:00 in Taipei
TAIPEI = messages.TAIPEI


def event(**changes: object) -> dict[str, object]:
    raw: dict[str, object] = {
        "event_id": "gate-1",
        "pass_no": "KHPS113-000047",
        "kind": "suspended_inactive",
        "occurred_at": "2026-11-26T08:30:00+08:00",
    }
    raw.update(changes)
    return {k: v for k, v in raw.items() if v is not ...}


def problems(raw: object) -> list[tuple[str | None, str]]:
    outcome = parse_event(raw, NOW)
    assert isinstance(outcome, list), outcome
    return [(p.field, p.key) for p in outcome]


def test_a_complete_event_parses_into_checked_values() -> None:
    outcome = parse_event(event(detail="  gate 3  "), NOW)
    assert outcome == NoticeEvent(
        event_id="gate-1",
        pass_no=PassNumber("KHPS113-000047"),
        kind=NoticeKind.SUSPENDED_INACTIVE,
        occurred_at=datetime(2026, 11, 26, 8, 30, tzinfo=TAIPEI),
        detail="gate 3",
    )


def test_pass_numbers_are_normalised_as_holders_type_them() -> None:
    outcome = parse_event(event(pass_no="ｋｈｐｓ113 000047"), NOW)
    assert isinstance(outcome, NoticeEvent)
    assert outcome.pass_no == PassNumber("KHPS113-000047")


def test_a_numeric_event_id_is_taken_as_text() -> None:
    outcome = parse_event(event(event_id=90210), NOW)
    assert isinstance(outcome, NoticeEvent)
    assert outcome.event_id == "90210"


@pytest.mark.parametrize("kind", [k.value for k in NoticeKind])
def test_every_kind_of_the_guide_is_accepted(kind: str) -> None:
    outcome = parse_event(event(kind=kind), NOW)
    assert isinstance(outcome, NoticeEvent)
    assert outcome.kind.value == kind


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2026-11-26T08:30:00+08:00", datetime(2026, 11, 26, 8, 30, tzinfo=TAIPEI)),
        ("2026-11-26T00:30:00Z", datetime(2026, 11, 26, 8, 30, tzinfo=TAIPEI)),
        ("2026-11-26T08:30:00", datetime(2026, 11, 26, 8, 30, tzinfo=TAIPEI)),  # Taipei meant
        ("2026-11-26", datetime(2026, 11, 26, tzinfo=TAIPEI)),
        ("2026/11/26", datetime(2026, 11, 26, tzinfo=TAIPEI)),
        ("2026/11/26 08:30", datetime(2026, 11, 26, 8, 30, tzinfo=TAIPEI)),
        ("115/11/26", datetime(2026, 11, 26, tzinfo=TAIPEI)),  # ROC year, as the registry
        ("２０２６－１１－２６", datetime(2026, 11, 26, tzinfo=TAIPEI)),  # full-width
    ],
)
def test_dates_are_read_as_gate_systems_and_spreadsheets_write_them(
    raw: str, expected: datetime
) -> None:
    assert parse_moment(raw) == expected


@pytest.mark.parametrize(
    "raw", ["yesterday", "2026-13-01", "2026/02/30", "26-11", "2026-11-26T25:00"]
)
def test_a_bad_date_is_refused_saying_what_a_date_looks_like(raw: str) -> None:
    assert problems(event(occurred_at=raw)) == [("occurred_at", "notice.error.occurred_at")]
    text = messages.text("notice.error.occurred_at", messages.ZH, value=raw)
    assert "2026-11-26T08:30:00+08:00" in text and raw in text


def test_an_event_dated_in_the_future_is_refused() -> None:
    assert problems(event(occurred_at="2026-12-25")) == [
        ("occurred_at", "notice.error.out_of_range")
    ]


def test_an_unknown_kind_names_the_kinds_there_are() -> None:
    outcome = parse_event(event(kind="stolen"), NOW)
    assert outcome == [
        EventProblem(
            "kind",
            "notice.error.kind",
            {
                "value": "stolen",
                "kinds": "suspended_inactive, abnormal_record, suspended_abnormal, reinstated",
            },
        )
    ]


def test_every_problem_of_an_item_is_reported_at_once() -> None:
    raw = {"event_id": "", "pass_no": "KH-1", "kind": "x", "occured_at": "2026-11-26"}
    assert sorted(problems(raw), key=str) == sorted(
        [
            ("occured_at", "notice.error.unknown_field"),
            ("event_id", "notice.error.missing"),
            ("occurred_at", "notice.error.missing"),
            ("pass_no", "notice.error.pass_no"),
            ("kind", "notice.error.kind"),
        ],
        key=str,
    )


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"event_id": "x" * 129}, "event_id"),
        ({"event_id": "a\nb"}, "event_id"),
        ({"event_id": True}, "event_id"),
        ({"pass_no": 43}, "pass_no"),
        ({"kind": 1}, "kind"),
        ({"occurred_at": 20261126}, "occurred_at"),
        ({"detail": "x" * 501}, "detail"),
        ({"detail": {"gate": 3}}, "detail"),
    ],
)
def test_wrong_types_and_lengths_are_refused_by_field(
    changes: dict[str, object], field: str
) -> None:
    assert [f for f, _ in problems(event(**changes))] == [field]


def test_an_item_that_is_not_an_object_is_refused() -> None:
    assert problems(["gate-1", "KHPS113-000047"]) == [(None, "notice.error.not_object")]


def test_a_long_value_is_quoted_back_shortened() -> None:
    [problem] = parse_event(event(pass_no="X" * 500), NOW)  # type: ignore[misc]
    assert len(problem.params["value"]) == 40


# --- the CSV file ---------------------------------------------------------------------------


def test_csv_columns_are_found_by_name_and_lines_are_numbered() -> None:
    text = (
        "kind,pass_no,occurred_at,event_id,detail\r\n"
        "reinstated,KHPS113-000047,2026/11/26,e1,\r\n"
        "\r\n"
        'abnormal_record,KHPS113-000043,2026/11/25,e2,"gate 3,\nlane 2"\r\n'
        "reinstated,KHPS113-000047\r\n"
    )
    rows = read_event_rows(io.StringIO(text, newline=""))
    assert rows.lines == [2, 5]  # the quoted line break makes the third row end on line 5
    assert rows.items[0] == {
        "kind": "reinstated",
        "pass_no": "KHPS113-000047",
        "occurred_at": "2026/11/26",
        "event_id": "e1",
        "detail": None,
    }
    assert rows.items[1]["detail"] == "gate 3,\nlane 2"
    [short] = rows.rejected
    assert short.position == 6
    assert short.problems[0].key == "notice.error.columns"


@pytest.mark.parametrize(
    ("header", "key"),
    [
        ("event_id,pass_no,kind", "notice.error.missing"),
        ("event_id,pass_no,kind,occurred_at,gate", "notice.error.unknown_field"),
        ("", "notice.error.missing"),
    ],
)
def test_a_csv_header_without_the_fields_is_refused(header: str, key: str) -> None:
    with pytest.raises(BadHeader) as caught:
        read_event_rows(io.StringIO(header + "\n" if header else ""))
    assert caught.value.problem.key == key
