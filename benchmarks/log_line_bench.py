"""What masking personal data costs each log line (docs/security.md, "Personal data in
logs"):

    .venv/bin/python benchmarks/log_line_bench.py [--lines 20000] [--repeat 7]

Side by side, ``--repeat`` times, interleaved: one typical line of ours (an inbound SMS,
phone already masked, with its request id) through the text formatter as it was before
(secrets only: :class:`Secrets`) and as it is now (secrets, then ID numbers and phones
masked), and a line full of personal data through the current one. Prints each run, the
medians in microseconds per line, and the ratio now / before.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import time

from bot.logs import _PATTERNS, MASK, RedactingFormatter, log_context


class Secrets(RedactingFormatter):
    """The formatter before personal data was masked: secrets only."""

    def redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, MASK)
        text = _PATTERNS[0].sub(MASK, text)
        text = _PATTERNS[1].sub(MASK, text)
        return _PATTERNS[2].sub(lambda m: f"{m.group(1)}:{MASK}", text)


def record(message: str, *args: object) -> logging.LogRecord:
    return logging.getLogger("bot.sms.inbound").makeRecord(
        "bot.sms.inbound", logging.INFO, __file__, 1, message, args, None
    )


def per_line_us(formatter: logging.Formatter, item: logging.LogRecord, lines: int) -> float:
    started = time.perf_counter()
    for _ in range(lines):
        formatter.format(item)
    return (time.perf_counter() - started) / lines * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=7)
    options = parser.parse_args()
    secrets = ["s3cr3t-webhook-value", "123456:AAH-bot-token"]
    typical = record("inbound SMS %s from %s: %d replies", "SM0123abcd", "0960-***-411", 1)
    personal = record(
        "身分證號 %s 的檢查碼不符 %s %s", "R123456780", "+886960123411", "0912-345-678"
    )
    runs: dict[str, list[float]] = {"before": [], "now": [], "now, personal data": []}
    with log_context(request_id="lb-7f3a.42"):
        for n in range(options.repeat):
            runs["before"].append(per_line_us(Secrets(secrets), typical, options.lines))
            runs["now"].append(per_line_us(RedactingFormatter(secrets), typical, options.lines))
            runs["now, personal data"].append(
                per_line_us(RedactingFormatter(secrets), personal, options.lines)
            )
            print(f"run {n + 1}: " + ", ".join(f"{k} {v[-1]:.2f} us" for k, v in runs.items()))
    medians = {k: statistics.median(v) for k, v in runs.items()}
    print("median: " + ", ".join(f"{k} {v:.2f} us/line" for k, v in medians.items()))
    print(f"ratio now / before: {medians['now'] / medians['before']:.2f}")


if __name__ == "__main__":
    main()
