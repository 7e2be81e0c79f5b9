"""Instructor tooling: release student stubs of minicnn, check them, grade submissions.

- :mod:`~minicnn.assignments.registry`: the tasks (which ``# BEGIN SOLUTION`` regions each
  covers, points, description, check spec) and ``verify_regions`` (the markers match it);
- :mod:`~minicnn.assignments.regions`: finding, stubbing and restoring those regions;
- :mod:`~minicnn.assignments.release`: the student copy (stubs, public data, tests, README,
  notebooks) and ``restore``;
- :mod:`~minicnn.assignments.checks`: what each task is checked on and how a result is
  judged, one module per layer family (the hidden grids: ``checks.hidden_grids``);
- :mod:`~minicnn.assignments.grading`: grading and the public checks: each task's calls in a
  separate process (``runner``, ``child``) in a sandbox (``sandbox``: bubblewrap, an
  unprivileged user, or none);
- :mod:`~minicnn.assignments.audit`: mutation testing of the hidden checks against the
  catalogue of student bugs and correct alternatives (``audit.catalogue``);
- :mod:`~minicnn.assignments.gradescope`: the Gradescope export (``gradescope.autograder``);
- :mod:`~minicnn.assignments.cli`: ``minicnn assignment ...`` / ``python -m
  minicnn.assignments ...``.

The audit, its catalogue, the Gradescope export and the hidden grids are the instructor's: a
student copy leaves them out.

Importing this package imports nothing else of minicnn (so it works in a copy whose
solutions are stubs, and it never runs a student's code in the importing process).
"""
