"""The notebooks of a student copy run on the copy's own code, unfinished tasks and all.

A release with every task stubbed executes every notebook without an error: each cell that
needs an unwritten task prints one "[not implemented yet]" line naming it, and the other
cells run. (A restored release runs them exactly as the reference: tests/test_notebooks.py
executes the notebooks from such a copy.) The cell transformer itself is tested in an
in-process IPython shell.
"""

from pathlib import Path

import pytest

from minicnn.assignments.release.notebooks import SETUP_CELL_TAG, add_setup_cell

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

from support.notebook_runner import MARK, execute, stream_text, write_kernel_spec  # noqa: E402


# ------------------------------------------------------------------- the cell transformer

@pytest.fixture
def shell(capsys):
    from IPython.core.interactiveshell import InteractiveShell

    from minicnn.assignments.release.notebooks import skip_unfinished_tasks

    ip = InteractiveShell.instance()
    skip_unfinished_tasks()
    capsys.readouterr()
    yield ip
    ip.ast_transformers.clear()
    InteractiveShell.clear_instance()


def _run(ip, capsys, code):
    result = ip.run_cell(code)
    return result, capsys.readouterr().out


STUB = ("def conv_layer(x):\n"
        "    raise NotImplementedError('conv2d_backward: implement _conv2d_naive_backward "
        "(see the docstring)')\n")


def test_a_cell_that_reaches_a_stub_prints_one_line_and_succeeds(shell, capsys):
    _run(shell, capsys, STUB)
    result, out = _run(shell, capsys, "a = 1\nb = conv_layer(a)\nc = 3")
    assert result.success
    lines = out.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(MARK)
    assert "conv2d_backward" in lines[0] and "minicnn assignment check conv2d_backward" in lines[0]
    assert "a" not in shell.user_ns and "b" not in shell.user_ns     # the cell rolled back


def test_a_skipped_cell_puts_back_what_it_rebound(shell, capsys):
    _run(shell, capsys, STUB)
    _run(shell, capsys, "history = ['before']")
    result, out = _run(shell, capsys, "history = []\nhistory.append(conv_layer(1))")
    assert result.success and out.startswith(MARK)
    assert shell.user_ns["history"] == ["before"]


def test_a_later_cell_needing_a_skipped_name_says_so(shell, capsys):
    _run(shell, capsys, STUB)
    _run(shell, capsys, "b = conv_layer(1)")
    result, out = _run(shell, capsys, "print(b + 1)")
    assert result.success
    assert out.strip().startswith(MARK) and "`b`" in out and "conv2d_backward" in out


def test_other_errors_still_show(shell, capsys):
    result, _ = _run(shell, capsys, "1 / 0")
    assert not result.success and isinstance(result.error_in_exec, ZeroDivisionError)
    result, _ = _run(shell, capsys, "undefined_name_here")
    assert isinstance(result.error_in_exec, NameError)
    result, _ = _run(shell, capsys, "raise NotImplementedError('not a stub of ours')")
    assert isinstance(result.error_in_exec, NotImplementedError)


def test_the_last_expression_is_still_displayed(shell, capsys):
    result, _ = _run(shell, capsys, "x = 20\nx + 22")
    assert result.success and result.result == 42


def test_the_setup_cell_goes_after_the_title_once():
    notebook = {"cells": [{"cell_type": "markdown", "source": "# Title", "metadata": {}},
                          {"cell_type": "code", "source": "1", "metadata": {},
                           "outputs": [], "execution_count": None}]}
    once = add_setup_cell(notebook)
    twice = add_setup_cell(once)
    assert [c["cell_type"] for c in twice["cells"]] == ["markdown", "code", "code"]
    assert SETUP_CELL_TAG in twice["cells"][1]["metadata"]["tags"]


# ------------------------------------------------------------- a release with every task

@pytest.fixture(scope="module")
def stubbed_copy(full_release, tmp_path_factory):
    return full_release, write_kernel_spec(tmp_path_factory.mktemp("kernel"), full_release)


@pytest.mark.notebook
@pytest.mark.parametrize("name", sorted(p.name for p in
                                        (Path(__file__).parents[3] / "notebooks").glob("*.ipynb")))
def test_every_notebook_runs_in_a_copy_with_every_task_stubbed(name, stubbed_copy):
    root, kernel_dir = stubbed_copy
    path = root / "notebooks" / name
    assert path.is_file(), f"the release did not write notebooks/{name}"
    try:
        nb = execute(path, kernel_dir)
    except nbclient.exceptions.CellExecutionError as error:
        pytest.fail(f"{name} stopped with an error in a stubbed copy:\n{error}", pytrace=False)
    texts = list(stream_text(nb))
    assert any(str(root) in text for _, text in texts[:1]), "the setup cell did not report " \
        "the copy's minicnn"
    skipped = [(i, line) for i, text in texts for line in text.splitlines() if MARK in line]
    for index, line in skipped:
        assert line.startswith(MARK) and ("minicnn assignment check" in line or "`" in line), line
    per_cell = {}
    for index, _ in skipped:
        per_cell[index] = per_cell.get(index, 0) + 1
    assert all(count == 1 for count in per_cell.values()), "one line per skipped cell"
    assert skipped, f"{name}: nothing was skipped in a copy where every task is stubbed"
