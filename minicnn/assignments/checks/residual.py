"""The check of the residual block task: ``BasicBlock.backward`` of ``minicnn.models``.

Graded: everything the block's docstring says of its backward. The input gradient it returns
and the gradient it leaves in every parameter (conv1, bn1, conv2, bn2 and, with a projection
shortcut, downsample's 1x1 conv and BatchNorm), for the identity shortcut and for the
projection (a change of channels at stride 1, and stride 2), in float64 and float32, against
the reference block's on the same inputs, and against finite differences of the block's
forward in float64. And, as for every layer's backward:

- the parameter gradients accumulate: each layer's backward ADDS into ``Parameter.grad``
  (``zero_grad`` is the caller's job), so every case runs a second forward + backward and
  compares the gradients after both;
- ``dout`` is left as it was, and dx is an array of its own: after the call the check
  overwrites dout and everything the layers cached, and dx must not change (the layer
  before, or the next batch, may reuse them).

One bug costs once, hence ``requires=()``: the block's backward calls its layers' backward,
in a student copy the student's conv, BatchNorm and ReLU tasks. The check runs none of them:
it grades the block with each layer replaced by a stand-in of its own
(``grading.child.check_block``: smooth tanh and softplus maps that keep each layer's place,
shapes, parameter names and backward contract, and compute no task's answer), and it runs the
forward itself (``grading.child.block_forward``, the docstring's formula through the
stand-ins), so the student's backward gets caches the check made, as a functional backward
gets the reference forward's cache. A layer bug costs its own task, this task needs no other
written, and the audit finds no other task's region run by these checks. (Notebook 11 runs the
student's block on the student's own layers.)

Not forgeable beyond what ``base`` promises (expected values are the grader's, computed in
its own process, and never reach the child; the child gets copies of the inputs): the
gradients are read from the check's own ``Parameter`` objects, not from whatever the block's
attributes hold after the call; a stand-in refuses a second backward for one forward, as a
real layer does; the verdicts walk the reference's outputs, so a missing one fails; and one
realistic-size case runs alone within a time budget, so finite differences of the forward
cannot stand in for the backward.

params: name, in_planes, planes, N, H, W, stride (default 1), dtype, finite_difference,
timed, tags.
"""

from __future__ import annotations

import numpy as np

from minicnn.assignments.checks.base import (FD_STEP, Case, CheckResult, TaskSpec,
                                             backward_budget)
from minicnn.assignments.checks.compare import compare_output, error_result

MAIN_PARAMS = ("conv1.weight", "bn1.weight", "bn1.bias", "conv2.weight", "bn2.weight",
               "bn2.bias")
SHORTCUT_PARAMS = ("downsample.0.weight", "downsample.1.weight", "downsample.1.bias")

#: Shown for a wrong dx when nothing more specific is known (evaluate.GENERIC_HINT_PREFIXES).
DX_HINT = ("the block's dx: d_sum = relu_out.backward(dout); dx = main.backward(d_sum) + "
           "shortcut.backward(d_sum), x feeds both paths")
ADD_HINT = ("the parameters' gradients are right but dx is not: x feeds both paths, so dx is "
            "the SUM of what the main path and the shortcut return")
SECOND_CALL_HINT = ("the first backward is right but the second is not: each layer's backward "
                    "ADDS into Parameter.grad (zero_grad is the caller's job) and every layer "
                    "runs its backward once per forward")
ORDER_HINT = ("the main path's gradients are right for bn2 and conv2 but not below them: "
              "its backward runs the layers in reverse order (bn2, conv2, relu, bn1, conv1), "
              "each on what the one after it returned")
D_SUM_HINT = ("bn2's gradients are wrong too, and d_sum is all they depend on: d_sum = "
              "relu_out.backward(dout), the ReLU after the sum, exactly once")


def projection(p) -> bool:
    """Whether the case's block has the projection shortcut ``downsample``."""
    return p.get("stride", 1) != 1 or p["in_planes"] != p["planes"]


