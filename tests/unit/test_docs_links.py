"""Links between the repository's own documents lead somewhere: every relative link in
README.md and docs/*.md names a file that exists and, with ``#anchor``, a heading of it;
every ``docs/NAME.md#anchor`` a code comment or docstring cites exists too.

Code cites sections of docs/design.md and the others by anchor (a reason that lives in
one place); renaming a heading would silently orphan those citations.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
CODE_DIRS = ("core", "storage", "bot", "fakes", "benchmarks", "tests", "deploy")
_LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
_CITED = re.compile(r"docs/([\w-]+\.md)(#[\w-]+)?")
_FENCE = re.compile(r"^(```|~~~)")


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to dashes."""
    text = heading.strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    found: set[str] = set()
    seen: dict[str, int] = {}
    fenced = False
    for line in path.read_text(encoding="utf-8").splitlines():
        if _FENCE.match(line):
            fenced = not fenced
        if fenced or not line.startswith("#"):
            continue
        base = slug(line.lstrip("#"))
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if count == 0 else f"{base}-{count}")
    return found


def broken_links(document: Path) -> list[str]:
    problems = []
    text = document.read_text(encoding="utf-8")
    for target in _LINK.findall(text):
        if re.match(r"[a-z]+:", target):  # http:, https:, mailto:
            continue
        file_part, _, anchor = target.partition("#")
        path = (document.parent / file_part).resolve() if file_part else document
        name = f"{document.name}: ({target})"
        if not path.exists():
            problems.append(f"{name}: no such file")
        elif anchor and path.suffix == ".md" and anchor not in anchors(path):
            problems.append(f"{name}: no heading with that anchor")
    return problems


def cited_problems(path: Path) -> list[str]:
    problems = []
    text = path.read_text(encoding="utf-8", errors="replace")
    for name, anchor in _CITED.findall(text):
        target = ROOT / "docs" / name
        where = f"{path.relative_to(ROOT)}: docs/{name}{anchor}"
        if not target.exists():
            problems.append(f"{where}: no such document")
        elif anchor and anchor[1:] not in anchors(target):
            problems.append(f"{where}: no such section")
    return problems


def test_links_between_documents_lead_somewhere() -> None:
    assert [p for document in DOCUMENTS for p in broken_links(document)] == []


def test_sections_cited_in_code_exist() -> None:
    problems = []
    files = [ROOT / name for name in ("config.example.toml", "pyproject.toml", "Makefile")]
    for folder in CODE_DIRS:
        files += sorted((ROOT / folder).rglob("*"))
    for path in files:
        if path == Path(__file__) or not path.is_file():
            continue
        if path.suffix in (".py", ".html", ".toml", ".conf", ".service", ".ini", ""):
            problems += cited_problems(path)
    assert problems == []


def test_the_anchors_are_githubs() -> None:
    assert slug("R2 One code per combination") == "r2-one-code-per-combination"
    assert slug("R10 Operators see their own company's passes") == (
        "r10-operators-see-their-own-companys-passes"
    )
    assert slug("Notices (`[notices]`)") == "notices-notices"
    assert slug("SMS (Twilio)") == "sms-twilio"


def test_a_missing_file_and_a_missing_heading_are_found(tmp_path: Path) -> None:
    (tmp_path / "other.md").write_text("# Other\n\n## The part\n\n```\n# not a heading\n```\n")
    doc = tmp_path / "doc.md"
    doc.write_text(
        "[ok](other.md#the-part) [gone](gone.md) [typo](other.md#the-prat) "
        "[code](other.md#not-a-heading) [web](https://example.com/#x)\n"
    )
    assert broken_links(doc) == [
        "doc.md: (gone.md): no such file",
        "doc.md: (other.md#the-prat): no heading with that anchor",
        "doc.md: (other.md#not-a-heading): no heading with that anchor",
    ]
