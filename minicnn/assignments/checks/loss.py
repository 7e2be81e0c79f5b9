"""The checks of the cross-entropy tasks: forward (stable log-softmax, class weights, label
smoothing) and backward."""

from __future__ import annotations

import numpy as np

from minicnn.assignments.checks.function_task import FunctionTask, array_arg


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
            kwargs["weight"] = array_arg("weight")
        if p.get("smoothing"):
            kwargs["label_smoothing"] = {"v": float(p["smoothing"])}
        return arrays, [array_arg("logits"), array_arg("labels")], kwargs, None

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
