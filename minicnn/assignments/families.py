"""The check specs of each task family: how inputs are made and what is compared.

The *public* parameter grids live here (they ship with a student copy); the hidden grids
used for grading live in :mod:`minicnn.assignments.hidden`, which is left out of a release.
"""

from __future__ import annotations

import numpy as np

from minicnn.assignments.checks import (TAG_HINTS, Case, CheckResult, FunctionTask, TaskSpec,
                                        _compare, _enc, _error_result, distinct_values,
                                        judge_backward, locate_common, locate_windows,
                                        output_type_check, read_json_array, rel_error)


def _out_size(size, kernel, stride, padding):
    return (size + 2 * padding - kernel) // stride + 1


def _pair(value):
    return tuple(value) if isinstance(value, (tuple, list)) else (value, value)


def _a(name):
    return {"a": name}


# ------------------------------------------------------------------------------ conv2d


class _Windowed:
    """Conv and pooling: say where a wrong ``out`` or ``dx`` is wrong (the border, where
    windows overlap, the last row, ...), from the case's window geometry."""

    def locate(self, case, what, wrong):
        if what in ("dx", "out"):
            side = "input" if what == "dx" else "output"
            return locate_windows(wrong, _geometry(case.params), side) or \
                locate_common(case, wrong)
        return locate_common(case, wrong)


class Conv2dTask(_Windowed, FunctionTask):
    """``conv2d_forward(x, weight, bias, stride, padding, method=METHOD)`` and its backward.

    params: name, N, C, H, W, F (out channels), k (int or (kH, kW)), stride, padding, tags.
    """

    forward = "conv2d_forward"
    backward = "conv2d_backward"
    grad_names = ("dx", "dweight", "dbias")
    grad_args = (0, 1, 2)
    cache_names = ("method", "saved", "weight", "stride", "padding", "x_shape", "has_bias")

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

    def cache_hint(self, case, problem):
        if problem.field == "saved" and self.method == "im2col":
            return ("the cache's columns are what the backward multiplies with: "
                    "cols[(c, u, v), (n, i, j)] = X_pad[n, c, i*s_h + u, j*s_w + v], shape "
                    "(C_in*kH*kW, N*H_out*W_out), as im2col builds them")
        return ""


def _geometry(p):
    """``(kh, kw, sh, sw, ph, pw, H, W, H_out, W_out)`` of a conv or pooling case."""
    kh, kw = _pair(p["k"])
    stride = p.get("stride")
    sh, sw = _pair(stride if stride is not None else p["k"])
    ph, pw = _pair(p.get("padding", 0))
    return (kh, kw, sh, sw, ph, pw, p["H"], p["W"], _out_size(p["H"], kh, sh, ph),
            _out_size(p["W"], kw, sw, pw))


# ------------------------------------------------------------------------------ pooling


class PoolTask(_Windowed, FunctionTask):
    """``max_pool2d_forward`` / ``avg_pool2d_forward(x, kernel_size, stride, padding)``.

    params: name, N, C, H, W, k, stride (None: kernel), padding, tags, ties (max backward).
    """

    grad_names = ("dx",)
    grad_args = (0,)

    def __init__(self, task, mode, kind):
        super().__init__(task, mode)
        self.kind = kind
        self.cache_names = (("x_shape", "argmax", "kernel_size", "stride", "padding")
                            if kind == "max" else ("x_shape", "kernel_size", "stride", "padding"))
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

    def cache_hint(self, case, problem):
        if problem.field != "argmax" or problem.got is None:
            return ""
        got, want = problem.got, problem.want
        kh, kw, *_ = _geometry(case.params)
        if want.max() >= kh * kw and got.max() < kh * kw:
            return ("argmax holds positions inside each window; the docstring asks for flat "
                    "indices u*W + v into the input's (n, c) plane")
        tied = tied_windows(case.arrays["x"], case.params)
        if tied.any() and not np.any((got != want) & ~tied):
            return "argmax wrong only in windows with tied maxima: " + TAG_HINTS["ties"]
        return ("argmax[n, c, i, j] = u*W + v: the flat index, in the input's (n, c) plane, of "
                "the input position that won window (i, j)")


