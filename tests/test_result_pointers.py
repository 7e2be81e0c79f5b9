"""The code keeps no measured figures; it points to the section of benchmarks/RESULTS.md or
HISTORY.md that holds them. Every such pointer must name a section that exists, so a pointer
cannot rot when the results files are reorganised."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# RESULTS.md, "Title" or HISTORY.md "Title", the title possibly broken over comment lines
POINTER = re.compile(r'(RESULTS|HISTORY)\.md,? ?"([^"]+)"')


def sections(text: str) -> list[str]:
    """The headings and the bold paragraph titles of a Markdown file."""
    found = []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("#"):
            found.append(stripped.lstrip("#").strip())
        elif stripped.startswith("**"):
            found.append(stripped[2:].split("**")[0])
    return found


def pointers(folder: Path):
    for path in sorted(folder.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        for match in POINTER.finditer(text):
            title = " ".join(re.sub(r"\n\s*#:?", " ", match.group(2)).split())
            line = text.count("\n", 0, match.start()) + 1
            yield f"{path.relative_to(folder.parent)}:{line}", match.group(1), title


def dangling(folder: Path, files: dict) -> list[str]:
    titles = {name: sections(text) for name, text in files.items()}
    return [f"{where}: {name}.md has no section {title!r}"
            for where, name, title in pointers(folder)
            if not any(s.startswith(title) for s in titles[name])]


@pytest.mark.parametrize("folder", ["minicnn", "benchmarks"])
def test_every_pointer_names_a_section_that_exists(folder):
    files = {name: (ROOT / "benchmarks" / f"{name}.md").read_text(encoding="utf-8")
             for name in ("RESULTS", "HISTORY")}
    problems = dangling(ROOT / folder, files)
    assert not problems, "\n".join(problems)


def test_a_dangling_pointer_is_reported(tmp_path):
    (tmp_path / "code.py").write_text('# the figures (benchmarks/RESULTS.md, "Gone\n'
                                      '# section") and (HISTORY.md, "Kept")\n')
    files = {"RESULTS": "# Results\n## Other\n", "HISTORY": "**Kept, with more words**\n"}
    problems = dangling(tmp_path, files)
    assert len(problems) == 1 and "'Gone section'" in problems[0]
