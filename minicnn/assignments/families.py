"""The check specs of each task family: how inputs are made and what is compared.

The *public* parameter grids live here (they ship with a student copy); the hidden grids
used for grading live in :mod:`minicnn.assignments.hidden`, which is left out of a release.
"""

from __future__ import annotations

import numpy as np

from minicnn.assignments.checks import (TAG_HINTS, Case, CheckResult, FunctionTask, TaskSpec,
                                        _compare, _enc, _error_result, distinct_values,
                                        rel_error)


def _out_size(size, kernel, stride, padding):
    return (size + 2 * padding - kernel) // stride + 1


def _pair(value):
    return tuple(value) if isinstance(value, (tuple, list)) else (value, value)


def _a(name):
    return {"a": name}


# ------------------------------------------------------------------------------ conv2d


class Conv2dTask(FunctionTask):
    """``conv2d_forward(x, weight, bias, stride, padding, method=METHOD)`` and its backward.

    params: name, N, C, H, W, F (out channels), k (int or (kH, kW)), stride, padding, tags.
    """

    forward = "conv2d_forward"
    backward = "conv2d_backward"
    grad_names = ("dx", "dweight", "dbias")
    grad_args = (0, 1, 2)

    def __init__(self, task, mode, method):
        super().__init__(task, mode)
        self.method = method

    def make_inputs(self, p, rng, dtype):
        kh, kw = _pair(p["k"])
        sh, sw = _pair(p.get("stride", 1))
        ph, pw = _pair(p.get("padding", 0))
        arrays = {"x": rng.standard_normal((p["N"], p["C"], p["H"], p["W"])).astype(dtype),
                  "weight": (rng.standard_normal((p["F"], p["C"], kh, kw))
                             / np.sqrt(p["C"] * kh * kw)).astype(dtype),
                  "bias": rng.standard_normal(p["F"]).astype(dtype)}
        stride = p.get("stride", 1)
        padding = p.get("padding", 0)
        kwargs = {"stride": _enc(tuple(stride) if isinstance(stride, list) else stride),
                  "padding": _enc(tuple(padding) if isinstance(padding, list) else padding),
                  "method": {"v": self.method}}
        out_shape = (p["N"], p["F"], _out_size(p["H"], kh, sh, ph), _out_size(p["W"], kw, sw, pw))
        return arrays, [_a("x"), _a("weight"), _a("bias")], kwargs, out_shape

    def public_params(self):
        base = [
            dict(name="basic_k3", N=2, C=3, H=5, W=5, F=4, k=3),
            dict(name="stride2_pad1", N=2, C=2, H=7, W=7, F=3, k=3, stride=2, padding=1,
                 tags=("stride", "padding")),
            dict(name="batch1_nonsquare", N=1, C=2, H=6, W=5, F=2, k=(3, 2),
                 tags=("batch1", "nonsquare")),
            dict(name="float32", N=2, C=3, H=6, W=6, F=4, k=3, padding=1, dtype="float32",
                 tags=("padding",)),
        ]
        if self.mode == "backward":
            base.append(dict(name="finite_difference", N=1, C=2, H=5, W=4, F=2, k=3, stride=2,
                             padding=1, finite_difference=True, tags=("stride", "padding")))
        return base


# ------------------------------------------------------------------------------ pooling


