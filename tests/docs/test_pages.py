"""The pages people read first, held to issue 26's promises (fast: no build, no browser).

- The README is a landing page: at most 200 lines, the two commands exactly, and every
  number in its prose quoted from benchmarks/RESULTS.md (figures that drift are how the
  README once gave four training times for one run).
- RESULTS.md holds the current figures only (about 30 KB; the log is HISTORY.md), and every
  file of benchmarks/results/ that it or the README cites exists.
- The notebooks' first cell is the Colab install built from setup.cfg's url.
- The package map is written once (in the README) and the book includes it.
"""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")
RESULTS = (ROOT / "benchmarks" / "RESULTS.md").read_text(encoding="utf-8")
TRAIN = "pip install -e . && minicnn train"
TEST = 'pip install -e ".[test]" && pytest'


def _prose(markdown: str) -> str:
    """The text outside code blocks, inline code, link targets and HTML comments."""
    text = re.sub(r"```.*?```", " ", markdown, flags=re.S)
    text = re.sub(r"<!--.*?-->", " ", text, flags=re.S)
    text = re.sub(r"`[^`]*`", " ", text)
    return re.sub(r"\]\([^)]*\)", "]", text)


def _numbers(text: str) -> set[str]:
    return set(re.findall(r"(?<![\w.])\d[\d,]*(?:\.\d+)?", text))


def test_readme_is_a_landing_page():
    lines = README.count("\n")
    assert lines <= 200, f"README.md has {lines} lines; the book holds the rest"
    assert f"\n{TRAIN}\n" in README and f"\n{TEST}\n" in README, "the two commands changed"
    assert "docs/build" in README, "the README should say how to build the book"


def test_every_number_in_the_readme_is_in_results():
    quoted = _numbers(_prose(RESULTS) + " " + RESULTS)
    missing = sorted(n for n in _numbers(_prose(README)) if n not in quoted)
    assert not missing, (f"README.md quotes {missing}, which benchmarks/RESULTS.md does not "
                         "hold: take the figure from RESULTS.md")


def test_results_holds_current_figures_only():
    size = len(RESULTS.encode())
    assert size <= 32_000, f"RESULTS.md is {size} bytes; move history to HISTORY.md"
    assert (ROOT / "benchmarks" / "HISTORY.md").is_file()


def test_cited_result_files_exist():
    cited = set()
    for text, base in ((RESULTS, ROOT / "benchmarks"), (README, ROOT)):
        for target in re.findall(r"\]\(([^)#\s]+)", text):
            if not target.startswith(("http://", "https://")):
                cited.add((base / target).resolve())
        for name in re.findall(r"`results/([\w./-]+\.(?:md|png|json|txt|csv))`", text):
            cited.add((ROOT / "benchmarks" / "results" / name).resolve())
    missing = sorted(str(p.relative_to(ROOT)) for p in cited if not p.exists())
    assert not missing, f"cited but missing: {missing}"


def test_notebooks_start_with_the_colab_install_cell():
    spec = importlib.util.spec_from_file_location("colab_cell", ROOT / "docs" / "colab_cell.py")
    colab_cell = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(colab_cell)
    stale = [p.name for p in sorted((ROOT / "notebooks").glob("*.ipynb"))
             if not colab_cell.has_current_cell(json.loads(p.read_text(encoding="utf-8")))]
    assert not stale, f"{stale}: run python docs/colab_cell.py"
    source = colab_cell.cell_source()
    assert 'if "google.colab" in sys.modules:' in source and colab_cell.repository_url() in source


def test_the_book_includes_the_package_map_from_the_readme():
    assert README.count("<!-- package-map -->") == 1 and README.count("<!-- /package-map -->") == 1
    guide = (ROOT / "docs" / "guides" / "contributing.md").read_text(encoding="utf-8")
    assert ":start-after: <!-- package-map -->" in guide
