"""How the suite is split between pytest-xdist's workers (tests/support/work_units.py)."""

import pytest

from minicnn.assignments.registry import SOURCE_ROOT

pytest.importorskip("xdist")

from support.work_units import (GRADING_TESTS, KERNEL_TESTS, ByWorkUnit,  # noqa: E402
                                work_unit)


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


def test_every_test_of_the_engines_kernels_is_in_one_work_unit():
    # Two workers compiling the same Numba kernels at once both paid for it: every
    # test file in tests/fast/ (which compile them) goes to one worker, and nothing else does
    kernel_tests = sorted(p.relative_to(SOURCE_ROOT).as_posix()
                          for p in (SOURCE_ROOT / KERNEL_TESTS).rglob("test_*.py"))
    assert len(kernel_tests) >= 5
    assert {work_unit(f"{path}::test_x[a]") for path in kernel_tests} == {"kernels"}
    assert work_unit("tests/fast_notebooks.py::test_y") == "tests/fast_notebooks.py::test_y"
    assert work_unit("tests/models/test_resnet.py::test_z") != "kernels"


def test_the_scheduler_splits_work_by_that_unit():
    split = ByWorkUnit._split_scope                      # the method xdist asks per test
    assert split(None, "tests/assignments/test_audit.py::test_y") == "grading"
    assert split(None, "tests/test_cli.py::test_z") == "tests/test_cli.py::test_z"
    assert split(None, "tests/fast/kernels/test_pool_kernels.py::test_p") == "kernels"