class PoolTask(FunctionTask):
    """``max_pool2d_forward`` / ``avg_pool2d_forward(x, kernel_size, stride, padding)``.

    params: name, N, C, H, W, k, stride (None: kernel), padding, tags, ties (max backward).
    """

    grad_names = ("dx",)
    grad_args = (0,)

    def __init__(self, task, mode, kind):
        super().__init__(task, mode)
        self.kind = kind
        self.forward = f"{kind}_pool2d_forward"
        self.backward = f"{kind}_pool2d_backward"

    def make_inputs(self, p, rng, dtype):
        shape = (p["N"], p["C"], p["H"], p["W"])
        if p.get("ties"):
            x = rng.integers(0, 3, size=shape).astype(dtype)      # many tied maxima
        elif self.kind == "max":
            x = distinct_values(rng, shape, dtype)
        else:
            x = rng.standard_normal(shape).astype(dtype)
        kh, kw = _pair(p["k"])
        stride = p.get("stride")
        sh, sw = _pair(stride if stride is not None else p["k"])
        ph, pw = _pair(p.get("padding", 0))
        out_shape = (p["N"], p["C"], _out_size(p["H"], kh, sh, ph), _out_size(p["W"], kw, sw, pw))
        kwargs = {"stride": _enc(tuple(stride) if isinstance(stride, list) else stride),
                  "padding": _enc(p.get("padding", 0))}
        k = tuple(p["k"]) if isinstance(p["k"], list) else p["k"]
        return {"x": x}, [_a("x"), _enc(k)], kwargs, out_shape

    def public_params(self):
        base = [
            dict(name="k2_s2", N=2, C=3, H=4, W=4, k=2, stride=2),
            dict(name="k3_s2_overlap", N=2, C=2, H=7, W=7, k=3, stride=2,
                 tags=("stride", "overlap")),
            dict(name="k3_s1_pad1", N=1, C=2, H=5, W=6, k=3, stride=1, padding=1,
                 tags=("overlap", "padding", "batch1", "nonsquare")),
            dict(name="float32", N=2, C=2, H=6, W=6, k=2, stride=None, dtype="float32"),
        ]
        if self.mode == "backward":
            base.append(dict(name="finite_difference", N=1, C=2, H=5, W=5, k=3, stride=2,
                             padding=1, finite_difference=True,
                             tags=("stride", "overlap", "padding")))
            if self.kind == "max":
                base.append(dict(name="tied_maxima", N=2, C=2, H=6, W=6, k=2, stride=2,
                                 ties=True, tags=("ties",)))
        return base

    def judge(self, case, outcomes, expected):
        if not case.params.get("ties") or self.mode != "backward":
            return super().judge(case, outcomes, expected)
        pair = self._judge_ties(case, outcomes[case.calls[0]["id"]])
        if all(r.passed for r in pair):
            return pair
        ref = self._judge_ties(case, outcomes[case.calls[1]["id"]])
        return ref if all(r.passed for r in ref) else pair

    def _judge_ties(self, case, outcome):
        """Non-overlapping windows with tied maxima: in each window, the gradient must go,
        whole, to exactly one of the maximal positions."""
        if not outcome.ok:
            return [_error_result(case, "backward", outcome)]
        dx = outcome.outputs.get("grad0")
        x = case.arrays["x"]
        dout = case.arrays["dout"]
        if dx is None or dx.shape != x.shape:
            return [CheckResult(case.name, "dx", False,
                                detail=f"shape {getattr(dx, 'shape', None)}, expected {x.shape}")]
        k = case.params["k"]
        n, c, ho, wo = dout.shape
        spread = wrong_place = lost = 0
        for i in range(ho):
            for j in range(wo):
                win_x = x[:, :, i * k:(i + 1) * k, j * k:(j + 1) * k].reshape(n, c, -1)
                win_dx = dx[:, :, i * k:(i + 1) * k, j * k:(j + 1) * k].reshape(n, c, -1)
                is_max = win_x == win_x.max(axis=2, keepdims=True)
                nonzero = win_dx != 0
                spread += int(np.sum(nonzero.sum(axis=2) > 1))
                wrong_place += int(np.sum(nonzero & ~is_max))
                lost += int(np.sum(~np.isclose(win_dx.sum(axis=2), dout[:, :, i, j],
                                               rtol=1e-6, atol=1e-9)))
        results = []
        if spread:
            results.append(CheckResult(
                case.name, "dx (tied maxima)", False,
                detail=f"in {spread} window(s) with tied maxima the gradient went to more than "
                       f"one position",
                hint="send each window's gradient to ONE maximum only (the first one, as "
                     "argmax does), not to every tied maximum"))
        if wrong_place:
            results.append(CheckResult(case.name, "dx (tied maxima)", False,
                                       detail=f"{wrong_place} gradient entries landed on a "
                                              f"position that is not a maximum of its window"))
        if lost and not spread:
            results.append(CheckResult(case.name, "dx (tied maxima)", False,
                                       detail=f"in {lost} window(s) dx does not add up to dout"))
        if not results:
            results.append(CheckResult(case.name, "dx (tied maxima)", True))
        return results


