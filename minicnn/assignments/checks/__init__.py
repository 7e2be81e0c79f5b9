"""The hidden and public checks of each task, one module per layer family (as the bug
catalogue, :mod:`minicnn.assignments.audit.catalogue`):

- ``base``: the machinery every check shares (Case, CheckResult, TaskSpec, tolerances, tags
  and their hints, the time budget of realistic-size cases);
- ``compare``: comparing arrays (``max_relative_error``), caches as data, where an error sits;
- ``function_task``: the forward/backward pair checks of ``minicnn.functional``;
- ``windows``: the geometry of windowed layers, and where their arrays are wrong;
- ``conv``, ``pool``, ``norm``, ``elementwise`` (ReLU, Linear, dropout), ``loss``,
  ``residual`` (the residual block's backward), ``optim``, ``explain``: each family's case
  builders and judges, with the public case grids;
- ``hidden_grids``: the hidden case grids (instructor only: left out of a student release).
"""
