"""The check spec of the explanation tasks: ``saliency`` and ``grad_cam`` on a small CNN.

A case is a small convolutional network (a ``Sequential`` of the student's own layers:
Conv2d, optionally BatchNorm2d, ReLU, MaxPool2d, a second Conv2d and ReLU, Flatten, Dropout,
Linear), its weights (drawn here, loaded with ``load_state_dict``), a batch of images and the
keyword arguments of the call (target, SmoothGrad's samples/noise/seed, Grad-CAM's layer,
upsample). The child builds the model from that description and calls
``minicnn.explain.<function>(model, x, **kwargs)``; the map it returns is compared with the
reference's. The model is left in training mode before the call: a correct explanation runs
it in evaluation mode itself (BatchNorm's running statistics, no dropout).

These tasks run the student's whole backward chain (the layers' backward passes), so a
broken layer task shows up here too; the message then names the layer task that is missing.

params: name, N, C, H, W, classes, batch_norm (bool), dtype, kwargs (of the call), tags.
"""

from __future__ import annotations

import numpy as np

from minicnn.assignments.checks import Case, CheckResult, TaskSpec, _compare, _error_result

HIDDEN_CHANNELS = (4, 6)        # the two conv layers' output channels


def model_layers(p) -> list:
    """The layer list of the case's model: ``[[class name, keyword arguments], ...]``."""
    first, second = HIDDEN_CHANNELS
    layers = [["Conv2d", {"in_channels": p["C"], "out_channels": first, "kernel_size": 3,
                          "padding": 1}]]
    if p.get("batch_norm", True):
        layers.append(["BatchNorm2d", {"num_features": first}])
    layers += [["ReLU", {}], ["MaxPool2d", {"kernel_size": 2}],
               ["Conv2d", {"in_channels": first, "out_channels": second, "kernel_size": 3,
                           "padding": 1}],
               ["ReLU", {}], ["Flatten", {}], ["Dropout", {"p": 0.3}],
               ["Linear", {"in_features": second * (p["H"] // 2) * (p["W"] // 2),
                           "out_features": p["classes"]}]]
    return layers


def model_state(p, rng, dtype) -> dict:
    """``{state_dict key: array}`` for ``model_layers(p)``: weights scaled by 1/sqrt(fan-in),
    BatchNorm running statistics away from (0, 1) so evaluation mode matters."""
    state = {}
    for index, (name, kwargs) in enumerate(model_layers(p)):
        if name == "Conv2d":
            fan_in = kwargs["in_channels"] * 9
            shape = (kwargs["out_channels"], kwargs["in_channels"], 3, 3)
            state[f"{index}.weight"] = rng.standard_normal(shape) / np.sqrt(fan_in)
            state[f"{index}.bias"] = 0.1 * rng.standard_normal(kwargs["out_channels"])
        elif name == "BatchNorm2d":
            c = kwargs["num_features"]
            state[f"{index}.weight"] = rng.uniform(0.5, 1.5, c)
            state[f"{index}.bias"] = 0.2 * rng.standard_normal(c)
            state[f"{index}.running_mean"] = 0.3 * rng.standard_normal(c)
            state[f"{index}.running_var"] = rng.uniform(0.5, 2.0, c)
            state[f"{index}.num_batches_tracked"] = np.array(10)
        elif name == "Linear":
            fan_in = kwargs["in_features"]
            state[f"{index}.weight"] = (rng.standard_normal((kwargs["out_features"], fan_in))
                                        / np.sqrt(fan_in))
            state[f"{index}.bias"] = 0.1 * rng.standard_normal(kwargs["out_features"])
    return {key: (value if key.endswith("num_batches_tracked") else value.astype(dtype))
            for key, value in state.items()}


class ExplainTask(TaskSpec):
    """``minicnn.explain.saliency`` / ``grad_cam`` on a small CNN of the student's layers."""

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
                "module": self.module, "function": self.function, "layers": model_layers(p),
                "dtype": dtype.name, "state": state, "x": "x",
                "kwargs": {k: (v if isinstance(v, dict) else {"v": v})
                           for k, v in kwargs.items()}}
        tags = frozenset(p.get("tags", ())) | ({"float32"} if dtype == np.float32 else set())
        return Case(p["name"], tags, arrays, [call], dict(p))

    def expected(self, case, ref) -> dict:
        from minicnn.assignments._child import execute_call

        return execute_call(case.calls[0], case.arrays)       # the grader's own explain

    def judge(self, case, outcomes, expected) -> list[CheckResult]:
        outcome = outcomes[case.calls[0]["id"]]
        what = "saliency map" if self.function == "saliency" else "Grad-CAM map"
        if not outcome.ok:
            return [_error_result(case, what, outcome)]
        return _compare(case, what, outcome.outputs.get("out"), expected["out"],
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
                dict(base, name="first_conv_no_upsample",
                     kwargs={"layer": "0", "upsample": False}, tags=("layer",))]
