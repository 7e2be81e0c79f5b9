"""Instructor tooling: release student stubs of minicnn, check them, grade submissions.

- :mod:`~minicnn.assignments.registry`: the tasks (which ``# BEGIN SOLUTION`` regions each
  covers, points, description) and ``verify_regions`` (the markers match the registry);
- :mod:`~minicnn.assignments.release`: the student copy (stubs, public checks, README,
  notebooks: :mod:`~minicnn.assignments.notebook`);
- :mod:`~minicnn.assignments.public`: ``check``, the public checks a student runs;
- :mod:`~minicnn.assignments.grade`: the hidden checks, each task in its own process
  (:mod:`~minicnn.assignments.runner`), in a sandbox (:mod:`~minicnn.assignments.sandbox`:
  bubblewrap, an unprivileged user, or none);
- :mod:`~minicnn.assignments.audit`: mutation testing of the hidden checks against the
  catalogue of student bugs and correct alternatives (:mod:`~minicnn.assignments.catalogue`);
- :mod:`~minicnn.assignments.autograder`: the Gradescope export
  (:mod:`~minicnn.assignments.gradescope`);
- :mod:`~minicnn.assignments.cli`: ``minicnn assignment ...`` / ``python -m
  minicnn.assignments ...``.

The audit, its catalogue, the autograder and the hidden checks are the instructor's: a
student copy leaves them out.

Importing this package imports nothing else of minicnn (so it works in a copy whose
solutions are stubs, and it never runs a student's code in the importing process).
"""
