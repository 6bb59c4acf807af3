"""R7 in SQL: the same derivation as :func:`core.status.derive_status`, as a CASE.

Listing "pending passes of company X" must filter and page in the database, not in
Python, so the rule is written twice; ``tests/integration`` checks the two agree for
all three states, including a deleted person.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, case

from core.model import Status
from storage.tables import passes, persons


def status_case() -> ColumnElement[str]:
    """Status of a row of ``passes LEFT JOIN persons``.

    ``persons.phone`` is NULL when the person has no phone or no record at all; then
    ``verified_phone = NULL`` is not true and the ELSE branch gives pending, exactly
    as ``derive_status(None, verified)`` does.
    """
    return case(
        (passes.c.verified_phone.is_(None), Status.UNVERIFIED.value),
        (passes.c.verified_phone == persons.c.phone, Status.VERIFIED.value),
        else_=Status.PENDING.value,
    )
