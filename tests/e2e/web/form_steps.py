"""Steps of the web form over real HTTP, shared by its tests: each returns the page."""

from __future__ import annotations

import re

from aiohttp import ClientResponse

from tests.e2e.conftest import AppClient, sent_sms, services_of

ZH = {"Accept-Language": "zh-TW,zh;q=0.9"}
HOLDER = {"pass_no": "KHPS113-000043", "id_no": "QQ12345673", "phone": "0960123411"}
HOLDER_E164 = "+886960123411"


def tag_of(page: str) -> str:
    match = re.search(r'name="tag" value="([0-9a-f]+)"', page)
    assert match, page
    return match.group(1)


async def open_form(client: AppClient, lang: str | None = None) -> tuple[ClientResponse, str]:
    response = await client.get("/verify" + (f"?lang={lang}" if lang else ""), headers=ZH)
    return response, await response.text()


async def post(
    client: AppClient, path: str, page: str, **fields: str
) -> tuple[ClientResponse, str]:
    response = await client.post(path, data={"tag": tag_of(page), **fields}, headers=ZH)
    return response, await response.text()


async def ask_for_code(client: AppClient, **details: str) -> tuple[ClientResponse, str]:
    """Fills the form (the guide's holder unless told otherwise) and confirms."""
    _, page = await open_form(client)
    response, page = await post(client, "/verify", page, **{**HOLDER, **details})
    if response.status != 200 or "/verify/confirm" not in page:
        return response, page
    return await post(client, "/verify/confirm", page, action="confirm")


async def code_from_sms(client: AppClient, to: str = HOLDER_E164) -> str:
    body = (await sent_sms(services_of(client), to))[-1]
    match = re.search(r"(?<!\d)(\d{6})(?!\d)", body)
    assert match, body
    return match.group(1)
