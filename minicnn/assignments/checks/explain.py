"""The check spec of the explanation tasks: ``saliency`` and ``grad_cam`` on the check's model.

One bug costs once: these tasks are graded on a small model the check builds itself
(``grading.child.check_model``), not on the student's layers, so a layer bug (a transposed Linear
weight, a wrong conv backward) costs its own task and not these two. The model's layers are
``Conv2d`` by class (``minicnn.explain`` looks for a conv stage) but compute no convolution:
three map layers, each output map one input channel, subsampled (strides ``STRIDES``),
through a tanh, and a quadratic readout to the logits; none of it is a task's solution, and
nothing of it is named in the feedback. A case is that model's parameters (drawn here), a
batch of images and the keyword arguments of the call (target, SmoothGrad's samples, noise
and seed, Grad-CAM's layer, upsample); the child builds the model, leaves it in training
mode (a correct explanation switches to evaluation mode itself) and calls
``minicnn.explain.<function>(model, x, **kwargs)``; the map it returns is compared with the
reference's.

(Notebook 09 runs the student's explanations on the student's own layers: that is where a
class sees them work on a trained CNN.)

params: name, N, C, H, W, classes, dtype, kwargs (of the call), tags.
"""

from __future__ import annotations

import numpy as np

from minicnn.assignments.checks.base import Case, CheckResult, TaskSpec
from minicnn.assignments.checks.compare import compare_output, error_result

MAP_CHANNELS = (4, 6, 6)        # the three map layers' output channels
STRIDES = (1, 2, 1)             # their subsampling: layer "1" halves the maps


def map_size(size: int) -> int:
    """A map's height (width) after the layers: ``x[..., ::2]`` keeps ceil(size / 2)."""
    for stride in STRIDES:
        size = -(-size // stride)
    return size


def model_state(p, rng, dtype) -> dict:
    """``{name: array}``: each map layer's ``scale`` and ``shift`` (``"<i>.scale"``), and the
    readout's ``weight`` (classes, channels, h, w) and ``bias``."""
    state = {}
    for index, channels in enumerate(MAP_CHANNELS):
        state[f"{index}.scale"] = rng.uniform(0.5, 1.5, channels) * rng.choice([-1, 1], channels)
        state[f"{index}.shift"] = 0.3 * rng.standard_normal(channels)
    last = len(MAP_CHANNELS)
    shape = (p["classes"], MAP_CHANNELS[-1], map_size(p["H"]), map_size(p["W"]))
    state[f"{last}.weight"] = rng.standard_normal(shape) / np.sqrt(np.prod(shape[1:]))
    state[f"{last}.bias"] = 0.1 * rng.standard_normal(p["classes"])
    return {key: value.astype(dtype) for key, value in state.items()}


class ExplainTask(TaskSpec):
    """``minicnn.explain.saliency`` / ``grad_cam`` on the check's own model."""

    module = "minicnn.explain"

    def __init__(self, task: str, function: str):
        super().__init__(task)
        self.function = function

    def build_case(self, p, rng) -> Case:
        dtype = np.dtype(p.get("dtype", "float64"))
        arrays = {"x": rng.standard_normal((p["N"], p["C"], p["H"], p["W"])).astype(dtype)}
        state = {}
        for key, value in model_state(p, rng, dtype).items():
            arrays[f"state/{key}"] = value
            state[key] = f"state/{key}"
        kwargs = dict(p.get("kwargs", {}))
        if kwargs.get("target") == "per_image":
            arrays["target"] = rng.integers(0, p["classes"], size=p["N"]).astype(np.int64)
            kwargs["target"] = {"a": "target"}
        call = {"id": f"{p['name']}/{self.function}", "kind": "explain",
                "module": self.module, "function": self.function, "in_channels": p["C"],
                "strides": list(STRIDES), "dtype": dtype.name, "state": state, "x": "x",
                "kwargs": {k: (v if isinstance(v, dict) else {"v": v})
                           for k, v in kwargs.items()}}
        tags = frozenset(p.get("tags", ())) | ({"float32"} if dtype == np.float32 else set())
        return Case(p["name"], tags, arrays, [call], dict(p))

    def expected(self, case, ref) -> dict:
        from minicnn.assignments.grading.child import execute_call

        return execute_call(case.calls[0], case.arrays)       # the grader's own explain

    def judge(self, case, outcomes, expected) -> list[CheckResult]:
        outcome = outcomes[case.calls[0]["id"]]
        what = "saliency map" if self.function == "saliency" else "Grad-CAM map"
        if not outcome.ok:
            return [error_result(case, what, outcome)]
        return compare_output(case, what, outcome.outputs.get("out"), expected["out"],
                        hint=self._hint(case))

    def _hint(self, case) -> str:
        kwargs = case.params.get("kwargs", {})
        if self.function == "saliency":
            if kwargs.get("samples"):
                return ("SmoothGrad: sigma = noise * (max - min) of each image; one "
                        "rng.standard_normal(x.shape) per sample; the target is chosen on the "
                        "clean image; average the per-sample maps")
            return ("the map is max over channels of |dz_t / dx|, z_t the target's logit "
                    "(before softmax), from one forward and one backward pass")
        return ("alpha_k = mean over (i, j) of dz_t / dA_k; the map is ReLU(sum_k alpha_k A_k), "
                "of the chosen layer's output A")

    def public_params(self) -> list[dict]:
        base = dict(N=2, C=1, H=8, W=8, classes=4)
        if self.function == "saliency":
            return [dict(base, name="predicted_class"),
                    dict(base, name="given_target", kwargs={"target": 1}, tags=("target",)),
                    dict(base, name="two_channels", C=2, tags=("channels",)),
                    dict(base, name="smoothgrad", kwargs={"samples": 2, "noise": 0.2,
                                                           "rng": 7}, tags=("smoothgrad",))]
        return [dict(base, name="default_layer"),
                dict(base, name="given_target", kwargs={"target": 2}, tags=("target",)),
                dict(base, name="first_maps", kwargs={"layer": "0"}, tags=("layer",)),
                dict(base, name="halved_maps_no_upsample",
                     kwargs={"layer": "1", "upsample": False}, tags=("layer",))]
