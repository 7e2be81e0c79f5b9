"""A student copy hands out no solution: no code left in it computes a released task's answer.

Each *cheat* below fills a task's solution region with a call to code that computes the same
answer another way (a Numba kernel, its NumPy twin, the im2col path from the loop tasks, the
fast convolution methods, Adam's fused update). In a release of that task the cheat must earn
nothing; the control case puts the same cheat into a copy where the reference code is still
there and shows it would earn full points, so the test can fail.
"""

import pytest

from minicnn.assignments.grading.grade import grade_submission
from minicnn.assignments.registry import (SAME_ANSWER, SOURCE_ROOT, TASKS, stubbed_with,
                                          verify_strips)
from minicnn.assignments.release import release, released_tasks

from assignment_helpers import SEED, inject, make_copy

pytestmark = pytest.mark.slow

_POOL_ARGS = ('kernel, stride, padding, (out_h, out_w) = pool_arguments(x, kernel_size, '
              'stride, padding, "{func}")\n')
_UNPACK_MAX = ('x_shape, argmax, kernel, stride, padding = cache\n')
_UNPACK_AVG = ('x_shape, kernel, stride, padding = cache\n')


def _conv_forward_via(method):
    return (f"import minicnn.functional as F\n"
            f"out, _ = F.conv2d_forward(x_padded, weight, bias, stride, 0, method={method!r})\n"
            f"return out")


def _conv_backward_via(method):
    return (f"import minicnn.functional as F\n"
            f"_, cache = F.conv2d_forward(x_padded, weight, None, stride, 0, method={method!r})\n"
            f"dx_padded, dweight, _ = F.conv2d_backward(dout, cache)\n"
            f"return dx_padded, dweight, dout.sum(axis=(0, 2, 3))")


def _im2col_forward_via(method):
    return (f"import minicnn.functional as F\n"
            f"out, _ = F.conv2d_forward(x, weight, bias, stride, padding, method={method!r})\n"
            f"from minicnn.kernels.conv import im2col_numpy\n"
            f"cols = im2col_numpy(np.ascontiguousarray(x), weight.shape[2], weight.shape[3], "
            f"*stride, *padding)\n"
            f"return out, cols")


def _fused(function, call):
    """The engine's fused version of the task, called in the region."""
    module = {"relu": "activation", "max": "pool", "avg": "pool", "batch": "norm"}[
        function.split("_")[0]]
    return f"from minicnn.fast.{module} import {function}_fused\n{call}"


# The direct sum (3x3, stride 1, padding 1) on X_pad without its outer ring: the answer
# wherever the case's filter is 3x3 with stride 1 and padding >= 1
_DIRECT_INNER = "inner = np.ascontiguousarray(x_padded[:, :, 1:-1, 1:-1])\n"
CONV_FORWARD_DIRECT = ("from minicnn.fast.conv.direct import conv2d_direct_forward\n"
                       + _DIRECT_INNER + "return conv2d_direct_forward(inner, weight, bias)[0]")
