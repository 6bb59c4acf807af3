"""STATUS by SMS for a phone on many passes: at 80 passes the list passed Twilio's
1,600-character limit in one reply. Now every reply fits 3 segments, and a long list
comes in pages that each say how to get the next ("狀態 2" / "STATUS 2").

The 80 passes are imported through the real importer, as a registry export would be.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest

from core.verification.sms_text import MAX_REPLY_SEGMENTS, segments
from storage.registry.importer import import_registry
from tests.e2e.conftest import AppClient, services_of
from tests.e2e.sms.test_sms_inbound import Handset

PHONE, NATIONAL = "+886912000080", "0912000080"
PASSES = [f"KHPS114-{n:06d}" for n in range(1, 81)]
MASKED = [f"KHPS114-**{n:04d}" for n in range(1, 81)]


@pytest.fixture
async def holder(client: AppClient, tmp_path: Path) -> Handset:
    """A phone on file for 80 passes (one person), imported from a CSV file."""
    path = tmp_path / "eighty.csv"
    with path.open("w", encoding="utf-8", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["pass_no", "id_no", "name", "phone", "valid_from", "valid_to", "company"])
        for pass_no in PASSES:
            writer.writerow(
                [
                    pass_no,
                    "A123456789",
                    "八十證",
                    NATIONAL,
                    "2026/01/05",
                    "2027/01/04",
                    "高雄港測試業者",
                ]
            )
    services = services_of(client)
    report = await import_registry(
        services.engine, path, regions=services.config.phone.allowed_regions
    )
    assert report.passes.new == 80
    return Handset(client, PHONE)


async def every_page(holder: Handset, word: str) -> list[str]:
    """The first page, then each next page the reply names, until one names none."""
    [page] = await holder.send(word)
    shown = [page]
    while match := re.search(r"「狀態 (\d+)」|STATUS (\d+)", page):
        [page] = await holder.send(f"{word} {match.group(1) or match.group(2)}")
        shown.append(page)
        assert len(shown) <= len(PASSES), "the pages never end"
    return shown


def passes_in(pages: list[str]) -> list[str]:
    return [pass_no for page in pages for pass_no in re.findall(r"KHPS114-\*\*\d{4}", page)]


async def test_status_for_80_passes_comes_in_pages_of_at_most_three_segments(
    holder: Handset,
) -> None:
    pages = await every_page(holder, "狀態")

    assert len(pages) > 1
    assert all(segments(page).count <= MAX_REPLY_SEGMENTS for page in pages)
    assert passes_in(pages) == MASKED  # every pass once, in order
    assert pages[0].endswith(f"第 1/{len(pages)} 頁。傳送「狀態 2」看下一頁。")
    assert pages[-1].endswith(f"第 {len(pages)}/{len(pages)} 頁（最後一頁）。")
    assert "KHPS114-000001" not in "".join(pages)  # still masked


async def test_in_english_too(holder: Handset) -> None:
    await holder.send("EN")
    pages = await every_page(holder, "STATUS")

    assert all(segments(page).count <= MAX_REPLY_SEGMENTS for page in pages)
    assert passes_in(pages) == MASKED
    assert pages[0].endswith(f"Page 1 of {len(pages)}. Send STATUS 2 for the next page.")
    assert pages[-1].endswith(f"Page {len(pages)} of {len(pages)} (the last).")


async def test_a_page_past_the_end_shows_the_last(holder: Handset) -> None:
    last = (await every_page(holder, "狀態"))[-1]
    assert await holder.send("狀態 99") == [last]


async def test_a_short_list_has_no_pages(client: AppClient) -> None:
    [answer] = await Handset(client, "+886912345608").send("狀態")  # a demo holder: 4 passes
    assert len(answer.splitlines()) == 4
    assert "頁" not in answer
