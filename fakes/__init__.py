"""Local stand-ins for what the bot talks to, shared by the tests and the benchmarks.

- :mod:`fakes.twilio_api` and :mod:`fakes.telegram_api`: HTTP servers that speak Twilio's
  REST API and the Telegram Bot API, so the official clients run unchanged against them;
- :mod:`fakes.telegram_updates`: updates as Telegram sends them;
- :mod:`fakes.ports`: hand-written fakes of core's ports (an in-memory unit of work);
- :mod:`fakes.clock`: a clock the test moves by hand.

Not shipped in the package: they exist to be driven by tests and benchmarks.
"""
