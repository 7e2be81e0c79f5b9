"""Instructor tooling: release student stubs of minicnn, check them, grade submissions.

- :mod:`~minicnn.assignments.registry`: the tasks (which ``# BEGIN SOLUTION`` regions each
  covers, points, description) and ``verify_regions`` (the markers match the registry);
- :mod:`~minicnn.assignments.release`: the student copy (stubs, public checks, README);
- :mod:`~minicnn.assignments.public`: ``check``, the public checks a student runs;
- :mod:`~minicnn.assignments.grade`: the hidden checks, each task in its own process;
- :mod:`~minicnn.assignments.cli`: ``minicnn assignment ...`` / ``python -m
  minicnn.assignments ...``.

Importing this package imports nothing else of minicnn (so it works in a copy whose
solutions are stubs, and it never runs a student's code in the importing process).
"""