CONV_FORWARD_DIRECT_KERNEL = """
from minicnn.fast.conv.direct import flat_planes, plane_geometry
from minicnn.fast.kernels.conv_direct import correlate_3x3_numpy
inner = np.ascontiguousarray(x_padded[:, :, 1:-1, 1:-1])
n, _, height, width = inner.shape
out = np.empty((n, weight.shape[0], height, width), x_padded.dtype)
bias_values = np.zeros(weight.shape[0], x_padded.dtype) if bias is None else bias
correlate_3x3_numpy(flat_planes(inner)[None], weight, bias_values, *plane_geometry(height, width),
                    1, 0, n, out)
return out
"""
CONV_BACKWARD_DIRECT = """
from minicnn.fast.conv.direct import conv2d_direct_backward, flat_planes
inner = np.ascontiguousarray(x_padded[:, :, 1:-1, 1:-1])
dx, dweight, dbias = conv2d_direct_backward(dout, flat_planes(inner)[None], weight, inner.shape)
dx_padded = np.zeros_like(x_padded)
dx_padded[:, :, 1:-1, 1:-1] = dx
return dx_padded, dweight, dbias
"""
CONV_BACKWARD_DIRECT_KERNEL = """
from minicnn.fast.conv.direct import flat_planes, plane_geometry
from minicnn.fast.kernels.conv_direct import weight_gradient_3x3_numpy
inner = np.ascontiguousarray(x_padded[:, :, 1:-1, 1:-1])
n, _, height, width = inner.shape
pitch, image_size = plane_geometry(height, width)
grad = flat_planes(dout)
dweight = np.empty(weight.shape, dout.dtype)
weight_gradient_3x3_numpy(flat_planes(inner)[None], grad, pitch + 1, pitch, 1, 0, n * image_size,
                          dweight)
return np.zeros_like(x_padded), dweight, dout.sum(axis=(0, 2, 3))
"""
# dL/dX with stride 2, on phase planes, through its kernel's NumPy twin (the forward pass and
# dL/dW of stride 2 run correlate_3x3 and weight_gradient_3x3, whose twins are tried above)
CONV_BACKWARD_DIRECT_STRIDE2_KERNEL = """
from minicnn.fast.conv.direct import flat_planes, plane_geometry
from minicnn.fast.kernels.conv_direct import input_gradient_3x3_stride2_numpy
inner = np.ascontiguousarray(x_padded[:, :, 1:-1, 1:-1])
pitch, image_size = plane_geometry(*dout.shape[2:])
dx = np.empty(inner.shape, dout.dtype)
input_gradient_3x3_stride2_numpy(flat_planes(dout), weight, pitch, image_size, 0,
                                 inner.shape[0], dx)
dx_padded = np.zeros_like(x_padded)
dx_padded[:, :, 1:-1, 1:-1] = dx
return dx_padded, np.zeros_like(weight), dout.sum(axis=(0, 2, 3))
"""
CONV_BACKWARD_DIRECT_STRIDE2_PRODUCTS = """
from minicnn.fast.conv.direct import (_phase_matrices, _phase_products, flat_planes,
                                            plane_geometry)
inner = np.ascontiguousarray(x_padded[:, :, 1:-1, 1:-1])
dx = np.empty(inner.shape, dout.dtype)
_phase_products(flat_planes(dout), _phase_matrices(weight), weight.shape[0],
                *plane_geometry(*dout.shape[2:]), dx)
dx_padded = np.zeros_like(x_padded)
dx_padded[:, :, 1:-1, 1:-1] = dx
return dx_padded, np.zeros_like(weight), dout.sum(axis=(0, 2, 3))
"""

# The 5x5 direct sum (stride 1, padding 2), through its kernels' NumPy twins, on X_pad without
# its outer two rings: the answer wherever the case's filter is 5x5 with stride 1, padding 2
CONV_FORWARD_DIRECT_5X5_KERNEL = """
from minicnn.fast.conv.direct import flat_planes, plane_geometry
from minicnn.fast.kernels.conv_direct_5x5 import correlate_5x5_numpy
inner = np.ascontiguousarray(x_padded[:, :, 2:-2, 2:-2])
n, _, height, width = inner.shape
out = np.empty((n, weight.shape[0], height, width), x_padded.dtype)
bias_values = np.zeros(weight.shape[0], x_padded.dtype) if bias is None else bias
correlate_5x5_numpy(flat_planes(inner, padding=2), weight, bias_values,
                    *plane_geometry(height, width, 2), 0, n, out)
return out
"""
CONV_BACKWARD_DIRECT_5X5_KERNEL = """
from minicnn.fast.conv.direct import flat_planes, plane_geometry
from minicnn.fast.kernels.conv_direct_5x5 import weight_gradient_5x5_numpy
inner = np.ascontiguousarray(x_padded[:, :, 2:-2, 2:-2])
n, _, height, width = inner.shape
pitch, image_size = plane_geometry(height, width, 2)
dweight = np.empty(weight.shape, dout.dtype)
weight_gradient_5x5_numpy(flat_planes(inner, padding=2), flat_planes(dout, padding=2),
                          2 * pitch + 2, pitch, 0, n * image_size, dweight)
return np.zeros_like(x_padded), dweight, dout.sum(axis=(0, 2, 3))
"""

IM2COL_BACKWARD_LOOP_DX = """
from minicnn.kernels.conv import conv2d_loop_backward_input
n_batch, channels, height, width = x_shape
out_channels = weight.shape[0]
(pad_h, pad_w) = padding
dx_padded = conv2d_loop_backward_input(dout, weight, *stride, height + 2 * pad_h,
                                       width + 2 * pad_w)
dx = np.ascontiguousarray(dx_padded[:, :, pad_h:pad_h + height, pad_w:pad_w + width])
dout_matrix = dout.transpose(1, 0, 2, 3).reshape(out_channels, -1)
return dx, (dout_matrix @ cols.T).reshape(weight.shape), dout_matrix.sum(axis=1)
"""

ADAM_NUMPY_TWIN = """
from minicnn.fast.kernels.optim import adam_update_numpy
state["step"] += 1
t = state["step"]
adam_update_numpy(p.data.reshape(-1), p.grad.reshape(-1), m.reshape(-1), v.reshape(-1), lr,
                  beta1, beta2, eps, weight_decay, self._decoupled, 1 - beta1 ** t,
                  1 - beta2 ** t)
"""

