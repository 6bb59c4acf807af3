"""Prometheus metrics: ``GET /metrics`` (off unless ``metrics.enabled``).

- :mod:`bot.metrics.registry` — :class:`~bot.metrics.registry.Metrics`, the counters and
  histograms of one app (one per app, in its :class:`~bot.services.Services`), which
  restart at zero with the process;
- :mod:`bot.metrics.database` — gauges read from the database at scrape time (the
  outbox queue), which a restart does not touch;
- :mod:`bot.metrics.inbound` — what became of an inbound message (its outcome label);
- :mod:`bot.metrics.http` — the route, who may read it, and the middleware that times
  every request;
- :mod:`bot.metrics.sender` — the SMS sender that counts each provider answer.

The list of metrics, their labels and a scrape config are in docs/operations.md#metrics.
"""
