"""A code typed in Telegram for a pass whose validity a registry import ended after the
code was sent is refused with the out-of-validity message (the SMS and link page:
tests/e2e/test_pass_validity_at_use.py)."""

from __future__ import annotations

from pathlib import Path

from fakes.telegram_api import FakeTelegram
from tests.e2e.conftest import AppClient
from tests.e2e.telegram.fixtures import PASS_NO, TelegramUser, latest_code
from tests.e2e.test_pass_validity_at_use import NOT_VALID_ZH, end_validity


async def test_a_code_for_a_pass_whose_validity_ended_since_does_not_verify_in_telegram(
    client: AppClient, fake: FakeTelegram, tmp_path: Path
) -> None:
    user = TelegramUser(client, fake, 555_000_111)
    await user.press(await user.verify_until_confirm(), f"c:confirm:{PASS_NO}")
    code = await latest_code(client)

    await end_validity(client, tmp_path)
    [told] = await user.say(code)

    assert told["text"] == NOT_VALID_ZH
