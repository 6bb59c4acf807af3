"""Notices in ``portpass serve``: the Telegram messages of notices and the operators'
daily digest, sent by background tasks (the SMS go through the ordinary outbox)."""
