"""What minicnn's book adds to Sphinx (docs/conf.py loads it).

- The docstrings' plain-text formulas become math (``plain_math``) and their terminal layout
  reStructuredText (``docstring_layout``), before napoleon reads the NumPy-style sections.
- MathJax ships with the site: ``_static/mathjax`` is copied from the django-static-mathjax
  wheel (MathJax 3, its CHTML fonts and TeX extensions), so no page asks another host.
- A public function or class without a docstring fails the build (it would be missing
  from the reference).
- Each notebook chapter gets its ``.ipynb`` beside its page and a bar under its title with a
  download link and an "Open in Colab" link built from ``repository_url`` (conf.py).
"""

from __future__ import annotations

import inspect
import re
import shutil
from pathlib import Path

from sphinx.application import Sphinx
from sphinx.errors import ExtensionError
from sphinx.util import logging

logger = logging.getLogger(__name__)

from docstring_layout import tidy
from plain_math import formula_blocks

NOTEBOOK_DIR = "notebooks"
COLAB = "https://colab.research.google.com/github/{owner_repo}/blob/{branch}/notebooks/{name}"
# MathJax 3's es5 build, less what the book does not load (SVG output, MathML input, the
# speech rule engine and the "-full" bundles that hold all of those)
MATHJAX_SKIP = ("sre", "*-full*.js", "*svg*", "mml-*", "node-main.js", "latest.js")


def _render_formulas(app, what, name, obj, options, lines):
    lines[:] = tidy(formula_blocks(lines))


def _public_without_docstring(app, what, name, obj, skip, options):
    """A public function or class of a documented module without a docstring would vanish
    from the reference without a word: make it a build error (a warning under -W)."""
    if what == "module" and not name.startswith("_") \
            and (inspect.isfunction(obj) or inspect.isclass(obj)) and not obj.__doc__:
        logger.warning(f"{obj.__module__}.{name} has no docstring, so the API reference "
                       "leaves it out: write one")
    return None


def mathjax_source() -> Path:
    """MathJax 3's es5 directory inside the installed django-static-mathjax wheel."""
    try:
        import mathjax  # the django-static-mathjax wheel's package
    except ImportError as error:
        raise ExtensionError("MathJax is missing: pip install -e \".[docs]\" "
                             "(django-static-mathjax ships it)") from error
    source = Path(mathjax.__file__).parent / "static" / "mathjax" / "es5"
    if not (source / "tex-chtml.js").is_file():
        raise ExtensionError(f"no tex-chtml.js in {source}")
    return source


def _copy_mathjax(app: Sphinx, exception):
    if exception is not None or app.builder.format != "html":
        return
    target = Path(app.outdir) / "_static" / "mathjax" / "es5"
    if (target / "tex-chtml.js").is_file():
        return
    shutil.copytree(mathjax_source(), target, dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns(*MATHJAX_SKIP))


def colab_url(repository_url: str, branch: str, name: str) -> str:
    match = re.fullmatch(r"https://github\.com/([^/]+/[^/]+?)(?:\.git)?/?", repository_url)
    if not match:
        raise ExtensionError(f"repository_url {repository_url!r} is not a GitHub "
                             "repository URL (https://github.com/OWNER/REPO)")
    return COLAB.format(owner_repo=match.group(1), branch=branch, name=name)


def _notebook_links(app: Sphinx, pagename, templatename, context, doctree):
    if not pagename.startswith(NOTEBOOK_DIR + "/") or "body" not in context:
        return
    source = Path(app.srcdir) / (pagename + ".ipynb")
    if not source.is_file():
        return
    name = source.name
    bar = ('<p class="notebook-links">'
           f'<a class="reference download" href="{name}" download="{name}">'
           f'Download {name}</a>'
           f'<a class="reference external colab" href="'
           f'{colab_url(app.config.repository_url, app.config.repository_branch, name)}">'
           'Open in Colab</a></p>')
    body = context["body"]
    at = body.find("</h1>")
    context["body"] = body[:at + 5] + bar + body[at + 5:] if at >= 0 else bar + body


def _copy_notebooks(app: Sphinx, exception):
    if exception is not None or app.builder.format != "html":
        return
    target = Path(app.outdir) / NOTEBOOK_DIR
    target.mkdir(parents=True, exist_ok=True)
    for notebook in sorted((Path(app.srcdir) / NOTEBOOK_DIR).glob("*.ipynb")):
        shutil.copy2(notebook, target / notebook.name)


def setup(app: Sphinx):
    app.add_config_value("repository_url", "", "html")
    app.add_config_value("repository_branch", "main", "html")
    # before napoleon (priority 500), which rewrites the NumPy sections
    app.connect("autodoc-process-docstring", _render_formulas, priority=400)
    app.connect("autodoc-skip-member", _public_without_docstring)
    app.connect("html-page-context", _notebook_links)
    app.connect("build-finished", _copy_mathjax)
    app.connect("build-finished", _copy_notebooks)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
