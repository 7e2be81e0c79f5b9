"""tests/conftest.py's choices about how the suite runs."""

import os

import pytest

GRADING_TESTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "assignments", "")


def test_every_grading_test_runs_in_the_one_xdist_group(request):
    # The user sandbox kills every process of its account after each run: two grading tests
    # on two workers at once could kill each other's child. All of tests/assignments/ must
    # be one group, which pytest-xdist's "loadgroup" gives to a single worker.
    if not request.config.pluginmanager.hasplugin("xdist"):
        pytest.skip("pytest-xdist is not installed: the suite runs in one process")
    items = request.session.items
    grading = [item for item in items if str(item.path).startswith(GRADING_TESTS)]
    if not grading:
        pytest.skip("tests/assignments/ was not collected in this run")
    groups = {item.nodeid: [m.args for m in item.iter_markers("xdist_group")] for item in items}
    assert all(groups[item.nodeid] == [("grading",)] for item in grading)
    assert not any(groups[item.nodeid] for item in items if item not in grading)
    if hasattr(request.config, "workerinput"):
        # on a worker: xdist schedules by the group suffix it adds to each node id, from the
        # marks, in its own collection hook, and only if told the tests are grouped
        assert request.config.getvalue("loadgroup")
        assert all(item.nodeid.endswith("@grading") for item in grading)
        assert not any("@" in item.nodeid for item in items if item not in grading)
