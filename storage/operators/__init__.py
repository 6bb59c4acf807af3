"""Operators in SQL: their accounts and link codes (the repository behind
:mod:`core.operators.accounts`), and the pending ``/send`` questions whose buttons carry a
server-side handle instead of a phone.
"""

__all__ = ["repository", "send_questions"]
