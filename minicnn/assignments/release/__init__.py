"""The student copy: ``release`` writes it (solutions stubbed, the public data, tests, README,
notebooks), ``restore`` puts solutions back.

- ``student_copy``: the copy itself: stubs, stripped helpers, the public checks' data;
- ``student_files``: its README and ``tests/``;
- ``notebooks``: its notebooks, whose setup cell skips the cells of unfinished tasks;
- ``manifest``: which tasks a copy was released with.
"""

from minicnn.assignments.release.manifest import MANIFEST, released_tasks
from minicnn.assignments.release.student_copy import (NOT_RELEASED, ReleaseError, release,
                                                      restore)

__all__ = ["release", "restore", "released_tasks", "ReleaseError", "MANIFEST", "NOT_RELEASED"]