CHEATS = {
    "relu_forward": {
        "fused": _fused("relu_forward", "out, cache = relu_forward_fused(x)"),
        "kernel": "from minicnn.fast.kernels.elementwise import relu_forward_kernel\n"
                  "out = relu_forward_kernel(x)\ncache = (x,)",
        "numpy_twin": "from minicnn.fast.kernels.elementwise import relu_forward_numpy\n"
                      "out = relu_forward_numpy(x)\ncache = (x,)",
    },
    "relu_backward": {
        "fused": _fused("relu_backward", "dx = relu_backward_fused(dout, cache)"),
        "numpy_twin": "from minicnn.fast.kernels.elementwise import relu_backward_numpy\n"
                      "dx = relu_backward_numpy(dout, x)",
    },
    "conv2d_forward": {
        "im2col": _conv_forward_via("im2col"),
        "loop_kernel": _conv_forward_via("loop"),
        "gemm": _conv_forward_via("gemm"),
        "fast": _conv_forward_via("fast"),
        "direct": CONV_FORWARD_DIRECT,
        "direct_numpy_twin": CONV_FORWARD_DIRECT_KERNEL,
        "direct_5x5_numpy_twin": CONV_FORWARD_DIRECT_5X5_KERNEL,
        "loop_numpy_twin": "from minicnn.kernels.conv import conv2d_loop_forward_numpy\n"
                           "out = conv2d_loop_forward_numpy(x_padded, weight, *stride)\n"
                           "return out if bias is None else out + bias.reshape(1, -1, 1, 1)",
    },
    "conv2d_backward": {
        "im2col": _conv_backward_via("im2col"),
        "loop_kernel": _conv_backward_via("loop"),
        "gemm": _conv_backward_via("gemm"),
        "fast": _conv_backward_via("fast"),
        "direct": CONV_BACKWARD_DIRECT,
        "direct_numpy_twin": CONV_BACKWARD_DIRECT_KERNEL,
        "direct_5x5_numpy_twin": CONV_BACKWARD_DIRECT_5X5_KERNEL,
        "direct_stride2_numpy_twin": CONV_BACKWARD_DIRECT_STRIDE2_KERNEL,
        "direct_stride2_products": CONV_BACKWARD_DIRECT_STRIDE2_PRODUCTS,
    },
    "conv2d_im2col_forward": {
        "engine": "from minicnn.fast.conv.im2col import conv2d_im2col_forward\n"
                  "return conv2d_im2col_forward(x, weight, bias, stride, padding)",
        "naive": _im2col_forward_via("naive"),
        "loop_kernel": _im2col_forward_via("loop"),
        "gemm": _im2col_forward_via("gemm"),
    },
    "conv2d_im2col_backward": {
        "engine": "from minicnn.fast.conv.im2col import conv2d_im2col_backward\n"
                  "return conv2d_im2col_backward(dout, cols, weight, stride, padding, x_shape)",
        "loop_kernel_dx": IM2COL_BACKWARD_LOOP_DX,
    },
    "batch_norm_forward": {
        "fused": _fused("batch_norm_forward",
                        "out, cache = batch_norm_forward_fused(x, weight, bias, running_mean, "
                        "running_var, training, momentum, eps)"),
    },
    "batch_norm_backward": {
        "fused": _fused("batch_norm_backward",
                        "dx, dweight, dbias = batch_norm_backward_fused(dout, cache)"),
    },
    "max_pool2d_forward": {
        "fused": _fused("max_pool2d_forward", "out, cache = max_pool2d_forward_fused("
                                              "x, kernel_size, stride, padding)"),
        "kernel": _POOL_ARGS.format(func="max_pool2d_forward")
        + "from minicnn.fast.kernels.pool import max_pool2d_forward_loop\n"
          "out, argmax = max_pool2d_forward_loop(np.ascontiguousarray(x), *kernel, *stride, "
          "*padding, out_h, out_w)\n"
          "cache = (x.shape, argmax, kernel, stride, padding)",
    },
    "max_pool2d_backward": {
        "fused": _fused("max_pool2d_backward", "dx = max_pool2d_backward_fused(dout, cache)"),
        "kernel": _UNPACK_MAX + "from minicnn.fast.kernels.pool import max_pool2d_backward_loop\n"
                                "dx, _ = max_pool2d_backward_loop(dout, argmax, *x_shape[2:])",
    },
    "avg_pool2d_forward": {
        "fused": _fused("avg_pool2d_forward", "out, cache = avg_pool2d_forward_fused("
                                              "x, kernel_size, stride, padding)"),
    },
    "avg_pool2d_backward": {
        "fused": _fused("avg_pool2d_backward", "dx = avg_pool2d_backward_fused(dout, cache)"),
    },
    "adam_step": {
        "fused": "from minicnn.fast.optim import adam_step_fused\n"
                 "adam_step_fused(p, state, group, self._decoupled)",
        "numpy_twin": ADAM_NUMPY_TWIN,
    },
}

