"""Operator views as Telegram messages: a page of passes with ◀ / ▶ buttons, one pass,
the counts, and the callback data of the operator's buttons.

Only presentation lives here: what is masked and what an operator may see was decided
by :mod:`core.operators.views`; this module lays it out as plain text (no parse mode, so
a name can never break the formatting) in the operator's language.

Callback data starts with ``op:`` (the holder's is ``c:``) and stays under Telegram's
64 bytes: ``op:p:<status>:<page>`` for a page, ``op:a:<pass>`` for a "發送驗證碼" button
(it asks the /send question), ``op:s:<handle>`` for a confirmed send (the question is
kept on the server: :mod:`core.operators.questions`; no phone is ever in button data),
``op:x`` for a cancelled one.
"""

from __future__ import annotations

import re

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from core import messages
from core.errors import InvalidInput
from core.model import Operator, Status
from core.operators.views import Page, PassView, Stats, status_text
from core.values import PassNumber

PREFIX = "op:"
PAGE_PATTERN = r"^op:p:"
SEND_PATTERN = r"^op:[sx]"
ASK_PATTERN = r"^op:a:"
CANCEL_DATA = "op:x"
_ALL = "all"
_BLANK = "—"


def scope(operator: Operator, language: str) -> str:
    """Whose passes these are: the company, or every company for an admin."""
    return messages.text("operator.scope_all", language) if operator.is_admin else operator.company


def status_label(status: Status, language: str) -> str:
    return messages.text(f"status.{status.value}", language)


# --- a page of passes ----------------------------------------------------------------------


def page_text(page: Page, whose: str, language: str) -> str:
    if page.status is None:
        title = messages.text("operator.list_title", language, scope=whose, total=page.total)
    else:
        title = messages.text(
            "operator.list_title_status",
            language,
            scope=whose,
            status=status_label(page.status, language),
            total=page.total,
        )
    if not page.rows:
        return f"{title}\n\n{messages.text('operator.list_empty', language)}"
    rows = [
        messages.text(
            "operator.list_row",
            language,
            pass_no=row.pass_no.value,
            status=status_text(row.status, row.opted_out, language),
            id_no=row.id_no,
            name=row.name or _BLANK,
            phone=row.phone or _BLANK,
            verified_phone=row.verified_phone or _BLANK,
        )
        for row in page.rows
    ]
    footer = messages.text("operator.page", language, page=page.page + 1, pages=page.pages)
    return "\n\n".join([title, *rows, footer])


def page_markup(page: Page, language: str) -> InlineKeyboardMarkup | None:
    """A "發送驗證碼 <pass>" button under the page for each row, then ◀ / ▶."""
    rows = [
        [
            InlineKeyboardButton(
                messages.text("operator.send_button_row", language, pass_no=row.pass_no.value),
                callback_data=ask_data(row.pass_no),
            )
        ]
        for row in page.rows
        if row.phone  # R6: no phone on file, no send button
    ]
    turn = []
    if page.has_prev:
        turn.append(InlineKeyboardButton("◀", callback_data=page_data(page.status, page.page - 1)))
    if page.has_next:
        turn.append(InlineKeyboardButton("▶", callback_data=page_data(page.status, page.page + 1)))
    if turn:
        rows.append(turn)
    return InlineKeyboardMarkup(rows) if rows else None


def page_data(status: Status | None, page: int) -> str:
    return f"{PREFIX}p:{status.value if status else _ALL}:{page}"


def parse_page_data(data: str) -> tuple[Status | None, int] | None:
    """``op:p:unverified:1`` → (UNVERIFIED, 1); ``None`` for anything else."""
    parts = data.split(":")
    if len(parts) != 4 or parts[:2] != ["op", "p"] or not parts[3].isdigit():
        return None
    if parts[2] == _ALL:
        return None, int(parts[3])
    try:
        return Status(parts[2]), int(parts[3])
    except ValueError:
        return None


