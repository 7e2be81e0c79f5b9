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
  own process with a time budget set by the grader (``engine``), so finite differences of
  the forward cannot stand in for a backward pass.
- float32 input must give float32 results (partial credit otherwise, see ``engine``).
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
    "zeros": "at x == 0 exactly, ReLU's output is 0 and its derivative is 0 (x > 0, not x >= 0)",
    "ties": "on a tie the FIRST maximum in row-major window order wins (np.argmax does that; "
            "a strict > when scanning)",
    "realistic": "at a realistic size the backward pass must be a backward pass: no finite "
                 "differences, no forward call per input element",
    "label_smoothing": "with label smoothing eps, each sample's target is (1 - eps) on its "
                       "label plus eps / K on every class",
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
    "label_smoothing": "label smoothing",
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
    budget: float | None = None     # seconds the timed case's process may take (``engine``)

    @property
    def timed(self) -> bool:
        return bool(self.params.get("timed"))


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


# -------------------------------------------------------------------- caches, as data

REF_LAYOUT = "refcache_layout"      # expected[...]: the reference cache's layout (JSON, uint8)
META_LIMIT = 2 * 1024 * 1024        # bytes of a child's JSON description read at most


def json_array(data) -> np.ndarray:
    import json

    return np.frombuffer(json.dumps(data).encode(), dtype=np.uint8).copy()


def read_json_array(array):
    """The JSON held in a uint8 array (from the child: untrusted, so bounded); None if it is
    not readable."""
    import json

    try:
        array = np.asarray(array)
        if array.dtype != np.uint8 or array.ndim != 1 or array.size > META_LIMIT:
            return None
        return json.loads(array.tobytes().decode("utf-8"))
    except (ValueError, UnicodeDecodeError, TypeError):
        return None


def encode_reference(value, prefix="refcache/") -> dict:
    """The reference cache as arrays, in the child's own encoding (``_child.encode_value``)."""
    from minicnn.assignments._child import encode_value

    layout, arrays = encode_value(value, np, prefix=prefix)
    arrays[REF_LAYOUT] = json_array(layout)
    return arrays


def decode_value(layout, arrays):
    """A value from its layout (the inverse of ``_child.encode_value``); anything malformed
    raises ValueError."""
    if not isinstance(layout, dict) or len(layout) not in (1, 2):
        raise ValueError("malformed cache description")
    if "array" in layout:
        if layout["array"] not in arrays:
            raise ValueError("malformed cache description (an array is missing)")
        return arrays[layout["array"]]
    if "tuple" in layout or "list" in layout:
        items = layout.get("tuple", layout.get("list"))
        if not isinstance(items, list):
            raise ValueError("malformed cache description")
        values = [decode_value(item, arrays) for item in items]
        return tuple(values) if "tuple" in layout else values
    for key in ("bool", "int", "float", "str"):
        if key in layout:
            return layout[key]
    if "none" in layout:
        return None
    if "other" in layout:
        return _Opaque(str(layout["other"]))
    raise ValueError("malformed cache description")


@dataclass(frozen=True)
class _Opaque:
    """A cache item the child could not describe as data (an object, a function, ...)."""

    type_name: str


def _kind(value) -> str:
    if value is None:
        return "None"
    if isinstance(value, np.ndarray):
        return "array"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (tuple, list)):
        return "tuple"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "str"
    return f"a {value.type_name}" if isinstance(value, _Opaque) else type(value).__name__


@dataclass
class CacheProblem:
    """One field of a student's cache that differs from the documented one."""

    field: str
    message: str
    kind: str = "value"              # "value" or "dtype"
    got: object = None               # the two arrays, for family hints (wrong where?)
    want: object = None


