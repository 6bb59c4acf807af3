"""A newcomer who runs a benchmark as its docstring shows, with no options, gets a run
of about a minute on a scratch database: ``campaign_bench.py`` used to run 100,000
passes three times at three rates (many minutes), and the scale-out benchmark's
default server URL named the ``postgres`` maintenance database. The published figures'
options are in docs/benchmarks.md. (Run once each with these defaults: the times are in
docs/benchmarks.md, "Quick runs".)"""

from __future__ import annotations

from sqlalchemy.engine import make_url

from benchmarks import campaign_bench, verify_bench


def test_campaign_bench_defaults_are_a_quick_run() -> None:
    args = campaign_bench.options([])
    rates = [float(r) for r in args.rates.split(",")]
    assert args.passes <= 10_000 and args.runs == 1 and rates == [100.0] and args.window <= 5


def test_scaleout_defaults_are_a_quick_run_off_the_postgres_database(monkeypatch) -> None:
    monkeypatch.delenv("PORTPASS_TEST_POSTGRES_URL", raising=False)
    args = verify_bench.options(["--database", "postgres"])
    holders = (args.requests + args.rate * args.seconds) * len(args.processes.split(","))
    assert holders <= 3000
    assert make_url(args.postgres_url).database != "postgres"


def test_the_sqlite_verify_bench_keeps_its_published_load() -> None:
    args = verify_bench.options([])
    assert (args.requests, args.rate, args.seconds) == (3000, 200.0, 10.0)
