"""The audit: mutation testing of the hidden checks (``minicnn assignment audit``).

- ``run``: grades every catalogued variant and judges the verdicts (and the command line);
- ``catalogue``: realistic student bugs and correct alternatives, one module per layer family.

Instructor only: a student release leaves this package out (its variants are solutions, or
one edit away from one).
"""
