"""The checks of the BatchNorm tasks: forward (training and evaluation, running estimates
updated in place) and backward (its three paths through x_hat, the mean and the variance)."""

from __future__ import annotations

import numpy as np

from minicnn.assignments.checks.function_task import FunctionTask, array_arg


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
        args = [array_arg("x"), array_arg("weight"), array_arg("bias"),
                array_arg("running_mean"), array_arg("running_var"),
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
