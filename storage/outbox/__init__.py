"""The SMS outbox: rows written in the same transaction as the change that caused them,
claimed with a lease by the worker that sends them, with sealed bodies, what became of
the SMS that did not arrive, and the send rate every serve process books from.
``opt_outs`` (the queue's view of opted-out phones) stays inside.
"""

__all__ = ["failures", "queue", "sealing", "send_rate"]