# ------------------------------------------------------------------------------ batch norm


class BatchNormTask(FunctionTask):
    """``batch_norm_forward(x, weight, bias, running_mean, running_var, training, momentum,
    eps)`` and its backward. params: name, shape, training, momentum, eps, tags."""

    forward = "batch_norm_forward"
    backward = "batch_norm_backward"
    grad_names = ("dx", "dweight", "dbias")
    grad_args = (0, 1, 2)
    save_args = (3, 4)
    save_names = ("running_mean", "running_var")

    def make_inputs(self, p, rng, dtype):
        shape = tuple(p["shape"])
        channels = shape[1]
        x = (rng.standard_normal(shape) * 2.0 + rng.standard_normal(channels).reshape(
            (1, channels) + (1,) * (len(shape) - 2)) * 3.0).astype(dtype)
        arrays = {"x": x,
                  "weight": rng.uniform(0.5, 1.5, channels).astype(dtype),
                  "bias": rng.standard_normal(channels).astype(dtype),
                  "running_mean": rng.standard_normal(channels).astype(dtype),
                  "running_var": rng.uniform(0.5, 2.0, channels).astype(dtype)}
        args = [_a("x"), _a("weight"), _a("bias"), _a("running_mean"), _a("running_var"),
                {"v": bool(p.get("training", True))}]
        kwargs = {"momentum": {"v": p.get("momentum", 0.1)}, "eps": {"v": p.get("eps", 1e-5)}}
        return arrays, args, kwargs, shape

    def public_params(self):
        base = [
            dict(name="train_4d", shape=(4, 3, 5, 5), training=True, tags=("4d", "training")),
            dict(name="train_2d", shape=(8, 5), training=True, tags=("2d", "training")),
            dict(name="train_float32", shape=(3, 2, 4, 4), training=True, dtype="float32",
                 tags=("4d", "training")),
        ]
        if self.mode == "forward":
            base.append(dict(name="eval_4d", shape=(2, 3, 4, 4), training=False,
                             tags=("4d", "eval")))
        else:
            base.append(dict(name="finite_difference", shape=(3, 2, 3, 2), training=True,
                             finite_difference=True, tags=("4d", "training")))
        return base

    def judge(self, case, outcomes, expected):
        results = super().judge(case, outcomes, expected)
        if self.mode == "backward":
            out = outcomes[case.calls[0]["id"]]
            for r in results:
                if r.what == "dx" and not r.passed and out.ok and "grad0" in out.outputs:
                    r.hint = self._dx_hint(out.outputs["grad0"], expected["dx"]) or r.hint
        return results

    @staticmethod
    def _dx_hint(got, want):
        """Recognise the classic mistakes from the shape of the error."""
        if got.shape != want.shape:
            return ""
        diff = (got.astype(np.float64) - want).reshape(got.shape[0], got.shape[1], -1)
        per_channel = diff.transpose(1, 0, 2).reshape(got.shape[1], -1)
        spread = np.max(np.abs(per_channel - per_channel.mean(axis=1, keepdims=True)))
        size = np.max(np.abs(per_channel))
        if size > 0 and spread <= 1e-6 * size:
            return ("the error is the same for every element of a channel: the term through "
                    "the batch mean (- sum(dout) / m) is missing or wrong")
        return ("dx has three paths: through x_hat directly, through the batch mean and "
                "through the batch variance; check each term")


# ------------------------------------------------------------------------------ linear, relu


class LinearTask(FunctionTask):
    forward = "linear_forward"
    backward = "linear_backward"
    grad_names = ("dx", "dweight", "dbias")
    grad_args = (0, 1, 2)

    def make_inputs(self, p, rng, dtype):
        n, fin, fout = p["N"], p["in"], p["out"]
        arrays = {"x": rng.standard_normal((n, fin)).astype(dtype),
                  "weight": (rng.standard_normal((fout, fin)) / np.sqrt(fin)).astype(dtype),
                  "bias": rng.standard_normal(fout).astype(dtype)}
        return arrays, [_a("x"), _a("weight"), _a("bias")], {}, (n, fout)

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

    def make_inputs(self, p, rng, dtype):
        shape = tuple(p["shape"])
        x = rng.standard_normal(shape)
        x = np.where(np.abs(x) < 0.05, 0.1, x).astype(dtype)      # no kink within h of 0
        return {"x": x}, [_a("x")], {}, shape

    def public_params(self):
        base = [dict(name="4d", shape=(2, 3, 4, 4)), dict(name="2d", shape=(5, 7)),
                dict(name="float32", shape=(3, 4), dtype="float32")]
        if self.mode == "backward":
            base.append(dict(name="finite_difference", shape=(2, 6), finite_difference=True))
        return base


