"""What a task is checked on, and how a result is judged.

A task's checks are a list of :class:`Case` objects. Each case holds input arrays and the
calls to make (plain dicts, run by :mod:`minicnn.assignments._child`, in a separate process
when grading). A :class:`TaskSpec` knows how to build its cases, how to compute what a correct
implementation returns (from a *reference* module: the grader's own minicnn, or the expected
values stored in a student copy), and how to judge the arrays that came back.

Relative error, everywhere in this package::

    rel_error(a, b) = max |a - b| / max(max |a|, max |b|, 1e-12)

(the largest difference, relative to the size of the values: it is not fooled by entries
that are near zero). A value passes below 1e-7 in float64 (1e-6 against a finite
difference) and 2e-4 in float32.

Grading rule for a backward task: the student's forward and backward are run as a pair, and
the gradients are compared with the reference's. If that fails, the student's backward is
run once more on a cache made by the reference forward (caches are plain, documented data);
if that gives the right gradients the case passes (a broken forward costs only the forward
task). A float32 case also checks that float32 stays float32.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass, field

import numpy as np

F64_TOL = 1e-7
FD_TOL = 1e-6
F32_TOL = 2e-4
FD_STEP = 1e-6

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
}


def rel_error(a, b) -> float:
    """``max|a - b| / max(max|a|, max|b|, 1e-12)``; inf when the shapes differ."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        return math.inf
    if a.size == 0:
        return 0.0
    if not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
        return math.inf if not np.array_equal(a, b, equal_nan=True) else 0.0
    scale = max(float(np.max(np.abs(a))), float(np.max(np.abs(b))), 1e-12)
    return float(np.max(np.abs(a - b))) / scale


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
    what: str                  # "out", "dx", "dtype of dx", "fraction dropped", ...
    passed: bool
    error: float | None = None  # relative error, when there is one
    detail: str = ""            # what was wrong, in words
    kind: str = "value"         # "value" (correctness) or "dtype" (partial credit)
    hint: str = ""              # a specific hint for this failure

    def line(self) -> str:
        status = "PASS" if self.passed else "FAIL"
        err = f"  relative error {self.error:.1e}" if self.error is not None and \
            math.isfinite(self.error) else ""
        detail = f"  ({self.detail})" if self.detail and not self.passed else ""
        return f"{status}  {self.case:<28} {self.what:<18}{err}{detail}"


@dataclass
class CallOutcome:
    """What came back from one call: the arrays, or the error it raised."""

    outputs: dict | None = None
    error: str | None = None

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


def _enc(value):
    """Encode an argument for the child (see ``_child`` for the format)."""
    if value is None:
        return {"none": 1}
    if isinstance(value, tuple):
        return {"t": [_enc(v) if isinstance(v, (tuple, type(None))) else v for v in value]}
    return {"v": value}


def decode_args(specs, arrays):
    """Decode argument specs exactly as the child does (for running the reference)."""
    from minicnn.assignments._child import _decode

    return [_decode(s, arrays, np) for s in specs]


def decode_kwargs(specs, arrays):
    from minicnn.assignments._child import _decode

    return {k: _decode(s, arrays, np) for k, s in specs.items()}


def numerical_gradients(forward, args, kwargs, wrt, dout, h=FD_STEP):
    """Central finite differences of ``sum(forward(*args)[0] * dout)`` w.r.t. ``args[i]``
    for each ``i`` in ``wrt`` (``dout=None``: the output is a scalar loss)."""
    grads = []

    def value(call_args):
        out = forward(*[a.copy() if isinstance(a, np.ndarray) else a for a in call_args],
                      **kwargs)[0]
        out = np.asarray(out, dtype=np.float64)
        return float(np.sum(out * dout)) if dout is not None else float(out)

    for index in wrt:
        base = args[index]
        grad = np.zeros(base.shape, dtype=np.float64)
        for pos in np.ndindex(base.shape):
            old = base[pos]
            base[pos] = old + h
            plus = value(args)
            base[pos] = old - h
            minus = value(args)
            base[pos] = old
            grad[pos] = (plus - minus) / (2 * h)
        grads.append(grad)
    return grads


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
        """Fill ``case.ref_caches`` (reference caches for the backward fallback)."""

    # judging --------------------------------------------------------------------------
    def judge(self, case: Case, outcomes: dict, expected: dict) -> list[CheckResult]:
        raise NotImplementedError

    def explain(self, failures: list[CheckResult], passes: list[CheckResult]) -> str:
        """A task-specific hint for a set of failures ('' for none)."""
        return ""


