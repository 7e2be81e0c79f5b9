"""The checks of the pooling tasks: max and average pooling, forward and backward (the
max-pool checks include tied maxima: the first maximum in row-major window order wins)."""

from __future__ import annotations

import numpy as np

from minicnn.assignments.checks.base import TAG_HINTS, distinct_values
from minicnn.assignments.checks.function_task import FunctionTask, array_arg, encode_arg
from minicnn.assignments.checks.windows import Windowed, as_pair, output_size, window_geometry


class PoolTask(Windowed, FunctionTask):
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
        kh, kw = as_pair(p["k"])
        stride = p.get("stride")
        sh, sw = as_pair(stride if stride is not None else p["k"])
        ph, pw = as_pair(p.get("padding", 0))
        out_shape = (p["N"], p["C"], output_size(p["H"], kh, sh, ph),
                     output_size(p["W"], kw, sw, pw))
        kwargs = {"stride": encode_arg(tuple(stride) if isinstance(stride, list) else stride),
                  "padding": encode_arg(p.get("padding", 0))}
        k = tuple(p["k"]) if isinstance(p["k"], list) else p["k"]
        return {"x": x}, [array_arg("x"), encode_arg(k)], kwargs, out_shape

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
        kh, kw, *_ = window_geometry(case.params)
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

    kh, kw, sh, sw, ph, pw, *_ = window_geometry(params)
    padded = np.pad(x.astype(np.float64), ((0, 0), (0, 0), (ph, ph), (pw, pw)),
                    constant_values=-np.inf)
    windows = sliding_window_view(padded, (kh, kw), axis=(2, 3))[:, :, ::sh, ::sw]
    top = windows.max(axis=(-2, -1), keepdims=True)
    return (windows == top).sum(axis=(-2, -1)) > 1