def param_names(p) -> tuple:
    """The block's parameters, in state-dict order."""
    return MAIN_PARAMS + (SHORTCUT_PARAMS if projection(p) else ())


class ResidualBlockTask(TaskSpec):
    """``block.backward(dout)`` on the check's block (see the module docstring)."""

    module = "minicnn.models"

    def build_case(self, p, rng) -> Case:
        dtype = np.dtype(p.get("dtype", "float64"))
        stride, planes = p.get("stride", 1), p["planes"]
        out_shape = (p["N"], planes, -(-p["H"] // stride), -(-p["W"] // stride))
        arrays, state = {}, {}
        for name in param_names(p):
            if name.endswith("bias"):
                value = 0.3 * rng.standard_normal(planes)
            elif name.startswith(("bn", "downsample.1")):
                value = rng.uniform(0.5, 1.5, planes)
            else:                                   # a conv's two taps per output map
                value = rng.uniform(0.4, 1.0, (planes, 2)) * rng.choice([-1, 1], (planes, 2))
            arrays[f"state/{name}"] = value.astype(dtype)
            state[name] = f"state/{name}"
        rounds = 1 if p.get("finite_difference") or p.get("timed") else 2
        for r in range(rounds):
            arrays[f"x{r}"] = rng.standard_normal(
                (p["N"], p["in_planes"], p["H"], p["W"])).astype(dtype)
            arrays[f"dout{r}"] = rng.standard_normal(out_shape).astype(dtype)
        call = {"id": f"{p['name']}/backward", "kind": "residual_block", "module": self.module,
                "in_planes": p["in_planes"], "planes": planes, "stride": stride,
                "dtype": dtype.name, "state": state,
                "rounds": [[f"x{r}", f"dout{r}"] for r in range(rounds)]}
        tags = frozenset(p.get("tags", ())) | ({"float32"} if dtype == np.float32 else set())
        tags |= {"projection" if projection(p) else "identity"}
        if p.get("timed"):
            tags |= {"realistic"}
        return Case(p["name"], tags, arrays, [call], dict(p))

    # reference ------------------------------------------------------------------------
    def prepare(self, case, ref) -> None:
        from minicnn.assignments.grading.child import execute_call

        if case.timed:
            case.budget = backward_budget(lambda: execute_call(case.calls[0], case.arrays))

    def expected(self, case, ref) -> dict:
        """The reference block's outputs (``grading.child.execute_call`` in this process, on
        the grader's own ``minicnn.models``); for a finite-difference case, the gradients are
        central differences of ``sum(block(x) * dout)`` instead."""
        from minicnn.assignments.grading.child import execute_call

        result = execute_call(case.calls[0], case.arrays)
        if case.params.get("finite_difference"):
            result.update(self._numerical(case, ref))
        return result

    def _numerical(self, case, ref) -> dict:
        import minicnn.nn as nn
        from minicnn.assignments.grading.child import block_forward, check_block
        from minicnn.gradcheck import numerical_gradient

        _, layers, params, _ = check_block(case.calls[0], case.arrays, np, nn, ref)
        x = np.array(case.arrays["x0"], dtype=np.float64)
        dout = case.arrays["dout0"].astype(np.float64)

        def loss():
            return block_forward(layers, x)

        grads = {"0/dx": numerical_gradient(loss, x, dout, h=FD_STEP)}
        for name, param in params:
            grads[f"0/{name}"] = numerical_gradient(loss, param.data, dout, h=FD_STEP)
        return grads

    # judging ----------------------------------------------------------------------------
    def judge(self, case, outcomes, expected) -> list[CheckResult]:
        call = case.calls[0]
        outcome = outcomes[call["id"]]
        if not outcome.ok:
            return [error_result(case, "backward", outcome)]
        got, fd = outcome.outputs, bool(case.params.get("finite_difference"))
        results = []
        for r, (_, dout_name) in enumerate(call["rounds"]):
            values = self._gradients(case, got, expected, r, fd)
            # a second call repeats the first one's dtypes: judged once
            results += [v for v in values if not (r and v.kind == "dtype")]
            results += self._side_effects(case, got, r, dout_name)
            if not all(v.passed for v in results if v.kind == "value"):
                break                   # a second call would only repeat the first's errors
        return results

    def _gradients(self, case, got, expected, r, fd) -> list[CheckResult]:
        """dx and every parameter's gradient after call ``r`` (0: the first)."""
        names = param_names(case.params)
        wrong = [name for name in names if not _close(got.get(f"{r}/{name}"),
                                                      expected[f"{r}/{name}"], case, fd)]
        dx_hint = ADD_HINT if not wrong else (D_SUM_HINT if "bn2.bias" in wrong else DX_HINT)
        results = compare_output(case, "dx (2nd call)" if r else "dx", got.get(f"{r}/dx"),
                                 expected[f"{r}/dx"], fd=fd,
                                 hint=SECOND_CALL_HINT if r else dx_hint)
        for name in names:
            what = "parameter grads (2 calls)" if r else f"{name}.grad"
            hint = SECOND_CALL_HINT if r else _grad_hint(name, got.get(f"{r}/{name}"), wrong)
            results += compare_output(case, what, got.get(f"{r}/{name}"),
                                      expected[f"{r}/{name}"], fd=fd, hint=hint)
        return results

    @staticmethod
    def _side_effects(case, got, r, dout_name) -> list[CheckResult]:
        """dout left as it was; dx unchanged when the check overwrote dout and the caches."""
        dout, dx, later = (got.get(f"{r}/{k}") for k in ("dout", "dx", "dx_later"))
        results = [CheckResult(
            case.name, "dout left unchanged",
            dout is not None and np.array_equal(dout, case.arrays[dout_name]),
            detail="the backward changed the caller's dout in place",
            hint="leave dout alone: d_sum = relu_out.backward(dout) is a new array, "
                 "add into that (or into a copy), never into dout")]
        if dx is not None and later is not None:
            results.append(CheckResult(
                case.name, "dx is its own array", np.array_equal(dx, later, equal_nan=True),
                detail="dx changed when dout and the layers' caches were overwritten after "
                       "the call: it shares their memory",
                hint="return a new array (d_main + d_shortcut), not dout or a view of it"))
        return results

    # cases ------------------------------------------------------------------------------
    def public_params(self) -> list[dict]:
        return [dict(name="identity", in_planes=3, planes=3, N=2, H=5, W=5),
                dict(name="projection_channels", in_planes=2, planes=4, N=2, H=5, W=4),
                dict(name="projection_stride2", in_planes=3, planes=3, N=2, H=6, W=6,
                     stride=2, tags=("stride2",)),
                dict(name="float32_stride2", in_planes=2, planes=3, N=2, H=6, W=5, stride=2,
                     dtype="float32", tags=("stride2",)),
                dict(name="finite_difference", in_planes=2, planes=3, N=2, H=4, W=4,
                     stride=2, finite_difference=True, tags=("stride2",))]


def _close(got, want, case, fd) -> bool:
    return bool(got is not None and all(r.passed for r in compare_output(
        case, "", got, want, fd=fd) if r.kind == "value"))


def _grad_hint(name, got, wrong) -> str:
    """A parameter's gradient is wrong: say which path the error is on."""
    if name in SHORTCUT_PARAMS and got is not None and not np.any(got):
        return ("downsample's parameters got no gradient: the shortcut's gradient is "
                "downsample.backward(d_sum), through its 1x1 conv AND its BatchNorm")
    if got is not None and not np.any(got):
        return f"{name} got no gradient: the backward never reached its layer"
    if name.startswith("bn2"):
        return D_SUM_HINT
    if name.startswith(("bn1", "conv1")) and not any(n.startswith(("bn2", "conv2"))
                                                      for n in wrong):
        return ORDER_HINT
    return ""
