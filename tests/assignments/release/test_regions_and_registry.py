"""Solution regions, the task registry and stub/restore on source text (no subprocesses)."""

import ast
import textwrap

import pytest

from minicnn.assignments.checks.hidden_grids import HIDDEN_PARAMS
from minicnn.assignments.registry import SOURCE_ROOT, TASKS, verify_regions, verify_strips
from minicnn.assignments.regions import (RegionError, find_regions, region_text,
                                         replace_region, restore_regions, strip_functions,
                                         stub_regions)
from minicnn.assignments.release.student_copy import file_edits

SAMPLE = textwrap.dedent('''\
    import numpy as np


    def double(x):
        """Twice x.

        Returns
        -------
        out : array
        """
        check(x)
        # BEGIN SOLUTION
        out = 2 * x
        # END SOLUTION
        return out


    class Layer:
        def forward(self, x):
            if x is None:
                return None
            # BEGIN SOLUTION
            y = x + 1
            return y
            # END SOLUTION


    @decorate
    def helper(x):
        """Doc."""
        # a comment that stays
        return x * 3
    ''')


def test_every_registered_region_exists_and_every_region_is_registered():
    assert verify_regions() == []


def test_stripped_helpers_are_used_only_by_their_own_task():
    assert verify_strips() == []


def test_every_task_has_hidden_checks():
    assert set(HIDDEN_PARAMS) == set(TASKS)
    for task_id, params in HIDDEN_PARAMS.items():
        assert len(params) >= 3, task_id


def _copy_task_files(root):
    """Copy every file that holds a task's region under ``root``, at the same path."""
    for path in {p for t in TASKS.values() for p, _ in t.regions}:
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text((SOURCE_ROOT / path).read_text())


def test_a_missing_marker_is_reported(tmp_path):
    _copy_task_files(tmp_path)
    conv = tmp_path / "minicnn/functional/conv.py"
    conv.write_text(conv.read_text().replace("# BEGIN SOLUTION", "# (marker removed)", 1))
    problems = verify_regions(tmp_path, require_all_registered=False)
    assert any("conv2d_forward" in p or "not inside" in p or "without a matching" in p
               for p in problems), problems


def test_a_task_file_without_numpy_is_reported(tmp_path):
    # the student's region is written in NumPy even where the reference calls a kernel
    _copy_task_files(tmp_path)
    assert verify_regions(tmp_path, require_all_registered=False) == []
    activation = tmp_path / "minicnn/functional/activation.py"
    lines = activation.read_text().splitlines(keepends=True)
    activation.write_text("".join(line for line in lines
                                  if not line.startswith("import numpy as np")))
    problems = verify_regions(tmp_path, require_all_registered=False)
    assert problems == ["minicnn/functional/activation.py: has solution regions but no "
                        "module-level 'import numpy as np' for the student's code to use"]


def test_regions_name_their_innermost_function():
    regions = find_regions(SAMPLE)
    assert [r.function for r in regions] == ["double", "Layer.forward"]
    assert regions[0].indent == "    " and regions[1].indent == "        "


def test_stub_keeps_signature_docstring_markers_and_indentation():
    out = stub_regions(SAMPLE, {"double": "double_task", "Layer.forward": "layer_task"})
    ast.parse(out)
    assert 'def double(x):\n    """Twice x.' in out
    assert ('    # BEGIN SOLUTION\n    raise NotImplementedError("double_task: implement double '
            '(see the docstring)")\n    # END SOLUTION\n    return out') in out
    assert '        raise NotImplementedError("layer_task: implement Layer.forward' in out
    assert "2 * x" not in out and "x + 1" not in out
    assert len(find_regions(out)) == 2                     # markers stay: re-release works


def test_only_selected_regions_are_stubbed():
    out = stub_regions(SAMPLE, {"double": "double_task"})
    assert "y = x + 1" in out and "2 * x" not in out


def test_stub_then_restore_gives_back_the_reference():
    out = stub_regions(SAMPLE, {"double": "t1", "Layer.forward": "t2"})
    out = strip_functions(out, {"helper": "t1"})
    assert "x * 3" not in out and "# a comment that stays" in out
    assert restore_regions(out, SAMPLE) == SAMPLE


@pytest.mark.parametrize("path", sorted(file_edits(TASKS.values())))
def test_release_edits_of_every_file_restore_exactly(path):
    """Stubbing and stripping every task in a real file, then restoring, is the identity."""
    regions, strips = file_edits(TASKS.values())[path]
    source = (SOURCE_ROOT / path).read_text()
    released = stub_regions(strip_functions(source, strips, path) if strips else source,
                            regions, path) if regions else strip_functions(source, strips, path)
    ast.parse(released)
    assert restore_regions(released, source, None, path) == source


@pytest.mark.parametrize("text, message", [
    ("def f():\n    # BEGIN SOLUTION\n    x = 1\n", "never closed"),
    ("def f():\n    x = 1\n    # END SOLUTION\n", "without a matching"),
    ("def f():\n    # BEGIN SOLUTION\n    # BEGIN SOLUTION\n    x = 1\n    # END SOLUTION\n",
     "nest"),
    ("# BEGIN SOLUTION\nx = 1\n# END SOLUTION\n", "not inside a function"),
])
def test_malformed_markers_are_errors(text, message):
    with pytest.raises(RegionError, match=message):
        find_regions(text)


def test_replace_region_reindents_a_new_body():
    out = replace_region(SAMPLE, "Layer.forward", "z = x - 1\nreturn z\n")
    assert "        z = x - 1\n        return z\n        # END SOLUTION" in out
    assert region_text(out, "Layer.forward") == "z = x - 1\nreturn z"


def test_stubbing_an_unknown_function_is_an_error():
    with pytest.raises(RegionError, match="nope"):
        stub_regions(SAMPLE, {"nope": "t"})
