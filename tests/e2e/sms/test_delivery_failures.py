"""A verification SMS that Twilio reports ``undelivered`` or
``failed`` (a status callback, signed as Twilio signs it) frees the holder to ask
again at once, and ``portpass status`` shows the last delivery error next to the
pass: 「簡訊未送達 (30003)」."""

from __future__ import annotations

import io
import json

import pytest
from twilio.request_validator import RequestValidator

from bot.cli.status_report import print_status
from bot.config import Config
from bot.services import Services
from core.errors import AlreadyRequested
from core.model import RequestState
from core.values import PassNumber
from fakes.twilio_api import FakeTwilio
from tests.e2e.conftest import PUBLIC_BASE_URL, TWILIO_TOKEN, AppClient
from tests.e2e.sms.test_outbox_worker import (
    HOLDER,
    MakeClient,
    request_code,
    request_state,
    row_where,
    settled,
    start,
)

PASS_NO = HOLDER[0]


async def report(client: AppClient, fake: FakeTwilio, sid: str, status: str, code: int) -> int:
    """Twilio's status callback for ``sid``, signed over the public URL it calls."""
    params = fake.status_params(sid, status, error_code=code)
    url = f"{PUBLIC_BASE_URL}/sms/status"
    signature = RequestValidator(TWILIO_TOKEN).compute_signature(url, params)
    response = await client.post(
        "/sms/status", data=params, headers={"X-Twilio-Signature": signature}
    )
    return response.status


async def status_of(services: Services, fmt: str) -> str:
    """What ``portpass status PASS_NO --format FMT`` prints."""
    out = io.StringIO()
    pass_nos = [PassNumber(PASS_NO)]
    await print_status(services.uow, pass_nos, company=None, state=None, fmt=fmt, out=out)
    return out.getvalue()


@pytest.mark.parametrize(
    ("status", "shown"), [("undelivered", "簡訊未送達"), ("failed", "簡訊無法發送")]
)
async def test_an_undelivered_code_frees_the_holder_and_shows_in_portpass_status(
    make_client: MakeClient, twilio_config: Config, fake: FakeTwilio, status: str, shown: str
) -> None:
    client, services, _ = await start(make_client, twilio_config)
    first = await request_code(services)
    row = await row_where(services, state="sent")
    with pytest.raises(AlreadyRequested):  # while the SMS may still arrive, R2 holds
        await request_code(services)

    assert await report(client, fake, row.provider_sid, status, 30003) == 204

    assert await request_state(services, first.request_id) is RequestState.RELEASED
    table = await status_of(services, "table")
    assert f"{shown} (30003)" in table.splitlines()[1]  # on the pass's own line
    [as_json] = json.loads(await status_of(services, "json"))
    assert as_json["last_sms"] == {"state": status, "error_code": "30003"}
    second = await request_code(services)  # at once, no 24-hour wait
    assert await request_state(services, second.request_id) is RequestState.LIVE
    # A new code on its way: the old problem is no longer shown.
    assert [r.state for r in await settled(services, 2)][1] == "sent"
    assert "30003" not in await status_of(services, "table")
