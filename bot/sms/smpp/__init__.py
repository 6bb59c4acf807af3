"""The SMPP channel: what an SMSC delivers to us (receipts, holders' messages) and the
link's state, for the app with ``sms.sender = "smpp"``. Sending is the outbox worker's,
through :class:`bot.providers.smpp.sender.SmppSender`. See docs/smpp.md."""