# ------------------------------------------------------------------------------ cross-entropy


class CrossEntropyTask(FunctionTask):
    forward = "cross_entropy_forward"
    backward = "cross_entropy_backward"
    grad_names = ("dlogits",)
    grad_args = (0,)
    out_name = "loss"
    scalar_loss = True

    def make_inputs(self, p, rng, dtype):
        n, k = p["N"], p["K"]
        logits = rng.standard_normal((n, k)) * p.get("scale", 1.0)
        arrays = {"logits": logits.astype(dtype),
                  "labels": rng.integers(0, k, size=n).astype(np.int64)}
        kwargs = {}
        if p.get("weighted"):
            arrays["weight"] = rng.uniform(0.2, 2.0, k).astype(dtype)
            kwargs["weight"] = _a("weight")
        return arrays, [_a("logits"), _a("labels")], kwargs, None

    def public_params(self):
        base = [dict(name="basic", N=5, K=4),
                dict(name="batch1", N=1, K=10, tags=("batch1",)),
                dict(name="weighted", N=6, K=3, weighted=True, tags=("weighted",)),
                dict(name="large_logits", N=4, K=5, scale=300.0, tags=("large_logits",)),
                dict(name="float32", N=4, K=6, dtype="float32")]
        if self.mode == "backward":
            base.append(dict(name="finite_difference", N=3, K=4, weighted=True,
                             finite_difference=True, tags=("weighted",)))
        return base


# ------------------------------------------------------------------------------ dropout


class DropoutTask(TaskSpec):
    """Dropout is random, so it is checked by its properties, not against a reference's
    output: every element is either dropped (0) or kept and scaled by 1/(1-p); the fraction
    dropped is p (within 5 standard deviations); the same rng seed gives the same mask;
    evaluation and p == 0 return x; backward applies exactly the forward's scaled mask."""

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
                    "args": [_a("x"), {"v": p["p"]}, {"v": training}, {"rng": seed_}],
                    "kwargs": {}}

        if self.mode == "forward":
            calls = [dict(fwd(seed), id=f"{name}/forward"),
                     dict(fwd(seed), id=f"{name}/same_seed"),
                     dict(fwd(seed + 1), id=f"{name}/other_seed")]
        else:
            calls = [dict(fwd(seed), id=f"{name}/pair", backward="dropout_backward",
                          dout="dout"),
                     {"id": f"{name}/refcache", "module": "minicnn.functional", "forward": None,
                      "backward": "dropout_backward", "dout": "dout", "ref_cache": name}]
        params = dict(p, seed=seed)
        return Case(name, tags, arrays, calls, params)

    def prepare(self, case, ref):
        if self.mode == "backward":
            p = case.params
            _, cache = ref.dropout_forward(case.arrays["x"].copy(), p["p"],
                                           bool(p.get("training", True)),
                                           np.random.default_rng(p["seed"]))
            case.ref_caches = {case.name: cache}

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
            err = rel_error(out, x)
            results.append(CheckResult(case.name, "out", err == 0.0, err,
                                       detail="evaluation mode (or p = 0) must return x "
                                              "unchanged",
                                       hint="in evaluation (or with p = 0) dropout is the "
                                            "identity: return x"))
            return results, None
        tol = 1e-6 if dtype == np.float64 else 1e-5
        scale = 1.0 / (1.0 - p)
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
                return [_error_result(case, "out", first)]
            out = first.outputs.get("out")
            results, _ = self._check_out(case, out)
            training = case.params.get("training", True) and case.params["p"] > 0
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
        # backward: dx must be dout * (the scaled keep mask of the same forward call)
        pair = outcomes[f"{name}/pair"]
        results = self._judge_pair(case, pair)
        if all(r.passed for r in results):
            return results
        ref = outcomes[f"{name}/refcache"]
        if ref.ok and "grad0" in ref.outputs:
            ref_results = _compare(case, "dx", ref.outputs["grad0"], expected["dx_refcache"])
            if all(r.passed for r in ref_results if r.kind == "value"):
                for r in ref_results:
                    r.detail = "with the reference forward's cache"
                return ref_results
        return results

    def _judge_pair(self, case, outcome):
        if not outcome.ok:
            return [_error_result(case, "backward", outcome)]
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
            want = dout.astype(np.float64) * keep / (1.0 - p)
        return _compare(case, "dx", dx, want, hint=(
            "dx = dout * mask, with the same scaled mask (keep / (1-p)) as the forward pass"))