# --- one pass, and the counts ------------------------------------------------------------------


def _field(key: str, value: str, language: str) -> str:
    label = messages.text(f"operator.col.{key}", language)
    return messages.text("operator.field", language, label=label, value=value or _BLANK)


def pass_text(view: PassView, language: str) -> str:
    lines = [
        _field("pass_no", view.pass_no.value, language),
        _field("id_no", view.id_no, language),
        _field("name", view.name, language),
        _field("phone", view.phone, language),
        _field("verified_phone", view.verified_phone, language),
        _field("valid_from", view.valid_from.strftime("%Y/%m/%d"), language),
        _field("valid_to", view.valid_to.strftime("%Y/%m/%d"), language),
        _field("status", status_text(view.status, view.opted_out, language), language),
    ]
    if view.delivery is not None:  # the last verification SMS did not arrive
        label = messages.text("delivery.label", language)
        value = view.delivery.describe(language)
        lines.append(messages.text("operator.field", language, label=label, value=value))
    if view.company is not None:
        lines.append(_field("company", view.company, language))
    if not view.owned:
        lines.append(messages.text("operator.not_owned_note", language))
    if view.phone:
        hint = messages.text("operator.send_button_hint", language, pass_no=view.pass_no.value)
    else:  # R6: no phone, no code; say where the phone comes from instead of offering a send
        hint = messages.text("operator.no_phone", language)
    return "\n".join(lines) + "\n\n" + hint


def pass_markup(view: PassView, language: str) -> InlineKeyboardMarkup | None:
    """The 發送驗證碼 button under ``/pass``: it asks the same question as ``/send PASS``.
    It carries the pass number the operator typed exactly (or owns): R10 holds. None
    for a pass with no phone on file: a button that can only answer "no phone" is a trap."""
    if not view.phone:
        return None
    label = messages.text("operator.send_button", language)
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(label, callback_data=ask_data(view.pass_no))]]
    )


def ask_data(pass_no: PassNumber) -> str:
    return f"{PREFIX}a:{pass_no.value}"


def parse_ask_data(data: str) -> PassNumber | None:
    """``op:a:KHPS113-000043`` → the pass number; ``None`` for anything else."""
    parts = data.split(":")
    if len(parts) != 3 or parts[:2] != ["op", "a"]:
        return None
    try:
        return PassNumber.parse(parts[2])
    except InvalidInput:
        return None


def stats_text(stats: Stats, whose: str, language: str) -> str:
    def line(label: str, value: int) -> str:
        return messages.text("operator.field", language, label=label, value=value)

    lines = [messages.text("operator.stats_title", language, scope=whose)]
    lines += [line(status_label(s, language), stats.counts.get(s, 0)) for s in Status]
    lines.append(line(messages.text("operator.total", language), stats.total))
    lines.append(line(messages.text("operator.open_codes", language), stats.open_codes))
    lines.append(line(messages.text("operator.opted_out", language), stats.opted_out))
    return "\n".join(lines)


# --- the /send question ------------------------------------------------------------------------

#: ``op:s:`` and a handle of :meth:`core.codes.SystemSecrets.handle` (URL-safe base64).
_SEND_DATA = re.compile(r"op:s:([A-Za-z0-9_-]{16,43})")


def send_markup(handle: str, language: str) -> InlineKeyboardMarkup:
    """確定 carries only the question's handle (:mod:`core.operators.questions`)."""
    data = f"{PREFIX}s:{handle}"
    confirm = InlineKeyboardButton(messages.text("option.confirm", language), callback_data=data)
    cancel = InlineKeyboardButton(
        messages.text("option.cancel", language), callback_data=CANCEL_DATA
    )
    return InlineKeyboardMarkup([[confirm, cancel]])


def parse_send_data(data: str) -> str | None:
    """``op:s:<handle>`` → the handle; ``None`` for anything else."""
    match = _SEND_DATA.fullmatch(data)
    return match.group(1) if match else None
