"""The checks of a functional pair: a forward task, or a backward task, of ``minicnn.functional``.

:class:`FunctionTask` builds a case's calls (the forward, described as data; or the backward
on the reference forward's cache, plus the student's own forward + backward pair), computes
the reference's values (finite differences of the reference forward, through
``minicnn.gradcheck.numerical_gradient``, for the cases that ask for them), and judges what
came back: values, dtypes, the cache field by field, in-place updates.
"""

from __future__ import annotations

import numpy as np

from minicnn.assignments.checks.base import (FD_STEP, Case, CheckResult, TaskSpec,
                                             backward_budget, dtype_of)
from minicnn.assignments.checks.compare import (REF_LAYOUT, CacheProblem, compare_caches,
                                                compare_output, decode_value, encode_reference,
                                                error_result, locate_common, output_type_check,
                                                read_json_array)

def encode_arg(value):
    """Encode an argument for the child (see ``grading.child`` for the format)."""
    if value is None:
        return {"none": 1}
    if isinstance(value, tuple):
        return {"t": [encode_arg(v) if isinstance(v, (tuple, type(None))) else v for v in value]}
    return {"v": value}


def array_arg(name):
    """The argument spec of the case's array ``name``."""
    return {"a": name}


def decode_args(specs, arrays):
    """Decode argument specs exactly as the child does (for running the reference)."""
    from minicnn.assignments.grading.child import decode_arg

    return [decode_arg(s, arrays, np) for s in specs]


def decode_kwargs(specs, arrays):
    from minicnn.assignments.grading.child import decode_arg

    return {k: decode_arg(s, arrays, np) for k, s in specs.items()}


def numerical_gradients(forward, args, kwargs, wrt, dout, h=FD_STEP):
    """Central finite differences (``minicnn.gradcheck.numerical_gradient``) of
    ``sum(forward(*args)[0] * dout)`` w.r.t. ``args[i]`` for each ``i`` in ``wrt``
    (``dout=None``: the output is a scalar loss). Every call gets fresh copies of the array
    arguments (a forward may update one in place, as BatchNorm's running estimates)."""
    from minicnn.gradcheck import numerical_gradient

    def loss():
        return forward(*[a.copy() if isinstance(a, np.ndarray) else a for a in args],
                       **kwargs)[0]

    return [numerical_gradient(loss, args[index], dout, h=h) for index in wrt]


class FunctionTask(TaskSpec):
    """A forward task, or a backward task (forward + backward pair), of a functional pair.

    Subclasses define ``forward``, ``backward``, ``grad_names`` (names of what backward
    returns), ``grad_args`` (the positional argument each gradient is with respect to),
    ``cache_names`` (the documented cache's fields, for messages),
    ``make_inputs(params, rng, dtype) -> (arrays, args, kwargs, out_shape)`` (argument
    specs as in ``grading.child``) and ``public_params()``; ``locate`` and ``cache_hint`` may say
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
        call = forward_call_of(case)
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
                call = forward_call_of(case)
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
            return False, [error_result(case, "backward", outcome)]
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
            results.extend(compare_output(case, name, grad, expected[name], fd=fd,
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
        problems = compare_caches(got, want, self.cache_names, dtype_of(case))
        if not problems:
            return [CheckResult(case.name, "cache", True)]
        return [CheckResult(case.name, f"cache: {p.field}", False, detail=p.message,
                            kind=p.kind, hint=self.cache_hint(case, p) or CACHE_HINT)
                for p in problems]

    def judge(self, case, outcomes, expected):
        if self.mode == "forward":
            outcome = outcomes[case.calls[0]["id"]]
            if not outcome.ok:
                return [error_result(case, self.out_name, outcome)]
            results = compare_output(case, self.out_name, outcome.outputs.get("out"),
                               expected[self.out_name],
                               locate=lambda w, m: self.locate(case, w, m))
            results += output_type_check(case, self.out_name, outcome)
            for index, name in zip(self.save_args, self.save_names):
                results.extend(compare_output(case, name, outcome.outputs.get(f"arg{index}"),
                                        expected[name],
                                        locate=lambda w, m: self.locate(case, w, m)))
            return results + self.judge_cache(case, outcome, expected)
        fd = bool(case.params.get("finite_difference"))
        return judge_backward(case, outcomes,
                              lambda outcome: self._judge_grads(case, outcome, expected, fd))


CACHE_HINT = ("the backward pass receives exactly the cache the forward returns: it must hold "
              "what the docstring lists, in that order, with the documented shapes and dtypes")


def forward_call_of(case) -> dict:
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
