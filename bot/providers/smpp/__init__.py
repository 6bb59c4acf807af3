"""SMPP 3.4: the two-way SMS provider (replies and delivery receipts), beside Twilio.

PDUs are built and read with aiosmpplib's codec (:mod:`bot.providers.smpp.codec`); the
session (:mod:`bot.providers.smpp.session`) is ours, because aiosmpplib's ``ESME``
queues submits through a broker and reports outcomes to a hook, while the outbox
worker needs each send's answer (sent, retry, fail) back from the call that sent it.
See docs/smpp.md.
"""