def compare_caches(got, want, names=(), dtype=np.float64) -> list[CacheProblem]:
    """Field by field: ``got`` (the student's cache, decoded) against ``want`` (the
    reference's). Containers must have the documented length, arrays the documented shape
    and dtype, plain values (shapes, strides, flags) must be equal, array values must agree
    within the tolerance of ``dtype`` (exactly, for integer arrays)."""
    problems: list[CacheProblem] = []
    tol = tolerance(dtype)

    def name_of(path):
        if not path:
            return "cache"
        head = names[path[0]] if path[0] < len(names) else f"item {path[0]}"
        return head + "".join(f"[{i}]" for i in path[1:])

    def walk(g, w, path):
        where = name_of(path)
        kg, kw = _kind(g), _kind(w)
        if kw == "tuple":
            if kg != "tuple":
                problems.append(CacheProblem(where, f"is {kg if kg != 'tuple' else 'a tuple'}"
                                             f", the docstring's is a tuple of {len(w)} items"))
                return
            if len(g) != len(w):
                shown = f" ({', '.join(names)})" if not path and names else ""
                problems.append(CacheProblem(where, f"has {len(g)} item(s), the docstring's "
                                                    f"has {len(w)}{shown}"))
                return
            for i, (gi, wi) in enumerate(zip(g, w)):
                walk(gi, wi, path + (i,))
            return
        if kw == "array":
            if kg != "array":
                problems.append(CacheProblem(where, f"is {kg}, the docstring's is an array"))
                return
            if g.shape != w.shape:
                problems.append(CacheProblem(where, f"has shape {g.shape}, the docstring's has "
                                                    f"shape {w.shape}"))
                return
            if w.dtype.kind in "iub" and g.dtype.kind not in "iub":
                problems.append(CacheProblem(where, f"has dtype {g.dtype}, the docstring's "
                                                    f"holds integers ({w.dtype})"))
                return
            if w.dtype.kind in "iub":
                wrong = int(np.sum(g != w))
                if wrong:
                    problems.append(CacheProblem(where, f"{wrong} of {w.size} entries differ "
                                                        f"from the documented ones", got=g,
                                                 want=w))
            else:
                err = rel_error(g, w)
                if not err <= tol:
                    problems.append(CacheProblem(where, f"values wrong (relative error "
                                                        f"{err:.1e})", got=g, want=w))
            if g.dtype != w.dtype:
                problems.append(CacheProblem(where, f"is {g.dtype}, the docstring says "
                                                    f"{w.dtype} here", kind="dtype"))
            return
        if kw == "number" and kg == "number":
            if not math.isclose(float(g), float(w), rel_tol=1e-12, abs_tol=0.0):
                problems.append(CacheProblem(where, "differs from the documented value"))
            return
        if kg != kw or g != w:
            if kg != kw:
                message = f"is {kg}, the docstring's is {kw}"
            else:
                message = "differs from the documented value"
            problems.append(CacheProblem(where, message))

    walk(got, want, ())
    return problems


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


def _dtype_of(case: Case) -> np.dtype:
    return np.dtype(case.params.get("dtype", "float64"))


def wrong_mask(got, want, dtype) -> np.ndarray | None:
    """Where ``got`` is off from ``want`` by more than the tolerance (relative to the size
    of the values), or None when the shapes differ."""
    got = np.asarray(got, dtype=np.float64)
    want = np.asarray(want, dtype=np.float64)
    if got.shape != want.shape:
        return None
    scale = max(float(np.max(np.abs(want), initial=0.0)), 1e-12)
    with np.errstate(invalid="ignore"):
        return ~(np.abs(got - want) <= tolerance(dtype) * scale)


def _compare(case, what, got, want, *, fd=False, hint="", locate=None,
             dtype=None) -> list[CheckResult]:
    """Value check and dtype check of one output. ``locate(what, wrong)``, given the mask of
    wrong entries, may return a hint saying where the error sits (never what it should be);
    ``dtype``: the dtype the output must have (default: the case's)."""
    if got is None:
        return [CheckResult(case.name, what, False, detail="missing from what was returned")]
    got_arr = np.asarray(got)
    want_arr = np.asarray(want)
    if got_arr.shape != want_arr.shape:
        return [CheckResult(case.name, what, False,
                            detail=f"shape {got_arr.shape}, expected {want_arr.shape}",
                            hint=_shape_hint(got_arr.shape, want_arr.shape))]
    case_dtype = _dtype_of(case)
    err = rel_error(got_arr, want_arr)
    tol = tolerance(case_dtype, finite_difference=fd)
    passed = err <= tol
    if not passed and locate is not None and math.isfinite(err):
        mask = wrong_mask(got_arr, want_arr, case_dtype)
        hint = (locate(what, mask) if mask is not None and mask.any() else "") or hint
    results = [CheckResult(case.name, what, passed, err,
                           detail=("not finite" if not math.isfinite(err) else
                                   f"tolerance {tol:.0e}"), hint=hint)]
    want_dtype = np.dtype(dtype) if dtype is not None else case_dtype
    if got_arr.dtype != want_dtype:
        results.append(CheckResult(case.name, f"dtype of {what}", False,
                                   detail=f"{got_arr.dtype} for {case_dtype} input",
                                   kind="dtype", hint=TAG_HINTS["float32"]
                                   if case_dtype == np.float32 else
                                   f"{want_dtype} input must give {want_dtype} results"))
    return results


