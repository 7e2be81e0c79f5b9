"""The notebooks' first cell: install minicnn when the notebook runs on Google Colab.

    python docs/colab_cell.py            # write (or rewrite) the cell in every notebook
    python docs/colab_cell.py --check    # exit 1 if a notebook's cell is missing or stale

The cell is built from setup.cfg's ``[metadata] url``, the one setting the book's "Open in
Colab" links come from too, so moving the repository means changing that line and running
this script. Elsewhere (Jupyter, the test suite, the book's build) the cell does nothing.
It is tagged ``remove-cell``: the book's pages do not show it.
"""

from __future__ import annotations

import argparse
import configparser
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
CELL_ID = "colab-install"
TAGS = ["colab-install", "remove-cell"]


def repository_url() -> str:
    setup = configparser.ConfigParser()
    setup.read(ROOT / "setup.cfg")
    return setup["metadata"]["url"].rstrip("/")


def cell_source(url: str | None = None) -> str:
    url = url or repository_url()
    return ("# On Google Colab, install minicnn first (anywhere else this cell does nothing).\n"
            "import sys\n"
            "\n"
            'if "google.colab" in sys.modules:\n'
            "    import subprocess\n"
            "\n"
            '    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet",\n'
            f'                    "minicnn @ git+{url}"], check=True)')


def colab_cell(url: str | None = None) -> dict:
    return {"cell_type": "code", "execution_count": None, "id": CELL_ID,
            "metadata": {"tags": list(TAGS)}, "outputs": [],
            "source": cell_source(url).splitlines(keepends=True)}


def _is_install_cell(cell: dict) -> bool:
    """The install cell, by its id or by its tag (a copy pasted from another notebook gets a
    new id but keeps the tag)."""
    return cell.get("id") == CELL_ID or TAGS[0] in cell.get("metadata", {}).get("tags", [])


def has_current_cell(notebook: dict, url: str | None = None) -> bool:
    """The first cell is the current install cell, and no other cell is one."""
    cells = notebook.get("cells", [])
    return bool(cells) and cells[0].get("id") == CELL_ID \
        and "".join(cells[0]["source"]) == cell_source(url) \
        and not any(_is_install_cell(cell) for cell in cells[1:])


def with_cell(notebook: dict, url: str | None = None) -> dict:
    cells = [c for c in notebook["cells"] if not _is_install_cell(c)]
    return {**notebook, "cells": [colab_cell(url)] + cells}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only check, change nothing")
    args = parser.parse_args(argv)
    stale = []
    for path in sorted(NOTEBOOKS.glob("*.ipynb")):
        text = path.read_text(encoding="utf-8")
        notebook = json.loads(text)
        if has_current_cell(notebook):
            continue
        stale.append(path.name)
        if not args.check:
            path.write_text(json.dumps(with_cell(notebook), indent=1, ensure_ascii=False)
                            + "\n", encoding="utf-8")
    if args.check and stale:
        print(f"stale or missing Colab cell in {', '.join(stale)}: run python "
              "docs/colab_cell.py", file=sys.stderr)
        return 1
    print(("checked" if args.check else "wrote") + f" {len(stale)} notebook(s)"
          if stale or not args.check else "every notebook has the current Colab cell")
    return 0


if __name__ == "__main__":
    sys.exit(main())
