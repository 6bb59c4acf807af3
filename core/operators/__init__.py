"""Operators (業者申請人): their accounts and how a chat gets linked, what they may read
of passes (their own company's; another's only by exact number), how they look, and
their pending ``/send`` questions (kept on the server behind their buttons' handles).

``audit`` (how operator actions are named in the audit trail) stays inside the feature.
"""

__all__ = ["accounts", "lifecycle", "passes", "questions", "views"]
