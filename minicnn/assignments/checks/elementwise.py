"""The checks of the elementwise and linear tasks: ReLU, Linear and (inverted) dropout."""

from __future__ import annotations

import numpy as np

from minicnn.assignments.checks.base import TAG_HINTS, Case, CheckResult, TaskSpec
from minicnn.assignments.checks.compare import (compare_output, decode_value, error_result,
                                                locate_common, max_relative_error,
                                                output_type_check, read_json_array)
from minicnn.assignments.checks.function_task import FunctionTask, array_arg, judge_backward


class LinearTask(FunctionTask):
    forward = "linear_forward"
    backward = "linear_backward"
    grad_names = ("dx", "dweight", "dbias")
    grad_args = (0, 1, 2)
    cache_names = ("x", "weight", "bias")

    def make_inputs(self, p, rng, dtype):
        n, fin, fout = p["N"], p["in"], p["out"]
        arrays = {"x": rng.standard_normal((n, fin)).astype(dtype),
                  "weight": (rng.standard_normal((fout, fin)) / np.sqrt(fin)).astype(dtype),
                  "bias": rng.standard_normal(fout).astype(dtype)}
        return arrays, [array_arg("x"), array_arg("weight"), array_arg("bias")], {}, (n, fout)

    def public_params(self):
        base = [dict(name="basic", N=4, **{"in": 5, "out": 3}),
                dict(name="batch1", N=1, **{"in": 7, "out": 2}, tags=("batch1",)),
                dict(name="float32", N=3, **{"in": 6, "out": 4}, dtype="float32")]
        if self.mode == "backward":
            base.append(dict(name="finite_difference", N=2, **{"in": 3, "out": 2},
                             finite_difference=True))
        return base


class ReluTask(FunctionTask):
    forward = "relu_forward"
    backward = "relu_backward"
    grad_names = ("dx",)
    grad_args = (0,)
    cache_names = ("x",)

    def make_inputs(self, p, rng, dtype):
        shape = tuple(p["shape"])
        x = rng.standard_normal(shape)
        x = np.where(np.abs(x) < 0.05, 0.1, x)                  # no kink within h of 0 ...
        if p.get("zeros"):                                      # ... except exactly on it
            x = np.where(rng.random(shape) < p["zeros"], 0.0, x)
        return {"x": x.astype(dtype)}, [array_arg("x")], {}, shape

    def locate(self, case, what, wrong):
        x = case.arrays["x"]
        if wrong is not None and wrong.shape == x.shape and (x == 0).any() and \
                not wrong[x != 0].any():
            return f"{what} wrong only where x is exactly 0: " + TAG_HINTS["zeros"]
        return locate_common(case, wrong)

    def public_params(self):
        base = [dict(name="4d", shape=(2, 3, 4, 4)), dict(name="2d", shape=(5, 7)),
                dict(name="float32", shape=(3, 4), dtype="float32")]
        if self.mode == "backward":
            base.append(dict(name="finite_difference", shape=(2, 6), finite_difference=True))
        return base


