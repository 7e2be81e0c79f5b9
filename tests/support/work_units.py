"""How pytest-xdist's workers split the suite (for tests/conftest.py): in units of work,
each run by one worker, one test after another.

Every test in tests/assignments/ is in one unit. The "user" sandbox kills every process of
its account after each run, so two grading tests at once, on two workers, could kill each
other's child. xdist's own "loadgroup" marks would do this through a suffix it writes into
each test's node id, which pytest 9.2 no longer lets a plugin change: with them, the grading
tests ran on both workers, and the user sandbox's probe was killed in two runs
(benchmarks/RESULTS.md, "The suite's time"). So the scheduler here asks work_unit instead.
"""

from __future__ import annotations

GRADING_TESTS = "tests/assignments/"    # node ids, relative to the rootdir
NOTEBOOK_TESTS = "tests/test_notebooks.py::"


def work_unit(nodeid: str) -> str:
    """The unit of work a test is scheduled in: "grading" for every test in
    tests/assignments/, which one worker then runs one after another (the "user" sandbox
    kills every process of its account after each run, so two grading tests at once could
    kill each other's child), and the test itself for any other."""
    return "grading" if nodeid.startswith(GRADING_TESTS) else nodeid


def dispatch_order(unit: str) -> tuple:
    """The order in which units of work are handed out: the long ones first, so that the
    many short tests fill in around them and no worker ends the run alone with a two-minute
    notebook. "grading" (about 6 minutes in all), then the notebooks from the last chapter
    to the first (the later ones train more: 11 took 148 s, 01 a few), then every other test
    in collection order (sorted() is stable). Handed out in collection order instead, the
    notebooks came last and a fresh clone's suite took 16 min 32 s on 2 cores for about
    10 minutes of work a core (benchmarks/RESULTS.md, "The suite's time")."""
    if unit == "grading":
        return (0,)
    if unit.startswith(NOTEBOOK_TESTS):
        return (1, tuple(-ord(character) for character in unit))      # 11 before 10 ... 01
    return (2,)


try:
    from xdist.scheduler import LoadScopeScheduling
except ImportError:                     # no pytest-xdist: the suite runs in one process
    GradingTogether = None
else:
    class GradingTogether(LoadScopeScheduling):
        """pytest-xdist's scheduling by scope, the scopes being work_unit's, handed out in
        dispatch_order."""

        _ordered = False

        def _split_scope(self, nodeid):
            return work_unit(nodeid)

        def _assign_work_unit(self, node):
            # xdist builds its whole queue of units, then hands them out from the front:
            # put it in dispatch_order before the first one goes
            if not self._ordered:
                self._ordered = True
                queue = sorted(self.workqueue.items(), key=lambda item: dispatch_order(item[0]))
                self.workqueue.clear()
                self.workqueue.update(queue)
            super()._assign_work_unit(node)