def _shape_hint(got, want) -> str:
    """Which axes are off (off by one is the classic output-size bug), without numbers."""
    if len(got) != len(want):
        return "the number of axes is wrong (a squeeze, a missing keepdims, or a flatten?)"
    axes = [i for i, (g, w) in enumerate(zip(got, want)) if g != w]
    if len(got) == 4 and set(axes) <= {2, 3}:
        off = {abs(got[i] - want[i]) for i in axes}
        if off == {1}:
            return ("the height/width is off by one: H_out = floor((H + 2*padding - kernel) / "
                    "stride) + 1")
        return ("the height/width is wrong: H_out = floor((H + 2*padding - kernel) / stride) "
                "+ 1 (did you use the stride and the padding?)")
    return ""


def _error_result(case, what, outcome: CallOutcome) -> CheckResult:
    return CheckResult(case.name, what, False, detail=outcome.error or "no result")


def output_type_check(case, what, outcome) -> list[CheckResult]:
    """A forward's output must be a NumPy array (0-d for a scalar): a Python float, or a
    NumPy scalar, is not what the docstring documents."""
    meta = read_json_array(outcome.outputs.get("meta")) if outcome.ok else None
    if not isinstance(meta, dict) or meta.get("out_type") in (None, "ndarray"):
        return []
    got = str(meta["out_type"])
    return [CheckResult(case.name, f"type of {what}", False, kind="dtype",
                        detail=f"a {got.replace('builtins.', '')}, the docstring says a numpy "
                               f"array (0-d for a scalar) of the input's dtype",
                        hint="return a numpy array (np.asarray(value, dtype=...) for a "
                             "scalar), not a Python or NumPy scalar")]


class FunctionTask(TaskSpec):
    """A forward task, or a backward task (forward + backward pair), of a functional pair.

    Subclasses define ``forward``, ``backward``, ``grad_names`` (names of what backward
    returns), ``grad_args`` (the positional argument each gradient is with respect to),
    ``cache_names`` (the documented cache's fields, for messages),
    ``make_inputs(params, rng, dtype) -> (arrays, args, kwargs, out_shape)`` (argument
    specs as in ``_child``) and ``public_params()``; ``locate`` and ``cache_hint`` may say
    where an error sits.
    """

    forward: str = ""
    backward: str = ""
    grad_names: tuple = ("dx",)
    grad_args: tuple = (0,)
    cache_names: tuple = ()
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
        if params.get("timed"):
            tags |= {"realistic"}
        base = {"module": self.module, "forward": self.forward,
                "args": args, "kwargs": kwargs}
        if self.mode == "forward":
            calls = [dict(base, id=f"{name}/forward", save_args=list(self.save_args),
                          describe=True)]
        else:
            if not self.scalar_loss:
                arrays["dout"] = rng.standard_normal(out_shape).astype(dtype)
            dout = None if self.scalar_loss else "dout"
            refcache = {"id": f"{name}/refcache", "module": self.module, "forward": None,
                        "backward": self.backward, "dout": dout, "ref_cache": name}
            pair = dict(base, id=f"{name}/pair", backward=self.backward, dout=dout)
            # a timed case runs the backward alone (on the reference cache): its process's
            # time is the backward's, plus start-up
            calls = [refcache] if params.get("timed") else [pair, refcache]
            if params.get("timed"):
                params = dict(params, forward_call=base)
        return Case(name, tags, arrays, calls, params)

    # reference ------------------------------------------------------------------------
    def _ref_forward(self, case, ref):
        call = _forward_call_of(case)
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
            if case.timed:
                case.budget = backward_budget(lambda: self._ref_backward(case, ref, cache))

    def expected(self, case, ref):
        args, kwargs, out, cache = self._ref_forward(case, ref)
        result = {self.out_name: np.asarray(out)}
        for index, name in zip(self.save_args, self.save_names):
            result[name] = np.asarray(args[index])
        if self.mode == "forward":
            result.update(encode_reference(cache))
        if self.mode == "backward":
            if case.params.get("finite_difference"):
                call = _forward_call_of(case)
                args = decode_args(call["args"], case.arrays)
                dout = None if self.scalar_loss else case.arrays["dout"].astype(np.float64)
                grads = numerical_gradients(getattr(ref, self.forward), args, kwargs,
                                            self.grad_args, dout)
            else:
                grads = self._ref_backward(case, ref, cache)
            for name, grad in zip(self.grad_names, grads):
                result[name] = np.asarray(grad)
        return result

    # judging ----------------------------------------------------------------------------
    def locate(self, case, what, wrong) -> str:
        """Where the error of output ``what`` sits (``wrong``: the mask of wrong entries),
        as a hint; '' when nothing specific can be said."""
        return locate_common(case, wrong)

    def cache_hint(self, case, problem: CacheProblem) -> str:
        """A hint for a wrong cache field ('' for none)."""
        return ""

    def _judge_grads(self, case, outcome, expected, fd):
        if not outcome.ok:
            return False, [_error_result(case, "backward", outcome)]
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
            results.extend(_compare(case, name, grad, expected[name], fd=fd,
                                    locate=lambda w, m: self.locate(case, w, m)))
        ok = all(r.passed for r in results if r.kind == "value")
        return ok, results

    def judge_cache(self, case, outcome, expected) -> list[CheckResult]:
        """The forward's cache, field by field against the reference forward's."""
        if REF_LAYOUT not in expected:
            return []                   # public data released before caches were checked
        meta = read_json_array(outcome.outputs.get("meta"))
        if not isinstance(meta, dict):
            return [CheckResult(case.name, "cache", False,
                                detail="the cache could not be read back")]
        if "cache_error" in meta:
            return [CheckResult(case.name, "cache", False, detail=str(meta["cache_error"]))]
        try:
            got = decode_value(meta.get("cache"), outcome.outputs)
            want = decode_value(read_json_array(expected[REF_LAYOUT]), expected)
        except ValueError as exc:
            return [CheckResult(case.name, "cache", False, detail=str(exc))]
        problems = compare_caches(got, want, self.cache_names, _dtype_of(case))
        if not problems:
            return [CheckResult(case.name, "cache", True)]
        return [CheckResult(case.name, f"cache: {p.field}", False, detail=p.message,
                            kind=p.kind, hint=self.cache_hint(case, p) or CACHE_HINT)
                for p in problems]

    def judge(self, case, outcomes, expected):
        if self.mode == "forward":
            outcome = outcomes[case.calls[0]["id"]]
            if not outcome.ok:
                return [_error_result(case, self.out_name, outcome)]
            results = _compare(case, self.out_name, outcome.outputs.get("out"),
                               expected[self.out_name],
                               locate=lambda w, m: self.locate(case, w, m))
            results += output_type_check(case, self.out_name, outcome)
            for index, name in zip(self.save_args, self.save_names):
                results.extend(_compare(case, name, outcome.outputs.get(f"arg{index}"),
                                        expected[name],
                                        locate=lambda w, m: self.locate(case, w, m)))
            return results + self.judge_cache(case, outcome, expected)
        fd = bool(case.params.get("finite_difference"))
        return judge_backward(case, outcomes,
                              lambda outcome: self._judge_grads(case, outcome, expected, fd))


