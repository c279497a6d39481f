"""Every relative link of the README and the docs leads to a file that
exists: each figure's result file, each page it cites."""

import pathlib
import re

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent.parent
PAGES = [
    ROOT / "README.md",
    ROOT / "benchmarks" / "README.md",
    *sorted((ROOT / "docs").glob("*.md")),
    *sorted((ROOT / "benchmarks" / "results").rglob("README.md")),
]
LINK = re.compile(r"\]\(([^)\s]+)\)")


def broken_links(page):
    """The relative link targets of a Markdown `page` that name no file."""
    broken = []
    for target in LINK.findall(page.read_text()):
        if re.match(r"[a-z]+:", target) or target.startswith("#"):
            continue  # a web address or an anchor on the same page
        if not (page.parent / target.split("#")[0]).exists():
            broken.append(target)
    return broken


@pytest.mark.parametrize("page", PAGES, ids=lambda page: str(page.relative_to(ROOT)))
def test_every_relative_link_names_a_file(page):
    assert broken_links(page) == []


def test_a_link_to_a_missing_file_is_found(tmp_path):
    page = tmp_path / "page.md"
    (tmp_path / "there.md").write_text("")
    page.write_text("[a](there.md) [b](results/memory.md) [c](https://keras.io) [d](#top)")
    assert broken_links(page) == ["results/memory.md"]
