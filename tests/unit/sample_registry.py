"""The sample registry (``storage/demo/passes.csv``) in a fake store, for the operator
use cases' unit tests: 19 passes of 高雄港測試業者 and 2 of 臺中港測試公司, so an operator
has two pages of ten and an admin three."""

from __future__ import annotations

import csv
from datetime import date, datetime
from pathlib import Path

from core.model import Operator
from core.operators.lifecycle import OperatorLifecycle
from core.values import PassNumber
from fakes.ports import Store

SAMPLE = Path(__file__).resolve().parents[2] / "storage" / "demo" / "passes.csv"
KH, TC = "高雄港測試業者", "臺中港測試公司"


def load_sample(store: Store) -> None:
    with SAMPLE.open(encoding="utf-8") as file:
        for row in csv.DictReader(file):
            store.add_pass(
                row["pass_no"],
                row["id_no"],
                row["name"],
                row["phone"] or None,
                company=row["company"],
                verified_phone=row["verified_phone"] or None,
                valid_from=_date(row["valid_from"]),
                valid_to=_date(row["valid_to"]),
            )


def _date(value: str) -> date:
    return datetime.strptime(value, "%Y/%m/%d").date()


KEY = b"k" * 32
USER, OTHER_USER = "700000001", "700000002"


async def linked(
    accounts: OperatorLifecycle, company: str = KH, *, admin: bool = False
) -> Operator:
    """An operator of ``company`` whose Telegram user is linked."""
    account, code = await accounts.add_operator("王小明", company, is_admin=admin)
    return await accounts.link(f"tg-{account.id}", code.code)


def p(value: str) -> PassNumber:
    return PassNumber.parse(value)
