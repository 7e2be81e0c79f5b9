"""How the arrays that came back are compared with the reference's.

Relative error, everywhere in the checks (``max_relative_error``)::

    max_relative_error(a, b) = max |a - b| / max(max |a|, max |b|, 1e-12)

(the largest difference, relative to the size of the values: it is not fooled by entries
that are near zero). It is an elementwise maximum, unlike ``minicnn.gradcheck.rel_error``
(norm-based: how much of a whole gradient is wrong), because a check must fail when any one
entry is wrong. A value passes below 1e-7 in float64 (1e-6 against a finite difference) and
2e-4 in float32.

Also here: a forward's cache as data (the child describes it as JSON and arrays; the grader
decodes it and compares it field by field with the reference's), and the hints that say
where in an array the error sits without saying what the answer is.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from minicnn.assignments.checks.base import (TAG_HINTS, CallOutcome, CheckResult, dtype_of,
                                             tolerance)

def max_relative_error(a, b) -> float:
    """The largest elementwise difference relative to the largest value,
    ``max|a - b| / max(max|a|, max|b|, 1e-12)``; inf when the shapes differ."""
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


def compare_output(case, what, got, want, *, fd=False, hint="", locate=None,
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
                            hint=shape_hint(got_arr.shape, want_arr.shape))]
    case_dtype = dtype_of(case)
    err = max_relative_error(got_arr, want_arr)
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


def shape_hint(got, want) -> str:
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


def error_result(case, what, outcome: CallOutcome) -> CheckResult:
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
    """The reference cache as arrays, in the child's own encoding
    (``grading.child.encode_value``)."""
    from minicnn.assignments.grading.child import encode_value

    layout, arrays = encode_value(value, np, prefix=prefix)
    arrays[REF_LAYOUT] = json_array(layout)
    return arrays


def decode_value(layout, arrays):
    """A value from its layout (the inverse of ``grading.child.encode_value``); anything malformed
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
        return Opaque(str(layout["other"]))
    raise ValueError("malformed cache description")


@dataclass(frozen=True)
class Opaque:
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
    return f"a {value.type_name}" if isinstance(value, Opaque) else type(value).__name__


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
                err = max_relative_error(g, w)
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
