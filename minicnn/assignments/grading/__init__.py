"""Grading: run a submission's code on the checks, in a sandbox, and judge what came back.

From the top down, each layer with one job:

- ``grade``: grade a submission (every task) or a directory of them; the grade files;
- ``public``: the public checks a student runs on their own copy (``check``);
- ``evaluate``: one task on one copy: its cases' calls run, judged, summed up in a message;
- ``cases``: the hidden and public cases of a task and the reference's expected values;
- ``runner``: one child process: the scratch directory, the time limit, the results read back
  as untrusted files;
- ``child``: the script that child runs (standalone: the standard library, NumPy and the code
  under test), which makes the calls and writes what they returned;
- ``sandbox``: what the child may see and do (bubblewrap, an unprivileged user, or none);
- ``user_account``: the unprivileged account of the ``user`` sandbox (its process limit, the
  scratch directory handed over, every process it left killed).
"""
