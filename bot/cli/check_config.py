"""``portpass check-config``: show what the configuration means before anyone relies on it.

Prints the settings (secrets masked) and every SMS the bot sends unasked, in every
language, as holders will get it: verification, reminder and notices, rendered with the
real ``server.public_base_url``, a link token of the real length and the configured
words (``[texts_*]``), each with its encoding, its segments and what a campaign to
100,000 holders costs at ``sms.price_per_segment``. A second segment doubles that cost;
the default verification text takes two for the words that make it trusted (README,
"SMS texts"). ``serve`` uses :func:`segment_warning` to warn at start-up.
"""

from __future__ import annotations

import argparse
from dataclasses import fields
from urllib.parse import urlsplit, urlunsplit

from bot.config import SECTIONS, Config, Secret
from bot.config.secret_key import resolve_secret_key
from core import messages
from core.verification.sms_preview import (
    BASE_URL_TARGET,
    CAMPAIGN_HOLDERS,
    MAX_VERIFICATION_SEGMENTS,
    SAMPLE_CODE,
    SAMPLE_PASS_NO,
    SAMPLE_TOKEN,
    RenderedSms,
    sample_all,
    segment_warning,
)
from core.verification.sms_text import form_url


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
    """Where the HMAC key comes from when none is configured
    (:func:`bot.config.secret_key.resolve_secret_key`)."""
    database = config.sqlite_path
    if database is not None:
        return f"(not set: generated once and kept in {database}.secret)"
    return "(not set: required with this database; serve --demo uses a key per process)"


def sms_lines(config: Config) -> list[str]:
    base = config.server.public_base_url
    contact = {
        language: config.notices.contact if language == messages.ZH else config.notices.contact_en
        for language in messages.LANGUAGES
    }
    lines = [
        f"SMS as holders get them (public_base_url {base!r}: {len(base)} characters; at most "
        f"{BASE_URL_TARGET} keep the default verification text in "
        f"{MAX_VERIFICATION_SEGMENTS} segments)",
        f"  sample pass {SAMPLE_PASS_NO}, code {SAMPLE_CODE}, "
        f"link token of {len(SAMPLE_TOKEN)} characters; "
        f"cost: a campaign to {CAMPAIGN_HOLDERS:,} holders at "
        f"{config.sms.price_per_segment:g} {config.sms.currency} a segment",
    ]
    for sms in sample_all(base, config.sms_wording, contact):
        lines.append(f"  {sms.language} {sms.kind}: {sms.body}")
        lines.append(f"    {_measure(sms, config)}")
    warning = segment_warning(base, config.sms_wording)
    if warning:
        lines.append(f"warning: {warning}")
    return lines


def _measure(sms: RenderedSms, config: Config) -> str:
    """「length 106, UCS-2 (70 single / 67 per part): 2 segments; 100,000 holders: 200,000
    segments, 15,000.00 USD」 (the price unknown: no money figure)."""
    seg = sms.segments
    plural = "segment" if seg.count == 1 else "segments"
    total = seg.count * CAMPAIGN_HOLDERS
    price = config.sms.price_per_segment
    money = (
        f", {total * price:,.2f} {config.sms.currency}" if price else " (no sms.price_per_segment)"
    )
    return (
        f"length {seg.length}, {seg.encoding} ({_limits(seg.encoding)}): {seg.count} {plural}; "
        f"{CAMPAIGN_HOLDERS:,} holders: {total:,} segments{money}"
    )


async def check_config(args: argparse.Namespace, config: Config) -> int:
    """The CLI command: the config loaded and checked already (or ``main`` said why not).
    What only start-up would find out is checked here too: a database that is not a
    SQLite file needs a configured key (``serve`` would refuse to start without one)."""
    if not config.security.secret_key and config.sqlite_path is None:
        resolve_secret_key(config, demo=False)  # raises the one-line ConfigError
    print("Configuration is valid (secrets masked):")
    for line in summary_lines(config):
        print(f"  {line}")
    print()
    for line in sms_lines(config):
        print(line)
    print(replies_line(config))
    if getattr(args, "probe", False):
        return await _probe(config)
    return 0


def replies_line(config: Config) -> str:
    """Where holders are sent for a new code: whether SMS replies reach us decides it."""
    form = form_url(config.server.public_base_url)
    if config.sms.replies_arrive:
        return f"SMS replies reach the bot (sms.receives_replies): holders may reply, or use {form}"
    return (
        f"SMS replies do not reach the bot (sms.receives_replies, sender "
        f"{config.sms.sender!r}): no message tells a holder to reply; they are sent to {form}"
    )


async def _probe(config: Config) -> int:
    """Bind once to the SMSC (``sms.sender = "smpp"``); 1 when that fails."""
    print()
    if config.sms.sender != "smpp":
        print(f"--probe: nothing to probe for sms.sender = {config.sms.sender!r} (smpp only)")
        return 0
    from bot.providers.smpp.probe import probe  # loads aiosmpplib only when asked
    from bot.providers.smpp.settings import smpp_link

    ok, what = await probe(smpp_link(config), config.smpp.bind_mode)
    print(f"SMPP probe: {'ok' if ok else 'FAILED'}: {what}")
    return 0 if ok else 1