CASES = [(task, name) for task, cheats in CHEATS.items() for name in cheats]


@pytest.mark.parametrize("task,cheat", CASES, ids=[f"{t}-{c}" for t, c in CASES])
def test_a_cheat_earns_nothing_in_a_release_of_its_task(task, cheat, tmp_path):
    root = make_copy(tmp_path / "release", [task], restored=False)
    inject(root, task, CHEATS[task][cheat])
    report = grade_submission(root, [task], seed=SEED, sandbox="none")
    result = report.tasks[0]
    assert result.points == 0, f"{cheat} earned {result.points}: {result.message}"
    assert "NotImplementedError" in result.message or "not implemented" in result.message, \
        result.message


@pytest.mark.parametrize("task", sorted(CHEATS))
def test_each_cheat_is_real_where_the_code_exists(task, tmp_path):
    """The control: the first cheat of each task, in a copy where every solution is back
    (restored), earns full points, so the test above would catch a copy that kept it."""
    cheat, body = next(iter(CHEATS[task].items()))
    root = make_copy(tmp_path / "restored", [task], restored=True)
    inject(root, task, body)
    report = grade_submission(root, [task], seed=SEED, sandbox="none")
    result = report.tasks[0]
    assert result.passed, f"the control {task}/{cheat} did not pass: {result.message}"


def test_releasing_the_loop_convolution_stubs_im2col_too(tmp_path):
    root = tmp_path / "loop_only"
    release(root, ["conv2d_forward", "conv2d_backward"])
    assert released_tasks(root) == ["conv2d_forward", "conv2d_backward"]
    text = (root / "minicnn/functional/conv.py").read_text()
    for function in ("_conv2d_im2col_forward", "_conv2d_im2col_backward"):
        assert f"implement {function} (see the docstring)" in text
    for path in ("minicnn/fast/conv/gemm.py", "minicnn/kernels/conv.py"):
        assert "left out of the student copy" in (root / path).read_text()


def test_same_answer_groups_and_strips_are_consistent():
    for group in SAME_ANSWER:
        for task in group:
            assert task in TASKS
            assert {t.id for t in stubbed_with([TASKS[task]])} == set(group)
    assert {t.id for t in stubbed_with([TASKS["relu_forward"]])} == {"relu_forward"}
    assert ("minicnn/fast/kernels/optim.py", "adam_update") in TASKS["adam_step"].strips
    assert verify_strips() == []


def test_every_task_with_another_implementation_in_the_tree_has_a_cheat():
    """A task whose answer the library also computes elsewhere (a stripped helper) is in the
    cheat catalogue, so adding a new fast path without stripping it fails here."""
    with_helpers = {task.id for task in TASKS.values() if task.strips}
    assert with_helpers - set(CHEATS) == set()


def test_the_instructor_tools_stay_out_and_the_students_cli_still_works(full_release):
    """The hidden checks, the audit's catalogue (near-miss bugs and correct alternatives:
    solutions, or one edit from one) and the Gradescope export are not in a student copy,
    and the copy's ``minicnn assignment`` works without them."""
    import os
    import subprocess
    import sys

    for rel in ("minicnn/assignments/checks/hidden_grids.py", "minicnn/assignments/audit",
                "minicnn/assignments/gradescope"):
        assert not (full_release / rel).exists(), rel
    env = dict(os.environ, PYTHONPATH=str(full_release))
    proc = subprocess.run([sys.executable, "-m", "minicnn.assignments", "--help"], env=env,
                          cwd=full_release, capture_output=True, text=True, timeout=120)
    assert proc.returncode in (0, 2), proc.stderr
    assert "check" in proc.stdout and "audit" not in proc.stdout
    assert "autograder" not in proc.stdout


def test_a_restored_copy_is_the_reference_byte_for_byte(tmp_path):
    """Restoring every task gives back the reference sources exactly (regions, stripped
    helpers, the default convolution method), so a restored copy runs the notebooks as the
    reference does."""
    from minicnn.assignments.release import restore

    root = tmp_path / "copy"
    release(root)
    restore(root)
    instructor_only = ("minicnn/assignments/checks/hidden_grids.py",)
    for source in sorted((SOURCE_ROOT / "minicnn").rglob("*.py")):
        rel = source.relative_to(SOURCE_ROOT).as_posix()
        if rel in instructor_only or rel.startswith(("minicnn/assignments/audit/",
                                                     "minicnn/assignments/gradescope/")):
            continue
        assert (root / rel).read_text() == source.read_text(), rel
