"""The checks of the convolution tasks: ``conv2d_forward``/``_backward`` with ``method="naive"``
(loops) and ``method="im2col"``. The hidden grids are in ``hidden_grids``."""

from __future__ import annotations

import numpy as np

from minicnn.assignments.checks.function_task import FunctionTask, array_arg, encode_arg
from minicnn.assignments.checks.windows import Windowed, as_pair, output_size


class Conv2dTask(Windowed, FunctionTask):
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
        kh, kw = as_pair(p["k"])
        sh, sw = as_pair(p.get("stride", 1))
        ph, pw = as_pair(p.get("padding", 0))
        arrays = {"x": rng.standard_normal((p["N"], p["C"], p["H"], p["W"])).astype(dtype),
                  "weight": (rng.standard_normal((p["F"], p["C"], kh, kw))
                             / np.sqrt(p["C"] * kh * kw)).astype(dtype),
                  "bias": rng.standard_normal(p["F"]).astype(dtype)}
        stride = p.get("stride", 1)
        padding = p.get("padding", 0)
        kwargs = {"stride": encode_arg(tuple(stride) if isinstance(stride, list) else stride),
                  "padding": encode_arg(tuple(padding) if isinstance(padding, list) else padding),
                  "method": {"v": self.method}}
        out_shape = (p["N"], p["F"], output_size(p["H"], kh, sh, ph),
                     output_size(p["W"], kw, sw, pw))
        return arrays, [array_arg("x"), array_arg("weight"), array_arg("bias")], kwargs, out_shape

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