CACHE_HINT = ("the backward pass receives exactly the cache the forward returns: it must hold "
              "what the docstring lists, in that order, with the documented shapes and dtypes")


def _forward_call_of(case) -> dict:
    """The forward call of a case (a timed case does not run one: its spec is kept aside)."""
    for call in case.calls:
        if call.get("forward"):
            return call
    return case.params["forward_call"]


def judge_backward(case, outcomes, judge_grads) -> list[CheckResult]:
    """The backward task's rule: the gradients computed on the reference forward's cache
    earn the points; the student's own forward + backward pair is reported (kind "pair")
    next to them. In a student copy (no reference caches) the pair decides."""
    ref_call = next((c for c in case.calls if c.get("forward") is None), None)
    pair_call = next((c for c in case.calls if c.get("forward")), None)
    ref = outcomes.get(ref_call["id"]) if ref_call else None
    pair = outcomes.get(pair_call["id"]) if pair_call else None
    if ref is None or ref.skipped:
        return judge_grads(pair)[1] if pair is not None else []
    ref_ok, results = judge_grads(ref)
    for r in results:
        if not r.passed and r.kind == "value":
            r.detail = (r.detail + "; " if r.detail else "") + "on the reference forward's cache"
    if pair is None:
        return results
    pair_ok, _ = judge_grads(pair)
    if ref_ok:
        results.append(CheckResult(
            case.name, "with your forward", pair_ok, kind="pair",
            detail="right only with the reference forward's cache: with your own forward's "
                   "cache the gradients are wrong (the bug is in the forward task)"))
    elif pair_ok:
        for r in results:
            if not r.passed and r.kind == "value":
                r.hint = ("right with your own forward but wrong on the reference forward's "
                          "cache: read the cache exactly as the forward's docstring lays it "
                          "out")
    return results


# ------------------------------------------------------------------------------ time budget

