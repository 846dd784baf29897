"""The repository explains itself: every relative link in its Markdown resolves to a file in the repository, and
no tracked file points at design notes that live outside it (a user who clones the repository could not read them).
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
#: Markdown links: [text](target), the target without a title.
_LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
#: Names of notes that were never part of the repository.
_OUTSIDE = re.compile(r"DESIGN\.md|REGULATIONS\.md|\.\./shared/")


def _tracked(suffixes: tuple[str, ...] | None = None) -> list[Path]:
    listed = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True).stdout
    paths = [REPO / name for name in listed.splitlines()]
    return [p for p in paths if p.is_file() and (suffixes is None or p.suffix in suffixes)]


def test_every_relative_link_in_the_docs_resolves() -> None:
    broken = []
    for md in _tracked((".md",)):
        for target in _LINK.findall(md.read_text(encoding="utf-8")):
            if re.match(r"^[a-z]+:", target) or target.startswith("#"):
                continue  # a URL or an anchor on the same page
            path = (md.parent / target.split("#", 1)[0]).resolve()
            if not path.exists() or REPO not in path.parents:
                broken.append(f"{md.relative_to(REPO)}: {target}")
    assert broken == []


def test_no_tracked_file_points_outside_the_repository() -> None:
    here = Path(__file__).resolve()
    pointing = [
        str(p.relative_to(REPO))
        for p in _tracked()
        if p != here and _OUTSIDE.search(p.read_text(encoding="utf-8", errors="replace"))
    ]
    assert pointing == []


def test_the_docs_index_lists_every_page() -> None:
    index = (REPO / "docs" / "README.md").read_text(encoding="utf-8")
    pages = {p.name for p in (REPO / "docs").glob("*.md")} - {"README.md"}
    assert pages and all(f"({page})" in index for page in pages)
