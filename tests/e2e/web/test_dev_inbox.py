"""The demo inbox over real HTTP: the page and the JSON that ``portpass chat`` polls, and
404 everywhere but the demo with the console sender (SMS bodies carry codes)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from bot.config import Config
from bot.providers.console import ConsoleSender
from bot.providers.twilio_sender import TwilioSender
from tests.e2e.conftest import TWILIO_SID, TWILIO_TOKEN, AppClient

LINK = "https://pp.example.tw/v/AbCdEfGhIjKl"
MakeClient = Callable[..., Awaitable[AppClient]]


async def send_three(sender: ConsoleSender) -> None:
    await sender.send(
        "+886960123411", f"港區通行證末四碼0043驗證碼123456，24小時內有效，或點{LINK}"
    )
    await sender.send("+886912345608", "SMS-TWO <b>bold</b> & <script>alert(1)</script>")
    await sender.send("+886960123411", "SMS-THREE")


async def test_the_page_lists_the_latest_sms_newest_first_with_links(
    client: AppClient, sender: ConsoleSender
) -> None:
    await send_three(sender)
    response = await client.get("/dev/inbox")
    assert response.status == 200
    page = await response.text()
    assert page.index("SMS-THREE") < page.index("SMS-TWO") < page.index("驗證碼123456")
    assert f'<a href="{LINK}">{LINK}</a>' in page
    assert "0912-345-608" in page  # as people write it, not +886912345608
    assert "收件人" in page and "臺北時間" in page  # the default language: zh-TW
    assert "<script>alert" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<b>bold</b>" not in page
    assert response.headers["Content-Security-Policy"].startswith("default-src 'none'")
    assert response.headers["Referrer-Policy"] == "same-origin"


async def test_the_page_says_when_there_is_nothing_yet_in_either_language(
    client: AppClient,
) -> None:
    page = await (await client.get("/dev/inbox")).text()
    assert "還沒有簡訊" in page and "<h1>簡訊收件匣（示範）</h1>" in page
    english = await (await client.get("/dev/inbox?lang=en")).text()
    assert "No SMS yet" in english and "<h1>Dev inbox (demo)</h1>" in english


async def test_the_demo_home_page_says_what_this_is_and_how_to_try_it(
    client: AppClient,
) -> None:
    response = await client.get("/", headers={"Accept-Language": "en"})
    assert response.status == 200
    page = await response.text()
    assert "port pass holders prove" in page
    assert "portpass chat --from 0960123411" in page
    assert '<a href="/dev/inbox">' in page
    assert "驗證" in await (await client.get("/?lang=zh-TW")).text()


async def test_json_filters_by_phone_in_either_form_and_by_id(
    client: AppClient, sender: ConsoleSender
) -> None:
    await send_three(sender)
    everything = await (await client.get("/dev/inbox.json")).json()
    assert [m["id"] for m in everything] == [1, 2, 3]  # oldest first, for polling
    assert set(everything[0]) == {"id", "to", "body", "at"}
    assert everything[0]["to"] == "+886960123411"
    assert everything[0]["body"].endswith(LINK)
    assert everything[0]["at"].endswith("+00:00")

    for to in ("0960123411", "+886960123411", "0960-123-411"):
        mine = await (await client.get("/dev/inbox.json", params={"to": to})).json()
        assert [m["id"] for m in mine] == [1, 3], to
    later = await client.get("/dev/inbox.json", params={"to": "0960123411", "after": "1"})
    assert [m["body"] for m in await later.json()] == ["SMS-THREE"]
    assert await (await client.get("/dev/inbox.json", params={"after": "3"})).json() == []


async def test_json_refuses_what_does_not_parse(client: AppClient) -> None:
    for params in ({"to": "hello"}, {"after": "one"}, {"to": "+14155550100"}):
        response = await client.get("/dev/inbox.json", params=params)
        assert response.status == 400, params
        assert "error" in await response.json()


async def test_not_there_outside_the_demo(make_client: MakeClient, config: Config) -> None:
    client = await make_client(config, demo=False)
    home = await client.get("/")  # in production, / is the way to the form
    assert home.status == 200
    assert 'href="/verify' in await home.text()
    assert "/dev/inbox" not in await home.text()
    assert (await client.get("/dev/inbox")).status == 404
    assert (await client.get("/dev/inbox.json")).status == 404


async def test_not_there_with_a_real_sender(make_client: MakeClient, config: Config) -> None:
    twilio = TwilioSender(TWILIO_SID, TWILIO_TOKEN, from_number="+15005550006")
    client = await make_client(config, sender=twilio)
    assert (await client.get("/dev/inbox")).status == 404
    assert (await client.get("/dev/inbox.json")).status == 404
