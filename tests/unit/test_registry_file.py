"""Which encoding a registry export is read in (storage.registry.file)."""

from __future__ import annotations

import pytest

from storage.registry.file import SAMPLE_BYTES, UTF8, detect_encoding

HEADER = "通行證號,身分證號,姓名,手機號碼,有效起日,有效迄日,公司\n"
ROW = "KHPS113-000043,QQ12345673,檢訊測試三,0960123411,115/01/05,116/01/04,高雄港測試業者\n"


@pytest.mark.parametrize(
    ("data", "label"),
    [
        ((HEADER + ROW).encode("utf-8"), "UTF-8"),
        (b"\xef\xbb\xbf" + (HEADER + ROW).encode("utf-8"), "UTF-8"),
        (b"pass_no,id_no\nKHPS113-000043,A123456789\n", "UTF-8"),  # ASCII is UTF-8
        ((HEADER + ROW).encode("cp950"), "Big5 (cp950)"),
        # Short Big5 also decodes as UTF-16, into mojibake: the header decides.
        ("通行證號,身分證號\n".encode("big5"), "Big5 (cp950)"),
        (b"\xff\xfe" + (HEADER + ROW).replace(",", "\t").encode("utf-16-le"), "UTF-16"),
        ((HEADER + ROW).replace(",", "\t").encode("utf-16-le"), "UTF-16"),
        ((HEADER + ROW).replace(",", "\t").encode("utf-16-be"), "UTF-16"),
    ],
)
def test_the_encoding_an_export_was_written_in(data: bytes, label: str) -> None:
    assert detect_encoding(data).label == label


def test_utf8_cut_mid_character_at_the_end_of_the_sample_is_still_utf8() -> None:
    data = (HEADER + ROW * 1000).encode("utf-8")
    # The sample ends just after the first byte of a three-byte character...
    cut = max(i for i in range(SAMPLE_BYTES) if data[i - 1] >= 0xE0)
    assert detect_encoding(data[:cut]) == UTF8  # ...and is not taken for something else


def test_a_file_that_mixes_encodings_is_read_as_utf8_to_be_refused() -> None:
    # Neither UTF-8 nor Big5 throughout: read as UTF-8, the reader names the bad line.
    data = (HEADER + ROW).encode("utf-8") + "臺中測試乙\n".encode("big5")
    assert detect_encoding(data) == UTF8