class DropoutTask(TaskSpec):
    """Dropout is random, so it is checked by its properties, not against a reference's
    output: every element is either dropped (0) or kept and scaled by 1/(1-p); the fraction
    dropped is p (within 5 standard deviations); the same rng seed gives the same mask;
    evaluation and p == 0 return x, p == 1 returns zeros; the cache is ``(mask,)``, the
    scaled mask that gave the output (x's dtype), or None when dropout was the identity.
    The backward earns its points with the reference forward's mask (dx = dout * mask); with
    the student's own forward it must apply that forward's mask (reported)."""

    def __init__(self, task, mode):
        super().__init__(task)
        self.mode = mode

    def public_params(self):
        return [dict(name="p0.5", shape=(64, 100), p=0.5),
                dict(name="p0.2_4d", shape=(8, 4, 10, 10), p=0.2),
                dict(name="eval", shape=(6, 7), p=0.5, training=False, tags=("eval",)),
                dict(name="float32", shape=(50, 80), p=0.3, dtype="float32")]

    def build_case(self, p, rng):
        dtype = np.dtype(p.get("dtype", "float64"))
        shape = tuple(p["shape"])
        x = (rng.uniform(0.5, 1.5, shape) * rng.choice([-1.0, 1.0], shape)).astype(dtype)
        arrays = {"x": x, "dout": rng.standard_normal(shape).astype(dtype)}
        seed = int(rng.integers(2 ** 31))
        training = bool(p.get("training", True))
        name = p["name"]
        tags = frozenset(p.get("tags", ())) | ({"float32"} if dtype == np.float32 else set())

        def fwd(seed_):
            return {"module": "minicnn.functional", "forward": "dropout_forward",
                    "args": [array_arg("x"), {"v": p["p"]}, {"v": training}, {"rng": seed_}],
                    "kwargs": {}}

        if self.mode == "forward":
            calls = [dict(fwd(seed), id=f"{name}/forward", describe=True),
                     dict(fwd(seed), id=f"{name}/same_seed"),
                     dict(fwd(seed + 1), id=f"{name}/other_seed")]
        else:
            refcache = {"id": f"{name}/refcache", "module": "minicnn.functional",
                        "forward": None, "backward": "dropout_backward", "dout": "dout",
                        "ref_cache": name}
            calls = [dict(fwd(seed), id=f"{name}/pair", backward="dropout_backward",
                          dout="dout"), refcache]
            if p.get("timed"):
                calls, tags = [refcache], tags | {"realistic"}
        params = dict(p, seed=seed)
        return Case(name, tags, arrays, calls, params)

    def prepare(self, case, ref):
        from minicnn.assignments.checks.base import backward_budget

        if self.mode == "backward":
            p = case.params
            _, cache = ref.dropout_forward(case.arrays["x"].copy(), p["p"],
                                           bool(p.get("training", True)),
                                           np.random.default_rng(p["seed"]))
            case.ref_caches = {case.name: cache}
            if case.timed:
                case.budget = backward_budget(
                    lambda: ref.dropout_backward(case.arrays["dout"].copy(), cache))

    def expected(self, case, ref):
        if self.mode != "backward":
            return {}
        p = case.params
        _, cache = ref.dropout_forward(case.arrays["x"].copy(), p["p"],
                                       bool(p.get("training", True)),
                                       np.random.default_rng(p["seed"]))
        return {"dx_refcache": np.asarray(ref.dropout_backward(case.arrays["dout"].copy(),
                                                               cache))}

    def _check_out(self, case, out):
        """Properties of one forward output; returns (results, keep mask or None)."""
        p = case.params["p"]
        x = case.arrays["x"]
        dtype = x.dtype
        if out.shape != x.shape:
            return [CheckResult(case.name, "out", False,
                                detail=f"shape {out.shape}, expected {x.shape}")], None
        results = []
        if not case.params.get("training", True) or p == 0:
            err = max_relative_error(out, x)
            results.append(CheckResult(case.name, "out", err == 0.0, err,
                                       detail="evaluation mode (or p = 0) must return x "
                                              "unchanged",
                                       hint="in evaluation (or with p = 0) dropout is the "
                                            "identity: return x"))
            return results, None
        tol = 1e-6 if dtype == np.float64 else 1e-5
        scale = 1.0 / (1.0 - p) if p < 1 else 0.0
        ratio = out.astype(np.float64) / x.astype(np.float64)
        dropped = ratio == 0
        kept_ok = np.abs(ratio - scale) <= tol * scale
        unscaled = np.abs(ratio - 1.0) <= tol
        bad = ~(dropped | kept_ok)
        if np.any(bad):
            if np.all(dropped | unscaled):
                results.append(CheckResult(
                    case.name, "out (scaling)", False,
                    detail=f"kept values equal x; inverted dropout scales them by 1/(1-p) = "
                           f"{scale:.3g} during training",
                    hint="dropout not rescaled: divide the kept values by (1 - p) so that the "
                         "expected output equals x"))
            else:
                results.append(CheckResult(
                    case.name, "out (scaling)", False,
                    detail=f"{int(bad.sum())} element(s) are neither 0 nor x/(1-p)"))
        else:
            results.append(CheckResult(case.name, "out (0 or x/(1-p))", True))
        frac = float(dropped.mean())
        sigma = np.sqrt(p * (1 - p) / dropped.size)
        ok = abs(frac - p) <= 5 * sigma + 1e-12
        hint = ""
        if not ok and abs(frac - (1 - p)) <= 5 * sigma:
            hint = "p is the probability of DROPPING (zeroing) a unit, not of keeping it"
        results.append(CheckResult(case.name, "fraction dropped", ok, None,
                                   detail=f"{frac:.3f} of the units were zeroed, expected "
                                          f"p = {p} (+- {5 * sigma:.3f})", hint=hint))
        if dtype == np.float32:
            results.append(CheckResult(case.name, "dtype of out", out.dtype == dtype,
                                       detail=f"{out.dtype} for {dtype} input", kind="dtype",
                                       hint=TAG_HINTS["float32"]))
        return results, ~dropped

    def judge(self, case, outcomes, expected):
        name = case.name
        if self.mode == "forward":
            first = outcomes[f"{name}/forward"]
            if not first.ok:
                return [error_result(case, "out", first)]
            out = first.outputs.get("out")
            if out is None:
                return [error_result(case, "out", first)]
            results, _ = self._check_out(case, out)
            results += output_type_check(case, "out", first)
            results += self._check_cache(case, first, out)
            # (p == 1 drops everything whatever the seed: nothing random to check)
            training = case.params.get("training", True) and 0 < case.params["p"] < 1
            if training:
                same = outcomes[f"{name}/same_seed"]
                other = outcomes[f"{name}/other_seed"]
                if same.ok and other.ok:
                    results.append(CheckResult(
                        name, "same seed, same mask",
                        np.array_equal(same.outputs.get("out"), out),
                        detail="two calls with Generators of the same seed gave different "
                               "outputs", hint="draw the random numbers from the rng argument "
                                               "only (rng.random(...)), never np.random.*"))
                    results.append(CheckResult(
                        name, "uses the rng", not np.array_equal(other.outputs.get("out"), out),
                        detail="a Generator with another seed gave the same output",
                        hint="draw the mask from the rng argument (rng.random(...))"))
            return results
        # backward: dx = dout * mask, on the reference forward's mask (that earns the points)
        # and on the student's own forward's (reported)
        ref = outcomes.get(f"{name}/refcache")

        def grads(outcome):
            if outcome is ref:
                if not outcome.ok:
                    return False, [error_result(case, "backward", outcome)]
                results = compare_output(case, "dx", outcome.outputs.get("grad0"),
                                   expected["dx_refcache"])
            else:
                results = self._judge_pair(case, outcome)
            return all(r.passed for r in results if r.kind == "value"), results

        return judge_backward(case, outcomes, grads)

    def _check_cache(self, case, outcome, out):
        """The cache is ``(mask,)``: None when dropout was the identity, else the scaled
        keep mask that gave ``out`` (entries 0 or 1/(1-p), x's shape and dtype)."""
        p, x = case.params["p"], case.arrays["x"]
        identity = not case.params.get("training", True) or p == 0
        meta = read_json_array(outcome.outputs.get("meta"))
        try:
            cache = decode_value(meta.get("cache"), outcome.outputs) \
                if isinstance(meta, dict) and "cache" in meta else None
        except ValueError:
            cache = None
        if not (isinstance(cache, (tuple, list)) and len(cache) == 1):
            detail = (meta or {}).get("cache_error") if isinstance(meta, dict) else None
            return [CheckResult(case.name, "cache", False,
                                detail=detail or "the cache must be the 1-tuple (mask,)")]
        mask = cache[0]
        hint = ("cache = (mask,), mask the SCALED keep mask (0 or 1/(1-p), x's dtype), or "
                "None when dropout is the identity")
        if identity:
            return [CheckResult(case.name, "cache: mask", mask is None, hint=hint,
                                detail="dropout was the identity: the mask is None")]
        if not isinstance(mask, np.ndarray) or mask.shape != x.shape:
            return [CheckResult(case.name, "cache: mask", False, hint=hint,
                                detail=f"expected an array of x's shape {x.shape}")]
        scale = 1.0 / (1.0 - p) if p < 1 else 0.0
        mask64 = mask.astype(np.float64)
        values_ok = bool(np.all((mask64 == 0) | np.isclose(mask64, scale, rtol=1e-6)))
        consistent = max_relative_error(x.astype(np.float64) * mask64, out) <= 1e-6
        results = [CheckResult(case.name, "cache: mask", values_ok and consistent, hint=hint,
                               detail="entries must be 0 or 1/(1-p)" if not values_ok else
                               "x * mask must be the output")]
        if mask.dtype != x.dtype:
            results.append(CheckResult(case.name, "dtype of cache: mask", False, kind="dtype",
                                       detail=f"{mask.dtype} for {x.dtype} input",
                                       hint=TAG_HINTS["float32"]))
        return results

    def _judge_pair(self, case, outcome):
        if not outcome.ok:
            return [error_result(case, "backward", outcome)]
        out = outcome.outputs.get("out")
        dx = outcome.outputs.get("grad0")
        x, dout = case.arrays["x"], case.arrays["dout"]
        p = case.params["p"]
        if dx is None or out is None or dx.shape != x.shape or out.shape != x.shape:
            return [CheckResult(case.name, "dx", False,
                                detail=f"dx shape {getattr(dx, 'shape', None)}, expected "
                                       f"{x.shape}")]
        if not case.params.get("training", True) or p == 0:
            want = dout.astype(np.float64)
        else:
            keep = out != 0
            want = dout.astype(np.float64) * keep / (1.0 - p) if p < 1 else 0.0 * dout
        return compare_output(case, "dx", dx, want, hint=(
            "dx = dout * mask, with the same scaled mask (keep / (1-p)) as the forward pass"))
