"""How the suite is split between pytest-xdist's workers (tests/support/work_units.py)."""

from collections import OrderedDict

import pytest

from minicnn.assignments.registry import SOURCE_ROOT

pytest.importorskip("xdist")

from support.work_units import (GRADING_TESTS, GradingTogether, dispatch_order,  # noqa: E402
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


def test_the_scheduler_splits_work_by_that_unit():
    split = GradingTogether._split_scope                 # the method xdist asks per test
    assert split(None, "tests/assignments/test_audit.py::test_y") == "grading"
    assert split(None, "tests/test_cli.py::test_z") == "tests/test_cli.py::test_z"


def test_long_units_are_handed_out_first():
    units = ["tests/data/test_idx.py::test_a", "tests/test_notebooks.py::test_run[01_conv]",
             "grading", "tests/test_notebooks.py::test_run[11_resnets]",
             "tests/test_notebooks.py::test_run[09_why]", "tests/train/test_run.py::test_b",
             "tests/test_cli.py::test_c"]
    assert sorted(units, key=dispatch_order) == [
        "grading", "tests/test_notebooks.py::test_run[11_resnets]",
        "tests/test_notebooks.py::test_run[09_why]", "tests/test_notebooks.py::test_run[01_conv]",
        "tests/data/test_idx.py::test_a", "tests/train/test_run.py::test_b",
        "tests/test_cli.py::test_c"]                 # the rest as collected


def test_the_scheduler_hands_out_units_in_dispatch_order():
    # xdist's queue as its schedule() builds it (units with more tests first, then as
    # collected); GradingTogether hands it out reordered, one unit a call
    class Worker:
        sent = []

        def send_runtest_some(self, indexes):
            self.sent.append(indexes)

    collection = ["tests/cli/test_a.py::t", "tests/test_notebooks.py::n[01]",
                  "tests/assignments/test_g.py::g1", "tests/assignments/test_g.py::g2",
                  "tests/test_notebooks.py::n[11]"]
    worker = Worker()
    scheduler = object.__new__(GradingTogether)
    scheduler.workqueue = OrderedDict()
    for unit in ("grading", "tests/cli/test_a.py::t", "tests/test_notebooks.py::n[01]",
                 "tests/test_notebooks.py::n[11]"):
        scheduler.workqueue[unit] = {nodeid: False for nodeid in collection
                                     if work_unit(nodeid) == unit}
    scheduler.assigned_work, scheduler.registered_collections = {}, {worker: collection}
    for _ in range(4):
        scheduler._assign_work_unit(worker)
    assert Worker.sent == [[2, 3], [4], [1], [0]]
