"""Conversations in SQL: the state of each participant's conversation, and the log of
inbound messages that de-duplicates provider retries and re-sent updates.
"""

__all__ = ["inbound", "repository"]
