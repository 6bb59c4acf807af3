"""The link page in Vietnamese and Indonesian: chosen by ``?lang=`` or
the phone's Accept-Language, and every page links to each other language by its own name."""

from __future__ import annotations

from tests.e2e.conftest import AppClient
from tests.e2e.web.test_link_page import ZH_PAGE, form_tag, issue_link


async def test_a_vietnamese_phone_gets_the_page_in_vietnamese(client: AppClient) -> None:
    path = await issue_link(client)
    response = await client.get(path, headers={"Accept-Language": "vi-VN,vi;q=0.9,en;q=0.5"})
    page = await response.text()

    assert response.headers["Content-Language"] == "vi"
    assert '<html lang="vi">' in page
    assert "<h1>Xác minh số điện thoại thẻ ra vào cảng</h1>" in page
    assert "(giờ Đài Bắc)" in page
    assert '<button type="submit">Xác nhận</button>' in page
    done = await client.post(path + "?lang=vi", data={"tag": form_tag(page)}, headers=ZH_PAGE)
    assert "<h1>Đã xác minh số điện thoại</h1>" in await done.text()


async def test_indonesian_by_the_link_or_by_accept_language(client: AppClient) -> None:
    path = await issue_link(client)
    by_link = await (await client.get(path + "?lang=id", headers=ZH_PAGE)).text()
    by_header = await (await client.get(path, headers={"Accept-Language": "id-ID"})).text()
    # "in" is Indonesian's old code, still sent by some Android browsers.
    old_code = await (await client.get(path, headers={"Accept-Language": "in-ID"})).text()

    for page in (by_link, by_header, old_code):
        assert '<html lang="id">' in page
        assert "<h1>Verifikasi nomor HP kartu pas pelabuhan</h1>" in page


async def test_every_page_links_to_each_other_language_by_its_own_name(client: AppClient) -> None:
    path = await issue_link(client)
    page = await (await client.get(path + "?lang=vi")).text()

    assert '<a href="?lang=zh-TW" hreflang="zh-TW" lang="zh-TW">繁體中文</a>' in page
    assert '<a href="?lang=en" hreflang="en" lang="en">English</a>' in page
    assert '<a href="?lang=id" hreflang="id" lang="id">Bahasa Indonesia</a>' in page
    assert '?lang=vi"' not in page  # not to itself