#: A timed (realistic-size) backward case runs alone in a fresh process, killed by the
#: grader after STARTUP_SECONDS + BUDGET_FACTOR * t_ref, t_ref the reference backward's time
#: on the same case, measured by the grader in its own process (the fastest of 3 runs).
#: Why these numbers (measured; the table is in ``hidden.py``): a child's start-up (Python,
#: NumPy, importing minicnn, and compiling the Numba kernels it calls: every graded child has
#: a fresh Numba cache) took 0.5-5 s on a 2-core machine at load 1-7, and must survive a
#: machine shared by several graders; a plain, slow but honest implementation (the naive conv
#: backward with all seven sums as Python loops, an im2col backward with a col2im written as
#: loops) took under 1 s, 10 x the reference; finite differences of even the fastest
#: (reference) forward cost 2 x (number of inputs) forward calls, which the realistic sizes
#: put at 27-1000 x the budget.
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


# --------------------------------------------------------------------- where is it wrong?


def locate_common(case, wrong) -> str:
    """Hints that hold for any array: wrong only for some samples of the batch."""
    if wrong is None or wrong.ndim < 2 or wrong.shape[0] < 2 or not wrong.any():
        return ""
    # (only for errors that fill whole samples: a hard-coded index, not a wrong formula)
    per_sample = wrong.reshape(wrong.shape[0], -1).mean(axis=1)
    if per_sample[0] == 0 and np.all(per_sample[1:] >= 0.9):
        return ("right for the first sample of the batch only: is a sample index or the batch "
                "size hard-coded?")
    if per_sample[0] >= 0.9 and not per_sample[1:].any():
        return "wrong for the first sample of the batch only"
    return ""


def window_coverage(size, kernel, stride, padding, out_size) -> np.ndarray:
    """How many windows cover each input position along one axis."""
    count = np.zeros(size, dtype=np.int64)
    for i in range(out_size):
        start = i * stride - padding
        count[max(start, 0):max(min(start + kernel, size), 0)] += 1
    return count


def locate_windows(wrong, geometry, side) -> str:
    """Where a wrong (N, C, H, W) array is wrong, for windowed layers (conv, pooling).

    ``geometry``: ``(kh, kw, sh, sw, ph, pw, H, W, Ho, Wo)``; ``side``: "input" (dx) or
    "output" (out)."""
    if wrong is None or wrong.ndim != 4 or not wrong.any():
        return ""
    kh, kw, sh, sw, ph, pw, height, width, out_h, out_w = geometry
    where = wrong.any(axis=(0, 1))                          # (rows, cols) that are wrong
    if side == "input" and where.shape == (height, width):
        cover = window_coverage(height, kh, sh, ph, out_h)[:, None] * \
            window_coverage(width, kw, sw, pw, out_w)[None, :]
        if cover.max() >= 2 and not where[cover < 2].any():
            return ("dx is wrong only where windows overlap (inputs that several windows "
                    "share): the gradients of overlapping windows add up (+=, not =)")
        if (cover == 0).any() and not where[cover > 0].any():
            return ("dx is wrong only at inputs that no window covers (the last rows/columns "
                    "when the stride does not fit): their gradient is 0")
        if ph or pw:
            border = np.zeros_like(where)
            border[:ph], border[height - ph:] = True, True
            border[:, :pw], border[:, width - pw:] = True, True
            if not where[~border].any():
                return ("dx wrong only on the border rows and columns: look at the padding "
                        "(pad the input, and drop the padded border from dx)")
    if side == "output" and where.shape == (out_h, out_w):
        rows = np.arange(out_h) * sh - ph
        cols = np.arange(out_w) * sw - pw
        touches = ((rows < 0) | (rows + kh > height))[:, None] | \
            ((cols < 0) | (cols + kw > width))[None, :]
        if (ph or pw) and touches.any() and not where[~touches].any():
            return ("out wrong only for windows that reach into the padding: look at the "
                    "padding (what the padded positions hold, and what they count for)")
        last = np.zeros_like(where)
        last[-1, :], last[:, -1] = True, True
        if (out_h > 1 or out_w > 1) and not where[~last].any():
            return ("out wrong only in the last output row/column: check where the last "
                    "window starts and ends")
        if (sh > 1 or sw > 1) and not where[0, 0] and where.any():
            first = np.zeros_like(where)
            first[0, :] = sh > 1
            first[:, 0] |= sw > 1
            if not where[first].any():
                return ("right for the first row/column of windows only: window (i, j) starts "
                        "at (i*stride, j*stride)")
    return ""


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
