"""``portpass check-config``: show what the configuration means before anyone relies on it.

Prints the settings (secrets masked) and the verification SMS as holders will get it,
rendered with the real ``server.public_base_url`` and a link token of the real length,
with its length and segment count. R9 asks for one segment: a second one doubles what
a campaign to every holder costs, and the guide's own text takes two. ``serve`` uses
:func:`segment_warning` to say the same at start-up.
"""

from __future__ import annotations

import argparse
import base64
from dataclasses import dataclass, fields
from urllib.parse import urlsplit, urlunsplit

from bot.config import SECTIONS, Config, Secret
from core import messages
from core.codes import TOKEN_BYTES
from core.sms_text import Segments, segments, verification_link, verification_sms
from core.values import PassNumber

SAMPLE_PASS_NO = "KHPS113-000043"  # noqa: S105 - a port pass number, not a password
SAMPLE_CODE = "042917"
#: A token as long as a real one (``secrets.token_urlsafe(TOKEN_BYTES)``), fixed so the
#: output can be compared between runs.
SAMPLE_TOKEN = base64.urlsafe_b64encode(bytes(range(1, TOKEN_BYTES + 1))).decode().rstrip("=")
#: R9: at most this many characters of base URL keep the zh-TW SMS in one UCS-2 segment.
BASE_URL_TARGET = 20


@dataclass(frozen=True, slots=True)
class RenderedSms:
    language: str
    body: str
    segments: Segments


def sample_sms(public_base_url: str) -> list[RenderedSms]:
    """The verification SMS in each language, as a holder would receive it."""
    link = verification_link(public_base_url, SAMPLE_TOKEN)
    pass_no = PassNumber.parse(SAMPLE_PASS_NO)
    rendered = []
    for language in messages.LANGUAGES:
        body = verification_sms(pass_no, SAMPLE_CODE, link, language)
        rendered.append(RenderedSms(language, body, segments(body)))
    return rendered


def segment_warning(public_base_url: str) -> str | None:
    """One line for ``serve`` when a verification SMS takes more than one segment."""
    long = [sms for sms in sample_sms(public_base_url) if sms.segments.count > 1]
    if not long:
        return None
    which = ", ".join(f"{sms.language}: {sms.segments.count} segments" for sms in long)
    base = public_base_url.rstrip("/")
    return (
        f"the verification SMS takes more than one segment ({which}): "
        f"server.public_base_url {base!r} has {len(base)} characters; at most "
        f"{BASE_URL_TARGET} keep it in one segment (see portpass check-config)"
    )


def _limits(encoding: str) -> str:
    return "160 single / 153 per part" if encoding == "GSM-7" else "70 single / 67 per part"


def _shown(value: object) -> str:
    if isinstance(value, Secret):
        return str(value) if value else "(not set)"
    if isinstance(value, tuple):
        return ", ".join(value)
    return repr(value) if isinstance(value, str) else str(value)


def _masked_url(url: str) -> str:
    """A database URL with its password hidden (a PostgreSQL URL may carry one)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{user}:**********@{host}"))


def summary_lines(config: Config) -> list[str]:
    lines = []
    for name in SECTIONS:
        section = getattr(config, name)
        lines.append(f"[{name}]")
        for spec in fields(section):
            value = getattr(section, spec.name)
            if (name, spec.name) == ("database", "url"):
                shown = repr(_masked_url(value))
            elif (name, spec.name) == ("security", "secret_key") and not value:
                shown = _unset_key(config)
            else:
                shown = _shown(value)
            lines.append(f"  {spec.name} = {shown}")
    return lines


def _unset_key(config: Config) -> str:
    """Where the HMAC key comes from when none is configured (bot.secret_key.resolve_secret_key)."""
    database = config.sqlite_path
    if database is not None:
        return f"(not set: generated once and kept in {database}.secret)"
    return "(not set: required with this database; serve --demo uses a key per process)"


def sms_lines(config: Config) -> list[str]:
    base = config.server.public_base_url
    lines = [
        f"Verification SMS (public_base_url {base!r}: {len(base)} characters; "
        f"target at most {BASE_URL_TARGET} for one segment)",
        f"  sample pass {SAMPLE_PASS_NO}, code {SAMPLE_CODE}, "
        f"link token of {len(SAMPLE_TOKEN)} characters",
    ]
    for sms in sample_sms(base):
        seg = sms.segments
        plural = "segment" if seg.count == 1 else "segments"
        lines.append(f"  {sms.language}: {sms.body}")
        lines.append(
            f"    length {seg.length}, {seg.encoding} ({_limits(seg.encoding)}): "
            f"{seg.count} {plural}"
        )
    warning = segment_warning(base)
    if warning:
        lines.append(f"warning: {warning}")
    return lines


async def check_config(args: argparse.Namespace, config: Config) -> int:
    """The CLI command: the config loaded and checked already (or ``main`` said why not)."""
    print("Configuration is valid (secrets masked):")
    for line in summary_lines(config):
        print(f"  {line}")
    print()
    for line in sms_lines(config):
        print(line)
    return 0