# ------------------------------------------------------------------------------ optimizers


class OptimizerTask(TaskSpec):
    """``opt = Optimizer(params, **kwargs)``; ``steps`` times: set each ``p.grad``, call
    ``opt.step()``; the parameter values after every step are compared with the reference's.

    params: name, optimizer ("SGD", "Adam", "AdamW"), kwargs, shapes, steps, dtype, tags.
    """

    module = "minicnn.optim"

    def build_case(self, p, rng):
        dtype = np.dtype(p.get("dtype", "float64"))
        arrays = {}
        names = []
        for i, shape in enumerate(p["shapes"]):
            arrays[f"p{i}"] = rng.standard_normal(tuple(shape)).astype(dtype)
            names.append(f"p{i}")
        grads = []
        for step in range(p.get("steps", 3)):
            step_names = []
            for i, shape in enumerate(p["shapes"]):
                arrays[f"g{step}_{i}"] = rng.standard_normal(tuple(shape)).astype(dtype)
                step_names.append(f"g{step}_{i}")
            grads.append(step_names)
        call = {"id": f"{p['name']}/steps", "kind": "optimizer", "module": self.module,
                "optimizer": p["optimizer"], "kwargs": dict(p.get("kwargs", {})),
                "params": names, "grads": grads}
        tags = frozenset(p.get("tags", ())) | ({"float32"} if dtype == np.float32 else set())
        return Case(p["name"], tags, arrays, [call], dict(p))

    def expected(self, case, ref):
        from minicnn.assignments._child import execute_call

        call = case.calls[0]
        return execute_call(call, case.arrays)      # the reference optimizer, in this process

    def judge(self, case, outcomes, expected):
        outcome = outcomes[case.calls[0]["id"]]
        if not outcome.ok:
            return [_error_result(case, "step()", outcome)]
        results = []
        for key in sorted(expected):
            step, _, param = key.partition("/")
            results.extend(_compare(case, f"{param} after {step}", outcome.outputs.get(key),
                                    expected[key]))
        first_bad = next((r for r in results if not r.passed and r.kind == "value"), None)
        if first_bad is not None and "step0" not in first_bad.what and \
                all(r.passed for r in results if "step0" in r.what and r.kind == "value"):
            first_bad.hint = ("the first step is right but later ones are not: check the state "
                              "kept between steps (momentum buffer / moments / step count)")
        return results

    def public_params(self):
        opt = self.task.split("_")[0]
        if opt == "sgd":
            return [dict(name="plain", optimizer="SGD", kwargs={"lr": 0.1}, shapes=[(3, 4), (4,)]),
                    dict(name="momentum", optimizer="SGD", kwargs={"lr": 0.05, "momentum": 0.9},
                         shapes=[(5,)], tags=("momentum",)),
                    dict(name="weight_decay", optimizer="SGD",
                         kwargs={"lr": 0.1, "momentum": 0.5, "weight_decay": 0.01},
                         shapes=[(2, 3)], tags=("momentum", "weight_decay"))]
        return [dict(name="adam", optimizer="Adam", kwargs={"lr": 0.01}, shapes=[(3, 4), (4,)]),
                dict(name="adam_weight_decay", optimizer="Adam",
                     kwargs={"lr": 0.01, "weight_decay": 0.1}, shapes=[(6,)],
                     tags=("weight_decay",)),
                dict(name="adamw", optimizer="AdamW", kwargs={"lr": 0.01, "weight_decay": 0.1},
                     shapes=[(2, 5)], tags=("weight_decay", "adamw"))]