def tied_windows(x, params) -> np.ndarray:
    """(N, C, H_out, W_out) mask: the windows whose maximum is held by several positions."""
    from numpy.lib.stride_tricks import sliding_window_view

    kh, kw, sh, sw, ph, pw, *_ = _geometry(params)
    padded = np.pad(x.astype(np.float64), ((0, 0), (0, 0), (ph, ph), (pw, pw)),
                    constant_values=-np.inf)
    windows = sliding_window_view(padded, (kh, kw), axis=(2, 3))[:, :, ::sh, ::sw]
    top = windows.max(axis=(-2, -1), keepdims=True)
    return (windows == top).sum(axis=(-2, -1)) > 1


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
    cache_names = ("x", "mean", "inv_std", "weight", "bias", "training")

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
            ref = outcomes.get(f"{case.name}/refcache")
            out = ref if ref is not None and not ref.skipped else outcomes.get(
                f"{case.name}/pair")
            for r in results:
                if r.what == "dx" and not r.passed and out is not None and out.ok and \
                        "grad0" in out.outputs:
                    r.hint = self._dx_hint(out.outputs["grad0"], expected["dx"]) or r.hint
        else:
            outcome = outcomes[case.calls[0]["id"]]
            for r in results:
                if r.what in self.save_names and not r.passed and outcome.ok:
                    r.hint = self._running_hint(case, r.what, outcome) or r.hint
        return results

    def _running_hint(self, case, name, outcome):
        index = self.save_args[self.save_names.index(name)]
        got = outcome.outputs.get(f"arg{index}")
        if got is not None and np.array_equal(got, case.arrays[name]) and \
                case.params.get("training", True):
            return (f"{name} was not changed: update it IN PLACE (running_mean[...] = ...), "
                    f"rebinding the name leaves the caller's array as it was")
        if not case.params.get("training", True):
            return "in evaluation mode the running statistics are used, and left unchanged"
        if name == "running_var":
            return ("running_var takes the UNBIASED batch variance, sigma^2 * m / (m - 1), "
                    "weighted by momentum")
        return "running_mean = (1 - momentum) * running_mean + momentum * mu_c"

    def cache_hint(self, case, problem):
        if problem.field == "inv_std" and problem.got is not None:
            with np.errstate(divide="ignore", invalid="ignore"):
                if np.allclose(problem.got.astype(np.float64) * problem.want, 1.0, rtol=1e-3):
                    return ("inv_std is the INVERSE of the standard deviation, "
                            "1 / sqrt(sigma^2 + eps), not the standard deviation")
            return ("inv_std = 1 / sqrt(sigma^2 + eps), with the batch's biased variance in "
                    "training and running_var in evaluation")
        if problem.field == "mean":
            return "mean is the mu_c used to normalise: the batch's in training, running_mean " \
                   "in evaluation"
        if problem.field == "training":
            return "the cache's training flag is the bool the forward was called with"
        return ""

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
    cache_names = ("x", "weight", "bias")

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
    cache_names = ("x",)

    def make_inputs(self, p, rng, dtype):
        shape = tuple(p["shape"])
        x = rng.standard_normal(shape)
        x = np.where(np.abs(x) < 0.05, 0.1, x)                  # no kink within h of 0 ...
        if p.get("zeros"):                                      # ... except exactly on it
            x = np.where(rng.random(shape) < p["zeros"], 0.0, x)
        return {"x": x.astype(dtype)}, [_a("x")], {}, shape

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


# ------------------------------------------------------------------------------ cross-entropy


class CrossEntropyTask(FunctionTask):
    forward = "cross_entropy_forward"
    backward = "cross_entropy_backward"
    grad_names = ("dlogits",)
    grad_args = (0,)
    out_name = "loss"
    scalar_loss = True
    cache_names = ("probs", "labels", "weight", "label_smoothing")

    def cache_hint(self, case, problem):
        if problem.field == "probs":
            return ("probs are the softmax probabilities exp(log p), (N, K), of the logits' "
                    "dtype")
        return ""

    def make_inputs(self, p, rng, dtype):
        n, k = p["N"], p["K"]
        logits = rng.standard_normal((n, k)) * p.get("scale", 1.0)
        arrays = {"logits": logits.astype(dtype),
                  "labels": rng.integers(0, k, size=n).astype(np.int64)}
        kwargs = {}
        if p.get("weighted"):
            arrays["weight"] = rng.uniform(0.2, 2.0, k).astype(dtype)
            kwargs["weight"] = _a("weight")
        if p.get("smoothing"):
            kwargs["label_smoothing"] = {"v": float(p["smoothing"])}
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
                    "args": [_a("x"), {"v": p["p"]}, {"v": training}, {"rng": seed_}],
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
        from minicnn.assignments.checks import backward_budget

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
            err = rel_error(out, x)
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
                return [_error_result(case, "out", first)]
            out = first.outputs.get("out")
            if out is None:
                return [_error_result(case, "out", first)]
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
                    return False, [_error_result(case, "backward", outcome)]
                results = _compare(case, "dx", outcome.outputs.get("grad0"),
                                   expected["dx_refcache"])
            else:
                results = self._judge_pair(case, outcome)
            return all(r.passed for r in results if r.kind == "value"), results

        return judge_backward(case, outcomes, grads)

    def _check_cache(self, case, outcome, out):
        """The cache is ``(mask,)``: None when dropout was the identity, else the scaled
        keep mask that gave ``out`` (entries 0 or 1/(1-p), x's shape and dtype)."""
        from minicnn.assignments.checks import decode_value

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
        consistent = rel_error(x.astype(np.float64) * mask64, out) <= 1e-6
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
            want = dout.astype(np.float64) * keep / (1.0 - p) if p < 1 else 0.0 * dout
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
        for key in sorted(expected, key=lambda k: (int(k.split("/")[0][4:]), k)):
            step, _, param = key.partition("/")
            # one name per step (the parameters of a step are reported together)
            results.extend(_compare(case, f"parameters after step {int(step[4:]) + 1}",
                                    outcome.outputs.get(key), expected[key]))
        first_bad = next((r for r in results if not r.passed and r.kind == "value"), None)
        first = "parameters after step 1"
        if first_bad is not None and first_bad.what != first and \
                all(r.passed for r in results if r.what == first and r.kind == "value"):
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
