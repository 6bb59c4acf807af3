"""Personal data in log lines (:mod:`bot.privacy`): the shapes masked, what must not be
touched, and the library floor that holds whatever a logger's level."""

from __future__ import annotations

import io
import json
import logging

import pytest

from bot.logs import JsonFormatter, RedactingFormatter
from bot.privacy import LibraryFloor, mask_personal_data


@pytest.mark.parametrize(
    ("line", "masked"),
    [
        ("身分證號 R123456780 最後一碼好像不對", "身分證號 R12*****80 最後一碼好像不對"),
        ("id qq12345673 typed", "id qq1*****73 typed"),
        ("to +886960123411.", "to 0960-***-411."),
        ("To=%2B886960123411&Body=x", "To=0960-***-411&Body=x"),
        ("手機0960-123-411，", "手機0960-***-411，"),
        ("886 960 123 411", "0960-***-411"),
        ("from +15005550006", "from +*********06"),
    ],
)
def test_id_numbers_and_phones_are_masked(line: str, masked: str) -> None:
    assert mask_personal_data(line) == masked


@pytest.mark.parametrize(
    "line",
    [
        "pass KHPS113-000043",
        "2026-12-06 20:17:04,123 INFO",
        "telegram update 912345678 seen before",
        "sms SMa0960123411b0c accepted",
        "outbox 12: sent",
    ],
)
def test_what_is_not_personal_data_is_left_alone(line: str) -> None:
    assert mask_personal_data(line) == line


def test_both_formats_mask_message_and_traceback() -> None:
    logger = logging.getLogger("test.privacy")
    try:
        raise ValueError("no pass for QQ12345673 at 0960123411")
    except ValueError:
        record = logger.makeRecord(
            "test.privacy",
            logging.ERROR,
            __file__,
            1,
            "lookup %s",
            ("+886960123411",),
            exc_info=__import__("sys").exc_info(),
        )
    text = RedactingFormatter([]).format(record)
    entry = json.loads(JsonFormatter([]).format(record))
    for line in (text, entry["message"] + entry["exception"]):
        assert "QQ12345673" not in line and "0960123411" not in line
        assert "886960123411" not in line and "0960-***-411" in line


def test_library_parameter_dumps_are_dropped_whatever_the_loggers_level() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(LibraryFloor())
    for name in ("telegram.ext.ExtBot", "sqlalchemy.engine.Engine", "twilio.http_client"):
        logger = logging.getLogger(name)
        logger.addHandler(handler)
        logger.setLevel(logging.DEBUG)
        try:
            logger.debug("parameters 檢訊測試三")
            logger.info("payload 檢訊測試三" if not name.startswith("telegram") else "")
            logger.warning("%s warns", name)
        finally:
            logger.removeHandler(handler)
            logger.setLevel(logging.NOTSET)
    assert "檢訊測試三" not in stream.getvalue()
    assert stream.getvalue().count("warns") == 3
