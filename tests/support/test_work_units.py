"""How the suite is split between pytest-xdist's workers (tests/support/work_units.py)."""

import pytest

from minicnn.assignments.registry import SOURCE_ROOT

pytest.importorskip("xdist")

from support.work_units import GRADING_TESTS, GradingTogether, work_unit  # noqa: E402


def test_every_grading_test_is_in_the_one_work_unit(request):
    # The user sandbox kills every process of its account after each run: two grading tests
    # on two workers at once could kill each other's child. The scheduler gives each work
    # unit to one worker, so all of tests/assignments/ must be one unit, and nothing else in
    # it.
    grading = sorted(p.relative_to(SOURCE_ROOT).as_posix()
                     for p in (SOURCE_ROOT / GRADING_TESTS).glob("test_*.py"))
    assert grading and all(work_unit(f"{path}::test_x[a]") == "grading" for path in grading)
    others = ["tests/test_notebooks.py::test_notebook_runs_top_to_bottom[01]",
              "tests/kernels/test_conv_kernels.py::test_im2col", "tests/test_conftest.py::t"]
    assert [work_unit(nodeid) for nodeid in others] == others


def test_the_scheduler_splits_work_by_that_unit():
    split = GradingTogether._split_scope                 # the method xdist asks per test
    assert split(None, "tests/assignments/test_audit.py::test_y") == "grading"
    assert split(None, "tests/test_cli.py::test_z") == "tests/test_cli.py::test_z"
