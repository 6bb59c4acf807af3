"""The README's tour and the SMS samples in docs/ are what the code says and sends.

The tour's chat transcripts are replayed, line for line, against the app (the demo
registry, ``portpass chat``'s own loop): every reply must be the one printed, and the
SMS printed must be the one sent (the code and link token differ per run, so those are
compared as shapes). The notices the tour shows are the SMS the app sends for
``storage/demo/notices.csv``; the verification SMS in docs/channels.md is
``portpass check-config``'s rendering. So when a text in the catalogues changes, the
documentation changes with it (it once showed a verification SMS that was not the one
sent, and said a used link answers 410).
"""

from __future__ import annotations

import io
import re
from pathlib import Path
from urllib.parse import urlsplit

from bot.cli.chat import run_chat, target_from
from bot.cli.check_config import sms_lines
from bot.config import Config, load_config
from core.notices.csv_file import read_event_rows
from core.notices.records import Channel, Source
from storage.registry.importer import DEMO_REGISTRY
from tests.e2e.cli.test_chat_cli import Step, code_from, fast, scripted, server_url
from tests.e2e.conftest import AppClient, sent_sms, services_of

ROOT = Path(__file__).resolve().parents[3]
README = ROOT / "README.md"
CHANNELS = ROOT / "docs" / "channels.md"
NOTICES_CSV = DEMO_REGISTRY.parent / "notices.csv"
PHONE = "0960123411"

_LINK = re.compile(r"https?://[^/\s]+/v/[A-Za-z0-9_-]+")
_CODE_IN_SMS = re.compile(r"驗證碼(\d{6})")
_SMS_LAST4 = re.compile(r"末四碼(\d{4})")


def blocks_after(marker: str, text: str) -> list[list[str]]:
    """The fenced blocks that follow each ``<!-- marker`` comment, as lists of lines."""
    found = []
    lines = text.splitlines()
    for n, line in enumerate(lines):
        if line.startswith(f"<!-- {marker}"):
            assert lines[n + 1].startswith("```"), f"{marker} at line {n + 1}: no block after it"
            end = next(m for m in range(n + 2, len(lines)) if lines[m].startswith("```"))
            found.append(lines[n + 2 : end])
    assert found, f"no {marker} block"
    return found


def is_output(line: str) -> bool:
    return line.startswith(("< ", "  ", "[SMS to ", "Texting ", "$ "))


def shape(line: str) -> str:
    """A line with what differs per run (the code, the link's host and token) blanked."""
    return _CODE_IN_SMS.sub("驗證碼<code>", _LINK.sub("<link>", line))


def replies(printed: list[str]) -> list[str]:
    return [line for line in printed if line.startswith(("< ", "  "))]


def sms(printed: list[str]) -> list[str]:
    return [shape(line) for line in printed if line.startswith("[SMS to ")]


async def replay(client: AppClient, config: Config, block: list[str]) -> list[str]:
    """Types the block's input lines into ``portpass chat``; a code typed after an SMS
    is the code of the SMS this run sent, for the same pass."""
    out = io.StringIO()
    steps: list[Step] = []
    last4 = None
    for line in block:
        if (found := _SMS_LAST4.search(line)) and line.startswith("[SMS to "):
            last4 = found[1]
        elif not is_output(line):
            code_typed = re.fullmatch(r"\d{6}", line) and last4 is not None
            steps.append(code_from(out, last4) if code_typed else line)
    target = fast(target_from(config, PHONE, server_url(client)))
    await run_chat(target, scripted(*steps), out)
    return out.getvalue().splitlines()


async def test_the_tour_answers_and_sends_what_the_readme_shows(
    client: AppClient, config: Config
) -> None:
    text = README.read_text(encoding="utf-8")
    links = []
    for block in blocks_after("tour-chat", text):
        printed = await replay(client, config, block)
        links += [_LINK.findall(line)[0] for line in printed if line.startswith("[SMS to ")]
        assert replies(printed) == replies(block)
        assert sms(printed) == sms(block)
        shown = [line for line in block if line.startswith("Texting ")]
        assert [shape(re.sub(r"http://\S+ ", "<url> ", s)) for s in shown] == [
            re.sub(r"https?://\S+ ", "<url> ", s) for s in printed if s.startswith("Texting ")
        ][: len(shown)]

    # Step 2: the link page. The unused link shows its button; the used one (its code was
    # typed in step 1) is a 200 page that says it is done, not an error.
    used, unused = (urlsplit(link).path for link in links)
    page = await client.get(unused)
    assert page.status == 200 and "確認驗證" in await page.text() and "「確認驗證」" in text
    page = await client.get(used)
    assert page.status == 200 and "已完成驗證" in await page.text() and "「已完成驗證」" in text

    # Step 6: the sample notices file, imported as `portpass notices import` does.
    services = services_of(client)
    with NOTICES_CSV.open(encoding="utf-8") as handle:
        rows = read_event_rows(handle)
    await services.notices.receive(
        rows.items, source=Source.CSV, actor="cli", channel=Channel.CLI, positions=rows.lines
    )
    name = services.config.texts_zh_tw.sender_name  # sent_sms strips it; the docs show it
    sent = [name + body for body in await sent_sms(services, "+886960123411")]
    notices = [body for body in sent if "港區通行證末四碼" in body]
    assert notices == blocks_after("tour-notices", text)[0]


def test_the_verification_sms_in_the_docs_is_the_one_sent() -> None:
    config = load_config(None, {"PORTPASS_SERVER_PUBLIC_BASE_URL": "https://pp.twport.tw"})
    rendered = sms_lines(config)
    block = blocks_after("rendered from the code", CHANNELS.read_text(encoding="utf-8"))[0]
    shown = [line for line in block if line.startswith("  ")]
    assert shown and all(line in rendered for line in shown), "\n".join(rendered)


def test_the_readme_runs_portpass_one_way() -> None:
    """After ``make run`` only ``.venv/bin/portpass`` exists: no bare ``portpass`` command
    line in a code block of the README or docs/."""
    bare = []
    for path in [README, *sorted((ROOT / "docs").glob("*.md"))]:
        fenced = False
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if line.startswith("```"):
                fenced = not fenced
            elif fenced and re.match(r"(\$ |[A-Z_]+=\S+ )*portpass (?![\w-]+:)", line.lstrip()):
                bare.append(f"{path.name}:{number}: {line}")
    assert bare == []
