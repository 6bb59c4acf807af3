"""Which exceptions mean "the database could not be reached or written just now".

A webhook that meets one of these answers 503, so the provider delivers the message
again later: the turn's transaction rolled back, and the de-duplication (Twilio's
MessageSid, Telegram's update id) makes the retry safe. Any other exception is a bug
that a retry would only repeat.
"""

from __future__ import annotations

from sqlalchemy.exc import SQLAlchemyError


def is_storage_failure(error: BaseException | None) -> bool:
    """True for SQLAlchemy's errors (a locked SQLite file, a dropped PostgreSQL table, a
    pool timeout: all wrapped by SQLAlchemy) and for the socket errors and timeouts a
    driver raises unwrapped while connecting (asyncpg's refused connection)."""
    return isinstance(error, SQLAlchemyError | OSError | TimeoutError)
