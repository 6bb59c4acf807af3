"""Operator accounts over their life, on fakes: created, linked to a Telegram user with a
one-time code, unlinked, revoked.

The registry is the sample one (:mod:`tests.unit.sample_registry`).
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from core import messages
from core.codes import LINK_CODE_ALPHABET, LINK_CODE_LENGTH, SecretHasher
from core.errors import (
    InvalidLinkCode,
    InvalidOperatorDetails,
    NotAnOperator,
    OperatorNotFound,
    OperatorRevoked,
    TooManyFailures,
)
from core.model import Operator
from core.operators.accounts import normalise_link_code
from tests.unit.sample_registry import KEY, KH, OTHER_USER, TC, USER, p

# --- accounts ---------------------------------------------------------------------------------


async def test_add_operator_issues_a_one_time_code_and_stores_only_its_hash(accounts, store, clock):
    account, link = await accounts.add_operator(" 王小明 ", f" {KH} ")
    assert (account.name, account.company, account.is_admin) == ("王小明", KH, False)
    assert len(link.code) == LINK_CODE_LENGTH >= 8
    assert set(link.code) <= set(LINK_CODE_ALPHABET)
    assert not set(link.code) & set("0O1I")
    assert link.expires_at == clock.now() + timedelta(hours=24)
    stored = store.operators[account.id]
    assert stored.link_code_hash == SecretHasher(KEY).link_code_hash(link.code)
    assert link.code not in repr(stored)
    assert stored.telegram_user_id is None and stored.revoked_at is None


async def test_codes_differ_between_operators(accounts):
    codes = {(await accounts.add_operator(f"op{n}", KH))[1].code for n in range(20)}
    assert len(codes) == 20


@pytest.mark.parametrize(("name", "company"), [("", KH), ("王小明", "  "), (" ", "")])
async def test_an_operator_needs_a_name_and_a_company(accounts, store, name, company):
    with pytest.raises(InvalidOperatorDetails):
        await accounts.add_operator(name, company)
    assert store.operators == {}


async def test_list_operators_oldest_first_with_revoked_ones(accounts, clock):
    first, _ = await accounts.add_operator("甲", KH)
    clock.advance(minutes=1)
    second, _ = await accounts.add_operator("乙", TC, is_admin=True)
    await accounts.revoke(first.id)
    listed = await accounts.list_operators()
    assert [a.id for a in listed] == [first.id, second.id]
    assert listed[0].is_revoked and not listed[1].is_revoked
    assert listed[1].is_admin


async def test_unknown_operator_ids_are_reported(accounts):
    with pytest.raises(OperatorNotFound) as caught:
        await accounts.new_link_code("nosuchid")
    assert "nosuchid" in messages.render_error(caught.value, messages.EN)
    with pytest.raises(OperatorNotFound):
        await accounts.revoke("nosuchid")


# --- linking ----------------------------------------------------------------------------------


async def test_a_valid_code_links_the_telegram_user(accounts, store):
    account, link = await accounts.add_operator("王小明", KH)
    operator = await accounts.link(USER, link.code)
    assert operator == Operator(account.id, "王小明", KH, is_admin=False)
    assert await accounts.operator_for(USER) == operator
    assert await accounts.operator_for(OTHER_USER) is None
    assert store.operators[account.id].link_code_hash is None  # spent


@pytest.mark.parametrize("typed", ["{c}", "{l}", " {c} ", "{a}-{b}", "{a} {b}", "{w}"])
async def test_the_code_may_be_typed_loosely(accounts, typed):
    account, link = await accounts.add_operator("王小明", KH)
    code = link.code
    wide = "".join(chr(ord(c) + 0xFEE0) for c in code)  # full-width forms
    raw = typed.format(c=code, l=code.lower(), a=code[:5], b=code[5:], w=wide)
    assert (await accounts.link(USER, raw)).id == account.id


async def test_a_code_links_once(accounts):
    _, link = await accounts.add_operator("王小明", KH)
    await accounts.link(USER, link.code)
    with pytest.raises(InvalidLinkCode):
        await accounts.link(OTHER_USER, link.code)
    assert await accounts.operator_for(OTHER_USER) is None


async def test_a_code_expires_after_24_hours(accounts, clock):
    _, first = await accounts.add_operator("甲", KH)
    _, second = await accounts.add_operator("乙", KH)
    clock.advance(hours=23, minutes=59)
    await accounts.link(USER, first.code)
    clock.advance(minutes=1)
    with pytest.raises(InvalidLinkCode):
        await accounts.link(OTHER_USER, second.code)


@pytest.mark.parametrize("code", ["ABCDEFGHJK", "not a code", "", "ABCDEFGHJKL", "0O1IABCDEF"])
async def test_unknown_and_malformed_codes_are_the_same_error(accounts, code):
    with pytest.raises(InvalidLinkCode) as caught:
        await accounts.link(USER, code)
    assert messages.render_error(caught.value).startswith("連結碼無效、已使用或已過期")


async def test_expired_reused_and_unknown_codes_give_one_message(accounts, clock):
    _, reused = await accounts.add_operator("甲", KH)
    _, expired = await accounts.add_operator("乙", KH)
    await accounts.link(USER, reused.code)
    texts = set()
    for code, advance in ((reused.code, 0), ("ABCDEFGHJK", 0), (expired.code, 25)):
        clock.advance(hours=advance)
        with pytest.raises(InvalidLinkCode) as caught:
            await accounts.link(OTHER_USER, code)
        texts.add(messages.render_error(caught.value, messages.EN))
    assert len(texts) == 1


async def test_guesses_are_limited_per_telegram_user(accounts, clock):
    _, link = await accounts.add_operator("王小明", KH)
    for _ in range(5):
        with pytest.raises(InvalidLinkCode):
            await accounts.link(USER, "ABCDEFGHJK")
    start = clock.now()
    clock.advance(minutes=10)
    with pytest.raises(TooManyFailures) as caught:
        await accounts.link(USER, link.code)  # even the right code: no oracle while cooling
    assert caught.value.retry_at == start + timedelta(hours=1)
    assert (await accounts.link(OTHER_USER, link.code)).name == "王小明"  # others unaffected


async def test_the_guess_limit_lifts_after_an_hour(accounts, clock):
    _, link = await accounts.add_operator("王小明", KH)
    for _ in range(5):
        with pytest.raises(InvalidLinkCode):
            await accounts.link(USER, "ABCDEFGHJK")
    clock.advance(hours=1, seconds=1)
    assert (await accounts.link(USER, link.code)).name == "王小明"


async def test_failures_are_recorded_under_the_link_key(accounts, store):
    with pytest.raises(InvalidLinkCode):
        await accounts.link(USER, "ABCDEFGHJK")
    assert [key for key, _ in store.failures] == [f"link:{USER}"]


async def test_a_reissued_code_replaces_the_old_one(accounts):
    account, old = await accounts.add_operator("王小明", KH)
    new = await accounts.new_link_code(account.id)
    assert new.code != old.code
    with pytest.raises(InvalidLinkCode):
        await accounts.link(USER, old.code)
    assert (await accounts.link(USER, new.code)).id == account.id


async def test_linking_an_already_linked_user_moves_them_to_the_new_account(accounts, store):
    """Decision: rebind, not refuse. The code is the newer, explicit intent."""
    first, first_code = await accounts.add_operator("甲", KH)
    second, second_code = await accounts.add_operator("乙", TC)
    await accounts.link(USER, first_code.code)
    assert (await accounts.link(USER, second_code.code)).id == second.id
    assert await accounts.operator_for(USER) == second.operator
    assert store.operators[first.id].telegram_user_id is None
    link_entry = [e for e in store.audit if e.action == "operator.link"][-1]
    assert link_entry.detail["moved_from"] == f"operator:{first.id}"


async def test_a_new_code_moves_the_account_to_a_new_telegram_user(accounts):
    account, link = await accounts.add_operator("王小明", KH)
    await accounts.link(USER, link.code)
    again = await accounts.new_link_code(account.id)
    assert await accounts.operator_for(USER) is not None  # reissuing alone unbinds nobody
    await accounts.link(OTHER_USER, again.code)
    assert await accounts.operator_for(USER) is None
    assert (await accounts.operator_for(OTHER_USER)) == account.operator


async def test_unlink(accounts):
    _, link = await accounts.add_operator("王小明", KH)
    operator = await accounts.link(USER, link.code)
    assert await accounts.unlink(USER) == operator
    assert await accounts.operator_for(USER) is None
    assert await accounts.unlink(USER) is None


# --- revoking ---------------------------------------------------------------------------------


async def test_a_revoked_operator_is_unlinked_and_cannot_act(accounts, service, store, clock):
    account, link = await accounts.add_operator("王小明", KH)
    operator = await accounts.link(USER, link.code)
    revoked = await accounts.revoke(account.id)
    assert revoked.revoked_at == clock.now() and revoked.telegram_user_id is None
    assert store.operators[account.id] == revoked
    assert await accounts.operator_for(USER) is None
    with pytest.raises(NotAnOperator):
        await service.list_passes(operator)  # a chat that asked before the revocation
    with pytest.raises(NotAnOperator):
        await service.get_pass(operator, p("KHPS113-000043"))
    with pytest.raises(NotAnOperator):
        await service.stats(operator)
    with pytest.raises(NotAnOperator):
        await service.export_rows(operator)


async def test_a_revoked_operator_cannot_link(accounts):
    account, link = await accounts.add_operator("王小明", KH)
    await accounts.revoke(account.id)
    with pytest.raises(InvalidLinkCode):
        await accounts.link(USER, link.code)
    with pytest.raises(OperatorRevoked):
        await accounts.new_link_code(account.id)


async def test_revoking_twice_keeps_the_first_time(accounts, clock):
    account, _ = await accounts.add_operator("王小明", KH)
    first = await accounts.revoke(account.id)
    clock.advance(hours=1)
    assert (await accounts.revoke(account.id)).revoked_at == first.revoked_at


# --- the code format ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("abcde fghjk", "ABCDEFGHJK"),
        ("ABCDE-FGHJK", "ABCDEFGHJK"),
        ("ＡＢＣＤＥＦＧＨＪＫ", "ABCDEFGHJK"),
        # pasted from a chat or a web page: invisible marks around and inside the code
        ("\u200eABCDE\u200bFGHJK\u2060", "ABCDEFGHJK"),
        ("\ufeffabcde-fghjk\u200f", "ABCDEFGHJK"),
        ("ABCDEFGHJ", None),
        ("ABCDEFGHJ0", None),
        ("ABCDEFGHJI", None),
        ("", None),
    ],
)
def test_normalise_link_code(raw, expected):
    assert normalise_link_code(raw) == expected
