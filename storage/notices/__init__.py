"""Notices in SQL: the repository behind :mod:`core.notices.records`, and the queue of
chat messages (notices, digests) that the delivery loop drains.
"""

__all__ = ["queue", "repository"]
