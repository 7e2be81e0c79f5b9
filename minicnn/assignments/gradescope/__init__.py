"""The Gradescope autograder that ``minicnn assignment autograder`` writes.

- :mod:`~minicnn.assignments.gradescope.autograder`: the command line of both sides: building
  the zip (``minicnn assignment autograder``) and, inside the container, ``python -m
  minicnn.assignments.gradescope.autograder run``;
- :mod:`~minicnn.assignments.gradescope.wheel`: the minicnn wheel (hidden checks and reference
  solutions included) that ``setup.sh`` installs for the grader;
- :mod:`~minicnn.assignments.gradescope.scripts`: the text of ``setup.sh`` and
  ``run_autograder``;
- :mod:`~minicnn.assignments.gradescope.submission`: which of the files a student uploaded
  are graded, laid over a fresh copy of the release;
- :mod:`~minicnn.assignments.gradescope.container`: what ``run_autograder`` runs inside the
  container: grade, then write ``results.json`` in Gradescope's format.
"""
