"""What a notice says: the holder's SMS and Telegram message, and the operators' lines
and daily digest. The words are in :mod:`core.messages`; this module fills them in.

The SMS is one UCS-2 segment (70 characters) for every kind: the last four digits of
the pass number (as the verification SMS shows them), what happened, the date and whom
to contact. The contact line is configured (``notices.contact``), so
:func:`sms_lengths` lets the configuration check refuse one that would split a notice.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from core import messages
from core.clock import TAIPEI
from core.masking import mask_pass
from core.notices.events import NoticeEvent, NoticeKind
from core.notices.records import Notice
from core.verification.sms_text import Segments, segments
from core.verification.wording import SmsWording

#: A date far enough to give the longest text (two-digit month and day).
_LONGEST_DAY = date(2026, 12, 31)
#: Lines a daily digest lists before it says how many more there are (Telegram's
#: message limit is 4,096 characters).
DIGEST_LINES = 40


@dataclass(frozen=True, slots=True)
class NoticeWording:
    """Whom to contact, as the holder reads it in each language: the English line for
    every language but Chinese (Vietnamese and Indonesian readers read Latin script);
    and the SMS's words per language, as configured."""

    contact: str
    contact_en: str
    sms: SmsWording = field(default_factory=SmsWording)

    def contact_in(self, language: str) -> str:
        return self.contact if language == messages.ZH else self.contact_en


def notice_sms(event: NoticeEvent, wording: NoticeWording, language: str = messages.ZH) -> str:
    """The holder's SMS in ``language`` (the one their phone last used), signed."""
    return _sms(event.kind, event.pass_no.last4, event.day, wording, language)


def _sms(kind: NoticeKind, last4: str, day: date, wording: NoticeWording, language: str) -> str:
    contact = wording.contact_in(language)
    return wording.sms.notice(kind.value, language, last4=last4, day=day, contact=contact)


def sms_lengths(wording: NoticeWording, language: str = messages.ZH) -> dict[NoticeKind, Segments]:
    """Every kind's SMS in ``language``, at its longest and signed as it is sent: for
    the configuration check."""
    return {
        kind: segments(_sms(kind, "0000", _LONGEST_DAY, wording, language)) for kind in NoticeKind
    }


def kind_text(kind: NoticeKind, language: str = messages.ZH) -> str:
    return messages.text(f"notice.kind.{kind.value}", language)


def telegram_notice(event: NoticeEvent, wording: NoticeWording, language: str) -> str:
    """The message to a chat that verified the pass: the pass masked as in the SMS."""
    return messages.text(
        "notice.telegram",
        language,
        pass_no=mask_pass(event.pass_no),
        what=kind_text(event.kind, language),
        date=event.day,
        contact=wording.contact_in(language),
    )


def state_text(notice: Notice, language: str = messages.ZH) -> str:
    """What became of the notice: the SMS's state, or why nobody could be texted."""
    if notice.reason is not None:
        reason = messages.text(f"notice.reason.{notice.reason.value}", language)
        state = messages.text("notice.state.unreachable", language, reason=reason)
    else:
        state = messages.text(f"notice.state.{sms_state_key(notice.sms_state)}", language)
    if notice.telegram_chats:
        state += "；" if language == messages.ZH else "; "
        state += messages.text("notice.state.telegram", language)
    return state


def sms_state_key(outbox_state: str | None) -> str:
    """The outbox's states as operators read them."""
    if outbox_state in ("sent",):
        return "sent"
    if outbox_state in ("delivered",):
        return "delivered"
    if outbox_state in ("failed", "undelivered"):
        return "failed"
    return "queued"


def notice_line(notice: Notice, language: str, *, with_company: bool) -> str:
    """One notice in ``/notices`` and the digest: day, pass, what happened, its fate."""
    params = {
        "date": notice.occurred_at.astimezone(TAIPEI).date(),
        "pass_no": notice.pass_no.value,
        "what": kind_text(notice.kind, language),
        "state": state_text(notice, language),
        "company": notice.company,
    }
    key = "notice.line_company" if with_company else "notice.line"
    return messages.text(key, language, **params)


def list_text(
    notices: Sequence[Notice],
    total: int,
    *,
    scope: str,
    days: int,
    unreachable_only: bool,
    with_company: bool,
    language: str,
) -> str:
    """``/notices``: a title with the count, then the newest notices."""
    key = "notice.list_title_unreachable" if unreachable_only else "notice.list_title"
    lines = [messages.text(key, language, scope=scope, days=days, count=total)]
    if not notices:
        lines.append(messages.text("notice.list_empty", language))
    lines += [notice_line(n, language, with_company=with_company) for n in notices]
    if total > len(notices):
        lines.append(messages.text("notice.list_more", language, shown=len(notices)))
    return "\n".join(lines)


def digest_text(
    notices: Sequence[Notice],
    *,
    day: date,
    since: datetime,
    until: datetime,
    scope: str,
    with_company: bool,
    language: str,
    max_lines: int = DIGEST_LINES,
) -> str:
    """The operators' daily digest: counts, then the unreachable notices (the ones an
    operator can act on: help the holder verify), then the texted ones."""
    unreachable = [n for n in notices if not n.reached]
    texted = [n for n in notices if n.reached]
    lines = [
        messages.text("notice.digest_title", language, day=day, scope=scope),
        messages.text(
            "notice.digest_counts",
            language,
            since=since,
            until=until,
            total=len(notices),
            texted=len(texted),
            unreachable=len(unreachable),
        ),
    ]
    budget = max_lines
    for heading, group in (
        ("notice.digest_unreachable", unreachable),
        ("notice.digest_texted", texted),
    ):
        if not group or budget <= 0:
            continue
        lines += ["", messages.text(heading, language)]
        shown = group[:budget]
        lines += [notice_line(n, language, with_company=with_company) for n in shown]
        budget -= len(shown)
    left = len(notices) - (max_lines - max(budget, 0))
    if left > 0:
        lines += ["", messages.text("notice.digest_more", language, count=left)]
    return "\n".join(lines)