def _dtype_of(case: Case) -> np.dtype:
    return np.dtype(case.params.get("dtype", "float64"))


def _compare(case, what, got, want, *, fd=False, hint="") -> list[CheckResult]:
    """Value check (and a dtype check for float32 cases) of one output."""
    if got is None:
        return [CheckResult(case.name, what, False, detail="missing from what was returned")]
    got_arr = np.asarray(got)
    want_arr = np.asarray(want)
    if got_arr.shape != want_arr.shape:
        return [CheckResult(case.name, what, False,
                            detail=f"shape {got_arr.shape}, expected {want_arr.shape}")]
    dtype = _dtype_of(case)
    err = rel_error(got_arr, want_arr)
    tol = tolerance(dtype, finite_difference=fd)
    results = [CheckResult(case.name, what, err <= tol, err,
                           detail=("not finite" if not math.isfinite(err) else
                                   f"tolerance {tol:.0e}"), hint=hint)]
    if dtype == np.float32 and got_arr.ndim > 0:
        results.append(CheckResult(case.name, f"dtype of {what}", got_arr.dtype == dtype,
                                   detail=f"{got_arr.dtype} for {dtype} input",
                                   kind="dtype", hint=TAG_HINTS["float32"]))
    return results


def _error_result(case, what, outcome: CallOutcome) -> CheckResult:
    return CheckResult(case.name, what, False, detail=outcome.error or "no result")


