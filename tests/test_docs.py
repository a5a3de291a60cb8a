"""The user docs: a short README, references that match the code, links that lead somewhere."""

import re
from pathlib import Path

from seq2seq.cli import reference

ROOT = Path(__file__).parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), ROOT / "bench" / "results" / "performance.md"]


def test_the_readme_reads_in_ten_minutes():
    assert len((ROOT / "README.md").read_text(encoding="utf-8").splitlines()) < 400


def test_the_config_reference_is_what_the_dataclasses_say():
    """Rewrite it with `python -m seq2seq.cli.reference --write` after changing a config key."""
    page = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    assert reference.MARKER in page
    assert page.split(reference.MARKER, 1)[1].strip() == reference.reference().strip()


def test_every_config_key_has_a_meaning_default_and_type():
    for row in reference.reference().splitlines():
        if row.startswith("| `"):
            key, kind, default, _, meaning = (cell.strip() for cell in row.strip("|").split(" | "))
            assert kind and default and meaning, f"{key} is not documented in its dataclass"


def test_every_relative_link_of_the_user_docs_leads_to_a_file_and_a_heading():
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            if re.match(r"[a-z]+:", target):
                continue  # http(s), mailto
            path, _, anchor = target.partition("#")
            linked = (page.parent / path).resolve() if path else page
            assert linked.exists(), f"{page.relative_to(ROOT)} links to {target}: no such file"
            if anchor and linked.suffix == ".md":
                headings = {
                    re.sub(r"[^\w\- ]", "", line.lstrip("#").strip().lower()).replace(" ", "-")
                    for line in linked.read_text(encoding="utf-8").splitlines()
                    if line.startswith("#")
                }
                assert anchor in headings, f"{page.relative_to(ROOT)} links to {target}: no such heading"


def test_user_docs_name_no_issue_numbers_or_sessions():
    for page in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        text = page.read_text(encoding="utf-8")
        assert not re.search(r"\b[Ii]ssue \d+|\bsession\b", text), page.name
