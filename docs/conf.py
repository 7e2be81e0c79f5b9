"""Sphinx configuration of minicnn's book (docs/build runs it).

Sphinx + MyST-NB + Furo: MyST-NB executes the notebooks at build time through jupyter-cache
(an unchanged notebook is not run again), autodoc + napoleon turn the NumPy-style docstrings
into the API reference, and the book ships everything it loads (MathJax comes from the
``django-static-mathjax`` wheel, copied into ``_static`` by ``_ext/minicnn_book.py``).
"""

from __future__ import annotations

import configparser
import os
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path.insert(0, str(DOCS / "_ext"))

_setup = configparser.ConfigParser()
_setup.read(ROOT / "setup.cfg")

project = "minicnn"
author = "the minicnn authors"
copyright = "minicnn's authors, MIT licence"
release = version = _setup["metadata"]["version"]

# The one setting to change when the project moves: setup.cfg's [metadata] url. The
# "Open in Colab" links and the notebooks' Colab install cell are built from it
# (docs/colab_cell.py writes the cell; tests/docs/test_pages.py holds them together).
repository_url = _setup["metadata"]["url"].rstrip("/")
repository_branch = os.environ.get("MINICNN_DOCS_BRANCH", "main")

extensions = [
    "myst_nb",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
    "sphinx_copybutton",
    "minicnn_book",
]

root_doc = "index"
exclude_patterns = ["_build", "notebooks/README.md", "**/.ipynb_checkpoints",
                    "Thumbs.db", ".DS_Store"]
source_suffix = {".md": "myst-nb", ".ipynb": "myst-nb"}

# Fail on what a reader would trip over: references to nothing, missing documents.
nitpicky = True
nitpick_ignore_regex = [
    # The docstrings' types are words for a reader ("(N, C, H, W) float32 array", "int or
    # (int, int)") and their Raises entries sentences, not names to link: only references to
    # minicnn's own public objects must resolve. Roles a person writes ({py:func}, :func:,
    # {py:mod}) are checked in full.
    (r"py:(class|exc|obj|data)", r"(?!minicnn\.).*"),
    (r"py:(class|exc|obj|data)", r"minicnn\..*\._\w+.*"),      # private bases: not documented
    # The assignments' sub-packages, which its package docstring names for the curious reader;
    # the book documents the toolkit's entry points only (docs/api/assignments.md).
    (r"py:mod", r"minicnn\.assignments\.[\w.]+"),
    (r"py:class", r"minicnn\.assignments\.grading\.sandbox\.Sandbox"),
    (r"py:mod", r"minicnn\.data\.fashion_mnist"),
    (r"py:func", r"(adaptive_bins|parse_idx)"),
]

# MyST: $...$ and $$...$$ math as in the notebooks, ::: fences, headings as link targets.
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence", "deflist"]
myst_heading_anchors = 3

# MyST-NB: run the notebooks at build time, cached by their content.
nb_execution_mode = "cache"
nb_execution_cache_path = str(DOCS / "_build" / ".jupyter_cache")
nb_execution_timeout = 900             # seconds per cell; a whole notebook takes about a minute
nb_execution_raise_on_error = True     # a failing cell fails the build
nb_execution_show_tb = True
nb_merge_streams = True
nb_execution_in_temp = True            # notebooks write nothing into the checkout

# autodoc: the public modules' __all__, in source order; NumPy-style sections by napoleon.
autodoc_member_order = "bysource"
# The notebooks' ipywidgets need a running kernel; their cells' outputs are left out of the
# pages (tag remove-output), and MyST-NB must not load the widget manager from a CDN.
nb_ipywidgets_js = {}

autodoc_default_options = {"members": True}
autodoc_typehints = "none"             # the docstrings say the shapes; signatures stay short
autodoc_preserve_defaults = True
napoleon_google_docstring = False
napoleon_numpy_docstring = True
napoleon_use_param = False             # types stay the docstrings' words (shapes), not links
napoleon_use_rtype = False
napoleon_use_ivar = True
napoleon_custom_sections = [("Cache", "returns_style")]

html_theme = "furo"
html_title = f"minicnn {release}"
html_static_path = ["_static"]
html_css_files = ["book.css"]
html_copy_source = False
html_show_sourcelink = False
html_last_updated_fmt = None
html_theme_options = {
    "navigation_with_keys": True,
}
pygments_style = "friendly"
pygments_dark_style = "monokai"

# MathJax 3 from the django-static-mathjax wheel, copied to _static/mathjax by minicnn_book.
mathjax_path = "mathjax/es5/tex-chtml.js"
mathjax3_config = {"options": {"enableMenu": False}}
