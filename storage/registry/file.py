"""Opening a registry export in whatever encoding the port system's tools wrote it.

Exports come as UTF-8 (with or without a BOM), as Big5 from Taiwanese Windows tools
(Microsoft's cp950, a superset of Big5), or as UTF-16 from Excel's "Unicode text",
which is tab-separated (the delimiter is found from the header row:
:mod:`storage.registry.csv_rows`). The encoding is decided from the file's first
:data:`SAMPLE_BYTES`: a byte-order mark if there is one; else UTF-8 if that sample is
valid UTF-8 (short UTF-8 text is easily mistaken for something else, and it is what we
ask for); else the first of ``charset-normalizer``'s guesses among the encodings a
Taiwanese registry can plausibly be in (:data:`CANDIDATES`) in which the sample decodes
and its first line names columns we know (short Big5 text also decodes as UTF-16, into
mojibake). Anything else is read as UTF-8, and the reader says on which line it stops
making sense, instead of importing mojibake.
"""

from __future__ import annotations

import codecs
import csv
import io
from dataclasses import dataclass
from os import PathLike
from typing import BinaryIO

import charset_normalizer

from storage.registry.csv_rows import column_of, sniff_delimiter

SAMPLE_BYTES = 64 * 1024
# charset-normalizer's names of the encodings a registry export may be in.
CANDIDATES = ["utf_8", "big5", "cp950", "big5hkscs", "utf_16", "utf_16_le", "utf_16_be"]
# What the file is decoded with, and what the import's summary calls it.
_CODECS = {
    "utf_8": ("utf-8", "UTF-8"),
    "big5": ("cp950", "Big5 (cp950)"),  # cp950 reads all of Big5, and a few more characters
    "cp950": ("cp950", "Big5 (cp950)"),
    "big5hkscs": ("big5hkscs", "Big5-HKSCS"),
    "utf_16": ("utf-16", "UTF-16"),
    "utf_16_le": ("utf-16-le", "UTF-16"),
    "utf_16_be": ("utf-16-be", "UTF-16"),
}
_BOMS = [  # longest first: UTF-32's little-endian mark begins with UTF-16's
    (codecs.BOM_UTF32_LE, "utf-32", "UTF-32"),
    (codecs.BOM_UTF32_BE, "utf-32", "UTF-32"),
    (codecs.BOM_UTF8, "utf-8-sig", "UTF-8"),
    (codecs.BOM_UTF16_LE, "utf-16", "UTF-16"),
    (codecs.BOM_UTF16_BE, "utf-16", "UTF-16"),
]


@dataclass(frozen=True, slots=True)
class Encoding:
    """``codec`` for Python's ``open``; ``label`` for people."""

    codec: str
    label: str


UTF8 = Encoding("utf-8", "UTF-8")


def _decodes(sample: bytes, codec: str) -> bool:
    """Whether ``sample`` is valid ``codec`` text (its end may cut a character)."""
    try:
        codecs.getincrementaldecoder(codec)("strict").decode(sample, final=False)
    except UnicodeDecodeError:
        return False
    return True


def _names_columns(sample: bytes, codec: str) -> bool:
    """Whether ``sample`` read as ``codec`` begins with a header row naming at least one
    of our columns: the check that tells a right guess from mojibake, which short text
    in a wrong two-byte encoding (Big5 read as UTF-16) decodes into without an error."""
    text = codecs.getincrementaldecoder(codec)("replace").decode(sample, final=False)
    header = text.lstrip("\ufeff").splitlines()[0] if text.strip() else ""
    cells = next(csv.reader([header], delimiter=sniff_delimiter(header)), [])
    return any(column_of(cell) is not None for cell in cells)


def detect_encoding(sample: bytes) -> Encoding:
    """The encoding of a file that begins with ``sample``."""
    for bom, codec, label in _BOMS:
        if sample.startswith(bom):
            return Encoding(codec, label)
    if _decodes(sample, "utf-8"):
        return UTF8
    guesses = [
        Encoding(*_CODECS[match.encoding])
        for match in charset_normalizer.from_bytes(sample, cp_isolation=CANDIDATES)
        if match.encoding in _CODECS
    ]
    readable = [guess for guess in guesses if _decodes(sample, guess.codec)]
    for guess in readable:
        if _names_columns(sample, guess.codec):
            return guess
    return readable[0] if readable else UTF8


@dataclass(slots=True)
class OpenedRegistry:
    """An export opened for reading: ``text`` to read, ``raw.tell()`` of ``size`` bytes
    for progress."""

    raw: BinaryIO
    text: io.TextIOWrapper
    encoding: Encoding
    size: int

    def close(self) -> None:
        self.text.close()  # closes raw too


def open_registry(path: str | PathLike[str]) -> OpenedRegistry:
    """Open ``path`` as text in the encoding it was written in."""
    raw = open(path, "rb")  # noqa: SIM115 - closed by OpenedRegistry.close
    try:
        sample = raw.read(SAMPLE_BYTES)
        size = raw.seek(0, io.SEEK_END)
        raw.seek(0)
        encoding = detect_encoding(sample)
        # newline="": the csv module handles line ends itself (and quoted newlines).
        text = io.TextIOWrapper(raw, encoding=encoding.codec, newline="")
    except BaseException:
        raw.close()
        raise
    return OpenedRegistry(raw, text, encoding, size)
