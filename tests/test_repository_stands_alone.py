"""The repository stands alone: no tracked file points at a document or a path that only exists on
some developer's machine, and every ``docs/*.md`` a file names (with its section, when it names
one) is in the repository.

Why: the code's comments once cited design notes kept outside the repository, which a user of the
package does not have; docs/ holds them now. The patterns below are written as regular
expressions so that this file does not match itself.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: binary data (photographs) shipped with the benchmark: not text, never a reference
DATA_FOLDERS = ("firmware/focusd/bench/stacks/",)

#: what must not appear: the design notes' old names outside the repository, the folder beside
#: the checkout they lived in, and absolute paths of a machine
FORBIDDEN = {
    "the old design notes": re.compile(r"\bDESIGN(?:\.md|'s\b)"),
    "the old device facts": re.compile(r"\bDEVICE_FACTS\b"),
    "a folder beside the checkout": re.compile(r"\.\./shared\b"),
    "an absolute path of a machine": re.compile(r"(?<![\w.~-])/(?:work|home)/"),
}
#: a docs/ file named anywhere, optionally with a section: docs/NAME.md#anchor or docs/NAME.md, "Heading"
DOCS_LINK = re.compile(r"docs/([a-z-]+\.md)(?:#([a-z0-9-]+)|,\s*[\"']([^\"'\n]+)[\"'])?")
#: a relative markdown link inside docs/: [text](name.md#anchor)
RELATIVE_LINK = re.compile(r"\]\(([a-z-]+\.md)(?:#([a-z0-9-]+))?\)")


def tracked_text_files() -> dict[str, str]:
    """Every tracked file's text, by path (binary files and the data folders left out)."""
    names = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    texts = {}
    for name in names.decode().split("\0"):
        if not name or name.startswith(DATA_FOLDERS):
            continue
        data = (ROOT / name).read_bytes()
        if b"\0" in data:
            continue
        try:
            texts[name] = data.decode("utf-8")
        except UnicodeDecodeError:
            continue
    return texts


def anchor(heading: str) -> str:
    """GitHub's anchor for a markdown heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def headings(path: Path) -> set[str]:
    return {line.lstrip("#").strip() for line in path.read_text().splitlines() if re.match(r"#{1,6} ", line)}


@pytest.fixture(scope="module")
def texts() -> dict[str, str]:
    found = tracked_text_files()
    assert "README.md" in found and "firmware/focusd/__init__.py" in found, "git ls-files found no files"
    return found


def test_no_file_points_outside_the_repository(texts):
    hits = [f"{name}:{number}: {what}: {line.strip()}"
            for name, text in texts.items()
            for number, line in enumerate(text.splitlines(), 1)
            for what, pattern in FORBIDDEN.items() if pattern.search(line)]
    assert not hits, "\n".join(hits)


def test_every_docs_link_names_a_file_and_section_that_exist(texts):
    broken = []
    for name, text in texts.items():
        for match in DOCS_LINK.finditer(text):
            target = ROOT / "docs" / match.group(1)
            where = f"{name}: {match.group(0)}"
            if not target.is_file():
                broken.append(f"{where}: no such file")
                continue
            section_anchor, section = match.group(2), match.group(3)
            if section_anchor and section_anchor not in {anchor(h) for h in headings(target)}:
                broken.append(f"{where}: no heading with that anchor")
            if section and section not in headings(target):
                broken.append(f"{where}: no such heading")
    assert not broken, "\n".join(broken)


def test_links_between_the_docs_resolve(texts):
    broken = []
    docs = [name for name in texts if name.startswith("docs/") and name.endswith(".md")]
    assert "docs/README.md" in docs
    for name in docs:
        for match in RELATIVE_LINK.finditer(texts[name]):
            target = ROOT / "docs" / match.group(1)
            if not target.is_file():
                broken.append(f"{name}: {match.group(0)}: no such file")
            elif match.group(2) and match.group(2) not in {anchor(h) for h in headings(target)}:
                broken.append(f"{name}: {match.group(0)}: no heading with that anchor")
    assert not broken, "\n".join(broken)


@pytest.mark.parametrize("line, bad", [
    ("see DESIGN" ".md, 'Layers'", True),
    ("(DEVICE_" "FACTS: about 2)", True),
    ("in frame n + 1 (DESIGN" "'s contract)", True),
    ("as in .." "/shared/focalstacks/", True),
    ("cd /" "work/main && make", True),
    ("/" "home/pi/captures", True),
    ("tmp_path / 'work' / 'x'", False),
    ("a design note in docs/design.md", False),
    ("ProtectHome=yes, a private /tmp", False),
])
def test_the_patterns_catch_what_they_are_for(line, bad):
    assert any(p.search(line) for p in FORBIDDEN.values()) is bad


def test_anchor_follows_github():
    assert anchor("The latency contract") == "the-latency-contract"
    assert anchor("Lens control") == "lens-control"
    assert anchor("Optics and the lores grid") == "optics-and-the-lores-grid"
    assert anchor("OV5647 motorized VCM") == "ov5647-motorized-vcm"
