"""How pytest-xdist's workers split the suite (for tests/conftest.py): in units of work,
each run by one worker, one test after another.

Every test in tests/assignments/ is in one unit. The "user" sandbox kills every process of
its account after each run, so two grading tests at once, on two workers, could kill each
other's child. xdist's own "loadgroup" marks would do this through a suffix it writes into
each test's node id, which pytest 9.2 no longer lets a plugin change: with them, the grading
tests ran on both workers, and the user sandbox's probe was killed in two runs
(benchmarks/HISTORY.md, "The suite's time"). So the scheduler here asks work_unit instead.

Every test in tests/fast/ is in one unit too, for another reason: those tests compile the
engine's Numba kernels, one compiled copy per kernel, dtype and channel block count, and
Numba's cache on disk only helps a worker once the other has finished writing it. Spread over
both workers, the same kernels were compiled by both at the same moment (the measurement:
benchmarks/RESULTS.md, "The suite's time").
"""

from __future__ import annotations

GRADING_TESTS = "tests/assignments/"    # node ids, relative to the rootdir
KERNEL_TESTS = "tests/fast/"


def work_unit(nodeid: str) -> str:
    """The unit of work a test is scheduled in: "grading" for every test in
    tests/assignments/, which one worker then runs one after another (the "user" sandbox
    kills every process of its account after each run, so two grading tests at once could
    kill each other's child); "kernels" for every test in tests/fast/, so that each Numba
    kernel they need is compiled by one worker, once; the test itself for any other."""
    if nodeid.startswith(GRADING_TESTS):
        return "grading"
    if nodeid.startswith(KERNEL_TESTS):
        return "kernels"
    return nodeid


try:
    from xdist.scheduler import LoadScopeScheduling
except ImportError:                     # no pytest-xdist: the suite runs in one process
    ByWorkUnit = None
else:
    class ByWorkUnit(LoadScopeScheduling):
        """pytest-xdist's scheduling by scope, the scopes being work_unit's."""

        def _split_scope(self, nodeid):
            return work_unit(nodeid)