class FunctionTask(TaskSpec):
    """A forward task, or a backward task (forward + backward pair), of a functional pair.

    Subclasses define ``forward``, ``backward``, ``grad_names`` (names of what backward
    returns), ``grad_args`` (the positional argument each gradient is with respect to),
    ``make_inputs(params, rng, dtype) -> (arrays, args, kwargs, out_shape)`` (argument
    specs as in ``_child``) and ``public_params()``.
    """

    forward: str = ""
    backward: str = ""
    grad_names: tuple = ("dx",)
    grad_args: tuple = (0,)
    out_name = "out"
    save_args: tuple = ()          # indices of args updated in place (saved after the call)
    save_names: tuple = ()
    scalar_loss = False            # backward(cache) instead of backward(dout, cache)

    def __init__(self, task: str, mode: str):
        super().__init__(task)
        self.mode = mode           # "forward" or "backward"

    def make_inputs(self, params, rng, dtype):
        raise NotImplementedError

    def case_name(self, params) -> str:
        return params["name"]

    def build_case(self, params, rng) -> Case:
        dtype = np.dtype(params.get("dtype", "float64"))
        arrays, args, kwargs, out_shape = self.make_inputs(params, rng, dtype)
        name = self.case_name(params)
        tags = frozenset(params.get("tags", ())) | ({"float32"} if dtype == np.float32 else set())
        base = {"module": self.module, "forward": self.forward,
                "args": args, "kwargs": kwargs}
        if self.mode == "forward":
            calls = [dict(base, id=f"{name}/forward", save_args=list(self.save_args))]
        else:
            if not self.scalar_loss:
                arrays["dout"] = rng.standard_normal(out_shape).astype(dtype)
            dout = None if self.scalar_loss else "dout"
            calls = [dict(base, id=f"{name}/pair", backward=self.backward, dout=dout),
                     {"id": f"{name}/refcache", "module": self.module, "forward": None,
                      "backward": self.backward, "dout": dout, "ref_cache": name}]
        return Case(name, tags, arrays, calls, params)

    # reference ------------------------------------------------------------------------
    def _ref_forward(self, case, ref):
        call = case.calls[0]
        args = decode_args(call["args"], case.arrays)
        kwargs = decode_kwargs(call["kwargs"], case.arrays)
        out, cache = getattr(ref, self.forward)(*args, **kwargs)
        return args, kwargs, out, cache

    def _ref_backward(self, case, ref, cache):
        backward = getattr(ref, self.backward)
        if self.scalar_loss:
            grads = backward(cache)
        else:
            grads = backward(case.arrays["dout"].copy(), cache)
        return grads if isinstance(grads, tuple) else (grads,)

    def prepare(self, case, ref):
        if self.mode == "backward":
            _, _, _, cache = self._ref_forward(case, ref)
            case.ref_caches = {case.name: cache}

    def expected(self, case, ref):
        args, kwargs, out, cache = self._ref_forward(case, ref)
        result = {self.out_name: np.asarray(out)}
        for index, name in zip(self.save_args, self.save_names):
            result[name] = np.asarray(args[index])
        if self.mode == "backward":
            if case.params.get("finite_difference"):
                args = decode_args(case.calls[0]["args"], case.arrays)
                dout = None if self.scalar_loss else case.arrays["dout"].astype(np.float64)
                grads = numerical_gradients(getattr(ref, self.forward), args, kwargs,
                                            self.grad_args, dout)
            else:
                grads = self._ref_backward(case, ref, cache)
            for name, grad in zip(self.grad_names, grads):
                result[name] = np.asarray(grad)
        return result

    # judging ----------------------------------------------------------------------------
    def _judge_grads(self, case, outcome, expected, fd):
        if not outcome.ok:
            return None, [_error_result(case, "backward", outcome)]
        results = []
        got = [outcome.outputs.get(f"grad{i}") for i in range(len(self.grad_names))]
        extra = [k for k in outcome.outputs if k.startswith("grad")
                 and int(k[4:]) >= len(self.grad_names)]
        if extra or any(g is None for g in got):
            n = len([k for k in outcome.outputs if k.startswith("grad")])
            return False, [CheckResult(case.name, "backward", False,
                                       detail=f"returned {n} gradient(s), expected "
                                              f"{len(self.grad_names)} "
                                              f"({', '.join(self.grad_names)})")]
        for name, grad in zip(self.grad_names, got):
            results.extend(_compare(case, name, grad, expected[name], fd=fd))
        ok = all(r.passed for r in results if r.kind == "value")
        return ok, results

    def judge(self, case, outcomes, expected):
        if self.mode == "forward":
            outcome = outcomes[case.calls[0]["id"]]
            if not outcome.ok:
                return [_error_result(case, self.out_name, outcome)]
            results = _compare(case, self.out_name, outcome.outputs.get("out"),
                               expected[self.out_name])
            for index, name in zip(self.save_args, self.save_names):
                results.extend(_compare(case, name, outcome.outputs.get(f"arg{index}"),
                                        expected[name]))
            return results
        fd = bool(case.params.get("finite_difference"))
        pair_ok, pair_results = self._judge_grads(case, outcomes[case.calls[0]["id"]],
                                                  expected, fd)
        if pair_ok:
            return pair_results
        ref_ok, ref_results = self._judge_grads(case, outcomes[case.calls[1]["id"]],
                                                expected, fd)
        if ref_ok:
            for r in ref_results:
                r.detail = (r.detail + "; " if r.detail else "") + \
                    "with the reference forward's cache"
            note = CheckResult(case.name, "forward's cache", True,
                               detail="your backward is right on the reference cache but not "
                                      "on your forward's cache")
            return ref_results + [note]
        return pair_results


# -------------------------------------------------------------------------- shared helpers


def distinct_values(rng, shape, dtype, spacing=1e-2):
    """Values without ties (spacing between any two >= ``spacing``), shuffled, centred."""
    size = int(np.prod(shape))
    values = (rng.permutation(size) - size / 2) * spacing
    values = values + rng.uniform(0, spacing / 4, size)
    return values.reshape(shape).astype(dtype)


def tag_hints(failed_tags: list[frozenset], passed_tags: list[frozenset]) -> list[str]:
    """Hints for the tags that every failing case has and some passing case lacks."""
    if not failed_tags or not passed_tags:
        return []
    common = frozenset.intersection(*failed_tags)
    hints = []
    for tag in sorted(common):
        if tag in TAG_HINTS and any(tag not in tags for tags in passed_tags):
            hints.append(TAG_HINTS[tag])
    return hints
