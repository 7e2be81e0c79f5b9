"""The checks of the optimizer tasks: ``SGD.step`` and ``Adam.step`` (AdamW's too)."""

from __future__ import annotations

import numpy as np

from minicnn.assignments.checks.base import Case, TaskSpec
from minicnn.assignments.checks.compare import compare_output, error_result


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
        from minicnn.assignments.grading.child import execute_call

        call = case.calls[0]
        return execute_call(call, case.arrays)      # the reference optimizer, in this process

    def judge(self, case, outcomes, expected):
        outcome = outcomes[case.calls[0]["id"]]
        if not outcome.ok:
            return [error_result(case, "step()", outcome)]
        results = []
        for key in sorted(expected, key=lambda k: (int(k.split("/")[0][4:]), k)):
            step, _, param = key.partition("/")
            # one name per step (the parameters of a step are reported together)
            results.extend(compare_output(case, f"parameters after step {int(step[4:]) + 1}",
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
