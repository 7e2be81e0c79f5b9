"""What a task is checked on and how a verdict is recorded: the machinery every check shares.

A task's checks are a list of :class:`Case` objects. Each case holds input arrays and the
calls to make (plain dicts, run by :mod:`minicnn.assignments.grading.child`, in a separate
process when grading). A :class:`TaskSpec` knows how to build its cases, how to compute what
a correct implementation returns (from a *reference* module: the grader's own minicnn, or the
expected values stored in a student copy), and how to judge the arrays that came back; each
layer family's specs live in a module of their own (``conv``, ``pool``, ``norm``,
``elementwise``, ``loss``, ``residual``, ``optim``, ``explain``), as the bug catalogue does.

Here: the tolerances, the case tags and the hints they give, :class:`CheckResult`,
:class:`CallOutcome`, :class:`Case`, :class:`TaskSpec`, and the time budget of a
realistic-size case. How arrays are compared is in ``compare``; the forward/backward pair
checks in ``function_task``.

What a task is graded on: every value its docstring documents.

- A forward task: its output (values, dtype, and that it is a NumPy array: a Python float is
  not the documented 0-d array), the arguments it updates in place, and its *cache*, which
  comes back from the child as data (arrays, numbers, tuples, described in JSON, never
  pickled) and is compared field by field with the reference's (shapes, dtypes, values). So a
  wrong cache (max-pool keeping the last tied maximum, BatchNorm keeping the std instead of
  its inverse) costs the forward task.
- A backward task: the student's backward runs on a cache made by the reference forward
  (caches are plain, documented data), and that is what earns its points, so a broken forward
  costs only the forward task. The student's own forward + backward pair is run too and
  reported: a backward that is right only with the reference cache says so plainly (it is
  not recorded as a passed pair check). One realistic-size case per backward task runs in its
  own process with a time budget set by the grader (``backward_budget``), so finite
  differences of the forward cannot stand in for a backward pass.
- float32 input must give float32 results (partial credit otherwise, see
  ``grading.evaluate``).
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass, field

import numpy as np

F64_TOL = 1e-7
FD_TOL = 1e-6
F32_TOL = 2e-4
FD_STEP = 1e-6                      # finite differences' step (float64)

# Hints attached to case tags: when every failing case has the tag and some passing case has
# not, the hint is shown (e.g. only the strided cases fail: "did you handle the stride?").
TAG_HINTS = {
    "stride": "did you handle the stride (window (i, j) starts at (i*stride, j*stride))?",
    "padding": "did you handle the padding (pad the input; drop the padded border from dx)?",
    "overlap": "with overlapping windows (stride < kernel): window (i, j) starts at "
               "(i*stride, j*stride), and the gradients of windows that share an input add up "
               "(+=, not =)",
    "batch1": "does it work for a batch of one (no squeeze, no hard-coded N)?",
    "nonsquare": "are the height and width (or kH and kW) swapped somewhere?",
    "kernel1": "does it work for a 1x1 kernel?",
    "eval": "in eval mode, normalise with running_mean/running_var (and leave them alone)",
    "training": "in training mode, normalise with the batch statistics (biased variance) and "
                "update the running estimates (unbiased variance, momentum)",
    "4d": "for (N, C, H, W) input the statistics are per channel, over N, H and W",
    "2d": "for (N, C) input the statistics are per feature, over N",
    "weighted": "with class weights, the mean divides by the sum of the target classes' weights",
    "large_logits": "subtract the largest logit before exp (log-sum-exp) so large logits do "
                    "not overflow",
    "weight_decay": "weight_decay: check where it enters the update",
    "momentum": "momentum: check the velocity buffer (PyTorch's convention: v = mu*v + g)",
    "nesterov": "nesterov: the update uses g + mu*v",
    "adamw": "AdamW decouples weight decay: p = p * (1 - lr*weight_decay), then an Adam step "
             "on the plain gradient (no L2 term in m and v)",
    "dampening": "dampening scales the gradient added to the momentum buffer (not on the "
                 "first step)",
    "float32": "float32 input must give float32 results (check the dtype of what you create)",
    "zeros": "at x == 0 exactly, ReLU's output is 0 and its derivative is 0 (x > 0, not x >= 0)",
    "ties": "on a tie the FIRST maximum in row-major window order wins (np.argmax does that; "
            "a strict > when scanning)",
    "realistic": "at a realistic size the backward pass must be a backward pass: no finite "
                 "differences, no forward call per input element",
    "label_smoothing": "with label smoothing eps, each sample's target is (1 - eps) on its "
                       "label plus eps / K on every class",
    "projection": "with a projection shortcut (stride 2, or in_planes != planes) the shortcut "
                  "is downsample, a 1x1 conv and a BatchNorm: its gradient is "
                  "downsample.backward(d_sum), which also fills their parameters' grads",
    "identity": "with the identity shortcut (downsample is None) the shortcut hands d_sum "
                "back unchanged: it is added to the main path's dx as it is",
}

# The case families, named in a failing task's message ("fails on: stride > 1, padding").
TAG_NAMES = {
    "stride": "stride > 1", "padding": "padding", "overlap": "overlapping windows",
    "batch1": "a batch of one", "nonsquare": "non-square shapes", "kernel1": "1x1 kernels",
    "eval": "evaluation mode", "training": "training mode", "4d": "(N, C, H, W) input",
    "2d": "(N, C) input", "weighted": "class weights", "large_logits": "large logits",
    "weight_decay": "weight decay", "momentum": "momentum", "nesterov": "Nesterov",
    "adamw": "AdamW", "dampening": "dampening", "float32": "float32", "zeros": "x exactly 0",
    "ties": "tied maxima", "realistic": "realistic size (time budget)",
    "label_smoothing": "label smoothing", "projection": "a projection shortcut",
    "identity": "the identity shortcut", "stride2": "stride 2",
}


def tolerance(dtype, finite_difference=False) -> float:
    if np.dtype(dtype) == np.float32:
        return F32_TOL
    return FD_TOL if finite_difference else F64_TOL


def task_seed(task: str, salt: int = 0) -> int:
    """A fixed seed per task (public cases): the same on every machine."""
    return (zlib.crc32(task.encode()) + salt) % (2 ** 32)


# --------------------------------------------------------------------------------- results


@dataclass
class CheckResult:
    """The verdict on one thing (an output of one case, or a property)."""

    case: str
    what: str                  # "out", "dx", "dtype of dx", "cache: argmax", ...
    passed: bool
    error: float | None = None  # relative error, when there is one
    detail: str = ""            # what was wrong, in words (never the expected values)
    kind: str = "value"         # "value" (correctness), "dtype" (partial credit) or "pair"
    #                             (the student's own forward + backward: reported, not scored)
    hint: str = ""              # a specific hint for this failure

    def line(self) -> str:
        status = "PASS" if self.passed else ("NOTE" if self.kind == "pair" else "FAIL")
        err = f"  relative error {self.error:.1e}" if self.error is not None and \
            math.isfinite(self.error) else ""
        detail = f"  ({self.detail})" if self.detail and not self.passed else ""
        return f"{status}  {self.case:<28} {self.what:<18}{err}{detail}"


@dataclass
class CallOutcome:
    """What came back from one call: the arrays, or the error it raised."""

    outputs: dict | None = None
    error: str | None = None
    skipped: bool = False       # not run on purpose (no reference cache in a student copy)

    @property
    def ok(self) -> bool:
        return self.outputs is not None


@dataclass
class Case:
    """One check case of a task: input arrays, the calls to make, and what to compare."""

    name: str
    tags: frozenset
    arrays: dict
    calls: list
    params: dict = field(default_factory=dict)
    ref_caches: dict = field(default_factory=dict)     # filled by TaskSpec.prepare
    budget: float | None = None     # seconds the timed case's process may take

    @property
    def timed(self) -> bool:
        return bool(self.params.get("timed"))

# ------------------------------------------------------------------------------ task specs


class TaskSpec:
    """How one task is checked. Subclasses build cases and judge results."""

    module = "minicnn.functional"

    def __init__(self, task: str):
        self.task = task

    # cases ---------------------------------------------------------------------------
    def public_params(self) -> list[dict]:
        raise NotImplementedError

    def build_case(self, params: dict, rng: np.random.Generator) -> Case:
        raise NotImplementedError

    def cases(self, params_list, rng) -> list[Case]:
        return [self.build_case(dict(p), rng) for p in params_list]

    # reference --------------------------------------------------------------------------
    def expected(self, case: Case, ref) -> dict:
        """``{output key: array}`` that a correct implementation returns (computed with the
        reference module ``ref``, e.g. the grader's ``minicnn.functional``)."""
        return {}

    def prepare(self, case: Case, ref) -> None:
        """Fill ``case.ref_caches`` (reference caches for the backward) and, for a timed
        case, ``case.budget``."""

    # judging --------------------------------------------------------------------------
    def judge(self, case: Case, outcomes: dict, expected: dict) -> list[CheckResult]:
        raise NotImplementedError


def uses_reference_cache(call) -> bool:
    """Whether ``call`` runs a backward on a reference forward's cache (a call a student copy,
    which holds no reference caches, cannot make)."""
    return call.get("forward") is None and "ref_cache" in call


def dtype_of(case: Case) -> np.dtype:
    return np.dtype(case.params.get("dtype", "float64"))


def tag_hints(failed_tags: list[frozenset], passed_tags: list[frozenset]) -> list[str]:
    """Hints for the tags that every failing case has and some passing case lacks."""
    return [TAG_HINTS[tag] for tag in distinguishing_tags(failed_tags, passed_tags)
            if tag in TAG_HINTS]


def distinguishing_tags(failed_tags: list[frozenset], passed_tags: list[frozenset]) -> list:
    """The tags that every failing case has and some passing case lacks (sorted)."""
    if not failed_tags or not passed_tags:
        return []
    common = frozenset.intersection(*failed_tags)
    # the tags no passing case has say most; else those some passing case lacks
    only_failing = [tag for tag in sorted(common) if all(tag not in t for t in passed_tags)]
    return only_failing or [tag for tag in sorted(common)
                            if any(tag not in tags for tags in passed_tags)]


# -------------------------------------------------------------------------- shared helpers


def distinct_values(rng, shape, dtype, spacing=1e-2):
    """Values without ties (spacing between any two >= ``spacing``), shuffled, centred."""
    size = int(np.prod(shape))
    values = (rng.permutation(size) - size / 2) * spacing
    values = values + rng.uniform(0, spacing / 4, size)
    return values.reshape(shape).astype(dtype)


# ------------------------------------------------------------------------------ time budget

#: A timed (realistic-size) backward case runs alone in a fresh process, killed by the
#: grader after STARTUP_SECONDS + BUDGET_FACTOR * t_ref, t_ref the reference backward's time
#: on the same case, measured by the grader in its own process (the fastest of 3 runs).
#: Why: the budget must cover a child's start-up (Python, NumPy, minicnn, compiling its Numba
#: kernels afresh) on a shared machine and a plain, honest loop backward, yet stay far below
#: what finite differences of the forward cost; the measurements behind the three numbers are
#: in benchmarks/HISTORY.md, "Grading: the time budget of realistic-size cases".
STARTUP_SECONDS = 15.0
BUDGET_FACTOR = 40.0
MIN_COMPUTE_SECONDS = 5.0


def backward_budget(run_reference) -> float:
    """Seconds a timed case's process may take (see ``STARTUP_SECONDS``)."""
    import time

    try:
        from threadpoolctl import threadpool_limits
    except ImportError:                      # pragma: no cover - threadpoolctl is a dependency
        threadpool_limits = None
    times = []
    for _ in range(3):
        start = time.perf_counter()
        if threadpool_limits is not None:
            with threadpool_limits(1):           # the child runs BLAS on one thread
                run_reference()
        else:
            run_reference()
        times.append(time.perf_counter() - start)
    return STARTUP_SECONDS + max(BUDGET_FACTOR * min(times), MIN_COMPUTE_SECONDS)
